package conformance

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"go/version"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/modfile"
)

// requireConformance skips t unless FLUXLOOP_CONFORMANCE=1.
func requireConformance(t *testing.T) {
	t.Helper()
	if os.Getenv("FLUXLOOP_CONFORMANCE") != "1" {
		t.Skip("instruments real modules and runs their tests, which takes minutes; set FLUXLOOP_CONFORMANCE=1 to run it")
	}
}

// repoRoot is the root of the fluxloop-go module, which the copies replace
// github.com/fluxloop/fluxloop-go with.
func repoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the source of the test")
	}
	return filepath.Dir(filepath.Dir(filepath.Dir(file)))
}

// childEnv is the environment of the go commands and of fluxloopgen in the
// copies (never in this repository, whose go.mod -mod=mod could edit): the
// test's own without settings that would change their meaning (GOFLAGS,
// GOWORK, FLUXLOOP_*), with -mod=mod so that go.mod and go.sum of the copies
// fill in, and extra appended.
func childEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "GOFLAGS" || k == "GOWORK" || strings.HasPrefix(k, "FLUXLOOP_") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "GOFLAGS=-mod=mod", "GOWORK=off")
	return append(env, extra...)
}

// result is the outcome of one command.
type result struct {
	out []byte // stdout and stderr, interleaved
	dur time.Duration
	err error
}

// ok reports whether the command exited with status 0.
func (r result) ok() bool { return r.err == nil }

// run runs a command in dir and reports its output, wall time and error.
func run(ctx context.Context, dir string, env []string, name string, args ...string) result {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = env
	start := time.Now()
	out, err := cmd.CombinedOutput()
	return result{out: out, dur: time.Since(start), err: err}
}

// mustRun is run that fails the test when the command fails.
func mustRun(t testing.TB, dir string, env []string, name string, args ...string) result {
	t.Helper()
	r := run(t.Context(), dir, env, name, args...)
	if !r.ok() {
		t.Fatalf("%s %s (in %s): %v\n%s", name, strings.Join(args, " "), dir, r.err, clip(r.out, 60))
	}
	return r
}

// buildFluxloopgen builds the fluxloopgen command of this repository into a
// temporary directory and returns the binary's path.
func buildFluxloopgen(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "fluxloopgen")
	mustRun(t, repoRoot(t), os.Environ(), "go", "build", "-o", bin, "./cmd/fluxloopgen")
	return bin
}

// downloadModule fetches path@version into the module cache (a no-op when it
// is there already) and returns its directory, which is read-only.
func downloadModule(t testing.TB, path, version string) string {
	t.Helper()
	r := mustRun(t, t.TempDir(), childEnv(), "go", "mod", "download", "-json", path+"@"+version)
	var info struct{ Dir, Error string }
	// The output interleaves stderr, which may hold warnings (a go.mod in
	// the temp root, for one): decode from the JSON object.
	out := r.out
	if i := bytes.IndexByte(out, '{'); i > 0 {
		out = out[i:]
	}
	if err := json.NewDecoder(bytes.NewReader(out)).Decode(&info); err != nil || info.Dir == "" {
		t.Fatalf("go mod download %s@%s: %v %s\n%s", path, version, err, info.Error, r.out)
	}
	return info.Dir
}

// copyTree copies the directory src to dst, making everything writable (the
// module cache is read-only).
func copyTree(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatalf("copy %s: %v", src, err)
	}
}

// writeFiles writes the files (paths relative to dir, slash-separated).
func writeFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// useLocalFluxloop makes the module in dir require the runtime module of
// this repository, and raises its go directive to the runtime's when lower. The
// go command would raise it in the instrumented copy alone, the first copy
// that imports fluxloop-go (with -mod=mod, as a user's go mod tidy would), and
// the language version decides what the code means (a loop variable per
// iteration from go1.22) and which vet checks apply (printf's non-constant
// format strings from go1.24): both copies must have the same.
func useLocalFluxloop(t testing.TB, dir string) {
	t.Helper()
	args := []string{"mod", "edit",
		"-require=github.com/fluxloop/fluxloop-go/runtime@v0.0.0",
		"-replace=github.com/fluxloop/fluxloop-go/runtime=" + filepath.Join(repoRoot(t), "runtime")}
	own, ours := goVersion(t, filepath.Join(dir, "go.mod")), goVersion(t, filepath.Join(repoRoot(t), "runtime", "go.mod"))
	if version.Compare("go"+own, "go"+ours) < 0 {
		args = append(args, "-go="+ours)
	}
	mustRun(t, dir, childEnv(), "go", args...)
}

// goVersion is the go directive of a go.mod file; a file without one means
// go1.16 (see "go help go.mod").
func goVersion(t testing.TB, gomod string) string {
	t.Helper()
	data, err := os.ReadFile(gomod)
	if err != nil {
		t.Fatal(err)
	}
	f, err := modfile.ParseLax(gomod, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	if f.Go == nil {
		return "1.16"
	}
	return f.Go.Version
}

// goSources reads every .go file under dir, keyed by slash-separated path
// relative to dir.
func goSources(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		files[filepath.ToSlash(rel)] = data
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// countLines counts, over the non-test files, the lines that start with
// prefix once leading blanks are trimmed.
func countLines(files map[string][]byte, prefix string) int {
	n := 0
	for name, src := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(src))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if strings.HasPrefix(strings.TrimSpace(sc.Text()), prefix) {
				n++
			}
		}
	}
	return n
}

// countIn counts the occurrences of s in the non-test files.
func countIn(files map[string][]byte, s string) int {
	n := 0
	for name, src := range files {
		if !strings.HasSuffix(name, "_test.go") {
			n += bytes.Count(src, []byte(s))
		}
	}
	return n
}

// changedFiles lists the files that differ between two snapshots.
func changedFiles(a, b map[string][]byte) []string {
	var names []string
	for name, src := range a {
		if other, ok := b[name]; !ok || !bytes.Equal(src, other) {
			names = append(names, name)
		}
	}
	for name := range b {
		if _, ok := a[name]; !ok {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// testReport is what go test -json said, per package.
type testReport struct {
	pkgs    map[string]string        // import path → "ok", "FAIL" or "no tests"
	failed  []string                 // failing tests, as "pkg TestName"
	passed  int                      // passing tests, subtests included
	elapsed time.Duration            // summed over the packages' test binaries
	tests   map[string]time.Duration // elapsed of each top-level test, by "pkg TestName"
	output  map[string]*strings.Builder
	unknown strings.Builder // lines that were not JSON (go command errors)
}

// testEvent is one line of go test -json (cmd/test2json), with the build
// events of the go command.
type testEvent struct {
	Action     string
	Package    string
	ImportPath string
	Test       string
	Output     string
	Elapsed    float64 // seconds, on a test's or package's pass, fail or skip
}

// parseTestJSON reads the output of go test -json.
func parseTestJSON(out []byte) *testReport {
	rep := &testReport{pkgs: map[string]string{}, tests: map[string]time.Duration{}, output: map[string]*strings.Builder{}}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var ev testEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil || ev.Action == "" {
			rep.unknown.Write(sc.Bytes())
			rep.unknown.WriteByte('\n')
			continue
		}
		pkg := ev.Package
		if pkg == "" {
			pkg, _, _ = strings.Cut(ev.ImportPath, " ")
		}
		if ev.Output != "" {
			rep.out(pkg).WriteString(ev.Output)
		}
		if ev.Test != "" && !strings.Contains(ev.Test, "/") && (ev.Action == "pass" || ev.Action == "fail") {
			rep.tests[pkg+" "+ev.Test] = time.Duration(ev.Elapsed * float64(time.Second))
		}
		switch {
		case ev.Test != "" && ev.Action == "pass":
			rep.passed++
		case ev.Test != "" && ev.Action == "fail":
			rep.failed = append(rep.failed, pkg+" "+ev.Test)
		case ev.Test == "" && ev.Package != "":
			if ev.Action == "pass" || ev.Action == "fail" {
				rep.elapsed += time.Duration(ev.Elapsed * float64(time.Second))
			}
			switch ev.Action {
			case "pass":
				rep.pkgs[pkg] = "ok"
			case "fail":
				rep.pkgs[pkg] = "FAIL"
			case "skip":
				rep.pkgs[pkg] = "no tests"
			}
		}
	}
	return rep
}

func (r *testReport) out(pkg string) *strings.Builder {
	b := r.output[pkg]
	if b == nil {
		b = &strings.Builder{}
		r.output[pkg] = b
	}
	return b
}

// slowest lists the n top-level tests that took the most time more in inst
// than in base, as "pkg TestName: 1.20s / 0.03s" (instrumented / plain).
func slowest(inst, base *testReport, n int) []string {
	type test struct {
		name       string
		inst, base time.Duration
	}
	var tests []test
	for name, d := range inst.tests {
		tests = append(tests, test{name, d, base.tests[name]})
	}
	sort.Slice(tests, func(i, j int) bool {
		di, dj := tests[i].inst-tests[i].base, tests[j].inst-tests[j].base
		if di != dj {
			return di > dj
		}
		return tests[i].name < tests[j].name
	})
	var out []string
	for _, tt := range tests[:min(n, len(tests))] {
		out = append(out, fmt.Sprintf("%s: %s / %s", tt.name, secs(tt.inst), secs(tt.base)))
	}
	return out
}

// count returns how many packages have the status.
func (r *testReport) count(status string) int {
	n := 0
	for _, s := range r.pkgs {
		if s == status {
			n++
		}
	}
	return n
}

// summary is a short form for the table: "4 ok, 1 FAIL (312 tests passed)".
func (r *testReport) summary() string {
	s := fmt.Sprintf("%d ok", r.count("ok"))
	if n := r.count("FAIL"); n > 0 {
		s += fmt.Sprintf(", %d FAIL", n)
	}
	return s + fmt.Sprintf(" (%d tests passed)", r.passed)
}

// clip keeps the first n lines of out, saying how many it left out.
func clip(out []byte, n int) string {
	lines := strings.SplitAfter(string(out), "\n")
	if len(lines) <= n {
		return string(out)
	}
	return strings.Join(lines[:n], "") + fmt.Sprintf("\t... (%d more lines)\n", len(lines)-n)
}

// secs formats a duration as seconds, with one decimal from 10 s up and
// two below.
func secs(d time.Duration) string {
	if d < 10*time.Second {
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
	return fmt.Sprintf("%.1fs", d.Seconds())
}
