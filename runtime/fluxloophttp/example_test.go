package fluxloophttp_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"github.com/fluxloop/fluxloop-go/runtime/fluxloophttp"
)

var siteAgent = fluxloop.Site{Name: "Agent", Type: fluxloop.TypeAgent}

// Agent is a handler marked //fluxloop:agent after fluxloopgen rewrote it.
func Agent(w http.ResponseWriter, r *http.Request) {
	w, r, __fluxloopSpan := fluxloophttp.Enter(w, r, &siteAgent)
	if __fluxloopSpan != nil {
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			fluxloophttp.Return(__fluxloopSpan, w)
		}()
	}
	fmt.Fprintf(w, "hello %s", r.URL.Query().Get("name"))
}

// A traced handler records one observation per request: method, path and
// query (credentials masked) in, status code out.
func Example() {
	mem := fluxloop.NewMemoryStorage()
	c, _ := fluxloop.NewClient(fluxloop.WithStorage(mem))
	prev := fluxloop.SetDefault(c)
	defer fluxloop.SetDefault(prev)
	defer c.Shutdown(context.Background())

	srv := httptest.NewServer(http.HandlerFunc(Agent))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/agent?name=gopher&api_key=s3cr3t")
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()

	c.Flush(context.Background())
	for _, o := range mem.Observations() {
		fmt.Printf("%s %s input=%s output=%s\n", o.Type, o.Name, o.Input, o.Output)
	}
	// Output:
	// agent Agent input={"method":"GET","path":"/agent","query":"name=gopher&api_key=***"} output=200
}
