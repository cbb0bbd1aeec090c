package fluxloop

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// pollInterval is how long the busy writer sleeps between two looks at the
// queue. Producers wake the writer (a wake-up costs the producer a
// scheduler call) only when the queue is half full, or when a root ends
// while the queue is otherwise empty; an idle writer blocks on the queue and
// the first span wakes it.
const pollInterval = 5 * time.Millisecond

// rootGap is how soon after writing a root the busy writer looks at the
// queue again, writing the roots that ended meanwhile; producers do not
// wake it during that time, so that roots ending one after another cost at
// most one write per rootGap, not one each.
const rootGap = time.Millisecond

// run is the client's background writer: it takes finished spans from the
// queue, converts them to records (record.go) and writes them to the storage
// in batches. It is the only goroutine that calls the storage.
//
// A batch is written when BatchSize spans are pending, when a root
// observation is among them (its trace is complete: written at once, within
// a poll interval when the writer is busy, rather than at the next tick, so
// that a program that exits without Shutdown loses little), when the queue
// is half full, and at each FlushInterval tick.
func (c *Client) run() {
	defer close(c.done)
	w := &writer{c: c, pcs: make(pcPositions), traceMD: staticTraceMetadata(c)}
	ticker := time.NewTicker(c.cfg.FlushInterval)
	defer ticker.Stop()
	poll := time.NewTimer(pollInterval)
	poll.Stop()
	bg := context.Background()
	for {
		urgent := false         // woken: write without waiting for a batch
		c.rootWake.Store(false) // the first span wakes an idle writer anyway
		// Idle: wait for the first span, a request or the flush tick.
		select {
		case s := <-c.queue:
			w.add(bg, s)
		case <-c.wake:
			urgent = true
		case <-ticker.C:
			w.write(bg)
		case r := <-c.reqs:
			w.serve(r)
		case <-c.stop:
			w.shutdown()
			return
		}
		// Busy: take what has arrived, write full batches (or everything
		// when a trace is complete or the queue filling), sleep a little
		// (rootGap after writing a root, when producers do not wake the
		// writer; pollInterval otherwise, when a root's end does), until a
		// look at the queue finds nothing.
		for {
			n := w.takeAvailable(bg)
			wait := pollInterval
			if w.root {
				wait = rootGap // roots that end meanwhile wait for the next look
			}
			if urgent || w.root || len(w.pending) >= c.cfg.BatchSize {
				w.write(bg)
				urgent = false
			}
			if n == 0 && wait == pollInterval {
				break
			}
			c.rootWake.Store(wait == pollInterval)
			if n >= cap(c.queue) {
				wait = 0 // falling behind: only look at requests and ticks
			}
			poll.Reset(wait)
			select {
			case <-poll.C:
			case <-c.wake:
				poll.Stop()
				urgent = true
			case <-ticker.C:
				poll.Stop()
				w.write(bg)
			case r := <-c.reqs:
				poll.Stop()
				w.serve(r)
			case <-c.stop:
				w.shutdown()
				return
			}
		}
	}
}

// serve answers a Flush request.
func (w *writer) serve(r request) {
	err := w.drain(r.ctx)
	if err == nil {
		if ferr := guard("Flush", func() error { return w.c.storage.Flush(r.ctx) }); ferr != nil {
			w.c.logError(ferr)
			err = ferr
		}
	}
	r.reply <- err
}

// shutdown writes what is queued and closes the storage, for Shutdown.
func (w *writer) shutdown() {
	c := w.c
	ctx := c.stopCtx
	err := w.drain(ctx)
	if err == nil {
		if ferr := guard("Flush", func() error { return c.storage.Flush(ctx) }); ferr != nil {
			c.logError(ferr)
			err = ferr
		}
	}
	if cerr := guard("Close", func() error { return c.storage.Close(ctx) }); cerr != nil {
		c.logError(cerr)
		err = errors.Join(err, cerr)
	}
	c.stopErr = err
}

type writer struct {
	c       *Client
	pending []*Span
	root    bool     // a root span is pending: write without waiting for a batch
	records []Record // of the pending spans, reused between batches
	pcs     pcPositions
	arena   []byte  // input and output bytes of the records
	fields  []Field // metadata of the records
	traceMD []Field // the metadata every trace of the client has
}

func (w *writer) add(ctx context.Context, s *Span) {
	w.c.received.Add(1)
	w.pending = append(w.pending, s)
	w.root = w.root || s.up == nil
	if len(w.pending) >= maxWriteBatch {
		w.write(ctx)
	}
}

// takeAvailable moves the spans already in the queue to pending without
// waiting, writing whenever a full write batch is reached, and returns how
// many it took: at most the queue's capacity, so that requests are served
// under any load.
func (w *writer) takeAvailable(ctx context.Context) int {
	for n := range cap(w.c.queue) {
		select {
		case s := <-w.c.queue:
			w.add(ctx, s)
		default:
			return n
		}
	}
	return cap(w.c.queue)
}

// drain writes everything that was queued when the request arrived, for
// Flush and Shutdown. It stops early when ctx is done.
func (w *writer) drain(ctx context.Context) error {
	for range len(w.c.queue) { // only this goroutine receives, so they are there
		if err := ctx.Err(); err != nil {
			return err
		}
		w.add(ctx, <-w.c.queue)
	}
	w.write(ctx)
	return ctx.Err()
}

// write converts the pending spans to records and writes them as one
// batch.
func (w *writer) write(ctx context.Context) {
	if len(w.pending) == 0 {
		return
	}
	w.root = false
	n := uint64(len(w.pending))
	w.records = slices.Grow(w.records[:0], len(w.pending))[:len(w.pending)]
	w.arena, w.fields = w.arena[:0], w.fields[:0]
	for i, s := range w.pending {
		w.fill(&w.records[i], s)
	}
	err := guard("Write", func() error { return w.c.storage.Write(ctx, w.records) })
	clear(w.pending) // let the spans go
	w.pending = w.pending[:0]
	clear(w.records) // and what the records point to
	w.arena, w.fields = shrink(w.arena), shrinkFields(w.fields)
	if err != nil {
		w.c.failed.Add(n)
		w.c.logError(err)
	} else {
		w.c.written.Add(n)
	}
}

// shrink drops a buffer that a burst made huge.
func shrink(b []byte) []byte {
	if cap(b) > 4<<20 {
		return nil
	}
	return b
}

func shrinkFields(fs []Field) []Field {
	clear(fs)
	if cap(fs) > 1<<14 {
		return nil
	}
	return fs
}

// guard runs a storage call, turning a panic into an error so that a faulty
// storage cannot crash the program from the writer goroutine.
func guard(op string, f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("fluxloop: storage %s panicked: %v", op, r)
		}
	}()
	return f()
}
