package llmtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"

	goopenai "github.com/sashabaranov/go-openai"

	"github.com/fluxloop/fluxloop-go/runtime/fluxloopllm"
)

// Tests of github.com/sashabaranov/go-openai through fluxloopllm.

func goopenaiClient(r *rig) *goopenai.Client {
	cfg := goopenai.DefaultConfig("sk-test")
	cfg.BaseURL = r.URL + "/v1"
	cfg.HTTPClient = r.client
	return goopenai.NewClientWithConfig(cfg)
}

func goopenaiChat(model, user string) goopenai.ChatCompletionRequest {
	return goopenai.ChatCompletionRequest{
		Model: model,
		Messages: []goopenai.ChatCompletionMessage{
			{Role: goopenai.ChatMessageRoleSystem, Content: "You are a helpful assistant."},
			{Role: goopenai.ChatMessageRoleUser, Content: user},
		},
	}
}

// goopenaiRecv reads a chat stream to its end, accumulating content and tool
// calls by index.
func goopenaiRecv(t testing.TB, stream *goopenai.ChatCompletionStream) (string, []goopenai.ToolCall, *goopenai.Usage, error) {
	t.Helper()
	var text strings.Builder
	var calls []goopenai.ToolCall
	var usage *goopenai.Usage
	for {
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return text.String(), calls, usage, nil
		}
		if err != nil {
			return text.String(), calls, usage, err
		}
		if chunk.Usage != nil {
			usage = chunk.Usage
		}
		if len(chunk.Choices) == 0 {
			continue
		}
		d := chunk.Choices[0].Delta
		text.WriteString(d.Content)
		for _, tc := range d.ToolCalls {
			i := *tc.Index
			for len(calls) <= i {
				calls = append(calls, goopenai.ToolCall{})
			}
			if tc.ID != "" {
				calls[i].ID = tc.ID
			}
			if tc.Function.Name != "" {
				calls[i].Function.Name = tc.Function.Name
			}
			calls[i].Function.Arguments += tc.Function.Arguments
		}
	}
}

func TestGoOpenAIChat(t *testing.T) {
	t.Parallel()
	r := newRig(t, routes(t, route{"POST", "/v1/chat/completions", jsonReply(t, 200, "openai/chat.json")}))
	client := goopenaiClient(r)
	ctx, agent := r.agent()
	resp, err := client.CreateChatCompletion(ctx, goopenaiChat("gpt-4o", "Say hello"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Choices[0].Message.Content != "Hello! How can I assist you today?" || resp.Usage.PromptTokensDetails.CachedTokens != 8 {
		t.Errorf("SDK response %+v", resp)
	}
	g := oneGen(t, r, agent)
	meta := openaiMeta(r, "gpt-4o", "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT", "stop")
	meta["gen_ai.usage.cache_read.input_tokens"] = 8
	meta["gen_ai.usage.reasoning.output_tokens"] = 4
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

func TestGoOpenAIChatStream(t *testing.T) {
	t.Parallel()
	r := newRig(t, routes(t, route{"POST", "/v1/chat/completions", sse(t, "openai/chat_stream.sse")}))
	client := goopenaiClient(r)
	ctx, agent := r.agent()
	req := goopenaiChat("gpt-4o-mini", "Say hello")
	req.StreamOptions = &goopenai.StreamOptions{IncludeUsage: true}
	stream, err := client.CreateChatCompletionStream(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	text, _, usage, err := goopenaiRecv(t, stream)
	if err != nil {
		t.Fatal(err)
	}
	stream.Close()
	if text != "Hello! How can I help?" || usage == nil || usage.TotalTokens != 21 {
		t.Errorf("SDK text %q usage %+v", text, usage)
	}
	g := oneGen(t, r, agent)
	meta := openaiMeta(r, "gpt-4o-mini", "chatcmpl-123", "stop")
	meta["gen_ai.usage.cache_read.input_tokens"] = 3
	meta["gen_ai.usage.reasoning.output_tokens"] = 2
	checkGen(t, g, want{
		name:   "chat gpt-4o-mini",
		prompt: 9, completion: 12, total: 21,
		meta:   meta,
		output: []string{"Hello! How can I help?"},
		stream: true,
	})
	r.checkBytes(t, whole)
}

// go-openai does not ask for usage when streaming; WithIncludeUsage makes
// the transport ask, and the only bytes it changes are the request's
// stream_options.
func TestGoOpenAIChatStreamIncludeUsage(t *testing.T) {
	t.Parallel()
	r := newRig(t, func(req *http.Request, body []byte) reply {
		if strings.Contains(string(body), `"include_usage":true`) {
			return sse(t, "openai/chat_stream.sse")
		}
		return sse(t, "openai/chat_stream_nousage.sse")
	}, fluxloopllm.WithIncludeUsage())
	client := goopenaiClient(r)
	ctx, agent := r.agent()
	stream, err := client.CreateChatCompletionStream(ctx, goopenaiChat("gpt-4o-mini", "Say hello"))
	if err != nil {
		t.Fatal(err)
	}
	text, _, usage, err := goopenaiRecv(t, stream)
	if err != nil {
		t.Fatal(err)
	}
	stream.Close()
	if text != "Hello! How can I help?" || usage == nil {
		t.Errorf("SDK text %q usage %+v", text, usage)
	}
	g := oneGen(t, r, agent)
	checkGen(t, g, want{
		name:   "chat gpt-4o-mini",
		prompt: 9, completion: 12, total: 21,
		meta:   map[string]any{"fluxloop.llm.include_usage_injected": true},
		output: []string{"Hello! How can I help?"},
		stream: true,
	})
	// The request: what the SDK sent plus stream_options.include_usage.
	c := r.tee.Calls()[0]
	ex := r.exchanges()[0]
	var sent, got map[string]any
	if err := json.Unmarshal(c.ReqBody, &sent); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(ex.reqBody, &got); err != nil {
		t.Fatalf("the server got a request body that is not JSON: %v\n%s", err, ex.reqBody)
	}
	if _, ok := sent["stream_options"]; ok {
		t.Fatalf("go-openai sent stream_options itself: %s", c.ReqBody)
	}
	sent["stream_options"] = map[string]any{"include_usage": true}
	if !reflect.DeepEqual(sent, got) {
		t.Errorf("request changed beyond include_usage:\nSDK sent   %s\nserver got %s", c.ReqBody, ex.reqBody)
	}
	if st := c.State(); string(st.Read) != string(fixture(t, "openai/chat_stream.sse")) {
		t.Errorf("the SDK read other bytes than the server wrote:\n%q", st.Read)
	}
}

func TestGoOpenAIChatStreamToolCalls(t *testing.T) {
	t.Parallel()
	r := newRig(t, routes(t, route{"POST", "/v1/chat/completions", sse(t, "openai/chat_stream_tools.sse")}))
	client := goopenaiClient(r)
	ctx, agent := r.agent()
	req := goopenaiChat("gpt-4o", "Weather and time in Paris?")
	req.StreamOptions = &goopenai.StreamOptions{IncludeUsage: true}
	req.Tools = []goopenai.Tool{{Type: goopenai.ToolTypeFunction, Function: &goopenai.FunctionDefinition{
		Name:       "get_weather",
		Parameters: json.RawMessage(`{"type":"object","properties":{"location":{"type":"string"}}}`),
	}}}
	stream, err := client.CreateChatCompletionStream(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	_, calls, _, err := goopenaiRecv(t, stream)
	if err != nil {
		t.Fatal(err)
	}
	stream.Close()
	if len(calls) != 2 || calls[0].Function.Arguments != `{"location": "Paris"}` || calls[1].Function.Arguments != `{"tz": "CET"}` {
		t.Errorf("SDK tool calls %+v", calls)
	}
	g := oneGen(t, r, agent)
	checkGen(t, g, want{
		name:   "chat gpt-4o",
		prompt: 78, completion: 40, total: 118,
		meta:   openaiMeta(r, "gpt-4o", "chatcmpl-789", "tool_calls"),
		output: []string{"call_DdmO9pD3xa9XTPNJ32zg2hcA", "call_8fTQ6pLwzwCb2o4tTt1GAbz5"},
		stream: true,
	})
	toolCallArgs(t, g.Output, map[string]string{"get_weather": `{"location": "Paris"}`, "get_time": `{"tz": "CET"}`})
	r.checkBytes(t, whole)
}

func TestGoOpenAIChatStreamErrorEvent(t *testing.T) {
	t.Parallel()
	r := newRig(t, routes(t, route{"POST", "/v1/chat/completions", sse(t, "openai/chat_stream_error.sse")}))
	client := goopenaiClient(r)
	ctx, agent := r.agent()
	stream, err := client.CreateChatCompletionStream(ctx, goopenaiChat("gpt-4o-mini", "Say hello"))
	if err != nil {
		t.Fatal(err)
	}
	text, _, _, err := goopenaiRecv(t, stream)
	var apiErr *goopenai.APIError
	if !errors.As(err, &apiErr) || apiErr.Type != "server_error" {
		t.Fatalf("SDK error %v, want the stream's error event", err)
	}
	stream.Close()
	if text != "Partial" {
		t.Errorf("SDK text %q", text)
	}
	g := oneGen(t, r, agent)
	checkGen(t, g, want{
		name:   "chat gpt-4o-mini",
		output: []string{"Partial"},
		err:    "The server had an error while processing your request",
		meta:   map[string]any{"error.type": "server_error"},
		stream: true,
	})
	r.checkBytes(t, whole)
}

func TestGoOpenAIHTTPError(t *testing.T) {
	t.Parallel()
	r := newRig(t, routes(t, route{"POST", "/v1/chat/completions", jsonReply(t, 429, "openai/error_429.json")}))
	client := goopenaiClient(r)
	ctx, agent := r.agent()
	_, err := client.CreateChatCompletion(ctx, goopenaiChat("gpt-4o", "Say hello"))
	var apiErr *goopenai.APIError
	if !errors.As(err, &apiErr) || apiErr.HTTPStatusCode != 429 {
		t.Fatalf("SDK error %v, want the API's 429", err)
	}
	g := oneGen(t, r, agent)
	checkGen(t, g, want{
		name:  "chat gpt-4o",
		meta:  map[string]any{"http.response.status_code": 429},
		input: []string{"Say hello"},
		err:   "Rate limit reached for gpt-4o",
	})
	r.checkBytes(t, whole)
}

func TestGoOpenAIEmbeddings(t *testing.T) {
	t.Parallel()
	r := newRig(t, routes(t, route{"POST", "/v1/embeddings", jsonReply(t, 200, "openai/embeddings.json")}))
	client := goopenaiClient(r)
	ctx, agent := r.agent()
	resp, err := client.CreateEmbeddings(ctx, goopenai.EmbeddingRequest{
		Model: goopenai.SmallEmbedding3,
		Input: []string{"The food was delicious and the waiter..."},
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
		prompt: 8, total: 8,
		meta:  map[string]any{"gen_ai.operation.name": "embeddings", "gen_ai.usage.input_tokens": 8},
		input: []string{"The food was delicious"},
	})
	r.checkBytes(t, whole)
}

func TestGoOpenAIResponses(t *testing.T) {
	t.Parallel()
	r := newRig(t, routes(t, route{"POST", "/v1/responses", jsonReply(t, 200, "openai/responses.json")}))
	client := goopenaiClient(r)
	ctx, agent := r.agent()
	resp, err := client.CreateResponse(ctx, goopenai.CreateResponseRequest{Model: "gpt-4.1", Input: "What is the weather in Paris?"})
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.GetOutputText(); got != "Let me check the weather in Paris." {
		t.Errorf("SDK output text %q", got)
	}
	g := oneGen(t, r, agent)
	checkGen(t, g, want{
		name:   "chat gpt-4.1",
		prompt: 36, completion: 87, total: 123,
		meta:   map[string]any{"gen_ai.usage.cache_read.input_tokens": 12, "gen_ai.usage.reasoning.output_tokens": 64},
		input:  []string{"What is the weather in Paris?"},
		output: []string{"Let me check the weather in Paris.", "get_weather"},
	})
	r.checkBytes(t, whole)
}

func TestGoOpenAIResponsesStream(t *testing.T) {
	t.Parallel()
	r := newRig(t, routes(t, route{"POST", "/v1/responses", sse(t, "openai/responses_stream_tools.sse")}))
	client := goopenaiClient(r)
	ctx, agent := r.agent()
	stream, err := client.CreateResponseStream(ctx, goopenai.CreateResponseRequest{Model: "gpt-4.1", Input: "Weather in Paris?"})
	if err != nil {
		t.Fatal(err)
	}
	var args strings.Builder
	for {
		ev, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if ev.Type == "response.function_call_arguments.delta" {
			args.WriteString(ev.Delta)
		}
	}
	stream.Close()
	if args.String() != `{"location":"Paris, France"}` {
		t.Errorf("SDK arguments %q", args.String())
	}
	g := oneGen(t, r, agent)
	checkGen(t, g, want{
		name:   "chat gpt-4.1",
		prompt: 57, completion: 18, total: 75,
		output: []string{"get_weather"},
		stream: true,
	})
	toolCallArgs(t, g.Output, map[string]string{"get_weather": `{"location":"Paris, France"}`})
	r.checkBytes(t, whole)
}

func TestGoOpenAIChatStreamEarlyClose(t *testing.T) {
	t.Parallel()
	rep := sse(t, "openai/chat_stream.sse")
	rep.hangAfter = 2
	r := newRig(t, routes(t, route{"POST", "/v1/chat/completions", rep}))
	client := goopenaiClient(r)
	ctx, agent := r.agent()
	stream, err := client.CreateChatCompletionStream(ctx, goopenaiChat("gpt-4o", "Say hello"))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if _, err := stream.Recv(); err != nil {
			t.Fatal(err)
		}
	}
	stream.Close()
	g := oneGen(t, r, agent)
	checkGen(t, g, want{name: "chat gpt-4o", output: []string{"Hello"}, stream: true, anyErr: true})
	r.checkBytes(t, prefix)
}

func TestGoOpenAIChatStreamCancel(t *testing.T) {
	t.Parallel()
	rep := sse(t, "openai/chat_stream.sse")
	rep.hangAfter = 2
	r := newRig(t, routes(t, route{"POST", "/v1/chat/completions", rep}))
	client := goopenaiClient(r)
	actx, agent := r.agent()
	ctx, cancel := context.WithCancel(actx)
	stream, err := client.CreateChatCompletionStream(ctx, goopenaiChat("gpt-4o", "Say hello"))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if _, err := stream.Recv(); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	if _, err := stream.Recv(); !errors.Is(err, context.Canceled) {
		t.Errorf("SDK error %v, want context.Canceled", err)
	}
	stream.Close()
	g := oneGen(t, r, agent)
	checkGen(t, g, want{name: "chat gpt-4o", output: []string{"Hello"}, err: "context canceled", stream: true})
	r.checkBytes(t, prefix)
}

func TestGoOpenAIConcurrent(t *testing.T) {
	t.Parallel()
	r := newRig(t, func(req *http.Request, body []byte) reply {
		if strings.Contains(string(body), `"stream":true`) {
			return sse(t, "openai/chat_stream_concurrent.sse")
		}
		return jsonReply(t, 200, "openai/chat_concurrent.json")
	})
	client := goopenaiClient(r)
	ctx, agent := r.agent()
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			req := goopenaiChat("gpt-4o-mini", fmt.Sprintf("question call-%d", i))
			var got string
			if i%2 == 0 {
				resp, err := client.CreateChatCompletion(ctx, req)
				if err != nil {
					t.Error(err)
					return
				}
				got = resp.Choices[0].Message.Content
			} else {
				req.StreamOptions = &goopenai.StreamOptions{IncludeUsage: true}
				stream, err := client.CreateChatCompletionStream(ctx, req)
				if err != nil {
					t.Error(err)
					return
				}
				got, _, _, err = goopenaiRecv(t, stream)
				stream.Close()
				if err != nil {
					t.Error(err)
					return
				}
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

// Azure OpenAI: the deployment is in the path, with an api-version query.
func TestGoOpenAIAzure(t *testing.T) {
	t.Parallel()
	r := newRig(t, routes(t, route{"POST", "/openai/deployments/my-gpt4o/chat/completions", jsonReply(t, 200, "openai/chat.json")}))
	cfg := goopenai.DefaultAzureConfig("azure-key", r.URL)
	cfg.HTTPClient = r.client
	cfg.AzureModelMapperFunc = func(string) string { return "my-gpt4o" }
	client := goopenai.NewClientWithConfig(cfg)
	ctx, agent := r.agent()
	if _, err := client.CreateChatCompletion(ctx, goopenaiChat("gpt-4o", "Say hello")); err != nil {
		t.Fatal(err)
	}
	if q := r.exchanges()[0].rawQuery; !strings.HasPrefix(q, "api-version=") {
		t.Errorf("query %q", q)
	}
	g := oneGen(t, r, agent)
	checkGen(t, g, want{name: "chat gpt-4o", prompt: 19, completion: 10, total: 29, output: []string{"Hello!"}})
	r.checkBytes(t, whole)
}

// An OpenAI-compatible server the transport does not know, named with
// WithProvider.
func TestGoOpenAICompatibleProvider(t *testing.T) {
	t.Parallel()
	r := newRigFor(t, routes(t, route{"POST", "/v1/chat/completions", sse(t, "openai/chat_stream.sse")}),
		func(hostport string) []fluxloopllm.Option {
			return []fluxloopllm.Option{fluxloopllm.WithProvider(hostport, "vllm")}
		})
	client := goopenaiClient(r)
	ctx, agent := r.agent()
	req := goopenaiChat("meta-llama/Llama-3.1-8B-Instruct", "Say hello")
	req.StreamOptions = &goopenai.StreamOptions{IncludeUsage: true}
	stream, err := client.CreateChatCompletionStream(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := goopenaiRecv(t, stream); err != nil {
		t.Fatal(err)
	}
	stream.Close()
	g := oneGen(t, r, agent)
	checkGen(t, g, want{
		name:   "chat meta-llama/Llama-3.1-8B-Instruct",
		prompt: 9, completion: 12, total: 21,
		meta:   map[string]any{"gen_ai.provider.name": "vllm", "gen_ai.request.model": "meta-llama/Llama-3.1-8B-Instruct"},
		stream: true,
	})
	r.checkBytes(t, whole)
}

func TestGoOpenAIUnrecognisedTraffic(t *testing.T) {
	t.Parallel()
	r := newRig(t, routes(t, route{"GET", "/v1/models", jsonReply(t, 200, "openai/models.json")}))
	client := goopenaiClient(r)
	ctx, agent := r.agent()
	models, err := client.ListModels(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(models.Models) != 3 {
		t.Errorf("SDK models %+v", models.Models)
	}
	noGen(t, r, agent)
	r.checkBytes(t, whole)
}
