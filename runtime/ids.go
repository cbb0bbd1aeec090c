package fluxloop

import "math/rand/v2"

// Observation ids are 64 random bits and trace ids 128 random bits, from
// math/rand/v2 (fast, per-thread state; not for secrets), never zero, so they
// map one to one onto OpenTelemetry span and trace ids.

func newID() uint64 {
	for {
		if id := rand.Uint64(); id != 0 {
			return id
		}
	}
}

func newTraceID() (hi, lo uint64) {
	for {
		hi, lo = rand.Uint64(), rand.Uint64()
		if hi|lo != 0 {
			return hi, lo
		}
	}
}

// sampleThreshold turns a sample rate into a threshold for sampled: a trace is
// kept when the low 63 bits of its id's low half (as OpenTelemetry's
// TraceIDRatioBased sampler reads them) are below it, so the decision is a
// function of the trace id and the same on every process that sees the id.
func sampleThreshold(rate float64) uint64 {
	switch {
	case rate >= 1:
		return 1 << 63
	case rate <= 0:
		return 0
	}
	return uint64(rate * (1 << 63))
}

func sampled(lo, threshold uint64) bool { return lo>>1 < threshold }

const hexDigits = "0123456789abcdef"

func appendHex64(b []byte, v uint64) []byte {
	var buf [16]byte
	for i := 15; i >= 0; i-- {
		buf[i] = hexDigits[v&0xf]
		v >>= 4
	}
	return append(b, buf[:]...)
}

func appendTraceID(b []byte, hi, lo uint64) []byte {
	return appendHex64(appendHex64(b, hi), lo)
}

func hex64(v uint64) string { return string(appendHex64(make([]byte, 0, 16), v)) }
