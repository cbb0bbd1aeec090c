// Mcptool is an agent that calls tools over the Model Context Protocol and
// records both ends of each call in one trace: it starts itself again as an
// MCP server over stdio (a subprocess), calls two of the server's tools, and
// prints the tree that the two processes wrote to the JSONL files.
//
//	go run ./examples/mcptool
//
// The agent's side adds fluxloopmcp.ClientMiddleware to its mcp.Client, the
// server's side fluxloopmcp.ServerMiddleware to its mcp.Server: each
// tools/call carries the traceparent of the agent's tool observation in its
// params._meta, the server continues that trace, and the functions the tool
// handlers call (marked //fluxloop:trace) nest under the server's tool
// observation.
package main

//go:generate go run github.com/fluxloop/fluxloop-go/cmd/fluxloopgen

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"github.com/fluxloop/fluxloop-go/runtime/fluxloopmcp"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// ---- the MCP server (the subprocess) ----

// docs is the server's tiny document index.
var docs = map[string]string{
	"mcp":      "The Model Context Protocol connects agents to tools and data.",
	"tracing":  "A trace is a tree of observations: one per step of an agent run.",
	"fluxloop": "fluxloop records agent runs as traces, in Go by code generation.",
}

// SearchIndex looks the query up in the index.
//
//fluxloop:trace
func SearchIndex(ctx context.Context, query string) (__fluxloopR0 []string) {
	ctx, __fluxloopSpan := fluxloop.Enter(ctx, &__fluxloopSite_SearchIndex)
	if __fluxloopSpan != nil {
		__fluxloopSpan.Inputs(fluxloop.String(query))
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			__fluxloopSpan.Return(nil, fluxloop.V(__fluxloopR0))
		}()
	}
	var hits []string
	for key, text := range docs {
		if strings.Contains(strings.ToLower(query), key) {
			hits = append(hits, text)
		}
	}
	slices.Sort(hits)
	return hits
}

// CountWords counts the words of a text.
//
//fluxloop:trace
func CountWords(ctx context.Context, text string) (__fluxloopR0 int) {
	ctx, __fluxloopSpan := fluxloop.Enter(ctx, &__fluxloopSite_CountWords)
	if __fluxloopSpan != nil {
		__fluxloopSpan.Inputs(fluxloop.String(text))
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			__fluxloopSpan.Return(nil, fluxloop.Int(__fluxloopR0))
		}()
	}
	return len(strings.Fields(text))
}

type searchArgs struct {
	Query string `json:"query" jsonschema:"what to look for"`
}

type searchResult struct {
	Documents []string `json:"documents"`
}

type countArgs struct {
	Text string `json:"text" jsonschema:"the text to count the words of"`
}

type countResult struct {
	Words int `json:"words"`
}

// serve runs the MCP server over stdin and stdout until the client closes
// the connection.
func serve(ctx context.Context) error {
	server := mcp.NewServer(&mcp.Implementation{Name: "docs", Version: "v0.1.0"}, nil)
	server.AddReceivingMiddleware(fluxloopmcp.ServerMiddleware())
	mcp.AddTool(server, &mcp.Tool{Name: "search", Description: "search the documents"},
		func(ctx context.Context, _ *mcp.CallToolRequest, in searchArgs) (*mcp.CallToolResult, searchResult, error) {
			return nil, searchResult{Documents: SearchIndex(ctx, in.Query)}, nil
		})
	mcp.AddTool(server, &mcp.Tool{Name: "word_count", Description: "count the words of a text"},
		func(ctx context.Context, _ *mcp.CallToolRequest, in countArgs) (*mcp.CallToolResult, countResult, error) {
			return nil, countResult{Words: CountWords(ctx, in.Text)}, nil
		})
	return server.Run(ctx, &mcp.StdioTransport{})
}

// ---- the agent (the MCP client) ----

// Agent answers questions with the tools of an MCP session.
type Agent struct {
	session *mcp.ClientSession
	traceID string
}

// Research is one agent run: it searches, counts, and summarizes.
//
//fluxloop:agent
func (a *Agent) Research(ctx context.Context, question string) (__fluxloopR0 string, __fluxloopR1 error) {
	ctx, __fluxloopSpan := fluxloop.Enter(ctx, &__fluxloopSite_Agent_Research)
	if __fluxloopSpan != nil {
		__fluxloopSpan.Inputs(fluxloop.String(question))
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			__fluxloopSpan.Return(__fluxloopR1, fluxloop.String(__fluxloopR0))
		}()
	}
	a.traceID = fluxloop.SpanFromContext(ctx).TraceID()
	var found searchResult
	if err := a.call(ctx, "search", searchArgs{Query: question}, &found); err != nil {
		return "", err
	}
	var counted countResult
	if err := a.call(ctx, "word_count", countArgs{Text: strings.Join(found.Documents, " ")}, &counted); err != nil {
		return "", err
	}
	return Summarize(ctx, found.Documents, counted.Words), nil
}

// Summarize writes the answer.
//
//fluxloop:trace
func Summarize(ctx context.Context, documents []string, words int) (__fluxloopR0 string) {
	ctx, __fluxloopSpan := fluxloop.Enter(ctx, &__fluxloopSite_Summarize)
	if __fluxloopSpan != nil {
		__fluxloopSpan.Inputs(fluxloop.V(documents), fluxloop.Int(words))
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			__fluxloopSpan.Return(nil, fluxloop.String(__fluxloopR0))
		}()
	}
	return fmt.Sprintf("%d documents, %d words: %s", len(documents), words, strings.Join(documents, " "))
}

// call calls a tool and decodes its structured result into out. The
// middleware records the call; call itself needs no directive.
func (a *Agent) call(ctx context.Context, tool string, args, out any) error {
	res, err := a.session.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		return err
	}
	if res.IsError {
		return fmt.Errorf("%s: %v", tool, res.Content)
	}
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

func main() {
	asServer := flag.Bool("serve", false, "run as the MCP server over stdio (the agent starts itself so)")
	flag.Parse()
	ctx := context.Background()
	if *asServer {
		if os.Getenv("FLUXLOOP_STORAGE") == "stdout" {
			os.Setenv("FLUXLOOP_STORAGE", "file") // stdout is the MCP connection
		}
		err := serve(ctx)
		fluxloop.Shutdown(ctx)
		if err != nil {
			log.Fatal(err)
		}
		return
	}

	self, err := os.Executable()
	if err != nil {
		log.Fatal(err)
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "mcptool", Version: "v0.1.0"}, nil)
	client.AddSendingMiddleware(fluxloopmcp.ClientMiddleware())
	cmd := exec.Command(self, "-serve")
	cmd.Stderr = os.Stderr
	session, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		log.Fatal(err)
	}
	agent := &Agent{session: session}
	answer, err := agent.Research(ctx, "How do mcp and tracing fit together?")
	// Closing the session ends the server, which writes its observations
	// before it exits; Close waits for that.
	if cerr := session.Close(); cerr != nil && err == nil {
		err = cerr
	}
	if serr := fluxloop.Shutdown(ctx); serr != nil && err == nil {
		err = serr
	}
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(answer)
	if err := printTrace(cmp.Or(os.Getenv("FLUXLOOP_DIR"), os.Getenv("FLUXLOOP_OFFLINE_DIR"), fluxloop.DefaultDir), agent.traceID); err != nil {
		log.Fatal(err)
	}
}

// printTrace prints the observations of one trace, from both processes, as
// a tree (as fluxloop tree does).
func printTrace(dir, traceID string) error {
	f, err := os.Open(filepath.Join(dir, fluxloop.ObservationsFile))
	if err != nil {
		return err
	}
	defer f.Close()
	var obs []fluxloop.Observation
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var o fluxloop.Observation
		if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
			return err
		}
		if o.TraceID == traceID {
			obs = append(obs, o)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	slices.SortFunc(obs, func(a, b fluxloop.Observation) int { return a.StartTime.Compare(b.StartTime) })
	kids := map[string][]fluxloop.Observation{}
	for _, o := range obs {
		kids[o.ParentObservationID] = append(kids[o.ParentObservationID], o)
	}
	fmt.Printf("\ntrace %s (%d observations, from %s)\n", traceID, len(obs), dir)
	var walk func(o fluxloop.Observation, prefix string, last bool)
	walk = func(o fluxloop.Observation, prefix string, last bool) {
		branch, next := "├─ ", "│  "
		if last {
			branch, next = "└─ ", "   "
		}
		line := fmt.Sprintf("%s [%s] %s", o.Name, o.Type, o.EndTime.Sub(o.StartTime).Round(10*time.Microsecond))
		if len(o.Input) > 0 {
			line += " input=" + cut(string(o.Input))
		}
		if len(o.Output) > 0 {
			line += " output=" + cut(string(o.Output))
		}
		if o.Error != "" {
			line += " ERROR=" + cut(o.Error)
		}
		fmt.Println(prefix + branch + line)
		for i, k := range kids[o.ID] {
			walk(k, prefix+next, i == len(kids[o.ID])-1)
		}
	}
	roots := kids[""]
	for i, r := range roots {
		walk(r, "", i == len(roots)-1)
	}
	return nil
}

func cut(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

const _ = fluxloop.GeneratedCodeAPI1 // fluxloopgen v0.2.0: a compile error here means the runtime module is too old or too new for this code: run "go get github.com/fluxloop/fluxloop-go/runtime@v0.2.0" or regenerate with a matching fluxloopgen

// Observation sites of the functions above, written by fluxloopgen.
var (
	__fluxloopSite_SearchIndex    = fluxloop.Site{Name: "SearchIndex", Type: fluxloop.TypeSpan, Params: []string{"query"}, Offset: 1}
	__fluxloopSite_CountWords     = fluxloop.Site{Name: "CountWords", Type: fluxloop.TypeSpan, Params: []string{"text"}, Offset: 1}
	__fluxloopSite_Agent_Research = fluxloop.Site{Name: "Agent.Research", Type: fluxloop.TypeAgent, Params: []string{"question"}, Offset: 1}
	__fluxloopSite_Summarize      = fluxloop.Site{Name: "Summarize", Type: fluxloop.TypeSpan, Params: []string{"documents", "words"}, Offset: 1}
)
