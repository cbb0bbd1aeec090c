package otlp_test

import (
	"compress/gzip"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// request is one export request a receiver got.
type request struct {
	path     string
	header   http.Header
	encoding string // Content-Encoding ("gzip" or "")
	spans    []*tracepb.Span
	resource map[string]*commonpb.AnyValue
	scope    string
}

// receiver is a local OTLP/HTTP receiver that records requests (the gRPC
// one is in the otlpgrpc module's tests).
type receiver struct {
	mu   sync.Mutex
	reqs []request
	url  string // endpoint URL for WithEndpointURL
	base string // base URL for OTEL_EXPORTER_OTLP_ENDPOINT
}

func (r *receiver) add(req request, body *coltracepb.ExportTraceServiceRequest) {
	for _, rs := range body.ResourceSpans {
		if req.resource == nil && rs.Resource != nil {
			req.resource = map[string]*commonpb.AnyValue{}
			for _, kv := range rs.Resource.Attributes {
				req.resource[kv.Key] = kv.Value
			}
		}
		for _, ss := range rs.ScopeSpans {
			if ss.Scope != nil {
				req.scope = ss.Scope.Name
			}
			req.spans = append(req.spans, ss.Spans...)
		}
	}
	r.mu.Lock()
	r.reqs = append(r.reqs, req)
	r.mu.Unlock()
}

// requests returns the requests received so far.
func (r *receiver) requests() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]request(nil), r.reqs...)
}

// spans returns every span received so far.
func (r *receiver) spans() []*tracepb.Span {
	var out []*tracepb.Span
	for _, req := range r.requests() {
		out = append(out, req.spans...)
	}
	return out
}

// newHTTPReceiver starts an OTLP/HTTP receiver on loopback, decoding protobuf
// and JSON bodies, gzipped or not.
func newHTTPReceiver(t testing.TB) *receiver {
	r := &receiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, hr *http.Request) {
		var body io.Reader = hr.Body
		if hr.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(hr.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		data, err := io.ReadAll(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var msg coltracepb.ExportTraceServiceRequest
		json := hr.Header.Get("Content-Type") == "application/json"
		if json {
			err = protojson.Unmarshal(data, &msg)
		} else {
			err = proto.Unmarshal(data, &msg)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.add(request{path: hr.URL.Path, header: hr.Header.Clone(), encoding: hr.Header.Get("Content-Encoding")}, &msg)
		var resp []byte
		if json {
			resp, _ = protojson.Marshal(&coltracepb.ExportTraceServiceResponse{})
		} else {
			resp, _ = proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		}
		w.Header().Set("Content-Type", hr.Header.Get("Content-Type"))
		w.WriteHeader(http.StatusOK)
		w.Write(resp)
	}))
	t.Cleanup(srv.Close)
	r.base = srv.URL
	r.url = srv.URL + "/v1/traces"
	return r
}

// byName indexes spans by name, failing on duplicates.
func byName(t testing.TB, spans []*tracepb.Span) map[string]*tracepb.Span {
	t.Helper()
	m := map[string]*tracepb.Span{}
	for _, s := range spans {
		if m[s.Name] != nil {
			t.Fatalf("two spans named %q", s.Name)
		}
		m[s.Name] = s
	}
	return m
}

// attrs returns a span's attributes by key.
func attrs(kvs []*commonpb.KeyValue) map[string]*commonpb.AnyValue {
	m := make(map[string]*commonpb.AnyValue, len(kvs))
	for _, kv := range kvs {
		m[kv.Key] = kv.Value
	}
	return m
}

func hexID(b []byte) string { return hex.EncodeToString(b) }
