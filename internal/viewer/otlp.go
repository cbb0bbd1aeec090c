package viewer

import (
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"github.com/fluxloop/fluxloop-go/runtime/tracefile"
)

// OTLP/HTTP JSON (opentelemetry-proto's ExportTraceServiceRequest as
// protobuf's JSON mapping: ids in hex, 64-bit integers as strings or
// numbers).
type otlpRequest struct {
	ResourceSpans []struct {
		Resource struct {
			Attributes []otlpKeyValue `json:"attributes"`
		} `json:"resource"`
		ScopeSpans []struct {
			Spans []otlpSpan `json:"spans"`
		} `json:"scopeSpans"`
	} `json:"resourceSpans"`
}

type otlpSpan struct {
	TraceID      string         `json:"traceId"`
	SpanID       string         `json:"spanId"`
	ParentSpanID string         `json:"parentSpanId"`
	Name         string         `json:"name"`
	Start        otlpUint       `json:"startTimeUnixNano"`
	End          otlpUint       `json:"endTimeUnixNano"`
	Attributes   []otlpKeyValue `json:"attributes"`
	Events       []struct {
		Name       string         `json:"name"`
		Attributes []otlpKeyValue `json:"attributes"`
	} `json:"events"`
	Status struct {
		Code    json.RawMessage `json:"code"`
		Message string          `json:"message"`
	} `json:"status"`
}

type otlpKeyValue struct {
	Key   string    `json:"key"`
	Value otlpValue `json:"value"`
}

type otlpValue struct {
	String *string   `json:"stringValue"`
	Bool   *bool     `json:"boolValue"`
	Int    *otlpUint `json:"intValue"`
	Double *float64  `json:"doubleValue"`
	Bytes  *string   `json:"bytesValue"`
	Array  *struct {
		Values []otlpValue `json:"values"`
	} `json:"arrayValue"`
	KVList *struct {
		Values []otlpKeyValue `json:"values"`
	} `json:"kvlistValue"`
}

// otlpUint reads a 64-bit integer written as a string or a number.
type otlpUint struct {
	n   int64
	set bool
}

func (u *otlpUint) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		un, uerr := strconv.ParseUint(s, 10, 64)
		if uerr != nil {
			return fmt.Errorf("not an integer: %s", b)
		}
		n = int64(min(un, math.MaxInt64))
	}
	u.n, u.set = n, true
	return nil
}

func (v otlpValue) value() any {
	switch {
	case v.String != nil:
		return *v.String
	case v.Bool != nil:
		return *v.Bool
	case v.Int != nil:
		return v.Int.n
	case v.Double != nil:
		return *v.Double
	case v.Bytes != nil:
		return *v.Bytes
	case v.Array != nil:
		out := make([]any, len(v.Array.Values))
		for i, e := range v.Array.Values {
			out[i] = e.value()
		}
		return out
	case v.KVList != nil:
		out := make(map[string]any, len(v.KVList.Values))
		for _, kv := range v.KVList.Values {
			out[kv.Key] = kv.Value.value()
		}
		return out
	}
	return nil
}

// otlpID reads an id: hex, as the JSON mapping of OTLP writes it, or
// base64, as protobuf's generic JSON mapping writes bytes.
func otlpID(s string, n int) (string, bool) {
	if len(s) == 2*n {
		if _, err := strconv.ParseUint(s[:min(len(s), 16)], 16, 64); err == nil {
			return strings.ToLower(s), true
		}
	}
	if b, err := base64.StdEncoding.DecodeString(s); err == nil && len(b) == n {
		return fmt.Sprintf("%x", b), true
	}
	return "", false
}

// otlp accepts POST /v1/traces with an OTLP/HTTP JSON body: each span
// becomes an observation, each root span also a trace line.
func (h *Handler) otlp(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		writeError(w, http.StatusUnsupportedMediaType, fmt.Errorf("content type %q: this receiver takes OTLP/HTTP JSON only (application/json; set OTEL_EXPORTER_OTLP_PROTOCOL=http/json)", ct))
		return
	}
	var body io.Reader = http.MaxBytesReader(w, r.Body, 64<<20)
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(body)
		if err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		body = zr
	}
	var req otlpRequest
	dec := json.NewDecoder(body)
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("OTLP JSON: %w", err))
		return
	}
	recs, rejected, err := otlpRecords(&req)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	h.ix.Apply(tracefile.Update{Records: recs})
	w.Header().Set("Content-Type", "application/json")
	if rejected > 0 {
		fmt.Fprintf(w, `{"partialSuccess":{"rejectedSpans":"%d","errorMessage":"spans without a valid traceId or spanId"}}`+"\n", rejected)
		return
	}
	io.WriteString(w, "{}\n")
}

// otlpRecords turns the spans into records held in memory.
func otlpRecords(req *otlpRequest) ([]tracefile.Record, int, error) {
	var recs []tracefile.Record
	rejected := 0
	for _, rs := range req.ResourceSpans {
		service := ""
		for _, kv := range rs.Resource.Attributes {
			if kv.Key == "service.name" {
				service, _ = kv.Value.value().(string)
			}
		}
		for _, ss := range rs.ScopeSpans {
			for i := range ss.Spans {
				o, tr, ok := otlpObservation(&ss.Spans[i], service)
				if !ok {
					rejected++
					continue
				}
				b, err := json.Marshal(o)
				if err != nil {
					return nil, 0, err
				}
				recs = append(recs, tracefile.Record{Kind: tracefile.KindObservation, Observation: o, Raw: b})
				if tr != nil {
					b, err := json.Marshal(tr)
					if err != nil {
						return nil, 0, err
					}
					recs = append(recs, tracefile.Record{Kind: tracefile.KindTrace, Trace: tr, Raw: b})
				}
			}
		}
	}
	return recs, rejected, nil
}

func jsonValue(v any) json.RawMessage {
	s, ok := v.(string)
	if !ok {
		b, _ := json.Marshal(v)
		return b
	}
	if json.Valid([]byte(s)) {
		return json.RawMessage(s)
	}
	b, _ := json.Marshal(s)
	return b
}

func otlpObservation(sp *otlpSpan, service string) (*fluxloop.Observation, *fluxloop.Trace, bool) {
	traceID, ok1 := otlpID(sp.TraceID, 16)
	spanID, ok2 := otlpID(sp.SpanID, 8)
	if !ok1 || !ok2 {
		return nil, nil, false
	}
	parent := ""
	if sp.ParentSpanID != "" {
		parent, _ = otlpID(sp.ParentSpanID, 8)
	}
	o := &fluxloop.Observation{
		ID: spanID, TraceID: traceID, ParentObservationID: parent, Name: sp.Name,
		Type:      fluxloop.TypeSpan,
		StartTime: time.Unix(0, sp.Start.n).UTC(),
		EndTime:   time.Unix(0, sp.End.n).UTC(),
		Level:     fluxloop.LevelInfo,
	}
	var tr *fluxloop.Trace
	if parent == "" {
		tr = &fluxloop.Trace{ID: traceID, Name: sp.Name, StartTime: o.StartTime, EndTime: o.EndTime}
		if service != "" {
			tr.Metadata = map[string]any{"service_name": service}
		}
	}
	md := map[string]any{}
	var op, inMsgs, outMsgs string
	for _, kv := range sp.Attributes {
		v := kv.Value.value()
		s, _ := v.(string)
		n, isInt := v.(int64)
		switch k := kv.Key; {
		case k == "fluxloop.observation.type":
			o.Type = fluxloop.ObservationType(s)
		case k == "fluxloop.input":
			o.Input = jsonValue(v)
		case k == "fluxloop.output":
			o.Output = jsonValue(v)
		case k == "fluxloop.level":
			o.Level = fluxloop.Level(s)
		case k == "fluxloop.status_message":
			o.StatusMessage = s
		case k == "gen_ai.operation.name":
			op = s
			md[k] = v
		case k == "gen_ai.request.model":
			if o.Model == "" {
				o.Model = s
			}
			md[k] = v
		case k == "gen_ai.response.model":
			o.Model = s
			md[k] = v
		case k == "gen_ai.usage.input_tokens" && isInt:
			o.PromptTokens = int(n)
			md[k] = v
		case k == "gen_ai.usage.output_tokens" && isInt:
			o.CompletionTokens = int(n)
			md[k] = v
		case k == "gen_ai.input.messages":
			inMsgs = s
		case k == "gen_ai.output.messages":
			outMsgs = s
		case k == "code.file.path":
			md["code.filepath"] = v
		case k == "code.line.number":
			md["code.lineno"] = v
		case k == "error.type":
			md["error_type"] = v
		case strings.HasPrefix(k, "fluxloop.metadata."):
			md[strings.TrimPrefix(k, "fluxloop.metadata.")] = v
		case tr != nil && k == "session.id":
			tr.SessionID = s
		case tr != nil && k == "user.id":
			tr.UserID = s
		case tr != nil && k == "fluxloop.trace.tags":
			if list, ok := v.([]any); ok {
				for _, t := range list {
					if ts, ok := t.(string); ok {
						tr.Tags = append(tr.Tags, ts)
					}
				}
			}
		case tr != nil && strings.HasPrefix(k, "fluxloop.trace.metadata."):
			if tr.Metadata == nil {
				tr.Metadata = map[string]any{}
			}
			tr.Metadata[strings.TrimPrefix(k, "fluxloop.trace.metadata.")] = v
		default:
			md[k] = v
		}
	}
	if o.Type == fluxloop.TypeSpan {
		switch op {
		case "chat", "text_completion", "generate_content", "embeddings":
			o.Type = fluxloop.TypeGeneration
		case "execute_tool":
			o.Type = fluxloop.TypeTool
		case "invoke_agent", "create_agent":
			o.Type = fluxloop.TypeAgent
		}
	}
	if o.Input == nil && inMsgs != "" && json.Valid([]byte(inMsgs)) {
		o.Input, _ = json.Marshal(map[string]json.RawMessage{"messages": json.RawMessage(inMsgs)})
	}
	if o.Output == nil && outMsgs != "" && json.Valid([]byte(outMsgs)) {
		o.Output = json.RawMessage(outMsgs)
	}
	if o.PromptTokens+o.CompletionTokens > 0 {
		o.TotalTokens = o.PromptTokens + o.CompletionTokens
	}
	code := strings.Trim(string(sp.Status.Code), `"`)
	if code == "2" || code == "STATUS_CODE_ERROR" {
		o.Error = cmpOr(sp.Status.Message, "error")
		o.Level = fluxloop.LevelError
	}
	for _, ev := range sp.Events {
		if ev.Name != "exception" {
			continue
		}
		for _, kv := range ev.Attributes {
			s, _ := kv.Value.value().(string)
			switch kv.Key {
			case "exception.message":
				if o.Error == "" || o.Error == "error" {
					o.Error = s
				}
			case "exception.type":
				md["error_type"] = s
			case "exception.stacktrace":
				md["traceback"] = s
			}
		}
		if o.Error == "" {
			o.Error = "exception"
		}
		o.Level = fluxloop.LevelError
	}
	if len(md) > 0 {
		o.Metadata = md
	}
	if tr != nil {
		tr.Input, tr.Output, tr.Error = o.Input, o.Output, o.Error
	}
	return o, tr, true
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
