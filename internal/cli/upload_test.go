package cli

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"github.com/fluxloop/fluxloop-go/runtime/collector"
	"github.com/fluxloop/fluxloop-go/runtime/tracefile"
)

const uploadKey = "sk-upload-test-4d2e9a"

// uploadCollector is a fake FluxLoop collector that counts the observation
// and trace ids of the requests it acknowledged, as runtime/collector's
// tests do. fail, when set, answers request n with 500 when it returns true.
type uploadCollector struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	n        int
	fail     func(n int) bool
	obs      map[string]int
	traces   map[string]map[string]any
	problems []string
}

func newUploadCollector(t *testing.T) *uploadCollector {
	c := &uploadCollector{t: t, obs: map[string]int{}, traces: map[string]map[string]any{}}
	c.srv = httptest.NewServer(c)
	t.Cleanup(func() {
		c.srv.Close()
		for _, p := range c.problems {
			t.Error(p)
		}
	})
	return c
}

func (c *uploadCollector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.n
	c.n++
	if r.Method != "POST" || r.Header.Get("Content-Encoding") != "gzip" || r.Header.Get("Authorization") != "Bearer "+uploadKey {
		c.problems = append(c.problems, fmt.Sprintf("request %s %s with headers %v", r.Method, r.URL, r.Header))
	}
	zr, err := gzip.NewReader(r.Body)
	if err != nil {
		c.problems = append(c.problems, fmt.Sprintf("body is not gzip: %v", err))
		return
	}
	var recs []map[string]any
	if err := json.NewDecoder(zr).Decode(&recs); err != nil {
		c.problems = append(c.problems, fmt.Sprintf("body is not a JSON array: %v", err))
		return
	}
	isTraces := r.URL.Path == "/api/traces"
	var traceID string
	if !isTraces {
		rest, _ := strings.CutPrefix(r.URL.Path, "/api/traces/")
		var ok bool
		if traceID, ok = strings.CutSuffix(rest, "/observations"); !ok {
			c.problems = append(c.problems, "unexpected path "+r.URL.Path)
			return
		}
	}
	if c.fail != nil && c.fail(n) {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	for _, rec := range recs {
		id, _ := rec["id"].(string)
		if isTraces {
			if _, dup := c.traces[id]; dup {
				c.problems = append(c.problems, "trace sent twice: "+id)
			}
			c.traces[id] = rec
		} else {
			if rec["trace_id"] != traceID {
				c.problems = append(c.problems, fmt.Sprintf("observation %v posted to trace %s", rec, traceID))
			}
			c.obs[id]++
		}
	}
}

func (c *uploadCollector) received() (obs map[string]int, traces map[string]map[string]any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	obs = map[string]int{}
	for k, v := range c.obs {
		obs[k] = v
	}
	traces = map[string]map[string]any{}
	for k, v := range c.traces {
		traces[k] = v
	}
	return obs, traces
}

// writeRuns records runs of a root and two children to dir with the file
// storage and returns the ids of the observations and of the traces.
func writeRuns(t *testing.T, dir string, runs int) (obs, trs []string) {
	t.Helper()
	c, err := fluxloop.NewClient(fluxloop.WithDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	for i := range runs {
		ctx, root := c.Start(context.Background(), "agent", fluxloop.WithType(fluxloop.TypeAgent), fluxloop.WithInput("q", i))
		fluxloop.SetTrace(ctx, fluxloop.TraceInfo{SessionID: "sess-1", Tags: []string{"upload"}, Metadata: map[string]any{"n": i}})
		for j := range 2 {
			_, ch := c.Start(ctx, "step", fluxloop.WithInput("j", j))
			ch.SetOutput("ok")
			obs = append(obs, ch.ID())
			ch.End()
		}
		obs = append(obs, root.ID())
		trs = append(trs, root.TraceID())
		root.End()
	}
	if err := c.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	return obs, trs
}

func runUpload(t *testing.T, col *uploadCollector, dir string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	e := &Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) string {
		switch k {
		case "FLUXLOOP_API_URL":
			return col.srv.URL
		case "FLUXLOOP_API_KEY":
			return uploadKey
		}
		return ""
	}}
	src, err := tracefile.Locate(dir)
	if err != nil {
		t.Fatal(err)
	}
	err = Upload(context.Background(), e, src, UploadOptions{
		Batch:     3, // one run per batch
		Collector: collector.Options{MaxRetries: 1, MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond, Parallel: 1},
	})
	out := stdout.String() + stderr.String()
	if strings.Contains(out, uploadKey) {
		t.Errorf("output shows the key: %s", out)
	}
	if err != nil && strings.Contains(err.Error(), uploadKey) {
		t.Errorf("error shows the key: %v", err)
	}
	return stdout.String(), err
}

// checkOnce checks the collector received each of obs and trs exactly once
// and nothing else.
func checkOnce(t *testing.T, col *uploadCollector, obs, trs []string) {
	t.Helper()
	got, traces := col.received()
	if len(got) != len(obs) {
		t.Errorf("collector has %d observations, want %d", len(got), len(obs))
	}
	for _, id := range obs {
		if got[id] != 1 {
			t.Errorf("observation %s received %d times", id, got[id])
		}
	}
	if len(traces) != len(trs) {
		t.Errorf("collector has %d traces, want %d", len(traces), len(trs))
	}
	for _, id := range trs {
		tr, ok := traces[id]
		if !ok {
			t.Errorf("trace %s not received", id)
			continue
		}
		if tr["session_id"] != "sess-1" || fmt.Sprint(tr["tags"]) != "[upload]" || tr["name"] != "agent" || tr["metadata"].(map[string]any)["n"] == nil {
			t.Errorf("trace %s lost its fields: %v", id, tr)
		}
	}
}

func TestUpload(t *testing.T) {
	dir := t.TempDir()
	col := newUploadCollector(t)
	obs, trs := writeRuns(t, dir, 3)

	out, err := runUpload(t, col, dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("uploaded 9 observations and 3 traces to %s (0 already sent before)\n", col.srv.URL); out != want {
		t.Errorf("got %q, want %q", out, want)
	}
	checkOnce(t, col, obs, trs)

	// Again: nothing new.
	out, err = runUpload(t, col, dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "uploaded 0 observations and 0 traces") || !strings.Contains(out, "(9 already sent before)") {
		t.Errorf("re-run: %q", out)
	}
	checkOnce(t, col, obs, trs)

	// More runs appended: only they are sent.
	o2, t2 := writeRuns(t, dir, 2)
	obs, trs = append(obs, o2...), append(trs, t2...)
	out, err = runUpload(t, col, dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "uploaded 6 observations and 2 traces") || !strings.Contains(out, "(9 already sent before)") {
		t.Errorf("after appending: %q", out)
	}
	checkOnce(t, col, obs, trs)
}

func TestUploadCollectorFails(t *testing.T) {
	dir := t.TempDir()
	col := newUploadCollector(t)
	obs, trs := writeRuns(t, dir, 4)

	// The first batch (one run: its observations and its trace, two
	// requests) goes through, then the collector fails.
	col.mu.Lock()
	col.fail = func(n int) bool { return n >= 2 }
	col.mu.Unlock()
	out, err := runUpload(t, col, dir)
	if err == nil {
		t.Fatalf("no error with a failing collector; printed %q", out)
	}
	if !strings.Contains(err.Error(), "after 3 observations and 1 trace") || !strings.Contains(err.Error(), "again to resume") {
		t.Errorf("error: %v", err)
	}
	checkOnce(t, col, obs[:3], trs[:1])

	col.mu.Lock()
	col.fail = nil
	col.mu.Unlock()
	out, err = runUpload(t, col, dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "uploaded 9 observations and 3 traces") || !strings.Contains(out, "(3 already sent before)") {
		t.Errorf("after recovery: %q", out)
	}
	checkOnce(t, col, obs, trs)
}
