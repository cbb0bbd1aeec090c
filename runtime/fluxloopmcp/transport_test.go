package fluxloopmcp_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"github.com/fluxloop/fluxloop-go/runtime/fluxloopmcp"
	"github.com/fluxloop/fluxloop-go/runtime/fluxlooptest"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// callSearchAndFail makes an agent run that calls the search tool and the
// failing tool over cs, and checks the tree the client's and the server's
// observations form.
func callSearchAndFail(t *testing.T, cs *mcp.ClientSession, cli *fluxlooptest.Recorder, server func() []fluxloop.Observation) {
	t.Helper()
	ctx, agent := cli.Client().Start(t.Context(), "agent", fluxloop.WithType(fluxloop.TypeAgent))
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "search", Arguments: map[string]any{"query": "stdio"}})
	if err != nil || res.IsError {
		t.Fatalf("search: %v %+v", err, res)
	}
	if res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "fail", Arguments: map[string]any{"text": "a"}}); err != nil || !res.IsError {
		t.Fatalf("fail: %v %+v", err, res)
	}
	agent.End()
	srv := server()
	want := `agent agent
  tool search
    tool search
      span Lookup
  tool fail (error: no such document: a)
    tool fail (error: no such document: a)
`
	if got := tree(t, cli.Observations(), srv); got != want {
		t.Fatalf("tree:\n%s\nwant:\n%s", got, want)
	}
}

// TestStdioSubprocess runs the test binary again as an MCP server over stdio
// (see TestMain), writing its observations to a JSONL directory, and checks
// that they continue the client's trace.
func TestStdioSubprocess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a subprocess")
	}
	dir := t.TempDir()
	cli := fluxlooptest.NewParallel(t)
	client := mcp.NewClient(&mcp.Implementation{Name: "test-client", Version: "v0.0.1"}, nil)
	client.AddSendingMiddleware(fluxloopmcp.ClientMiddleware(fluxloopmcp.WithClient(cli.Client())))

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "FLUXLOOPMCP_TEST_SERVER=stdio", "FLUXLOOP_STORAGE=file", "FLUXLOOP_DIR="+dir, "FLUXLOOP_ENABLED=true")
	cmd.Stderr = os.Stderr
	cs, err := client.Connect(t.Context(), &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatal(err)
	}
	callSearchAndFail(t, cs, cli, func() []fluxloop.Observation {
		// Closing the session closes the server's stdin; it flushes its
		// observations and exits, and Close waits for that.
		if err := cs.Close(); err != nil {
			t.Fatalf("closing the session: %v", err)
		}
		return readJSONL(t, filepath.Join(dir, fluxloop.ObservationsFile))
	})
}

func TestStreamableHTTP(t *testing.T) {
	srv := fluxlooptest.NewParallel(t)
	server := newTestServer(fluxloopmcp.ServerMiddleware(fluxloopmcp.WithClient(srv.Client())))
	hs := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil))
	defer hs.Close()

	cli := fluxlooptest.NewParallel(t)
	client := mcp.NewClient(&mcp.Implementation{Name: "test-client", Version: "v0.0.1"}, nil)
	client.AddSendingMiddleware(fluxloopmcp.ClientMiddleware(fluxloopmcp.WithClient(cli.Client())))
	cs, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: hs.URL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	callSearchAndFail(t, cs, cli, srv.Observations)
	if o := srv.MustGet("search"); o.Metadata["mcp.session.id"] != cs.ID() || cs.ID() == "" {
		t.Errorf("server observation's mcp.session.id %v, session %q", o.Metadata["mcp.session.id"], cs.ID())
	}
}

func readJSONL(t *testing.T, path string) []fluxloop.Observation {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var obs []fluxloop.Observation
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var o fluxloop.Observation
		if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		obs = append(obs, o)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return obs
}
