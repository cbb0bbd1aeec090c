package fluxloopllm_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"github.com/fluxloop/fluxloop-go/runtime/fluxloopllm"
)

// An SDK given fluxloopllm's client records each call. Here a fake
// OpenAI-compatible server stands in for the provider and a plain POST for
// the SDK.
func Example() {
	body, _ := os.ReadFile("testdata/openai_chat.json")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	defer srv.Close()

	mem := fluxloop.NewMemoryStorage()
	rec, _ := fluxloop.NewClient(fluxloop.WithStorage(mem))
	ctx := fluxloop.ContextWithClient(context.Background(), rec)

	client := fluxloopllm.NewClient() // option.WithHTTPClient(client), cfg.HTTPClient = client, ...
	ctx, agent := fluxloop.Start(ctx, "answer", fluxloop.WithType(fluxloop.TypeAgent))
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/v1/chat/completions",
		strings.NewReader(`{"model":"gpt-4.1","messages":[{"role":"user","content":"Hello!"}]}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		panic(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	agent.End()
	rec.Shutdown(context.Background())

	for _, o := range mem.Observations() {
		if o.Type == fluxloop.TypeGeneration {
			fmt.Println(o.Name, o.Model, o.PromptTokens, o.CompletionTokens)
			fmt.Println(string(o.Output))
		}
	}
	// Output:
	// chat gpt-4.1 gpt-4.1-2025-04-14 19 10
	// {"role":"assistant","content":"Hello! How can I assist you today?","finish_reason":"stop"}
}
