package otlp

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
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
)

// fluxloop metadata keys with a meaning of their own.
const (
	mdFilePath  = "code.filepath"
	mdLineNo    = "code.lineno"
	mdErrorType = "error_type"
	mdTraceback = "traceback"
	mdTruncated = "fluxloop.truncated"
)

// rootKey identifies the root observation of a Trace record.
type rootKey struct {
	traceID, name string
	start         int64
}

// convert appends a span per observation of b to dst.
func (s *Storage) convert(dst []sdktrace.ReadOnlySpan, b fluxloop.Batch) ([]sdktrace.ReadOnlySpan, error) {
	var roots map[rootKey]*fluxloop.Trace
	if len(b.Traces) > 0 {
		roots = make(map[rootKey]*fluxloop.Trace, len(b.Traces))
		for i := range b.Traces {
			t := &b.Traces[i]
			roots[rootKey{t.ID, t.Name, t.StartTime.UnixNano()}] = t
		}
	}
	var errs []error
	for i := range b.Observations {
		o := &b.Observations[i]
		var tr *fluxloop.Trace
		if roots != nil {
			tr = roots[rootKey{o.TraceID, o.Name, o.StartTime.UnixNano()}]
		}
		stub, err := s.stub(o, tr)
		if err != nil {
			if len(errs) < 3 {
				errs = append(errs, err)
			}
			continue
		}
		dst = append(dst, stub.Snapshot())
	}
	return dst, errors.Join(errs...)
}

// stub makes the span of observation o, tr being its trace's record when o
// is the root of a run (nil otherwise).
func (s *Storage) stub(o *fluxloop.Observation, tr *fluxloop.Trace) (tracetest.SpanStub, error) {
	var traceID trace.TraceID
	var spanID trace.SpanID
	if err := decodeID(traceID[:], o.TraceID); err != nil {
		return tracetest.SpanStub{}, fmt.Errorf("otlp: observation %q: trace_id: %w", o.Name, err)
	}
	if err := decodeID(spanID[:], o.ID); err != nil {
		return tracetest.SpanStub{}, fmt.Errorf("otlp: observation %q: id: %w", o.Name, err)
	}
	st := tracetest.SpanStub{
		Name: o.Name,
		SpanContext: trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: traceID, SpanID: spanID, TraceFlags: trace.FlagsSampled,
		}),
		SpanKind:             trace.SpanKindInternal,
		StartTime:            o.StartTime,
		EndTime:              o.EndTime,
		Resource:             s.res,
		InstrumentationScope: s.scope,
	}
	if o.ParentObservationID != "" {
		var parentID trace.SpanID
		if err := decodeID(parentID[:], o.ParentObservationID); err != nil {
			return tracetest.SpanStub{}, fmt.Errorf("otlp: observation %q: parent_observation_id: %w", o.Name, err)
		}
		st.Parent = trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: traceID, SpanID: parentID, TraceFlags: trace.FlagsSampled,
			// a run's root with a parent continues another process's or
			// tracer's span
			Remote: tr != nil,
		})
	}
	if st.EndTime.Before(st.StartTime) {
		st.EndTime = st.StartTime
	}

	a := attrBuilder{max: s.maxValue, kv: make([]attribute.KeyValue, 0, 12+len(o.Metadata))}
	a.kv = append(a.kv, attribute.String(keyType, string(o.Type)))
	md := o.Metadata
	override := func(key string) bool { _, ok := md[key]; return ok }
	switch o.Type {
	case fluxloop.TypeAgent:
		if !override(keyOperation) {
			a.kv = append(a.kv, attribute.String(keyOperation, "invoke_agent"))
		}
		if !override(keyAgentName) {
			a.kv = append(a.kv, attribute.String(keyAgentName, o.Name))
		}
	case fluxloop.TypeTool:
		if !override(keyOperation) {
			a.kv = append(a.kv, attribute.String(keyOperation, "execute_tool"))
		}
		if !override(keyToolName) {
			a.kv = append(a.kv, attribute.String(keyToolName, o.Name))
		}
	case fluxloop.TypeGeneration:
		st.SpanKind = trace.SpanKindClient
		if !override(keyOperation) {
			a.kv = append(a.kv, attribute.String(keyOperation, "chat"))
		}
	}
	if o.Model != "" && !override(keyRequestModel) {
		a.kv = append(a.kv, attribute.String(keyRequestModel, o.Model))
	}
	if o.PromptTokens != 0 || o.CompletionTokens != 0 {
		a.kv = append(a.kv,
			attribute.Int(keyInputTokens, o.PromptTokens),
			attribute.Int(keyOutputTokens, o.CompletionTokens))
	}
	if len(o.Input) > 0 {
		a.str(keyInput, string(o.Input))
	}
	if len(o.Output) > 0 {
		a.str(keyOutput, string(o.Output))
	}
	if o.StatusMessage != "" {
		a.str(keyStatusMessage, o.StatusMessage)
	}
	if o.Level != "" && o.Level != fluxloop.LevelInfo && o.Level != fluxloop.LevelError {
		a.kv = append(a.kv, attribute.String(keyLevel, string(o.Level)))
	}

	// metadata, in key order so that spans are reproducible
	keys := make([]string, 0, len(md))
	for k := range md {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var errorType, traceback string
	truncated := false
	for _, k := range keys {
		v := md[k]
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
		if len(k) > len("gen_ai.") && k[:len("gen_ai.")] == "gen_ai." {
			a.value(k, v)
		} else {
			a.value(prefixMetadata+k, v)
		}
	}

	if tr != nil {
		if tr.SessionID != "" {
			a.str(keySessionID, tr.SessionID)
		}
		if tr.UserID != "" {
			a.str(keyUserID, tr.UserID)
		}
		if len(tr.Tags) > 0 {
			a.kv = append(a.kv, attribute.StringSlice(keyTags, tr.Tags))
		}
		tkeys := make([]string, 0, len(tr.Metadata))
		for k := range tr.Metadata {
			if k != "service_name" && k != "environment" { // in the resource
				tkeys = append(tkeys, k)
			}
		}
		sort.Strings(tkeys)
		for _, k := range tkeys {
			a.value(prefixTraceMeta+k, tr.Metadata[k])
		}
	}

	if o.Error != "" || o.Level == fluxloop.LevelError {
		msg := a.cut(o.Error)
		st.Status = sdktrace.Status{Code: codes.Error, Description: msg}
		if errorType == "" {
			errorType = "error"
		}
		a.kv = append(a.kv, attribute.String(keyErrorType, errorType))
		ev := []attribute.KeyValue{
			attribute.String(keyExceptionMsg, msg),
			attribute.String(keyExceptionType, errorType),
		}
		if traceback != "" {
			ev = append(ev, attribute.String(keyExceptionSt, a.cut(traceback)))
		}
		st.Events = []sdktrace.Event{{Name: "exception", Attributes: ev, Time: st.EndTime}}
	} else {
		// an error_type or traceback without an error: keep them visible
		if errorType != "" {
			a.str(prefixMetadata+mdErrorType, errorType)
		}
		if traceback != "" {
			a.str(prefixMetadata+mdTraceback, traceback)
		}
	}
	if truncated || a.truncated {
		a.kv = append(a.kv, attribute.Bool(keyTruncated, true))
	}
	st.Attributes = a.kv
	return st, nil
}

// decodeID decodes a lowercase hex id of exactly len(dst) bytes, not zero.
func decodeID(dst []byte, s string) error {
	if len(s) != 2*len(dst) {
		return fmt.Errorf("%q is not %d hex digits", s, 2*len(dst))
	}
	if _, err := hex.Decode(dst, []byte(s)); err != nil {
		return fmt.Errorf("%q is not hex: %w", s, err)
	}
	for _, b := range dst {
		if b != 0 {
			return nil
		}
	}
	return fmt.Errorf("%q is all zeros", s)
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
		if n, err := x.Int64(); err == nil {
			a.kv = append(a.kv, attribute.Int64(key, n))
		} else if f, err := x.Float64(); err == nil {
			a.kv = append(a.kv, attribute.Float64(key, f))
		} else {
			a.str(key, x.String())
		}
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

// rawJSON adds a JSON value: a JSON string, number or boolean as the scalar,
// anything else (objects, arrays) as its text.
func (a *attrBuilder) rawJSON(key string, raw json.RawMessage) {
	if len(raw) > 0 {
		switch raw[0] {
		case '"':
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
		default:
			if raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9') {
				a.value(key, json.Number(raw))
				return
			}
		}
	}
	a.str(key, string(raw))
}

// asInt reads a line number as fluxloop writes it (int) or JSON decodes it
// (float64, json.Number).
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
