package fluxloophttp_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"github.com/fluxloop/fluxloop-go/runtime/fluxloophttp"
	"github.com/fluxloop/fluxloop-go/runtime/fluxlooptest"
)

var (
	siteEndpoint = fluxloop.Site{Name: "Endpoint", Type: fluxloop.TypeAgent}
	siteStep     = fluxloop.Site{Name: "step", Type: fluxloop.TypeSpan, Params: []string{"prompt"}}
)

// step is a traced step, as fluxloopgen writes it.
func step(ctx context.Context, prompt string) (__fluxloopR0 string) {
	ctx, __fluxloopSpan := fluxloop.Enter(ctx, &siteStep)
	if __fluxloopSpan != nil {
		__fluxloopSpan.Inputs(fluxloop.V(prompt))
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			__fluxloopSpan.Return(nil, fluxloop.V(__fluxloopR0))
		}()
	}
	return "Processed: " + prompt
}

// body is what Endpoint does; tests swap it (never while requests run).
var body = func(w http.ResponseWriter, r *http.Request) {
	fmt.Fprint(w, step(r.Context(), r.URL.Query().Get("prompt")))
}

// Endpoint is a handler marked //fluxloop:agent as fluxloopgen writes it.
func Endpoint(w http.ResponseWriter, r *http.Request) {
	w, r, __fluxloopSpan := fluxloophttp.Enter(w, r, &siteEndpoint) // the line TestPosition expects
	if __fluxloopSpan != nil {
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			fluxloophttp.Return(__fluxloopSpan, w)
		}()
	}
	body(w, r)
}

// withBody runs f as Endpoint's body for one test.
func withBody(t *testing.T, f func(w http.ResponseWriter, r *http.Request)) {
	saved := body
	body = f
	t.Cleanup(func() { body = saved })
}

type input struct {
	Method, Path, Query string
}

func inputOf(t *testing.T, o fluxloop.Observation) input {
	t.Helper()
	var in input
	if err := json.Unmarshal(o.Input, &in); err != nil {
		t.Fatalf("input %s: %v", o.Input, err)
	}
	return in
}

func TestRecordsRequest(t *testing.T) {
	rec := fluxlooptest.New(t)
	req := httptest.NewRequest("POST", "/agent?prompt=hi&lang=en", strings.NewReader("the body hunter2"))
	req.Header.Set("Authorization", "Bearer hunter2")
	req.Header.Set("Cookie", "session=hunter2")
	w := httptest.NewRecorder()
	Endpoint(w, req)
	if w.Body.String() != "Processed: hi" {
		t.Fatalf("response %q", w.Body)
	}
	ep := rec.MustGet("Endpoint")
	if ep.Type != fluxloop.TypeAgent || ep.ParentObservationID != "" {
		t.Errorf("Endpoint is %s with parent %q, want a root agent", ep.Type, ep.ParentObservationID)
	}
	if got, want := string(ep.Input), `{"method":"POST","path":"/agent","query":"prompt=hi&lang=en"}`; got != want {
		t.Errorf("input %s, want %s", got, want)
	}
	if string(ep.Output) != "200" || ep.Level != fluxloop.LevelInfo {
		t.Errorf("output %s level %s, want 200 info", ep.Output, ep.Level)
	}
	st := rec.MustGet("step")
	if st.ParentObservationID != ep.ID || st.TraceID != ep.TraceID {
		t.Errorf("step is not Endpoint's child:\n%s", rec.Tree())
	}
	all, _ := json.Marshal(rec.Observations())
	traces, _ := json.Marshal(rec.Traces())
	if strings.Contains(string(all)+string(traces), "hunter2") {
		t.Errorf("a header or the body was recorded:\n%s", all)
	}
}

func TestPosition(t *testing.T) {
	rec := fluxlooptest.New(t)
	Endpoint(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	ep := rec.MustGet("Endpoint")
	file, _ := ep.Metadata["code.filepath"].(string)
	if !strings.HasSuffix(file, "fluxloophttp/http_test.go") {
		t.Errorf("code.filepath %q, want this file", file)
	}
	src, err := readLines("http_test.go")
	if err != nil {
		t.Fatal(err)
	}
	line := fmt.Sprint(ep.Metadata["code.lineno"])
	n, _ := strconv.Atoi(line)
	if n < 1 || n > len(src) || !strings.Contains(src[n-1], "the line TestPosition expects") {
		t.Errorf("code.lineno %s is not Endpoint's Enter call", line)
	}
}

func readLines(name string) ([]string, error) {
	b, err := os.ReadFile(name)
	return strings.Split(string(b), "\n"), err
}

func TestStatus(t *testing.T) {
	cases := []struct {
		name   string
		body   func(w http.ResponseWriter, r *http.Request)
		status string
		isErr  bool
	}{
		{"nothing written", func(http.ResponseWriter, *http.Request) {}, "200", false},
		{"body only", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "x") }, "200", false},
		{"teapot", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(418); w.WriteHeader(500) }, "418", false},
		{"informational first", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(103); w.WriteHeader(201) }, "201", false},
		{"flush first", func(w http.ResponseWriter, _ *http.Request) { w.(http.Flusher).Flush(); w.WriteHeader(404) }, "200", false},
		{"http.Error 500", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "boom", 500) }, "500", true},
		{"503", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(503) }, "503", true},
		{"wrapped by middleware", func(w http.ResponseWriter, _ *http.Request) {
			mw := &middleware{ResponseWriter: w}
			mw.WriteHeader(502)
		}, "502", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := fluxlooptest.New(t)
			withBody(t, c.body)
			srv := httptest.NewServer(http.HandlerFunc(Endpoint))
			defer srv.Close()
			resp, err := http.Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			ep := rec.MustGet("Endpoint")
			if string(ep.Output) != c.status {
				t.Errorf("output %s, want %s (the client saw %d)", ep.Output, c.status, resp.StatusCode)
			}
			if c.isErr {
				want := "HTTP " + c.status
				if ep.Level != fluxloop.LevelError || ep.StatusMessage != want || !strings.HasPrefix(ep.Error, want+" ") {
					t.Errorf("level %s status_message %q error %q, want an error %q", ep.Level, ep.StatusMessage, ep.Error, want)
				}
				if ep.Metadata["error_type"] != "*fluxloophttp.StatusError" {
					t.Errorf("error_type %v", ep.Metadata["error_type"])
				}
				tr := rec.Traces()
				if len(tr) != 1 || tr[0].Error == "" {
					t.Errorf("trace %+v lacks the error", tr)
				}
			} else if ep.Level != fluxloop.LevelInfo || ep.StatusMessage != "" {
				t.Errorf("level %s status_message %q, want info", ep.Level, ep.StatusMessage)
			}
		})
	}
}

// middleware wraps a ResponseWriter the way logging middleware does, with an
// Unwrap method.
type middleware struct{ http.ResponseWriter }

func (m *middleware) Unwrap() http.ResponseWriter { return m.ResponseWriter }

func TestStatusThroughReplacedWriter(t *testing.T) {
	// A handler that replaces w: Return finds the recorder through Unwrap.
	rec := fluxlooptest.New(t)
	site := &fluxloop.Site{Name: "replaced", Type: fluxloop.TypeAgent}
	w, _, span := fluxloophttp.Enter(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), site)
	mw := &middleware{ResponseWriter: w}
	mw.WriteHeader(http.StatusAccepted)
	fluxloophttp.Return(span, mw)
	if o := rec.MustGet("replaced"); string(o.Output) != "202" {
		t.Errorf("output %s, want 202", o.Output)
	}
}

func TestPanic(t *testing.T) {
	rec := fluxlooptest.New(t)
	withBody(t, func(w http.ResponseWriter, r *http.Request) {
		step(r.Context(), "x")
		panic("handler broke")
	})
	func() {
		defer func() {
			if r := recover(); r != "handler broke" {
				t.Errorf("recovered %v, want the handler's panic", r)
			}
		}()
		Endpoint(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	}()
	ep := rec.MustGet("Endpoint")
	if ep.StatusMessage != "panic" || ep.Error != "handler broke" || ep.Level != fluxloop.LevelError {
		t.Errorf("panic recorded as %q %q %s", ep.StatusMessage, ep.Error, ep.Level)
	}
}

func TestTraceparent(t *testing.T) {
	const (
		traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
		parent  = "00f067aa0ba902b7"
	)
	t.Run("sampled", func(t *testing.T) {
		rec := fluxlooptest.New(t)
		req := httptest.NewRequest("GET", "/?prompt=a", nil)
		req.Header.Set("traceparent", "00-"+traceID+"-"+parent+"-01")
		Endpoint(httptest.NewRecorder(), req)
		ep := rec.MustGet("Endpoint")
		if ep.TraceID != traceID || ep.ParentObservationID != parent {
			t.Errorf("trace %s parent %s, want the traceparent's", ep.TraceID, ep.ParentObservationID)
		}
		if st := rec.MustGet("step"); st.TraceID != traceID || st.ParentObservationID != ep.ID {
			t.Errorf("step not under Endpoint:\n%s", rec.Tree())
		}
		if tr := rec.Traces(); len(tr) != 1 || tr[0].ID != traceID {
			t.Errorf("traces %+v, want one with the caller's id", tr)
		}
	})
	t.Run("unsampled", func(t *testing.T) {
		rec := fluxlooptest.New(t)
		req := httptest.NewRequest("GET", "/?prompt=a", nil)
		req.Header.Set("traceparent", "00-"+traceID+"-"+parent+"-00")
		var inner *fluxloop.Span
		withBody(t, func(w http.ResponseWriter, r *http.Request) {
			inner = fluxloop.SpanFromContext(r.Context())
			body := step(r.Context(), "a")
			io.WriteString(w, body)
		})
		w := httptest.NewRecorder()
		Endpoint(w, req)
		if w.Body.String() != "Processed: a" {
			t.Errorf("response %q", w.Body)
		}
		if inner == nil || inner.Recording() {
			t.Errorf("the request's context carries %v, want the unsampled root", inner)
		}
		if obs := rec.Observations(); len(obs) != 0 {
			t.Errorf("an unsampled request recorded:\n%s", rec.Tree())
		}
	})
	for _, bad := range []string{"garbage", "00-" + traceID + "-0000000000000000-01", "ff-" + traceID + "-" + parent + "-01"} {
		t.Run("invalid "+bad, func(t *testing.T) {
			rec := fluxlooptest.New(t)
			req := httptest.NewRequest("GET", "/", nil)
			req.Header.Set("traceparent", bad)
			Endpoint(httptest.NewRecorder(), req)
			ep := rec.MustGet("Endpoint")
			if ep.TraceID == traceID || ep.ParentObservationID != "" {
				t.Errorf("invalid traceparent %q was followed", bad)
			}
		})
	}
	t.Run("local parent wins", func(t *testing.T) {
		rec := fluxlooptest.New(t)
		ctx, outer := fluxloop.Start(context.Background(), "outer")
		req := httptest.NewRequestWithContext(ctx, "GET", "/", nil)
		req.Header.Set("traceparent", "00-"+traceID+"-"+parent+"-01")
		Endpoint(httptest.NewRecorder(), req)
		outer.End()
		ep := rec.MustGet("Endpoint")
		if ep.ParentObservationID != outer.ID() || ep.TraceID != outer.TraceID() {
			t.Errorf("Endpoint is not a child of the request context's observation:\n%s", rec.Tree())
		}
	})
}

func TestRedactQuery(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", ""},
		{"prompt=hi", "prompt=hi"},
		{"prompt=hi&maxTokens=5", "prompt=hi&maxTokens=5"},
		{"token=abc", "token=***"},
		{"a=1&api_key=k&b=2", "a=1&api_key=***&b=2"},
		{"apiKey=k;password=p&x", "apiKey=***;password=***&x"},
		{"api%5Fkey=k&access+token=t", "api%5Fkey=***&access+token=***"},
		{"client_secret=s&client_secret=t", "client_secret=***&client_secret=***"},
		{"token", "token"},
		{"token=", "token=***"},
		{"&&token=x&&", "&&token=***&&"},
		{"X-Api-Key=k", "X-Api-Key=***"},
		{"%zz=1&auth=2", "%zz=1&auth=***"},
	}
	for _, c := range cases {
		if got := fluxloophttp.RedactQuery(c.in); got != c.want {
			t.Errorf("RedactQuery(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { fluxloophttp.RedactQuery("prompt=hi&lang=en&n=3") }); n != 0 {
		t.Errorf("RedactQuery of a clean query allocates %v times", n)
	}
}

func TestQueryCredentialsNotRecorded(t *testing.T) {
	rec := fluxlooptest.New(t)
	srv := httptest.NewServer(http.HandlerFunc(Endpoint))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/agent?prompt=p&token=hunter2&access_token=hunter2&password=hunter2")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ep := rec.MustGet("Endpoint")
	if got := inputOf(t, ep).Query; got != "prompt=p&token=***&access_token=***&password=***" {
		t.Errorf("query %q", got)
	}
	all, _ := json.Marshal(rec.Observations())
	tr, _ := json.Marshal(rec.Traces())
	if strings.Contains(string(all)+string(tr), "hunter2") {
		t.Errorf("a credential was recorded: %s %s", all, tr)
	}
}

func TestDisabled(t *testing.T) {
	fluxlooptest.New(t, fluxloop.WithEnabled(false))
	w := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/?token=x", nil)
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	site := &fluxloop.Site{Name: "off"}
	w2, r2, span := fluxloophttp.Enter(w, req, site)
	if span != nil || w2 != w || r2 != req {
		t.Errorf("disabled Enter changed w or r or returned a span")
	}
	allocs := testing.AllocsPerRun(1000, func() {
		w2, r2, span := fluxloophttp.Enter(w, req, site)
		fluxloophttp.Return(span, w2)
		_ = r2
	})
	if allocs != 0 {
		t.Errorf("disabled Enter+Return allocates %v times", allocs)
	}
}

// TestConcurrentRequests serves 100 concurrent requests: each is its own
// trace with its own child, whatever goroutines net/http runs them on.
func TestConcurrentRequests(t *testing.T) {
	rec := fluxlooptest.New(t)
	srv := httptest.NewServer(http.HandlerFunc(Endpoint))
	defer srv.Close()
	const n = 100
	var wg sync.WaitGroup
	for i := range n {
		goWG(&wg, func() {
			resp, err := http.Get(fmt.Sprintf("%s/agent?prompt=p%d", srv.URL, i))
			if err != nil {
				t.Error(err)
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != fmt.Sprintf("Processed: p%d", i) {
				t.Errorf("response %q", b)
			}
		})
	}
	wg.Wait()
	eps := rec.All("Endpoint")
	if len(eps) != n {
		t.Fatalf("%d Endpoint observations, want %d", len(eps), n)
	}
	traces := map[string]bool{}
	prompts := map[string]bool{}
	for _, ep := range eps {
		traces[ep.TraceID] = true
		kids := rec.Children(ep.ID)
		if len(kids) != 1 || kids[0].Name != "step" || kids[0].TraceID != ep.TraceID {
			t.Fatalf("Endpoint %s has children %v", ep.ID, kids)
		}
		var in struct{ Prompt string }
		json.Unmarshal(kids[0].Input, &in)
		if q := inputOf(t, ep).Query; q != "prompt="+in.Prompt {
			t.Errorf("request %q has the child of %q", q, in.Prompt)
		}
		prompts[in.Prompt] = true
	}
	if len(traces) != n || len(prompts) != n {
		t.Errorf("%d traces and %d distinct prompts for %d requests", len(traces), len(prompts), n)
	}
	if got := len(rec.Traces()); got != n {
		t.Errorf("%d trace records, want %d", got, n)
	}
}

// TestRealWriters serves over HTTP/1.1 and HTTP/2: the wrapper offers what
// the server's writer offers, and http.ResponseController reaches the rest.
func TestRealWriters(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(map[bool]string{false: "HTTP/1.1", true: "HTTP/2"}[h2], func(t *testing.T) {
			rec := fluxlooptest.New(t)
			checked := make(chan string, 1)
			withBody(t, func(w http.ResponseWriter, r *http.Request) {
				under := w.(interface{ Unwrap() http.ResponseWriter }).Unwrap()
				msg := ""
				if capsOf(w) != capsOf(under) {
					msg += fmt.Sprintf("wrapper capabilities %04b, writer's %04b; ", capsOf(w), capsOf(under))
				}
				if _, ok := w.(http.Flusher); !ok {
					msg += "no Flusher; "
				}
				if _, ok := w.(http.Hijacker); ok == h2 {
					msg += fmt.Sprintf("Hijacker %v; ", ok)
				}
				if _, ok := w.(io.ReaderFrom); ok == h2 {
					msg += fmt.Sprintf("ReaderFrom %v; ", ok)
				}
				rc := http.NewResponseController(w)
				if err := rc.SetWriteDeadline(time.Now().Add(10 * time.Second)); err != nil {
					msg += "SetWriteDeadline: " + err.Error() + "; "
				}
				if err := rc.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
					msg += "SetReadDeadline: " + err.Error() + "; "
				}
				w.WriteHeader(http.StatusCreated)
				io.WriteString(w, "part1 ")
				if err := rc.Flush(); err != nil {
					msg += "Flush: " + err.Error() + "; "
				}
				io.Copy(w, strings.NewReader("part2")) // ReadFrom on HTTP/1.1
				checked <- msg
			})
			srv := httptest.NewUnstartedServer(http.HandlerFunc(Endpoint))
			srv.EnableHTTP2 = h2
			srv.StartTLS()
			defer srv.Close()
			resp, err := srv.Client().Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if msg := <-checked; msg != "" {
				t.Error(msg)
			}
			if string(b) != "part1 part2" || resp.StatusCode != 201 || resp.ProtoMajor != map[bool]int{false: 1, true: 2}[h2] {
				t.Errorf("response %s %d %q", resp.Proto, resp.StatusCode, b)
			}
			if ep := rec.MustGet("Endpoint"); string(ep.Output) != "201" {
				t.Errorf("output %s, want 201", ep.Output)
			}
		})
	}
}

func TestHijack(t *testing.T) {
	rec := fluxlooptest.New(t)
	withBody(t, func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		brw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhijacked")
		brw.Flush()
	})
	srv := httptest.NewServer(http.HandlerFunc(Endpoint))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(bufio.NewReader(resp.Body))
	resp.Body.Close()
	if string(b) != "hijacked" {
		t.Errorf("body %q", b)
	}
	// The client can finish reading before the handler returns and its
	// observation ends: wait for it (bounded).
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if _, ok := rec.ByName("Endpoint"); ok {
			break
		}
	}
	ep := rec.MustGet("Endpoint")
	if ep.Output != nil || ep.Metadata["http.hijacked"] != true {
		t.Errorf("hijacked request recorded output %s metadata %v", ep.Output, ep.Metadata)
	}
}

var siteMiddleware = fluxloop.Site{Name: "Middleware", Type: fluxloop.TypeChain}

// Middleware is a traced handler wrapping Endpoint, as fluxloopgen writes a
// marked ServeHTTP.
func Middleware(w http.ResponseWriter, r *http.Request) {
	w, r, __fluxloopSpan := fluxloophttp.Enter(w, r, &siteMiddleware)
	if __fluxloopSpan != nil {
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			fluxloophttp.Return(__fluxloopSpan, w)
		}()
	}
	w.Header().Set("X-Middleware", "1")
	Endpoint(w, r)
}

// TestNestedHandlers: a traced handler calling another records the inner
// one as its child, both with the status, and the wrapper of a wrapper
// still offers the server writer's interfaces.
func TestNestedHandlers(t *testing.T) {
	rec := fluxlooptest.New(t)
	withBody(t, func(w http.ResponseWriter, r *http.Request) {
		if _, ok := w.(http.Hijacker); !ok {
			t.Error("the inner wrapper lost http.Hijacker")
		}
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, step(r.Context(), "nested"))
	})
	srv := httptest.NewServer(http.HandlerFunc(Middleware))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/x?prompt=nested")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || resp.Header.Get("X-Middleware") != "1" {
		t.Errorf("response %d %v", resp.StatusCode, resp.Header)
	}
	mw, ep, st := rec.MustGet("Middleware"), rec.MustGet("Endpoint"), rec.MustGet("step")
	if mw.ParentObservationID != "" || ep.ParentObservationID != mw.ID || st.ParentObservationID != ep.ID {
		t.Errorf("tree:\n%s", rec.Tree())
	}
	if string(mw.Output) != "202" || string(ep.Output) != "202" {
		t.Errorf("outputs %s and %s, want 202", mw.Output, ep.Output)
	}
	if len(rec.Traces()) != 1 {
		t.Errorf("%d traces, want 1", len(rec.Traces()))
	}
}
