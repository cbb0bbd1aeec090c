package tracefile_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"github.com/fluxloop/fluxloop-go/runtime/tracefile"
)

func TestLocate(t *testing.T) {
	dir := t.TempDir()
	obs := filepath.Join(dir, "observations.jsonl")
	other := filepath.Join(dir, "run.jsonl")
	for _, p := range []string{obs, other, filepath.Join(dir, "traces.jsonl")} {
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		arg  string
		want tracefile.Source
		err  string
	}{
		{arg: "-", want: tracefile.Source{Observations: "-"}},
		{arg: dir, want: tracefile.Source{Observations: obs, Traces: filepath.Join(dir, "traces.jsonl"), Dir: dir}},
		{arg: obs, want: tracefile.Source{Observations: obs, Traces: filepath.Join(dir, "traces.jsonl"), Dir: dir}},
		{arg: other, want: tracefile.Source{Observations: other}},
		{arg: filepath.Join(dir, "later"), want: tracefile.Source{Observations: filepath.Join(dir, "later", "observations.jsonl"),
			Traces: filepath.Join(dir, "later", "traces.jsonl"), Dir: filepath.Join(dir, "later")}},
		{arg: filepath.Join(dir, ".fluxloop"), want: tracefile.Source{Observations: filepath.Join(dir, ".fluxloop", "observations.jsonl"),
			Traces: filepath.Join(dir, ".fluxloop", "traces.jsonl"), Dir: filepath.Join(dir, ".fluxloop")}},
		{arg: filepath.Join(dir, "missing.jsonl"), err: "no such file"},
		{arg: filepath.Join(dir, "traces.jsonl"), err: "not traces.jsonl"},
	} {
		got, err := tracefile.Locate(tc.arg)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Locate(%q) = %v, want error containing %q", tc.arg, err, tc.err)
			}
			if strings.HasSuffix(tc.arg, "missing.jsonl") && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Locate(%q) = %v, want fs.ErrNotExist", tc.arg, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Locate(%q) = %+v, %v, want %+v", tc.arg, got, err, tc.want)
		}
	}
}

func TestDefaultDir(t *testing.T) {
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	if got := tracefile.DefaultDir(getenv); got != ".fluxloop" {
		t.Errorf("DefaultDir() = %q", got)
	}
	env["FLUXLOOP_OFFLINE_DIR"] = "/off"
	if got := tracefile.DefaultDir(getenv); got != "/off" {
		t.Errorf("DefaultDir() = %q, want /off", got)
	}
	env["FLUXLOOP_DIR"] = "/dir"
	if got := tracefile.DefaultDir(getenv); got != "/dir" {
		t.Errorf("DefaultDir() = %q, want /dir", got)
	}
}

func readDir(t *testing.T, dir string) ([]tracefile.Record, []tracefile.Warning) {
	t.Helper()
	src, err := tracefile.Locate(dir)
	if err != nil {
		t.Fatal(err)
	}
	recs, warns, err := tracefile.ReadAll(src)
	if err != nil {
		t.Fatal(err)
	}
	return recs, warns
}

func TestReadAllAndGroup(t *testing.T) {
	recs, warns := readDir(t, "testdata/runs")
	if len(warns) > 0 {
		t.Fatalf("warnings: %v", warns)
	}
	var nobs, ntr int
	for _, r := range recs {
		switch r.Kind {
		case tracefile.KindObservation:
			nobs++
		case tracefile.KindTrace:
			ntr++
		}
	}
	if nobs != 26 || ntr != 10 {
		t.Fatalf("read %d observations and %d traces, want 26 and 10", nobs, ntr)
	}
	runs := tracefile.Group(recs)
	var names []string
	for _, r := range runs {
		names = append(names, r.Name())
	}
	want := []string{"", "Gather", "Agent.Research", "TokenSeq", "StreamingAgent", "Explode", "AsyncAgentWithError", "Assistant.Answer", "AsyncAgent"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("runs (newest first) = %q, want %q", names, want)
	}
	for i := 1; i < len(runs); i++ {
		if runs[i].Start().After(runs[i-1].Start()) {
			t.Errorf("run %d starts after run %d", i, i-1)
		}
	}

	live := runs[0]
	if !live.InProgress() || live.Trace != nil || len(live.Observations) != 2 {
		t.Errorf("in-progress run: InProgress %v, Trace %v, %d observations", live.InProgress(), live.Trace, len(live.Observations))
	}
	if want := []string{"1000000000000001", "1000000000000003"}; !reflect.DeepEqual(live.Running, want) {
		t.Errorf("Running = %v, want %v", live.Running, want)
	}

	mcp := runs[2]
	if len(mcp.Traces) != 3 || mcp.Trace.Name != "Agent.Research" || mcp.Root().Name != "Agent.Research" || mcp.InProgress() || mcp.Running != nil {
		t.Errorf("MCP run: %d trace lines, trace %q, root %q, in progress %v, running %v", len(mcp.Traces), mcp.Trace.Name, mcp.Root().Name, mcp.InProgress(), mcp.Running)
	}
	for i := 1; i < len(mcp.Observations); i++ {
		if mcp.Observations[i].StartTime.Before(mcp.Observations[i-1].StartTime) {
			t.Errorf("observations not by start time")
		}
	}
	if mcp.Observations[0].Name != "Agent.Research" {
		t.Errorf("first observation %q, want the root", mcp.Observations[0].Name)
	}
	if d := mcp.End().Sub(mcp.Start()); d <= 0 || d > time.Second {
		t.Errorf("MCP run lasted %v", d)
	}
}

// TestRecordOffsets checks that Offset and Raw read a record again from its
// file.
func TestRecordOffsets(t *testing.T) {
	recs, _ := readDir(t, "testdata/runs")
	files := map[string]*os.File{}
	for _, r := range recs {
		f := files[r.Source]
		if f == nil {
			var err error
			if f, err = os.Open(r.Source); err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			files[r.Source] = f
		}
		b := make([]byte, len(r.Raw))
		if _, err := f.ReadAt(b, r.Offset); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, r.Raw) {
			t.Fatalf("%s:%d: ReadAt(offset %d) = %.40s, want %.40s", r.Source, r.Line, r.Offset, b, r.Raw)
		}
	}
}

func TestPartialAndBadLines(t *testing.T) {
	recs, warns := readDir(t, "testdata/partial")
	if len(recs) != 4 {
		t.Errorf("read %d records, want 3 observations and 1 trace", len(recs))
	}
	var got []string
	for _, w := range warns {
		got = append(got, w.Error())
	}
	obs := filepath.Join("testdata", "partial", "observations.jsonl")
	want := []string{
		obs + ":4: not a JSON object, skipped",
		obs + ":5: not an observation record (unexpected end of JSON input), skipped",
		obs + ":6: partial last line (no newline: still being written, or cut short), skipped",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestStdoutStream(t *testing.T) {
	f, err := os.Open("testdata/stdout.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	src, _ := tracefile.Locate("-")
	src.Reader = f
	recs, warns, err := tracefile.ReadAll(src)
	if err != nil || len(warns) > 0 {
		t.Fatal(err, warns)
	}
	runs := tracefile.Group(recs)
	if len(recs) != 4 || len(runs) != 1 || runs[0].Name() != "AsyncAgent" || len(runs[0].Observations) != 3 || runs[0].InProgress() {
		t.Fatalf("read %d records, %d runs", len(recs), len(runs))
	}
	for _, r := range recs {
		if r.Source != "-" || r.Line < 2 {
			t.Errorf("record at %s:%d", r.Source, r.Line)
		}
		if j := r.JSON(); !bytes.HasPrefix(j, []byte(`{"id":`)) {
			t.Errorf("JSON() = %.30s", j)
		}
	}
}

func TestMixedLine(t *testing.T) {
	obs := `{"record":"observation","id":"0000000000000001","trace_id":"00000000000000000000000000000001","type":"agent","name":"A","start_time":"2026-01-01T00:00:00Z","end_time":"2026-01-01T00:00:01Z","level":"info"}`
	input := "program output\n{\"level\":\"INFO\",\"msg\":\"an slog line\"}\npartial print" + obs + "\n"
	r := tracefile.NewReader(strings.NewReader(input), "-", tracefile.KindMixed)
	rec, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	if rec.Observation.Name != "A" || rec.Line != 3 || rec.Offset != int64(strings.Index(input, `{"record"`)) || string(rec.Raw) != obs {
		t.Errorf("record %+v", rec)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("Next() = %v, want io.EOF", err)
	}
	if len(r.Warnings()) > 0 {
		t.Errorf("warnings %v", r.Warnings())
	}
}

func TestTag(t *testing.T) {
	line := []byte(`{"id":"1","name":"x"}`)
	tagged := tracefile.Tag(line, tracefile.KindTrace)
	if string(tagged) != `{"record":"trace","id":"1","name":"x"}` {
		t.Errorf("Tag = %s", tagged)
	}
	if string(tracefile.Tag(tagged, tracefile.KindObservation)) != string(tagged) {
		t.Errorf("Tag of a tagged line changed it")
	}
	if got := tracefile.StripTag(tagged); string(got) != string(line) {
		t.Errorf("StripTag = %s", got)
	}
	if got := tracefile.Tag([]byte(`{}`), tracefile.KindObservation); string(got) != `{"record":"observation"}` {
		t.Errorf("Tag({}) = %s", got)
	}
}

func TestGroupDuplicates(t *testing.T) {
	mk := func(id, parent, name string, start int) tracefile.Record {
		o := &fluxloop.Observation{ID: id, TraceID: "t1", ParentObservationID: parent, Name: name,
			StartTime: time.Unix(int64(start), 0), EndTime: time.Unix(int64(start+1), 0)}
		return tracefile.Record{Kind: tracefile.KindObservation, Observation: o}
	}
	runs := tracefile.Group([]tracefile.Record{mk("b", "a", "B", 2), mk("b", "a", "B2", 2), mk("a", "", "A", 1)})
	if len(runs) != 1 || len(runs[0].Observations) != 2 || runs[0].Observations[1].Name != "B2" || !runs[0].Complete() || runs[0].Name() != "A" {
		t.Errorf("runs %+v", runs[0])
	}
}

func line(id string, start int) string {
	o := fluxloop.Observation{ID: id, TraceID: "00000000000000000000000000000001", ParentObservationID: "00000000000000ff", Name: id, Type: fluxloop.TypeSpan,
		StartTime: time.Unix(int64(start), 0).UTC(), EndTime: time.Unix(int64(start+1), 0).UTC(), Level: fluxloop.LevelInfo}
	b, _ := json.Marshal(o)
	return string(b) + "\n"
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func ids(u tracefile.Update) []string {
	var out []string
	for _, r := range u.Records {
		out = append(out, r.Observation.ID)
	}
	return out
}

func TestFollower(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "later")
	src, err := tracefile.Locate(dir)
	if err != nil {
		t.Fatal(err)
	}
	f := tracefile.NewFollower(src)
	defer f.Close()
	poll := func() tracefile.Update {
		t.Helper()
		u, err := f.Poll()
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	if u := poll(); !u.Empty() {
		t.Fatalf("update before the directory exists: %+v", u)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	obs := src.Observations
	l3 := line("c", 3)
	appendFile(t, obs, line("a", 1)+line("b", 2)+l3[:20])
	if u := poll(); !reflect.DeepEqual(ids(u), []string{"a", "b"}) || len(u.Warnings) > 0 || len(u.Reset) > 0 {
		t.Fatalf("first update %v %+v", ids(u), u)
	}
	if u := poll(); !u.Empty() {
		t.Fatalf("update with nothing new: %+v", u)
	}
	appendFile(t, obs, l3[20:])
	u := poll()
	if !reflect.DeepEqual(ids(u), []string{"c"}) || u.Records[0].Line != 3 || u.Records[0].Offset != int64(2*len(line("a", 1))) {
		t.Fatalf("completed line: %v %+v", ids(u), u)
	}

	// Truncated and written again.
	if err := os.WriteFile(obs, []byte(line("d", 4)), 0o600); err != nil {
		t.Fatal(err)
	}
	u = poll()
	if !reflect.DeepEqual(u.Reset, []string{obs}) || !reflect.DeepEqual(ids(u), []string{"d"}) || u.Records[0].Offset != 0 {
		t.Fatalf("after truncation: %v %+v", ids(u), u)
	}

	// Rewritten in place, longer than before.
	if err := os.WriteFile(obs, []byte(line("e", 5)+line("f", 6)), 0o600); err != nil {
		t.Fatal(err)
	}
	u = poll()
	if !reflect.DeepEqual(u.Reset, []string{obs}) || !reflect.DeepEqual(ids(u), []string{"e", "f"}) {
		t.Fatalf("after rewrite: %v %+v", ids(u), u)
	}

	// Rotated: renamed away, a new file in its place.
	if err := os.Rename(obs, obs+".1"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, obs, line("g", 7))
	u = poll()
	if !reflect.DeepEqual(u.Reset, []string{obs}) || !reflect.DeepEqual(ids(u), []string{"g"}) {
		t.Fatalf("after rotation: %v %+v", ids(u), u)
	}

	// Deleted.
	if err := os.Remove(obs); err != nil {
		t.Fatal(err)
	}
	u = poll()
	if !reflect.DeepEqual(u.Reset, []string{obs}) || len(u.Records) > 0 {
		t.Fatalf("after deletion: %+v", u)
	}
	appendFile(t, obs, line("h", 8))
	if u := poll(); !reflect.DeepEqual(ids(u), []string{"h"}) || len(u.Reset) > 0 {
		t.Fatalf("recreated: %v %+v", ids(u), u)
	}

	// The traces file is followed too, and read first.
	appendFile(t, src.Traces, `{"id":"00000000000000000000000000000001","name":"T"}`+"\n")
	appendFile(t, obs, line("i", 9))
	u = poll()
	if len(u.Records) != 2 || u.Records[0].Kind != tracefile.KindTrace || u.Records[1].Observation.ID != "i" {
		t.Fatalf("trace and observation: %+v", u)
	}
}

func TestFollowFiles(t *testing.T) {
	dir := t.TempDir()
	src, _ := tracefile.Locate(dir)
	f := tracefile.NewFollower(src)
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got := make(chan string, 10)
	done := make(chan error, 1)
	go func() {
		n := 0
		done <- f.Follow(ctx, 5*time.Millisecond, func(u tracefile.Update) error {
			for _, id := range ids(u) {
				got <- id
				n++
			}
			if n == 2 {
				return errors.New("enough")
			}
			return nil
		})
	}()
	appendFile(t, src.Observations, line("a", 1))
	if id := <-got; id != "a" {
		t.Fatalf("got %q", id)
	}
	appendFile(t, src.Observations, line("b", 2))
	if id := <-got; id != "b" {
		t.Fatalf("got %q", id)
	}
	if err := <-done; err == nil || err.Error() != "enough" {
		t.Fatalf("Follow returned %v, want fn's error", err)
	}
}

func TestFollowStream(t *testing.T) {
	pr, pw := io.Pipe()
	src := tracefile.Source{Observations: "-", Reader: pr}
	f := tracefile.NewFollower(src)
	updates := make(chan tracefile.Update, 10)
	done := make(chan error, 1)
	go func() {
		done <- f.Follow(context.Background(), 0, func(u tracefile.Update) error {
			updates <- u
			return nil
		})
	}()
	tagged := func(s string) string {
		return string(tracefile.Tag([]byte(strings.TrimSuffix(s, "\n")), tracefile.KindObservation)) + "\n"
	}
	a := tagged(line("a", 1))
	pw.Write([]byte("hello\n" + a[:10]))
	pw.Write([]byte(a[10:]))
	if u := <-updates; !reflect.DeepEqual(ids(u), []string{"a"}) || u.Records[0].Line != 2 {
		t.Fatalf("stream update %+v", u)
	}
	pw.Write([]byte(tagged(line("b", 2)) + `{"record":"observation","id":`))
	if u := <-updates; !reflect.DeepEqual(ids(u), []string{"b"}) {
		t.Fatalf("stream update %+v", u)
	}
	pw.Close()
	u := <-updates
	if len(u.Warnings) != 1 || !strings.Contains(u.Warnings[0].Error(), "-:4: partial last line") {
		t.Fatalf("at the end: %+v", u)
	}
	if err := <-done; err != nil {
		t.Fatalf("Follow = %v at the end of the stream", err)
	}
}
