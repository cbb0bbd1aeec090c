package fluxloop

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// Span is one observation while it runs: a traced function call (made by
// Enter or EnterLocal in generated code) or a block timed with Start. It is
// written to storage, as an Observation, when it ends.
//
// All methods are safe on a nil *Span, which is what Enter and Start return
// when tracing is disabled or the trace is not sampled, so code never needs
// to check. Methods that add data (SetAttributes, SetUsage, RecordError,
// SetOutput) may be called from any goroutine; data added after the span
// ended is ignored. Inputs and Return belong to the code that started the
// span (generated code calls them on the function's own goroutine).
type Span struct {
	parent context.Context // the ctx the span was started with, never nil
	client *Client
	up     *Span // parent observation, nil for a root
	local  *Span // the goroutine's current span before this one registered
	site   *Site // name, type, parameter names and source position
	ext    *spanExt

	traceHi, traceLo uint64
	id               uint64
	remoteParent     uint64 // span id of a remote parent (ContextWithRemoteParent), for a local root
	gid              int64  // goroutine that registered the span as its current one

	start time.Time
	dur   time.Duration // end - start, from the monotonic clock

	state     atomic.Uint32 // spanOpen or spanEnded
	streams   atomic.Int32  // open streams (Chan, Seq, Seq2) that keep the span open
	returned  atomic.Bool   // Return was called while streams were open
	recording bool          // false for an unsampled root: it only propagates parentage
	nin, nout uint8
	mu        sync.Mutex // guards ext

	// The first inputs and the first result, as slots split into three
	// arrays to keep the span in the 256-byte size class: index i < nin is
	// input i, index outSlot the result.
	kinds [inlineInputs + 1]valueKind
	strs  [inlineInputs + 1]string
	nums  [inlineInputs + 1]uint64
}

const (
	inlineInputs = 3
	outSlot      = inlineInputs

	spanOpen  = 0
	spanEnded = 1
)

// spanExt holds the data most spans never have. Guarded by Span.mu.
type spanExt struct {
	moreIn    []slot       // inputs beyond inlineInputs
	named     []namedValue // inputs given by name (WithInput)
	moreOut   []slot       // results beyond the first
	output    slot         // SetOutput; wins over results
	hasOutput bool
	err       string
	hasErr    bool
	errType   string
	stack     string
	status    string
	attrs     []Attr // metadata; values are slots (see valueOf)
	usage     Usage
	hasUsage  bool
	trace     *traceData // SetTrace on a root

	childPanic    any // the panic a child recorded with its stack, unwinding through s
	hasChildPanic bool
}

type namedValue struct {
	name string
	v    slot
}

func (s *Span) inline(i int) slot {
	return slot{s: s.strs[i], n: s.nums[i], kind: s.kinds[i]}
}

func (s *Span) setInline(i int, v slot) {
	s.strs[i], s.nums[i], s.kinds[i] = v.s, v.n, v.kind
}

// rootSpan returns the root of s's trace.
func (s *Span) rootSpan() *Span {
	for s.up != nil {
		s = s.up
	}
	return s
}

// extLocked returns s.ext, creating it. s.mu must be held.
func (s *Span) extLocked() *spanExt {
	if s.ext == nil {
		s.ext = &spanExt{}
	}
	return s.ext
}

// Inputs records the function's arguments, in the order of Site.Params.
// Generated code calls it right after Enter; it is a no-op on a span that does
// not record or whose client does not capture inputs. Composite values are
// encoded now (see V). Inputs does not retain the values slice.
func (s *Span) Inputs(values ...Value) {
	if s == nil || !s.recording || !s.client.cfg.Capture.inputs() || s.state.Load() != spanOpen {
		return
	}
	for i := range values {
		v := values[i].frozen()
		if n := int(s.nin); n < inlineInputs {
			s.setInline(n, v)
			s.nin++
			continue
		}
		s.mu.Lock()
		x := s.extLocked()
		x.moreIn = append(x.moreIn, v)
		s.mu.Unlock()
	}
}

// Return records the function's results and ends the span. Generated code
// calls it in a deferred function with the last error result (or nil) and the
// other results. A non-nil err is recorded as the observation's error with
// level error; a single other result is recorded as the output as it is,
// several as a JSON array. A second Return or End is a no-op.
func (s *Span) Return(err error, outputs ...Value) {
	if s == nil {
		return
	}
	if s.recording && s.state.Load() == spanOpen {
		if err != nil {
			s.RecordError(err)
		}
		if err != nil && allZero(outputs) {
			// The other results of a failed call are zero values by
			// convention: noise next to the error.
			outputs = nil
		}
		if len(outputs) > 0 && s.client.cfg.Capture.outputs() {
			s.setInline(outSlot, outputs[0].frozen())
			s.nout = 1
			if len(outputs) > 1 {
				more := make([]slot, len(outputs)-1)
				for i := range more {
					more[i] = outputs[i+1].frozen()
				}
				s.mu.Lock()
				s.extLocked().moreOut = more
				s.mu.Unlock()
				s.nout = uint8(min(len(outputs), 255))
			}
		}
	}
	if s.streams.Load() > 0 {
		// A stream result keeps the observation open (see Chan): the
		// function has returned, so its goroutine moves on, and the last
		// stream to finish ends the span.
		unregister(s)
		s.returned.Store(true)
		if s.streams.Load() == 0 {
			s.End()
		}
		return
	}
	s.End()
}

func allZero(vs []Value) bool {
	for i := range vs {
		if !vs[i].isZero() {
			return false
		}
	}
	return true
}

// Panic records a panic that is unwinding through the traced function: the
// panic value as the error (fmt.Sprint style), metadata error_type (the value's
// dynamic type) and traceback (the goroutine's stack, recorded only by the
// innermost traced function the panic passed through), level error; then it
// ends the span. It does not re-panic: generated code re-panics after calling
// it, with the same value.
func (s *Span) Panic(v any) {
	if s == nil {
		return
	}
	if s.recording && s.state.Load() == spanOpen {
		msg := sprintSafe(v)
		s.mu.Lock()
		x := s.extLocked()
		seen := x.hasChildPanic && samePanic(x.childPanic, v)
		s.mu.Unlock()
		// The innermost traced frame a panic passes through records the
		// stack; the frames it unwinds through after it would record the
		// same stack again, at a cost that grows with the depth.
		var stack string
		if !seen {
			stack = string(debug.Stack())
		}
		s.mu.Lock()
		x.err, x.hasErr = msg, true
		x.errType = fmt.Sprintf("%T", v)
		x.stack = stack
		x.status = "panic"
		s.mu.Unlock()
		if up := s.up; up != nil {
			up.mu.Lock()
			ux := up.extLocked()
			ux.childPanic, ux.hasChildPanic = v, true
			up.mu.Unlock()
		}
	}
	s.End()
}

// samePanic reports whether a and b are the same panic value (false for
// values that cannot be compared).
func samePanic(a, b any) (same bool) {
	defer func() {
		if recover() != nil {
			same = false
		}
	}()
	return a == b
}

func sprintSafe(v any) (s string) {
	defer func() {
		if r := recover(); r != nil {
			s = fmt.Sprintf("<%T>", v)
		}
	}()
	if err, ok := v.(error); ok {
		return errorText(err)
	}
	return fmt.Sprint(v)
}

// End ends the span: it records the end time, makes the span that was
// current before it the goroutine's current observation again, and queues
// the observation for the background writer. Use it with Start (`defer
// obs.End()`); generated code ends its spans with Return. Calling End more
// than once is harmless.
func (s *Span) End() {
	if s == nil || !s.state.CompareAndSwap(spanOpen, spanEnded) {
		return
	}
	if s.recording {
		s.dur = time.Since(s.start)
	}
	unregister(s)
	if s.recording {
		s.client.enqueue(s)
	}
}

// SetOutput records v as the observation's output, replacing the captured
// results. Use it with Start, or to record a cleaner output than the
// function's raw results. v is captured now (see V).
func (s *Span) SetOutput(v any) {
	if s == nil || !s.recording || !s.client.cfg.Capture.outputs() {
		return
	}
	val := valueOf(s.client.capture, v)
	s.mu.Lock()
	if s.state.Load() == spanOpen {
		x := s.extLocked()
		x.output, x.hasOutput = val, true
	}
	s.mu.Unlock()
}

// RecordError records err as the observation's error (level error, metadata
// error_type = err's dynamic type). Nil errors are ignored; a later error
// replaces an earlier one. Generated code records returned errors itself; call
// it for errors a function handles without returning them.
func (s *Span) RecordError(err error) {
	if s == nil || err == nil || !s.recording {
		return
	}
	msg := errorText(err)
	typ := fmt.Sprintf("%T", err)
	s.mu.Lock()
	if s.state.Load() == spanOpen {
		x := s.extLocked()
		x.err, x.hasErr, x.errType = msg, true, typ
	}
	s.mu.Unlock()
}

// Attr is one metadata entry, made with Attribute.
type Attr struct {
	Key   string
	Value any
}

// Attribute returns a metadata entry for SetAttributes and WithMetadata.
func Attribute(key string, v any) Attr { return Attr{Key: key, Value: v} }

// SetAttributes adds entries to the observation's metadata; a key set twice
// keeps the last value. Values are captured now (see V) and redacted like
// inputs when written.
func (s *Span) SetAttributes(attrs ...Attr) {
	if s == nil || !s.recording || len(attrs) == 0 {
		return
	}
	captured := make([]Attr, len(attrs))
	for i, a := range attrs {
		captured[i] = Attr{Key: a.Key, Value: valueOf(s.client.capture, a.Value)}
	}
	s.mu.Lock()
	if s.state.Load() == spanOpen {
		x := s.extLocked()
		x.attrs = append(x.attrs, captured...)
	}
	s.mu.Unlock()
}

// Usage is the model and token counts of an LLM call, recorded on
// generations with SetUsage. The total is the sum of the two counts.
type Usage struct {
	Model            string
	PromptTokens     int
	CompletionTokens int
}

// SetUsage records the model and token usage of an LLM call on the
// observation (fields model, prompt_tokens, completion_tokens, total_tokens).
// Call it inside a function traced as a generation, or on a Start span made
// WithType(TypeGeneration).
func (s *Span) SetUsage(u Usage) {
	if s == nil || !s.recording {
		return
	}
	s.mu.Lock()
	if s.state.Load() == spanOpen {
		x := s.extLocked()
		x.usage, x.hasUsage = u, true
	}
	s.mu.Unlock()
}

// ID returns the observation id (16 lowercase hex digits), or "" for a nil
// span. Use it to correlate logs with recorded observations.
func (s *Span) ID() string {
	if s == nil {
		return ""
	}
	return hex64(s.id)
}

// TraceID returns the trace id (32 lowercase hex digits, the same bits as an
// OpenTelemetry trace id), or "" for a nil span.
func (s *Span) TraceID() string {
	if s == nil {
		return ""
	}
	return string(appendTraceID(nil, s.traceHi, s.traceLo))
}

// String returns the span's type, name and id, for debugging.
func (s *Span) String() string {
	if s == nil {
		return "fluxloop.Span(nil)"
	}
	return "fluxloop.Span(" + string(s.site.typ()) + " " + s.site.Name + " " + s.ID() + ")"
}
