// Httpagent is the Go counterpart of FluxLoop's "FastAPI Integration"
// example: a net/http handler marked //fluxloop:agent records one trace per
// request, and the request's context carries the observation to the steps
// it calls.
//
//	go run ./examples/httpagent          # serves on :8080
//	curl -X POST 'localhost:8080/agent?prompt=hi'
//
// With -once it serves a single request to itself and exits.
package main

//go:generate go run github.com/fluxloop/fluxloop-go/cmd/fluxloopgen

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"

	"github.com/fluxloop/fluxloop-go/runtime/fluxloophttp"
)

// Process is a step of the agent.
//
//fluxloop:trace
func Process(ctx context.Context, prompt string) (__fluxloopR0 string) {
	ctx, __fluxloopSpan := fluxloop.Enter(ctx, &__fluxloopSite_Process)
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
	time.Sleep(100 * time.Millisecond)
	return "Processed: " + prompt
}

// AgentEndpoint handles POST /agent?prompt=...
//
//fluxloop:agent
func AgentEndpoint(w http.ResponseWriter, r *http.Request) {
	w, r, __fluxloopSpan := fluxloophttp.Enter(w, r, &__fluxloopSite_AgentEndpoint)
	if __fluxloopSpan != nil {
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			fluxloophttp.Return(__fluxloopSpan, w)
		}()
	}
	prompt := r.URL.Query().Get("prompt")
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]string{"response": Process(r.Context(), prompt)})
}

// NewMux routes the endpoint with the standard ServeMux.
func NewMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /agent", AgentEndpoint)
	return mux
}

func main() {
	once := flag.Bool("once", false, "serve one request to itself and exit")
	addr := flag.String("addr", "localhost:8080", "address to listen on")
	flag.Parse()
	defer fluxloop.Shutdown(context.Background())
	if *once {
		srv := httptest.NewServer(NewMux())
		defer srv.Close()
		resp, err := http.Post(srv.URL+"/agent?prompt=hello", "text/plain", nil)
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Print(string(body))
		return
	}
	log.Printf("listening on %s", *addr)
	log.Fatal(http.ListenAndServe(*addr, NewMux()))
}

const _ = fluxloop.GeneratedCodeAPI1 // fluxloopgen v0.2.0: a compile error here means the runtime module is too old or too new for this code: run "go get github.com/fluxloop/fluxloop-go/runtime@v0.2.0" or regenerate with a matching fluxloopgen

// Observation sites of the functions above, written by fluxloopgen.
var (
	__fluxloopSite_Process       = fluxloop.Site{Name: "Process", Type: fluxloop.TypeSpan, Params: []string{"prompt"}, Offset: 1}
	__fluxloopSite_AgentEndpoint = fluxloop.Site{Name: "AgentEndpoint", Type: fluxloop.TypeAgent, Offset: 1}
)
