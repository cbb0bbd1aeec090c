package generator

import (
	"go/ast"
	"go/token"
	"go/types"
	"path"
	"strconv"
	"strings"

	"github.com/dave/dst"
)

// HTTPPath is the import path of the runtime's net/http support, which
// generated code for HTTP handlers calls.
const HTTPPath = RuntimePath + "/fluxloophttp"

// generatedImports are the packages generated code refers to, with the name
// each is imported under unless that name is taken, when it gets the
// reserved prefix.
var generatedImports = []struct{ path, name string }{
	{RuntimePath, "fluxloop"},
	{HTTPPath, "fluxloophttp"},
}

// addImports imports the packages the injected code refers to. An existing
// import is reused under its name; a new one is named after the package
// unless something in scope of an instrumented function (or the package)
// already has that name. New imports go at the end of a parenthesised import
// block, in a group of their own, or into a declaration of their own; either
// way the user's imports keep their layout, and removing them restores the
// file exactly. The restorer then manages them like any other import.
func (fr *fileRewriter) addImports(dirs map[*ast.FuncDecl]*Directive) error {
	used := usedImports(fr.df)
	existing := map[string]*dst.ImportSpec{}
	for _, spec := range fr.df.Imports {
		path, _ := strconv.Unquote(spec.Path.Value)
		existing[path] = spec
	}
	var add []*dst.ImportSpec
	for _, gi := range generatedImports {
		if !used[gi.path] {
			continue
		}
		if spec := existing[gi.path]; spec != nil {
			if spec.Name != nil && (spec.Name.Name == "_" || spec.Name.Name == ".") {
				return fr.errorf(fr.dec.Ast.Nodes[spec].Pos(), "%s is imported as %s; import it with a name so generated code can use it", gi.path, spec.Name.Name)
			}
			continue
		}
		name := gi.name
		if fr.nameTaken(name, gi.path, dirs) {
			name = "__" + name
		}
		spec := &dst.ImportSpec{Path: &dst.BasicLit{Kind: token.STRING, Value: strconv.Quote(gi.path)}}
		if name != path.Base(gi.path) {
			spec.Name = dst.NewIdent(name)
		}
		add = append(add, spec)
	}
	if len(add) == 0 {
		return nil
	}
	insertImports(fr.df, add)
	if fr.mapLines {
		fr.restoreLinesAfterImports()
	}
	return nil
}

// nameTaken reports whether name refers to something other than path in
// scope of any instrumented function (file and package scope included).
func (fr *fileRewriter) nameTaken(name, path string, dirs map[*ast.FuncDecl]*Directive) bool {
	info := fr.f.pkg.TypesInfo
	for fd := range dirs {
		scope := info.Scopes[fd.Type]
		if scope == nil || fd.Body == nil {
			continue
		}
		if _, obj := scope.LookupParent(name, fd.Body.Lbrace); obj != nil && !isImportOf(obj, path) {
			return true
		}
	}
	return false
}

// isImportOf reports whether obj is an import of path, left by an earlier
// run.
func isImportOf(obj types.Object, path string) bool {
	pn, ok := obj.(*types.PkgName)
	return ok && pn.Imported().Path() == path
}

// usedImports lists the generated-import paths identifiers refer to.
func usedImports(df *dst.File) map[string]bool {
	used := map[string]bool{}
	dst.Inspect(df, func(n dst.Node) bool {
		if id, ok := n.(*dst.Ident); ok && id.Path != "" {
			used[id.Path] = true
		}
		return true
	})
	return used
}

func insertImports(df *dst.File, specs []*dst.ImportSpec) {
	for i, s := range specs {
		s.Decs.Before, s.Decs.After = dst.NewLine, dst.NewLine
		if i == 0 {
			s.Decs.Before = dst.EmptyLine
		}
	}
	lastImport := -1
	for i, decl := range df.Decls {
		gd, ok := decl.(*dst.GenDecl)
		if !ok || gd.Tok != token.IMPORT {
			break
		}
		lastImport = i
		if gd.Lparen && !isCgoImport(gd) {
			for _, s := range specs {
				gd.Specs = append(gd.Specs, s)
				df.Imports = append(df.Imports, s)
			}
			return
		}
	}
	gd := &dst.GenDecl{Tok: token.IMPORT, Lparen: len(specs) > 1, Rparen: len(specs) > 1}
	for _, s := range specs {
		gd.Specs = append(gd.Specs, s)
		df.Imports = append(df.Imports, s)
	}
	specs[0].Decs.Before = dst.NewLine
	gd.Decs.Before, gd.Decs.After = dst.EmptyLine, dst.EmptyLine
	if lastImport >= 0 && lastImport+1 < len(df.Decls) {
		moveCommentsBelow(df.Decls[lastImport].(*dst.GenDecl), df.Decls[lastImport+1])
	}
	df.Decls = append(df.Decls[:lastImport+1], append([]dst.Decl{gd}, df.Decls[lastImport+1:]...)...)
}

// moveCommentsBelow moves the comments on the lines below the import
// declaration gd that dst keeps with it to the declaration next, so that
// the import inserted between them goes above them. Read back, they are the
// next declaration's (the way they are when the source is gofmt'd, which
// puts an empty line after the imports), so the output is a fixed point and
// removing the import leaves them where gofmt has them.
func moveCommentsBelow(gd *dst.GenDecl, next dst.Decl) {
	var moved dst.Decorations
	cut := func(end *dst.Decorations) {
		for i, d := range *end {
			if d == "\n" {
				// Comments right below a comment at the end of the
				// import's line are in one group with it: they stay.
				if !hasComment((*end)[:i]) && hasComment((*end)[i+1:]) {
					moved = append(moved, (*end)[i+1:]...)
					*end = (*end)[:i]
				}
				return
			}
		}
	}
	if n := len(gd.Specs); n > 0 && !gd.Rparen {
		cut(&gd.Specs[n-1].Decorations().End)
	}
	cut(&gd.Decs.End)
	if !hasComment(moved) {
		return
	}
	for moved[0] == "\n" {
		moved = moved[1:]
	}
	for moved[len(moved)-1] == "\n" {
		moved = moved[:len(moved)-1]
	}
	decs := next.Decorations()
	// The comments end their line; an empty line follows them unless
	// they were right above the declaration.
	if !strings.HasPrefix(moved[len(moved)-1], "//") {
		moved = append(moved, "\n")
	}
	if decs.Before == dst.EmptyLine {
		moved = append(moved, "\n")
	}
	decs.Start = append(moved, decs.Start...)
	decs.Before = dst.EmptyLine
}

func isCgoImport(gd *dst.GenDecl) bool {
	for _, s := range gd.Specs {
		if s.(*dst.ImportSpec).Path.Value == `"C"` {
			return true
		}
	}
	return false
}

// removeUnusedImports deletes generated imports that nothing in the file
// refers to any more (after stripping), and with them any //line directive
// that compensated for their lines (written by earlier versions in place). Removing them here, rather than leaving
// it to the restorer, keeps the user's import block exactly as it was.
func removeUnusedImports(df *dst.File) {
	used := usedImports(df)
	drop := map[string]bool{}
	for _, gi := range generatedImports {
		if !used[gi.path] {
			drop[strconv.Quote(gi.path)] = true
		}
	}
	isDropped := func(s dst.Spec) bool {
		is, ok := s.(*dst.ImportSpec)
		blank := ok && is.Name != nil && is.Name.Name == "_"
		return ok && !blank && drop[is.Path.Value]
	}
	removed := false
	var decls []dst.Decl
	var carried *dst.GenDecl // a dropped declaration read back with comments
	for _, decl := range df.Decls {
		gd, ok := decl.(*dst.GenDecl)
		if ok && gd.Tok == token.IMPORT {
			specs := gd.Specs[:0]
			for _, s := range gd.Specs {
				if isDropped(s) {
					removed = true
					continue
				}
				specs = append(specs, s)
			}
			gd.Specs = specs
			if len(specs) == 0 {
				if hasComment(gd.Decs.Start) {
					carried = gd
				}
				continue
			}
		}
		if carried != nil {
			// Comments above the generated import were the next
			// declaration's, or stood between the imports and it.
			decs := decl.Decorations()
			decs.Start = append(append(dst.Decorations(nil), carried.Decs.Start...), decs.Start...)
			decs.Before = carried.Decs.Before
			carried = nil
		}
		decls = append(decls, decl)
	}
	df.Decls = decls
	imports := df.Imports[:0]
	for _, s := range df.Imports {
		if !isDropped(s) {
			imports = append(imports, s)
		}
	}
	df.Imports = imports
	if removed {
		stripDeclDirectives(df)
	}
}

// hasComment reports whether decorations hold a comment.
func hasComment(decs dst.Decorations) bool {
	for _, d := range decs {
		if d != "\n" {
			return true
		}
	}
	return false
}
