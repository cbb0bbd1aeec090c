package collector_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"github.com/fluxloop/fluxloop-go/runtime/collector"
)

const testKey = "sk-test-7f3a9c1e5b"

// fakeCollector is a FluxLoop collector on loopback whose answers a test
// scripts. It checks the protocol (paths, headers, gzip, JSON arrays) and
// counts the records of the requests it acknowledged.
type fakeCollector struct {
	t       *testing.T
	srv     *httptest.Server
	release chan struct{} // closed at cleanup: stalled handlers return
	// respond answers request n (from 0); it returns whether the records
	// were acknowledged. Nil: 200 for all.
	respond func(n int, w http.ResponseWriter, r *http.Request) bool

	mu       sync.Mutex
	n        int
	obs      map[string]int // acknowledged observation id -> times
	traces   map[string]int
	times    []time.Time
	headers  []http.Header
	problems []string
}

func newFakeCollector(t *testing.T, respond func(n int, w http.ResponseWriter, r *http.Request) bool) *fakeCollector {
	c := &fakeCollector{t: t, respond: respond, release: make(chan struct{}), obs: map[string]int{}, traces: map[string]int{}}
	c.srv = httptest.NewServer(c)
	t.Cleanup(func() {
		close(c.release)
		c.srv.Close()
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, p := range c.problems {
			t.Error(p)
		}
	})
	return c
}

func (c *fakeCollector) problem(format string, args ...any) {
	c.mu.Lock()
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
	c.mu.Unlock()
}

func (c *fakeCollector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	n := c.n
	c.n++
	c.times = append(c.times, time.Now())
	c.headers = append(c.headers, r.Header.Clone())
	c.mu.Unlock()

	if r.Method != "POST" || r.Header.Get("Content-Encoding") != "gzip" || r.Header.Get("Content-Type") != "application/json" {
		c.problem("request %s %s with headers %v", r.Method, r.URL, r.Header)
	}
	zr, err := gzip.NewReader(r.Body)
	if err != nil {
		c.problem("body is not gzip: %v", err)
		return
	}
	var recs []map[string]any
	if err := json.NewDecoder(zr).Decode(&recs); err != nil {
		c.problem("body is not a JSON array: %v", err)
		return
	}
	if len(recs) == 0 {
		c.problem("empty array posted to %s", r.URL.Path)
	}
	var traceID string
	isTraces := r.URL.Path == "/api/traces"
	if !isTraces {
		rest, ok := strings.CutPrefix(r.URL.Path, "/api/traces/")
		traceID, ok = strings.CutSuffix(rest, "/observations")
		if !ok || strings.Contains(traceID, "/") {
			c.problem("unexpected path %s", r.URL.Path)
			return
		}
	}
	for _, rec := range recs {
		if isTraces {
			if rec["id"] == nil || rec["start_time"] == nil {
				c.problem("not a trace: %v", rec)
			}
		} else if rec["trace_id"] != traceID || rec["type"] == nil {
			c.problem("observation %v posted to trace %s", rec, traceID)
		}
	}
	ok := true
	if c.respond != nil {
		ok = c.respond(n, w, r)
	}
	if !ok {
		return
	}
	c.mu.Lock()
	for _, rec := range recs {
		id, _ := rec["id"].(string)
		if isTraces {
			c.traces[id]++
		} else {
			c.obs[id]++
		}
	}
	c.mu.Unlock()
}

// stall holds a request until the client gives up or the test ends.
func (c *fakeCollector) stall(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-c.release:
	}
}

func (c *fakeCollector) requests() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func (c *fakeCollector) acked() (obs, traces map[string]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	obs, traces = map[string]int{}, map[string]int{}
	for k, v := range c.obs {
		obs[k] = v
	}
	for k, v := range c.traces {
		traces[k] = v
	}
	return obs, traces
}

// syncBuffer is a Log that tests read while senders write.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fastOptions are options for tests: short backoffs and cooldown.
func fastOptions(url, dir string, log io.Writer) collector.Options {
	return collector.Options{
		URL:         url,
		APIKey:      testKey,
		ServiceName: "svc",
		Environment: "test",
		Timeout:     2 * time.Second,
		SpillDir:    dir,
		MinBackoff:  time.Millisecond,
		MaxBackoff:  10 * time.Millisecond,
		Cooldown:    time.Hour,
		Log:         log,
	}
}

func newHTTPClient(t *testing.T, opts collector.Options) (*fluxloop.Client, *collector.Storage) {
	t.Helper()
	st, err := collector.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	c, err := fluxloop.NewClient(fluxloop.WithStorage(st), fluxloop.WithFlushInterval(time.Hour), fluxloop.WithBatchSize(64))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Shutdown(context.Background()) })
	return c, st
}

// produce records traces runs of one root with children children each and
// returns the ids of the observations and of the traces.
func produce(c *fluxloop.Client, traces, children int) (obs, trs []string) {
	for range traces {
		ctx, root := c.Start(context.Background(), "root", fluxloop.WithType(fluxloop.TypeAgent), fluxloop.WithInput("q", "hello"))
		for j := range children {
			_, ch := c.Start(ctx, "step", fluxloop.WithInput("j", j))
			ch.SetOutput(strings.Repeat("x", 50))
			obs = append(obs, ch.ID())
			ch.End()
		}
		obs = append(obs, root.ID())
		trs = append(trs, root.TraceID())
		root.End()
	}
	return obs, trs
}

// spilledIDs reads the ids in a spill file.
func spilledIDs(t *testing.T, path string) map[string]int {
	t.Helper()
	ids := map[string]int{}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return ids
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var rec struct{ ID string }
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		ids[rec.ID]++
	}
	return ids
}

// checkSettled checks that every id went exactly once to the collector or
// to the files, and that Stats agrees.
func checkSettled(t *testing.T, st *collector.Storage, col *fakeCollector, dir string, obs, trs []string) collector.Stats {
	t.Helper()
	ackObs, ackTr := col.acked()
	fileObs := spilledIDs(t, filepath.Join(dir, fluxloop.ObservationsFile))
	fileTr := spilledIDs(t, filepath.Join(dir, fluxloop.TracesFile))
	for _, c := range []struct {
		kind       string
		ids        []string
		acked, got map[string]int
	}{{"observation", obs, ackObs, fileObs}, {"trace", trs, ackTr, fileTr}} {
		for _, id := range c.ids {
			if n := c.acked[id] + c.got[id]; n != 1 {
				t.Errorf("%s %s: sent %d times, spilled %d times", c.kind, id, c.acked[id], c.got[id])
			}
		}
		if len(c.acked)+len(c.got) != len(c.ids) {
			t.Errorf("%d %ss sent and %d spilled, want %d in all", len(c.acked), c.kind, len(c.got), len(c.ids))
		}
	}
	s := st.Stats()
	want := collector.Stats{
		Observations: uint64(len(obs)), Sent: uint64(len(ackObs)), Spilled: uint64(len(fileObs)),
		Traces: uint64(len(trs)), TracesSent: uint64(len(ackTr)), TracesSpilled: uint64(len(fileTr)),
	}
	got := s
	got.Requests, got.Retries, got.Rejected, got.CircuitOpen = 0, 0, 0, false
	if got != want {
		t.Errorf("stats %+v, want %+v", got, want)
	}
	return s
}

func TestSends(t *testing.T) {
	col := newFakeCollector(t, nil)
	dir := t.TempDir()
	log := &syncBuffer{}
	c, st := newHTTPClient(t, fastOptions(col.srv.URL+"/", dir, log))
	obs, trs := produce(c, 50, 3)
	if err := c.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := checkSettled(t, st, col, dir, obs, trs)
	if s.Sent != uint64(len(obs)) || s.Retries != 0 || s.Rejected != 0 {
		t.Errorf("stats %+v, want everything sent without retries", s)
	}
	if cs := c.Stats(); cs.Written != uint64(len(obs)) || cs.Failed != 0 || cs.Dropped != 0 {
		t.Errorf("client counters %+v", cs)
	}
	col.mu.Lock()
	for _, h := range col.headers {
		if h.Get("Authorization") != "Bearer "+testKey || h.Get("X-Service-Name") != "svc" || h.Get("X-Environment") != "test" {
			t.Errorf("headers %v", h)
			break
		}
	}
	col.mu.Unlock()
	if log.String() != "" {
		t.Errorf("log: %s", log)
	}
	if _, err := os.Stat(filepath.Join(dir, fluxloop.ObservationsFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("spill file exists: %v", err)
	}
}

// record returns an observation record of trace number trace with id
// number id, which is its run's root when root is set.
func record(trace, id uint64, root bool, now time.Time) fluxloop.Record {
	r := fluxloop.Record{Root: root, Type: fluxloop.TypeSpan, Name: "s", Start: now, End: now, Level: fluxloop.LevelInfo}
	binary.BigEndian.PutUint64(r.TraceID[8:], trace)
	binary.BigEndian.PutUint64(r.ID[:], id)
	return r
}

// TestWrite uses Write with records: one request per trace, plus one for
// the traces.
func TestWrite(t *testing.T) {
	col := newFakeCollector(t, nil)
	dir := t.TempDir()
	st, err := collector.New(fastOptions(col.srv.URL, dir, &syncBuffer{}))
	if err != nil {
		t.Fatal(err)
	}
	var recs []fluxloop.Record
	var ids, trs []string
	now := time.Now()
	for tr := range 4 {
		trs = append(trs, fmt.Sprintf("%032x", tr+1))
		for i := range 4 {
			ids = append(ids, fmt.Sprintf("%016x", tr*10+i+1))
			recs = append(recs, record(uint64(tr+1), uint64(tr*10+i+1), i == 3, now)) // the root ends last
		}
	}
	// The observations of the traces interleave: still one request each.
	recs[1], recs[4] = recs[4], recs[1]
	if err := st.Write(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	ackObs, ackTr := col.acked()
	if len(ackObs) != len(ids) || len(ackTr) != len(trs) || col.requests() != 5 {
		t.Errorf("%d observations and %d traces in %d requests, want %d, %d in 5", len(ackObs), len(ackTr), col.requests(), len(ids), len(trs))
	}
	for _, id := range ids {
		if ackObs[id] != 1 {
			t.Errorf("observation %s sent %d times", id, ackObs[id])
		}
	}
	for _, id := range trs {
		if ackTr[id] != 1 {
			t.Errorf("trace %s sent %d times", id, ackTr[id])
		}
	}
}

func TestRetriesThenRecovers(t *testing.T) {
	var failing atomic.Int32
	failing.Store(5)
	col := newFakeCollector(t, func(n int, w http.ResponseWriter, r *http.Request) bool {
		if failing.Add(-1) >= 0 {
			http.Error(w, "down for a moment", []int{500, 502, 503, 504}[n%4])
			return false
		}
		return true
	})
	dir := t.TempDir()
	c, st := newHTTPClient(t, fastOptions(col.srv.URL, dir, &syncBuffer{}))
	obs, trs := produce(c, 5, 2)
	if err := c.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := checkSettled(t, st, col, dir, obs, trs)
	if s.Spilled != 0 || s.Retries < 5 || s.Requests != uint64(col.requests()) {
		t.Errorf("stats %+v, want all sent after 5 retries", s)
	}
}

func TestRetryAfter(t *testing.T) {
	for _, form := range []string{"seconds", "date"} {
		t.Run(form, func(t *testing.T) {
			t.Parallel() // no default client involved
			col := newFakeCollector(t, func(n int, w http.ResponseWriter, r *http.Request) bool {
				if n == 0 {
					v := "1"
					if form == "date" {
						v = time.Now().Add(2 * time.Second).UTC().Format(http.TimeFormat)
					}
					w.Header().Set("Retry-After", v)
					w.WriteHeader(http.StatusTooManyRequests)
					return false
				}
				return true
			})
			dir := t.TempDir()
			opts := fastOptions(col.srv.URL, dir, &syncBuffer{})
			opts.Parallel = 1
			c, st := newHTTPClient(t, opts)
			obs, trs := produce(c, 1, 1)
			if err := c.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			checkSettled(t, st, col, dir, obs, trs)
			col.mu.Lock()
			defer col.mu.Unlock()
			if len(col.times) < 2 {
				t.Fatalf("%d requests", len(col.times))
			}
			// The date has whole seconds: at least one second is left.
			if gap := col.times[1].Sub(col.times[0]); gap < 900*time.Millisecond || gap > 3*time.Second {
				t.Errorf("retried after %v, want the Retry-After wait", gap)
			}
		})
	}
}

// TestRetryAfterTooLong: a Retry-After beyond MaxRetryAfter opens
// the circuit for that long instead of holding a sender.
func TestRetryAfterTooLong(t *testing.T) {
	col := newFakeCollector(t, func(n int, w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(http.StatusServiceUnavailable)
		return false
	})
	dir := t.TempDir()
	opts := fastOptions(col.srv.URL, dir, &syncBuffer{})
	opts.Cooldown = time.Millisecond
	c, st := newHTTPClient(t, opts)
	obs, trs := produce(c, 2, 1)
	start := time.Now()
	if err := c.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("flush took %v", time.Since(start))
	}
	s := checkSettled(t, st, col, dir, obs, trs)
	if !s.CircuitOpen || s.Sent != 0 {
		t.Errorf("stats %+v, want the circuit open for the Retry-After", s)
	}
}

func TestTimeout(t *testing.T) {
	col := newFakeCollector(t, nil)
	col.respond = func(n int, w http.ResponseWriter, r *http.Request) bool {
		if n < 2 {
			col.stall(r)
			return false
		}
		return true
	}
	dir := t.TempDir()
	opts := fastOptions(col.srv.URL, dir, &syncBuffer{})
	opts.Timeout = 100 * time.Millisecond
	opts.Parallel = 1
	c, st := newHTTPClient(t, opts)
	obs, trs := produce(c, 1, 2)
	start := time.Now()
	if err := c.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 200*time.Millisecond || d > 2*time.Second {
		t.Errorf("flush took %v, want two timeouts of 100ms", d)
	}
	s := checkSettled(t, st, col, dir, obs, trs)
	if s.Spilled != 0 || s.Retries < 2 {
		t.Errorf("stats %+v, want all sent after two timeouts", s)
	}
}

// TestDown: a collector that is down for the whole run; every
// record is spilled, exactly once, and the spill is reported once.
func TestDown(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	url := dead.URL
	dead.Close()
	col := &fakeCollector{t: t, obs: map[string]int{}, traces: map[string]int{}}
	dir := t.TempDir()
	log := &syncBuffer{}
	opts := fastOptions(url, dir, log)
	opts.Cooldown = 20 * time.Millisecond
	c, st := newHTTPClient(t, opts)
	var obs, trs []string
	for range 10 {
		o, tr := produce(c, 20, 4)
		obs, trs = append(obs, o...), append(trs, tr...)
		if err := c.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := c.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := checkSettled(t, st, col, dir, obs, trs)
	if s.Spilled != uint64(len(obs)) || s.TracesSpilled != uint64(len(trs)) || s.Dropped != 0 || s.Pending != 0 {
		t.Errorf("stats %+v, want all %d observations spilled", s, len(obs))
	}
	if n := strings.Count(log.String(), "\n"); n != 1 || !strings.Contains(log.String(), "writing records to "+dir) {
		t.Errorf("log has %d lines, want one notice:\n%s", n, log)
	}
	if s.Requests == 0 || s.Requests > 100 {
		t.Errorf("%d requests: want the circuit to spare most of them", s.Requests)
	}
}

// TestCircuit: after a failed request the circuit opens (batches
// spill with no request); after the cooldown one probe closes it.
func TestCircuit(t *testing.T) {
	var down atomic.Bool
	down.Store(true)
	col := newFakeCollector(t, func(n int, w http.ResponseWriter, r *http.Request) bool {
		if down.Load() {
			w.WriteHeader(http.StatusBadGateway)
			return false
		}
		return true
	})
	dir := t.TempDir()
	opts := fastOptions(col.srv.URL, dir, &syncBuffer{})
	opts.Cooldown = 200 * time.Millisecond
	opts.MaxRetries = 1
	c, st := newHTTPClient(t, opts)
	obs, trs := produce(c, 1, 1)
	c.Flush(context.Background())
	if s := st.Stats(); !s.CircuitOpen || s.Requests != 4 {
		t.Fatalf("stats %+v, want the circuit open after 2 requests x 2 attempts", s)
	}
	o, tr := produce(c, 5, 1)
	obs, trs = append(obs, o...), append(trs, tr...)
	c.Flush(context.Background())
	if s := st.Stats(); s.Requests != 4 || s.Spilled != uint64(len(obs)) {
		t.Fatalf("stats %+v, want spilled without a request", s)
	}
	down.Store(false)
	time.Sleep(250 * time.Millisecond)
	o, tr = produce(c, 1, 0)
	obs, trs = append(obs, o...), append(trs, tr...)
	c.Flush(context.Background())
	o, tr = produce(c, 5, 1)
	obs, trs = append(obs, o...), append(trs, tr...)
	c.Flush(context.Background())
	s := checkSettled(t, st, col, dir, obs, trs)
	// The probe batch is two requests (its trace and its observation): one
	// probes, the other may be spilled while the probe is in flight.
	if s.CircuitOpen || s.Sent < 10 || s.TracesSent < 5 {
		t.Errorf("stats %+v, want the circuit closed by the probe and the last batch sent", s)
	}
}

// TestFlapping: a collector that fails and recovers at random;
// every record ends up in exactly one place.
func TestFlapping(t *testing.T) {
	var calls atomic.Int64
	col := newFakeCollector(t, nil)
	col.respond = func(n int, w http.ResponseWriter, r *http.Request) bool {
		// Down for 15ms of every 40ms; one request in 17 stalls.
		switch phase := time.Now().UnixMilli() % 40; {
		case phase < 15:
			w.WriteHeader(http.StatusServiceUnavailable)
			return false
		case calls.Add(1)%17 == 0:
			col.stall(r) // until the client times out: not acknowledged
			return false
		}
		return true
	}
	dir := t.TempDir()
	opts := fastOptions(col.srv.URL, dir, &syncBuffer{})
	opts.MaxRetries = 2
	opts.Cooldown = 5 * time.Millisecond
	// A stalled request costs the timeout; an acknowledged one must come
	// back well within it, or the client resends what the collector has
	// (at least once delivery), which this test counts as a duplicate: on
	// a loaded machine 100ms was not enough.
	opts.Timeout = 500 * time.Millisecond
	c, st := newHTTPClient(t, opts)
	var obs, trs []string
	for range 30 {
		o, tr := produce(c, 10, 3)
		obs, trs = append(obs, o...), append(trs, tr...)
		time.Sleep(3 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	s := checkSettled(t, st, col, dir, obs, trs)
	t.Logf("flapping: %+v", s)
	if s.Sent == 0 {
		t.Errorf("nothing sent: %+v", s)
	}
}

func TestRejected(t *testing.T) {
	col := newFakeCollector(t, func(n int, w http.ResponseWriter, r *http.Request) bool {
		// A careless collector echoes the credentials it refuses.
		http.Error(w, "invalid key "+r.Header.Get("Authorization"), http.StatusUnauthorized)
		return false
	})
	dir := t.TempDir()
	log := &syncBuffer{}
	opts := fastOptions(col.srv.URL, dir, log)
	opts.Debug = true
	c, st := newHTTPClient(t, opts)
	obs, trs := produce(c, 3, 1)
	if err := c.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := checkSettled(t, st, col, dir, obs, trs)
	if s.Retries != 0 || s.Rejected != s.Requests || s.CircuitOpen {
		t.Errorf("stats %+v, want one refused request per job and no retry", s)
	}
	if !strings.Contains(log.String(), "401 Unauthorized") {
		t.Errorf("log does not say why:\n%s", log)
	}
	if strings.Contains(log.String(), testKey) {
		t.Errorf("log shows the API key:\n%s", log)
	}
}

// TestKeyNeverShown collects every message and error of failing
// runs (down, refused with an echo, stalled past the shutdown deadline, a
// URL with user info) with Debug on, and looks for the key.
func TestKeyNeverShown(t *testing.T) {
	var all strings.Builder
	echo := newFakeCollector(t, func(n int, w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Retry-After", "0")
		http.Error(w, "bad "+r.Header.Get("Authorization"), []int{400, 429, 500}[n%3])
		return false
	})
	stall := newFakeCollector(t, nil)
	stall.respond = func(n int, w http.ResponseWriter, r *http.Request) bool { stall.stall(r); return false }
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	urls := []string{
		echo.srv.URL,
		stall.srv.URL,
		strings.Replace(dead.URL, "http://", "http://user:"+testKey+"@", 1),
		dead.URL + "/?key=" + testKey,
	}
	for _, u := range urls {
		log := &syncBuffer{}
		opts := fastOptions(u, t.TempDir(), log)
		opts.Debug = true
		opts.MaxRetries = 2
		st, err := collector.New(opts)
		if err != nil {
			t.Fatal(err)
		}
		c, err := fluxloop.NewClient(fluxloop.WithStorage(st), fluxloop.WithDebug(true))
		if err != nil {
			t.Fatal(err)
		}
		produce(c, 3, 2)
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		if err := c.Flush(ctx); err != nil {
			all.WriteString(err.Error() + "\n")
		}
		cancel()
		ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
		if err := c.Shutdown(ctx); err != nil {
			all.WriteString(err.Error() + "\n")
		}
		cancel()
		all.WriteString(log.String())
		all.WriteString(fmt.Sprintf("%+v\n", st.Stats()))
	}
	for _, bad := range []collector.Options{
		{URL: "ftp://x/" + testKey, APIKey: testKey},
		{URL: "http://x", APIKey: testKey + "\n"},
		{URL: "http://[::1" + testKey, APIKey: testKey},
	} {
		_, err := collector.New(bad)
		if err == nil {
			t.Errorf("options %q accepted", bad.URL)
			continue
		}
		all.WriteString(err.Error() + "\n")
	}
	out := all.String()
	if strings.Contains(out, testKey) {
		t.Errorf("the API key appears in messages:\n%s", out)
	}
	if !strings.Contains(out, "***") || !strings.Contains(out, "writing records to") {
		t.Errorf("expected failures were not reported:\n%s", out)
	}
}

// TestShutdownDeadline: with the collector stalled, Shutdown
// returns by its deadline and everything is in the files.
func TestShutdownDeadline(t *testing.T) {
	col := newFakeCollector(t, nil)
	col.respond = func(n int, w http.ResponseWriter, r *http.Request) bool { col.stall(r); return false }
	dir := t.TempDir()
	opts := fastOptions(col.srv.URL, dir, &syncBuffer{})
	opts.Timeout = time.Minute
	c, st := newHTTPClient(t, opts)
	obs, trs := produce(c, 40, 2)
	time.Sleep(20 * time.Millisecond) // let requests start and stall
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := c.Shutdown(ctx)
	if d := time.Since(start); d > 350*time.Millisecond {
		t.Errorf("Shutdown took %v with a 300ms deadline", d)
	}
	if err == nil || !strings.Contains(err.Error(), "written to "+dir) {
		t.Errorf("Shutdown error %v, want one saying the records were spilled", err)
	}
	s := checkSettled(t, st, col, dir, obs, trs)
	if s.Spilled != uint64(len(obs)) || s.Pending != 0 {
		t.Errorf("stats %+v", s)
	}
}

// TestSaturated: with the collector stalled and the pending
// bound full, Write returns within SpillWait and spills.
func TestSaturated(t *testing.T) {
	col := newFakeCollector(t, nil)
	col.respond = func(n int, w http.ResponseWriter, r *http.Request) bool { col.stall(r); return false }
	dir := t.TempDir()
	opts := fastOptions(col.srv.URL, dir, &syncBuffer{})
	opts.MaxPending = 100
	opts.SpillWait = 10 * time.Millisecond
	opts.Timeout = time.Minute
	st, err := collector.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	var slowest time.Duration
	var ids []string
	for i := range 50 {
		var recs []fluxloop.Record
		for j := range 20 {
			ids = append(ids, fmt.Sprintf("%016x", i*100+j+1))
			recs = append(recs, record(uint64(i+1), uint64(i*100+j+1), false, now))
		}
		start := time.Now()
		if err := st.Write(context.Background(), recs); err != nil {
			t.Fatal(err)
		}
		slowest = max(slowest, time.Since(start))
	}
	if slowest > 200*time.Millisecond {
		t.Errorf("a Write took %v with SpillWait 10ms", slowest)
	}
	s := st.Stats()
	if s.Pending > 100 || s.Spilled < 900 {
		t.Errorf("stats %+v, want at most 100 pending and the rest spilled", s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	st.Close(ctx)
	checkSettled(t, st, col, dir, ids, nil)
}

func TestFromEnvironment(t *testing.T) {
	col := newFakeCollector(t, nil)
	dir := t.TempDir()
	t.Setenv("FLUXLOOP_STORAGE", "http")
	t.Setenv("FLUXLOOP_API_URL", col.srv.URL)
	t.Setenv("FLUXLOOP_API_KEY", testKey)
	t.Setenv("FLUXLOOP_SERVICE_NAME", "env-svc")
	t.Setenv("FLUXLOOP_ENVIRONMENT", "staging")
	t.Setenv("FLUXLOOP_TIMEOUT", "3s")
	t.Setenv("FLUXLOOP_DIR", dir)
	prev := fluxloop.SetDefault(nil)
	defer fluxloop.SetDefault(prev)
	if err := fluxloop.Init(); err != nil {
		t.Fatal(err)
	}
	c := fluxloop.Default()
	st, ok := c.Storage().(*collector.Storage)
	if !ok {
		t.Fatalf("storage %T", c.Storage())
	}
	if st.SpillDir() != dir || collector.TimeoutOf(st) != 3*time.Second {
		t.Errorf("spill dir %s timeout %v", st.SpillDir(), collector.TimeoutOf(st))
	}
	obs, trs := produce(c, 2, 1)
	if err := c.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkSettled(t, st, col, dir, obs, trs)
	col.mu.Lock()
	h := col.headers[0]
	col.mu.Unlock()
	if h.Get("Authorization") != "Bearer "+testKey || h.Get("X-Service-Name") != "env-svc" || h.Get("X-Environment") != "staging" {
		t.Errorf("headers %v", h)
	}

	for _, tc := range []struct{ name, val, want string }{
		{"FLUXLOOP_API_URL", "", "FLUXLOOP_API_URL"},
		{"FLUXLOOP_API_URL", "localhost:4000", "http://"},
		{"FLUXLOOP_TIMEOUT", "soon", `FLUXLOOP_TIMEOUT="soon"`},
		{"FLUXLOOP_TIMEOUT", "-1s", `FLUXLOOP_TIMEOUT="-1s"`},
	} {
		t.Setenv("FLUXLOOP_API_URL", col.srv.URL)
		t.Setenv("FLUXLOOP_TIMEOUT", "3s")
		t.Setenv(tc.name, tc.val)
		err := fluxloop.Init()
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), `fluxloop: storage "http": `) {
			t.Errorf("Init with %s=%q: %v, want an error containing %q", tc.name, tc.val, err, tc.want)
		}
	}
	if fluxloop.Default() != c {
		t.Errorf("a failed Init replaced the default client")
	}
}

// TestOptionsFromConfig: selected by name, the storage takes the URL, key
// and timeout from the environment and the rest from the client's options.
func TestOptionsFromConfig(t *testing.T) {
	col := newFakeCollector(t, nil)
	dir := t.TempDir()
	t.Setenv("FLUXLOOP_API_URL", col.srv.URL)
	t.Setenv("FLUXLOOP_API_KEY", testKey)
	t.Setenv("FLUXLOOP_TIMEOUT", "1.5")
	c, err := fluxloop.NewClient(fluxloop.WithStorageName(collector.StorageName), fluxloop.WithDir(dir),
		fluxloop.WithServiceName("opt-svc"), fluxloop.WithEnvironment("dev"))
	if err != nil {
		t.Fatal(err)
	}
	st, ok := c.Storage().(*collector.Storage)
	if !ok {
		t.Fatalf("storage %T", c.Storage())
	}
	if st.SpillDir() != dir || collector.TimeoutOf(st) != 1500*time.Millisecond {
		t.Errorf("spill dir %s timeout %v", st.SpillDir(), collector.TimeoutOf(st))
	}
	produce(c, 1, 1)
	if err := c.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if obs, _ := col.acked(); len(obs) != 2 {
		t.Errorf("%d observations sent, want 2", len(obs))
	}
	col.mu.Lock()
	h := col.headers[0]
	col.mu.Unlock()
	if h.Get("Authorization") != "Bearer "+testKey || h.Get("X-Service-Name") != "opt-svc" || h.Get("X-Environment") != "dev" {
		t.Errorf("headers %v", h)
	}
	if _, err := collector.New(collector.Options{URL: col.srv.URL, Timeout: -time.Second}); err == nil {
		t.Error("a negative timeout was accepted")
	}
}

// TestURLPrefix: the API paths go after the URL's path, and its
// query after them.
func TestURLPrefix(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.URL.Path+"?"+r.URL.RawQuery)
		mu.Unlock()
	}))
	defer srv.Close()
	st, err := collector.New(fastOptions(srv.URL+"/collector/?tenant=a", t.TempDir(), &syncBuffer{}))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tid := fmt.Sprintf("%032x", 0xab)
	st.Write(context.Background(), []fluxloop.Record{record(0xab, 0x0123456789abcdef, true, now)})
	if err := st.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(got)
	want := []string{"/collector/api/traces/" + tid + "/observations?tenant=a", "/collector/api/traces?tenant=a"}
	if !slices.Equal(got, want) {
		t.Errorf("requests %q, want %q", got, want)
	}
	if s := st.Stats(); s.Sent != 1 || s.TracesSent != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestInvalidOptions(t *testing.T) {
	for _, o := range []collector.Options{
		{},
		{URL: "localhost:8080"},
		{URL: "http://"},
		{URL: "http://x", Parallel: -1},
		{URL: "http://x", MaxPending: -1},
		{URL: "http://x", Cooldown: -1},
		{URL: "http://x", Timeout: -time.Second},
		{URL: "http://x", ServiceName: "a\nb"},
	} {
		if st, err := collector.New(o); err == nil {
			st.Close(context.Background())
			t.Errorf("options %+v accepted", o)
		} else if !strings.HasPrefix(err.Error(), "fluxloop: http storage: ") {
			t.Errorf("error %q lacks the prefix", err)
		}
	}
}
