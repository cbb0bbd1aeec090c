package generator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/token"
	"io"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
)

// RuntimePath is the import path of the package generated code calls.
const RuntimePath = "github.com/fluxloop/fluxloop-go/runtime"

// RuntimeModulePath is the module that provides RuntimePath (a module of
// its own, with no dependency but github.com/petermattis/goid): the module
// instrumented code needs in go.mod, which -gomod adds.
const RuntimeModulePath = "github.com/fluxloop/fluxloop-go/runtime"

// ModulePath is the root module, which provides the generator and
// fluxloopgen (whose version the build information gives).
const ModulePath = "github.com/fluxloop/fluxloop-go"

// Options configures a run of the generator.
type Options struct {
	// Dir is the directory the packages are loaded from (default: the
	// current directory).
	Dir string
	// Patterns are go list patterns (default ".").
	Patterns []string
	// Tags are extra build tags, as for go build -tags.
	Tags []string
	// Env is the environment of the go command (default: os.Environ()).
	Env []string
	// SkipTests leaves _test.go files out (and their dependencies, such as
	// package testing, uncompiled): for builds that do not run tests.
	SkipTests bool
	// Remove strips instrumentation instead of adding it, restoring the
	// source the generator was run on.
	Remove bool
	// AbsLineDirectives makes the output carry //line directives that map
	// every line to the source file and its lines. Set it when the output
	// is compiled from another path (an overlay), so that every tool, go
	// vet included, reports the source. Without it (in place) the output
	// carries no //line directive: it is the source, whose lines are its
	// own.
	AbsLineDirectives bool
	// Log receives progress notes (-v). Nil means silent.
	Log io.Writer
}

func (o *Options) patterns() []string {
	if len(o.Patterns) == 0 {
		return []string{"."}
	}
	return o.Patterns
}

func (o *Options) absDir() string {
	dir := o.Dir
	if dir == "" {
		dir = "."
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return dir
	}
	return abs
}

func buildFlags(o *Options) []string {
	if len(o.Tags) == 0 {
		return nil
	}
	return []string{"-tags=" + strings.Join(o.Tags, ",")}
}

// A Change is the new content of one file.
type Change struct {
	Path string // absolute path
	Old  []byte
	New  []byte
}

// Result is what a run computed. Nothing has been written yet: pass
// Changes to Write.
type Result struct {
	Changes []Change
	// Functions counts the functions instrumented (or, with Remove, the
	// functions whose instrumentation was removed).
	Functions int
	// Warnings are notes about files that were skipped.
	Warnings []string
}

// Generate loads the packages, finds the directives and computes the
// rewritten files. It reports every problem it finds in the source as an
// ErrorList (file:line:col: message) and, in that case, returns no changes:
// a run changes all files or none.
func Generate(ctx context.Context, opts Options) (res *Result, err error) {
	defer func() {
		// The generator must never crash on any input: turn a bug into an
		// error that names it.
		if p := recover(); p != nil {
			res, err = nil, fmt.Errorf("internal error (please report it): %v", p)
		}
	}()
	pkgs, warnings, err := load(ctx, &opts)
	if err != nil {
		return nil, err
	}
	res = &Result{Warnings: warnings}
	var errs ErrorList
	for _, pf := range pkgs {
		g := newPackageRewriter(pf, &opts)
		results := g.rewriteAll(ctx)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for i, r := range results {
			f := pf.files[i]
			var list ErrorList
			if errors.As(r.err, &list) {
				errs = append(errs, list...)
				continue
			}
			if r.err != nil {
				return nil, fmt.Errorf("rewrite %s: %w", relPath(opts.absDir(), f.path), r.err)
			}
			res.Functions += r.n
			if r.out != nil && !bytes.Equal(r.out, f.src) {
				res.Changes = append(res.Changes, Change{Path: f.path, Old: f.src, New: r.out})
			}
		}
		res.Warnings = append(res.Warnings, pf.warnings...)
		sort.Strings(g.warnings)
		res.Warnings = append(res.Warnings, g.warnings...)
	}
	if len(errs) > 0 {
		return nil, errs.sort()
	}
	return res, nil
}

// fileResult is what rewriting one file gave.
type fileResult struct {
	out []byte
	n   int
	err error
}

// rewriteAll rewrites the package's files, on as many goroutines as there
// are CPUs: files are independent once the site names, which must not
// depend on scheduling, are given out in file order.
func (g *packageRewriter) rewriteAll(ctx context.Context) []fileResult {
	for _, f := range g.pf.files {
		dirs := findDirectives(f.ast, func(token.Pos, string, ...any) {})
		for _, decl := range f.ast.Decls {
			if fd, ok := decl.(*ast.FuncDecl); ok && dirs[fd] != nil {
				g.names[fd] = g.siteName(fd)
			}
		}
	}
	results := make([]fileResult, len(g.pf.files))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i, f := range g.pf.files {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			defer func() {
				if p := recover(); p != nil {
					results[i].err = fmt.Errorf("internal error (please report it): %v", p)
				}
			}()
			out, n, err := g.rewriteFile(f)
			results[i] = fileResult{out, n, err}
		})
	}
	wg.Wait()
	return results
}

// errorf makes a positioned error for a file of the run.
func (g *packageRewriter) errorf(pos token.Pos, format string, args ...any) *Error {
	p := g.fset.Position(pos)
	p.Filename = relPath(g.opts.absDir(), p.Filename)
	return &Error{Pos: p, Msg: fmt.Sprintf(format, args...)}
}
