package fluxloop

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The HTTP collector storage, FLUXLOOP_STORAGE=http. Its life: the client's
// writer hands it JSON lines (writeLines, or Write with records); accept
// groups the observations by trace and queues one job per request (a bounded
// number of records may wait); Parallel sender goroutines gzip each job's
// body and POST it, retrying with backoff; a job that cannot be delivered is
// appended to the JSONL files instead (spilled), and one whose spilling
// fails too is counted as dropped.

func init() {
	RegisterStorage("http", func(c Config) (Storage, error) {
		return newHTTPStorage(HTTPOptions{
			URL:         c.APIURL,
			APIKey:      c.APIKey,
			ServiceName: c.ServiceName,
			Environment: c.Environment,
			Timeout:     c.Timeout,
			SpillDir:    c.Dir,
			Debug:       c.Debug,
		})
	})
}

// WithAPIURL sets the collector URL of the http storage (FLUXLOOP_API_URL).
func WithAPIURL(u string) Option { return func(c *Config) { c.APIURL = u } }

// WithAPIKey sets the key the http storage sends as a bearer token
// (FLUXLOOP_API_KEY).
func WithAPIKey(key string) Option { return func(c *Config) { c.APIKey = key } }

// WithTimeout bounds each request of the http storage (FLUXLOOP_TIMEOUT).
func WithTimeout(d time.Duration) Option { return func(c *Config) { c.Timeout = d } }

// Defaults of HTTPOptions.
const (
	DefaultHTTPParallel      = 4
	DefaultHTTPMaxPending    = 16384
	DefaultHTTPSpillWait     = 50 * time.Millisecond
	DefaultHTTPMaxRetries    = 4
	DefaultHTTPMinBackoff    = 100 * time.Millisecond
	DefaultHTTPMaxBackoff    = 5 * time.Second
	DefaultHTTPMaxRetryAfter = 30 * time.Second
	DefaultHTTPCooldown      = 10 * time.Second
)

// HTTPOptions configures an HTTPStorage. A zero field takes its default.
// With FLUXLOOP_STORAGE=http the client fills URL, APIKey, ServiceName,
// Environment, Timeout, SpillDir and Debug from its Config (FLUXLOOP_API_URL,
// FLUXLOOP_API_KEY, FLUXLOOP_SERVICE_NAME, FLUXLOOP_ENVIRONMENT,
// FLUXLOOP_TIMEOUT, FLUXLOOP_DIR, FLUXLOOP_DEBUG) and leaves the rest at
// their defaults; call NewHTTPStorage and WithStorage to set them.
type HTTPOptions struct {
	// URL is the collector's base URL, http or https; requests go to
	// URL/api/traces and URL/api/traces/{trace_id}/observations (a query in
	// URL is kept after those paths). Required.
	URL string
	// APIKey is sent as "Authorization: Bearer <key>" when not empty. It
	// never appears in logs, errors or the spill files.
	APIKey string
	// ServiceName and Environment are sent as the X-Service-Name and
	// X-Environment headers when not empty.
	ServiceName string
	Environment string
	// Timeout bounds each request attempt, response included (default
	// DefaultTimeout, 10s).
	Timeout time.Duration
	// SpillDir is where records that cannot be delivered are appended, as
	// by the file storage (observations.jsonl, traces.jsonl; default
	// DefaultDir).
	SpillDir string
	// Parallel is the number of requests in flight at once (default 4).
	Parallel int
	// MaxPending bounds the records (observations and traces) accepted and
	// not yet sent, spilled or dropped (default 16384). A batch that does
	// not fit waits up to SpillWait for room, then is spilled.
	MaxPending int
	// SpillWait is how long Write waits for room among MaxPending before
	// spilling a batch (default 50ms; negative: no wait). It bounds how long
	// the writer can be held up by a slow collector.
	SpillWait time.Duration
	// MaxRetries is how many times a request is retried after a network
	// error, a timeout, 429 or a 5xx status (default 4; negative: never).
	// Other 4xx statuses are not retried.
	MaxRetries int
	// MinBackoff and MaxBackoff bound the exponential backoff between
	// retries: before retry n the sender sleeps a random duration in
	// [0, min(MaxBackoff, MinBackoff<<n)) ("full jitter"), unless the
	// response's Retry-After header says how long to wait (defaults 100ms
	// and 5s).
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// MaxRetryAfter is the longest Retry-After the senders sleep through
	// (default 30s; negative: none); a longer one opens the circuit until
	// it has passed, so the storage spills meanwhile.
	MaxRetryAfter time.Duration
	// Cooldown is how long the circuit stays open after a request failed
	// all its retries: meanwhile records are spilled at once, then one
	// request probes the collector (default 10s).
	Cooldown time.Duration
	// Client, when set, sends the requests; by default the storage uses its
	// own transport with Parallel idle connections and does not follow
	// redirects.
	Client *http.Client
	// Log receives the storage's messages (default os.Stderr): the first
	// time records are spilled, the first drop, and, with Debug, every
	// failed request and spill.
	Log io.Writer
	// Debug logs every failed request and spill, not just the first.
	Debug bool
}

// HTTPStorage sends records to a FluxLoop collector over HTTP
// (FLUXLOOP_STORAGE=http), without ever holding up the traced program or,
// for more than HTTPOptions.SpillWait, the client's writer.
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
type HTTPStorage struct {
	opts    HTTPOptions
	base    string // URL without query and trailing slash
	query   string // "?" and the URL's query, or ""
	shown   string // URL for messages: no user info, no query
	auth    string // "Bearer <key>" or ""; never printed
	client  *http.Client
	ownTr   *http.Transport // closed on Close when the storage made it
	spill   *FileStorage
	jobs    chan *httpJob
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

	wmu    sync.Mutex     // held by Write and writeLines; guards the scratch below
	groups map[string]int // trace id -> group
	refs   []lineRef
	infos  []groupInfo
	enc    []byte // Write's lines

	openUntil atomic.Int64 // circuit: unix nanoseconds until which it is open; 0 closed
	probing   atomic.Bool  // a half-open probe is in flight
	notBefore atomic.Int64 // unix nanoseconds before which no request starts (Retry-After)

	noticed atomic.Bool // the spill notice was printed
	dropLog atomic.Bool // the first drop was printed

	obs, obsSent, obsSpilled, obsDropped atomic.Uint64
	tr, trSent, trSpilled, trDropped     atomic.Uint64
	requests, retries, rejected          atomic.Uint64
}

// httpJob is one request's records: the observations of one trace, or a
// batch's traces (traceID "").
type httpJob struct {
	traceID string
	lines   []byte // one JSON object per line
	n       int
}

type lineRef struct{ start, end, g int }

type groupInfo struct {
	id       string
	size, n  int
	off, pos int
}

// NewHTTPStorage returns an HTTP collector storage with its senders running;
// install it with WithStorage (the client closes it on Shutdown), or select
// it with FLUXLOOP_STORAGE=http. It returns an error when the options are
// invalid: no URL, a URL that is not http(s), or header values with control
// characters. The error never contains the API key.
func NewHTTPStorage(opts HTTPOptions) (*HTTPStorage, error) {
	s, err := newHTTPStorage(opts)
	if err != nil {
		return nil, fmt.Errorf("fluxloop: http storage: %w", err)
	}
	return s, nil
}

func newHTTPStorage(o HTTPOptions) (*HTTPStorage, error) {
	if strings.TrimSpace(o.URL) == "" {
		return nil, errors.New("no collector URL: set FLUXLOOP_API_URL (or HTTPOptions.URL)")
	}
	u, err := url.Parse(strings.TrimSpace(o.URL))
	if err != nil {
		return nil, fmt.Errorf("collector URL (FLUXLOOP_API_URL) does not parse: %w", redactErr(err, o.APIKey))
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("collector URL %s (FLUXLOOP_API_URL) must be http:// or https:// with a host", scrub(u.Redacted(), o.APIKey))
	}
	for _, h := range []struct{ name, v string }{
		{"FLUXLOOP_API_KEY", o.APIKey}, {"FLUXLOOP_SERVICE_NAME", o.ServiceName}, {"FLUXLOOP_ENVIRONMENT", o.Environment},
	} {
		if strings.ContainsFunc(h.v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return nil, fmt.Errorf("%s contains control characters, which cannot be sent in a header", h.name)
		}
	}
	if o.Timeout < 0 {
		return nil, fmt.Errorf("timeout %v (FLUXLOOP_TIMEOUT) must be positive", o.Timeout)
	}
	for _, v := range []struct {
		name string
		bad  bool
	}{
		{"Parallel", o.Parallel < 0}, {"MaxPending", o.MaxPending < 0},
		{"MinBackoff", o.MinBackoff < 0}, {"MaxBackoff", o.MaxBackoff < 0}, {"Cooldown", o.Cooldown < 0},
	} {
		if v.bad {
			return nil, fmt.Errorf("HTTPOptions.%s must not be negative", v.name)
		}
	}
	setDefault(&o.Timeout, DefaultTimeout)
	if o.SpillDir == "" {
		o.SpillDir = DefaultDir
	}
	setDefault(&o.Parallel, DefaultHTTPParallel)
	setDefault(&o.MaxPending, DefaultHTTPMaxPending)
	setDefault(&o.SpillWait, DefaultHTTPSpillWait)
	setDefault(&o.MaxRetries, DefaultHTTPMaxRetries)
	setDefault(&o.MinBackoff, DefaultHTTPMinBackoff)
	setDefault(&o.MaxBackoff, DefaultHTTPMaxBackoff)
	setDefault(&o.MaxRetryAfter, DefaultHTTPMaxRetryAfter)
	setDefault(&o.Cooldown, DefaultHTTPCooldown)
	if o.Log == nil {
		o.Log = os.Stderr
	}
	s := &HTTPStorage{
		opts:   o,
		spill:  NewFileStorage(o.SpillDir),
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
	s.jobs = make(chan *httpJob, o.MaxPending+maxWriteBatch)
	s.stopCtx, s.abort = context.WithCancel(context.Background())
	s.wg.Add(o.Parallel)
	for range o.Parallel {
		go s.sender()
	}
	return s, nil
}

// setDefault replaces a zero option by its default; negative values stay
// (and mean "none" where the option says so).
func setDefault[T int | time.Duration](p *T, def T) {
	if *p == 0 {
		*p = def
	}
}

// HTTPStats counts what an HTTPStorage did with the records handed to it.
// For observations, Observations = Sent + Spilled + Dropped + Pending; the
// same holds for traces (TracesPending is not reported). The counters are
// read one by one, so while records move they may be a few apart; after
// Flush or Close they are exact.
type HTTPStats struct {
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
func (s *HTTPStorage) Stats() HTTPStats {
	st := HTTPStats{
		Sent:          s.obsSent.Load(),
		Spilled:       s.obsSpilled.Load(),
		Dropped:       s.obsDropped.Load(),
		TracesSent:    s.trSent.Load(),
		TracesSpilled: s.trSpilled.Load(),
		TracesDropped: s.trDropped.Load(),
		Requests:      s.requests.Load(),
		Retries:       s.retries.Load(),
		Rejected:      s.rejected.Load(),
		CircuitOpen:   s.circuitOpen(time.Now()),
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
func (s *HTTPStorage) SpillDir() string { return s.opts.SpillDir }

// Write sends the batch's records (see HTTPStorage); the client's writer
// normally hands over JSON lines instead, which is faster.
func (s *HTTPStorage) Write(ctx context.Context, b Batch) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	buf := s.enc[:0]
	for i := range b.Observations {
		buf = b.Observations[i].AppendJSON(buf)
		buf = append(buf, '\n')
	}
	n := len(buf)
	for i := range b.Traces {
		buf = b.Traces[i].AppendJSON(buf)
		buf = append(buf, '\n')
	}
	s.enc = shrink(buf)
	return s.accept(ctx, buf[:n], buf[n:]) // accept copies the lines
}

// writeLines is the writer's fast path (lineStorage).
func (s *HTTPStorage) writeLines(ctx context.Context, observations, traces []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.accept(ctx, observations, traces)
}

func (s *HTTPStorage) tagRecords() bool { return false }

// accept queues the records of one write as jobs, or spills them when the
// storage is closed, the circuit is open or the pending bound stays full.
// s.wmu is held.
func (s *HTTPStorage) accept(ctx context.Context, observations, traces []byte) error {
	observations, traces = terminated(observations), terminated(traces)
	nObs, nTr := bytes.Count(observations, nl), bytes.Count(traces, nl)
	if nObs+nTr == 0 {
		return nil
	}
	s.obs.Add(uint64(nObs))
	s.tr.Add(uint64(nTr))
	if s.circuitOpen(time.Now()) {
		return s.spillNow(ctx, observations, traces, nObs, nTr, errCircuitOpen)
	}
	need := nObs + nTr
	s.mu.Lock()
	full := func() bool { return s.pending > 0 && s.pending+need > s.opts.MaxPending }
	if s.saturated && s.pending <= s.opts.MaxPending/2 {
		s.saturated = false // the senders caught up
	}
	if !s.closed && !s.saturated && full() && s.opts.SpillWait > 0 {
		s.waitRoomLocked(ctx, need)
	}
	if s.closed || full() {
		closed, pending := s.closed, s.pending
		// Until the senders have caught up, spill without waiting again,
		// so that a stalled collector does not hold the writer up for
		// SpillWait per batch.
		s.saturated = !closed
		s.mu.Unlock()
		reason := errClosed
		if !closed {
			reason = fmt.Errorf("collector %s too slow: %d records already waiting (HTTPOptions.MaxPending %d)", s.shown, pending, s.opts.MaxPending)
		}
		return s.spillNow(ctx, observations, traces, nObs, nTr, reason)
	}
	s.pending += need // reserved: the jobs are made outside the lock
	s.pendBy += len(observations) + len(traces)
	s.mu.Unlock()

	jobs := s.makeJobs(observations, traces, nTr)
	var overflow []*httpJob
	s.mu.Lock()
	for _, j := range jobs {
		if s.closed {
			overflow = append(overflow, j)
			continue
		}
		select {
		case s.jobs <- j:
		default: // cannot happen while pending is bounded, but never block
			overflow = append(overflow, j)
		}
	}
	s.mu.Unlock()
	if len(overflow) > 0 {
		s.spillJobs(overflow, errClosed)
	}
	return nil
}

var nl = []byte{'\n'}

// terminated returns lines ending with a newline (the writer's always do).
func terminated(lines []byte) []byte {
	if len(lines) == 0 || lines[len(lines)-1] == '\n' {
		return lines
	}
	return append(lines[:len(lines):len(lines)], '\n')
}

var (
	errCircuitOpen = errors.New("collector failed recently (circuit open)")
	errClosed      = errors.New("storage closed")
)

// waitRoomLocked waits, with s.mu held on entry and exit, up to SpillWait
// for room for need more records.
func (s *HTTPStorage) waitRoomLocked(ctx context.Context, need int) {
	timer := time.NewTimer(s.opts.SpillWait)
	defer timer.Stop()
	for !s.closed && s.pending > 0 && s.pending+need > s.opts.MaxPending {
		ch := s.changedLocked()
		s.mu.Unlock()
		select {
		case <-ch:
			s.mu.Lock()
		case <-timer.C:
			s.mu.Lock()
			return
		case <-ctx.Done():
			s.mu.Lock()
			return
		}
	}
}

// changedLocked returns the channel closed at the next decrease of pending.
func (s *HTTPStorage) changedLocked() chan struct{} {
	if s.changed == nil {
		s.changed = make(chan struct{})
	}
	return s.changed
}

// makeJobs copies the lines into jobs: the traces first, then one job per
// trace id among the observations, in order of first appearance. s.wmu is
// held.
func (s *HTTPStorage) makeJobs(observations, traces []byte, nTr int) []*httpJob {
	clear(s.groups)
	refs, infos := s.refs[:0], s.infos[:0]
	for start := 0; start < len(observations); {
		end := start + bytes.IndexByte(observations[start:], '\n')
		id := traceIDOf(observations[start:end])
		g, ok := s.groups[string(id)]
		if !ok {
			g = len(infos)
			sid := string(id)
			s.groups[sid] = g
			infos = append(infos, groupInfo{id: sid})
		}
		infos[g].size += end + 1 - start
		infos[g].n++
		refs = append(refs, lineRef{start, end + 1, g})
		start = end + 1
	}
	// One allocation for all the bytes and one for all the jobs.
	data := make([]byte, len(observations)+len(traces))
	jobs := make([]httpJob, 0, len(infos)+1)
	ptrs := make([]*httpJob, 0, len(infos)+1)
	off := copy(data, traces)
	if nTr > 0 {
		jobs = append(jobs, httpJob{lines: data[:off:off], n: nTr})
	}
	for i := range infos {
		infos[i].off, infos[i].pos = off, off
		off += infos[i].size
	}
	for _, r := range refs {
		gi := &infos[r.g]
		gi.pos += copy(data[gi.pos:], observations[r.start:r.end])
	}
	for i := range infos {
		gi := &infos[i]
		jobs = append(jobs, httpJob{traceID: gi.id, lines: data[gi.off:gi.pos:gi.pos], n: gi.n})
	}
	for i := range jobs {
		ptrs = append(ptrs, &jobs[i])
	}
	clear(infos)
	s.refs, s.infos = refs[:0], infos[:0]
	if cap(s.refs) > 1<<16 {
		s.refs, s.infos = nil, nil
	}
	return ptrs
}

// traceIDOf returns the trace_id of an observation line. The writer and
// Observation.AppendJSON start every line with the id and the trace id, so
// this is a slice of the line; other lines are decoded.
func traceIDOf(line []byte) []byte {
	const head, mid = `{"id":"`, `","trace_id":"`
	if len(line) > 70 && string(line[:7]) == head && string(line[23:37]) == mid && line[69] == '"' {
		return line[37:69]
	}
	var o struct {
		TraceID string `json:"trace_id"`
	}
	_ = json.Unmarshal(line, &o) // an undecodable line goes to trace ""
	return []byte(o.TraceID)
}

// sender is one of the Parallel goroutines that deliver jobs.
func (s *HTTPStorage) sender() {
	defer s.wg.Done()
	var c compressor
	for j := range s.jobs {
		s.process(j, &c)
	}
}

// process delivers one job, or spills it (with the jobs queued behind it
// when the circuit is open or the storage is closing), and settles their
// records.
func (s *HTTPStorage) process(j *httpJob, c *compressor) {
	if s.stopCtx.Err() != nil {
		s.spillJobs(s.takeQueued(j), errShutdown)
		return
	}
	probe := false
	if until := s.openUntil.Load(); until != 0 {
		if time.Now().UnixNano() < until || !s.probing.CompareAndSwap(false, true) {
			s.spillJobs(s.takeQueued(j), errCircuitOpen)
			return
		}
		probe = true // half-open: this request decides
		defer s.probing.Store(false)
	}
	defer s.settle(j.n, len(j.lines))
	retryable, err := s.deliver(j, c, probe)
	switch {
	case err == nil:
		if probe {
			s.openUntil.Store(0)
		}
		if j.traceID == "" {
			s.trSent.Add(uint64(j.n))
		} else {
			s.obsSent.Add(uint64(j.n))
		}
		return
	case probe && !retryable:
		s.openUntil.Store(0) // the collector answers, if only to refuse
	case retryable && s.stopCtx.Err() == nil:
		var ra *retryAfterError
		cool := s.opts.Cooldown
		if errors.As(err, &ra) && ra.wait > cool {
			cool = ra.wait
		}
		s.openUntil.Store(time.Now().Add(cool).UnixNano())
	}
	s.spillJob(j, err)
}

var errShutdown = errors.New("storage closed before the collector answered")

// retryAfterError is a retryable failure whose Retry-After is longer than
// MaxRetryAfter.
type retryAfterError struct {
	err  error
	wait time.Duration
}

func (e *retryAfterError) Error() string {
	return fmt.Sprintf("%v (Retry-After %v)", e.err, e.wait)
}
func (e *retryAfterError) Unwrap() error { return e.err }

// deliver POSTs the job, retrying as configured (once only for a probe). It
// returns a nil error on a 2xx answer, or whether the last failure was
// retryable and its error.
func (s *HTTPStorage) deliver(j *httpJob, c *compressor, probe bool) (retryable bool, err error) {
	body, err := c.compress(j.lines)
	if err != nil {
		return false, fmt.Errorf("compress request body: %w", err)
	}
	path := "/api/traces"
	if j.traceID != "" {
		path = "/api/traces/" + url.PathEscape(j.traceID) + "/observations"
	}
	for attempt := 0; ; attempt++ {
		if err := s.sleepUntil(s.notBefore.Load()); err != nil {
			return true, err
		}
		wait, retryable, err := s.post(path, body)
		if err == nil || !retryable {
			return retryable, err
		}
		if s.stopCtx.Err() != nil {
			return true, errShutdown
		}
		if s.opts.Debug {
			s.logf("fluxloop: http storage: attempt %d: %v", attempt+1, err)
		}
		if wait > s.opts.MaxRetryAfter {
			return true, &retryAfterError{err: err, wait: wait}
		}
		if probe || attempt >= s.opts.MaxRetries {
			return true, err
		}
		if wait > 0 {
			// Retry-After applies to every sender.
			until := time.Now().Add(wait).UnixNano()
			for {
				cur := s.notBefore.Load()
				if cur >= until || s.notBefore.CompareAndSwap(cur, until) {
					break
				}
			}
		} else {
			wait = s.backoff(attempt)
		}
		s.retries.Add(1)
		if err := s.sleep(wait); err != nil {
			return true, err
		}
	}
}

// backoff is the full-jitter wait before retry attempt+1.
func (s *HTTPStorage) backoff(attempt int) time.Duration {
	ceil := s.opts.MaxBackoff
	if attempt < 30 && s.opts.MinBackoff<<attempt < ceil && s.opts.MinBackoff<<attempt > 0 {
		ceil = s.opts.MinBackoff << attempt
	}
	if ceil <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(ceil)))
}

// sleep waits d, or until Close gives up.
func (s *HTTPStorage) sleep(d time.Duration) error {
	if d <= 0 {
		if s.stopCtx.Err() != nil {
			return errShutdown
		}
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-s.stopCtx.Done():
		return errShutdown
	}
}

func (s *HTTPStorage) sleepUntil(unixNano int64) error {
	if d := time.Until(time.Unix(0, unixNano)); unixNano != 0 && d > 0 {
		return s.sleep(d)
	}
	return nil
}

// post makes one attempt. It returns the Retry-After wait when the answer
// had one, whether a failure is retryable, and the error (nil for a 2xx
// answer).
func (s *HTTPStorage) post(path string, body []byte) (wait time.Duration, retryable bool, err error) {
	s.requests.Add(1)
	ctx, cancel := context.WithTimeout(s.stopCtx, s.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.base+path+s.query, bytes.NewReader(body))
	if err != nil {
		return 0, false, fmt.Errorf("make request for %s%s: %w", s.shown, path, err)
	}
	h := req.Header
	h["Content-Type"] = []string{"application/json"}
	h["Content-Encoding"] = []string{"gzip"}
	h["User-Agent"] = []string{"fluxloop-go"}
	if s.auth != "" {
		h["Authorization"] = []string{s.auth}
	}
	if s.opts.ServiceName != "" {
		h["X-Service-Name"] = []string{s.opts.ServiceName}
	}
	if s.opts.Environment != "" {
		h["X-Environment"] = []string{s.opts.Environment}
	}
	resp, err := s.client.Do(req)
	if err != nil {
		if s.stopCtx.Err() != nil {
			return 0, true, errShutdown
		}
		if ctx.Err() == context.DeadlineExceeded {
			return 0, true, fmt.Errorf("POST %s%s: no answer within %v (FLUXLOOP_TIMEOUT)", s.shown, path, s.opts.Timeout)
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // it repeats the URL
		}
		return 0, true, fmt.Errorf("POST %s%s: %w", s.shown, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // keep the connection
		return 0, false, nil
	}
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	msg := strings.TrimSpace(strings.ToValidUTF8(string(snippet), "?"))
	if msg != "" {
		msg = ": " + strconv.Quote(msg)
	}
	err = fmt.Errorf("POST %s%s: collector answered %s%s", s.shown, path, resp.Status, msg)
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		return retryAfter(resp.Header.Get("Retry-After"), time.Now()), true, err
	}
	s.rejected.Add(1)
	return 0, false, err
}

// retryAfter parses a Retry-After value, seconds or an HTTP date, as a wait
// from now (0 when absent or invalid).
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(24*time.Hour/time.Second) {
			secs = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// circuitOpen reports whether batches are spilled without a request.
func (s *HTTPStorage) circuitOpen(now time.Time) bool {
	until := s.openUntil.Load()
	return until != 0 && now.UnixNano() < until
}

// spillNow appends a write's records to the files, from the writer.
func (s *HTTPStorage) spillNow(ctx context.Context, observations, traces []byte, nObs, nTr int, reason error) error {
	if err := s.spill.writeLines(ctx, observations, traces); err != nil {
		s.obsDropped.Add(uint64(nObs))
		s.trDropped.Add(uint64(nTr))
		err = s.wrap(fmt.Errorf("could not send (%v) nor spill %d observations and %d traces: %w", reason, nObs, nTr, err))
		s.logDrop(err)
		return err
	}
	s.obsSpilled.Add(uint64(nObs))
	s.trSpilled.Add(uint64(nTr))
	s.notice(reason)
	return nil
}

// spillJob appends a job's records to the files, from a sender.
func (s *HTTPStorage) spillJob(j *httpJob, reason error) {
	var err error
	if j.traceID == "" {
		err = s.spill.writeLines(context.Background(), nil, j.lines)
	} else {
		err = s.spill.writeLines(context.Background(), j.lines, nil)
	}
	spilled, dropped := &s.obsSpilled, &s.obsDropped
	kind := "observations"
	if j.traceID == "" {
		spilled, dropped, kind = &s.trSpilled, &s.trDropped, "traces"
	}
	if err != nil {
		dropped.Add(uint64(j.n))
		s.logDrop(s.wrap(fmt.Errorf("could not send (%v) nor spill %d %s: %w", reason, j.n, kind, err)))
		return
	}
	spilled.Add(uint64(j.n))
	s.notice(reason)
}

// notice says once (every time with Debug) that records go to the files.
func (s *HTTPStorage) notice(reason error) {
	if s.noticed.Swap(true) && !s.opts.Debug {
		return
	}
	s.logf("fluxloop: http storage: cannot deliver to the collector: %v; writing records to %s instead (counted in HTTPStorage.Stats)",
		reason, s.opts.SpillDir)
}

func (s *HTTPStorage) logDrop(err error) {
	if s.dropLog.Swap(true) && !s.opts.Debug {
		return
	}
	s.logf("%v", err)
}

// logf writes one line to the log, with the API key masked.
func (s *HTTPStorage) logf(format string, args ...any) {
	fmt.Fprintln(s.opts.Log, scrub(fmt.Sprintf(format, args...), s.opts.APIKey))
}

// wrap prefixes an error and masks the API key in its message.
func (s *HTTPStorage) wrap(err error) error {
	return redactErr(fmt.Errorf("fluxloop: http storage: %w", err), s.opts.APIKey)
}

// settle marks n records of size bytes as sent, spilled or dropped.
func (s *HTTPStorage) settle(n, size int) {
	s.mu.Lock()
	s.pending -= n
	s.pendBy -= size
	if s.changed != nil {
		close(s.changed)
		s.changed = nil
	}
	s.mu.Unlock()
}

// waitIdle waits until no record is pending, or ctx is done.
func (s *HTTPStorage) waitIdle(ctx context.Context) error {
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
func (s *HTTPStorage) early(ctx context.Context, factor int) (context.Context, context.CancelFunc) {
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
func (s *HTTPStorage) Flush(ctx context.Context) error {
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
func (s *HTTPStorage) Close(ctx context.Context) error {
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
	if err := s.spill.Close(ctx); err != nil {
		errs = append(errs, s.wrap(fmt.Errorf("close spill files: %w", err)))
	}
	return errors.Join(errs...)
}

// takeQueued returns first and the jobs waiting in the queue now (at most
// 4096 of them), to be spilled together.
func (s *HTTPStorage) takeQueued(first *httpJob) []*httpJob {
	jobs := []*httpJob{first}
	for len(jobs) < maxWriteBatch {
		select {
		case j := <-s.jobs:
			jobs = append(jobs, j)
			continue
		default:
		}
		break
	}
	return jobs
}

// spillJobs appends the jobs' records to the files, with one write per
// file, and settles them.
func (s *HTTPStorage) spillJobs(jobs []*httpJob, reason error) {
	if len(jobs) == 1 {
		s.spillJob(jobs[0], reason)
		s.settle(jobs[0].n, len(jobs[0].lines))
		return
	}
	var obsSize, trSize int
	for _, j := range jobs {
		if j.traceID == "" {
			trSize += len(j.lines)
		} else {
			obsSize += len(j.lines)
		}
	}
	obs, traces := make([]byte, 0, obsSize), make([]byte, 0, trSize)
	var nObs, nTr int
	for _, j := range jobs {
		if j.traceID == "" {
			traces, nTr = append(traces, j.lines...), nTr+j.n
		} else {
			obs, nObs = append(obs, j.lines...), nObs+j.n
		}
	}
	// spillNow's ctx only reaches the file storage, which ignores it.
	s.spillNow(context.Background(), obs, traces, nObs, nTr, reason)
	s.settle(nObs+nTr, len(obs)+len(traces))
}

// spillQueued spills the jobs no sender has taken yet, for Close when time
// is up.
func (s *HTTPStorage) spillQueued() {
	for {
		select {
		case j := <-s.jobs:
			s.spillJobs(s.takeQueued(j), errShutdown)
		default:
			return
		}
	}
}

// compressor gzips request bodies; each sender has its own.
type compressor struct {
	raw []byte // the JSON array before compression
	buf bytes.Buffer
	zw  *gzip.Writer
}

// compress returns the gzipped JSON array of the lines' objects; lines is
// not modified. The result is valid until the next call.
func (c *compressor) compress(lines []byte) ([]byte, error) {
	raw := append(c.raw[:0], '[')
	for len(lines) > 0 {
		i := bytes.IndexByte(lines, '\n')
		if i < 0 {
			i = len(lines)
		}
		if len(raw) > 1 {
			raw = append(raw, ',')
		}
		raw = append(raw, lines[:i]...)
		lines = lines[min(i+1, len(lines)):]
	}
	raw = append(raw, ']')
	c.raw = shrink(raw)
	c.buf.Reset()
	if c.zw == nil {
		zw, err := gzip.NewWriterLevel(&c.buf, gzip.BestSpeed)
		if err != nil {
			return nil, err
		}
		c.zw = zw
	} else {
		c.zw.Reset(&c.buf)
	}
	if _, err := c.zw.Write(raw); err != nil {
		return nil, err
	}
	if err := c.zw.Close(); err != nil {
		return nil, err
	}
	if c.buf.Cap() > 4<<20 {
		out := bytes.Clone(c.buf.Bytes())
		c.buf = bytes.Buffer{}
		return out, nil
	}
	return c.buf.Bytes(), nil
}

// scrub masks every occurrence of key in msg.
func scrub(msg, key string) string {
	if key == "" || !strings.Contains(msg, key) {
		return msg
	}
	return strings.ReplaceAll(msg, key, Masked)
}

// redactErr returns err, or an error with the same chain whose message has
// the key masked.
func redactErr(err error, key string) error {
	if err == nil || key == "" || !strings.Contains(err.Error(), key) {
		return err
	}
	return &scrubbed{msg: scrub(err.Error(), key), err: err}
}

type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }
