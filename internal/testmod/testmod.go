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

// New makes a temporary module named example.com/name that requires
// fluxloop-go through a replace to this checkout, with the checkout's go.sum.
func New(t testing.TB, name string) string {
	t.Helper()
	dir := t.TempDir()
	root := Root()
	gomod := "module example.com/" + name + "\n\ngo 1.26\n\nrequire github.com/fluxloop/fluxloop-go v0.0.0\n\nreplace github.com/fluxloop/fluxloop-go => " + root + "\n"
	WriteFile(t, filepath.Join(dir, "go.mod"), []byte(gomod))
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
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
