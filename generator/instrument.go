package generator

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"regexp"
	"strings"

	"github.com/dave/dst"
)

// Instrumenting a function. instrument injects the observation into the
// body of a marked function: the function's shape (shapes.go) decides which
// statements the templates (templates.go) render, the go statements in the
// body hand the observation over (goroutines.go), and the function's site
// joins the file's block of site variables (sites.go). Everything added here
// is removed again by strip.go. This file also holds the //line directives
// of overlay copies and the observation's default name.

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
