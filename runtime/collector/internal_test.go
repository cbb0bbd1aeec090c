package collector

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
)

func TestConfigOptions(t *testing.T) {
	env := map[string]string{
		"FLUXLOOP_API_URL": " https://c.example/x ",
		"FLUXLOOP_API_KEY": "k",
		"FLUXLOOP_TIMEOUT": "2.5",
	}
	getenv := func(k string) string { return env[k] }
	c := fluxloop.Config{ServiceName: "s", Environment: "e", Dir: "d", Debug: true}
	o, err := configOptions(c, getenv)
	if err != nil {
		t.Fatal(err)
	}
	want := Options{URL: "https://c.example/x", APIKey: "k", Timeout: 2500 * time.Millisecond,
		ServiceName: "s", Environment: "e", SpillDir: "d", Debug: true}
	if o != want {
		t.Errorf("options %+v, want %+v", o, want)
	}
	for _, v := range []string{"1m30s", "90"} {
		env["FLUXLOOP_TIMEOUT"] = v
		if o, err := configOptions(c, getenv); err != nil || o.Timeout != 90*time.Second {
			t.Errorf("FLUXLOOP_TIMEOUT=%s: %v, %v", v, o.Timeout, err)
		}
	}
	for _, v := range []string{"soon", "0", "-1", "NaN", "1e300"} {
		env["FLUXLOOP_TIMEOUT"] = v
		if _, err := configOptions(c, getenv); err == nil || !strings.Contains(err.Error(), "FLUXLOOP_TIMEOUT") {
			t.Errorf("FLUXLOOP_TIMEOUT=%s: error %v", v, err)
		}
	}
	delete(env, "FLUXLOOP_TIMEOUT")
	if o, err := configOptions(c, getenv); err != nil || o.Timeout != 0 {
		t.Errorf("no FLUXLOOP_TIMEOUT: %v, %v; want 0 (the default)", o.Timeout, err)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":                              0,
		"7":                             7 * time.Second,
		" 7 ":                           7 * time.Second,
		"0":                             0,
		"-3":                            0,
		"999999999":                     24 * time.Hour,
		"Fri, 02 Jan 2026 03:04:15 GMT": 10 * time.Second,
		"Fri, 02 Jan 2026 03:04:00 GMT": 0,
		"soon":                          0,
	} {
		if got := retryAfter(v, now); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestBreaker(t *testing.T) {
	var b breaker
	now := time.Now()
	if ok, probe := b.admit(now); !ok || probe || b.isOpen(now) {
		t.Fatalf("closed breaker: admit %v, %v", ok, probe)
	}
	b.trip(time.Hour)
	if ok, _ := b.admit(time.Now()); ok || !b.isOpen(time.Now()) {
		t.Fatal("open breaker admits")
	}
	later := time.Now().Add(2 * time.Hour)
	if ok, probe := b.admit(later); !ok || !probe {
		t.Fatalf("half-open breaker: admit %v, %v; want a probe", ok, probe)
	}
	if ok, _ := b.admit(later); ok {
		t.Fatal("a second probe went out")
	}
	b.endProbe()
	b.reset()
	if ok, probe := b.admit(now); !ok || probe || b.isOpen(now) {
		t.Fatalf("reset breaker: admit %v, %v", ok, probe)
	}
}

// TestAppendLines: Write's encoding is fluxloop.Encoder's, one object per
// line, the traces of the roots after the observations, and the
// observation lines give their trace id without decoding.
func TestAppendLines(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	recs := []fluxloop.Record{
		{TraceID: [16]byte{15: 1}, ID: [8]byte{7: 2}, ParentID: [8]byte{7: 1}, Type: fluxloop.TypeSpan, Name: "step", Start: now, End: now, Level: fluxloop.LevelInfo},
		{TraceID: [16]byte{15: 1}, ID: [8]byte{7: 1}, Root: true, Type: fluxloop.TypeAgent, Name: "run", Start: now, End: now, Level: fluxloop.LevelInfo},
	}
	var s Storage
	buf, n := s.appendLines([]byte("old"), recs)
	buf, n = buf[3:], n-3
	var e fluxloop.Encoder
	var want []byte
	for i := range recs {
		want = append(e.AppendObservation(want, &recs[i]), '\n')
	}
	if string(buf[:n]) != string(want) {
		t.Errorf("observation lines:\n%s\nwant\n%s", buf[:n], want)
	}
	if wantTr := string(e.AppendTrace(nil, &recs[1])) + "\n"; string(buf[n:]) != wantTr {
		t.Errorf("trace lines:\n%s\nwant\n%s", buf[n:], wantTr)
	}
	tid := fmt.Sprintf("%032x", 1)
	for _, line := range bytes.Split(bytes.TrimSuffix(buf[:n], nl), nl) {
		if got := string(traceIDOf(line)); got != tid {
			t.Errorf("trace id %q, want %q", got, tid)
		}
	}
	if got := string(traceIDOf([]byte(`{"type":"span","trace_id":"odd"}`))); got != "odd" {
		t.Errorf("trace id %q, want odd", got)
	}
}

// TestSpillFiles: the spill files are the file storage's, created on the
// first write with its modes, and reopened after close.
func TestSpillFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spill")
	f := spillFiles{dir: dir}
	if err := f.writeLines([]byte("{\"a\":1}\n"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, fluxloop.TracesFile)); !os.IsNotExist(err) {
		t.Errorf("traces file made without traces: %v", err)
	}
	if err := f.close(); err != nil {
		t.Fatal(err)
	}
	if err := f.writeLines([]byte("{\"a\":2}\n"), []byte("{\"t\":1}\n")); err != nil {
		t.Fatal(err)
	}
	if err := f.close(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, fluxloop.ObservationsFile))
	if err != nil || string(got) != "{\"a\":1}\n{\"a\":2}\n" {
		t.Errorf("observations file %q, %v", got, err)
	}
	fi, err := os.Stat(filepath.Join(dir, fluxloop.TracesFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("traces file: %v, %v", fi, err)
	}
	if di, err := os.Stat(dir); err != nil || di.Mode().Perm() != 0o700 {
		t.Errorf("directory: %v, %v", di, err)
	}
	// Spilling where no file can be made counts as dropped and says so.
	s, err := newStorage(Options{URL: "http://127.0.0.1:1", SpillDir: filepath.Join(dir, fluxloop.TracesFile, "x"), Log: &bytes.Buffer{}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	if err := s.spillNow([]byte("{}\n"), nil, 1, 0, errClosed); err == nil || !strings.Contains(err.Error(), "nor spill 1 observations") {
		t.Errorf("spill into a file: %v", err)
	}
	if st := s.Stats(); st.Dropped != 1 {
		t.Errorf("stats %+v", st)
	}
}
