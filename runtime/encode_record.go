package fluxloop

import "time"

// Encoder writes records as FluxLoop's JSON lines: an observation object
// for observations.jsonl and, for a root, a trace object for traces.jsonl
// (snake_case fields, RFC 3339 times with nine fractional digits, ids in
// lowercase hex). It is the one encoder of the runtime: the file and stdout
// storages and the collector storage use it.
//
// An Encoder remembers the text of the last trace id, parent id and second
// it wrote, which the records of one run share, so reuse one per goroutine;
// it is not safe for concurrent use. The zero value is ready.
type Encoder struct {
	// tag starts each object with a "record" field, "observation" or
	// "trace" (the stdout storage's lines).
	tag bool

	sec     int64
	secText [21]byte // `"2006-01-02T15:04:05.` of sec
	secOK   bool

	trace    [16]byte
	traceHex [32]byte
	traceOK  bool

	parent    [8]byte
	parentHex [16]byte
	parentOK  bool
}

// AppendObservation appends r's observation object (no newline) to b.
func (e *Encoder) AppendObservation(b []byte, r *Record) []byte {
	b = append(b, '{')
	if e.tag {
		b = append(b, `"record":"observation",`...)
	}
	b = append(b, `"id":"`...)
	b = appendHexBytes(b, r.ID[:])
	b = append(b, `","trace_id":"`...)
	b = e.appendTraceID(b, r.TraceID)
	b = append(b, '"')
	if r.ParentID != ([8]byte{}) {
		b = append(b, `,"parent_observation_id":"`...)
		if !e.parentOK || e.parent != r.ParentID {
			appendHexBytes(e.parentHex[:0], r.ParentID[:])
			e.parent, e.parentOK = r.ParentID, true
		}
		b = append(b, e.parentHex[:]...)
		b = append(b, '"')
	}
	if r.head != nil {
		b = append(b, r.head...)
	} else {
		b = appendHead(b, r.Type, r.Name)
	}
	b = e.appendRun(b, r)
	b = append(b, `,"level":`...)
	b = appendString(b, string(r.Level))
	if r.StatusMessage != "" {
		b = append(b, `,"status_message":`...)
		b = appendString(b, r.StatusMessage)
	}
	switch {
	case r.mdJSON != nil:
		b = append(b, `,"metadata":`...)
		b = append(b, r.mdJSON...)
	case len(r.Metadata) > 0:
		b = append(b, `,"metadata":`...)
		b = appendFields(b, r.Metadata)
	}
	if r.Model != "" {
		b = append(b, `,"model":`...)
		b = appendString(b, r.Model)
	}
	b = appendIntField(b, `,"prompt_tokens":`, r.PromptTokens)
	b = appendIntField(b, `,"completion_tokens":`, r.CompletionTokens)
	b = appendIntField(b, `,"total_tokens":`, r.TotalTokens())
	return append(b, '}')
}

// AppendTrace appends the trace object of a root record r (no newline) to
// b: the run's id (the trace id), name, times, input, output and error are
// the root observation's.
func (e *Encoder) AppendTrace(b []byte, r *Record) []byte {
	b = append(b, '{')
	if e.tag {
		b = append(b, `"record":"trace",`...)
	}
	b = append(b, `"id":"`...)
	b = e.appendTraceID(b, r.TraceID)
	b = append(b, `","name":`...)
	b = appendString(b, r.Name)
	b = e.appendRun(b, r)
	t := &r.Trace
	if len(t.Metadata) > 0 {
		b = append(b, `,"metadata":`...)
		b = appendFields(b, t.Metadata)
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

// AppendJSON appends r's observation object (no newline) to b, with a
// fresh Encoder.
func (r *Record) AppendJSON(b []byte) []byte {
	var e Encoder
	return e.AppendObservation(b, r)
}

// appendRun appends the fields observations and traces share after the
// name: start_time, end_time, input, output, error.
func (e *Encoder) appendRun(b []byte, r *Record) []byte {
	b = append(b, `,"start_time":`...)
	b = e.appendTime(b, r.Start)
	b = append(b, `,"end_time":`...)
	b = e.appendTime(b, r.End)
	if len(r.Input) > 0 {
		b = append(b, `,"input":`...)
		b = append(b, r.Input...)
	}
	if len(r.Output) > 0 {
		b = append(b, `,"output":`...)
		b = append(b, r.Output...)
	}
	if r.Error != "" {
		b = append(b, `,"error":`...)
		b = appendString(b, r.Error)
	}
	return b
}

func (e *Encoder) appendTraceID(b []byte, id [16]byte) []byte {
	if !e.traceOK || e.trace != id {
		appendHexBytes(e.traceHex[:0], id[:])
		e.trace, e.traceOK = id, true
	}
	return append(b, e.traceHex[:]...)
}

// appendTime appends t as appendTime does, reusing the text of the date and
// the seconds when t falls in the same second as the previous time.
func (e *Encoder) appendTime(b []byte, t time.Time) []byte {
	sec := t.Unix()
	if !e.secOK || sec != e.sec {
		n := len(b)
		b = appendTime(b, t)
		if len(b)-n == 32 { // years 1..9999: `"YYYY-MM-DDThh:mm:ss.nnnnnnnnnZ"`
			copy(e.secText[:], b[n:n+21])
			e.sec, e.secOK = sec, true
		}
		return b
	}
	var buf [32]byte
	copy(buf[:], e.secText[:])
	ns := t.Nanosecond() // 9 digits: one, then four pairs
	for i := 28; i >= 22; i -= 2 {
		d := ns % 100
		ns /= 100
		buf[i], buf[i+1] = decimalPairs[2*d], decimalPairs[2*d+1]
	}
	buf[21] = byte('0' + ns)
	buf[30] = 'Z'
	buf[31] = '"'
	return append(b, buf[:]...)
}

// decimalPairs holds the two decimal digits of 0..99.
var decimalPairs = func() (t [200]byte) {
	for i := range 100 {
		t[2*i], t[2*i+1] = byte('0'+i/10), byte('0'+i%10)
	}
	return t
}()

// hexPairs holds the two lowercase hex digits of every byte.
var hexPairs = func() (t [512]byte) {
	for i := range 256 {
		t[2*i], t[2*i+1] = hexDigits[i>>4], hexDigits[i&0xf]
	}
	return t
}()

func appendHexBytes(b []byte, id []byte) []byte {
	for _, c := range id {
		b = append(b, hexPairs[2*int(c)], hexPairs[2*int(c)+1])
	}
	return b
}

// appendFields appends metadata as a JSON object in the order given.
func appendFields(b []byte, fs []Field) []byte {
	b = append(b, '{')
	for i, f := range fs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, f.Key)
		b = append(b, ':')
		b = appendAny(b, f.Value)
	}
	return append(b, '}')
}

func appendIntField(b []byte, name string, n int) []byte {
	if n == 0 {
		return b
	}
	b = append(b, name...)
	return appendInt(b, int64(n))
}
