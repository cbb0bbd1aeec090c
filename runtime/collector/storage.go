package collector

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
)

// StorageName is the name the package registers its storage under:
// FLUXLOOP_STORAGE=http or fluxloop.WithStorageName(collector.StorageName).
const StorageName = "http"

// The storage's life: the client's writer hands it records (Write), which
// become JSON lines (appendLines); accept groups the observations by trace and queues one
// job per request (a bounded number of records may wait); Parallel sender
// goroutines gzip each job's body and POST it, retrying with backoff; a job
// that cannot be delivered is appended to the JSONL files instead (spilled),
// and one whose spilling fails too is counted as dropped.

func init() {
	fluxloop.RegisterStorage(StorageName, func(c fluxloop.Config) (fluxloop.Storage, error) {
		o, err := configOptions(c, os.Getenv)
		if err != nil {
			return nil, err
		}
		return newStorage(o)
	})
}

// Storage sends records to a FluxLoop collector over HTTP
// (FLUXLOOP_STORAGE=http), without ever holding up the traced program or,
// for more than Options.SpillWait, the client's writer.
//
// Requests. Each write of the client's writer becomes one
// POST {URL}/api/traces whose body is a JSON array of the trace objects
// (one per run that ended; FluxLoop's trace fields) and, per trace with
// observations in the write, one POST {URL}/api/traces/{trace_id}/observations
// whose body is a JSON array of that trace's observations, in the order they
// ended. A trace's observations may arrive in several requests, before or
// after its trace object, since up to Parallel requests are in flight at
// once and a trace's steps end before its root. Bodies are gzip-compressed
// (Content-Encoding: gzip, Content-Type: application/json); requests carry
// Authorization: Bearer <APIKey>, X-Service-Name and X-Environment when set.
// Any 2xx status is success.
//
// Failures. Network errors, timeouts, 429 and 5xx answers are retried with
// exponential backoff and full jitter, honouring Retry-After (seconds or an
// HTTP date; all senders wait it out); other statuses are not retried. A
// request that fails for good, or is refused with a 4xx, has its records
// appended to the JSONL files in SpillDir, FluxLoop's offline format, and the
// first such spill is reported once on Log. After a request exhausted its
// retries the circuit opens: for Cooldown, batches are spilled at once by
// the writer, then a single request probes the collector and closes the
// circuit when it succeeds. When MaxPending records are already waiting, a
// batch is spilled rather than held. Spilled records are not re-sent later.
//
// Accounting. Nothing is lost silently: every observation handed to the
// storage is eventually sent, spilled or, when the spill files cannot be
// written either, dropped, and Stats counts each (the client's own
// Counters.Written counts what the storage accepted). Flush waits until
// every accepted record is settled; Close does the same, and at its ctx's
// deadline (a little before it, so as to finish in time) cancels the
// requests in flight and spills what is left. Give Shutdown a deadline: with
// context.Background() and a collector that stalls, it waits for every
// retry (up to (MaxRetries+1) x Timeout plus backoff). Delivery is at least
// once: a request that timed out may have been processed all the same and
// is retried or spilled, so a collector should treat the records' ids as
// idempotency keys.
type Storage struct {
	opts    Options
	base    string // URL without query and trailing slash
	query   string // "?" and the URL's query, or ""
	shown   string // URL for messages: no user info, no query
	auth    string // "Bearer <key>" or ""; never printed
	client  *http.Client
	ownTr   *http.Transport // closed on Close when the storage made it
	spill   spillFiles
	jobs    chan *job
	stopCtx context.Context // cancelled when Close gives up waiting
	abort   context.CancelFunc
	wg      sync.WaitGroup

	mu      sync.Mutex
	pending int           // records accepted and not settled
	pendBy  int           // their bytes, to estimate how long spilling them takes
	changed chan struct{} // closed (and cleared) whenever pending decreases
	closed  bool
	// saturated is set when a batch was spilled for want of room, and
	// cleared when pending is down to half of MaxPending.
	saturated bool

	wmu     sync.Mutex     // held by Write; guards the scratch below
	groups  map[string]int // trace id -> group
	refs    []lineRef
	infos   []groupInfo
	enc     []byte           // Write's lines
	encoder fluxloop.Encoder // makes them

	breaker   breaker
	notBefore atomic.Int64 // unix nanoseconds before which no request starts (Retry-After)

	noticed atomic.Bool // the spill notice was printed
	dropLog atomic.Bool // the first drop was printed

	obs, obsSent, obsSpilled, obsDropped atomic.Uint64
	tr, trSent, trSpilled, trDropped     atomic.Uint64
	requests, retries, rejected          atomic.Uint64
}

// New returns a collector storage with its senders running; install it with
// fluxloop.WithStorage (the client closes it on Shutdown), or let
// FLUXLOOP_STORAGE=http make one. It reads no environment variable. It
// returns an error when the options are invalid: no URL, a URL that is not
// http(s), or header values with control characters. The error never
// contains the API key.
func New(opts Options) (*Storage, error) {
	s, err := newStorage(opts)
	if err != nil {
		return nil, fmt.Errorf("fluxloop: http storage: %w", err)
	}
	return s, nil
}

// newStorage is New without the prefix on errors, which the registered
// factory's caller adds.
func newStorage(o Options) (*Storage, error) {
	u, err := o.check()
	if err != nil {
		return nil, err
	}
	o.setDefaults()
	s := &Storage{
		opts:   o,
		spill:  spillFiles{dir: o.SpillDir},
		groups: make(map[string]int),
	}
	base := *u
	base.RawQuery, base.Fragment = "", ""
	s.base = strings.TrimRight(base.String(), "/")
	if u.RawQuery != "" {
		s.query = "?" + u.RawQuery // kept after the API path
	}
	shown := *u
	shown.User, shown.RawQuery, shown.Fragment = nil, "", ""
	s.shown = scrub(shown.String(), o.APIKey)
	if o.APIKey != "" {
		s.auth = "Bearer " + o.APIKey
	}
	s.client = o.Client
	if s.client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = o.Parallel
		s.ownTr = tr
		s.client = &http.Client{
			Transport:     tr,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	// Every job holds at least one record, so the channel never fills while
	// the pending bound is kept; accept still never blocks on it.
	s.jobs = make(chan *job, o.MaxPending+maxWriteBatch)
	s.stopCtx, s.abort = context.WithCancel(context.Background())
	s.wg.Add(o.Parallel)
	for range o.Parallel {
		go s.sender()
	}
	return s, nil
}

// Stats counts what a Storage did with the records handed to it. For
// observations, Observations = Sent + Spilled + Dropped + Pending; the same
// holds for traces (TracesPending is not reported). The counters are read
// one by one, so while records move they may be a few apart; after Flush or
// Close they are exact.
type Stats struct {
	// Observations counts observations the storage accepted.
	Observations uint64
	// Sent counts observations the collector acknowledged (2xx).
	Sent uint64
	// Spilled counts observations appended to the JSONL files in SpillDir
	// instead: the collector was unreachable, failing, refused them with a
	// 4xx, or was too slow (the pending bound was reached or Close's
	// deadline came).
	Spilled uint64
	// Dropped counts observations lost: spilling them failed too.
	Dropped uint64
	// Pending counts observations accepted and not yet settled.
	Pending uint64
	// Traces, TracesSent, TracesSpilled and TracesDropped are the same
	// counts for trace records.
	Traces, TracesSent, TracesSpilled, TracesDropped uint64
	// Requests counts HTTP requests made, retries included; Retries the
	// retries; Rejected the requests refused with a status that is not
	// retried (their records were spilled).
	Requests, Retries, Rejected uint64
	// CircuitOpen reports whether batches are being spilled without trying
	// the collector (after a request failed all its retries, for Cooldown).
	CircuitOpen bool
}

// Stats returns the storage's counters.
func (s *Storage) Stats() Stats {
	st := Stats{
		Sent:          s.obsSent.Load(),
		Spilled:       s.obsSpilled.Load(),
		Dropped:       s.obsDropped.Load(),
		TracesSent:    s.trSent.Load(),
		TracesSpilled: s.trSpilled.Load(),
		TracesDropped: s.trDropped.Load(),
		Requests:      s.requests.Load(),
		Retries:       s.retries.Load(),
		Rejected:      s.rejected.Load(),
		CircuitOpen:   s.breaker.isOpen(time.Now()),
	}
	// Loaded after the outcomes, which they are incremented before.
	st.Observations = s.obs.Load()
	st.Traces = s.tr.Load()
	if done := st.Sent + st.Spilled + st.Dropped; st.Observations > done {
		st.Pending = st.Observations - done
	}
	return st
}

// SpillDir returns the directory records are spilled to.
func (s *Storage) SpillDir() string { return s.opts.SpillDir }

// Write sends the records (see Storage). It implements fluxloop.Storage;
// the client's writer calls it.
func (s *Storage) Write(ctx context.Context, records []fluxloop.Record) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	buf, n := s.appendLines(s.enc[:0], records)
	s.enc = shrink(buf)
	return s.accept(ctx, buf[:n], buf[n:]) // accept copies the lines
}

// appendLines appends the records' observations, then the traces of the
// roots among them, to buf as JSON lines (FluxLoop's format, which the
// spill files share), and returns buf and where the traces start. s.wmu is
// held.
func (s *Storage) appendLines(buf []byte, records []fluxloop.Record) ([]byte, int) {
	for i := range records {
		buf = s.encoder.AppendObservation(buf, &records[i])
		buf = append(buf, '\n')
	}
	n := len(buf)
	for i := range records {
		if records[i].Root {
			buf = s.encoder.AppendTrace(buf, &records[i])
			buf = append(buf, '\n')
		}
	}
	return buf, n
}

// shrink drops a buffer that a burst made huge.
func shrink(b []byte) []byte {
	if cap(b) > 4<<20 {
		return nil
	}
	return b
}

// settle marks n records of size bytes as sent, spilled or dropped.
func (s *Storage) settle(n, size int) {
	s.mu.Lock()
	s.pending -= n
	s.pendBy -= size
	if s.changed != nil {
		close(s.changed)
		s.changed = nil
	}
	s.mu.Unlock()
}

// changedLocked returns the channel closed at the next decrease of pending.
func (s *Storage) changedLocked() chan struct{} {
	if s.changed == nil {
		s.changed = make(chan struct{})
	}
	return s.changed
}

// waitIdle waits until no record is pending, or ctx is done.
func (s *Storage) waitIdle(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.pending > 0 {
		ch := s.changedLocked()
		s.mu.Unlock()
		select {
		case <-ch:
			s.mu.Lock()
		case <-ctx.Done():
			s.mu.Lock()
			return ctx.Err()
		}
	}
	return nil
}

// spillRate is the file write speed assumed when estimating how long
// spilling what is pending takes: slow on purpose (a busy disk).
const spillRate = 50 << 20 // bytes per second

// early returns ctx ending before its deadline by factor times the time it
// would take to spill what is pending (at least 50ms, and never more than
// half the time left), so that what follows the wait, cancelling requests
// and spilling, still fits before the deadline. Flush uses factor 2 and
// Close 1, so that a Shutdown whose Flush ran out of time still leaves its
// Close the time to spill.
func (s *Storage) early(ctx context.Context, factor int) (context.Context, context.CancelFunc) {
	d, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	s.mu.Lock()
	need := time.Duration(float64(s.pendBy) / spillRate * float64(time.Second))
	s.mu.Unlock()
	left := time.Until(d)
	margin := min(left/2, time.Duration(factor)*max(need, 50*time.Millisecond))
	return context.WithDeadline(ctx, d.Add(-margin))
}

// Flush waits until every record accepted so far is sent, spilled or
// dropped, or until shortly before ctx's deadline (leaving Close the time to
// spill what is pending, at least 100ms); then it returns an error saying how
// many are still pending (they stay queued).
func (s *Storage) Flush(ctx context.Context) error {
	wctx, cancel := s.early(ctx, 2)
	defer cancel()
	if err := s.waitIdle(wctx); err != nil {
		s.mu.Lock()
		n := s.pending
		s.mu.Unlock()
		return s.wrap(fmt.Errorf("flush: %w: %d records not yet sent to %s", err, n, s.shown))
	}
	return nil
}

// Close flushes and stops the senders. When ctx ends first (a little before
// its deadline), it cancels the requests in flight and spills what is left
// to the files, and returns an error saying so. Close also closes the spill
// files; later writes are spilled.
func (s *Storage) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()

	wctx, cancel := s.early(ctx, 1)
	waitErr := s.waitIdle(wctx)
	cancel()
	before := s.Stats()
	if waitErr != nil {
		s.abort() // requests and sleeps end; senders spill the jobs they hold
		s.spillQueued()
		hard, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		s.waitIdle(hard) // only local file writes remain
		cancel()
	}
	s.abort()
	close(s.jobs) // safe: closed is set, so accept no longer sends
	s.wg.Wait()
	if s.ownTr != nil {
		s.ownTr.CloseIdleConnections()
	}
	var errs []error
	if waitErr != nil {
		after := s.Stats()
		errs = append(errs, s.wrap(fmt.Errorf("close: %w before %s answered: %d observations and %d traces written to %s instead",
			waitErr, s.shown, after.Spilled-before.Spilled, after.TracesSpilled-before.TracesSpilled, s.opts.SpillDir)))
	}
	if st := s.Stats(); st.Dropped+st.TracesDropped > 0 {
		errs = append(errs, s.wrap(fmt.Errorf("%d observations and %d traces were lost: neither sent nor spilled to %s", st.Dropped, st.TracesDropped, s.opts.SpillDir)))
	}
	if err := s.spill.close(); err != nil {
		errs = append(errs, s.wrap(fmt.Errorf("close spill files: %w", err)))
	}
	return errors.Join(errs...)
}

// logf writes one line to the log, with the API key masked.
func (s *Storage) logf(format string, args ...any) {
	fmt.Fprintln(s.opts.Log, scrub(fmt.Sprintf(format, args...), s.opts.APIKey))
}

// wrap prefixes an error and masks the API key in its message.
func (s *Storage) wrap(err error) error {
	return redactErr(fmt.Errorf("fluxloop: http storage: %w", err), s.opts.APIKey)
}
