package generator

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"slices"
	"strconv"
	"strings"
)

// Streams. A traced function returning a stream keeps its observation open
// until the stream ends: the generated defer wraps the result with the
// runtime's Chan, Seq or Seq2. Wrapping must not change the program:
//
//   - An iterator (iter.Seq, iter.Seq2) is wrapped by default. The wrapper
//     is transparent: ranging over it ranges over the original once, with
//     the same values and the same early stop, on the consumer's goroutine.
//     Its one effect is that the observation stays open until the iterator
//     is ranged over (or Shutdown ends it, flagged stream_abandoned).
//   - A receive-only channel is forwarded by a goroutine to a new channel,
//     which is only right for a channel the function owns: wrapping a
//     channel that someone else also receives from (time.Timer.C, ctx.Done,
//     a field returned by an accessor) would make each call start a
//     forwarder that steals values from the others. So a channel result is
//     wrapped only when every return path returns a channel made in the
//     function itself (see madeHere).
//   - Bidirectional and send-only channels are never wrapped: the caller may
//     send on them.
//
// The directive's stream=true wraps every receive-only channel and iterator
// result; stream=false wraps none.

// stream is a result the runtime wraps so the observation lasts until the
// stream ends.
type stream struct {
	result *param
	wrap   string // runtime function: Chan, Seq or Seq2
}

// streamWrapper names the runtime function that wraps a result of type t,
// or "" when t is not a stream; unwrappable is set for the channel types
// that are never wrapped (bidirectional and send-only).
func streamWrapper(t types.Type) (wrap string, unwrappable bool) {
	if t == nil {
		return "", false
	}
	if isNamed(t, false, "iter", "Seq") {
		return "Seq", false
	}
	if isNamed(t, false, "iter", "Seq2") {
		return "Seq2", false
	}
	if ch, ok := t.Underlying().(*types.Chan); ok {
		if ch.Dir() == types.RecvOnly {
			return "Chan", false
		}
		return "", true
	}
	return "", false
}

// streamWrap decides whether result r of the function is wrapped as a
// stream, says why under -v, and returns the runtime function wrapping it
// ("" for none).
func (fr *fileRewriter) streamWrap(afd *ast.FuncDecl, d *Directive, r *param) string {
	wrap, unwrappable := streamWrapper(r.typ)
	if wrap == "" && !unwrappable {
		return ""
	}
	what := fmt.Sprintf("result %d (%s)", r.index, fr.typeString(r.typ))
	switch {
	case unwrappable:
		fr.note(afd, what+" not wrapped: only receive-only channels are (the caller may send on it); the observation ends when the function returns")
		return ""
	case d.Stream == StreamOff:
		fr.note(afd, what+" not wrapped: stream=false")
		return ""
	case d.Stream == StreamOn:
		fr.note(afd, what+" wrapped as a stream: stream=true")
		return wrap
	case wrap != "Chan":
		fr.note(afd, what+" wrapped as a stream: an iterator is wrapped transparently (ranged once, same values, same early stop); the observation stays open until it is ranged over or Shutdown")
		return wrap
	}
	lines, ok := fr.madeHere(afd, r)
	if !ok {
		fr.note(afd, what+" not wrapped: the returned channel is not made in this function (it may be shared, like time.Timer.C); add stream=true to wrap it")
		return ""
	}
	at := "at line " + strconv.Itoa(lines[0])
	if len(lines) > 1 {
		strs := make([]string, len(lines))
		for i, l := range lines {
			strs[i] = strconv.Itoa(l)
		}
		at = "at lines " + strings.Join(strs, ", ")
	}
	fr.note(afd, what+" wrapped as a stream: the channel is made here "+at)
	return wrap
}

// noteUnusedStream says when a stream= option has nothing to act on.
func (fr *fileRewriter) noteUnusedStream(afd *ast.FuncDecl, d *Directive, results []*param) {
	if d.Stream == StreamAuto {
		return
	}
	for _, r := range results {
		if wrap, unwrappable := streamWrapper(r.typ); wrap != "" || unwrappable {
			return
		}
	}
	fr.note(afd, "stream="+string(d.Stream)+" has no effect: no result is a receive-only channel, iter.Seq or iter.Seq2")
}

// typeString writes t with package names, leaving the function's own
// package out.
func (fr *fileRewriter) typeString(t types.Type) string {
	own := fr.f.pkg.Types
	return types.TypeString(t, func(p *types.Package) string {
		if p == own {
			return ""
		}
		return p.Name()
	})
}

// madeHere reports whether every return path of afd returns, as result r,
// a channel made in the function body, and the lines of those makes. A
// value is made here when it is a make(chan ...) expression (through
// parentheses and conversions), or a variable declared in the body (or the
// named result r) whose every assignment in the function, function literals
// included, is such an expression, and whose address is never taken. The
// statements an earlier run injected are left out. Objects come from the
// type checker, so shadowing and closures are seen as the compiler sees
// them.
func (fr *fileRewriter) madeHere(afd *ast.FuncDecl, r *param) (lines []int, ok bool) {
	info := fr.f.pkg.TypesInfo
	fn, _ := info.Defs[afd.Name].(*types.Func)
	if fn == nil || afd.Body == nil {
		return nil, false
	}
	sig := fn.Type().(*types.Signature)
	if r.index >= sig.Results().Len() {
		return nil, false
	}
	result := sig.Results().At(r.index)
	body := afd.Body.List[min(fr.injected[afd], len(afd.Body.List)):]

	o := &ownership{info: info, fset: fr.g.fset, result: result, assigned: map[*types.Var][]ast.Expr{}, declared: map[*types.Var]bool{}, escaped: map[*types.Var]bool{}}
	var returns []*ast.ReturnStmt
	for _, st := range body {
		ast.Inspect(st, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.FuncLit:
				return false // its returns are not the function's
			case *ast.ReturnStmt:
				returns = append(returns, n)
			}
			return true
		})
		ast.Inspect(st, o.collect)
	}
	if len(returns) == 0 {
		return nil, false
	}
	nres := sig.Results().Len()
	for _, ret := range returns {
		var l []int
		switch {
		case len(ret.Results) == 0: // a bare return: the named result
			l, ok = o.varMade(result, true)
		case len(ret.Results) == nres:
			l, ok = o.made(ret.Results[r.index], true)
		default: // return f(), f returning all the results
			ok = false
		}
		if !ok {
			return nil, false
		}
		lines = append(lines, l...)
	}
	// A named result may also be set after the return statement, by a
	// deferred function.
	if result.Name() != "" && result.Name() != "_" {
		if _, ok := o.varMade(result, false); !ok {
			return nil, false
		}
	}
	slices.Sort(lines)
	return slices.Compact(lines), true
}

// ownership collects what a function body assigns to its variables.
type ownership struct {
	info     *types.Info
	fset     *token.FileSet
	result   *types.Var                // the result being decided
	assigned map[*types.Var][]ast.Expr // every value assigned; nil for one that is not a single expression
	declared map[*types.Var]bool       // declared by a statement of the body
	escaped  map[*types.Var]bool       // address taken, or assigned by a range or a tuple
}

func (o *ownership) varOf(e ast.Expr) *types.Var {
	id, ok := ast.Unparen(e).(*ast.Ident)
	if !ok {
		return nil
	}
	obj := o.info.Defs[id]
	if obj == nil {
		obj = o.info.Uses[id]
	}
	v, _ := obj.(*types.Var)
	return v
}

func (o *ownership) assign(lhs ast.Expr, rhs ast.Expr, define bool) {
	v := o.varOf(lhs)
	if v == nil {
		return
	}
	if define {
		if id, ok := ast.Unparen(lhs).(*ast.Ident); ok && o.info.Defs[id] == v {
			o.declared[v] = true
		}
	}
	o.assigned[v] = append(o.assigned[v], rhs)
}

func (o *ownership) collect(n ast.Node) bool {
	switch n := n.(type) {
	case *ast.AssignStmt:
		define := n.Tok == token.DEFINE
		if len(n.Lhs) == len(n.Rhs) && (define || n.Tok == token.ASSIGN) {
			for i := range n.Lhs {
				o.assign(n.Lhs[i], n.Rhs[i], define)
			}
			break
		}
		for _, l := range n.Lhs { // a tuple, or an operation
			o.assign(l, nil, define)
		}
	case *ast.ValueSpec:
		for i, name := range n.Names {
			v, _ := o.info.Defs[name].(*types.Var)
			if v == nil {
				continue
			}
			o.declared[v] = true
			switch len(n.Values) {
			case 0: // the zero value: a nil channel, which is never wrapped
			case len(n.Names):
				o.assigned[v] = append(o.assigned[v], n.Values[i])
			default:
				o.assigned[v] = append(o.assigned[v], nil)
			}
		}
	case *ast.RangeStmt:
		for _, e := range []ast.Expr{n.Key, n.Value} {
			if v := o.varOf(e); v != nil {
				o.escaped[v] = true
			}
		}
	case *ast.UnaryExpr:
		if n.Op == token.AND {
			if v := o.varOf(n.X); v != nil {
				o.escaped[v] = true
			}
		}
	}
	return true
}

// made reports whether e is a channel made here; follow says whether a
// variable is looked through (only at a return: an assignment must be a
// make itself).
func (o *ownership) made(e ast.Expr, follow bool) ([]int, bool) {
	for {
		e = ast.Unparen(e)
		call, ok := e.(*ast.CallExpr)
		if !ok {
			break
		}
		if tv, ok := o.info.Types[call.Fun]; ok && tv.IsType() && len(call.Args) == 1 {
			e = call.Args[0] // a conversion
			continue
		}
		if id, ok := ast.Unparen(call.Fun).(*ast.Ident); ok {
			if b, ok := o.info.Uses[id].(*types.Builtin); ok && b.Name() == "make" {
				if t := o.info.TypeOf(call); t != nil {
					if _, ok := t.Underlying().(*types.Chan); ok {
						return []int{o.fset.Position(call.Pos()).Line}, true
					}
				}
			}
		}
		return nil, false
	}
	if follow {
		// Only a variable of this function: one declared in the body or
		// the named result, not a parameter or a package variable.
		if v := o.varOf(e); v != nil && (o.declared[v] || v == o.result) {
			return o.varMade(v, true)
		}
	}
	return nil, false
}

// varMade reports whether every assignment to v in the function is a make
// of a channel, with at least one when need is set.
func (o *ownership) varMade(v *types.Var, need bool) ([]int, bool) {
	if v == nil || o.escaped[v] {
		return nil, false
	}
	values := o.assigned[v]
	if need && len(values) == 0 {
		return nil, false
	}
	var lines []int
	for _, e := range values {
		if e == nil {
			return nil, false
		}
		l, ok := o.made(e, false)
		if !ok {
			return nil, false
		}
		lines = append(lines, l...)
	}
	return lines, true
}
