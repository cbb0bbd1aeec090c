package benchmarks

// Streams and goroutines: the per-item cost of a traced channel or iterator
// result next to the raw one, and the cost of Follow at a go statement.
//
//	go test ./internal/benchmarks -run '^$' -bench 'Stream|Follow' -benchmem -cpu 1,2 -count 5
//
// The stream benchmarks run one stream of streamItems ints per op and report
// ns/item (ns/op divided by the items); the ratio traced/raw is the overhead
// factor. The paired sub-benchmarks run a raw and a traced stream in every
// op and report that ratio directly, which holds up better on a busy
// machine than the ratio of two separate runs.

import (
	"context"
	"iter"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
)

const (
	streamItems = 1_000_000
	streamCap   = 128 // buffer of the benchmarked channels
)

var (
	siteStreamChan = fluxloop.Site{Name: "streamChan", Type: fluxloop.TypeSpan, Params: []string{"n", "size"}}
	siteStreamSeq  = fluxloop.Site{Name: "streamSeq", Type: fluxloop.TypeSpan, Params: []string{"n"}}
)

// rawChan streams 0..n-1 from a producer goroutine through a channel of
// capacity size.
//
//go:noinline
func rawChan(ctx context.Context, n, size int) <-chan int {
	ch := make(chan int, size)
	go func() {
		defer close(ch)
		for i := range n {
			ch <- i
		}
	}()
	return ch
}

// tracedChan is rawChan as fluxloopgen writes it.
//
//go:noinline
func tracedChan(ctx context.Context, n, size int) (__fluxloopR0 <-chan int) {
	ctx, __fluxloopSpan := fluxloop.Enter(ctx, &siteStreamChan)
	if __fluxloopSpan != nil {
		__fluxloopSpan.Inputs(fluxloop.V(n), fluxloop.V(size))
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			__fluxloopR0 = fluxloop.Chan(__fluxloopSpan, __fluxloopR0)
			__fluxloopSpan.Return(nil)
		}()
	}
	_ = ctx
	ch := make(chan int, size)
	go fluxloop.Follow0(func() {
		defer close(ch)
		for i := range n {
			ch <- i
		}
	})()
	return ch
}

// rawSeq yields 0..n-1. It is returned through a function that is not
// inlined, as a stream result is, so the loop calls yield indirectly.
//
//go:noinline
func rawSeq(n int) iter.Seq[int] {
	return func(yield func(int) bool) {
		for i := range n {
			if !yield(i) {
				return
			}
		}
	}
}

// tracedSeq is rawSeq as fluxloopgen writes it.
//
//go:noinline
func tracedSeq(n int) (__fluxloopR0 iter.Seq[int]) {
	__fluxloopSpan := fluxloop.EnterLocal(&siteStreamSeq)
	if __fluxloopSpan != nil {
		__fluxloopSpan.Inputs(fluxloop.V(n))
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			__fluxloopR0 = fluxloop.Seq(__fluxloopSpan, __fluxloopR0)
			__fluxloopSpan.Return(nil)
		}()
	}
	return func(yield func(int) bool) {
		for i := range n {
			if !yield(i) {
				return
			}
		}
	}
}

// streamNop is a storage that keeps nothing, so that the benchmarks measure
// the caller's side only.
type streamNop struct{}

func (streamNop) Write(context.Context, []fluxloop.Record) error { return nil }
func (streamNop) Flush(context.Context) error                    { return nil }
func (streamNop) Close(context.Context) error                    { return nil }

var streamSink int

func reportPerItem(b *testing.B, items int) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(items), "ns/item")
}

// consumeChan and consumeSeq are the consumers: they add the items.
func consumeChan(ch <-chan int) {
	sum := 0
	for v := range ch {
		sum += v
	}
	streamSink = sum
}

func consumeSeq(seq iter.Seq[int]) {
	sum := 0
	for v := range seq {
		sum += v
	}
	streamSink = sum
}

// paired runs raw and traced streams alternately in each op and reports
// both per-item times and their ratio: on a busy machine the ratio of two
// separate benchmarks is noisier than this one.
func paired(b *testing.B, raw, traced func()) {
	var rawT, tracedT time.Duration
	for i := 0; b.Loop(); i++ {
		t0 := time.Now()
		if i%2 == 0 {
			raw()
			t1 := time.Now()
			traced()
			rawT, tracedT = rawT+t1.Sub(t0), tracedT+time.Since(t1)
		} else {
			traced()
			t1 := time.Now()
			raw()
			tracedT, rawT = tracedT+t1.Sub(t0), rawT+time.Since(t1)
		}
	}
	n := float64(b.N) * streamItems
	b.ReportMetric(float64(rawT)/n, "raw-ns/item")
	b.ReportMetric(float64(tracedT)/n, "traced-ns/item")
	b.ReportMetric(float64(tracedT)/float64(rawT), "traced/raw")
}

// BenchmarkStreamChan: 1e6 ints from a producer goroutine to the consumer
// through a buffered channel (capacity streamCap), raw and as a traced
// function's result (one more goroutine and channel: the forwarder).
// nocapture records no outputs (WithCapture(CaptureInput)), so no item is
// encoded; paired runs raw and traced alternately (see paired).
func BenchmarkStreamChan(b *testing.B) {
	ctx := context.Background()
	raw := func() { consumeChan(rawChan(ctx, streamItems, streamCap)) }
	traced := func() { consumeChan(tracedChan(ctx, streamItems, streamCap)) }
	run := func(b *testing.B, f func(), opts ...fluxloop.Option) {
		install(b, append([]fluxloop.Option{fluxloop.WithStorage(streamNop{})}, opts...)...)
		b.ReportAllocs()
		for b.Loop() {
			f()
		}
		reportPerItem(b, streamItems)
	}
	b.Run("raw", func(b *testing.B) { run(b, raw) })
	b.Run("traced", func(b *testing.B) { run(b, traced) })
	b.Run("traced-nocapture", func(b *testing.B) { run(b, traced, fluxloop.WithCapture(fluxloop.CaptureInput)) })
	b.Run("paired", func(b *testing.B) {
		install(b, fluxloop.WithStorage(streamNop{}))
		paired(b, raw, traced)
	})
	b.Run("paired-nocapture", func(b *testing.B) {
		install(b, fluxloop.WithStorage(streamNop{}), fluxloop.WithCapture(fluxloop.CaptureInput))
		paired(b, raw, traced)
	})
}

// BenchmarkStreamSeq: 1e6 ints from an iter.Seq, raw and as a traced
// function's result. The loop body only adds, so this is the worst case:
// the whole per-item cost of the wrapper (one more indirect call) shows.
func BenchmarkStreamSeq(b *testing.B) {
	raw := func() { consumeSeq(rawSeq(streamItems)) }
	traced := func() { consumeSeq(tracedSeq(streamItems)) }
	run := func(b *testing.B, f func(), opts ...fluxloop.Option) {
		install(b, append([]fluxloop.Option{fluxloop.WithStorage(streamNop{})}, opts...)...)
		b.ReportAllocs()
		for b.Loop() {
			f()
		}
		reportPerItem(b, streamItems)
	}
	b.Run("raw", func(b *testing.B) { run(b, raw) })
	b.Run("traced", func(b *testing.B) { run(b, traced) })
	b.Run("traced-nocapture", func(b *testing.B) { run(b, traced, fluxloop.WithCapture(fluxloop.CaptureInput)) })
	b.Run("paired", func(b *testing.B) {
		install(b, fluxloop.WithStorage(streamNop{}))
		paired(b, raw, traced)
	})
	b.Run("paired-nocapture", func(b *testing.B) {
		install(b, fluxloop.WithStorage(streamNop{}), fluxloop.WithCapture(fluxloop.CaptureInput))
		paired(b, raw, traced)
	})
}

//go:noinline
func followed0() { streamWG.Done() }

//go:noinline
func followed2(a int, s string) { streamSum.Add(int64(a + len(s))); streamWG.Done() }

var (
	streamWG  sync.WaitGroup
	streamSum atomic.Int64
)

// BenchmarkFollow: a go statement in a traced function, plain and as
// generated code writes it (go fluxloop.Follow(f)(args)), for a func() and
// a two-argument func. Each op starts one goroutine and waits for it, so
// the difference is what Follow adds per go statement.
func BenchmarkFollow(b *testing.B) {
	run := func(b *testing.B, body func()) {
		install(b, fluxloop.WithStorage(streamNop{}))
		_, root := fluxloop.Start(context.Background(), "root")
		defer root.End()
		b.ReportAllocs()
		for b.Loop() {
			streamWG.Add(1)
			body()
			streamWG.Wait()
		}
	}
	b.Run("func0/go", func(b *testing.B) {
		run(b, func() { go followed0() })
	})
	b.Run("func0/Follow", func(b *testing.B) {
		run(b, func() { go fluxloop.Follow(followed0)() })
	})
	b.Run("func2/go", func(b *testing.B) {
		run(b, func() { go followed2(1, "xy") })
	})
	b.Run("func2/Follow", func(b *testing.B) {
		run(b, func() { go fluxloop.Follow(followed2)(1, "xy") })
	})
}
