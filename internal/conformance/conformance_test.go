package conformance

import (
	"bytes"
	"fmt"
	"go/format"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fluxloop/fluxloop-go/internal/diff"
)

// A module is one real module the conformance test instruments.
type module struct {
	path, version string
	// files are added to both copies before anything runs (slash-separated
	// paths relative to the module root).
	files map[string]string
	// skip, when set, is passed to go test -skip in both copies; the reason
	// must be written next to it.
	skip string
	// testFlags and vetFlags are extra flags of go test and go vet, in both
	// copies; the reason must be written next to them.
	testFlags, vetFlags []string
	// timeout is go test's -timeout (per package); "" is defaultTimeout.
	timeout string
	// storage is FLUXLOOP_STORAGE for the instrumented tests; "" keeps the
	// default, JSONL files in ./.fluxloop of each package directory (inside
	// the temporary copy).
	storage string
}

// defaultTimeout is go test's -timeout when a module sets none.
const defaultTimeout = "4m"

// modules are the modules instrumented, at pinned versions. Each brings a
// case the others lack; the comments say which.
var modules = []module{
	// TestVersion6 is skipped in both copies: TestClockSeqRace (seq_test.go)
	// leaves goroutines calling NewUUID after it returns, and a late call
	// bumps the shared clock sequence between TestVersion6's two NewV6
	// calls ("clock sequence changed unexpectedly"). Any slowdown makes
	// that likelier; instrumented, it failed 4 runs in 6.
	{path: "github.com/google/uuid", version: "v1.6.0", skip: "^TestVersion6$"},
	// Goroutines, contexts, semaphores, errgroup.
	{path: "golang.org/x/sync", version: "v0.25.0"},
	// Generics everywhere, iterators, channels as values.
	samberLo,
	// Custom marshalers (Marshaler, Unmarshaler, TextMarshaler) called from
	// reflection, recursive descent over a node tree (*Node results holding
	// whole documents, aliases sharing subtrees), errors raised as panics
	// from deep inside the recursion and recovered at the top.
	//
	// Its tests run with -short in both copies, which only limit_test.go's
	// TestLimits looks at (it returns at once): it parses twelve 1 MB inputs,
	// tens of millions of calls of per-byte helpers such as is_blank, and
	// takes 40-60 s plain, instrumented more than 6 min (fluxloop-go
	// e21b4a9), beyond CI's budget. yamlLimits keeps its cases at 10,000
	// levels of nesting, the parser's maximum, on inputs of 20-40 kB.
	//
	// go vet runs without structtag: yaml's own tests write bare tags
	// (`a,omitempty`, for yaml's old tag form), which it rejects in both
	// copies.
	//
	// yamlLimits (TestConformanceLimits) is written to both copies but
	// skipped in both, measured apart instead: with every function traced,
	// a document nested 10,000 deep is some 30,000 nested observations per
	// case, each capturing the parser, and does not finish in 2 minutes
	// under -race. The cases that exceed the depth are worse still: yaml
	// reports the error as a panic raised 10,000 levels down and recovered
	// at the top, and each of the traced frames it unwinds through
	// recovers it, records it and raises it again on top of the stack of
	// the raise before, which costs O(depth^2). The generator has no way
	// to observe a panic without recovering it; the README says so.
	{path: "gopkg.in/yaml.v3", version: "v3.0.1", files: yamlLimits,
		skip:      "^TestConformanceLimits$",
		testFlags: []string{"-short"}, vetFlags: []string{"-structtag=false"}, timeout: "4m"},
	// A generic B-tree: recursion over nodes, trees of 10,000s of items
	// passed around and copied. Plain, its tests take 7-12 s; the timeout
	// leaves more than 10 times that.
	//
	// TestBTree, TestBTreeG and the two TestCloneConcurrentOperations are
	// skipped in both copies: with every function traced, each makes about
	// ten million traced calls of functions that take 20-50 ns (TestBTree:
	// 10.9 million observations, 0.27 s plain, 21 s instrumented without
	// -race), which under -race outlasts CI's budget. The other 18 tests
	// cover the same code on smaller trees.
	{path: "github.com/google/btree", version: "v1.1.3", timeout: "2m",
		skip: "^(TestBTree|TestBTreeG|TestCloneConcurrentOperations|TestCloneConcurrentOperationsG)$"},
	// Timers and tickers behind an accessor channel (C() <-chan time.Time)
	// and retry loops whose tests measure elapsed time.
	//
	// The release's example_test.go has ExampleRetryContext, which names no
	// identifier (RetryContext was removed), so the "tests" analyzer of go
	// vet, also one of go test's default vet checks, rejects the package in
	// both copies, before any test runs. It is turned off there: go test
	// runs its other default checks (the list of "go help test" without
	// "tests") and go vet every analyzer but that one.
	{path: "github.com/cenkalti/backoff/v4", version: "v4.3.0",
		testFlags: []string{"-vet=atomic,bool,buildtags,directive,errorsas,ifaceassert,nilfunc,printf,stringintconv"},
		vetFlags:  []string{"-tests=false"}},
	// Encoding and decoding through reflection with TextMarshaler and
	// toml.Marshaler values; recursion over nested tables.
	//
	// At the go version both copies get (see useLocalFluxloop), the printf
	// analyzer's check of non-constant format strings (go1.24) rejects four
	// calls of internal/toml-test's Test.fail (a printf wrapper) in both
	// copies, in go vet and in go test's vet, which then fails that package's
	// build. printf is turned off there, the other checks kept as for
	// backoff above.
	{path: "github.com/BurntSushi/toml", version: "v1.6.0",
		testFlags: []string{"-vet=atomic,bool,buildtags,directive,errorsas,ifaceassert,nilfunc,stringintconv,tests"},
		vetFlags:  []string{"-printf=false"}},
}

// samberLo is also the module TestBuildOverhead builds.
var samberLo = module{path: "github.com/samber/lo", version: "v1.53.0", files: loTestHelpers}

// loTestHelpers are the test helpers that samber/lo keeps in test files its
// release leaves out, although the example tests it ships use them (the
// examples do not compile without them, instrumented or not). They are copied
// from lo's repository at the same tag.
var loTestHelpers = map[string]string{
	"zz_conformance_helpers_test.go": `package lo

type foo struct{ bar string }

func (f foo) Clone() foo { return foo{f.bar} }
`,
	"it/zz_conformance_helpers_test.go": `//go:build go1.23

package it

import (
	"iter"
	"slices"
)

func values[T any](v ...T) iter.Seq[T] { return slices.Values(v) }

type foo struct{ bar string }

func (f foo) Clone() foo { return foo{f.bar} }
`,
}

// yamlLimits is the test that stands for yaml.v3's TestLimits in the
// copies (see modules): its cases at the same depth, at a fiftieth of the
// size. It is not gocheck's, so that it shows in go test's list of tests.
var yamlLimits = map[string]string{
	"zz_conformance_limits_test.go": `package yaml_test

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestConformanceLimits(t *testing.T) {
	for _, tc := range []struct {
		name, data, error string
	}{
		{"20k-deep slices", strings.Repeat("[", 20000), "yaml: exceeded max depth of 10000"},
		{"20k-deep maps", "x: " + strings.Repeat("{", 20000), "yaml: exceeded max depth of 10000"},
		{"20k-deep indents", strings.Repeat("- ", 20000), "yaml: exceeded max depth of 10000"},
		{"slice nested at max-depth", strings.Repeat("[", 10000) + "1" + strings.Repeat(",1", 1000) + strings.Repeat("]", 10000), ""},
		{"slice nested in maps at max-depth", "{a,b:\n" + strings.Repeat(" {a,b:", 10000-2) + " [1" + strings.Repeat(",1", 1000) + "]" + strings.Repeat("}", 10000-1), ""},
		{"10000-nested lines", strings.Repeat("- "+strings.Repeat("[", 10000)+strings.Repeat("]", 10000)+"\n", 2), ""},
		{"maps with 100 aliases", "{a: &a [{a}" + strings.Repeat(",{a}", 100) + "], b: &b [*a" + strings.Repeat(",*a", 99) + "]}", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v any
			err := yaml.Unmarshal([]byte(tc.data), &v)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.error {
				t.Errorf("error %q, want %q", got, tc.error)
			}
		})
	}
}
`,
}

// row is one line of the results table.
type row struct {
	module             string
	marked, rewritten  int
	vetInst, vetBase   string // "ok" or "FAIL"
	testInst, testBase *testReport
	observations       int
	observationBytes   int64
	// wall times
	annotateT, generateT   time.Duration
	vetInstT, vetBaseT     time.Duration
	buildInstT, buildBaseT time.Duration // go test's build of the test binaries
	wallInstT, wallBaseT   time.Duration // the timed go test, linking included
}

// TestConformance instruments every function of real modules and checks that
// their own vet and tests pass exactly as they do without instrumentation;
// see the package documentation.
func TestConformance(t *testing.T) {
	requireConformance(t)
	tool := buildFluxloopgen(t)
	warmRuntime(t)
	var rows []*row
	for _, m := range modules {
		r := &row{module: m.path + "@" + m.version}
		t.Run(m.path, func(t *testing.T) {
			rows = append(rows, r) // the modules -run selects only
			checkModule(t, tool, m, r)
		})
	}
	t.Log("\n" + table(rows) + "\n" + timesTable(rows))
}

// warmRuntime compiles and vets the runtime once before anything is timed,
// so that the first module does not pay for it.
func warmRuntime(t *testing.T) {
	root := repoRoot(t)
	mustRun(t, root, os.Environ(), "go", "build", "-race", "./runtime")
	mustRun(t, root, os.Environ(), "go", "vet", "./runtime")
}

// checkModule runs the whole check on one module and fills in its row.
func checkModule(t *testing.T, tool string, m module, r *row) {
	src := downloadModule(t, m.path, m.version)
	base, inst := filepath.Join(t.TempDir(), "base"), filepath.Join(t.TempDir(), "inst")
	for _, dir := range []string{base, inst} {
		copyTree(t, src, dir)
		writeFiles(t, dir, m.files)
		useLocalFluxloop(t, dir) // in both, so that only the instrumentation differs
		// fluxloopgen rewrites gofmt'd files only (some of uuid's are not):
		// format both copies, as a user would before instrumenting.
		gofmtTree(t, dir)
	}
	env := childEnv()
	orig := goSources(t, inst)

	res := mustRun(t, inst, env, tool, "annotate", "./...")
	r.annotateT = res.dur
	annotated := goSources(t, inst)
	r.marked = countLines(annotated, "//fluxloop:")

	res = mustRun(t, inst, env, tool, "-v", "./...")
	r.generateT = res.dur
	r.rewritten = instrumentedCount(t, res.out)
	if r.rewritten == 0 {
		t.Fatalf("fluxloopgen rewrote nothing:\n%s", res.out)
	}
	if n := countIn(goSources(t, inst), "__fluxloopSpan :="); n != r.rewritten {
		t.Errorf("fluxloopgen -v says it instrumented %d functions; the sources hold %d", r.rewritten, n)
	}
	logNotes(t, res.out)

	vetAndTest(t, m, base, inst, r)
	checkRoundTrip(t, tool, inst, annotated, orig)
}

// instrumentedCount reads "instrumented N functions" from fluxloopgen -v.
func instrumentedCount(t *testing.T, out []byte) int {
	t.Helper()
	m := regexp.MustCompile(`instrumented (\d+) functions`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("fluxloopgen -v did not say how many functions it instrumented:\n%s", out)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// logNotes logs what fluxloopgen -v said about skipped functions and files.
func logNotes(t *testing.T, out []byte) {
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" && !strings.Contains(l, "instrumented ") {
			t.Logf("fluxloopgen: %s", l)
		}
	}
}

// vetAndTest runs go vet and go test -race in the plain copy, then in the
// instrumented one, and compares them.
//
// go test runs twice in each copy. First it only builds (-exec=true: the test
// binaries are compiled and linked, never run), which is timed apart. Then it
// runs the tests, one package at a time (-p=1), so that no compilation or
// other package's test competes with a test binary: its run time is the sum
// of the packages' elapsed times that go test -json reports, which count from
// the binary's start to its exit and leave out building and linking. The race
// runtime's sleep of 1 s at every test binary's exit (GORACE atexit_sleep_ms)
// is set to 0 in both copies: it is no test's work, and it would hide the
// instrumentation's cost in small packages.
func vetAndTest(t *testing.T, m module, base, inst string, r *row) {
	env := childEnv()
	vetArgs := append(append([]string{"vet"}, m.vetFlags...), "./...")
	vetBase := run(t.Context(), base, env, "go", vetArgs...)
	vetInst := run(t.Context(), inst, env, "go", vetArgs...)
	r.vetBase, r.vetInst = verdict(vetBase), verdict(vetInst)
	r.vetBaseT, r.vetInstT = vetBase.dur, vetInst.dur
	if vetInst.ok() != vetBase.ok() {
		t.Errorf("go vet: instrumented %s, plain %s\ninstrumented:\n%s\nplain:\n%s",
			r.vetInst, r.vetBase, clip(vetInst.out, 40), clip(vetBase.out, 40))
	}

	timeout := m.timeout
	if timeout == "" {
		timeout = defaultTimeout
	}
	args := append([]string{"test", "-race", "-count=1"}, m.testFlags...)
	if m.skip != "" {
		args = append(args, "-skip", m.skip)
	}
	buildArgs := append(slices.Clone(args), "-exec=true", "./...")
	args = append(args, "-json", "-p=1", "-timeout="+timeout, "./...")
	testEnv := childEnv(raceEnv())
	instEnv := testEnv
	if m.storage != "" {
		instEnv = childEnv(raceEnv(), "FLUXLOOP_STORAGE="+m.storage)
	}
	// Built, not run: a build failure shows up in the run that follows.
	r.buildBaseT = run(t.Context(), base, testEnv, "go", buildArgs...).dur
	r.buildInstT = run(t.Context(), inst, instEnv, "go", buildArgs...).dur
	testBase := run(t.Context(), base, testEnv, "go", args...)
	testInst := run(t.Context(), inst, instEnv, "go", args...)
	r.wallBaseT, r.wallInstT = testBase.dur, testInst.dur
	r.testBase, r.testInst = parseTestJSON(testBase.out), parseTestJSON(testInst.out)
	compareTests(t, m.path, r.testBase, r.testInst)
	r.observations, r.observationBytes = countObservations(inst)
	t.Logf("test run time: instrumented %s, plain %s (%s); the tests that took the most more (instrumented / plain): %s",
		secs(r.testInst.elapsed), secs(r.testBase.elapsed), ratio(r.testInst.elapsed, r.testBase.elapsed),
		strings.Join(slowest(r.testInst, r.testBase, 3), ", "))
}

// raceEnv is the GORACE of the test runs: the caller's, with the exit sleep
// turned off (see vetAndTest).
func raceEnv() string {
	opts := strings.TrimSpace(os.Getenv("GORACE"))
	if !strings.Contains(opts, "atexit_sleep_ms") {
		opts = strings.TrimSpace(opts + " atexit_sleep_ms=0")
	}
	return "GORACE=" + opts
}

// verdict is "ok" or "FAIL" for the table.
func verdict(r result) string {
	if r.ok() {
		return "ok"
	}
	return "FAIL"
}

// compareTests reports every package whose status differs between the plain
// and the instrumented run, with the instrumented package's output.
func compareTests(t *testing.T, modPath string, base, inst *testReport) {
	if len(base.pkgs) == 0 {
		t.Fatalf("go test reported no packages:\n%s", base.unknown.String())
	}
	for pkg, want := range base.pkgs {
		got, ok := inst.pkgs[pkg]
		if !ok {
			got = "missing"
		}
		if got == want {
			continue
		}
		var failed []string
		for _, f := range inst.failed {
			if strings.HasPrefix(f, pkg+" ") {
				failed = append(failed, strings.TrimPrefix(f, pkg+" "))
			}
		}
		t.Errorf("go test %s: instrumented %s, plain %s; failing tests: %v\n%s%s",
			pkg, got, want, failed, failureExcerpt(inst.out(pkg).String(), modPath), inst.unknown.String())
	}
	for pkg := range inst.pkgs {
		if _, ok := base.pkgs[pkg]; !ok {
			t.Errorf("go test %s: only in the instrumented run", pkg)
		}
	}
}

// failureExcerpt is what the report of a failing package shows of its
// output: the first 40 lines; or, when the test binary panicked on its
// timeout, the last lines before the goroutine dump (the test's output and
// the tests running) and the goroutines that were in the module's code or in
// fluxloop-go's runtime, without the runtime's own writer (the goroutine
// newClient starts): where the time went.
func failureExcerpt(out, modPath string) string {
	head, dump, ok := strings.Cut(out, "\ngoroutine ")
	if !ok || !strings.Contains(head, "panic: test timed out") {
		return clip([]byte(out), 40)
	}
	lines := strings.SplitAfter(head, "\n")
	head = strings.Join(lines[max(0, len(lines)-20):], "")
	// In stack traces the dots of an import path's last element are %2e.
	dir, last := path.Split(modPath)
	escaped := dir + strings.ReplaceAll(last, ".", "%2e")
	var b strings.Builder
	b.WriteString(head + "\n")
	shown := 0
	for _, g := range strings.Split("goroutine "+dump, "\n\ngoroutine ") {
		if shown == 3 {
			break
		}
		if !strings.Contains(g, escaped+".") && !strings.Contains(g, modPath+".") &&
			!(strings.Contains(g, "fluxloop-go/runtime.") && !strings.Contains(g, "runtime.newClient")) {
			continue
		}
		if !strings.HasPrefix(g, "goroutine ") {
			g = "goroutine " + g
		}
		b.WriteString(clip([]byte(strings.TrimSpace(g)+"\n"), 30))
		shown++
	}
	return b.String()
}

// countObservations counts the observations the instrumented tests wrote to
// the default JSONL storage (every ./.fluxloop/observations.jsonl), and their
// bytes.
func countObservations(dir string) (n int, size int64) {
	buf := make([]byte, 1<<20)
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.Name() != "observations.jsonl" {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return nil
		}
		defer f.Close()
		for {
			k, err := f.Read(buf)
			n += bytes.Count(buf[:k], []byte("\n"))
			size += int64(k)
			if err != nil {
				return nil
			}
		}
	})
	return n, size
}

// checkRoundTrip checks that a second run of the generator changes nothing,
// that -remove restores the annotated source and that annotate -remove then
// restores the module's own source, byte for byte. The exception is a file
// whose lines gofmt moves (annotate can leave one: a directive inserted
// between aligned one-line methods): the generator writes gofmt'd code, so
// such a file comes back as gofmt lays it out: the same text, blanks aside.
func checkRoundTrip(t *testing.T, tool, dir string, annotated, orig map[string][]byte) {
	env := childEnv()
	if res := run(t.Context(), dir, env, tool, "-check", "./..."); !res.ok() {
		t.Errorf("fluxloopgen -check after fluxloopgen (1: a second run would change files): %v\n%s", res.err, clip(res.out, 20))
	}
	mustRun(t, dir, env, tool, "-remove", "./...")
	got := goSources(t, dir)
	for _, name := range changedFiles(annotated, got) {
		if formatted, err := format.Source(annotated[name]); err == nil && bytes.Equal(formatted, got[name]) {
			t.Logf("-remove gave back %s as gofmt lays it out (annotate had left lines gofmt moves)", name)
			got[name] = annotated[name]
		}
	}
	sameSources(t, "fluxloopgen -remove", annotated, got)
	mustRun(t, dir, env, tool, "annotate", "-remove", "./...")
	got = goSources(t, dir)
	for _, name := range changedFiles(orig, got) {
		// Only layout may differ: the same text once blanks are removed.
		squeeze := func(b []byte) []byte { return bytes.Join(bytes.Fields(b), nil) }
		if bytes.Equal(squeeze(orig[name]), squeeze(got[name])) {
			t.Logf("annotate -remove gave back %s with gofmt's layout (see -remove above)", name)
			got[name] = orig[name]
		}
	}
	sameSources(t, "fluxloopgen annotate -remove", orig, got)
}

// gofmtTree formats every Go file under dir in place.
func gofmtTree(t *testing.T, dir string) {
	t.Helper()
	for name, src := range goSources(t, dir) {
		formatted, err := format.Source(src)
		if err != nil || bytes.Equal(formatted, src) {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, name), formatted, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// sameSources reports the files that differ from want, with the first diff.
func sameSources(t *testing.T, step string, want, got map[string][]byte) {
	t.Helper()
	changed := changedFiles(want, got)
	if len(changed) == 0 {
		return
	}
	first := changed[0]
	t.Errorf("%s did not restore %d files: %v; %s:\n%s", step, len(changed), changed, first,
		clip(diff.Unified(first+".want", first, want[first], got[first]), 40))
}

// table formats the rows as a markdown table: the results, with the test
// run times (see vetAndTest) and their ratio.
func table(rows []*row) string {
	var b strings.Builder
	b.WriteString("| module | functions marked / rewritten | vet (instrumented / plain) | tests passed (instrumented / plain) | plain time | instrumented time | ratio |\n")
	b.WriteString("| --- | ---: | --- | --- | ---: | ---: | ---: |\n")
	for _, r := range rows {
		if r.testInst == nil || r.testBase == nil {
			fmt.Fprintf(&b, "| %s | %d / %d | %s / %s | not run | | | |\n", r.module, r.marked, r.rewritten, r.vetInst, r.vetBase)
			continue
		}
		fmt.Fprintf(&b, "| %s | %d / %d | %s / %s | %s / %s | %s | %s | %s |\n",
			r.module, r.marked, r.rewritten, r.vetInst, r.vetBase, r.testInst.summary(), r.testBase.summary(),
			secs(r.testBase.elapsed), secs(r.testInst.elapsed), ratio(r.testInst.elapsed, r.testBase.elapsed))
	}
	return b.String()
}

// timesTable formats what the rows took besides the test runs, and the
// observations the instrumented tests recorded.
func timesTable(rows []*row) string {
	var b strings.Builder
	b.WriteString("| module | annotate + generate | vet (instr. / plain) | test build (instr. / plain) | go test wall, linking included (instr. / plain) | observations recorded (MB) |\n")
	b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: |\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s + %s | %s / %s | %s / %s | %s / %s | %d (%.1f) |\n",
			r.module, secs(r.annotateT), secs(r.generateT), secs(r.vetInstT), secs(r.vetBaseT),
			secs(r.buildInstT), secs(r.buildBaseT), secs(r.wallInstT), secs(r.wallBaseT),
			r.observations, float64(r.observationBytes)/1e6)
	}
	return b.String()
}

// ratio formats a/b as "2.15x", or "-" when b is zero.
func ratio(a, b time.Duration) string {
	if b <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", float64(a)/float64(b))
}
