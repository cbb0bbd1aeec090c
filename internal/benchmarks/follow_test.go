package benchmarks

// The hand-over at a go statement, per signature: go f(a, b) plain, as the
// generator wrote it before (the reflective fluxloop.Follow, which uses
// reflect.MakeFunc for any signature but func() and func() error), and as
// it writes it now (the typed helper, fluxloop.Follow2).
//
//	go test ./internal/benchmarks -run '^$' -bench FollowTyped -benchmem -count 5
//
// Each op starts one goroutine inside an observation and waits for it, so
// the difference to go is what the hand-over adds per go statement. The
// ratio sub-benchmarks run the three forms in every op and report the
// typed and reflective costs over the plain one, which holds up better on
// a busy machine than the ratio of separate runs.

import (
	"context"
	"testing"
	"time"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
)

//go:noinline
func followed3(a int, s string, ok bool) int {
	streamSum.Add(int64(a + len(s)))
	streamWG.Done()
	return a
}

func BenchmarkFollowTyped(b *testing.B) {
	run := func(b *testing.B, traced bool, body func()) {
		install(b, fluxloop.WithStorage(streamNop{}))
		if traced {
			_, root := fluxloop.Start(context.Background(), "root")
			defer root.End()
		}
		b.ReportAllocs()
		for b.Loop() {
			streamWG.Add(1)
			body()
			streamWG.Wait()
		}
	}
	b.Run("func2/go", func(b *testing.B) {
		run(b, true, func() { go followed2(1, "xy") })
	})
	b.Run("func2/Follow", func(b *testing.B) {
		run(b, true, func() { go fluxloop.Follow(followed2)(1, "xy") })
	})
	b.Run("func2/Follow2", func(b *testing.B) {
		run(b, true, func() { go fluxloop.Follow2(followed2)(1, "xy") })
	})
	b.Run("func2/Follow2-untraced", func(b *testing.B) {
		run(b, false, func() { go fluxloop.Follow2(followed2)(1, "xy") })
	})
	b.Run("func3R1/Follow", func(b *testing.B) {
		run(b, true, func() { go fluxloop.Follow(followed3)(1, "xy", true) })
	})
	b.Run("func3R1/Follow3R1", func(b *testing.B) {
		run(b, true, func() { go fluxloop.Follow3R1(followed3)(1, "xy", true) })
	})
	b.Run("func2/ratio", func(b *testing.B) {
		install(b, fluxloop.WithStorage(streamNop{}))
		_, root := fluxloop.Start(context.Background(), "root")
		defer root.End()
		var plain, reflective, typed time.Duration
		b.ReportAllocs()
		for b.Loop() {
			t0 := time.Now()
			streamWG.Add(1)
			go followed2(1, "xy")
			streamWG.Wait()
			t1 := time.Now()
			streamWG.Add(1)
			go fluxloop.Follow(followed2)(1, "xy")
			streamWG.Wait()
			t2 := time.Now()
			streamWG.Add(1)
			go fluxloop.Follow2(followed2)(1, "xy")
			streamWG.Wait()
			t3 := time.Now()
			plain += t1.Sub(t0)
			reflective += t2.Sub(t1)
			typed += t3.Sub(t2)
		}
		b.ReportMetric(float64(typed)/float64(plain), "typed/go")
		b.ReportMetric(float64(reflective)/float64(plain), "reflect/go")
		b.ReportMetric(float64(reflective)/float64(typed), "reflect/typed")
	})
}
