package fluxloop_test

import (
	"context"
	"testing"
	"time"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
)

// A finished trace is written as soon as its root ends, without Flush and
// long before FlushInterval; observations of a trace still running wait for
// a batch or the interval.
func TestRootEndWritesAtOnce(t *testing.T) {
	mem := fluxloop.NewMemoryStorage()
	c := install(t, fluxloop.WithStorage(mem), fluxloop.WithBatchSize(1000), fluxloop.WithFlushInterval(time.Hour))
	ctx, root := fluxloop.Start(context.Background(), "root")
	_, child := fluxloop.Start(ctx, "child")
	child.End()
	time.Sleep(50 * time.Millisecond)
	if n := len(mem.Observations()); n != 0 {
		t.Fatalf("%d observations written before the root ended, want 0 (a child must not wake the writer)", n)
	}
	root.End()
	deadline := time.Now().Add(5 * time.Second)
	for len(mem.Observations()) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the trace was not written within 5s of its root's end (flush interval 1h): %+v", c.Stats())
		}
		time.Sleep(time.Millisecond)
	}
	if st := c.Stats(); st.Enqueued != 2 || st.Written != 2 || st.Dropped != 0 || st.Failed != 0 {
		t.Errorf("stats %+v, want 2 enqueued and written", st)
	}
}

// The default interval keeps what a program that forgets Shutdown loses
// small.
func TestDefaultFlushIntervalIsShort(t *testing.T) {
	if fluxloop.DefaultFlushInterval > 200*time.Millisecond {
		t.Errorf("DefaultFlushInterval = %v, want at most 200ms", fluxloop.DefaultFlushInterval)
	}
	c, err := fluxloop.NewClient(fluxloop.WithStorage(fluxloop.NewMemoryStorage()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Shutdown(context.Background())
	if got := c.Config().FlushInterval; got != fluxloop.DefaultFlushInterval {
		t.Errorf("FlushInterval = %v, want the default %v", got, fluxloop.DefaultFlushInterval)
	}
}
