// Package fluxlooptest records fluxloop observations in memory for one test,
// with helpers that keep assertions about the observation tree short.
//
// New installs a recording default client (memory storage, every trace
// sampled, tracing enabled whatever the environment says) and restores the
// previous default client when the test ends. Because it replaces the
// process-wide default client, tests that use it must not run in parallel
// with each other.
//
// NewParallel records through a client bound to the test instead: runs
// started from the recorder's Context (or a ctx passed through Bind) are
// recorded by it, wherever their goroutines go, and the default client is
// left alone, so such tests may call t.Parallel:
//
//	func TestAgentParallel(t *testing.T) {
//		t.Parallel()
//		rec := fluxlooptest.NewParallel(t)
//		myapp.Run(rec.Context(), "hello")
//		rec.MustGet("Run")
//	}
//
// A traced function without a context.Context parameter, called at the top
// of a test, starts its run on the default client: call it from inside a
// traced function, or use New.
//
//	func TestAgent(t *testing.T) {
//		rec := fluxlooptest.New(t)
//		myapp.Run(context.Background(), "hello") // generated code traces it
//
//		run := rec.MustGet("Run")
//		search := rec.MustGet("Search")
//		if search.ParentObservationID != run.ID {
//			t.Errorf("Search is not a child of Run:\n%s", rec.Tree())
//		}
//	}
package fluxlooptest

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
)

// Recorder is the recording client of one test and the observations it
// recorded.
type Recorder struct {
	t      testing.TB
	client *fluxloop.Client
	mem    *fluxloop.MemoryStorage
}

// New installs, for the duration of t, a default client that records to
// memory. opts are applied after the recorder's own options (enabled, memory
// storage, sample rate 1), so a test may change capture, sampling, redaction
// or queue settings, or disable tracing. The client is shut down and the
// previous default client restored in t.Cleanup.
func New(t testing.TB, opts ...fluxloop.Option) *Recorder {
	t.Helper()
	r := newRecorder(t, opts)
	prev := fluxloop.SetDefault(r.client)
	t.Cleanup(func() {
		if prev != nil {
			fluxloop.SetDefault(prev)
		}
	})
	return r
}

// NewParallel returns a recorder whose client is bound to the test, not
// installed as the default client: it records the runs started from
// Context or from a ctx passed through Bind (see fluxloop.ContextWithClient),
// so tests using it may run in parallel. opts are applied as for New; the
// client is shut down in t.Cleanup.
func NewParallel(t testing.TB, opts ...fluxloop.Option) *Recorder {
	t.Helper()
	return newRecorder(t, opts)
}

// Context returns a ctx bound to the recorder's client, done when the test
// ends: runs started from it are recorded by the recorder.
func (r *Recorder) Context() context.Context {
	ctx := context.Background()
	if c, ok := r.t.(interface{ Context() context.Context }); ok {
		ctx = c.Context()
	}
	return r.Bind(ctx)
}

// Bind returns ctx bound to the recorder's client (fluxloop.ContextWithClient).
func (r *Recorder) Bind(ctx context.Context) context.Context {
	return fluxloop.ContextWithClient(ctx, r.client)
}

func newRecorder(t testing.TB, opts []fluxloop.Option) *Recorder {
	t.Helper()
	mem := fluxloop.NewMemoryStorage()
	all := append([]fluxloop.Option{
		fluxloop.WithEnabled(true),
		fluxloop.WithStorage(mem),
		fluxloop.WithSampleRate(1),
		fluxloop.WithFlushInterval(time.Hour),
	}, opts...)
	c, err := fluxloop.NewClient(all...)
	if err != nil {
		t.Fatalf("fluxlooptest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := c.Shutdown(ctx); err != nil {
			t.Errorf("fluxlooptest: %v", err)
		}
	})
	return &Recorder{t: t, client: c, mem: mem}
}

// Client returns the recording client.
func (r *Recorder) Client() *fluxloop.Client { return r.client }

// Storage returns the memory storage the client writes to.
func (r *Recorder) Storage() *fluxloop.MemoryStorage { return r.mem }

// Flush writes every observation that has ended so far.
func (r *Recorder) Flush() {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.client.Flush(ctx); err != nil {
		r.t.Fatalf("fluxlooptest: %v", err)
	}
}

// Observations flushes and returns every observation recorded so far, sorted
// by start time.
func (r *Recorder) Observations() []fluxloop.Observation {
	r.t.Helper()
	r.Flush()
	obs := r.mem.Observations()
	slices.SortStableFunc(obs, func(a, b fluxloop.Observation) int { return a.StartTime.Compare(b.StartTime) })
	return obs
}

// Traces flushes and returns every trace recorded so far, sorted by start
// time.
func (r *Recorder) Traces() []fluxloop.Trace {
	r.t.Helper()
	r.Flush()
	tr := r.mem.Traces()
	slices.SortStableFunc(tr, func(a, b fluxloop.Trace) int { return a.StartTime.Compare(b.StartTime) })
	return tr
}

// Reset forgets everything recorded so far.
func (r *Recorder) Reset() {
	r.t.Helper()
	r.Flush()
	r.mem.Reset()
}

// ByName returns the first observation (by start time) with the given name.
func (r *Recorder) ByName(name string) (fluxloop.Observation, bool) {
	r.t.Helper()
	for _, o := range r.Observations() {
		if o.Name == name {
			return o, true
		}
	}
	return fluxloop.Observation{}, false
}

// All returns every observation with the given name, by start time.
func (r *Recorder) All(name string) []fluxloop.Observation {
	r.t.Helper()
	var out []fluxloop.Observation
	for _, o := range r.Observations() {
		if o.Name == name {
			out = append(out, o)
		}
	}
	return out
}

// MustGet is ByName that fails the test, showing the tree, when there is no
// such observation.
func (r *Recorder) MustGet(name string) fluxloop.Observation {
	r.t.Helper()
	o, ok := r.ByName(name)
	if !ok {
		if len(r.Observations()) == 0 {
			r.t.Fatalf("fluxlooptest: no observation named %q: nothing was recorded at all. Is the code instrumented (go generate, or fluxloopgen ./...)? Does the run start from this recorder (New installs it as the default client; with NewParallel, call the code with rec.Context())?", name)
		}
		r.t.Fatalf("fluxlooptest: no observation named %q; recorded:\n%s", name, r.Tree())
	}
	return o
}

// Children returns the observations whose parent is id, by start time.
func (r *Recorder) Children(id string) []fluxloop.Observation {
	r.t.Helper()
	var out []fluxloop.Observation
	for _, o := range r.Observations() {
		if o.ParentObservationID == id && id != "" {
			out = append(out, o)
		}
	}
	return out
}

// Roots returns the observations without a parent, by start time.
func (r *Recorder) Roots() []fluxloop.Observation {
	r.t.Helper()
	var out []fluxloop.Observation
	for _, o := range r.Observations() {
		if o.ParentObservationID == "" {
			out = append(out, o)
		}
	}
	return out
}

// Tree renders the recorded observations as an indented tree, one line per
// observation ("type name", and the error if any), children under their
// parent in start order. Observations whose parent was not recorded are shown
// as roots marked "(orphan)". Use it in failure messages.
func (r *Recorder) Tree() string {
	r.t.Helper()
	return RenderTree(r.Observations())
}

// RenderTree renders observations as Recorder.Tree does.
func RenderTree(obs []fluxloop.Observation) string {
	obs = slices.Clone(obs)
	slices.SortStableFunc(obs, func(a, b fluxloop.Observation) int {
		return cmp.Or(a.StartTime.Compare(b.StartTime), strings.Compare(a.Name, b.Name))
	})
	ids := make(map[string]bool, len(obs))
	kids := make(map[string][]fluxloop.Observation)
	for _, o := range obs {
		ids[o.ID] = true
		kids[o.ParentObservationID] = append(kids[o.ParentObservationID], o)
	}
	var sb strings.Builder
	var walk func(o fluxloop.Observation, depth int, note string)
	walk = func(o fluxloop.Observation, depth int, note string) {
		fmt.Fprintf(&sb, "%s%s %s%s", strings.Repeat("  ", depth), o.Type, o.Name, note)
		if o.Error != "" {
			fmt.Fprintf(&sb, " (error: %s)", o.Error)
		}
		sb.WriteByte('\n')
		for _, k := range kids[o.ID] {
			walk(k, depth+1, "")
		}
	}
	for _, o := range obs {
		switch {
		case o.ParentObservationID == "":
			walk(o, 0, "")
		case !ids[o.ParentObservationID]:
			walk(o, 0, " (orphan)")
		}
	}
	return sb.String()
}
