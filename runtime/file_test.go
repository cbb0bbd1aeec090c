package fluxloop_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
)

var (
	hex16 = regexp.MustCompile(`^[0-9a-f]{16}$`)
	hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)
	// RFC 3339, UTC, nine fractional digits
	utcNano = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z$`)
)

func readLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s: line %d is not JSON: %v\n%s", path, len(out)+1, err, sc.Bytes())
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestFileStorageSchema(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "traces", "here")
	c := install(t, fluxloop.WithDir(dir), fluxloop.WithServiceName("svc"), fluxloop.WithEnvironment("test"))
	ctx, root := fluxloop.Start(context.Background(), "root", fluxloop.WithType(fluxloop.TypeAgent))
	fluxloop.SetTrace(ctx, fluxloop.TraceInfo{SessionID: "s1", UserID: "u1", Tags: []string{"a", "b"}, Metadata: map[string]any{"run": 3}})
	Run(ctx, "q")
	Fail(ctx, "oops")
	_, gen := fluxloop.Start(ctx, "llm", fluxloop.WithType(fluxloop.TypeGeneration))
	gen.SetUsage(fluxloop.Usage{Model: "m", PromptTokens: 3, CompletionTokens: 4})
	gen.End()
	root.End()
	if err := c.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	for path, mode := range map[string]os.FileMode{
		dir: 0o700 | os.ModeDir,
		filepath.Join(dir, fluxloop.ObservationsFile): 0o600,
		filepath.Join(dir, fluxloop.TracesFile):       0o600,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if runtime.GOOS != "windows" && fi.Mode() != mode {
			t.Errorf("%s has mode %v, want %v", path, fi.Mode(), mode)
		}
	}

	obs := readLines(t, filepath.Join(dir, fluxloop.ObservationsFile))
	if len(obs) != 6 {
		t.Fatalf("%d observation lines, want 6", len(obs))
	}
	allowed := map[string]bool{
		"id": true, "trace_id": true, "parent_observation_id": true, "type": true, "name": true,
		"start_time": true, "end_time": true, "input": true, "output": true, "error": true, "level": true,
		"status_message": true, "metadata": true, "model": true, "prompt_tokens": true,
		"completion_tokens": true, "total_tokens": true,
	}
	byName := map[string]map[string]any{}
	for _, o := range obs {
		byName[o["name"].(string)] = o
		for k := range o {
			if !allowed[k] {
				t.Errorf("unexpected field %q", k)
			}
		}
		if !hex16.MatchString(str(o["id"])) || !hex32.MatchString(str(o["trace_id"])) {
			t.Errorf("bad ids: %v %v", o["id"], o["trace_id"])
		}
		if p, ok := o["parent_observation_id"]; ok && !hex16.MatchString(str(p)) {
			t.Errorf("bad parent id %v", p)
		}
		if !utcNano.MatchString(str(o["start_time"])) || !utcNano.MatchString(str(o["end_time"])) {
			t.Errorf("bad times %v %v", o["start_time"], o["end_time"])
		}
		md, _ := o["metadata"].(map[string]any)
		if _, ok := md["code.filepath"].(string); !ok {
			t.Errorf("%v: no code.filepath in %v", o["name"], md)
		}
		if _, ok := md["code.lineno"].(float64); !ok {
			t.Errorf("%v: no code.lineno in %v", o["name"], md)
		}
	}
	if _, ok := byName["root"]["parent_observation_id"]; ok {
		t.Errorf("root has a parent_observation_id")
	}
	if f := byName["Fail"]; f["error"] != "oops" || f["level"] != "error" || f["metadata"].(map[string]any)["error_type"] != "*errors.errorString" {
		t.Errorf("Fail = %v", f)
	}
	if g := byName["llm"]; g["model"] != "m" || g["prompt_tokens"] != 3.0 || g["completion_tokens"] != 4.0 || g["total_tokens"] != 7.0 || g["type"] != "generation" {
		t.Errorf("llm = %v", g)
	}
	if f := str(byName["root"]["metadata"].(map[string]any)["code.filepath"]); filepath.Base(f) != "file_test.go" {
		t.Errorf("Start's code.filepath = %s", f)
	}

	trs := readLines(t, filepath.Join(dir, fluxloop.TracesFile))
	if len(trs) != 1 {
		t.Fatalf("%d trace lines, want 1", len(trs))
	}
	tr := trs[0]
	if tr["id"] != byName["root"]["trace_id"] || tr["name"] != "root" || tr["session_id"] != "s1" || tr["user_id"] != "u1" {
		t.Errorf("trace = %v", tr)
	}
	md := tr["metadata"].(map[string]any)
	if md["service_name"] != "svc" || md["environment"] != "test" || md["run"] != 3.0 {
		t.Errorf("trace metadata = %v", md)
	}
	if fmt.Sprint(tr["tags"]) != "[a b]" || !utcNano.MatchString(str(tr["start_time"])) {
		t.Errorf("trace = %v", tr)
	}
}

func str(v any) string { s, _ := v.(string); return s }

// Several writers, each with its own file handle, append to the same files at
// once: every line stays whole.
func TestConcurrentAppenders(t *testing.T) {
	dir := t.TempDir()
	const writers, batches, perBatch = 8, 20, perBatchLines
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			appendBatches(t, dir, w, batches, perBatch)
		}()
	}
	wg.Wait()
	checkAppended(t, dir, writers*batches*perBatch)
}

// appendBatches writes batches of big observations through a FileStorage of
// its own.
func appendBatches(t testing.TB, dir string, writer, batches, perBatch int) {
	st := fluxloop.NewFileStorage(dir)
	defer st.Close(context.Background())
	pad := bytes.Repeat([]byte("x"), 2000) // lines bigger than a pipe buffer's atomic write
	for b := range batches {
		var batch []fluxloop.Record
		for i := range perBatch {
			r := fluxloop.Record{
				Name: "w" + strconv.Itoa(writer), Type: fluxloop.TypeSpan, Level: fluxloop.LevelInfo,
				Start: time.Now(), End: time.Now(),
				Input: json.RawMessage(`"` + string(pad) + `"`),
			}
			binary.BigEndian.PutUint64(r.ID[:], uint64(writer<<32|b<<16|i))
			binary.BigEndian.PutUint64(r.TraceID[8:], uint64(writer))
			batch = append(batch, r)
		}
		if err := st.Write(context.Background(), batch); err != nil {
			t.Error(err)
			return
		}
	}
}

func checkAppended(t *testing.T, dir string, want int) {
	t.Helper()
	lines := readLines(t, filepath.Join(dir, fluxloop.ObservationsFile))
	if len(lines) != want {
		t.Fatalf("%d lines, want %d", len(lines), want)
	}
	seen := map[string]bool{}
	var prevBatch uint64 = 1 << 63
	run := 0
	for n, l := range lines {
		id := str(l["id"])
		if seen[id] {
			t.Fatalf("duplicate line %s", id)
		}
		seen[id] = true
		// Each batch was one write: its lines must be contiguous.
		v, _ := strconv.ParseUint(id, 16, 64)
		batch := v >> 16
		if batch == prevBatch {
			run++
		} else {
			if n > 0 && run != perBatchLines {
				t.Fatalf("line %d: a batch of %d lines was split (run of %d)", n, perBatchLines, run)
			}
			prevBatch, run = batch, 1
		}
	}
}

const perBatchLines = 50

// The same across processes: the test binary re-runs itself as appenders.
func TestConcurrentProcessAppenders(t *testing.T) {
	if os.Getenv("FLUXLOOP_TEST_APPENDER") != "" {
		t.Skip("running as an appender")
	}
	if testing.Short() {
		t.Skip("starts processes")
	}
	dir := t.TempDir()
	const procs, batches, perBatch = 4, 20, perBatchLines
	var cmds []*exec.Cmd
	for p := range procs {
		cmd := exec.Command(os.Args[0], "-test.run=^TestAppenderProcess$")
		cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0", "FLUXLOOP_TEST_APPENDER="+dir, "FLUXLOOP_TEST_WRITER="+strconv.Itoa(p))
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("appender: %v", err)
		}
	}
	checkAppended(t, dir, procs*batches*perBatch)
}

func TestAppenderProcess(t *testing.T) {
	dir := os.Getenv("FLUXLOOP_TEST_APPENDER")
	if dir == "" {
		t.Skip("helper for TestConcurrentProcessAppenders")
	}
	w, _ := strconv.Atoi(os.Getenv("FLUXLOOP_TEST_WRITER"))
	appendBatches(t, dir, w, 20, perBatchLines)
}
