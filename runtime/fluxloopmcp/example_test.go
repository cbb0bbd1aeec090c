package fluxloopmcp_test

import (
	"context"
	"fmt"
	"log"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"github.com/fluxloop/fluxloop-go/runtime/fluxloopmcp"
	"github.com/fluxloop/fluxloop-go/runtime/fluxlooptest"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// An agent calls a tool of an MCP server; each side adds one middleware, and
// the two sides' observations form one tree. Here both run in one process
// over the in-memory transport and record to one memory storage; across
// processes, each writes its own and the trace ids and parents still match.
func Example() {
	// Record to memory, to print the tree below; a program keeps the
	// default client (JSONL files in ./.fluxloop).
	mem := fluxloop.NewMemoryStorage()
	rec, err := fluxloop.NewClient(fluxloop.WithStorage(mem), fluxloop.WithSampleRate(1))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	defer rec.Shutdown(ctx)
	defer fluxloop.SetDefault(fluxloop.SetDefault(rec))

	// The server: its tool handler's ctx carries the server's observation,
	// so what it traces (a //fluxloop:trace function; here a Start block)
	// nests under it.
	server := mcp.NewServer(&mcp.Implementation{Name: "docs", Version: "v1"}, nil)
	server.AddReceivingMiddleware(fluxloopmcp.ServerMiddleware())
	type query struct {
		Query string `json:"query"`
	}
	mcp.AddTool(server, &mcp.Tool{Name: "search"}, func(ctx context.Context, _ *mcp.CallToolRequest, in query) (*mcp.CallToolResult, any, error) {
		_, lookup := fluxloop.Start(ctx, "Lookup")
		defer lookup.End()
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "a doc about " + in.Query}}}, nil, nil
	})

	// The agent's client.
	client := mcp.NewClient(&mcp.Implementation{Name: "agent", Version: "v1"}, nil)
	client.AddSendingMiddleware(fluxloopmcp.ClientMiddleware())

	ct, st := mcp.NewInMemoryTransports()
	if _, err := server.Connect(ctx, st, nil); err != nil {
		log.Fatal(err)
	}
	session, err := client.Connect(ctx, ct, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer session.Close()

	agentCtx, agent := fluxloop.Start(ctx, "agent", fluxloop.WithType(fluxloop.TypeAgent))
	if _, err := session.CallTool(agentCtx, &mcp.CallToolParams{Name: "search", Arguments: map[string]any{"query": "mcp"}}); err != nil {
		log.Fatal(err)
	}
	agent.End()
	rec.Flush(ctx)
	fmt.Print(fluxlooptest.RenderTree(mem.Observations()))
	// Output:
	// agent agent
	//   tool search
	//     tool search
	//       span Lookup
}
