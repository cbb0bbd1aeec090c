package llmtest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genai"
)

// Tests of google.golang.org/genai (Gemini API and Vertex AI backends)
// through fluxloopllm.

func genaiClient(t testing.TB, r *rig) *genai.Client {
	t.Helper()
	c, err := genai.NewClient(context.Background(), &genai.ClientConfig{
		APIKey:      "test-key",
		Backend:     genai.BackendGeminiAPI,
		HTTPClient:  r.client,
		HTTPOptions: genai.HTTPOptions{BaseURL: r.URL + "/"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// genaiVertex is a Vertex AI client: the model is named in a
// projects/.../locations/.../publishers/google/models/... path.
func genaiVertex(t testing.TB, r *rig) *genai.Client {
	t.Helper()
	c, err := genai.NewClient(context.Background(), &genai.ClientConfig{
		Backend:     genai.BackendVertexAI,
		Project:     "my-project",
		Location:    "us-central1",
		HTTPClient:  r.client,
		HTTPOptions: genai.HTTPOptions{BaseURL: r.URL + "/"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// streamPos is the want.file of genai streams: not checked but in
// TestGenAIStreamCodePosition.
const streamPos = "-"

var genaiConfig = &genai.GenerateContentConfig{SystemInstruction: genai.NewContentFromText("You are terse.", genai.RoleUser)}

func geminiMeta(r *rig, model, respID string, finish ...string) map[string]any {
	m := map[string]any{
		"gen_ai.provider.name":  "gcp.gemini",
		"gen_ai.operation.name": "generate_content",
		"gen_ai.request.model":  model,
		"gen_ai.response.id":    respID,
		"server.address":        serverAddress(r.Server),
	}
	if len(finish) > 0 {
		m["gen_ai.response.finish_reasons"] = finish
	}
	return m
}

// candidatesTokenCount leaves out thoughtsTokenCount: the recorded output
// tokens are their sum (9 + 30), the thoughts also as reasoning tokens.
func TestGenAIGenerateContent(t *testing.T) {
	t.Parallel()
	r := newRig(t, routes(t, route{"POST", "/v1beta/models/gemini-2.5-flash:generateContent", jsonReply(t, 200, "gemini/generate.json")}))
	client := genaiClient(t, r)
	ctx, agent := r.agent()
	resp, err := client.Models.GenerateContent(ctx, "gemini-2.5-flash", genai.Text("Explain how AI works in a few words"), genaiConfig)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Text() != "AI learns patterns from data to make predictions." || resp.UsageMetadata.ThoughtsTokenCount != 30 {
		t.Errorf("SDK response %q usage %+v", resp.Text(), resp.UsageMetadata)
	}
	g := oneGen(t, r, agent)
	meta := geminiMeta(r, "gemini-2.5-flash", "uZ5LaKnLDeqUxN8Pv8GBwAQ", "STOP")
	meta["gen_ai.usage.input_tokens"] = 8
	meta["gen_ai.usage.output_tokens"] = 39
	meta["gen_ai.usage.reasoning.output_tokens"] = 30
	meta["gen_ai.usage.cache_read.input_tokens"] = 4
	checkGen(t, g, want{
		name:   "generate_content gemini-2.5-flash",
		models: []string{"gemini-2.5-flash"},
		prompt: 8, completion: 39, total: 47,
		meta:   meta,
		input:  []string{"Explain how AI works in a few words", "You are terse."},
		output: []string{"AI learns patterns from data to make predictions."},
	})
	r.checkBytes(t, whole)
}

func TestGenAIFunctionCall(t *testing.T) {
	t.Parallel()
	r := newRig(t, routes(t, route{"POST", "/v1beta/models/gemini-2.0-flash:generateContent", jsonReply(t, 200, "gemini/generate_tool.json")}))
	client := genaiClient(t, r)
	ctx, agent := r.agent()
	cfg := &genai.GenerateContentConfig{Tools: []*genai.Tool{{FunctionDeclarations: []*genai.FunctionDeclaration{{
		Name:        "schedule_meeting",
		Description: "Schedules a meeting",
		Parameters:  &genai.Schema{Type: genai.TypeObject, Properties: map[string]*genai.Schema{"topic": {Type: genai.TypeString}}},
	}}}}}
	resp, err := client.Models.GenerateContent(ctx, "gemini-2.0-flash", genai.Text("Schedule a meeting with Bob and Alice"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if fc := resp.FunctionCalls(); len(fc) != 1 || fc[0].Name != "schedule_meeting" {
		t.Errorf("SDK function calls %+v", fc)
	}
	g := oneGen(t, r, agent)
	checkGen(t, g, want{
		name:   "generate_content gemini-2.0-flash",
		prompt: 96, completion: 34, total: 130,
		meta:   geminiMeta(r, "gemini-2.0-flash", "kZ5LaNvgJ7qUxN8P3tCBwAQ", "STOP"),
		output: []string{"schedule_meeting"},
	})
	toolCallArgs(t, g.Output, map[string]string{"schedule_meeting": `{"attendees":["Bob","Alice"],"date":"2025-03-27","time":"10:00","topic":"Q3 planning"}`})
	r.checkBytes(t, whole)
}

// A chunk without usageMetadata between two with it leaves the running
// totals alone; the last chunk's totals win.
func TestGenAIStream(t *testing.T) {
	t.Parallel()
	rep := sse(t, "gemini/stream.sse")
	rep.firstDelay = 50 * time.Millisecond
	r := newRig(t, routes(t, route{"POST", "/v1beta/models/gemini-2.0-flash:streamGenerateContent", rep}))
	client := genaiClient(t, r)
	ctx, agent := r.agent()
	var text strings.Builder
	for chunk, err := range client.Models.GenerateContentStream(ctx, "gemini-2.0-flash", genai.Text("Write a sentence about a fox"), nil) {
		if err != nil {
			t.Fatal(err)
		}
		text.WriteString(chunk.Text())
	}
	if text.String() != "The quick brown fox jumps over the lazy dog." {
		t.Errorf("SDK text %q", text.String())
	}
	if q := r.exchanges()[0].rawQuery; q != "alt=sse" {
		t.Errorf("SDK query %q", q)
	}
	g := oneGen(t, r, agent)
	checkGen(t, g, want{
		name:   "generate_content gemini-2.0-flash",
		prompt: 10, completion: 12, total: 22,
		meta:              geminiMeta(r, "gemini-2.0-flash", "strm5LaNvgJ7qUxN8P3tCBwAQ", "STOP"),
		output:            []string{"The quick brown fox jumps over the lazy dog."},
		stream:            true,
		firstChunkAtLeast: 50 * time.Millisecond,
		file:              streamPos,
	})
	r.checkBytes(t, whole)
}

func TestGenAIStreamFunctionCall(t *testing.T) {
	t.Parallel()
	r := newRig(t, routes(t, route{"POST", "/v1beta/models/gemini-2.0-flash:streamGenerateContent", sse(t, "gemini/stream_tools.sse")}))
	client := genaiClient(t, r)
	ctx, agent := r.agent()
	var calls []*genai.FunctionCall
	for chunk, err := range client.Models.GenerateContentStream(ctx, "gemini-2.0-flash", genai.Text("Weather in Tokyo?"), nil) {
		if err != nil {
			t.Fatal(err)
		}
		calls = append(calls, chunk.FunctionCalls()...)
	}
	if len(calls) != 1 || calls[0].Args["location"] != "Tokyo" {
		t.Errorf("SDK function calls %+v", calls)
	}
	g := oneGen(t, r, agent)
	checkGen(t, g, want{
		name:   "generate_content gemini-2.0-flash",
		prompt: 40, completion: 17, total: 57,
		meta:   geminiMeta(r, "gemini-2.0-flash", "strmTools01", "STOP"),
		output: []string{"Let me look that up."},
		stream: true,
		file:   streamPos,
	})
	toolCallArgs(t, g.Output, map[string]string{"get_weather": `{"location":"Tokyo"}`})
	r.checkBytes(t, whole)
}

func TestGenAIStreamErrorChunk(t *testing.T) {
	t.Parallel()
	r := newRig(t, routes(t, route{"POST", "/v1beta/models/gemini-2.0-flash:streamGenerateContent", sse(t, "gemini/stream_error.sse")}))
	client := genaiClient(t, r)
	ctx, agent := r.agent()
	var streamErr error
	for _, err := range client.Models.GenerateContentStream(ctx, "gemini-2.0-flash", genai.Text("Hi"), nil) {
		if err != nil {
			streamErr = err
			break
		}
	}
	var apiErr genai.APIError
	if !errors.As(streamErr, &apiErr) || apiErr.Code != 503 {
		t.Fatalf("SDK error %v, want the stream's error chunk", streamErr)
	}
	g := oneGen(t, r, agent)
	checkGen(t, g, want{
		name:   "generate_content gemini-2.0-flash",
		prompt: 10, completion: 1, total: 11,
		output: []string{"Partial"},
		err:    "The model is overloaded",
		stream: true,
		file:   streamPos,
	})
	r.checkBytes(t, whole)
}

func TestGenAIHTTPError(t *testing.T) {
	t.Parallel()
	r := newRig(t, routes(t, route{"POST", "/v1beta/models/gemini-2.0-flash:generateContent", jsonReply(t, 400, "gemini/error_400.json")}))
	client := genaiClient(t, r)
	ctx, agent := r.agent()
	_, err := client.Models.GenerateContent(ctx, "gemini-2.0-flash", genai.Text("Hi"), nil)
	var apiErr genai.APIError
	if !errors.As(err, &apiErr) || apiErr.Code != 400 {
		t.Fatalf("SDK error %v, want the API's 400", err)
	}
	g := oneGen(t, r, agent)
	checkGen(t, g, want{
		name:  "generate_content gemini-2.0-flash",
		meta:  map[string]any{"error.type": "INVALID_ARGUMENT", "http.response.status_code": 400},
		input: []string{"Hi"},
		err:   "API key not valid",
	})
	r.checkBytes(t, whole)
}

// A blocked prompt is HTTP 200 with promptFeedback.blockReason and no
// candidates: the observation records it as its error.
func TestGenAIBlockedPrompt(t *testing.T) {
	t.Parallel()
	r := newRig(t, routes(t, route{"POST", "/v1beta/models/gemini-2.0-flash:generateContent", jsonReply(t, 200, "gemini/blocked.json")}))
	client := genaiClient(t, r)
	ctx, agent := r.agent()
	resp, err := client.Models.GenerateContent(ctx, "gemini-2.0-flash", genai.Text("something unsafe"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.PromptFeedback == nil || resp.PromptFeedback.BlockReason != genai.BlockedReasonSafety {
		t.Errorf("SDK prompt feedback %+v", resp.PromptFeedback)
	}
	g := oneGen(t, r, agent)
	checkGen(t, g, want{name: "generate_content gemini-2.0-flash", prompt: 7, total: 7, err: "SAFETY"})
	r.checkBytes(t, whole)
}

func TestGenAIVertex(t *testing.T) {
	t.Parallel()
	path := "/v1beta1/projects/my-project/locations/us-central1/publishers/google/models/gemini-2.0-flash:generateContent"
	r := newRig(t, routes(t, route{"POST", path, jsonReply(t, 200, "gemini/generate_tool.json")}))
	client := genaiVertex(t, r)
	ctx, agent := r.agent()
	if _, err := client.Models.GenerateContent(ctx, "gemini-2.0-flash", genai.Text("Schedule a meeting"), nil); err != nil {
		t.Fatal(err)
	}
	g := oneGen(t, r, agent)
	checkGen(t, g, want{
		name:   "generate_content gemini-2.0-flash",
		prompt: 96, completion: 34, total: 130,
		meta:   map[string]any{"gen_ai.request.model": "gemini-2.0-flash", "gen_ai.operation.name": "generate_content"},
		output: []string{"schedule_meeting"},
	})
	r.checkBytes(t, whole)
}

// A Vertex AI path names the provider whatever the host (a private
// endpoint, a proxy, this test's server).
func TestGenAIVertexProvider(t *testing.T) {
	t.Parallel()
	path := "/v1beta1/projects/my-project/locations/us-central1/publishers/google/models/gemini-2.0-flash:generateContent"
	r := newRig(t, routes(t, route{"POST", path, jsonReply(t, 200, "gemini/generate_tool.json")}))
	client := genaiVertex(t, r)
	ctx, agent := r.agent()
	if _, err := client.Models.GenerateContent(ctx, "gemini-2.0-flash", genai.Text("Schedule a meeting"), nil); err != nil {
		t.Fatal(err)
	}
	g := oneGen(t, r, agent)
	checkGen(t, g, want{
		name:   "generate_content gemini-2.0-flash",
		prompt: 96, completion: 34, total: 130,
		meta: map[string]any{"gen_ai.provider.name": "gcp.vertex_ai"},
	})
}

func TestGenAIVertexStream(t *testing.T) {
	t.Parallel()
	path := "/v1beta1/projects/my-project/locations/us-central1/publishers/google/models/gemini-2.0-flash:streamGenerateContent"
	r := newRig(t, routes(t, route{"POST", path, sse(t, "gemini/stream.sse")}))
	client := genaiVertex(t, r)
	ctx, agent := r.agent()
	var text strings.Builder
	for chunk, err := range client.Models.GenerateContentStream(ctx, "gemini-2.0-flash", genai.Text("Write a sentence about a fox"), nil) {
		if err != nil {
			t.Fatal(err)
		}
		text.WriteString(chunk.Text())
	}
	if text.String() != "The quick brown fox jumps over the lazy dog." {
		t.Errorf("SDK text %q", text.String())
	}
	g := oneGen(t, r, agent)
	checkGen(t, g, want{
		name:   "generate_content gemini-2.0-flash",
		prompt: 10, completion: 12, total: 22,
		output: []string{"The quick brown fox jumps over the lazy dog."},
		stream: true,
		file:   streamPos,
	})
	r.checkBytes(t, whole)
}

// The recorded position of a streamed call is the program's range over
// GenerateContentStream. The iterator's closure is inlined into the
// caller: its frame is named after the caller's package
// (...llmtest.TestGenAIStreamCodePosition.Models.GenerateContentStream.func2)
// but its file is genai's models.go.
func TestGenAIStreamCodePosition(t *testing.T) {
	t.Parallel()
	r := newRig(t, routes(t, route{"POST", "/v1beta/models/gemini-2.0-flash:streamGenerateContent", sse(t, "gemini/stream.sse")}))
	client := genaiClient(t, r)
	ctx, agent := r.agent()
	for _, err := range client.Models.GenerateContentStream(ctx, "gemini-2.0-flash", genai.Text("Hi"), nil) {
		if err != nil {
			t.Fatal(err)
		}
	}
	g := oneGen(t, r, agent)
	checkGen(t, g, want{name: "generate_content gemini-2.0-flash", prompt: 10, completion: 12, total: 22, stream: true})
}

// Breaking out of the range loop closes the body: the observation ends with
// what arrived.
func TestGenAIStreamEarlyBreak(t *testing.T) {
	t.Parallel()
	rep := sse(t, "gemini/stream.sse")
	rep.hangAfter = 1
	r := newRig(t, routes(t, route{"POST", "/v1beta/models/gemini-2.0-flash:streamGenerateContent", rep}))
	client := genaiClient(t, r)
	ctx, agent := r.agent()
	for chunk, err := range client.Models.GenerateContentStream(ctx, "gemini-2.0-flash", genai.Text("Hi"), nil) {
		if err != nil {
			t.Fatal(err)
		}
		if chunk.Text() != "The" {
			t.Errorf("first chunk %q", chunk.Text())
		}
		break
	}
	g := oneGen(t, r, agent)
	checkGen(t, g, want{name: "generate_content gemini-2.0-flash", prompt: 10, completion: 1, total: 11, output: []string{"The"}, stream: true, anyErr: true, file: streamPos})
	r.checkBytes(t, prefix)
}

func TestGenAIStreamCancel(t *testing.T) {
	t.Parallel()
	rep := sse(t, "gemini/stream.sse")
	rep.hangAfter = 1
	r := newRig(t, routes(t, route{"POST", "/v1beta/models/gemini-2.0-flash:streamGenerateContent", rep}))
	client := genaiClient(t, r)
	actx, agent := r.agent()
	ctx, cancel := context.WithCancel(actx)
	defer cancel()
	var last error
	for _, err := range client.Models.GenerateContentStream(ctx, "gemini-2.0-flash", genai.Text("Hi"), nil) {
		if err != nil {
			last = err
			break
		}
		cancel()
	}
	if !errors.Is(last, context.Canceled) {
		t.Errorf("SDK error %v, want context.Canceled", last)
	}
	g := oneGen(t, r, agent)
	checkGen(t, g, want{name: "generate_content gemini-2.0-flash", prompt: 10, completion: 1, total: 11, output: []string{"The"}, err: "context canceled", stream: true, file: streamPos})
	r.checkBytes(t, prefix)
}

func TestGenAIConcurrent(t *testing.T) {
	t.Parallel()
	r := newRig(t, func(req *http.Request, body []byte) reply {
		if strings.HasSuffix(req.URL.Path, ":streamGenerateContent") {
			return sse(t, "gemini/stream_concurrent.sse")
		}
		return jsonReply(t, 200, "gemini/generate_concurrent.json")
	})
	client := genaiClient(t, r)
	ctx, agent := r.agent()
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			contents := genai.Text(fmt.Sprintf("question call-%d", i))
			var got string
			if i%2 == 0 {
				resp, err := client.Models.GenerateContent(ctx, "gemini-2.0-flash", contents, nil)
				if err != nil {
					t.Error(err)
					return
				}
				got = resp.Text()
			} else {
				for chunk, err := range client.Models.GenerateContentStream(ctx, "gemini-2.0-flash", contents, nil) {
					if err != nil {
						t.Error(err)
						return
					}
					got += chunk.Text()
				}
			}
			if want := fmt.Sprintf("answer to call-%d", i); got != want {
				t.Errorf("call %d: SDK got %q", i, got)
			}
		})
	}
	wg.Wait()
	agent.End()
	checkConcurrent(t, r, "generate_content gemini-2.0-flash", 100, func(i int) bool { return i%2 == 1 }, streamPos)
	r.checkBytes(t, whole)
}

func TestGenAIUnrecognisedTraffic(t *testing.T) {
	t.Parallel()
	r := newRig(t, routes(t, route{"GET", "/v1beta/models", jsonReply(t, 200, "gemini/models.json")}))
	client := genaiClient(t, r)
	ctx, agent := r.agent()
	page, err := client.Models.List(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1 || page.Items[0].Name != "models/gemini-2.0-flash" {
		t.Errorf("SDK models %+v", page.Items)
	}
	noGen(t, r, agent)
	r.checkBytes(t, whole)
}
