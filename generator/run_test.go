package generator_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fluxloop/fluxloop-go/generator"
	"golang.org/x/tools/txtar"
)

// TestRun instruments the programs in testdata/run and runs their tests,
// which assert the observation trees the instrumented code records (names,
// types, parents, timing order, inputs, outputs, errors, panics) with the
// runtime's test recorder. This is the layer that proves generated code
// behaves: golden files only prove it looks as expected.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs generated programs")
	}
	files, err := filepath.Glob(filepath.Join(testdataDir(t), "run", "*.txtar"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no run cases: %v", err)
	}
	mod := newModule(t)
	t.Setenv("GOFLAGS", "-mod=mod") // let the go command fill in go.mod
	var pkgs []string
	for _, f := range files {
		a, err := txtar.ParseFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(filepath.Base(f), ".txtar")
		dir := filepath.Join(mod, name)
		for _, af := range a.Files {
			writeFile(t, filepath.Join(dir, af.Name), af.Data)
		}
		res, err := generator.Generate(context.Background(), generator.Options{Dir: dir, Patterns: []string{"./..."}})
		if err != nil {
			t.Fatalf("%s: generate: %v", name, err)
		}
		if res.Functions == 0 {
			t.Fatalf("%s: nothing instrumented", name)
		}
		if err := generator.Write(res.Changes); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, "./"+name+"/...")
	}
	cmd := exec.Command("go", append([]string{"test", "-race", "-count=1"}, pkgs...)...)
	cmd.Dir = mod
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go test of the instrumented programs: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
