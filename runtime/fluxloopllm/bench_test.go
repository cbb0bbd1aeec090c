package fluxloopllm_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"github.com/fluxloop/fluxloop-go/runtime/fluxloopllm"
)

// Benchmarks (go test -bench . -benchmem ./runtime/fluxloopllm/): each
// compares the traced transport with the plain one in the same run. The
// observations are recorded by a client whose storage discards them, with
// its writer running (encoding every observation), as in production.

type discard struct{}

func (discard) Write(context.Context, []fluxloop.Record) error { return nil }
func (discard) Flush(context.Context) error                    { return nil }
func (discard) Close(context.Context) error                    { return nil }

// benchCtx returns a ctx with an agent observation of a recording client.
func benchCtx(b *testing.B) context.Context {
	c, err := fluxloop.NewClient(fluxloop.WithStorage(discard{}), fluxloop.WithEnabled(true), fluxloop.WithSampleRate(1))
	if err != nil {
		b.Fatal(err)
	}
	ctx, sp := c.Start(context.Background(), "agent", fluxloop.WithType(fluxloop.TypeAgent))
	b.Cleanup(func() {
		sp.End()
		c.Shutdown(context.Background())
	})
	return ctx
}

const benchRequest = `{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant. Answer in one sentence."},{"role":"user","content":"What is the capital of France, and why is it famous?"}],"temperature":0.2,"max_tokens":200}`

func benchPost(b *testing.B, ctx context.Context, c *http.Client, url string, consume func(io.Reader)) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(benchRequest))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	consume(resp.Body)
	resp.Body.Close()
}

// chatCompletion is what an SDK decodes a reply into.
type chatCompletion struct {
	ID      string `json:"id"`
	Model   string `json:"model"`
	Choices []struct {
		Index   int `json:"index"`
		Message struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"message"`
		Delta struct {
			Content string `json:"content"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
}

func decodeJSON(r io.Reader) {
	var v chatCompletion
	json.NewDecoder(r).Decode(&v)
}

// Per-call overhead on a 1 ms response, over a real HTTP connection.
func BenchmarkCall1ms(b *testing.B) {
	body := fixture(b, "openai_chat.json")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		time.Sleep(time.Millisecond)
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	defer srv.Close()
	ctx := benchCtx(b)
	url := srv.URL + "/v1/chat/completions"
	plain := &http.Client{Transport: &http.Transport{}}
	traced := &http.Client{Transport: fluxloopllm.NewTransport(&http.Transport{})}
	b.Run("plain", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			benchPost(b, ctx, plain, url, decodeJSON)
		}
	})
	b.Run("traced", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			benchPost(b, ctx, traced, url, decodeJSON)
		}
	})
	// alternating batches, so that both see the same machine
	b.Run("ratio", func(b *testing.B) {
		var tp, tt time.Duration
		n := 0
		for b.Loop() {
			t0 := time.Now()
			benchPost(b, ctx, plain, url, decodeJSON)
			t1 := time.Now()
			benchPost(b, ctx, traced, url, decodeJSON)
			tt += time.Since(t1)
			tp += t1.Sub(t0)
			n++
		}
		b.ReportMetric(float64(tt)/float64(tp), "traced/plain")
		b.ReportMetric(float64(tt-tp)/float64(n)/1e3, "us-overhead/call")
	})
}

// sseBody is an in-process response body: a Chat Completions stream of n
// chunks, handed out one event per Read as a network would, built on the
// fly without allocating.
type sseBody struct {
	n, i  int
	cur   []byte
	off   int
	final bool
}

var chunkTmpl = []byte(`data: {"id":"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG","object":"chat.completion.chunk","created":1741570283,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_06737a9306","choices":[{"index":0,"delta":{"content":" word"},"logprobs":null,"finish_reason":null}]}` + "\n\n")

const streamTail = `data: {"id":"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG","object":"chat.completion.chunk","created":1741570283,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}` + "\n\n" +
	`data: {"id":"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG","object":"chat.completion.chunk","created":1741570283,"model":"gpt-4o-mini-2024-07-18","choices":[],"usage":{"prompt_tokens":20,"completion_tokens":1000,"total_tokens":1020}}` + "\n\ndata: [DONE]\n\n"

func (s *sseBody) Read(p []byte) (int, error) {
	if s.off == len(s.cur) {
		switch {
		case s.i < s.n:
			s.cur, s.off = chunkTmpl, 0
			s.i++
		case !s.final:
			s.cur, s.off, s.final = []byte(streamTail), 0, true
		default:
			return 0, io.EOF
		}
	}
	n := copy(p, s.cur[s.off:])
	s.off += n
	return n, nil
}

func (s *sseBody) Close() error { return nil }

// streamBase answers every request with an sseBody of n chunks.
type streamBase struct{ n int }

func (t streamBase) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		r.Body.Close()
	}
	h := http.Header{}
	h.Set("Content-Type", "text/event-stream")
	return &http.Response{StatusCode: 200, Header: h, Body: &sseBody{n: t.n}, Request: r}, nil
}

// readSSE is an SDK's consumer: it splits the stream into lines and
// decodes each chunk.
func readSSE(r io.Reader) {
	sc := bufio.NewScanner(r)
	var v chatCompletion
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.HasPrefix(line, []byte("data: ")) || bytes.Equal(line, []byte("data: [DONE]")) {
			continue
		}
		v.Choices = v.Choices[:0]
		json.Unmarshal(line[6:], &v)
	}
}

func readRaw(r io.Reader) {
	var buf [32 << 10]byte
	io.CopyBuffer(io.Discard, struct{ io.Reader }{r}, buf[:])
}

// Per-chunk overhead on a 1,000-chunk stream, consumed as an SDK does (a
// line scanner and a JSON decode per chunk) and, the worst case, by a
// reader that does nothing with the bytes.
func BenchmarkStream1000Chunks(b *testing.B) {
	ctx := benchCtx(b)
	const url = "https://api.openai.com/v1/chat/completions"
	plain := &http.Client{Transport: streamBase{n: 1000}}
	traced := &http.Client{Transport: fluxloopllm.NewTransport(streamBase{n: 1000})}
	for _, cons := range []struct {
		name string
		f    func(io.Reader)
	}{{"sdk", readSSE}, {"raw", readRaw}} {
		b.Run(cons.name+"/plain", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				benchPost(b, ctx, plain, url, cons.f)
			}
			b.ReportMetric(float64(b.Elapsed())/float64(b.N)/1000, "ns/chunk")
		})
		b.Run(cons.name+"/traced", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				benchPost(b, ctx, traced, url, cons.f)
			}
			b.ReportMetric(float64(b.Elapsed())/float64(b.N)/1000, "ns/chunk")
		})
		b.Run(cons.name+"/ratio", func(b *testing.B) {
			var tp, tt time.Duration
			n := 0
			for b.Loop() {
				t0 := time.Now()
				benchPost(b, ctx, plain, url, cons.f)
				t1 := time.Now()
				benchPost(b, ctx, traced, url, cons.f)
				tt += time.Since(t1)
				tp += t1.Sub(t0)
				n++
			}
			b.ReportMetric(float64(tp)/float64(n)/1000, "plain-ns/chunk")
			b.ReportMetric(float64(tt)/float64(n)/1000, "traced-ns/chunk")
			b.ReportMetric(float64(tt)/float64(tp), "traced/plain")
		})
	}
}

// The same over a loopback HTTP connection, the server flushing each chunk
// as a model server does: what a program sees.
func BenchmarkStream1000ChunksHTTP(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		fl := w.(http.Flusher)
		for range 1000 {
			w.Write(chunkTmpl)
			fl.Flush()
		}
		io.WriteString(w, streamTail)
	}))
	defer srv.Close()
	ctx := benchCtx(b)
	url := srv.URL + "/v1/chat/completions"
	plain := &http.Client{Transport: &http.Transport{}}
	traced := &http.Client{Transport: fluxloopllm.NewTransport(&http.Transport{})}
	b.Run("sdk/ratio", func(b *testing.B) {
		var tp, tt time.Duration
		n := 0
		for b.Loop() {
			t0 := time.Now()
			benchPost(b, ctx, plain, url, readSSE)
			t1 := time.Now()
			benchPost(b, ctx, traced, url, readSSE)
			tt += time.Since(t1)
			tp += t1.Sub(t0)
			n++
		}
		b.ReportMetric(float64(tp)/float64(n)/1000, "plain-ns/chunk")
		b.ReportMetric(float64(tt)/float64(n)/1000, "traced-ns/chunk")
		b.ReportMetric(float64(tt)/float64(tp), "traced/plain")
	})
}

// Memory per call whatever the stream's length: B/op of 1k, 100k and 1M
// chunk streams (the reply text is kept up to MaxFieldBytes, the rest
// counted).
func BenchmarkStreamMemory(b *testing.B) {
	ctx := benchCtx(b)
	for _, n := range []int{1000, 100_000, 1_000_000} {
		for _, tr := range []string{"plain", "traced"} {
			var rt http.RoundTripper = streamBase{n: n}
			if tr == "traced" {
				rt = fluxloopllm.NewTransport(rt)
			}
			c := &http.Client{Transport: rt}
			b.Run(fmt.Sprintf("chunks=%d/%s", n, tr), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					benchPost(b, ctx, c, "https://api.openai.com/v1/chat/completions", readRaw)
				}
			})
		}
	}
}

// The cost of a request that is not an LLM call.
func BenchmarkPassThrough(b *testing.B) {
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Body: http.NoBody}, nil
	})
	req, _ := http.NewRequest("GET", "https://api.openai.com/v1/models", nil)
	for _, c := range []struct {
		name string
		rt   http.RoundTripper
	}{{"plain", base}, {"traced", fluxloopllm.NewTransport(base)}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.rt.RoundTrip(req)
			}
		})
	}
}

// The transport's own cost per call, on an in-process answer.
func BenchmarkCallInProcess(b *testing.B) {
	body := fixture(b, "openai_chat.json")
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		h := http.Header{}
		h.Set("Content-Type", "application/json")
		return &http.Response{StatusCode: 200, Header: h, Body: io.NopCloser(bytes.NewReader(body)), Request: r}, nil
	})
	ctx := benchCtx(b)
	for _, c := range []struct {
		name string
		rt   http.RoundTripper
	}{{"plain", base}, {"traced", fluxloopllm.NewTransport(base)}} {
		client := &http.Client{Transport: c.rt}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				benchPost(b, ctx, client, "https://api.openai.com/v1/chat/completions", decodeJSON)
			}
		})
	}
}
