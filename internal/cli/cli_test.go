package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/fluxloop/fluxloop-go/runtime/tracefile"
)

func TestDuration(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0µs"}, {400, "<1µs"}, {1500, "2µs"}, {12 * time.Microsecond, "12µs"}, {999400, "999µs"}, {999600, "1ms"},
		{2380 * time.Microsecond, "2.38ms"}, {2 * time.Millisecond, "2ms"}, {61123 * time.Microsecond, "61.1ms"},
		{619883 * time.Microsecond, "620ms"}, {999600 * time.Microsecond, "1s"}, {1800 * time.Millisecond, "1.8s"},
		{12345 * time.Millisecond, "12.3s"}, {59960 * time.Millisecond, "1m0s"}, {125 * time.Second, "2m5s"},
	} {
		if got := Duration(c.d); got != c.want {
			t.Errorf("Duration(%v) = %q, want %q", c.d, got, c.want)
		}
	}
}

func TestCountAndCost(t *testing.T) {
	if got := Count(1, "observation", "observations"); got != "1 observation" {
		t.Error(got)
	}
	if got := Count(0, "observation", "observations"); got != "0 observations" {
		t.Error(got)
	}
	for c, want := range map[float64]string{0: "$0", 2.5: "$2.50", 0.0055: "$0.0055", 0.25: "$0.25", 0.00002: "$0.00002", 1e-9: "<$0.000001"} {
		if got := Cost(c); got != want {
			t.Errorf("Cost(%v) = %q, want %q", c, got, want)
		}
	}
}

func TestUseColor(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if UseColor(f, func(string) string { return "" }) {
		t.Error("colour for a regular file")
	}
	if tty, err := os.OpenFile("/dev/null", os.O_WRONLY, 0); err == nil { // a character device
		defer tty.Close()
		if !UseColor(tty, func(string) string { return "" }) {
			t.Error("no colour for a character device")
		}
		if UseColor(tty, func(k string) string { return map[string]string{"NO_COLOR": "1"}[k] }) {
			t.Error("colour with NO_COLOR set")
		}
	}
}

func TestMessages(t *testing.T) {
	for _, c := range []struct {
		name, input string
		want        []string // role: text, per message
	}{
		{"gemini", `{"systemInstruction":{"parts":[{"text":"Be brief."}]},"contents":[{"role":"user","parts":[{"text":"Hi"}]},{"role":"model","parts":[{"functionCall":{"name":"f","args":{"x":1}}}]},{"role":"user","parts":[{"functionResponse":{"name":"f","response":{"y":2}}}]}]}`,
			[]string{"system: Be brief.", "user: Hi", "assistant:  calls f", "user:  results f"}},
		{"responses", `{"instructions":"Be kind.","input":[{"role":"user","content":[{"type":"input_text","text":"Hi"}]},{"type":"function_call","name":"g","arguments":"{\"a\":1}","call_id":"c1"},{"type":"function_call_output","call_id":"c1","output":"ok"}]}`,
			[]string{"system: Be kind.", "user: Hi", "assistant:  calls g", "tool:  results "}},
		{"responses string", `{"input":"Hello"}`, []string{"user: Hello"}},
		{"anthropic", `{"system":"S","messages":[{"role":"assistant","content":[{"type":"thinking","thinking":"hmm"},{"type":"text","text":"A"},{"type":"tool_use","id":"t1","name":"h","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":[{"type":"text","text":"R"}]}]}]}`,
			[]string{"system: S", "assistant: A calls h", "user:  results "}},
	} {
		msgs, ok := inputMessages(json.RawMessage(c.input))
		if !ok {
			t.Errorf("%s: not read", c.name)
			continue
		}
		var got []string
		for _, m := range msgs {
			s := m.role + ": " + m.text
			for _, call := range m.calls {
				s += " calls " + call.name
			}
			for _, r := range m.results {
				s += " results " + r.name
			}
			got = append(got, s)
		}
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	if _, ok := inputMessages(json.RawMessage(`{"context":"x"}`)); ok {
		t.Error("a plain input read as messages")
	}
	m, ok := outputMessage(json.RawMessage(`{"choices":[{"role":"assistant","content":"a"},{"role":"assistant","content":"b"}]}`))
	if !ok || m.text != "a" || m.note != "the first of 2 choices" {
		t.Errorf("choices: %+v", m)
	}
	if _, ok := outputMessage(json.RawMessage(`{"embeddings":2,"dimensions":3}`)); ok {
		t.Error("embeddings read as a message")
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func appendLines(t *testing.T, path string, lines ...string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, l := range lines {
		if _, err := f.WriteString(l + "\n"); err != nil {
			t.Fatal(err)
		}
	}
}

const (
	childLine = `{"id":"00000000000000c1","trace_id":"0000000000000000000000000000000a","parent_observation_id":"00000000000000a1","type":"tool","name":"Search","start_time":"2026-12-01T12:00:00.001Z","end_time":"2026-12-01T12:00:00.002Z","level":"info"}`
	rootLine  = `{"id":"00000000000000a1","trace_id":"0000000000000000000000000000000a","type":"agent","name":"Agent","start_time":"2026-12-01T12:00:00Z","end_time":"2026-12-01T12:00:00.003Z","level":"info"}`
	traceLine = `{"id":"0000000000000000000000000000000a","name":"Agent","start_time":"2026-12-01T12:00:00Z","end_time":"2026-12-01T12:00:00.003Z"}`
	lateLine  = `{"id":"00000000000000c2","trace_id":"0000000000000000000000000000000a","parent_observation_id":"00000000000000a1","type":"span","name":"Late","start_time":"2026-12-01T12:00:00.002Z","end_time":"2026-12-01T12:00:00.009Z","level":"info"}`
)

func TestTail(t *testing.T) {
	dir := t.TempDir()
	src, _ := tracefile.Locate(dir)
	// A trace already there is not printed (without -n).
	appendLines(t, src.Observations, strings.ReplaceAll(rootLine, "000000000000000a", "000000000000000b"))
	var out, errb syncBuffer
	e := &Env{Stdout: &out, Stderr: &errb, Loc: time.UTC}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Tail(ctx, e, src, TailOptions{Interval: 10 * time.Millisecond, Quiet: 50 * time.Millisecond})
	}()
	waitFor(t, "the following message", func() bool { return strings.Contains(errb.String(), "following") })
	appendLines(t, src.Observations, childLine)
	time.Sleep(100 * time.Millisecond)
	if out.String() != "" {
		t.Fatalf("printed a trace in progress:\n%s", out.String())
	}
	appendLines(t, src.Observations, rootLine)
	appendLines(t, src.Traces, traceLine)
	waitFor(t, "the trace", func() bool { return strings.Contains(out.String(), "Search") })
	want := "Agent  trace 0000000000000000000000000000000a\n" +
		"started 2026-12-01 12:00:00.000 UTC, took 3ms, 2 observations\n" +
		"└─ Agent [agent] 3ms\n" +
		"   └─ Search [tool] 1ms\n\n"
	if got := out.String(); got != want {
		t.Errorf("tail printed:\n%s\nwant:\n%s", got, want)
	}
	appendLines(t, src.Observations, lateLine)
	waitFor(t, "the updated trace", func() bool { return strings.Contains(out.String(), "Late") })
	if !strings.Contains(out.String(), "(updated)\n") {
		t.Errorf("no (updated) mark:\n%s", out.String())
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Tail = %v after cancel", err)
	}
}

func TestTailStream(t *testing.T) {
	pr, pw := io.Pipe()
	src := tracefile.Source{Observations: "-", Reader: pr}
	var out, errb syncBuffer
	e := &Env{Stdout: &out, Stderr: &errb, Loc: time.UTC}
	done := make(chan error, 1)
	go func() {
		done <- Tail(context.Background(), e, src, TailOptions{Interval: 10 * time.Millisecond, Quiet: 20 * time.Millisecond})
	}()
	tag := func(s string, k tracefile.Kind) string { return string(tracefile.Tag([]byte(s), k)) + "\n" }
	io.WriteString(pw, "program output\n"+tag(childLine, tracefile.KindObservation)+tag(rootLine, tracefile.KindObservation)+tag(traceLine, tracefile.KindTrace))
	waitFor(t, "the trace", func() bool { return strings.Contains(out.String(), "Search") })
	io.WriteString(pw, tag(strings.ReplaceAll(childLine, "000000000000000a", "000000000000000c"), tracefile.KindObservation))
	pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "(in progress)  trace 0000000000000000000000000000000c") {
		t.Errorf("the trace in progress at the end of the stream was not printed:\n%s", out.String())
	}
}

func TestServeAndOpen(t *testing.T) {
	dir := t.TempDir()
	src, _ := tracefile.Locate(dir)
	appendLines(t, src.Observations, childLine, rootLine)
	var out, errb syncBuffer
	var opened []string
	var mu sync.Mutex
	e := &Env{Stdout: &out, Stderr: &errb, Assets: fstest.MapFS{"index.html": {Data: []byte("<title>viewer</title>")}},
		OpenURL: func(u string) error { mu.Lock(); opened = append(opened, u); mu.Unlock(); return nil }}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, e, src, ServeOptions{Addr: "127.0.0.1:0", Interval: 10 * time.Millisecond, Open: "0000000",
			Ready: func(u string) { ready <- u }})
	}()
	var base string
	select {
	case base = <-ready:
	case err := <-done:
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "fluxloop viewer: "+base) {
		t.Errorf("stdout %q does not name %s", out.String(), base)
	}
	mu.Lock()
	if len(opened) != 1 || opened[0] != base+"trace/0000000000000000000000000000000a" {
		t.Errorf("opened %v", opened)
	}
	mu.Unlock()
	for path, want := range map[string]string{"": "<title>viewer</title>", "trace/0000000000000000000000000000000a": "<title>viewer</title>",
		"api/traces": `"name":"Agent"`} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), want) {
			t.Errorf("GET /%s: %s, want %s", path, b, want)
		}
	}
	// The viewer follows the files.
	later := strings.NewReplacer("000000000000000a", "000000000000000d", "12:00:00", "12:30:00").Replace(rootLine)
	appendLines(t, src.Observations, later)
	waitFor(t, "the new trace", func() bool {
		resp, err := http.Get(base + "api/traces/0000000000000000000000000000000d")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})

	// open with the address taken by this viewer opens the trace there.
	_, port, _ := net.SplitHostPort(strings.TrimSuffix(strings.TrimPrefix(base, "http://"), "/"))
	err := Serve(context.Background(), e, src, ServeOptions{Addr: "127.0.0.1:" + port, Open: "last"})
	if err != nil {
		t.Fatalf("open with a viewer running: %v", err)
	}
	mu.Lock()
	if len(opened) != 2 || opened[1] != base+"trace/0000000000000000000000000000000d" {
		t.Errorf("opened %v", opened)
	}
	mu.Unlock()
	// serve with the address taken fails, naming the way out.
	err = Serve(context.Background(), e, src, ServeOptions{Addr: "127.0.0.1:" + port})
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:0") {
		t.Errorf("serve on a taken address: %v", err)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve = %v after cancel", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
}

func TestServeNoOpener(t *testing.T) {
	dir := t.TempDir()
	src, _ := tracefile.Locate(dir)
	appendLines(t, src.Observations, rootLine)
	var out syncBuffer
	e := &Env{Stdout: &out, Stderr: io.Discard, OpenURL: func(string) error { return ErrNoOpener }}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	go Serve(ctx, e, src, ServeOptions{Addr: "127.0.0.1:0", Open: "last", Ready: func(u string) { ready <- u }})
	base := <-ready
	waitFor(t, "the URL", func() bool { return strings.Contains(out.String(), "open "+base+"trace/") })
}

func TestServeEmptyDirWaits(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "later")
	src, _ := tracefile.Locate(dir)
	var out, errb syncBuffer
	e := &Env{Stdout: &out, Stderr: &errb}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	go Serve(ctx, e, src, ServeOptions{Addr: "127.0.0.1:0", Interval: 10 * time.Millisecond, Ready: func(u string) { ready <- u }})
	base := <-ready
	os.MkdirAll(dir, 0o700)
	appendLines(t, src.Observations, rootLine)
	waitFor(t, "the trace", func() bool {
		resp, err := http.Get(base + "api/traces")
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return strings.Contains(string(b), `"total":1`)
	})
}
