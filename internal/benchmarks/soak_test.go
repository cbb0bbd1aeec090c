package benchmarks

import (
	"context"
	"os"
	"testing"
	"time"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
)

// TestSustained50k produces 50,000 observations per second for 10 seconds,
// with the default configuration and file storage, and checks that none is
// dropped. It takes 10 s, so it runs only with FLUXLOOP_SOAK=1:
//
//	FLUXLOOP_SOAK=1 go test ./internal/benchmarks -run Sustained -cpu 1 -v
func TestSustained50k(t *testing.T) {
	if os.Getenv("FLUXLOOP_SOAK") == "" {
		t.Skip("set FLUXLOOP_SOAK=1 to run the 10 s sustained-load check")
	}
	const (
		rate     = 50_000
		duration = 10 * time.Second
		tick     = time.Millisecond
		perTick  = rate / int(time.Second/tick)
	)
	c := install(t, fluxloop.WithDir(t.TempDir()))
	ctx := context.Background()
	start := time.Now()
	n := 0
	for time.Since(start) < duration {
		// catch up to the schedule, so the rate holds even if a tick is late
		due := int(time.Since(start)/tick+1) * perTick
		for ; n < due; n++ {
			instrumented(ctx, n, 1)
		}
		time.Sleep(tick - time.Since(start)%tick)
	}
	elapsed := time.Since(start)
	if err := c.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := c.Stats()
	t.Logf("%d observations in %v (%.0f/s): %+v", n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), st)
	if st.Dropped != 0 || st.Failed != 0 || st.Written != uint64(n) {
		t.Errorf("lost observations: %+v of %d", st, n)
	}
}
