package fluxloop

// ObservationType is the kind of an observation, with FluxLoop's values.
// Generated code sets it from the directive (`//fluxloop:agent` gives
// TypeAgent, `//fluxloop:trace` gives TypeSpan unless told otherwise); users
// set it on manual spans with WithType.
type ObservationType string

// The observation types FluxLoop knows.
const (
	TypeSpan       ObservationType = "span"       // a plain traced function or block (the default)
	TypeAgent      ObservationType = "agent"      // an agent entry point, usually the root of a trace
	TypeChain      ObservationType = "chain"      // a sequence of steps
	TypeTool       ObservationType = "tool"       // a tool call made by an agent
	TypeGeneration ObservationType = "generation" // an LLM call; carries model and token usage
	TypeEvent      ObservationType = "event"      // a point-in-time event
	TypeEvaluation ObservationType = "evaluation" // an evaluation of another observation
)

// Level is the severity of an observation, with FluxLoop's values. An
// observation that records an error has LevelError; others have LevelInfo.
type Level string

// The observation levels FluxLoop knows.
const (
	LevelDebug   Level = "debug"
	LevelInfo    Level = "info"
	LevelWarning Level = "warning"
	LevelError   Level = "error"
)

// Capture says which values an observation records: the function's inputs,
// its outputs, both (the default) or neither. Set it with WithCapture or
// FLUXLOOP_CAPTURE when arguments or results may hold data that must not leave
// the process. Errors are recorded in every mode.
type Capture uint8

// The capture modes; FLUXLOOP_CAPTURE takes their String values.
const (
	CaptureAll    Capture = iota // inputs and outputs (the default)
	CaptureInput                 // inputs only
	CaptureOutput                // outputs only
	CaptureNone                  // neither: only names, times, errors and metadata
)

// String returns the mode's name as FLUXLOOP_CAPTURE spells it.
func (c Capture) String() string {
	switch c {
	case CaptureAll:
		return "all"
	case CaptureInput:
		return "input"
	case CaptureOutput:
		return "output"
	case CaptureNone:
		return "none"
	}
	return "Capture(" + itoa(int64(c)) + ")"
}

func (c Capture) inputs() bool  { return c == CaptureAll || c == CaptureInput }
func (c Capture) outputs() bool { return c == CaptureAll || c == CaptureOutput }
