package fluxloop_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
)

// A process killed (SIGKILL) while it writes observations as fast as it can
// through the file storage leaves files whose complete lines all parse:
// at most a last, partial line is lost. The test re-runs its own binary as
// the writing child.
func TestKilledMidWrite(t *testing.T) {
	if dir := os.Getenv("FLUXLOOP_TEST_KILL_DIR"); dir != "" {
		c := install(t, fluxloop.WithDir(dir), fluxloop.WithBatchSize(50))
		long := strings.Repeat("a prompt of some length ", 40) // lines of about 1.5 KB
		for i := 0; ; i++ {
			ctx, root := fluxloop.Start(context.Background(), "agent", fluxloop.WithInput("prompt", long), fluxloop.WithInput("i", i))
			Run(ctx, long)
			root.End()
			if i%64 == 0 {
				_ = c.Stats() // keep going until killed
			}
		}
	}
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledMidWrite$", "-test.count=1")
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0", "FLUXLOOP_TEST_KILL_DIR="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	obsPath := filepath.Join(dir, fluxloop.ObservationsFile)
	deadline := time.Now().Add(20 * time.Second)
	for { // wait for the child to start writing, then let it write a while
		if fi, err := os.Stat(obsPath); err == nil && fi.Size() > 0 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("the child wrote nothing in 20s:\n%s", stderr.String())
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die of SIGKILL: %v\n%s", err, stderr.String())
	}
	for _, name := range []string{fluxloop.ObservationsFile, fluxloop.TracesFile} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		lines := bytes.Split(data, []byte{'\n'})
		partial := lines[len(lines)-1] // empty when the file ends with a newline
		lines = lines[:len(lines)-1]
		for i, line := range lines {
			var m map[string]any
			if err := json.Unmarshal(line, &m); err != nil {
				t.Fatalf("%s: complete line %d of %d does not parse: %v\n%.200s", name, i+1, len(lines), err, line)
			}
			if m["id"] == nil || m["trace_id"] == nil && name == fluxloop.ObservationsFile {
				t.Fatalf("%s: line %d lacks ids: %.200s", name, i+1, line)
			}
		}
		t.Logf("%s: %d complete lines recovered (%d bytes), partial last line: %d bytes", name, len(lines), len(data), len(partial))
		if len(lines) == 0 {
			t.Errorf("%s: no complete line", name)
		}
	}
}
