package fluxloopllm_test

import (
	"net/http"
	"path/filepath"
	"runtime"
	"testing"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"github.com/fluxloop/fluxloop-go/runtime/fluxloopllm"
	"github.com/fluxloop/fluxloop-go/runtime/fluxlooptest"
)

// wantPosition checks that g records line of this file as its position.
func wantPosition(t *testing.T, g fluxloop.Observation, line int) {
	t.Helper()
	md := meta(t, g)
	file, _ := md["code.filepath"].(string)
	if filepath.Base(file) != "callsite_test.go" || md["code.lineno"] != float64(line) {
		t.Errorf("position %v:%v, want the call into the SDK at callsite_test.go:%d", md["code.filepath"], md["code.lineno"], line)
	}
}

// A frame named after the program's package whose file is an SDK's (an
// SDK's function literal inlined into the program) is the SDK's.
func TestCodePositionInlinedSDKClosure(t *testing.T) {
	t.Parallel()
	rec := fluxlooptest.NewParallel(t)
	p := newProvider(t, fixed(jsonReply(t, 200, "gemini.json")))
	client := &http.Client{Transport: fluxloopllm.NewTransport(p.base())}
	ctx, sp := fluxloop.Start(rec.Context(), "agent", fluxloop.WithType(fluxloop.TypeAgent))
	_, _, line, _ := runtime.Caller(0)
	for _, err := range sdkStream(ctx, client, "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent", geminiRequest) {
		if err != nil {
			t.Fatal(err)
		}
	}
	sp.End()
	_, g := only(t, rec)
	wantPosition(t, g, line+1)
}

// The frames of github.com/googleapis/gax-go (generative-ai-go's REST
// client calls the HTTP client from its Invoke) are library frames, by file
// as by name.
func TestCodePositionGaxInvoke(t *testing.T) {
	t.Parallel()
	rec := fluxlooptest.NewParallel(t)
	p := newProvider(t, fixed(jsonReply(t, 200, "gemini.json")))
	client := &http.Client{Transport: fluxloopllm.NewTransport(p.base())}
	ctx, sp := fluxloop.Start(rec.Context(), "agent", fluxloop.WithType(fluxloop.TypeAgent))
	_, _, line, _ := runtime.Caller(0)
	if _, err := sdkInvoke(ctx, client, "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent?%24alt=json%3Benum-encoding%3Dint", geminiRequest); err != nil {
		t.Fatal(err)
	}
	sp.End()
	_, g := only(t, rec)
	wantPosition(t, g, line+1)
}
