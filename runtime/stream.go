package fluxloop

import (
	"fmt"
	"iter"
	"math"
	"reflect"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Streams: a traced function that returns a receive-only channel, an
// iter.Seq or an iter.Seq2 is not done when it returns; its observation
// lasts until the stream ends. Generated code wraps such results with Chan,
// Seq or Seq2 before calling Return; Return then records the function's
// error and leaves the span open, and the stream ends it:
//
//   - a channel when the source channel is closed (after the last item was
//     handed to the consumer's channel),
//   - an iterator when the iteration finishes or the consumer breaks out of
//     its loop.
//
// Which results are wrapped is decided so that wrapping never changes the
// program. An iterator is always wrapped (unless the directive says
// stream=false): the wrapper is transparent, since ranging over it ranges
// over the original once, with the same values and the same early stop, on
// the consumer's goroutine, with no goroutine of its own; its one effect is
// that the observation stays open until the iterator is ranged over, or
// until Shutdown ends it (flagged stream_abandoned, below). A channel is
// forwarded by a goroutine (Chan), which is only transparent for a channel
// that nobody else receives from, so the generator wraps a channel result
// only when the function makes the channel itself (every return path
// returns a make(chan ...), or a local variable or named result only ever
// assigned one); a channel the function merely hands out, like a
// time.Timer's C or a ctx.Done(), is returned as it is, since a forwarder
// per call would take values meant for the other receivers. The directive's
// stream=true wraps any receive-only channel result anyway.
//
// The output is the JSON array of the items delivered, cut at the capture
// size limit (WithMaxFieldBytes) with a final "…(N more items)" marker, the
// whole array, marker included, within the limit; metadata has stream_items
// (the count delivered) and first_item_ms (time from the start of the
// observation to the first item). An item that is an error (the second value
// of an iter.Seq2[T, error], or an item of a type implementing error) or a
// struct with a non-nil Err error field records that error on the
// observation. Items are encoded only until the limit is reached; after
// that, delivering an item costs a counter increment.
//
// Abandoned streams. An iterator that is never ranged over, or a channel
// whose consumer stops reading, would keep its observation open forever; at
// Shutdown such observations end, flagged stream_abandoned, with what was
// delivered so far (exactly for a parked channel or an iterator never
// ranged; for a stream still delivering, the items encoded in the output
// are exact and the count may lag by up to 63 once the output is full).
// A channel stream is forwarded by one goroutine; when the consumer
// abandons the channel, that goroutine stays parked on its send next to the
// producer goroutine the unwrapped program would leak, and keeps forwarding
// if the consumer comes back (so behaviour never changes). An iterator
// panicking records the panic on the observation (a panic of the consumer's
// loop body does not).

// stream is the state of one open stream of a span.
//
// One goroutine at a time delivers items (the forwarder of a channel, the
// goroutine ranging over an iterator): it owns n and enc and calls next and
// encode without other synchronization. finish may also be called by
// Shutdown (abandonStreams), from another goroutine, so what it reads is
// published: the encoded items under mu, the count through pub.
type stream struct {
	s   *Span
	max int // MaxFieldBytes

	// owned by the delivering goroutine
	n        int  // items delivered
	enc      bool // items are still being encoded (outputs captured, limit not reached)
	slow     bool // the next item needs item or item2 (see next)
	yielding bool // an iterator's consumer is running (a panic now is not the iterator's)

	// pub is n as seen from other goroutines, for finish(abandoned),
	// stored every pubEvery items (an atomic store per item would cost
	// more than the rest of an iterator item's path); a channel's
	// forwarder also stores it before it waits, so that it is exact when
	// the forwarder is parked: the items handed to the consumer's channel.
	pub       atomic.Int64
	forwarded bool         // a channel stream: the forwarder encodes an item before handing it over
	first     atomic.Int64 // ns from the span's start to the first item, -1 before it
	started   atomic.Bool  // the iterator has been ranged over (Seq, Seq2)

	mu     sync.Mutex
	buf    []byte // JSON array of the encoded items, without the closing ]
	kept   int    // items in buf
	starts [popRing]int32
	done   bool
}

const (
	pubEvery = 64
	// popRing is how many of the last item boundaries are remembered, to
	// remove items from the end of buf so that the marker fits: each item
	// takes at least two bytes, and the marker at most 40.
	popRing = 32
)

// closedStreams marks a client's open-stream table once Shutdown has
// abandoned its streams: later streams are not kept open.
var closedStreams = &stream{}

// openStream keeps s open until the returned stream finishes; forwarded is
// true for a channel stream. It returns nil when s's client has been shut
// down.
func (s *Span) openStream(forwarded bool) *stream {
	c := s.client
	st := &stream{s: s, max: c.cfg.MaxFieldBytes, enc: c.cfg.Capture.outputs(), slow: true, forwarded: forwarded}
	st.first.Store(-1)
	c.streamsMu.Lock()
	if c.openStreams == nil {
		c.openStreams = map[*stream]struct{}{}
	}
	if _, shut := c.openStreams[closedStreams]; shut {
		c.streamsMu.Unlock()
		return nil
	}
	c.openStreams[st] = struct{}{}
	s.streams.Add(1)
	c.streamsMu.Unlock()
	return st
}

// next counts one delivered item and reports whether item must be called
// for it: for the first item, every pubEvery items, and for every item while
// items are encoded or checked for errors. Only the delivering goroutine
// calls it; it is small enough to be inlined into the per-item path.
func (st *stream) next() (slow bool) {
	st.n++
	return st.slow || st.n&(pubEvery-1) == 0
}

// end is deferred by an iterator wrapper: it finishes the stream, and
// records a panic of the iterator (not one of the consumer's loop body,
// which passes through too) on the observation before letting it go on.
func (st *stream) end() {
	if r := recover(); r != nil {
		if !st.yielding {
			st.s.recordPanic(r)
		}
		st.finish(st.n, false)
		panic(r)
	}
	st.finish(st.n, false)
}

// recordPanic records a panic as Panic does, without ending the span.
func (s *Span) recordPanic(v any) {
	if !s.recording {
		return
	}
	msg := sprintSafe(v)
	stack := string(debug.Stack())
	s.mu.Lock()
	if s.state.Load() == spanOpen {
		x := s.extLocked()
		x.err, x.hasErr = msg, true
		x.errType = fmt.Sprintf("%T", v)
		x.stack = stack
		x.status = "panic"
	}
	s.mu.Unlock()
}

// item is the slow part of delivering an item: the first item's time, the
// published count, the item's error and its encoding. Only the delivering
// goroutine calls it.
//
//go:noinline
func item[T any](st *stream, errOf func(T) error, v T) {
	if st.n == 1 {
		st.first.Store(int64(time.Since(st.s.start)))
	}
	if !st.forwarded && (st.n&(pubEvery-1) == 0 || !st.enc) { // while encoding, kept counts
		st.pub.Store(int64(st.n))
	}
	if errOf != nil {
		if err := errOf(v); err != nil {
			st.s.RecordError(err)
		}
	}
	if st.enc {
		st.encode(V(v), nil)
	}
	st.slow = st.enc || errOf != nil
}

// item2 is item for a Seq2 pair.
//
//go:noinline
func item2[K, T any](st *stream, errOf func(T) error, k K, v T) {
	if st.n == 1 {
		st.first.Store(int64(time.Since(st.s.start)))
	}
	if st.n&(pubEvery-1) == 0 || !st.enc {
		st.pub.Store(int64(st.n))
	}
	if errOf != nil {
		if err := errOf(v); err != nil {
			st.s.RecordError(err)
		}
	}
	if st.enc {
		vv := V(v)
		st.encode(V(k), &vv)
	}
	st.slow = st.enc || errOf != nil
}

// encode appends one item (a, or the pair [a, b] when b is not nil) to the
// output array, unless it would make the array exceed the size limit: then
// this item and all later ones are only counted. Only the delivering
// goroutine calls it.
func (st *stream) encode(a Value, b *Value) {
	st.mu.Lock()
	if st.done {
		st.enc = false
		st.mu.Unlock()
		return
	}
	mark := len(st.buf)
	if cap(st.buf)-mark < 64 && cap(st.buf) < st.max+64 {
		// Grow by doubling up to the limit, with room for the item that
		// does not fit, so that the last append does not grow it again.
		buf := make([]byte, mark, min(max(256, 2*cap(st.buf)), st.max+64))
		copy(buf, st.buf)
		st.buf = buf
	}
	if mark == 0 {
		st.buf = append(st.buf, '[')
	} else {
		st.buf = append(st.buf, ',')
	}
	if b != nil {
		st.buf = append(st.buf, '[')
	}
	sa := a.frozen()
	st.buf = appendValue(st.buf, &sa)
	if b != nil {
		st.buf = append(st.buf, ',')
		sb := b.frozen()
		st.buf = appendValue(st.buf, &sb)
		st.buf = append(st.buf, ']')
	}
	if len(st.buf)+1 > st.max { // +1: the closing ]
		st.buf = st.buf[:mark]
		st.enc = false
	} else {
		st.starts[st.kept%popRing] = int32(mark)
		st.kept++
	}
	st.mu.Unlock()
}

// finish ends the stream: it records the items on the span and ends the span
// if the function has returned and no other stream of it is open. n is the
// number of items delivered, or -1 when the caller is not the delivering
// goroutine (Shutdown): the published count is used then.
func (st *stream) finish(n int, abandoned bool) {
	st.mu.Lock()
	if st.done {
		st.mu.Unlock()
		return
	}
	st.done = true
	buf, kept := st.buf, st.kept
	if n < 0 {
		// The encoded items were delivered, but for the one a forwarder
		// holds: it encodes an item before handing it over.
		n = int(st.pub.Load())
		if st.forwarded {
			n = max(n, kept-1)
		} else {
			n = max(n, kept)
		}
		for kept > n && st.kept-kept < popRing {
			kept--
			buf = buf[:st.starts[kept%popRing]]
		}
	}
	s := st.s
	md := []Attr{{Key: "stream_items", Value: slot{kind: kindInt, n: uint64(n)}}}
	if first := st.first.Load(); first >= 0 {
		md = append(md, Attr{Key: "first_item_ms", Value: slot{kind: kindFloat, n: math.Float64bits(float64(first) / 1e6)}})
	}
	if abandoned {
		md = append(md, Attr{Key: "stream_abandoned", Value: slot{kind: kindBool, n: 1}})
	}
	var out slot
	hasOut := s.client.cfg.Capture.outputs()
	if hasOut {
		if dropped := n - kept; dropped > 0 {
			// Remove items from the end until the marker fits.
			for len(buf)+len(markerText(dropped))+4 > st.max && kept > 0 {
				kept--
				dropped++
				if st.kept-kept > popRing {
					buf, dropped, kept = buf[:0], dropped+kept, 0
					break
				}
				buf = buf[:st.starts[kept%popRing]]
			}
			if len(buf) == 0 {
				buf = append(buf, '[')
			} else {
				buf = append(buf, ',')
			}
			buf = appendString(buf, markerText(dropped))
			md = append(md, Attr{Key: "fluxloop.truncated", Value: slot{kind: kindBool, n: 1}})
		} else if len(buf) == 0 {
			buf = append(buf, '[')
		}
		buf = append(buf, ']')
		out = slot{kind: kindJSON, s: unsafe.String(unsafe.SliceData(buf), len(buf))} // buf is not used again
	}
	st.buf = nil
	st.mu.Unlock()

	c := s.client
	c.streamsMu.Lock()
	delete(c.openStreams, st)
	c.streamsMu.Unlock()

	s.mu.Lock()
	if s.state.Load() == spanOpen {
		x := s.extLocked()
		x.attrs = append(x.attrs, md...)
		if hasOut {
			x.output, x.hasOutput = out, true
		}
	}
	s.mu.Unlock()
	if s.streams.Add(-1) == 0 && s.returned.Load() {
		s.End()
	}
}

func markerText(dropped int) string {
	return "…(" + strconv.Itoa(dropped) + " more items)"
}

// abandonStreams ends every open stream of c (at Shutdown); streams opened
// later are not kept open.
func (c *Client) abandonStreams() {
	c.streamsMu.Lock()
	open := make([]*stream, 0, len(c.openStreams))
	for st := range c.openStreams {
		if st != closedStreams {
			open = append(open, st)
		}
	}
	c.openStreams = map[*stream]struct{}{closedStreams: {}}
	c.streamsMu.Unlock()
	for _, st := range open {
		st.finish(-1, true)
	}
}

// Chan wraps the channel a traced function returns so that its observation
// lasts until the channel is closed. The consumer receives the same values in
// the same order from a channel of the same capacity, closed after the
// source is closed. A nil span or channel is returned as it is. Generated
// code calls it for channels the traced function makes (or with
// stream=true); see the notes on streams above: src must have no other
// receiver, or the forwarder competes with it for values.
func Chan[T any](s *Span, src <-chan T) <-chan T {
	if s == nil || src == nil || !s.recording || s.state.Load() != spanOpen {
		return src
	}
	st := s.openStream(true)
	if st == nil {
		return src
	}
	errOf := itemErrorFunc[T]()
	out := make(chan T, cap(src))
	go func() {
		for {
			// The count is published before the forwarder waits, on the
			// producer or on the consumer (so that it is exact when the
			// consumer has abandoned the channel), and every pubEvery
			// items, not after every item: an atomic store costs more
			// than the rest of the item's path but the channel operations.
			var v T
			var ok bool
			select {
			case v, ok = <-src:
			default:
				st.pub.Store(int64(st.n)) // every item so far was handed over
				v, ok = <-src
			}
			if !ok {
				break
			}
			// The item is encoded before it is handed over: after that
			// the consumer may change what it points to.
			if st.n++; st.slow {
				item(st, errOf, v)
			}
			select {
			case out <- v:
			default:
				st.pub.Store(int64(st.n - 1)) // all but v were handed over
				out <- v
			}
			if st.n&(pubEvery-1) == 0 {
				st.pub.Store(int64(st.n))
			}
		}
		st.finish(st.n, false) // the observation ends before the consumer sees the close
		close(out)
	}()
	return out
}

// Seq wraps the iterator a traced function returns so that its observation
// covers the iteration: it ends when the iteration finishes or the consumer
// stops it; the items are those delivered. No goroutine is involved: the
// consumer ranges over the original iterator, once, with the same values and
// the same early stop. Ranging over the iterator a second time runs it
// untraced. An iterator never ranged over keeps the observation open until
// Shutdown. Generated code calls it.
func Seq[T any](s *Span, seq iter.Seq[T]) iter.Seq[T] {
	if s == nil || seq == nil || !s.recording || s.state.Load() != spanOpen {
		return seq
	}
	st := s.openStream(false)
	if st == nil {
		return seq
	}
	errOf := itemErrorFunc[T]()
	return func(yield func(T) bool) {
		if st.started.Swap(true) {
			seq(yield)
			return
		}
		defer st.end()
		seq(func(v T) bool {
			if st.next() {
				item(st, errOf, v)
			}
			st.yielding = true
			more := yield(v)
			st.yielding = false
			return more
		})
	}
}

// Seq2 is Seq for iter.Seq2. The items are recorded as [k, v] pairs; a
// non-nil error as the second value records that error on the observation.
func Seq2[K, T any](s *Span, seq iter.Seq2[K, T]) iter.Seq2[K, T] {
	if s == nil || seq == nil || !s.recording || s.state.Load() != spanOpen {
		return seq
	}
	st := s.openStream(false)
	if st == nil {
		return seq
	}
	errOf := itemErrorFunc[T]()
	return func(yield func(K, T) bool) {
		if st.started.Swap(true) {
			seq(yield)
			return
		}
		defer st.end()
		seq(func(k K, v T) bool {
			if st.next() {
				item2(st, errOf, k, v)
			}
			st.yielding = true
			more := yield(k, v)
			st.yielding = false
			return more
		})
	}
}

var errorType = reflect.TypeFor[error]()

// itemErrorFunc returns a function that reads the error an item of type T
// carries, or nil when T carries none: the item itself when it is an error
// (for an interface type, when its dynamic value is one; a nil pointer is no
// error), or the Err field of type error of a struct.
func itemErrorFunc[T any]() func(T) error {
	t := reflect.TypeFor[T]()
	switch k := t.Kind(); {
	case k == reflect.Interface:
		return func(v T) error {
			err, _ := any(v).(error)
			return err
		}
	case t.Implements(errorType):
		nilable := k == reflect.Pointer || k == reflect.Map || k == reflect.Slice || k == reflect.Func || k == reflect.Chan
		return func(v T) error {
			if nilable && reflect.ValueOf(&v).Elem().IsNil() {
				return nil
			}
			return any(v).(error)
		}
	case k != reflect.Struct:
		return nil
	}
	f, ok := t.FieldByName("Err")
	if !ok || f.Type != errorType || !f.IsExported() {
		return nil
	}
	if len(f.Index) == 1 {
		off := f.Offset
		return func(v T) error {
			return *(*error)(unsafe.Add(unsafe.Pointer(&v), off))
		}
	}
	idx := f.Index // promoted from an embedded struct or pointer
	return func(v T) error {
		fv, err := reflect.ValueOf(&v).Elem().FieldByIndexErr(idx)
		if err != nil { // through a nil embedded pointer
			return nil
		}
		e, _ := fv.Interface().(error)
		return e
	}
}
