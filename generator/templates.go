package generator

import (
	"fmt"
	"go/parser"
	"go/token"
	"go/types"
	"strings"

	"github.com/dave/dst"
	"github.com/dave/dst/decorator"
	"github.com/dave/dst/dstutil"
)

// Templates. The statements injected at the top of an instrumented body are
// rendered as Go source from the function's shape, parsed, and converted to
// dst, with placeholders standing for the runtime packages so the restorer
// manages their imports.

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
