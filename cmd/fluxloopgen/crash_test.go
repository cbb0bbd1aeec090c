package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCrashSafety kills fluxloopgen while it rewrites a 20-file package, at
// every step of its writes (the FLUXLOOPGEN_CRASH_AT hook exits the process
// there, as a kill would) and with SIGKILL after random delays, and checks
// that every file is byte for byte either the original or the fully
// instrumented version: never partial.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("builds fluxloopgen and runs the go command")
	}
	bin := filepath.Join(t.TempDir(), "fluxloopgen")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	gomod, sum := repoModFiles(t, "example.com/crash")
	const nfiles = 20
	orig := map[string][]byte{}
	for i := range nfiles {
		var b strings.Builder
		fmt.Fprintf(&b, "package crash\n\n// File %d.\n", i)
		for j := range 20 {
			fmt.Fprintf(&b, "\n//fluxloop:trace\nfunc F%d_%d(x int, s string) (int, error) {\n\treturn x + len(s) + %d, nil\n}\n", i, j, j)
		}
		orig[fmt.Sprintf("f%02d.go", i)] = []byte(b.String())
	}
	orig["go.mod"], orig["go.sum"] = []byte(gomod), []byte(sum)
	setup := func() string {
		dir := t.TempDir()
		for name, data := range orig {
			mode := os.FileMode(0o644)
			if name == "f07.go" {
				mode = 0o600 // modes are kept
			}
			if err := os.WriteFile(filepath.Join(dir, name), data, mode); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	env := append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	runGen := func(dir string, extra ...string) *exec.Cmd {
		cmd := exec.Command(bin, "-gomod=false", ".")
		cmd.Dir, cmd.Env = dir, append(env, extra...)
		return cmd
	}
	// The expected result: a clean run.
	clean := setup()
	start := time.Now()
	if out, err := runGen(clean).CombinedOutput(); err != nil {
		t.Fatalf("clean run: %v\n%s", err, out)
	}
	runTime := time.Since(start)
	want := map[string][]byte{}
	for name := range orig {
		data, err := os.ReadFile(filepath.Join(clean, name))
		if err != nil {
			t.Fatal(err)
		}
		want[name] = data
		if strings.HasSuffix(name, ".go") && bytes.Equal(data, orig[name]) {
			t.Fatalf("%s not instrumented by the clean run", name)
		}
	}
	if fi, _ := os.Stat(filepath.Join(clean, "f07.go")); fi.Mode().Perm() != 0o600 {
		t.Errorf("f07.go mode %v after the run, want 0600", fi.Mode().Perm())
	}
	var checked, partial, mixed, kills, leftover int
	n := 0
	check := func(dir, how string) {
		nold, nnew := 0, 0
		n++
		for name := range orig {
			if !strings.HasSuffix(name, ".go") {
				continue // go.mod is the go command's (-mod=mod)
			}
			data, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Errorf("%s: %s: %v", how, name, err)
				continue
			}
			checked++
			switch {
			case bytes.Equal(data, orig[name]):
				nold++
			case bytes.Equal(data, want[name]):
				nnew++
			default:
				partial++
				t.Errorf("%s: %s is neither the original nor the instrumented file (%d bytes)", how, name, len(data))
			}
		}
		if nold > 0 && nnew > 0 {
			mixed++
		}
		temps, _ := filepath.Glob(filepath.Join(dir, ".*.fluxloopgen-*"))
		leftover += len(temps)
		// A rerun completes the job (checked for every 8th crash: a run
		// takes a second).
		if n%8 != 0 {
			return
		}
		if out, err := runGen(dir).CombinedOutput(); err != nil {
			t.Errorf("%s: rerun: %v\n%s", how, err, out)
		}
		for name := range orig {
			if !strings.HasSuffix(name, ".go") {
				continue
			}
			if data, _ := os.ReadFile(filepath.Join(dir, name)); !bytes.Equal(data, want[name]) {
				t.Errorf("%s: after a rerun, %s differs from the clean run's", how, name)
			}
		}
	}
	// An exit at every step of the writes: 20 temporary files, 20 renames.
	for step := 1; step <= 2*nfiles; step++ {
		dir := setup()
		out, err := runGen(dir, fmt.Sprintf("FLUXLOOPGEN_CRASH_AT=%d", step)).CombinedOutput()
		if err == nil {
			t.Fatalf("step %d: the crash hook did not fire\n%s", step, out)
		}
		kills++
		check(dir, fmt.Sprintf("exit at step %d", step))
	}
	// SIGKILL after a random delay within the run time.
	for i := range 30 {
		dir := setup()
		cmd := runGen(dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		delay := time.Duration(rand.Int64N(int64(runTime) + 1))
		time.Sleep(delay)
		cmd.Process.Kill()
		cmd.Wait()
		kills++
		check(dir, fmt.Sprintf("kill %d after %v", i, delay))
	}
	t.Logf("%d crashes (%d at write steps, 30 SIGKILLs over a %v run), %d files checked, %d partial, %d runs left old and new files mixed, %d temporary files left (hidden, ignored by go)", kills, 2*nfiles, runTime.Round(time.Millisecond), checked, partial, mixed, leftover)
}

// TestWriteSymlink: a symlinked .go file keeps its link, and the file it
// points to is the one rewritten.
func TestWriteSymlink(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	gomod, sum := repoModFiles(t, "example.com/link")
	dir := t.TempDir()
	shared := t.TempDir()
	src := "package link\n\n//fluxloop:trace\nfunc F() int { return 1 }\n"
	target := filepath.Join(shared, "real.go")
	for name, data := range map[string]string{"go.mod": gomod, "go.sum": sum} {
		os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644)
	}
	if err := os.WriteFile(target, []byte(src), 0o640); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "f.go")
	if err := os.Symlink(target, link); err != nil {
		t.Skip(err)
	}
	t.Chdir(dir)
	t.Setenv("GOFLAGS", "-mod=mod")
	t.Setenv("GOWORK", "off")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"-gomod=false", "."}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	fi, err := os.Lstat(link)
	if err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("f.go is no longer a symlink: %v %v", fi.Mode(), err)
	}
	data, _ := os.ReadFile(target)
	if !bytes.Contains(data, []byte("fluxloop.")) {
		t.Errorf("the link's target was not instrumented:\n%s", data)
	}
	if fi, _ := os.Stat(target); fi.Mode().Perm() != 0o640 {
		t.Errorf("target mode %v, want 0640", fi.Mode().Perm())
	}
}
