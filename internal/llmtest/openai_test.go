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
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
	"github.com/openai/openai-go/v3/shared"
)

// Tests of github.com/openai/openai-go/v3 through fluxloopllm.

func openaiClient(r *rig, opts ...option.RequestOption) openai.Client {
	return openai.NewClient(append([]option.RequestOption{
		option.WithBaseURL(r.URL + "/v1/"),
		option.WithAPIKey("sk-test"),
		option.WithHTTPClient(r.client),
		option.WithMaxRetries(0),
	}, opts...)...)
}

func chatParams(user string) openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{
		Model: "gpt-4o",
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.SystemMessage("You are a helpful assistant."),
			openai.UserMessage(user),
		},
	}
}

func weatherTool() openai.ChatCompletionToolUnionParam {
	return openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
		Name:        "get_weather",
		Description: openai.String("Get the weather at a location"),
		Parameters: shared.FunctionParameters{
			"type":       "object",
			"properties": map[string]any{"location": map[string]any{"type": "string"}},
			"required":   []string{"location"},
		},
	})
}

func openaiMeta(srv *rig, model, respID string, finish ...string) map[string]any {
	m := map[string]any{
		"gen_ai.provider.name":      "openai",
		"gen_ai.operation.name":     "chat",
		"gen_ai.request.model":      model,
		"gen_ai.response.id":        respID,
		"server.address":            serverAddress(srv.Server),
		"gen_ai.usage.input_tokens": positive{},
	}
	if len(finish) > 0 {
		m["gen_ai.response.finish_reasons"] = finish
	}
	return m
}

func TestOpenAIChat(t *testing.T) {
	t.Parallel()
	r := newRig(t, routes(t, route{"POST", "/v1/chat/completions", jsonReply(t, 200, "openai/chat.json")}))
	client := openaiClient(r)
	ctx, agent := r.agent()
	resp, err := client.Chat.Completions.New(ctx, chatParams("Say hello"))
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Choices[0].Message.Content; got != "Hello! How can I assist you today?" {
		t.Errorf("SDK content %q", got)
	}
	if resp.RawJSON() != strings.TrimSpace(string(fixture(t, "openai/chat.json"))) {
		t.Errorf("SDK raw JSON differs from the fixture:\n%s", resp.RawJSON())
	}
	g := oneGen(t, r, agent)
	meta := openaiMeta(r, "gpt-4o", "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT", "stop")
	meta["gen_ai.usage.input_tokens"] = 19
	meta["gen_ai.usage.output_tokens"] = 10
	meta["gen_ai.usage.cache_read.input_tokens"] = 8
	meta["gen_ai.usage.reasoning.output_tokens"] = 4
	meta["gen_ai.response.model"] = "gpt-4o-2024-08-06"
	checkGen(t, g, want{
		name:   "chat gpt-4o",
		models: []string{"gpt-4o", "gpt-4o-2024-08-06"},
		prompt: 19, completion: 10, total: 29,
		meta:   meta,
		input:  []string{"You are a helpful assistant.", "Say hello"},
		output: []string{"Hello! How can I assist you today?"},
	})
	r.checkBytes(t, whole)
}

func TestOpenAIChatToolCalls(t *testing.T) {
	t.Parallel()
	r := newRig(t, routes(t, route{"POST", "/v1/chat/completions", jsonReply(t, 200, "openai/chat_tools.json")}))
	client := openaiClient(r)
	ctx, agent := r.agent()
	p := chatParams("What's the weather like in Boston today?")
	p.Model = "gpt-4o-mini"
	p.Tools = []openai.ChatCompletionToolUnionParam{weatherTool()}
	resp, err := client.Chat.Completions.New(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if tc := resp.Choices[0].Message.ToolCalls; len(tc) != 1 || tc[0].Function.Name != "get_current_weather" {
		t.Errorf("SDK tool calls %+v", tc)
	}
	g := oneGen(t, r, agent)
	checkGen(t, g, want{
		name:   "chat gpt-4o-mini",
		models: []string{"gpt-4o-mini", "gpt-4o-mini-2024-07-18"},
		prompt: 82, completion: 17, total: 99,
		meta:   openaiMeta(r, "gpt-4o-mini", "chatcmpl-abc123", "tool_calls"),
		input:  []string{"weather like in Boston"},
		output: []string{"get_current_weather", "call_abc123", "Boston, MA"},
	})
	r.checkBytes(t, whole)
}

func TestOpenAIChatStream(t *testing.T) {
	t.Parallel()
	rep := sse(t, "openai/chat_stream.sse")
	rep.firstDelay = 50 * time.Millisecond
	r := newRig(t, routes(t, route{"POST", "/v1/chat/completions", rep}))
	client := openaiClient(r)
	ctx, agent := r.agent()
	p := chatParams("Say hello")
	p.Model = "gpt-4o-mini"
	p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	stream := client.Chat.Completions.NewStreaming(ctx, p)
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if got := acc.Choices[0].Message.Content; got != "Hello! How can I help?" {
		t.Errorf("SDK accumulated %q", got)
	}
	if acc.Usage.TotalTokens != 21 {
		t.Errorf("SDK usage %+v", acc.Usage)
	}
	g := oneGen(t, r, agent)
	meta := openaiMeta(r, "gpt-4o-mini", "chatcmpl-123", "stop")
	meta["gen_ai.usage.input_tokens"] = 9
	meta["gen_ai.usage.output_tokens"] = 12
	meta["gen_ai.usage.cache_read.input_tokens"] = 3
	meta["gen_ai.usage.reasoning.output_tokens"] = 2
	checkGen(t, g, want{
		name:   "chat gpt-4o-mini",
		models: []string{"gpt-4o-mini", "gpt-4o-mini-2024-07-18"},
		prompt: 9, completion: 12, total: 21,
		meta:              meta,
		input:             []string{"Say hello"},
		output:            []string{"Hello! How can I help?"},
		stream:            true,
		firstChunkAtLeast: 50 * time.Millisecond,
	})
	r.checkBytes(t, whole)
}

// Without stream_options.include_usage the API sends no usage at all: the
// observation has none, rather than zeros.
func TestOpenAIChatStreamWithoutUsage(t *testing.T) {
	t.Parallel()
	r := newRig(t, routes(t, route{"POST", "/v1/chat/completions", sse(t, "openai/chat_stream_nousage.sse")}))
	client := openaiClient(r)
	ctx, agent := r.agent()
	p := chatParams("Say hi")
	p.Model = "gpt-4o-mini"
	stream := client.Chat.Completions.NewStreaming(ctx, p)
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if got := acc.Choices[0].Message.Content; got != "Hi there" {
		t.Errorf("SDK accumulated %q", got)
	}
	g := oneGen(t, r, agent)
	meta := openaiMeta(r, "gpt-4o-mini", "chatcmpl-456", "length")
	delete(meta, "gen_ai.usage.input_tokens")
	checkGen(t, g, want{
		name:   "chat gpt-4o-mini",
		models: []string{"gpt-4o-mini", "gpt-4o-mini-2024-07-18"},
		meta:   meta,
		absent: []string{"gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens"},
		output: []string{"Hi there"},
		stream: true,
	})
	r.checkBytes(t, whole)
}

// Server-sent events with CRLF line ends, written in 7-byte pieces: lines,
// line ends and events are cut anywhere.
func TestOpenAIChatStreamCRLFSmallWrites(t *testing.T) {
	t.Parallel()
	rep := reply{
		contentType: "text/event-stream; charset=utf-8",
		body:        []byte(strings.ReplaceAll(string(fixture(t, "openai/chat_stream_tools.sse")), "\n", "\r\n")),
		chunkSize:   7,
	}
	r := newRig(t, routes(t, route{"POST", "/v1/chat/completions", rep}))
	client := openaiClient(r)
	ctx, agent := r.agent()
	p := chatParams("Weather and time in Paris?")
	p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	stream := client.Chat.Completions.NewStreaming(ctx, p)
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if tc := acc.Choices[0].Message.ToolCalls; len(tc) != 2 {
		t.Errorf("SDK accumulated tool calls %+v", tc)
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

func TestOpenAIChatStreamToolCalls(t *testing.T) {
	t.Parallel()
	r := newRig(t, routes(t, route{"POST", "/v1/chat/completions", sse(t, "openai/chat_stream_tools.sse")}))
	client := openaiClient(r)
	ctx, agent := r.agent()
	p := chatParams("Weather and time in Paris?")
	p.Tools = []openai.ChatCompletionToolUnionParam{weatherTool()}
	p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	stream := client.Chat.Completions.NewStreaming(ctx, p)
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	tc := acc.Choices[0].Message.ToolCalls
	if len(tc) != 2 || tc[0].Function.Arguments != `{"location": "Paris"}` || tc[1].Function.Arguments != `{"tz": "CET"}` {
		t.Errorf("SDK accumulated tool calls %+v", tc)
	}
	g := oneGen(t, r, agent)
	checkGen(t, g, want{
		name:   "chat gpt-4o",
		models: []string{"gpt-4o", "gpt-4o-2024-08-06"},
		prompt: 78, completion: 40, total: 118,
		meta:   openaiMeta(r, "gpt-4o", "chatcmpl-789", "tool_calls"),
		output: []string{"get_weather", "call_DdmO9pD3xa9XTPNJ32zg2hcA", "Paris", "get_time", "call_8fTQ6pLwzwCb2o4tTt1GAbz5", "CET"},
		stream: true,
	})
	toolCallArgs(t, g.Output, map[string]string{"get_weather": `{"location": "Paris"}`, "get_time": `{"tz": "CET"}`})
	r.checkBytes(t, whole)
}

func TestOpenAIChatStreamErrorEvent(t *testing.T) {
	t.Parallel()
	r := newRig(t, routes(t, route{"POST", "/v1/chat/completions", sse(t, "openai/chat_stream_error.sse")}))
	client := openaiClient(r)
	ctx, agent := r.agent()
	p := chatParams("Say hello")
	p.Model = "gpt-4o-mini"
	stream := client.Chat.Completions.NewStreaming(ctx, p)
	for stream.Next() {
	}
	if err := stream.Err(); err == nil || !strings.Contains(err.Error(), "The server had an error") {
		t.Fatalf("SDK error %v, want the stream's error event", err)
	}
	g := oneGen(t, r, agent)
	checkGen(t, g, want{
		name:   "chat gpt-4o-mini",
		models: []string{"gpt-4o-mini", "gpt-4o-mini-2024-07-18"},
		output: []string{"Partial"},
		err:    "The server had an error while processing your request",
		stream: true,
	})
	r.checkBytes(t, whole)
}

func TestOpenAIChatHTTPError(t *testing.T) {
	t.Parallel()
	r := newRig(t, routes(t, route{"POST", "/v1/chat/completions", jsonReply(t, 404, "openai/error_404.json")}))
	client := openaiClient(r)
	ctx, agent := r.agent()
	p := chatParams("Say hello")
	p.Model = "gpt-5-nonexistent"
	_, err := client.Chat.Completions.New(ctx, p)
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || apiErr.Code != "model_not_found" {
		t.Fatalf("SDK error %v, want the API's 404", err)
	}
	g := oneGen(t, r, agent)
	checkGen(t, g, want{
		name:  "chat gpt-5-nonexistent",
		meta:  map[string]any{"gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-5-nonexistent"},
		input: []string{"Say hello"},
		err:   "does not exist or you do not have access to it",
	})
	r.checkBytes(t, whole)
}

// The SDK retries inside its own loop, below which the transport sits: each
// attempt is a generation of its own.
func TestOpenAIChatRetry(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	r := newRig(t, func(*http.Request, []byte) reply {
		if n.Add(1) == 1 {
			rep := jsonReply(t, 429, "openai/error_429.json")
			rep.header = http.Header{"Retry-After-Ms": {"1"}}
			return rep
		}
		return jsonReply(t, 200, "openai/chat.json")
	})
	client := openaiClient(r, option.WithMaxRetries(1))
	ctx, agent := r.agent()
	if _, err := client.Chat.Completions.New(ctx, chatParams("Say hello")); err != nil {
		t.Fatal(err)
	}
	agent.End()
	gs := gens(r, r.rec.MustGet("agent").ID)
	if len(gs) != 2 {
		t.Fatalf("want two attempts, got:\n%s", r.rec.Tree())
	}
	// openai-go closes a retried attempt's body unread: the status is all
	// there is to record.
	checkGen(t, gs[0], want{name: "chat gpt-4o", err: "429", meta: map[string]any{"fluxloop.llm.attempt": 1, "http.response.status_code": 429}})
	checkGen(t, gs[1], want{name: "chat gpt-4o", prompt: 19, completion: 10, total: 29, output: []string{"Hello!"},
		meta: map[string]any{"fluxloop.llm.attempt": 2, "fluxloop.llm.previous_attempt_id": gs[0].ID}})
	r.checkBytes(t, prefix)
}

func TestOpenAIResponses(t *testing.T) {
	t.Parallel()
	r := newRig(t, routes(t, route{"POST", "/v1/responses", jsonReply(t, 200, "openai/responses.json")}))
	client := openaiClient(r)
	ctx, agent := r.agent()
	resp, err := client.Responses.New(ctx, responses.ResponseNewParams{
		Model:        "gpt-4.1",
		Instructions: openai.String("You are a weather bot."),
		Input:        responses.ResponseNewParamsInputUnion{OfString: openai.String("What is the weather in Paris?")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.OutputText(); got != "Let me check the weather in Paris." {
		t.Errorf("SDK output text %q", got)
	}
	g := oneGen(t, r, agent)
	meta := openaiMeta(r, "gpt-4.1", "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b")
	meta["gen_ai.usage.input_tokens"] = 36
	meta["gen_ai.usage.output_tokens"] = 87
	meta["gen_ai.usage.cache_read.input_tokens"] = 12
	meta["gen_ai.usage.reasoning.output_tokens"] = 64
	checkGen(t, g, want{
		name:   "chat gpt-4.1",
		models: []string{"gpt-4.1", "gpt-4.1-2025-04-14"},
		prompt: 36, completion: 87, total: 123,
		meta:   meta,
		input:  []string{"What is the weather in Paris?"},
		output: []string{"Let me check the weather in Paris.", "get_weather", "call_unLAR8MvFNptuiZK6K6HCy5k", "Paris, France"},
	})
	r.checkBytes(t, whole)
}

func TestOpenAIResponsesStream(t *testing.T) {
	t.Parallel()
	r := newRig(t, routes(t, route{"POST", "/v1/responses", sse(t, "openai/responses_stream.sse")}))
	client := openaiClient(r)
	ctx, agent := r.agent()
	stream := client.Responses.NewStreaming(ctx, responses.ResponseNewParams{
		Model: "gpt-4.1",
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Say hi")},
	})
	var text strings.Builder
	var final responses.Response
	for stream.Next() {
		ev := stream.Current()
		switch ev.Type {
		case "response.output_text.delta":
			text.WriteString(ev.Delta)
		case "response.completed":
			final = ev.Response
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if text.String() != "Hi there!" || final.Usage.TotalTokens != 48 {
		t.Errorf("SDK text %q usage %+v", text.String(), final.Usage)
	}
	g := oneGen(t, r, agent)
	meta := openaiMeta(r, "gpt-4.1", "resp_67c9fdcecf488190bdd9a0409de3a1ec07b8b0ad4e5eb654")
	meta["gen_ai.usage.input_tokens"] = 37
	meta["gen_ai.usage.output_tokens"] = 11
	checkGen(t, g, want{
		name:   "chat gpt-4.1",
		models: []string{"gpt-4.1", "gpt-4.1-2025-04-14"},
		prompt: 37, completion: 11, total: 48,
		meta:   meta,
		input:  []string{"Say hi"},
		output: []string{"Hi there!"},
		stream: true,
	})
	r.checkBytes(t, whole)
}

func TestOpenAIResponsesStreamToolCall(t *testing.T) {
	t.Parallel()
	r := newRig(t, routes(t, route{"POST", "/v1/responses", sse(t, "openai/responses_stream_tools.sse")}))
	client := openaiClient(r)
	ctx, agent := r.agent()
	stream := client.Responses.NewStreaming(ctx, responses.ResponseNewParams{
		Model: "gpt-4.1",
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Weather in Paris?")},
	})
	var args strings.Builder
	for stream.Next() {
		if ev := stream.Current(); ev.Type == "response.function_call_arguments.delta" {
			args.WriteString(ev.Delta)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if args.String() != `{"location":"Paris, France"}` {
		t.Errorf("SDK arguments %q", args.String())
	}
	g := oneGen(t, r, agent)
	checkGen(t, g, want{
		name:   "chat gpt-4.1",
		prompt: 57, completion: 18, total: 75,
		meta:   openaiMeta(r, "gpt-4.1", "resp_fc01"),
		output: []string{"get_weather", "call_1234xyz", "Paris, France"},
		stream: true,
	})
	toolCallArgs(t, g.Output, map[string]string{"get_weather": `{"location":"Paris, France"}`})
	r.checkBytes(t, whole)
}

// The Responses API reports a failure mid-stream as an "error" event, which
// openai-go hands to the caller as an event, not an error: the observation
// records it as its error all the same.
func TestOpenAIResponsesStreamErrorEvent(t *testing.T) {
	t.Parallel()
	r := newRig(t, routes(t, route{"POST", "/v1/responses", sse(t, "openai/responses_stream_error.sse")}))
	client := openaiClient(r)
	ctx, agent := r.agent()
	stream := client.Responses.NewStreaming(ctx, responses.ResponseNewParams{
		Model: "gpt-4.1",
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Say hi")},
	})
	sawError := false
	for stream.Next() {
		if stream.Current().Type == "error" {
			sawError = true
		}
	}
	if !sawError {
		t.Errorf("SDK did not deliver the error event (err %v)", stream.Err())
	}
	g := oneGen(t, r, agent)
	checkGen(t, g, want{
		name:   "chat gpt-4.1",
		err:    "The server had an error while processing your request.",
		stream: true,
	})
	r.checkBytes(t, whole)
}

// An error event ends a Responses stream that never reached a terminal
// status: the status of response.created ("in_progress") is no finish
// reason.
func TestOpenAIResponsesStreamErrorFinishReason(t *testing.T) {
	t.Parallel()
	r := newRig(t, routes(t, route{"POST", "/v1/responses", sse(t, "openai/responses_stream_error.sse")}))
	client := openaiClient(r)
	ctx, agent := r.agent()
	stream := client.Responses.NewStreaming(ctx, responses.ResponseNewParams{
		Model: "gpt-4.1",
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Say hi")},
	})
	for stream.Next() {
	}
	g := oneGen(t, r, agent)
	if fr, ok := normalise(t, g.Metadata)["gen_ai.response.finish_reasons"]; ok && strings.Contains(fmt.Sprint(fr), "in_progress") {
		t.Errorf("gen_ai.response.finish_reasons = %v after an error event: in_progress is the status of response.created, not how the response finished", fr)
	}
}

func TestOpenAIEmbeddings(t *testing.T) {
	t.Parallel()
	r := newRig(t, routes(t, route{"POST", "/v1/embeddings", jsonReply(t, 200, "openai/embeddings.json")}))
	client := openaiClient(r)
	ctx, agent := r.agent()
	resp, err := client.Embeddings.New(ctx, openai.EmbeddingNewParams{
		Model: "text-embedding-3-small",
		Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("The food was delicious and the waiter...")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Data) != 1 || len(resp.Data[0].Embedding) != 4 {
		t.Errorf("SDK embeddings %+v", resp.Data)
	}
	g := oneGen(t, r, agent)
	checkGen(t, g, want{
		name:   "embeddings text-embedding-3-small",
		models: []string{"text-embedding-3-small"},
		prompt: 8, total: 8,
		meta: map[string]any{
			"gen_ai.provider.name":      "openai",
			"gen_ai.operation.name":     "embeddings",
			"gen_ai.request.model":      "text-embedding-3-small",
			"gen_ai.usage.input_tokens": 8,
		},
		input: []string{"The food was delicious"},
	})
	r.checkBytes(t, whole)
}

// A consumer that stops reading and closes the stream ends the observation
// with what was delivered so far, without waiting for the server.
func TestOpenAIChatStreamEarlyClose(t *testing.T) {
	t.Parallel()
	rep := sse(t, "openai/chat_stream.sse")
	rep.hangAfter = 2
	r := newRig(t, routes(t, route{"POST", "/v1/chat/completions", rep}))
	client := openaiClient(r)
	ctx, agent := r.agent()
	stream := client.Chat.Completions.NewStreaming(ctx, chatParams("Say hello"))
	for i := 0; i < 2; i++ {
		if !stream.Next() {
			t.Fatalf("stream ended early: %v", stream.Err())
		}
	}
	if got := stream.Current().Choices[0].Delta.Content; got != "Hello" {
		t.Errorf("second chunk %q", got)
	}
	if err := stream.Close(); err != nil {
		t.Fatal(err)
	}
	g := oneGen(t, r, agent)
	checkGen(t, g, want{name: "chat gpt-4o", output: []string{"Hello"}, stream: true, anyErr: true})
	r.checkBytes(t, prefix)
}

// A cancelled context ends the stream and the observation, with the
// cancellation as its error.
func TestOpenAIChatStreamCancel(t *testing.T) {
	t.Parallel()
	rep := sse(t, "openai/chat_stream.sse")
	rep.hangAfter = 2
	r := newRig(t, routes(t, route{"POST", "/v1/chat/completions", rep}))
	client := openaiClient(r)
	actx, agent := r.agent()
	ctx, cancel := context.WithCancel(actx)
	stream := client.Chat.Completions.NewStreaming(ctx, chatParams("Say hello"))
	for i := 0; i < 2; i++ {
		if !stream.Next() {
			t.Fatalf("stream ended early: %v", stream.Err())
		}
	}
	cancel()
	if stream.Next() {
		t.Fatal("stream went on after cancel")
	}
	if err := stream.Err(); !errors.Is(err, context.Canceled) {
		t.Errorf("SDK error %v, want context.Canceled", err)
	}
	stream.Close()
	g := oneGen(t, r, agent)
	checkGen(t, g, want{name: "chat gpt-4o", output: []string{"Hello"}, err: "context canceled", stream: true})
	r.checkBytes(t, prefix)
}

// Cancelled before any response arrives: the round trip fails, and the
// observation records that.
func TestOpenAIChatCancelBeforeResponse(t *testing.T) {
	t.Parallel()
	block := make(chan struct{})
	r := newRig(t, func(req *http.Request, _ []byte) reply {
		close(block)
		<-req.Context().Done()
		return reply{status: 499}
	})
	client := openaiClient(r)
	actx, agent := r.agent()
	ctx, cancel := context.WithCancel(actx)
	go func() { <-block; cancel() }()
	_, err := client.Chat.Completions.New(ctx, chatParams("Say hello"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("SDK error %v, want context.Canceled", err)
	}
	g := oneGen(t, r, agent)
	checkGen(t, g, want{name: "chat gpt-4o", input: []string{"Say hello"}, err: "context canceled"})
}

// 100 calls from goroutines under one agent, half of them streamed: each is
// its own generation, a child of the agent, with its own reply and usage.
func TestOpenAIConcurrent(t *testing.T) {
	t.Parallel()
	r := newRig(t, func(req *http.Request, body []byte) reply {
		if strings.Contains(string(body), `"stream":true`) {
			return sse(t, "openai/chat_stream_concurrent.sse")
		}
		return jsonReply(t, 200, "openai/chat_concurrent.json")
	})
	client := openaiClient(r)
	ctx, agent := r.agent()
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			p := chatParams(fmt.Sprintf("question call-%d", i))
			p.Model = "gpt-4o-mini"
			var got string
			if i%2 == 0 {
				resp, err := client.Chat.Completions.New(ctx, p)
				if err != nil {
					t.Error(err)
					return
				}
				got = resp.Choices[0].Message.Content
			} else {
				p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
				stream := client.Chat.Completions.NewStreaming(ctx, p)
				var acc openai.ChatCompletionAccumulator
				for stream.Next() {
					acc.AddChunk(stream.Current())
				}
				if err := stream.Err(); err != nil {
					t.Error(err)
					return
				}
				got = acc.Choices[0].Message.Content
			}
			if want := fmt.Sprintf("answer to call-%d", i); got != want {
				t.Errorf("call %d: SDK got %q", i, got)
			}
		})
	}
	wg.Wait()
	agent.End()
	checkConcurrent(t, r, "chat gpt-4o-mini", 100, func(i int) bool { return i%2 == 1 }, "")
	r.checkBytes(t, whole)
}

func TestOpenAIUnrecognisedTraffic(t *testing.T) {
	t.Parallel()
	r := newRig(t, routes(t, route{"GET", "/v1/models", jsonReply(t, 200, "openai/models.json")}))
	client := openaiClient(r)
	ctx, agent := r.agent()
	page, err := client.Models.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Data) != 3 || page.Data[0].ID != "gpt-4o" {
		t.Errorf("SDK models %+v", page.Data)
	}
	noGen(t, r, agent)
	r.checkBytes(t, whole)
}
