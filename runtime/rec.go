package fluxloop

import (
	"encoding/hex"
	"encoding/json"
	"time"
)

// Record is one finished observation as the client's writer hands it to a
// Storage: typed ids and times, inputs and outputs already encoded as JSON.
// When Root is true it also carries its run's trace record (Trace). The
// JSONL storages write it with AppendJSON and AppendTraceJSON; the otlp
// storage converts it to a span without text round trips.
//
// Records passed to Storage.Write, and the memory their slices and strings
// point to, are valid only during that call: a storage that keeps them
// copies what it keeps (Clone does).
type Record struct {
	// TraceID is the 128-bit trace id (an OpenTelemetry trace id).
	TraceID [16]byte
	// ID is the observation's 64-bit id (an OpenTelemetry span id).
	ID [8]byte
	// ParentID is the parent observation's id: zero for the root of a run,
	// unless the run continues a remote parent (ContextWithRemoteParent).
	ParentID [8]byte
	// Root says the observation is its run's root in this process: the
	// storage records Trace too.
	Root bool

	Type       ObservationType
	Name       string
	Start, End time.Time
	// Input is a JSON object from parameter name to value, nil when not
	// captured; Output is the single result or a JSON array of several, nil
	// when not captured.
	Input, Output json.RawMessage
	// Error is the error message (an error's Error(), a panic's value);
	// Level is LevelError when the observation failed, else LevelInfo.
	Error         string
	Level         Level
	StatusMessage string
	// Metadata is sorted by key, each key once: code.filepath and
	// code.lineno when known, user attributes, error_type and traceback for
	// errors and panics, fluxloop.truncated when a value was cut. Values are
	// nil, bool, int, int64, uint64, float64, string or json.RawMessage.
	Metadata []Field
	// Model and the token counts are set on generations (SetUsage).
	Model                          string
	PromptTokens, CompletionTokens int

	// Trace holds the run's own fields when Root is true.
	Trace TraceFields

	// Encodings the writer made once per site and reuses; AppendJSON uses
	// them when set, and the fields above otherwise.
	head   []byte // `,"type":…,"name":…` of Type and Name
	mdJSON []byte // Metadata as a JSON object
}

// TraceFields are the fields of a run's trace record besides those it
// shares with its root observation (id, name, times, input, output, error).
type TraceFields struct {
	// Metadata is sorted by key: service_name and environment when
	// configured, then what SetTrace added.
	Metadata  []Field
	Tags      []string
	SessionID string
	UserID    string
}

// Field is a key and a value of metadata.
type Field struct {
	Key   string
	Value any
}

// TotalTokens is the sum of the prompt and completion tokens.
func (r *Record) TotalTokens() int { return r.PromptTokens + r.CompletionTokens }

// Clone returns a copy of r that shares no memory with it, for a storage
// that keeps records after Write returns.
func (r *Record) Clone() Record {
	c := *r
	c.Input = cloneBytes(r.Input)
	c.Output = cloneBytes(r.Output)
	c.Metadata = cloneFields(r.Metadata)
	c.Trace.Metadata = cloneFields(r.Trace.Metadata)
	c.Trace.Tags = append([]string(nil), r.Trace.Tags...)
	c.head, c.mdJSON = nil, nil
	return c
}

func cloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}

func cloneFields(fs []Field) []Field {
	if fs == nil {
		return nil
	}
	out := make([]Field, len(fs))
	for i, f := range fs {
		if raw, ok := f.Value.(json.RawMessage); ok {
			f.Value = json.RawMessage(cloneBytes(raw))
		}
		out[i] = f
	}
	return out
}

// Observation returns r in the read model of observations.jsonl.
func (r *Record) Observation() Observation {
	o := Observation{
		ID:               hex.EncodeToString(r.ID[:]),
		TraceID:          hex.EncodeToString(r.TraceID[:]),
		Type:             r.Type,
		Name:             r.Name,
		StartTime:        r.Start.UTC(),
		EndTime:          r.End.UTC(),
		Input:            cloneBytes(r.Input),
		Output:           cloneBytes(r.Output),
		Error:            r.Error,
		Level:            r.Level,
		StatusMessage:    r.StatusMessage,
		Metadata:         fieldsMap(r.Metadata),
		Model:            r.Model,
		PromptTokens:     r.PromptTokens,
		CompletionTokens: r.CompletionTokens,
		TotalTokens:      r.TotalTokens(),
	}
	if r.ParentID != ([8]byte{}) {
		o.ParentObservationID = hex.EncodeToString(r.ParentID[:])
	}
	return o
}

// TraceRecord returns the trace record of a root r in the read model of
// traces.jsonl.
func (r *Record) TraceRecord() Trace {
	return Trace{
		ID:        hex.EncodeToString(r.TraceID[:]),
		Name:      r.Name,
		StartTime: r.Start.UTC(),
		EndTime:   r.End.UTC(),
		Input:     cloneBytes(r.Input),
		Output:    cloneBytes(r.Output),
		Error:     r.Error,
		Metadata:  fieldsMap(r.Trace.Metadata),
		Tags:      append([]string(nil), r.Trace.Tags...),
		SessionID: r.Trace.SessionID,
		UserID:    r.Trace.UserID,
	}
}

func fieldsMap(fs []Field) map[string]any {
	if len(fs) == 0 {
		return nil
	}
	m := make(map[string]any, len(fs))
	for _, f := range fs {
		if raw, ok := f.Value.(json.RawMessage); ok {
			f.Value = json.RawMessage(cloneBytes(raw))
		}
		m[f.Key] = f.Value
	}
	return m
}
