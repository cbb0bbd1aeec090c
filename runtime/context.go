package fluxloop

import (
	"context"
	"time"
)

// spanCtx is the context.Context view of a Span: the span embeds the ctx it
// was started with and answers Value(spanKey{}) with itself, so that Enter
// allocates one object for both the span and the derived context. It is a
// distinct named type so that *Span does not expose the context methods.
type spanCtx Span

type spanKey struct{}

func (c *spanCtx) Deadline() (time.Time, bool) { return c.parent.Deadline() }
func (c *spanCtx) Done() <-chan struct{}       { return c.parent.Done() }
func (c *spanCtx) Err() error                  { return c.parent.Err() }

func (c *spanCtx) Value(key any) any {
	if _, ok := key.(spanKey); ok {
		return (*Span)(c)
	}
	if b := bridge.Load(); b != nil && b.Value != nil && c.recording {
		if v, ok := b.Value(key, (*Span)(c).SpanContext()); ok {
			return v
		}
	}
	return c.parent.Value(key)
}

func (c *spanCtx) String() string { return (*Span)(c).String() }

// fromContext returns the span carried by ctx, or nil.
func fromContext(ctx context.Context) *Span {
	if ctx == nil {
		return nil
	}
	if c, ok := ctx.(*spanCtx); ok {
		return (*Span)(c)
	}
	s, _ := ctx.Value(spanKey{}).(*Span)
	return s
}

// SpanFromContext returns the observation active in ctx or, when ctx carries
// none, the current goroutine's current observation (see Handoff), or nil.
// Use it to add attributes, usage or errors to the enclosing traced function's
// observation; the helpers RecordError, SetAttributes, SetUsage and SetTrace do
// that in one call.
func SpanFromContext(ctx context.Context) *Span {
	if s := fromContext(ctx); s != nil {
		return s
	}
	return current()
}

// RecordError records err on the observation active in ctx (see
// Span.RecordError).
func RecordError(ctx context.Context, err error) { SpanFromContext(ctx).RecordError(err) }

// SetAttributes adds metadata to the observation active in ctx (see
// Span.SetAttributes).
func SetAttributes(ctx context.Context, attrs ...Attr) { SpanFromContext(ctx).SetAttributes(attrs...) }

// SetUsage records model and token usage on the observation active in ctx
// (see Span.SetUsage).
func SetUsage(ctx context.Context, u Usage) { SpanFromContext(ctx).SetUsage(u) }

// TraceInfo is trace-level data, set with SetTrace: who and what a run was
// for. Empty fields leave earlier values alone; tags and metadata are merged.
type TraceInfo struct {
	SessionID string
	UserID    string
	Tags      []string
	Metadata  map[string]any
}

// SetTrace applies info to the trace of the observation active in ctx; it is
// written with the trace record when the trace's root observation ends.
// Metadata values are captured now (see V).
func SetTrace(ctx context.Context, info TraceInfo) {
	s := SpanFromContext(ctx)
	if s == nil || !s.recording {
		return
	}
	r := s.rootSpan()
	var md []Attr
	for k, v := range info.Metadata {
		md = append(md, Attr{Key: k, Value: valueOf(defaultClient().capture, v)})
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.state.Load() != spanOpen {
		return
	}
	x := r.extLocked()
	if x.trace == nil {
		x.trace = &traceData{}
	}
	t := x.trace
	if info.SessionID != "" {
		t.sessionID = info.SessionID
	}
	if info.UserID != "" {
		t.userID = info.UserID
	}
	t.tags = append(t.tags, info.Tags...)
	t.metadata = append(t.metadata, md...)
}

// traceData is what SetTrace collected on a root span. Guarded by its mu.
type traceData struct {
	sessionID, userID string
	tags              []string
	metadata          []Attr // values are slots; a later key wins
}

type clientKey struct{}

// ContextWithClient returns a ctx in which the runs that start without a
// parent observation are recorded by c instead of the default client;
// their observations, on any goroutine, follow their root. Tests use it to
// record into a client of their own and run in parallel (see
// fluxlooptest.NewParallel); a program with several clients uses it to
// route requests. The default client's enabled switch still gates
// generated code: with FLUXLOOP_ENABLED=false nothing is recorded.
func ContextWithClient(ctx context.Context, c *Client) context.Context {
	return context.WithValue(ctx, clientKey{}, c)
}

// boundClient returns the client ContextWithClient put in ctx, or nil.
func boundClient(ctx context.Context) *Client {
	c, _ := ctx.Value(clientKey{}).(*Client)
	return c
}
