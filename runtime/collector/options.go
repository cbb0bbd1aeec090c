package collector

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
)

// Defaults of Options.
const (
	// DefaultTimeout bounds each request attempt (FLUXLOOP_TIMEOUT).
	DefaultTimeout = 10 * time.Second
	// DefaultParallel is the number of requests in flight at once.
	DefaultParallel = 4
	// DefaultMaxPending bounds the records accepted and not yet settled.
	DefaultMaxPending = 16384
	// DefaultSpillWait is how long Write waits for room before spilling.
	DefaultSpillWait = 50 * time.Millisecond
	// DefaultMaxRetries is how many times a failed request is retried.
	DefaultMaxRetries = 4
	// DefaultMinBackoff is the first retry's backoff ceiling.
	DefaultMinBackoff = 100 * time.Millisecond
	// DefaultMaxBackoff is the largest backoff ceiling.
	DefaultMaxBackoff = 5 * time.Second
	// DefaultMaxRetryAfter is the longest Retry-After the senders sleep
	// through.
	DefaultMaxRetryAfter = 30 * time.Second
	// DefaultCooldown is how long the circuit stays open after a request
	// failed all its retries.
	DefaultCooldown = 10 * time.Second
)

// The environment variables the registered storage reads itself; the others
// it takes from the client's fluxloop.Config.
const (
	envURL     = "FLUXLOOP_API_URL"
	envKey     = "FLUXLOOP_API_KEY"
	envTimeout = "FLUXLOOP_TIMEOUT"
)

// maxWriteBatch is the most observations the client's writer hands over in
// one write; it sizes the job queue's slack and the spills of queued jobs.
const maxWriteBatch = 4096

// Options configures a Storage. A zero field takes its default. With
// FLUXLOOP_STORAGE=http the registered storage fills URL, APIKey and Timeout
// from FLUXLOOP_API_URL, FLUXLOOP_API_KEY and FLUXLOOP_TIMEOUT, and
// ServiceName, Environment, SpillDir and Debug from the client's
// fluxloop.Config (FLUXLOOP_SERVICE_NAME, FLUXLOOP_ENVIRONMENT,
// FLUXLOOP_DIR, FLUXLOOP_DEBUG), and leaves the rest at their defaults; call
// New and fluxloop.WithStorage to set them.
type Options struct {
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
	// fluxloop.DefaultDir).
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

// configOptions returns the Options of the registered storage: the client's
// Config and the collector's variables in getenv.
func configOptions(c fluxloop.Config, getenv func(string) string) (Options, error) {
	o := Options{
		URL:         strings.TrimSpace(getenv(envURL)),
		APIKey:      strings.TrimSpace(getenv(envKey)),
		ServiceName: c.ServiceName,
		Environment: c.Environment,
		SpillDir:    c.Dir,
		Debug:       c.Debug,
	}
	if v := strings.TrimSpace(getenv(envTimeout)); v != "" {
		d, err := parseDuration(v)
		if err != nil || d <= 0 {
			return Options{}, fmt.Errorf("%s=%q: want a positive Go duration (5s, 500ms) or a number of seconds", envTimeout, v)
		}
		o.Timeout = d
	}
	return o, nil
}

// parseDuration parses a Go duration or a number of seconds, as the client
// parses FLUXLOOP_FLUSH_INTERVAL.
func parseDuration(s string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) || f > math.MaxInt64/float64(time.Second) {
			return 0, fmt.Errorf("bad duration %q", s)
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	return time.ParseDuration(s)
}

// check validates the options and returns the parsed URL. Its errors never
// contain the API key.
func (o *Options) check() (*url.URL, error) {
	if strings.TrimSpace(o.URL) == "" {
		return nil, errors.New("no collector URL: set FLUXLOOP_API_URL (or collector.Options.URL)")
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
			return nil, fmt.Errorf("collector.Options.%s must not be negative", v.name)
		}
	}
	return u, nil
}

// setDefaults replaces the zero fields by their defaults.
func (o *Options) setDefaults() {
	setDefault(&o.Timeout, DefaultTimeout)
	if o.SpillDir == "" {
		o.SpillDir = fluxloop.DefaultDir
	}
	setDefault(&o.Parallel, DefaultParallel)
	setDefault(&o.MaxPending, DefaultMaxPending)
	setDefault(&o.SpillWait, DefaultSpillWait)
	setDefault(&o.MaxRetries, DefaultMaxRetries)
	setDefault(&o.MinBackoff, DefaultMinBackoff)
	setDefault(&o.MaxBackoff, DefaultMaxBackoff)
	setDefault(&o.MaxRetryAfter, DefaultMaxRetryAfter)
	setDefault(&o.Cooldown, DefaultCooldown)
	if o.Log == nil {
		o.Log = os.Stderr
	}
}

// setDefault replaces a zero option by its default; negative values stay
// (and mean "none" where the option says so).
func setDefault[T int | time.Duration](p *T, def T) {
	if *p == 0 {
		*p = def
	}
}

// scrub masks every occurrence of key in msg.
func scrub(msg, key string) string {
	if key == "" || !strings.Contains(msg, key) {
		return msg
	}
	return strings.ReplaceAll(msg, key, fluxloop.Masked)
}

// redactErr returns err, or an error with the same chain whose message has
// the key masked.
func redactErr(err error, key string) error {
	if err == nil || key == "" || !strings.Contains(err.Error(), key) {
		return err
	}
	return &scrubbed{msg: scrub(err.Error(), key), err: err}
}

// scrubbed is an error whose message has the API key masked.
type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }
