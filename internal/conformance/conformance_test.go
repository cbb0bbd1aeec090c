package conformance

import (
	"bytes"
	"fmt"
	"go/format"
	"os"
	"path/filepath"
	"regexp"
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
	// storage is FLUXLOOP_STORAGE for the instrumented tests; "" keeps the
	// default, JSONL files in ./.fluxloop of each package directory (inside
	// the temporary copy).
	storage string
}

// modules are the modules instrumented, at pinned versions.
var modules = []module{
	// TestVersion6 is skipped in both copies: TestClockSeqRace (seq_test.go)
	// leaves goroutines calling NewUUID after it returns, and a late call
	// bumps the shared clock sequence between TestVersion6's two NewV6
	// calls ("clock sequence changed unexpectedly"). Any slowdown makes
	// that likelier; instrumented, it failed 4 runs in 6.
	{path: "github.com/google/uuid", version: "v1.6.0", skip: "^TestVersion6$"},
	{path: "golang.org/x/sync", version: "v0.25.0"},
	samberLo,
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

// row is one line of the results table.
type row struct {
	module             string
	marked, rewritten  int
	vetInst, vetBase   string // "ok" or "FAIL"
	testInst, testBase string // testReport.summary
	observations       int
	// wall times
	annotateT, generateT time.Duration
	vetInstT, vetBaseT   time.Duration
	testInstT, testBaseT time.Duration
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
		rows = append(rows, r)
		t.Run(m.path, func(t *testing.T) { checkModule(t, tool, m, r) })
	}
	t.Log("\n" + table(rows))
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
func vetAndTest(t *testing.T, m module, base, inst string, r *row) {
	env := childEnv()
	vetBase := run(t.Context(), base, env, "go", "vet", "./...")
	vetInst := run(t.Context(), inst, env, "go", "vet", "./...")
	r.vetBase, r.vetInst = verdict(vetBase), verdict(vetInst)
	r.vetBaseT, r.vetInstT = vetBase.dur, vetInst.dur
	if vetInst.ok() != vetBase.ok() {
		t.Errorf("go vet: instrumented %s, plain %s\ninstrumented:\n%s\nplain:\n%s",
			r.vetInst, r.vetBase, clip(vetInst.out, 40), clip(vetBase.out, 40))
	}

	args := []string{"test", "-race", "-count=1", "-json", "-timeout=4m"}
	if m.skip != "" {
		args = append(args, "-skip", m.skip)
	}
	args = append(args, "./...")
	testBase := run(t.Context(), base, env, "go", args...)
	instEnv := env
	if m.storage != "" {
		instEnv = childEnv("FLUXLOOP_STORAGE=" + m.storage)
	}
	testInst := run(t.Context(), inst, instEnv, "go", args...)
	r.testBaseT, r.testInstT = testBase.dur, testInst.dur
	repBase, repInst := parseTestJSON(testBase.out), parseTestJSON(testInst.out)
	r.testBase, r.testInst = repBase.summary(), repInst.summary()
	compareTests(t, repBase, repInst)
	r.observations = countObservations(inst)
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
func compareTests(t *testing.T, base, inst *testReport) {
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
			pkg, got, want, failed, clip([]byte(inst.out(pkg).String()), 40), inst.unknown.String())
	}
	for pkg := range inst.pkgs {
		if _, ok := base.pkgs[pkg]; !ok {
			t.Errorf("go test %s: only in the instrumented run", pkg)
		}
	}
}

// countObservations counts the observations the instrumented tests wrote to
// the default JSONL storage (every ./.fluxloop/observations.jsonl).
func countObservations(dir string) int {
	n := 0
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && d.Name() == "observations.jsonl" {
			data, _ := os.ReadFile(path)
			n += strings.Count(string(data), "\n")
		}
		return nil
	})
	return n
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

// table formats the rows as a markdown table.
func table(rows []*row) string {
	var b strings.Builder
	b.WriteString("| module | functions marked | functions rewritten | vet (instrumented / plain) | tests (instrumented / plain) | observations recorded | annotate + generate | vet time (instr. / plain) | test time (instr. / plain) |\n")
	b.WriteString("| --- | ---: | ---: | --- | --- | ---: | ---: | ---: | ---: |\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %d | %d | %s / %s | %s / %s | %d | %s + %s | %s / %s | %s / %s |\n",
			r.module, r.marked, r.rewritten, r.vetInst, r.vetBase, r.testInst, r.testBase, r.observations,
			secs(r.annotateT), secs(r.generateT), secs(r.vetInstT), secs(r.vetBaseT), secs(r.testInstT), secs(r.testBaseT))
	}
	return b.String()
}
