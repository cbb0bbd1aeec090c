// Chain is the Go counterpart of FluxLoop's "Async Function Chains" example:
// an agent calls two traced steps; each is a child of the agent's
// observation because the context carries the active observation.
//
//	go run ./examples/chain
package main

//go:generate go run github.com/fluxloop/fluxloop-go/cmd/fluxloopgen

import (
	"context"
	"fmt"
	"log"
	"time"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
)

// FetchContext simulates an API call.
//
//fluxloop:trace
func FetchContext(ctx context.Context, query string) (__fluxloopR0 string, __fluxloopR1 error) {
	ctx, __fluxloopSpan := fluxloop.Enter(ctx, &__fluxloopSite_FetchContext)
	if __fluxloopSpan != nil {
		__fluxloopSpan.Inputs(fluxloop.String(query))
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			__fluxloopSpan.Return(__fluxloopR1, fluxloop.String(__fluxloopR0))
		}()
	}
	if err := sleep(ctx, 50*time.Millisecond); err != nil {
		return "", err
	}
	return "Context for: " + query, nil
}

// GenerateResponse simulates an LLM call.
//
//fluxloop:trace type=generation
func GenerateResponse(ctx context.Context, context string) (__fluxloopR0 string, __fluxloopR1 error) {
	ctx, __fluxloopSpan := fluxloop.Enter(ctx, &__fluxloopSite_GenerateResponse)
	if __fluxloopSpan != nil {
		__fluxloopSpan.Inputs(fluxloop.String(context))
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			__fluxloopSpan.Return(__fluxloopR1, fluxloop.String(__fluxloopR0))
		}()
	}
	if err := sleep(ctx, 100*time.Millisecond); err != nil {
		return "", err
	}
	fluxloop.SetUsage(ctx, fluxloop.Usage{Model: "demo-model", PromptTokens: 12, CompletionTokens: 7})
	return "Generated from " + context, nil
}

// AsyncAgent runs the chain.
//
//fluxloop:agent
func AsyncAgent(ctx context.Context, query string) (__fluxloopR0 string, __fluxloopR1 error) {
	ctx, __fluxloopSpan := fluxloop.Enter(ctx, &__fluxloopSite_AsyncAgent)
	if __fluxloopSpan != nil {
		__fluxloopSpan.Inputs(fluxloop.String(query))
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			__fluxloopSpan.Return(__fluxloopR1, fluxloop.String(__fluxloopR0))
		}()
	}
	c, err := FetchContext(ctx, query)
	if err != nil {
		return "", err
	}
	return GenerateResponse(ctx, c)
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func main() {
	defer fluxloop.Shutdown(context.Background())
	result, err := AsyncAgent(context.Background(), "What is AI?")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(result)
}

const _ = fluxloop.GeneratedCodeAPI1 // fluxloopgen v0.2.0: a compile error here means the runtime module is too old or too new for this code: run "go get github.com/fluxloop/fluxloop-go/runtime@v0.2.0" or regenerate with a matching fluxloopgen

// Observation sites of the functions above, written by fluxloopgen.
var (
	__fluxloopSite_FetchContext     = fluxloop.Site{Name: "FetchContext", Type: fluxloop.TypeSpan, Params: []string{"query"}, Offset: 1}
	__fluxloopSite_GenerateResponse = fluxloop.Site{Name: "GenerateResponse", Type: fluxloop.TypeGeneration, Params: []string{"context"}, Offset: 1}
	__fluxloopSite_AsyncAgent       = fluxloop.Site{Name: "AsyncAgent", Type: fluxloop.TypeAgent, Params: []string{"query"}, Offset: 1}
)
