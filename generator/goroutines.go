package generator

import (
	"fmt"
	"go/ast"
	"go/types"
	"strconv"

	"github.com/dave/dst"
)

// Goroutines. In a traced function (and the function literals in it), the
// generator hands the current observation over to the goroutines it starts:
//
//   - go f(x, y) becomes go fluxloop.Follow2(f)(x, y), with the runtime's
//     typed helper for f's signature (followHelper), or the reflective
//     fluxloop.Follow beyond the typed helpers' range. The go statement
//     still evaluates f, then the arguments, in the calling goroutine.
//   - wg.Go(f) of a sync.WaitGroup becomes wg.Go(fluxloop.Bind(f)), and
//     g.Go(f) or g.TryGo(f) of a golang.org/x/sync/errgroup.Group becomes
//     g.Go(fluxloop.BindErr(f)) or g.TryGo(fluxloop.BindErr(f)); the
//     methods are recognized from their type-checked objects.
//
// Every rewrite adds exactly one call around what was there, and
// stripGoroutines removes exactly one, so a second run and -remove give the
// same source back even when the user wrote such a call by hand.

// The typed helpers of the runtime (runtime/follow_gen.go, written by
// runtime/internal/genfollow) cover functions of up to maxFollowParams
// parameters and maxFollowResults results.
const (
	maxFollowParams  = 6
	maxFollowResults = 3
)

// followName is the name of the runtime's typed Follow helper for a
// function of n parameters (the last one variadic when variadic) and m
// results: Follow, n, V when variadic, then R and m when m > 0.
func followName(n, m int, variadic bool) string {
	s := "Follow" + strconv.Itoa(n)
	if variadic {
		s += "V"
	}
	if m > 0 {
		s += "R" + strconv.Itoa(m)
	}
	return s
}

// followNames holds every name of the Follow family: Follow and the typed
// helpers.
var followNames = func() map[string]bool {
	names := map[string]bool{"Follow": true}
	for n := 0; n <= maxFollowParams; n++ {
		for m := 0; m <= maxFollowResults; m++ {
			names[followName(n, m, false)] = true
			if n > 0 {
				names[followName(n, m, true)] = true
			}
		}
	}
	return names
}()

// followHelper names the runtime helper for a go statement calling a
// function of type t, with a note when it is the reflective Follow.
func followHelper(t types.Type) (name, note string) {
	if t == nil {
		return "Follow", ""
	}
	if _, ok := types.Unalias(t).(*types.TypeParam); ok {
		return "Follow", "the function's type is a type parameter"
	}
	sig, ok := t.Underlying().(*types.Signature)
	if !ok {
		return "Follow", ""
	}
	n, m := sig.Params().Len(), sig.Results().Len()
	if n > maxFollowParams || m > maxFollowResults {
		return "Follow", fmt.Sprintf("it has %d parameters and %d results; the typed helpers go up to %d and %d", n, m, maxFollowParams, maxFollowResults)
	}
	return followName(n, m, sig.Variadic()), ""
}

// handOverGoroutines rewrites the go statements and the WaitGroup and
// errgroup Go calls of the body (see the notes above).
func (fr *fileRewriter) handOverGoroutines(afd *ast.FuncDecl) {
	ast.Inspect(afd.Body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.GoStmt:
			fr.handOverGo(afd, n)
		case *ast.CallExpr:
			fr.bindGroupCall(afd, n)
		}
		return true
	})
}

// handOverGo rewrites go f(x) to go fluxloop.FollowN(f)(x).
func (fr *fileRewriter) handOverGo(afd *ast.FuncDecl, gs *ast.GoStmt) {
	info := fr.f.pkg.TypesInfo
	fun := fr.generatedArg(afd, gs.Call.Fun, isFollowName)
	dgs, ok := fr.dec.Dst.Nodes[gs].(*dst.GoStmt)
	if !ok {
		return
	}
	if id := calleeIdent(fun); id != nil {
		switch obj := info.Uses[id].(type) {
		case *types.Builtin:
			fr.note(afd, "go statement calling the builtin "+obj.Name()+" is not handed over")
			return
		case *types.Func:
			if sig, ok := obj.Type().(*types.Signature); ok && sig.TypeParams().Len() > 0 && !isIndexed(fun) {
				fr.note(afd, "go statement calling the generic function "+obj.Name()+" without explicit type arguments is not handed over; write "+obj.Name()+"[...]( ) to have it followed")
				return
			}
		}
	}
	helper, why := followHelper(info.TypeOf(fun))
	if why != "" {
		line := fr.g.fset.Position(gs.Go).Line
		fr.note(afd, fmt.Sprintf("go statement at line %d is handed over with the reflective fluxloop.Follow (a few microseconds): %s", line, why))
	}
	dgs.Call.Fun = &dst.CallExpr{
		Fun:  &dst.Ident{Name: helper, Path: RuntimePath},
		Args: []dst.Expr{dgs.Call.Fun},
	}
}

// bindGroupCall rewrites wg.Go(f) to wg.Go(fluxloop.Bind(f)) and g.Go(f),
// g.TryGo(f) to g.Go(fluxloop.BindErr(f)), g.TryGo(fluxloop.BindErr(f)).
func (fr *fileRewriter) bindGroupCall(afd *ast.FuncDecl, call *ast.CallExpr) {
	if len(call.Args) != 1 || call.Ellipsis.IsValid() {
		return
	}
	info := fr.f.pkg.TypesInfo
	fun := fr.generatedArg(afd, call.Fun, isFollowName) // go wg.Go(f), handed over by an earlier run
	sel, ok := ast.Unparen(fun).(*ast.SelectorExpr)
	if !ok {
		return
	}
	selection := info.Selections[sel]
	if selection == nil {
		return // a qualified identifier, pkg.Go
	}
	dcall, ok := fr.dec.Dst.Nodes[call].(*dst.CallExpr)
	if !ok {
		return
	}
	binder := ""
	if fn, ok := selection.Obj().(*types.Func); ok && selection.Kind() == types.MethodVal {
		binder = groupBinder(fn)
	}
	if binder == "" {
		// Not a group's method. The stripper cannot tell the methods
		// apart (it has no types), and removes one Bind from every
		// x.Go(fluxloop.Bind(f)): a call the user wrapped by hand gets
		// one more, which it removes again.
		if sel.Sel.Name != "Go" && sel.Sel.Name != "TryGo" {
			return
		}
		inner, ok := dcall.Args[0].(*dst.CallExpr)
		if !ok {
			return
		}
		binder = bindName(inner)
		if binder == "" {
			return
		}
	}
	dcall.Args[0] = &dst.CallExpr{
		Fun:  &dst.Ident{Name: binder, Path: RuntimePath},
		Args: []dst.Expr{dcall.Args[0]},
	}
}

// groupBinder names the runtime function that binds the function passed to
// fn, when fn is sync.WaitGroup.Go ("Bind") or errgroup.Group's Go or TryGo
// ("BindErr"), and is "" for every other function.
func groupBinder(fn *types.Func) string {
	sig, ok := fn.Type().(*types.Signature)
	if !ok || sig.Recv() == nil || sig.Params().Len() != 1 || sig.Variadic() {
		return ""
	}
	recv := types.Unalias(sig.Recv().Type())
	if p, ok := recv.(*types.Pointer); ok {
		recv = types.Unalias(p.Elem())
	}
	named, ok := recv.(*types.Named)
	if !ok || named.Obj().Pkg() == nil {
		return ""
	}
	path, typeName := named.Obj().Pkg().Path(), named.Obj().Name()
	param, ok := types.Unalias(sig.Params().At(0).Type()).(*types.Signature)
	if !ok || param.Params().Len() != 0 || param.Variadic() {
		return ""
	}
	errType := types.Universe.Lookup("error").Type()
	switch {
	case path == "sync" && typeName == "WaitGroup" && fn.Name() == "Go" && param.Results().Len() == 0:
		return "Bind"
	case path == "golang.org/x/sync/errgroup" && typeName == "Group" && (fn.Name() == "Go" || fn.Name() == "TryGo") &&
		param.Results().Len() == 1 && types.Identical(param.Results().At(0).Type(), errType):
		return "BindErr"
	}
	return ""
}

func isFollowName(name string) bool { return followNames[name] }

func isBindName(name string) bool { return name == "Bind" || name == "BindErr" }

// bindName is the name of the runtime's Bind or BindErr when call calls it
// with one argument, else "".
func bindName(call *dst.CallExpr) string {
	if id, ok := call.Fun.(*dst.Ident); ok && id.Path == RuntimePath && isBindName(id.Name) && len(call.Args) == 1 {
		return id.Name
	}
	return ""
}

// generatedArg returns f when e is a call of the runtime function fluxloop.X(f)
// with is(X) that an earlier run wrapped around f, and e otherwise. Only
// functions that an earlier run instrumented have such calls.
func (fr *fileRewriter) generatedArg(afd *ast.FuncDecl, e ast.Expr, is func(string) bool) ast.Expr {
	if fr.injected[afd] == 0 {
		return e
	}
	call, ok := e.(*ast.CallExpr)
	if !ok || len(call.Args) != 1 {
		return e
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok || !is(sel.Sel.Name) {
		return e
	}
	x, ok := sel.X.(*ast.Ident)
	if !ok {
		return e
	}
	if pn, ok := fr.f.pkg.TypesInfo.Uses[x].(*types.PkgName); ok && pn.Imported().Path() == RuntimePath {
		return call.Args[0]
	}
	return e
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

// stripGoroutines undoes handOverGoroutines: it removes one Follow call from
// every go statement that has one, and one Bind or BindErr call from every
// x.Go(...) and x.TryGo(...) call whose argument is one.
func stripGoroutines(body *dst.BlockStmt) {
	dst.Inspect(body, func(n dst.Node) bool {
		switch n := n.(type) {
		case *dst.GoStmt:
			if call, ok := n.Call.Fun.(*dst.CallExpr); ok && len(call.Args) == 1 {
				if id, ok := call.Fun.(*dst.Ident); ok && id.Path == RuntimePath && isFollowName(id.Name) {
					n.Call.Fun = call.Args[0]
				}
			}
		case *dst.CallExpr:
			sel, ok := unparenDst(n.Fun).(*dst.SelectorExpr)
			if !ok || len(n.Args) != 1 || (sel.Sel.Name != "Go" && sel.Sel.Name != "TryGo") {
				return true
			}
			if inner, ok := n.Args[0].(*dst.CallExpr); ok && bindName(inner) != "" {
				n.Args[0] = inner.Args[0]
			}
		}
		return true
	})
}

func unparenDst(e dst.Expr) dst.Expr {
	for {
		p, ok := e.(*dst.ParenExpr)
		if !ok {
			return e
		}
		e = p.X
	}
}
