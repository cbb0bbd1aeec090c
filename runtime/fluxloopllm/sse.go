package fluxloopllm

import "bytes"

// sseParser reads a text/event-stream incrementally, in whatever pieces the
// consumer's reads return, and hands each complete event (its name and its
// data lines joined by "\n") to onEvent. It keeps the current event only:
// the data in a docBuf (bounded), the name up to 64 bytes.
type sseParser struct {
	st      uint8
	field   [8]byte
	nf      int
	kind    uint8
	lastCR  bool
	event   []byte
	data    docBuf
	hasData bool
	onEvent func(event, data []byte)
}

const (
	sseName uint8 = iota
	sseSpace
	sseValue
	sseSkip
)

const (
	fieldOther uint8 = iota
	fieldData
	fieldEvent
)

func (s *sseParser) write(p []byte) {
	for len(p) > 0 {
		if s.lastCR {
			s.lastCR = false
			if p[0] == '\n' {
				p = p[1:]
				continue
			}
		}
		switch s.st {
		case sseName:
			i := 0
			for i < len(p) && p[i] != ':' && p[i] != '\n' && p[i] != '\r' {
				i++
			}
			for _, c := range p[:i] {
				if s.nf < len(s.field) {
					s.field[s.nf] = c
				}
				s.nf++
			}
			if i == len(p) {
				return
			}
			c := p[i]
			p = p[i+1:]
			if c == ':' {
				if s.nf == 0 {
					s.st = sseSkip // a comment
					continue
				}
				s.startField()
				s.st = sseSpace
				continue
			}
			// a line without a colon: a field with an empty value, or
			// the blank line that ends an event
			if s.nf == 0 {
				s.dispatch()
			} else {
				s.startField()
			}
			s.endLine(c)
		case sseSpace:
			if p[0] == ' ' {
				p = p[1:]
			}
			s.st = sseValue
		case sseValue, sseSkip:
			i := bytes.IndexByte(p, '\n')
			seg := p
			if i >= 0 {
				seg = p[:i]
			}
			if j := bytes.IndexByte(seg, '\r'); j >= 0 {
				i, seg = j, seg[:j]
			}
			if s.st == sseValue {
				s.value(seg)
			}
			if i < 0 {
				return
			}
			c := p[i]
			p = p[i+1:]
			s.endLine(c)
		}
	}
}

func (s *sseParser) startField() {
	s.kind = fieldOther
	if s.nf <= len(s.field) {
		switch string(s.field[:s.nf]) {
		case "data":
			s.kind = fieldData
			if s.hasData {
				s.data.write([]byte{'\n'})
			}
			s.hasData = true
		case "event":
			s.kind = fieldEvent
			s.event = s.event[:0]
		}
	}
}

func (s *sseParser) value(seg []byte) {
	switch s.kind {
	case fieldData:
		s.data.write(seg)
	case fieldEvent:
		if room := 64 - len(s.event); room > 0 {
			s.event = append(s.event, seg[:min(room, len(seg))]...)
		}
	}
}

func (s *sseParser) endLine(c byte) {
	s.lastCR = c == '\r'
	s.st, s.nf, s.kind = sseName, 0, fieldOther
}

func (s *sseParser) dispatch() {
	if s.hasData {
		s.onEvent(s.event, s.data.bytes())
	}
	if len(s.event) > 0 {
		s.event = s.event[:0]
	}
	s.data.reset()
	s.hasData = false
}

// flush dispatches an event left without its closing blank line when the
// stream ends (some servers end that way).
func (s *sseParser) flush() {
	if s.hasData && (s.st == sseName && s.nf == 0 || s.st == sseValue) {
		s.dispatch()
	}
}

// arrayParser reads a streamed JSON array (Gemini's streamGenerateContent
// without alt=sse) incrementally and hands each complete element to
// onElem. It keeps the current element only, in a docBuf.
type arrayParser struct {
	st     uint8 // 0 before '[', 1 between elements, 2 in an element, 3 done
	depth  int
	inStr  bool
	esc    bool
	single bool
	elem   docBuf
	onElem func(elem []byte)
}

func (a *arrayParser) write(p []byte) {
	for len(p) > 0 && a.st != 3 {
		switch a.st {
		case 0:
			i := skipSpace(p, 0)
			if i == len(p) {
				return
			}
			if p[i] == '[' {
				p = p[i+1:]
				a.st = 1
				continue
			}
			// not an array (an error object): one element
			p = p[i:]
			a.st, a.depth, a.inStr, a.esc, a.single = 2, 0, false, false, true
		case 1:
			c := p[0]
			switch {
			case c == ']':
				a.st = 3
				return
			case c == ',' || isSpace(c):
				p = p[1:]
			default:
				a.st, a.depth, a.inStr, a.esc = 2, 0, false, false
			}
		case 2:
			i, done := a.scan(p)
			a.elem.write(p[:i])
			p = p[i:]
			if done {
				a.onElem(a.elem.bytes())
				a.elem.reset()
				a.st = 1
				if a.single {
					a.st = 3
				}
			}
		}
	}
}

// scan finds the end of the element in p: it returns how many bytes belong
// to the element and whether it ended there.
func (a *arrayParser) scan(p []byte) (int, bool) {
	for i := 0; i < len(p); i++ {
		c := p[i]
		if a.inStr {
			switch {
			case a.esc:
				a.esc = false
			case c == '\\':
				a.esc = true
			case c == '"':
				a.inStr = false
			}
			continue
		}
		switch c {
		case '"':
			a.inStr = true
		case '{', '[':
			a.depth++
		case '}', ']':
			a.depth--
			if a.depth <= 0 {
				return i + 1, true
			}
		case ',':
			if a.depth == 0 {
				return i, true
			}
		}
	}
	return len(p), false
}
