package viewer_test

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fluxloop/fluxloop-go/internal/viewer"
)

// otlpBody is an OTLP/HTTP JSON export of a run: an agent span, a chat
// generation with GenAI attributes, and a tool span that failed.
const otlpBody = `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"support-bot"}}]},
"scopeSpans":[{"scope":{"name":"app"},"spans":[
 {"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","parentSpanId":"eee19b7ec3c1b173","name":"chat gpt-4o","kind":3,
  "startTimeUnixNano":"1764590400100000000","endTimeUnixNano":"1764590400900000000",
  "attributes":[{"key":"gen_ai.operation.name","value":{"stringValue":"chat"}},{"key":"gen_ai.request.model","value":{"stringValue":"gpt-4o"}},
   {"key":"gen_ai.usage.input_tokens","value":{"intValue":"31"}},{"key":"gen_ai.usage.output_tokens","value":{"intValue":9}},
   {"key":"gen_ai.input.messages","value":{"stringValue":"[{\"role\":\"user\",\"parts\":[{\"type\":\"text\",\"content\":\"Hi\"}]}]"}}]},
 {"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b175","parentSpanId":"eee19b7ec3c1b173","name":"search","startTimeUnixNano":"1764590400910000000","endTimeUnixNano":1764590400950000000,
  "attributes":[{"key":"fluxloop.observation.type","value":{"stringValue":"tool"}},{"key":"fluxloop.input","value":{"stringValue":"{\"q\":\"go\"}"}},{"key":"retries","value":{"intValue":"2"}}],
  "status":{"code":2,"message":"index offline"},
  "events":[{"name":"exception","attributes":[{"key":"exception.type","value":{"stringValue":"*net.OpError"}}]}]},
 {"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b173","name":"Agent","startTimeUnixNano":"1764590400000000000","endTimeUnixNano":"1764590401000000000",
  "attributes":[{"key":"fluxloop.observation.type","value":{"stringValue":"agent"}},{"key":"fluxloop.output","value":{"stringValue":"\"done\""}},{"key":"user.id","value":{"stringValue":"ada"}}]},
 {"traceId":"not hex","spanId":"x","name":"bad"}
]}]}]}`

func post(t *testing.T, h http.Handler, body []byte, header map[string]string) (int, string) {
	t.Helper()
	r := httptest.NewRequest("POST", "/v1/traces", bytes.NewReader(body))
	r.Host = "localhost"
	for k, v := range header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code, w.Body.String()
}

func TestOTLP(t *testing.T) {
	ix := viewer.NewIndex()
	h := viewer.NewHandler(ix, viewer.Options{OTLP: true, Now: func() time.Time { return now }})
	code, body := post(t, h, []byte(otlpBody), map[string]string{"Content-Type": "application/json"})
	if code != 200 || !strings.Contains(body, `"rejectedSpans":"1"`) {
		t.Fatalf("POST /v1/traces: %d %s", code, body)
	}
	code, b := get(t, h, "/api/traces/5b8e")
	if code != 200 {
		t.Fatalf("GET: %d %s", code, b)
	}
	golden(t, "otlp_trace.json", indent(t, b))
	_, b = get(t, h, "/api/traces/5b8efff798038103d269b633813fc60c/observations/eee19b7ec3c1b175")
	golden(t, "otlp_observation.json", indent(t, b))

	// gzip, as exporters send it.
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write([]byte(strings.ReplaceAll(otlpBody, "5b8efff798038103d269b633813fc60c", "5b8efff798038103d269b633813fc60d")))
	zw.Close()
	if code, body := post(t, h, z.Bytes(), map[string]string{"Content-Type": "application/json", "Content-Encoding": "gzip"}); code != 200 {
		t.Fatalf("gzip: %d %s", code, body)
	}
	if _, total := ix.Query(viewer.Filter{}); total != 2 {
		t.Errorf("%d traces after two exports, want 2", total)
	}
	if code, body := post(t, h, []byte{1, 2}, map[string]string{"Content-Type": "application/x-protobuf"}); code != http.StatusUnsupportedMediaType || !strings.Contains(body, "http/json") {
		t.Errorf("protobuf: %d %s", code, body)
	}
	if code, _ := post(t, h, []byte(`{`), map[string]string{"Content-Type": "application/json"}); code != 400 {
		t.Errorf("bad JSON: %d", code)
	}
	// A cross-site page cannot post spans.
	if code, _ := post(t, h, []byte(otlpBody), map[string]string{"Content-Type": "application/json", "Origin": "http://evil.example"}); code != 403 {
		t.Errorf("cross-site POST: %d", code)
	}
	// Off unless asked for.
	if code, _ := post(t, viewer.NewHandler(ix, viewer.Options{}), []byte(otlpBody), map[string]string{"Content-Type": "application/json"}); code != 404 && code != 405 {
		t.Errorf("POST without OTLP: %d", code)
	}
}
