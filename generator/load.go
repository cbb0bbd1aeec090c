package generator

import (
	"bytes"
	"context"
	"fmt"
	"go/ast"
	"go/token"
	"os"
	"regexp"
	"sort"
	"strings"

	"golang.org/x/tools/go/packages"
)

// scanMode lists a package's files without type-checking it.
const scanMode = packages.NeedName | packages.NeedFiles | packages.NeedModule

// loadMode loads what the rewrite needs: syntax with comments, and types.
const loadMode = packages.NeedName | packages.NeedFiles | packages.NeedCompiledGoFiles |
	packages.NeedImports | packages.NeedTypes | packages.NeedSyntax | packages.NeedTypesInfo |
	packages.NeedModule

// A sourceFile is one file to rewrite, with the package variant whose type
// information describes it.
type sourceFile struct {
	path string
	src  []byte
	pkg  *packages.Package
	ast  *ast.File
}

// mentionsFluxloop reports whether a file may hold directives or
// instrumentation; only such files are decorated and rewritten.
func mentionsFluxloop(src []byte) bool {
	return bytes.Contains(src, []byte(directivePrefix)) || bytes.Contains(src, []byte(reservedPrefix))
}

// load finds the packages matching the patterns and returns the files that
// need a look, grouped by package, with their type information. Packages
// without a single candidate file are not type-checked at all, so a run over
// a large tree costs a go list plus the packages that use fluxloop.
func load(ctx context.Context, opts *Options) ([]*packageFiles, []string, error) {
	// The results of a load carry the warnings of the files it skipped in
	// their packageFiles.
	cfg := &packages.Config{
		Context:    ctx,
		Dir:        opts.Dir,
		Tests:      !opts.SkipTests,
		BuildFlags: buildFlags(opts),
		Env:        opts.Env,
	}
	cfg.Mode = listMode
	listed, err := packages.Load(cfg, opts.patterns()...)
	if err != nil {
		if strings.Contains(err.Error(), "go.mod file not found") {
			return nil, nil, fmt.Errorf("no go.mod in %s or its parents: run it inside a Go module (go mod init)", opts.absDir())
		}
		return nil, nil, fmt.Errorf("list %s: %w", strings.Join(opts.patterns(), " "), err)
	}
	if err := packageErrors(listed, true, opts.absDir()); err != nil {
		return nil, nil, err
	}
	var warnings []string
	want := map[string]bool{}
	cache := map[string][]byte{}
	for _, p := range listed {
		for _, f := range p.GoFiles {
			src, ok := cache[f]
			if !ok {
				src, err = os.ReadFile(f)
				if err != nil {
					return nil, nil, fmt.Errorf("read %s: %w", relPath(opts.absDir(), f), err)
				}
				cache[f] = src
				warnings = append(warnings, spacedDirectives(relPath(opts.absDir(), f), src)...)
			}
			if mentionsFluxloop(src) {
				// An external test package is loaded with the package
				// it tests.
				want[strings.TrimSuffix(p.PkgPath, "_test")] = true
			}
		}
		if opts.Log != nil {
			for _, f := range p.IgnoredFiles {
				if src, err := os.ReadFile(f); err == nil && mentionsFluxloop(src) {
					fmt.Fprintf(opts.Log, "%s: skipped: excluded by build constraints (use -tags to include it)\n", relPath(opts.absDir(), f))
				}
			}
		}
	}
	if len(want) == 0 {
		return nil, warnings, nil
	}
	if pkgs, ok, err := typeCheck(ctx, cfg, listed, want, cache); ok || err != nil {
		if err != nil {
			return nil, nil, err
		}
		pfs, err := groupFiles(pkgs, cache, opts)
		return pfs, warnings, err
	}
	var paths []string
	for p := range want {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	cfg.Mode = loadMode
	pkgs, err := packages.Load(cfg, paths...)
	if err != nil {
		return nil, nil, fmt.Errorf("load %s: %w", strings.Join(paths, " "), err)
	}
	if err := packageErrors(pkgs, false, opts.absDir()); err != nil {
		return nil, nil, err
	}
	pfs, err := groupFiles(pkgs, cache, opts)
	return pfs, warnings, err
}

// packageErrors turns the errors go/packages found into an ErrorList. When
// listing only, type errors are not looked for.
func packageErrors(pkgs []*packages.Package, listOnly bool, dir string) error {
	var list ErrorList
	var plain []string
	packages.Visit(pkgs, nil, func(p *packages.Package) {
		for _, e := range p.Errors {
			if listOnly && e.Kind == packages.TypeError {
				continue
			}
			if e.Kind == packages.TypeError && guardTypeError.MatchString(e.Msg) {
				continue // the guard of another version, replaced by the run
			}
			if pos := parsePos(e.Pos); pos.IsValid() {
				pos.Filename = relPath(dir, pos.Filename)
				list = append(list, &Error{Pos: pos, Msg: e.Msg})
			} else if pe := nulError(e.Msg, dir); pe != nil {
				list = append(list, pe)
			} else {
				plain = append(plain, e.Msg)
			}
		}
	})
	// The go command reports a package that does not compile too, without
	// a position; the type checker's positioned errors say it better.
	if len(list) == 0 {
		for _, m := range plain {
			list = append(list, &Error{Msg: m})
		}
	}
	if len(list) > 0 {
		return list.sort()
	}
	return nil
}

// nulReadRE matches the go command's error for a Go file with a NUL byte,
// which it gives without a position.
var nulReadRE = regexp.MustCompile(`^read (.+\.go): unexpected NUL in input$`)

// nulError positions the go command's "unexpected NUL in input" at the
// first NUL of the file: file:line:col: message.
func nulError(msg, dir string) *Error {
	m := nulReadRE.FindStringSubmatch(strings.TrimSpace(msg))
	if m == nil {
		return nil
	}
	pos := token.Position{Filename: relPath(dir, m[1]), Line: 1, Column: 1}
	if src, err := os.ReadFile(m[1]); err == nil {
		if i := bytes.IndexByte(src, 0); i >= 0 {
			pos.Line = 1 + bytes.Count(src[:i], []byte("\n"))
			pos.Column = 1 + i - (bytes.LastIndexByte(src[:i], '\n') + 1)
		}
	}
	return &Error{Pos: pos, Msg: "unexpected NUL byte: not a Go source file"}
}

// packageFiles is a package (with its tests) and the files of it to rewrite.
type packageFiles struct {
	path  string
	files []*sourceFile
	// warnings are notes about files of the package that were skipped.
	warnings []string
}

// groupFiles picks, for every file, the package variant that type-checked
// it: the test variant of a package contains all the plain variant's files
// plus the in-package tests, so it is preferred.
func groupFiles(pkgs []*packages.Package, cache map[string][]byte, opts *Options) ([]*packageFiles, error) {
	byPath := map[string]*packageFiles{}
	var order []string
	seen := map[string]bool{}
	// Test variants ("p [p.test]") first, so they win for shared files.
	sorted := append([]*packages.Package(nil), pkgs...)
	sort.SliceStable(sorted, func(i, j int) bool {
		return isTestVariant(sorted[i]) && !isTestVariant(sorted[j])
	})
	for _, p := range sorted {
		if p.Types == nil || p.TypesInfo == nil || strings.HasSuffix(p.PkgPath, ".test") && p.Name == "main" && isGeneratedTestMain(p) {
			continue
		}
		key := p.PkgPath
		pf := byPath[key]
		if pf == nil {
			pf = &packageFiles{path: key}
			byPath[key] = pf
			order = append(order, key)
		}
		compiled := map[string]bool{}
		for _, f := range p.CompiledGoFiles {
			compiled[f] = true
		}
		for _, f := range p.GoFiles {
			// A Go file that was not compiled as it is was processed by
			// cgo; its syntax and types describe cgo's output instead.
			if !compiled[f] && !seen[f] && mentionsFluxloop(cache[f]) {
				seen[f] = true
				pf.warnings = append(pf.warnings, relPath(opts.absDir(), f)+`: skipped: files that import "C" are not instrumented (cgo); move the marked function to a file without cgo`)
			}
		}
		for i, f := range p.Syntax {
			if i >= len(p.CompiledGoFiles) {
				break
			}
			path := p.CompiledGoFiles[i]
			if seen[path] {
				continue
			}
			src, ok := cache[path]
			if !ok {
				// A file go list did not report as a Go file is a
				// cgo-generated one; its original was reported instead.
				continue
			}
			seen[path] = true
			if !mentionsFluxloop(src) {
				continue
			}
			pf.files = append(pf.files, &sourceFile{path: path, src: src, pkg: p, ast: f})
		}
	}
	var out []*packageFiles
	for _, k := range order {
		pf := byPath[k]
		sort.Slice(pf.files, func(i, j int) bool { return pf.files[i].path < pf.files[j].path })
		out = append(out, pf)
	}
	return out, nil
}

func isTestVariant(p *packages.Package) bool {
	return strings.Contains(p.ID, "[") && strings.HasSuffix(p.ID, ".test]")
}

// isGeneratedTestMain reports whether p is the synthesized test main package.
func isGeneratedTestMain(p *packages.Package) bool {
	for _, f := range p.GoFiles {
		if !strings.HasSuffix(f, ".go") || strings.Contains(f, "go-build") {
			return true
		}
	}
	return len(p.GoFiles) == 0
}
