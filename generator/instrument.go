package generator

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/dave/dst"
	"github.com/dave/dst/decorator"
	"github.com/dave/dst/dstutil"
)

// param is one parameter or result of an instrumented function.
type param struct {
	field *dst.Field
	ident *dst.Ident // nil when unnamed
	typ   types.Type // nil when unknown (a variadic)
	index int        // position in the flattened list
}

func (p *param) name() string {
	if p.ident == nil {
		return ""
	}
	return p.ident.Name
}

// flatten lists the parameters of a dst field list with the types of the
// matching ast field list.
func flatten(dl *dst.FieldList, al *ast.FieldList, info *types.Info) []*param {
	if dl == nil || al == nil {
		return nil
	}
	var out []*param
	for i, df := range dl.List {
		var t types.Type
		if i < len(al.List) {
			t = info.TypeOf(al.List[i].Type)
		}
		if len(df.Names) == 0 {
			out = append(out, &param{field: df, typ: t, index: len(out)})
			continue
		}
		for _, id := range df.Names {
			out = append(out, &param{field: df, ident: id, typ: t, index: len(out)})
		}
	}
	return out
}

// nameAll gives every parameter of an unnamed list a generated name.
func nameAll(ps []*param, prefix string) {
	for _, p := range ps {
		p.ident = dst.NewIdent(prefix + strconv.Itoa(p.index))
		p.field.Names = []*dst.Ident{p.ident}
	}
}

// funcShape is what the rewrite needs to know about a function's signature.
type funcShape struct {
	ctxExpr string // the context passed to Enter ("" for the goroutine fallback)
	ctxLHS  string // what receives the derived context ("_" to drop it)
	request string // the *http.Request parameter replaced by r.WithContext
	// writer is set for an HTTP handler, func(w http.ResponseWriter, r
	// *http.Request): the runtime's HTTP support then starts the
	// observation from the request and wraps w to see the status code.
	writer    string
	inputs    []*param
	inputKeys []string
	outputs   []*param
	streams   []stream
	errResult *param
}

// instrument injects the observation into one function. Errors are
// positioned *Error values.
func (fr *fileRewriter) instrument(afd *ast.FuncDecl, d *Directive) error {
	fd := fr.dec.Dst.Nodes[afd].(*dst.FuncDecl)
	info := fr.f.pkg.TypesInfo
	name := d.Name
	if name == "" {
		name = defaultName(afd)
	}
	if afd.Doc != nil {
		for _, c := range afd.Doc.List {
			if strings.HasPrefix(c.Text, "//go:nosplit") {
				return fr.errorf(c.Pos(), "cannot trace %s: it is //go:nosplit, and tracing needs calls that may grow the stack; remove one of the directives", afd.Name.Name)
			}
		}
	}
	if scope := info.Scopes[afd.Type]; scope != nil {
		for _, b := range []string{"recover", "panic", "nil"} {
			if _, obj := scope.LookupParent(b, afd.Body.Lbrace); obj == nil || obj.Parent() != types.Universe {
				return fr.errorf(afd.Name.Pos(), "cannot instrument %s: the builtin %s is redeclared in its scope; rename that declaration", afd.Name.Name, b)
			}
		}
	}
	shape := fr.shape(fd, afd, d)
	site := fr.g.names[afd]
	stmts, err := fr.statements(shape, site)
	if err != nil {
		return fmt.Errorf("template for %s: %w", afd.Name.Name, err)
	}
	// The injected code follows the brace and its comments as they are
	// laid out (an empty line after them stays one); stripFunc gives back
	// to the brace what is read back as the Enter statement's comments.
	stmts[0].Decorations().Before = dst.NewLine
	if fr.mapLines {
		fr.mapBody(afd, fd, stmts)
	}
	fr.handOverGoroutines(afd)
	fd.Body.List = append(stmts, fd.Body.List...)
	// Offset guess: the Enter call right below the brace's line.
	offset := fr.g.fset.PositionFor(afd.Body.Lbrace, false).Line - fr.g.fset.PositionFor(afd.Type.Func, false).Line + 1
	fr.addSite(site, name, d, shape.inputKeys, fr.oneLine[afd], offset)
	return nil
}

// mapBody puts //line directives into an instrumented body for an overlay
// build, where the compiled file is a copy and the source is what the user
// sees: the injected statements map to the line of the func keyword (so the
// Enter call reports it), the user's statements to their own lines.
func (fr *fileRewriter) mapBody(afd *ast.FuncDecl, fd *dst.FuncDecl, stmts []dst.Stmt) {
	line := func(p token.Pos) int { return fr.g.fset.PositionFor(p, false).Line }
	stmts[0].Decorations().Start.Prepend(fr.lineDirective(line(afd.Type.Func)))
	rbrace := line(afd.Body.Rbrace)
	if len(fd.Body.List) == 0 {
		// An empty body: map the closing brace back to its line.
		last := stmts[len(stmts)-1].Decorations()
		last.End.Append("\n", fr.lineDirective(rbrace))
		return
	}
	// The directive goes right before the user's first statement, after
	// the comments dst keeps with it (which need no mapping), on a line of
	// its own: the printer would break a line after a block comment that
	// follows a line comment before the same token.
	mapStmt := func(i int) {
		start := &fd.Body.List[i].Decorations().Start
		if n := len(*start); n > 0 && (*start)[n-1] != "\n" && !strings.HasPrefix((*start)[n-1], "//") {
			start.Append("\n")
		}
		start.Append(fr.lineDirective(line(afd.Body.List[fr.injected[afd]+i].Pos())))
	}
	mapStmt(0)
	if line(afd.Body.Lbrace) == rbrace {
		// A one-line body now spans lines: map each statement and the
		// closing brace back.
		for i := 1; i < len(fd.Body.List); i++ {
			fd.Body.List[i].Decorations().Before = dst.NewLine
			mapStmt(i)
		}
		last := fd.Body.List[len(fd.Body.List)-1].Decorations()
		last.End.Append("\n", fr.lineDirective(rbrace))
	}
}

// note reports something the user may want to know about a function (-v).
func (fr *fileRewriter) note(afd *ast.FuncDecl, msg string) {
	if fr.g.opts.Log == nil {
		return
	}
	pos := fr.g.fset.PositionFor(afd.Name.Pos(), false)
	pos.Filename = relPath(fr.g.opts.absDir(), pos.Filename)
	fr.g.mu.Lock()
	defer fr.g.mu.Unlock()
	fmt.Fprintf(fr.g.opts.Log, "%s: %s: %s\n", pos, afd.Name.Name, msg)
}

// lineDirective maps the next line to line of the source file. Only overlay
// copies carry directives: a file instrumented in place is the user's
// source, whose lines are its own.
func (fr *fileRewriter) lineDirective(line int) string {
	return fmt.Sprintf("//line %s:%d:1", fr.f.path, line)
}

// generatedLineDirective matches the directives lineDirective writes, and
// the "//line :N:1" ones that earlier versions wrote in place (which a run
// strips).
var generatedLineDirective = regexp.MustCompile(`^//line (.*):([0-9]+):1$`)

func isLineDirective(text string) bool { return generatedLineDirective.MatchString(text) }

// defaultName is the observation name of a function without name=: the
// function's name, or Type.Method for a method.
func defaultName(fd *ast.FuncDecl) string {
	if fd.Recv == nil || len(fd.Recv.List) == 0 {
		return fd.Name.Name
	}
	return receiverTypeName(fd.Recv.List[0].Type) + "." + fd.Name.Name
}

func receiverTypeName(e ast.Expr) string {
	for {
		switch x := e.(type) {
		case *ast.StarExpr:
			e = x.X
		case *ast.ParenExpr:
			e = x.X
		case *ast.IndexExpr:
			e = x.X
		case *ast.IndexListExpr:
			e = x.X
		case *ast.Ident:
			return x.Name
		default:
			return "?"
		}
	}
}

// shape classifies the parameters and results, naming unnamed ones where
// generated code must refer to them.
func (fr *fileRewriter) shape(fd *dst.FuncDecl, afd *ast.FuncDecl, d *Directive) *funcShape {
	info := fr.f.pkg.TypesInfo
	ctxType := contextType(fr.f.pkg.Types)
	params := flatten(fd.Type.Params, afd.Type.Params, info)
	results := flatten(fd.Type.Results, afd.Type.Results, info)
	s := &funcShape{}

	ctxParam, reqParam := -1, -1
	for i, p := range params {
		switch {
		case ctxParam < 0 && isContext(p.typ, ctxType):
			ctxParam = i
		case reqParam < 0 && isNamed(p.typ, true, "net/http", "Request"):
			reqParam = i
		}
	}
	var candidates []*param
	for i, p := range params {
		if i == ctxParam || isNamed(p.typ, false, "net/http", "ResponseWriter") || p.name() == "_" {
			continue
		}
		candidates = append(candidates, p)
	}
	if !d.Capture.inputs() {
		candidates = nil
	}
	unnamed := len(params) > 0 && params[0].ident == nil
	if unnamed && (len(candidates) > 0 || ctxParam >= 0 || reqParam >= 0) {
		nameAll(params, paramPrefix)
	}
	renameBlank := func(p *param) {
		if p.name() == "_" {
			p.ident.Name = blankParamPrefix + strconv.Itoa(p.index)
		}
	}
	if len(params) == 2 && len(results) == 0 && reqParam == 1 && isNamed(params[0].typ, false, "net/http", "ResponseWriter") {
		renameBlank(params[0]) // named above if the list was unnamed
		renameBlank(params[1])
		s.writer, s.request = params[0].name(), params[1].name()
		return s
	}
	switch {
	case ctxParam >= 0:
		p := params[ctxParam]
		renameBlank(p)
		s.ctxExpr, s.ctxLHS = p.name(), "_"
		// Shadow the context so calls below nest, unless its type is not
		// context.Context itself, no user code can refer to it, or the
		// function lets its identity show (stores, returns or compares
		// it): there the caller's ctx stays, and calls below still nest
		// through the goroutine's current observation.
		if types.Identical(types.Unalias(p.typ), ctxType) && !strings.HasPrefix(p.name(), paramPrefix) {
			if pos, used := identityUse(afd, fr.injected[afd], info, p); used {
				fr.note(afd, fmt.Sprintf("context %s is not shadowed: line %d uses it as a value (stored, returned or compared), which must stay the caller's; calls below nest through the goroutine's current observation", p.name(), fr.g.fset.Position(pos).Line))
			} else {
				s.ctxLHS = p.name()
			}
		}
	case reqParam >= 0:
		p := params[reqParam]
		renameBlank(p)
		s.request = p.name()
		s.ctxExpr, s.ctxLHS = p.name()+".Context()", ctxVar
	}
	for _, p := range candidates {
		s.inputs = append(s.inputs, p)
		key := p.name()
		if strings.HasPrefix(key, paramPrefix) {
			key = "arg" + strconv.Itoa(p.index)
		}
		s.inputKeys = append(s.inputKeys, key)
	}

	fr.noteUnusedStream(afd, d, results)
	if len(results) > 0 {
		last := results[len(results)-1]
		errType := types.Universe.Lookup("error").Type()
		hasErr := last.typ != nil && types.Identical(last.typ, errType)
		values := results
		if hasErr {
			values = results[:len(results)-1]
			s.errResult = last
		}
		for _, r := range values {
			wrap := fr.streamWrap(afd, d, r)
			switch {
			case wrap != "":
				// Streams are wrapped whatever the capture mode: the
				// observation must last as long as the stream.
				s.streams = append(s.streams, stream{result: r, wrap: wrap})
			case d.Capture.outputs():
				s.outputs = append(s.outputs, r)
			}
		}
		if hasErr || len(s.outputs) > 0 || len(s.streams) > 0 {
			if results[0].ident == nil {
				nameAll(results, resultPrefix)
				fd.Type.Results.Opening, fd.Type.Results.Closing = true, true
			}
			for _, r := range results {
				if r.name() == "_" {
					r.ident.Name = blankResultPrefix + strconv.Itoa(r.index)
				}
			}
		}
	}
	return s
}

// identityUse reports the first place where the body uses parameter p as a
// value whose identity the program may observe: anything but passing it to
// a function (not a builtin or conversion) or selecting a method of it.
// The first injected statements of the body, written by an earlier run,
// are not looked at.
func identityUse(afd *ast.FuncDecl, injected int, info *types.Info, p *param) (token.Pos, bool) {
	obj := info.Defs[astIdent(afd, p)]
	if obj == nil {
		return token.NoPos, false
	}
	var pos token.Pos
	var stack []ast.Node
	inspect := func(n ast.Node) bool {
		if pos.IsValid() {
			return false
		}
		if n == nil {
			stack = stack[:len(stack)-1]
			return false
		}
		if id, ok := n.(*ast.Ident); ok && info.Uses[id] == obj && len(stack) > 0 && !plainUse(info, stack[len(stack)-1], id) {
			pos = id.Pos()
		}
		stack = append(stack, n)
		return true
	}
	for _, st := range afd.Body.List[min(injected, len(afd.Body.List)):] {
		ast.Inspect(st, inspect)
	}
	return pos, pos.IsValid()
}

// plainUse reports whether id, a use of the context parameter, appears in
// parent as a call argument, the operand of a selector or the target of an
// assignment.
func plainUse(info *types.Info, parent ast.Node, id *ast.Ident) bool {
	switch x := parent.(type) {
	case *ast.SelectorExpr:
		return x.X == id
	case *ast.AssignStmt:
		return slices.Contains(x.Lhs, ast.Expr(id)) // a new value, not the caller's
	case *ast.CallExpr:
		if tv, ok := info.Types[x.Fun]; ok && (tv.IsType() || tv.IsBuiltin()) {
			return false
		}
		for _, a := range x.Args {
			if a == id {
				return true
			}
		}
	}
	return false
}

// astIdent is the identifier that declares parameter p in afd, or nil.
func astIdent(afd *ast.FuncDecl, p *param) *ast.Ident {
	i := 0
	for _, f := range afd.Type.Params.List {
		if len(f.Names) == 0 {
			i++
			continue
		}
		for _, n := range f.Names {
			if i == p.index {
				return n
			}
			i++
		}
	}
	return nil
}

// isContext reports whether t is context.Context or implements it.
func isContext(t, ctxType types.Type) bool {
	if t == nil || ctxType == nil {
		return false
	}
	iface, ok := ctxType.Underlying().(*types.Interface)
	return ok && types.Implements(t, iface)
}

// contextType is the named type context.Context, if p depends on it.
func contextType(p *types.Package) types.Type {
	var find func(*types.Package, map[*types.Package]bool) types.Type
	find = func(p *types.Package, seen map[*types.Package]bool) types.Type {
		if seen[p] {
			return nil
		}
		seen[p] = true
		if p.Path() == "context" {
			if obj := p.Scope().Lookup("Context"); obj != nil {
				return obj.Type()
			}
		}
		for _, imp := range p.Imports() {
			if t := find(imp, seen); t != nil {
				return t
			}
		}
		return nil
	}
	return find(p, map[*types.Package]bool{})
}

// isNamed reports whether t is (a pointer to, when ptr) the named type
// path.name.
func isNamed(t types.Type, ptr bool, path, name string) bool {
	if t == nil {
		return false
	}
	t = types.Unalias(t)
	if ptr {
		p, ok := t.(*types.Pointer)
		if !ok {
			return false
		}
		t = types.Unalias(p.Elem())
	}
	n, ok := t.(*types.Named)
	if !ok {
		return false
	}
	obj := n.Obj()
	return obj.Pkg() != nil && obj.Pkg().Path() == path && obj.Name() == name
}

// statements renders the injected statements from a template and converts
// them to dst, with references to the runtime as qualified identifiers so
// the restorer manages the import.
func (fr *fileRewriter) statements(s *funcShape, site string) ([]dst.Stmt, error) {
	var b strings.Builder
	P := pkgPlaceholder
	b.WriteString("package p\n\nfunc _() {\n")
	if s.writer != "" {
		fmt.Fprintf(&b, "%s, %s, %s := %s.Enter(%s, %s, &%s)\n", s.writer, s.request, spanVar, httpPlaceholder, s.writer, s.request, site)
		fmt.Fprintf(&b, "if %s != nil {\n", spanVar)
		writeDeferPanic(&b)
		fmt.Fprintf(&b, "%s.Return(%s, %s)\n}()\n}\n}\n", httpPlaceholder, spanVar, s.writer)
		return parseBody(b.String())
	}
	if s.ctxExpr == "" {
		fmt.Fprintf(&b, "%s := %s.EnterLocal(&%s)\n", spanVar, P, site)
	} else {
		fmt.Fprintf(&b, "%s, %s := %s.Enter(%s, &%s)\n", s.ctxLHS, spanVar, P, s.ctxExpr, site)
	}
	fmt.Fprintf(&b, "if %s != nil {\n", spanVar)
	if s.request != "" {
		fmt.Fprintf(&b, "%s = %s.WithContext(%s)\n", s.request, s.request, ctxVar)
	}
	if len(s.inputs) > 0 {
		fmt.Fprintf(&b, "%s.Inputs(%s)\n", spanVar, values(s.inputs))
	}
	writeDeferPanic(&b)
	for _, st := range s.streams {
		fmt.Fprintf(&b, "%s = %s.%s(%s, %s)\n", st.result.name(), P, st.wrap, spanVar, st.result.name())
	}
	errExpr := "nil"
	if s.errResult != nil {
		errExpr = s.errResult.name()
	}
	if len(s.outputs) > 0 {
		fmt.Fprintf(&b, "%s.Return(%s, %s)\n", spanVar, errExpr, values(s.outputs))
	} else {
		fmt.Fprintf(&b, "%s.Return(%s)\n", spanVar, errExpr)
	}
	b.WriteString("}()\n}\n}\n")
	return parseBody(b.String())
}

// writeDeferPanic opens the deferred function: a panic is recorded, then
// raised again with the same value.
func writeDeferPanic(b *strings.Builder) {
	fmt.Fprintf(b, "defer func() {\nif %s := recover(); %s != nil {\n%s.Panic(%s)\npanic(%s)\n}\n", panicVar, panicVar, spanVar, panicVar, panicVar)
}

// parseBody parses a template holding one function and returns its body.
func parseBody(src string) ([]dst.Stmt, error) {
	f, err := parseTemplate(src)
	if err != nil {
		return nil, err
	}
	return f.Decls[0].(*dst.FuncDecl).Body.List, nil
}

func values(ps []*param) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = capture(p)
	}
	return strings.Join(parts, ", ")
}

// capture is the expression that captures p: a typed constructor for the
// predeclared scalar types, which costs no reflection and no allocation,
// and the generic V for everything else (named types included, which the
// runtime may write in their standard-library form, such as "1.5s" for a
// time.Duration).
func capture(p *param) string {
	ctor := "V"
	if b, ok := types.Unalias(p.typ).(*types.Basic); ok && p.typ != nil {
		switch info := b.Info(); {
		case info&types.IsBoolean != 0:
			ctor = "Bool"
		case info&types.IsString != 0:
			ctor = "String"
		case info&types.IsInteger != 0 && info&types.IsUnsigned != 0:
			ctor = "Uint"
		case info&types.IsInteger != 0:
			ctor = "Int"
		case info&types.IsFloat != 0:
			ctor = "Float"
		}
	}
	return fmt.Sprintf("%s.%s(%s)", pkgPlaceholder, ctor, p.name())
}

// placeholders stand for the generated imports in templates.
var placeholders = map[string]string{pkgPlaceholder: RuntimePath, httpPlaceholder: HTTPPath}

// parseTemplate parses generated source and turns every placeholder.X into
// a reference to the package it stands for.
func parseTemplate(src string) (*dst.File, error) {
	fset := token.NewFileSet()
	af, err := parser.ParseFile(fset, "template.go", src, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	df, err := decorator.NewDecorator(fset).DecorateFile(af)
	if err != nil {
		return nil, err
	}
	dstutil.Apply(df, func(c *dstutil.Cursor) bool {
		sel, ok := c.Node().(*dst.SelectorExpr)
		if !ok {
			return true
		}
		x, ok := sel.X.(*dst.Ident)
		if !ok {
			return true
		}
		if path := placeholders[x.Name]; path != "" {
			id := &dst.Ident{Name: sel.Sel.Name, Path: path}
			id.Decs.NodeDecs = sel.Decs.NodeDecs
			c.Replace(id)
		}
		return true
	}, nil)
	return df, nil
}

// siteName gives a function its site variable, unique in the package.
func (g *packageRewriter) siteName(fd *ast.FuncDecl) string {
	base := fd.Name.Name
	if fd.Recv != nil && len(fd.Recv.List) > 0 {
		base = receiverTypeName(fd.Recv.List[0].Type) + "_" + base
	}
	name := sitePrefix + base
	for n := 2; g.taken[name]; n++ {
		name = sitePrefix + base + "_" + strconv.Itoa(n)
	}
	g.taken[name] = true
	return name
}

// siteSpec is the observation site of an instrumented function.
type siteSpec struct {
	name    string   // variable name
	fields  []string // the Site literal's fields, as source, but Offset
	offset  int      // Site.Offset (in place only)
	oneLine bool     // the body is on one line in the source
}

// src is the site's variable spec, as source.
func (s *siteSpec) src() string {
	fields := s.fields
	if s.offset != 0 {
		fields = append(fields[:len(fields):len(fields)], "Offset: "+strconv.Itoa(s.offset))
	}
	src := fmt.Sprintf("%s = %s.Site{%s}", s.name, pkgPlaceholder, strings.Join(fields, ", "))
	if s.oneLine {
		src += " " + oneLineComment
	}
	return src
}

// addSite adds the site of a function. offset is a guess of Site.Offset,
// which setOffsets corrects.
func (fr *fileRewriter) addSite(site, name string, d *Directive, keys []string, oneLine bool, offset int) {
	fields := []string{
		"Name: " + strconv.Quote(name),
		"Type: " + pkgPlaceholder + "." + observationTypes[d.Type],
	}
	if len(keys) > 0 {
		quoted := make([]string, len(keys))
		for i, k := range keys {
			quoted[i] = strconv.Quote(k)
		}
		fields = append(fields, "Params: []string{"+strings.Join(quoted, ", ")+"}")
	}
	if fr.mapLines {
		offset = 0 // a //line directive maps the Enter call to the func line
	}
	fr.sites = append(fr.sites, &siteSpec{name: site, fields: fields, offset: offset, oneLine: oneLine})
}

// addSites appends the block of site variables to the end of the file, where
// it shifts no line of user code.
func (fr *fileRewriter) addSites() {
	if len(fr.sites) == 0 {
		return
	}
	gd := fr.sitesTemplate()
	fr.sitesDecl = gd
	gd.Decs.Before = dst.EmptyLine
	gd.Decs.Start = dst.Decorations{sitesComment}
	gd.Decs.After = dst.NewLine
	// Comments at the end of the file stay at the end, after the sites.
	if n := len(fr.df.Decls); n > 0 {
		last := fr.df.Decls[n-1].Decorations()
		for i, d := range last.End {
			if d == "\n" {
				gd.Decs.End = append(dst.Decorations(nil), last.End[i:]...)
				last.End = last.End[:i]
				break
			}
		}
	}
	fr.df.Decls = append(fr.df.Decls, gd)
}

// sitesTemplate is the declaration of the site variables.
func (fr *fileRewriter) sitesTemplate() *dst.GenDecl {
	specs := make([]string, len(fr.sites))
	for i, s := range fr.sites {
		specs[i] = s.src()
	}
	src := "package p\n\nvar (\n" + strings.Join(specs, "\n") + "\n)\n"
	df, err := parseTemplate(src)
	if err != nil {
		panic(fmt.Sprintf("site template: %v", err)) // names and literals are generated: a bug
	}
	return df.Decls[0].(*dst.GenDecl)
}

// stripFunc removes the statements an earlier run injected into fd and
// restores its parameter and result names and the layout of its body. It
// returns how many statements it removed, and whether the body was on one
// line.
//
// oneLineSites are the sites whose functions had a one-line body. Files
// instrumented in place by earlier versions carry //line directives instead,
// which tell the layout too: the Enter statement's maps it to the func
// keyword's original line, so sigLines (the lines from the func keyword down
// to the opening brace) below it is the brace's original line; a first
// statement (or, in an empty body, the closing brace) mapped to that line
// was on it.
func stripFunc(fd *dst.FuncDecl, sigLines int, oneLineSites map[string]bool) (int, bool) {
	if fd.Body == nil || len(fd.Body.List) == 0 || !isEnter(fd.Body.List[0]) {
		return 0, false
	}
	oneLine := oneLineSites[enterSite(fd.Body.List[0])]
	n := 1
	if len(fd.Body.List) > 1 && isSpanCheck(fd.Body.List[1]) {
		n = 2
	}
	lbraceLine := -1 // the original line of the brace, in a file of an earlier version
	for _, d := range fd.Body.List[0].Decorations().Start {
		if line, ok := directiveLine(d); ok {
			lbraceLine = line + sigLines
			break
		}
	}
	onBraceLine := func(d string) {
		if line, ok := directiveLine(d); ok && lbraceLine >= 0 {
			oneLine = line == lbraceLine
		}
	}
	if end := fd.Body.List[n-1].Decorations().End; len(end) > 0 {
		// The directive of the closing brace of an empty body, or of
		// the first statement.
		onBraceLine(end[len(end)-1])
	}
	// The comments after the brace were printed before the injected code;
	// read back, those right above it, or after an empty line, are the
	// Enter statement's: give them back to the brace. (Files instrumented
	// by earlier versions have a //line directive there, after an empty
	// line of the generator's own.)
	if enter := fd.Body.List[0].Decorations(); len(enter.Start) > 0 || enter.Before == dst.EmptyLine {
		comments := slices.DeleteFunc(slices.Clone(enter.Start), isLineDirective)
		blank := enter.Before == dst.EmptyLine && len(comments) == len(enter.Start)
		if len(comments) > 0 || blank {
			fd.Body.Decs.Lbrace = joinComments(fd.Body.Decs.Lbrace, blank, comments)
		}
	}
	fd.Body.List = fd.Body.List[n:]
	stripGoroutines(fd.Body)
	if len(fd.Body.List) > 0 {
		decs := fd.Body.List[0].Decorations()
		if len(decs.Start) > 0 && isLineDirective(decs.Start[0]) {
			onBraceLine(decs.Start[0])
			decs.Start = decs.Start[1:]
		}
		last := fd.Body.List[len(fd.Body.List)-1].Decorations()
		if k := len(last.End); k >= 2 && last.End[k-2] == "\n" && isLineDirective(last.End[k-1]) {
			last.End = last.End[:k-2]
		}
	}
	lbrace := &fd.Body.Decs.Lbrace
	switch {
	case oneLine:
		// Back on the brace's line: no line breaks between the braces.
		*lbrace = slices.DeleteFunc(*lbrace, func(d string) bool { return d == "\n" })
		for _, st := range fd.Body.List {
			st.Decorations().Before, st.Decorations().After = dst.None, dst.None
		}
	case len(fd.Body.List) > 0:
	case len(*lbrace) == 0:
		*lbrace = dst.Decorations{"\n"} // {\n}, not {}
	case strings.HasPrefix((*lbrace)[len(*lbrace)-1], "/*"):
		lbrace.Append("\n") // the closing brace goes on the next line
	}
	restoreNames(fd.Type.Params, paramPrefix, blankParamPrefix)
	if restoreNames(fd.Type.Results, resultPrefix, blankResultPrefix) {
		fd.Type.Results.Opening = len(fd.Type.Results.List) > 1
		fd.Type.Results.Closing = fd.Type.Results.Opening
	}
	return n, oneLine
}

// joinComments appends the decorations b (read before a statement on a line
// of its own) to a (after an opening brace), with an empty line between them
// when blank, the way dst decorates a brace followed by comments: "\n" after
// the brace starts a new line, a line comment ends its line and another "\n"
// after it makes an empty line, a block comment needs a "\n" to end its
// line.
func joinComments(a dst.Decorations, blank bool, b dst.Decorations) dst.Decorations {
	out := append(dst.Decorations(nil), a...)
	if len(out) == 0 {
		out = append(out, "\n")
	} else if strings.HasPrefix(out[len(out)-1], "/*") {
		out = append(out, "\n") // end the line of the block comment
	}
	if blank {
		out = append(out, "\n")
	}
	return append(out, b...)
}

// enterSite is the name of the site variable the generated Enter call s
// passes, or "".
func enterSite(s dst.Stmt) string {
	as, ok := s.(*dst.AssignStmt)
	if !ok || len(as.Rhs) != 1 {
		return ""
	}
	call, ok := as.Rhs[0].(*dst.CallExpr)
	if !ok || len(call.Args) == 0 {
		return ""
	}
	if u, ok := call.Args[len(call.Args)-1].(*dst.UnaryExpr); ok && u.Op == token.AND {
		if id, ok := u.X.(*dst.Ident); ok {
			return id.Name
		}
	}
	return ""
}

// restoreNames undoes the naming of parameters or results, reporting
// whether the list became unnamed.
func restoreNames(fl *dst.FieldList, unnamedPrefix, blankPrefix string) bool {
	if fl == nil {
		return false
	}
	unnamed := false
	for _, f := range fl.List {
		for _, id := range f.Names {
			if strings.HasPrefix(id.Name, blankPrefix) {
				id.Name = "_"
			}
		}
		if len(f.Names) == 1 && strings.HasPrefix(f.Names[0].Name, unnamedPrefix) {
			f.Names = nil
			unnamed = true
		}
	}
	return unnamed
}

// directiveLine parses the line of a generated //line directive.
func directiveLine(text string) (int, bool) {
	m := generatedLineDirective.FindStringSubmatch(text)
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(m[2])
	return n, err == nil
}

func isEnter(s dst.Stmt) bool {
	as, ok := s.(*dst.AssignStmt)
	if !ok || len(as.Rhs) != 1 || len(as.Lhs) == 0 {
		return false
	}
	if id, ok := as.Lhs[len(as.Lhs)-1].(*dst.Ident); !ok || id.Name != spanVar {
		return false
	}
	call, ok := as.Rhs[0].(*dst.CallExpr)
	if !ok {
		return false
	}
	fn, ok := call.Fun.(*dst.Ident)
	return ok && (fn.Path == RuntimePath && (fn.Name == "Enter" || fn.Name == "EnterLocal") || fn.Path == HTTPPath && fn.Name == "Enter")
}

func isSpanCheck(s dst.Stmt) bool {
	is, ok := s.(*dst.IfStmt)
	if !ok || is.Init != nil {
		return false
	}
	be, ok := is.Cond.(*dst.BinaryExpr)
	if !ok || be.Op != token.NEQ {
		return false
	}
	id, ok := be.X.(*dst.Ident)
	return ok && id.Name == spanVar
}

// stripSites removes the block of site variables, handing the comments
// that followed it back to the declaration before it.
func stripSites(df *dst.File) {
	decls := df.Decls[:0]
	for _, decl := range df.Decls {
		if gd, ok := decl.(*dst.GenDecl); ok && gd.Tok == token.VAR && isSitesDecl(gd) {
			if len(decls) > 0 && len(gd.Decs.End) > 0 {
				prev := decls[len(decls)-1].Decorations()
				prev.End = append(prev.End, gd.Decs.End...)
			}
			continue
		}
		decls = append(decls, decl)
	}
	df.Decls = decls
}

// oneLineSites lists the sites in the block of site variables that say
// their function's body was on one line.
func oneLineSites(df *dst.File) map[string]bool {
	m := map[string]bool{}
	for _, decl := range df.Decls {
		if gd, ok := decl.(*dst.GenDecl); ok && gd.Tok == token.VAR && isSitesDecl(gd) {
			for _, s := range gd.Specs {
				vs := s.(*dst.ValueSpec)
				if slices.Contains(vs.Decs.End, oneLineComment) {
					m[vs.Names[0].Name] = true
				}
			}
		}
	}
	return m
}

func isSitesDecl(gd *dst.GenDecl) bool {
	if len(gd.Specs) == 0 {
		return false
	}
	for _, s := range gd.Specs {
		vs, ok := s.(*dst.ValueSpec)
		if !ok || len(vs.Names) != 1 || !strings.HasPrefix(vs.Names[0].Name, sitePrefix) {
			return false
		}
	}
	return true
}
