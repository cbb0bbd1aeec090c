package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"github.com/fluxloop/fluxloop-go/runtime/fluxlooptest"
)

// TestConcurrentRequests serves 100 concurrent requests through NewMux (run
// it with -race): each request is its own trace, an AgentEndpoint agent with
// exactly one Process step whose prompt is the request's.
func TestConcurrentRequests(t *testing.T) {
	rec := fluxlooptest.New(t)
	srv := httptest.NewServer(NewMux())
	defer srv.Close()

	const n = 100
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			resp, err := http.Post(fmt.Sprintf("%s/agent?prompt=p%d", srv.URL, i), "text/plain", nil)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			var out struct{ Response string }
			if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
				t.Errorf("request %d: status %d, %v", i, resp.StatusCode, err)
				return
			}
			if want := fmt.Sprintf("Processed: p%d", i); out.Response != want {
				t.Errorf("response %q, want %q", out.Response, want)
			}
		})
	}
	wg.Wait()

	roots := rec.Roots()
	if len(roots) != n {
		t.Fatalf("%d roots for %d requests:\n%s", len(roots), n, rec.Tree())
	}
	traces := map[string]bool{}
	prompts := map[string]bool{}
	for _, ep := range roots {
		if ep.Name != "AgentEndpoint" || ep.Type != fluxloop.TypeAgent {
			t.Fatalf("root %s %s, want the agent AgentEndpoint", ep.Type, ep.Name)
		}
		traces[ep.TraceID] = true
		var in struct{ Method, Path, Query string }
		if err := json.Unmarshal(ep.Input, &in); err != nil {
			t.Fatal(err)
		}
		if in.Method != "POST" || in.Path != "/agent" || string(ep.Output) != "200" {
			t.Errorf("AgentEndpoint input %s output %s", ep.Input, ep.Output)
		}
		kids := rec.Children(ep.ID)
		if len(kids) != 1 || kids[0].Name != "Process" || kids[0].TraceID != ep.TraceID {
			t.Fatalf("AgentEndpoint children %+v", kids)
		}
		var step struct{ Prompt string }
		json.Unmarshal(kids[0].Input, &step)
		if in.Query != "prompt="+step.Prompt {
			t.Errorf("request %q has the step of prompt %q: trees mixed", in.Query, step.Prompt)
		}
		if kids[0].StartTime.Before(ep.StartTime) || kids[0].EndTime.After(ep.EndTime) {
			t.Errorf("Process [%v, %v] is not within AgentEndpoint [%v, %v]", kids[0].StartTime, kids[0].EndTime, ep.StartTime, ep.EndTime)
		}
		prompts[step.Prompt] = true
	}
	if len(traces) != n || len(prompts) != n {
		t.Errorf("%d traces, %d distinct prompts for %d requests", len(traces), len(prompts), n)
	}
	if got := len(rec.Observations()); got != 2*n {
		t.Errorf("%d observations, want %d", got, 2*n)
	}
	if got := len(rec.Traces()); got != n {
		t.Errorf("%d trace records, want %d", got, n)
	}
}

// TestMethodNotAllowed: the mux answers GET itself, so the handler does not
// run and nothing is recorded.
func TestMethodNotAllowed(t *testing.T) {
	rec := fluxlooptest.New(t)
	srv := httptest.NewServer(NewMux())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/agent")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("status %d", resp.StatusCode)
	}
	if obs := rec.Observations(); len(obs) != 0 {
		t.Errorf("recorded %s", rec.Tree())
	}
}
