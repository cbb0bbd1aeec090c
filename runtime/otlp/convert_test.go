package otlp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"github.com/fluxloop/fluxloop-go/runtime/otlp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

var (
	testTrace = [16]byte{0xa1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	testStart = time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)
)

func spanID(n byte) [8]byte { return [8]byte{0xb0, 0, 0, 0, 0, 0, 0, n} }

// attrMap returns attributes by key, failing on duplicates.
func attrMap(t *testing.T, kvs []attribute.KeyValue) map[string]attribute.Value {
	t.Helper()
	m := make(map[string]attribute.Value, len(kvs))
	for _, kv := range kvs {
		if _, dup := m[string(kv.Key)]; dup {
			t.Errorf("attribute %s twice", kv.Key)
		}
		m[string(kv.Key)] = kv.Value
	}
	return m
}

func write(t *testing.T, recs []fluxloop.Record, opts ...otlp.Option) []sdktrace.ReadOnlySpan {
	t.Helper()
	exp := &recordingExporter{}
	st, err := otlp.New(context.Background(), append([]otlp.Option{otlp.WithExporter(exp)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Write(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	return exp.spans
}

func TestConvertRecord(t *testing.T) {
	remote := spanID(9)
	recs := []fluxloop.Record{{
		TraceID: testTrace, ID: spanID(1), ParentID: remote, Root: true,
		Type: fluxloop.TypeGeneration, Name: "Ask",
		Start: testStart, End: testStart.Add(time.Second),
		Input:  json.RawMessage(`{"q":"hi"}`),
		Output: json.RawMessage(`"hello"`),
		Level:  fluxloop.LevelWarning,
		Metadata: []fluxloop.Field{
			{Key: "code.filepath", Value: "/src/a.go"},
			{Key: "code.lineno", Value: int64(12)},
			{Key: "count", Value: 3},
			{Key: "doc", Value: json.RawMessage(`{"a":[1,2]}`)},
			{Key: "escaped", Value: json.RawMessage(`"a\"b\u00e9"`)},
			{Key: "flag", Value: json.RawMessage(`true`)},
			{Key: "gen_ai.operation.name", Value: "generate_content"},
			{Key: "gen_ai.request.model", Value: "override-model"},
			{Key: "huge", Value: uint64(1 << 63)},
			{Key: "nothing", Value: nil},
			{Key: "num", Value: json.RawMessage(`1.5`)},
			{Key: "plain", Value: json.RawMessage(`"text"`)},
			{Key: "ratio", Value: 0.25},
			{Key: "traceback", Value: "goroutine 1"},
		},
		Model: "demo-model", PromptTokens: 3, CompletionTokens: 4,
		Trace: fluxloop.TraceFields{
			Metadata:  []fluxloop.Field{{Key: "environment", Value: "ci"}, {Key: "experiment", Value: "x1"}, {Key: "service_name", Value: "svc"}},
			Tags:      []string{"a", "b"},
			SessionID: "s1", UserID: "u1",
		},
	}, {
		TraceID: testTrace, ID: spanID(2), ParentID: spanID(1),
		Type: fluxloop.TypeTool, Name: "Search",
		Start: testStart.Add(time.Millisecond), End: testStart, // ends before it starts
		Error: "index unavailable", Level: fluxloop.LevelError, StatusMessage: "panic",
		Metadata: []fluxloop.Field{{Key: "error_type", Value: "*errors.errorString"}, {Key: "gen_ai.tool.name", Value: "search_v2"}, {Key: "traceback", Value: "goroutine 7"}},
	}, {
		TraceID: testTrace, ID: spanID(3), ParentID: spanID(1),
		Type: fluxloop.TypeAgent, Name: "Sub", Start: testStart, End: testStart, Level: fluxloop.LevelInfo,
	}}
	spans := write(t, recs)
	if len(spans) != 3 {
		t.Fatalf("%d spans", len(spans))
	}
	ask, search, sub := spans[0], spans[1], spans[2]

	if ask.Name() != "Ask" || ask.SpanKind() != trace.SpanKindClient || ask.SpanContext().TraceID() != testTrace ||
		ask.SpanContext().SpanID() != spanID(1) || !ask.SpanContext().IsSampled() {
		t.Errorf("Ask: %s %v %v", ask.Name(), ask.SpanKind(), ask.SpanContext())
	}
	if p := ask.Parent(); p.SpanID() != remote || p.TraceID() != testTrace || !p.IsRemote() {
		t.Errorf("Ask: parent %v, want the remote %x", p, remote)
	}
	if !ask.StartTime().Equal(testStart) || !ask.EndTime().Equal(testStart.Add(time.Second)) {
		t.Errorf("Ask: times %v %v", ask.StartTime(), ask.EndTime())
	}
	if ask.InstrumentationScope().Name != otlp.ScopeName || ask.Resource() == nil || ask.Status().Code != codes.Unset ||
		len(ask.Events()) != 0 || len(ask.Links()) != 0 || ask.ChildSpanCount() != 0 || ask.DroppedAttributes() != 0 {
		t.Errorf("Ask: scope %v status %v events %v", ask.InstrumentationScope(), ask.Status(), ask.Events())
	}
	want := map[string]any{
		"fluxloop.observation.type":          "generation",
		"gen_ai.operation.name":              "generate_content",
		"gen_ai.request.model":               "override-model",
		"gen_ai.usage.input_tokens":          int64(3),
		"gen_ai.usage.output_tokens":         int64(4),
		"fluxloop.input":                     `{"q":"hi"}`,
		"fluxloop.output":                    `"hello"`,
		"fluxloop.level":                     "warning",
		"code.file.path":                     "/src/a.go",
		"code.line.number":                   int64(12),
		"fluxloop.metadata.count":            int64(3),
		"fluxloop.metadata.doc":              `{"a":[1,2]}`,
		"fluxloop.metadata.escaped":          `a"bé`,
		"fluxloop.metadata.flag":             true,
		"fluxloop.metadata.huge":             "9223372036854775808",
		"fluxloop.metadata.nothing":          "null",
		"fluxloop.metadata.num":              1.5,
		"fluxloop.metadata.plain":            "text",
		"fluxloop.metadata.ratio":            0.25,
		"fluxloop.metadata.traceback":        "goroutine 1", // no error: kept as metadata
		"session.id":                         "s1",
		"user.id":                            "u1",
		"fluxloop.trace.tags":                []string{"a", "b"},
		"fluxloop.trace.metadata.experiment": "x1",
	}
	got := attrMap(t, ask.Attributes())
	for k, v := range want {
		if g, ok := got[k]; !ok || fmt.Sprint(g.AsInterface()) != fmt.Sprint(v) || fmt.Sprintf("%T", g.AsInterface()) != fmt.Sprintf("%T", v) {
			t.Errorf("Ask: %s = %#v, want %#v", k, g.AsInterface(), v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("Ask: %d attributes, want %d: %v", len(got), len(want), ask.Attributes())
	}

	if search.SpanKind() != trace.SpanKindInternal || search.Parent().SpanID() != spanID(1) || search.Parent().IsRemote() {
		t.Errorf("Search: kind %v parent %v", search.SpanKind(), search.Parent())
	}
	if !search.EndTime().Equal(search.StartTime()) {
		t.Errorf("Search: ends at %v, before its start %v", search.EndTime(), search.StartTime())
	}
	if s := search.Status(); s.Code != codes.Error || s.Description != "index unavailable" {
		t.Errorf("Search: status %v", s)
	}
	got = attrMap(t, search.Attributes())
	if got["gen_ai.operation.name"].AsString() != "execute_tool" || got["gen_ai.tool.name"].AsString() != "search_v2" ||
		got["error.type"].AsString() != "*errors.errorString" || got["fluxloop.status_message"].AsString() != "panic" {
		t.Errorf("Search: attributes %v", search.Attributes())
	}
	if _, ok := got["fluxloop.metadata.traceback"]; ok {
		t.Errorf("Search: traceback of an error kept as metadata")
	}
	ev := search.Events()
	if len(ev) != 1 || ev[0].Name != "exception" || !ev[0].Time.Equal(search.EndTime()) {
		t.Fatalf("Search: events %v", ev)
	}
	ea := attrMap(t, ev[0].Attributes)
	if ea["exception.message"].AsString() != "index unavailable" || ea["exception.type"].AsString() != "*errors.errorString" ||
		ea["exception.stacktrace"].AsString() != "goroutine 7" || len(ea) != 3 {
		t.Errorf("Search: exception %v", ev[0].Attributes)
	}

	got = attrMap(t, sub.Attributes())
	if got["gen_ai.operation.name"].AsString() != "invoke_agent" || got["gen_ai.agent.name"].AsString() != "Sub" || len(got) != 3 {
		t.Errorf("Sub: attributes %v", sub.Attributes())
	}
	if sub.Parent().IsRemote() || sub.Status().Code != codes.Unset {
		t.Errorf("Sub: parent %v status %v", sub.Parent(), sub.Status())
	}
}

func TestConvertTruncates(t *testing.T) {
	spans := write(t, []fluxloop.Record{{
		TraceID: testTrace, ID: spanID(1), Name: "big", Start: testStart, End: testStart,
		Error:    strings.Repeat("e", 50),
		Metadata: []fluxloop.Field{{Key: "traceback", Value: strings.Repeat("é", 30)}},
	}}, otlp.WithMaxValueBytes(11))
	a := attrMap(t, spans[0].Attributes())
	if !a["fluxloop.truncated"].AsBool() {
		t.Errorf("fluxloop.truncated not set: %v", spans[0].Attributes())
	}
	if d := spans[0].Status().Description; d != "eeeeeeeeeee…(truncated 39 bytes)" {
		t.Errorf("status %q", d)
	}
	ev := attrMap(t, spans[0].Events()[0].Attributes)
	if st := ev["exception.stacktrace"].AsString(); st != "ééééé…(truncated 50 bytes)" {
		t.Errorf("stack %q", st)
	}
}

// keeper is an exporter of a registered protocol: it notes what the spans
// held while ExportSpans ran, and keeps the spans themselves to see the
// storage reuse them.
type keeper struct {
	seen [][]string
	kept []sdktrace.ReadOnlySpan
}

func (k *keeper) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	var names []string
	for _, s := range spans {
		names = append(names, s.Name()+" "+s.Attributes()[1].Value.Emit())
	}
	k.seen = append(k.seen, names)
	k.kept = append(k.kept, spans...)
	return nil
}
func (k *keeper) Shutdown(context.Context) error { return nil }

func records(names ...string) []fluxloop.Record {
	var recs []fluxloop.Record
	for i, n := range names {
		recs = append(recs, fluxloop.Record{TraceID: testTrace, ID: spanID(byte(i + 1)), Root: i == 0,
			Name: n, Input: json.RawMessage(`"` + n + `"`), Start: testStart, End: testStart})
	}
	return recs
}

func TestRegisteredExporterMemoryIsReused(t *testing.T) {
	k := &keeper{}
	otlp.RegisterExporter("Test/Keeper", func(_ context.Context, c otlp.ExporterConfig) (sdktrace.SpanExporter, error) {
		if c.Protocol != "test/keeper" || c.EndpointURL != "http://x" || c.Compression != "gzip" || c.Timeout != time.Second {
			t.Errorf("config %+v", c)
		}
		return k, nil
	})
	st, err := otlp.New(context.Background(), otlp.WithProtocol("test/keeper"), otlp.WithEndpointURL("http://x"),
		otlp.WithGzip(true), otlp.WithTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if st.Protocol() != "test/keeper" {
		t.Errorf("protocol %q", st.Protocol())
	}
	ctx := context.Background()
	first := records("a", "b", "c")
	if err := st.Write(ctx, first); err != nil {
		t.Fatal(err)
	}
	first[0].Input[1] = 'X' // the writer reuses its arena
	if err := st.Write(ctx, records("d", "e")); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(k.seen); got != `[[a "a" b "b" c "c"] [d "d" e "e"]]` {
		t.Errorf("seen %v", got)
	}
	if k.kept[0] != k.kept[3] {
		t.Errorf("the second Write did not reuse the first one's spans")
	}
	if k.kept[3].Name() != "" || k.kept[3].Attributes() != nil {
		t.Errorf("a span still holds %q %v after Write", k.kept[3].Name(), k.kept[3].Attributes())
	}
}

func TestCustomExporterMayKeepSpans(t *testing.T) {
	exp := &recordingExporter{}
	st, err := otlp.New(context.Background(), otlp.WithExporter(exp))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	first := records("a", "b")
	if err := st.Write(ctx, first); err != nil {
		t.Fatal(err)
	}
	first[0].Input[1] = 'X' // the writer reuses its arena
	if err := st.Write(ctx, records("c", "d", "e")); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range exp.spans {
		got = append(got, s.Name()+" "+s.Attributes()[1].Value.Emit())
	}
	if fmt.Sprint(got) != `[a "a" b "b" c "c" d "d" e "e"]` {
		t.Errorf("kept spans %v", got)
	}
}

func TestEmptyWrite(t *testing.T) {
	if spans := write(t, nil); len(spans) != 0 {
		t.Errorf("spans %v", spans)
	}
}
