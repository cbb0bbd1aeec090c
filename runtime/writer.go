package fluxloop

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// pollInterval is how long the busy writer sleeps between two looks at the
// queue. Producers never wake a busy writer (a wake-up costs the producer a
// scheduler call), except when the queue is half full; an idle writer blocks
// on the queue and the first span wakes it.
const pollInterval = 5 * time.Millisecond

// run is the client's background writer: it takes finished spans from the
// queue, converts them to records (record.go) and writes them to the storage
// in batches. It is the only goroutine that calls the storage.
func (c *Client) run() {
	defer close(c.done)
	w := &writer{c: c, pcs: make(pcPositions)}
	ticker := time.NewTicker(c.cfg.FlushInterval)
	defer ticker.Stop()
	poll := time.NewTimer(pollInterval)
	poll.Stop()
	bg := context.Background()
	for {
		// Idle: wait for the first span, a request or the flush tick.
		select {
		case s := <-c.queue:
			w.add(bg, s)
		case <-c.wake:
		case <-ticker.C:
			w.write(bg)
		case r := <-c.reqs:
			w.serve(r)
		case <-c.stop:
			w.shutdown()
			return
		}
		// Busy: take what has arrived, write full batches, sleep a little,
		// until a look at the queue finds nothing.
		for {
			n := w.takeAvailable(bg)
			if n == 0 {
				break
			}
			if len(w.pending) >= c.cfg.BatchSize {
				w.write(bg)
			}
			wait := pollInterval
			if n >= cap(c.queue) {
				wait = 0 // falling behind: only look at requests and ticks
			}
			poll.Reset(wait)
			select {
			case <-poll.C:
			case <-c.wake:
				poll.Stop()
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
		if len(w.pending) >= c.cfg.BatchSize {
			w.write(bg)
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
	batch   Batch
	pcs     pcPositions
	p       parts
	arena   []byte // input and output bytes of the records being made
	obsBuf  []byte // JSON lines for a lineStorage
	trBuf   []byte
}

func (w *writer) add(ctx context.Context, s *Span) {
	w.c.received.Add(1)
	w.pending = append(w.pending, s)
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

// write converts the pending spans and writes them as one batch.
func (w *writer) write(ctx context.Context) {
	if len(w.pending) == 0 {
		return
	}
	n := uint64(len(w.pending))
	var err error
	if ls, ok := w.c.storage.(lineStorage); ok {
		err = w.writeLines(ctx, ls)
	} else {
		err = guard("Write", func() error { return w.writeBatch(ctx) })
	}
	clear(w.pending) // let the spans go
	w.pending = w.pending[:0]
	if err != nil {
		w.c.failed.Add(n)
		w.c.logError(err)
	} else {
		w.c.written.Add(n)
	}
}

// writeLines encodes the pending spans straight into JSON lines.
func (w *writer) writeLines(ctx context.Context, ls lineStorage) error {
	record, tr := "", ""
	if ls.tagRecords() {
		record, tr = "observation", "trace"
	}
	obs, traces := w.obsBuf[:0], w.trBuf[:0]
	for _, s := range w.pending {
		w.arena = w.arena[:0]
		p := w.prepare(s, false)
		obs = w.appendObservationLine(obs, p, record)
		obs = append(obs, '\n')
		if s.up == nil {
			traces = w.appendTraceLine(traces, p, tr)
			traces = append(traces, '\n')
		}
	}
	w.obsBuf, w.trBuf = shrink(obs), shrink(traces)
	return ls.writeLines(ctx, obs, traces)
}

// shrink drops a buffer that a burst made huge.
func shrink(b []byte) []byte {
	if cap(b) > 4<<20 {
		return nil
	}
	return b
}

// writeBatch makes Observation and Trace records and hands them to the
// storage.
func (w *writer) writeBatch(ctx context.Context) error {
	b := &w.batch
	b.Observations = b.Observations[:0]
	b.Traces = b.Traces[:0]
	for _, s := range w.pending {
		p := w.prepare(s, true)
		b.Observations = append(b.Observations, w.observation(p))
		if s.up == nil {
			b.Traces = append(b.Traces, w.trace(p, &b.Observations[len(b.Observations)-1]))
		}
	}
	w.arena = nil
	err := w.c.storage.Write(ctx, *b)
	clear(b.Observations) // let the records' memory go
	clear(b.Traces)
	return err
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
