package generator

import (
	"go/token"
	"slices"
	"strconv"
	"strings"

	"github.com/dave/dst"
)

// Stripping. Before instrumenting, a run removes what an earlier run added:
// the injected statements of every function (stripFunc, with the goroutine
// hand-overs undone by stripGoroutines in goroutines.go), the generated
// names of parameters and results, and the block of site variables
// (stripSites); the generated imports go in imports.go
// (removeUnusedImports). What is left is the source the generator was first
// run on, byte for byte, which is how a second run changes nothing and
// -remove restores the original.

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

// stripSites removes the block of site variables and the version guard,
// handing the comments that followed them back to the declaration before
// them.
func stripSites(df *dst.File) {
	decls := df.Decls[:0]
	for _, decl := range df.Decls {
		if gd, ok := decl.(*dst.GenDecl); ok && (gd.Tok == token.VAR && isSitesDecl(gd) || isGuardDecl(gd)) {
			end := gd.Decs.End
			if gd.Tok == token.CONST {
				// The guard's own comment, on its line, goes with it.
				if i := slices.Index(end, "\n"); i >= 0 {
					end = end[i:]
				} else {
					end = nil
				}
			}
			if len(decls) > 0 && len(end) > 0 {
				prev := decls[len(decls)-1].Decorations()
				prev.End = append(prev.End, end...)
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

// isGuardDecl reports whether gd is a version guard, of any version:
// const _ = fluxloop.GeneratedCodeAPIN.
func isGuardDecl(gd *dst.GenDecl) bool {
	if gd.Tok != token.CONST || len(gd.Specs) != 1 {
		return false
	}
	vs, ok := gd.Specs[0].(*dst.ValueSpec)
	if !ok || len(vs.Names) != 1 || vs.Names[0].Name != "_" || vs.Type != nil || len(vs.Values) != 1 {
		return false
	}
	id, ok := vs.Values[0].(*dst.Ident)
	return ok && id.Path == RuntimePath && guardConstName.MatchString(id.Name)
}
