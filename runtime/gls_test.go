package fluxloop

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
)

// The goroutine table behaves like a map under random inserts, updates and
// deletes.
func TestGlsTableMatchesMap(t *testing.T) {
	var tab glsTable
	ref := map[int64]*Span{}
	spans := make([]*Span, 8)
	for i := range spans {
		spans[i] = &Span{}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 200000 {
		gid := int64(r.IntN(300)+1) << 6 // one shard's ids
		switch r.IntN(3) {
		case 0, 1:
			s := spans[r.IntN(len(spans))]
			tab.set(gid, s)
			ref[gid] = s
		case 2:
			tab.delete(gid)
			delete(ref, gid)
		}
		if tab.n != len(ref) {
			t.Fatalf("step %d: n = %d, want %d", i, tab.n, len(ref))
		}
		if i%1000 == 0 {
			for g := int64(1); g <= 300; g++ {
				if got := tab.get(g << 6); got != ref[g<<6] {
					t.Fatalf("step %d: get(%d) = %p, want %p", i, g<<6, got, ref[g<<6])
				}
			}
		}
	}
}

func glsSize() (entries, slots int) {
	for i := range gls {
		gls[i].mu.Lock()
		entries += gls[i].t.n
		slots += len(gls[i].t.slots)
		gls[i].mu.Unlock()
	}
	return
}

// A million traced calls, nested and from several goroutines, leave the
// goroutine table as they found it.
func TestNoGrowth(t *testing.T) {
	// The writer is stuck and the queue tiny, so the spans are recorded and
	// then dropped: the table, not the writer, is what this measures.
	stuck := make(chan struct{})
	defer close(stuck)
	c, err := NewClient(WithStorage(stuckStorage(stuck)), WithMaxQueueSize(1), WithBatchSize(1))
	if err != nil {
		t.Fatal(err)
	}
	c.dropLogged.Store(true) // the drops are expected
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 0)
		defer cancel()
		c.Shutdown(ctx)
	}()
	prev := SetDefault(c)
	defer SetDefault(prev)
	site := &Site{Name: "f"}
	warm := func() {
		ctx, s := Enter(context.Background(), site)
		_, s2 := c.Start(ctx, "g")
		s3 := EnterLocal(site)
		s3.End()
		s2.End()
		s.Return(nil)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() { defer wg.Done(); warm() }()
	}
	wg.Wait()
	entries0, slots0 := glsSize()
	const calls = 1_000_000
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range calls / 4 / 2 {
				ctx, s := Enter(context.Background(), site)
				_, child := Enter(ctx, site)
				child.End()
				s.Return(nil)
				s = EnterLocal(site)
				s.End()
			}
			_ = g
		}()
	}
	wg.Wait()
	entries, slots := glsSize()
	if entries != entries0 || slots > slots0+8*glsShards {
		t.Errorf("goroutine table: %d entries in %d slots after %d calls, was %d in %d", entries, slots, calls, entries0, slots0)
	}
}

type stuckStorage chan struct{}

func (s stuckStorage) Write(ctx context.Context, _ []Record) error {
	select {
	case <-s:
	case <-ctx.Done():
	}
	return nil
}
func (stuckStorage) Flush(context.Context) error { return nil }
func (stuckStorage) Close(context.Context) error { return nil }
