// Gather is the Go counterpart of FluxLoop's "Concurrent Async Calls"
// example (asyncio.gather): the agent calls two traced APIs at once, in
// goroutines. Each call is its own child observation with its own timing,
// and the two overlap.
//
//	go run ./examples/gather
package main

//go:generate go run github.com/fluxloop/fluxloop-go/cmd/fluxloopgen

import (
	"context"
	"fmt"
	"log"
	"strings"
	"sync"
	"time"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
)

// CallAPI1 is the first API.
//
//fluxloop:trace
func CallAPI1(ctx context.Context, query string) (__fluxloopR0 string, __fluxloopR1 error) {
	ctx, __fluxloopSpan := fluxloop.Enter(ctx, &__fluxloopSite_CallAPI1)
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
	time.Sleep(100 * time.Millisecond)
	return "API1: " + query, nil
}

// CallAPI2 is the second API.
//
//fluxloop:trace
func CallAPI2(ctx context.Context, query string) (__fluxloopR0 string, __fluxloopR1 error) {
	ctx, __fluxloopSpan := fluxloop.Enter(ctx, &__fluxloopSite_CallAPI2)
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
	time.Sleep(100 * time.Millisecond)
	return "API2: " + query, nil
}

// ParallelAgent calls both APIs concurrently and joins their answers.
//
//fluxloop:agent
func ParallelAgent(ctx context.Context, query string) (__fluxloopR0 string, __fluxloopR1 error) {
	ctx, __fluxloopSpan := fluxloop.Enter(ctx, &__fluxloopSite_ParallelAgent)
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
	calls := []func(context.Context, string) (string, error){CallAPI1, CallAPI2}
	results := make([]string, len(calls))
	errs := make([]error, len(calls))
	var wg sync.WaitGroup
	for i, call := range calls {
		wg.Go(fluxloop.Bind(func() { results[i], errs[i] = call(ctx, query) }))
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return "", err
		}
	}
	return strings.Join(results, " | "), nil
}

func main() {
	defer fluxloop.Shutdown(context.Background())
	result, err := ParallelAgent(context.Background(), "test")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(result)
}

const _ = fluxloop.GeneratedCodeAPI1 // fluxloopgen v0.2.0: a compile error here means the runtime module is too old or too new for this code: run "go get github.com/fluxloop/fluxloop-go/runtime@v0.2.0" or regenerate with a matching fluxloopgen

// Observation sites of the functions above, written by fluxloopgen.
var (
	__fluxloopSite_CallAPI1      = fluxloop.Site{Name: "CallAPI1", Type: fluxloop.TypeSpan, Params: []string{"query"}, Offset: 1}
	__fluxloopSite_CallAPI2      = fluxloop.Site{Name: "CallAPI2", Type: fluxloop.TypeSpan, Params: []string{"query"}, Offset: 1}
	__fluxloopSite_ParallelAgent = fluxloop.Site{Name: "ParallelAgent", Type: fluxloop.TypeAgent, Params: []string{"query"}, Offset: 1}
)
