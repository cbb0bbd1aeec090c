package mcpgo_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"testing"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"github.com/fluxloop/fluxloop-go/runtime/fluxloopmcp/mcpgo"
	"github.com/fluxloop/fluxloop-go/runtime/fluxlooptest"
	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

func TestMain(m *testing.M) {
	os.Setenv("FLUXLOOP_STORAGE", "memory") // no .fluxloop directory from the default client
	os.Exit(m.Run())
}

// lookupSite and Lookup are what fluxloopgen writes for a function marked
// //fluxloop:trace.
var lookupSite = fluxloop.Site{Name: "Lookup", Params: []string{"query"}}

func Lookup(ctx context.Context, query string) (out string) {
	_, span := fluxloop.Enter(ctx, &lookupSite)
	if span != nil {
		span.Inputs(fluxloop.String(query))
		defer func() { span.Return(nil, fluxloop.String(out)) }()
	}
	return "doc about " + query
}

func newServer(opts ...server.ServerOption) *server.MCPServer {
	s := server.NewMCPServer("test", "v0", opts...)
	s.AddTool(mcp.NewTool("search", mcp.WithString("query", mcp.Required())),
		func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return mcp.NewToolResultText(Lookup(ctx, req.GetString("query", ""))), nil
		})
	s.AddTool(mcp.NewTool("fail", mcp.WithString("text")),
		func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return mcp.NewToolResultError("no such document: " + req.GetString("text", "")), nil
		})
	s.AddResource(mcp.NewResource("doc://readme", "readme"),
		func(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
			return []mcp.ResourceContents{mcp.TextResourceContents{URI: req.Params.URI, Text: "read me"}}, nil
		})
	s.AddPrompt(mcp.NewPrompt("greet"),
		func(ctx context.Context, req mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			return &mcp.GetPromptResult{Messages: []mcp.PromptMessage{{Role: mcp.RoleUser, Content: mcp.NewTextContent("hello " + req.Params.Arguments["who"])}}}, nil
		})
	return s
}

// connect returns an initialized client of a test server over streamable
// HTTP (or in process), each side recording to its own memory storage.
func connect(t *testing.T, inProcess bool, cliOpts ...client.ClientOption) (c *client.Client, cli, srv *fluxlooptest.Recorder) {
	t.Helper()
	cli, srv = fluxlooptest.NewParallel(t), fluxlooptest.NewParallel(t)
	s := newServer(mcpgo.ServerOption(mcpgo.WithClient(srv.Client())))
	var tr transport.Interface
	if inProcess {
		tr = transport.NewInProcessTransport(s)
	} else {
		hs := httptest.NewServer(server.NewStreamableHTTPServer(s))
		t.Cleanup(hs.Close)
		var err error
		if tr, err = transport.NewStreamableHTTP(hs.URL); err != nil {
			t.Fatal(err)
		}
	}
	c = client.NewClient(tr, cliOpts...)
	t.Cleanup(func() { c.Close() })
	if err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	var init mcp.InitializeRequest
	init.Params.ProtocolVersion = mcp.LATEST_PROTOCOL_VERSION
	if _, err := c.Initialize(t.Context(), init); err != nil {
		t.Fatal(err)
	}
	return c, cli, srv
}

func callTool(ctx context.Context, c client.MCPClient, name string, args map[string]any) (*mcp.CallToolResult, error) {
	var req mcp.CallToolRequest
	req.Params.Name = name
	req.Params.Arguments = args
	return c.CallTool(ctx, req)
}

func tree(t *testing.T, obs ...[]fluxloop.Observation) string {
	t.Helper()
	all := slices.Concat(obs...)
	for _, o := range all {
		if o.TraceID != all[0].TraceID {
			t.Errorf("%s is in trace %s, %s in %s", all[0].Name, all[0].TraceID, o.Name, o.TraceID)
		}
	}
	return fluxlooptest.RenderTree(all)
}

func TestTree(t *testing.T) {
	for _, inProcess := range []bool{false, true} {
		t.Run(map[bool]string{false: "streamable HTTP", true: "in process"}[inProcess], func(t *testing.T) {
			c, cli, srv := connect(t, inProcess)
			mc := mcpgo.WrapClient(c, mcpgo.WithClient(cli.Client()))
			ctx, agent := cli.Client().Start(t.Context(), "agent", fluxloop.WithType(fluxloop.TypeAgent))
			if res, err := callTool(ctx, mc, "search", map[string]any{"query": "go"}); err != nil || res.IsError {
				t.Fatalf("search: %v %+v", err, res)
			}
			if res, err := callTool(ctx, mc, "fail", map[string]any{"text": "x.md"}); err != nil || !res.IsError {
				t.Fatalf("fail: %v %+v", err, res)
			}
			_, protoErr := callTool(ctx, mc, "nosuchtool", nil)
			if protoErr == nil {
				t.Fatal("calling an unknown tool did not fail")
			}
			var rr mcp.ReadResourceRequest
			rr.Params.URI = "doc://readme"
			if _, err := mc.ReadResource(ctx, rr); err != nil {
				t.Fatal(err)
			}
			var pr mcp.GetPromptRequest
			pr.Params.Name = "greet"
			pr.Params.Arguments = map[string]string{"who": "gopher"}
			if _, err := mc.GetPrompt(ctx, pr); err != nil {
				t.Fatal(err)
			}
			agent.End()

			want := `agent agent
  tool search
    tool search
      span Lookup
  tool fail (error: no such document: x.md)
    tool fail (error: no such document: x.md)
  tool nosuchtool (error: ` + protoErr.Error() + `)
  span resources/read
    span resources/read
  span greet
    span greet
`
			cliObs, srvObs := cli.Observations(), srv.Observations()
			if got := tree(t, cliObs, srvObs); got != want {
				t.Fatalf("tree:\n%s\nwant:\n%s", got, want)
			}
			for _, o := range slices.Concat(cliObs, srvObs) {
				switch o.Name {
				case "search":
					if string(o.Input) != `{"arguments":{"query":"go"}}` || string(o.Output) != `"doc about go"` {
						t.Errorf("search: input %s output %s", o.Input, o.Output)
					}
				case "fail":
					if o.Metadata["error_type"] != "*mcpgo.ToolError" {
						t.Errorf("fail: error_type %v", o.Metadata["error_type"])
					}
				case "resources/read":
					if string(o.Input) != `{"uri":"doc://readme"}` || string(o.Output) != `"read me"` {
						t.Errorf("resources/read: input %s output %s", o.Input, o.Output)
					}
				case "greet":
					if string(o.Output) != `[{"role":"user","content":"hello gopher"}]` {
						t.Errorf("greet: output %s", o.Output)
					}
				}
			}
		})
	}
}

// TestMetaPropagator propagates the agent's trace without recording the
// client's side: the server's observation is the child of the agent step
// that called the tool.
func TestMetaPropagator(t *testing.T) {
	c, cli, srv := connect(t, false, client.WithMetaPropagator(mcpgo.MetaPropagator()))
	ctx, agent := cli.Client().Start(t.Context(), "agent", fluxloop.WithType(fluxloop.TypeAgent))
	if _, err := callTool(ctx, c, "search", map[string]any{"query": "go"}); err != nil {
		t.Fatal(err)
	}
	agent.End()
	if got, want := tree(t, cli.Observations(), srv.Observations()), "agent agent\n  tool search\n    span Lookup\n"; got != want {
		t.Fatalf("tree:\n%s\nwant:\n%s", got, want)
	}
}

func TestConcurrentAndUnsampled(t *testing.T) {
	c, cli, srv := connect(t, false)
	mc := mcpgo.WrapClient(c, mcpgo.WithClient(cli.Client()))
	ctx, agent := cli.Client().Start(t.Context(), "agent", fluxloop.WithType(fluxloop.TypeAgent))
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := callTool(ctx, mc, "search", map[string]any{"query": fmt.Sprint("q", i)})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	agent.End()
	cliObs, srvObs := cli.Observations(), srv.Observations()
	tree(t, cliObs, srvObs)
	parents := map[string]string{}
	for _, o := range cliObs {
		parents[o.ID] = o.Name
	}
	kids := map[string]int{}
	for _, o := range srvObs {
		if o.Name == "search" {
			if parents[o.ParentObservationID] != "search" {
				t.Errorf("server search %s: parent %q", o.ID, parents[o.ParentObservationID])
			}
			kids[o.ParentObservationID]++
		}
	}
	if len(kids) != 50 {
		t.Errorf("%d client calls have server children, want 50", len(kids))
	}
	for id, n := range kids {
		if n != 1 {
			t.Errorf("client call %s has %d server children", id, n)
		}
	}

	// An unsampled run records nothing on either side.
	unsampled := fluxlooptest.NewParallel(t, fluxloop.WithSampleRate(0))
	srv.Reset()
	ctx, root := unsampled.Client().Start(t.Context(), "agent")
	if _, err := callTool(ctx, mcpgo.WrapClient(c, mcpgo.WithClient(unsampled.Client())), "search", map[string]any{"query": "x"}); err != nil {
		t.Fatal(err)
	}
	root.End()
	if n := len(unsampled.Observations()) + len(srv.Observations()); n != 0 {
		t.Errorf("an unsampled run recorded %d observations", n)
	}
}
