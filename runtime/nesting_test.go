package fluxloop_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"github.com/fluxloop/fluxloop-go/runtime/fluxlooptest"
)

func TestNesting(t *testing.T) {
	rec := fluxlooptest.New(t)
	out, err := Run(context.Background(), "hi")
	if err != nil || out != "helped hi!3" {
		t.Fatalf("Run = %q, %v", out, err)
	}
	run, add, helper := rec.MustGet("Run"), rec.MustGet("Add"), rec.MustGet("Helper")
	if run.ParentObservationID != "" || run.Type != fluxloop.TypeAgent {
		t.Errorf("Run: parent %q type %q, want a root agent", run.ParentObservationID, run.Type)
	}
	for _, o := range []fluxloop.Observation{add, helper} {
		if o.ParentObservationID != run.ID {
			t.Errorf("%s's parent is %q, want Run (%s):\n%s", o.Name, o.ParentObservationID, run.ID, rec.Tree())
		}
		if o.TraceID != run.TraceID {
			t.Errorf("%s is in trace %s, want %s", o.Name, o.TraceID, run.TraceID)
		}
	}
	if want := "agent Run\n  span Add\n  span Helper\n"; rec.Tree() != want {
		t.Errorf("tree:\n%s\nwant:\n%s", rec.Tree(), want)
	}
	assertJSON(t, add.Input, `{"a":1,"b":2}`)
	assertJSON(t, add.Output, `3`)
	assertJSON(t, run.Input, `{"query":"hi"}`)
	assertJSON(t, run.Output, `"helped hi!3"`)
	if add.Level != fluxloop.LevelInfo || add.Error != "" {
		t.Errorf("Add: level %q error %q", add.Level, add.Error)
	}
	if !add.StartTime.Before(add.EndTime) && !add.StartTime.Equal(add.EndTime) {
		t.Errorf("Add ends (%v) before it starts (%v)", add.EndTime, add.StartTime)
	}
	if add.StartTime.Before(run.StartTime) || add.EndTime.After(run.EndTime) {
		t.Errorf("Add [%v, %v] is not inside Run [%v, %v]", add.StartTime, add.EndTime, run.StartTime, run.EndTime)
	}
	// code position: the line of the Enter call in helpers_test.go
	if f, _ := add.Metadata["code.filepath"].(string); !strings.HasSuffix(f, "/runtime/helpers_test.go") {
		t.Errorf("code.filepath = %v", add.Metadata["code.filepath"])
	}
	if l, _ := add.Metadata["code.lineno"].(int); l < 30 {
		t.Errorf("code.lineno = %v", add.Metadata["code.lineno"])
	}
	trs := rec.Traces()
	if len(trs) != 1 || trs[0].ID != run.TraceID || trs[0].Name != "Run" {
		t.Fatalf("traces = %+v, want one for Run", trs)
	}
	assertJSON(t, trs[0].Input, `{"query":"hi"}`)
	assertJSON(t, trs[0].Output, `"helped hi!3"`)
}

func assertJSON(t *testing.T, got json.RawMessage, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Errorf("invalid JSON %s: %v", got, err)
		return
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want %s: %v", want, err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if string(gb) != string(wb) {
		t.Errorf("JSON = %s, want %s", got, want)
	}
}

// FluxLoop's asyncio.gather case: N goroutines each run a child of one
// parent at the same time.
func TestConcurrentChildren(t *testing.T) {
	rec := fluxlooptest.New(t)
	const n = 16
	ctx, parent := fluxloop.Start(context.Background(), "parallel_agent", fluxloop.WithType(fluxloop.TypeAgent))
	var started, release sync.WaitGroup
	started.Add(n)
	release.Add(1)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			Child(ctx, i, func() {
				started.Done()
				release.Wait() // every child is running now
			})
		}()
	}
	started.Wait()
	release.Done()
	wg.Wait()
	parent.End()

	p := rec.MustGet("parallel_agent")
	kids := rec.Children(p.ID)
	if len(kids) != n {
		t.Fatalf("%d children, want %d:\n%s", len(kids), n, rec.Tree())
	}
	seen := map[string]bool{}
	latestStart, earliestEnd := kids[0].StartTime, kids[0].EndTime
	for _, k := range kids {
		if seen[k.ID] {
			t.Errorf("duplicate id %s", k.ID)
		}
		seen[k.ID] = true
		if k.TraceID != p.TraceID {
			t.Errorf("child %s in trace %s, want %s", k.ID, k.TraceID, p.TraceID)
		}
		if k.StartTime.After(latestStart) {
			latestStart = k.StartTime
		}
		if k.EndTime.Before(earliestEnd) {
			earliestEnd = k.EndTime
		}
	}
	// All children were running at once, so their intervals overlap.
	if latestStart.After(earliestEnd) {
		t.Errorf("children do not overlap: latest start %v after earliest end %v", latestStart, earliestEnd)
	}
	var inputs []string
	for _, k := range kids {
		inputs = append(inputs, string(k.Input))
	}
	for i := range n {
		if !strings.Contains(strings.Join(inputs, " "), `{"i":`+itoa(i)+`}`) {
			t.Errorf("no child with input i=%d: %v", i, inputs)
		}
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// A traced function without ctx, called from a traced function with ctx,
// nests under it; and after the ctx function returns, the goroutine's
// current observation is restored.
func TestGoroutineLocalFallback(t *testing.T) {
	rec := fluxlooptest.New(t)
	ctx, outer := fluxloop.Start(context.Background(), "outer")
	Helper("a") // child of outer through the goroutine table
	Add(ctx, 1, 1)
	Helper("b") // outer again, not Add
	outer.End()
	Helper("c") // a root of its own

	o := rec.MustGet("outer")
	hs := rec.All("Helper")
	if len(hs) != 3 {
		t.Fatalf("%d Helper observations, want 3:\n%s", len(hs), rec.Tree())
	}
	if hs[0].ParentObservationID != o.ID || hs[1].ParentObservationID != o.ID {
		t.Errorf("Helper a/b parents %q %q, want outer %q:\n%s", hs[0].ParentObservationID, hs[1].ParentObservationID, o.ID, rec.Tree())
	}
	if hs[2].ParentObservationID != "" || hs[2].TraceID == o.TraceID {
		t.Errorf("Helper c after outer ended should be a new root:\n%s", rec.Tree())
	}
	if fluxloop.SpanFromContext(context.Background()) != nil {
		t.Errorf("goroutine still has a current observation after everything ended")
	}
}

// Spans ended out of order, or on another goroutine, leave the right current
// observation behind.
func TestOutOfOrderEnd(t *testing.T) {
	rec := fluxlooptest.New(t)
	_, a := fluxloop.Start(nil, "a")
	_, b := fluxloop.Start(nil, "b") // child of a (goroutine-local)
	done := make(chan struct{})
	go func() { a.End(); close(done) }() // a ends first, on another goroutine
	<-done
	if cur := fluxloop.SpanFromContext(nil); cur != b {
		t.Fatalf("current = %v, want b", cur)
	}
	b.End() // a has ended: nothing is current
	if cur := fluxloop.SpanFromContext(nil); cur != nil {
		t.Fatalf("current = %v after both ended, want nil", cur)
	}
	bo := rec.MustGet("b")
	if bo.ParentObservationID != rec.MustGet("a").ID {
		t.Errorf("b is not a's child:\n%s", rec.Tree())
	}
}

func TestHandoff(t *testing.T) {
	rec := fluxlooptest.New(t)
	ctx, parent := fluxloop.Start(context.Background(), "parent")
	h := fluxloop.Handoff(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		h.Adopt()
		defer h.Release()
		Helper("in goroutine")
	}()
	go func() { // no hand-over: a root of its own
		defer wg.Done()
		Helper("orphan")
	}()
	wg.Wait()
	parent.End()

	p := rec.MustGet("parent")
	var adopted, orphan fluxloop.Observation
	for _, o := range rec.All("Helper") {
		if strings.Contains(string(o.Input), "orphan") {
			orphan = o
		} else {
			adopted = o
		}
	}
	if adopted.ParentObservationID != p.ID || adopted.TraceID != p.TraceID {
		t.Errorf("handed-over Helper is not parent's child:\n%s", rec.Tree())
	}
	if orphan.ParentObservationID != "" {
		t.Errorf("Helper without hand-over has parent %q", orphan.ParentObservationID)
	}
	if (fluxloop.Handover{}) != fluxloop.Handoff(context.Background()) {
		t.Errorf("Handoff with nothing active is not the zero Handover")
	}
	var zero fluxloop.Handover
	zero.Adopt() // no-ops
	zero.Release()
}

// Handover to a goroutine that outlives its parent: the goroutine's
// observations still name the parent.
func TestHandoffParentEndedFirst(t *testing.T) {
	rec := fluxlooptest.New(t)
	ctx, parent := fluxloop.Start(context.Background(), "parent")
	h := fluxloop.Handoff(ctx)
	parent.End()
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.Adopt()
		defer h.Release()
		Helper("late")
	}()
	<-done
	if got := rec.MustGet("Helper").ParentObservationID; got != rec.MustGet("parent").ID {
		t.Errorf("late Helper's parent = %q:\n%s", got, rec.Tree())
	}
}

func TestSpanContextDelegates(t *testing.T) {
	fluxlooptest.New(t)
	type key struct{}
	base, cancel := context.WithTimeout(context.WithValue(context.Background(), key{}, "v"), time.Hour)
	ctx, sp := fluxloop.Start(base, "s")
	defer sp.End()
	if ctx.Value(key{}) != "v" {
		t.Errorf("Value not delegated")
	}
	if _, ok := ctx.Deadline(); !ok {
		t.Errorf("Deadline not delegated")
	}
	child, cancelChild := context.WithCancel(ctx)
	defer cancelChild()
	cancel()
	select {
	case <-child.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("cancelling the base did not cancel a context derived from the span's")
	}
	if ctx.Err() == nil {
		t.Errorf("Err not delegated")
	}
	if fluxloop.SpanFromContext(child) != sp {
		t.Errorf("SpanFromContext through a derived context failed")
	}
}
