package generator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"

	"golang.org/x/tools/go/packages"
)

// AnnotateOptions selects the functions Annotate marks.
type AnnotateOptions struct {
	// Dir, Patterns, Tags and Env are as in Options.
	Dir      string
	Patterns []string
	Tags     []string
	Env      []string
	// Match, when set, keeps only functions whose name (Type.Method for
	// methods) it matches.
	Match *regexp.Regexp
	// Exported keeps only exported functions and methods.
	Exported bool
	// As is the directive to insert: KindTrace (default) or KindAgent.
	As Kind
	// Type, when set, adds type= to the directive.
	Type string
	// Tests also annotates functions in _test.go files.
	Tests bool
	// Remove deletes fluxloop directives instead of adding them: every line
	// of the doc comment of a function that Match and Exported keep that
	// holds only a fluxloop directive, and the "//" line before such lines
	// when they end the comment and follow text (or, in a gofmt'd file,
	// when they and the "//" line are the whole doc comment, which then
	// goes with the empty line above it: see Annotate).
	Remove bool
}

// Annotate inserts a directive at the end of the doc comment of every
// selected function (or, with Remove, deletes the directives), skipping
// generated files, init functions, functions without a body, //go:nosplit
// functions, and functions that already have a directive. It is idempotent,
// and Remove undoes it exactly:
//
//   - a gofmt'd file stays gofmt'd: after inserting (or deleting) lines,
//     the file is gofmt'd, which may realign the lines around them (the
//     bodies of adjacent one-line functions, trailing comments). A "//"
//     line separates doc text from the directive, as gofmt does; above a
//     function right below another, gofmt puts an empty line, and annotate
//     a "//" line above the directive, which tells Remove to take both out;
//   - in a file that is not gofmt'd, annotate only inserts lines and Remove
//     deletes them, leaving every other byte as it was. A file that the
//     inserted lines alone would make gofmt'd is refused (an *Error at the
//     first line gofmt changes), since Remove could not tell it from a
//     gofmt'd one: gofmt it first.
//
// Like Generate, it only computes the changes, and reports problems as an
// ErrorList, in which case it returns no changes.
func Annotate(ctx context.Context, opts AnnotateOptions) (*Result, error) {
	if opts.As == "" {
		opts.As = KindTrace
	}
	if opts.As != KindTrace && opts.As != KindAgent {
		return nil, fmt.Errorf("-as %s: use trace or agent", opts.As)
	}
	if opts.Type != "" {
		if _, ok := observationTypes[opts.Type]; !ok {
			return nil, fmt.Errorf("-type %s: use one of %s", opts.Type, strings.Join(sortedKeys(observationTypes), ", "))
		}
	}
	gopts := &Options{Dir: opts.Dir, Patterns: opts.Patterns, Tags: opts.Tags, Env: opts.Env}
	cfg := &packages.Config{Context: ctx, Dir: opts.Dir, Tests: opts.Tests, BuildFlags: buildFlags(gopts), Env: opts.Env, Mode: scanMode}
	pkgs, err := packages.Load(cfg, gopts.patterns()...)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", strings.Join(gopts.patterns(), " "), err)
	}
	if err := packageErrors(pkgs, true, gopts.absDir()); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var files []string
	for _, p := range pkgs {
		for _, f := range p.GoFiles {
			if !seen[f] && (opts.Tests || !strings.HasSuffix(f, "_test.go")) {
				seen[f] = true
				files = append(files, f)
			}
		}
	}
	sort.Strings(files)
	directive := directivePrefix + string(opts.As)
	if opts.Type != "" {
		directive += " type=" + opts.Type
	}
	res := &Result{}
	var errs ErrorList
	for _, path := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		out, n, err := annotateFile(path, src, directive, &opts)
		var pe *Error
		if errors.As(err, &pe) {
			pe.Pos.Filename = relPath(gopts.absDir(), pe.Pos.Filename)
			errs = append(errs, pe)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("annotate %s: %w", relPath(gopts.absDir(), path), err)
		}
		res.Functions += n
		if n > 0 && !bytes.Equal(out, src) {
			res.Changes = append(res.Changes, Change{Path: path, Old: src, New: out})
		}
	}
	if len(errs) > 0 {
		return nil, errs.sort()
	}
	return res, nil
}

// annotateFile adds or removes the directives of one file. It edits the
// lines of src, then gofmts the result if src was gofmt'd; Remove deletes
// exactly the lines the addition inserted (and gofmts likewise). See
// Annotate.
func annotateFile(path string, src []byte, directive string, opts *AnnotateOptions) ([]byte, int, error) {
	if !opts.Remove && !bytes.Contains(src, []byte("func")) {
		return nil, 0, nil
	}
	if opts.Remove && !bytes.Contains(src, []byte(directivePrefix)) {
		return nil, 0, nil
	}
	fset := token.NewFileSet()
	af, err := parser.ParseFile(fset, path, src, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return nil, 0, err
	}
	if ast.IsGenerated(af) {
		return nil, 0, nil
	}
	tf := fset.File(af.Package)
	offset := func(p token.Pos) int { return tf.Offset(p) }
	var formatted []byte
	var formatErr error
	gofmtd := sync.OnceValue(func() bool {
		formatted, formatErr = format.Source(src)
		return formatErr == nil && bytes.Equal(formatted, src)
	})
	var edits []lineEdit
	n := 0
	var prev ast.Decl
	for _, decl := range af.Decls {
		before := prev
		prev = decl
		fd, ok := decl.(*ast.FuncDecl)
		if !ok {
			continue
		}
		if opts.Remove {
			if !matches(fd, opts) || fd.Doc == nil {
				continue
			}
			if e := removeEdits(src, fd.Doc, offset, gofmtd()); len(e) > 0 {
				edits = append(edits, e...)
				n++
			}
			continue
		}
		if !selected(fd, opts) {
			continue
		}
		if e, ok := addEdit(src, fd, directive, offset); ok {
			// A function right below the one before it, without a doc
			// comment: in a gofmt'd file, the directive gets an empty
			// line above it (gofmt's), which -remove must take out again.
			e.adjacent = fd.Doc == nil && before != nil && tf.Line(before.End())+1 == tf.Line(fd.Pos())
			edits = append(edits, e)
			n++
		}
	}
	if n == 0 {
		return src, 0, nil
	}
	if gofmtd() {
		// gofmt'd in, gofmt'd out: gofmt realigns what the lines moved,
		// and separates a function with a doc comment from the one above.
		if !opts.Remove {
			for i := range edits {
				if edits[i].adjacent {
					// "//" above the directive says the empty line is
					// gofmt's (gofmt leaves such a doc comment alone).
					edits[i].text = edits[i].indent + "//" + edits[i].eol + edits[i].text
				}
			}
		}
		out := applyEdits(src, edits)
		if f, err := format.Source(out); err == nil {
			out = f
		}
		return out, n, nil
	}
	out := applyEdits(src, edits)
	if formatErr == nil && !opts.Remove {
		if f, err := format.Source(out); err == nil && bytes.Equal(f, out) {
			return nil, 0, &Error{
				Pos: token.Position{Filename: path, Line: firstDifferentLine(src, formatted), Column: 1},
				Msg: "the file is not gofmt'd, and the directives would make it so: annotate -remove could not tell it from a gofmt'd file and undo annotate exactly; gofmt the file first",
			}
		}
	}
	return out, n, nil
}

// firstDifferentLine is the number of the first line at which a and b
// differ.
func firstDifferentLine(a, b []byte) int {
	la, lb := bytes.SplitAfter(a, []byte("\n")), bytes.SplitAfter(b, []byte("\n"))
	for i := range min(len(la), len(lb)) {
		if !bytes.Equal(la[i], lb[i]) {
			return i + 1
		}
	}
	return min(len(la), len(lb)) + 1
}

// A lineEdit replaces src[start:end] with text. start and end are at the
// beginning of lines: an edit inserts whole lines (start == end) or deletes
// them (text == "").
type lineEdit struct {
	start, end int
	text       string
	// For an insertion: the indentation and line ending of the inserted
	// lines, and whether the function is right below the declaration
	// before it.
	indent, eol string
	adjacent    bool
}

// applyEdits applies edits, which are in source order and do not overlap.
func applyEdits(src []byte, edits []lineEdit) []byte {
	sort.SliceStable(edits, func(i, j int) bool { return edits[i].start < edits[j].start })
	out := make([]byte, 0, len(src)+64*len(edits))
	last := 0
	for _, e := range edits {
		out = append(out, src[last:e.start]...)
		out = append(out, e.text...)
		last = e.end
	}
	return append(out, src[last:]...)
}

// selected reports whether annotate should mark fd.
func selected(fd *ast.FuncDecl, opts *AnnotateOptions) bool {
	if fd.Body == nil || fd.Recv == nil && fd.Name.Name == "init" || fd.Name.Name == "_" {
		return false
	}
	if fd.Doc != nil {
		for _, c := range fd.Doc.List {
			if isDirective(c) || strings.HasPrefix(c.Text, "//go:nosplit") {
				return false
			}
		}
	}
	return matches(fd, opts)
}

// matches reports whether fd passes the -exported and -match filters. They
// are all that selects the functions whose directives Remove deletes: a
// directive on a function annotate would skip (init, no body, //go:nosplit)
// is removed too, since the generator rejects it anyway.
func matches(fd *ast.FuncDecl, opts *AnnotateOptions) bool {
	if opts.Exported && !fd.Name.IsExported() {
		return false
	}
	if opts.Match != nil && !opts.Match.MatchString(defaultName(fd)) {
		return false
	}
	return true
}

// addEdit inserts the directive as a line of its own right before the line
// of the func keyword, that is, right after the last line of the doc comment
// if there is one, with the indentation of that comment (or of the func
// line). When the doc comment ends in text, a "//" line goes before the
// directive, the way gofmt separates directives from text. It reports false
// when the func keyword does not start its line (func A() {}; func B() {}),
// where no line can be inserted for it.
func addEdit(src []byte, fd *ast.FuncDecl, directive string, offset func(token.Pos) int) (lineEdit, bool) {
	at := offset(fd.Pos())
	start := lineStart(src, at)
	if start == 0 || !isBlank(src[start:at]) {
		return lineEdit{}, false
	}
	eol := "\n"
	if start >= 2 && src[start-2] == '\r' {
		eol = "\r\n"
	}
	indent := leadingBlank(src[start:])
	var text strings.Builder
	if fd.Doc != nil {
		last := fd.Doc.List[len(fd.Doc.List)-1]
		indent = leadingBlank(src[lineStart(src, offset(last.Pos())):])
		if isTextLine(last) {
			text.WriteString(indent + "//" + eol)
		}
	}
	text.WriteString(indent + directive + eol)
	return lineEdit{start: start, end: start, text: text.String(), indent: indent, eol: eol}, true
}

// removeEdits deletes from a doc comment every line that holds a fluxloop
// directive alone, and the "//" line addEdit put before the directives when
// they end the comment and the "//" line follows a text line. In a gofmt'd
// file, a doc comment of a "//" line and directives alone is what annotate
// writes above a function right below another: all of it goes, with the
// empty line above it.
func removeEdits(src []byte, doc *ast.CommentGroup, offset func(token.Pos) int, gofmtd bool) []lineEdit {
	list := doc.List
	ownLine := func(c *ast.Comment) bool {
		start := lineStart(src, offset(c.Pos()))
		return isBlank(src[start:offset(c.Pos())])
	}
	deleteLine := func(c *ast.Comment) lineEdit {
		start := lineStart(src, offset(c.Pos()))
		end := len(src)
		if i := bytes.IndexByte(src[offset(c.End()):], '\n'); i >= 0 {
			end = offset(c.End()) + i + 1
		}
		return lineEdit{start: start, end: end}
	}
	var edits []lineEdit
	if gofmtd && len(list) >= 2 && list[0].Text == "//" && ownLine(list[0]) {
		marker := true
		for _, c := range list[1:] {
			marker = marker && isDirective(c) && ownLine(c)
		}
		if marker {
			start := lineStart(src, offset(list[0].Pos()))
			if start > 0 {
				if above := lineStart(src, start-1); isBlank(bytes.TrimRight(src[above:start], "\r\n")) {
					start = above
				}
			}
			end := deleteLine(list[len(list)-1]).end
			return []lineEdit{{start: start, end: end}}
		}
	}
	tail := len(list) // list[tail:] are the directive lines that end the comment
	for i := len(list) - 1; i >= 0 && isDirective(list[i]) && ownLine(list[i]); i-- {
		tail = i
	}
	if tail < len(list) && tail >= 2 && strings.TrimSpace(list[tail-1].Text) == "//" && isTextLine(list[tail-2]) {
		edits = append(edits, deleteLine(list[tail-1]))
	}
	for _, c := range list {
		if isDirective(c) && ownLine(c) {
			edits = append(edits, deleteLine(c))
		}
	}
	return edits
}

// isTextLine reports whether c is a // comment of text (possibly empty)
// rather than a directive.
func isTextLine(c *ast.Comment) bool {
	return strings.HasPrefix(c.Text, "//") && !isDirectiveText(c.Text)
}

// lineStart is the offset of the start of the line holding src[off].
func lineStart(src []byte, off int) int {
	return bytes.LastIndexByte(src[:off], '\n') + 1
}

// leadingBlank is the indentation at the start of b.
func leadingBlank(b []byte) string {
	i := 0
	for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	return string(b[:i])
}

func isBlank(b []byte) bool {
	return len(bytes.Trim(b, " \t")) == 0
}

// isDirectiveText reports whether a // comment is a directive as gofmt sees
// it (go/printer and go/doc/comment): //line, //extern and //export
// comments, and comments of the form //[a-z0-9]+:[a-z0-9] such as
// //go:noinline and //fluxloop:trace.
func isDirectiveText(c string) bool {
	c, ok := strings.CutPrefix(c, "//")
	if !ok {
		return false
	}
	if strings.HasPrefix(c, "line ") || strings.HasPrefix(c, "extern ") || strings.HasPrefix(c, "export ") {
		return true
	}
	colon := strings.Index(c, ":")
	if colon <= 0 || colon+1 >= len(c) {
		return false
	}
	for i := 0; i <= colon+1; i++ {
		if i == colon {
			continue
		}
		if b := c[i]; !('a' <= b && b <= 'z' || '0' <= b && b <= '9') {
			return false
		}
	}
	return true
}
