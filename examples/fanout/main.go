// Fanout is asyncio.gather without a context: the agent starts goroutines
// with go statements, and the traced functions they call have no ctx
// parameter. fluxloopgen rewrites each go statement so the new goroutine's
// observations still nest under the agent, each with its own timing.
//
//	go run ./examples/fanout
package main

//go:generate go run github.com/fluxloop/fluxloop-go/cmd/fluxloopgen

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
)

// CallAPI is one slow call, with no context.
//
//fluxloop:trace type=tool
func CallAPI(name, query string) (__fluxloopR0 string) {
	__fluxloopSpan := fluxloop.EnterLocal(&__fluxloopSite_CallAPI)
	if __fluxloopSpan != nil {
		__fluxloopSpan.Inputs(fluxloop.String(name), fluxloop.String(query))
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			__fluxloopSpan.Return(nil, fluxloop.String(__fluxloopR0))
		}()
	}
	time.Sleep(100 * time.Millisecond)
	return name + ": " + query
}

// Gather calls three APIs at once and joins their answers.
//
//fluxloop:agent
func Gather(query string) (__fluxloopR0 string) {
	__fluxloopSpan := fluxloop.EnterLocal(&__fluxloopSite_Gather)
	if __fluxloopSpan != nil {
		__fluxloopSpan.Inputs(fluxloop.String(query))
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			__fluxloopSpan.Return(nil, fluxloop.String(__fluxloopR0))
		}()
	}
	names := []string{"API1", "API2", "API3"}
	results := make([]string, len(names))
	var wg sync.WaitGroup
	wg.Add(len(names))
	for i, name := range names {
		go fluxloop.Follow0(func() {
			defer wg.Done()
			results[i] = CallAPI(name, query)
		})()
	}
	wg.Wait()
	return strings.Join(results, " | ")
}

func main() {
	defer fluxloop.Shutdown(context.Background())
	fmt.Println(Gather("test"))
}

const _ = fluxloop.GeneratedCodeAPI1 // fluxloopgen v0.2.0: a compile error here means the runtime module is too old or too new for this code: run "go get github.com/fluxloop/fluxloop-go/runtime@v0.2.0" or regenerate with a matching fluxloopgen

// Observation sites of the functions above, written by fluxloopgen.
var (
	__fluxloopSite_CallAPI = fluxloop.Site{Name: "CallAPI", Type: fluxloop.TypeTool, Params: []string{"name", "query"}, Offset: 1}
	__fluxloopSite_Gather  = fluxloop.Site{Name: "Gather", Type: fluxloop.TypeAgent, Params: []string{"query"}, Offset: 1}
)
