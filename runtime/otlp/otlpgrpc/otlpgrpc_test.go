package otlpgrpc_test

import (
	"context"
	"encoding/hex"
	"errors"
	"net"
	"sync"
	"testing"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"github.com/fluxloop/fluxloop-go/runtime/otlp"
	_ "github.com/fluxloop/fluxloop-go/runtime/otlp/otlpgrpc"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"
)

// call is one export call the receiver got.
type call struct {
	md       metadata.MD
	encoding string // the call's compression ("gzip" or "")
	spans    []*tracepb.Span
}

// receiver is a local OTLP/gRPC receiver that records calls.
type receiver struct {
	coltracepb.UnimplementedTraceServiceServer
	mu       sync.Mutex
	calls    []call
	encoding string // compression of the call being handled
	url      string
}

func (r *receiver) Export(ctx context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	c := call{md: md}
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			c.spans = append(c.spans, ss.Spans...)
		}
	}
	r.mu.Lock()
	c.encoding = r.encoding
	r.calls = append(r.calls, c)
	r.mu.Unlock()
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

// TagRPC, TagConn, HandleConn and HandleRPC make receiver a stats.Handler
// that notes the compression of incoming calls.
func (r *receiver) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context   { return ctx }
func (r *receiver) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (r *receiver) HandleConn(context.Context, stats.ConnStats)                       {}
func (r *receiver) HandleRPC(_ context.Context, s stats.RPCStats) {
	if h, ok := s.(*stats.InHeader); ok {
		r.mu.Lock()
		r.encoding = h.Compression
		r.mu.Unlock()
	}
}

func (r *receiver) received() []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]call(nil), r.calls...)
}

// newReceiver starts an OTLP/gRPC receiver on loopback.
func newReceiver(t *testing.T) *receiver {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{url: "http://" + lis.Addr().String()}
	srv := grpc.NewServer(grpc.StatsHandler(r))
	coltracepb.RegisterTraceServiceServer(srv, r)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return r
}

// tee writes to a memory storage too, to compare what fluxloop recorded
// with what was exported.
type tee struct {
	mem *fluxloop.MemoryStorage
	st  fluxloop.Storage
}

func (t tee) Write(ctx context.Context, records []fluxloop.Record) error {
	t.mem.Write(ctx, records)
	return t.st.Write(ctx, records)
}
func (t tee) Flush(ctx context.Context) error { return t.st.Flush(ctx) }
func (t tee) Close(ctx context.Context) error { return t.st.Close(ctx) }

// run records an agent calling a tool that fails, through st.
func run(t *testing.T, st fluxloop.Storage) *fluxloop.MemoryStorage {
	t.Helper()
	mem := fluxloop.NewMemoryStorage()
	c, err := fluxloop.NewClient(fluxloop.WithStorage(tee{mem, st}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, agent := c.Start(context.Background(), "Answer", fluxloop.WithType(fluxloop.TypeAgent),
		fluxloop.WithInput("question", "What is Go?"))
	fluxloop.SetTrace(ctx, fluxloop.TraceInfo{SessionID: "sess-1"})
	_, tool := c.Start(ctx, "SearchDocs", fluxloop.WithType(fluxloop.TypeTool))
	tool.RecordError(errors.New("index unavailable"))
	tool.End()
	agent.End()
	if err := c.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := c.Stats(); s.Written != 2 || s.Failed != 0 {
		t.Fatalf("stats %+v", s)
	}
	return mem
}

func attrs(kvs []*commonpb.KeyValue) map[string]*commonpb.AnyValue {
	m := make(map[string]*commonpb.AnyValue, len(kvs))
	for _, kv := range kvs {
		m[kv.Key] = kv.Value
	}
	return m
}

// check compares the exported spans with the recorded observations.
func check(t *testing.T, r *receiver, mem *fluxloop.MemoryStorage) call {
	t.Helper()
	calls := r.received()
	if len(calls) != 1 {
		t.Fatalf("%d calls, want 1", len(calls))
	}
	spans := map[string]*tracepb.Span{}
	for _, sp := range calls[0].spans {
		spans[sp.Name] = sp
	}
	obs := mem.Observations()
	if len(spans) != 2 || len(obs) != 2 {
		t.Fatalf("%d spans for %d observations", len(spans), len(obs))
	}
	for _, o := range obs {
		sp := spans[o.Name]
		if sp == nil {
			t.Fatalf("no span for %q", o.Name)
		}
		if hex.EncodeToString(sp.TraceId) != o.TraceID || hex.EncodeToString(sp.SpanId) != o.ID ||
			hex.EncodeToString(sp.ParentSpanId) != o.ParentObservationID {
			t.Errorf("%s: span %x/%x parent %x, want %s/%s parent %s", o.Name, sp.TraceId, sp.SpanId, sp.ParentSpanId,
				o.TraceID, o.ID, o.ParentObservationID)
		}
	}
	if a := attrs(spans["Answer"].Attributes); a["gen_ai.operation.name"].GetStringValue() != "invoke_agent" ||
		a["session.id"].GetStringValue() != "sess-1" || a["fluxloop.input"].GetStringValue() != `{"question":"What is Go?"}` {
		t.Errorf("Answer: attributes %v", spans["Answer"].Attributes)
	}
	if tool := spans["SearchDocs"]; tool.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR || len(tool.Events) != 1 {
		t.Errorf("SearchDocs: status %v events %v", tool.Status, tool.Events)
	}
	return calls[0]
}

func TestEnvironment(t *testing.T) {
	r := newReceiver(t)
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", r.url)
	t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=acme")
	st, err := otlp.New(context.Background(), otlp.WithGzip(true))
	if err != nil {
		t.Fatal(err)
	}
	if st.Protocol() != otlp.ProtocolGRPC {
		t.Fatalf("protocol %q", st.Protocol())
	}
	c := check(t, r, run(t, st))
	if got := c.md.Get("x-tenant"); len(got) != 1 || got[0] != "acme" || c.encoding != "gzip" {
		t.Errorf("metadata %v, compression %q", c.md, c.encoding)
	}
}

func TestOptions(t *testing.T) {
	r := newReceiver(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1") // nothing listens there
	st, err := otlp.New(context.Background(), otlp.WithProtocol("GRPC"), otlp.WithEndpointURL(r.url),
		otlp.WithHeaders(map[string]string{"x-tenant": "option"}))
	if err != nil {
		t.Fatal(err)
	}
	c := check(t, r, run(t, st))
	if got := c.md.Get("x-tenant"); len(got) != 1 || got[0] != "option" || c.encoding != "" {
		t.Errorf("metadata %v, compression %q", c.md, c.encoding)
	}
}

func TestStorageName(t *testing.T) {
	r := newReceiver(t)
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", r.url)
	c, err := fluxloop.NewClient(fluxloop.WithStorageName(otlp.StorageName))
	if err != nil {
		t.Fatal(err)
	}
	if st, ok := c.Storage().(*otlp.Storage); !ok || st.Protocol() != otlp.ProtocolGRPC {
		t.Fatalf("storage %T %v", c.Storage(), c.Storage())
	}
	_, s := c.Start(context.Background(), "run")
	s.End()
	if err := c.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if calls := r.received(); len(calls) != 1 || len(calls[0].spans) != 1 || calls[0].spans[0].Name != "run" {
		t.Errorf("calls %v", calls)
	}
}
