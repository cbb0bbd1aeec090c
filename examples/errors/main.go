// Errors is the Go counterpart of FluxLoop's "Error Handling in Async"
// example. A returned error is recorded on the observation (error, level
// "error"); an error the agent handles itself is recorded with
// fluxloop.RecordError; a panic is recorded and re-raised unchanged.
//
//	go run ./examples/errors
package main

//go:generate go run github.com/fluxloop/fluxloop-go/cmd/fluxloopgen

import (
	"context"
	"errors"
	"fmt"
	"time"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
)

// ErrEmptyPrompt is returned for an empty prompt.
var ErrEmptyPrompt = errors.New("prompt cannot be empty")

// Validate fails on an empty prompt; the returned error is recorded.
//
//fluxloop:trace
func Validate(ctx context.Context, prompt string) (__fluxloopR0 error) {
	ctx, __fluxloopSpan := fluxloop.Enter(ctx, &__fluxloopSite_Validate)
	if __fluxloopSpan != nil {
		__fluxloopSpan.Inputs(fluxloop.String(prompt))
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			__fluxloopSpan.Return(__fluxloopR0)
		}()
	}
	if prompt == "" {
		return ErrEmptyPrompt
	}
	return nil
}

// AsyncAgentWithError handles the validation error itself, as the Python
// example does, and records it on its own observation.
//
//fluxloop:agent
func AsyncAgentWithError(ctx context.Context, prompt string) (__fluxloopR0 string) {
	ctx, __fluxloopSpan := fluxloop.Enter(ctx, &__fluxloopSite_AsyncAgentWithError)
	if __fluxloopSpan != nil {
		__fluxloopSpan.Inputs(fluxloop.String(prompt))
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			__fluxloopSpan.Return(nil, fluxloop.String(__fluxloopR0))
		}()
	}
	if err := Validate(ctx, prompt); err != nil {
		fluxloop.RecordError(ctx, err)
		return fmt.Sprintf("Error: %v", err)
	}
	time.Sleep(100 * time.Millisecond)
	return "Response: " + prompt
}

// Explode panics; the panic is recorded, then re-raised.
//
//fluxloop:agent
func Explode(ctx context.Context) {
	ctx, __fluxloopSpan := fluxloop.Enter(ctx, &__fluxloopSite_Explode)
	if __fluxloopSpan != nil {
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			__fluxloopSpan.Return(nil)
		}()
	}
	panic("boom")
}

func main() {
	defer fluxloop.Shutdown(context.Background())
	fmt.Println(AsyncAgentWithError(context.Background(), ""))
	func() {
		defer func() { fmt.Println("recovered:", recover()) }()
		Explode(context.Background())
	}()
}

const _ = fluxloop.GeneratedCodeAPI1 // fluxloopgen v0.2.0: a compile error here means the runtime module is too old or too new for this code: run "go get github.com/fluxloop/fluxloop-go/runtime@v0.2.0" or regenerate with a matching fluxloopgen

// Observation sites of the functions above, written by fluxloopgen.
var (
	__fluxloopSite_Validate            = fluxloop.Site{Name: "Validate", Type: fluxloop.TypeSpan, Params: []string{"prompt"}, Offset: 1}
	__fluxloopSite_AsyncAgentWithError = fluxloop.Site{Name: "AsyncAgentWithError", Type: fluxloop.TypeAgent, Params: []string{"prompt"}, Offset: 1}
	__fluxloopSite_Explode             = fluxloop.Site{Name: "Explode", Type: fluxloop.TypeAgent, Offset: 1}
)
