package fluxloop

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/petermattis/goid"
)

// The goroutine-local fallback. Functions without a context.Context in reach
// (EnterLocal) find their parent here, and so does Enter when its ctx carries
// no span. Every span registers itself as its goroutine's current span when it
// starts, remembering the previous one, and restores that one when it ends,
// skipping spans that have ended in the meantime; a goroutine whose chain is
// empty is deleted from the table, so the table only holds goroutines that are
// inside a traced call. A span may end on another goroutine: it remembers the
// goroutine it registered on.
//
// Goroutine ids come from github.com/petermattis/goid (reads the id from the
// runtime's g, about 2 ns). The table is 64 shards, each a mutex and a small
// open-addressing hash table keyed by goroutine id (cheaper than a Go map for
// the insert-and-delete pattern of root calls): an uncontended lock and a
// probe per start and per end.

const glsShards = 64

type glsShard struct {
	mu sync.Mutex
	t  glsTable
	_  [64 - 8 - 24 - 8]byte // one shard per cache line
}

var gls [glsShards]glsShard

func shardOf(gid int64) *glsShard { return &gls[uint64(gid)%glsShards] }

// glsTable maps goroutine ids (never 0) to spans, with linear probing and
// backward-shift deletion, so it holds no tombstones and never grows beyond
// twice the number of goroutines inside traced calls in its shard.
type glsTable struct {
	slots []glsSlot
	n     int
}

type glsSlot struct {
	gid  int64
	span *Span
}

func (t *glsTable) home(gid int64) int {
	// the low 6 bits chose the shard; mix the rest
	return int((uint64(gid) >> 6 * 0x9E3779B97F4A7C15) >> 32 & uint64(len(t.slots)-1))
}

func (t *glsTable) get(gid int64) *Span {
	if t.n == 0 {
		return nil
	}
	mask := len(t.slots) - 1
	for i := t.home(gid); ; i = (i + 1) & mask {
		switch t.slots[i].gid {
		case gid:
			return t.slots[i].span
		case 0:
			return nil
		}
	}
}

func (t *glsTable) set(gid int64, s *Span) {
	if 2*(t.n+1) > len(t.slots) {
		t.resize(max(8, 2*len(t.slots)))
	}
	mask := len(t.slots) - 1
	for i := t.home(gid); ; i = (i + 1) & mask {
		switch t.slots[i].gid {
		case gid:
			t.slots[i].span = s
			return
		case 0:
			t.slots[i] = glsSlot{gid, s}
			t.n++
			return
		}
	}
}

func (t *glsTable) delete(gid int64) {
	if t.n == 0 {
		return
	}
	mask := len(t.slots) - 1
	i := t.home(gid)
	for ; t.slots[i].gid != gid; i = (i + 1) & mask {
		if t.slots[i].gid == 0 {
			return
		}
	}
	// backward-shift the entries after i that probed past it
	for j := (i + 1) & mask; t.slots[j].gid != 0; j = (j + 1) & mask {
		h := t.home(t.slots[j].gid)
		if (j > i && (h <= i || h > j)) || (j < i && h <= i && h > j) {
			t.slots[i] = t.slots[j]
			i = j
		}
	}
	t.slots[i] = glsSlot{}
	t.n--
	if len(t.slots) > 64 && 8*t.n < len(t.slots) {
		t.resize(len(t.slots) / 2)
	}
}

func (t *glsTable) resize(size int) {
	old := t.slots
	t.slots = make([]glsSlot, size)
	t.n = 0
	for _, e := range old {
		if e.gid != 0 {
			t.set(e.gid, e.span)
		}
	}
}

// register makes s its goroutine's current span. If parent is nil it is taken
// from the goroutine's current span; ok is false when that parent does not
// record (its whole trace is unsampled), in which case s is not registered.
func register(s *Span, parent *Span) (p *Span, ok bool) {
	gid := goid.Get()
	sh := shardOf(gid)
	sh.mu.Lock()
	prev := sh.t.get(gid)
	if parent == nil {
		parent = prev
		if parent != nil && !parent.recording {
			sh.mu.Unlock()
			return nil, false
		}
	} else if prev != nil && prev != parent && parent.gid == gid && prev.recording &&
		prev.traceLo == parent.traceLo && prev.traceHi == parent.traceHi && prev.state.Load() == spanOpen {
		// The ctx's observation was started on this goroutine and another
		// of its trace is current here: calls nest like a stack on one
		// goroutine, so that one is inside it, and the innermost is the
		// parent (a traced function that keeps the caller's ctx, see
		// fluxloopgen, still nests).
		parent = prev
	}
	s.gid = gid
	s.local = prev
	sh.t.set(gid, s)
	sh.mu.Unlock()
	return parent, true
}

// unregister restores the span that was current before s on s's goroutine, if
// s is still the current one there.
func unregister(s *Span) {
	sh := shardOf(s.gid)
	sh.mu.Lock()
	if sh.t.get(s.gid) == s {
		p := s.local
		// Skip spans of this goroutine that ended out of order. A span
		// adopted from another goroutine (Handover) stays current even when
		// it has ended, until Release.
		for p != nil && p.gid == s.gid && p.state.Load() != spanOpen {
			p = p.local
		}
		if p == nil {
			sh.t.delete(s.gid)
		} else {
			sh.t.set(s.gid, p)
		}
	}
	sh.mu.Unlock()
}

// current returns the goroutine's current span, or nil.
func current() *Span {
	gid := goid.Get()
	sh := shardOf(gid)
	sh.mu.Lock()
	s := sh.t.get(gid)
	sh.mu.Unlock()
	return s
}

// Handover carries the observation active where it was made (by Handoff) to
// another goroutine. The zero Handover carries nothing and its methods do
// nothing.
type Handover struct {
	s *Span
}

// Handoff captures the observation active in ctx, or else the goroutine's
// current one, for a goroutine about to start. Observations started in that
// goroutine by functions without a ctx then become its children:
//
//	h := fluxloop.Handoff(ctx)
//	go func() {
//		h.Adopt()
//		defer h.Release()
//		helper() // traced, no ctx: a child of the observation active at `go`
//	}()
//
// The generator already hands over at go statements in traced functions
// (Follow0 … Follow6VR3) and at sync.WaitGroup.Go and errgroup's Go/TryGo
// (Bind, BindErr); Handoff is for hand-written goroutines elsewhere.
// Functions that receive ctx do not need it.
func Handoff(ctx context.Context) Handover {
	if atomic.LoadUint32(&std.modeRaw) == modeOff {
		return Handover{}
	}
	return Handover{s: SpanFromContext(ctx)}
}

// Adopt makes the handed-over observation the current goroutine's current
// observation. Call it first thing in the new goroutine, and defer Release.
func (h Handover) Adopt() {
	if h.s != nil {
		adopt(h.s)
	}
}

// Release clears the current goroutine's current observation, so that nothing
// stays in the goroutine table after the goroutine exits.
func (h Handover) Release() {
	if h.s != nil {
		restore(goid.Get(), nil)
	}
}

// quiet is a goroutine's current span (adopt(quiet) ... restore) while
// fluxloop runs user code to capture a value (a MarshalJSON or MarshalText
// method, an Error method). It
// records nothing, so traced functions called from there start no
// observation: capturing a value cannot record spurious observations, nor
// recurse when the value's encoder calls the traced function itself.
var quiet = &Span{parent: context.Background()}
