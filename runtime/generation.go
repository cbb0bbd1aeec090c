package fluxloop

import "context"

// This file holds the hooks that instrumentation libraries recording
// generations from below an SDK, such as package fluxloopllm (an
// http.RoundTripper), need from outside the package. Users never call them.

// StartAt is Start for instrumentation libraries, which know better than
// their own frame which source position the observation should record. Start
// records the position of its caller, which for a library is a line of the
// library; StartAt records the position of pc instead, a program counter as
// runtime.Callers reports it (the return address of a call: the call's line
// is recorded), or no position at all when pc is 0. Everything else is as for
// Start.
func StartAt(ctx context.Context, pc uintptr, name string, opts ...StartOption) (context.Context, *Span) {
	if ctx == nil {
		ctx = context.Background()
	}
	parent := fromContext(ctx)
	if parent != nil && !parent.recording {
		return ctx, nil
	}
	var sc startConfig
	for _, o := range opts {
		if o != nil {
			o(&sc)
		}
	}
	site := &Site{Name: name, Type: sc.typ, pc: pc}
	s := begin(ctx, site, parent, nil)
	if s == nil {
		return ctx, nil
	}
	if s.recording && (len(sc.named) > 0 || len(sc.attrs) > 0) {
		s.mu.Lock()
		x := s.extLocked()
		if s.client.cfg.Capture.inputs() {
			x.named = sc.named
		}
		x.attrs = sc.attrs
		s.mu.Unlock()
	}
	return wrapContext(s), s
}

// Client returns the client that records s, or nil for a nil span. Its
// Config tells a library the capture limits (MaxFieldBytes) and mode
// (Capture) that apply to the observation, so that it keeps no more of a
// long value than will be recorded.
func (s *Span) Client() *Client {
	if s == nil {
		return nil
	}
	return s.client
}

// V is the package-level V with c's capture limits and mode instead of the
// default client's: a library recording on a span of a client bound to a
// ctx (ContextWithClient) captures values with it, for SetInput, as that
// client's own spans would (c is Span.Client). A nil c uses the default
// client.
func (c *Client) V(v any) Value {
	if c == nil {
		c = defaultClient()
	}
	if c.cfg.Capture == CaptureNone {
		return Value{}
	}
	return Value{valueOf(c.capture, v)}
}
