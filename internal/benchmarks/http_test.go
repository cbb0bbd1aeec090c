package benchmarks

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"github.com/fluxloop/fluxloop-go/runtime/collector"
	"github.com/fluxloop/fluxloop-go/runtime/fluxloophttp"
)

// The HTTP side: the http storage's (package collector) export throughput to a collector on
// loopback, what fluxloophttp adds to a handler's latency, and a program's
// throughput while the collector stalls.
//
//	go test ./internal/benchmarks -run '^$' -bench 'HTTP|SlowCollector' -count 5

// spinsPerMicro is how many iterations of spin take a microsecond here.
var spinsPerMicro = sync.OnceValue(func() int {
	const n = 1 << 20
	best := time.Duration(1<<63 - 1)
	for range 5 {
		start := time.Now()
		spin(n)
		best = min(best, time.Since(start))
	}
	return max(1, int(float64(n)/float64(best.Microseconds()+1)))
})

var spinSink atomic.Uint64

//go:noinline
func spin(n int) {
	x := uint64(n)
	for range n {
		x = x*6364136223846793005 + 1442695040888963407
	}
	spinSink.Store(x)
}

// busy computes for about d.
func busy(d time.Duration) { spin(int(d/time.Microsecond) * spinsPerMicro()) }

// readers are the collector's gzip readers, reused as a real collector
// would.
var readers sync.Pool

// newCollector serves a collector that reads and decompresses every body,
// and answers 202 (or stalls, while stall is set, until released).
func newCollector(tb testing.TB) (srv *httptest.Server, stall *atomic.Bool) {
	stall = &atomic.Bool{}
	release := make(chan struct{})
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if stall.Load() {
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		zr, _ := readers.Get().(*gzip.Reader)
		var err error
		if zr == nil {
			zr, err = gzip.NewReader(r.Body)
		} else {
			err = zr.Reset(r.Body)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		io.Copy(io.Discard, zr)
		readers.Put(zr)
		w.WriteHeader(http.StatusAccepted)
	}))
	tb.Cleanup(func() {
		close(release)
		srv.Close()
	})
	return srv, stall
}

// httpStorage makes an http storage for srv that spills to a temporary
// directory.
func httpStorage(tb testing.TB, srv *httptest.Server, opts collector.Options) *collector.Storage {
	tb.Helper()
	opts.URL = srv.URL
	opts.APIKey = "bench-key"
	if opts.SpillDir == "" {
		opts.SpillDir = tb.TempDir()
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	st, err := collector.New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	return st
}

// BenchmarkHTTPExport measures how many observations per second the http
// storage delivers to a collector on loopback (which gunzips every body),
// end to end: spans are made in bursts of 8192 and each burst is flushed,
// that is acknowledged by the collector. Traces have obsPerTrace
// observations (a root and its steps); each trace's observations are one
// request per write.
func BenchmarkHTTPExport(b *testing.B) {
	for _, perTrace := range []int{10, 100} {
		b.Run(fmt.Sprintf("obsPerTrace=%d", perTrace), func(b *testing.B) {
			srv, _ := newCollector(b)
			st := httpStorage(b, srv, collector.Options{SpillWait: time.Minute})
			const burst = 8192
			c := install(b, fluxloop.WithStorage(st), fluxloop.WithMaxQueueSize(2*burst), fluxloop.WithBatchSize(4096))
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for n := 0; n < b.N; {
				for i := 0; i < burst && n < b.N; i += perTrace {
					ctx, root := fluxloop.Start(context.Background(), "agent")
					for j := 1; j < perTrace && n+j < b.N; j++ {
						instrumented(ctx, j, 1)
					}
					root.End()
					n += perTrace
				}
				if err := c.Flush(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
			elapsed := time.Since(start)
			b.StopTimer()
			s := st.Stats()
			if s.Spilled+s.Dropped > 0 || c.Stats().Dropped > 0 {
				b.Fatalf("not all sent: %+v, client %+v", s, c.Stats())
			}
			b.ReportMetric(float64(s.Sent)/elapsed.Seconds(), "obs/s")
			b.ReportMetric(float64(s.Requests)/elapsed.Seconds(), "req/s")
		})
	}
}

var siteHandler = fluxloop.Site{Name: "handler", Type: fluxloop.TypeAgent}

const handlerWork = 50 * time.Microsecond

func plainHandler(w http.ResponseWriter, r *http.Request) {
	busy(handlerWork)
	io.WriteString(w, "ok")
}

// instrumentedHandler is plainHandler marked //fluxloop:agent, as
// fluxloopgen writes it.
func instrumentedHandler(w http.ResponseWriter, r *http.Request) {
	w, r, __fluxloopSpan := fluxloophttp.Enter(w, r, &siteHandler)
	if __fluxloopSpan != nil {
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			fluxloophttp.Return(__fluxloopSpan, w)
		}()
	}
	busy(handlerWork)
	io.WriteString(w, "ok")
}

// BenchmarkHTTPHandler measures what fluxloophttp adds to the latency of a
// handler that computes for 50µs: one client on loopback (keep-alive)
// alternates requests to the plain and the instrumented handler, each
// served by its own server in this process, and the metrics are the median
// latency of each and their ratio. The instrumented requests are recorded
// to the file storage, or to the http storage and a collector on loopback.
func BenchmarkHTTPHandler(b *testing.B) {
	for _, storage := range []string{"file", "http"} {
		b.Run("storage="+storage, func(b *testing.B) {
			var c *fluxloop.Client
			var st *collector.Storage
			if storage == "file" {
				c = install(b, fluxloop.WithDir(b.TempDir()))
			} else {
				srv, _ := newCollector(b)
				st = httpStorage(b, srv, collector.Options{})
				c = install(b, fluxloop.WithStorage(st))
			}
			plain := httptest.NewServer(http.HandlerFunc(plainHandler))
			defer plain.Close()
			traced := httptest.NewServer(http.HandlerFunc(instrumentedHandler))
			defer traced.Close()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
			defer client.CloseIdleConnections()
			get := func(url string) time.Duration {
				start := time.Now()
				resp, err := client.Get(url)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				return time.Since(start)
			}
			for range 100 { // warm up connections and the site
				get(plain.URL)
				get(traced.URL)
			}
			var plainLat, tracedLat []time.Duration
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				// Alternate the order so neither always runs second.
				if i%2 == 0 {
					plainLat = append(plainLat, get(plain.URL))
					tracedLat = append(tracedLat, get(traced.URL))
				} else {
					tracedLat = append(tracedLat, get(traced.URL))
					plainLat = append(plainLat, get(plain.URL))
				}
			}
			b.StopTimer()
			if err := c.Flush(context.Background()); err != nil {
				b.Fatal(err)
			}
			if s := c.Stats(); s.Dropped+s.Failed > 0 {
				b.Fatalf("lost observations: %+v", s)
			}
			if st != nil {
				if s := st.Stats(); s.Sent != s.Observations {
					b.Fatalf("not all sent: %+v", s)
				}
			}
			p, t := median(plainLat), median(tracedLat)
			b.ReportMetric(float64(p.Nanoseconds())/1e3, "plain-µs")
			b.ReportMetric(float64(t.Nanoseconds())/1e3, "traced-µs")
			b.ReportMetric(float64(t)/float64(p), "ratio")
		})
	}
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

var siteStep = fluxloop.Site{Name: "step", Type: fluxloop.TypeSpan, Params: []string{"i", "us"}}

// plainStep computes for us microseconds. (The work is an int, not a
// time.Duration: a named type would be recorded through encoding/json.)
//
//go:noinline
func plainStep(ctx context.Context, i, us int) int {
	busy(time.Duration(us) * time.Microsecond)
	return i
}

// tracedStep is plainStep marked //fluxloop:trace, as fluxloopgen writes it.
//
//go:noinline
func tracedStep(ctx context.Context, i, us int) (__fluxloopR0 int) {
	ctx, __fluxloopSpan := fluxloop.Enter(ctx, &siteStep)
	if __fluxloopSpan != nil {
		__fluxloopSpan.Inputs(fluxloop.V(i), fluxloop.V(us))
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			__fluxloopSpan.Return(nil, fluxloop.V(__fluxloopR0))
		}()
	}
	busy(time.Duration(us) * time.Microsecond)
	return i
}

// collectorMode is what the loop's observations are recorded to in
// slowCollectorRatio.
type collectorMode string

const (
	stalledCollector   collectorMode = "stalled"   // http storage, requests hang until FLUXLOOP_TIMEOUT (10s)
	answeringCollector collectorMode = "answering" // http storage, collector answers 202
	noCollector        collectorMode = "file"      // file storage, for comparison
)

// slowCollectorRatio runs agent runs of 64 steps of work each, plain and
// traced, in pairs of alternating rounds of d, recording to mode. It returns
// the median plain and traced rates (steps/s) over the rounds, which shrugs
// off other processes' load, the slowest traced run, and the client and
// its http storage (nil for the file storage).
func slowCollectorRatio(tb testing.TB, mode collectorMode, work time.Duration, pairs int, d time.Duration) (plainRate, tracedRate float64, slowest time.Duration, st *collector.Storage, c *fluxloop.Client) {
	if mode == noCollector {
		c = install(tb, fluxloop.WithDir(tb.TempDir()))
	} else {
		srv, stall := newCollector(tb)
		stall.Store(mode == stalledCollector)
		st = httpStorage(tb, srv, collector.Options{})
		c = install(tb, fluxloop.WithStorage(st))
	}
	tb.Cleanup(func() { // before install's: do not wait for a stalled collector
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		c.Shutdown(ctx)
	})
	busy(work) // calibrate outside the rounds
	us := int(work / time.Microsecond)
	ctx := context.Background()
	var plainRates, tracedRates []float64
	for r := range pairs {
		for _, traced := range []bool{r%2 == 0, r%2 != 0} {
			start := time.Now()
			n := 0
			for time.Since(start) < d {
				// An agent run of 64 steps (a root and its children when
				// traced).
				t0 := time.Now()
				if traced {
					ctx, root := fluxloop.Start(ctx, "agent", fluxloop.WithType(fluxloop.TypeAgent))
					for range 64 {
						tracedStep(ctx, n, us)
						n++
					}
					root.End()
					slowest = max(slowest, time.Since(t0))
				} else {
					for range 64 {
						plainStep(ctx, n, us)
						n++
					}
				}
			}
			rate := float64(n) / time.Since(start).Seconds()
			if traced {
				tracedRates = append(tracedRates, rate)
			} else {
				plainRates = append(plainRates, rate)
			}
		}
	}
	return medianFloat(plainRates), medianFloat(tracedRates), slowest, st, c
}

func medianFloat(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkSlowCollector reports a traced loop's throughput while the
// collector stalls, as a ratio to the plain loop's, for steps of 5µs and
// 20µs; for comparison, also while the collector answers and with the file
// storage (see slowCollectorRatio; b.N is the number of pairs of 20ms
// rounds).
func BenchmarkSlowCollector(b *testing.B) {
	for _, work := range []time.Duration{5 * time.Microsecond, 20 * time.Microsecond} {
		for _, mode := range []collectorMode{stalledCollector, answeringCollector, noCollector} {
			b.Run(fmt.Sprintf("step=%v/collector=%s", work, mode), func(b *testing.B) {
				plain, traced, slowest, st, _ := slowCollectorRatio(b, mode, work, b.N, 20*time.Millisecond)
				b.ReportMetric(plain, "plain-steps/s")
				b.ReportMetric(traced, "traced-steps/s")
				b.ReportMetric(plain/traced, "ratio")
				b.ReportMetric(float64(slowest.Microseconds()), "slowest-run-µs")
				if mode == stalledCollector {
					if s := st.Stats(); s.Sent > 0 {
						b.Fatalf("the collector did not stall: %+v", s)
					}
				}
			})
		}
	}
}

// raceEnabled reports whether the test binary was built with -race, which
// makes timing comparisons meaningless.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// TestSlowCollector checks that a stalled collector never blocks the traced
// program: no traced run takes long, every observation is accounted for
// (spilled to the files, or dropped from the client's full queue, all
// counted) and Shutdown keeps its deadline. It also reports how much slower
// a loop of 20µs steps runs than the plain one (target under 1.2x), without
// failing on that number.
func TestSlowCollector(t *testing.T) {
	timing := !raceEnabled() && !testing.Short() && os.Getenv("FLUXLOOP_NO_TIMING") == ""
	var ratios []float64
	// Timing on a shared machine is noisy: up to three measurements, the
	// best of which must be under 1.2x.
	for attempt := 0; attempt < 3; attempt++ {
		plain, traced, slowest, st, c := slowCollectorRatio(t, stalledCollector, 20*time.Microsecond, 25, 20*time.Millisecond)
		ratios = append(ratios, plain/traced)
		t.Logf("plain %.0f steps/s, traced %.0f steps/s: ratio %.3f; slowest traced run of 64 steps %v", plain, traced, plain/traced, slowest)
		// The deadline leaves room for spilling thousands of pending
		// observations on a loaded machine (500ms was too short there);
		// what is checked is that Shutdown keeps it and accounts for all.
		const deadline = 2 * time.Second
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		start := time.Now()
		err := c.Shutdown(ctx)
		cancel()
		t.Logf("shutdown in %v: %v", time.Since(start), err)
		if time.Since(start) > deadline+200*time.Millisecond {
			t.Errorf("Shutdown took %v with a %v deadline", time.Since(start), deadline)
		}
		cs, s := c.Stats(), st.Stats()
		t.Logf("client %+v\nstorage %+v", cs, s)
		if s.Sent != 0 || s.Dropped != 0 || s.Pending != 0 || s.Spilled != s.Observations || cs.Written != s.Observations || cs.Failed != 0 {
			t.Errorf("observations unaccounted for: client %+v storage %+v", cs, s)
		}
		if slowest > time.Second { // blocked would be FLUXLOOP_TIMEOUT, 10s
			t.Errorf("a traced run of 64 steps took %v: the program was held up", slowest)
		}
		if !timing || plain/traced <= 1.2 || t.Failed() {
			return
		}
	}
	// A ratio is a measurement, not a pass/fail condition on a shared
	// machine: report it (the benchmarks quote it) rather than fail.
	t.Logf("traced loop %.2fx slower than plain while the collector stalls (best of %.3v); the target is under 1.2x", slices.Min(ratios), ratios)
}
