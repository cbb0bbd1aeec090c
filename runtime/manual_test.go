package fluxloop_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"github.com/fluxloop/fluxloop-go/runtime/fluxlooptest"
)

func TestStartAndSpanMethods(t *testing.T) {
	rec := fluxlooptest.New(t)
	ctx, obs := fluxloop.Start(context.Background(), "db.query",
		fluxloop.WithType(fluxloop.TypeTool),
		fluxloop.WithInput("sql", "select 1"),
		fluxloop.WithMetadata("db", "pg"))
	if len(obs.ID()) != 16 || len(obs.TraceID()) != 32 {
		t.Errorf("ID %q TraceID %q", obs.ID(), obs.TraceID())
	}
	if fluxloop.SpanFromContext(ctx) != obs {
		t.Errorf("SpanFromContext(ctx) is not the started span")
	}
	var wg sync.WaitGroup // attributes from many goroutines at once
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fluxloop.SetAttributes(ctx, fluxloop.Attribute("k"+itoa(i), i))
		}()
	}
	wg.Wait()
	obs.SetOutput(map[string]int{"rows": 1})
	fluxloop.RecordError(ctx, errors.New("slow query"))
	obs.End()
	obs.End()                                           // idempotent
	obs.SetAttributes(fluxloop.Attribute("late", true)) // ignored after End

	o := rec.MustGet("db.query")
	if o.Type != fluxloop.TypeTool || o.ID != obs.ID() || o.TraceID != obs.TraceID() {
		t.Errorf("observation %+v", o)
	}
	assertJSON(t, o.Input, `{"sql":"select 1"}`)
	assertJSON(t, o.Output, `{"rows":1}`)
	if o.Error != "slow query" || o.Level != fluxloop.LevelError || o.Metadata["error_type"] != "*errors.errorString" {
		t.Errorf("error %q level %q metadata %v", o.Error, o.Level, o.Metadata)
	}
	if o.Metadata["db"] != "pg" || o.Metadata["k7"] != int64(7) || o.Metadata["late"] != nil {
		t.Errorf("metadata %v", o.Metadata)
	}
	if len(rec.Observations()) != 1 {
		t.Errorf("a second End recorded again")
	}
}

func TestSetTrace(t *testing.T) {
	rec := fluxlooptest.New(t)
	ctx, root := fluxloop.Start(context.Background(), "root")
	cctx, child := fluxloop.Start(ctx, "child")
	fluxloop.SetTrace(cctx, fluxloop.TraceInfo{SessionID: "s", Tags: []string{"a"}, Metadata: map[string]any{"apiKey": "k", "n": 1}})
	fluxloop.SetTrace(ctx, fluxloop.TraceInfo{UserID: "u", Tags: []string{"b"}})
	child.End()
	root.End()
	tr := rec.Traces()
	if len(tr) != 1 {
		t.Fatalf("%d traces", len(tr))
	}
	if tr[0].SessionID != "s" || tr[0].UserID != "u" || strings.Join(tr[0].Tags, ",") != "a,b" {
		t.Errorf("trace %+v", tr[0])
	}
	if tr[0].Metadata["apiKey"] != fluxloop.Masked || tr[0].Metadata["n"] != int64(1) {
		t.Errorf("trace metadata %v", tr[0].Metadata)
	}
}

func TestUsage(t *testing.T) {
	rec := fluxlooptest.New(t)
	ctx, gen := fluxloop.Start(context.Background(), "llm", fluxloop.WithType(fluxloop.TypeGeneration))
	fluxloop.SetUsage(ctx, fluxloop.Usage{Model: "gpt", PromptTokens: 10, CompletionTokens: 5})
	gen.End()
	o := rec.MustGet("llm")
	if o.Model != "gpt" || o.PromptTokens != 10 || o.CompletionTokens != 5 || o.TotalTokens != 15 {
		t.Errorf("usage %+v", o)
	}
}

func TestPanicRecorded(t *testing.T) {
	rec := fluxlooptest.New(t)
	func() {
		defer func() {
			r := recover()
			if r == nil {
				t.Fatal("the panic was swallowed")
			}
			if !strings.Contains(r.(error).Error(), "index out of range") {
				t.Fatalf("re-panicked with %v", r)
			}
		}()
		Boom(3)
	}()
	o := rec.MustGet("Boom")
	if !strings.Contains(o.Error, "index out of range [3]") || o.Level != fluxloop.LevelError || o.StatusMessage != "panic" {
		t.Errorf("Boom = %+v", o)
	}
	if o.Metadata["error_type"] != "runtime.boundsError" {
		t.Errorf("error_type = %v", o.Metadata["error_type"])
	}
	if tb, _ := o.Metadata["traceback"].(string); !strings.Contains(tb, "helpers_test.go") || !strings.Contains(tb, "Boom") {
		t.Errorf("traceback = %q", tb)
	}
	if o.Output != nil {
		t.Errorf("a panicking call has output %s", o.Output)
	}
	if cur := fluxloop.SpanFromContext(nil); cur != nil {
		t.Errorf("the panicked span is still current")
	}
}
