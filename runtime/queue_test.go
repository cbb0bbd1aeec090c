package fluxloop_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
)

// install makes c the default client for the test.
func install(t *testing.T, opts ...fluxloop.Option) *fluxloop.Client {
	t.Helper()
	c, err := fluxloop.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	prev := fluxloop.SetDefault(c)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		c.Shutdown(ctx)
		if prev != nil {
			fluxloop.SetDefault(prev)
		}
	})
	return c
}

// quiet silences the runtime's warnings on stderr for a test that provokes
// them on purpose.
func quiet(t *testing.T) {
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return
	}
	saved := os.Stderr
	os.Stderr = null
	t.Cleanup(func() { os.Stderr = saved; null.Close() })
}

// blocking is a storage whose Write blocks until release is closed (or, if
// honorCtx, until the write's ctx is done).
type blocking struct {
	release  chan struct{}
	honorCtx bool
	writes   atomic.Int64
	obs      atomic.Int64
}

func (b *blocking) Write(ctx context.Context, batch []fluxloop.Record) error {
	b.writes.Add(1)
	if b.honorCtx {
		select {
		case <-b.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	} else {
		<-b.release
	}
	b.obs.Add(int64(len(batch)))
	return nil
}
func (b *blocking) Flush(context.Context) error { return nil }
func (b *blocking) Close(context.Context) error { return nil }

func TestQueueOverflowNeverBlocks(t *testing.T) {
	quiet(t)
	st := &blocking{release: make(chan struct{})}
	c := install(t, fluxloop.WithStorage(st), fluxloop.WithMaxQueueSize(4), fluxloop.WithBatchSize(1))
	ctx := context.Background()
	Add(ctx, 0, 0)
	deadline := time.Now().Add(5 * time.Second)
	for st.writes.Load() == 0 && time.Now().Before(deadline) { // the writer is now stuck
		time.Sleep(time.Millisecond)
	}
	const n = 1000
	start := time.Now()
	for i := range n {
		Add(ctx, i, 1)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("%d traced calls took %v with a stuck storage", n, d)
	}
	st1 := c.Stats()
	if st1.Dropped < n-4 {
		t.Errorf("dropped %d of %d with a queue of 4", st1.Dropped, n)
	}
	close(st.release)
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	st2 := c.Stats()
	if st2.Written+st2.Dropped != n+1 || st2.Enqueued != st2.Written || int64(st2.Written) != st.obs.Load() {
		t.Errorf("stats %+v do not add up to %d observations (storage saw %d)", st2, n+1, st.obs.Load())
	}
}

// slow is a storage that takes a while per write and keeps what it got.
type slow struct {
	mu     sync.Mutex
	names  []string
	closed int
}

func (s *slow) Write(ctx context.Context, b []fluxloop.Record) error {
	time.Sleep(time.Millisecond)
	s.mu.Lock()
	for _, o := range b {
		s.names = append(s.names, o.Name)
	}
	s.mu.Unlock()
	return nil
}
func (s *slow) Flush(context.Context) error { return nil }
func (s *slow) Close(context.Context) error { s.mu.Lock(); s.closed++; s.mu.Unlock(); return nil }

func TestShutdownDrains(t *testing.T) {
	st := &slow{}
	c := install(t, fluxloop.WithStorage(st), fluxloop.WithBatchSize(1000), fluxloop.WithFlushInterval(time.Hour))
	const n = 5000
	for i := range n {
		Add(context.Background(), i, 1)
	}
	if err := c.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if len(st.names) != n || st.closed != 1 {
		t.Errorf("storage got %d observations and %d closes, want %d and 1", len(st.names), st.closed, n)
	}
	if err := c.Shutdown(context.Background()); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
	if st.closed != 1 {
		t.Errorf("storage closed %d times", st.closed)
	}
	// After Shutdown the default client records nothing and Enter is cheap.
	if _, sp := fluxloop.Enter(context.Background(), &siteAdd); sp != nil {
		t.Errorf("Enter after Shutdown returned a span")
	}
	if err := c.Flush(context.Background()); err != nil {
		t.Errorf("Flush after Shutdown: %v", err)
	}
}

func TestShutdownDeadlineReportsLoss(t *testing.T) {
	quiet(t)
	st := &blocking{release: make(chan struct{})} // ignores ctx: truly stuck
	defer close(st.release)
	c := install(t, fluxloop.WithStorage(st), fluxloop.WithBatchSize(1))
	for i := range 50 {
		Add(context.Background(), i, 1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := c.Shutdown(ctx)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Shutdown took %v past its deadline", d)
	}
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "50 observations not written") {
		t.Errorf("Shutdown = %v, want a deadline error counting 50 lost observations", err)
	}
}

func TestFlushDeadline(t *testing.T) {
	quiet(t)
	st := &blocking{release: make(chan struct{}), honorCtx: true}
	defer close(st.release)
	c := install(t, fluxloop.WithStorage(st), fluxloop.WithBatchSize(1))
	Add(context.Background(), 1, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := c.Flush(ctx); err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Flush with a stuck storage = %v, want a deadline error", err)
	}
}

type failing struct{}

func (failing) Write(context.Context, []fluxloop.Record) error { return errors.New("disk full") }
func (failing) Flush(context.Context) error                    { return nil }
func (failing) Close(context.Context) error                    { return nil }

func TestStorageErrorsCounted(t *testing.T) {
	quiet(t)
	c := install(t, fluxloop.WithStorage(failing{}))
	for i := range 3 {
		Add(context.Background(), i, 1)
	}
	c.Flush(context.Background())
	st := c.Stats()
	if st.Failed != 3 || st.Errors == 0 || st.Written != 0 {
		t.Errorf("stats %+v, want 3 failed", st)
	}
}

// The writer flushes on its own after FlushInterval when fewer than
// BatchSize observations are waiting.
func TestFlushInterval(t *testing.T) {
	mem := fluxloop.NewMemoryStorage()
	install(t, fluxloop.WithStorage(mem), fluxloop.WithBatchSize(100), fluxloop.WithFlushInterval(20*time.Millisecond))
	Add(context.Background(), 1, 1)
	deadline := time.Now().Add(5 * time.Second)
	for len(mem.Observations()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("observation not written within 5s with a 20ms flush interval")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type panicking struct{}

func (panicking) Write(context.Context, []fluxloop.Record) error { panic("storage bug") }
func (panicking) Flush(context.Context) error                    { panic("storage bug") }
func (panicking) Close(context.Context) error                    { return nil }

// A storage that panics costs its observations, not the program.
func TestStoragePanicContained(t *testing.T) {
	quiet(t)
	c := install(t, fluxloop.WithStorage(panicking{}))
	Add(context.Background(), 1, 1)
	if err := c.Flush(context.Background()); err == nil || !strings.Contains(err.Error(), "panicked") {
		t.Errorf("Flush = %v, want the storage's panic as an error", err)
	}
	if st := c.Stats(); st.Failed != 1 || st.Errors < 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestSetDefaultNil(t *testing.T) {
	c := install(t, fluxloop.WithStorage(fluxloop.NewMemoryStorage()))
	if prev := fluxloop.SetDefault(nil); prev != c {
		t.Fatalf("SetDefault(nil) returned %p, want %p", prev, c)
	}
	t.Setenv("FLUXLOOP_STORAGE", "memory")
	d := fluxloop.Default() // made from the environment
	defer d.Shutdown(context.Background())
	if d == c || d == nil {
		t.Fatalf("Default after SetDefault(nil) = %p", d)
	}
	if _, ok := d.Storage().(*fluxloop.MemoryStorage); !ok {
		t.Errorf("environment default has storage %T", d.Storage())
	}
	fluxloop.SetDefault(c)
}
