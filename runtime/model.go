package fluxloop

import (
	"encoding/json"
	"time"
)

// Observation is one finished observation as storages receive it and as it
// is written to observations.jsonl (FluxLoop's observation schema, snake_case
// JSON). Tests read them from fluxlooptest or a MemoryStorage.
type Observation struct {
	// ID is 16 lowercase hex digits (64 bits, an OpenTelemetry span id).
	ID string `json:"id"`
	// TraceID is 32 lowercase hex digits (128 bits, an OpenTelemetry trace
	// id).
	TraceID string `json:"trace_id"`
	// ParentObservationID is the parent's ID, empty (omitted) for a root.
	ParentObservationID string          `json:"parent_observation_id,omitempty"`
	Type                ObservationType `json:"type"`
	Name                string          `json:"name"`
	// StartTime and EndTime are UTC; JSON has RFC 3339 with nanoseconds.
	StartTime time.Time `json:"start_time"`
	EndTime   time.Time `json:"end_time"`
	// Input is a JSON object from parameter name to value, absent when not
	// captured.
	Input json.RawMessage `json:"input,omitempty"`
	// Output is the single result, or a JSON array of several, absent when
	// not captured.
	Output json.RawMessage `json:"output,omitempty"`
	// Error is the error message (an error's Error(), a panic's value).
	Error string `json:"error,omitempty"`
	// Level is LevelError when Error is set, else LevelInfo.
	Level         Level  `json:"level"`
	StatusMessage string `json:"status_message,omitempty"`
	// Metadata holds code.filepath and code.lineno when known, user
	// attributes, error_type and traceback for errors and panics, and
	// fluxloop.truncated when a value was cut. Values written by fluxloop are
	// nil, bool, int, int64, uint64, float64, string or json.RawMessage; read
	// back from JSON they are what encoding/json decodes.
	Metadata map[string]any `json:"metadata,omitempty"`
	// Model and the token counts are set on generations (SetUsage).
	Model            string `json:"model,omitempty"`
	PromptTokens     int    `json:"prompt_tokens,omitempty"`
	CompletionTokens int    `json:"completion_tokens,omitempty"`
	TotalTokens      int    `json:"total_tokens,omitempty"`
}

// Trace is one run: written to traces.jsonl when its root observation ends,
// with FluxLoop's trace fields.
type Trace struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	StartTime time.Time       `json:"start_time"`
	EndTime   time.Time       `json:"end_time"`
	Input     json.RawMessage `json:"input,omitempty"`
	Output    json.RawMessage `json:"output,omitempty"`
	Error     string          `json:"error,omitempty"`
	// Metadata holds service_name and environment when configured, and the
	// metadata given to SetTrace.
	Metadata  map[string]any `json:"metadata,omitempty"`
	Tags      []string       `json:"tags,omitempty"`
	SessionID string         `json:"session_id,omitempty"`
	UserID    string         `json:"user_id,omitempty"`
}

// AppendJSON appends o as one JSON object (no newline) to b. It is what the
// file and stdout storages write; it is several times faster than
// encoding/json and produces the same fields.
func (o *Observation) AppendJSON(b []byte) []byte {
	return o.appendJSON(b, "")
}

func (o *Observation) appendJSON(b []byte, record string) []byte {
	b = append(b, '{')
	if record != "" {
		b = append(b, `"record":`...)
		b = appendString(b, record)
		b = append(b, ',')
	}
	b = append(b, `"id":`...)
	b = appendString(b, o.ID)
	b = append(b, `,"trace_id":`...)
	b = appendString(b, o.TraceID)
	if o.ParentObservationID != "" {
		b = append(b, `,"parent_observation_id":`...)
		b = appendString(b, o.ParentObservationID)
	}
	b = append(b, `,"type":`...)
	b = appendString(b, string(o.Type))
	b = appendRun(b, o.Name, o.StartTime, o.EndTime, o.Input, o.Output, o.Error)
	b = append(b, `,"level":`...)
	b = appendString(b, string(o.Level))
	if o.StatusMessage != "" {
		b = append(b, `,"status_message":`...)
		b = appendString(b, o.StatusMessage)
	}
	if len(o.Metadata) > 0 {
		b = append(b, `,"metadata":`...)
		b = appendMap(b, o.Metadata)
	}
	if o.Model != "" {
		b = append(b, `,"model":`...)
		b = appendString(b, o.Model)
	}
	b = appendIntField(b, `,"prompt_tokens":`, o.PromptTokens)
	b = appendIntField(b, `,"completion_tokens":`, o.CompletionTokens)
	b = appendIntField(b, `,"total_tokens":`, o.TotalTokens)
	return append(b, '}')
}

// MarshalJSON encodes o with AppendJSON.
func (o Observation) MarshalJSON() ([]byte, error) {
	return o.AppendJSON(make([]byte, 0, 512)), nil
}

// AppendJSON appends t as one JSON object (no newline) to b.
func (t *Trace) AppendJSON(b []byte) []byte {
	return t.appendJSON(b, "")
}

func (t *Trace) appendJSON(b []byte, record string) []byte {
	b = append(b, '{')
	if record != "" {
		b = append(b, `"record":`...)
		b = appendString(b, record)
		b = append(b, ',')
	}
	b = append(b, `"id":`...)
	b = appendString(b, t.ID)
	b = appendRun(b, t.Name, t.StartTime, t.EndTime, t.Input, t.Output, t.Error)
	if len(t.Metadata) > 0 {
		b = append(b, `,"metadata":`...)
		b = appendMap(b, t.Metadata)
	}
	if len(t.Tags) > 0 {
		b = append(b, `,"tags":[`...)
		for i, tag := range t.Tags {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, tag)
		}
		b = append(b, ']')
	}
	if t.SessionID != "" {
		b = append(b, `,"session_id":`...)
		b = appendString(b, t.SessionID)
	}
	if t.UserID != "" {
		b = append(b, `,"user_id":`...)
		b = appendString(b, t.UserID)
	}
	return append(b, '}')
}

// MarshalJSON encodes t with AppendJSON.
func (t Trace) MarshalJSON() ([]byte, error) {
	return t.AppendJSON(make([]byte, 0, 256)), nil
}

func appendIntField(b []byte, name string, n int) []byte {
	if n == 0 {
		return b
	}
	b = append(b, name...)
	return appendInt(b, int64(n))
}

// appendRun appends the fields observations and traces share, in their
// order: name, start_time, end_time, input, output, error.
func appendRun(b []byte, name string, start, end time.Time, input, output json.RawMessage, errText string) []byte {
	b = append(b, `,"name":`...)
	b = appendString(b, name)
	b = append(b, `,"start_time":`...)
	b = appendTime(b, start)
	b = append(b, `,"end_time":`...)
	b = appendTime(b, end)
	if len(input) > 0 {
		b = append(b, `,"input":`...)
		b = appendRaw(b, input)
	}
	if len(output) > 0 {
		b = append(b, `,"output":`...)
		b = appendRaw(b, output)
	}
	if errText != "" {
		b = append(b, `,"error":`...)
		b = appendString(b, errText)
	}
	return b
}
