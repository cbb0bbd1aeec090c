package fluxloop

import (
	"cmp"
	"slices"
	"strconv"
	"unicode/utf8"
)

// The writer turns a finished span into records in one of two ways, with the
// same content: JSON lines appended straight to a buffer for the built-in
// line storages (file, stdout), which is several times faster, or Observation
// and Trace values for every other Storage. Both start from parts.

// parts is what both encodings need from one span.
type parts struct {
	s         *Span
	x         *spanExt // nil when the span has no extra data
	pos       *sitePos // nil when unknown
	in, out   []byte   // encoded input object and output, nil when absent
	truncated bool
	md        []mdEntry // metadata, sorted by key, unless mdCached
	mdCached  bool      // the metadata is just pos's code.filepath and code.lineno
}

type mdEntry struct {
	key string
	v   any // slot for captured values
}

// prepare fills w.p from s. The input and output bytes live in w.arena until
// the next batch when retain is false; when retain is true they are handed to
// records and never overwritten.
func (w *writer) prepare(s *Span, retain bool) *parts {
	p := &w.p
	s.mu.Lock() // pairs with the mutators' locks: ext is final once the span ended
	x := s.ext
	s.mu.Unlock()
	*p = parts{s: s, x: x, md: p.md[:0]}
	p.pos = s.site.pos.Load()
	if p.pos == nil && s.site.pc != 0 {
		p.pos = w.pcs.lookup(s.site.pc)
	}
	if p.pos != nil && p.pos.file == "" {
		p.pos = nil
	}
	if retain {
		w.arena = nil // the previous arena belongs to records now
	}
	start := len(w.arena)
	var ok bool
	w.arena, ok = w.appendInput(w.arena, p)
	if ok {
		p.in = w.arena[start:len(w.arena):len(w.arena)]
	}
	start = len(w.arena)
	w.arena, ok = w.appendOutput(w.arena, p)
	if ok {
		p.out = w.arena[start:len(w.arena):len(w.arena)]
	}
	if x != nil || p.truncated || p.pos == nil {
		p.md = w.metadata(p)
	} else {
		p.mdCached = true
	}
	return p
}

// metadata lists the observation's metadata, sorted by key, later entries
// winning over earlier ones with the same key.
func (w *writer) metadata(p *parts) []mdEntry {
	md := p.md[:0]
	if p.pos != nil {
		md = append(md, mdEntry{"code.filepath", p.pos.file}, mdEntry{"code.lineno", p.pos.lineMD})
	}
	if x := p.x; x != nil {
		for _, a := range x.attrs {
			v, _ := a.Value.(slot)
			v, tr := w.limit(w.c.redact.key(a.Key, v))
			p.truncated = p.truncated || tr
			md = append(md, mdEntry{a.Key, v})
		}
		if x.hasErr {
			md = append(md, mdEntry{"error_type", x.errType})
			if x.stack != "" {
				md = append(md, mdEntry{"traceback", x.stack})
			}
		}
	}
	if p.truncated {
		md = append(md, mdEntry{"fluxloop.truncated", true})
	}
	return sortEntries(md)
}

// sortEntries sorts by key, keeping the last of equal keys.
func sortEntries(md []mdEntry) []mdEntry {
	slices.SortStableFunc(md, func(a, b mdEntry) int { return cmp.Compare(a.key, b.key) })
	out := md[:0]
	for i, e := range md {
		if i+1 < len(md) && md[i+1].key == e.key {
			continue
		}
		out = append(out, e)
	}
	return out
}

func appendEntries(b []byte, md []mdEntry) []byte {
	b = append(b, '{')
	for i, e := range md {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, e.key)
		b = append(b, ':')
		b = appendAny(b, e.v)
	}
	return append(b, '}')
}

func entriesMap(md []mdEntry) map[string]any {
	if len(md) == 0 {
		return nil
	}
	m := make(map[string]any, len(md))
	for _, e := range md {
		if v, ok := e.v.(slot); ok {
			m[e.key] = v.goValue()
		} else {
			m[e.key] = e.v
		}
	}
	return m
}

// appendObservationLine appends the observation's JSON object, exactly as
// Observation.AppendJSON would encode the record observation(p) makes.
func (w *writer) appendObservationLine(b []byte, p *parts, record string) []byte {
	s, x := p.s, p.x
	b = append(b, '{')
	if record != "" {
		b = append(b, `"record":`...)
		b = appendString(b, record)
		b = append(b, ',')
	}
	b = append(b, `"id":"`...)
	b = appendHex64(b, s.id)
	b = append(b, `","trace_id":"`...)
	b = appendTraceID(b, s.traceHi, s.traceLo)
	b = append(b, '"')
	if parent := s.parentID(); parent != 0 {
		b = append(b, `,"parent_observation_id":"`...)
		b = appendHex64(b, parent)
		b = append(b, '"')
	}
	b = append(b, `,"type":`...)
	b = appendString(b, string(s.site.typ()))
	b = append(b, `,"name":`...)
	b = appendString(b, s.site.Name)
	b = append(b, `,"start_time":`...)
	b = appendTime(b, s.start)
	b = append(b, `,"end_time":`...)
	b = appendTime(b, s.start.Add(s.dur))
	if p.in != nil {
		b = append(b, `,"input":`...)
		b = append(b, p.in...)
	}
	if p.out != nil {
		b = append(b, `,"output":`...)
		b = append(b, p.out...)
	}
	level := LevelInfo
	if x != nil && x.hasErr {
		level = LevelError
		if x.err != "" {
			b = append(b, `,"error":`...)
			b = appendString(b, x.err)
		}
	}
	b = append(b, `,"level":`...)
	b = appendString(b, string(level))
	if x != nil && x.status != "" {
		b = append(b, `,"status_message":`...)
		b = appendString(b, x.status)
	}
	switch {
	case p.mdCached:
		b = append(b, `,"metadata":`...)
		b = append(b, p.pos.mdJSON...)
	case len(p.md) > 0:
		b = append(b, `,"metadata":`...)
		b = appendEntries(b, p.md)
	}
	if x != nil && x.hasUsage {
		u := x.usage
		if u.Model != "" {
			b = append(b, `,"model":`...)
			b = appendString(b, u.Model)
		}
		b = appendIntField(b, `,"prompt_tokens":`, u.PromptTokens)
		b = appendIntField(b, `,"completion_tokens":`, u.CompletionTokens)
		b = appendIntField(b, `,"total_tokens":`, u.PromptTokens+u.CompletionTokens)
	}
	return append(b, '}')
}

// observation makes the Observation record of p.
func (w *writer) observation(p *parts) Observation {
	s, x := p.s, p.x
	o := Observation{
		ID:        hex64(s.id),
		TraceID:   string(appendTraceID(make([]byte, 0, 32), s.traceHi, s.traceLo)),
		Type:      s.site.typ(),
		Name:      s.site.Name,
		StartTime: s.start.UTC(),
		EndTime:   s.start.Add(s.dur).UTC(),
		Input:     p.in,
		Output:    p.out,
		Level:     LevelInfo,
	}
	if parent := s.parentID(); parent != 0 {
		o.ParentObservationID = hex64(parent)
	}
	if p.mdCached {
		o.Metadata = map[string]any{"code.filepath": p.pos.file, "code.lineno": p.pos.lineMD}
	} else {
		o.Metadata = entriesMap(p.md)
	}
	if x != nil {
		if x.hasErr {
			o.Error = x.err
			o.Level = LevelError
		}
		o.StatusMessage = x.status
		if x.hasUsage {
			o.Model = x.usage.Model
			o.PromptTokens = x.usage.PromptTokens
			o.CompletionTokens = x.usage.CompletionTokens
			o.TotalTokens = x.usage.PromptTokens + x.usage.CompletionTokens
		}
	}
	return o
}

// traceMetadata lists the trace's metadata, sorted by key.
func (w *writer) traceMetadata(p *parts) []mdEntry {
	c := w.c
	var md []mdEntry
	if c.cfg.ServiceName != "" {
		md = append(md, mdEntry{"service_name", c.cfg.ServiceName})
	}
	if c.cfg.Environment != "" {
		md = append(md, mdEntry{"environment", c.cfg.Environment})
	}
	if p.x != nil && p.x.trace != nil {
		for _, a := range p.x.trace.metadata {
			v, _ := a.Value.(slot)
			v, _ = w.limit(c.redact.key(a.Key, v))
			md = append(md, mdEntry{a.Key, v})
		}
	}
	return sortEntries(md)
}

// appendTraceLine appends the JSON object of a root's trace, exactly as
// Trace.AppendJSON would encode the record trace(p) makes.
func (w *writer) appendTraceLine(b []byte, p *parts, record string) []byte {
	s, x := p.s, p.x
	b = append(b, '{')
	if record != "" {
		b = append(b, `"record":`...)
		b = appendString(b, record)
		b = append(b, ',')
	}
	b = append(b, `"id":"`...)
	b = appendTraceID(b, s.traceHi, s.traceLo)
	b = append(b, `","name":`...)
	b = appendString(b, s.site.Name)
	b = append(b, `,"start_time":`...)
	b = appendTime(b, s.start)
	b = append(b, `,"end_time":`...)
	b = appendTime(b, s.start.Add(s.dur))
	if p.in != nil {
		b = append(b, `,"input":`...)
		b = append(b, p.in...)
	}
	if p.out != nil {
		b = append(b, `,"output":`...)
		b = append(b, p.out...)
	}
	if x != nil && x.hasErr && x.err != "" {
		b = append(b, `,"error":`...)
		b = appendString(b, x.err)
	}
	if md := w.traceMetadata(p); len(md) > 0 {
		b = append(b, `,"metadata":`...)
		b = appendEntries(b, md)
	}
	if x != nil && x.trace != nil {
		td := x.trace
		if len(td.tags) > 0 {
			b = append(b, `,"tags":[`...)
			for i, tag := range td.tags {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendString(b, tag)
			}
			b = append(b, ']')
		}
		if td.sessionID != "" {
			b = append(b, `,"session_id":`...)
			b = appendString(b, td.sessionID)
		}
		if td.userID != "" {
			b = append(b, `,"user_id":`...)
			b = appendString(b, td.userID)
		}
	}
	return append(b, '}')
}

// trace makes the Trace record of a root.
func (w *writer) trace(p *parts, o *Observation) Trace {
	t := Trace{
		ID:        o.TraceID,
		Name:      o.Name,
		StartTime: o.StartTime,
		EndTime:   o.EndTime,
		Input:     o.Input,
		Output:    o.Output,
		Error:     o.Error,
		Metadata:  entriesMap(w.traceMetadata(p)),
	}
	if x := p.x; x != nil && x.trace != nil {
		t.Tags = slices.Clone(x.trace.tags)
		t.SessionID = x.trace.sessionID
		t.UserID = x.trace.userID
	}
	return t
}

// appendInput appends the span's inputs as a JSON object; ok is false (and b
// unchanged) when it has none.
func (w *writer) appendInput(b []byte, p *parts) (_ []byte, ok bool) {
	s, x := p.s, p.x
	n := int(s.nin)
	var more []slot
	var named []namedValue
	if x != nil {
		more, named = x.moreIn, x.named
	}
	if n == 0 && len(more) == 0 && len(named) == 0 {
		return b, false
	}
	params := s.site.Params
	b = append(b, '{')
	first := true
	field := func(name string, v slot) {
		if !first {
			b = append(b, ',')
		}
		first = false
		v, tr := w.limit(w.c.redact.key(name, v))
		p.truncated = p.truncated || tr
		b = appendString(b, name)
		b = append(b, ':')
		b = appendValue(b, &v)
	}
	for i := 0; i < n+len(more); i++ {
		var name string
		if i < len(params) {
			name = params[i]
		} else {
			name = "arg" + strconv.Itoa(i)
		}
		if i < n {
			field(name, s.inline(i))
		} else {
			field(name, more[i-n])
		}
	}
	for _, nv := range named {
		field(nv.name, nv.v)
	}
	return append(b, '}'), true
}

// appendOutput appends the span's output; ok is false (and b unchanged) when
// it has none.
func (w *writer) appendOutput(b []byte, p *parts) (_ []byte, ok bool) {
	s, x := p.s, p.x
	one := func(v slot) {
		v, tr := w.limit(w.c.redact.nested(v))
		p.truncated = p.truncated || tr
		b = appendValue(b, &v)
	}
	switch {
	case x != nil && x.hasOutput:
		one(x.output)
	case s.nout == 1:
		one(s.inline(outSlot))
	case s.nout > 1:
		b = append(b, '[')
		one(s.inline(outSlot))
		if x != nil {
			for _, v := range x.moreOut {
				b = append(b, ',')
				one(v)
			}
		}
		b = append(b, ']')
	default:
		return b, false
	}
	return b, true
}

// limit replaces a value larger than MaxFieldBytes by a string holding the
// start of its text and a truncation marker.
func (w *writer) limit(v slot) (slot, bool) {
	max := w.c.cfg.MaxFieldBytes
	if v.kind == kindJSON && len(v.s) <= 2*max {
		// The capture engine kept to the budget (closing brackets and
		// markers may pass it a little) and said whether it cut.
		return v, v.n&jsonTruncated != 0
	}
	if (v.kind != kindString && v.kind != kindJSON) || len(v.s) <= max {
		return v, false
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(v.s[cut]) {
		cut--
	}
	return slot{kind: kindString, s: v.s[:cut] + "…(truncated " + strconv.Itoa(len(v.s)-cut) + " bytes)"}, true
}
