package benchmarks

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

//go:noinline
func plain(ctx context.Context, a, b int) (int, error) {
	return a + b, nil
}

var siteAdd = fluxloop.Site{Name: "add", Type: fluxloop.TypeSpan, Params: []string{"a", "b"}}

// instrumented is plain as fluxloopgen writes it.
//
//go:noinline
func instrumented(ctx context.Context, a, b int) (__fluxloopR0 int, __fluxloopR1 error) {
	ctx, __fluxloopSpan := fluxloop.Enter(ctx, &siteAdd)
	if __fluxloopSpan != nil {
		__fluxloopSpan.Inputs(fluxloop.V(a), fluxloop.V(b))
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			__fluxloopSpan.Return(__fluxloopR1, fluxloop.V(__fluxloopR0))
		}()
	}
	return a + b, nil
}

// floor times plain the cheapest way possible.
//
//go:noinline
func floor(ctx context.Context, a, b int) (int, error) {
	start := time.Now()
	defer func() { sink = time.Since(start) }()
	return plain(ctx, a, b)
}

var sink time.Duration

var tracer trace.Tracer

//go:noinline
func otelSpan(ctx context.Context, a, b int) (int, error) {
	ctx, span := tracer.Start(ctx, "add")
	span.SetAttributes(attribute.Int("a", a), attribute.Int("b", b))
	r, err := plain(ctx, a, b)
	span.SetAttributes(attribute.Int("output", r))
	span.End()
	return r, err
}

type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }

// install makes a default client for one benchmark and restores the previous
// one afterwards.
func install(tb testing.TB, opts ...fluxloop.Option) *fluxloop.Client {
	tb.Helper()
	if b, ok := tb.(*testing.B); ok {
		quietStderr(b)
	}
	c, err := fluxloop.NewClient(opts...)
	if err != nil {
		tb.Fatal(err)
	}
	prev := fluxloop.SetDefault(c)
	tb.Cleanup(func() {
		if err := c.Shutdown(context.Background()); err != nil {
			tb.Error(err)
		}
		if prev != nil {
			fluxloop.SetDefault(prev)
		}
	})
	return c
}

// quietStderr silences the runtime's one-time "queue full" warning, which
// the saturating benchmarks trigger on purpose (drops are reported as a
// metric instead).
func quietStderr(b *testing.B) {
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return
	}
	saved := os.Stderr
	os.Stderr = null
	b.Cleanup(func() { os.Stderr = saved; null.Close() })
}

func BenchmarkPlain(b *testing.B) {
	b.ReportAllocs()
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		plain(ctx, i, 1)
	}
}

func BenchmarkFloor(b *testing.B) {
	b.ReportAllocs()
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		floor(ctx, i, 1)
	}
}

func BenchmarkEnabled(b *testing.B) {
	c := install(b, fluxloop.WithDir(b.TempDir()))
	b.ReportAllocs()
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		instrumented(ctx, i, 1)
	}
	b.StopTimer()
	c.Flush(context.Background())
	if st := c.Stats(); st.Dropped > 0 {
		b.ReportMetric(float64(st.Dropped)/float64(b.N), "dropped/op")
	}
}

// BenchmarkEnabledChild is Enabled with a parent in ctx, the common case.
func BenchmarkEnabledChild(b *testing.B) {
	c := install(b, fluxloop.WithDir(b.TempDir()))
	ctx, root := fluxloop.Start(context.Background(), "root")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		instrumented(ctx, i, 1)
	}
	b.StopTimer()
	root.End()
	c.Flush(context.Background())
	if st := c.Stats(); st.Dropped > 0 {
		b.ReportMetric(float64(st.Dropped)/float64(b.N), "dropped/op")
	}
}

func BenchmarkDisabled(b *testing.B) {
	install(b, fluxloop.WithEnabled(false))
	b.ReportAllocs()
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		instrumented(ctx, i, 1)
	}
}

func BenchmarkOTel(b *testing.B) {
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSampler(sdktrace.AlwaysSample()),
		sdktrace.WithBatcher(discard{}),
	)
	defer tp.Shutdown(context.Background())
	tracer = tp.Tracer("bench")
	b.ReportAllocs()
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		otelSpan(ctx, i, 1)
	}
}

// BenchmarkWriter measures how many observations per second the background
// writer turns into JSON lines: spans are produced in bursts the size of the
// queue, and each burst is flushed.
func BenchmarkWriter(b *testing.B) {
	dir := b.TempDir()
	const burst = 4096
	c := install(b, fluxloop.WithDir(dir), fluxloop.WithMaxQueueSize(burst), fluxloop.WithBatchSize(burst))
	ctx, root := fluxloop.Start(context.Background(), "root")
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var spanTime time.Duration
	for n := 0; n < b.N; n += burst {
		t0 := time.Now()
		for i := 0; i < burst && n+i < b.N; i++ {
			instrumented(ctx, i, 1)
		}
		spanTime += time.Since(t0)
		if err := c.Flush(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	elapsed := time.Since(start) - spanTime
	b.StopTimer()
	root.End()
	st := c.Stats()
	if st.Dropped > 0 {
		b.Fatalf("dropped %d observations", st.Dropped)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "obs/s")
	fi, err := os.Stat(filepath.Join(dir, fluxloop.ObservationsFile))
	if err == nil {
		b.ReportMetric(float64(fi.Size())/float64(b.N), "B/obs")
	}
}

// stalled is a storage whose Write blocks until the client shuts down, so
// that the writer never competes with the benchmark for the CPU.
type stalled struct{ release chan struct{} }

func (s stalled) Write(ctx context.Context, _ []fluxloop.Record) error {
	select {
	case <-s.release:
	case <-ctx.Done():
	}
	return nil
}
func (stalled) Flush(context.Context) error { return nil }
func (stalled) Close(context.Context) error { return nil }

// BenchmarkEnabledCallerOnly is Enabled with the writer parked in a stalled
// storage: it measures the traced program's own cost (every span after the
// first queue-full is dropped, which costs the same failed-or-not channel
// send).
func BenchmarkEnabledCallerOnly(b *testing.B) {
	st := stalled{release: make(chan struct{})}
	install(b, fluxloop.WithStorage(st), fluxloop.WithBatchSize(1))
	b.Cleanup(func() { close(st.release) })
	ctx := context.Background()
	instrumented(ctx, 0, 1)
	time.Sleep(10 * time.Millisecond) // let the writer take the first span and stall
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		instrumented(ctx, i, 1)
	}
}
