package fluxloop

import (
	"context"
	"sync/atomic"
)

// This file holds the few exported hooks that wrappers of Enter, such as
// package fluxloophttp, need from outside the package. Users never call them.

// Enabled reports whether the default client may record: it is false when
// the default client is disabled (FLUXLOOP_ENABLED=false, WithEnabled(false))
// or shut down, and true otherwise, including before the default client is
// created (the next Enter creates it). It costs one atomic load, so wrappers
// of Enter check it before preparing anything for an observation; Enter
// itself makes the same check.
func Enabled() bool { return atomic.LoadUint32(&std.modeRaw) != modeOff }

// EnterCaller is Enter for functions that wrap it for generated code, such as
// fluxloophttp.Enter. Enter takes the site's source position (metadata
// code.filepath and code.lineno) from its caller; EnterCaller takes it skip
// frames further up: skip 1 is the caller of a wrapper that generated code
// calls directly, so the position is the traced function's, not the
// wrapper's. Everything else is as for Enter.
func EnterCaller(ctx context.Context, site *Site, skip int) (context.Context, *Span) {
	if atomic.LoadUint32(&std.modeRaw) == modeOff {
		return ctx, nil
	}
	if site.pos.Load() == nil {
		site.position(1 + skip) // resolved once per site; enter then finds it cached
	}
	return enter(ctx, site)
}

// SetInput records v, made with V, as the input named name, after the inputs
// given to Inputs; a name set twice appears twice, the last one winning when
// the JSON is decoded. Wrappers of Enter use it to record inputs that are not
// parameters of the traced function, such as an HTTP request's method, path
// and query. It is a no-op on a span that does not record, whose client does
// not capture inputs (WithCapture), or that has ended. The value is redacted
// by name when written, like a parameter.
func (s *Span) SetInput(name string, v Value) {
	if s == nil || !s.recording || !s.client.cfg.Capture.inputs() {
		return
	}
	val := v.frozen()
	s.mu.Lock()
	if s.state.Load() == spanOpen {
		x := s.extLocked()
		if x.named == nil {
			x.named = make([]namedValue, 0, 4)
		}
		x.named = append(x.named, namedValue{name: name, v: val})
	}
	s.mu.Unlock()
}

// SetStatusMessage records msg as the observation's status_message, a short
// description of how it ended such as "HTTP 503" (Panic sets "panic"). It
// does not change the level: record an error with RecordError for that. It
// is a no-op on a nil or ended span, or one that does not record.
func (s *Span) SetStatusMessage(msg string) {
	if s == nil || !s.recording {
		return
	}
	s.mu.Lock()
	if s.state.Load() == spanOpen {
		s.extLocked().status = msg
	}
	s.mu.Unlock()
}

// Recording reports whether the span records its observation: false for a
// nil span and for the root of an unsampled trace (which only carries the
// sampling decision to its children). Wrappers of Enter use it to skip work
// whose result would not be recorded.
func (s *Span) Recording() bool { return s != nil && s.recording }
