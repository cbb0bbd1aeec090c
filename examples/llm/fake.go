package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// fakeAnswer is what the fake server streams, a word at a time.
const fakeAnswer = "Go is good at networked services and command-line tools: " +
	"goroutines and channels make concurrent code simple, and it compiles to a single fast binary."

// fakeOpenAI is an OpenAI-compatible Chat Completions server that streams
// fakeAnswer as server-sent events, ending with a usage chunk when the
// request asks for it (stream_options.include_usage), as the API does.
func fakeOpenAI() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Model    string `json:"model"`
			Stream   bool   `json:"stream"`
			Messages []struct {
				Content string `json:"content"`
			} `json:"messages"`
			StreamOptions struct {
				IncludeUsage bool `json:"include_usage"`
			} `json:"stream_options"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || !req.Stream {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":{"message":"this fake server only streams","type":"invalid_request_error","param":null,"code":null}}`)
			return
		}
		prompt := 0
		for _, m := range req.Messages {
			prompt += len(strings.Fields(m.Content)) + 4
		}
		w.Header().Set("Content-Type", "text/event-stream")
		flusher, _ := w.(http.Flusher)
		const id = "chatcmpl-fake0001"
		send := func(chunk map[string]any) {
			chunk["id"], chunk["object"], chunk["created"], chunk["model"] = id, "chat.completion.chunk", time.Now().Unix(), req.Model
			b, _ := json.Marshal(chunk)
			fmt.Fprintf(w, "data: %s\n\n", b)
			if flusher != nil {
				flusher.Flush()
			}
		}
		delta := func(d map[string]any, finish any) map[string]any {
			return map[string]any{"choices": []any{map[string]any{"index": 0, "delta": d, "finish_reason": finish}}}
		}
		send(delta(map[string]any{"role": "assistant", "content": ""}, nil))
		words := strings.SplitAfter(fakeAnswer, " ")
		for _, word := range words {
			select {
			case <-time.After(25 * time.Millisecond):
			case <-r.Context().Done():
				return
			}
			send(delta(map[string]any{"content": word}, nil))
		}
		send(delta(map[string]any{}, "stop"))
		if req.StreamOptions.IncludeUsage {
			send(map[string]any{"choices": []any{}, "usage": map[string]any{
				"prompt_tokens": prompt, "completion_tokens": len(words), "total_tokens": prompt + len(words),
			}})
		}
		fmt.Fprint(w, "data: [DONE]\n\n")
	})
	return mux
}
