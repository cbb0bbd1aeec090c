package fluxloopllm_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"github.com/fluxloop/fluxloop-go/runtime/fluxloopllm"
	"github.com/fluxloop/fluxloop-go/runtime/fluxlooptest"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// reply is what the fake provider answers.
type reply struct {
	status int
	ctype  string
	body   []byte
	// piece > 0 writes the body in pieces of that many bytes, flushing
	// each; 0 flushes each server-sent event (or the whole body)
	piece int
	// stream, when set, writes the body instead
	stream func(w http.ResponseWriter)
	// encoding is the Content-Encoding header
	encoding string
}

// gotRequest is a request as the fake provider received it.
type gotRequest struct {
	method, path, query string
	header              http.Header
	body                []byte
}

// provider is a fake LLM server. The transports it makes dial it whatever
// the request's host, so that tests use the providers' real host names.
type provider struct {
	srv  *httptest.Server // http
	tls  *httptest.Server // https (port 443)
	mu   sync.Mutex
	reqs []gotRequest
	next func(r *http.Request, body []byte) reply
}

func newProvider(t testing.TB, next func(r *http.Request, body []byte) reply) *provider {
	p := &provider{next: next}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		p.mu.Lock()
		p.reqs = append(p.reqs, gotRequest{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), body})
		p.mu.Unlock()
		rep := p.next(r, body)
		writeReply(w, rep)
	})
	quiet := log.New(io.Discard, "", 0) // TLS handshakes cut short by Close
	p.srv = httptest.NewUnstartedServer(h)
	p.srv.Config.ErrorLog = quiet
	p.srv.Start()
	p.tls = httptest.NewUnstartedServer(h)
	p.tls.Config.ErrorLog = quiet
	p.tls.StartTLS()
	t.Cleanup(p.srv.Close)
	t.Cleanup(p.tls.Close)
	return p
}

func writeReply(w http.ResponseWriter, rep reply) {
	if rep.ctype != "" {
		w.Header().Set("Content-Type", rep.ctype)
	}
	if rep.encoding != "" {
		w.Header().Set("Content-Encoding", rep.encoding)
	}
	if rep.status == 0 {
		rep.status = 200
	}
	w.WriteHeader(rep.status)
	if rep.stream != nil {
		rep.stream(w)
		return
	}
	fl, _ := w.(http.Flusher)
	for _, part := range pieces(rep) {
		w.Write(part)
		if fl != nil {
			fl.Flush()
		}
	}
}

func pieces(rep reply) [][]byte {
	b := rep.body
	var out [][]byte
	if rep.piece > 0 {
		for len(b) > 0 {
			n := min(rep.piece, len(b))
			out = append(out, b[:n])
			b = b[n:]
		}
		return out
	}
	if !strings.HasPrefix(rep.ctype, "text/event-stream") {
		return [][]byte{b}
	}
	for len(b) > 0 {
		i := bytes.Index(b, []byte("\n\n"))
		if j := bytes.Index(b, []byte("\r\n\r\n")); j >= 0 && (i < 0 || j < i) {
			i = j + 2
		}
		if i < 0 {
			out = append(out, b)
			break
		}
		out = append(out, b[:i+2])
		b = b[i+2:]
	}
	return out
}

func fixed(rep reply) func(*http.Request, []byte) reply {
	return func(*http.Request, []byte) reply { return rep }
}

func (p *provider) base() *http.Transport {
	plain, secure := p.srv.Listener.Addr().String(), p.tls.Listener.Addr().String()
	return &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var d net.Dialer
			if strings.HasSuffix(addr, ":443") {
				return d.DialContext(ctx, "tcp", secure)
			}
			return d.DialContext(ctx, "tcp", plain)
		},
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: true},
		MaxIdleConnsPerHost: 64,
	}
}

func (p *provider) requests() []gotRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]gotRequest(nil), p.reqs...)
}

// post sends a JSON POST as an SDK would (http.NewRequest over a bytes
// reader, so GetBody is set) and reads the whole response.
func post(ctx context.Context, c *http.Client, url, body string, header ...string) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

// run makes one call under an agent observation and returns the agent and
// the generation recorded for it, checking that the client received exactly
// the bytes the server sent.
func run(t *testing.T, url, body string, rep reply, opts ...fluxloopllm.Option) (agent, gen fluxloop.Observation) {
	t.Helper()
	rec := fluxlooptest.NewParallel(t)
	p := newProvider(t, fixed(rep))
	client := &http.Client{Transport: fluxloopllm.NewTransport(p.base(), opts...)}
	ctx, sp := fluxloop.Start(rec.Context(), "agent", fluxloop.WithType(fluxloop.TypeAgent))
	_, got, err := post(ctx, client, url, body)
	sp.End()
	if err != nil {
		t.Fatalf("post: %v", err)
	}
	if !bytes.Equal(got, rep.body) {
		t.Fatalf("the client received other bytes than the server sent:\n got %q\nwant %q", got, rep.body)
	}
	return only(t, rec)
}

// only returns the agent and its one generation.
func only(t *testing.T, rec *fluxlooptest.Recorder) (agent, gen fluxloop.Observation) {
	t.Helper()
	obs := rec.Observations()
	if len(obs) != 2 {
		t.Fatalf("%d observations, want an agent and a generation:\n%s", len(obs), rec.Tree())
	}
	agent, gen = obs[0], obs[1]
	if agent.Type != fluxloop.TypeAgent || gen.Type != fluxloop.TypeGeneration {
		t.Fatalf("tree:\n%s", rec.Tree())
	}
	if gen.ParentObservationID != agent.ID || gen.TraceID != agent.TraceID {
		t.Fatalf("the generation is not the agent's child:\n%s", rec.Tree())
	}
	return agent, gen
}

// js is an observation as its JSON line reads, decoded.
func js(t testing.TB, o fluxloop.Observation) map[string]any {
	t.Helper()
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m["metadata"] == nil {
		m["metadata"] = map[string]any{}
	}
	return m
}

func meta(t testing.TB, o fluxloop.Observation) map[string]any {
	return js(t, o)["metadata"].(map[string]any)
}

// wantMeta checks metadata entries; a nil value wants the key absent.
func wantMeta(t testing.TB, o fluxloop.Observation, want map[string]any) {
	t.Helper()
	md := meta(t, o)
	for k, w := range want {
		got, ok := md[k]
		if w == nil {
			if ok {
				t.Errorf("metadata %s = %v, want it absent", k, got)
			}
			continue
		}
		if !ok {
			t.Errorf("metadata %s missing (want %v); metadata: %v", k, w, md)
			continue
		}
		if !sameJSON(got, w) {
			t.Errorf("metadata %s = %#v, want %#v", k, got, w)
		}
	}
}

func sameJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	var x, y any
	json.Unmarshal(ja, &x)
	json.Unmarshal(jb, &y)
	return reflect.DeepEqual(x, y)
}

// wantJSON checks that raw decodes to the same value as want (a JSON text).
func wantJSON(t testing.TB, what string, raw json.RawMessage, want string) {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(raw, &x); err != nil {
		t.Errorf("%s: %v in %s", what, err, raw)
		return
	}
	if err := json.Unmarshal([]byte(want), &y); err != nil {
		t.Fatalf("%s: bad want: %v", what, err)
	}
	if !reflect.DeepEqual(x, y) {
		t.Errorf("%s:\n got %s\nwant %s", what, raw, want)
	}
}

func wantUsage(t testing.TB, o fluxloop.Observation, model string, prompt, completion int) {
	t.Helper()
	if o.Model != model || o.PromptTokens != prompt || o.CompletionTokens != completion || o.TotalTokens != prompt+completion {
		t.Errorf("model %q tokens %d+%d=%d, want %q %d+%d", o.Model, o.PromptTokens, o.CompletionTokens, o.TotalTokens, model, prompt, completion)
	}
}

func sse(t testing.TB, name string) reply {
	return reply{ctype: "text/event-stream; charset=utf-8", body: fixture(t, name)}
}

func jsonReply(t testing.TB, status int, name string) reply {
	return reply{status: status, ctype: "application/json", body: fixture(t, name)}
}

func dump(o fluxloop.Observation) string {
	b, _ := json.Marshal(o)
	return string(b)
}

// embeddingsBody is an OpenAI embeddings list of n vectors of dim floats.
func embeddingsBody(n, dim int) []byte {
	var b strings.Builder
	b.WriteString(`{"object":"list","data":[`)
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"object":"embedding","index":%d,"embedding":[`, i)
		for j := range dim {
			if j > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, "%.9f", float64((i*dim+j)%997)/9970-0.05)
		}
		b.WriteString("]}")
	}
	b.WriteString(`],"model":"text-embedding-3-small","usage":{"prompt_tokens":8,"total_tokens":8}}`)
	return []byte(b.String())
}
