package benchmarks

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"github.com/fluxloop/fluxloop-go/runtime/otlp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

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

// otlpRecords makes n records shaped like generated code's: a tree of
// agent, tools and generations with inputs, outputs, source positions and
// token usage (about 400 bytes of JSON each).
func otlpRecords(n int) []fluxloop.Record {
	start := time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)
	recs := make([]fluxloop.Record, 0, n)
	var traceID [16]byte
	var rootID [8]byte
	for i := range n {
		r := fluxloop.Record{
			Start:  start.Add(time.Duration(i) * time.Microsecond),
			End:    start.Add(time.Duration(i)*time.Microsecond + 800*time.Nanosecond),
			Level:  fluxloop.LevelInfo,
			Input:  json.RawMessage(`{"query":"what is the capital of France?","maxResults":5}`),
			Output: json.RawMessage(`["Paris is the capital and largest city of France."]`),
			Metadata: []fluxloop.Field{
				{Key: "code.filepath", Value: "/src/app/agent/tools.go"},
				{Key: "code.lineno", Value: 42 + i%7},
			},
		}
		binary.BigEndian.PutUint64(r.ID[:], uint64(i+1)|1<<63)
		if i%32 == 0 { // a new run
			binary.BigEndian.PutUint64(traceID[:8], uint64(i+1))
			binary.BigEndian.PutUint64(traceID[8:], uint64(i+1)*0x9e3779b97f4a7c15)
			rootID = r.ID
			r.Root = true
			r.Type, r.Name = fluxloop.TypeAgent, "SupportAgent"
			r.Trace = fluxloop.TraceFields{
				Metadata:  []fluxloop.Field{{Key: "service_name", Value: "bench"}},
				SessionID: "session-1",
			}
		} else {
			r.ParentID = rootID
			if i%2 == 0 {
				r.Type, r.Name = fluxloop.TypeTool, "SearchDocs"
			} else {
				r.Type, r.Name = fluxloop.TypeGeneration, "GenerateAnswer"
				r.Model, r.PromptTokens, r.CompletionTokens = "demo-model", 120, 40
			}
		}
		r.TraceID = traceID
		recs = append(recs, r)
	}
	return recs
}

// BenchmarkOTLPExport measures the otlp storage's throughput: converting a
// batch of records to spans and exporting it with the official
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
				batch := otlpRecords(n)
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

// BenchmarkOTLPConvert measures the conversion alone: Write to an exporter
// that drops the spans. The exporters of the protocols let the storage reuse
// the spans' memory; an exporter given with WithExporter (here, and
// reuse=false) may keep the spans, so each Write converts into new memory.
func BenchmarkOTLPConvert(b *testing.B) {
	for _, reuse := range []bool{true, false} {
		for _, n := range []int{10, 512, 4096} {
			b.Run(fmt.Sprintf("batch=%d/reuse=%v", n, reuse), func(b *testing.B) {
				var st *otlp.Storage
				var err error
				if reuse {
					st, err = otlp.New(context.Background(), otlp.WithProtocol("bench/discard"), otlp.WithServiceName("bench"))
				} else {
					st, err = otlp.New(context.Background(), otlp.WithExporter(discard{}), otlp.WithServiceName("bench"))
				}
				if err != nil {
					b.Fatal(err)
				}
				recs := otlpRecords(n)
				ctx := context.Background()
				b.ReportAllocs()
				start := time.Now()
				for b.Loop() {
					if err := st.Write(ctx, recs); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(b.N*n), "ns/obs")
			})
		}
	}
}

// bench/discard is a protocol whose exporter drops the spans, as an OTLP
// exporter is done with them when ExportSpans returns.
func init() {
	otlp.RegisterExporter("bench/discard", func(context.Context, otlp.ExporterConfig) (sdktrace.SpanExporter, error) {
		return discard{}, nil
	})
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
// installed (otlp.InstallBridge): the observation's ctx then answers
// OpenTelemetry's lookup of the active span, which costs only when
// OpenTelemetry looks. BenchmarkCallerOnlyNoBridge is the same without the
// bridge.
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
