package fluxloop

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestAppendTimeMatchesFormat(t *testing.T) {
	check := func(tm time.Time) {
		t.Helper()
		got := string(appendTime(nil, tm))
		want := `"` + tm.UTC().Format(timeLayout) + `"`
		if got != want {
			t.Fatalf("appendTime(%v) = %s, want %s", tm, got, want)
		}
	}
	check(time.Unix(0, 0))
	check(time.Date(2000, 2, 29, 23, 59, 59, 999999999, time.UTC))
	check(time.Date(1969, 12, 31, 23, 59, 59, 1, time.UTC))
	check(time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC))
	check(time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC))
	check(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC))
	check(time.Date(2024, 3, 1, 12, 0, 0, 5, time.FixedZone("x", -7*3600)))
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		sec := r.Int64N(253402300799+62135596800) - 62135596800
		check(time.Unix(sec, r.Int64N(1e9)))
	}
	check(time.Now())
}
