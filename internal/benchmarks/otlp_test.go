package benchmarks

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"github.com/fluxloop/fluxloop-go/runtime/otlp"
)

// Importing otlp installs its OpenTelemetry bridge (see otlp.InstallBridge),
// which adds a context wrap to every traced call. The other benchmarks of
// this package measure the runtime without it, so it is removed here and
// installed only by BenchmarkEnabledOTelBridge.
func init() { fluxloop.SetBridge(nil) }

// otlpSink starts an OTLP/HTTP receiver on loopback that reads each request's
// body, discards it and answers with an empty (valid) protobuf response.
func otlpSink(b *testing.B) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	b.Cleanup(srv.Close)
	return srv.URL + "/v1/traces"
}

// otlpBatch makes n observations shaped like generated code's: a tree of
// agent, tools and generations with inputs, outputs, source positions and
// token usage (about 400 bytes of JSON each).
func otlpBatch(n int) fluxloop.Batch {
	start := time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)
	var b fluxloop.Batch
	var traceID, rootID string
	for i := range n {
		var id [8]byte
		binary.BigEndian.PutUint64(id[:], uint64(i+1)|1<<63)
		o := fluxloop.Observation{
			ID:        hex.EncodeToString(id[:]),
			StartTime: start.Add(time.Duration(i) * time.Microsecond),
			EndTime:   start.Add(time.Duration(i)*time.Microsecond + 800*time.Nanosecond),
			Level:     fluxloop.LevelInfo,
			Input:     json.RawMessage(`{"query":"what is the capital of France?","maxResults":5}`),
			Output:    json.RawMessage(`["Paris is the capital and largest city of France."]`),
			Metadata:  map[string]any{"code.filepath": "/src/app/agent/tools.go", "code.lineno": 42 + i%7},
		}
		if i%32 == 0 { // a new run
			var t [16]byte
			binary.BigEndian.PutUint64(t[:8], uint64(i+1))
			binary.BigEndian.PutUint64(t[8:], uint64(i+1)*0x9e3779b97f4a7c15)
			traceID, rootID = hex.EncodeToString(t[:]), o.ID
			o.Type, o.Name = fluxloop.TypeAgent, "SupportAgent"
		} else {
			o.ParentObservationID = rootID
			if i%2 == 0 {
				o.Type, o.Name = fluxloop.TypeTool, "SearchDocs"
			} else {
				o.Type, o.Name = fluxloop.TypeGeneration, "GenerateAnswer"
				o.Model, o.PromptTokens, o.CompletionTokens, o.TotalTokens = "demo-model", 120, 40, 160
			}
		}
		o.TraceID = traceID
		b.Observations = append(b.Observations, o)
		if o.ParentObservationID == "" {
			b.Traces = append(b.Traces, fluxloop.Trace{ID: traceID, Name: o.Name, StartTime: o.StartTime, EndTime: o.EndTime,
				Metadata: map[string]any{"service_name": "bench"}, SessionID: "session-1"})
		}
	}
	return b
}

// BenchmarkOTLPExport measures the otlp storage's throughput: converting a
// batch of observations to spans and exporting it with the official
// OTLP/HTTP exporter (protobuf, optionally gzip) to a receiver on loopback
// that reads and discards the request. One op is one Write of a batch;
// obs/s is what one writer goroutine can sustain.
func BenchmarkOTLPExport(b *testing.B) {
	for _, gzip := range []bool{false, true} {
		for _, n := range []int{10, 512, 4096} {
			name := fmt.Sprintf("batch=%d", n)
			if gzip {
				name += "/gzip"
			}
			b.Run(name, func(b *testing.B) {
				st, err := otlp.New(context.Background(), otlp.WithEndpointURL(otlpSink(b)), otlp.WithGzip(gzip),
					otlp.WithServiceName("bench"))
				if err != nil {
					b.Fatal(err)
				}
				defer st.Close(context.Background())
				batch := otlpBatch(n)
				ctx := context.Background()
				if err := st.Write(ctx, batch); err != nil { // warm the connection
					b.Fatal(err)
				}
				b.ReportAllocs()
				b.ResetTimer()
				start := time.Now()
				for b.Loop() {
					if err := st.Write(ctx, batch); err != nil {
						b.Fatal(err)
					}
				}
				elapsed := time.Since(start)
				b.ReportMetric(float64(b.N*n)/elapsed.Seconds(), "obs/s")
				b.ReportMetric(float64(elapsed.Nanoseconds())/float64(b.N*n), "ns/obs")
			})
		}
	}
}

// BenchmarkOTLPPipeline measures the whole path with the otlp storage: traced
// calls on the program's goroutine, the client's writer converting and
// exporting in batches of up to 4096 to a loopback receiver. It reports how
// many observations per second reached the receiver and how many the bounded
// queue dropped (the program itself never waits for the export).
func BenchmarkOTLPPipeline(b *testing.B) {
	st, err := otlp.New(context.Background(), otlp.WithEndpointURL(otlpSink(b)), otlp.WithServiceName("bench"))
	if err != nil {
		b.Fatal(err)
	}
	c := install(b, fluxloop.WithStorage(st), fluxloop.WithBatchSize(512))
	ctx := context.Background()
	b.ReportAllocs()
	start := time.Now()
	for i := 0; b.Loop(); i++ {
		instrumented(ctx, i, 1)
	}
	if err := c.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	s := c.Stats()
	b.ReportMetric(float64(s.Written)/elapsed.Seconds(), "written-obs/s")
	b.ReportMetric(float64(s.Dropped)/float64(b.N)*100, "%dropped")
	if s.Failed != 0 {
		b.Errorf("stats %+v", s)
	}
}

// BenchmarkCallerOnlyOTelBridge measures the traced program's own cost of a
// traced call under a parent in ctx, with the writer parked as in
// BenchmarkEnabledCallerOnly, with the otlp package's OpenTelemetry bridge
// installed: each recording Enter also wraps its ctx for OpenTelemetry
// (trace.ContextWithSpanContext). BenchmarkCallerOnlyNoBridge is the same
// without the bridge.
func BenchmarkCallerOnlyOTelBridge(b *testing.B) {
	otlp.InstallBridge()
	b.Cleanup(func() { fluxloop.SetBridge(nil) })
	callerOnlyChild(b)
}

// BenchmarkCallerOnlyNoBridge is BenchmarkCallerOnlyOTelBridge without the
// bridge.
func BenchmarkCallerOnlyNoBridge(b *testing.B) {
	fluxloop.SetBridge(nil)
	callerOnlyChild(b)
}

func callerOnlyChild(b *testing.B) {
	st := stalled{release: make(chan struct{})}
	install(b, fluxloop.WithStorage(st), fluxloop.WithBatchSize(1))
	b.Cleanup(func() { close(st.release) })
	ctx, parent := fluxloop.Start(context.Background(), "parent")
	defer parent.End()
	instrumented(ctx, 0, 1)
	time.Sleep(10 * time.Millisecond) // let the writer take the first span and stall
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		instrumented(ctx, i, 1)
	}
}
