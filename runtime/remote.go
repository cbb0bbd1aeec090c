package fluxloop

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"sync/atomic"
)

// SpanContext identifies an observation (or an OpenTelemetry span) by its
// trace and span ids, as W3C trace context carries it across processes.
type SpanContext struct {
	TraceID [16]byte
	SpanID  [8]byte
	Sampled bool
}

// IsValid reports whether both ids are non-zero.
func (sc SpanContext) IsValid() bool {
	return sc.TraceID != [16]byte{} && sc.SpanID != [8]byte{}
}

// ParseTraceparent parses a W3C traceparent header value
// ("00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>").
func ParseTraceparent(h string) (SpanContext, bool) {
	var sc SpanContext
	if len(h) < 55 || h[2] != '-' || h[35] != '-' || h[52] != '-' || h[:2] == "ff" {
		return sc, false
	}
	if len(h) > 55 && (h[:2] == "00" || h[55] != '-') {
		return sc, false
	}
	var flags [1]byte
	if _, err := hex.Decode(sc.TraceID[:], []byte(h[3:35])); err != nil {
		return sc, false
	}
	if _, err := hex.Decode(sc.SpanID[:], []byte(h[36:52])); err != nil {
		return sc, false
	}
	if _, err := hex.Decode(flags[:], []byte(h[53:55])); err != nil {
		return sc, false
	}
	sc.Sampled = flags[0]&1 == 1
	return sc, sc.IsValid()
}

// Traceparent formats sc as a W3C traceparent header value.
func (sc SpanContext) Traceparent() string {
	b := make([]byte, 0, 55)
	b = append(b, "00-"...)
	b = hex.AppendEncode(b, sc.TraceID[:])
	b = append(b, '-')
	b = hex.AppendEncode(b, sc.SpanID[:])
	if sc.Sampled {
		return string(append(b, "-01"...))
	}
	return string(append(b, "-00"...))
}

type remoteKey struct{}

// ContextWithRemoteParent returns a ctx in which the next observation started
// without a local parent continues sc's trace, as a child of sc's span (for
// example the caller's span from an incoming traceparent header). Whether it
// records follows sc.Sampled. Most users never call it: the HTTP support
// (fluxloophttp) does.
func ContextWithRemoteParent(ctx context.Context, sc SpanContext) context.Context {
	if !sc.IsValid() {
		return ctx
	}
	return context.WithValue(ctx, remoteKey{}, sc)
}

// SpanContext returns the ids of the observation (zero for a nil span).
func (s *Span) SpanContext() SpanContext {
	var sc SpanContext
	if s == nil {
		return sc
	}
	binary.BigEndian.PutUint64(sc.TraceID[:8], s.traceHi)
	binary.BigEndian.PutUint64(sc.TraceID[8:], s.traceLo)
	binary.BigEndian.PutUint64(sc.SpanID[:], s.id)
	sc.Sampled = s.recording
	return sc
}

// A Bridge connects fluxloop to another tracer in the same process
// (OpenTelemetry: see the otlp package). Parent finds the tracer's active
// span in a ctx that carries no fluxloop observation, so that a new
// observation joins that trace as its child; Wrap returns a ctx derived from
// an observation's ctx in which the other tracer sees the observation as its
// active span, so its spans nest under it. Either may be nil.
//
// Value, when set, answers a context lookup made on an observation's ctx
// (key is what the other tracer looks up; sc the observation's ids) before
// the lookup goes on to the parent context: it lets the other tracer see the
// observation without Wrap's extra context per observation, paying only
// when the tracer actually looks.
type Bridge struct {
	Parent func(ctx context.Context) (SpanContext, bool)
	Wrap   func(ctx context.Context, sc SpanContext) context.Context
	Value  func(key any, sc SpanContext) (any, bool)
}

var bridge atomic.Pointer[Bridge]

// SetBridge installs b (nil removes it). Only one bridge is active; it is
// consulted on every Enter and Start while installed.
func SetBridge(b *Bridge) { bridge.Store(b) }

// remoteParent returns the remote parent of a span started in ctx without a
// local parent.
func remoteParent(ctx context.Context) (SpanContext, bool) {
	if sc, ok := ctx.Value(remoteKey{}).(SpanContext); ok {
		return sc, true
	}
	if b := bridge.Load(); b != nil && b.Parent != nil {
		return b.Parent(ctx)
	}
	return SpanContext{}, false
}

// wrapContext lets a bridged tracer see s as its active span.
func wrapContext(s *Span) context.Context {
	c := context.Context((*spanCtx)(s))
	if b := bridge.Load(); b != nil && b.Wrap != nil && s.recording {
		return b.Wrap(c, s.SpanContext())
	}
	return c
}

// parentID is the span id of s's parent: the local parent's, a remote
// parent's for a local root, or 0 for a root.
func (s *Span) parentID() uint64 {
	if s.up != nil {
		return s.up.id
	}
	return s.remoteParent
}
