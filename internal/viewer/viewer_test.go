package viewer_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/fluxloop/fluxloop-go/internal/viewer"
	"github.com/fluxloop/fluxloop-go/runtime/tracefile"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// now is the clock of the tests: an hour after the fixtures were written.
var now = time.Date(2026, 12, 1, 13, 0, 0, 0, time.UTC)

func load(t *testing.T, dir string) *viewer.Index {
	t.Helper()
	src, err := tracefile.Locate(dir)
	if err != nil {
		t.Fatal(err)
	}
	ix := viewer.NewIndex()
	f, err := ix.Load(src, func(w tracefile.Warning) { t.Errorf("warning: %v", w) })
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	return ix
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from %s (go test -update rewrites it):\n%s", name, path, got)
	}
}

// get serves a request for path from h, as a browser on the same origin
// sends it.
func get(t *testing.T, h http.Handler, path string) (int, []byte) {
	t.Helper()
	r := httptest.NewRequest("GET", path, nil)
	r.Host = "localhost"
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code, w.Body.Bytes()
}

// indent re-indents JSON for readable golden files.
func indent(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return append(out.Bytes(), '\n')
}

func TestAPIGolden(t *testing.T) {
	ix := load(t, "testdata/runs")
	ix2 := load(t, "testdata/compare")
	assets := fstest.MapFS{"index.html": {Data: []byte("<!doctype html><title>ui</title>\n")}, "app.js": {Data: []byte("// js\n")}}
	h := viewer.NewHandler(ix, viewer.Options{Now: func() time.Time { return now }, Assets: assets})
	h2 := viewer.NewHandler(ix2, viewer.Options{Now: func() time.Time { return now }})
	for _, tc := range []struct {
		name, path string
		h          http.Handler
		status     int
	}{
		{"traces", "/api/traces", h, 200},
		{"traces_errors", "/api/traces?error=1", h, 200},
		{"traces_query", "/api/traces?q=LOOKUP&limit=1", h, 200},
		{"traces_model", "/api/traces?model=gpt-4o&since=2026-12-01T11:52:00Z", h, 200},
		{"traces_in_progress", "/api/traces?in_progress=1", h, 200},
		{"traces_page", "/api/traces?limit=2&offset=3&since=2d", h, 200},
		{"traces_bad_since", "/api/traces?since=yesterday", h, 400},
		{"trace_llm", "/api/traces/d590c04ab717ec86c9b6087e11e37b84", h, 200},
		{"trace_in_progress", "/api/traces/f000", h, 200},
		{"trace_mcp", "/api/traces/81f41ac0", h, 200},
		{"trace_missing", "/api/traces/abcdef", h, 404},
		{"observation_generation", "/api/traces/d590c04ab717ec86c9b6087e11e37b84/observations/950c0324145ec2fd", h, 200},
		{"observation_running", "/api/traces/f0000000000000000000000000000001/observations/1000000000000001", h, 404},
		{"compare", "/api/compare?a=2405f0ae&b=1c23fb2f", h2, 200},
		{"compare_missing", "/api/compare?a=2405f0ae", h2, 400},
		{"api_unknown", "/api/nothing", h, 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := get(t, tc.h, tc.path)
			if code != tc.status {
				t.Errorf("GET %s: %d %s, want %d", tc.path, code, body, tc.status)
			}
			golden(t, tc.name+".json", indent(t, body))
		})
	}

	// Deep links serve index.html; assets are under /static/.
	for _, p := range []string{"/", "/trace/abc", "/trace/abc/def", "/compare/a/b"} {
		if code, body := get(t, h, p); code != 200 || !strings.Contains(string(body), "<title>ui</title>") {
			t.Errorf("GET %s: %d %.40s", p, code, body)
		}
	}
	if code, body := get(t, h, "/static/app.js"); code != 200 || string(body) != "// js\n" {
		t.Errorf("GET /static/app.js: %d %q", code, body)
	}
	if code, _ := get(t, h, "/static/missing.js"); code != 404 {
		t.Errorf("GET /static/missing.js: %d", code)
	}
	if code, body := get(t, h2, "/"); code != 200 || !strings.Contains(string(body), "not built") {
		t.Errorf("GET / without assets: %d %.60s", code, body)
	}
}

// TestObservationOnDemand checks that an observation's JSON is read from
// its file, exactly as written, and that a file rewritten under the index
// is noticed rather than misread.
func TestObservationOnDemand(t *testing.T) {
	dir := t.TempDir()
	b, err := os.ReadFile("testdata/runs/observations.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "observations.jsonl")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	ix := load(t, dir)
	first, _, _ := bytes.Cut(b, []byte("\n"))
	var o struct{ ID, TraceID string }
	json.Unmarshal(first, &struct {
		ID      *string `json:"id"`
		TraceID *string `json:"trace_id"`
	}{&o.ID, &o.TraceID})
	got, err := ix.Observation(o.TraceID, o.ID)
	if err != nil || !bytes.Equal(got, first) {
		t.Fatalf("Observation = %.60s, %v; want the line as written", got, err)
	}
	if err := os.WriteFile(path, bytes.Repeat([]byte("x"), len(b)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ix.Observation(o.TraceID, o.ID); err == nil || !strings.Contains(err.Error(), "changed") {
		t.Errorf("Observation of a rewritten file: %v, want an error saying it changed", err)
	}
}

// TestStreamSource checks a stream's lines: kept in memory, tags removed.
func TestStreamSource(t *testing.T) {
	f, err := os.Open("../../runtime/tracefile/testdata/stdout.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	src := tracefile.Source{Observations: "-", Reader: f}
	ix := viewer.NewIndex()
	fl, err := ix.Load(src, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Follow(context.Background(), fl, 0, nil); err != nil {
		t.Fatal(err)
	}
	list, total := ix.Query(viewer.Filter{})
	if total != 1 || list[0].Name != "AsyncAgent" || list[0].Observations != 3 {
		t.Fatalf("Query = %+v", list)
	}
	_, nodes, _ := ix.Trace(list[0].ID)
	b, err := ix.Observation(list[0].ID, nodes[0].ID)
	if err != nil || !bytes.HasPrefix(b, []byte(`{"id":"`)) {
		t.Errorf("Observation = %.40s, %v", b, err)
	}
	lines, err := ix.Lines(list[0].ID)
	if err != nil || len(lines) != 4 || lines[3].Kind != tracefile.KindTrace {
		t.Errorf("Lines = %d lines, %v", len(lines), err)
	}
}

func appendLine(t *testing.T, path, line string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(line + "\n"); err != nil {
		t.Fatal(err)
	}
}

type sseEvent struct{ typ, data string }

func readEvents(t *testing.T, body io.Reader) <-chan sseEvent {
	ch := make(chan sseEvent, 100)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(body)
		var e sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				e.typ = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				e.data = line[len("data: "):]
			case strings.HasPrefix(line, ": "):
				ch <- sseEvent{typ: "comment", data: line[2:]}
			case line == "" && e.typ != "":
				ch <- e
				e = sseEvent{}
			}
		}
	}()
	return ch
}

func next(t *testing.T, ch <-chan sseEvent, typ string) sseEvent {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e, ok := <-ch:
			if !ok {
				t.Fatalf("event stream ended before a %s event", typ)
			}
			if e.typ == typ {
				return e
			}
		case <-timeout:
			t.Fatalf("no %s event in 10s", typ)
		}
	}
}

// TestEventsLive appends lines to a followed file and reads them as
// events.
func TestEventsLive(t *testing.T) {
	dir := t.TempDir()
	src, _ := tracefile.Locate(dir)
	ix := viewer.NewIndex()
	f, err := ix.Load(src, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	followed := make(chan struct{})
	go func() {
		defer close(followed)
		ix.Follow(ctx, f, 10*time.Millisecond, nil)
	}()
	defer func() {
		cancel()
		<-followed
		f.Close()
	}()
	srv := httptest.NewServer(viewer.NewHandler(ix, viewer.Options{PingInterval: 50 * time.Millisecond}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/api/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	events := readEvents(t, resp.Body)
	if e := next(t, events, "comment"); e.data != "connected" {
		t.Fatalf("first comment %q", e.data)
	}

	const trace = "0000000000000000000000000000000a"
	child := `{"id":"00000000000000c1","trace_id":"` + trace + `","parent_observation_id":"00000000000000a1","type":"tool","name":"Search","start_time":"2026-12-01T12:00:00.001Z","end_time":"2026-12-01T12:00:00.002Z","output":"x","level":"info"}`
	appendLine(t, src.Observations, child)
	e := next(t, events, "observation")
	var ev struct {
		TraceID string      `json:"trace_id"`
		Node    viewer.Node `json:"node"`
	}
	if err := json.Unmarshal([]byte(e.data), &ev); err != nil {
		t.Fatal(err)
	}
	if ev.TraceID != trace || ev.Node.ID != "00000000000000a1" || !ev.Node.Running || ev.Node.EndTime != nil {
		t.Errorf("first observation event: %s, want the running parent", e.data)
	}
	e = next(t, events, "observation")
	json.Unmarshal([]byte(e.data), &ev)
	if ev.Node.ID != "00000000000000c1" || ev.Node.Name != "Search" || ev.Node.Running || !ev.Node.HasOutput {
		t.Errorf("second observation event: %s", e.data)
	}
	e = next(t, events, "trace")
	var s viewer.Summary
	json.Unmarshal([]byte(e.data), &s)
	if s.ID != trace || !s.InProgress || s.Observations != 1 || s.EndTime != nil {
		t.Errorf("trace event: %s", e.data)
	}

	// The root ends: the trace completes.
	appendLine(t, src.Observations, `{"id":"00000000000000a1","trace_id":"`+trace+`","type":"agent","name":"Agent","start_time":"2026-12-01T12:00:00Z","end_time":"2026-12-01T12:00:00.003Z","level":"info"}`)
	appendLine(t, src.Traces, `{"id":"`+trace+`","name":"Agent","start_time":"2026-12-01T12:00:00Z","end_time":"2026-12-01T12:00:00.003Z"}`)
	for {
		e = next(t, events, "trace")
		s = viewer.Summary{}
		json.Unmarshal([]byte(e.data), &s)
		if !s.InProgress {
			break
		}
	}
	if s.Name != "Agent" || s.Observations != 2 || s.EndTime == nil || s.DurationMS != 3 {
		t.Errorf("completed trace event: %s", e.data)
	}
	if e := next(t, events, "comment"); e.data != "ping" {
		t.Errorf("comment %q, want ping", e.data)
	}

	// Truncation: a reset event, and the index forgets the old lines.
	if err := os.WriteFile(src.Observations, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	next(t, events, "reset")
	if _, n := ix.Len(); n != 0 {
		t.Errorf("%d observations after the file was truncated", n)
	}
}

func TestHostAndOrigin(t *testing.T) {
	srv := httptest.NewServer(viewer.NewHandler(viewer.NewIndex(), viewer.Options{}))
	defer srv.Close()
	_, port, _ := strings.Cut(strings.TrimPrefix(srv.URL, "http://"), ":")
	for _, tc := range []struct {
		host, origin string
		status       int
	}{
		{"127.0.0.1:" + port, "", 200},
		{"localhost:" + port, "", 200},
		{"LOCALHOST:" + port, "", 200},
		{"[::1]:" + port, "", 200},
		{"localhost:" + port, "http://localhost:" + port, 200},
		{"evil.example:" + port, "", 403},
		{"evil.example", "", 403},
		{"localhost", "", 403},   // port 80 is not this server's
		{"localhost:1", "", 403}, // another port
		{"127.0.0.2:" + port, "", 403},
		{"localhost:" + port, "http://evil.example", 403},
		{"localhost:" + port, "http://127.0.0.1:" + port, 403}, // another origin
		{"localhost:" + port, "null", 403},
	} {
		req, _ := http.NewRequest("GET", srv.URL+"/api/traces", nil)
		req.Host = tc.host
		if tc.origin != "" {
			req.Header.Set("Origin", tc.origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("Host %q Origin %q: %d %s, want %d", tc.host, tc.origin, resp.StatusCode, body, tc.status)
		}
	}
	h := viewer.NewHandler(viewer.NewIndex(), viewer.Options{AllowedHosts: []string{"box.lan"}})
	r := httptest.NewRequest("GET", "/api/traces", nil)
	r.Host = "box.lan"
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 200 {
		t.Errorf("allowed host: %d", w.Code)
	}
}

// TestSlowSubscriberDropped checks that a subscriber that does not read is
// dropped rather than blocking the index.
func TestSlowSubscriberDropped(t *testing.T) {
	ix := viewer.NewIndex()
	ch, cancel := ix.Subscribe(2)
	defer cancel()
	var recs []tracefile.Record
	for i := range 5 {
		recs = append(recs, obsRecord(fmt.Sprintf("%032x", 1), fmt.Sprintf("%016x", i+1), "", "A", "", "", time.Unix(int64(i), 0)))
	}
	ix.Apply(tracefile.Update{Records: recs})
	n := 0
	for range ch {
		n++
	}
	if n != 2 {
		t.Errorf("received %d events before the channel closed, want the 2 buffered", n)
	}
}
