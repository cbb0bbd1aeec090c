package benchmarks

import (
	"context"
	"testing"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// The traced-call pair: the whole cost of one traced call
// f(ctx, a, b int) (int, error), its record included, against an
// OpenTelemetry SDK span exported by the official OTLP/HTTP exporter. Both
// flush every flushEvery calls inside the timed region, so the background
// work (encoding, writing, exporting) is part of ns/op; at -cpu 1 it runs on
// the same processor as the calls. Compare with BenchmarkFloor, measured in
// the same run:
//
//	go test -run '^$' -bench 'Floor|TracedCall' -benchmem -cpu 1 -count 5 .
const flushEvery = 2048

// BenchmarkTracedCall: generated code, the default JSONL file storage. Each
// call is a child of one open root, as the steps of an agent run are.
func BenchmarkTracedCall(b *testing.B) {
	c := install(b, fluxloop.WithDir(b.TempDir()), fluxloop.WithMaxQueueSize(2*flushEvery))
	ctx, root := fluxloop.Start(context.Background(), "root")
	bg := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		instrumented(ctx, i, 1)
		if i%flushEvery == flushEvery-1 {
			if err := c.Flush(bg); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := c.Flush(bg); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	root.End()
	if st := c.Stats(); st.Dropped > 0 {
		b.Fatalf("dropped %d observations", st.Dropped)
	}
}

// BenchmarkTracedCallRoot is TracedCall with every call a run of its own
// (an observation and a trace record each).
func BenchmarkTracedCallRoot(b *testing.B) {
	c := install(b, fluxloop.WithDir(b.TempDir()), fluxloop.WithMaxQueueSize(2*flushEvery))
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		instrumented(ctx, i, 1)
		if i%flushEvery == flushEvery-1 {
			if err := c.Flush(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := c.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if st := c.Stats(); st.Dropped > 0 {
		b.Fatalf("dropped %d observations", st.Dropped)
	}
}

// BenchmarkTracedCallOTel is the same call as an OpenTelemetry SDK span with
// the arguments and the result as attributes, batched and exported with
// otlptracehttp (protobuf) to a receiver on loopback, ForceFlush every
// flushEvery calls. Children of one open root span, like TracedCall.
func BenchmarkTracedCallOTel(b *testing.B) {
	bg := context.Background()
	exp, err := otlptracehttp.New(bg, otlptracehttp.WithEndpointURL(otlpSink(b)))
	if err != nil {
		b.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSampler(sdktrace.AlwaysSample()),
		sdktrace.WithBatcher(exp, sdktrace.WithMaxQueueSize(2*flushEvery), sdktrace.WithMaxExportBatchSize(flushEvery)),
	)
	b.Cleanup(func() { tp.Shutdown(bg) })
	tracer = tp.Tracer("bench")
	ctx, root := tracer.Start(bg, "root")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		otelSpan(ctx, i, 1)
		if i%flushEvery == flushEvery-1 {
			if err := tp.ForceFlush(bg); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := tp.ForceFlush(bg); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	root.End()
}
