package fluxloop_test

import (
	"context"
	"testing"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"github.com/fluxloop/fluxloop-go/runtime/fluxlooptest"
)

// Each run of Run makes a trace of Run, Add and Helper; sampling keeps or
// drops each trace as a whole.
func TestSampling(t *testing.T) {
	const runs = 2000
	for _, tc := range []struct {
		rate     float64
		min, max int // kept traces
	}{
		{0, 0, 0},
		{1, runs, runs},
		{0.5, runs/2 - 150, runs/2 + 150}, // binomial sd ≈ 22
	} {
		rec := fluxlooptest.New(t, fluxloop.WithSampleRate(tc.rate))
		for range runs {
			if _, err := Run(context.Background(), "q"); err != nil {
				t.Fatal(err)
			}
		}
		byTrace := map[string][]string{}
		for _, o := range rec.Observations() {
			byTrace[o.TraceID] = append(byTrace[o.TraceID], o.Name)
		}
		if n := len(byTrace); n < tc.min || n > tc.max {
			t.Errorf("rate %v: %d traces kept of %d, want %d..%d", tc.rate, n, runs, tc.min, tc.max)
		}
		for id, names := range byTrace {
			if len(names) != 3 {
				t.Errorf("rate %v: trace %s has %v, want all of Run, Add, Helper", tc.rate, id, names)
			}
		}
		if got := len(rec.Traces()); got != len(byTrace) {
			t.Errorf("rate %v: %d trace records for %d kept traces", tc.rate, got, len(byTrace))
		}
		if st := rec.Client().Stats(); st.Dropped != 0 {
			t.Errorf("rate %v: %d dropped", tc.rate, st.Dropped)
		}
		rec.Reset()
	}
}

// In an unsampled trace, Enter returns nil below the root but parentage still
// propagates: nothing of the trace is recorded, through ctx or the goroutine
// table.
func TestUnsampledPropagation(t *testing.T) {
	rec := fluxlooptest.New(t, fluxloop.WithSampleRate(0))
	ctx, root := fluxloop.Start(context.Background(), "root")
	if _, child := fluxloop.Start(ctx, "child"); child != nil {
		t.Errorf("Start below an unsampled root returned a span")
	}
	root.End()
	ctx2, sp := fluxloop.Enter(context.Background(), &siteAdd)
	if sp == nil {
		t.Fatal("an unsampled root from Enter must still be returned, to carry the decision")
	}
	if sp.ID() == "" || len(sp.TraceID()) != 32 {
		t.Errorf("unsampled root id %q trace %q", sp.ID(), sp.TraceID())
	}
	if _, child := fluxloop.Enter(ctx2, &siteAdd); child != nil {
		t.Errorf("child of an unsampled root is not nil")
	}
	if child := fluxloop.EnterLocal(&siteHelper); child != nil {
		t.Errorf("goroutine-local child of an unsampled root is not nil")
	}
	sp.SetAttributes(fluxloop.Attribute("k", 1)) // no-ops
	sp.Inputs(fluxloop.V(1))
	sp.Return(nil, fluxloop.V(2))
	if obs := rec.Observations(); len(obs) != 0 {
		t.Errorf("recorded %d observations of an unsampled trace", len(obs))
	}
	if cur := fluxloop.SpanFromContext(nil); cur != nil {
		t.Errorf("unsampled root still current after it ended")
	}
}
