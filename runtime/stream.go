package fluxloop

import (
	"iter"
	"math"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Streams: a traced function that returns a receive-only channel, an
// iter.Seq or an iter.Seq2 is not done when it returns; its observation
// lasts until the stream ends. Generated code wraps such results with Chan,
// Seq or Seq2 before calling Return; Return then records the function's
// error and leaves the span open, and the stream ends it:
//
//   - a channel when the source channel is closed (after the last item was
//     handed to the consumer),
//   - an iterator when the iteration finishes or the consumer breaks out of
//     its loop.
//
// The output is the JSON array of the items delivered, cut at the capture
// size limit (WithMaxFieldBytes) with a final "…(N more items)" marker;
// metadata has stream_items (the count delivered) and first_item_ms (time
// from the start of the observation to the first item). An item that is an
// error (the second value of an iter.Seq2[T, error]) or a struct with a
// non-nil Err error field records that error on the observation.
//
// Abandoned streams. An iterator that is never ranged over, or a channel
// whose consumer stops reading, would keep its observation open forever; at
// Shutdown such observations end, flagged stream_abandoned, with what was
// delivered so far. A channel stream is forwarded by one goroutine; when the
// consumer abandons the channel, that goroutine stays parked on its send
// next to the producer goroutine the unwrapped program would leak, and keeps
// forwarding if the consumer comes back (so behaviour never changes).

// stream is the state of one open stream of a span.
type stream struct {
	s       *Span
	errOf   func(any) error // extracts an item's error, nil when items have none
	mu      sync.Mutex
	buf     []byte // JSON array of the captured items, without the closing ]
	items   int
	dropped int // items delivered after buf reached the size limit
	first   time.Duration
	started atomic.Bool // the iterator has been ranged over (Seq, Seq2)
	done    bool
}

// openStream keeps s open until the returned stream finishes.
func (s *Span) openStream(errOf func(any) error) *stream {
	st := &stream{s: s, errOf: errOf, first: -1}
	s.streams.Add(1)
	c := s.client
	c.streamsMu.Lock()
	if c.openStreams == nil {
		c.openStreams = map[*stream]struct{}{}
	}
	c.openStreams[st] = struct{}{}
	c.streamsMu.Unlock()
	return st
}

// check records the error an item carries, if any.
func (st *stream) check(item any) {
	if err := st.errOf(item); err != nil {
		st.s.RecordError(err)
	}
}

// item records one delivered item.
func (st *stream) item(v Value) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.done {
		return
	}
	if st.items == 0 {
		st.first = time.Since(st.s.start)
	}
	st.items++
	if !st.s.client.cfg.Capture.outputs() {
		return
	}
	if st.dropped > 0 || len(st.buf) >= st.s.client.cfg.MaxFieldBytes {
		st.dropped++
		return
	}
	if len(st.buf) == 0 {
		st.buf = append(st.buf, '[')
	} else {
		st.buf = append(st.buf, ',')
	}
	sl := v.frozen()
	st.buf = appendValue(st.buf, &sl)
}

// finish ends the stream: it records the items on the span and ends the span
// if the function has returned and no other stream of it is open.
func (st *stream) finish(abandoned bool) {
	st.mu.Lock()
	if st.done {
		st.mu.Unlock()
		return
	}
	st.done = true
	s := st.s
	md := []Attr{{Key: "stream_items", Value: slot{kind: kindInt, n: uint64(st.items)}}}
	if st.first >= 0 {
		md = append(md, Attr{Key: "first_item_ms", Value: slot{kind: kindFloat, n: math.Float64bits(float64(st.first) / 1e6)}})
	}
	if abandoned {
		md = append(md, Attr{Key: "stream_abandoned", Value: slot{kind: kindBool, n: 1}})
	}
	var out slot
	hasOut := s.client.cfg.Capture.outputs()
	if hasOut {
		buf := st.buf
		if len(buf) == 0 {
			buf = append(buf, '[')
		}
		if st.dropped > 0 {
			buf = append(buf, ',')
			buf = appendString(buf, "…("+strconv.Itoa(st.dropped)+" more items)")
			md = append(md, Attr{Key: "fluxloop.truncated", Value: slot{kind: kindBool, n: 1}})
		}
		buf = append(buf, ']')
		out = slot{kind: kindJSON, s: string(buf)}
	}
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

// abandonStreams ends every open stream of c (at Shutdown).
func (c *Client) abandonStreams() {
	c.streamsMu.Lock()
	open := make([]*stream, 0, len(c.openStreams))
	for st := range c.openStreams {
		open = append(open, st)
	}
	c.streamsMu.Unlock()
	for _, st := range open {
		st.finish(true)
	}
}

// Chan wraps the channel a traced function returns so that its observation
// lasts until the channel is closed. The consumer receives the same values in
// the same order from a channel of the same capacity, closed after the
// source is closed. A nil span or channel is returned as it is. Generated
// code calls it; see the package's notes on streams.
func Chan[T any](s *Span, src <-chan T) <-chan T {
	if s == nil || src == nil || !s.recording || s.state.Load() != spanOpen {
		return src
	}
	st := s.openStream(errField[T]())
	out := make(chan T, cap(src))
	go func() {
		for v := range src {
			if st.errOf != nil {
				st.check(v)
			}
			st.item(V(v))
			out <- v
		}
		st.finish(false) // the observation ends before the consumer sees the close
		close(out)
	}()
	return out
}

// Seq wraps the iterator a traced function returns so that its observation
// covers the iteration: it ends when the iteration finishes or the consumer
// stops it; the items are those delivered. No goroutine is involved. Ranging
// over the iterator a second time runs it untraced. Generated code calls it.
func Seq[T any](s *Span, seq iter.Seq[T]) iter.Seq[T] {
	if s == nil || seq == nil || !s.recording || s.state.Load() != spanOpen {
		return seq
	}
	st := s.openStream(errField[T]())
	return func(yield func(T) bool) {
		if st.started.Swap(true) {
			seq(yield)
			return
		}
		defer st.finish(false)
		seq(func(v T) bool {
			if st.errOf != nil {
				st.check(v)
			}
			st.item(V(v))
			return yield(v)
		})
	}
}

// Seq2 is Seq for iter.Seq2. The items are recorded as [k, v] pairs; a
// non-nil error as the second value records that error on the observation.
func Seq2[K, T any](s *Span, seq iter.Seq2[K, T]) iter.Seq2[K, T] {
	if s == nil || seq == nil || !s.recording || s.state.Load() != spanOpen {
		return seq
	}
	st := s.openStream(nil)
	return func(yield func(K, T) bool) {
		if st.started.Swap(true) {
			seq(yield)
			return
		}
		defer st.finish(false)
		seq(func(k K, v T) bool {
			if err, ok := any(v).(error); ok && err != nil {
				s.RecordError(err)
			}
			st.item(pairValue(k, v))
			return yield(k, v)
		})
	}
}

// pairValue captures a Seq2 item as a two-element JSON array.
func pairValue[K, T any](k K, v T) Value {
	kv, vv := V(k), V(v)
	a, b := kv.frozen(), vv.frozen()
	buf := appendValue([]byte{'['}, &a)
	buf = append(buf, ',')
	buf = appendValue(buf, &b)
	buf = append(buf, ']')
	return Value{slot: slot{kind: kindJSON, s: string(buf)}}
}

// errField returns a function that reads the Err error field of items of
// type T, or nil when T is not a struct with such a field.
func errField[T any]() func(any) error {
	t := reflect.TypeFor[T]()
	if t.Kind() != reflect.Struct {
		return nil
	}
	f, ok := t.FieldByName("Err")
	errType := reflect.TypeFor[error]()
	if !ok || f.Type != errType || !f.IsExported() {
		return nil
	}
	idx := f.Index
	return func(item any) error {
		v, ok := item.(T)
		if !ok {
			return nil
		}
		err, _ := reflect.ValueOf(&v).Elem().FieldByIndex(idx).Interface().(error)
		return err
	}
}
