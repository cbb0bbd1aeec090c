// Command e2eagent is the instrumented program of the Jaeger end-to-end test
// (internal/e2e): one run of an agent that calls a tool, which fails, and a
// generation. It links the otlp storage, so that
//
//	FLUXLOOP_STORAGE=otlp OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 go run ./internal/e2e/cmd/e2eagent
//
// exports the run's three spans, and prints "trace_id=<32 hex digits>".
package main

//go:generate go run github.com/fluxloop/fluxloop-go/cmd/fluxloopgen

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
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

// GenerateAnswer is an LLM call.
//
//fluxloop:trace type=generation
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
	fluxloop.SetUsage(ctx, fluxloop.Usage{Model: "demo-model", PromptTokens: 12, CompletionTokens: 7})
	return fmt.Sprintf("answer to %q from %d documents", question, len(docs)), nil
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
	out, err := Answer(context.Background(), "What is Go?")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(out)
	if err := fluxloop.Shutdown(context.Background()); err != nil {
		log.Fatal(err)
	}
	if st := fluxloop.Stats(); st.Written != 3 {
		fmt.Fprintf(os.Stderr, "e2eagent: %+v\n", st)
		os.Exit(1)
	}
}

// Observation sites of the functions above, written by fluxloopgen.
var (
	__fluxloopSite_SearchDocs     = fluxloop.Site{Name: "SearchDocs", Type: fluxloop.TypeTool, Params: []string{"query"}, Offset: 1}
	__fluxloopSite_GenerateAnswer = fluxloop.Site{Name: "GenerateAnswer", Type: fluxloop.TypeGeneration, Params: []string{"question", "docs"}, Offset: 1}
	__fluxloopSite_Answer         = fluxloop.Site{Name: "Answer", Type: fluxloop.TypeAgent, Params: []string{"question"}, Offset: 1}
)
