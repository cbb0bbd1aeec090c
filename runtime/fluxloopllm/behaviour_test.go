package fluxloopllm_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"github.com/fluxloop/fluxloop-go/runtime/fluxloopllm"
	"github.com/fluxloop/fluxloop-go/runtime/fluxlooptest"
)

func TestHTTPErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		url, fix        string
		status          int
		msg, errType    string
		provider, model string
	}{
		{"https://api.openai.com/v1/chat/completions", "openai_error_429.json", 429,
			"Rate limit reached for gpt-4o in organization org-abc on tokens per min (TPM): Limit 30000, Used 30000, Requested 702. Please try again in 1.404s.",
			"tokens", "openai", "gpt-4o"},
		{"https://api.anthropic.com/v1/messages", "anthropic_error_529.json", 529, "Overloaded", "overloaded_error", "anthropic", "claude-sonnet-4-5"},
		{"https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:generateContent?key=AIzaSyFAKE", "gemini_error_400.json", 400,
			"API key not valid. Please pass a valid API key.", "INVALID_ARGUMENT", "gcp.gemini", "gemini-2.0-flash"},
	}
	for _, c := range cases {
		_, g := run(t, c.url, `{"model":"`+c.model+`","messages":[]}`, jsonReply(t, c.status, c.fix))
		if g.Error != c.msg || g.Level != fluxloop.LevelError {
			t.Errorf("%s: error %q level %q, want %q", c.provider, g.Error, g.Level, c.msg)
		}
		if g.StatusMessage != fmt.Sprintf("HTTP %d", c.status) {
			t.Errorf("%s: status message %q", c.provider, g.StatusMessage)
		}
		wantMeta(t, g, map[string]any{
			"error.type":                c.errType,
			"error_type":                "*fluxloopllm.APIError",
			"http.response.status_code": c.status,
			"gen_ai.provider.name":      c.provider,
		})
		if g.Output != nil {
			t.Errorf("%s: output %s", c.provider, g.Output)
		}
	}
	// a body that is not JSON (a proxy's page)
	_, g := run(t, "https://api.openai.com/v1/chat/completions", `{"model":"m"}`, reply{status: 502, ctype: "text/html", body: []byte("<html>Bad Gateway</html>")})
	if g.Error != "<html>Bad Gateway</html>" || g.StatusMessage != "HTTP 502" {
		t.Errorf("502: error %q status %q", g.Error, g.StatusMessage)
	}
	wantMeta(t, g, map[string]any{"error.type": "502"})
}

func TestStreamErrorEvents(t *testing.T) {
	t.Parallel()
	cases := []struct {
		url, fix, msg, errType, content string
	}{
		{"https://api.openai.com/v1/chat/completions", "openai_chat_stream_error.sse", "The server had an error while processing your request. Sorry about that!", "server_error", "Part"},
		{"https://api.openai.com/v1/responses", "openai_responses_stream_error.sse", "The model produced invalid content.", "server_error", ""},
		{"https://api.anthropic.com/v1/messages", "anthropic_stream_error.sse", "Overloaded", "overloaded_error", "Hel"},
	}
	for _, c := range cases {
		_, g := run(t, c.url, `{"model":"m","stream":true}`, sse(t, c.fix))
		if g.Error != c.msg || g.Level != fluxloop.LevelError {
			t.Errorf("%s: error %q, want %q", c.fix, g.Error, c.msg)
		}
		wantMeta(t, g, map[string]any{"error.type": c.errType, "http.response.status_code": 200, "fluxloop.llm.stream_incomplete": nil})
		if c.content != "" {
			var out struct{ Content string }
			json.Unmarshal(g.Output, &out)
			if out.Content != c.content {
				t.Errorf("%s: the text that arrived before the error: %s", c.fix, g.Output)
			}
		}
	}
}

func TestGeminiBlockedPrompt(t *testing.T) {
	t.Parallel()
	_, g := run(t, "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:generateContent", geminiRequest, jsonReply(t, 200, "gemini_blocked.json"))
	if g.Error != "prompt blocked: SAFETY" || g.Level != fluxloop.LevelError {
		t.Errorf("error %q level %q", g.Error, g.Level)
	}
	wantUsage(t, g, "gemini-2.0-flash", 8, 0)
	wantMeta(t, g, map[string]any{"error.type": "SAFETY", "http.response.status_code": 200})
}

// slowStream serves the first events of a fixture, then waits until the
// client goes away (or release is closed), then sends the rest.
func slowStream(t *testing.T, name string, first int, release chan struct{}) func(*http.Request, []byte) reply {
	return func(r *http.Request, _ []byte) reply {
		rep := sse(t, name)
		parts := pieces(rep)
		return reply{ctype: rep.ctype, body: nil, piece: -1, status: 200, stream: func(w http.ResponseWriter) {
			fl := w.(http.Flusher)
			for _, p := range parts[:first] {
				w.Write(p)
				fl.Flush()
			}
			select {
			case <-r.Context().Done():
				return
			case <-release:
			}
			for _, p := range parts[first:] {
				w.Write(p)
				fl.Flush()
			}
		}}
	}
}

func TestStreamClosedEarly(t *testing.T) {
	t.Parallel()
	rec := fluxlooptest.NewParallel(t)
	release := make(chan struct{})
	defer close(release)
	p := newProvider(t, slowStream(t, "anthropic_tools_stream.sse", 6, release))
	client := &http.Client{Transport: fluxloopllm.NewTransport(p.base())}
	ctx, sp := fluxloop.Start(rec.Context(), "agent", fluxloop.WithType(fluxloop.TypeAgent))
	req, _ := http.NewRequestWithContext(ctx, "POST", "https://api.anthropic.com/v1/messages", strings.NewReader(`{"model":"claude-opus-4-1","stream":true}`))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	// read three text deltas, as a consumer that stops early would
	sc := bufio.NewScanner(resp.Body)
	deltas := 0
	for deltas < 3 && sc.Scan() {
		if strings.HasPrefix(sc.Text(), "data: ") && strings.Contains(sc.Text(), "text_delta") {
			deltas++
		}
	}
	resp.Body.Close()
	sp.End()
	_, g := only(t, rec)
	if g.Error != "" {
		t.Errorf("error %q: closing early is not an error", g.Error)
	}
	if g.StatusMessage != "stream closed before its end" {
		t.Errorf("status message %q", g.StatusMessage)
	}
	wantMeta(t, g, map[string]any{"fluxloop.llm.stream_incomplete": true, "gen_ai.response.id": "msg_014p7gG3wDgGV9EUtLvnow3U"})
	wantUsage(t, g, "claude-opus-4-1-20250805", 472, 2)
	var out struct{ Content string }
	json.Unmarshal(g.Output, &out)
	if !strings.HasPrefix(out.Content, "Okay") {
		t.Errorf("output %s: what arrived is recorded", g.Output)
	}
}

func TestStreamCancelled(t *testing.T) {
	t.Parallel()
	rec := fluxlooptest.NewParallel(t)
	release := make(chan struct{})
	defer close(release)
	p := newProvider(t, slowStream(t, "openai_chat_stream.sse", 3, release))
	client := &http.Client{Transport: fluxloopllm.NewTransport(p.base())}
	ctx, sp := fluxloop.Start(rec.Context(), "agent", fluxloop.WithType(fluxloop.TypeAgent))
	cctx, cancel := context.WithCancel(ctx)
	req, _ := http.NewRequestWithContext(cctx, "POST", "https://api.openai.com/v1/chat/completions", strings.NewReader(`{"model":"gpt-4o-mini","stream":true}`))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n := 0
	for n < len(pieces(sse(t, "openai_chat_stream.sse"))[0]) {
		m, err := resp.Body.Read(buf[n:])
		n += m
		if err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	_, err = io.ReadAll(resp.Body)
	if !errors.Is(err, context.Canceled) {
		t.Logf("read after cancel: %v", err)
	}
	resp.Body.Close()
	sp.End()
	_, g := only(t, rec)
	if g.Error != "context canceled" || g.Level != fluxloop.LevelError {
		t.Errorf("error %q", g.Error)
	}
	if g.StatusMessage != "stream cancelled" {
		t.Errorf("status message %q", g.StatusMessage)
	}
	wantMeta(t, g, map[string]any{"fluxloop.llm.stream_incomplete": true, "error.type": "cancelled"})
}

func TestRequestFails(t *testing.T) {
	t.Parallel()
	rec := fluxlooptest.NewParallel(t)
	base := roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, errors.New("dial tcp: connection refused") })
	client := &http.Client{Transport: fluxloopllm.NewTransport(base)}
	ctx, sp := fluxloop.Start(rec.Context(), "agent", fluxloop.WithType(fluxloop.TypeAgent))
	_, _, err := post(ctx, client, "https://api.openai.com/v1/chat/completions", `{"model":"gpt-4o"}`)
	sp.End()
	if err == nil {
		t.Fatal("no error")
	}
	_, g := only(t, rec)
	if g.Error != "dial tcp: connection refused" || g.StatusMessage != "request failed" {
		t.Errorf("error %q status %q", g.Error, g.StatusMessage)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Retries made by an SDK are one observation per attempt, linked.
func TestRetriesAreLinked(t *testing.T) {
	t.Parallel()
	for _, header := range []bool{true, false} {
		rec := fluxlooptest.NewParallel(t)
		var mu sync.Mutex
		attempts := 0
		p := newProvider(t, func(*http.Request, []byte) reply {
			mu.Lock()
			defer mu.Unlock()
			attempts++
			if attempts < 3 {
				return jsonReply(t, 500, "openai_error_429.json")
			}
			return jsonReply(t, 200, "openai_chat.json")
		})
		client := &http.Client{Transport: fluxloopllm.NewTransport(p.base())}
		ctx, sp := fluxloop.Start(rec.Context(), "agent", fluxloop.WithType(fluxloop.TypeAgent))
		for i := range 3 {
			var h []string
			if header {
				h = []string{"X-Stainless-Retry-Count", fmt.Sprint(i)}
			}
			post(ctx, client, "https://api.openai.com/v1/chat/completions", chatRequest, h...)
		}
		// another call under the same agent is a first attempt
		post(ctx, client, "https://api.openai.com/v1/chat/completions", `{"model":"gpt-4o","messages":[]}`)
		sp.End()
		gens := rec.All("chat gpt-4o-mini")
		if len(gens) != 3 {
			t.Fatalf("%d attempts recorded:\n%s", len(gens), rec.Tree())
		}
		for i, g := range gens {
			want := map[string]any{"fluxloop.llm.attempt": i + 1, "fluxloop.llm.previous_attempt_id": nil}
			if i > 0 {
				want["fluxloop.llm.previous_attempt_id"] = gens[i-1].ID
			}
			if i == 0 && !header {
				want["fluxloop.llm.attempt"] = nil // unknown without the SDK's header
			}
			wantMeta(t, g, want)
		}
		if gens[0].Level != fluxloop.LevelError || gens[2].Level != fluxloop.LevelInfo {
			t.Errorf("levels %s %s", gens[0].Level, gens[2].Level)
		}
		other := rec.MustGet("chat gpt-4o")
		wantMeta(t, other, map[string]any{"fluxloop.llm.previous_attempt_id": nil})
	}
}

// 100 calls from goroutines under one agent: each its own child, with its
// own reply, and each client gets its own bytes.
func TestConcurrentCalls(t *testing.T) {
	t.Parallel()
	rec := fluxlooptest.NewParallel(t)
	p := newProvider(t, func(r *http.Request, body []byte) reply {
		var req struct{ User string }
		json.Unmarshal(body, &req)
		var b bytes.Buffer
		for _, word := range []string{"reply", " to ", req.User} {
			fmt.Fprintf(&b, "data: {\"id\":\"c-%s\",\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"content\":%q}}]}\n\n", req.User, word)
		}
		fmt.Fprintf(&b, "data: {\"id\":\"c-%s\",\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n", req.User)
		fmt.Fprintf(&b, "data: {\"id\":\"c-%s\",\"model\":\"gpt-4o-mini\",\"choices\":[],\"usage\":{\"prompt_tokens\":%d,\"completion_tokens\":3}}\n\ndata: [DONE]\n\n", req.User, len(req.User))
		return reply{ctype: "text/event-stream", body: b.Bytes()}
	})
	client := &http.Client{Transport: fluxloopllm.NewTransport(p.base())}
	ctx, sp := fluxloop.Start(rec.Context(), "agent", fluxloop.WithType(fluxloop.TypeAgent))
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user := fmt.Sprintf("user-%03d", i)
			_, got, err := post(ctx, client, "https://api.openai.com/v1/chat/completions", `{"model":"gpt-4o-mini","stream":true,"user":"`+user+`"}`)
			if err != nil || !bytes.Contains(got, []byte(`"c-`+user+`"`)) || bytes.Contains(got, []byte("user-"+fmt.Sprint(i+1000))) {
				t.Errorf("call %d: %v %q", i, err, got)
			}
		}()
	}
	wg.Wait()
	sp.End()
	gens := rec.All("chat gpt-4o-mini")
	if len(gens) != 100 {
		t.Fatalf("%d generations", len(gens))
	}
	agent := rec.MustGet("agent")
	for _, g := range gens {
		if g.ParentObservationID != agent.ID {
			t.Fatalf("a generation is not the agent's child")
		}
		var in struct{ User string }
		var out struct{ Content string }
		json.Unmarshal(g.Input, &in)
		json.Unmarshal(g.Output, &out)
		if out.Content != "reply to "+in.User || g.PromptTokens != len(in.User) || meta(t, g)["gen_ai.response.id"] != "c-"+in.User {
			t.Errorf("input %s output %s tokens %d", g.Input, g.Output, g.PromptTokens)
		}
	}
}

func TestWithoutContent(t *testing.T) {
	t.Parallel()
	_, g := run(t, "https://api.openai.com/v1/chat/completions", `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"my secret plan"}]}`,
		sse(t, "openai_chat_stream.sse"), fluxloopllm.WithoutContent())
	if g.Input != nil || g.Output != nil {
		t.Errorf("input %s output %s", g.Input, g.Output)
	}
	wantUsage(t, g, "gpt-4o-mini-2024-07-18", 19, 10)
	wantMeta(t, g, map[string]any{"gen_ai.response.finish_reasons": []string{"stop"}, "gen_ai.request.model": "gpt-4o-mini"})
	if md := meta(t, g); md["gen_ai.response.time_to_first_chunk"] == nil || md["fluxloop.llm.time_to_first_content"] == nil {
		t.Errorf("timing missing: %v", md)
	}
	if b, _ := json.Marshal(g); bytes.Contains(b, []byte("secret plan")) || bytes.Contains(b, []byte("Hello")) {
		t.Errorf("content recorded: %s", b)
	}
}

func TestContentEnv(t *testing.T) {
	t.Setenv("FLUXLOOP_LLM_CONTENT", "false")
	_, g := run(t, "https://api.anthropic.com/v1/messages", anthropicRequest, jsonReply(t, 200, "anthropic.json"))
	if g.Input != nil || g.Output != nil {
		t.Errorf("input %s output %s", g.Input, g.Output)
	}
	wantUsage(t, g, "claude-sonnet-4-5-20250929", 3895, 503)
}

// Credentials in headers and the query string are never recorded.
func TestSecretsNotRecorded(t *testing.T) {
	t.Parallel()
	rec := fluxlooptest.NewParallel(t)
	p := newProvider(t, fixed(jsonReply(t, 200, "gemini.json")))
	client := &http.Client{Transport: fluxloopllm.NewTransport(p.base())}
	ctx, sp := fluxloop.Start(rec.Context(), "agent", fluxloop.WithType(fluxloop.TypeAgent))
	post(ctx, client, "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent?key=AIzaSECRET1", geminiRequest,
		"Authorization", "Bearer sk-SECRET2", "x-api-key", "sk-ant-SECRET3", "api-key", "SECRET4", "x-goog-api-key", "SECRET5")
	sp.End()
	_, g := only(t, rec)
	b, _ := json.Marshal(rec.Observations())
	for _, s := range []string{"SECRET", "AIza", "Bearer"} {
		if bytes.Contains(b, []byte(s)) {
			t.Errorf("%s recorded: %s", s, b)
		}
	}
	if g.Input == nil {
		t.Error("no input")
	}
	// the headers reached the server
	if h := p.requests()[0].header; h.Get("Authorization") != "Bearer sk-SECRET2" || p.requests()[0].query != "key=AIzaSECRET1" {
		t.Errorf("request changed: %v %s", h, p.requests()[0].query)
	}
}

// Requests that are not LLM calls pass through untouched and record nothing.
func TestPassThrough(t *testing.T) {
	t.Parallel()
	rec := fluxlooptest.NewParallel(t)
	p := newProvider(t, fixed(reply{ctype: "application/json", body: []byte(`{"data":[]}`)}))
	client := &http.Client{Transport: fluxloopllm.NewTransport(p.base())}
	ctx, sp := fluxloop.Start(rec.Context(), "agent", fluxloop.WithType(fluxloop.TypeAgent))
	for _, c := range []struct{ method, url, ctype string }{
		{"GET", "https://api.openai.com/v1/models", ""},
		{"GET", "https://api.openai.com/v1/chat/completions", ""},
		{"POST", "https://api.openai.com/v1/files", "application/json"},
		{"POST", "https://api.openai.com/v1/audio/transcriptions", "multipart/form-data; boundary=x"},
		{"POST", "https://example.com/search", "application/json"},
		{"DELETE", "https://api.openai.com/v1/responses/resp_1", ""},
	} {
		req, _ := http.NewRequestWithContext(ctx, c.method, c.url, strings.NewReader(`{"model":"x"}`))
		if c.ctype != "" {
			req.Header.Set("Content-Type", c.ctype)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != `{"data":[]}` {
			t.Errorf("%s %s: body %q", c.method, c.url, b)
		}
	}
	sp.End()
	if obs := rec.Observations(); len(obs) != 1 {
		t.Errorf("recorded:\n%s", rec.Tree())
	}
	for i, r := range p.requests() {
		if string(r.body) != `{"model":"x"}` {
			t.Errorf("request %d body %q", i, r.body)
		}
	}
}

// In an unsampled trace nothing is recorded and the request is untouched.
func TestUnsampled(t *testing.T) {
	t.Parallel()
	rec := fluxlooptest.NewParallel(t, fluxloop.WithSampleRate(0))
	p := newProvider(t, fixed(sse(t, "openai_chat_stream.sse")))
	client := &http.Client{Transport: fluxloopllm.NewTransport(p.base(), fluxloopllm.WithIncludeUsage())}
	ctx, sp := fluxloop.Start(rec.Context(), "agent", fluxloop.WithType(fluxloop.TypeAgent))
	body := `{"model":"gpt-4o","stream":true}`
	_, got, _ := post(ctx, client, "https://api.openai.com/v1/chat/completions", body)
	sp.End()
	if !bytes.Equal(got, fixture(t, "openai_chat_stream.sse")) {
		t.Error("body changed")
	}
	if obs := rec.Observations(); len(obs) != 0 {
		t.Errorf("recorded:\n%s", rec.Tree())
	}
	if string(p.requests()[0].body) != body {
		t.Errorf("request rewritten in an unsampled trace: %s", p.requests()[0].body)
	}
}

// With tracing disabled the transport does nothing.
func TestDisabled(t *testing.T) {
	// fluxlooptest.New leaves its client installed when there was no
	// default client before: remove it after the test (cleanups run last
	// registered first)
	t.Cleanup(func() { fluxloop.SetDefault(nil) })
	rec := fluxlooptest.New(t, fluxloop.WithEnabled(false))
	p := newProvider(t, fixed(jsonReply(t, 200, "openai_chat.json")))
	client := &http.Client{Transport: fluxloopllm.NewTransport(p.base())}
	_, got, _ := post(context.Background(), client, "https://api.openai.com/v1/chat/completions", `{"model":"gpt-4o"}`)
	if !bytes.Equal(got, fixture(t, "openai_chat.json")) {
		t.Error("body changed")
	}
	if obs := rec.Observations(); len(obs) != 0 {
		t.Errorf("recorded:\n%s", rec.Tree())
	}
}

// A call outside any observation is the root of its own trace.
func TestRootGeneration(t *testing.T) {
	t.Parallel()
	rec := fluxlooptest.NewParallel(t)
	p := newProvider(t, fixed(jsonReply(t, 200, "openai_chat.json")))
	client := &http.Client{Transport: fluxloopllm.NewTransport(p.base())}
	post(rec.Context(), client, "https://api.openai.com/v1/chat/completions", `{"model":"gpt-4o"}`)
	obs := rec.Observations()
	if len(obs) != 1 || obs[0].Type != fluxloop.TypeGeneration || obs[0].ParentObservationID != "" {
		t.Fatalf("recorded:\n%s", rec.Tree())
	}
	if tr := rec.Traces(); len(tr) != 1 || tr[0].Name != "chat gpt-4o" {
		t.Errorf("traces %v", tr)
	}
}

func TestIncludeUsage(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, sent string }{
		{`{"model":"gpt-4o","stream":true}`, `{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true}}`},
		{`{"model":"gpt-4o","stream":true,"stream_options":{}}`, `{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true}}`},
		{`{"model":"gpt-4o","stream":true,"stream_options":{"include_obfuscation":false}}`, `{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true,"include_obfuscation":false}}`},
		{`{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":false}}`, `{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true}}`},
		{`{"model":"gpt-4o","stream":true,"stream_options":null}`, `{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true}}`},
		// not streaming, or already asking: unchanged
		{`{"model":"gpt-4o"}`, `{"model":"gpt-4o"}`},
		{`{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true}}`, `{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true}}`},
	} {
		rec := fluxlooptest.NewParallel(t)
		p := newProvider(t, fixed(sse(t, "openai_chat_stream.sse")))
		client := &http.Client{Transport: fluxloopllm.NewTransport(p.base(), fluxloopllm.WithIncludeUsage())}
		ctx, sp := fluxloop.Start(rec.Context(), "agent", fluxloop.WithType(fluxloop.TypeAgent))
		post(ctx, client, "https://api.openai.com/v1/chat/completions", c.in)
		sp.End()
		r := p.requests()[0]
		if string(r.body) != c.sent {
			t.Errorf("%s: sent %s, want %s", c.in, r.body, c.sent)
		}
		if r.header.Get("Content-Length") != "" && r.header.Get("Content-Length") != fmt.Sprint(len(c.sent)) {
			t.Errorf("content-length %s", r.header.Get("Content-Length"))
		}
		_, g := only(t, rec)
		wantJSON(t, "input", g.Input, c.in) // what the program asked for
	}
}

func TestPrices(t *testing.T) {
	t.Parallel()
	prices := fluxloopllm.Prices{
		"gpt-4o-mini":       {Input: 0.15, CacheRead: 0.075, Output: 0.6},
		"gpt-4o":            {Input: 2.5, CacheRead: 1.25, Output: 10},
		"claude-sonnet-4-5": {Input: 3, CacheRead: 0.3, CacheWrite: 3.75, Output: 15},
		"gemini-2.5-flash":  {Input: 0.3, CacheRead: 0.03, Output: 2.5},
	}
	cost := func(g fluxloop.Observation) float64 { v, _ := meta(t, g)["fluxloop.llm.cost_usd"].(float64); return v }
	near := func(a, b float64) bool { return a-b < 1e-12 && b-a < 1e-12 }

	// OpenAI: cached tokens are part of prompt_tokens, billed at the cached rate
	_, g := run(t, "https://api.openai.com/v1/chat/completions", `{"model":"gpt-4o","stream":true}`, sse(t, "openai_chat_tools_stream.sse"), fluxloopllm.WithPrices(prices))
	if want := ((82-64)*2.5 + 64*1.25 + 49*10) / 1e6; !near(cost(g), want) {
		t.Errorf("openai cost %v, want %v", cost(g), want)
	}
	// Anthropic: input_tokens excludes the cache reads, billed apart
	_, g = run(t, "https://api.anthropic.com/v1/messages", anthropicRequest, jsonReply(t, 200, "anthropic.json"), fluxloopllm.WithPrices(prices))
	if want := (2095*3 + 1800*0.3 + 503*15) / 1e6; !near(cost(g), want) {
		t.Errorf("anthropic cost %v, want %v", cost(g), want)
	}
	// Anthropic cache writes
	_, g = run(t, "https://api.anthropic.com/v1/messages", `{"model":"claude-sonnet-4-5","stream":true}`, sse(t, "anthropic_thinking_stream.sse"), fluxloopllm.WithPrices(prices))
	if want := (12*3 + 2048*3.75 + 180*15) / 1e6; !near(cost(g), want) {
		t.Errorf("anthropic cache write cost %v, want %v", cost(g), want)
	}
	// Gemini: thinking tokens billed as output
	_, g = run(t, "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent", geminiRequest, jsonReply(t, 200, "gemini.json"), fluxloopllm.WithPrices(prices))
	if want := (8*0.3 + (11+1026)*2.5) / 1e6; !near(cost(g), want) {
		t.Errorf("gemini cost %v, want %v", cost(g), want)
	}
	// a model not in the table: no cost
	_, g = run(t, "https://api.openai.com/v1/responses", `{"model":"gpt-4.1"}`, jsonReply(t, 200, "openai_responses.json"), fluxloopllm.WithPrices(prices))
	wantMeta(t, g, map[string]any{"fluxloop.llm.cost_usd": nil})
}

func TestPricesFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "prices.json")
	os.WriteFile(path, []byte(`{"gpt-4.1": {"input": 2, "cache_read": 0.5, "output": 8}}`), 0o600)
	if p, err := fluxloopllm.LoadPrices(path); err != nil || p["gpt-4.1"].Output != 8 {
		t.Fatalf("LoadPrices: %v %v", p, err)
	}
	t.Setenv("FLUXLOOP_LLM_PRICES", path)
	// the dated model the response names is priced as gpt-4.1
	_, g := run(t, "https://api.openai.com/v1/responses", `{"model":"gpt-4.1"}`, jsonReply(t, 200, "openai_responses.json"))
	wantMeta(t, g, map[string]any{"fluxloop.llm.cost_usd": (36*2.0 + 87*8.0) / 1e6})
	if _, err := fluxloopllm.LoadPrices(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("no error for a missing file")
	}
}

// Reply text is kept up to the capture budget and the rest counted, however
// long the stream.
func TestLongStreamBounded(t *testing.T) {
	t.Parallel()
	const budget = 2000
	rec := fluxlooptest.NewParallel(t, fluxloop.WithMaxFieldBytes(budget))
	var b bytes.Buffer
	for i := range 20000 {
		fmt.Fprintf(&b, "data: {\"id\":\"c1\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"w%04d \"}}]}\n\n", i%10000)
	}
	b.WriteString("data: {\"id\":\"c1\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"length\"}]}\n\ndata: [DONE]\n\n")
	p := newProvider(t, fixed(reply{ctype: "text/event-stream", body: b.Bytes(), piece: 4096}))
	client := &http.Client{Transport: fluxloopllm.NewTransport(p.base())}
	ctx, sp := fluxloop.Start(rec.Context(), "agent", fluxloop.WithType(fluxloop.TypeAgent))
	_, got, _ := post(ctx, client, "https://api.openai.com/v1/chat/completions", `{"model":"m","stream":true}`)
	sp.End()
	if !bytes.Equal(got, b.Bytes()) {
		t.Fatal("bytes changed")
	}
	_, g := only(t, rec)
	var out struct{ Content, Finish_reason string }
	json.Unmarshal(g.Output, &out)
	if len(g.Output) > budget+200 || !strings.HasPrefix(out.Content, "w0000 w0001 ") || !strings.Contains(string(g.Output), "truncated") {
		t.Errorf("output (%d bytes): %.300s", len(g.Output), g.Output)
	}
	wantMeta(t, g, map[string]any{"gen_ai.response.finish_reasons": []string{"length"}, "fluxloop.llm.usage_missing": true})
}

// A request larger than the budget is recorded pruned, still as JSON.
func TestLargeRequest(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("lorem ipsum ", 20000) // 240 KB
	req := `{"messages":[{"role":"system","content":"` + long + `"},{"role":"user","content":"short question"}],"model":"gpt-4o","temperature":0.3}`
	_, g := run(t, "https://api.openai.com/v1/chat/completions", req, jsonReply(t, 200, "openai_chat.json"))
	if g.Name != "chat gpt-4o" {
		t.Errorf("name %q: the model after a huge member is still read", g.Name)
	}
	var in struct {
		Messages []struct{ Role, Content string }
		Model    string
	}
	if err := json.Unmarshal(g.Input, &in); err != nil {
		t.Fatalf("input is not JSON: %v %.200s", err, g.Input)
	}
	if len(in.Messages) != 2 || in.Messages[1].Content != "short question" || in.Model != "gpt-4o" || !strings.Contains(in.Messages[0].Content, "truncated") {
		t.Errorf("input %.300s", g.Input)
	}
	wantMeta(t, g, map[string]any{"gen_ai.request.temperature": 0.3})
}

// A request body without GetBody is read once and handed on whole.
func TestRequestWithoutGetBody(t *testing.T) {
	t.Parallel()
	rec := fluxlooptest.NewParallel(t)
	p := newProvider(t, fixed(jsonReply(t, 200, "openai_chat.json")))
	client := &http.Client{Transport: fluxloopllm.NewTransport(p.base())}
	ctx, sp := fluxloop.Start(rec.Context(), "agent", fluxloop.WithType(fluxloop.TypeAgent))
	body := `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`
	req, _ := http.NewRequestWithContext(ctx, "POST", "https://api.openai.com/v1/chat/completions", io.NopCloser(strings.NewReader(body)))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	sp.End()
	if got := string(p.requests()[0].body); got != body {
		t.Errorf("sent %q", got)
	}
	_, g := only(t, rec)
	wantJSON(t, "input", g.Input, body)
}

// Bodies the SDK stops reading once its JSON decoder has the value are
// recorded whole.
func TestBodyClosedAfterDecode(t *testing.T) {
	t.Parallel()
	rec := fluxlooptest.NewParallel(t)
	p := newProvider(t, fixed(jsonReply(t, 200, "openai_chat.json")))
	client := &http.Client{Transport: fluxloopllm.NewTransport(p.base())}
	ctx, sp := fluxloop.Start(rec.Context(), "agent", fluxloop.WithType(fluxloop.TypeAgent))
	req, _ := http.NewRequestWithContext(ctx, "POST", "https://api.openai.com/v1/chat/completions", strings.NewReader(`{"model":"gpt-4o"}`))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	json.NewDecoder(resp.Body).Decode(&v) // go-openai's way
	resp.Body.Close()
	sp.End()
	_, g := only(t, rec)
	wantUsage(t, g, "gpt-4.1-2025-04-14", 19, 10)
	wantMeta(t, g, map[string]any{"fluxloop.llm.response_incomplete": nil})
	if g.StatusMessage != "" {
		t.Errorf("status %q", g.StatusMessage)
	}
}

func TestNewClient(t *testing.T) {
	c := fluxloopllm.NewClient()
	if c.Transport == nil {
		t.Fatal("no transport")
	}
	if _, ok := c.Transport.(interface{ CloseIdleConnections() }); !ok {
		t.Error("CloseIdleConnections not forwarded")
	}
	_ = time.Second
}

// The input is captured with the limits of the client recording the call
// (here one bound to the test with a 512-byte budget), not the default
// client's.
func TestInputBudgetOfTheRecordingClient(t *testing.T) {
	t.Parallel()
	rec := fluxlooptest.NewParallel(t, fluxloop.WithMaxFieldBytes(512))
	p := newProvider(t, fixed(jsonReply(t, 200, "openai_chat.json")))
	client := &http.Client{Transport: fluxloopllm.NewTransport(p.base())}
	ctx, sp := fluxloop.Start(rec.Context(), "agent", fluxloop.WithType(fluxloop.TypeAgent))
	long := strings.Repeat("x", 4000)
	post(ctx, client, "https://api.openai.com/v1/chat/completions", `{"model":"gpt-4o","messages":[{"role":"user","content":"`+long+`"}]}`)
	sp.End()
	_, g := only(t, rec)
	var in struct {
		Model    string
		Messages json.RawMessage
	}
	if err := json.Unmarshal(g.Input, &in); err != nil || in.Model != "gpt-4o" || len(in.Messages) > 700 || !bytes.Contains(in.Messages, []byte("truncated")) {
		t.Errorf("input (%d bytes) %.300s: %v", len(g.Input), g.Input, err)
	}
	if md := meta(t, g); md["fluxloop.truncated"] != true {
		t.Errorf("fluxloop.truncated not set: %v", md)
	}
}

// A path that looks like an LLM API, with a body that names no model, is
// not an LLM call.
func TestNoModelNoObservation(t *testing.T) {
	t.Parallel()
	rec := fluxlooptest.NewParallel(t)
	p := newProvider(t, fixed(reply{ctype: "application/json", body: []byte(`{"ok":true}`)}))
	client := &http.Client{Transport: fluxloopllm.NewTransport(p.base())}
	ctx, sp := fluxloop.Start(rec.Context(), "agent", fluxloop.WithType(fluxloop.TypeAgent))
	_, got, _ := post(ctx, client, "https://surveys.example.com/api/forms/7/responses", `{"answers":[1,2]}`)
	sp.End()
	if string(got) != `{"ok":true}` || string(p.requests()[0].body) != `{"answers":[1,2]}` {
		t.Errorf("got %q sent %q", got, p.requests()[0].body)
	}
	if obs := rec.Observations(); len(obs) != 1 {
		t.Errorf("recorded:\n%s", rec.Tree())
	}
}

// Events of the same shape are read by their template; an event whose shape
// differs is read in full.
func TestStreamShapes(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	ev := func(s string) { b.WriteString("data: " + s + "\n\n") }
	ev(`{"id":"c","model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"A"}}]}`)
	ev(`{"id":"c","model":"m","choices":[{"index":0,"delta":{"content":"B"}}]}`)
	ev(`{"id":"c","model":"m","choices":[{"index":0,"delta":{"content":"C\"\u00e9"}}]}`)
	ev(`{"id":"c","model":"m","choices":[{"index":1,"delta":{"content":"x"}}]}`)
	ev(`{"id":"c","model":"m","choices":[{"index":0,"delta":{"content":"D"}}]}`)
	ev(`{"id":"c","model":"m","choices":[{"index":0,"delta":{"reasoning_content":"r1"}}]}`)
	ev(`{"id":"c","model":"m","choices":[{"index":0,"delta":{"content":"E","reasoning_content":"r2"}}]}`)
	ev(`{"id":"c","model":"m","choices":[{"index":0,"delta":{"content":"F"}}]}`)
	ev(`{"id":"c","model":"m","choices":[{"index":1,"delta":{"content":"y"}}]}`)
	ev(`{"id":"c","model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"},{"index":1,"delta":{},"finish_reason":"length"}]}`)
	b.WriteString("data: [DONE]\n\n")
	_, g := run(t, "https://api.openai.com/v1/chat/completions", `{"model":"m","stream":true,"n":2}`, reply{ctype: "text/event-stream", body: b.Bytes()})
	wantJSON(t, "output", g.Output, `{"choices":[
		{"role":"assistant","content":"ABC\"éDEF","reasoning":"r1r2","finish_reason":"stop"},
		{"role":"assistant","content":"xy","finish_reason":"length"}]}`)
	wantMeta(t, g, map[string]any{"gen_ai.request.choice.count": 2, "gen_ai.response.finish_reasons": []string{"stop", "length"}})
}

// A body encoded in a way the program asked for is passed on unread.
func TestEncodedBodyNotRead(t *testing.T) {
	t.Parallel()
	rec := fluxlooptest.NewParallel(t)
	p := newProvider(t, fixed(reply{ctype: "application/json", body: []byte("\x1b\x00\xf8compressed"), encoding: "br"}))
	client := &http.Client{Transport: fluxloopllm.NewTransport(p.base())}
	ctx, sp := fluxloop.Start(rec.Context(), "agent", fluxloop.WithType(fluxloop.TypeAgent))
	_, got, _ := post(ctx, client, "https://api.openai.com/v1/chat/completions", `{"model":"gpt-4o"}`, "Accept-Encoding", "br")
	sp.End()
	if string(got) != "\x1b\x00\xf8compressed" {
		t.Errorf("got %q", got)
	}
	_, g := only(t, rec)
	wantMeta(t, g, map[string]any{"fluxloop.llm.body_not_read": "content-encoding br", "fluxloop.llm.response_incomplete": nil})
	if g.Error != "" {
		t.Errorf("error %q", g.Error)
	}
}

// A blocked prompt in numeric enums (enum-encoding=int): blockReason 1 is
// SAFETY; 0 is unspecified, as BLOCK_REASON_UNSPECIFIED (Gemini API) and
// BLOCKED_REASON_UNSPECIFIED (Vertex AI, google.golang.org/genai) are: no
// block.
func TestGeminiBlockedPromptNumber(t *testing.T) {
	t.Parallel()
	const url = "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:generateContent?%24alt=json%3Benum-encoding%3Dint"
	block := func(reason string) reply {
		return reply{ctype: "application/json", body: []byte(`{"promptFeedback":{"blockReason":` + reason + `,"safetyRatings":[{"category":10,"probability":1}]},"usageMetadata":{"promptTokenCount":7,"totalTokenCount":7},"modelVersion":"gemini-2.0-flash","responseId":"blk-1"}`)}
	}
	_, g := run(t, url, geminiRequest, block("1"))
	if g.Error != "prompt blocked: SAFETY" || g.Level != fluxloop.LevelError {
		t.Errorf("error %q level %q", g.Error, g.Level)
	}
	wantMeta(t, g, map[string]any{"error.type": "SAFETY"})
	_, g = run(t, url, geminiRequest, block("4"))
	wantMeta(t, g, map[string]any{"error.type": "PROHIBITED_CONTENT"})
	_, g = run(t, "https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/us-central1/publishers/google/models/gemini-2.0-flash:generateContent", geminiRequest, block("5"))
	wantMeta(t, g, map[string]any{"error.type": "MODEL_ARMOR"})
	for _, unspecified := range []string{"0", `"BLOCK_REASON_UNSPECIFIED"`, `"BLOCKED_REASON_UNSPECIFIED"`} {
		_, g := run(t, url, geminiRequest, block(unspecified))
		if g.Error != "" || g.Level == fluxloop.LevelError {
			t.Errorf("blockReason %s: error %q level %q, want none", unspecified, g.Error, g.Level)
		}
	}
}
