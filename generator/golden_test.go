package generator_test

import (
	"bytes"
	"context"
	"flag"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/fluxloop/fluxloop-go/generator"
	"github.com/fluxloop/fluxloop-go/internal/diff"
	"github.com/fluxloop/fluxloop-go/internal/testmod"
	"golang.org/x/tools/txtar"
)

var update = flag.Bool("update", false, "rewrite the want files of the golden cases")

// testdataDir is the generator's testdata directory: the golden, run and
// compat cases.
func testdataDir(t testing.TB) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "testdata")
}

// newModule makes a temporary module that requires the local fluxloop-go.
func newModule(t testing.TB) string { return testmod.New(t, "golden") }

func writeFile(t testing.TB, path string, data []byte) { testmod.WriteFile(t, path, data) }

// goldenCase is one testdata/golden/*.txtar archive: input/ files, and
// either want/ files or a stderr file with the expected errors.
type goldenCase struct {
	name    string
	path    string
	archive *txtar.Archive
	input   map[string][]byte
	want    map[string][]byte
	stderr  string
	hasErr  bool
	// warnings, when the archive has a warnings file, are the expected
	// notes about skipped files, one a line.
	warnings    string
	hasWarnings bool
}

func readCases(t *testing.T) []*goldenCase {
	files, err := filepath.Glob(filepath.Join(testdataDir(t), "golden", "*.txtar"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	var cases []*goldenCase
	for _, f := range files {
		a, err := txtar.ParseFile(f)
		if err != nil {
			t.Fatal(err)
		}
		c := &goldenCase{
			name:    strings.TrimSuffix(filepath.Base(f), ".txtar"),
			path:    f,
			archive: a,
			input:   map[string][]byte{},
			want:    map[string][]byte{},
		}
		for _, af := range a.Files {
			switch {
			case strings.HasPrefix(af.Name, "input/"):
				c.input[strings.TrimPrefix(af.Name, "input/")] = af.Data
			case strings.HasPrefix(af.Name, "want/"):
				c.want[strings.TrimPrefix(af.Name, "want/")] = af.Data
			case af.Name == "stderr":
				c.stderr, c.hasErr = string(af.Data), true
			case af.Name == "warnings":
				c.warnings, c.hasWarnings = string(af.Data), true
			default:
				t.Fatalf("%s: unexpected file %s in archive", f, af.Name)
			}
		}
		cases = append(cases, c)
	}
	return cases
}

// TestGolden runs every golden case: the generated files must match want/
// (or the run must fail with exactly stderr and write nothing) and carry no
// //line directive, since a file instrumented in place is the user's source;
// the output fed back in must not change (idempotence); -remove must restore
// the input byte for byte; an overlay build's copies must map every line
// back to the input; and every generated package must compile and pass go
// vet.
func TestGolden(t *testing.T) {
	if testing.Short() {
		t.Skip("loads packages with the go command")
	}
	mod := newModule(t)
	t.Setenv("GOFLAGS", "-mod=mod") // let the go command fill in go.mod
	ctx := context.Background()
	var built []string
	for _, c := range readCases(t) {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(mod, c.name)
			for name, data := range c.input {
				if strings.HasSuffix(name, ".go") {
					if formatted, err := format.Source(data); err == nil && !bytes.Equal(formatted, data) {
						t.Fatalf("input/%s is not gofmt'd: the generator's output is, so fix the case", name)
					}
				}
				writeFile(t, filepath.Join(dir, name), data)
			}
			if !c.hasErr {
				checkOverlay(t, ctx, dir, c.input)
			}
			opts := generator.Options{Dir: dir, Patterns: []string{"."}}
			res, err := generator.Generate(ctx, opts)
			if c.hasErr {
				checkError(t, c, err)
				return
			}
			if err != nil {
				t.Fatalf("generate: %v", err)
			}
			if c.hasWarnings {
				if got := strings.Join(res.Warnings, "\n") + "\n"; got != c.warnings {
					t.Errorf("warnings differ\ngot:\n%s\nwant:\n%s", got, c.warnings)
				}
			}
			got := map[string][]byte{}
			for name, data := range c.input {
				got[name] = data
			}
			for _, ch := range res.Changes {
				got[rel(t, dir, ch.Path)] = ch.New
			}
			if *update {
				updateWant(t, c, got)
			} else {
				compareFiles(t, "generate", c.want, got)
			}
			for _, ch := range res.Changes {
				checkInPlace(t, rel(t, dir, ch.Path), ch.New)
			}
			if err := generator.Write(res.Changes); err != nil {
				t.Fatal(err)
			}
			again, err := generator.Generate(ctx, opts)
			if err != nil {
				t.Fatalf("second run: %v", err)
			}
			for _, ch := range again.Changes {
				name := rel(t, dir, ch.Path)
				t.Errorf("second run changed %s (not idempotent):\n%s", name, diff.Unified(name+".first", name+".second", ch.Old, ch.New))
			}
			opts.Remove = true
			removed, err := generator.Generate(ctx, opts)
			if err != nil {
				t.Fatalf("remove: %v", err)
			}
			restored := map[string][]byte{}
			for name, data := range got {
				restored[name] = data
			}
			for _, ch := range removed.Changes {
				restored[rel(t, dir, ch.Path)] = ch.New
			}
			compareFiles(t, "remove", c.input, restored)
			built = append(built, "./"+c.name)
		})
	}
	if len(built) == 0 || t.Failed() {
		return
	}
	// Every golden output is compiled and vetted, in one go command run.
	for _, args := range [][]string{{"build"}, {"vet"}} {
		cmd := exec.Command("go", append(args, built...)...)
		cmd.Dir = mod
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("go %s of the generated code: %v\n%s", args[0], err, out)
		}
	}
}

func checkError(t *testing.T, c *goldenCase, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("generate succeeded, want errors:\n%s", c.stderr)
	}
	got := err.Error() + "\n"
	if *update {
		c.stderr = got
		updateWant(t, c, nil)
		return
	}
	if got != c.stderr {
		t.Errorf("errors differ\ngot:\n%s\nwant:\n%s", got, c.stderr)
	}
}

func rel(t *testing.T, dir, path string) string {
	r, err := filepath.Rel(dir, path)
	if err != nil {
		t.Fatal(err)
	}
	return filepath.ToSlash(r)
}

func compareFiles(t *testing.T, stage string, want, got map[string][]byte) {
	t.Helper()
	for _, name := range sortedNames(want, got) {
		w, g := want[name], got[name]
		if !bytes.Equal(w, g) {
			t.Errorf("%s: %s differs:\n%s", stage, name, diff.Unified(name+".want", name+".got", w, g))
		}
	}
}

func sortedNames(maps ...map[string][]byte) []string {
	seen := map[string]bool{}
	var names []string
	for _, m := range maps {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				names = append(names, k)
			}
		}
	}
	sort.Strings(names)
	return names
}

// updateWant rewrites the archive with the current output (-update).
func updateWant(t *testing.T, c *goldenCase, got map[string][]byte) {
	t.Helper()
	a := &txtar.Archive{Comment: c.archive.Comment}
	for _, name := range sortedNames(c.input) {
		a.Files = append(a.Files, txtar.File{Name: "input/" + name, Data: c.input[name]})
	}
	if c.hasWarnings {
		a.Files = append(a.Files, txtar.File{Name: "warnings", Data: []byte(c.warnings)})
	}
	if c.hasErr {
		a.Files = append(a.Files, txtar.File{Name: "stderr", Data: []byte(c.stderr)})
	} else {
		for _, name := range sortedNames(got) {
			a.Files = append(a.Files, txtar.File{Name: "want/" + name, Data: got[name]})
		}
	}
	if err := os.WriteFile(c.path, txtar.Format(a), 0o644); err != nil {
		t.Fatal(err)
	}
}

// checkOverlay generates the overlay copies of the files in dir (which hold
// input) and checks that they are gofmt'd and map every line to input.
func checkOverlay(t *testing.T, ctx context.Context, dir string, input map[string][]byte) {
	t.Helper()
	res, err := generator.Generate(ctx, generator.Options{Dir: dir, Patterns: []string{"."}, AbsLineDirectives: true})
	if err != nil {
		t.Fatalf("generate the overlay: %v", err)
	}
	for _, ch := range res.Changes {
		name := rel(t, dir, ch.Path)
		if formatted, err := format.Source(ch.New); err != nil || !bytes.Equal(formatted, ch.New) {
			t.Errorf("overlay copy of %s is not gofmt'd (%v):\n%s", name, err, diff.Unified(name, name+".gofmt", ch.New, formatted))
		}
		checkLines(t, name, input[name], ch.New)
	}
}

// checkInPlace checks a file instrumented in place: it is gofmt'd and has no
// //line directive, so every tool names the lines of the file as it is.
func checkInPlace(t *testing.T, name string, src []byte) {
	t.Helper()
	if formatted, err := format.Source(src); err != nil || !bytes.Equal(formatted, src) {
		t.Errorf("%s is not gofmt'd (%v):\n%s", name, err, diff.Unified(name, name+".gofmt", src, formatted))
	}
	for i, l := range strings.Split(string(src), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "//line ") {
			t.Errorf("%s:%d: %s: a line directive in a file instrumented in place", name, i+1, l)
		}
	}
}

// checkLines asserts //line fidelity: every identifier of the input is, in
// the output, at the same line as the compiler sees it (line directives
// applied), so compiler errors and stack traces name the user's lines.
func checkLines(t *testing.T, name string, input, output []byte) {
	t.Helper()
	in := userIdents(t, name, input)
	out := userIdents(t, name, output)
	if len(in) != len(out) {
		t.Errorf("%s: %d identifiers in the input, %d in the output", name, len(in), len(out))
		return
	}
	for i := range in {
		if in[i] != out[i] {
			t.Errorf("%s: identifier %s at line %d in the input is %s at line %d in the output", name, in[i].name, in[i].line, out[i].name, out[i].line)
			return
		}
	}
}

type identLine struct {
	name string
	line int
}

// userIdents lists the identifiers of a file with their lines, leaving out
// imports, the version guard, the generated sites and statements, generated
// names, and blanks.
func userIdents(t *testing.T, name string, src []byte) []identLine {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	var out []identLine
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.GenDecl:
			if n.Tok == token.IMPORT {
				return false
			}
			if vs, ok := n.Specs[0].(*ast.ValueSpec); ok && strings.HasPrefix(vs.Names[0].Name, "__fluxloop") {
				return false
			}
			if n.Tok == token.CONST && isGuard(n) {
				return false
			}
		case *ast.BlockStmt:
			// Skip the injected statements at the top of a body.
			for _, s := range n.List {
				if isInjected(s) {
					continue
				}
				ast.Inspect(s, func(m ast.Node) bool {
					switch m := m.(type) {
					case *ast.SelectorExpr:
						if x, ok := m.X.(*ast.Ident); ok && x.Name == "fluxloop" && handOverName.MatchString(m.Sel.Name) {
							return false
						}
					case *ast.Ident:
						out = appendIdent(out, fset, m)
					}
					return true
				})
			}
			return false
		case *ast.SelectorExpr:
			if x, ok := n.X.(*ast.Ident); ok && x.Name == "fluxloop" && handOverName.MatchString(n.Sel.Name) {
				return false
			}
		case *ast.Ident:
			out = appendIdent(out, fset, n)
		}
		return true
	})
	return out
}

// handOverName matches the runtime functions generated code wraps around
// the functions it hands to goroutines: Follow, its typed forms (Follow2,
// Follow1VR2, ...), Bind and BindErr.
var handOverName = regexp.MustCompile(`^(Follow([0-9]+V?(R[0-9]+)?)?|Bind|BindErr)$`)

func appendIdent(out []identLine, fset *token.FileSet, id *ast.Ident) []identLine {
	if id.Name == "_" || strings.HasPrefix(id.Name, "__fluxloop") || handOverName.MatchString(id.Name) {
		return out
	}
	return append(out, identLine{id.Name, fset.Position(id.Pos()).Line})
}

// isGuard reports whether gd is the version guard,
// const _ = fluxloop.GeneratedCodeAPIN.
func isGuard(gd *ast.GenDecl) bool {
	vs, ok := gd.Specs[0].(*ast.ValueSpec)
	if !ok || len(gd.Specs) != 1 || len(vs.Names) != 1 || vs.Names[0].Name != "_" || len(vs.Values) != 1 {
		return false
	}
	sel, ok := vs.Values[0].(*ast.SelectorExpr)
	return ok && strings.HasPrefix(sel.Sel.Name, "GeneratedCodeAPI")
}

func isInjected(s ast.Stmt) bool {
	var found bool
	ast.Inspect(s, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok && id.Name == "__fluxloopSpan" {
			found = true
		}
		return !found
	})
	if !found {
		return false
	}
	switch s.(type) {
	case *ast.AssignStmt, *ast.IfStmt:
		return true
	}
	return false
}
