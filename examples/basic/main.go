// Basic is the Go counterpart of FluxLoop's "Basic Async Function" example:
// one agent function, traced the same way whatever it waits on.
//
// Run it with:
//
//	go run ./examples/basic
//
// The observation is written to ./.fluxloop/observations.jsonl.
package main

//go:generate go run github.com/fluxloop/fluxloop-go/cmd/fluxloopgen

import (
	"context"
	"fmt"
	"log"
	"time"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
)

// AsyncAgent simulates asynchronous work and answers.
//
//fluxloop:agent
func AsyncAgent(ctx context.Context, prompt string) (__fluxloopR0 string, __fluxloopR1 error) {
	ctx, __fluxloopSpan := fluxloop.Enter(ctx, &__fluxloopSite_AsyncAgent)
	if __fluxloopSpan != nil {
		__fluxloopSpan.Inputs(fluxloop.String(prompt))
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			__fluxloopSpan.Return(__fluxloopR1, fluxloop.String(__fluxloopR0))
		}()
	}
	select {
	case <-time.After(100 * time.Millisecond): // simulate async work
	case <-ctx.Done():
		return "", ctx.Err()
	}
	return "Async response: " + prompt, nil
}

func main() {
	defer func() {
		if err := fluxloop.Shutdown(context.Background()); err != nil {
			log.Print(err)
		}
	}()
	result, err := AsyncAgent(context.Background(), "Hello")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(result)
}

const _ = fluxloop.GeneratedCodeAPI1 // fluxloopgen v0.2.0: a compile error here means the runtime module is too old or too new for this code: run "go get github.com/fluxloop/fluxloop-go/runtime@v0.2.0" or regenerate with a matching fluxloopgen

// Observation sites of the functions above, written by fluxloopgen.
var (
	__fluxloopSite_AsyncAgent = fluxloop.Site{Name: "AsyncAgent", Type: fluxloop.TypeAgent, Params: []string{"prompt"}, Offset: 1}
)
