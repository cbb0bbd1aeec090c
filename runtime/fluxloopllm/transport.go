package fluxloopllm

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
)

// Option configures the transport made by NewTransport.
type Option func(*config)

type config struct {
	noContent    bool
	includeUsage bool
	prices       Prices
	providers    map[string]string
	libraries    []string
}

// WithoutContent records no prompt and no reply: no input, no output, only
// the model, the token counts, the timing, the finish reasons and the other
// metadata. FLUXLOOP_LLM_CONTENT=false does the same for every transport.
func WithoutContent() Option { return func(c *config) { c.noContent = true } }

// WithIncludeUsage makes the transport ask for usage in streamed Chat
// Completions: it adds "stream_options":{"include_usage":true} to a
// streaming request that does not say include_usage itself, so that the
// server sends a last chunk with the token counts (and "choices": []).
// It is the only option that changes what is sent; SDKs that index
// choices[0] of every chunk without checking (some go-openai code does)
// must be ready for that chunk, and servers that reject stream_options must
// not get it. FLUXLOOP_LLM_INCLUDE_USAGE=true does the same.
func WithIncludeUsage() Option { return func(c *config) { c.includeUsage = true } }

// WithPrices sets the price table the cost of each call is computed from
// (metadata fluxloop.llm.cost_usd); see Prices. It replaces a table read
// from FLUXLOOP_LLM_PRICES.
func WithPrices(p Prices) Option { return func(c *config) { c.prices = p } }

// WithProvider reports calls to host (a host name, or host:port) with
// gen_ai.provider.name name, for OpenAI-compatible servers the transport
// does not know (a vLLM server, a gateway).
func WithProvider(host, name string) Option {
	return func(c *config) {
		if c.providers == nil {
			c.providers = map[string]string{}
		}
		c.providers[strings.ToLower(host)] = name
	}
}

// WithLibraryPackages adds import-path prefixes of code between the program
// and the HTTP client, such as an in-house wrapper of an SDK: the recorded
// source position (code.filepath, code.lineno) is that of the first caller
// outside them and outside the SDKs the transport knows. A frame is in them
// when its function's name starts with a prefix, or its file is in the
// module cache or a vendor directory under a module path that does.
func WithLibraryPackages(prefixes ...string) Option {
	return func(c *config) { c.libraries = append(c.libraries, prefixes...) }
}

type transport struct {
	base    http.RoundTripper
	cfg     config
	retries retryTable
}

// NewTransport returns an http.RoundTripper that sends requests through base
// (http.DefaultTransport when nil) and records each LLM call it recognises
// as a generation observation; see the package documentation.
func NewTransport(base http.RoundTripper, opts ...Option) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	t := &transport{base: base}
	if v, ok := os.LookupEnv("FLUXLOOP_LLM_CONTENT"); ok {
		if on, err := strconv.ParseBool(strings.TrimSpace(v)); err == nil && !on {
			t.cfg.noContent = true
		}
	}
	if v, ok := os.LookupEnv("FLUXLOOP_LLM_INCLUDE_USAGE"); ok {
		if on, err := strconv.ParseBool(strings.TrimSpace(v)); err == nil && on {
			t.cfg.includeUsage = true
		}
	}
	if path := os.Getenv("FLUXLOOP_LLM_PRICES"); path != "" {
		p, err := LoadPrices(path)
		if err != nil {
			fmt.Fprintf(os.Stderr, "fluxloopllm: FLUXLOOP_LLM_PRICES: %v (no costs recorded)\n", err)
		}
		t.cfg.prices = p
	}
	for _, o := range opts {
		if o != nil {
			o(&t.cfg)
		}
	}
	return t
}

// NewClient returns an *http.Client whose Transport is NewTransport(nil,
// opts...), for SDK options that take a client.
func NewClient(opts ...Option) *http.Client {
	return &http.Client{Transport: NewTransport(nil, opts...)}
}

// CloseIdleConnections closes the idle connections of the base transport
// when it has that method (http.Client.CloseIdleConnections calls it).
func (t *transport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// api is the wire format of a recognised call.
type api uint8

const (
	apiNone api = iota
	apiChat
	apiResponses
	apiEmbeddings
	apiAnthropic
	apiGemini
)

// route is what the request line says about a call.
type route struct {
	api        api
	op         string
	provider   string
	urlModel   string // Gemini, Vertex and Azure deployments name the model in the path
	urlStream  bool   // streamGenerateContent, streamRawPredict
	vertex     bool   // a Vertex AI path: …/projects/{p}/locations/{l}/publishers/{pub}/models/{m}
	host, port string
}

// recognise classifies a request by method, path and content type; every
// other request costs these few string checks.
func (t *transport) recognise(req *http.Request) (route, bool) {
	if req.Method != http.MethodPost || req.URL == nil {
		return route{}, false
	}
	p := req.URL.Path
	var r route
	switch {
	case strings.HasSuffix(p, "/chat/completions"):
		r.api, r.op = apiChat, "chat"
	case strings.HasSuffix(p, "/responses"):
		r.api, r.op = apiResponses, "chat"
	case strings.HasSuffix(p, "/embeddings"):
		r.api, r.op = apiEmbeddings, "embeddings"
	case strings.HasSuffix(p, "/v1/messages"):
		r.api, r.op = apiAnthropic, "chat"
	default:
		i := strings.LastIndexByte(p, ':')
		if i < 0 {
			return route{}, false
		}
		switch p[i+1:] {
		case "generateContent":
			r.api, r.op = apiGemini, "generate_content"
		case "streamGenerateContent":
			r.api, r.op, r.urlStream = apiGemini, "generate_content", true
		case "rawPredict", "streamRawPredict":
			if !strings.Contains(p, "/publishers/anthropic/") {
				return route{}, false
			}
			r.api, r.op, r.urlStream = apiAnthropic, "chat", p[i+1:] == "streamRawPredict"
		default:
			return route{}, false
		}
		if j := strings.LastIndex(p[:i], "/models/"); j >= 0 {
			r.urlModel = p[j+len("/models/") : i]
			// Vertex AI names the model as a resource of a project's
			// publisher (the Gemini API as models/{m} or tunedModels/{m})
			r.vertex = strings.Contains(p[:j], "/publishers/") || strings.Contains(p[:j], "/projects/")
		}
	}
	if ct := req.Header.Get("Content-Type"); ct != "" && !strings.Contains(ct, "json") {
		return route{}, false
	}
	if r.api == apiChat || r.api == apiEmbeddings || r.api == apiResponses {
		if j := strings.Index(p, "/deployments/"); j >= 0 {
			d := p[j+len("/deployments/"):]
			if k := strings.IndexByte(d, '/'); k >= 0 {
				r.urlModel = d[:k]
			}
		}
	}
	r.host, r.port = req.URL.Hostname(), req.URL.Port()
	if r.api == apiGemini && strings.HasSuffix(strings.ToLower(r.host), "aiplatform.googleapis.com") {
		r.vertex = true
	}
	if r.port == "" {
		r.port = "443"
		if req.URL.Scheme == "http" {
			r.port = "80"
		}
	}
	r.provider = t.providerName(req.URL.Host, r)
	return r, true
}

// providerName reports gen_ai.provider.name from the host: the OpenAI wire
// format is spoken by many servers, which the host tells apart.
func (t *transport) providerName(hostport string, r route) string {
	hostport = strings.ToLower(hostport)
	host := strings.ToLower(r.host)
	if t.cfg.providers != nil {
		if n, ok := t.cfg.providers[hostport]; ok {
			return n
		}
		if n, ok := t.cfg.providers[host]; ok {
			return n
		}
	}
	switch host {
	case "api.openai.com":
		return "openai"
	case "api.anthropic.com":
		return "anthropic"
	case "generativelanguage.googleapis.com":
		return "gcp.gemini"
	case "openrouter.ai":
		return "openrouter"
	case "api.groq.com":
		return "groq"
	case "api.deepseek.com":
		return "deepseek"
	case "api.mistral.ai":
		return "mistral_ai"
	case "api.x.ai":
		return "x_ai"
	case "api.perplexity.ai":
		return "perplexity"
	case "api.together.xyz", "api.together.ai":
		return "together_ai"
	case "api.fireworks.ai":
		return "fireworks_ai"
	case "localhost", "127.0.0.1", "::1":
		if r.port == "11434" {
			return "ollama"
		}
	}
	switch {
	case strings.HasSuffix(host, ".openai.azure.com"), strings.HasSuffix(host, ".cognitiveservices.azure.com"),
		strings.HasSuffix(host, ".services.ai.azure.com"):
		if r.api == apiAnthropic {
			return "anthropic"
		}
		return "azure.ai.openai"
	case strings.HasSuffix(host, "aiplatform.googleapis.com"):
		return "gcp.vertex_ai"
	}
	// another host (a proxy, a private endpoint, a test server): the path
	// tells Vertex AI from the Gemini API and Anthropic's own API
	switch r.api {
	case apiAnthropic:
		if r.vertex {
			return "gcp.vertex_ai"
		}
		return "anthropic"
	case apiGemini:
		if r.vertex || strings.Contains(hostport, "aiplatform") {
			return "gcp.vertex_ai"
		}
		return "gcp.gemini"
	}
	return "openai"
}

var genType = fluxloop.WithType(fluxloop.TypeGeneration)

// RoundTrip sends req through the base transport. A recognised LLM call is
// recorded as a generation observation, a child of the observation in
// req.Context(), which ends when the response body reaches its end or is
// closed; everything else passes through untouched.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	r, ok := t.recognise(req)
	if !ok || !fluxloop.Enabled() {
		return t.base.RoundTrip(req)
	}
	ctx := req.Context()
	parent := fluxloop.SpanFromContext(ctx)
	if parent != nil && !parent.Recording() {
		return t.base.RoundTrip(req) // an unsampled trace
	}
	limit := fluxloop.DefaultMaxFieldBytes
	if parent != nil {
		limit = parent.Client().Config().MaxFieldBytes
	}
	info, out, err := t.readRequest(req, r, limit)
	if err != nil || info.model == "" {
		// unreadable, or not an LLM call after all: every API the
		// transport knows names the model in the body or the URL
		return t.base.RoundTrip(out)
	}
	name := r.op
	if info.model != "" {
		name = r.op + " " + info.model
	}
	_, span := fluxloop.StartAt(ctx, callerPC(t.cfg.libraries), name, genType)
	if span == nil {
		return t.base.RoundTrip(out)
	}
	c := newCall(t, span, ctx, r, info)
	c.start = time.Now()
	c.requestAttrs(req, parent)

	resp, err := t.base.RoundTrip(out)
	if err != nil {
		c.fail(err)
		return resp, err
	}
	c.response(resp)
	return resp, nil
}

// reqInfo is what the request body says about a call.
type reqInfo struct {
	model        string
	stream       bool
	includeUsage bool
	attrs        []fluxloop.Attr // gen_ai.request.*
	doc          []byte          // the body, pruned past the budget
	hash         uint64
}

var hashSeed = maphash.MakeSeed()

// readRequest reads the request body without consuming it (through GetBody
// when the request has it, as requests made by http.NewRequest over a bytes
// or strings reader do; else by reading it and handing on a copy), and
// returns what it says and the request to send. A non-nil error means the
// body could not be read: the returned request is then to be sent as it is,
// untraced.
func (t *transport) readRequest(req *http.Request, r route, limit int) (reqInfo, *http.Request, error) {
	var info reqInfo
	out := req
	d := &docBuf{limit: max(limit, 1024)}
	if n := req.ContentLength; n > 0 && n <= int64(d.limit) {
		d.raw = make([]byte, 0, n)
	}
	var all []byte // the whole body, when we hold it
	switch {
	case req.Body == nil || req.Body == http.NoBody:
	case req.GetBody != nil:
		rc, err := req.GetBody()
		if err != nil {
			return info, req, err
		}
		if err := copyInto(d, rc); err != nil {
			rc.Close()
			return info, req, err
		}
		rc.Close()
		if !d.pruned() {
			all = d.raw
		}
	default:
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		out = cloneRequest(req, b)
		if err != nil {
			// hand on what was read and the error
			out.Body = io.NopCloser(io.MultiReader(bytes.NewReader(b), errReader{err}))
			out.GetBody = nil
			return info, out, err
		}
		all = b
		d.write(b)
	}
	info.doc = d.bytes()
	info.hash = maphash.Bytes(hashSeed, info.doc)
	parseRequest(&info, r)
	if r.urlModel != "" && (info.model == "" || r.api == apiGemini) {
		info.model = r.urlModel
	}
	if r.urlStream {
		info.stream = true
	}
	if t.cfg.includeUsage && r.api == apiChat && info.stream && !info.includeUsage {
		if all == nil && req.GetBody != nil {
			if rc, err := req.GetBody(); err == nil {
				all, _ = io.ReadAll(rc)
				rc.Close()
			}
		}
		if nb, ok := injectIncludeUsage(all); ok {
			out = cloneRequest(req, nb)
			info.includeUsage = true
			info.attrs = append(info.attrs, fluxloop.Attribute("fluxloop.llm.include_usage_injected", true))
		}
	}
	return info, out, nil
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// copyInto reads r into d, in one Write when r can write itself out (a
// bytes or strings reader behind GetBody).
func copyInto(d *docBuf, r io.Reader) error {
	if wt, ok := r.(io.WriterTo); ok {
		_, err := wt.WriteTo(docWriter{d})
		return err
	}
	var buf [8 << 10]byte
	for {
		n, err := r.Read(buf[:])
		d.write(buf[:n])
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

type docWriter struct{ d *docBuf }

func (w docWriter) Write(p []byte) (int, error) { w.d.write(p); return len(p), nil }

// cloneRequest returns a shallow copy of req with body b.
func cloneRequest(req *http.Request, b []byte) *http.Request {
	out := new(http.Request)
	*out = *req
	out.Body = io.NopCloser(bytes.NewReader(b))
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	out.ContentLength = int64(len(b))
	if out.Header.Get("Content-Length") != "" {
		out.Header = out.Header.Clone()
		out.Header.Set("Content-Length", strconv.Itoa(len(b)))
	}
	return out
}

// injectIncludeUsage returns body with stream_options.include_usage set to
// true, leaving every other byte as it was.
func injectIncludeUsage(body []byte) ([]byte, bool) {
	i := skipSpace(body, 0)
	if i >= len(body) || body[i] != '{' {
		return nil, false
	}
	var so []byte
	var soStart int
	found := false
	ok := members(body, func(k, v []byte) bool {
		if string(k) == "stream_options" {
			so, found = v, true
			soStart = cap(body) - cap(v) // v's offset in body
			return false
		}
		return true
	})
	if !ok {
		return nil, false
	}
	if !found || isNull(so) {
		end := bytes.LastIndexByte(body, '}')
		if end < 0 {
			return nil, false
		}
		ins := `"stream_options":{"include_usage":true}`
		if found { // "stream_options": null
			return replaceAt(body, soStart, len(so), `{"include_usage":true}`), true
		}
		if j := skipSpace(body, i+1); j < len(body) && body[j] != '}' {
			ins = "," + ins
		}
		return replaceAt(body, end, 0, ins), true
	}
	if len(so) == 0 || so[0] != '{' {
		return nil, false
	}
	if v, ok := member(so, "include_usage"); ok {
		off := soStart + (cap(so) - cap(v))
		return replaceAt(body, off, len(v), "true"), true
	}
	ins := `"include_usage":true`
	if j := skipSpace(so, 1); j < len(so) && so[j] != '}' {
		ins += ","
	}
	return replaceAt(body, soStart+1, 0, ins), true
}

func replaceAt(b []byte, off, n int, s string) []byte {
	out := make([]byte, 0, len(b)-n+len(s))
	out = append(out, b[:off]...)
	out = append(out, s...)
	return append(out, b[off+n:]...)
}

// parseRequest reads the model, whether the call streams, and the request
// parameters recorded as gen_ai.request.* metadata.
func parseRequest(info *reqInfo, r route) {
	doc := info.doc
	num := func(key string, v []byte) {
		if f, ok := number(v); ok {
			info.attrs = append(info.attrs, fluxloop.Attribute(key, f))
		}
	}
	intAttr := func(key string, v []byte) {
		if n, ok := integer(v); ok {
			info.attrs = append(info.attrs, fluxloop.Attribute(key, n))
		}
	}
	stops := func(v []byte) {
		if s := stringList(v); len(s) > 0 {
			info.attrs = append(info.attrs, fluxloop.Attribute("gen_ai.request.stop_sequences", s))
		}
	}
	if r.api == apiGemini {
		members(doc, func(k, v []byte) bool {
			if string(k) != "generationConfig" && string(k) != "generation_config" {
				return true
			}
			members(v, func(k, v []byte) bool {
				switch string(k) {
				case "temperature":
					num("gen_ai.request.temperature", v)
				case "topP", "top_p":
					num("gen_ai.request.top_p", v)
				case "topK", "top_k":
					num("gen_ai.request.top_k", v)
				case "maxOutputTokens", "max_output_tokens":
					intAttr("gen_ai.request.max_tokens", v)
				case "stopSequences", "stop_sequences":
					stops(v)
				case "seed":
					intAttr("gen_ai.request.seed", v)
				case "presencePenalty", "presence_penalty":
					num("gen_ai.request.presence_penalty", v)
				case "frequencyPenalty", "frequency_penalty":
					num("gen_ai.request.frequency_penalty", v)
				case "candidateCount", "candidate_count":
					intAttr("gen_ai.request.choice.count", v)
				}
				return true
			})
			return false
		})
		return
	}
	members(doc, func(k, v []byte) bool {
		switch string(k) {
		case "model":
			info.model, _ = str(v)
		case "stream":
			info.stream, _ = boolean(v)
		case "stream_options":
			if iu, ok := member(v, "include_usage"); ok {
				info.includeUsage, _ = boolean(iu)
			}
		case "temperature":
			num("gen_ai.request.temperature", v)
		case "top_p":
			num("gen_ai.request.top_p", v)
		case "top_k":
			num("gen_ai.request.top_k", v)
		case "max_tokens", "max_completion_tokens", "max_output_tokens":
			intAttr("gen_ai.request.max_tokens", v)
		case "frequency_penalty":
			num("gen_ai.request.frequency_penalty", v)
		case "presence_penalty":
			num("gen_ai.request.presence_penalty", v)
		case "seed":
			intAttr("gen_ai.request.seed", v)
		case "stop", "stop_sequences":
			stops(v)
		case "n":
			if n, ok := integer(v); ok && n != 1 {
				info.attrs = append(info.attrs, fluxloop.Attribute("gen_ai.request.choice.count", n))
			}
		case "dimensions":
			intAttr("gen_ai.embeddings.dimension.count", v)
		case "encoding_format":
			if s, ok := str(v); ok {
				info.attrs = append(info.attrs, fluxloop.Attribute("gen_ai.request.encoding_formats", []string{s}))
			}
		case "reasoning_effort":
			if s, ok := str(v); ok {
				info.attrs = append(info.attrs, fluxloop.Attribute("openai.request.reasoning_effort", s))
			}
		case "reasoning":
			if e, ok := member(v, "effort"); ok {
				if s, ok := str(e); ok {
					info.attrs = append(info.attrs, fluxloop.Attribute("openai.request.reasoning_effort", s))
				}
			}
		case "thinking":
			if b, ok := member(v, "budget_tokens"); ok {
				intAttr("anthropic.request.thinking.budget_tokens", b)
			}
		case "conversation": // Responses: a string or {"id": ...}
			id, ok := str(v)
			if !ok {
				if x, found := member(v, "id"); found {
					id, ok = str(x)
				}
			}
			if ok && id != "" {
				info.attrs = append(info.attrs, fluxloop.Attribute("gen_ai.conversation.id", id))
			}
		}
		return true
	})
}

// retryTable remembers the failed attempts of calls for a few minutes, so
// that the next attempt of the same call (same parent observation, URL and
// body) names the attempt before it.
type retryTable struct {
	mu sync.Mutex
	m  map[retryKey]retryEntry
	n  atomic.Int32
}

type retryKey struct {
	parent [8]byte
	url    string
	hash   uint64
}

type retryEntry struct {
	id      string
	attempt int
	at      time.Time
}

const retryTTL = 5 * time.Minute

func (rt *retryTable) lookup(k retryKey) (retryEntry, bool) {
	if rt.n.Load() == 0 {
		return retryEntry{}, false
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	e, ok := rt.m[k]
	if ok {
		delete(rt.m, k)
		rt.n.Store(int32(len(rt.m)))
		if time.Since(e.at) > retryTTL {
			return retryEntry{}, false
		}
	}
	return e, ok
}

func (rt *retryTable) remember(k retryKey, e retryEntry) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.m == nil {
		rt.m = make(map[retryKey]retryEntry)
	}
	if len(rt.m) >= 1024 {
		for key, old := range rt.m {
			if time.Since(old.at) > retryTTL || len(rt.m) >= 1024 {
				delete(rt.m, key)
			}
		}
	}
	rt.m[k] = e
	rt.n.Store(int32(len(rt.m)))
}

// requestAttrs records what is known before the response.
func (c *call) requestAttrs(req *http.Request, parent *fluxloop.Span) {
	attrs := make([]fluxloop.Attr, 0, 8+len(c.info.attrs))
	attrs = append(attrs,
		fluxloop.Attribute("gen_ai.provider.name", c.r.provider),
		fluxloop.Attribute("gen_ai.operation.name", c.r.op),
		fluxloop.Attribute("server.address", c.r.host),
	)
	if port, err := strconv.Atoi(c.r.port); err == nil {
		attrs = append(attrs, fluxloop.Attribute("server.port", port))
	}
	if c.info.model != "" {
		attrs = append(attrs, fluxloop.Attribute("gen_ai.request.model", c.info.model))
	}
	if c.info.stream {
		attrs = append(attrs, fluxloop.Attribute("fluxloop.llm.stream", true))
	}
	attrs = append(attrs, c.info.attrs...)

	// attempts: the SDK's retry counter, else a failed attempt of the same
	// call moments ago
	c.key = retryKey{parent: parent.SpanContext().SpanID, url: req.URL.Host + req.URL.Path, hash: c.info.hash}
	attempt := 0
	if v := req.Header.Get("X-Stainless-Retry-Count"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			attempt = n + 1
		}
	}
	if prev, ok := c.t.retries.lookup(c.key); ok && attempt != 1 {
		if attempt == 0 {
			attempt = prev.attempt + 1
		}
		attrs = append(attrs, fluxloop.Attribute("fluxloop.llm.previous_attempt_id", prev.id))
	}
	if attempt > 0 {
		attrs = append(attrs, fluxloop.Attribute("fluxloop.llm.attempt", attempt))
	}
	c.attempt = max(attempt, 1)
	c.span.SetAttributes(attrs...)

	if !c.t.cfg.noContent && c.inputs && len(c.info.doc) > 0 {
		cl := c.span.Client()
		members(c.info.doc, func(k, v []byte) bool {
			name := string(k)
			if bytes.IndexByte(k, '\\') >= 0 {
				name = string(appendUnquoted(nil, k))
			}
			c.span.SetInput(name, inputValue(cl, v))
			return true
		})
	}
}

// inputValue captures a member of the request: scalars directly, objects
// and arrays as the JSON they are (json.RawMessage, so that the capture
// budget applies and nested keys are redacted like any input).
func inputValue(cl *fluxloop.Client, v []byte) fluxloop.Value {
	switch v[0] {
	case '"':
		if s, ok := str(v); ok && len(s) <= 256 {
			return fluxloop.String(s)
		}
	case 't', 'f':
		if b, ok := boolean(v); ok {
			return fluxloop.Bool(b)
		}
	case 'n':
		if isNull(v) {
			return fluxloop.Value{}
		}
	case '{', '[':
	default:
		if n, ok := integer(v); ok && bytes.IndexAny(v, ".eE") < 0 {
			return fluxloop.Int(n)
		}
		if f, ok := number(v); ok {
			return fluxloop.Float(f)
		}
	}
	return cl.V(json.RawMessage(v))
}

// ctxErr is the context's error, if it is done.
func ctxErr(ctx context.Context) error {
	if ctx == nil {
		return nil
	}
	return ctx.Err()
}
