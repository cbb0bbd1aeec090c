package fluxloopllm_test

import (
	"fmt"
	"strings"
	"testing"
)

const chatRequest = `{"messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Hello!"}],"model":"gpt-4o-mini","temperature":0.2,"max_completion_tokens":100,"top_p":0.9,"seed":7,"stop":["END"],"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}]}`

func TestChatCompletions(t *testing.T) {
	t.Parallel()
	_, g := run(t, "http://api.openai.com/v1/chat/completions", chatRequest, jsonReply(t, 200, "openai_chat.json"))
	if g.Name != "chat gpt-4o-mini" {
		t.Errorf("name %q", g.Name)
	}
	wantUsage(t, g, "gpt-4.1-2025-04-14", 19, 10)
	wantJSON(t, "input", g.Input, chatRequest)
	wantJSON(t, "output", g.Output, `{"role":"assistant","content":"Hello! How can I assist you today?","finish_reason":"stop"}`)
	wantMeta(t, g, map[string]any{
		"gen_ai.provider.name":                     "openai",
		"gen_ai.operation.name":                    "chat",
		"gen_ai.request.model":                     "gpt-4o-mini",
		"gen_ai.request.temperature":               0.2,
		"gen_ai.request.max_tokens":                100,
		"gen_ai.request.top_p":                     0.9,
		"gen_ai.request.seed":                      7,
		"gen_ai.request.stop_sequences":            []string{"END"},
		"gen_ai.response.id":                       "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
		"gen_ai.response.model":                    "gpt-4.1-2025-04-14",
		"gen_ai.response.finish_reasons":           []string{"stop"},
		"gen_ai.usage.input_tokens":                19,
		"gen_ai.usage.output_tokens":               10,
		"gen_ai.usage.cache_read.input_tokens":     0,
		"gen_ai.usage.reasoning.output_tokens":     0,
		"server.address":                           "api.openai.com",
		"server.port":                              80,
		"http.response.status_code":                200,
		"fluxloop.llm.stream":                      nil,
		"gen_ai.response.time_to_first_chunk":      nil,
		"fluxloop.llm.stream_incomplete":           nil,
		"gen_ai.usage.cache_creation.input_tokens": nil,
	})
	if g.Error != "" || g.Level != "info" {
		t.Errorf("error %q level %q", g.Error, g.Level)
	}
	md := meta(t, g)
	if f, _ := md["code.filepath"].(string); !strings.HasSuffix(f, "helpers_test.go") {
		t.Errorf("code.filepath %q, want the caller of http.Client.Do (helpers_test.go)", f)
	}
}

func TestChatCompletionsStream(t *testing.T) {
	t.Parallel()
	req := `{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Hi"}]}`
	for _, piece := range []int{0, 1, 7} {
		rep := sse(t, "openai_chat_stream.sse")
		rep.piece = piece
		_, g := run(t, "https://api.openai.com/v1/chat/completions", req, rep)
		wantUsage(t, g, "gpt-4o-mini-2024-07-18", 19, 10)
		wantJSON(t, "output", g.Output, `{"role":"assistant","content":"Hello! Café \"au lait\"\n — how can I help?","finish_reason":"stop"}`)
		wantMeta(t, g, map[string]any{
			"fluxloop.llm.stream":            true,
			"gen_ai.response.id":             "chatcmpl-AyPZxvYGy1Yy2wHz7jJ9cUy6LrTRp",
			"gen_ai.response.finish_reasons": []string{"stop"},
			"gen_ai.usage.input_tokens":      19,
			"server.port":                    443,
			"fluxloop.llm.stream_incomplete": nil,
			"fluxloop.llm.usage_missing":     nil,
		})
		md := meta(t, g)
		if v, ok := md["gen_ai.response.time_to_first_chunk"].(float64); !ok || v <= 0 || v > 10 {
			t.Errorf("time_to_first_chunk %v", md["gen_ai.response.time_to_first_chunk"])
		}
		if v, ok := md["fluxloop.llm.time_to_first_content"].(float64); !ok || v <= 0 {
			t.Errorf("time_to_first_token %v", md["fluxloop.llm.time_to_first_content"])
		}
	}
}

func TestChatCompletionsStreamToolCalls(t *testing.T) {
	t.Parallel()
	for _, piece := range []int{0, 3} {
		rep := sse(t, "openai_chat_tools_stream.sse")
		rep.piece = piece
		_, g := run(t, "https://api.openai.com/v1/chat/completions", `{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"messages":[]}`, rep)
		wantUsage(t, g, "gpt-4o-2024-08-06", 82, 49)
		wantJSON(t, "output", g.Output, `{"role":"assistant","tool_calls":[
			{"id":"call_DdmO9pD3xa9XTPNJ32zg2hcA","name":"get_weather","arguments":{"location":"Paris, France"}},
			{"id":"call_2ZhqZ3kLzQmH8Yg6g4p7Qw2a","name":"get_time","arguments":{"tz":"Europe/Paris"}}],
			"finish_reason":"tool_calls"}`)
		wantMeta(t, g, map[string]any{
			"gen_ai.response.finish_reasons":       []string{"tool_calls"},
			"gen_ai.usage.cache_read.input_tokens": 64,
		})
	}
}

func TestChatCompletionsStreamWithoutUsage(t *testing.T) {
	t.Parallel()
	_, g := run(t, "http://localhost:11434/v1/chat/completions", `{"model":"llama3.2","stream":true,"messages":[]}`, sse(t, "openai_chat_stream_nousage.sse"))
	wantUsage(t, g, "gpt-4o-mini-2024-07-18", 0, 0)
	wantMeta(t, g, map[string]any{
		"gen_ai.provider.name":           "ollama",
		"fluxloop.llm.usage_missing":     true,
		"gen_ai.usage.input_tokens":      nil,
		"fluxloop.llm.stream_incomplete": nil,
	})
	wantJSON(t, "output", g.Output, `{"role":"assistant","content":"Hi","finish_reason":"stop"}`)
}

func TestResponses(t *testing.T) {
	t.Parallel()
	req := `{"model":"gpt-4.1","input":"Tell me a three sentence bedtime story about a unicorn.","max_output_tokens":200}`
	_, g := run(t, "https://api.openai.com/v1/responses", req, jsonReply(t, 200, "openai_responses.json"))
	wantUsage(t, g, "gpt-4.1-2025-04-14", 36, 87)
	wantJSON(t, "input", g.Input, req)
	wantJSON(t, "output", g.Output, `{"role":"assistant","content":"In a peaceful grove beneath a silver moon, a unicorn named Lumina discovered a hidden pool that reflected the stars."}`)
	wantMeta(t, g, map[string]any{
		"gen_ai.operation.name":          "chat",
		"gen_ai.request.max_tokens":      200,
		"gen_ai.response.id":             "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b",
		"gen_ai.response.finish_reasons": []string{"completed"},
	})
}

func TestResponsesStream(t *testing.T) {
	t.Parallel()
	_, g := run(t, "https://api.openai.com/v1/responses", `{"model":"o4-mini","input":"hi","stream":true,"reasoning":{"effort":"low","summary":"auto"}}`, sse(t, "openai_responses_stream.sse"))
	wantUsage(t, g, "o4-mini-2025-04-16", 75, 150)
	wantJSON(t, "output", g.Output, `{"role":"assistant","content":"Hi there!","reasoning":"**Answering a greeting**"}`)
	wantMeta(t, g, map[string]any{
		"gen_ai.response.id":                   "resp_68af4030592c81938ec0a5fbab4a3e9f05438e46b5f69a3b",
		"gen_ai.usage.cache_read.input_tokens": 64,
		"gen_ai.usage.reasoning.output_tokens": 128,
		"openai.request.reasoning_effort":      "low",
		"gen_ai.response.finish_reasons":       []string{"completed"},
		"fluxloop.llm.stream_incomplete":       nil,
	})
}

func TestResponsesStreamToolCalls(t *testing.T) {
	t.Parallel()
	rep := sse(t, "openai_responses_tools_stream.sse")
	rep.piece = 5
	_, g := run(t, "https://api.openai.com/v1/responses", `{"model":"gpt-4.1","input":"weather?","stream":true}`, rep)
	wantUsage(t, g, "gpt-4.1-2025-04-14", 291, 23)
	wantJSON(t, "output", g.Output, `{"role":"assistant","tool_calls":[{"id":"call_zXHh4KmYv2nT3bgEE7Ps0Pvy","name":"get_weather","arguments":{"location":"Paris, France"}}]}`)
}

func TestEmbeddings(t *testing.T) {
	t.Parallel()
	body := embeddingsBody(3, 1536)
	_, g := run(t, "https://api.openai.com/v1/embeddings", `{"model":"text-embedding-3-small","input":["a","b","c"],"encoding_format":"float"}`,
		reply{ctype: "application/json", body: body})
	if g.Name != "embeddings text-embedding-3-small" {
		t.Errorf("name %q", g.Name)
	}
	wantUsage(t, g, "text-embedding-3-small", 8, 0)
	wantJSON(t, "output", g.Output, `{"embeddings":3,"dimensions":1536}`)
	wantMeta(t, g, map[string]any{
		"gen_ai.operation.name":             "embeddings",
		"gen_ai.embeddings.dimension.count": 1536,
		"gen_ai.request.encoding_formats":   []string{"float"},
		"gen_ai.usage.input_tokens":         8,
	})
}

func TestAzureDeployment(t *testing.T) {
	t.Parallel()
	_, g := run(t, "https://myres.openai.azure.com/openai/deployments/prod-gpt4o/chat/completions?api-version=2024-10-21",
		`{"messages":[{"role":"user","content":"Hello!"}]}`, jsonReply(t, 200, "openai_chat.json"))
	if g.Name != "chat prod-gpt4o" {
		t.Errorf("name %q", g.Name)
	}
	wantMeta(t, g, map[string]any{
		"gen_ai.provider.name": "azure.ai.openai",
		"gen_ai.request.model": "prod-gpt4o",
		"server.address":       "myres.openai.azure.com",
	})
}

func TestProviderFromHost(t *testing.T) {
	t.Parallel()
	for host, want := range map[string]string{
		"https://openrouter.ai/api/v1/chat/completions":   "openrouter",
		"https://api.groq.com/openai/v1/chat/completions": "groq",
		"http://localhost:11434/v1/chat/completions":      "ollama",
		"http://127.0.0.1:11434/v1/chat/completions":      "ollama",
		"http://vllm.internal:8000/v1/chat/completions":   "openai",
		"https://api.deepseek.com/chat/completions":       "deepseek",
		"https://api.mistral.ai/v1/chat/completions":      "mistral_ai",
		"https://api.x.ai/v1/chat/completions":            "x_ai",
		"https://gateway.example.com/v1/chat/completions": "openai",
	} {
		_, g := run(t, host, `{"model":"m","messages":[]}`, jsonReply(t, 200, "openai_chat.json"))
		wantMeta(t, g, map[string]any{"gen_ai.provider.name": want})
	}
}

const anthropicRequest = `{"model":"claude-sonnet-4-5","max_tokens":1024,"system":"Be brief.","messages":[{"role":"user","content":"What's the weather in SF?"}],"tools":[{"name":"get_weather","input_schema":{"type":"object"}}],"temperature":0.5,"top_k":40}`

func TestAnthropic(t *testing.T) {
	t.Parallel()
	_, g := run(t, "https://api.anthropic.com/v1/messages", anthropicRequest, jsonReply(t, 200, "anthropic.json"))
	if g.Name != "chat claude-sonnet-4-5" {
		t.Errorf("name %q", g.Name)
	}
	// input_tokens excludes the cache: the recorded input tokens include it
	wantUsage(t, g, "claude-sonnet-4-5-20250929", 2095+1800, 503)
	wantJSON(t, "input", g.Input, anthropicRequest)
	wantJSON(t, "output", g.Output, `{"role":"assistant","content":"I'll check the weather.","tool_calls":[{"id":"toolu_01A09q90qw90lq917835lq9","name":"get_weather","arguments":{"location":"San Francisco, CA","unit":"celsius"}}],"finish_reason":"tool_use"}`)
	wantMeta(t, g, map[string]any{
		"gen_ai.provider.name":                     "anthropic",
		"gen_ai.request.max_tokens":                1024,
		"gen_ai.request.temperature":               0.5,
		"gen_ai.request.top_k":                     40,
		"gen_ai.response.id":                       "msg_013Zva2CMHLNnXjNJJKqJ2EF",
		"gen_ai.response.finish_reasons":           []string{"tool_use"},
		"gen_ai.usage.input_tokens":                3895,
		"gen_ai.usage.cache_read.input_tokens":     1800,
		"gen_ai.usage.cache_creation.input_tokens": 0,
	})
}

func TestAnthropicStreamToolUse(t *testing.T) {
	t.Parallel()
	for _, piece := range []int{0, 11} {
		rep := sse(t, "anthropic_tools_stream.sse")
		rep.piece = piece
		_, g := run(t, "https://api.anthropic.com/v1/messages", `{"model":"claude-opus-4-1","max_tokens":1024,"stream":true,"messages":[]}`, rep)
		wantUsage(t, g, "claude-opus-4-1-20250805", 472, 89)
		wantJSON(t, "output", g.Output, `{"role":"assistant","content":"Okay, let's check the weather for San Francisco, CA:","tool_calls":[{"id":"toolu_01T1x1fJ34qAmk2tNTrN7Up6","name":"get_weather","arguments":{"location":"San Francisco, CA","unit":"fahrenheit"}}],"finish_reason":"tool_use"}`)
		wantMeta(t, g, map[string]any{
			"gen_ai.response.id":             "msg_014p7gG3wDgGV9EUtLvnow3U",
			"gen_ai.usage.output_tokens":     89,
			"fluxloop.llm.stream_incomplete": nil,
		})
	}
}

func TestAnthropicStreamThinkingAndCache(t *testing.T) {
	t.Parallel()
	_, g := run(t, "https://api.anthropic.com/v1/messages", `{"model":"claude-sonnet-4-5","max_tokens":2048,"stream":true,"thinking":{"type":"enabled","budget_tokens":1024},"messages":[]}`, sse(t, "anthropic_thinking_stream.sse"))
	wantUsage(t, g, "claude-sonnet-4-5-20250929", 12+2048, 180)
	wantJSON(t, "output", g.Output, `{"role":"assistant","content":"The GCD is 21.","reasoning":"I need to find the GCD of 1071 and 462.\n\n1071 = 2 × 462 + 147","finish_reason":"end_turn"}`)
	wantMeta(t, g, map[string]any{
		"gen_ai.usage.cache_creation.input_tokens": 2048,
		"gen_ai.usage.cache_read.input_tokens":     0,
		"anthropic.request.thinking.budget_tokens": 1024,
	})
}

func TestVertexAnthropic(t *testing.T) {
	t.Parallel()
	_, g := run(t, "https://us-east5-aiplatform.googleapis.com/v1/projects/p/locations/us-east5/publishers/anthropic/models/claude-sonnet-4-5@20250929:streamRawPredict",
		`{"anthropic_version":"vertex-2023-10-16","max_tokens":1024,"stream":true,"messages":[]}`, sse(t, "anthropic_tools_stream.sse"))
	if g.Name != "chat claude-sonnet-4-5@20250929" {
		t.Errorf("name %q", g.Name)
	}
	wantUsage(t, g, "claude-opus-4-1-20250805", 472, 89)
	wantMeta(t, g, map[string]any{"gen_ai.provider.name": "gcp.vertex_ai", "fluxloop.llm.stream": true})
}

const geminiRequest = `{"contents":[{"role":"user","parts":[{"text":"Explain how AI works in a few words"}]}],"systemInstruction":{"parts":[{"text":"Be brief."}]},"generationConfig":{"temperature":0.1,"topP":0.95,"topK":20,"maxOutputTokens":256,"stopSequences":["x"],"candidateCount":1}}`

func TestGemini(t *testing.T) {
	t.Parallel()
	_, g := run(t, "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent", geminiRequest, jsonReply(t, 200, "gemini.json"))
	if g.Name != "generate_content gemini-2.5-flash" {
		t.Errorf("name %q", g.Name)
	}
	// thoughts are billed as output: output = candidates + thoughts
	wantUsage(t, g, "gemini-2.5-flash", 8, 11+1026)
	wantJSON(t, "input", g.Input, geminiRequest)
	wantJSON(t, "output", g.Output, `{"role":"model","content":"AI learns patterns from data to make predictions or decisions.","finish_reason":"STOP"}`)
	wantMeta(t, g, map[string]any{
		"gen_ai.provider.name":                 "gcp.gemini",
		"gen_ai.operation.name":                "generate_content",
		"gen_ai.request.model":                 "gemini-2.5-flash",
		"gen_ai.request.temperature":           0.1,
		"gen_ai.request.top_p":                 0.95,
		"gen_ai.request.top_k":                 20,
		"gen_ai.request.max_tokens":            256,
		"gen_ai.request.stop_sequences":        []string{"x"},
		"gen_ai.request.choice.count":          1,
		"gen_ai.response.id":                   "lwq4aPq5E6Gg1dkP7fO-0Qk",
		"gen_ai.usage.reasoning.output_tokens": 1026,
		"gen_ai.response.finish_reasons":       []string{"STOP"},
	})
}

const geminiStreamOutput = `{"role":"model","content":"Roses are red,\nviolets are blue","tool_calls":[{"name":"get_weather","arguments":{"city":"Paris","unit":"celsius"}}],"finish_reason":"STOP"}`

func TestGeminiStreamSSE(t *testing.T) {
	t.Parallel()
	for _, piece := range []int{0, 1, 13} {
		rep := sse(t, "gemini_stream.sse")
		rep.piece = piece
		_, g := run(t, "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse", geminiRequest, rep)
		wantUsage(t, g, "gemini-2.0-flash", 9, 24)
		wantJSON(t, "output", g.Output, geminiStreamOutput)
		wantMeta(t, g, map[string]any{
			"fluxloop.llm.stream":                  true,
			"gen_ai.usage.cache_read.input_tokens": 4,
			"gen_ai.response.id":                   "uw-4aJ6NL9Ky1dkPlM-04Ak",
			"fluxloop.llm.stream_incomplete":       nil,
		})
	}
}

func TestGeminiStreamJSONArray(t *testing.T) {
	t.Parallel()
	for _, piece := range []int{0, 1, 64} {
		rep := jsonReply(t, 200, "gemini_stream_array.json")
		rep.piece = piece
		_, g := run(t, "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:streamGenerateContent", geminiRequest, rep)
		wantUsage(t, g, "gemini-2.0-flash", 9, 24)
		wantJSON(t, "output", g.Output, geminiStreamOutput)
		wantMeta(t, g, map[string]any{"fluxloop.llm.stream": true, "fluxloop.llm.stream_incomplete": nil})
	}
}

func TestVertexGemini(t *testing.T) {
	t.Parallel()
	_, g := run(t, "https://us-central1-aiplatform.googleapis.com/v1/projects/my-proj/locations/us-central1/publishers/google/models/gemini-2.0-flash-001:streamGenerateContent?alt=sse", geminiRequest, sse(t, "gemini_stream.sse"))
	if g.Name != "generate_content gemini-2.0-flash-001" {
		t.Errorf("name %q", g.Name)
	}
	wantUsage(t, g, "gemini-2.0-flash", 9, 24)
	wantMeta(t, g, map[string]any{"gen_ai.provider.name": "gcp.vertex_ai", "gen_ai.request.model": "gemini-2.0-flash-001"})
}

// TestSamples logs one streaming observation per provider (go test -v -run TestSamples).
func TestSamples(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ url, req, fix string }{
		{"https://api.openai.com/v1/chat/completions", `{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Weather in Paris, and the time?"}],"tools":[{"type":"function","function":{"name":"get_weather"}},{"type":"function","function":{"name":"get_time"}}]}`, "openai_chat_tools_stream.sse"},
		{"https://api.openai.com/v1/responses", `{"model":"o4-mini","input":"hi","stream":true,"reasoning":{"effort":"low","summary":"auto"}}`, "openai_responses_stream.sse"},
		{"https://api.anthropic.com/v1/messages", `{"model":"claude-opus-4-1","max_tokens":1024,"stream":true,"messages":[{"role":"user","content":"What's the weather in SF?"}],"tools":[{"name":"get_weather","input_schema":{"type":"object"}}]}`, "anthropic_tools_stream.sse"},
		{"https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse", `{"contents":[{"role":"user","parts":[{"text":"A poem, then the weather in Paris"}]}],"generationConfig":{"temperature":0.1}}`, "gemini_stream.sse"},
	} {
		_, g := run(t, c.url, c.req, sse(t, c.fix))
		t.Logf("%s", dump(g))
	}
}

// REST clients generated from the protos (generative-ai-go, aiplatform's
// REST transport) ask for enum-encoding=int: the enums are numbers, named
// by the Gemini API's or Vertex AI's proto, which differ from 6 on.
func TestGeminiFinishReasonNumbers(t *testing.T) {
	t.Parallel()
	const gemini = "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:generateContent?%24alt=json%3Benum-encoding%3Dint"
	const vertex = "https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/us-central1/publishers/google/models/gemini-2.0-flash:generateContent?%24alt=json%3Benum-encoding%3Dint"
	for _, c := range []struct {
		url    string
		number int
		want   string
	}{
		{gemini, 1, "STOP"},
		{gemini, 2, "MAX_TOKENS"},
		{gemini, 6, "LANGUAGE"},
		{gemini, 10, "MALFORMED_FUNCTION_CALL"},
		{gemini, 11, "IMAGE_SAFETY"},
		{gemini, 17, "IMAGE_RECITATION"},
		{gemini, 99, "99"}, // a newer one: as it is
		{vertex, 1, "STOP"},
		{vertex, 6, "BLOCKLIST"},
		{vertex, 9, "MALFORMED_FUNCTION_CALL"},
		{vertex, 10, "MODEL_ARMOR"},
	} {
		body := fmt.Sprintf(`{"candidates":[{"content":{"parts":[{"text":"Hi"}],"role":"model"},"finishReason":%d,"index":0}],"usageMetadata":{"promptTokenCount":8,"candidatesTokenCount":1,"totalTokenCount":9},"modelVersion":"gemini-2.0-flash","responseId":"int-1"}`, c.number)
		_, g := run(t, c.url, geminiRequest, reply{ctype: "application/json", body: []byte(body)})
		wantMeta(t, g, map[string]any{"gen_ai.response.finish_reasons": []string{c.want}})
		wantJSON(t, "output", g.Output, `{"role":"model","content":"Hi","finish_reason":"`+c.want+`"}`)
	}
}

// A Vertex AI path names Vertex AI whatever the host (a proxy, a private
// endpoint, a test server); the model is the path's last element.
func TestVertexPathOnOtherHost(t *testing.T) {
	t.Parallel()
	for url, want := range map[string]string{
		"https://llm-proxy.internal/v1beta1/projects/my-project/locations/us-central1/publishers/google/models/gemini-2.0-flash:generateContent": "gcp.vertex_ai",
		"http://127.0.0.1:8080/v1/publishers/google/models/gemini-2.0-flash:generateContent":                                                     "gcp.vertex_ai", // express mode
		"https://llm-proxy.internal/v1beta/models/gemini-2.0-flash:generateContent":                                                              "gcp.gemini",
	} {
		_, g := run(t, url, geminiRequest, jsonReply(t, 200, "gemini.json"))
		if g.Name != "generate_content gemini-2.0-flash" {
			t.Errorf("%s: name %q", url, g.Name)
		}
		wantMeta(t, g, map[string]any{"gen_ai.provider.name": want, "gen_ai.request.model": "gemini-2.0-flash"})
	}
	_, g := run(t, "https://llm-proxy.internal/v1/projects/p/locations/us-east5/publishers/anthropic/models/claude-sonnet-4-5@20250929:rawPredict",
		`{"anthropic_version":"vertex-2023-10-16","max_tokens":1024,"messages":[]}`, jsonReply(t, 200, "anthropic.json"))
	wantMeta(t, g, map[string]any{"gen_ai.provider.name": "gcp.vertex_ai", "gen_ai.request.model": "claude-sonnet-4-5@20250929"})
}

// Only a terminal status is a finish reason: in_progress (a stream's
// response.created, before an error event ends it) and queued are not.
func TestResponsesFinishReasonTerminalOnly(t *testing.T) {
	t.Parallel()
	_, g := run(t, "https://api.openai.com/v1/responses", `{"model":"m","stream":true}`, sse(t, "openai_responses_stream_error.sse"))
	wantMeta(t, g, map[string]any{"gen_ai.response.finish_reasons": nil, "error.type": "server_error"})
	for status, want := range map[string]any{
		`"status":"in_progress"`: nil,
		`"status":"queued"`:      nil,
		`"status":"completed"`:   []string{"completed"},
		`"status":"failed"`:      []string{"failed"},
		`"status":"cancelled"`:   []string{"cancelled"},
		`"status":"incomplete","incomplete_details":{"reason":"max_output_tokens"}`: []string{"max_output_tokens"},
		`"status":"incomplete","incomplete_details":null`:                           []string{"incomplete"},
	} {
		body := `{"id":"resp_1","object":"response",` + status + `,"model":"gpt-4.1","output":[],"usage":null}`
		_, g := run(t, "https://api.openai.com/v1/responses", `{"model":"gpt-4.1","input":"hi","background":true}`, reply{ctype: "application/json", body: []byte(body)})
		wantMeta(t, g, map[string]any{"gen_ai.response.finish_reasons": want})
	}
}
