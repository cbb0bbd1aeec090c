package otlp

import (
	"context"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"go.opentelemetry.io/otel/trace"
)

// Bridge returns the bridge between fluxloop and the OpenTelemetry API's
// context (see the package documentation): its Parent reads the active
// OpenTelemetry span of a ctx (trace.SpanContextFromContext), its Wrap makes
// an observation the active OpenTelemetry span of the ctx a traced function
// runs with (trace.ContextWithSpanContext, not remote). It only moves ids:
// no OpenTelemetry span is started or ended.
//
// InstallBridge installs it; use Bridge directly to combine it with another.
func Bridge() *fluxloop.Bridge {
	return &fluxloop.Bridge{Parent: otelParent, Wrap: wrapObservation}
}

// InstallBridge installs Bridge with fluxloop.SetBridge. The package's init
// calls it, so importing the package is enough; calling it again does no
// harm. fluxloop.SetBridge(nil) removes it.
func InstallBridge() { fluxloop.SetBridge(Bridge()) }

// otelParent returns the active OpenTelemetry span of ctx as a parent for an
// observation started there without a fluxloop parent.
func otelParent(ctx context.Context) (fluxloop.SpanContext, bool) {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return fluxloop.SpanContext{}, false
	}
	return fluxloop.SpanContext{
		TraceID: sc.TraceID(),
		SpanID:  sc.SpanID(),
		Sampled: sc.IsSampled(),
	}, true
}

// wrapObservation returns ctx with the observation sc as the active
// OpenTelemetry span, so that spans started from it are its children.
func wrapObservation(ctx context.Context, sc fluxloop.SpanContext) context.Context {
	flags := trace.TraceFlags(0)
	if sc.Sampled {
		flags = trace.FlagsSampled
	}
	// The trace state of an enclosing OpenTelemetry span belongs to the same
	// trace: keep it, as a child span would.
	var ts trace.TraceState
	if parent := trace.SpanContextFromContext(ctx); parent.IsValid() && parent.TraceID() == trace.TraceID(sc.TraceID) {
		ts = parent.TraceState()
	}
	return trace.ContextWithSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    sc.TraceID,
		SpanID:     sc.SpanID,
		TraceFlags: flags,
		TraceState: ts,
	}))
}
