// Package testmod makes throwaway Go modules that use this checkout of
// fluxloop-go, for tests that instrument, build and run generated code.
package testmod

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Root is the directory of this checkout.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(filepath.Dir(file)))
}

// RuntimeModule is the module of the runtime package that instrumented code
// imports.
const RuntimeModule = "github.com/fluxloop/fluxloop-go/runtime"

// New makes a temporary module named example.com/name that requires the
// runtime module through a replace to this checkout's runtime/, and
// golang.org/x/sync for test programs that use errgroup, with the go.sum
// lines of the checkout's modules.
func New(t testing.TB, name string) string {
	t.Helper()
	dir := t.TempDir()
	root := Root()
	gomod := "module example.com/" + name + "\n\ngo 1.26\n\nrequire (\n\t" + RuntimeModule + " v0.0.0\n\tgolang.org/x/sync v0.24.0\n)\n\nreplace " + RuntimeModule + " => " + filepath.Join(root, "runtime") + "\n"
	WriteFile(t, filepath.Join(dir, "go.mod"), []byte(gomod))
	var sum []byte
	for _, f := range []string{"go.sum", filepath.Join("runtime", "go.sum")} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		sum = append(sum, b...)
	}
	WriteFile(t, filepath.Join(dir, "go.sum"), sum)
	return dir
}

// WriteFile writes data to path, making its directories.
func WriteFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
