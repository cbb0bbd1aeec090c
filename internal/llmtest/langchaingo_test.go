package llmtest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/llms/anthropic"
	"github.com/tmc/langchaingo/llms/googleai"
	"github.com/tmc/langchaingo/llms/openai"
	"google.golang.org/api/option"
)

// Tests of github.com/tmc/langchaingo's openai, anthropic and googleai
// (REST) providers through fluxloopllm.

func lcMessages(user string) []llms.MessageContent {
	return []llms.MessageContent{
		llms.TextParts(llms.ChatMessageTypeSystem, "You are a helpful assistant."),
		llms.TextParts(llms.ChatMessageTypeHuman, user),
	}
}

var lcWeatherTool = llms.Tool{Type: "function", Function: &llms.FunctionDefinition{
	Name:        "get_weather",
	Description: "Get the weather at a location",
	Parameters:  map[string]any{"type": "object", "properties": map[string]any{"location": map[string]any{"type": "string"}}},
}}

// streamed collects what a langchaingo streaming callback receives.
type streamed struct {
	mu     sync.Mutex
	chunks []string
}

func (s *streamed) fn(_ context.Context, chunk []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chunks = append(s.chunks, string(chunk))
	return nil
}

func (s *streamed) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.chunks, "")
}

func lcOpenAI(t testing.TB, r *rig) *openai.LLM {
	t.Helper()
	llm, err := openai.New(openai.WithToken("sk-test"), openai.WithBaseURL(r.URL+"/v1"), openai.WithHTTPClient(r.client), openai.WithModel("gpt-4o"))
	if err != nil {
		t.Fatal(err)
	}
	return llm
}

func TestLangchainOpenAI(t *testing.T) {
	t.Parallel()
	r := newRig(t, routes(t, route{"POST", "/v1/chat/completions", jsonReply(t, 200, "openai/chat.json")}))
	llm := lcOpenAI(t, r)
	ctx, agent := r.agent()
	resp, err := llm.GenerateContent(ctx, lcMessages("Say hello"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Choices[0].Content != "Hello! How can I assist you today?" {
		t.Errorf("SDK content %q", resp.Choices[0].Content)
	}
	g := oneGen(t, r, agent)
	checkGen(t, g, want{
		name:   "chat gpt-4o",
		prompt: 19, completion: 10, total: 29,
		meta:   openaiMeta(r, "gpt-4o", "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT", "stop"),
		input:  []string{"You are a helpful assistant.", "Say hello"},
		output: []string{"Hello! How can I assist you today?"},
	})
	r.checkBytes(t, whole)
}

// langchaingo reads the stream on a goroutine of its own and asks for
// usage itself.
func TestLangchainOpenAIStream(t *testing.T) {
	t.Parallel()
	r := newRig(t, routes(t, route{"POST", "/v1/chat/completions", sse(t, "openai/chat_stream.sse")}))
	llm := lcOpenAI(t, r)
	ctx, agent := r.agent()
	var s streamed
	resp, err := llm.GenerateContent(ctx, lcMessages("Say hello"), llms.WithModel("gpt-4o-mini"), llms.WithStreamingFunc(s.fn))
	if err != nil {
		t.Fatal(err)
	}
	if s.text() != "Hello! How can I help?" || resp.Choices[0].Content != "Hello! How can I help?" {
		t.Errorf("SDK streamed %q, content %q", s.text(), resp.Choices[0].Content)
	}
	g := oneGen(t, r, agent)
	checkGen(t, g, want{
		name:   "chat gpt-4o-mini",
		prompt: 9, completion: 12, total: 21,
		meta:   openaiMeta(r, "gpt-4o-mini", "chatcmpl-123", "stop"),
		output: []string{"Hello! How can I help?"},
		stream: true,
	})
	r.checkBytes(t, whole)
}

func TestLangchainOpenAIStreamToolCalls(t *testing.T) {
	t.Parallel()
	r := newRig(t, routes(t, route{"POST", "/v1/chat/completions", sse(t, "openai/chat_stream_tools.sse")}))
	llm := lcOpenAI(t, r)
	ctx, agent := r.agent()
	var s streamed
	resp, err := llm.GenerateContent(ctx, lcMessages("Weather and time in Paris?"), llms.WithTools([]llms.Tool{lcWeatherTool}), llms.WithStreamingFunc(s.fn))
	if err != nil {
		t.Fatal(err)
	}
	tc := resp.Choices[0].ToolCalls
	if len(tc) != 2 || tc[0].FunctionCall.Arguments != `{"location": "Paris"}` {
		t.Errorf("SDK tool calls %+v", tc)
	}
	g := oneGen(t, r, agent)
	checkGen(t, g, want{
		name:   "chat gpt-4o",
		prompt: 78, completion: 40, total: 118,
		meta:   openaiMeta(r, "gpt-4o", "chatcmpl-789", "tool_calls"),
		stream: true,
	})
	toolCallArgs(t, g.Output, map[string]string{"get_weather": `{"location": "Paris"}`, "get_time": `{"tz": "CET"}`})
	r.checkBytes(t, whole)
}

func TestLangchainOpenAIHTTPError(t *testing.T) {
	t.Parallel()
	r := newRig(t, routes(t, route{"POST", "/v1/chat/completions", jsonReply(t, 404, "openai/error_404.json")}))
	llm := lcOpenAI(t, r)
	ctx, agent := r.agent()
	_, err := llm.GenerateContent(ctx, lcMessages("Say hello"), llms.WithModel("gpt-5-nonexistent"))
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("SDK error %v, want the API's 404", err)
	}
	g := oneGen(t, r, agent)
	checkGen(t, g, want{name: "chat gpt-5-nonexistent", err: "does not exist or you do not have access to it"})
	r.checkBytes(t, whole)
}

func TestLangchainOpenAIStreamErrorEvent(t *testing.T) {
	t.Parallel()
	r := newRig(t, routes(t, route{"POST", "/v1/chat/completions", sse(t, "openai/chat_stream_error.sse")}))
	llm := lcOpenAI(t, r)
	ctx, agent := r.agent()
	var s streamed
	_, err := llm.GenerateContent(ctx, lcMessages("Say hello"), llms.WithStreamingFunc(s.fn))
	t.Logf("SDK error: %v", err) // langchaingo skips chunks it cannot use
	g := oneGen(t, r, agent)
	checkGen(t, g, want{name: "chat gpt-4o", output: []string{"Partial"}, err: "The server had an error", stream: true})
	r.checkBytes(t, whole)
}

func TestLangchainOpenAIStreamCancel(t *testing.T) {
	t.Parallel()
	rep := sse(t, "openai/chat_stream.sse")
	rep.hangAfter = 2
	r := newRig(t, routes(t, route{"POST", "/v1/chat/completions", rep}))
	llm := lcOpenAI(t, r)
	actx, agent := r.agent()
	ctx, cancel := context.WithCancel(actx)
	var got atomic.Int32
	_, err := llm.GenerateContent(ctx, lcMessages("Say hello"), llms.WithStreamingFunc(func(_ context.Context, chunk []byte) error {
		if string(chunk) == "Hello" && got.Add(1) == 1 {
			cancel()
		}
		return nil
	}))
	if !errors.Is(err, context.Canceled) {
		t.Logf("SDK error %v", err)
	}
	cancel()
	// langchaingo returns on cancellation without waiting for its reader
	// goroutine, which closes the body later.
	waitFor(t, "the generation to end", func() bool { return len(r.rec.Observations()) == 1 })
	g := oneGen(t, r, agent)
	checkGen(t, g, want{name: "chat gpt-4o", output: []string{"Hello"}, err: "context canceled", stream: true})
	r.checkBytes(t, prefix)
}

// A streaming callback that returns an error stops langchaingo, which
// closes the body: the observation ends with what was delivered.
func TestLangchainOpenAIStreamEarlyStop(t *testing.T) {
	t.Parallel()
	rep := sse(t, "openai/chat_stream.sse")
	rep.hangAfter = 3
	r := newRig(t, routes(t, route{"POST", "/v1/chat/completions", rep}))
	llm := lcOpenAI(t, r)
	ctx, agent := r.agent()
	stop := errors.New("enough")
	_, err := llm.GenerateContent(ctx, lcMessages("Say hello"), llms.WithStreamingFunc(func(_ context.Context, chunk []byte) error {
		if string(chunk) == "Hello" {
			return stop
		}
		return nil
	}))
	if !errors.Is(err, stop) {
		t.Fatalf("SDK error %v, want the callback's", err)
	}
	waitFor(t, "the generation to end", func() bool { return len(r.rec.Observations()) == 1 })
	g := oneGen(t, r, agent)
	checkGen(t, g, want{name: "chat gpt-4o", output: []string{"Hello"}, stream: true, anyErr: true})
	r.checkBytes(t, prefix)
}

func TestLangchainOpenAIConcurrent(t *testing.T) {
	t.Parallel()
	r := newRig(t, func(req *http.Request, body []byte) reply {
		if strings.Contains(string(body), `"stream":true`) {
			return sse(t, "openai/chat_stream_concurrent.sse")
		}
		return jsonReply(t, 200, "openai/chat_concurrent.json")
	})
	llm := lcOpenAI(t, r)
	ctx, agent := r.agent()
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			opts := []llms.CallOption{llms.WithModel("gpt-4o-mini")}
			if i%2 == 1 {
				opts = append(opts, llms.WithStreamingFunc(func(context.Context, []byte) error { return nil }))
			}
			resp, err := llm.GenerateContent(ctx, lcMessages(fmt.Sprintf("question call-%d", i)), opts...)
			if err != nil {
				t.Error(err)
				return
			}
			if want := fmt.Sprintf("answer to call-%d", i); resp.Choices[0].Content != want {
				t.Errorf("call %d: SDK got %q", i, resp.Choices[0].Content)
			}
		})
	}
	wg.Wait()
	agent.End()
	checkConcurrent(t, r, "chat gpt-4o-mini", 100, func(i int) bool { return i%2 == 1 }, "")
	r.checkBytes(t, whole)
}

func lcAnthropic(t testing.TB, r *rig) *anthropic.LLM {
	t.Helper()
	llm, err := anthropic.New(anthropic.WithToken("sk-ant-test"), anthropic.WithBaseURL(r.URL+"/v1"), anthropic.WithHTTPClient(r.client), anthropic.WithModel("claude-sonnet-4-5"))
	if err != nil {
		t.Fatal(err)
	}
	return llm
}

func TestLangchainAnthropic(t *testing.T) {
	t.Parallel()
	r := newRig(t, routes(t, route{"POST", "/v1/messages", jsonReply(t, 200, "anthropic/messages.json")}))
	llm := lcAnthropic(t, r)
	ctx, agent := r.agent()
	resp, err := llm.GenerateContent(ctx, lcMessages("Hello, who are you?"), llms.WithMaxTokens(1024))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Choices[0].Content != "Hi! My name is Claude." {
		t.Errorf("SDK content %q", resp.Choices[0].Content)
	}
	g := oneGen(t, r, agent)
	checkGen(t, g, want{
		name:   "chat claude-sonnet-4-5",
		prompt: 2095, completion: 503, total: 2598,
		meta:   anthropicMeta(r, "msg_013Zva2CMHLNnXjNJJKqJ2EF", "end_turn"),
		input:  []string{"Hello, who are you?"},
		output: []string{"Hi! My name is Claude."},
	})
	r.checkBytes(t, whole)
}

func TestLangchainAnthropicStreamToolUse(t *testing.T) {
	t.Parallel()
	r := newRig(t, routes(t, route{"POST", "/v1/messages", sse(t, "anthropic/messages_stream_tools.sse")}))
	llm := lcAnthropic(t, r)
	ctx, agent := r.agent()
	var s streamed
	resp, err := llm.GenerateContent(ctx, lcMessages("What's the weather like in San Francisco?"),
		llms.WithMaxTokens(1024), llms.WithTools([]llms.Tool{lcWeatherTool}), llms.WithStreamingFunc(s.fn))
	if err != nil {
		t.Fatal(err)
	}
	var args string
	for _, c := range resp.Choices {
		for _, tc := range c.ToolCalls {
			args = tc.FunctionCall.Arguments
		}
	}
	if !strings.Contains(args, "San Francisco, CA") {
		t.Errorf("SDK choices %+v", resp.Choices)
	}
	g := oneGen(t, r, agent)
	checkGen(t, g, want{
		name:   "chat claude-sonnet-4-5",
		prompt: 472, completion: 89, total: 561,
		meta:   anthropicMeta(r, "msg_014p7gG3wDgGV9EUtLvnow3U", "tool_use"),
		output: []string{"Okay, let's check the weather"},
		stream: true,
	})
	toolCallArgs(t, g.Output, map[string]string{"get_weather": `{"location": "San Francisco, CA", "unit": "fahrenheit"}`})
	r.checkBytes(t, whole)
}

func TestLangchainAnthropicStreamErrorEvent(t *testing.T) {
	t.Parallel()
	r := newRig(t, routes(t, route{"POST", "/v1/messages", sse(t, "anthropic/messages_stream_error.sse")}))
	llm := lcAnthropic(t, r)
	ctx, agent := r.agent()
	var s streamed
	_, err := llm.GenerateContent(ctx, lcMessages("Hello"), llms.WithMaxTokens(1024), llms.WithStreamingFunc(s.fn))
	if err == nil || !strings.Contains(err.Error(), "Overloaded") {
		t.Fatalf("SDK error %v, want the stream's error event", err)
	}
	// langchaingo returns at the error event and closes the body while its
	// reader goroutine may still be reading.
	waitFor(t, "the generation to end", func() bool { return len(r.rec.Observations()) == 1 })
	g := oneGen(t, r, agent)
	checkGen(t, g, want{name: "chat claude-sonnet-4-5", prompt: 25, completion: 1, total: 26, output: []string{"Partial"}, err: "Overloaded", stream: true})
	r.checkBytes(t, prefix)
}

func TestLangchainAnthropicHTTPError(t *testing.T) {
	t.Parallel()
	r := newRig(t, routes(t, route{"POST", "/v1/messages", jsonReply(t, 400, "anthropic/error_400.json")}))
	llm := lcAnthropic(t, r)
	ctx, agent := r.agent()
	_, err := llm.GenerateContent(ctx, lcMessages("Hello"), llms.WithMaxTokens(100000))
	if err == nil {
		t.Fatal("no SDK error")
	}
	g := oneGen(t, r, agent)
	checkGen(t, g, want{name: "chat claude-sonnet-4-5", err: "max_tokens: 100000 > 64000"})
	r.checkBytes(t, whole)
}

// lcGoogleAI is langchaingo's googleai provider on
// github.com/google/generative-ai-go, whose generate and stream calls use
// REST (with "$alt=json;enum-encoding=int": enums come back as numbers, and
// a stream is a JSON array).
func lcGoogleAI(t testing.TB, r *rig) *googleai.GoogleAI {
	t.Helper()
	llm, err := googleai.New(context.Background(),
		googleai.WithAPIKey("test-key"),
		googleai.WithHTTPClient(r.client),
		func(o *googleai.Options) { o.ClientOptions = append(o.ClientOptions, option.WithEndpoint(r.URL)) },
		googleai.WithDefaultModel("gemini-2.0-flash"),
		googleai.WithHarmThreshold(googleai.HarmBlockUnspecified),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { llm.Close() })
	return llm
}

func TestLangchainGoogleAI(t *testing.T) {
	t.Parallel()
	r := newRig(t, routes(t, route{"POST", "/v1beta/models/gemini-2.0-flash:generateContent", jsonReply(t, 200, "gemini/generate_intenum.json")}))
	llm := lcGoogleAI(t, r)
	ctx, agent := r.agent()
	resp, err := llm.GenerateContent(ctx, []llms.MessageContent{llms.TextParts(llms.ChatMessageTypeHuman, "Explain how AI works in a few words")})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Choices[0].Content != "AI learns patterns from data to make predictions." {
		t.Errorf("SDK content %q", resp.Choices[0].Content)
	}
	g := oneGen(t, r, agent)
	checkGen(t, g, want{
		name:   "generate_content gemini-2.0-flash",
		prompt: 8, completion: 9, total: 17,
		meta: map[string]any{
			"gen_ai.provider.name":  "gcp.gemini",
			"gen_ai.operation.name": "generate_content",
			"gen_ai.request.model":  "gemini-2.0-flash",
			"gen_ai.response.id":    "int5LaKnLDeqUxN8Pv8GBwAQ",
		},
		input:  []string{"Explain how AI works in a few words"},
		output: []string{"AI learns patterns from data to make predictions."},
		file:   "-", // see TestLangchainGoogleAICodePosition
	})
	r.checkBytes(t, whole)
}

// The REST client asks for enums as numbers: finishReason 1 is STOP.
func TestLangchainGoogleAIFinishReasonNumber(t *testing.T) {
	t.Parallel()
	r := newRig(t, routes(t, route{"POST", "/v1beta/models/gemini-2.0-flash:generateContent", jsonReply(t, 200, "gemini/generate_intenum.json")}))
	llm := lcGoogleAI(t, r)
	ctx, agent := r.agent()
	if _, err := llm.GenerateContent(ctx, []llms.MessageContent{llms.TextParts(llms.ChatMessageTypeHuman, "Explain how AI works in a few words")}); err != nil {
		t.Fatal(err)
	}
	g := oneGen(t, r, agent)
	checkGen(t, g, want{
		name:   "generate_content gemini-2.0-flash",
		prompt: 8, completion: 9, total: 17,
		meta: map[string]any{"gen_ai.response.finish_reasons": []string{"STOP"}},
		file: "-",
	})
}

// A blocked prompt in the REST client's numeric enums: blockReason 1 is
// SAFETY, and the observation records it as its error.
func TestLangchainGoogleAIBlockedPromptNumber(t *testing.T) {
	t.Parallel()
	r := newRig(t, routes(t, route{"POST", "/v1beta/models/gemini-2.0-flash:generateContent", jsonReply(t, 200, "gemini/blocked_intenum.json")}))
	llm := lcGoogleAI(t, r)
	ctx, agent := r.agent()
	_, err := llm.GenerateContent(ctx, []llms.MessageContent{llms.TextParts(llms.ChatMessageTypeHuman, "something unsafe")})
	t.Logf("SDK error: %v", err)
	g := oneGen(t, r, agent)
	checkGen(t, g, want{name: "generate_content gemini-2.0-flash", prompt: 7, total: 7, err: "SAFETY", file: "-"})
}

// The recorded position is the program's call into langchaingo, not a
// frame of the libraries below it (generative-ai-go calls the HTTP client
// from inside github.com/googleapis/gax-go/v2's Invoke).
func TestLangchainGoogleAICodePosition(t *testing.T) {
	t.Parallel()
	r := newRig(t, routes(t, route{"POST", "/v1beta/models/gemini-2.0-flash:generateContent", jsonReply(t, 200, "gemini/generate_intenum.json")}))
	llm := lcGoogleAI(t, r)
	ctx, agent := r.agent()
	if _, err := llm.GenerateContent(ctx, []llms.MessageContent{llms.TextParts(llms.ChatMessageTypeHuman, "Hi")}); err != nil {
		t.Fatal(err)
	}
	g := oneGen(t, r, agent)
	checkGen(t, g, want{name: "generate_content gemini-2.0-flash", prompt: 8, completion: 9, total: 17})
}

// A stream without alt=sse: a JSON array, read element by element.
func TestLangchainGoogleAIStream(t *testing.T) {
	t.Parallel()
	rep := reply{body: fixture(t, "gemini/stream_array.json"), events: true}
	r := newRig(t, routes(t, route{"POST", "/v1beta/models/gemini-2.0-flash:streamGenerateContent", rep}))
	llm := lcGoogleAI(t, r)
	ctx, agent := r.agent()
	var s streamed
	resp, err := llm.GenerateContent(ctx, []llms.MessageContent{llms.TextParts(llms.ChatMessageTypeHuman, "Write a sentence about a fox")}, llms.WithStreamingFunc(s.fn))
	if err != nil {
		t.Fatal(err)
	}
	if want := "The quick brown fox jumps over the lazy dog."; s.text() != want || resp.Choices[0].Content != want {
		t.Errorf("SDK streamed %q, content %q", s.text(), resp.Choices[0].Content)
	}
	g := oneGen(t, r, agent)
	checkGen(t, g, want{
		name:   "generate_content gemini-2.0-flash",
		prompt: 10, completion: 12, total: 22,
		meta:   map[string]any{"gen_ai.provider.name": "gcp.gemini", "gen_ai.response.id": "arr5LaNvgJ7qUxN8P3tCBwAQ"},
		output: []string{"The quick brown fox jumps over the lazy dog."},
		stream: true,
		file:   "-",
	})
	r.checkBytes(t, whole)
}

func TestLangchainGoogleAIHTTPError(t *testing.T) {
	t.Parallel()
	r := newRig(t, routes(t, route{"POST", "/v1beta/models/gemini-2.0-flash:generateContent", jsonReply(t, 400, "gemini/error_400.json")}))
	llm := lcGoogleAI(t, r)
	ctx, agent := r.agent()
	_, err := llm.GenerateContent(ctx, []llms.MessageContent{llms.TextParts(llms.ChatMessageTypeHuman, "Hi")})
	if err == nil {
		t.Fatal("no SDK error")
	}
	g := oneGen(t, r, agent)
	checkGen(t, g, want{name: "generate_content gemini-2.0-flash", err: "API key not valid", meta: map[string]any{"error.type": "INVALID_ARGUMENT"}, file: "-"})
	r.checkBytes(t, whole)
}

// Anthropic's legacy Text Completions API (POST /v1/complete), which
// langchaingo still offers, is not a format the transport reads: it passes
// through unrecorded and unchanged.
func TestLangchainUnrecognisedTraffic(t *testing.T) {
	t.Parallel()
	r := newRig(t, routes(t, route{"POST", "/v1/complete", jsonReply(t, 200, "anthropic/complete.json")}))
	llm, err := anthropic.New(anthropic.WithToken("sk-ant-test"), anthropic.WithBaseURL(r.URL+"/v1"), anthropic.WithHTTPClient(r.client),
		anthropic.WithModel("claude-2.1"), anthropic.WithLegacyTextCompletionsAPI())
	if err != nil {
		t.Fatal(err)
	}
	ctx, agent := r.agent()
	resp, err := llm.GenerateContent(ctx, []llms.MessageContent{llms.TextParts(llms.ChatMessageTypeHuman, "Hello")})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Choices[0].Content != " Hello! My name is Claude." {
		t.Errorf("SDK content %q", resp.Choices[0].Content)
	}
	noGen(t, r, agent)
	r.checkBytes(t, whole)
}
