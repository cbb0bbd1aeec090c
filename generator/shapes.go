package generator

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"slices"
	"strconv"
	"strings"

	"github.com/dave/dst"
)

// Function shapes. shape analyses the signature of a marked function: which
// parameter carries the context (a context.Context, or the *http.Request of
// a handler), which parameters are captured as inputs, which results are
// outputs, streams or the error, and which unnamed or blank parameters and
// results must get generated names so the injected code can refer to them.

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
