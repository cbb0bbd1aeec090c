package sameoutput

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"go/format"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/fluxloop/fluxloop-go/generator"
	"github.com/fluxloop/fluxloop-go/internal/diff"
	"github.com/fluxloop/fluxloop-go/internal/testmod"
	"golang.org/x/tools/txtar"
)

// observationsFile is the file the runtime's file storage writes
// observations to (fluxloop.ObservationsFile; not imported so that this
// package does not need the runtime to compile).
const observationsFile = "observations.jsonl"

// raceWarning is what the race detector prints for each race.
const raceWarning = "WARNING: DATA RACE"

// A testCase is one testdata/NAME.txtar.
type testCase struct {
	name  string
	about string            // the txtar comment
	files map[string][]byte // the program, gofmt'd
	want  []check
	// Set while building; either makes the case fail.
	plainErr, genErr, instErr string
}

// TestSameOutput builds each case plain and instrumented, with -race, runs
// both and compares them; see the package documentation.
func TestSameOutput(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs programs with the race detector")
	}
	cases := loadCases(t)
	mod := newModule(t)
	for _, c := range cases {
		for name, data := range c.files {
			writeFile(t, filepath.Join(mod, c.name, name), data)
		}
	}
	plainBin, instBin := filepath.Join(t.TempDir(), "plain"), filepath.Join(t.TempDir(), "inst")

	start := time.Now()
	buildAll(t, mod, plainBin, cases, func(c *testCase, msg string) { c.plainErr = msg })
	t.Logf("plain build (%d cases): %v", len(cases), time.Since(start).Round(time.Millisecond))

	start = time.Now()
	instrument(t, mod, cases)
	t.Logf("instrumentation: %v", time.Since(start).Round(time.Millisecond))

	start = time.Now()
	var built []*testCase
	for _, c := range cases {
		if c.genErr == "" {
			built = append(built, c)
		}
	}
	buildAll(t, mod, instBin, built, func(c *testCase, msg string) { c.instErr = msg })
	t.Logf("instrumented build: %v", time.Since(start).Round(time.Millisecond))

	timeout := 60 * time.Second
	if s := os.Getenv("SAMEOUTPUT_TIMEOUT"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("SAMEOUTPUT_TIMEOUT: %v", err)
		}
		timeout = d
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			switch {
			case c.plainErr != "":
				t.Fatalf("the plain program does not build:\n%s", c.plainErr)
			case c.genErr != "":
				t.Fatalf("instrumenting failed: %s", c.genErr)
			case c.instErr != "":
				t.Fatalf("the instrumented program does not build:\n%s", c.instErr)
			}
			compare(t, c, filepath.Join(plainBin, c.name), filepath.Join(instBin, c.name), timeout)
		})
	}
}

// compare runs both binaries of a case and checks what the case requires.
func compare(t *testing.T, c *testCase, plainExe, instExe string, timeout time.Duration) {
	plainDir := t.TempDir()
	plain := runProgram(t, plainExe, plainDir, timeout)
	if plain.timedOut {
		t.Fatalf("the plain program did not finish in %v (deadlock/timeout): the case is broken\nstderr:\n%s", timeout, tail(plain.stderr, 20))
	}
	if bytes.Contains(plain.stderr, []byte(raceWarning)) {
		t.Fatalf("the plain program has a data race: the case is broken\n%s", firstRace(plain.stderr))
	}

	instDir := t.TempDir()
	inst := runProgram(t, instExe, instDir, timeout)
	t.Logf("plain %v, instrumented %v", plain.dur.Round(time.Millisecond), inst.dur.Round(time.Millisecond))
	if inst.timedOut {
		t.Fatalf("deadlock/timeout: the instrumented program did not finish in %v (the plain one took %v) and was killed\nstdout so far (%d of %d lines):\n%s\nstderr:\n%s",
			timeout, plain.dur.Round(time.Millisecond), bytes.Count(inst.stdout, []byte("\n")), bytes.Count(plain.stdout, []byte("\n")),
			tail(inst.stdout, 5), tail(inst.stderr, 20))
	}
	ok := true
	raced := bytes.Contains(inst.stderr, []byte(raceWarning))
	switch {
	case inst.code == plain.code:
	case raced && inst.code == 66:
		ok = false
		t.Errorf("exit code 66 instrumented (the race detector's), %d plain", plain.code)
	default:
		ok = false
		t.Errorf("exit code %d instrumented, %d plain\ninstrumented stderr (end):\n%s", inst.code, plain.code, tail(inst.stderr, 10))
	}
	if !bytes.Equal(inst.stdout, plain.stdout) {
		ok = false
		t.Errorf("stdout differs:\n%s", clip(diff.Unified("plain", "instrumented", plain.stdout, inst.stdout), 3000))
	}
	if raced {
		ok = false
		t.Errorf("the instrumented program has a data race (%d reports); the first:\n%s", bytes.Count(inst.stderr, []byte(raceWarning)), firstRace(inst.stderr))
	}
	if !ok {
		t.Logf("plain stdout:\n%s", clip(plain.stdout, 600))
	}

	data, err := os.ReadFile(filepath.Join(instDir, "fluxloop", observationsFile))
	if err != nil {
		t.Fatalf("the instrumented program recorded nothing: %v\nstderr:\n%s", err, clip(inst.stderr, 2000))
	}
	for _, msg := range checkAll(c.want, data) {
		t.Error(msg)
	}
}

// A result is what one run of a program did.
type result struct {
	code           int
	stdout, stderr []byte
	timedOut       bool
	dur            time.Duration
}

// runProgram runs exe in dir with FLUXLOOP_DIR=dir/fluxloop, killing it after
// timeout.
func runProgram(t *testing.T, exe, dir string, timeout time.Duration) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe)
	cmd.Dir = dir
	cmd.Env = append(cleanEnv(), "FLUXLOOP_DIR="+filepath.Join(dir, "fluxloop"))
	if os.Getenv("GORACE") == "" {
		// The race runtime sleeps 1 s at exit by default, for reports
		// from other threads; 100 ms is plenty for these programs.
		cmd.Env = append(cmd.Env, "GORACE=atexit_sleep_ms=100")
	}
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: stdout.Bytes(), stderr: stderr.Bytes(), dur: time.Since(start)}
	if ctx.Err() != nil {
		r.timedOut = true
		return r
	}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	default:
		t.Fatalf("running %s: %v", exe, err)
	}
	return r
}

// cleanEnv is the environment without FLUXLOOP_ variables, so that only
// FLUXLOOP_DIR configures the programs.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FLUXLOOP_") {
			env = append(env, kv)
		}
	}
	return env
}

// buildEnv is the environment of the go commands.
func buildEnv() []string {
	return append(cleanEnv(), "GOFLAGS=-mod=mod")
}

// buildAll builds the cases with -race into dir/NAME: in one go build, and
// when that fails, one by one, reporting each failure with fail.
func buildAll(t *testing.T, mod, dir string, cases []*testCase, fail func(*testCase, string)) {
	t.Helper()
	if len(cases) == 0 {
		return
	}
	args := []string{"build", "-race", "-o", dir + string(filepath.Separator)}
	for _, c := range cases {
		args = append(args, "./"+c.name)
	}
	if out, err := goCmd(mod, args...); err == nil {
		return
	} else {
		t.Logf("go build of all the cases failed (%v); building them one by one\n%s", err, clip(out, 2000))
	}
	for _, c := range cases {
		if out, err := goCmd(mod, "build", "-race", "-o", filepath.Join(dir, c.name), "./"+c.name); err != nil {
			fail(c, fmt.Sprintf("%v\n%s", err, out))
		}
	}
}

// goCmd runs the go command in dir.
func goCmd(dir string, args ...string) ([]byte, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = buildEnv()
	return cmd.CombinedOutput()
}

// instrument rewrites the cases in place: all in one Generate, and when that
// fails, one by one. A case whose package nothing was instrumented in fails.
func instrument(t *testing.T, mod string, cases []*testCase) {
	t.Helper()
	gen := func(dir string, patterns ...string) (*generator.Result, error) {
		return generator.Generate(t.Context(), generator.Options{Dir: dir, Patterns: patterns, Env: buildEnv(), SkipTests: true})
	}
	var patterns []string
	for _, c := range cases {
		patterns = append(patterns, "./"+c.name)
	}
	res, err := gen(mod, patterns...)
	if err == nil {
		err = generator.Write(res.Changes)
	}
	if err != nil {
		t.Logf("instrumenting all the cases failed (%v); instrumenting them one by one", err)
		res = &generator.Result{}
		for _, c := range cases {
			r, err := gen(filepath.Join(mod, c.name), ".")
			if err == nil {
				err = generator.Write(r.Changes)
			}
			if err != nil {
				c.genErr = err.Error()
				continue
			}
			res.Changes = append(res.Changes, r.Changes...)
		}
	}
	for _, w := range res.Warnings {
		t.Logf("generator: %s", w)
	}
	changed := map[string]bool{}
	for _, ch := range res.Changes {
		rel, err := filepath.Rel(mod, ch.Path)
		if err == nil {
			changed[strings.Split(filepath.ToSlash(rel), "/")[0]] = true
		}
	}
	for _, c := range cases {
		if c.genErr == "" && !changed[c.name] {
			c.genErr = "nothing was instrumented (no //fluxloop: directive?)"
		}
	}
}

// loadCases reads testdata/*.txtar, keeping only the cases the subtest part
// of -run selects.
func loadCases(t *testing.T) []*testCase {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "*.txtar"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no cases in testdata: %v", err)
	}
	selected := subtestFilter(t)
	var cases []*testCase
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".txtar")
		if selected != nil && !selected.MatchString(name) {
			continue
		}
		c, err := parseCase(name, f)
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, c)
	}
	if len(cases) == 0 {
		t.Skip("-run selects no case")
	}
	return cases
}

// parseCase reads one case file.
func parseCase(name, path string) (*testCase, error) {
	a, err := txtar.ParseFile(path)
	if err != nil {
		return nil, err
	}
	c := &testCase{name: name, about: strings.TrimSpace(string(a.Comment)), files: map[string][]byte{}}
	haveWant := false
	for _, f := range a.Files {
		switch {
		case f.Name == "want":
			haveWant = true
			if c.want, err = parseWant(f.Data); err != nil {
				return nil, fmt.Errorf("%s: %v", path, err)
			}
		case strings.HasSuffix(f.Name, ".go"):
			// The generator rewrites gofmt'd files only.
			src, err := format.Source(f.Data)
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %v", path, f.Name, err)
			}
			c.files[f.Name] = src
		default:
			c.files[f.Name] = f.Data
		}
	}
	if !haveWant || len(c.want) == 0 {
		return nil, fmt.Errorf("%s: no checks in a want section", path)
	}
	if len(c.files) == 0 {
		return nil, fmt.Errorf("%s: no program", path)
	}
	return c, nil
}

// subtestFilter returns the pattern that -run gives for this test's
// subtests (the part after the first slash), or nil.
func subtestFilter(t *testing.T) *regexp.Regexp {
	f := flag.Lookup("test.run")
	if f == nil {
		return nil
	}
	_, sub, ok := strings.Cut(f.Value.String(), "/")
	if !ok || sub == "" {
		return nil
	}
	sub, _, _ = strings.Cut(sub, "/")
	re, err := regexp.Compile(sub)
	if err != nil {
		t.Fatalf("-run: %v", err)
	}
	return re
}

// repoRoot is the checkout's root.
func repoRoot(t testing.TB) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(filepath.Dir(file)))
}

// newModule makes a temporary module that requires the local fluxloop-go.
func newModule(t testing.TB) string { return testmod.New(t, "sameoutput") }

func writeFile(t testing.TB, path string, data []byte) { testmod.WriteFile(t, path, data) }

// tail returns the last n lines of b.
func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) <= n {
		return strings.Join(lines, "\n")
	}
	return fmt.Sprintf("[%d lines before]\n%s", len(lines)-n, strings.Join(lines[len(lines)-n:], "\n"))
}

// firstRace returns the first race report of stderr, shortened.
func firstRace(stderr []byte) string {
	const sep = "=================="
	s := string(stderr)
	if i := strings.Index(s, raceWarning); i >= 0 {
		s = s[i:]
		if j := strings.Index(s, sep); j >= 0 {
			s = s[:j]
		}
	}
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > 50 {
		lines = append(lines[:50], fmt.Sprintf("[%d more lines]", len(lines)-50))
	}
	return strings.Join(lines, "\n")
}
