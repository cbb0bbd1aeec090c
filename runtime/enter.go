package fluxloop

import (
	"context"
	"encoding/binary"
	"runtime"
	"sync/atomic"
	"time"
)

// Enter starts an observation for a traced function and returns the derived
// ctx carrying it. Generated code calls it first thing in every traced
// function that has a context.Context in reach; users call Start instead.
//
// The parent is the observation in ctx or, when ctx carries none, the
// goroutine's current observation (see Handoff); with neither, the
// observation is the root of a new trace, which is sampled or not (see
// WithSampleRate) as a whole. A nil ctx is treated as context.Background().
//
// When tracing is disabled Enter returns (ctx, nil) after one atomic load and
// compare; it also returns a nil span inside an unsampled trace (the root of
// an unsampled trace is a span that records nothing and carries the decision
// to its children).
func Enter(ctx context.Context, site *Site) (c context.Context, s *Span) {
	// Written this way to stay within the inliner's budget.
	c = ctx
	if atomic.LoadUint32(&std.modeRaw) != modeOff {
		c, s = enter(ctx, site)
	}
	return
}

//go:noinline
func enter(ctx context.Context, site *Site) (context.Context, *Span) {
	if ctx == nil {
		ctx = context.Background()
	}
	s := begin(ctx, site, fromContext(ctx), nil)
	if s == nil {
		return ctx, nil
	}
	if s.recording {
		site.position(2) // the caller of Enter
	}
	return wrapContext(s), s
}

// EnterLocal starts an observation for a traced function that has no
// context.Context in reach; its parent is the goroutine's current
// observation (see Enter and Handoff). Generated code calls it; users call
// Start.
func EnterLocal(site *Site) *Span {
	if atomic.LoadUint32(&std.modeRaw) == modeOff {
		return nil
	}
	return enterLocal(site)
}

//go:noinline
func enterLocal(site *Site) *Span {
	s := begin(context.Background(), site, nil, nil)
	if s != nil && s.recording {
		site.position(2) // the caller of EnterLocal
	}
	return s
}

// begin is the one way spans start (Enter, EnterLocal, Start): it picks
// the client, registers the span as its goroutine's current one, and
// gives it its ids and start time. parent is the observation of ctx, if
// any; the goroutine's current observation stands in when it is nil. c is
// the client of Client.Start, nil for the default client or the one bound
// to ctx (ContextWithClient). It returns nil when nothing is to be
// recorded.
func begin(ctx context.Context, site *Site, parent *Span, c *Client) *Span {
	if parent != nil && !parent.recording {
		return nil // inside an unsampled trace
	}
	switch {
	case parent != nil:
		c = parent.client
	case c == nil:
		if c = boundClient(ctx); c == nil {
			c = defaultClient()
		}
	}
	if c.on.Load() == 0 {
		return nil
	}
	s := &Span{parent: ctx, site: site}
	parent, ok := register(s, parent)
	if !ok {
		return nil
	}
	c.initSpan(s, parent)
	return s
}

// initSpan fills in the span's identity from its parent (or makes it a root
// of client c) and records the start time.
func (c *Client) initSpan(s *Span, parent *Span) {
	s.id = newID()
	if parent != nil {
		s.client = parent.client
		s.up = parent
		s.traceHi, s.traceLo = parent.traceHi, parent.traceLo
		s.recording = true
	} else if rp, ok := remoteParent(s.parent); ok {
		// A local root continuing another process's (or tracer's) trace.
		s.client = c
		s.traceHi = binary.BigEndian.Uint64(rp.TraceID[:8])
		s.traceLo = binary.BigEndian.Uint64(rp.TraceID[8:])
		s.remoteParent = binary.BigEndian.Uint64(rp.SpanID[:])
		s.recording = rp.Sampled
	} else {
		s.client = c
		s.traceHi, s.traceLo = newTraceID()
		s.recording = sampled(s.traceLo, c.threshold)
	}
	if s.recording {
		s.start = time.Now()
	}
}

// StartOption configures a span made by Start.
type StartOption func(*startConfig)

type startConfig struct {
	typ   ObservationType
	named []namedValue
	attrs []Attr
}

// WithType sets the observation type of a span made by Start (default
// TypeSpan).
func WithType(t ObservationType) StartOption {
	return func(c *startConfig) { c.typ = t }
}

// WithInput records v as the input named name of a span made by Start. v is
// captured when the option is made (see V).
func WithInput(name string, v any) StartOption {
	val := valueOf(defaultClient().capture, v)
	return func(c *startConfig) { c.named = append(c.named, namedValue{name: name, v: val}) }
}

// WithMetadata adds a metadata entry to a span made by Start (see
// Span.SetAttributes).
func WithMetadata(key string, v any) StartOption {
	val := valueOf(defaultClient().capture, v)
	return func(c *startConfig) { c.attrs = append(c.attrs, Attr{Key: key, Value: val}) }
}

// Start starts an observation for a block of code, the counterpart of
// FluxLoop's context manager, with the same parent rules as Enter:
//
//	ctx, obs := fluxloop.Start(ctx, "db.query", fluxloop.WithType(fluxloop.TypeTool))
//	defer obs.End()
//
// Use it where a function-level directive does not fit. The returned span is
// nil when tracing is disabled or inside an unsampled trace (an unsampled
// root is a span that records nothing but carries the decision to its
// children); methods of such spans are no-ops. The observation records the
// file and line of the Start call in its metadata.
func Start(ctx context.Context, name string, opts ...StartOption) (context.Context, *Span) {
	return (*Client)(nil).start(ctx, name, opts, 3)
}

// Start is the package-level Start for this client: roots started here are
// recorded by c, and their descendants follow them. (Generated code checks
// the default client's enabled switch first: if the default client is
// disabled, generated functions record nothing even under a span of c.)
func (c *Client) Start(ctx context.Context, name string, opts ...StartOption) (context.Context, *Span) {
	if c == nil {
		return ctx, nil
	}
	return c.start(ctx, name, opts, 3)
}

func (c *Client) start(ctx context.Context, name string, opts []StartOption, skip int) (context.Context, *Span) {
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
	site := &Site{Name: name, Type: sc.typ}
	var pcs [1]uintptr
	if runtime.Callers(skip, pcs[:]) == 1 {
		site.pc = pcs[0]
	}
	s := begin(ctx, site, parent, c)
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
