package generator

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/scanner"
	"go/token"
	"go/types"
	"os"
	"runtime"
	"sort"
	"strings"

	"golang.org/x/tools/go/packages"
)

// listMode lists packages with their files and the ids of their imports,
// which is all typeCheck needs from the go command about the packages it
// checks itself.
const listMode = scanMode | packages.NeedImports | packages.NeedCompiledGoFiles

// typeCheck type-checks the packages to rewrite from source, with the export
// data of their dependencies only. Asking go/packages for the roots' types
// would run go list -export on the roots too, which compiles every package
// being rewritten just to throw the result away (most of a run's time on a
// large package); go vet, by comparison, only needs its dependencies
// compiled. It returns ok=false when the roots' imports include test
// variants of other packages, a rare shape the caller leaves to go/packages.
func typeCheck(ctx context.Context, cfg *packages.Config, listed []*packages.Package, want map[string]bool, cache map[string][]byte) (pkgs []*packages.Package, ok bool, err error) {
	// The roots: the variants of the wanted packages, without the plain
	// variant when the test variant (a superset) exists, nor the test main.
	byID := map[string]*packages.Package{}
	hasTest := map[string]bool{}
	for _, p := range listed {
		byID[p.ID] = p
		if isTestVariant(p) && !strings.HasSuffix(p.PkgPath, "_test") {
			hasTest[p.PkgPath] = true
		}
	}
	var roots []*packages.Package
	for _, p := range listed {
		base := strings.TrimSuffix(p.PkgPath, "_test")
		switch {
		case !want[base], strings.HasSuffix(p.PkgPath, ".test"):
		case !isTestVariant(p) && hasTest[p.PkgPath]:
		default:
			roots = append(roots, p)
		}
	}
	rootIDs := map[string]bool{}
	for _, r := range roots {
		rootIDs[r.ID] = true
	}
	deps := map[string]bool{}
	for _, r := range roots {
		for _, imp := range r.Imports {
			if rootIDs[imp.ID] || imp.ID == "unsafe" || imp.ID == "C" {
				continue
			}
			if strings.Contains(imp.ID, " [") {
				return nil, false, nil
			}
			deps[imp.ID] = true
		}
	}
	depTypes := map[string]*types.Package{}
	if len(deps) > 0 {
		var ids []string
		for id := range deps {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		dcfg := *cfg
		dcfg.Mode = packages.NeedName | packages.NeedTypes
		dcfg.Tests = false
		loaded, err := packages.Load(&dcfg, ids...)
		if err != nil {
			return nil, false, fmt.Errorf("load dependencies: %w", err)
		}
		for _, p := range loaded {
			if p.Types != nil {
				depTypes[p.ID] = p.Types
			}
		}
	}
	// Check the roots, plain and test variants before the external tests
	// that import them.
	sort.SliceStable(roots, func(i, j int) bool {
		return !strings.HasSuffix(roots[i].PkgPath, "_test") && strings.HasSuffix(roots[j].PkgPath, "_test")
	})
	fset := token.NewFileSet()
	checked := map[string]*types.Package{}
	var list ErrorList
	dir := (&Options{Dir: cfg.Dir}).absDir()
	for _, r := range roots {
		p, errs := checkPackage(fset, r, depTypes, checked, cache)
		for _, e := range errs {
			e.Pos.Filename = relPath(dir, e.Pos.Filename)
		}
		list = append(list, errs...)
		checked[r.ID] = p.Types
		pkgs = append(pkgs, p)
	}
	if len(list) > 0 {
		return nil, true, list.sort()
	}
	return pkgs, true, nil
}

// checkPackage parses and type-checks one root.
func checkPackage(fset *token.FileSet, r *packages.Package, deps, roots map[string]*types.Package, cache map[string][]byte) (*packages.Package, ErrorList) {
	p := &packages.Package{
		ID: r.ID, Name: r.Name, PkgPath: r.PkgPath, Fset: fset,
		GoFiles: r.GoFiles, CompiledGoFiles: r.CompiledGoFiles, IgnoredFiles: r.IgnoredFiles,
		Module: r.Module, Imports: map[string]*packages.Package{},
	}
	var errs ErrorList
	for _, name := range r.CompiledGoFiles {
		src, ok := cache[name]
		if !ok {
			var err error
			if src, err = os.ReadFile(name); err != nil {
				errs = append(errs, &Error{Msg: fmt.Sprintf("read %s: %v", name, err)})
				continue
			}
		}
		f, err := parser.ParseFile(fset, name, src, parser.ParseComments|parser.SkipObjectResolution)
		if f != nil {
			p.Syntax = append(p.Syntax, f)
		}
		var el scanner.ErrorList
		if errors.As(err, &el) {
			for _, e := range el {
				errs = append(errs, &Error{Pos: e.Pos, Msg: e.Msg})
			}
		} else if err != nil {
			errs = append(errs, &Error{Msg: err.Error()})
		}
	}
	if len(errs) > 0 {
		return p, errs
	}
	importer := func(path string) (*types.Package, error) {
		imp, ok := r.Imports[path]
		if !ok {
			if path == "unsafe" {
				return types.Unsafe, nil
			}
			return nil, fmt.Errorf("package %s is not imported by %s", path, r.ID)
		}
		t := roots[imp.ID]
		if t == nil {
			t = deps[imp.ID]
		}
		if t == nil {
			if imp.ID == "unsafe" {
				return types.Unsafe, nil
			}
			return nil, fmt.Errorf("no type information for %s", imp.ID)
		}
		p.Imports[path] = &packages.Package{ID: imp.ID, Name: t.Name(), PkgPath: t.Path(), Types: t}
		return t, nil
	}
	conf := types.Config{
		Importer: importerFunc(importer),
		Sizes:    types.SizesFor("gc", runtime.GOARCH),
		Error: func(err error) {
			if te, ok := err.(types.Error); ok {
				if guardTypeError.MatchString(te.Msg) {
					return // the guard of another version, replaced by the run
				}
				errs = append(errs, &Error{Pos: te.Fset.Position(te.Pos), Msg: te.Msg})
			} else {
				errs = append(errs, &Error{Msg: err.Error()})
			}
		},
	}
	if r.Module != nil && r.Module.GoVersion != "" {
		conf.GoVersion = "go" + r.Module.GoVersion
	}
	p.TypesInfo = &types.Info{
		Types:        map[ast.Expr]types.TypeAndValue{},
		Defs:         map[*ast.Ident]types.Object{},
		Uses:         map[*ast.Ident]types.Object{},
		Implicits:    map[ast.Node]types.Object{},
		Instances:    map[*ast.Ident]types.Instance{},
		Scopes:       map[ast.Node]*types.Scope{},
		Selections:   map[*ast.SelectorExpr]*types.Selection{},
		FileVersions: map[*ast.File]string{},
	}
	p.Types, _ = conf.Check(r.PkgPath, fset, p.Syntax, p.TypesInfo)
	return p, errs
}

type importerFunc func(path string) (*types.Package, error)

func (f importerFunc) Import(path string) (*types.Package, error) { return f(path) }
