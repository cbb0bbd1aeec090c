package collector

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// errShutdown is the reason given for records spilled because Close ran
// out of time.
var errShutdown = errors.New("storage closed before the collector answered")

// sender is one of the Parallel goroutines that deliver jobs.
func (s *Storage) sender() {
	defer s.wg.Done()
	var c compressor
	for j := range s.jobs {
		s.process(j, &c)
	}
}

// process delivers one job, or spills it (with the jobs queued behind it
// when the circuit is open or the storage is closing), and settles their
// records.
func (s *Storage) process(j *job, c *compressor) {
	if s.stopCtx.Err() != nil {
		s.spillJobs(s.takeQueued(j), errShutdown)
		return
	}
	ok, probe := s.breaker.admit(time.Now())
	if !ok {
		s.spillJobs(s.takeQueued(j), errCircuitOpen)
		return
	}
	if probe {
		defer s.breaker.endProbe()
	}
	defer s.settle(j.n, len(j.lines))
	retryable, err := s.deliver(j, c, probe)
	switch {
	case err == nil:
		if probe {
			s.breaker.reset()
		}
		if j.traceID == "" {
			s.trSent.Add(uint64(j.n))
		} else {
			s.obsSent.Add(uint64(j.n))
		}
		return
	case probe && !retryable:
		s.breaker.reset() // the collector answers, if only to refuse
	case retryable && s.stopCtx.Err() == nil:
		var ra *retryAfterError
		cool := s.opts.Cooldown
		if errors.As(err, &ra) && ra.wait > cool {
			cool = ra.wait
		}
		s.breaker.trip(cool)
	}
	s.spillJob(j, err)
}

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
func (s *Storage) deliver(j *job, c *compressor, probe bool) (retryable bool, err error) {
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
			s.holdOff(wait) // Retry-After applies to every sender
		} else {
			wait = s.backoff(attempt)
		}
		s.retries.Add(1)
		if err := s.sleep(wait); err != nil {
			return true, err
		}
	}
}

// holdOff keeps every sender from starting a request for wait from now (or
// longer, when an earlier Retry-After said so).
func (s *Storage) holdOff(wait time.Duration) {
	until := time.Now().Add(wait).UnixNano()
	for {
		cur := s.notBefore.Load()
		if cur >= until || s.notBefore.CompareAndSwap(cur, until) {
			return
		}
	}
}

// backoff is the full-jitter wait before retry attempt+1.
func (s *Storage) backoff(attempt int) time.Duration {
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
func (s *Storage) sleep(d time.Duration) error {
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

// sleepUntil waits until the time unixNano (0: none), or until Close gives
// up.
func (s *Storage) sleepUntil(unixNano int64) error {
	if d := time.Until(time.Unix(0, unixNano)); unixNano != 0 && d > 0 {
		return s.sleep(d)
	}
	return nil
}

// post makes one attempt. It returns the Retry-After wait when the answer
// had one, whether a failure is retryable, and the error (nil for a 2xx
// answer).
func (s *Storage) post(path string, body []byte) (wait time.Duration, retryable bool, err error) {
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
