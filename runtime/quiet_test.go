package fluxloop_test

import (
	"fmt"
	"testing"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"github.com/fluxloop/fluxloop-go/runtime/fluxlooptest"
)

// hexID marshals itself through a traced function, as google/uuid's UUID
// does: capturing it must not call that, and capturing an error whose Error
// method calls traced code must not record nested observations.
type hexID [2]byte

func (id hexID) MarshalText() ([]byte, error) { return []byte(hexOf(id)), nil }

var siteHexOf = fluxloop.Site{Name: "hexOf", Type: fluxloop.TypeSpan, Params: []string{"id"}}

func hexOf(id hexID) (__fluxloopR0 string) {
	__fluxloopSpan := fluxloop.EnterLocal(&siteHexOf)
	if __fluxloopSpan != nil {
		__fluxloopSpan.Inputs(fluxloop.V(id))
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			__fluxloopSpan.Return(nil, fluxloop.V(__fluxloopR0))
		}()
	}
	return fmt.Sprintf("%x", id[:])
}

type loudErr struct{}

func (loudErr) Error() string { return hexOf(hexID{9, 9}) }

func TestCaptureRunsNoTracedCode(t *testing.T) {
	rec := fluxlooptest.New(t)
	if got := hexOf(hexID{1, 2}); got != "0102" {
		t.Fatalf("hexOf = %q", got)
	}
	obs := rec.Observations()
	if len(obs) != 1 {
		t.Fatalf("%d observations, want 1 (capturing the input must not trace):\n%s", len(obs), rec.Tree())
	}
	if string(obs[0].Input) != `{"id":[1,2]}` { // MarshalText is not called
		t.Errorf("input %s", obs[0].Input)
	}
	rec.Reset()
	ctx, s := fluxloop.Start(t.Context(), "outer")
	fluxloop.RecordError(ctx, loudErr{})
	if got := hexOf(hexID{3, 4}); got != "0304" { // the goroutine's current span is back
		t.Fatal(got)
	}
	s.End()
	if got := rec.Tree(); len(rec.Observations()) != 2 || rec.MustGet("hexOf").ParentObservationID != rec.MustGet("outer").ID {
		t.Errorf("after capturing an error, tracing does not resume under outer:\n%s", got)
	}
}
