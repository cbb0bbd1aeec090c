package fluxloop_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"github.com/fluxloop/fluxloop-go/runtime/fluxlooptest"
)

// Stream results (Chan, Seq, Seq2). The functions below return streams and
// are instrumented exactly as fluxloopgen instruments them (see the want
// section of generator/testdata/golden/streams.txtar): the deferred function wraps the
// result with fluxloop.Chan / Seq / Seq2 and then calls Return without
// outputs; go statements go through fluxloop.Follow.

var (
	siteStreamTokens  = fluxloop.Site{Name: "StreamTokens", Type: fluxloop.TypeAgent, Params: []string{"items", "size", "delay", "onSend"}}
	siteStreamChunks  = fluxloop.Site{Name: "StreamChunks", Type: fluxloop.TypeSpan, Params: []string{"chunks"}}
	siteStreamErrs    = fluxloop.Site{Name: "StreamErrs", Type: fluxloop.TypeSpan, Params: []string{"errs"}}
	siteStreamNumbers = fluxloop.Site{Name: "StreamNumbers", Type: fluxloop.TypeSpan, Params: []string{"n", "delay"}}
	siteStreamRange   = fluxloop.Site{Name: "StreamRange", Type: fluxloop.TypeSpan, Params: []string{"start", "n"}}
	siteStreamInts    = fluxloop.Site{Name: "StreamInts", Type: fluxloop.TypeSpan, Params: []string{"start", "n"}}
	siteStreamLines   = fluxloop.Site{Name: "StreamLines", Type: fluxloop.TypeSpan, Params: []string{"lines", "errs"}}
	siteStreamItems   = fluxloop.Site{Name: "StreamItems", Type: fluxloop.TypeSpan, Params: []string{"items"}}
	siteStreamNil     = fluxloop.Site{Name: "StreamNil", Type: fluxloop.TypeSpan, Params: []string{"kind"}}
	siteStreamFailing = fluxloop.Site{Name: "StreamFailing", Type: fluxloop.TypeSpan, Params: []string{"mode"}}
	siteStreamPanicky = fluxloop.Site{Name: "StreamPanicky", Type: fluxloop.TypeSpan, Params: []string{"n", "panicAt"}}
	siteStreamLeaky   = fluxloop.Site{Name: "StreamLeaky", Type: fluxloop.TypeSpan, Params: []string{"n", "size"}}
)

// StreamTokens sends items from a producer goroutine, sleeping delay before
// each and calling onSend(i) right before sending item i.
func StreamTokens(ctx context.Context, items []string, size int, delay time.Duration, onSend func(int)) (__fluxloopR0 <-chan string) {
	ctx, __fluxloopSpan := fluxloop.Enter(ctx, &siteStreamTokens)
	if __fluxloopSpan != nil {
		__fluxloopSpan.Inputs(fluxloop.V(items), fluxloop.V(size), fluxloop.V(delay), fluxloop.V(onSend))
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			__fluxloopR0 = fluxloop.Chan(__fluxloopSpan, __fluxloopR0)
			__fluxloopSpan.Return(nil)
		}()
	}
	_ = ctx
	ch := make(chan string, size)
	go fluxloop.Follow(func() {
		defer close(ch)
		for i, it := range items {
			if delay > 0 {
				time.Sleep(delay)
			}
			if onSend != nil {
				onSend(i)
			}
			ch <- it
		}
	})()
	return ch
}

// streamChunk is a stream item with an error field.
type streamChunk struct {
	Text string
	Err  error
}

// streamWrapped promotes Err from an embedded pointer, which may be nil.
type streamWrapped struct {
	*streamChunk
	N int
}

func StreamChunks(ctx context.Context, chunks []streamChunk) (__fluxloopR0 <-chan streamChunk) {
	ctx, __fluxloopSpan := fluxloop.Enter(ctx, &siteStreamChunks)
	if __fluxloopSpan != nil {
		__fluxloopSpan.Inputs(fluxloop.V(chunks))
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			__fluxloopR0 = fluxloop.Chan(__fluxloopSpan, __fluxloopR0)
			__fluxloopSpan.Return(nil)
		}()
	}
	_ = ctx
	ch := make(chan streamChunk, len(chunks))
	for _, c := range chunks {
		ch <- c
	}
	close(ch)
	return ch
}

func StreamErrs(ctx context.Context, errs []error) (__fluxloopR0 <-chan error) {
	ctx, __fluxloopSpan := fluxloop.Enter(ctx, &siteStreamErrs)
	if __fluxloopSpan != nil {
		__fluxloopSpan.Inputs(fluxloop.V(errs))
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			__fluxloopR0 = fluxloop.Chan(__fluxloopSpan, __fluxloopR0)
			__fluxloopSpan.Return(nil)
		}()
	}
	_ = ctx
	ch := make(chan error)
	go fluxloop.Follow(func() {
		defer close(ch)
		for _, err := range errs {
			ch <- err
		}
	})()
	return ch
}

// StreamNumbers yields 0..n-1, sleeping delay before each.
func StreamNumbers(n int, delay time.Duration) (__fluxloopR0 iter.Seq[int]) {
	__fluxloopSpan := fluxloop.EnterLocal(&siteStreamNumbers)
	if __fluxloopSpan != nil {
		__fluxloopSpan.Inputs(fluxloop.V(n), fluxloop.V(delay))
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			__fluxloopR0 = fluxloop.Seq(__fluxloopSpan, __fluxloopR0)
			__fluxloopSpan.Return(nil)
		}()
	}
	return func(yield func(int) bool) {
		for i := range n {
			if delay > 0 {
				time.Sleep(delay)
			}
			if !yield(i) {
				return
			}
		}
	}
}

// StreamRange yields start..start+n-1; it takes a ctx, so it nests under
// the observation in ctx from any goroutine.
func StreamRange(ctx context.Context, start, n int) (__fluxloopR0 iter.Seq[int]) {
	ctx, __fluxloopSpan := fluxloop.Enter(ctx, &siteStreamRange)
	if __fluxloopSpan != nil {
		__fluxloopSpan.Inputs(fluxloop.V(start), fluxloop.V(n))
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			__fluxloopR0 = fluxloop.Seq(__fluxloopSpan, __fluxloopR0)
			__fluxloopSpan.Return(nil)
		}()
	}
	_ = ctx
	return func(yield func(int) bool) {
		for i := range n {
			if i%2 == 1 {
				runtime.Gosched() // interleave with the other streams
			}
			if !yield(start + i) {
				return
			}
		}
	}
}

// StreamInts sends start..start+n-1 from a producer goroutine through an
// unbuffered channel.
func StreamInts(ctx context.Context, start, n int) (__fluxloopR0 <-chan int) {
	ctx, __fluxloopSpan := fluxloop.Enter(ctx, &siteStreamInts)
	if __fluxloopSpan != nil {
		__fluxloopSpan.Inputs(fluxloop.V(start), fluxloop.V(n))
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			__fluxloopR0 = fluxloop.Chan(__fluxloopSpan, __fluxloopR0)
			__fluxloopSpan.Return(nil)
		}()
	}
	_ = ctx
	ch := make(chan int)
	go fluxloop.Follow(func() {
		defer close(ch)
		for i := range n {
			ch <- start + i
		}
	})()
	return ch
}

// StreamLines yields (lines[i], errs[i]).
func StreamLines(lines []string, errs []error) (__fluxloopR0 iter.Seq2[string, error]) {
	__fluxloopSpan := fluxloop.EnterLocal(&siteStreamLines)
	if __fluxloopSpan != nil {
		__fluxloopSpan.Inputs(fluxloop.V(lines), fluxloop.V(errs))
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			__fluxloopR0 = fluxloop.Seq2(__fluxloopSpan, __fluxloopR0)
			__fluxloopSpan.Return(nil)
		}()
	}
	return func(yield func(string, error) bool) {
		for i, l := range lines {
			if !yield(l, errs[i]) {
				return
			}
		}
	}
}

// StreamItems yields the items.
func StreamItems[T any](items []T) (__fluxloopR0 iter.Seq[T]) {
	__fluxloopSpan := fluxloop.EnterLocal(&siteStreamItems)
	if __fluxloopSpan != nil {
		__fluxloopSpan.Inputs(fluxloop.V(items))
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			__fluxloopR0 = fluxloop.Seq(__fluxloopSpan, __fluxloopR0)
			__fluxloopSpan.Return(nil)
		}()
	}
	return slices.Values(items)
}

// StreamNil returns nil streams of the three kinds.
func StreamNil(kind string) (__fluxloopR0 <-chan int, __fluxloopR1 iter.Seq[int], __fluxloopR2 iter.Seq2[int, error]) {
	__fluxloopSpan := fluxloop.EnterLocal(&siteStreamNil)
	if __fluxloopSpan != nil {
		__fluxloopSpan.Inputs(fluxloop.V(kind))
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			__fluxloopR0 = fluxloop.Chan(__fluxloopSpan, __fluxloopR0)
			__fluxloopR1 = fluxloop.Seq(__fluxloopSpan, __fluxloopR1)
			__fluxloopR2 = fluxloop.Seq2(__fluxloopSpan, __fluxloopR2)
			__fluxloopSpan.Return(nil)
		}()
	}
	return nil, nil, nil
}

// StreamFailing panics (mode "panic"), returns an error without a stream
// ("error") or with one ("both").
func StreamFailing(ctx context.Context, mode string) (__fluxloopR0 <-chan int, __fluxloopR1 error) {
	ctx, __fluxloopSpan := fluxloop.Enter(ctx, &siteStreamFailing)
	if __fluxloopSpan != nil {
		__fluxloopSpan.Inputs(fluxloop.V(mode))
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			__fluxloopR0 = fluxloop.Chan(__fluxloopSpan, __fluxloopR0)
			__fluxloopSpan.Return(__fluxloopR1)
		}()
	}
	_ = ctx
	switch mode {
	case "panic":
		panic("stream setup exploded")
	case "error":
		return nil, errors.New("no stream for you")
	}
	ch := make(chan int, 3)
	ch <- 1
	ch <- 2
	close(ch)
	return ch, errors.New("partial stream")
}

// StreamPanicky yields 0..n-1 and panics instead of yielding panicAt.
func StreamPanicky(n, panicAt int) (__fluxloopR0 iter.Seq[int]) {
	__fluxloopSpan := fluxloop.EnterLocal(&siteStreamPanicky)
	if __fluxloopSpan != nil {
		__fluxloopSpan.Inputs(fluxloop.V(n), fluxloop.V(panicAt))
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			__fluxloopR0 = fluxloop.Seq(__fluxloopSpan, __fluxloopR0)
			__fluxloopSpan.Return(nil)
		}()
	}
	return func(yield func(int) bool) {
		for i := range n {
			if i == panicAt {
				panic(fmt.Sprintf("iterator broke at %d", i))
			}
			if !yield(i) {
				return
			}
		}
	}
}

// leakyBody is the producer of RawLeaky and StreamLeaky: it sends 0..n-1,
// and parks for good if its consumer stops reading.
func leakyBody(ch chan<- int, n int) {
	defer close(ch)
	for i := range n {
		ch <- i
	}
}

// RawLeaky is StreamLeaky without instrumentation: the program as written.
func RawLeaky(n, size int) <-chan int {
	ch := make(chan int, size)
	go leakyBody(ch, n)
	return ch
}

func StreamLeaky(n, size int) (__fluxloopR0 <-chan int) {
	__fluxloopSpan := fluxloop.EnterLocal(&siteStreamLeaky)
	if __fluxloopSpan != nil {
		__fluxloopSpan.Inputs(fluxloop.V(n), fluxloop.V(size))
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			__fluxloopR0 = fluxloop.Chan(__fluxloopSpan, __fluxloopR0)
			__fluxloopSpan.Return(nil)
		}()
	}
	ch := make(chan int, size)
	go fluxloop.Follow(leakyBody)(ch, n)
	return ch
}

// mdInt returns an integer metadata entry.
func mdInt(t *testing.T, o fluxloop.Observation, key string) int64 {
	t.Helper()
	switch v := o.Metadata[key].(type) {
	case int64:
		return v
	case int:
		return int64(v)
	case float64:
		return int64(v)
	}
	t.Fatalf("%s: metadata %s = %#v, want an integer (metadata %v)", o.Name, key, o.Metadata[key], o.Metadata)
	return 0
}

func mdBool(o fluxloop.Observation, key string) bool {
	b, _ := o.Metadata[key].(bool)
	return b
}

// strs decodes a JSON array of strings.
func strs(t *testing.T, raw json.RawMessage) []string {
	t.Helper()
	var out []string
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("output %s: %v", raw, err)
	}
	return out
}

// newRec is fluxlooptest.New, and waits at the end of the test until the
// goroutines the test started (producers, forwarders) have exited, so that
// they do not linger into the next test.
func newRec(t *testing.T, opts ...fluxloop.Option) *fluxlooptest.Recorder {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() { settleGoroutinesAtMost(before) })
	return fluxlooptest.New(t, opts...)
}

func settleGoroutinesAtMost(n int) {
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > n && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
}

// parkedForwarders counts the goroutines forwarding channel streams that
// are parked on a send to their consumer.
func parkedForwarders() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		header, rest, _ := strings.Cut(g, "\n")
		if strings.Contains(header, "[chan send") && strings.HasPrefix(rest, "github.com/fluxloop/fluxloop-go/runtime.Chan[") {
			count++
		}
	}
	return count
}

// waitParkedForwarders waits until at least n forwarders are parked on
// their send (then their published counts are exact).
func waitParkedForwarders(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for parkedForwarders() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d forwarders parked, want %d", parkedForwarders(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestChanStream(t *testing.T) {
	items := []string{"t0", "t1", "t2", "t3", "t4", "t5"}
	const delay = 2 * time.Millisecond
	for _, size := range []int{0, 1, 4, 64} {
		t.Run(fmt.Sprintf("cap%d", size), func(t *testing.T) {
			rec := newRec(t)
			var mu sync.Mutex
			var lastSend time.Time
			onSend := func(i int) {
				if i == 0 {
					Helper("producer") // a traced call in the producer goroutine
				}
				mu.Lock()
				lastSend = time.Now()
				mu.Unlock()
			}
			called := time.Now()
			ch := StreamTokens(context.Background(), items, size, delay, onSend)
			if cap(ch) != size {
				t.Errorf("cap = %d, want the source's %d", cap(ch), size)
			}
			var got []string
			for tok := range ch {
				got = append(got, tok)
			}
			closedAt := time.Now()
			if _, ok := <-ch; ok {
				t.Errorf("channel not closed")
			}
			if !slices.Equal(got, items) {
				t.Fatalf("consumer saw %v, want %v", got, items)
			}
			o := rec.MustGet("StreamTokens")
			if got := strs(t, o.Output); !slices.Equal(got, items) {
				t.Errorf("output %v, want the items", got)
			}
			if n := mdInt(t, o, "stream_items"); n != int64(len(items)) {
				t.Errorf("stream_items = %d", n)
			}
			first, ok := o.Metadata["first_item_ms"].(float64)
			if !ok || first < float64(delay)/1e6 || first > float64(closedAt.Sub(called))/1e6 {
				t.Errorf("first_item_ms = %v (metadata %v)", o.Metadata["first_item_ms"], o.Metadata)
			}
			mu.Lock()
			last := lastSend
			mu.Unlock()
			if o.EndTime.Before(last) {
				t.Errorf("observation ended at %v, before the last item was sent at %v", o.EndTime, last)
			}
			if o.EndTime.After(closedAt) {
				t.Errorf("observation ended at %v, after the consumer saw the close at %v", o.EndTime, closedAt)
			}
			if d := o.EndTime.Sub(o.StartTime); d < time.Duration(len(items))*delay {
				t.Errorf("observation lasted %v: it did not last as long as the stream", d)
			}
			if _, ok := o.Metadata["stream_abandoned"]; ok {
				t.Errorf("stream_abandoned on a finished stream")
			}
			assertJSON(t, o.Input, fmt.Sprintf(`{"items":["t0","t1","t2","t3","t4","t5"],"size":%d,"delay":"2ms","onSend":"<func(int)>"}`, size))
			if h := rec.MustGet("Helper"); h.ParentObservationID != o.ID {
				t.Errorf("Helper in the producer goroutine is not under the stream's observation:\n%s", rec.Tree())
			}
		})
	}
}

// A slow consumer: the forwarder keeps the same buffering the consumer sees
// (one channel of the source's capacity), and the observation ends only
// after the last item was handed over.
func TestChanStreamSlowConsumer(t *testing.T) {
	rec := newRec(t)
	items := []string{"a", "b", "c", "d"}
	ch := StreamTokens(context.Background(), items, 0, 0, nil)
	var got []string
	for tok := range ch {
		time.Sleep(3 * time.Millisecond)
		got = append(got, tok)
	}
	if !slices.Equal(got, items) {
		t.Fatalf("got %v", got)
	}
	o := rec.MustGet("StreamTokens")
	// unbuffered: the third item was handed over only after the consumer
	// slept twice
	if d := o.EndTime.Sub(o.StartTime); d < 9*time.Millisecond {
		t.Errorf("observation lasted %v with an unbuffered channel and a slow consumer", d)
	}
}

func TestStreamTruncation(t *testing.T) {
	t.Run("chan", func(t *testing.T) {
		rec := newRec(t, fluxloop.WithMaxFieldBytes(100))
		var items []string
		for i := range 40 {
			items = append(items, fmt.Sprintf("item-%02d", i))
		}
		for range StreamTokens(context.Background(), items, 8, 0, nil) {
		}
		o := rec.MustGet("StreamTokens")
		checkTruncated(t, o, items, 100)
	})
	t.Run("seq", func(t *testing.T) {
		rec := newRec(t, fluxloop.WithMaxFieldBytes(64))
		n := 0
		for range StreamNumbers(1000, 0) {
			n++
		}
		o := rec.MustGet("StreamNumbers")
		var got []any
		if err := json.Unmarshal(o.Output, &got); err != nil {
			t.Fatalf("output %s: %v", o.Output, err)
		}
		if len(o.Output) > 64 || len(got) < 2 {
			t.Fatalf("output %s (%d bytes)", o.Output, len(o.Output))
		}
		marker, _ := got[len(got)-1].(string)
		if want := fmt.Sprintf("…(%d more items)", 1000-(len(got)-1)); marker != want {
			t.Errorf("marker %q, want %q in %s", marker, want, o.Output)
		}
		for i, v := range got[:len(got)-1] {
			if v != float64(i) {
				t.Errorf("item %d = %v", i, v)
			}
		}
		if mdInt(t, o, "stream_items") != 1000 || !mdBool(o, "fluxloop.truncated") {
			t.Errorf("metadata %v", o.Metadata)
		}
	})
	t.Run("seq2", func(t *testing.T) {
		rec := newRec(t, fluxloop.WithMaxFieldBytes(64))
		lines := make([]string, 50)
		errs := make([]error, 50)
		for i := range lines {
			lines[i] = fmt.Sprint(i)
		}
		for range StreamLines(lines, errs) {
		}
		o := rec.MustGet("StreamLines")
		var got []json.RawMessage
		if err := json.Unmarshal(o.Output, &got); err != nil || len(o.Output) > 64 {
			t.Fatalf("output %s: %v", o.Output, err)
		}
		if string(got[0]) != `["0",null]` || !strings.Contains(string(got[len(got)-1]), "more items)") {
			t.Errorf("output %s", o.Output)
		}
	})
	t.Run("exact fit", func(t *testing.T) {
		rec := newRec(t, fluxloop.WithMaxFieldBytes(100))
		// 9 items of 9 bytes, 1 of 8, 9 commas, 2 brackets: 100 bytes
		items := append(slices.Repeat([]string{"abcdefg"}, 9), "abcdef")
		for range StreamTokens(context.Background(), items, 0, 0, nil) {
		}
		o := rec.MustGet("StreamTokens")
		if len(o.Output) != 100 || !slices.Equal(strs(t, o.Output), items) || mdBool(o, "fluxloop.truncated") {
			t.Errorf("output %s (%d bytes), metadata %v: want all items, no marker", o.Output, len(o.Output), o.Metadata)
		}
		rec.Reset()
		items[9] = "abcdefg" // 101 bytes
		for range StreamTokens(context.Background(), items, 0, 0, nil) {
		}
		checkTruncated(t, rec.MustGet("StreamTokens"), items, 100)
	})
	t.Run("one huge item", func(t *testing.T) {
		rec := newRec(t, fluxloop.WithMaxFieldBytes(100))
		items := []string{strings.Repeat("x", 500), "small"}
		for range StreamTokens(context.Background(), items, 0, 0, nil) {
		}
		o := rec.MustGet("StreamTokens")
		if got := strs(t, o.Output); !slices.Equal(got, []string{"…(2 more items)"}) {
			t.Errorf("output %s: an item larger than the limit is left out, with the ones after it", o.Output)
		}
	})
	t.Run("default limit", func(t *testing.T) {
		rec := newRec(t)
		n := 0
		for range StreamNumbers(100_000, 0) {
			n++
		}
		o := rec.MustGet("StreamNumbers")
		if len(o.Output) > fluxloop.DefaultMaxFieldBytes || len(o.Output) < fluxloop.DefaultMaxFieldBytes-64 {
			t.Errorf("output of %d bytes, want just under %d", len(o.Output), fluxloop.DefaultMaxFieldBytes)
		}
		if mdInt(t, o, "stream_items") != 100_000 {
			t.Errorf("stream_items %v", o.Metadata["stream_items"])
		}
	})
}

// checkTruncated checks that the output is a prefix of items and a marker
// counting the others, within limit bytes, as long as possible.
func checkTruncated(t *testing.T, o fluxloop.Observation, items []string, limit int) {
	t.Helper()
	got := strs(t, o.Output)
	if len(o.Output) > limit {
		t.Errorf("output of %d bytes, over the %d limit: %s", len(o.Output), limit, o.Output)
	}
	if len(got) < 2 {
		t.Fatalf("output %s: want items and a marker", o.Output)
	}
	kept := got[:len(got)-1]
	if !slices.Equal(kept, items[:len(kept)]) {
		t.Errorf("output %v is not a prefix of the items", kept)
	}
	if want := fmt.Sprintf("…(%d more items)", len(items)-len(kept)); got[len(got)-1] != want {
		t.Errorf("marker %q, want %q", got[len(got)-1], want)
	}
	// as many items as fit: one more, with the marker counting one less,
	// would not have fitted
	marker := func(k int) int { return len(fmt.Sprintf(`"…(%d more items)"`, k)) }
	if k := len(items) - len(kept); k > 1 {
		next, _ := json.Marshal(items[len(kept)])
		if alt := len(o.Output) + 1 + len(next) - marker(k) + marker(k-1); alt <= limit {
			t.Errorf("output %s (%d bytes) could have held item %q", o.Output, len(o.Output), items[len(kept)])
		}
	}
	if mdInt(t, o, "stream_items") != int64(len(items)) || !mdBool(o, "fluxloop.truncated") {
		t.Errorf("metadata %v", o.Metadata)
	}
}

func TestStreamErrorItems(t *testing.T) {
	overloaded := errors.New("model overloaded")
	timeout := errors.New("timeout")
	t.Run("struct Err field", func(t *testing.T) {
		rec := newRec(t)
		chunks := []streamChunk{{Text: "ok"}, {Err: overloaded}, {Text: "more"}}
		var got []streamChunk
		for c := range StreamChunks(context.Background(), chunks) {
			got = append(got, c)
		}
		if len(got) != 3 || got[1].Err != overloaded || got[2].Text != "more" {
			t.Fatalf("consumer saw %+v", got)
		}
		o := rec.MustGet("StreamChunks")
		if o.Error != "model overloaded" || o.Level != fluxloop.LevelError {
			t.Errorf("error %q level %q, want the item's Err", o.Error, o.Level)
		}
		if mdInt(t, o, "stream_items") != 3 {
			t.Errorf("metadata %v", o.Metadata)
		}
	})
	t.Run("later error wins", func(t *testing.T) {
		rec := newRec(t)
		for range StreamChunks(context.Background(), []streamChunk{{Err: overloaded}, {Text: "x"}, {Err: timeout}}) {
		}
		if o := rec.MustGet("StreamChunks"); o.Error != "timeout" {
			t.Errorf("error %q, want the last error item's", o.Error)
		}
	})
	t.Run("no error", func(t *testing.T) {
		rec := newRec(t)
		for range StreamChunks(context.Background(), []streamChunk{{Text: "a"}, {Text: "b"}}) {
		}
		if o := rec.MustGet("StreamChunks"); o.Error != "" || o.Level != fluxloop.LevelInfo {
			t.Errorf("error %q level %q", o.Error, o.Level)
		}
	})
	t.Run("chan error", func(t *testing.T) {
		rec := newRec(t)
		var got []error
		for err := range StreamErrs(context.Background(), []error{nil, timeout, nil}) {
			got = append(got, err)
		}
		if len(got) != 3 || got[1] != timeout {
			t.Fatalf("consumer saw %v", got)
		}
		o := rec.MustGet("StreamErrs")
		if o.Error != "timeout" {
			t.Errorf("error %q", o.Error)
		}
		assertJSON(t, o.Output, `[null,"timeout",null]`)
	})
	t.Run("seq2 error", func(t *testing.T) {
		rec := newRec(t)
		n := 0
		for _, err := range StreamLines([]string{"first", ""}, []error{nil, errors.New("broken pipe")}) {
			_ = err
			n++
		}
		o := rec.MustGet("StreamLines")
		if n != 2 || o.Error != "broken pipe" {
			t.Errorf("%d items, error %q", n, o.Error)
		}
		assertJSON(t, o.Output, `[["first",null],["","broken pipe"]]`)
	})
	t.Run("promoted Err", func(t *testing.T) {
		rec := newRec(t)
		items := []streamWrapped{{N: 1}, {streamChunk: &streamChunk{Text: "x"}, N: 2}, {streamChunk: &streamChunk{Err: timeout}, N: 3}}
		n := 0
		for range StreamItems(items) {
			n++
		}
		if o := rec.MustGet("StreamItems"); n != 3 || o.Error != "timeout" {
			t.Errorf("%d items, error %q: want the Err promoted through a (sometimes nil) pointer", n, o.Error)
		}
	})
	t.Run("seq of errors", func(t *testing.T) {
		rec := newRec(t)
		var nilPtr *streamErr
		for range StreamItems([]*streamErr{nilPtr, {"bad gateway"}, nil}) {
		}
		if o := rec.MustGet("StreamItems"); o.Error != "bad gateway" {
			t.Errorf("error %q: nil pointers are no error, the others are", o.Error)
		}
	})
}

type streamErr struct{ msg string }

func (e *streamErr) Error() string { return e.msg }

func TestSeqStream(t *testing.T) {
	t.Run("full", func(t *testing.T) {
		rec := newRec(t)
		const delay = 2 * time.Millisecond
		called := time.Now()
		seq := StreamNumbers(5, delay)
		time.Sleep(5 * time.Millisecond)
		rangeStart := time.Now()
		var got []int
		var lastBody time.Time
		for v := range seq {
			got = append(got, v)
			lastBody = time.Now()
		}
		done := time.Now()
		if !slices.Equal(got, []int{0, 1, 2, 3, 4}) {
			t.Fatalf("got %v", got)
		}
		o := rec.MustGet("StreamNumbers")
		if o.StartTime.Before(called) || !o.StartTime.Before(rangeStart) {
			t.Errorf("observation started at %v: want at the call (%v), before ranging (%v)", o.StartTime, called, rangeStart)
		}
		if o.EndTime.Before(lastBody) || o.EndTime.After(done) {
			t.Errorf("observation ended at %v: want after the last item's loop body (%v), before the loop ended (%v)", o.EndTime, lastBody, done)
		}
		assertJSON(t, o.Output, `[0,1,2,3,4]`)
		if mdInt(t, o, "stream_items") != 5 {
			t.Errorf("metadata %v", o.Metadata)
		}
		if first, _ := o.Metadata["first_item_ms"].(float64); first < 7 {
			t.Errorf("first_item_ms = %v, want at least the 5 ms before ranging and the 2 ms before the item", first)
		}
	})
	t.Run("break", func(t *testing.T) {
		rec := newRec(t)
		sum := 0
		for v := range StreamNumbers(10, 0) {
			if v == 3 {
				break
			}
			sum += v
		}
		o := rec.MustGet("StreamNumbers") // ended when the loop ended
		assertJSON(t, o.Output, `[0,1,2,3]`)
		if sum != 3 || mdInt(t, o, "stream_items") != 4 {
			t.Errorf("sum %d, metadata %v", sum, o.Metadata)
		}
	})
	t.Run("break at once", func(t *testing.T) {
		rec := newRec(t)
		for range StreamNumbers(10, 0) {
			break
		}
		o := rec.MustGet("StreamNumbers")
		assertJSON(t, o.Output, `[0]`)
		if mdInt(t, o, "stream_items") != 1 {
			t.Errorf("metadata %v", o.Metadata)
		}
	})
	t.Run("empty", func(t *testing.T) {
		rec := newRec(t)
		for range StreamNumbers(0, 0) {
			t.Fatal("item from an empty iterator")
		}
		o := rec.MustGet("StreamNumbers")
		assertJSON(t, o.Output, `[]`)
		if mdInt(t, o, "stream_items") != 0 {
			t.Errorf("metadata %v", o.Metadata)
		}
		if _, ok := o.Metadata["first_item_ms"]; ok {
			t.Errorf("first_item_ms without items")
		}
	})
	t.Run("seq2", func(t *testing.T) {
		rec := newRec(t)
		var got []string
		for l, err := range StreamLines([]string{"a", "b", "c"}, make([]error, 3)) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, l)
			if l == "b" {
				break
			}
		}
		o := rec.MustGet("StreamLines")
		assertJSON(t, o.Output, `[["a",null],["b",null]]`)
		if !slices.Equal(got, []string{"a", "b"}) || mdInt(t, o, "stream_items") != 2 || o.Error != "" {
			t.Errorf("got %v, observation %+v", got, o)
		}
	})
	t.Run("nested calls in the loop body", func(t *testing.T) {
		rec := newRec(t)
		ctx, root := fluxloop.Start(context.Background(), "consumer")
		for v := range StreamRange(ctx, 10, 2) {
			Add(ctx, v, 1)
		}
		root.End()
		c, s := rec.MustGet("consumer"), rec.MustGet("StreamRange")
		if s.ParentObservationID != c.ID {
			t.Errorf("StreamRange not under consumer:\n%s", rec.Tree())
		}
		for _, a := range rec.All("Add") {
			if a.ParentObservationID != c.ID {
				t.Errorf("the loop body's calls belong to the consumer:\n%s", rec.Tree())
			}
		}
	})
}

func TestSeqRangedTwice(t *testing.T) {
	rec := newRec(t)
	seq := StreamNumbers(3, 0)
	var first, second []int
	for v := range seq {
		first = append(first, v)
		if v == 1 {
			break
		}
	}
	for v := range seq {
		second = append(second, v)
	}
	if !slices.Equal(first, []int{0, 1}) || !slices.Equal(second, []int{0, 1, 2}) {
		t.Fatalf("first %v second %v: ranging twice must behave as without tracing", first, second)
	}
	all := rec.All("StreamNumbers")
	if len(all) != 1 {
		t.Fatalf("%d observations", len(all))
	}
	assertJSON(t, all[0].Output, `[0,1]`)
	if mdInt(t, all[0], "stream_items") != 2 {
		t.Errorf("metadata %v: the first ranging is recorded", all[0].Metadata)
	}
	// a second ranging while the first is running is untraced too
	rec.Reset()
	seq = StreamNumbers(2, 0)
	var inner []int
	for v := range seq {
		if v == 0 {
			for w := range seq {
				inner = append(inner, w)
			}
		}
	}
	if !slices.Equal(inner, []int{0, 1}) {
		t.Errorf("inner %v", inner)
	}
	if o := rec.MustGet("StreamNumbers"); mdInt(t, o, "stream_items") != 2 {
		t.Errorf("metadata %v", o.Metadata)
	}
}

// A stream nobody finishes ends at Shutdown, flagged stream_abandoned, with
// what was delivered; the program can still use it afterwards.
func TestStreamAbandonedAtShutdown(t *testing.T) {
	rec := newRec(t)
	seq := StreamNumbers(3, 0)
	seq2 := StreamLines([]string{"a"}, []error{nil})
	parked := parkedForwarders()
	ch := StreamTokens(context.Background(), []string{"t0", "t1", "t2"}, 0, 0, nil)
	if tok := <-ch; tok != "t0" {
		t.Fatalf("got %q", tok)
	}
	waitParkedForwarders(t, parked+1) // holding t1
	partial := StreamNumbers(500, 0)
	next, stop := iter.Pull(partial) // a consumer that stops pulling after 100 items
	defer stop()
	for range 100 {
		next()
	}
	rec.Flush()
	for _, name := range []string{"StreamNumbers", "StreamLines", "StreamTokens"} {
		if _, ok := rec.ByName(name); ok {
			t.Fatalf("%s ended before its stream did", name)
		}
	}
	_, late := fluxloop.Start(context.Background(), "late") // returns its stream after Shutdown
	defer late.End()
	shutdown := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := rec.Client().Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	obs := rec.Observations()
	if len(obs) != 4 {
		t.Fatalf("%d observations after Shutdown:\n%s", len(obs), rec.Tree())
	}
	for _, o := range obs {
		if !mdBool(o, "stream_abandoned") {
			t.Errorf("%s: metadata %v, want stream_abandoned", o.Name, o.Metadata)
		}
		if o.EndTime.Before(shutdown) {
			t.Errorf("%s ended at %v, before Shutdown", o.Name, o.EndTime)
		}
		var items []any
		if err := json.Unmarshal(o.Output, &items); err != nil {
			t.Fatalf("%s: output %s", o.Name, o.Output)
		}
		n := mdInt(t, o, "stream_items")
		switch {
		case o.Name == "StreamTokens":
			// unbuffered: one item was handed over; the forwarder
			// holds the second
			if n != 1 || string(o.Output) != `["t0"]` {
				t.Errorf("StreamTokens: %d items, output %s", n, o.Output)
			}
		case o.Name == "StreamNumbers" && len(items) > 0:
			// pulled 100: the count is published every 64 items while
			// ranging, the encoded items are exact
			if len(items) != 100 || n != 100 {
				t.Errorf("pulled stream: %d items, output of %d", n, len(items))
			}
		default:
			if n != 0 || len(items) != 0 {
				t.Errorf("%s: %d items, output %s", o.Name, n, o.Output)
			}
		}
	}
	// the streams still work, untraced
	var got []int
	for v := range seq {
		got = append(got, v)
	}
	for range seq2 {
	}
	var toks []string
	for tok := range ch {
		toks = append(toks, tok)
	}
	if !slices.Equal(got, []int{0, 1, 2}) || !slices.Equal(toks, []string{"t1", "t2"}) {
		t.Errorf("after Shutdown: seq %v, channel %v", got, toks)
	}
	if n := len(rec.Observations()); n != 4 {
		t.Errorf("%d observations: a stream ending after Shutdown recorded again", n)
	}
	// a stream of a span that was open at Shutdown is not kept open
	orig := slices.Values([]int{1})
	if w := fluxloop.Seq(late, orig); reflect.ValueOf(w).Pointer() != reflect.ValueOf(orig).Pointer() {
		t.Errorf("a stream opened after Shutdown was wrapped")
	}
}

func TestNilStreams(t *testing.T) {
	rec := newRec(t)
	c, s, s2 := StreamNil("all")
	if c != nil || s != nil || s2 != nil {
		t.Fatalf("nil streams wrapped: %v %v %v", c, s != nil, s2 != nil)
	}
	o := rec.MustGet("StreamNil") // ended at return
	if o.Output != nil || o.Metadata["stream_items"] != nil {
		t.Errorf("output %s metadata %v", o.Output, o.Metadata)
	}
}

// Untraced (disabled, or a trace sampled out), streams are returned as they
// are: no forwarder, no wrapper, nothing recorded.
func TestStreamUntraced(t *testing.T) {
	src := make(chan int)
	seq := slices.Values([]int{1, 2})
	seq2 := slices.All([]int{1, 2})
	if fluxloop.Chan(nil, src) != src || fluxloop.Chan[int](nil, nil) != nil {
		t.Errorf("Chan(nil span) wrapped the channel")
	}
	if reflect.ValueOf(fluxloop.Seq(nil, seq)).Pointer() != reflect.ValueOf(seq).Pointer() ||
		reflect.ValueOf(fluxloop.Seq2(nil, seq2)).Pointer() != reflect.ValueOf(seq2).Pointer() {
		t.Errorf("Seq/Seq2(nil span) wrapped the iterator")
	}
	for _, opt := range []fluxloop.Option{fluxloop.WithEnabled(false), fluxloop.WithSampleRate(0)} {
		rec := newRec(t, opt)
		var got []string
		for tok := range StreamTokens(context.Background(), []string{"a", "b"}, 1, 0, nil) {
			got = append(got, tok)
		}
		sum := 0
		for v := range StreamNumbers(4, 0) {
			sum += v
		}
		if !slices.Equal(got, []string{"a", "b"}) || sum != 6 {
			t.Errorf("got %v, sum %d", got, sum)
		}
		if obs := rec.Observations(); len(obs) != 0 {
			t.Errorf("%d observations recorded untraced", len(obs))
		}
	}
}

// Shutdown while streams are being consumed: they end as abandoned with
// what was delivered so far, and their consumers go on undisturbed.
func TestStreamShutdownWhileActive(t *testing.T) {
	rec := newRec(t)
	const n = 20000
	var wg sync.WaitGroup
	started := make(chan struct{}, 3)
	resume := make(chan struct{})
	pause := func() {
		started <- struct{}{}
		<-resume
	}
	counts := make([]int, 3)
	goWG(&wg, func() {
		for range StreamNumbers(n, 0) {
			if counts[0]++; counts[0] == 100 {
				pause()
			}
		}
	})
	goWG(&wg, func() {
		for range StreamLines(make([]string, n), make([]error, n)) {
			if counts[1]++; counts[1] == 100 {
				pause()
			}
		}
	})
	goWG(&wg, func() {
		for range StreamInts(context.Background(), 0, n) {
			if counts[2]++; counts[2] == 100 {
				pause()
			}
		}
	})
	for range 3 {
		<-started
	}
	shutdown := make(chan error)
	go func() { shutdown <- rec.Client().Shutdown(context.Background()) }()
	time.Sleep(time.Millisecond) // resume while Shutdown runs, or after
	close(resume)
	if err := <-shutdown; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if counts[0] != n || counts[1] != n || counts[2] != n {
		t.Errorf("consumers got %v items, want %d each", counts, n)
	}
	obs := rec.Observations()
	if len(obs) != 3 {
		t.Fatalf("%d observations", len(obs))
	}
	for _, o := range obs {
		items := mdInt(t, o, "stream_items")
		var out []json.RawMessage
		if err := json.Unmarshal(o.Output, &out); err != nil {
			t.Fatalf("%s: output %s", o.Name, o.Output)
		}
		if !mdBool(o, "stream_abandoned") || items < 99 || items > n || int64(len(out)) > items+1 {
			t.Errorf("%s: %d items, %d in the output, metadata %v", o.Name, items, len(out), o.Metadata)
		}
	}
}

func TestStreamFunctionFails(t *testing.T) {
	t.Run("panic", func(t *testing.T) {
		rec := newRec(t)
		func() {
			defer func() {
				if r := recover(); r != "stream setup exploded" {
					t.Errorf("recovered %v", r)
				}
			}()
			StreamFailing(context.Background(), "panic")
		}()
		o := rec.MustGet("StreamFailing")
		if o.Error != "stream setup exploded" || o.StatusMessage != "panic" || o.Metadata["stream_items"] != nil {
			t.Errorf("observation %+v", o)
		}
	})
	t.Run("error", func(t *testing.T) {
		rec := newRec(t)
		ch, err := StreamFailing(context.Background(), "error")
		if ch != nil || err == nil {
			t.Fatalf("%v, %v", ch, err)
		}
		o := rec.MustGet("StreamFailing")
		if o.Error != "no stream for you" || o.Metadata["stream_items"] != nil {
			t.Errorf("observation %+v", o)
		}
	})
	t.Run("error and stream", func(t *testing.T) {
		rec := newRec(t)
		ch, err := StreamFailing(context.Background(), "both")
		if ch == nil || err == nil || cap(ch) != 3 {
			t.Fatalf("%v, %v", ch, err)
		}
		var got []int
		for v := range ch {
			got = append(got, v)
		}
		o := rec.MustGet("StreamFailing")
		assertJSON(t, o.Output, `[1,2]`)
		if !slices.Equal(got, []int{1, 2}) || o.Error != "partial stream" || mdInt(t, o, "stream_items") != 2 {
			t.Errorf("got %v, observation %+v", got, o)
		}
	})
	t.Run("iterator panics", func(t *testing.T) {
		rec := newRec(t)
		var got []int
		func() {
			defer func() {
				if r := recover(); r != "iterator broke at 2" {
					t.Errorf("recovered %v", r)
				}
			}()
			for v := range StreamPanicky(5, 2) {
				got = append(got, v)
			}
		}()
		o := rec.MustGet("StreamPanicky")
		assertJSON(t, o.Output, `[0,1]`)
		if !slices.Equal(got, []int{0, 1}) || o.Error != "iterator broke at 2" || o.StatusMessage != "panic" || mdInt(t, o, "stream_items") != 2 {
			t.Errorf("got %v, observation %+v", got, o)
		}
		if tb, _ := o.Metadata["traceback"].(string); !strings.Contains(tb, "StreamPanicky") {
			t.Errorf("traceback %q", tb)
		}
	})
	t.Run("loop body panics", func(t *testing.T) {
		rec := newRec(t)
		func() {
			defer func() {
				if r := recover(); r != "consumer broke" {
					t.Errorf("recovered %v", r)
				}
			}()
			for v := range StreamNumbers(5, 0) {
				if v == 1 {
					panic("consumer broke")
				}
			}
		}()
		o := rec.MustGet("StreamNumbers")
		assertJSON(t, o.Output, `[0,1]`)
		if o.Error != "" || mdInt(t, o, "stream_items") != 2 {
			t.Errorf("observation %+v: the consumer's panic is not the stream's error", o)
		}
	})
}

func TestStreamCaptureModes(t *testing.T) {
	for _, mode := range []fluxloop.Capture{fluxloop.CaptureNone, fluxloop.CaptureInput, fluxloop.CaptureOutput} {
		t.Run(mode.String(), func(t *testing.T) {
			rec := newRec(t, fluxloop.WithCapture(mode))
			const delay = 2 * time.Millisecond
			var mu sync.Mutex
			var lastSend time.Time
			n := 0
			for range StreamTokens(context.Background(), []string{"a", "b", "c"}, 1, delay, func(int) {
				mu.Lock()
				lastSend = time.Now()
				mu.Unlock()
			}) {
				n++
			}
			sum := 0
			for v := range StreamNumbers(4, delay) {
				sum += v
			}
			if n != 3 || sum != 6 {
				t.Fatalf("n %d sum %d", n, sum)
			}
			for _, o := range []fluxloop.Observation{rec.MustGet("StreamTokens"), rec.MustGet("StreamNumbers")} {
				if d := o.EndTime.Sub(o.StartTime); d < 3*delay {
					t.Errorf("%s lasted %v: the stream must keep it open", o.Name, d)
				}
				if wantOut := mode == fluxloop.CaptureOutput; (o.Output != nil) != wantOut {
					t.Errorf("%s: output %s in mode %v", o.Name, o.Output, mode)
				}
				if wantIn := mode == fluxloop.CaptureInput; (o.Input != nil) != wantIn {
					t.Errorf("%s: input %s in mode %v", o.Name, o.Input, mode)
				}
				if _, ok := o.Metadata["stream_items"]; !ok {
					t.Errorf("%s: no stream_items in %v", o.Name, o.Metadata)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if o := rec.MustGet("StreamTokens"); o.EndTime.Before(lastSend) {
				t.Errorf("ended before the last send")
			}
		})
	}
}

// settleGoroutines waits until runtime.NumGoroutine() is want, or for 5 s,
// and returns the last count.
func settleGoroutines(want int) int {
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n == want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(time.Millisecond)
	}
}

// stableGoroutines returns the goroutine count once it has not changed for
// 20 ms.
func stableGoroutines() int {
	last, same := runtime.NumGoroutine(), 0
	for same < 20 {
		time.Sleep(time.Millisecond)
		if n := runtime.NumGoroutine(); n == last {
			same++
		} else {
			last, same = n, 0
		}
	}
	return last
}

// Abandoned channel streams: the unwrapped program leaks one producer per
// channel whose consumer stops reading; the wrapped one leaks that producer
// and one forwarder, and nothing else. With n = 1000 abandoned streams:
//
//	unwrapped: base + 1000 (producers parked on their send)
//	wrapped:   base + 2000 (1000 producers + 1000 forwarders), stable
//	Shutdown:  the 1000 observations end (stream_abandoned); the client's
//	           writer exits (-1); the forwarders stay parked, so that a
//	           consumer coming back still gets every item
//	drained:   base - 1: every producer and forwarder exited
func TestAbandonedChanGoroutines(t *testing.T) {
	const n = 1000
	drain := func(chans []<-chan int) {
		for _, ch := range chans {
			for range ch {
			}
		}
	}

	// the program as written
	base := stableGoroutines()
	var raw []<-chan int
	for range n {
		ch := RawLeaky(10, 1)
		<-ch
		<-ch // and then the consumer stops reading
		raw = append(raw, ch)
	}
	rawLeak := settleGoroutines(base+n) - base
	time.Sleep(20 * time.Millisecond)
	if got := runtime.NumGoroutine() - base; rawLeak != n || got != n {
		t.Fatalf("unwrapped: %d then %d goroutines leaked, want %d", rawLeak, got, n)
	}
	drain(raw)
	if got := settleGoroutines(base); got != base {
		t.Fatalf("unwrapped, drained: %d goroutines, want %d", got, base)
	}

	// instrumented
	rec := newRec(t)
	base = stableGoroutines()
	var traced []<-chan int
	for range n {
		ch := StreamLeaky(10, 1)
		<-ch
		<-ch
		traced = append(traced, ch)
	}
	tracedLeak := settleGoroutines(base+2*n) - base
	waitParkedForwarders(t, n)
	time.Sleep(20 * time.Millisecond)
	if got := runtime.NumGoroutine() - base; tracedLeak != 2*n || got != 2*n {
		t.Fatalf("instrumented: %d then %d goroutines leaked, want %d (a producer and a forwarder per stream)", tracedLeak, got, 2*n)
	}
	t.Logf("%d abandoned channels: unwrapped program +%d goroutines, instrumented +%d", n, rawLeak, tracedLeak)
	if o, ok := rec.ByName("StreamLeaky"); ok {
		t.Fatalf("an abandoned stream ended before Shutdown: %+v", o)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := rec.Client().Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	obs := rec.All("StreamLeaky")
	if len(obs) != n {
		t.Fatalf("%d observations after Shutdown, want %d", len(obs), n)
	}
	for _, o := range obs {
		// The consumer took 2 items, the channel's buffer holds the
		// third, the parked forwarder the fourth: 3 were handed over.
		if !mdBool(o, "stream_abandoned") || mdInt(t, o, "stream_items") != 3 || string(o.Output) != "[0,1,2]" {
			t.Fatalf("observation %+v", o)
		}
	}
	if got := settleGoroutines(base + 2*n - 1); got != base+2*n-1 {
		t.Errorf("after Shutdown: %d goroutines, want %d (the writer exits, the parked ones stay)", got, base+2*n-1)
	}
	drain(traced)
	if got := settleGoroutines(base - 1); got != base-1 {
		t.Errorf("instrumented, drained: %d goroutines, want %d", got, base-1)
	}
}

// 1,000 channel streams and 1,000 iterator streams at once under one parent,
// each consumed by its own goroutine.
func TestStreamStress(t *testing.T) {
	rec := newRec(t)
	const n, items = 1000, 5
	ctx, parent := fluxloop.Start(context.Background(), "stress", fluxloop.WithType(fluxloop.TypeAgent))
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan string, 2*n)
	for i := range n {
		goWG(&wg, func() {
			<-start
			want := 0
			for v := range StreamInts(ctx, i*100, items) {
				if v != i*100+want {
					errs <- fmt.Sprintf("chan %d: item %d = %d", i, want, v)
				}
				want++
			}
			if want != items {
				errs <- fmt.Sprintf("chan %d: %d items", i, want)
			}
		})
		goWG(&wg, func() {
			<-start
			want := 0
			for v := range StreamRange(ctx, i*100, items) {
				if v != i*100+want {
					errs <- fmt.Sprintf("seq %d: item %d = %d", i, want, v)
				}
				want++
			}
			if want != items {
				errs <- fmt.Sprintf("seq %d: %d items", i, want)
			}
		})
	}
	close(start)
	wg.Wait()
	parent.End()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	p := rec.MustGet("stress")
	obs := rec.Observations()
	if len(obs) != 2*n+1 {
		t.Fatalf("%d observations, want %d", len(obs), 2*n+1)
	}
	seen := map[string]bool{}
	count := map[string]int{}
	for _, o := range obs {
		if o.ID == p.ID {
			continue
		}
		if seen[o.ID] {
			t.Fatalf("duplicate id %s", o.ID)
		}
		seen[o.ID] = true
		count[o.Name]++
		var in struct{ Start, N int }
		if err := json.Unmarshal(o.Input, &in); err != nil {
			t.Fatal(err)
		}
		var out []int
		if err := json.Unmarshal(o.Output, &out); err != nil {
			t.Fatal(err)
		}
		want := make([]int, items)
		for j := range want {
			want[j] = in.Start + j
		}
		switch {
		case o.ParentObservationID != p.ID || o.TraceID != p.TraceID:
			t.Errorf("%s %d not under the parent", o.Name, in.Start)
		case !slices.Equal(out, want) || mdInt(t, o, "stream_items") != items:
			t.Errorf("%s %d: output %v, metadata %v", o.Name, in.Start, out, o.Metadata)
		case o.EndTime.Before(o.StartTime) || o.EndTime.After(p.EndTime) || o.StartTime.Before(p.StartTime):
			t.Errorf("%s %d: [%v, %v] not inside the parent", o.Name, in.Start, o.StartTime, o.EndTime)
		case o.Error != "" || mdBool(o, "stream_abandoned"):
			t.Errorf("%s %d: %+v", o.Name, in.Start, o)
		}
	}
	if count["StreamInts"] != n || count["StreamRange"] != n {
		t.Errorf("counts %v", count)
	}
}
