package fluxloopllm

import (
	"encoding/json"
	"testing"
)

var microChunk = []byte(`{"id":"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG","object":"chat.completion.chunk","created":1741570283,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_06737a9306","choices":[{"index":0,"delta":{"content":" word"},"logprobs":null,"finish_reason":null}]}`)

func BenchmarkChatChunk(b *testing.B) {
	c := &call{keepText: true, left: 1 << 30, r: route{api: apiChat}, stream: true}
	for b.Loop() {
		c.chatChunk(microChunk)
		if len(c.choices[0].text.b) > 1<<20 {
			c.choices[0].text.b = c.choices[0].text.b[:0]
		}
	}
}

func BenchmarkSkip(b *testing.B) {
	for b.Loop() {
		skipValue(microChunk, 0)
	}
}

func BenchmarkSSE(b *testing.B) {
	ev := append(append([]byte("data: "), microChunk...), "\n\n"...)
	p := &sseParser{data: docBuf{limit: 1 << 16}, onEvent: func(e, d []byte) {}}
	for b.Loop() {
		p.write(ev)
	}
}

func BenchmarkUnmarshalChunk(b *testing.B) {
	type chunk struct {
		ID      string `json:"id"`
		Model   string `json:"model"`
		Choices []struct {
			Delta struct {
				Content string `json:"content"`
			} `json:"delta"`
			FinishReason *string `json:"finish_reason"`
		} `json:"choices"`
	}
	for b.Loop() {
		var v chunk
		json.Unmarshal(microChunk, &v)
	}
}

func BenchmarkChatEvent(b *testing.B) {
	c := &call{keepText: true, left: 1 << 30, r: route{api: apiChat}, stream: true}
	for b.Loop() {
		c.event(nil, microChunk)
		if len(c.choices[0].text.b) > 1<<20 {
			c.choices[0].text.b = c.choices[0].text.b[:0]
			c.left = 1 << 30
		}
	}
}
