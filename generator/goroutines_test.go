package generator

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
)

// The names the generator emits and strips are the runtime's: every name
// of followNames is an exported function of package runtime with as many
// type parameters as its shape has parameters and results, and the runtime
// has no other Follow function; Bind and BindErr exist.
func TestFollowNamesMatchRuntime(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(filepath.Dir(file)), "runtime")
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	declared := map[string]*ast.FuncDecl{}
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && ast.IsExported(fd.Name.Name) {
				declared[fd.Name.Name] = fd
			}
		}
	}
	var runtimeFollow []string
	for name := range declared {
		if strings.HasPrefix(name, "Follow") {
			runtimeFollow = append(runtimeFollow, name)
		}
	}
	var ours []string
	for name := range followNames {
		ours = append(ours, name)
	}
	sort.Strings(runtimeFollow)
	sort.Strings(ours)
	if strings.Join(runtimeFollow, " ") != strings.Join(ours, " ") {
		t.Errorf("runtime Follow functions:\n%v\ngenerator's names:\n%v", runtimeFollow, ours)
	}
	for n := 0; n <= maxFollowParams; n++ {
		for m := 0; m <= maxFollowResults; m++ {
			for _, variadic := range []bool{false, true} {
				if variadic && n == 0 {
					continue
				}
				fd := declared[followName(n, m, variadic)]
				if fd == nil {
					continue // reported above
				}
				tparams := 0
				if fd.Type.TypeParams != nil {
					tparams = fd.Type.TypeParams.NumFields()
				}
				fn, ok := fd.Type.Params.List[0].Type.(*ast.FuncType)
				if tparams != n+m || !ok || fn.Params.NumFields() != n || fn.Results.NumFields() != m {
					t.Errorf("%s does not take a function of %d parameters and %d results", fd.Name.Name, n, m)
				}
			}
		}
	}
	for _, name := range []string{"Bind", "BindErr"} {
		if declared[name] == nil {
			t.Errorf("runtime has no %s", name)
		}
	}
}
