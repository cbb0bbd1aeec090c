package generator_test

import (
	"bytes"
	"context"
	"go/format"
	"os"
	"path/filepath"
	"testing"

	"github.com/fluxloop/fluxloop-go/generator"
	"github.com/fluxloop/fluxloop-go/internal/diff"
)

// TestAnnotateInstrumentRoundTrip: on gofmt'd files, annotate's output is
// gofmt'd, and annotate, instrument, -remove, annotate -remove gives every
// file back byte for byte.
func TestAnnotateInstrumentRoundTrip(t *testing.T) {
	if testing.Short() {
		t.Skip("loads packages with the go command")
	}
	files := map[string]string{
		"docs.go": `package rt

import (
	"context"
	"fmt"
)

// Add adds.
func Add(a, b int) int { return a + b }

// Describe has a doc comment
// of two lines.
func Describe(ctx context.Context, v any) (string, error) {
	return fmt.Sprint(v), nil
}

func NoDoc(s string) string {
	return s + "!"
}

// Inline is not inlined.
//
//go:noinline
func Inline() {}

//go:noinline
func OnlyDirective() int { return 1 }
`,
		"methods.go": `package rt

import "sync"

// Store is guarded.
type Store struct {
	mu sync.Mutex
	m  map[string]int
}

// Lock and Unlock are adjacent one-line methods, aligned by gofmt.
func (s *Store) Lock()   { s.mu.Lock() }
func (s *Store) Unlock() { s.mu.Unlock() }

func (s *Store) Get(k string) int {
	s.Lock()
	defer s.Unlock()
	return s.m[k]
}
func (s *Store) Len() int { return len(s.m) }

// Map applies f.
func Map[T, U any](xs []T, f func(T) U) []U {
	out := make([]U, 0, len(xs))
	for _, x := range xs {
		out = append(out, f(x))
	}
	return out
}

type Pair[K comparable, V any] struct {
	k K
	v V
}

func (p Pair[K, V]) Key() K { return p.k }
`,
	}
	mod := newModule(t)
	t.Setenv("GOFLAGS", "-mod=mod")
	dir := filepath.Join(mod, "rt")
	for name, src := range files {
		if formatted, err := format.Source([]byte(src)); err != nil || string(formatted) != src {
			t.Fatalf("%s is not gofmt'd: fix the test", name)
		}
		writeFile(t, filepath.Join(dir, name), []byte(src))
	}
	ctx := context.Background()
	read := func() map[string][]byte {
		got := map[string][]byte{}
		for name := range files {
			data, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			got[name] = data
		}
		return got
	}
	write := func(what string) func(*generator.Result, error) {
		return func(res *generator.Result, err error) {
			t.Helper()
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if len(res.Changes) == 0 {
				t.Fatalf("%s changed nothing", what)
			}
			if err := generator.Write(res.Changes); err != nil {
				t.Fatal(err)
			}
		}
	}

	write("annotate")(generator.Annotate(ctx, generator.AnnotateOptions{Dir: dir}))
	annotated := read()
	for name, data := range annotated {
		if formatted, err := format.Source(data); err != nil || !bytes.Equal(formatted, data) {
			t.Errorf("annotate's %s is not gofmt'd:\n%s", name, diff.Unified(name, name+".gofmt", data, formatted))
		}
	}
	write("instrument")(generator.Generate(ctx, generator.Options{Dir: dir}))
	for name, data := range read() {
		checkInPlace(t, name, data)
	}
	write("-remove")(generator.Generate(ctx, generator.Options{Dir: dir, Remove: true}))
	for name, data := range read() {
		if !bytes.Equal(data, annotated[name]) {
			t.Errorf("-remove did not give annotate's %s back:\n%s", name, diff.Unified(name+".annotated", name+".removed", annotated[name], data))
		}
	}
	write("annotate -remove")(generator.Annotate(ctx, generator.AnnotateOptions{Dir: dir, Remove: true}))
	for name, data := range read() {
		if want := []byte(files[name]); !bytes.Equal(data, want) {
			t.Errorf("annotate -remove did not give %s back:\n%s", name, diff.Unified(name+".orig", name+".got", want, data))
		}
	}
}
