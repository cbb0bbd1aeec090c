package fluxloopmcp_test

import (
	"context"
	"testing"
	"time"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"github.com/fluxloop/fluxloop-go/runtime/fluxloopmcp"
	"github.com/fluxloop/fluxloop-go/runtime/fluxlooptest"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// discard is a storage that drops what it is given, so that a benchmark
// measures recording, not the storage.
type discard struct{}

func (discard) Write(context.Context, []fluxloop.Record) error { return nil }
func (discard) Flush(context.Context) error                    { return nil }
func (discard) Close(context.Context) error                    { return nil }

// BenchmarkToolCall measures one tools/call over the in-memory transport:
// bare, the plain SDK; traced, with ClientMiddleware and ServerMiddleware
// recording both sides (under an agent observation, to a storage that
// discards); disabled, with both installed and tracing off.
//
//	go test -run '^$' -bench ToolCall -benchmem -count 5 ./runtime/fluxloopmcp
func BenchmarkToolCall(b *testing.B) {
	b.Run("bare", func(b *testing.B) {
		cs := benchSession(b, nil, nil)
		benchCalls(b, context.Background(), cs)
	})
	b.Run("traced", func(b *testing.B) {
		c := benchClient(b)
		ctx, agent := c.Start(context.Background(), "agent", fluxloop.WithType(fluxloop.TypeAgent))
		defer agent.End()
		cs := benchSession(b, fluxloopmcp.ClientMiddleware(fluxloopmcp.WithClient(c)), fluxloopmcp.ServerMiddleware(fluxloopmcp.WithClient(c)))
		benchCalls(b, ctx, cs)
	})
	b.Run("disabled", func(b *testing.B) {
		fluxlooptest.New(b, fluxloop.WithEnabled(false))
		cs := benchSession(b, fluxloopmcp.ClientMiddleware(), fluxloopmcp.ServerMiddleware())
		benchCalls(b, context.Background(), cs)
	})
}

// BenchmarkToolCallRatio makes bare and traced calls (as BenchmarkToolCall)
// alternately in one loop, so that both see the same machine, and reports
// the time of each and their ratio (traced/bare): on a shared machine whose
// load drifts, the separate sub-benchmarks of BenchmarkToolCall do not.
func BenchmarkToolCallRatio(b *testing.B) {
	bare := benchSession(b, nil, nil)
	c := benchClient(b)
	ctx, agent := c.Start(context.Background(), "agent", fluxloop.WithType(fluxloop.TypeAgent))
	defer agent.End()
	traced := benchSession(b, fluxloopmcp.ClientMiddleware(fluxloopmcp.WithClient(c)), fluxloopmcp.ServerMiddleware(fluxloopmcp.WithClient(c)))
	var tBare, tTraced time.Duration
	for b.Loop() {
		t0 := time.Now()
		call(b, context.Background(), bare)
		t1 := time.Now()
		call(b, ctx, traced)
		tBare += t1.Sub(t0)
		tTraced += time.Since(t1)
	}
	b.ReportMetric(float64(tBare.Nanoseconds())/float64(b.N), "bare-ns/call")
	b.ReportMetric(float64(tTraced.Nanoseconds())/float64(b.N), "traced-ns/call")
	b.ReportMetric(float64(tTraced)/float64(tBare), "traced/bare")
}

func benchClient(b *testing.B) *fluxloop.Client {
	c, err := fluxloop.NewClient(fluxloop.WithEnabled(true), fluxloop.WithStorage(discard{}), fluxloop.WithSampleRate(1))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		c.Shutdown(context.Background())
		if st := c.Stats(); st.Dropped > 0 {
			b.Logf("dropped %d of %d observations", st.Dropped, st.Enqueued+st.Dropped)
		}
	})
	return c
}

// benchSession connects a client with middleware cmw to a server with an
// echo tool and middleware smw, over the in-memory transport.
func benchSession(b *testing.B, cmw, smw mcp.Middleware) *mcp.ClientSession {
	server := mcp.NewServer(&mcp.Implementation{Name: "bench", Version: "v0"}, nil)
	mcp.AddTool(server, &mcp.Tool{Name: "echo"}, func(ctx context.Context, _ *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: in.Text}}}, nil, nil
	})
	client := mcp.NewClient(&mcp.Implementation{Name: "bench", Version: "v0"}, nil)
	if cmw != nil {
		client.AddSendingMiddleware(cmw)
	}
	if smw != nil {
		server.AddReceivingMiddleware(smw)
	}
	ct, st := mcp.NewInMemoryTransports()
	ss, err := server.Connect(context.Background(), st, nil)
	if err != nil {
		b.Fatal(err)
	}
	cs, err := client.Connect(context.Background(), ct, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cs.Close(); ss.Wait() })
	return cs
}

func benchCalls(b *testing.B, ctx context.Context, cs *mcp.ClientSession) {
	b.ReportAllocs()
	for b.Loop() {
		call(b, ctx, cs)
	}
}

func call(b *testing.B, ctx context.Context, cs *mcp.ClientSession) {
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "hello"}})
	if err != nil || res.IsError {
		b.Fatal(err, res)
	}
}

// BenchmarkMiddlewares measures what both middlewares cost per tool call,
// without the SDK's transport: the client's middleware hands the request
// with its traceparent straight to the server's, which calls a handler
// returning a text result.
func BenchmarkMiddlewares(b *testing.B) {
	c := benchClient(b)
	result := &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "hello"}}}
	server := fluxloopmcp.ServerMiddleware(fluxloopmcp.WithClient(c))(func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		return result, nil
	})
	client := fluxloopmcp.ClientMiddleware(fluxloopmcp.WithClient(c))(func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		p := req.GetParams().(*mcp.CallToolParams)
		raw := &mcp.CallToolParamsRaw{Meta: p.Meta, Name: p.Name, Arguments: []byte(`{"text":"hello"}`)}
		return server(context.Background(), method, &mcp.CallToolRequest{Params: raw})
	})
	ctx, agent := c.Start(context.Background(), "agent", fluxloop.WithType(fluxloop.TypeAgent))
	defer agent.End()
	b.ReportAllocs()
	for b.Loop() {
		req := &mcp.ClientRequest[mcp.Params]{Params: &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "hello"}}}
		if _, err := client(ctx, "tools/call", req); err != nil {
			b.Fatal(err)
		}
	}
}
