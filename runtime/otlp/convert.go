package otlp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Attribute keys of the exported spans.
const (
	keyOperation    = "gen_ai.operation.name"
	keyAgentName    = "gen_ai.agent.name"
	keyToolName     = "gen_ai.tool.name"
	keyRequestModel = "gen_ai.request.model"
	keyInputTokens  = "gen_ai.usage.input_tokens"
	keyOutputTokens = "gen_ai.usage.output_tokens"

	keyType          = "fluxloop.observation.type"
	keyInput         = "fluxloop.input"
	keyOutput        = "fluxloop.output"
	keyTruncated     = "fluxloop.truncated"
	keyStatusMessage = "fluxloop.status_message"
	keyLevel         = "fluxloop.level"
	prefixMetadata   = "fluxloop.metadata."

	keyFilePath   = "code.file.path"
	keyLineNumber = "code.line.number"
	keyErrorType  = "error.type"

	keySessionID     = "session.id"
	keyUserID        = "user.id"
	keyTags          = "fluxloop.trace.tags"
	prefixTraceMeta  = "fluxloop.trace.metadata."
	keyExceptionMsg  = "exception.message"
	keyExceptionType = "exception.type"
	keyExceptionSt   = "exception.stacktrace"

	prefixGenAI = "gen_ai."
)

// semconvKeys are metadata keys of OpenTelemetry's semantic conventions
// that fluxloop's integrations record (fluxloopllm: the server of a model
// call and its HTTP status), exported under their own names.
var semconvKeys = map[string]bool{
	"server.address":            true,
	"server.port":               true,
	"http.response.status_code": true,
}

// fluxloop metadata keys with a meaning of their own.
const (
	mdFilePath  = "code.filepath"
	mdLineNo    = "code.lineno"
	mdErrorType = "error_type"
	mdTraceback = "traceback"
	mdTruncated = "fluxloop.truncated"
)

// span is one observation as the sdktrace.ReadOnlySpan an exporter takes.
// The embedded interface is nil: it only supplies the interface's unexported
// method, which exporters never call; every exported method is implemented
// below.
type span struct {
	sdktrace.ReadOnlySpan

	name       string
	sc, parent trace.SpanContext
	kind       trace.SpanKind
	start, end time.Time
	attrs      []attribute.KeyValue
	events     []sdktrace.Event
	status     sdktrace.Status
	res        *resource.Resource
	scope      *instrumentation.Scope
}

func (s *span) Name() string                                { return s.name }
func (s *span) SpanContext() trace.SpanContext              { return s.sc }
func (s *span) Parent() trace.SpanContext                   { return s.parent }
func (s *span) SpanKind() trace.SpanKind                    { return s.kind }
func (s *span) StartTime() time.Time                        { return s.start }
func (s *span) EndTime() time.Time                          { return s.end }
func (s *span) Attributes() []attribute.KeyValue            { return s.attrs }
func (s *span) Links() []sdktrace.Link                      { return nil }
func (s *span) Events() []sdktrace.Event                    { return s.events }
func (s *span) Status() sdktrace.Status                     { return s.status }
func (s *span) Resource() *resource.Resource                { return s.res }
func (s *span) DroppedAttributes() int                      { return 0 }
func (s *span) DroppedLinks() int                           { return 0 }
func (s *span) DroppedEvents() int                          { return 0 }
func (s *span) ChildSpanCount() int                         { return 0 }
func (s *span) InstrumentationScope() instrumentation.Scope { return *s.scope }

// InstrumentationLibrary returns the instrumentation scope.
//
// Deprecated: use InstrumentationScope (this implements the deprecated
// method of sdktrace.ReadOnlySpan).
func (s *span) InstrumentationLibrary() instrumentation.Library { //nolint:staticcheck // required by the interface
	return *s.scope
}

// buffers are the memory one Write converts into: the spans, one arena of
// attributes that the spans' and events' attribute lists are cut from, one
// arena of events, and the bytes of every input and output, made into one
// string per Write. When the exporter is done with the spans once
// ExportSpans returns (the OTLP exporters encode the request before they
// return), the storage keeps them for the next Write.
type buffers struct {
	spans  []span
	ro     []sdktrace.ReadOnlySpan
	kv     []attribute.KeyValue
	events []sdktrace.Event
	text   []byte
}

// reset drops what the last Write's spans point to, keeping the memory.
func (b *buffers) reset() {
	clear(b.spans)
	clear(b.ro)
	clear(b.kv)
	clear(b.events)
	b.spans, b.ro, b.kv, b.events, b.text = b.spans[:0], b.ro[:0], b.kv[:0], b.events[:0], b.text[:0]
}

// maxAttrs bounds the attributes (of the span and of its exception event)
// fill makes for r.
func maxAttrs(r *fluxloop.Record) int {
	n := 4 + len(r.Metadata) // type, operation, agent or tool name, truncated
	if r.Model != "" {
		n++
	}
	if r.PromptTokens != 0 || r.CompletionTokens != 0 {
		n += 2
	}
	if len(r.Input) > 0 {
		n++
	}
	if len(r.Output) > 0 {
		n++
	}
	if r.StatusMessage != "" {
		n++
	}
	if r.Level != "" && r.Level != fluxloop.LevelInfo {
		n++
	}
	if r.Root {
		n += 3 + len(r.Trace.Metadata) // session, user, tags
	}
	if failed(r) {
		n += 4 // error.type, the event's message, type and stack
	}
	return n
}

func failed(r *fluxloop.Record) bool { return r.Error != "" || r.Level == fluxloop.LevelError }

// convert returns a span per record, in b's memory. Records with a zero
// trace or span id are skipped and reported in the error.
func (s *Storage) convert(b *buffers, recs []fluxloop.Record) ([]sdktrace.ReadOnlySpan, error) {
	// Size the arenas for the whole batch first, so that no append moves
	// what a span already points to, and copy every input and output into
	// one string: the records' bytes are reused once Write returns.
	nkv, nev := 0, 0
	text := b.text[:0]
	for i := range recs {
		r := &recs[i]
		nkv += maxAttrs(r)
		if failed(r) {
			nev++
		}
		text = append(text, r.Input...)
		text = append(text, r.Output...)
	}
	all := string(text)
	b.text = text
	if cap(b.spans) < len(recs) {
		b.spans = make([]span, 0, len(recs))
	}
	if cap(b.kv) < nkv {
		b.kv = make([]attribute.KeyValue, 0, nkv)
	}
	if cap(b.events) < nev {
		b.events = make([]sdktrace.Event, 0, nev)
	}
	spans, kv, events := b.spans[:0], b.kv[:0], b.events[:0]

	var errs []error
	off := 0
	for i := range recs {
		r := &recs[i]
		in := all[off : off+len(r.Input)]
		off += len(r.Input)
		out := all[off : off+len(r.Output)]
		off += len(r.Output)
		if r.TraceID == ([16]byte{}) || r.ID == ([8]byte{}) {
			if len(errs) < 3 {
				errs = append(errs, fmt.Errorf("otlp: observation %q: zero trace or span id", r.Name))
			}
			continue
		}
		spans = append(spans, span{})
		sp := &spans[len(spans)-1]
		kv, events = s.fill(sp, r, in, out, kv, events)
	}
	ro := b.ro[:0]
	for i := range spans {
		ro = append(ro, &spans[i])
	}
	b.spans, b.ro, b.kv, b.events = spans, ro, kv, events
	return ro, errors.Join(errs...)
}

// fill makes sp the span of r, in and out being r's input and output as
// strings. It appends the attributes to kv and its exception event, if any,
// to events, and returns both.
func (s *Storage) fill(sp *span, r *fluxloop.Record, in, out string, kv []attribute.KeyValue, events []sdktrace.Event) ([]attribute.KeyValue, []sdktrace.Event) {
	*sp = span{
		name: r.Name,
		sc: trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: r.TraceID, SpanID: r.ID, TraceFlags: trace.FlagsSampled,
		}),
		kind: trace.SpanKindInternal,
		// in UTC, without the monotonic reading, as the JSONL records
		start: r.Start.UTC(),
		end:   r.End.UTC(),
		res:   s.res,
		scope: &s.scope,
	}
	if r.ParentID != ([8]byte{}) {
		sp.parent = trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: r.TraceID, SpanID: r.ParentID, TraceFlags: trace.FlagsSampled,
			// a run's root with a parent continues another process's or
			// tracer's span
			Remote: r.Root,
		})
	}
	if sp.end.Before(sp.start) {
		sp.end = sp.start
	}

	// gen_ai.* metadata wins over the defaults
	var hasOp, hasAgent, hasTool, hasModel bool
	for _, f := range r.Metadata {
		switch f.Key {
		case keyOperation:
			hasOp = true
		case keyAgentName:
			hasAgent = true
		case keyToolName:
			hasTool = true
		case keyRequestModel:
			hasModel = true
		}
	}

	a := attrBuilder{max: s.maxValue, kv: kv}
	start := len(a.kv)
	a.kv = append(a.kv, attribute.String(keyType, string(r.Type)))
	switch r.Type {
	case fluxloop.TypeAgent:
		if !hasOp {
			a.kv = append(a.kv, attribute.String(keyOperation, "invoke_agent"))
		}
		if !hasAgent {
			a.kv = append(a.kv, attribute.String(keyAgentName, r.Name))
		}
	case fluxloop.TypeTool:
		if !hasOp {
			a.kv = append(a.kv, attribute.String(keyOperation, "execute_tool"))
		}
		if !hasTool {
			a.kv = append(a.kv, attribute.String(keyToolName, r.Name))
		}
	case fluxloop.TypeGeneration:
		sp.kind = trace.SpanKindClient
		if !hasOp {
			a.kv = append(a.kv, attribute.String(keyOperation, "chat"))
		}
	}
	if r.Model != "" && !hasModel {
		a.kv = append(a.kv, attribute.String(keyRequestModel, r.Model))
	}
	if r.PromptTokens != 0 || r.CompletionTokens != 0 {
		a.kv = append(a.kv,
			attribute.Int(keyInputTokens, r.PromptTokens),
			attribute.Int(keyOutputTokens, r.CompletionTokens))
	}
	if len(in) > 0 {
		a.str(keyInput, in)
	}
	if len(out) > 0 {
		a.str(keyOutput, out)
	}
	if r.Type == fluxloop.TypeGeneration && s.genAIContent {
		c := genAIFromRecord(in, out)
		for _, kv := range [...][2]string{{keySystemInstructions, c.system}, {keyInputMessages, c.input}, {keyOutputMessages, c.output}, {keyToolDefinitions, c.tools}} {
			if kv[1] != "" {
				a.str(kv[0], kv[1])
			}
		}
	}
	if r.StatusMessage != "" {
		a.str(keyStatusMessage, r.StatusMessage)
	}
	if r.Level != "" && r.Level != fluxloop.LevelInfo && r.Level != fluxloop.LevelError {
		a.kv = append(a.kv, attribute.String(keyLevel, string(r.Level)))
	}

	// metadata, in key order (as the record has it) so that spans are
	// reproducible
	var errorType, traceback string
	truncated := false
	for _, f := range r.Metadata {
		k, v := f.Key, f.Value
		switch k {
		case mdFilePath:
			if p, ok := v.(string); ok {
				a.kv = append(a.kv, attribute.String(keyFilePath, p))
				continue
			}
		case mdLineNo:
			if n, ok := asInt(v); ok {
				a.kv = append(a.kv, attribute.Int64(keyLineNumber, n))
				continue
			}
		case mdErrorType:
			if t, ok := v.(string); ok {
				errorType = t
				continue
			}
		case mdTraceback:
			if t, ok := v.(string); ok {
				traceback = t
				continue
			}
		case mdTruncated:
			if b, ok := v.(bool); ok {
				truncated = truncated || b
				continue
			}
		}
		if len(k) > len(prefixGenAI) && k[:len(prefixGenAI)] == prefixGenAI || semconvKeys[k] {
			a.value(k, v)
		} else if k == keyErrorType {
			if t, ok := v.(string); ok && t != "" { // the provider's error type (fluxloopllm)
				errorType = t
			}
		} else {
			a.value(s.keys.get(prefixMetadata, k), v)
		}
	}

	if r.Root {
		tr := &r.Trace
		if tr.SessionID != "" {
			a.str(keySessionID, tr.SessionID)
		}
		if tr.UserID != "" {
			a.str(keyUserID, tr.UserID)
		}
		if len(tr.Tags) > 0 {
			a.kv = append(a.kv, attribute.StringSlice(keyTags, tr.Tags))
		}
		for _, f := range tr.Metadata { // sorted by key
			if f.Key != "service_name" && f.Key != "environment" { // in the resource
				a.value(s.keys.get(prefixTraceMeta, f.Key), f.Value)
			}
		}
	}

	fail := failed(r)
	var msg string
	if fail {
		msg = a.cut(r.Error)
		sp.status = sdktrace.Status{Code: codes.Error, Description: msg}
		if errorType == "" {
			errorType = "error"
		}
		a.kv = append(a.kv, attribute.String(keyErrorType, errorType))
	} else {
		// an error_type or traceback without an error: keep them visible
		if errorType != "" {
			a.str(prefixMetadata+mdErrorType, errorType)
		}
		if traceback != "" {
			a.str(prefixMetadata+mdTraceback, traceback)
		}
	}
	if fail && traceback != "" {
		traceback = a.cut(traceback) // before the span's fluxloop.truncated
	}
	if truncated || a.truncated {
		a.kv = append(a.kv, attribute.Bool(keyTruncated, true))
	}
	kv = a.kv
	sp.attrs = kv[start:len(kv):len(kv)]
	if fail {
		start = len(kv)
		kv = append(kv,
			attribute.String(keyExceptionMsg, msg),
			attribute.String(keyExceptionType, errorType))
		if traceback != "" {
			kv = append(kv, attribute.String(keyExceptionSt, traceback))
		}
		events = append(events, sdktrace.Event{Name: "exception", Attributes: kv[start:len(kv):len(kv)], Time: sp.end})
		sp.events = events[len(events)-1 : len(events) : len(events)]
	}
	return kv, events
}

// keyCache makes the attribute keys of metadata entries (a prefix and the
// entry's key) once per key rather than once per span. It holds at most
// maxCachedKeys keys; past that, keys are made each time.
type keyCache struct {
	m map[[2]string]string
}

const maxCachedKeys = 1024

func (c *keyCache) get(prefix, key string) string {
	k := [2]string{prefix, key}
	if v, ok := c.m[k]; ok {
		return v
	}
	v := prefix + key
	if c.m == nil {
		c.m = make(map[[2]string]string)
	}
	if len(c.m) < maxCachedKeys {
		c.m[k] = v
	}
	return v
}

// attrBuilder collects attributes, cutting long strings.
type attrBuilder struct {
	kv        []attribute.KeyValue
	max       int
	truncated bool
}

// cut bounds s to a.max bytes at a UTF-8 boundary, marking the cut.
func (a *attrBuilder) cut(s string) string {
	if a.max <= 0 || len(s) <= a.max {
		return s
	}
	n := a.max
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	a.truncated = true
	return s[:n] + "…(truncated " + strconv.Itoa(len(s)-n) + " bytes)"
}

func (a *attrBuilder) str(key, s string) {
	a.kv = append(a.kv, attribute.String(key, a.cut(s)))
}

// value adds a metadata value: scalars as themselves, string slices as
// string slices, anything else as its JSON text.
func (a *attrBuilder) value(key string, v any) {
	switch x := v.(type) {
	case nil:
		a.kv = append(a.kv, attribute.String(key, "null"))
	case string:
		a.str(key, x)
	case bool:
		a.kv = append(a.kv, attribute.Bool(key, x))
	case int:
		a.kv = append(a.kv, attribute.Int(key, x))
	case int64:
		a.kv = append(a.kv, attribute.Int64(key, x))
	case int32:
		a.kv = append(a.kv, attribute.Int64(key, int64(x)))
	case uint64:
		if x <= math.MaxInt64 {
			a.kv = append(a.kv, attribute.Int64(key, int64(x)))
		} else {
			a.kv = append(a.kv, attribute.String(key, strconv.FormatUint(x, 10)))
		}
	case float64:
		a.kv = append(a.kv, attribute.Float64(key, x))
	case float32:
		a.kv = append(a.kv, attribute.Float64(key, float64(x)))
	case json.Number:
		a.number(key, string(x))
	case json.RawMessage:
		a.rawJSON(key, x)
	case []string:
		a.kv = append(a.kv, attribute.StringSlice(key, x))
	case time.Time:
		a.kv = append(a.kv, attribute.String(key, x.UTC().Format(time.RFC3339Nano)))
	case fmt.Stringer:
		a.str(key, x.String())
	default:
		b, err := json.Marshal(x)
		if err != nil {
			a.str(key, fmt.Sprint(x))
			return
		}
		a.str(key, string(b))
	}
}

// number adds a JSON number: an integer as an int64, else a float64, else
// its text.
func (a *attrBuilder) number(key, s string) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		a.kv = append(a.kv, attribute.Int64(key, n))
	} else if f, err := strconv.ParseFloat(s, 64); err == nil {
		a.kv = append(a.kv, attribute.Float64(key, f))
	} else {
		a.str(key, s)
	}
}

// rawJSON adds a JSON value: a JSON string, number or boolean as the scalar,
// anything else (objects, arrays) as its text. raw's bytes are the record's,
// reused after Write: every string made from them is a copy.
func (a *attrBuilder) rawJSON(key string, raw json.RawMessage) {
	if len(raw) > 0 {
		switch raw[0] {
		case '"':
			// without escapes, the string is the text between the quotes
			if len(raw) >= 2 && raw[len(raw)-1] == '"' {
				if body := raw[1 : len(raw)-1]; bytes.IndexByte(body, '\\') < 0 && bytes.IndexByte(body, '"') < 0 && utf8.Valid(body) {
					a.str(key, string(body))
					return
				}
			}
			var s string
			if json.Unmarshal(raw, &s) == nil {
				a.str(key, s)
				return
			}
		case 't', 'f':
			var b bool
			if json.Unmarshal(raw, &b) == nil {
				a.kv = append(a.kv, attribute.Bool(key, b))
				return
			}
		case 'n':
			a.kv = append(a.kv, attribute.String(key, "null"))
			return
		case '[':
			// a list of strings (gen_ai.response.finish_reasons, say) as a
			// string slice attribute
			var ss []string
			if json.Unmarshal(raw, &ss) == nil {
				a.kv = append(a.kv, attribute.StringSlice(key, ss))
				return
			}
		default:
			if raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9') {
				a.number(key, string(raw))
				return
			}
		}
	}
	a.str(key, string(raw))
}

// asInt reads a line number as fluxloop writes it (int, int64) or JSON
// decodes it (float64, json.Number).
func asInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case int64:
		return x, true
	case int32:
		return int64(x), true
	case uint64:
		return int64(x), x <= math.MaxInt64
	case float64:
		return int64(x), x == math.Trunc(x)
	case json.Number:
		n, err := x.Int64()
		return n, err == nil
	}
	return 0, false
}
