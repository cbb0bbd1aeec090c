package otlp_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"github.com/fluxloop/fluxloop-go/runtime/otlp"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// tee writes to a memory storage and to another storage, so that tests can
// compare what fluxloop recorded with what was exported.
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

// newClient returns a client writing to st and to memory.
func newClient(t *testing.T, st fluxloop.Storage, opts ...fluxloop.Option) (*fluxloop.Client, *fluxloop.MemoryStorage) {
	t.Helper()
	mem := fluxloop.NewMemoryStorage()
	c, err := fluxloop.NewClient(append([]fluxloop.Option{fluxloop.WithStorage(tee{mem, st})}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Shutdown(context.Background()) })
	return c, mem
}

// runTree records a small run: an agent calling a failing tool, a
// generation and a step that panics.
func runTree(c *fluxloop.Client) {
	ctx, agent := c.Start(context.Background(), "Answer",
		fluxloop.WithType(fluxloop.TypeAgent), fluxloop.WithInput("question", "What is Go?"))
	fluxloop.SetTrace(ctx, fluxloop.TraceInfo{SessionID: "sess-1", UserID: "user-1", Tags: []string{"e2e", "unit"},
		Metadata: map[string]any{"experiment": "x1"}})

	_, tool := c.Start(ctx, "SearchDocs", fluxloop.WithType(fluxloop.TypeTool), fluxloop.WithInput("query", "go"))
	time.Sleep(time.Millisecond)
	tool.RecordError(errors.New("index unavailable"))
	tool.End()

	gctx, gen := c.Start(ctx, "GenerateAnswer", fluxloop.WithType(fluxloop.TypeGeneration),
		fluxloop.WithMetadata("retries", 2))
	fluxloop.SetUsage(gctx, fluxloop.Usage{Model: "demo-model", PromptTokens: 12, CompletionTokens: 7})
	gen.SetOutput("Go is a language")
	gen.End()

	_, crash := c.Start(ctx, "Crash")
	func() {
		defer func() {
			if r := recover(); r != nil {
				crash.Panic(r)
			}
		}()
		panic("boom")
	}()

	agent.SetOutput("done")
	agent.End()
}

func str(v *commonpb.AnyValue) string { return v.GetStringValue() }

func TestExportTree(t *testing.T) {
	r := newHTTPReceiver(t)
	st, err := otlp.New(context.Background(), otlp.WithEndpointURL(r.url), otlp.WithServiceName("otlp-test"),
		otlp.WithEnvironment("ci"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Protocol() != otlp.ProtocolHTTPProtobuf {
		t.Errorf("protocol %q", st.Protocol())
	}
	c, mem := newClient(t, st)
	runTree(c)
	if err := c.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := c.Stats(); s.Written != 4 || s.Failed != 0 || s.Errors != 0 {
		t.Fatalf("stats %+v", s)
	}

	reqs := r.requests()
	if len(reqs) == 0 {
		t.Fatal("no request received")
	}
	if reqs[0].path != "/v1/traces" {
		t.Errorf("path %q", reqs[0].path)
	}
	if got := str(reqs[0].resource["service.name"]); got != "otlp-test" {
		t.Errorf("service.name %q", got)
	}
	if got := str(reqs[0].resource["deployment.environment.name"]); got != "ci" {
		t.Errorf("deployment.environment.name %q", got)
	}
	if reqs[0].scope != otlp.ScopeName {
		t.Errorf("scope %q", reqs[0].scope)
	}

	spans := byName(t, r.spans())
	if len(spans) != 4 {
		t.Fatalf("%d spans, want 4", len(spans))
	}
	// ids, parents and times are fluxloop's, exactly
	for _, o := range mem.Observations() {
		sp := spans[o.Name]
		if sp == nil {
			t.Fatalf("no span for observation %q", o.Name)
		}
		if hexID(sp.TraceId) != o.TraceID || hexID(sp.SpanId) != o.ID {
			t.Errorf("%s: ids %x/%x, want %s/%s", o.Name, sp.TraceId, sp.SpanId, o.TraceID, o.ID)
		}
		if got := hexID(sp.ParentSpanId); got != o.ParentObservationID {
			t.Errorf("%s: parent %q, want %q", o.Name, got, o.ParentObservationID)
		}
		if sp.StartTimeUnixNano != uint64(o.StartTime.UnixNano()) || sp.EndTimeUnixNano != uint64(o.EndTime.UnixNano()) {
			t.Errorf("%s: times %d..%d, want %v..%v", o.Name, sp.StartTimeUnixNano, sp.EndTimeUnixNano, o.StartTime, o.EndTime)
		}
		a := attrs(sp.Attributes)
		if got := str(a["fluxloop.observation.type"]); got != string(o.Type) {
			t.Errorf("%s: fluxloop.observation.type %q", o.Name, got)
		}
		if !strings.HasSuffix(str(a["code.file.path"]), "otlp_test.go") || a["code.line.number"].GetIntValue() <= 0 {
			t.Errorf("%s: code position %v:%v", o.Name, a["code.file.path"], a["code.line.number"])
		}
	}

	agent, tool, gen, crash := spans["Answer"], spans["SearchDocs"], spans["GenerateAnswer"], spans["Crash"]
	for _, sp := range []*tracepb.Span{tool, gen, crash} {
		if string(sp.ParentSpanId) != string(agent.SpanId) {
			t.Errorf("%s is not a child of Answer", sp.Name)
		}
	}
	if len(agent.ParentSpanId) != 0 {
		t.Errorf("Answer has a parent")
	}

	a := attrs(agent.Attributes)
	want := map[string]string{
		"gen_ai.operation.name":               "invoke_agent",
		"gen_ai.agent.name":                   "Answer",
		"fluxloop.input":                      `{"question":"What is Go?"}`,
		"fluxloop.output":                     `"done"`,
		"session.id":                          "sess-1",
		"user.id":                             "user-1",
		"fluxloop.trace.metadata.experiment":  "x1",
		"fluxloop.observation.type":           "agent",
		"gen_ai.tool.name":                    "",
		"fluxloop.metadata.code.filepath":     "",
		"fluxloop.trace.metadata.environment": "",
	}
	for k, v := range want {
		if got := str(a[k]); got != v {
			t.Errorf("Answer: %s = %q, want %q", k, got, v)
		}
	}
	if tags := a["fluxloop.trace.tags"].GetArrayValue().GetValues(); len(tags) != 2 || str(tags[0]) != "e2e" {
		t.Errorf("Answer: tags %v", tags)
	}
	if agent.Kind != tracepb.Span_SPAN_KIND_INTERNAL || agent.Status.GetCode() != tracepb.Status_STATUS_CODE_UNSET {
		t.Errorf("Answer: kind %v status %v", agent.Kind, agent.Status)
	}

	a = attrs(tool.Attributes)
	if str(a["gen_ai.operation.name"]) != "execute_tool" || str(a["gen_ai.tool.name"]) != "SearchDocs" {
		t.Errorf("SearchDocs: attributes %v", tool.Attributes)
	}
	if tool.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR || tool.Status.GetMessage() != "index unavailable" {
		t.Errorf("SearchDocs: status %v", tool.Status)
	}
	if str(a["error.type"]) != "*errors.errorString" {
		t.Errorf("SearchDocs: error.type %v", a["error.type"])
	}
	if len(tool.Events) != 1 || tool.Events[0].Name != "exception" {
		t.Fatalf("SearchDocs: events %v", tool.Events)
	}
	ev := attrs(tool.Events[0].Attributes)
	if str(ev["exception.message"]) != "index unavailable" || str(ev["exception.type"]) != "*errors.errorString" {
		t.Errorf("SearchDocs: exception %v", tool.Events[0].Attributes)
	}
	if tool.Events[0].TimeUnixNano != tool.EndTimeUnixNano {
		t.Errorf("SearchDocs: exception at %d, span ends at %d", tool.Events[0].TimeUnixNano, tool.EndTimeUnixNano)
	}

	a = attrs(gen.Attributes)
	if str(a["gen_ai.operation.name"]) != "chat" || str(a["gen_ai.request.model"]) != "demo-model" ||
		a["gen_ai.usage.input_tokens"].GetIntValue() != 12 || a["gen_ai.usage.output_tokens"].GetIntValue() != 7 ||
		a["fluxloop.metadata.retries"].GetIntValue() != 2 || str(a["fluxloop.output"]) != `"Go is a language"` {
		t.Errorf("GenerateAnswer: attributes %v", gen.Attributes)
	}
	if gen.Kind != tracepb.Span_SPAN_KIND_CLIENT {
		t.Errorf("GenerateAnswer: kind %v", gen.Kind)
	}

	a = attrs(crash.Attributes)
	if crash.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR || crash.Status.GetMessage() != "boom" ||
		str(a["fluxloop.status_message"]) != "panic" || str(a["error.type"]) != "string" {
		t.Errorf("Crash: status %v attributes %v", crash.Status, crash.Attributes)
	}
	if len(crash.Events) != 1 || !strings.Contains(str(attrs(crash.Events[0].Attributes)["exception.stacktrace"]), "goroutine") {
		t.Errorf("Crash: no stack trace in %v", crash.Events)
	}
}

func TestEnvironment(t *testing.T) {
	r := newHTTPReceiver(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", r.base)
	t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=acme,authorization=Bearer%20abc")
	t.Setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
	t.Setenv("OTEL_SERVICE_NAME", "from-otel-env")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "team=agents")

	c, err := fluxloop.NewClient(fluxloop.WithStorageName("otlp"), fluxloop.WithServiceName("from-fluxloop"))
	if err != nil {
		t.Fatal(err)
	}
	_, s := c.Start(context.Background(), "run")
	s.End()
	if err := c.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	reqs := r.requests()
	if len(reqs) != 1 || len(reqs[0].spans) != 1 {
		t.Fatalf("requests %+v", reqs)
	}
	req := reqs[0]
	if req.path != "/v1/traces" || req.encoding != "gzip" {
		t.Errorf("path %q, encoding %q", req.path, req.encoding)
	}
	if req.header.Get("X-Tenant") != "acme" || req.header.Get("Authorization") != "Bearer abc" {
		t.Errorf("headers %v", req.header)
	}
	if str(req.resource["service.name"]) != "from-otel-env" || str(req.resource["team"]) != "agents" {
		t.Errorf("resource %v", req.resource)
	}

	t.Run("service name from fluxloop", func(t *testing.T) {
		t.Setenv("OTEL_SERVICE_NAME", "")
		t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "")
		st, err := otlp.New(context.Background(), otlp.WithExporter(discard{}))
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := st.Resource().Set().Value("service.name"); !strings.HasPrefix(v.AsString(), "unknown_service:") {
			t.Errorf("service.name %q without any setting", v.AsString())
		}
		t.Setenv("FLUXLOOP_SERVICE_NAME", "from-fluxloop-env")
		st, err = otlp.New(context.Background(), otlp.WithExporter(discard{}))
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := st.Resource().Set().Value("service.name"); v.AsString() != "from-fluxloop-env" {
			t.Errorf("service.name %q, want FLUXLOOP_SERVICE_NAME's", v.AsString())
		}
		// through the registry, the client's Config (fluxloop.WithServiceName)
		c, err := fluxloop.NewClient(fluxloop.WithStorageName("otlp"), fluxloop.WithServiceName("from-config"),
			fluxloop.WithEnvironment("staging"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Shutdown(context.Background())
		ost, ok := c.Storage().(*otlp.Storage)
		if !ok {
			t.Fatalf("storage %T", c.Storage())
		}
		set := ost.Resource().Set()
		if v, _ := set.Value("service.name"); v.AsString() != "from-config" {
			t.Errorf("service.name %q, want the Config's", v.AsString())
		}
		if v, _ := set.Value("deployment.environment.name"); v.AsString() != "staging" {
			t.Errorf("deployment.environment.name %q", v.AsString())
		}
	})

	t.Run("traces endpoint as is", func(t *testing.T) {
		t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", r.base+"/custom/path")
		st, err := otlp.New(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		c, _ := newClient(t, st)
		_, s := c.Start(context.Background(), "run")
		s.End()
		c.Shutdown(context.Background())
		reqs := r.requests()
		if got := reqs[len(reqs)-1].path; got != "/custom/path" {
			t.Errorf("path %q", got)
		}
	})

	t.Run("http/json", func(t *testing.T) {
		t.Setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json")
		st, err := otlp.New(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if st.Protocol() != otlp.ProtocolHTTPJSON {
			t.Fatalf("protocol %q", st.Protocol())
		}
		c, _ := newClient(t, st)
		_, s := c.Start(context.Background(), "json-run")
		s.End()
		c.Shutdown(context.Background())
		reqs := r.requests()
		last := reqs[len(reqs)-1]
		if last.header.Get("Content-Type") != "application/json" || len(last.spans) != 1 || last.spans[0].Name != "json-run" {
			t.Errorf("request %+v", last)
		}
	})

	t.Run("unknown protocol", func(t *testing.T) {
		t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "thrift")
		_, err := fluxloop.NewClient(fluxloop.WithStorageName("otlp"))
		if err == nil || !strings.Contains(err.Error(), `OTEL_EXPORTER_OTLP_PROTOCOL="thrift"`) {
			t.Errorf("error %v", err)
		}
	})
}

func TestOptionsWinOverEnvironment(t *testing.T) {
	r := newHTTPReceiver(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1") // nothing listens there
	t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=env")
	st, err := otlp.New(context.Background(), otlp.WithEndpointURL(r.url),
		otlp.WithHeaders(map[string]string{"x-tenant": "option"}), otlp.WithGzip(true))
	if err != nil {
		t.Fatal(err)
	}
	c, _ := newClient(t, st)
	_, s := c.Start(context.Background(), "run")
	s.End()
	if err := c.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	reqs := r.requests()
	if len(reqs) != 1 || reqs[0].header.Get("X-Tenant") != "option" || reqs[0].encoding != "gzip" {
		t.Fatalf("requests %+v", reqs)
	}
}

func TestTruncationAndMetadata(t *testing.T) {
	r := newHTTPReceiver(t)
	st, err := otlp.New(context.Background(), otlp.WithEndpointURL(r.url), otlp.WithMaxValueBytes(40))
	if err != nil {
		t.Fatal(err)
	}
	c, _ := newClient(t, st)
	ctx, s := c.Start(context.Background(), "big", fluxloop.WithInput("text", strings.Repeat("é", 100)))
	fluxloop.SetAttributes(ctx,
		fluxloop.Attribute("gen_ai.operation.name", "generate_content"),
		fluxloop.Attribute("gen_ai.provider.name", "acme"),
		fluxloop.Attribute("flag", true),
		fluxloop.Attribute("ratio", 0.5),
		fluxloop.Attribute("doc", map[string]int{"a": 1}),
		fluxloop.Attribute("apiKey", "sk-123"))
	s.End()
	if err := c.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := r.spans()
	if len(spans) != 1 {
		t.Fatalf("%d spans", len(spans))
	}
	a := attrs(spans[0].Attributes)
	in := str(a["fluxloop.input"])
	if !strings.HasPrefix(in, `{"text":"éé`) || !strings.HasSuffix(in, " bytes)") || !strings.Contains(in, "…(truncated ") {
		t.Errorf("input %q", in)
	}
	if !a["fluxloop.truncated"].GetBoolValue() {
		t.Errorf("fluxloop.truncated not set")
	}
	if str(a["gen_ai.operation.name"]) != "generate_content" || str(a["gen_ai.provider.name"]) != "acme" {
		t.Errorf("gen_ai metadata not passed through: %v", spans[0].Attributes)
	}
	if !a["fluxloop.metadata.flag"].GetBoolValue() || a["fluxloop.metadata.ratio"].GetDoubleValue() != 0.5 ||
		str(a["fluxloop.metadata.doc"]) != `{"a":1}` || str(a["fluxloop.metadata.apiKey"]) != fluxloop.Masked {
		t.Errorf("metadata %v", spans[0].Attributes)
	}
}

func TestRejectedExportIsCounted(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "bad request", http.StatusBadRequest) // not retryable
	}))
	defer srv.Close()
	st, err := otlp.New(context.Background(), otlp.WithEndpointURL(srv.URL+"/v1/traces"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := fluxloop.NewClient(fluxloop.WithStorage(st))
	if err != nil {
		t.Fatal(err)
	}
	_, s := c.Start(context.Background(), "run")
	s.End()
	c.Shutdown(context.Background())
	if got := c.Stats(); got.Failed != 1 || got.Errors == 0 {
		t.Errorf("stats %+v, want the observation counted as failed", got)
	}
}

func TestExportTimeoutBoundsWrite(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		http.Error(w, "busy", http.StatusServiceUnavailable) // retryable
	}))
	defer srv.Close()
	st, err := otlp.New(context.Background(), otlp.WithEndpointURL(srv.URL+"/v1/traces"),
		otlp.WithExportTimeout(300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = st.Write(context.Background(), []fluxloop.Record{{
		ID: [8]byte{1, 2, 3, 4, 5, 6, 7, 8}, TraceID: [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		Root: true, Name: "x", Start: start, End: start,
	}})
	if err == nil {
		t.Fatal("no error from a collector that is busy")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Write took %v with a 300ms export timeout", d)
	}
}

func TestZeroIDs(t *testing.T) {
	exp := &recordingExporter{}
	st, err := otlp.New(context.Background(), otlp.WithExporter(exp))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tid := [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	err = st.Write(context.Background(), []fluxloop.Record{
		{TraceID: tid, Name: "bad", Start: now, End: now},
		{ID: [8]byte{1}, Name: "bad trace", Start: now, End: now},
		{TraceID: tid, ID: [8]byte{1, 2, 3, 4, 5, 6, 7, 8}, Name: "good", Start: now, End: now},
	})
	if err == nil || !strings.Contains(err.Error(), `"bad"`) || !strings.Contains(err.Error(), `"bad trace"`) {
		t.Errorf("error %v", err)
	}
	if len(exp.spans) != 1 || exp.spans[0].Name() != "good" {
		t.Errorf("exported %v", exp.spans)
	}
}

func TestGRPCNeedsItsModule(t *testing.T) {
	for _, opts := range [][]otlp.Option{{otlp.WithProtocol(otlp.ProtocolGRPC)}, nil} {
		t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
		_, err := otlp.New(context.Background(), opts...)
		if err == nil || !strings.Contains(err.Error(), `import _ "github.com/fluxloop/fluxloop-go/runtime/otlp/otlpgrpc"`) {
			t.Errorf("error %v, want one naming the otlpgrpc import", err)
		}
	}
	_, err := fluxloop.NewClient(fluxloop.WithStorageName("otlp"))
	if err == nil || !strings.Contains(err.Error(), "otlpgrpc") {
		t.Errorf("client error %v", err)
	}
}
