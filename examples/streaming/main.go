// Streaming is the Go counterpart of FluxLoop's "Async Generators" example:
// an agent that streams tokens. In Go a stream is a channel or an iterator;
// the agent's observation lasts until the stream ends, and the tokens
// delivered are its output.
//
//	go run ./examples/streaming
package main

//go:generate go run github.com/fluxloop/fluxloop-go/cmd/fluxloopgen

import (
	"context"
	"fmt"
	"iter"
	"time"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
)

// StreamingAgent yields tokens over a channel, like an async generator.
//
//fluxloop:agent
func StreamingAgent(ctx context.Context, prompt string) (__fluxloopR0 <-chan string) {
	ctx, __fluxloopSpan := fluxloop.Enter(ctx, &__fluxloopSite_StreamingAgent)
	if __fluxloopSpan != nil {
		__fluxloopSpan.Inputs(fluxloop.String(prompt))
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			__fluxloopR0 = fluxloop.Chan(__fluxloopSpan, __fluxloopR0)
			__fluxloopSpan.Return(nil)
		}()
	}
	tokens := make(chan string)
	go fluxloop.Follow0(func() {
		defer close(tokens)
		for i := range 5 {
			select {
			case <-time.After(100 * time.Millisecond):
			case <-ctx.Done():
				return
			}
			tokens <- fmt.Sprintf("Token %d: %s", i, prompt)
		}
	})()
	return tokens
}

// TokenSeq yields tokens as an iterator: no goroutine, the observation
// covers the consumer's loop and ends when it finishes or breaks.
//
//fluxloop:agent
func TokenSeq(prompt string) (__fluxloopR0 iter.Seq[string]) {
	__fluxloopSpan := fluxloop.EnterLocal(&__fluxloopSite_TokenSeq)
	if __fluxloopSpan != nil {
		__fluxloopSpan.Inputs(fluxloop.String(prompt))
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			__fluxloopR0 = fluxloop.Seq(__fluxloopSpan, __fluxloopR0)
			__fluxloopSpan.Return(nil)
		}()
	}
	return func(yield func(string) bool) {
		for i := range 5 {
			time.Sleep(20 * time.Millisecond)
			if !yield(fmt.Sprintf("Token %d: %s", i, prompt)) {
				return
			}
		}
	}
}

func main() {
	defer fluxloop.Shutdown(context.Background())
	for token := range StreamingAgent(context.Background(), "Hello") {
		fmt.Println(token)
	}
	for token := range TokenSeq("Hi") {
		fmt.Println(token)
		if token == "Token 2: Hi" {
			break // the observation ends here, with 3 items
		}
	}
}

const _ = fluxloop.GeneratedCodeAPI1 // fluxloopgen v0.2.0: a compile error here means the runtime module is too old or too new for this code: run "go get github.com/fluxloop/fluxloop-go/runtime@v0.2.0" or regenerate with a matching fluxloopgen

// Observation sites of the functions above, written by fluxloopgen.
var (
	__fluxloopSite_StreamingAgent = fluxloop.Site{Name: "StreamingAgent", Type: fluxloop.TypeAgent, Params: []string{"prompt"}, Offset: 1}
	__fluxloopSite_TokenSeq       = fluxloop.Site{Name: "TokenSeq", Type: fluxloop.TypeAgent, Params: []string{"prompt"}, Offset: 1}
)
