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

// stream is a result the runtime wraps so the observation lasts until the
// stream ends: a receive-only channel, an iter.Seq or an iter.Seq2.
type stream struct {
	result *param
	wrap   string // runtime function: Chan, Seq or Seq2
}

// streamWrapper names the runtime function that wraps a result of type t,
// or "" when t is not a stream. Bidirectional and send-only channels are not
// wrapped: the caller may send on them, which a forwarding copy would break.
func streamWrapper(t types.Type) (wrap, note string) {
	if t == nil {
		return "", ""
	}
	if isNamed(t, false, "iter", "Seq") {
		return "Seq", ""
	}
	if isNamed(t, false, "iter", "Seq2") {
		return "Seq2", ""
	}
	if ch, ok := t.Underlying().(*types.Chan); ok {
		if ch.Dir() == types.RecvOnly {
			return "Chan", ""
		}
		return "", "channel result of type " + t.String() + " is not wrapped (only receive-only channels are); the observation ends when the function returns"
	}
	return "", ""
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
	first := fr.g.fset.Position(afd.Type.Func).Line
	stmts[0].Decorations().Before = dst.NewLine
	if hasOwnLineComment(fd.Body.Decs.Lbrace) {
		// Keep the brace's comments apart from the injected code, so a
		// later run still sees them as the brace's.
		stmts[0].Decorations().Before = dst.EmptyLine
	}
	stmts[0].Decorations().Start.Prepend(fr.lineDirective(first))
	if len(fd.Body.List) > 0 {
		next := fd.Body.List[0].Decorations()
		next.Start.Prepend(fr.lineDirective(fr.firstUserLine(afd)))
		rbrace := fr.g.fset.Position(afd.Body.Rbrace).Line
		if fr.g.fset.Position(afd.Body.Lbrace).Line == rbrace {
			// A one-line body now spans lines: map its closing brace back.
			last := fd.Body.List[len(fd.Body.List)-1].Decorations()
			last.End.Append("\n", fr.lineDirective(rbrace))
		}
	} else {
		// An empty body: map the closing brace back to its line.
		last := stmts[len(stmts)-1].Decorations()
		last.End.Append("\n", fr.lineDirective(fr.g.fset.Position(afd.Body.Rbrace).Line))
	}
	fr.handOverGoroutines(afd)
	fd.Body.List = append(stmts, fd.Body.List...)
	fr.addSite(site, name, d, shape.inputKeys)
	return nil
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

// handOverGoroutines rewrites every go statement in the body, go f(x) to
// go fluxloop.Follow(f)(x), so that the new goroutine's observations nest
// under the one current where the go statement runs. The go statement still
// evaluates f and x, in that order, before the goroutine starts.
func (fr *fileRewriter) handOverGoroutines(afd *ast.FuncDecl) {
	info := fr.f.pkg.TypesInfo
	ast.Inspect(afd.Body, func(n ast.Node) bool {
		gs, ok := n.(*ast.GoStmt)
		if !ok {
			return true
		}
		fun := gs.Call.Fun
		if inner := followArg(gs.Call.Fun); inner != nil {
			fun = inner // instrumented by an earlier run
		}
		dgs, ok := fr.dec.Dst.Nodes[gs].(*dst.GoStmt)
		if !ok {
			return true
		}
		if id := calleeIdent(fun); id != nil {
			switch obj := info.Uses[id].(type) {
			case *types.Builtin:
				fr.note(afd, "go statement calling the builtin "+obj.Name()+" is not handed over")
				return true
			case *types.Func:
				if sig, ok := obj.Type().(*types.Signature); ok && sig.TypeParams().Len() > 0 && !isIndexed(fun) {
					fr.note(afd, "go statement calling the generic function "+obj.Name()+" without explicit type arguments is not handed over; write "+obj.Name()+"[...]( ) to have it followed")
					return true
				}
			}
		}
		dgs.Call.Fun = &dst.CallExpr{
			Fun:  &dst.Ident{Name: "Follow", Path: RuntimePath},
			Args: []dst.Expr{dgs.Call.Fun},
		}
		return true
	})
}

// followArg returns f when e is fluxloop.Follow(f), as written by the
// generator.
func followArg(e ast.Expr) ast.Expr {
	call, ok := e.(*ast.CallExpr)
	if !ok || len(call.Args) != 1 {
		return nil
	}
	if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Follow" {
		return call.Args[0]
	}
	return nil
}

// calleeIdent is the identifier naming the function a call expression calls,
// if any: f, pkg.f or x.m (the m), with explicit instantiations unwrapped.
func calleeIdent(e ast.Expr) *ast.Ident {
	for {
		switch x := e.(type) {
		case *ast.ParenExpr:
			e = x.X
		case *ast.IndexExpr:
			e = x.X
		case *ast.IndexListExpr:
			e = x.X
		case *ast.SelectorExpr:
			return x.Sel
		case *ast.Ident:
			return x
		default:
			return nil
		}
	}
}

func isIndexed(e ast.Expr) bool {
	for {
		switch x := e.(type) {
		case *ast.ParenExpr:
			e = x.X
		case *ast.IndexExpr, *ast.IndexListExpr:
			return true
		default:
			return false
		}
	}
}

// stripGoroutines undoes handOverGoroutines.
func stripGoroutines(body *dst.BlockStmt) {
	dst.Inspect(body, func(n dst.Node) bool {
		gs, ok := n.(*dst.GoStmt)
		if !ok {
			return true
		}
		if call, ok := gs.Call.Fun.(*dst.CallExpr); ok && len(call.Args) == 1 {
			if id, ok := call.Fun.(*dst.Ident); ok && id.Path == RuntimePath && id.Name == "Follow" {
				gs.Call.Fun = call.Args[0]
			}
		}
		return true
	})
}

// lineDirective maps the next line to line. In place, the directive names
// no file ("//line :N:1" keeps the file's own name, which also keeps the
// source portable); in an overlay the compiled file is a copy, so the
// directive names the source file.
func (fr *fileRewriter) lineDirective(line int) string {
	if fr.g.opts.AbsLineDirectives {
		return fmt.Sprintf("//line %s:%d:1", fr.f.path, line)
	}
	return fmt.Sprintf("//line :%d:1", line)
}

// generatedLineDirective matches the directives lineDirective writes.
var generatedLineDirective = regexp.MustCompile(`^//line (.*):([0-9]+):1$`)

func isLineDirective(text string) bool { return generatedLineDirective.MatchString(text) }

// firstUserLine is the original line of the first thing in the body after
// the injected statements: the first statement, or the comment group right
// above it, which dst keeps with the statement. (A comment group after the
// brace that is followed by an empty line stays with the brace instead, and
// is printed before the injected statements.)
func (fr *fileRewriter) firstUserLine(afd *ast.FuncDecl) int {
	stmt := afd.Body.List[fr.injected[afd]]
	fset := fr.g.fset
	stmtLine := fset.PositionFor(stmt.Pos(), false).Line
	pos := stmt.Pos()
	for _, cg := range fr.f.ast.Comments {
		if cg.Pos() >= stmt.Pos() {
			break
		}
		if cg.Pos() <= afd.Body.Lbrace || fset.PositionFor(cg.End(), false).Line != stmtLine-1 ||
			fset.PositionFor(cg.Pos(), false).Line == fset.PositionFor(afd.Body.Lbrace, false).Line {
			continue // not right above the statement, or on the brace's line
		}
		for _, c := range cg.List {
			if !strings.HasPrefix(c.Text, "//line ") {
				pos = c.Pos()
				break
			}
		}
	}
	return fset.Position(pos).Line
}

// hasOwnLineComment reports whether decorations hold a comment on a line of
// its own (after a newline), as the decorations after an opening brace do
// when a comment group there is followed by an empty line.
func hasOwnLineComment(decs dst.Decorations) bool {
	newline := false
	for _, d := range decs {
		if d == "\n" {
			newline = true
		} else if newline && (strings.HasPrefix(d, "//") || strings.HasPrefix(d, "/*")) {
			return true
		}
	}
	return false
}

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
		// context.Context itself or no user code can refer to it.
		if types.Identical(types.Unalias(p.typ), ctxType) && !strings.HasPrefix(p.name(), paramPrefix) {
			s.ctxLHS = p.name()
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
			wrap, note := streamWrapper(r.typ)
			if note != "" {
				fr.note(afd, note)
			}
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
		parts[i] = fmt.Sprintf("%s.V(%s)", pkgPlaceholder, p.name())
	}
	return strings.Join(parts, ", ")
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

func (fr *fileRewriter) addSite(site, name string, d *Directive, keys []string) {
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
	fr.sites = append(fr.sites, fmt.Sprintf("%s = %s.Site{%s}", site, pkgPlaceholder, strings.Join(fields, ", ")))
}

// addSites appends the block of site variables to the end of the file, where
// it shifts no line of user code.
func (fr *fileRewriter) addSites() {
	if len(fr.sites) == 0 {
		return
	}
	src := "package p\n\nvar (\n" + strings.Join(fr.sites, "\n") + "\n)\n"
	df, err := parseTemplate(src)
	if err != nil {
		panic(fmt.Sprintf("site template: %v", err)) // names and literals are generated: a bug
	}
	gd := df.Decls[0].(*dst.GenDecl)
	gd.Decs.Before = dst.EmptyLine
	gd.Decs.Start = dst.Decorations{sitesComment}
	if fr.perDecl {
		gd.Decs.Start = dst.Decorations{perDeclComment}
	}
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

// stripFunc removes the statements an earlier run injected into fd and
// restores its parameter and result names. It returns how many statements
// it removed.
//
// lbraceLine is the original line of the body's opening brace: a first
// statement that the generator mapped to that line was on it.
func stripFunc(fd *dst.FuncDecl, lbraceLine int) int {
	if fd.Body == nil || len(fd.Body.List) == 0 || !isEnter(fd.Body.List[0]) {
		return 0
	}
	n := 1
	if len(fd.Body.List) > 1 && isSpanCheck(fd.Body.List[1]) {
		n = 2
	}
	if len(fd.Body.List) == n {
		// The body was empty; the directive after the injected code maps
		// the closing brace to its original line, which tells {} from {\n}.
		end := fd.Body.List[n-1].Decorations().End
		if k := len(end); k > 0 && len(fd.Body.Decs.Lbrace) == 0 {
			if line, ok := directiveLine(end[k-1]); ok && line > lbraceLine {
				fd.Body.Decs.Lbrace = dst.Decorations{"\n"}
			}
		}
	}
	fd.Body.List = fd.Body.List[n:]
	stripGoroutines(fd.Body)
	if len(fd.Body.List) > 0 {
		decs := fd.Body.List[0].Decorations()
		if len(decs.Start) > 0 && isLineDirective(decs.Start[0]) {
			if line, ok := directiveLine(decs.Start[0]); ok && line == lbraceLine && len(fd.Body.List) == 1 {
				// The statement was on the brace's line: a one-line body.
				decs.Before, decs.After = dst.None, dst.None
			}
			decs.Start = decs.Start[1:]
		}
		last := fd.Body.List[len(fd.Body.List)-1].Decorations()
		if k := len(last.End); k >= 2 && last.End[k-2] == "\n" && isLineDirective(last.End[k-1]) {
			last.End = last.End[:k-2]
		}
	}
	restoreNames(fd.Type.Params, paramPrefix, blankParamPrefix)
	if restoreNames(fd.Type.Results, resultPrefix, blankResultPrefix) {
		fd.Type.Results.Opening = len(fd.Type.Results.List) > 1
		fd.Type.Results.Closing = fd.Type.Results.Opening
	}
	return n
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
// that followed it back to the declaration before it. It reports whether the
// block said that every declaration was mapped (see mapEveryDecl).
func stripSites(df *dst.File) (perDecl bool) {
	decls := df.Decls[:0]
	for _, decl := range df.Decls {
		if gd, ok := decl.(*dst.GenDecl); ok && gd.Tok == token.VAR && isSitesDecl(gd) {
			perDecl = slices.Contains(gd.Decs.Start, perDeclComment)
			if len(decls) > 0 && len(gd.Decs.End) > 0 {
				prev := decls[len(decls)-1].Decorations()
				prev.End = append(prev.End, gd.Decs.End...)
			}
			continue
		}
		decls = append(decls, decl)
	}
	df.Decls = decls
	return perDecl
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
