package generator_test

import (
	"context"
	"encoding/json"
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fluxloop/fluxloop-go/generator"
)

// The throughput check times the generator on a copy of the standard
// library's net/http (about 29,500 lines in 30 files; every function marked,
// some 600, except in the generated h2_bundle.go, which the generator skips
// but still type-checks) against go vet on the same package, both right after an edit of the package
// so that neither is answered from a cache, with the dependencies cached for
// both. The target is at most 1.0x go vet's time.
//
//	FLUXLOOP_BENCH=1 go test -v -run Throughput ./generator/
//	go test -run '^$' -bench Throughput -benchtime 5x ./generator/
//	FLUXLOOP_BENCH=1 go test -run Throughput -cpuprofile cpu.out ./generator/
const (
	throughputModule = "example.com/nethttp"
	throughputRounds = 5
)

// TestThroughput logs the medians of throughputRounds rounds; it runs only
// when FLUXLOOP_BENCH=1.
func TestThroughput(t *testing.T) {
	if os.Getenv("FLUXLOOP_BENCH") != "1" {
		t.Skip("times the generator against go vet on a copy of net/http; set FLUXLOOP_BENCH=1 (or run -bench Throughput)")
	}
	tp := newThroughput(t)
	for i := range throughputRounds {
		tp.round(t, i)
	}
	t.Log("\n" + tp.table())
}

// BenchmarkThroughput runs one round per iteration and reports the medians
// in milliseconds and the ratios to go vet.
func BenchmarkThroughput(b *testing.B) {
	tp := newThroughput(b)
	b.ResetTimer()
	for i := range b.N {
		tp.round(b, i)
	}
	b.StopTimer()
	vet := tpMedian(tp.vet)
	b.ReportMetric(tpMillis(vet), "vet-ms")
	b.ReportMetric(tpMillis(tpMedian(tp.gen)), "generate-ms")
	b.ReportMetric(tpMillis(tpMedian(tp.exec)), "fluxloopgen-ms")
	b.ReportMetric(tpMillis(tpMedian(tp.list)), "golist-export-ms")
	b.ReportMetric(tpRatio(tpMedian(tp.gen), vet), "generate/vet")
	b.ReportMetric(tpRatio(tpMedian(tp.exec), vet), "fluxloopgen/vet")
}

// throughput is the copied package and the times measured on it.
type throughput struct {
	dir       string // the package directory
	edited    string // the file each step edits first
	tool      string // the fluxloopgen binary
	env       []string
	functions int // functions marked (and instrumented)
	lines     int
	// wall times, one per round
	vet, gen, exec, list []time.Duration
}

// newThroughput copies net/http into a temporary module, marks every
// function and warms the caches with one untimed run of each step.
func newThroughput(tb testing.TB) *throughput {
	tb.Helper()
	root := filepath.Dir(tpSourceDir(tb))
	mod := tb.TempDir()
	tp := &throughput{
		dir:  filepath.Join(mod, "net", "http"),
		tool: filepath.Join(tb.TempDir(), "fluxloopgen"),
		env:  append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off"),
	}
	tpRun(tb, root, os.Environ(), "go", "build", "-o", tp.tool, "./cmd/fluxloopgen")
	tp.lines = copyNetHTTP(tb, mod, tp.env)
	tp.edited = filepath.Join(tp.dir, "server.go")

	res, err := generator.Annotate(context.Background(), generator.AnnotateOptions{Dir: tp.dir, Patterns: []string{"."}, Env: tp.env})
	if err != nil {
		tb.Fatalf("annotate: %v", err)
	}
	if err := generator.Write(res.Changes); err != nil {
		tb.Fatal(err)
	}
	// Untimed: dependencies compiled and vetted, go.mod settled.
	tpRun(tb, tp.dir, tp.env, "go", "vet", ".")
	tp.functions = tp.generate(tb)
	tpRun(tb, tp.dir, tp.env, tp.tool, "-l", ".")
	return tp
}

// round edits the package and times go vet, then edits it again and times
// the generator in-process, then the fluxloopgen binary, then the go list
// that go/packages runs: each step right after an edit of its own, so that
// none profits from a build another one did. The order rotates with the
// round.
func (tp *throughput) round(tb testing.TB, n int) {
	tb.Helper()
	steps := []func(){
		func() { tp.vet = append(tp.vet, tpRun(tb, tp.dir, tp.env, "go", "vet", ".")) },
		func() {
			start := time.Now()
			tp.generate(tb)
			tp.gen = append(tp.gen, time.Since(start))
		},
		func() { tp.exec = append(tp.exec, tpRun(tb, tp.dir, tp.env, tp.tool, "-l", ".")) },
		func() {
			tp.list = append(tp.list, tpRun(tb, tp.dir, tp.env, "go", "list", "-e", "-json", "-compiled", "-test", "-export", "-deps", "-pgo=off", "."))
		},
	}
	for i := range steps {
		k := (i + n) % len(steps)
		tp.edit(tb, fmt.Sprintf("round %d step %d", n, k))
		steps[k]()
	}
}

// edit appends a comment to one file of the package.
func (tp *throughput) edit(tb testing.TB, note string) {
	tb.Helper()
	f, err := os.OpenFile(tp.edited, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if _, err := fmt.Fprintf(f, "\n// %s\n", note); err != nil {
		tb.Fatal(err)
	}
}

// generate runs the generator in-process and returns how many functions it
// instrumented.
func (tp *throughput) generate(tb testing.TB) int {
	tb.Helper()
	res, err := generator.Generate(context.Background(), generator.Options{Dir: tp.dir, Patterns: []string{"."}, Env: tp.env})
	if err != nil {
		tb.Fatalf("generate: %v", err)
	}
	if res.Functions == 0 {
		tb.Fatal("generate instrumented nothing")
	}
	return res.Functions
}

// table formats the medians as a markdown table.
func (tp *throughput) table() string {
	vet := tpMedian(tp.vet)
	var b strings.Builder
	fmt.Fprintf(&b, "net/http copy: %d lines, %d functions instrumented; medians of %d rounds, each step right after an edit\n\n", tp.lines, tp.functions, len(tp.vet))
	b.WriteString("| step | median | ratio to go vet . |\n| --- | ---: | ---: |\n")
	for _, s := range []struct {
		name string
		ds   []time.Duration
	}{
		{"go vet .", tp.vet},
		{"generator.Generate (in-process)", tp.gen},
		{"fluxloopgen -l . (exec)", tp.exec},
		{"go list -export -deps -test . (what go/packages runs)", tp.list},
	} {
		fmt.Fprintf(&b, "| %s | %.0f ms | %.2fx |\n", s.name, tpMillis(tpMedian(s.ds)), tpRatio(tpMedian(s.ds), vet))
	}
	return b.String()
}

// tpSourceDir is the directory of the generator package's sources.
func tpSourceDir(tb testing.TB) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		tb.Fatal("cannot locate the test's source")
	}
	return filepath.Dir(file)
}

// tpRun runs a command and returns its wall time, failing on an error.
func tpRun(tb testing.TB, dir string, env []string, name string, args ...string) time.Duration {
	tb.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir, cmd.Env = dir, env
	start := time.Now()
	out, err := cmd.CombinedOutput()
	d := time.Since(start)
	if err != nil {
		tb.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return d
}

// tpPackage is what copyNetHTTP needs of go list -json.
type tpPackage struct {
	ImportPath string
	Dir        string
	GoFiles    []string
	SFiles     []string
	Imports    []string
	ImportMap  map[string]string
}

// copyNetHTTP copies net/http into the module directory mod as
// example.com/nethttp/net/http, with the packages it imports that only the
// standard library may import (net/http/internal/..., the vendored
// golang.org/x packages) next to it, and internal/godebug replaced by a stub
// that leaves every setting at its default. Only the non-test Go files for
// the current platform are copied. It returns the line count of net/http.
func copyNetHTTP(tb testing.TB, mod string, env []string) int {
	tb.Helper()
	writeTPFile(tb, filepath.Join(mod, "go.mod"), "module "+throughputModule+"\n\ngo 1.26\n")
	writeTPFile(tb, filepath.Join(mod, "internal", "godebug", "godebug.go"), godebugStub)
	pkgs := listStd(tb, env)
	copied := map[string]bool{}
	queue := []string{"net/http"}
	lines := 0
	for len(queue) > 0 {
		path := queue[0]
		queue = queue[1:]
		if copied[path] {
			continue
		}
		copied[path] = true
		p := pkgs[path]
		if p == nil || len(p.SFiles) > 0 {
			tb.Fatalf("cannot copy %s (not listed, or has assembly)", path)
		}
		for _, imp := range p.Imports {
			if imp != "internal/godebug" && stdPrivate(imp) {
				queue = append(queue, imp)
			}
		}
		n := copyPackage(tb, p, filepath.Join(mod, filepath.FromSlash(copiedPath(path))))
		if path == "net/http" {
			lines = n
		}
	}
	return lines
}

// listStd lists net/http and its dependencies, keyed by import path.
func listStd(tb testing.TB, env []string) map[string]*tpPackage {
	tb.Helper()
	cmd := exec.Command("go", "list", "-deps", "-json=ImportPath,Dir,GoFiles,SFiles,Imports,ImportMap", "net/http")
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("go list net/http: %v", err)
	}
	pkgs := map[string]*tpPackage{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		p := new(tpPackage)
		if err := dec.Decode(p); err != nil {
			tb.Fatal(err)
		}
		pkgs[p.ImportPath] = p
	}
	return pkgs
}

// stdPrivate reports whether a standard library package may only be
// imported from inside the standard library.
func stdPrivate(path string) bool {
	return strings.HasPrefix(path, "vendor/") || path == "internal" || strings.HasPrefix(path, "internal/") ||
		strings.Contains(path, "/internal/") || strings.HasSuffix(path, "/internal")
}

// copiedPath is the path, relative to the module, of the copy of a standard
// library package.
func copiedPath(path string) string { return strings.TrimPrefix(path, "vendor/") }

// copyPackage copies the Go files of p into dir, rewriting the imports of
// copied packages, and returns the number of lines.
func copyPackage(tb testing.TB, p *tpPackage, dir string) int {
	tb.Helper()
	lines := 0
	for _, name := range p.GoFiles {
		src, err := os.ReadFile(filepath.Join(p.Dir, name))
		if err != nil {
			tb.Fatal(err)
		}
		out := rewriteImports(tb, name, src, p.ImportMap)
		lines += strings.Count(out, "\n")
		writeTPFile(tb, filepath.Join(dir, name), out)
	}
	return lines
}

// rewriteImports points the imports of private standard library packages at
// their copies (internal/godebug at the stub).
func rewriteImports(tb testing.TB, name string, src []byte, importMap map[string]string) string {
	tb.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), name, src, parser.ImportsOnly)
	if err != nil {
		tb.Fatal(err)
	}
	var b strings.Builder
	last := 0
	for _, spec := range f.Imports {
		path, _ := strconv.Unquote(spec.Path.Value)
		resolved := path
		if r, ok := importMap[path]; ok {
			resolved = r
		}
		if !stdPrivate(resolved) {
			continue
		}
		start, end := int(spec.Path.Pos())-1, int(spec.Path.End())-1 // file base is 1
		b.Write(src[last:start])
		b.WriteString(strconv.Quote(throughputModule + "/" + copiedPath(resolved)))
		last = end
	}
	b.Write(src[last:])
	return b.String()
}

func writeTPFile(tb testing.TB, path, content string) {
	tb.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// godebugStub stands in for internal/godebug in the copy of net/http.
const godebugStub = `// Package godebug stands in for the standard library's internal/godebug:
// every setting keeps its default value.
package godebug

// A Setting is a GODEBUG setting; its value is always the default, "".
type Setting struct{ name string }

// New returns the setting called name.
func New(name string) *Setting { return &Setting{name: name} }

// Name returns the setting's name.
func (s *Setting) Name() string { return s.name }

// Value returns "", the default.
func (s *Setting) Value() string { return "" }

// IncNonDefault does nothing: the value is never a non-default one.
func (s *Setting) IncNonDefault() {}
`

// tpMedian returns the median of ds (the mean of the middle two for an even
// count).
func tpMedian(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	n := len(s)
	switch {
	case n == 0:
		return 0
	case n%2 == 1:
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func tpMillis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func tpRatio(a, b time.Duration) float64 { return float64(a) / float64(b) }
