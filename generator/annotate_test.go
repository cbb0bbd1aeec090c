package generator

import (
	"bytes"
	"context"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"
)

const traceDirective = directivePrefix + "trace"

// annotateSrc runs annotateFile on src and fails the test on an error.
func annotateSrc(t *testing.T, src, directive string, opts AnnotateOptions) (string, int) {
	t.Helper()
	out, n, err := annotateFile("x.go", []byte(src), directive, &opts)
	if err != nil {
		t.Fatalf("annotateFile: %v", err)
	}
	if out == nil {
		return src, n
	}
	return string(out), n
}

// checkAnnotate checks that annotating src gives want (marking n functions),
// that a second annotation changes nothing, and that removing the
// directives again gives back src byte for byte.
func checkAnnotate(t *testing.T, src, want string, n int, directive string, opts AnnotateOptions) {
	t.Helper()
	got, gotN := annotateSrc(t, src, directive, opts)
	if got != want || gotN != n {
		t.Fatalf("annotate marked %d functions (want %d):\n%s\nwant:\n%s", gotN, n, got, want)
	}
	if again, n2 := annotateSrc(t, got, directive, opts); again != got || n2 != 0 {
		t.Errorf("second annotate marked %d functions:\n%s", n2, again)
	}
	ropts := opts
	ropts.Remove = true
	if back, rn := annotateSrc(t, got, "", ropts); back != src || rn != n {
		t.Errorf("annotate -remove changed %d functions (want %d), did not restore the source:\n%q\nwant:\n%q", rn, n, back, src)
	}
}

func TestAnnotateLockUnlock(t *testing.T) {
	src := `package p

type T struct{}

// Lock is a no-op.
func (*T) Lock()   {}
func (*T) Unlock() {}
`
	// The output is gofmt'd: Lock's body is no longer aligned with
	// Unlock's, and gofmt puts an empty line above Unlock's new doc
	// comment, whose "//" line tells annotate -remove to take it out again.
	want := `package p

type T struct{}

// Lock is a no-op.
//
//fluxloop:trace
func (*T) Lock() {}

//
//fluxloop:trace
func (*T) Unlock() {}
`
	checkAnnotate(t, src, want, 2, traceDirective, AnnotateOptions{})
}

// TestAnnotateNotGofmt checks that a file gofmt would change stays as it is
// but for the inserted lines.
func TestAnnotateNotGofmt(t *testing.T) {
	src := "package p\n\n" +
		"import   \"fmt\"\n\n" +
		"// Print prints, as in:\n" +
		"//   Print(1)\n" +
		"//   Print(2)\n" +
		"func Print( x int ) {   fmt.Println(x) }\n\n" +
		"    // Indented is indented.\n" +
		"    func Indented() {\n" +
		"x:=1\n" +
		"_=x\n" +
		"}\n" +
		"\tfunc Tab() {}\n" +
		"var  v = 1 // trailing\n" +
		"func After() {}\n" +
		"func Last() {}"
	want := "package p\n\n" +
		"import   \"fmt\"\n\n" +
		"// Print prints, as in:\n" +
		"//   Print(1)\n" +
		"//   Print(2)\n" +
		"//\n" +
		"//fluxloop:trace\n" +
		"func Print( x int ) {   fmt.Println(x) }\n\n" +
		"    // Indented is indented.\n" +
		"    //\n" +
		"    //fluxloop:trace\n" +
		"    func Indented() {\n" +
		"x:=1\n" +
		"_=x\n" +
		"}\n" +
		"\t//fluxloop:trace\n" +
		"\tfunc Tab() {}\n" +
		"var  v = 1 // trailing\n" +
		"//fluxloop:trace\n" +
		"func After() {}\n" +
		"//fluxloop:trace\n" +
		"func Last() {}"
	checkAnnotate(t, src, want, 5, traceDirective, AnnotateOptions{})
}

func TestAnnotateCRLF(t *testing.T) {
	lf := `package p

// A does.
func A() {}

//go:noinline
func B() {}

func C() {}
`
	wantLF := `package p

// A does.
//
//fluxloop:trace
func A() {}

//go:noinline
//fluxloop:trace
func B() {}

//fluxloop:trace
func C() {}
`
	crlf := func(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }
	checkAnnotate(t, crlf(lf), crlf(wantLF), 3, traceDirective, AnnotateOptions{})
}

func TestAnnotateDocComments(t *testing.T) {
	src := `package p

// Directive ends in a directive.
//
//go:noinline
func Directive() {}

// Two directives.
//
//go:noinline
//go:norace
func Two() {}

//go:noinline
func OnlyDirective() {}

// Empty ends in an empty line.
//
func Empty() {}

// TODO: is text, not a directive.
func Todo() {}

// Export is cgo's.
//export Export
func Export() {}

func NoDoc() {}

/* Block is documented in a block. */
func Block() {}

/*
Multi is documented in a block
of several lines.
*/
func Multi() {}

// Mixed ends in a block.
/* block */
func Mixed() {}

// Text follows a block.
/* block */ // text
func TextAfterBlock() {}

// Detached is not the doc comment.

func Detached() {}

func Inline() {}; func Second() {}

type T struct{}

// M is a method.
func (t T) M() {}

func (t *T) P() {}

// G is generic.
func G[X any](x X) X { return x }

// Bodyless has no body.
func Bodyless()

func init() {}

func _() {}

// Split is nosplit.
//
//go:nosplit
func Split() {}

// Marked is marked.
//
//fluxloop:agent
func Marked() {}
`
	want := `package p

// Directive ends in a directive.
//
//go:noinline
//fluxloop:trace
func Directive() {}

// Two directives.
//
//go:noinline
//go:norace
//fluxloop:trace
func Two() {}

//go:noinline
//fluxloop:trace
func OnlyDirective() {}

// Empty ends in an empty line.
//
//
//fluxloop:trace
func Empty() {}

// TODO: is text, not a directive.
//
//fluxloop:trace
func Todo() {}

// Export is cgo's.
//export Export
//fluxloop:trace
func Export() {}

//fluxloop:trace
func NoDoc() {}

/* Block is documented in a block. */
//fluxloop:trace
func Block() {}

/*
Multi is documented in a block
of several lines.
*/
//fluxloop:trace
func Multi() {}

// Mixed ends in a block.
/* block */
//fluxloop:trace
func Mixed() {}

// Text follows a block.
/* block */ // text
//
//fluxloop:trace
func TextAfterBlock() {}

// Detached is not the doc comment.

//fluxloop:trace
func Detached() {}

//fluxloop:trace
func Inline() {}; func Second() {}

type T struct{}

// M is a method.
//
//fluxloop:trace
func (t T) M() {}

//fluxloop:trace
func (t *T) P() {}

// G is generic.
//
//fluxloop:trace
func G[X any](x X) X { return x }

// Bodyless has no body.
func Bodyless()

func init() {}

func _() {}

// Split is nosplit.
//
//go:nosplit
func Split() {}

// Marked is marked.
//
//fluxloop:agent
func Marked() {}
`
	// Marked keeps its directive: remove it first, to compare with src.
	noMarked := strings.Replace(src, "// Marked is marked.\n//\n//fluxloop:agent\n", "// Marked is marked.\n", 1)
	if got, n := annotateSrc(t, src, "", AnnotateOptions{Remove: true}); got != noMarked || n != 1 {
		t.Fatalf("annotate -remove changed %d functions:\n%s", n, got)
	}
	wantNoMarked := strings.Replace(want, "// Marked is marked.\n//\n//fluxloop:agent\n", "// Marked is marked.\n//\n//fluxloop:trace\n", 1)
	checkAnnotate(t, noMarked, wantNoMarked, 17, traceDirective, AnnotateOptions{})
	got, n := annotateSrc(t, src, traceDirective, AnnotateOptions{})
	if got != want || n != 16 {
		t.Fatalf("annotate marked %d functions:\n%s", n, got)
	}
	if _, err := parser.ParseFile(token.NewFileSet(), "x.go", got, parser.ParseComments); err != nil {
		t.Fatal(err)
	}
}

// TestAnnotateRemove checks what -remove deletes in hand-written comments.
func TestAnnotateRemove(t *testing.T) {
	src := `package p

// A has a separator.
//
//fluxloop:trace
func A() {}

// B has none.
//fluxloop:trace
func B() {}

// C has two directives.
//
//fluxloop:trace
//fluxloop:agent
func C() {}

// D has one in the middle.
//
//fluxloop:trace
//go:noinline
func D() {}

//go:noinline
//
//fluxloop:trace
func E() {}

// F is indented.
	//
	//fluxloop:trace name=f
func F() {}

// Bodyless is removed from too.
//
//fluxloop:trace
func Bodyless()

//fluxloop:trace
func init() {}

var x = 1 // not //fluxloop:trace

// Not is not a directive.
// //fluxloop:trace
func Not() {}
`
	want := `package p

// A has a separator.
func A() {}

// B has none.
func B() {}

// C has two directives.
func C() {}

// D has one in the middle.
//
//go:noinline
func D() {}

//go:noinline
//
func E() {}

// F is indented.
func F() {}

// Bodyless is removed from too.
func Bodyless()

func init() {}

var x = 1 // not //fluxloop:trace

// Not is not a directive.
// //fluxloop:trace
func Not() {}
`
	got, n := annotateSrc(t, src, "", AnnotateOptions{Remove: true})
	if got != want || n != 8 {
		t.Fatalf("annotate -remove changed %d functions:\n%s\nwant:\n%s", n, got, want)
	}
	got, n = annotateSrc(t, src, "", AnnotateOptions{Remove: true, Match: regexp.MustCompile(`^[AB]$`)})
	wantAB := strings.Replace(src, "// A has a separator.\n//\n//fluxloop:trace\n", "// A has a separator.\n", 1)
	wantAB = strings.Replace(wantAB, "// B has none.\n//fluxloop:trace\n", "// B has none.\n", 1)
	if got != wantAB || n != 2 {
		t.Fatalf("annotate -remove -match changed %d functions:\n%s", n, got)
	}
	if got, n := annotateSrc(t, src, "", AnnotateOptions{Remove: true, Exported: true}); n != 7 || !strings.Contains(got, "//fluxloop:trace\nfunc init") {
		t.Fatalf("annotate -remove -exported changed %d functions:\n%s", n, got)
	}
}

func TestAnnotateOptions(t *testing.T) {
	src := `package p

type T struct{}

// Get gets.
func (t *T) Get() {}

func (t T) put() {}

// Run runs.
func Run() {}

func helper() {}
`
	t.Run("exported", func(t *testing.T) {
		want := strings.NewReplacer(
			"// Get gets.\n", "// Get gets.\n//\n//fluxloop:trace\n",
			"// Run runs.\n", "// Run runs.\n//\n//fluxloop:trace\n",
		).Replace(src)
		checkAnnotate(t, src, want, 2, traceDirective, AnnotateOptions{Exported: true})
	})
	t.Run("match", func(t *testing.T) {
		want := strings.NewReplacer(
			"// Get gets.\n", "// Get gets.\n//\n//fluxloop:trace\n",
			"func (t T) put", "//fluxloop:trace\nfunc (t T) put",
		).Replace(src)
		checkAnnotate(t, src, want, 2, traceDirective, AnnotateOptions{Match: regexp.MustCompile(`^T\.`)})
	})
	t.Run("agent", func(t *testing.T) {
		want := strings.NewReplacer(
			"// Run runs.\n", "// Run runs.\n//\n//fluxloop:agent type=chain\n",
		).Replace(src)
		checkAnnotate(t, src, want, 1, directivePrefix+"agent type=chain", AnnotateOptions{Match: regexp.MustCompile(`^Run$`)})
	})
}

func TestAnnotateGenerated(t *testing.T) {
	src := "// Code generated by x. DO NOT EDIT.\n\npackage p\n\nfunc F() {}\n"
	if got, n := annotateSrc(t, src, traceDirective, AnnotateOptions{}); got != src || n != 0 {
		t.Fatalf("annotate changed a generated file:\n%s", got)
	}
}

// TestAnnotateRoundTrip checks, on the input files of every golden case and
// on other Go files, gofmt'd or not, with LF and CRLF line endings, that
// annotate only inserts directive and "//" lines, that it is idempotent and
// that annotate -remove gives back the exact bytes. The files are first
// stripped of the directives they have, since -remove deletes those too.
func TestAnnotateRoundTrip(t *testing.T) {
	files := map[string][]byte{}
	golden, err := filepath.Glob(filepath.Join(annotateRepoRoot(), "generator", "testdata", "golden", "*.txtar"))
	if err != nil || len(golden) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, g := range golden {
		a, err := txtar.ParseFile(g)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range a.Files {
			if name, ok := strings.CutPrefix(f.Name, "input/"); ok && strings.HasSuffix(name, ".go") {
				files[filepath.Base(g)+":"+name] = f.Data
			}
		}
	}
	nGolden := len(files)
	// go/printer's test inputs are not gofmt'd.
	more, _ := filepath.Glob(filepath.Join(runtime.GOROOT(), "src", "go", "printer", "testdata", "*.input"))
	mine, _ := filepath.Glob(filepath.Join(annotateRepoRoot(), "generator", "*.go"))
	for _, f := range append(more, mine...) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		files[f] = data
	}
	checked, marked := 0, 0
	for name, data := range files {
		for _, eol := range []string{"\n", "\r\n"} {
			src := data
			if eol == "\r\n" {
				src = bytes.ReplaceAll(bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r\n"))
			}
			n, ok := roundTrip(t, name, src)
			if ok {
				checked++
				marked += n
			}
		}
	}
	if checked < 2*nGolden || marked == 0 {
		t.Fatalf("checked %d files, marked %d functions; the golden inputs alone have %d", checked, marked, nGolden)
	}
	t.Logf("checked %d files, %d functions", checked, marked)
}

// roundTrip checks one file; it reports false for a file that does not
// parse or is generated.
func roundTrip(t *testing.T, name string, data []byte) (int, bool) {
	run := func(src []byte, opts AnnotateOptions) ([]byte, int) {
		t.Helper()
		directive := traceDirective
		if opts.Remove {
			directive = ""
		}
		out, n, err := annotateFile(name, src, directive, &opts)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if out == nil {
			return src, n
		}
		return out, n
	}
	if _, err := parser.ParseFile(token.NewFileSet(), name, data, parser.ParseComments); err != nil {
		return 0, false
	}
	base, _ := run(data, AnnotateOptions{Remove: true})
	if again, n := run(base, AnnotateOptions{Remove: true}); !bytes.Equal(again, base) || n != 0 {
		t.Errorf("%s: a second annotate -remove changed %d functions", name, n)
	}
	ann, n := run(base, AnnotateOptions{})
	if again, n2 := run(ann, AnnotateOptions{}); !bytes.Equal(again, ann) || n2 != 0 {
		t.Errorf("%s: a second annotate marked %d more functions", name, n2)
	}
	back, rn := run(ann, AnnotateOptions{Remove: true})
	if !bytes.Equal(back, base) || rn != n {
		t.Errorf("%s: annotate -remove (%d functions) after annotate (%d) did not restore the file:\n%q\nwant:\n%q", name, rn, n, back, base)
	}
	checkInsertedOnly(t, name, base, ann)
	checkMarked(t, name, base, ann)
	// With a filter, only some functions: the round trip holds too.
	opts := AnnotateOptions{Exported: true, Match: regexp.MustCompile(`[A-Z]`)}
	part, _ := run(base, opts)
	opts.Remove = true
	if back, _ := run(part, opts); !bytes.Equal(back, base) {
		t.Errorf("%s: annotate -remove -exported -match did not undo annotate -exported -match", name)
	}
	return n, true
}

// checkInsertedOnly checks that ann is base with lines inserted, each "//"
// or the directive; for a gofmt'd base, ann is gofmt'd, and may also differ
// in the spacing within lines (gofmt realigns) and in empty lines inserted.
func checkInsertedOnly(t *testing.T, name string, base, ann []byte) {
	t.Helper()
	gofmtd := false
	if formatted, err := format.Source(base); err == nil && bytes.Equal(formatted, base) {
		gofmtd = true
		if formatted, err := format.Source(ann); err != nil || !bytes.Equal(formatted, ann) {
			t.Errorf("%s: annotate's output is not gofmt'd", name)
		}
	}
	same := func(a, b []byte) bool {
		if gofmtd {
			return bytes.Equal(bytes.Join(bytes.Fields(a), nil), bytes.Join(bytes.Fields(b), nil))
		}
		return bytes.Equal(a, b)
	}
	bl, al := bytes.SplitAfter(base, []byte("\n")), bytes.SplitAfter(ann, []byte("\n"))
	i := 0
	for _, l := range al {
		if i < len(bl) && same(l, bl[i]) {
			i++
			continue
		}
		if s := strings.TrimSpace(string(l)); s != "//" && s != traceDirective && !(gofmtd && s == "") {
			t.Errorf("%s: annotate changed the line %q", name, l)
			return
		}
	}
	if i != len(bl) {
		t.Errorf("%s: annotate dropped line %q", name, bl[i])
	}
}

// checkMarked checks that ann parses and that every function selected in
// base but no other has the directive in its doc comment.
func checkMarked(t *testing.T, name string, base, ann []byte) {
	t.Helper()
	parse := func(src []byte) *ast.File {
		f, err := parser.ParseFile(token.NewFileSet(), name, src, parser.ParseComments)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return f
	}
	bf, af := parse(base), parse(ann)
	if ast.IsGenerated(bf) {
		return
	}
	var bfuncs, afuncs []*ast.FuncDecl
	for _, d := range bf.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok {
			bfuncs = append(bfuncs, fd)
		}
	}
	for _, d := range af.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok {
			afuncs = append(afuncs, fd)
		}
	}
	if len(bfuncs) != len(afuncs) {
		t.Fatalf("%s: %d functions after annotate, %d before", name, len(afuncs), len(bfuncs))
	}
	for i, fd := range bfuncs {
		has := false
		if doc := afuncs[i].Doc; doc != nil {
			for _, c := range doc.List {
				has = has || c.Text == traceDirective
			}
		}
		if want := selected(fd, &AnnotateOptions{}); has != want {
			t.Errorf("%s: %s marked %v, want %v", name, defaultName(fd), has, want)
		}
	}
}

func annotateRepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

// TestAnnotateModule runs Annotate on a temporary module of files that are
// not gofmt'd, writes the changes and undoes them.
func TestAnnotateModule(t *testing.T) {
	if testing.Short() {
		t.Skip("loads packages with the go command")
	}
	dir := t.TempDir()
	files := map[string]string{
		"go.mod": "module example.com/m\n\ngo 1.26\n",
		"lib.go": "package lib\n\n" +
			"// Add adds;\n" +
			"// for example:\n" +
			"//     Add(1, 2)\n" +
			"func Add(a,b int) int {return a+b}\n\n" +
			"func   helper()   {}\n\n" +
			"type T struct{}\n\n" +
			"// Lock is a no-op.\n" +
			"func (*T) Lock()   {}\n" +
			"func (*T) Unlock() {}\n",
		"crlf.go":     "package lib\r\n\r\n// CRLF has CRLF line endings.\r\nfunc CRLF() {}\r\n",
		"gen.go":      "// Code generated by hand. DO NOT EDIT.\n\npackage lib\n\nfunc Gen() {}\n",
		"lib_test.go": "package lib\n\nimport \"testing\"\n\nfunc TestAdd(t *testing.T) {}\n",
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	read := func() map[string]string {
		got := map[string]string{}
		for name := range files {
			data, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			got[name] = string(data)
		}
		return got
	}
	annotate := func(opts AnnotateOptions) *Result {
		t.Helper()
		opts.Dir = dir
		opts.Patterns = []string{"./..."}
		res, err := Annotate(context.Background(), opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := Write(res.Changes); err != nil {
			t.Fatal(err)
		}
		return res
	}

	res := annotate(AnnotateOptions{Exported: true})
	if res.Functions != 4 || len(res.Changes) != 2 {
		t.Fatalf("annotate -exported: %d functions, %d files changed", res.Functions, len(res.Changes))
	}
	got := read()
	wantLib := "package lib\n\n" +
		"// Add adds;\n" +
		"// for example:\n" +
		"//     Add(1, 2)\n" +
		"//\n" +
		"//fluxloop:trace\n" +
		"func Add(a,b int) int {return a+b}\n\n" +
		"func   helper()   {}\n\n" +
		"type T struct{}\n\n" +
		"// Lock is a no-op.\n" +
		"//\n" +
		"//fluxloop:trace\n" +
		"func (*T) Lock()   {}\n" +
		"//fluxloop:trace\n" +
		"func (*T) Unlock() {}\n"
	if got["lib.go"] != wantLib {
		t.Errorf("lib.go:\n%s\nwant:\n%s", got["lib.go"], wantLib)
	}
	if want := "package lib\r\n\r\n// CRLF has CRLF line endings.\r\n//\r\n//fluxloop:trace\r\nfunc CRLF() {}\r\n"; got["crlf.go"] != want {
		t.Errorf("crlf.go: %q, want %q", got["crlf.go"], want)
	}
	if got["gen.go"] != files["gen.go"] || got["lib_test.go"] != files["lib_test.go"] {
		t.Errorf("annotate changed gen.go or lib_test.go")
	}

	if res := annotate(AnnotateOptions{Exported: true}); len(res.Changes) != 0 {
		t.Errorf("a second annotate changed %d files", len(res.Changes))
	}
	res = annotate(AnnotateOptions{Tests: true, As: KindAgent, Type: "chain"})
	if res.Functions != 2 {
		t.Errorf("annotate -tests -as agent: %d functions, want helper and TestAdd", res.Functions)
	}
	if got := read()["lib_test.go"]; !strings.Contains(got, "\n//fluxloop:agent type=chain\nfunc TestAdd") {
		t.Errorf("lib_test.go:\n%s", got)
	}

	annotate(AnnotateOptions{Remove: true, Tests: true})
	for name, data := range read() {
		if data != files[name] {
			t.Errorf("annotate -remove did not restore %s:\n%q\nwant:\n%q", name, data, files[name])
		}
	}
}
