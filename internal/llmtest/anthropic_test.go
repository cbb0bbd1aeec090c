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

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"
)

// Tests of github.com/anthropics/anthropic-sdk-go/v2 through fluxloopllm.

func anthropicClient(r *rig, opts ...option.RequestOption) anthropic.Client {
	return anthropic.NewClient(append([]option.RequestOption{
		option.WithBaseURL(r.URL + "/"),
		option.WithAPIKey("sk-ant-test"),
		option.WithHTTPClient(r.client),
		option.WithMaxRetries(0),
	}, opts...)...)
}

func messageParams(user string) anthropic.MessageNewParams {
	return anthropic.MessageNewParams{
		Model:     "claude-sonnet-4-5",
		MaxTokens: 1024,
		System:    []anthropic.TextBlockParam{{Text: "You are a concise assistant."}},
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(user))},
	}
}

func anthropicMeta(r *rig, respID string, finish ...string) map[string]any {
	m := map[string]any{
		"gen_ai.provider.name":  "anthropic",
		"gen_ai.operation.name": "chat",
		"gen_ai.request.model":  "claude-sonnet-4-5",
		"gen_ai.response.id":    respID,
		"server.address":        serverAddress(r.Server),
	}
	if len(finish) > 0 {
		m["gen_ai.response.finish_reasons"] = finish
	}
	return m
}

var claudeModels = []string{"claude-sonnet-4-5", "claude-sonnet-4-5-20250929"}

// Anthropic's input_tokens leaves out the cached tokens; the recorded input
// tokens include them (95 + 200 written + 1800 read).
func TestAnthropicMessage(t *testing.T) {
	t.Parallel()
	r := newRig(t, routes(t, route{"POST", "/v1/messages", jsonReply(t, 200, "anthropic/messages.json")}))
	client := anthropicClient(r)
	ctx, agent := r.agent()
	msg, err := client.Messages.New(ctx, messageParams("Hello, who are you?"))
	if err != nil {
		t.Fatal(err)
	}
	if len(msg.Content) != 1 || msg.Content[0].Text != "Hi! My name is Claude." {
		t.Errorf("SDK content %+v", msg.Content)
	}
	if msg.RawJSON() != strings.TrimSpace(string(fixture(t, "anthropic/messages.json"))) {
		t.Errorf("SDK raw JSON differs from the fixture:\n%s", msg.RawJSON())
	}
	g := oneGen(t, r, agent)
	meta := anthropicMeta(r, "msg_013Zva2CMHLNnXjNJJKqJ2EF", "end_turn")
	meta["gen_ai.usage.input_tokens"] = 2095
	meta["gen_ai.usage.output_tokens"] = 503
	meta["gen_ai.usage.cache_read.input_tokens"] = 1800
	meta["gen_ai.usage.cache_creation.input_tokens"] = 200
	meta["gen_ai.response.model"] = "claude-sonnet-4-5-20250929"
	checkGen(t, g, want{
		name:   "chat claude-sonnet-4-5",
		models: claudeModels,
		prompt: 2095, completion: 503, total: 2598,
		meta:   meta,
		input:  []string{"You are a concise assistant.", "Hello, who are you?"},
		output: []string{"Hi! My name is Claude."},
	})
	r.checkBytes(t, whole)
}

func TestAnthropicToolUse(t *testing.T) {
	t.Parallel()
	r := newRig(t, routes(t, route{"POST", "/v1/messages", jsonReply(t, 200, "anthropic/messages_tool.json")}))
	client := anthropicClient(r)
	ctx, agent := r.agent()
	p := messageParams("What's the weather like in San Francisco?")
	p.Tools = []anthropic.ToolUnionParam{{OfTool: &anthropic.ToolParam{
		Name:        "get_weather",
		Description: anthropic.String("Get the current weather in a given location"),
		InputSchema: anthropic.ToolInputSchemaParam{Properties: map[string]any{"location": map[string]any{"type": "string"}}},
	}}}
	msg, err := client.Messages.New(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(msg.Content) != 2 || msg.Content[1].Name != "get_weather" {
		t.Errorf("SDK content %+v", msg.Content)
	}
	g := oneGen(t, r, agent)
	checkGen(t, g, want{
		name:   "chat claude-sonnet-4-5",
		models: claudeModels,
		prompt: 384, completion: 92, total: 476,
		meta:   anthropicMeta(r, "msg_01Aq9w938a90dw8q", "tool_use"),
		input:  []string{"weather like in San Francisco"},
		output: []string{"I'll check the current weather", "get_weather", "toolu_01A09q90qw90lq917835lq9"},
	})
	toolCallArgs(t, g.Output, map[string]string{"get_weather": `{"location": "San Francisco, CA", "unit": "celsius"}`})
	r.checkBytes(t, whole)
}

func TestAnthropicStream(t *testing.T) {
	t.Parallel()
	rep := sse(t, "anthropic/messages_stream.sse")
	rep.firstDelay = 50 * time.Millisecond
	r := newRig(t, routes(t, route{"POST", "/v1/messages", rep}))
	client := anthropicClient(r)
	ctx, agent := r.agent()
	stream := client.Messages.NewStreaming(ctx, messageParams("Hello"))
	var msg anthropic.Message
	for stream.Next() {
		if err := msg.Accumulate(stream.Current()); err != nil {
			t.Fatal(err)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if len(msg.Content) != 1 || msg.Content[0].Text != "Hello! How can I help?" || msg.Usage.OutputTokens != 15 {
		t.Errorf("SDK accumulated %+v usage %+v", msg.Content, msg.Usage)
	}
	g := oneGen(t, r, agent)
	meta := anthropicMeta(r, "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY", "end_turn")
	meta["gen_ai.usage.input_tokens"] = 35
	meta["gen_ai.usage.output_tokens"] = 15
	meta["gen_ai.usage.cache_read.input_tokens"] = 10
	checkGen(t, g, want{
		name:   "chat claude-sonnet-4-5",
		models: claudeModels,
		prompt: 35, completion: 15, total: 50,
		meta:              meta,
		input:             []string{"Hello"},
		output:            []string{"Hello! How can I help?"},
		stream:            true,
		firstChunkAtLeast: 50 * time.Millisecond,
	})
	r.checkBytes(t, whole)
}

// A streamed tool use: the input arrives as input_json_delta fragments, after
// a thinking block and a text block.
func TestAnthropicStreamToolUse(t *testing.T) {
	t.Parallel()
	r := newRig(t, routes(t, route{"POST", "/v1/messages", sse(t, "anthropic/messages_stream_tools.sse")}))
	client := anthropicClient(r)
	ctx, agent := r.agent()
	stream := client.Messages.NewStreaming(ctx, messageParams("What's the weather like in San Francisco?"))
	var msg anthropic.Message
	for stream.Next() {
		if err := msg.Accumulate(stream.Current()); err != nil {
			t.Fatal(err)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if len(msg.Content) != 3 || string(msg.Content[2].Input) != `{"location": "San Francisco, CA", "unit": "fahrenheit"}` {
		t.Errorf("SDK accumulated %+v", msg.Content)
	}
	g := oneGen(t, r, agent)
	checkGen(t, g, want{
		name:   "chat claude-sonnet-4-5",
		models: claudeModels,
		prompt: 472, completion: 89, total: 561,
		meta:   anthropicMeta(r, "msg_014p7gG3wDgGV9EUtLvnow3U", "tool_use"),
		output: []string{"Okay, let's check the weather", "get_weather", "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "I should call get_weather."},
		stream: true,
	})
	toolCallArgs(t, g.Output, map[string]string{"get_weather": `{"location": "San Francisco, CA", "unit": "fahrenheit"}`})
	r.checkBytes(t, whole)
}

func TestAnthropicStreamErrorEvent(t *testing.T) {
	t.Parallel()
	r := newRig(t, routes(t, route{"POST", "/v1/messages", sse(t, "anthropic/messages_stream_error.sse")}))
	client := anthropicClient(r)
	ctx, agent := r.agent()
	stream := client.Messages.NewStreaming(ctx, messageParams("Hello"))
	for stream.Next() {
	}
	if err := stream.Err(); err == nil || !strings.Contains(err.Error(), "Overloaded") {
		t.Fatalf("SDK error %v, want the stream's error event", err)
	}
	stream.Close()
	g := oneGen(t, r, agent)
	checkGen(t, g, want{
		name:   "chat claude-sonnet-4-5",
		models: claudeModels,
		prompt: 25, completion: 1, total: 26,
		output: []string{"Partial"},
		err:    "Overloaded",
		stream: true,
	})
	r.checkBytes(t, whole)
}

func TestAnthropicHTTPError(t *testing.T) {
	t.Parallel()
	r := newRig(t, routes(t, route{"POST", "/v1/messages", jsonReply(t, 400, "anthropic/error_400.json")}))
	client := anthropicClient(r)
	ctx, agent := r.agent()
	p := messageParams("Hello")
	p.MaxTokens = 100000
	_, err := client.Messages.New(ctx, p, option.WithRequestTimeout(time.Minute))
	var apiErr *anthropic.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 {
		t.Fatalf("SDK error %v, want the API's 400", err)
	}
	g := oneGen(t, r, agent)
	checkGen(t, g, want{
		name:  "chat claude-sonnet-4-5",
		meta:  map[string]any{"gen_ai.provider.name": "anthropic", "gen_ai.request.model": "claude-sonnet-4-5", "gen_ai.request.max_tokens": 100000},
		input: []string{"Hello"},
		err:   "max_tokens: 100000 > 64000",
	})
	r.checkBytes(t, whole)
}

// A 529 on a streaming request: the error body is JSON, not a stream.
func TestAnthropicStreamHTTPError(t *testing.T) {
	t.Parallel()
	r := newRig(t, routes(t, route{"POST", "/v1/messages", jsonReply(t, 529, "anthropic/error_529.json")}))
	client := anthropicClient(r)
	ctx, agent := r.agent()
	stream := client.Messages.NewStreaming(ctx, messageParams("Hello"))
	for stream.Next() {
	}
	var apiErr *anthropic.Error
	if err := stream.Err(); !errors.As(err, &apiErr) || apiErr.StatusCode != 529 {
		t.Fatalf("SDK error %v, want the API's 529", err)
	}
	stream.Close()
	g := oneGen(t, r, agent)
	checkGen(t, g, want{name: "chat claude-sonnet-4-5", err: "Overloaded"})
	r.checkBytes(t, whole)
}

func TestAnthropicStreamEarlyClose(t *testing.T) {
	t.Parallel()
	rep := sse(t, "anthropic/messages_stream.sse")
	rep.hangAfter = 4 // message_start, content_block_start, ping, "Hello"
	r := newRig(t, routes(t, route{"POST", "/v1/messages", rep}))
	client := anthropicClient(r)
	ctx, agent := r.agent()
	stream := client.Messages.NewStreaming(ctx, messageParams("Hello"))
	for i := 0; i < 3; i++ { // ping is not delivered
		if !stream.Next() {
			t.Fatalf("stream ended early: %v", stream.Err())
		}
	}
	if ev := stream.Current(); ev.Type != "content_block_delta" || ev.Delta.Text != "Hello" {
		t.Errorf("third event %+v", ev)
	}
	if err := stream.Close(); err != nil {
		t.Fatal(err)
	}
	g := oneGen(t, r, agent)
	checkGen(t, g, want{name: "chat claude-sonnet-4-5", prompt: 35, completion: 1, total: 36, output: []string{"Hello"}, stream: true, anyErr: true})
	r.checkBytes(t, prefix)
}

func TestAnthropicStreamCancel(t *testing.T) {
	t.Parallel()
	rep := sse(t, "anthropic/messages_stream.sse")
	rep.hangAfter = 4
	r := newRig(t, routes(t, route{"POST", "/v1/messages", rep}))
	client := anthropicClient(r)
	actx, agent := r.agent()
	ctx, cancel := context.WithCancel(actx)
	stream := client.Messages.NewStreaming(ctx, messageParams("Hello"))
	for i := 0; i < 3; i++ {
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
	checkGen(t, g, want{name: "chat claude-sonnet-4-5", prompt: 35, completion: 1, total: 36, output: []string{"Hello"}, err: "context canceled", stream: true})
	r.checkBytes(t, prefix)
}

func TestAnthropicConcurrent(t *testing.T) {
	t.Parallel()
	r := newRig(t, func(req *http.Request, body []byte) reply {
		if strings.Contains(string(body), `"stream":true`) {
			return sse(t, "anthropic/messages_stream_concurrent.sse")
		}
		return jsonReply(t, 200, "anthropic/messages_concurrent.json")
	})
	client := anthropicClient(r)
	ctx, agent := r.agent()
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			p := messageParams(fmt.Sprintf("question call-%d", i))
			var got string
			if i%2 == 0 {
				msg, err := client.Messages.New(ctx, p)
				if err != nil {
					t.Error(err)
					return
				}
				got = msg.Content[0].Text
			} else {
				stream := client.Messages.NewStreaming(ctx, p)
				var msg anthropic.Message
				for stream.Next() {
					msg.Accumulate(stream.Current())
				}
				if err := stream.Err(); err != nil {
					t.Error(err)
					return
				}
				got = msg.Content[0].Text
			}
			if want := fmt.Sprintf("answer to call-%d", i); got != want {
				t.Errorf("call %d: SDK got %q", i, got)
			}
		})
	}
	wg.Wait()
	agent.End()
	checkConcurrent(t, r, "chat claude-sonnet-4-5", 100, func(i int) bool { return i%2 == 1 }, "")
	r.checkBytes(t, whole)
}

func TestAnthropicUnrecognisedTraffic(t *testing.T) {
	t.Parallel()
	r := newRig(t, routes(t, route{"GET", "/v1/models", jsonReply(t, 200, "anthropic/models.json")}))
	client := anthropicClient(r)
	ctx, agent := r.agent()
	page, err := client.Models.List(ctx, anthropic.ModelListParams{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Data) != 1 || page.Data[0].ID != "claude-sonnet-4-5-20250929" {
		t.Errorf("SDK models %+v", page.Data)
	}
	noGen(t, r, agent)
	r.checkBytes(t, whole)
}
