package fluxloop

import (
	"cmp"
	"encoding/binary"
	"slices"
	"strconv"
	"unicode/utf8"
)

// The writer turns each finished span into one Record (rec.go), the only
// form storages receive; the JSONL storages encode it with an Encoder
// (encode_record.go). What does not change between the calls of one
// function, the encoded type and name, the parameters' keys and whether the
// redactor masks them, the position's metadata, is computed once per Site.

// siteEnc is a Site's cached encoding.
type siteEnc struct {
	head   []byte   // `,"type":…,"name":…`
	keys   [][]byte // `"name":` of each parameter
	secret []bool   // the default redactor masks parameter i
}

// encoding returns s's cached encoding, making it on first use. Sites made
// by Start live for one span: theirs is made and not kept.
func (s *Site) encoding() *siteEnc {
	if e := s.enc.Load(); e != nil {
		return e
	}
	e := &siteEnc{head: appendHead(nil, s.typ(), s.Name)}
	if len(s.Params) > 0 {
		e.keys = make([][]byte, len(s.Params))
		e.secret = make([]bool, len(s.Params))
		for i, p := range s.Params {
			e.keys[i] = append(appendString(nil, p), ':')
			e.secret[i] = IsSecretKey(p)
		}
	}
	if s.pc == 0 {
		s.enc.CompareAndSwap(nil, e)
	}
	return e
}

func appendHead(b []byte, typ ObservationType, name string) []byte {
	b = append(b, `,"type":`...)
	b = appendString(b, string(typ))
	b = append(b, `,"name":`...)
	return appendString(b, name)
}

// fill makes the zero record r the record of the finished span s. Input and output bytes go
// to w.arena and metadata to w.fields, which the records of one batch
// share until the storage's Write returns.
func (w *writer) fill(r *Record, s *Span) {
	s.mu.Lock() // pairs with the mutators' locks: ext is final once the span ended
	x := s.ext
	s.mu.Unlock()
	pos := s.site.pos.Load()
	if pos == nil && s.site.pc != 0 {
		pos = w.pcs.lookup(s.site.pc)
	}
	if pos != nil && pos.file == "" {
		pos = nil
	}
	enc := s.site.encoding()
	// r is zero (write clears the records after each batch): set fields
	// one by one rather than copy a whole Record.
	r.ID = idBytes(s.id)
	r.Root = s.up == nil
	r.Type = s.site.typ()
	r.Name = s.site.Name
	r.Start = s.start
	r.End = s.start.Add(s.dur)
	r.Level = LevelInfo
	r.head = enc.head
	binary.BigEndian.PutUint64(r.TraceID[:8], s.traceHi)
	binary.BigEndian.PutUint64(r.TraceID[8:], s.traceLo)
	if parent := s.parentID(); parent != 0 {
		r.ParentID = idBytes(parent)
	}
	truncated := false
	start := len(w.arena)
	var ok bool
	w.arena, ok = w.appendInput(w.arena, s, x, enc, &truncated)
	if ok {
		r.Input = w.arena[start:len(w.arena):len(w.arena)]
	}
	start = len(w.arena)
	w.arena, ok = w.appendOutput(w.arena, s, x, &truncated)
	if ok {
		r.Output = w.arena[start:len(w.arena):len(w.arena)]
	}
	if x != nil {
		if x.hasErr {
			r.Error = x.err
			r.Level = LevelError
		}
		r.StatusMessage = x.status
		if x.hasUsage {
			r.Model = x.usage.Model
			r.PromptTokens = x.usage.PromptTokens
			r.CompletionTokens = x.usage.CompletionTokens
		}
	}
	if x == nil && !truncated && pos != nil {
		r.Metadata, r.mdJSON = pos.fields, pos.mdJSON
	} else {
		r.Metadata = w.metadata(pos, x, truncated)
	}
	if r.Root {
		r.Trace = w.traceFields(x)
	}
}

func idBytes(id uint64) (b [8]byte) {
	binary.BigEndian.PutUint64(b[:], id)
	return b
}

// metadata lists an observation's metadata, sorted by key, later entries
// winning over earlier ones with the same key.
func (w *writer) metadata(pos *sitePos, x *spanExt, truncated bool) []Field {
	start := len(w.fields)
	md := w.fields
	if pos != nil {
		md = append(md, pos.fields...)
	}
	if x != nil {
		for _, a := range x.attrs {
			v, _ := a.Value.(slot)
			v, tr := w.limit(w.c.redact.key(a.Key, v))
			truncated = truncated || tr
			md = append(md, Field{a.Key, v.goValue()})
		}
		if x.hasErr {
			md = append(md, Field{"error_type", x.errType})
			if x.stack != "" {
				md = append(md, Field{"traceback", x.stack})
			}
		}
	}
	if truncated {
		md = append(md, Field{"fluxloop.truncated", true})
	}
	w.fields = md
	return sortFields(md[start:len(md):len(md)])
}

// sortFields sorts by key, keeping the last of equal keys.
func sortFields(md []Field) []Field {
	if len(md) == 0 {
		return nil
	}
	slices.SortStableFunc(md, func(a, b Field) int { return cmp.Compare(a.Key, b.Key) })
	out := md[:0]
	for i, e := range md {
		if i+1 < len(md) && md[i+1].Key == e.Key {
			continue
		}
		out = append(out, e)
	}
	return out
}

// traceFields makes a root's trace fields.
func (w *writer) traceFields(x *spanExt) TraceFields {
	if x == nil || x.trace == nil {
		return TraceFields{Metadata: w.traceMD}
	}
	td := x.trace
	start := len(w.fields)
	md := append(w.fields, w.traceMD...)
	for _, a := range td.metadata {
		v, _ := a.Value.(slot)
		v, _ = w.limit(w.c.redact.key(a.Key, v))
		md = append(md, Field{a.Key, v.goValue()})
	}
	w.fields = md
	return TraceFields{
		Metadata:  sortFields(md[start:len(md):len(md)]),
		Tags:      td.tags,
		SessionID: td.sessionID,
		UserID:    td.userID,
	}
}

// staticTraceMetadata is the trace metadata every run of client c has.
func staticTraceMetadata(c *Client) []Field {
	var md []Field
	if c.cfg.Environment != "" {
		md = append(md, Field{"environment", c.cfg.Environment})
	}
	if c.cfg.ServiceName != "" {
		md = append(md, Field{"service_name", c.cfg.ServiceName})
	}
	return md
}

// appendInput appends the span's inputs as a JSON object; ok is false (and b
// unchanged) when it has none.
func (w *writer) appendInput(b []byte, s *Span, x *spanExt, enc *siteEnc, truncated *bool) (_ []byte, ok bool) {
	n := int(s.nin)
	var more []slot
	var named []namedValue
	if x != nil {
		more, named = x.moreIn, x.named
	}
	if n == 0 && len(more) == 0 && len(named) == 0 {
		return b, false
	}
	r := &w.c.redact
	b = append(b, '{')
	first := true
	for i := 0; i < n+len(more); i++ {
		var v slot
		if i < n {
			v = s.inline(i)
		} else {
			v = more[i-n]
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		if i < len(enc.keys) {
			b = append(b, enc.keys[i]...)
			switch {
			case v.kind < kindString && !r.custom && !enc.secret[i]:
				b = appendValue(b, &v) // a number or a bool: nothing to redact or cut
				continue
			case r.custom:
				v = r.key(s.site.Params[i], v)
			case enc.secret[i]:
				v = slot{kind: kindString, s: Masked}
			default:
				v = r.nested(v)
			}
		} else {
			name := "arg" + strconv.Itoa(i)
			b = appendString(b, name)
			b = append(b, ':')
			v = r.key(name, v)
		}
		b = w.appendLimited(b, v, truncated)
	}
	for _, nv := range named {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendString(b, nv.name)
		b = append(b, ':')
		b = w.appendLimited(b, r.key(nv.name, nv.v), truncated)
	}
	return append(b, '}'), true
}

func (w *writer) appendLimited(b []byte, v slot, truncated *bool) []byte {
	v, tr := w.limit(v)
	if tr {
		*truncated = true
	}
	return appendValue(b, &v)
}

// appendOutput appends the span's output; ok is false (and b unchanged) when
// it has none.
func (w *writer) appendOutput(b []byte, s *Span, x *spanExt, truncated *bool) (_ []byte, ok bool) {
	r := &w.c.redact
	switch {
	case s.nout == 1 && (x == nil || !x.hasOutput) && s.kinds[outSlot] < kindString:
		v := s.inline(outSlot)
		b = appendValue(b, &v)
	case x != nil && x.hasOutput:
		b = w.appendLimited(b, r.nested(x.output), truncated)
	case s.nout == 1:
		b = w.appendLimited(b, r.nested(s.inline(outSlot)), truncated)
	case s.nout > 1:
		b = append(b, '[')
		b = w.appendLimited(b, r.nested(s.inline(outSlot)), truncated)
		if x != nil {
			for _, v := range x.moreOut {
				b = append(b, ',')
				b = w.appendLimited(b, r.nested(v), truncated)
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
