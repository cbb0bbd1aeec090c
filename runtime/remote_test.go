package fluxloop_test

import (
	"context"
	"testing"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"github.com/fluxloop/fluxloop-go/runtime/fluxlooptest"
)

func TestParseTraceparent(t *testing.T) {
	for _, tc := range []struct {
		h       string
		ok      bool
		sampled bool
	}{
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", true, true},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", true, false},
		{"00-00000000000000000000000000000000-00f067aa0ba902b7-01", false, false},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", false, false},
		{"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", false, false},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", false, false},
		{"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", true, true},
		{"00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01", false, false},
		{"garbage", false, false},
	} {
		sc, ok := fluxloop.ParseTraceparent(tc.h)
		if ok != tc.ok || ok && sc.Sampled != tc.sampled {
			t.Errorf("ParseTraceparent(%q) = %+v, %v; want ok %v sampled %v", tc.h, sc, ok, tc.ok, tc.sampled)
		}
		if ok && tc.h[:2] == "00" && sc.Traceparent() != tc.h {
			t.Errorf("Traceparent() = %q, want %q", sc.Traceparent(), tc.h)
		}
	}
}

func TestRemoteParent(t *testing.T) {
	rec := fluxlooptest.New(t)
	sc, _ := fluxloop.ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	ctx := fluxloop.ContextWithRemoteParent(context.Background(), sc)
	if _, err := Run(ctx, "q"); err != nil {
		t.Fatal(err)
	}
	run := rec.MustGet("Run")
	if run.TraceID != "4bf92f3577b34da6a3ce929d0e0e4736" || run.ParentObservationID != "00f067aa0ba902b7" {
		t.Errorf("Run trace %s parent %s, want the remote parent's", run.TraceID, run.ParentObservationID)
	}
	if add := rec.MustGet("Add"); add.ParentObservationID != run.ID || add.TraceID != run.TraceID {
		t.Errorf("Add not under Run:\n%s", rec.Tree())
	}

	// An unsampled caller: nothing is recorded.
	rec.Reset()
	sc.Sampled = false
	if _, err := Run(fluxloop.ContextWithRemoteParent(context.Background(), sc), "q"); err != nil {
		t.Fatal(err)
	}
	if obs := rec.Observations(); len(obs) != 0 {
		t.Errorf("unsampled remote parent, but recorded:\n%s", rec.Tree())
	}
}

type bridgeKey struct{}

func TestBridge(t *testing.T) {
	rec := fluxlooptest.New(t)
	other, _ := fluxloop.ParseTraceparent("00-11111111111111111111111111111111-2222222222222222-01")
	var seen fluxloop.SpanContext
	fluxloop.SetBridge(&fluxloop.Bridge{
		Parent: func(ctx context.Context) (fluxloop.SpanContext, bool) {
			sc, ok := ctx.Value(bridgeKey{}).(fluxloop.SpanContext)
			return sc, ok
		},
		Wrap: func(ctx context.Context, sc fluxloop.SpanContext) context.Context {
			return context.WithValue(ctx, bridgeKey{}, sc)
		},
	})
	defer fluxloop.SetBridge(nil)
	ctx, obs := fluxloop.Start(context.WithValue(context.Background(), bridgeKey{}, other), "outer")
	seen, _ = ctx.Value(bridgeKey{}).(fluxloop.SpanContext)
	if _, err := Run(ctx, "q"); err != nil {
		t.Fatal(err)
	}
	obs.End()
	outer, run := rec.MustGet("outer"), rec.MustGet("Run")
	if outer.TraceID != "11111111111111111111111111111111" || outer.ParentObservationID != "2222222222222222" {
		t.Errorf("outer did not join the bridged trace: %s %s", outer.TraceID, outer.ParentObservationID)
	}
	if seen != obs.SpanContext() {
		t.Errorf("bridged tracer sees %+v, want the observation %+v", seen, obs.SpanContext())
	}
	if run.ParentObservationID != outer.ID {
		t.Errorf("Run not under outer:\n%s", rec.Tree())
	}
}
