package benchmarks

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
)

// request is a typical 10-field LLM request, the value the capture engine is
// tuned for.
type request struct {
	Model       string    `json:"model"`
	Messages    []message `json:"messages"`
	MaxTokens   int       `json:"max_tokens,omitempty"`
	Temperature float64   `json:"temperature"`
	TopP        float64   `json:"top_p,omitempty"`
	Stream      bool      `json:"stream"`
	User        string    `json:"user,omitempty"`
	Stop        []string  `json:"stop,omitempty"`
	Seed        int64     `json:"seed"`
	N           int       `json:"n"`
}

type message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

func newRequest() *request {
	return &request{
		Model: "gpt-4o",
		Messages: []message{
			{"system", "You are a helpful assistant."},
			{"user", "What is the capital of France?"},
		},
		MaxTokens: 256, Temperature: 0.7, Stream: true, User: "u-1", Stop: []string{"\n\n"}, Seed: 42, N: 1,
	}
}

var valueSink fluxloop.Value

// BenchmarkCaptureRequest captures the request as generated code does; its
// baseline is BenchmarkJSONMarshalRequest (the capture of earlier releases).
func BenchmarkCaptureRequest(b *testing.B) {
	install(b, fluxloop.WithDir(b.TempDir()))
	req := newRequest()
	b.ReportAllocs()
	for b.Loop() {
		valueSink = fluxloop.V(req)
	}
}

var bytesSink []byte

func BenchmarkJSONMarshalRequest(b *testing.B) {
	req := newRequest()
	b.ReportAllocs()
	for b.Loop() {
		bytesSink, _ = json.Marshal(req)
	}
}

// BenchmarkCaptureRequestValue captures the request by value (boxed once).
func BenchmarkCaptureRequestValue(b *testing.B) {
	install(b, fluxloop.WithDir(b.TempDir()))
	req := *newRequest()
	b.ReportAllocs()
	for b.Loop() {
		valueSink = fluxloop.V(req)
	}
}

func benchmarkCaptureSlice(b *testing.B, n int) {
	install(b, fluxloop.WithDir(b.TempDir()))
	xs := make([]int, n)
	for i := range xs {
		xs[i] = i
	}
	b.ReportAllocs()
	for b.Loop() {
		valueSink = fluxloop.V(xs)
	}
}

// BenchmarkCaptureSlice100 and BenchmarkCaptureSlice1e6: capture is flat in
// the size of the value.
func BenchmarkCaptureSlice100(b *testing.B) { benchmarkCaptureSlice(b, 100) }
func BenchmarkCaptureSlice1e6(b *testing.B) { benchmarkCaptureSlice(b, 1_000_000) }

var sitePath = fluxloop.Site{Name: "walk", Type: fluxloop.TypeSpan, Params: []string{"path", "depth"}}

// walk is a recursive descent handing down a growing path, instrumented as
// fluxloopgen writes it.
//
//go:noinline
func walk(ctx context.Context, path []any, depth int) (__fluxloopR0 int) {
	ctx, __fluxloopSpan := fluxloop.Enter(ctx, &sitePath)
	if __fluxloopSpan != nil {
		__fluxloopSpan.Inputs(fluxloop.V(path), fluxloop.Int(depth))
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			__fluxloopSpan.Return(nil, fluxloop.Int(__fluxloopR0))
		}()
	}
	if depth == 0 {
		return len(path)
	}
	return walk(ctx, append(path, map[string]any{"d": depth}), depth-1)
}

// BenchmarkPathGrowing3000 runs a 3,000-deep recursion whose path grows to
// 3,000 interface values; BenchmarkPathFixed200 makes as many calls with a
// fixed 200-element path. Per call they cost the same: capture is bounded.
func BenchmarkPathGrowing3000(b *testing.B) {
	c := install(b, fluxloop.WithStorage(fluxloop.NewMemoryStorage()))
	b.ReportAllocs()
	for b.Loop() {
		walk(context.Background(), make([]any, 0, 3001), 3000)
		c.Flush(context.Background())
	}
}

func BenchmarkPathFixed200(b *testing.B) {
	c := install(b, fluxloop.WithStorage(fluxloop.NewMemoryStorage()))
	path := make([]any, 200)
	for i := range path {
		path[i] = map[string]any{"d": i}
	}
	b.ReportAllocs()
	for b.Loop() {
		for range 3000 {
			walk(context.Background(), path[:200:200], 0)
		}
		c.Flush(context.Background())
	}
}

var siteSum = fluxloop.Site{Name: "sum", Type: fluxloop.TypeSpan, Params: []string{"xs"}}

//go:noinline
func sumPlain(xs []int) int {
	t := 0
	for _, x := range xs {
		t += x
	}
	return t
}

//go:noinline
func sumTraced(xs []int) (__fluxloopR0 int) {
	__fluxloopSpan := fluxloop.EnterLocal(&siteSum)
	if __fluxloopSpan != nil {
		__fluxloopSpan.Inputs(fluxloop.V(xs))
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			__fluxloopSpan.Return(nil, fluxloop.Int(__fluxloopR0))
		}()
	}
	return sumPlain(xs)
}

var intSink int

// BenchmarkBigSlicePlain and BenchmarkBigSliceTraced: 200 calls, each
// summing a 1e6-element slice, plain and traced.
func BenchmarkBigSlicePlain(b *testing.B) {
	xs := make([]int, 1_000_000)
	b.ReportAllocs()
	for b.Loop() {
		for range 200 {
			intSink += sumPlain(xs)
		}
	}
}

func BenchmarkBigSliceTraced(b *testing.B) {
	c := install(b, fluxloop.WithDir(b.TempDir()))
	xs := make([]int, 1_000_000)
	b.ReportAllocs()
	for b.Loop() {
		for range 200 {
			intSink += sumTraced(xs)
		}
	}
	b.StopTimer()
	c.Flush(context.Background())
}

// instrumentedTyped is instrumented as fluxloopgen now writes it: the
// generator knows a and b are ints and emits typed constructors.
//
//go:noinline
func instrumentedTyped(ctx context.Context, a, b int) (__fluxloopR0 int, __fluxloopR1 error) {
	ctx, __fluxloopSpan := fluxloop.Enter(ctx, &siteAdd)
	if __fluxloopSpan != nil {
		__fluxloopSpan.Inputs(fluxloop.Int(a), fluxloop.Int(b))
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			__fluxloopSpan.Return(__fluxloopR1, fluxloop.Int(__fluxloopR0))
		}()
	}
	return a + b, nil
}

// BenchmarkEnabledCallerOnlyTyped is BenchmarkEnabledCallerOnly with the
// typed constructors.
func BenchmarkEnabledCallerOnlyTyped(b *testing.B) {
	st := stalled{release: make(chan struct{})}
	install(b, fluxloop.WithStorage(st), fluxloop.WithBatchSize(1))
	b.Cleanup(func() { close(st.release) })
	ctx := context.Background()
	instrumentedTyped(ctx, 0, 1)
	time.Sleep(10 * time.Millisecond)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		instrumentedTyped(ctx, i, 1)
	}
}

// BenchmarkCaptureVsJSON alternates batches of capture and json.Marshal of
// the request, so that both see the same machine load, and reports how many
// times faster capture is (x-faster-than-json).
func BenchmarkCaptureVsJSON(b *testing.B) {
	install(b, fluxloop.WithDir(b.TempDir()))
	req := newRequest()
	const batch = 256
	var capT, jsonT time.Duration
	for b.Loop() {
		t0 := time.Now()
		for range batch {
			valueSink = fluxloop.V(req)
		}
		t1 := time.Now()
		for range batch {
			bytesSink, _ = json.Marshal(req)
		}
		capT += t1.Sub(t0)
		jsonT += time.Since(t1)
	}
	b.ReportMetric(float64(jsonT)/float64(capT), "x-faster-than-json")
}

// BenchmarkTypedVsV alternates batches of the traced call f(ctx, a, b int)
// as fluxloopgen wrote it before (V for every value) and as it writes it now
// (typed constructors), caller's path only, and reports how many times
// faster the typed form is (x-faster-than-V).
func BenchmarkTypedVsV(b *testing.B) {
	st := stalled{release: make(chan struct{})}
	install(b, fluxloop.WithStorage(st), fluxloop.WithBatchSize(1))
	b.Cleanup(func() { close(st.release) })
	ctx := context.Background()
	instrumented(ctx, 0, 1)
	time.Sleep(10 * time.Millisecond)
	const batch = 256
	var vT, typedT time.Duration
	for b.Loop() {
		t0 := time.Now()
		for i := range batch {
			instrumented(ctx, i, 1)
		}
		t1 := time.Now()
		for i := range batch {
			instrumentedTyped(ctx, i, 1)
		}
		vT += t1.Sub(t0)
		typedT += time.Since(t1)
	}
	b.ReportMetric(float64(vT)/float64(typedT), "x-faster-than-V")
	b.ReportMetric(float64(typedT.Nanoseconds())/float64(b.N*batch), "ns/typed-call")
}
