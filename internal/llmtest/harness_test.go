package llmtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fluxloop/fluxloop-go/internal/llmtest/wire"
	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"github.com/fluxloop/fluxloop-go/runtime/fluxloopllm"
	"github.com/fluxloop/fluxloop-go/runtime/fluxlooptest"
)

// fixture reads testdata/name.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// reply is what the fake server answers to one request.
type reply struct {
	status      int
	contentType string
	body        []byte
	// events writes body one server-sent event (or one JSON array element
	// line) at a time, flushing after each, instead of in one write.
	events bool
	// hangAfter, when > 0, writes that many events and then blocks until the
	// client goes away (early close, cancellation).
	hangAfter int
	// firstDelay delays the first byte of the body, so that the time to the
	// first chunk is measurable.
	firstDelay time.Duration
	// header is added to the response headers.
	header http.Header
	// chunkSize, when > 0, writes the body in pieces of that many bytes,
	// flushing after each (lines and events cut anywhere).
	chunkSize int
}

// exchange is one request as the server saw it and the body it wrote.
type exchange struct {
	call     string
	method   string
	path     string
	rawQuery string
	header   http.Header
	reqBody  []byte
	status   int
	wrote    bytes.Buffer
	done     chan struct{}
	wroteAll bool
}

// fakeServer is an httptest server answering with fixtures and recording
// every exchange.
type fakeServer struct {
	*httptest.Server
	t      testing.TB
	route  func(r *http.Request, body []byte) reply
	mu     sync.Mutex
	byCall map[string]*exchange
	all    []*exchange
}

func newFakeServer(t testing.TB, route func(r *http.Request, body []byte) reply) *fakeServer {
	s := &fakeServer{t: t, route: route, byCall: map[string]*exchange{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// callN is the number the concurrency fixtures substitute for {{n}}: the
// digits after "call-" in the request body.
var callN = regexp.MustCompile(`call-(\d+)`)

func (s *fakeServer) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	ex := &exchange{
		call:     r.Header.Get(wire.CallHeader),
		method:   r.Method,
		path:     r.URL.Path,
		rawQuery: r.URL.RawQuery,
		header:   r.Header.Clone(),
		reqBody:  body,
		done:     make(chan struct{}),
	}
	defer close(ex.done)
	s.mu.Lock()
	s.all = append(s.all, ex)
	if ex.call != "" {
		s.byCall[ex.call] = ex
	}
	s.mu.Unlock()

	rep := s.route(r, body)
	if rep.status == 0 {
		rep.status = http.StatusOK
	}
	if rep.contentType == "" {
		rep.contentType = "application/json"
	}
	if m := callN.FindSubmatch(body); m != nil {
		rep.body = bytes.ReplaceAll(rep.body, []byte("{{n}}"), m[1])
	}
	ex.status = rep.status
	w.Header().Set("Content-Type", rep.contentType)
	w.Header().Set("X-Request-Id", "req_fake_"+ex.call)
	for k, vs := range rep.header {
		w.Header()[k] = vs
	}
	if !rep.events && rep.chunkSize == 0 {
		w.Header().Set("Content-Length", strconv.Itoa(len(rep.body)))
	}
	w.WriteHeader(rep.status)
	flusher := w.(http.Flusher)
	flusher.Flush()
	if rep.firstDelay > 0 {
		select {
		case <-time.After(rep.firstDelay):
		case <-r.Context().Done():
			return
		}
	}
	if rep.chunkSize > 0 {
		for b := rep.body; len(b) > 0; {
			n := min(rep.chunkSize, len(b))
			if !s.write(w, ex, b[:n]) {
				return
			}
			flusher.Flush()
			b = b[n:]
		}
		ex.wroteAll = true
		return
	}
	if !rep.events {
		s.write(w, ex, rep.body)
		ex.wroteAll = true
		return
	}
	evs := splitEvents(rep.body)
	for i, ev := range evs {
		if rep.hangAfter > 0 && i == rep.hangAfter {
			<-r.Context().Done()
			return
		}
		if !s.write(w, ex, ev) {
			return
		}
		flusher.Flush()
	}
	ex.wroteAll = true
}

func (s *fakeServer) write(w io.Writer, ex *exchange, p []byte) bool {
	n, err := w.Write(p)
	s.mu.Lock()
	ex.wrote.Write(p[:n])
	s.mu.Unlock()
	return err == nil
}

// splitEvents cuts a stream fixture after each blank line (server-sent
// events) or, for a JSON array stream, after each line that is just ",".
func splitEvents(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		i := bytes.Index(b, []byte("\n\n"))
		j := bytes.Index(b, []byte("\n,\n"))
		switch {
		case j >= 0 && (i < 0 || j < i):
			out = append(out, b[:j+3])
			b = b[j+3:]
		case i >= 0:
			out = append(out, b[:i+2])
			b = b[i+2:]
		default:
			out = append(out, b)
			b = nil
		}
	}
	return out
}

// exchanges returns the exchanges so far.
func (s *fakeServer) exchanges() []*exchange {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*exchange(nil), s.all...)
}

// wirePackage is the import path of the tee, named to fluxloopllm as a
// library, so that the recorded position is the test's call into the SDK.
const wirePackage = "github.com/fluxloop/fluxloop-go/internal/llmtest/wire."

// rig is a fake server and the HTTP client an SDK under test uses: SDK →
// tee → fluxloopllm → a plain transport → server.
type rig struct {
	*fakeServer
	tee    *wire.Tee
	client *http.Client
	rec    *fluxlooptest.Recorder
}

func newRig(t testing.TB, route func(r *http.Request, body []byte) reply, opts ...fluxloopllm.Option) *rig {
	return newRigFor(t, route, func(string) []fluxloopllm.Option { return opts })
}

// newRigFor is newRig with transport options that depend on the server's
// host:port.
func newRigFor(t testing.TB, route func(r *http.Request, body []byte) reply, opts func(hostport string) []fluxloopllm.Option) *rig {
	srv := newFakeServer(t, route)
	base := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(base.CloseIdleConnections)
	o := append([]fluxloopllm.Option{fluxloopllm.WithLibraryPackages(wirePackage)}, opts(strings.TrimPrefix(srv.URL, "http://"))...)
	tt := &wire.Tee{Next: fluxloopllm.NewTransport(base, o...)}
	return &rig{
		fakeServer: srv,
		tee:        tt,
		client:     &http.Client{Transport: tt},
		rec:        fluxlooptest.NewParallel(t),
	}
}

// agent starts the agent observation the SDK calls run under.
func (r *rig) agent() (context.Context, *fluxloop.Span) {
	ctx, span := fluxloop.Start(r.rec.Context(), "agent", fluxloop.WithType(fluxloop.TypeAgent))
	if span == nil {
		panic("fluxlooptest recorder returned an unsampled span")
	}
	return ctx, span
}

// byteCheck says how the bytes the SDK read must relate to those the
// server wrote.
type byteCheck int

const (
	// whole: the SDK read everything the server wrote (up to trailing
	// separators it had no reason to read after a terminal event).
	whole byteCheck = iota
	// prefix: the SDK stopped early; what it read is a prefix of what the
	// server wrote.
	prefix
)

// checkBytes checks every call the tee saw: the server received the exact
// request body the SDK sent, and the SDK read exactly the bytes the server
// wrote (see byteCheck).
func (r *rig) checkBytes(t testing.TB, how byteCheck) {
	t.Helper()
	calls := r.tee.Calls()
	if len(calls) == 0 {
		t.Fatalf("the SDK made no HTTP call")
	}
	for _, c := range calls {
		st := c.State()
		if st.Err != nil {
			if how == whole {
				t.Errorf("call %s %s %s: transport error %v", c.ID, c.Method, c.URL, st.Err)
			}
			continue
		}
		r.mu.Lock()
		ex := r.byCall[c.ID]
		r.mu.Unlock()
		if ex == nil {
			t.Errorf("call %s %s %s never reached the server", c.ID, c.Method, c.URL)
			continue
		}
		select {
		case <-ex.done:
		case <-time.After(5 * time.Second):
			t.Errorf("call %s: server handler still running 5s after the SDK call", c.ID)
			continue
		}
		if !bytes.Equal(c.ReqBody, ex.reqBody) {
			t.Errorf("call %s: request body changed on the way:\nSDK sent  %q\nserver got %q", c.ID, c.ReqBody, ex.reqBody)
		}
		read, eof := st.Read, st.EOF
		r.mu.Lock()
		wrote := append([]byte(nil), ex.wrote.Bytes()...)
		r.mu.Unlock()
		if !bytes.HasPrefix(wrote, read) {
			t.Errorf("call %s: the SDK read bytes the server did not write:\nserver wrote %q\nSDK read     %q", c.ID, wrote, read)
			continue
		}
		if how == whole {
			rest := wrote[len(read):]
			if eof && len(rest) > 0 || len(bytes.TrimSpace(rest)) > 0 {
				t.Errorf("call %s: the SDK read %d of the %d bytes the server wrote (eof %v); unread: %q", c.ID, len(read), len(wrote), eof, rest)
			}
			if !ex.wroteAll {
				t.Errorf("call %s: the server did not finish writing", c.ID)
			}
		}
	}
}

// gens returns the generation observations under parent, by start time.
func gens(r *rig, parentID string) []fluxloop.Observation {
	var out []fluxloop.Observation
	for _, o := range r.rec.Children(parentID) {
		if o.Type == fluxloop.TypeGeneration {
			out = append(out, o)
		}
	}
	return out
}

// oneGen ends agent and returns its only child, a generation, failing the
// test when anything else was recorded.
func oneGen(t testing.TB, r *rig, agent *fluxloop.Span) fluxloop.Observation {
	t.Helper()
	agent.End()
	a := r.rec.MustGet("agent")
	kids := r.rec.Children(a.ID)
	if len(kids) != 1 || kids[0].Type != fluxloop.TypeGeneration {
		t.Fatalf("want one generation under the agent, got:\n%s", r.rec.Tree())
	}
	if len(r.rec.Observations()) != 2 {
		t.Fatalf("want the agent and its generation only, got:\n%s", r.rec.Tree())
	}
	return kids[0]
}

// noGen ends agent and checks that nothing but it was recorded.
func noGen(t testing.TB, r *rig, agent *fluxloop.Span) {
	t.Helper()
	agent.End()
	r.rec.MustGet("agent")
	if n := len(r.rec.Observations()); n != 1 {
		t.Fatalf("unrecognised traffic was recorded:\n%s", r.rec.Tree())
	}
}

// positive matches a number > 0.
type positive struct{}

// want is what a test expects of a generation observation.
type want struct {
	name               string
	models             []string // Model is one of these
	prompt, completion int
	total              int
	meta               map[string]any // values compared after a JSON round trip; positive{} matches any number > 0
	absent             []string       // metadata keys that must not be there
	input              []string       // substrings of the input JSON
	output             []string       // substrings of the output JSON
	err                string         // substring of the error; "" for none
	anyErr             bool           // do not check the error
	file               string         // base name of code.filepath; "" for the file calling checkGen, "-" not checked
	stream             bool           // time_to_first_chunk must be there
	firstChunkAtLeast  time.Duration
}

func checkGen(t testing.TB, o fluxloop.Observation, w want) {
	t.Helper()
	if o.Type != fluxloop.TypeGeneration {
		t.Errorf("%s: type %q, want generation", o.Name, o.Type)
	}
	if o.Name != w.name {
		t.Errorf("name %q, want %q", o.Name, w.name)
	}
	if len(w.models) > 0 && !contains(w.models, o.Model) {
		t.Errorf("%s: model %q, want one of %q", o.Name, o.Model, w.models)
	}
	if o.PromptTokens != w.prompt || o.CompletionTokens != w.completion || o.TotalTokens != w.total {
		t.Errorf("%s: tokens prompt/completion/total %d/%d/%d, want %d/%d/%d", o.Name,
			o.PromptTokens, o.CompletionTokens, o.TotalTokens, w.prompt, w.completion, w.total)
	}
	meta := normalise(t, o.Metadata)
	for k, v := range w.meta {
		got, ok := meta[k]
		switch v.(type) {
		case positive:
			if f, isNum := got.(float64); !ok || !isNum || f <= 0 {
				t.Errorf("%s: metadata %s = %v, want a number > 0", o.Name, k, got)
			}
			continue
		}
		wantV := normaliseValue(t, v)
		if !ok {
			t.Errorf("%s: metadata %s missing, want %v (metadata %v)", o.Name, k, wantV, meta)
		} else if fmt.Sprint(got) != fmt.Sprint(wantV) {
			t.Errorf("%s: metadata %s = %v, want %v", o.Name, k, got, wantV)
		}
	}
	for _, k := range w.absent {
		if v, ok := meta[k]; ok {
			t.Errorf("%s: metadata %s = %v, want absent", o.Name, k, v)
		}
	}
	if w.stream {
		ttfc, ok := meta["gen_ai.response.time_to_first_chunk"].(float64)
		dur := o.EndTime.Sub(o.StartTime).Seconds()
		if !ok || ttfc <= 0 || ttfc > dur {
			t.Errorf("%s: gen_ai.response.time_to_first_chunk = %v, want a number of seconds in (0, %v]", o.Name, meta["gen_ai.response.time_to_first_chunk"], dur)
		} else if ttfc < w.firstChunkAtLeast.Seconds() {
			t.Errorf("%s: gen_ai.response.time_to_first_chunk = %v, want at least %v (the server held the first byte back)", o.Name, ttfc, w.firstChunkAtLeast.Seconds())
		}
	} else if v, ok := meta["gen_ai.response.time_to_first_chunk"]; ok {
		t.Errorf("%s: gen_ai.response.time_to_first_chunk = %v on a call that did not stream", o.Name, v)
	}
	for _, s := range w.input {
		if !strings.Contains(string(o.Input), s) {
			t.Errorf("%s: input does not contain %q:\n%s", o.Name, s, o.Input)
		}
	}
	for _, s := range w.output {
		if !strings.Contains(string(o.Output), s) {
			t.Errorf("%s: output does not contain %q:\n%s", o.Name, s, o.Output)
		}
	}
	if w.anyErr {
		if o.Error != "" {
			t.Logf("%s: error %q", o.Name, o.Error)
		}
	} else if w.err == "" && o.Error != "" {
		t.Errorf("%s: error %q, want none", o.Name, o.Error)
	}
	if w.err != "" && !strings.Contains(o.Error, w.err) {
		t.Errorf("%s: error %q, want one containing %q", o.Name, o.Error, w.err)
	}
	if w.err != "" && o.Level != fluxloop.LevelError {
		t.Errorf("%s: level %q, want error", o.Name, o.Level)
	}
	file := w.file
	if file == "" {
		_, f, _, _ := runtime.Caller(1)
		file = filepath.Base(f)
	}
	if file == "-" {
		// not checked
	} else if fp, _ := meta["code.filepath"].(string); filepath.Base(fp) != file {
		t.Errorf("%s: code.filepath %q, want the test's call into the SDK in %s", o.Name, fp, file)
	} else if line, _ := meta["code.lineno"].(float64); line <= 0 {
		t.Errorf("%s: code.lineno %v", o.Name, meta["code.lineno"])
	}
	if o.EndTime.Before(o.StartTime) || o.EndTime.IsZero() {
		t.Errorf("%s: bad times %v .. %v", o.Name, o.StartTime, o.EndTime)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// normalise gives metadata the shape encoding/json decodes, whatever types
// fluxloop stored.
func normalise(t testing.TB, m map[string]any) map[string]any {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatalf("metadata does not marshal: %v", err)
	}
	out := map[string]any{}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func normaliseValue(t testing.TB, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// serverAddress is the server.address an observation of a call to srv
// carries.
func serverAddress(srv *httptest.Server) string {
	host := strings.TrimPrefix(srv.URL, "http://")
	h, _, _ := strings.Cut(host, ":")
	return h
}

// waitFor polls cond for up to 5 seconds.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// route answers every request matching method and path with rep.
type route struct {
	method, path string // path may end in "*" to match a prefix
	rep          reply
}

// routes builds a route function from a table; unmatched requests get 404.
func routes(t testing.TB, table ...route) func(*http.Request, []byte) reply {
	return func(r *http.Request, _ []byte) reply {
		for _, rt := range table {
			if rt.method != r.Method {
				continue
			}
			if p, ok := strings.CutSuffix(rt.path, "*"); ok && strings.HasPrefix(r.URL.Path, p) || rt.path == r.URL.Path {
				return rt.rep
			}
		}
		t.Errorf("fake server: unexpected %s %s", r.Method, r.URL.Path)
		return reply{status: http.StatusNotFound, body: []byte(`{"error":{"message":"not found"}}`)}
	}
}

// sse is a reply streaming the fixture as server-sent events.
func sse(t testing.TB, name string) reply {
	return reply{contentType: "text/event-stream", body: fixture(t, name), events: true}
}

// jsonReply is a reply with the fixture as a JSON body.
func jsonReply(t testing.TB, status int, name string) reply {
	return reply{status: status, body: fixture(t, name)}
}

// checkConcurrent checks n generations under the agent, each pairing the
// "call-N" of its input with the "answer to call-N" of its output; call N
// was streamed when isStream(N). streamFile, when not "", is the want.file
// of the streamed calls.
func checkConcurrent(t *testing.T, r *rig, name string, n int, isStream func(int) bool, streamFile string) {
	t.Helper()
	_, file, _, _ := runtime.Caller(1)
	a := r.rec.MustGet("agent")
	gs := gens(r, a.ID)
	if len(gs) != n || len(r.rec.Observations()) != n+1 {
		t.Fatalf("want %d generations under the agent, got %d of %d observations", n, len(gs), len(r.rec.Observations()))
	}
	seen := map[int]bool{}
	for _, g := range gs {
		m := callN.FindStringSubmatch(string(g.Input))
		if m == nil {
			t.Errorf("%s: input without call-N: %s", g.Name, g.Input)
			continue
		}
		i, _ := strconv.Atoi(m[1])
		if seen[i] {
			t.Errorf("call-%d recorded twice", i)
		}
		seen[i] = true
		w := want{
			name:   name,
			prompt: 11, completion: 5, total: 16,
			output: []string{"answer to call-" + m[1] + `"`},
			stream: isStream(i),
			file:   filepath.Base(file),
		}
		if w.stream && streamFile != "" {
			w.file = streamFile
		}
		checkGen(t, g, w)
	}
}

// toolCallArgs finds, anywhere in the output JSON, an object naming each
// tool (a "name" member) and checks its arguments ("arguments", "args" or
// "input", a JSON string or a JSON value) against want, as JSON values.
func toolCallArgs(t testing.TB, output []byte, want map[string]string) {
	t.Helper()
	var v any
	if err := json.Unmarshal(output, &v); err != nil {
		t.Errorf("output is not JSON: %v\n%s", err, output)
		return
	}
	found := map[string]any{}
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if name, ok := v["name"].(string); ok {
				for _, k := range []string{"arguments", "args", "input"} {
					if a, ok := v[k]; ok {
						if _, dup := found[name]; !dup {
							found[name] = a
						}
					}
				}
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(v)
	for name, args := range want {
		got, ok := found[name]
		if !ok {
			t.Errorf("output has no tool call %s with arguments:\n%s", name, output)
			continue
		}
		if s, isStr := got.(string); isStr {
			var parsed any
			if err := json.Unmarshal([]byte(s), &parsed); err != nil {
				t.Errorf("tool call %s: arguments %q are not the JSON the stream carried", name, s)
				continue
			}
			got = parsed
		}
		var w any
		if err := json.Unmarshal([]byte(args), &w); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(w) {
			t.Errorf("tool call %s: arguments %v, want %v", name, got, w)
		}
	}
}
