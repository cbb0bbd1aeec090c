package fluxloop

import (
	"encoding/json"
	"time"
)

// Observation is one observation as observations.jsonl holds it (FluxLoop's
// observation schema, snake_case JSON): the read model of a Record, which
// tests get from fluxlooptest or a MemoryStorage and readers decode from the
// file with encoding/json.
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

// Trace is one run as traces.jsonl holds it, written when its root
// observation ends, with FluxLoop's trace fields: the read model of a root
// Record's trace.
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
