package generator_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fluxloop/fluxloop-go/generator"
)

// TestStaleInstrumentation: when a directive is deleted from an instrumented
// function, the next run removes the function's instrumentation (and the
// runtime import once nothing uses it), giving back the original source.
func TestStaleInstrumentation(t *testing.T) {
	if testing.Short() {
		t.Skip("loads packages with the go command")
	}
	mod := newModule(t)
	t.Setenv("GOFLAGS", "-mod=mod")
	dir := filepath.Join(mod, "stale")
	orig := "package stale\n\nimport \"context\"\n\n// Step is a step.\n//\n//fluxloop:trace\nfunc Step(ctx context.Context, q string) (string, error) {\n\treturn q, nil\n}\n"
	path := filepath.Join(dir, "stale.go")
	writeFile(t, path, []byte(orig))
	ctx := context.Background()
	opts := generator.Options{Dir: dir}
	res, err := generator.Generate(ctx, opts)
	if err != nil || len(res.Changes) != 1 {
		t.Fatalf("generate: %v, %d changes", err, len(res.Changes))
	}
	if err := generator.Write(res.Changes); err != nil {
		t.Fatal(err)
	}
	inst, _ := os.ReadFile(path)
	unmarked := strings.Replace(string(inst), "//\n//fluxloop:trace\n", "", 1)
	writeFile(t, path, []byte(unmarked))
	res, err = generator.Generate(ctx, opts)
	if err != nil || len(res.Changes) != 1 {
		t.Fatalf("second generate: %v, %+v", err, res)
	}
	want := strings.Replace(orig, "//\n//fluxloop:trace\n", "", 1)
	if got := string(res.Changes[0].New); got != want {
		t.Errorf("stale instrumentation not removed:\n%s\nwant:\n%s", got, want)
	}
}
