package benchmarks

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"github.com/fluxloop/fluxloop-go/runtime/collector"
)

// TestLoad has 64 goroutines record traced calls as fast as they can for
// 10 s (FLUXLOOP_LOAD_DURATION changes it), with the file storage and with
// the http storage against a local collector that is slow, flapping or
// down, and checks that no observation is unaccounted for: produced =
// written + dropped exactly (none failed), Shutdown writes everything
// queued (the file holds every written observation; the collector
// storage's records are sent or spilled), and memory stays bounded. It logs
// throughput, drops and peak RSS. Run it with make load:
//
//	FLUXLOOP_LOAD=1 go test ./internal/benchmarks -run Load -v
func TestLoad(t *testing.T) {
	if os.Getenv("FLUXLOOP_LOAD") == "" {
		t.Skip("set FLUXLOOP_LOAD=1 (make load) to run the load checks")
	}
	duration := 10 * time.Second
	if d, err := time.ParseDuration(os.Getenv("FLUXLOOP_LOAD_DURATION")); err == nil {
		duration = d
	}
	const maxRSS = 1 << 30 // bytes; the queue and batches need far less

	t.Run("file", func(t *testing.T) {
		dir := t.TempDir()
		c := newLoadClient(t, fluxloop.WithDir(dir))
		n := load(t, c, duration)
		st := c.Stats()
		checkCounts(t, n, st)
		lines := countLines(t, filepath.Join(dir, fluxloop.ObservationsFile))
		if lines != st.Written {
			t.Errorf("observations.jsonl has %d lines, %d written", lines, st.Written)
		}
		checkRSS(t, maxRSS)
	})

	slow := func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		time.Sleep(20 * time.Millisecond)
		w.WriteHeader(http.StatusAccepted)
	}
	start := time.Now()
	flapping := func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if time.Since(start)/time.Second%2 == 1 { // down every other second
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc // nil: the collector is down
	}{{"http/slow", slow}, {"http/flapping", flapping}, {"http/down", nil}} {
		t.Run(tc.name, func(t *testing.T) {
			var url string
			if tc.handler != nil {
				srv := httptest.NewServer(tc.handler)
				defer srv.Close()
				url = srv.URL
			} else {
				srv := httptest.NewServer(http.NotFoundHandler())
				url = srv.URL
				srv.Close() // connections are refused
			}
			dir := t.TempDir()
			st, err := collector.New(collector.Options{
				URL: url, APIKey: "k", SpillDir: dir, Timeout: 2 * time.Second,
				MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
				Cooldown: 500 * time.Millisecond, Log: io.Discard,
			})
			if err != nil {
				t.Fatal(err)
			}
			start = time.Now()
			c := newLoadClient(t, fluxloop.WithStorage(st))
			n := load(t, c, duration)
			cs := c.Stats()
			checkCounts(t, n, cs)
			s := st.Stats()
			t.Logf("collector storage: %d accepted, %d sent, %d spilled, %d dropped, %d pending; %d requests, %d retries",
				s.Observations, s.Sent, s.Spilled, s.Dropped, s.Pending, s.Requests, s.Retries)
			if s.Observations != cs.Written || s.Sent+s.Spilled+s.Dropped != s.Observations || s.Pending != 0 || s.Dropped != 0 {
				t.Errorf("collector storage stats %+v, client %+v", s, cs)
			}
			if lines := countLines(t, filepath.Join(dir, fluxloop.ObservationsFile)); lines != s.Spilled {
				t.Errorf("spill file has %d lines, %d spilled", lines, s.Spilled)
			}
			checkRSS(t, maxRSS)
		})
	}
}

func newLoadClient(t *testing.T, opts ...fluxloop.Option) *fluxloop.Client {
	c, err := fluxloop.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	prev := fluxloop.SetDefault(c)
	t.Cleanup(func() { fluxloop.SetDefault(prev) })
	return c
}

// load records from 64 goroutines for d, shuts c down and returns how many
// observations were produced. Every fourth call is a trace of two
// observations, the others traces of one.
func load(t *testing.T, c *fluxloop.Client, d time.Duration) uint64 {
	var produced atomic.Uint64
	var stop atomic.Bool
	var wg sync.WaitGroup
	begin := time.Now()
	for g := range 64 {
		wg.Go(func() {
			var n uint64
			for i := 0; !stop.Load(); i++ {
				if i%4 == 0 {
					ctx, root := fluxloop.Start(context.Background(), "step", fluxloop.WithInput("g", g))
					instrumented(ctx, i, g)
					root.End()
					n += 2
				} else {
					instrumented(context.Background(), i, g)
					n++
				}
			}
			produced.Add(n)
		})
	}
	time.Sleep(d)
	stop.Store(true)
	wg.Wait()
	elapsed := time.Since(begin)
	before := c.Stats()
	shut := time.Now()
	if err := c.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	n := produced.Load()
	st := c.Stats()
	t.Logf("%d observations produced in %v (%.0f/s), %d written (%.0f/s), %d dropped (%.1f%%); Shutdown wrote the %d queued in %v",
		n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), st.Written, float64(st.Written)/elapsed.Seconds(),
		st.Dropped, 100*float64(st.Dropped)/float64(max(n, 1)), st.Written-before.Written, time.Since(shut).Round(time.Millisecond))
	return n
}

func checkCounts(t *testing.T, produced uint64, st fluxloop.Counters) {
	t.Helper()
	if st.Failed != 0 || st.Written+st.Dropped != produced || st.Enqueued != st.Written {
		t.Errorf("produced %d, stats %+v: want produced = written + dropped, nothing failed or left queued", produced, st)
	}
}

func countLines(t *testing.T, path string) uint64 {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var n uint64
	buf := make([]byte, 1<<20)
	for {
		k, err := f.Read(buf)
		n += uint64(bytes.Count(buf[:k], []byte{'\n'}))
		if err == io.EOF {
			return n
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// checkRSS logs the process's peak resident set (VmHWM) and fails beyond
// limit bytes.
func checkRSS(t *testing.T, limit int64) {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Logf("no /proc/self/status: %v", err)
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			t.Logf("peak RSS (VmHWM) so far: %d MiB", kb>>10)
			if kb<<10 > limit {
				t.Errorf("peak RSS %d MiB, want under %d MiB", kb>>10, limit>>20)
			}
		}
	}
}
