package viewertest

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/fluxloop/fluxloop-go/internal/viewer"
	"github.com/fluxloop/fluxloop-go/internal/viewer/ui"
	"github.com/fluxloop/fluxloop-go/runtime/tracefile"
)

// serve indexes the fluxloop directory dir, follows its files as
// fluxloop serve does, and serves the viewer on a loopback httptest server;
// it returns the server's URL.
func serve(t *testing.T, dir string) string {
	t.Helper()
	src, err := tracefile.Locate(dir)
	if err != nil {
		t.Fatal(err)
	}
	ix := viewer.NewIndex()
	warn := func(w tracefile.Warning) { t.Logf("warning: %v", w) }
	f, err := ix.Load(src, warn)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = ix.Follow(ctx, f, 50*time.Millisecond, warn)
	}()
	srv := httptest.NewServer(viewer.NewHandler(ix, viewer.Options{Assets: ui.FS()}))
	t.Cleanup(func() {
		srv.CloseClientConnections() // the event streams
		srv.Close()
		cancel()
		<-done
		f.Close()
	})
	return srv.URL
}
