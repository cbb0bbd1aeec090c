package fluxloopmcp_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"github.com/fluxloop/fluxloop-go/runtime/fluxloopmcp"
	"github.com/fluxloop/fluxloop-go/runtime/fluxlooptest"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestMain runs the test binary as an MCP server over stdio when the
// subprocess test re-executes it, as `go test` binaries re-run themselves;
// otherwise it keeps the default fluxloop client in memory, so that tests
// write no .fluxloop directory.
func TestMain(m *testing.M) {
	if os.Getenv("FLUXLOOPMCP_TEST_SERVER") == "stdio" {
		os.Exit(serveStdio())
	}
	os.Setenv("FLUXLOOP_STORAGE", "memory")
	os.Exit(m.Run())
}

// serveStdio serves the test server over stdin and stdout, recording with the
// default client (FLUXLOOP_DIR, FLUXLOOP_STORAGE=file, set by the parent).
func serveStdio() int {
	ctx := context.Background()
	s := newTestServer(fluxloopmcp.ServerMiddleware())
	err := s.Run(ctx, &mcp.StdioTransport{})
	if serr := fluxloop.Shutdown(ctx); serr != nil && err == nil {
		err = serr
	}
	if err != nil && !errors.Is(err, context.Canceled) && !strings.Contains(err.Error(), "EOF") {
		fmt.Fprintln(os.Stderr, "test server:", err)
		return 1
	}
	return 0
}

// lookupSite and Lookup are what fluxloopgen writes for
//
//	//fluxloop:trace
//	func Lookup(ctx context.Context, query string) []string
var lookupSite = fluxloop.Site{Name: "Lookup", Type: fluxloop.TypeSpan, Params: []string{"query"}}

func Lookup(ctx context.Context, query string) (out []string) {
	ctx, span := fluxloop.Enter(ctx, &lookupSite)
	if span != nil {
		span.Inputs(fluxloop.String(query))
		defer func() { span.Return(nil, fluxloop.V(out)) }()
	}
	_ = ctx
	return []string{"doc about " + query}
}

type searchIn struct {
	Query string `json:"query"`
}

type searchOut struct {
	Results []string `json:"results"`
}

type echoIn struct {
	Text string `json:"text"`
}

// started is signalled by the slow tool when its handler runs.
var started = make(chan struct{}, 1)

// newTestServer returns a server with the tools, resource and prompt the
// tests call, with the middleware installed on its receiving side (and on
// its sending side for sampling).
func newTestServer(mw mcp.Middleware) *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "test-server", Version: "v0.0.1"}, nil)
	mcp.AddTool(s, &mcp.Tool{Name: "search", Description: "search the docs"},
		func(ctx context.Context, _ *mcp.CallToolRequest, in searchIn) (*mcp.CallToolResult, searchOut, error) {
			return nil, searchOut{Results: Lookup(ctx, in.Query)}, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: "echo", Description: "echo the text"},
		func(ctx context.Context, _ *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: in.Text}}}, nil, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: "fail", Description: "always fails"},
		func(ctx context.Context, _ *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, any, error) {
			return nil, nil, errors.New("no such document: " + in.Text)
		})
	mcp.AddTool(s, &mcp.Tool{Name: "slow", Description: "waits until cancelled"},
		func(ctx context.Context, _ *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, any, error) {
			select {
			case started <- struct{}{}:
			default:
			}
			select {
			case <-ctx.Done():
				return nil, nil, ctx.Err()
			case <-time.After(10 * time.Second):
				return nil, nil, errors.New("not cancelled")
			}
		})
	mcp.AddTool(s, &mcp.Tool{Name: "summarize", Description: "asks the client's model"},
		func(ctx context.Context, req *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, any, error) {
			res, err := req.Session.CreateMessage(ctx, &mcp.CreateMessageParams{
				MaxTokens: 50,
				Messages:  []*mcp.SamplingMessage{{Role: "user", Content: &mcp.TextContent{Text: "summarize: " + in.Text}}},
			})
			if err != nil {
				return nil, nil, err
			}
			return &mcp.CallToolResult{Content: []mcp.Content{res.Content}}, nil, nil
		})
	s.AddResource(&mcp.Resource{URI: "doc://readme", Name: "readme", MIMEType: "text/plain"},
		func(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
			return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, MIMEType: "text/plain", Text: "read me"}}}, nil
		})
	s.AddPrompt(&mcp.Prompt{Name: "greet", Arguments: []*mcp.PromptArgument{{Name: "who"}}},
		func(ctx context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			return &mcp.GetPromptResult{Messages: []*mcp.PromptMessage{{Role: "user", Content: &mcp.TextContent{Text: "hello " + req.Params.Arguments["who"]}}}}, nil
		})
	if mw != nil {
		s.AddReceivingMiddleware(mw)
		s.AddSendingMiddleware(mw)
	}
	return s
}

// tree renders the observations of both sides as one tree (see
// fluxlooptest.RenderTree), after checking that they all belong to one
// trace.
func tree(t *testing.T, obs ...[]fluxloop.Observation) string {
	t.Helper()
	all := slices.Concat(obs...)
	for _, o := range all {
		if o.TraceID != all[0].TraceID {
			t.Errorf("%s is in trace %s, %s in %s:\n%s", all[0].Name, all[0].TraceID, o.Name, o.TraceID, fluxlooptest.RenderTree(all))
		}
	}
	return fluxlooptest.RenderTree(all)
}

// waitFor polls until rec has recorded n observations named name.
func waitFor(t *testing.T, rec *fluxlooptest.Recorder, name string, n int) []fluxloop.Observation {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := rec.All(name)
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func byName(t *testing.T, obs []fluxloop.Observation, name string) []fluxloop.Observation {
	t.Helper()
	var out []fluxloop.Observation
	for _, o := range obs {
		if o.Name == name {
			out = append(out, o)
		}
	}
	return out
}
