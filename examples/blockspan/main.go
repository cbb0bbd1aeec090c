// Blockspan is the Go counterpart of FluxLoop's "Async Context Managers"
// example: a block of code gets its own observation with fluxloop.Start and
// a deferred End, the Go idiom for a context manager.
//
//	go run ./examples/blockspan
package main

//go:generate go run github.com/fluxloop/fluxloop-go/cmd/fluxloopgen

import (
	"context"
	"fmt"
	"log"
	"time"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
)

// conn is a pretend database connection.
type conn struct{ closed bool }

func (c *conn) Execute(ctx context.Context, query string) (string, error) {
	time.Sleep(20 * time.Millisecond)
	return "3 rows for " + query, nil
}

func (c *conn) Close() { c.closed = true }

// withConnection opens a connection for fn and always closes it, like
// Python's asynccontextmanager. The whole block is one observation.
func withConnection(ctx context.Context, fn func(context.Context, *conn) error) (err error) {
	ctx, obs := fluxloop.Start(ctx, "database_connection", fluxloop.WithType(fluxloop.TypeSpan))
	defer func() {
		obs.RecordError(err)
		obs.End()
	}()
	c := &conn{} // setup
	defer c.Close()
	return fn(ctx, c)
}

// QueryAgent runs a query inside the connection block.
//
//fluxloop:agent
func QueryAgent(ctx context.Context, query string) (__fluxloopR0 string, __fluxloopR1 error) {
	ctx, __fluxloopSpan := fluxloop.Enter(ctx, &__fluxloopSite_QueryAgent)
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
	var result string
	err := withConnection(ctx, func(ctx context.Context, c *conn) error {
		var err error
		result, err = c.Execute(ctx, query)
		return err
	})
	return result, err
}

func main() {
	defer fluxloop.Shutdown(context.Background())
	result, err := QueryAgent(context.Background(), "SELECT * FROM users")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(result)
}

const _ = fluxloop.GeneratedCodeAPI1 // fluxloopgen v0.2.0: a compile error here means the runtime module is too old or too new for this code: run "go get github.com/fluxloop/fluxloop-go/runtime@v0.2.0" or regenerate with a matching fluxloopgen

// Observation sites of the functions above, written by fluxloopgen.
var (
	__fluxloopSite_QueryAgent = fluxloop.Site{Name: "QueryAgent", Type: fluxloop.TypeAgent, Params: []string{"query"}, Offset: 1}
)
