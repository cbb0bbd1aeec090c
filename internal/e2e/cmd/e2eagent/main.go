// Command e2eagent is the instrumented program of the Jaeger end-to-end test
// (internal/e2e): one run of an agent that calls a tool, which fails, and a
// step that calls a model through fluxloopllm's transport (a generation).
// It links the otlp storage, so that
//
//	FLUXLOOP_STORAGE=otlp OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 go run ./internal/e2e/cmd/e2eagent
//
// exports the run's four spans, and prints "trace_id=<32 hex digits>".
package main

//go:generate go run github.com/fluxloop/fluxloop-go/cmd/fluxloopgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"github.com/fluxloop/fluxloop-go/runtime/fluxloopllm"
	_ "github.com/fluxloop/fluxloop-go/runtime/otlp"
)

// errIndex is the tool's failure.
var errIndex = errors.New("search index unavailable")

// SearchDocs is a tool that fails.
//
//fluxloop:trace type=tool
func SearchDocs(ctx context.Context, query string) (__fluxloopR0 []string, __fluxloopR1 error) {
	ctx, __fluxloopSpan := fluxloop.Enter(ctx, &__fluxloopSite_SearchDocs)
	if __fluxloopSpan != nil {
		__fluxloopSpan.Inputs(fluxloop.String(query))
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			__fluxloopSpan.Return(__fluxloopR1, fluxloop.V(__fluxloopR0))
		}()
	}
	return nil, errIndex
}

// GenerateAnswer asks a model, an OpenAI-compatible server in this process
// (see fakeModel), through an HTTP client with fluxloopllm's transport:
// the call is recorded as a generation ("chat demo-model") under it.
//
//fluxloop:trace
func GenerateAnswer(ctx context.Context, question string, docs []string) (__fluxloopR0 string, __fluxloopR1 error) {
	ctx, __fluxloopSpan := fluxloop.Enter(ctx, &__fluxloopSite_GenerateAnswer)
	if __fluxloopSpan != nil {
		__fluxloopSpan.Inputs(fluxloop.String(question), fluxloop.V(docs))
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			__fluxloopSpan.Return(__fluxloopR1, fluxloop.String(__fluxloopR0))
		}()
	}
	body := fmt.Sprintf(`{"model":"demo-model","messages":[{"role":"system","content":"Answer from %d documents."},{"role":"user","content":%q}]}`, len(docs), question)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, modelURL+"/v1/chat/completions", strings.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer sk-e2e-never-recorded")
	resp, err := llmClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var reply struct {
		Choices []struct {
			Message struct{ Content string } `json:"message"`
		} `json:"choices"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&reply); err != nil {
		return "", err
	}
	if len(reply.Choices) == 0 {
		return "", errors.New("no choices")
	}
	return reply.Choices[0].Message.Content, nil
}

// llmClient records the model calls made with it.
var llmClient = &http.Client{Transport: fluxloopllm.NewTransport(nil)}

// modelURL is the fake model server's URL, set by main.
var modelURL string

// fakeModel answers Chat Completions as OpenAI documents them.
func fakeModel(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"id":"chatcmpl-e2e","object":"chat.completion","created":1764580000,"model":"demo-model","choices":[{"index":0,"message":{"role":"assistant","content":"Go is a programming language."},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":7,"total_tokens":19}}`)
}

// Answer is the agent: it falls back to no documents when the search fails.
//
//fluxloop:agent
func Answer(ctx context.Context, question string) (__fluxloopR0 string, __fluxloopR1 error) {
	ctx, __fluxloopSpan := fluxloop.Enter(ctx, &__fluxloopSite_Answer)
	if __fluxloopSpan != nil {
		__fluxloopSpan.Inputs(fluxloop.String(question))
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			__fluxloopSpan.Return(__fluxloopR1, fluxloop.String(__fluxloopR0))
		}()
	}
	fmt.Println("trace_id=" + fluxloop.SpanFromContext(ctx).TraceID())
	docs, err := SearchDocs(ctx, question)
	if err != nil {
		docs = nil // answer without documents
	}
	return GenerateAnswer(ctx, question, docs)
}

func main() {
	if err := fluxloop.Init(); err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(fakeModel))
	defer srv.Close()
	modelURL = srv.URL
	out, err := Answer(context.Background(), "What is Go?")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(out)
	if err := fluxloop.Shutdown(context.Background()); err != nil {
		log.Fatal(err)
	}
	if st := fluxloop.Stats(); st.Written != 4 {
		fmt.Fprintf(os.Stderr, "e2eagent: %+v\n", st)
		os.Exit(1)
	}
}

const _ = fluxloop.GeneratedCodeAPI1 // fluxloopgen v0.2.0: a compile error here means the runtime module is too old or too new for this code: run "go get github.com/fluxloop/fluxloop-go/runtime@v0.2.0" or regenerate with a matching fluxloopgen

// Observation sites of the functions above, written by fluxloopgen.
var (
	__fluxloopSite_SearchDocs     = fluxloop.Site{Name: "SearchDocs", Type: fluxloop.TypeTool, Params: []string{"query"}, Offset: 1}
	__fluxloopSite_GenerateAnswer = fluxloop.Site{Name: "GenerateAnswer", Type: fluxloop.TypeSpan, Params: []string{"question", "docs"}, Offset: 1}
	__fluxloopSite_Answer         = fluxloop.Site{Name: "Answer", Type: fluxloop.TypeAgent, Params: []string{"question"}, Offset: 1}
)
