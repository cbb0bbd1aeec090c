// LLM is an agent that asks a model through the official OpenAI Go SDK
// (github.com/openai/openai-go/v3) and streams the answer to stdout. The
// SDK's HTTP client goes through fluxloopllm.NewTransport, which records the
// call as a generation (model, tokens, prompt, reply, time to first chunk)
// under the agent's step that made it.
//
//	go run ./examples/llm
//
// With OPENAI_API_KEY unset it talks to a fake OpenAI-compatible server it
// starts in the process (streaming server-sent events with usage), so it
// runs offline. With OPENAI_API_KEY set it calls the real API
// (OPENAI_BASE_URL is honoured; the model is OPENAI_MODEL, default
// gpt-4o-mini).
package main

//go:generate go run github.com/fluxloop/fluxloop-go/cmd/fluxloopgen

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"github.com/fluxloop/fluxloop-go/runtime/fluxloopllm"
)

// Assistant answers questions with a model, streaming the answer to out.
type Assistant struct {
	client openai.Client
	model  string
	out    io.Writer
}

// Lookup finds notes about the question (a stand-in for retrieval).
//
//fluxloop:trace type=tool
func (a *Assistant) Lookup(ctx context.Context, question string) (__fluxloopR0 string, __fluxloopR1 error) {
	ctx, __fluxloopSpan := fluxloop.Enter(ctx, &__fluxloopSite_Assistant_Lookup)
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
	return "Go is a statically typed, compiled language designed at Google; " +
		"goroutines and channels make concurrency cheap.", nil
}

// Stream asks the model and writes the answer to a.out as it arrives.
//
//fluxloop:trace
func (a *Assistant) Stream(ctx context.Context, notes, question string) (__fluxloopR0 string, __fluxloopR1 error) {
	ctx, __fluxloopSpan := fluxloop.Enter(ctx, &__fluxloopSite_Assistant_Stream)
	if __fluxloopSpan != nil {
		__fluxloopSpan.Inputs(fluxloop.String(notes), fluxloop.String(question))
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			__fluxloopSpan.Return(__fluxloopR1, fluxloop.String(__fluxloopR0))
		}()
	}
	stream := a.client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
		Model: a.model,
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.SystemMessage("Answer in two sentences. Notes: " + notes),
			openai.UserMessage(question),
		},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	})
	defer stream.Close()
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		chunk := stream.Current()
		acc.AddChunk(chunk)
		if len(chunk.Choices) > 0 {
			fmt.Fprint(a.out, chunk.Choices[0].Delta.Content)
		}
	}
	fmt.Fprintln(a.out)
	if err := stream.Err(); err != nil {
		return "", err
	}
	if len(acc.Choices) == 0 {
		return "", fmt.Errorf("the model sent no choices")
	}
	return acc.Choices[0].Message.Content, nil
}

// Answer is the agent: it looks up notes, then streams the model's answer.
//
//fluxloop:agent
func (a *Assistant) Answer(ctx context.Context, question string) (__fluxloopR0 string, __fluxloopR1 error) {
	ctx, __fluxloopSpan := fluxloop.Enter(ctx, &__fluxloopSite_Assistant_Answer)
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
	notes, err := a.Lookup(ctx, question)
	if err != nil {
		return "", err
	}
	return a.Stream(ctx, notes, question)
}

func main() {
	defer fluxloop.Shutdown(context.Background())

	opts := []option.RequestOption{
		option.WithHTTPClient(&http.Client{Transport: fluxloopllm.NewTransport(nil)}),
	}
	if os.Getenv("OPENAI_API_KEY") == "" {
		srv := httptest.NewServer(fakeOpenAI())
		defer srv.Close()
		opts = append(opts, option.WithBaseURL(srv.URL+"/v1/"), option.WithAPIKey("sk-fake"))
	} // else openai.NewClient reads OPENAI_API_KEY and OPENAI_BASE_URL
	model := os.Getenv("OPENAI_MODEL")
	if model == "" {
		model = "gpt-4o-mini"
	}
	a := &Assistant{client: openai.NewClient(opts...), model: model, out: os.Stdout}
	if _, err := a.Answer(context.Background(), "What is Go good at?"); err != nil {
		log.Fatal(err)
	}
}

const _ = fluxloop.GeneratedCodeAPI1 // fluxloopgen v0.2.0: a compile error here means the runtime module is too old or too new for this code: run "go get github.com/fluxloop/fluxloop-go/runtime@v0.2.0" or regenerate with a matching fluxloopgen

// Observation sites of the functions above, written by fluxloopgen.
var (
	__fluxloopSite_Assistant_Lookup = fluxloop.Site{Name: "Assistant.Lookup", Type: fluxloop.TypeTool, Params: []string{"question"}, Offset: 1}
	__fluxloopSite_Assistant_Stream = fluxloop.Site{Name: "Assistant.Stream", Type: fluxloop.TypeSpan, Params: []string{"notes", "question"}, Offset: 1}
	__fluxloopSite_Assistant_Answer = fluxloop.Site{Name: "Assistant.Answer", Type: fluxloop.TypeAgent, Params: []string{"question"}, Offset: 1}
)
