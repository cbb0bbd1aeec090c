package generator

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
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
// file. (Earlier versions also wrote a variant ending in "(lines mapped per
// declaration)"; the block is recognised by its variable names, whatever its
// comment.)
const sitesComment = "// Observation sites of the functions above, written by fluxloopgen."

// oneLineComment follows the site of a function whose body was on one line
// (func F() int { return 1 }, func G() {}), so that stripping puts the body
// back on one line.
const oneLineComment = "// one-line body"

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
	dec.Fset = physicalLines(g.fset, f.ast)
	df, err := dec.DecorateFile(f.ast)
	if err != nil {
		return nil, 0, fmt.Errorf("decorate: %w", err)
	}
	injected := map[*ast.FuncDecl]int{} // statements injected by an earlier run
	oneLine := map[*ast.FuncDecl]bool{} // functions whose body is on one line in the source
	oneLineSites := oneLineSites(df)
	stripped := 0
	line := func(p token.Pos) int { return g.fset.PositionFor(p, false).Line }
	for _, decl := range f.ast.Decls {
		if fd, ok := decl.(*ast.FuncDecl); ok {
			if fd.Body == nil {
				continue
			}
			oneLine[fd] = line(fd.Body.Lbrace) == line(fd.Body.Rbrace)
			if n, one := stripFunc(dec.Dst.Nodes[fd].(*dst.FuncDecl), line(fd.Body.Lbrace)-line(fd.Type.Func), oneLineSites); n > 0 {
				injected[fd] = n
				oneLine[fd] = one
				stripped++
			}
		}
	}
	stripSites(df)
	stripDeclDirectives(df)
	removeUnusedImports(df)
	canonicalDocs(f.ast, dec)
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
	mapLines := g.opts.AbsLineDirectives
	perDecl := false
	if mapLines && !g.opts.Remove && len(dirs) > 0 {
		// The output is gofmt'd, and the //line directives map onto the
		// lines of the source as it is. When formatting moves lines (not
		// just spacing within them), every declaration gets a directive,
		// so lines stay right however gofmt moved them.
		if formatted, err := format.Source(f.src); err == nil && !sameLines(formatted, f.src) {
			perDecl = true
		}
	}
	count := stripped
	var fr *fileRewriter
	if !g.opts.Remove {
		count = 0
		fr = &fileRewriter{g: g, f: f, dec: dec, df: df, injected: injected, oneLine: oneLine, mapLines: mapLines}
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
		fr.addSites()
		if err := fr.addImports(dirs); err != nil {
			return nil, 0, err
		}
		if perDecl && count > 0 {
			fr.mapEveryDecl()
		}
	}
	out, err := g.print(f, df)
	if err != nil {
		return nil, 0, err
	}
	if fr != nil && !mapLines && len(fr.sites) > 0 {
		// In place, the Enter calls are on lines of their own below the
		// func keywords; each site says how far below, so the recorded
		// line is the func keyword's. Measure it on the output, and print
		// again when a guess was wrong (the sites are at the end of the
		// file, so their content moves no line above them).
		if fr.setOffsets(out) {
			if out, err = g.print(f, df); err != nil {
				return nil, 0, err
			}
			if fr.setOffsets(out) {
				return nil, 0, fmt.Errorf("internal error (please report it): the observation sites' line offsets do not settle")
			}
		}
	}
	return keepEncoding(f.src, out), count, nil
}

var utf8BOM = []byte("\ufeff")

// keepEncoding gives the printed file the byte order mark and the CRLF line
// endings of its source, which the printer (like gofmt) drops: a file that
// starts with a BOM keeps it, and a file whose every line ends in CRLF keeps
// them (a file with mixed line endings gets LF throughout, as from gofmt).
// Both are the same program either way: the compiler ignores a leading BOM
// and the CRs of raw strings.
func keepEncoding(src, out []byte) []byte {
	if bytes.HasPrefix(src, utf8BOM) && !bytes.HasPrefix(out, utf8BOM) {
		out = append(append([]byte(nil), utf8BOM...), out...)
	}
	if n := bytes.Count(src, []byte("\n")); n > 0 && bytes.Count(src, []byte("\r\n")) == n && !bytes.Contains(out, []byte("\r")) {
		out = bytes.ReplaceAll(out, []byte("\n"), []byte("\r\n"))
	}
	return out
}

// print renders the rewritten file.
func (g *packageRewriter) print(f *sourceFile, df *dst.File) ([]byte, error) {
	var buf bytes.Buffer
	res := decorator.NewRestorerWithImports(f.pkg.PkgPath, importNamesOf(f.pkg))
	if err := res.Fprint(&buf, df); err != nil {
		return nil, fmt.Errorf("print: %w", err)
	}
	return unindentLineDirectives(buf.Bytes()), nil
}

// physicalLines is a file set holding only af's file, at the same base,
// whose positions ignore //line directives. dst finds line breaks and empty
// lines by the line numbers of positions, which directives (such as those
// of a file instrumented in place by an earlier version) would distort.
func physicalLines(fset *token.FileSet, af *ast.File) *token.FileSet {
	tf := fset.File(af.Pos())
	if tf == nil {
		return fset
	}
	out := token.NewFileSet()
	nf := out.AddFile(tf.Name(), tf.Base(), tf.Size())
	nf.SetLines(tf.Lines())
	return out
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
	// go/packages never lists unsafe among a package's imports.
	m["unsafe"] = "unsafe"
	return m
}

// fileRewriter instruments the functions of one file.
type fileRewriter struct {
	g         *packageRewriter
	f         *sourceFile
	dec       *decorator.Decorator
	df        *dst.File
	injected  map[*ast.FuncDecl]int
	oneLine   map[*ast.FuncDecl]bool // body on one line in the source
	mapLines  bool                   // map lines to the source with //line directives (overlay)
	sites     []*siteSpec
	sitesDecl *dst.GenDecl // the declaration of the sites, once added
}

func (fr *fileRewriter) errorf(pos token.Pos, format string, args ...any) *Error {
	return fr.g.errorf(pos, format, args...)
}

// restoreLinesAfterImports puts a //line directive before the first
// declaration after the imports, so that the lines the runtime import added
// do not shift the line numbers of the code below it (overlay builds only).
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
// imports, for a source whose lines gofmt moves (overlay builds only).
func (fr *fileRewriter) mapEveryDecl() {
	for _, decl := range fr.f.ast.Decls {
		if gd, ok := decl.(*ast.GenDecl); ok && gd.Tok == token.IMPORT {
			continue
		}
		fr.mapDecl(decl)
	}
}

// mapDecl puts a //line directive right before decl's keyword (after its
// doc comment and the other comments dst keeps with it, which need no
// mapping), mapping the keyword back to its own line, unless it has one
// already. (The compiler keeps the doc comment's //go: directives across
// it.)
func (fr *fileRewriter) mapDecl(decl ast.Decl) {
	start := &fr.dec.Dst.Nodes[decl].Decorations().Start
	n := len(*start)
	if n > 0 && isLineDirective((*start)[n-1]) {
		return
	}
	if n > 0 && (*start)[n-1] != "\n" && !strings.HasPrefix((*start)[n-1], "//") {
		start.Append("\n")
	}
	if needsDirectiveSeparator(*start) {
		start.Append("//") // as gofmt separates directives from doc text
	}
	start.Append(fr.lineDirective(fr.g.fset.PositionFor(decl.Pos(), false).Line))
}

// needsDirectiveSeparator reports whether gofmt would put a "//" line
// between the comment group that ends decs and a directive appended to it:
// the group is a doc comment of // lines only, with text and no directive.
func needsDirectiveSeparator(decs dst.Decorations) bool {
	i := len(decs)
	for i > 0 && strings.HasPrefix(decs[i-1], "//") {
		i--
	}
	group := decs[i:]
	if len(group) == 0 {
		return false
	}
	// A block comment on the same line or the line above belongs to the
	// group, and gofmt leaves a group with one alone.
	if i > 0 && strings.HasPrefix(decs[i-1], "/*") || i > 1 && decs[i-1] == "\n" && strings.HasPrefix(decs[i-2], "/*") {
		return false
	}
	text := false
	for _, c := range group {
		if isDirectiveText(c) {
			return false
		}
		text = text || strings.TrimSpace(strings.TrimPrefix(c, "//")) != ""
	}
	return text
}

// stripDeclDirectives removes the directives mapDecl added (to a file
// instrumented in place by an earlier version, or to an overlay copy).
//
// Read back, a directive that stood before comments below the imports can
// be the import declaration's (or its last spec's) instead, at the end.
func stripDeclDirectives(df *dst.File) {
	dropEnd := func(end *dst.Decorations) {
		for i := 0; i < len(*end); i++ {
			if isLineDirective((*end)[i]) {
				j := i
				if j > 0 && (*end)[j-1] == "\n" {
					j--
				}
				*end = append((*end)[:j:j], (*end)[i+1:]...)
				i = j - 1
			}
		}
	}
	afterImports := false
	for _, decl := range df.Decls {
		if gd, ok := decl.(*dst.GenDecl); ok && gd.Tok == token.IMPORT {
			dropEnd(&gd.Decs.End)
			if n := len(gd.Specs); n > 0 {
				dropEnd(&gd.Specs[n-1].Decorations().End)
			}
			afterImports = true
			continue
		}
		decs := decl.Decorations()
		if len(decs.Start) >= 2 && isLineDirective(decs.Start[0]) && decs.Start[1] == "\n" {
			decs.Start = decs.Start[2:]
			if afterImports {
				decs.Before = dst.EmptyLine // as gofmt has it after imports
			}
		}
		afterImports = false
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

// setOffsets measures, in the printed output, how many lines below its func
// keyword each Enter call is, and sets the sites' Offset fields to match. It
// reports whether any changed (the output must then be printed again).
func (fr *fileRewriter) setOffsets(out []byte) bool {
	fset := token.NewFileSet()
	af, err := parser.ParseFile(fset, "", out, parser.SkipObjectResolution)
	if err != nil {
		return false // cannot happen: the printer's output parses
	}
	offsets := map[string]int{}
	for _, decl := range af.Decls {
		fd, ok := decl.(*ast.FuncDecl)
		if !ok || fd.Body == nil || len(fd.Body.List) == 0 {
			continue
		}
		as, ok := fd.Body.List[0].(*ast.AssignStmt)
		if !ok || len(as.Rhs) != 1 {
			continue
		}
		call, ok := as.Rhs[0].(*ast.CallExpr)
		if !ok || len(call.Args) == 0 {
			continue
		}
		if u, ok := call.Args[len(call.Args)-1].(*ast.UnaryExpr); ok && u.Op == token.AND {
			if id, ok := u.X.(*ast.Ident); ok && strings.HasPrefix(id.Name, sitePrefix) {
				offsets[id.Name] = fset.Position(call.Lparen).Line - fset.Position(fd.Type.Func).Line
			}
		}
	}
	changed := false
	for _, s := range fr.sites {
		if off, ok := offsets[s.name]; ok && off != s.offset {
			s.offset = off
			changed = true
		}
	}
	if changed {
		fr.sitesDecl.Specs = fr.sitesTemplate().Specs
	}
	return changed
}
