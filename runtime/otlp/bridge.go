package otlp

import (
	"context"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"go.opentelemetry.io/otel/trace"
)

// Bridge returns the bridge between fluxloop and the OpenTelemetry API's
// context (see the package documentation): its Parent reads the active
// OpenTelemetry span of a ctx (trace.SpanContextFromContext), its Value
// makes an observation the active OpenTelemetry span of the ctx a traced
// function runs with (as trace.ContextWithSpanContext would, not remote),
// answering OpenTelemetry's lookup without wrapping the ctx. It only moves
// ids: no OpenTelemetry span is started or ended.
//
// InstallBridge installs it; use Bridge directly to combine it with another.
func Bridge() *fluxloop.Bridge {
	return &fluxloop.Bridge{Parent: otelParent, Value: observationValue}
}

// InstallBridge installs Bridge as fluxloop's bridge (fluxloop.SetBridge),
// so that observations and the OpenTelemetry API's spans of this process
// share their traces (see the package documentation). Call it once at
// startup, as you would otel.SetTracerProvider, when the program uses
// OpenTelemetry instrumentation too: importing the package does not install
// it. It replaces any other bridge; calling it again does no harm, and
// fluxloop.SetBridge(nil) removes it.
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

// otelSpanKey is the context key under which OpenTelemetry keeps the active
// span. It is unexported, so it is found once by watching which key
// trace.SpanContextFromContext looks up.
var otelSpanKey = func() any {
	var probe keyProbe
	trace.SpanContextFromContext(&probe)
	return probe.key
}()

// keyProbe is a context that records the key of a Value lookup.
type keyProbe struct {
	context.Context
	key any
}

func (p *keyProbe) Value(key any) any {
	if p.key == nil {
		p.key = key
	}
	return nil
}

// observationValue answers OpenTelemetry's lookup of the active span in an
// observation's ctx with a span context carrying the observation's ids, so
// spans started there nest under it. Other keys go on to the parent ctx.
func observationValue(key any, sc fluxloop.SpanContext) (any, bool) {
	if key == nil || key != otelSpanKey {
		return nil, false
	}
	return wrapObservation(context.Background(), sc).Value(key), true
}
