package generator_test

import (
	"bytes"
	"context"
	"go/format"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fluxloop/fluxloop-go/generator"
	"github.com/fluxloop/fluxloop-go/internal/diff"
	"golang.org/x/tools/txtar"
)

// TestEarlierVersion runs the generator on files that an earlier version
// instrumented in place, with //line directives (testdata/compat): a run
// gives what a run on the sources gives (no directive left, a fixed point),
// and -remove gives the sources back.
func TestEarlierVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("loads packages with the go command")
	}
	a, err := txtar.ParseFile(filepath.Join(testdataDir(t), "compat", "lines.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	input, old := map[string][]byte{}, map[string][]byte{}
	for _, f := range a.Files {
		if name, ok := strings.CutPrefix(f.Name, "input/"); ok {
			input[name] = f.Data
		} else if name, ok := strings.CutPrefix(f.Name, "old/"); ok {
			old[name] = f.Data
		}
	}
	mod := newModule(t)
	t.Setenv("GOFLAGS", "-mod=mod")
	ctx := context.Background()
	generate := func(dir string, files map[string][]byte, remove bool) map[string][]byte {
		t.Helper()
		for name, data := range files {
			writeFile(t, filepath.Join(mod, dir, name), data)
		}
		res, err := generator.Generate(ctx, generator.Options{Dir: filepath.Join(mod, dir), Patterns: []string{"./..."}, Remove: remove})
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		out := map[string][]byte{}
		for name, data := range files {
			out[name] = data
		}
		for _, ch := range res.Changes {
			out[rel(t, filepath.Join(mod, dir), ch.Path)] = ch.New
		}
		return out
	}

	removed := generate("removed", old, true)
	for name, want := range input {
		if formatted, err := format.Source(want); err == nil {
			want = formatted // -remove is exact for gofmt'd sources
		}
		if !bytes.Equal(removed[name], want) {
			t.Errorf("-remove of %s:\n%s", name, diff.Unified(name+".want", name+".removed", want, removed[name]))
		}
	}

	fresh := generate("fresh", input, false)
	again := generate("again", old, false)
	for name := range input {
		if !bytes.Equal(again[name], fresh[name]) {
			t.Errorf("a run on the earlier output of %s differs from a run on the source:\n%s", name, diff.Unified(name+".fresh", name+".again", fresh[name], again[name]))
		}
		checkInPlace(t, name, again[name])
	}
	for name, data := range generate("second", again, false) {
		if !bytes.Equal(data, again[name]) {
			t.Errorf("a second run changed %s:\n%s", name, diff.Unified(name+".first", name+".second", again[name], data))
		}
	}
}
