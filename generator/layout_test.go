package generator_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/fluxloop/fluxloop-go/generator"
	"github.com/fluxloop/fluxloop-go/internal/diff"
)

var (
	layoutSeed  = flag.Uint64("layout.seed", 1, "seed of the sources TestLayouts generates")
	layoutFiles = flag.Int("layout.files", 40, "how many sources TestLayouts generates")
)

// TestLayouts generates many sources that place line comments, block
// comments (on their own lines, after code, spanning lines), blank lines and
// doc comments around every kind of declaration and inside bodies, and
// checks, for each, gofmt'd and not:
//
//   - in place: the first run's output is gofmt'd, has no //line directive,
//     and a site Offset that puts every recorded line on the func keyword; a
//     second run changes nothing; -remove gives the source back byte for
//     byte (gofmt'd sources) or gofmt'd (the others); the output compiles
//     and passes go vet;
//   - overlay: the copy is gofmt'd and maps every identifier to its line in
//     the source (for sources that are not gofmt'd, every declaration).
//
// -layout.seed and -layout.files choose other sources; the sources are
// written to $TMPDIR/fluxloop-layouts when the test fails, or to
// $FLUXLOOP_LAYOUTS when set.
func TestLayouts(t *testing.T) {
	if testing.Short() {
		t.Skip("loads packages with the go command")
	}
	mod := newModule(t)
	t.Setenv("GOFLAGS", "-mod=mod")
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(*layoutSeed, 0x5eed))
	sources := map[string][]byte{} // path relative to mod
	for i := range *layoutFiles {
		raw := (&layoutGen{rng: rng, pkg: fmt.Sprintf("p%d", i)}).file()
		formatted, err := format.Source(raw)
		if err != nil {
			t.Fatalf("generated source does not parse: %v\n%s", err, raw)
		}
		sources[fmt.Sprintf("fmt%d/x.go", i)] = formatted
		if !bytes.Equal(raw, formatted) {
			sources[fmt.Sprintf("raw%d/x.go", i)] = raw
		}
	}
	for name, src := range sources {
		writeFile(t, filepath.Join(mod, name), src)
	}
	t.Cleanup(func() {
		if dump := os.Getenv("FLUXLOOP_LAYOUTS"); t.Failed() || dump != "" {
			if dump == "" {
				dump = filepath.Join(os.TempDir(), "fluxloop-layouts")
			}
			os.RemoveAll(dump)
			for name, src := range sources {
				writeFile(t, filepath.Join(dump, name), src)
			}
			t.Logf("the sources are in %s", dump)
		}
	})
	opts := generator.Options{Dir: mod, Patterns: []string{"./..."}}

	// Overlay copies of the sources.
	oopts := opts
	oopts.AbsLineDirectives = true
	ov, err := generator.Generate(ctx, oopts)
	if err != nil {
		t.Fatalf("overlay: %v", err)
	}
	for _, ch := range ov.Changes {
		name := rel(t, mod, ch.Path)
		if formatted, err := format.Source(ch.New); err != nil || !bytes.Equal(formatted, ch.New) {
			t.Errorf("overlay copy of %s is not gofmt'd (%v):\n%s", name, err, diff.Unified(name, name+".gofmt", ch.New, formatted))
		}
		if strings.HasPrefix(name, "raw") {
			// gofmt moves lines inside declarations of these: only
			// each declaration is mapped to its line.
			checkDeclLines(t, name, sources[name], ch.New)
		} else {
			checkLines(t, name, sources[name], ch.New)
		}
	}

	// In place.
	res, err := generator.Generate(ctx, opts)
	if err != nil {
		t.Fatalf("generate: %v", err)
	}
	if len(res.Changes) != len(sources) {
		t.Errorf("%d files changed, want all %d", len(res.Changes), len(sources))
	}
	first := map[string][]byte{}
	for _, ch := range res.Changes {
		name := rel(t, mod, ch.Path)
		first[name] = ch.New
		checkInPlace(t, name, ch.New)
		checkOffsets(t, name, ch.New)
	}
	if err := generator.Write(res.Changes); err != nil {
		t.Fatal(err)
	}
	again, err := generator.Generate(ctx, opts)
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	for _, ch := range again.Changes {
		name := rel(t, mod, ch.Path)
		t.Errorf("second run changed %s (not a fixed point):\n%s", name, diff.Unified(name+".first", name+".second", ch.Old, ch.New))
	}
	ropts := opts
	ropts.Remove = true
	removed, err := generator.Generate(ctx, ropts)
	if err != nil {
		t.Fatalf("remove: %v", err)
	}
	for _, ch := range removed.Changes {
		name := rel(t, mod, ch.Path)
		want := sources[name]
		if strings.HasPrefix(name, "raw") {
			want, _ = format.Source(want)
		}
		if !bytes.Equal(ch.New, want) {
			t.Errorf("-remove did not give %s back:\n%s", name, diff.Unified(name+".want", name+".removed", want, ch.New))
		}
	}
	if len(removed.Changes) != len(first) {
		t.Errorf("-remove changed %d files, want %d", len(removed.Changes), len(first))
	}
	for _, args := range [][]string{{"build"}, {"vet"}} {
		cmd := exec.Command("go", append(args, "./...")...)
		cmd.Dir = mod
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("go %s of the instrumented sources: %v\n%s", args[0], err, out)
		}
	}
}

// checkDeclLines checks that every top-level declaration of input is, in
// output, at the same line as the compiler sees it.
func checkDeclLines(t *testing.T, name string, input, output []byte) {
	t.Helper()
	decls := func(src []byte) []identLine {
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		var out []identLine
		for _, d := range f.Decls {
			var id *ast.Ident
			switch d := d.(type) {
			case *ast.FuncDecl:
				id = d.Name
			case *ast.GenDecl:
				switch s := d.Specs[0].(type) {
				case *ast.ValueSpec:
					id = s.Names[0]
				case *ast.TypeSpec:
					id = s.Name
				}
			}
			if id != nil && id.Name != "_" && !strings.HasPrefix(id.Name, "__fluxloop") {
				out = append(out, identLine{id.Name, fset.Position(d.Pos()).Line})
			}
		}
		return out
	}
	in, out := decls(input), decls(output)
	if len(in) != len(out) {
		t.Errorf("%s: %d declarations in the input, %d in the output", name, len(in), len(out))
		return
	}
	for i := range in {
		if in[i] != out[i] {
			t.Errorf("%s: declaration %s at line %d in the input is %s at line %d in the output", name, in[i].name, in[i].line, out[i].name, out[i].line)
		}
	}
}

// checkOffsets checks that every site's Offset is the distance from its
// function's func keyword down to the Enter call, so the recorded
// code.lineno is the func keyword's line.
func checkOffsets(t *testing.T, name string, src []byte) {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	offsets := map[string]int{} // site variable: Offset
	enters := map[string]int{}  // site variable: Enter line - func line
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.ValueSpec:
			if len(n.Values) == 1 && strings.HasPrefix(n.Names[0].Name, "__fluxloopSite_") {
				offsets[n.Names[0].Name] = 0
				for _, e := range n.Values[0].(*ast.CompositeLit).Elts {
					if kv := e.(*ast.KeyValueExpr); kv.Key.(*ast.Ident).Name == "Offset" {
						offsets[n.Names[0].Name], _ = strconv.Atoi(kv.Value.(*ast.BasicLit).Value)
					}
				}
			}
		case *ast.FuncDecl:
			if n.Body == nil || len(n.Body.List) == 0 {
				return false
			}
			if as, ok := n.Body.List[0].(*ast.AssignStmt); ok {
				if call, ok := as.Rhs[0].(*ast.CallExpr); ok && len(call.Args) > 0 {
					if u, ok := call.Args[len(call.Args)-1].(*ast.UnaryExpr); ok {
						if id, ok := u.X.(*ast.Ident); ok {
							enters[id.Name] = fset.Position(call.Pos()).Line - fset.Position(n.Type.Func).Line
						}
					}
				}
			}
			return false
		}
		return true
	})
	if len(enters) != len(offsets) {
		t.Errorf("%s: %d Enter calls, %d sites", name, len(enters), len(offsets))
	}
	for site, d := range enters {
		if offsets[site] != d {
			t.Errorf("%s: %s has Offset %d, but its Enter call is %d lines below func", name, site, offsets[site], d)
		}
	}
}

// layoutGen writes one random source file.
type layoutGen struct {
	rng   *rand.Rand
	pkg   string
	b     strings.Builder
	n     int      // names given out
	uses  []string // expressions that use the imports
	types []string // receiver types declared
	mark  bool     // mark the next function
	// needContext is set when a function takes a context.Context.
	needContext bool
}

func (g *layoutGen) name(prefix string) string {
	g.n++
	return prefix + strconv.Itoa(g.n)
}

func (g *layoutGen) chance(p float64) bool { return g.rng.Float64() < p }

func (g *layoutGen) pick(options ...string) string { return options[g.rng.IntN(len(options))] }

func (g *layoutGen) w(format string, args ...any) { fmt.Fprintf(&g.b, format, args...) }

// blank writes zero to three empty lines (gofmt keeps at most one).
func (g *layoutGen) blank() {
	for range g.rng.IntN(4) {
		g.w("\n")
	}
}

// freeComment writes, maybe, a comment that belongs to no declaration, or
// floats before the next one.
func (g *layoutGen) freeComment() {
	switch g.rng.IntN(7) {
	case 0:
		g.w("// A free comment.\n")
	case 1:
		g.w("/* A block comment. */\n")
	case 2:
		g.w("/*\nA block comment\nspanning lines.\n*/\n")
	case 3:
		g.w("/* one */ /* two */\n")
	}
	if g.chance(0.5) {
		g.blank()
	}
}

func (g *layoutGen) file() []byte {
	if g.chance(0.3) {
		g.w("// Package %s is generated.\n", g.pkg)
	} else if g.chance(0.2) {
		g.w("/* Package %s is generated. */\n", g.pkg)
	}
	g.w("package %s", g.pkg)
	g.trailing()
	g.w("\n\n")
	g.imports()
	g.w("\n")
	g.freeComment()
	recv := g.name("R")
	g.types = append(g.types, recv)
	g.w("type %s struct{ x int }\n\n", recv)
	for range 4 + g.rng.IntN(8) {
		g.freeComment()
		g.decl()
		g.w("\n")
		g.blank()
	}
	g.mark = true // at least one function is instrumented
	g.function()
	g.w("\n")
	for _, u := range g.uses {
		g.w("var _ = %s\n", u)
	}
	if g.needContext {
		g.w("\ntype _ = context.Context\n")
	}
	switch g.rng.IntN(4) {
	case 0:
		g.w("\n// The end.\n")
	case 1:
		g.w("\n/* The end. */\n")
	case 2:
		g.w("// The end, right after.\n")
	}
	src := g.b.String()
	if g.needContext {
		// Import context in a declaration of its own, after the others.
		i := strings.Index(src, "\n\n") + 2
		src = src[:i] + "import \"context\"\n\n" + src[i:]
	}
	return []byte(src)
}

// trailing writes, maybe, a comment at the end of a line of code.
func (g *layoutGen) trailing() {
	switch g.rng.IntN(6) {
	case 0:
		g.w(" // trailing")
	case 1:
		g.w(" /* trailing */")
	}
}

func (g *layoutGen) imports() {
	pkgs := []string{"strings", "fmt", "strconv", "sort"}
	use := map[string]string{"strings": "strings.ToUpper", "fmt": "fmt.Sprint", "strconv": "strconv.Itoa", "sort": "sort.Ints"}
	switch g.rng.IntN(5) {
	case 0: // no imports
	case 1:
		g.w("import \"strings\"")
		g.trailing()
		g.w("\n")
		g.uses = append(g.uses, use["strings"])
	case 2:
		g.w("import \"strings\"\n")
		g.blank()
		g.freeComment()
		g.w("import \"fmt\"")
		g.trailing()
		g.w("\n")
		g.uses = append(g.uses, use["strings"], use["fmt"])
	default:
		g.w("import (")
		g.trailing()
		g.w("\n")
		for i, p := range pkgs[:1+g.rng.IntN(len(pkgs))] {
			if i > 0 && g.chance(0.3) {
				g.w("\n")
			}
			if g.chance(0.3) {
				g.w("\t// %s is imported.\n", p)
			}
			g.w("\t%q", p)
			g.trailing()
			g.w("\n")
			g.uses = append(g.uses, use[p])
		}
		if g.chance(0.2) {
			g.w("\t// The last import.\n")
		}
		g.w(")")
		g.trailing()
		g.w("\n")
	}
	// What follows the import block right away: the lines the runtime
	// import adds must not disturb it.
	switch g.rng.IntN(5) {
	case 0:
		g.w("/* after the imports */\n")
	case 1:
		g.w("// after the imports\n")
	case 2:
		g.w("\n/*\nafter the imports,\nspanning lines\n*/\n")
	}
}

// doc writes, maybe, a doc comment, and a directive when marked.
func (g *layoutGen) doc(name string, marked bool) {
	text := false
	switch g.rng.IntN(5) {
	case 0, 1:
		g.w("// %s is generated.\n", name)
		text = true
	case 2:
		g.w("// %s is generated,\n// with a doc comment of two lines.\n", name)
		text = true
	case 3:
		g.w("/* %s is generated. */\n", name)
	}
	if !marked {
		return
	}
	if text {
		g.w("//\n")
	}
	if g.chance(0.2) {
		g.w("//go:noinline\n")
	}
	g.w("%s\n", g.pick("//fluxloop:trace", "//fluxloop:agent", "//fluxloop:trace type=tool capture=input", "//fluxloop:trace name=renamed"+name))
}

func (g *layoutGen) decl() {
	switch g.rng.IntN(10) {
	case 0:
		g.valueDecl("const", "1")
	case 1:
		g.valueDecl("var", `"v"`)
	case 2:
		g.typeDecl()
	case 3:
		g.method()
	default:
		g.function()
	}
}

func (g *layoutGen) valueDecl(tok, value string) {
	name := g.name(strings.ToUpper(tok[:1]))
	g.doc(name, false)
	if g.chance(0.5) {
		g.w("%s %s = %s", tok, name, value)
		g.trailing()
		g.w("\n")
		return
	}
	g.w("%s (", tok)
	g.trailing()
	g.w("\n")
	for i := range 1 + g.rng.IntN(3) {
		if i > 0 && g.chance(0.3) {
			g.w("\n")
		}
		if g.chance(0.3) {
			g.w("\t// A spec.\n")
		}
		g.w("\t%s = %s", g.name(strings.ToUpper(tok[:1])), value)
		g.trailing()
		g.w("\n")
	}
	if g.chance(0.2) {
		g.w("\t/* The last spec. */\n")
	}
	g.w(")\n")
}

func (g *layoutGen) typeDecl() {
	name := g.name("T")
	g.doc(name, false)
	if g.chance(0.5) {
		g.w("type %s %s", name, g.pick("int", "struct{ s string }", "= string", "[]int"))
		g.trailing()
		g.w("\n")
		return
	}
	g.w("type (\n")
	g.w("\t%s int", name)
	g.trailing()
	g.w("\n")
	if g.chance(0.5) {
		g.w("\n\t// A second type.\n")
	}
	g.w("\t%s struct {\n\t\t// f is a field.\n\t\tf int", g.name("T"))
	g.trailing()
	g.w("\n\t}\n)\n")
}

func (g *layoutGen) method() {
	name := g.name("M")
	recv := g.types[g.rng.IntN(len(g.types))]
	marked := g.chance(0.7)
	g.doc(name, marked)
	g.w("func (r %s%s) %s(n int) int", g.pick("", "*"), recv, name)
	g.body("return r.x + n")
}

func (g *layoutGen) function() {
	name := g.name("F")
	marked := g.mark || g.chance(0.75)
	g.mark = false
	g.doc(name, marked)
	switch g.rng.IntN(8) {
	case 0:
		g.w("func %s()", name)
		g.body("")
	case 6:
		g.w("func %s(\n\t// s is a parameter.\n\ts string, /* n too */ n int,\n) (\n\tm int, // m is a result\n)", name)
		g.body("_ = s", "if n > 0 {\n\t\tm = n // positive\n\t}", "return")
	case 7:
		g.w("func %s(ctx context.Context, q string) (string, error)", name)
		g.needContext = true
		g.body("_ = ctx", "return q, nil")
	case 1:
		g.w("func %s[T any](x T) T", name)
		g.body("return x")
	case 2:
		g.w("func %s(\n\ts string,\n\tn int,\n) (string, error)", name)
		g.body("return s, nil")
	case 3:
		g.w("func %s(int, string) int", name)
		g.body("return 0")
	default:
		g.w("func %s(n int) (m int)", name)
		g.body("m = n", "return")
	}
}

// body writes a body holding stmts (none: an empty body) in one of many
// layouts.
func (g *layoutGen) body(stmts ...string) {
	if len(stmts) == 1 && stmts[0] == "" {
		stmts = nil
	}
	if g.chance(0.3) {
		// On one line.
		g.w(" {")
		if g.chance(0.2) {
			g.w(" /* c */")
		}
		for i, s := range stmts {
			if i > 0 {
				g.w(";")
			}
			g.w(" %s", s)
		}
		if len(stmts) > 0 && g.chance(0.2) {
			g.w(" /* c */")
		}
		if len(stmts) > 0 {
			g.w(" ")
		}
		g.w("}")
		g.trailing()
		g.w("\n")
		return
	}
	g.w(" {")
	switch g.rng.IntN(5) {
	case 0:
		g.w(" // after the brace")
	case 1:
		g.w(" /* after the brace */")
	}
	g.w("\n")
	switch g.rng.IntN(6) {
	case 0:
		g.w("\t// first\n")
	case 1:
		g.w("\t// first\n\n")
	case 2:
		g.w("\t/* first */\n")
	case 3:
		g.w("\t/*\n\tfirst,\n\tspanning lines\n\t*/\n")
	}
	for i, s := range stmts {
		if i > 0 && g.chance(0.3) {
			g.w("\n")
		}
		if g.chance(0.2) {
			g.w("\t// A statement.\n")
		}
		if g.chance(0.15) {
			g.w("\t/* before */ ")
		} else {
			g.w("\t")
		}
		g.w("%s", s)
		g.trailing()
		g.w("\n")
	}
	switch g.rng.IntN(5) {
	case 0:
		g.w("\t// before the brace\n")
	case 1:
		g.w("\n\t/* before the brace */\n")
	}
	g.w("}")
	g.trailing()
	g.w("\n")
}
