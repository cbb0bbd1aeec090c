package fluxlooptest_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"github.com/fluxloop/fluxloop-go/runtime/fluxlooptest"
)

var (
	siteAgent  = fluxloop.Site{Name: "Agent", Type: fluxloop.TypeAgent, Params: []string{"q"}}
	siteSearch = fluxloop.Site{Name: "Search", Type: fluxloop.TypeTool, Params: []string{"q"}}
)

// agent and search are instrumented as fluxloopgen would.
func agent(ctx context.Context, q string) (r0 string) {
	ctx, sp := fluxloop.Enter(ctx, &siteAgent)
	if sp != nil {
		sp.Inputs(fluxloop.V(q))
		defer func() { sp.Return(nil, fluxloop.V(r0)) }()
	}
	return search(ctx, q) + search(ctx, q+"!")
}

func search(ctx context.Context, q string) (r0 string) {
	ctx, sp := fluxloop.Enter(ctx, &siteSearch)
	if sp != nil {
		sp.Inputs(fluxloop.V(q))
		defer func() { sp.Return(nil, fluxloop.V(r0)) }()
	}
	return "[" + q + "]"
}

// The example from the package documentation.
func TestAgentTree(t *testing.T) {
	rec := fluxlooptest.New(t)
	agent(context.Background(), "hello")

	run := rec.MustGet("Agent")
	kids := rec.Children(run.ID)
	if len(kids) != 2 || kids[0].Name != "Search" {
		t.Errorf("Agent's children:\n%s", rec.Tree())
	}
	if roots := rec.Roots(); len(roots) != 1 || roots[0].ID != run.ID {
		t.Errorf("roots %v", roots)
	}
	if want := "agent Agent\n  tool Search\n  tool Search\n"; rec.Tree() != want {
		t.Errorf("Tree() = %q, want %q", rec.Tree(), want)
	}
	if _, ok := rec.ByName("Missing"); ok {
		t.Errorf("ByName found a missing observation")
	}
	if n := len(rec.Traces()); n != 1 {
		t.Errorf("%d traces", n)
	}
	rec.Reset()
	if n := len(rec.Observations()); n != 0 {
		t.Errorf("%d observations after Reset", n)
	}
}

func TestRestoresDefault(t *testing.T) {
	before := fluxloop.Default()
	t.Run("inner", func(t *testing.T) {
		rec := fluxlooptest.New(t, fluxloop.WithCapture(fluxloop.CaptureNone))
		if fluxloop.Default() != rec.Client() {
			t.Fatal("the recorder's client is not the default")
		}
		agent(context.Background(), "x")
		if o := rec.MustGet("Agent"); o.Input != nil {
			t.Errorf("options not applied: input %s", o.Input)
		}
	})
	if fluxloop.Default() != before {
		t.Errorf("default client not restored")
	}
}

func TestRenderTreeOrphans(t *testing.T) {
	got := fluxlooptest.RenderTree([]fluxloop.Observation{
		{ID: "1", Name: "a", Type: fluxloop.TypeSpan},
		{ID: "2", ParentObservationID: "9", Name: "b", Type: fluxloop.TypeSpan, Error: "boom"},
	})
	if !strings.Contains(got, "span b (orphan) (error: boom)") || !strings.HasPrefix(got, "span a\n") {
		t.Errorf("RenderTree = %q", got)
	}
}

// Recorders bound to their tests see their own runs only, tests run in
// parallel, goroutines of a run follow it, and the default client records
// none of it.
func TestParallel(t *testing.T) {
	def := fluxlooptest.New(t) // the default client, to catch strays
	t.Run("group", func(t *testing.T) {
		for i := range 8 {
			tag := strings.Repeat("q", i+1)
			t.Run(tag, func(t *testing.T) {
				t.Parallel()
				rec := fluxlooptest.NewParallel(t)
				done := make(chan string)
				for range 3 {
					go func() { done <- agent(rec.Context(), tag) }()
				}
				for range 3 {
					<-done
				}
				runs := rec.All("Agent")
				if len(runs) != 3 {
					t.Fatalf("%d runs, want 3:\n%s", len(runs), rec.Tree())
				}
				for _, run := range runs {
					if string(run.Input) != `{"q":"`+tag+`"}` {
						t.Errorf("another test's run: %s", run.Input)
					}
					if kids := rec.Children(run.ID); len(kids) != 2 {
						t.Errorf("%d children", len(kids))
					}
				}
				if n := len(rec.Traces()); n != 3 {
					t.Errorf("%d traces, want 3", n)
				}
			})
		}
	})
	if obs := def.Observations(); len(obs) != 0 {
		t.Errorf("the default client recorded %d observations:\n%s", len(obs), def.Tree())
	}
}

// fakeTB records Fatalf instead of stopping the test.
type fakeTB struct {
	testing.TB
	msg string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// MustGet on a recorder that recorded nothing says so and hints at the
// generator, rather than showing an empty tree.
func TestMustGetNothingRecorded(t *testing.T) {
	ft := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fluxlooptest.NewParallel(ft).MustGet("Agent")
	}()
	<-done
	if !strings.Contains(ft.msg, "nothing was recorded at all") || !strings.Contains(ft.msg, "instrumented") {
		t.Errorf("message %q", ft.msg)
	}
}
