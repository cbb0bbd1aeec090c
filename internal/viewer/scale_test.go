package viewer_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/fluxloop/fluxloop-go/internal/viewer"
	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"github.com/fluxloop/fluxloop-go/runtime/tracefile"
)

func obsRecord(trace, id, parent, name, model, errMsg string, start time.Time) tracefile.Record {
	o := &fluxloop.Observation{ID: id, TraceID: trace, ParentObservationID: parent, Type: fluxloop.TypeSpan, Name: name,
		StartTime: start, EndTime: start.Add(time.Millisecond), Level: fluxloop.LevelInfo, Error: errMsg,
		Input: []byte(`{"q":1}`), Output: []byte(`"ok"`)}
	if errMsg != "" {
		o.Level = fluxloop.LevelError
	}
	if model != "" {
		o.Type, o.Model, o.PromptTokens, o.CompletionTokens, o.TotalTokens = fluxloop.TypeGeneration, model, 100, 20, 120
	}
	return tracefile.Record{Kind: tracefile.KindObservation, Observation: o, Source: "observations.jsonl", Raw: make([]byte, 300)}
}

// buildIndex makes an index of n traces of 4 observations each (an agent,
// a tool, a generation, a span) and their trace lines; one trace in 100 has
// an error, models alternate.
func buildIndex(tb testing.TB, n int) (*viewer.Index, time.Duration) {
	ix := viewer.NewIndex()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	models := []string{"gpt-4o-mini", "claude-sonnet-4-5", "gemini-2.5-flash"}
	start := time.Now()
	var recs []tracefile.Record
	for i := range n {
		trace := fmt.Sprintf("%032x", i+1)
		root := fmt.Sprintf("%016x", 4*i+1)
		t0 := base.Add(time.Duration(i) * time.Second)
		errMsg := ""
		if i%100 == 0 {
			errMsg = "tool failed"
		}
		recs = append(recs,
			obsRecord(trace, fmt.Sprintf("%016x", 4*i+2), root, "Search", "", errMsg, t0.Add(time.Millisecond)),
			obsRecord(trace, fmt.Sprintf("%016x", 4*i+3), root, fmt.Sprintf("chat %s", models[i%3]), models[i%3], "", t0.Add(2*time.Millisecond)),
			obsRecord(trace, fmt.Sprintf("%016x", 4*i+4), root, "Summarize", "", "", t0.Add(3*time.Millisecond)),
			obsRecord(trace, root, "", fmt.Sprintf("Agent%d", i%10), "", "", t0),
			tracefile.Record{Kind: tracefile.KindTrace, Source: "traces.jsonl", Raw: make([]byte, 200), Trace: &fluxloop.Trace{
				ID: trace, Name: fmt.Sprintf("Agent%d", i%10), StartTime: t0, EndTime: t0.Add(5 * time.Millisecond), Tags: []string{"bench"}}},
		)
		if len(recs) >= 10000 {
			ix.Apply(tracefile.Update{Records: recs})
			recs = recs[:0]
		}
	}
	ix.Apply(tracefile.Update{Records: recs})
	return ix, time.Since(start)
}

// TestIndexScale builds the index of 100,000 traces and times the list's
// queries: each must answer in under a second (the first one sorts and
// builds the search text).
func TestIndexScale(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 100,000 traces")
	}
	n := 100_000
	if raceEnabled {
		n = 10_000 // the race detector makes it slow, and its times meaningless
	}
	ix, build := buildIndex(t, n)
	nt, no := ix.Len()
	t.Logf("built the index of %d traces, %d observations in %v", nt, no, build)
	since := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, q := range []struct {
		name string
		f    viewer.Filter
		want int
	}{
		{"first page, cold", viewer.Filter{Limit: 100}, n},
		{"text+model+errors", viewer.Filter{Text: "search", Model: "claude", Errors: true, Limit: 100}, n / 300},
		{"text no match", viewer.Filter{Text: "no such step", Limit: 100}, 0},
		{"name+since, last page", viewer.Filter{Name: "agent7", Since: since, Offset: 5600, Limit: 100}, max(0, n-43200) / 10},
		{"first page, warm", viewer.Filter{Limit: 100}, n},
	} {
		start := time.Now()
		list, total := ix.Query(q.f)
		d := time.Since(start)
		t.Logf("query %-24s %6d matches in %v", q.name+":", total, d)
		if total != q.want {
			t.Errorf("query %s: %d matches, want %d", q.name, total, q.want)
		}
		if q.f.Limit > 0 && len(list) > q.f.Limit {
			t.Errorf("query %s: %d results beyond the limit", q.name, len(list))
		}
		if d > time.Second && !raceEnabled {
			t.Errorf("query %s took %v, want under a second", q.name, d)
		}
	}
}

func BenchmarkQuery100k(b *testing.B) {
	ix, _ := buildIndex(b, 100_000)
	ix.Query(viewer.Filter{Text: "x"}) // sort, search text
	f := viewer.Filter{Text: "search", Model: "claude", Errors: true, Limit: 100}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		ix.Query(f)
	}
}

// TestLoadDir times loading a real directory: FLUXLOOP_VIEWER_LOAD=dir go
// test -run LoadDir -v ./internal/viewer/.
func TestLoadDir(t *testing.T) {
	dir := os.Getenv("FLUXLOOP_VIEWER_LOAD")
	if dir == "" {
		t.Skip("set FLUXLOOP_VIEWER_LOAD to a fluxloop directory")
	}
	src, err := tracefile.Locate(dir)
	if err != nil {
		t.Fatal(err)
	}
	ix := viewer.NewIndex()
	start := time.Now()
	f, err := ix.Load(src, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	nt, no := ix.Len()
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	t.Logf("loaded %d traces, %d observations in %v; heap %d MB", nt, no, time.Since(start), ms.HeapAlloc>>20)
	for _, f := range []viewer.Filter{{Limit: 100}, {Text: "summarize", Limit: 100}, {Model: "gpt", Errors: true}} {
		start := time.Now()
		_, total := ix.Query(f)
		t.Logf("query %+v: %d in %v", f, total, time.Since(start))
	}
}

// TestBigTrace loads a file holding one trace of 50,000 observations and
// times its skeleton and an observation read on demand.
func TestBigTrace(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 50,000 observations")
	}
	n := 50_000
	if raceEnabled {
		n = 5_000
	}
	dir := t.TempDir()
	var b strings.Builder
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const trace = "0000000000000000000000000000beef"
	for i := 1; i <= n; i++ {
		parent := fmt.Sprintf("%016x", (i-1)/10) // ten children each
		if i == 1 {
			parent = ""
		}
		start := base.Add(time.Duration(i) * time.Microsecond)
		fmt.Fprintf(&b, `{"id":"%016x","trace_id":"%s","parent_observation_id":"%s","type":"span","name":"step%d","start_time":"%s","end_time":"%s","input":{"i":%d},"output":"out %d","level":"info"}`+"\n",
			i, trace, parent, i%7, start.Format(time.RFC3339Nano), start.Add(time.Millisecond).Format(time.RFC3339Nano), i, i)
	}
	if err := os.WriteFile(filepath.Join(dir, "observations.jsonl"), []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	ix := load(t, dir)
	t.Logf("loaded %d observations (%d MB) in %v", n, b.Len()>>20, time.Since(start))
	start = time.Now()
	s, nodes, err := ix.Trace(trace)
	if err != nil || len(nodes) != n || s.Observations != n {
		t.Fatalf("Trace: %d nodes, %v", len(nodes), err)
	}
	t.Logf("skeleton of %d nodes in %v", len(nodes), time.Since(start))
	h := viewer.NewHandler(ix, viewer.Options{})
	start = time.Now()
	code, body := get(t, h, "/api/traces/"+trace)
	t.Logf("GET /api/traces/{id}: %d, %d KB in %v", code, len(body)>>10, time.Since(start))
	start = time.Now()
	code, body = get(t, h, fmt.Sprintf("/api/traces/%s/observations/%016x", trace, n/2))
	d := time.Since(start)
	t.Logf("GET one observation: %d in %v", code, d)
	if code != 200 || !strings.Contains(string(body), fmt.Sprintf(`"output":"out %d"`, n/2)) {
		t.Errorf("observation: %d %s", code, body)
	}
}
