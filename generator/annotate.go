package generator

import (
	"bytes"
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"sort"
	"strings"

	"github.com/dave/dst"
	"github.com/dave/dst/decorator"
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
	// Remove deletes fluxloop directives instead of adding them.
	Remove bool
}

// Annotate inserts a directive at the end of the doc comment of every
// selected function (or, with Remove, deletes the directives), skipping
// generated files, init functions, functions without a body, //go:nosplit
// functions, and functions that already have a directive. It is idempotent,
// and Remove undoes it exactly. Like Generate, it only computes the changes.
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
	for _, path := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		out, n, err := annotateFile(path, src, directive, &opts)
		if err != nil {
			return nil, fmt.Errorf("annotate %s: %w", relPath(gopts.absDir(), path), err)
		}
		res.Functions += n
		if n > 0 && !bytes.Equal(out, src) {
			res.Changes = append(res.Changes, Change{Path: path, Old: src, New: out})
		}
	}
	return res, nil
}

// annotateFile adds or removes the directives of one file.
func annotateFile(path string, src []byte, directive string, opts *AnnotateOptions) ([]byte, int, error) {
	fset := token.NewFileSet()
	af, err := parser.ParseFile(fset, path, src, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return nil, 0, err
	}
	if ast.IsGenerated(af) {
		return nil, 0, nil
	}
	if !opts.Remove && !bytes.Contains(src, []byte("func")) {
		return nil, 0, nil
	}
	if opts.Remove && !bytes.Contains(src, []byte(directivePrefix)) {
		return nil, 0, nil
	}
	dec := decorator.NewDecorator(fset)
	df, err := dec.DecorateFile(af)
	if err != nil {
		return nil, 0, err
	}
	n := 0
	for _, decl := range af.Decls {
		fd, ok := decl.(*ast.FuncDecl)
		if !ok {
			continue
		}
		decs := &dec.Dst.Nodes[fd].(*dst.FuncDecl).Decs.Start
		if opts.Remove {
			if removeDirectives(decs) {
				n++
			}
			continue
		}
		if !selected(fd, opts) {
			continue
		}
		addDirective(decs, directive)
		n++
	}
	if n == 0 {
		return src, 0, nil
	}
	var buf bytes.Buffer
	if err := decorator.NewRestorer().Fprint(&buf, df); err != nil {
		return nil, 0, err
	}
	return buf.Bytes(), n, nil
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
	if opts.Exported && !fd.Name.IsExported() {
		return false
	}
	if opts.Match != nil && !opts.Match.MatchString(defaultName(fd)) {
		return false
	}
	return true
}

// addDirective puts the directive at the end of a doc comment, after a "//"
// line when the comment ends in text, the way gofmt lays out directives.
func addDirective(decs *dst.Decorations, directive string) {
	list := *decs
	if len(list) == 0 {
		*decs = dst.Decorations{directive}
		return
	}
	last := list[len(list)-1]
	if strings.HasPrefix(last, "//") && !isDirectiveText(last) {
		list = append(list, "//")
	}
	*decs = append(list, directive)
}

// removeDirectives deletes fluxloop directives from a doc comment, and the
// "//" line addDirective put before one, reporting whether it changed
// anything.
func removeDirectives(decs *dst.Decorations) bool {
	list := *decs
	var out dst.Decorations
	changed := false
	for i, d := range list {
		if !strings.HasPrefix(d, directivePrefix) {
			out = append(out, d)
			continue
		}
		changed = true
		// Drop the separator addDirective added: a "//" line between text
		// and a directive that ended the comment.
		if i == len(list)-1 && len(out) >= 2 && out[len(out)-1] == "//" && !isDirectiveText(out[len(out)-2]) && strings.HasPrefix(out[len(out)-2], "//") {
			out = out[:len(out)-1]
		}
	}
	if changed {
		*decs = out
	}
	return changed
}

func isDirectiveText(c string) bool {
	// //go:..., //fluxloop:..., //line ...: a comment with no space after
	// the slashes and a colon in its first word.
	if !strings.HasPrefix(c, "//") || len(c) < 3 || c[2] == ' ' || c[2] == '\t' {
		return strings.HasPrefix(c, "//line ")
	}
	word, _, _ := strings.Cut(c[2:], " ")
	return strings.Contains(word, ":")
}
