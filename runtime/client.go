package fluxloop

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Client records observations: it owns a configuration, a bounded queue, a
// background writer goroutine and a Storage. Most programs use the default
// client through the package-level functions (Init, Flush, Shutdown, Stats);
// create a Client with NewClient to record to a second place, and install it
// with SetDefault where generated code should use it.
type Client struct {
	cfg       Config
	on        atomic.Uint32 // 1 while enabled and not shut down: the fast path's flag
	threshold uint64        // sampling threshold, see sampleThreshold
	storage   Storage
	redact    redaction
	capture   *capturer // limits of the capture engine, from cfg

	queue  chan *Span
	wakeAt int           // queue length at which producers wake the writer early
	wake   chan struct{} // capacity 1: "the queue is filling up" or "a trace is complete"
	// rootWake is set while the writer sleeps between polls and would
	// rather be woken by a root's end (see enqueue and run).
	rootWake atomic.Bool
	reqs     chan request
	stop     chan struct{} // closed by Shutdown, after stopCtx is set
	done     chan struct{} // closed when the writer has exited, after stopErr is set

	stopCtx context.Context
	stopErr error

	closed     atomic.Bool
	received   atomic.Uint64 // spans taken from the queue by the writer
	written    atomic.Uint64
	dropped    atomic.Uint64
	failed     atomic.Uint64
	errs       atomic.Uint64
	dropLogged atomic.Bool
	errLogged  atomic.Bool

	shutdownMu   sync.Mutex
	shutdownDone bool

	streamsMu   sync.Mutex
	openStreams map[*stream]struct{} // ended as abandoned at Shutdown
}

type request struct {
	ctx   context.Context
	reply chan error
}

// NewClient returns a client configured by the defaults and opts (not by the
// environment: Init reads that), with its writer running. It returns an error
// naming the option and value when an option is invalid or the storage
// cannot be built. Call Shutdown when done with it.
func NewClient(opts ...Option) (*Client, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	return newClient(cfg)
}

func newClient(cfg Config) (*Client, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, threshold: sampleThreshold(cfg.SampleRate), redact: newRedaction(cfg.Redactor)}
	c.capture = newCapturer(&c.cfg)
	if !cfg.Enabled {
		c.closed.Store(true)
		return c, nil
	}
	st, err := newStorage(cfg)
	if err != nil {
		return nil, err
	}
	c.storage = st
	c.queue = make(chan *Span, cfg.MaxQueueSize)
	c.wakeAt = max(1, cfg.MaxQueueSize/2)
	c.wake = make(chan struct{}, 1)
	c.reqs = make(chan request)
	c.stop = make(chan struct{})
	c.done = make(chan struct{})
	c.on.Store(1)
	go c.run()
	return c, nil
}

// Config returns the client's configuration.
func (c *Client) Config() Config { return c.cfg }

// Storage returns the client's storage, or nil when it is disabled. With
// FLUXLOOP_STORAGE=memory it is a *MemoryStorage.
func (c *Client) Storage() Storage { return c.storage }

// enqueue hands a finished span to the writer without ever blocking. The
// writer polls the queue while it is busy, so a send rarely has to wake it;
// producers nudge it when the queue is half full, and when a root ends with
// the writer caught up (the queue holds only that span) and sleeping
// between polls (rootWake), so that a finished trace is written at once
// rather than at the next poll or tick. Under load the queue is not empty,
// and right after writing a root the writer polls again within rootGap
// without being woken, so a root costs its producer an atomic load and the
// writer at most one wake-up per rootGap.
func (c *Client) enqueue(s *Span) {
	if c.closed.Load() {
		c.dropped.Add(1)
		return
	}
	select {
	case c.queue <- s:
		if n := len(c.queue); n >= c.wakeAt || n <= 1 && s.up == nil && c.rootWake.Load() {
			select {
			case c.wake <- struct{}{}:
			default:
			}
		}
	default:
		c.dropped.Add(1)
		if (!c.dropLogged.Load() && !c.dropLogged.Swap(true)) || c.cfg.Debug {
			fmt.Fprintf(os.Stderr, "fluxloop: queue full (%d observations): dropping observations; see fluxloop.Stats, raise FLUXLOOP_MAX_QUEUE_SIZE or check the storage\n", cap(c.queue))
		}
	}
}

// logError reports a storage error on stderr: the first one, or all of them
// in debug mode.
func (c *Client) logError(err error) {
	c.errs.Add(1)
	if (!c.errLogged.Load() && !c.errLogged.Swap(true)) || c.cfg.Debug {
		fmt.Fprintf(os.Stderr, "%v\n", err)
	}
}

// Counters count what happened to a client's observations, as returned by
// Stats and Client.Stats. Enqueued = Written + Failed + (still queued or being
// written); Dropped observations never reached the queue. The counters are
// read one by one, so while spans are ending they may be a few apart; after
// Flush they are exact. (The type is not
// called Stats because the package-level function is.)
type Counters struct {
	// Enqueued counts observations accepted into the writer's queue.
	Enqueued uint64
	// Written counts observations the storage accepted.
	Written uint64
	// Dropped counts observations discarded because the queue was full or
	// the client was shut down.
	Dropped uint64
	// Failed counts observations lost because the storage returned an error.
	Failed uint64
	// Errors counts storage calls (Write, Flush, Close) that returned an
	// error.
	Errors uint64
}

// Stats returns the client's counters.
func (c *Client) Stats() Counters {
	return Counters{
		Enqueued: c.received.Load() + uint64(len(c.queue)),
		Written:  c.written.Load(),
		Dropped:  c.dropped.Load(),
		Failed:   c.failed.Load(),
		Errors:   c.errs.Load(),
	}
}

func (c *Client) pending() uint64 {
	st := c.Stats()
	if d := st.Written + st.Failed; st.Enqueued > d {
		return st.Enqueued - d
	}
	return 0
}

// Flush waits until every observation queued before the call is written and
// the storage is flushed, or until ctx is done. Tests and short programs call
// it before reading what was recorded.
func (c *Client) Flush(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if c.done == nil {
		return nil
	}
	reply := make(chan error, 1)
	select {
	case c.reqs <- request{ctx: ctx, reply: reply}:
	case <-c.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("fluxloop: flush: %w (%d observations not yet written)", ctx.Err(), c.pending())
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return fmt.Errorf("fluxloop: flush: %w (%d observations not yet written)", ctx.Err(), c.pending())
	}
}

// Shutdown stops recording, writes everything queued, and closes the
// storage. At ctx's deadline it returns an error saying how many
// observations were not written (the writer goes on with a cancelled ctx,
// which a well-behaved storage honours at once, then exits). Observations
// that end after Shutdown are dropped. Calling it again returns nil at once. Programs call it before exiting:
//
//	defer fluxloop.Shutdown(context.Background())
func (c *Client) Shutdown(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	c.shutdownMu.Lock()
	defer c.shutdownMu.Unlock()
	if c.shutdownDone {
		return nil
	}
	c.shutdownDone = true
	c.abandonStreams() // while the queue still takes their observations
	c.on.Store(0)
	c.closed.Store(true)
	defaultOff(c)
	if c.done == nil {
		return nil
	}
	c.stopCtx = ctx
	close(c.stop)
	select {
	case <-c.done:
		if n := c.pending(); n > 0 {
			return errors.Join(c.stopErr, fmt.Errorf("fluxloop: shutdown: %d observations not written", n))
		}
		return c.stopErr
	case <-ctx.Done():
		return fmt.Errorf("fluxloop: shutdown: %w: %d observations not written", ctx.Err(), c.pending())
	}
}

// The default client: an atomic pointer, created lazily from the environment
// on first use unless Init or SetDefault installed one, and its mode, which
// Enter's fast path reads with one atomic load. mode is derived from p and
// p's enabled/shut-down state, and changes only under mu. This is the
// package's only global state besides the goroutine table (goroutine.go) and
// the storage registry (storage.go).
var std struct {
	p atomic.Pointer[Client]
	// modeRaw is modeUnknown while there is no default, then modeOn or
	// modeOff; read and written atomically (a plain uint32 keeps Enter
	// inlinable).
	modeRaw uint32
	mu      sync.Mutex
}

const (
	modeUnknown = iota
	modeOn
	modeOff
)

func modeOf(c *Client) uint32 {
	if c == nil {
		return modeUnknown
	}
	if c.on.Load() != 0 {
		return modeOn
	}
	return modeOff
}

// installDefault makes c the default client and returns the previous one.
func installDefault(c *Client) *Client {
	std.mu.Lock()
	defer std.mu.Unlock()
	old := std.p.Swap(c)
	atomic.StoreUint32(&std.modeRaw, modeOf(c))
	return old
}

// defaultOff switches the fast path off if c is the default client; Shutdown
// calls it after clearing c.on.
func defaultOff(c *Client) {
	std.mu.Lock()
	if std.p.Load() == c {
		atomic.StoreUint32(&std.modeRaw, modeOff)
	}
	std.mu.Unlock()
}

// defaultClient returns the default client, creating it from the environment
// on first use (double-checked under std.mu, which plays sync.Once's part but
// can be reset by SetDefault(nil)). Invalid environment values are reported
// on stderr, once per creation, each with the value used instead: the
// default, except that an unreadable FLUXLOOP_ENABLED switches tracing off
// and an unreadable FLUXLOOP_CAPTURE captures nothing.
func defaultClient() *Client {
	if c := std.p.Load(); c != nil {
		return c
	}
	std.mu.Lock()
	defer std.mu.Unlock()
	if c := std.p.Load(); c != nil {
		return c
	}
	cfg := lazyConfig(os.Getenv, os.Stderr)
	c, err := newClient(cfg)
	if err != nil {
		def := fallbackConfig(cfg)
		fmt.Fprintf(os.Stderr, "%v (using the file storage in %s)\n", err, def.Dir)
		c, err = newClient(def)
		if err != nil { // cannot happen with the defaults
			c = &Client{cfg: def}
			c.closed.Store(true)
		}
	}
	std.p.Store(c)
	atomic.StoreUint32(&std.modeRaw, modeOf(c))
	return c
}

// Init configures the default client from the environment (FLUXLOOP_*
// variables, see the package documentation) and then opts. Call it once at
// the start of main; without it the default client is made from the
// environment on first use. Calling it again replaces the default client,
// shutting the old one down (waiting up to 5 seconds for its queue). An
// invalid variable or option makes it return an error naming it and its
// value, and leaves the current client in place; an option given for the
// same setting as an invalid variable wins, and the variable is then
// ignored (Init(WithSampleRate(0.5)) succeeds with FLUXLOOP_SAMPLE_RATE=1.5).
// To tell whether an option sets a field, Init applies the options to two
// scratch configurations besides the real one, so options should not have
// side effects.
func Init(opts ...Option) error {
	cfg, err := initConfig(os.Getenv, opts)
	if err != nil {
		return err
	}
	c, err := newClient(cfg)
	if err != nil {
		return err
	}
	if old := installDefault(c); old != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return old.Shutdown(ctx)
	}
	return nil
}

// SetDefault installs c as the default client, the one generated code and
// the package-level functions use, and returns the previous one (nil if there
// was none) without shutting it down. A nil c removes the default, so that the
// next use creates one from the environment. Most programs call Init instead;
// package fluxlooptest uses SetDefault to install a recording client for one
// test and to restore the previous state.
func SetDefault(c *Client) (previous *Client) {
	return installDefault(c)
}

// Default returns the default client, creating it from the environment if
// there is none.
func Default() *Client { return defaultClient() }

// Flush flushes the default client (see Client.Flush).
func Flush(ctx context.Context) error { return defaultClient().Flush(ctx) }

// Shutdown shuts the default client down (see Client.Shutdown).
func Shutdown(ctx context.Context) error { return defaultClient().Shutdown(ctx) }

// Stats returns the default client's counters (see Counters). Check Dropped
// and Failed in production to know whether the trace files are complete.
func Stats() Counters { return defaultClient().Stats() }
