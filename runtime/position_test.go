package fluxloop_test

import (
	"context"
	"path/filepath"
	"runtime"
	"testing"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"github.com/fluxloop/fluxloop-go/runtime/fluxlooptest"
)

var sitePositioned = fluxloop.Site{Name: "Positioned"}

// positioned carries a line directive before Enter, as generated code does,
// so that the recorded line is the function's own line in the original file.
func positioned(ctx context.Context) {
//line :77:1
	ctx, sp := fluxloop.Enter(ctx, &sitePositioned)
//line :19:1
	if sp != nil {
		defer sp.Return(nil)
	}
	_ = ctx
}

func TestSitePosition(t *testing.T) {
	rec := fluxlooptest.New(t)
	positioned(context.Background())
	positioned(context.Background()) // the cached position
	for _, o := range rec.All("Positioned") {
		file, _ := o.Metadata["code.filepath"].(string)
		if !filepath.IsAbs(file) || filepath.Base(file) != "position_test.go" || o.Metadata["code.lineno"] != 77 {
			t.Errorf("position %v:%v, want an absolute path to position_test.go, line 77", o.Metadata["code.filepath"], o.Metadata["code.lineno"])
		}
	}
}

var siteOffset = fluxloop.Site{Name: "Offset", Offset: 4}

// offset is laid out as code instrumented in place: no line directive, the
// Enter call Offset lines below the func keyword.
func offset(
	ctx context.Context,
) {
	// The comment takes a line.
	ctx, sp := fluxloop.Enter(ctx, &siteOffset)
	if sp != nil {
		defer sp.Return(nil)
	}
	_ = ctx
}

func TestSiteOffset(t *testing.T) {
	rec := fluxlooptest.New(t)
	offset(context.Background())
	_, _, line, _ := runtime.Caller(0)
	want := line - 14 // the line of func offset
	if got := rec.MustGet("Offset").Metadata["code.lineno"]; got != want {
		t.Errorf("code.lineno %v, want %d, the line of func offset", got, want)
	}
}
