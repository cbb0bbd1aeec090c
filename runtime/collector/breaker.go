package collector

import (
	"errors"
	"sync/atomic"
	"time"
)

// errCircuitOpen is the reason given for records spilled while the circuit
// is open.
var errCircuitOpen = errors.New("collector failed recently (circuit open)")

// breaker is the storage's circuit breaker. It is closed (requests go out)
// until a request fails all its retries, or gets a Retry-After longer than
// MaxRetryAfter; then it is open for Cooldown (or that Retry-After), and
// records are spilled without a request. After that, it is half-open: one
// request, the probe, goes out while the others are spilled, and closes the
// circuit when the collector answers, even if only to refuse.
type breaker struct {
	openUntil atomic.Int64 // unix nanoseconds until which it is open; 0 closed
	probing   atomic.Bool  // a half-open probe is in flight
}

// isOpen reports whether batches are spilled without a request at now.
func (b *breaker) isOpen(now time.Time) bool {
	until := b.openUntil.Load()
	return until != 0 && now.UnixNano() < until
}

// admit says whether a job may be sent at now, and whether its request is
// the half-open probe; the sender of a probe calls endProbe once it is
// settled.
func (b *breaker) admit(now time.Time) (ok, probe bool) {
	until := b.openUntil.Load()
	if until == 0 {
		return true, false
	}
	if now.UnixNano() < until || !b.probing.CompareAndSwap(false, true) {
		return false, false
	}
	return true, true // half-open: this request decides
}

// endProbe lets another probe go out.
func (b *breaker) endProbe() { b.probing.Store(false) }

// reset closes the circuit.
func (b *breaker) reset() { b.openUntil.Store(0) }

// trip opens the circuit for d from now.
func (b *breaker) trip(d time.Duration) { b.openUntil.Store(time.Now().Add(d).UnixNano()) }
