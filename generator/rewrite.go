package generator

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/format"
	"go/token"
	"regexp"
	"strings"
	"sync"

	"github.com/dave/dst"
	"github.com/dave/dst/decorator"
	"golang.org/x/tools/go/packages"
)

// Generated identifiers all start with reservedPrefix; user code may not use
// it, so generated names never clash with user names.
const (
	reservedPrefix    = "__fluxloop"
	spanVar           = "__fluxloopSpan"
	panicVar          = "__fluxloopPanic"
	ctxVar            = "__fluxloopCtx"
	sitePrefix        = "__fluxloopSite_"
	paramPrefix       = "__fluxloopP"      // names an unnamed parameter
	blankParamPrefix  = "__fluxloopBlankP" // renames a blank context parameter
	resultPrefix      = "__fluxloopR"      // names an unnamed result
	blankResultPrefix = "__fluxloopBlankR" // renames a blank result
	pkgPlaceholder    = "__fluxloopPkg"    // stands for the runtime in templates
	httpPlaceholder   = "__fluxloopHTTP"   // stands for the runtime's HTTP support
)

// sitesComment introduces the block of observation sites at the end of a
// file; perDeclComment replaces it in a file whose declarations each carry a
// //line directive (see mapEveryDecl), so a later run does the same.
const (
	sitesComment   = "// Observation sites of the functions above, written by fluxloopgen."
	perDeclComment = "// Observation sites of the functions above, written by fluxloopgen (lines mapped per declaration)."
)

// packageRewriter rewrites the files of one package.
type packageRewriter struct {
	pf       *packageFiles
	opts     *Options
	fset     *token.FileSet
	taken    map[string]bool          // site variable names already given out
	names    map[*ast.FuncDecl]string // site variable of each marked function
	mu       sync.Mutex               // guards warnings and writes to opts.Log
	warnings []string
}

func newPackageRewriter(pf *packageFiles, opts *Options) *packageRewriter {
	g := &packageRewriter{pf: pf, opts: opts, taken: map[string]bool{}, names: map[*ast.FuncDecl]string{}}
	if len(pf.files) > 0 {
		g.fset = pf.files[0].pkg.Fset
	}
	return g
}

// rewriteFile strips the instrumentation of f and, unless removing,
// instruments every function that has a directive. It returns the new
// source and the number of functions instrumented (or stripped).
func (g *packageRewriter) rewriteFile(f *sourceFile) ([]byte, int, error) {
	var errs ErrorList
	errf := func(pos token.Pos, format string, args ...any) {
		errs = append(errs, g.errorf(pos, format, args...))
	}
	dirs := findDirectives(f.ast, errf)
	if len(errs) > 0 {
		return nil, 0, errs
	}
	if ast.IsGenerated(f.ast) {
		if len(dirs) > 0 {
			g.warn(f, "skipped: generated file (its generator would overwrite the instrumentation)")
		}
		return nil, 0, nil
	}
	dec := decorator.NewDecoratorFromPackage(f.pkg)
	df, err := dec.DecorateFile(f.ast)
	if err != nil {
		return nil, 0, fmt.Errorf("decorate: %w", err)
	}
	injected := map[*ast.FuncDecl]int{} // statements injected by an earlier run
	stripped := 0
	for _, decl := range f.ast.Decls {
		if fd, ok := decl.(*ast.FuncDecl); ok {
			if fd.Body == nil {
				continue
			}
			lbrace := g.fset.Position(fd.Body.Lbrace).Line
			if n := stripFunc(dec.Dst.Nodes[fd].(*dst.FuncDecl), lbrace); n > 0 {
				injected[fd] = n
				stripped++
			}
		}
	}
	perDecl := stripSites(df)
	stripDeclDirectives(df)
	removeUnusedImports(df)
	// Any identifier left with the reserved prefix is the user's; report
	// each name once, where it first appears.
	reported := map[string]bool{}
	dst.Inspect(df, func(n dst.Node) bool {
		if id, ok := n.(*dst.Ident); ok && strings.HasPrefix(id.Name, reservedPrefix) && !reported[id.Name] {
			reported[id.Name] = true
			if an, ok := dec.Ast.Nodes[id]; ok {
				errf(an.Pos(), "identifier %s uses the prefix %s, which fluxloopgen reserves for generated code; rename it", id.Name, reservedPrefix)
			}
		}
		return true
	})
	if len(errs) > 0 {
		return nil, 0, errs
	}
	if !g.opts.Remove && stripped == 0 && len(dirs) > 0 {
		// The output is gofmt'd, and the //line directives map onto the
		// lines of the file as it is. When formatting moves lines (not
		// just spacing within them), every declaration gets a directive,
		// so lines stay right however gofmt moved them.
		if formatted, err := format.Source(f.src); err == nil && !sameLines(formatted, f.src) {
			perDecl = true
		}
	}
	count := stripped
	if !g.opts.Remove {
		count = 0
		fr := &fileRewriter{g: g, f: f, dec: dec, df: df, injected: injected}
		for _, decl := range f.ast.Decls {
			fd, ok := decl.(*ast.FuncDecl)
			if !ok || dirs[fd] == nil {
				continue
			}
			if err := fr.instrument(fd, dirs[fd]); err != nil {
				errs = append(errs, err.(*Error))
				continue
			}
			count++
		}
		if len(errs) > 0 {
			return nil, 0, errs
		}
		fr.perDecl = perDecl && count > 0
		fr.addSites()
		if err := fr.addImports(dirs); err != nil {
			return nil, 0, err
		}
		if fr.perDecl {
			fr.mapEveryDecl()
		}
	}
	var buf bytes.Buffer
	res := decorator.NewRestorerWithImports(f.pkg.PkgPath, importNamesOf(f.pkg))
	if err := res.Fprint(&buf, df); err != nil {
		return nil, 0, fmt.Errorf("print: %w", err)
	}
	return unindentLineDirectives(buf.Bytes()), count, nil
}

// lineDirectiveRE matches the //line directives generated code carries,
// after the printer indented them.
var lineDirectiveRE = regexp.MustCompile(`(?m)^\t+(//line .*:[0-9]+:1)$`)

// unindentLineDirectives moves generated //line directives to column 1,
// where the compiler looks for them. The printer indents comments that the
// restorer placed, but leaves a //line comment at column 1 where it is, so
// the result is still gofmt'd.
func unindentLineDirectives(src []byte) []byte {
	return lineDirectiveRE.ReplaceAll(src, []byte("$1"))
}

func (g *packageRewriter) warn(f *sourceFile, msg string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.warnings = append(g.warnings, fmt.Sprintf("%s: %s", relPath(g.opts.absDir(), f.path), msg))
}

// importNames resolves import paths to package names for the restorer.
type importNames map[string]string

func (m importNames) ResolvePackage(path string) (string, error) {
	if n, ok := m[path]; ok {
		return n, nil
	}
	return "", fmt.Errorf("package %s is not imported", path)
}

func importNamesOf(p *packages.Package) importNames {
	m := importNames{}
	for _, gi := range generatedImports {
		m[gi.path] = gi.name
	}
	for path, imp := range p.Imports {
		m[path] = imp.Name
		m[imp.PkgPath] = imp.Name
	}
	return m
}

// fileRewriter instruments the functions of one file.
type fileRewriter struct {
	g        *packageRewriter
	f        *sourceFile
	dec      *decorator.Decorator
	df       *dst.File
	injected map[*ast.FuncDecl]int
	sites    []string // site variable specs, as source
	perDecl  bool     // map every declaration (mapEveryDecl)
}

func (fr *fileRewriter) errorf(pos token.Pos, format string, args ...any) *Error {
	return fr.g.errorf(pos, format, args...)
}

// restoreLinesAfterImports puts a //line directive before the first
// declaration after the imports, so that the lines the runtime import added
// do not shift the line numbers of the code below it. The directive stands
// apart, followed by an empty line, so no doc comment absorbs it.
func (fr *fileRewriter) restoreLinesAfterImports() {
	for _, decl := range fr.f.ast.Decls {
		if gd, ok := decl.(*ast.GenDecl); ok && gd.Tok == token.IMPORT {
			continue
		}
		fr.mapDecl(decl)
		return
	}
}

// mapEveryDecl puts a //line directive before every declaration after the
// imports, for a file whose lines gofmt moves.
func (fr *fileRewriter) mapEveryDecl() {
	for _, decl := range fr.f.ast.Decls {
		if gd, ok := decl.(*ast.GenDecl); ok && gd.Tok == token.IMPORT {
			continue
		}
		fr.mapDecl(decl)
	}
}

// mapDecl puts a //line directive, followed by an empty line, before decl
// (and the comments that go with it), mapping it back to its own line,
// unless it has one already.
func (fr *fileRewriter) mapDecl(decl ast.Decl) {
	decs := fr.dec.Dst.Nodes[decl].Decorations()
	if len(decs.Start) >= 2 && isLineDirective(decs.Start[0]) && decs.Start[1] == "\n" {
		return
	}
	pos := decl.Pos()
	if fd, ok := decl.(*ast.FuncDecl); ok && fd.Doc != nil {
		pos = fd.Doc.Pos()
	}
	if gd, ok := decl.(*ast.GenDecl); ok && gd.Doc != nil {
		pos = gd.Doc.Pos()
	}
	// Comments between the previous declaration and this one belong to it.
	after := fr.f.ast.Name.End()
	for _, d := range fr.f.ast.Decls {
		if d == decl {
			break
		}
		after = d.End()
	}
	for _, cg := range fr.f.ast.Comments {
		if cg.Pos() > after && cg.Pos() < pos && !strings.HasPrefix(cg.List[0].Text, "//line ") {
			pos = cg.Pos()
			break
		}
	}
	line := fr.g.fset.Position(pos).Line - 1 // the empty line after the directive
	decs.Start.Prepend(fr.lineDirective(line), "\n")
}

// stripDeclDirectives removes the directives mapDecl added.
func stripDeclDirectives(df *dst.File) {
	for _, decl := range df.Decls {
		if gd, ok := decl.(*dst.GenDecl); ok && gd.Tok == token.IMPORT {
			continue
		}
		start := &decl.Decorations().Start
		if len(*start) >= 2 && isLineDirective((*start)[0]) && (*start)[1] == "\n" {
			*start = (*start)[2:]
		}
	}
}

// sameLines reports whether a and b have the same lines apart from spacing
// within them.
func sameLines(a, b []byte) bool {
	la, lb := bytes.Split(a, []byte("\n")), bytes.Split(b, []byte("\n"))
	if len(la) != len(lb) {
		return false
	}
	for i := range la {
		if !bytes.Equal(bytes.Join(bytes.Fields(la[i]), nil), bytes.Join(bytes.Fields(lb[i]), nil)) {
			return false
		}
	}
	return true
}
