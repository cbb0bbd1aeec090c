package fluxloopllm

import (
	"strconv"
	"unicode/utf8"
)

// docBuf collects one JSON document (a request or response body, or the data
// of one streamed event) as it is read, in bounded memory: the bytes as they
// are up to limit, and past it a pruned copy (see pruner) that is still JSON.
type docBuf struct {
	raw   []byte
	pr    *pruner
	limit int
}

func (d *docBuf) write(p []byte) {
	if d.pr != nil {
		d.pr.write(p)
		return
	}
	if len(d.raw)+len(p) <= d.limit {
		d.raw = append(d.raw, p...)
		return
	}
	d.pr = newPruner(d.limit)
	d.pr.write(d.raw)
	d.pr.write(p)
	d.raw = d.raw[:0]
	if cap(d.raw) > 64<<10 {
		d.raw = nil
	}
}

// bytes returns the document (pruned when it was longer than the limit).
func (d *docBuf) bytes() []byte {
	if d.pr != nil {
		return d.pr.out
	}
	return d.raw
}

func (d *docBuf) pruned() bool { return d.pr != nil }

func (d *docBuf) reset() {
	d.raw = d.raw[:0]
	if d.pr != nil { // no pointer write (and GC write barrier) per event
		d.pr = nil
	}
}

// pruner reduces a JSON document streamed through it, in any pieces, to one
// of bounded size that is still valid JSON with the same structure: strings
// longer than maxStr bytes are cut and end in "…(truncated N bytes)", arrays
// keep maxArr elements and end with a "… N more" element, and once the
// output passes soft bytes new strings keep 256 bytes and new arrays 8
// elements; past hard, new values are left out (members whole, elements
// counted). Small members that follow a huge one (a model name after the
// messages) are kept up to hard. The cost is one pass over the bytes; it
// only runs for documents larger than the capture budget.
type pruner struct {
	out            []byte
	stk            []plevel
	maxStr, maxArr int
	soft, hard     int

	st      uint8
	emit    bool // the current string or literal is written
	isKey   bool
	strLim  int
	strN    int // content bytes written
	strDrop int // content bytes left out
	cutting bool
	inEsc   bool
	escKeep bool
	uLeft   int
	litN    int
	drop    int // depth inside a dropped container
	bad     bool
}

type plevel struct {
	arr     bool
	key     bool // object: the next string is a key
	dropVal bool // object: the current member is left out
	kept    int
	dropped int
}

const (
	pValue uint8 = iota
	pString
	pLiteral
)

func newPruner(limit int) *pruner {
	maxStr := max(limit/4, 1024)
	return &pruner{
		out:    make([]byte, 0, min(limit, 1<<20)),
		maxStr: maxStr,
		maxArr: 256,
		soft:   limit,
		hard:   4*limit + 16<<10,
	}
}

func (p *pruner) top() *plevel {
	if len(p.stk) == 0 {
		return nil
	}
	return &p.stk[len(p.stk)-1]
}

func (p *pruner) write(b []byte) {
	for i := 0; i < len(b) && !p.bad; {
		switch p.st {
		case pString:
			i = p.str(b, i)
		case pLiteral:
			c := b[i]
			if c == ',' || c == '}' || c == ']' || c == ':' || c == '"' || c == '{' || c == '[' || isSpace(c) {
				p.st = pValue
				continue
			}
			if p.emit && p.litN < 64 {
				p.out = append(p.out, c)
			}
			p.litN++
			i++
		default:
			c := b[i]
			i++
			switch c {
			case ' ', '\t', '\n', '\r':
			case '"':
				p.beginString()
			case '{', '[':
				p.beginContainer(c)
			case '}', ']':
				p.endContainer(c)
			case ':':
				if l := p.top(); p.drop == 0 && l != nil && !l.arr && !l.dropVal {
					p.out = append(p.out, ':')
				}
			case ',':
				if l := p.top(); p.drop == 0 && l != nil && !l.arr {
					l.key = true
				}
			default:
				p.beginLiteral(c)
			}
		}
	}
}

// valueStart decides whether a value starting now (not a key) is written,
// writing the comma before it.
func (p *pruner) valueStart() bool {
	l := p.top()
	if l == nil {
		return true
	}
	if !l.arr {
		return !l.dropVal
	}
	lim := p.maxArr
	if len(p.out) >= p.soft {
		lim = 8
	}
	if l.kept >= lim || len(p.out) >= p.hard {
		l.dropped++
		return false
	}
	if l.kept > 0 {
		p.out = append(p.out, ',')
	}
	l.kept++
	return true
}

func (p *pruner) beginString() {
	p.st = pString
	p.strN, p.strDrop, p.cutting, p.inEsc, p.uLeft, p.isKey = 0, 0, false, false, 0, false
	switch l := p.top(); {
	case p.drop > 0:
		p.emit = false
	case l != nil && !l.arr && l.key:
		p.isKey = true
		if len(p.out) >= p.hard {
			l.dropVal, p.emit = true, false
		} else {
			l.dropVal, p.emit = false, true
			if l.kept > 0 {
				p.out = append(p.out, ',')
			}
			l.kept++
		}
	default:
		p.emit = p.valueStart()
	}
	if p.emit {
		p.out = append(p.out, '"')
		p.strLim = p.maxStr
		if p.isKey || len(p.out) >= p.soft {
			p.strLim = 256
		}
	}
}

// str consumes string content from b[i:] and returns where it stopped.
func (p *pruner) str(b []byte, i int) int {
	for i < len(b) {
		c := b[i]
		switch {
		case p.uLeft > 0:
			p.uLeft--
			p.escByte(c)
			i++
		case p.inEsc:
			p.inEsc = false
			if c == 'u' {
				p.uLeft = 4
			}
			p.escByte(c)
			i++
		case c == '\\':
			p.inEsc = true
			p.escKeep = p.emit && !p.cutting && p.strN < p.strLim
			if !p.escKeep {
				p.cutting = true
			}
			p.escByte(c)
			i++
		case c == '"':
			p.endString()
			return i + 1
		default:
			j := i + 1
			for j < len(b) && b[j] != '"' && b[j] != '\\' {
				j++
			}
			p.run(b[i:j])
			i = j
		}
	}
	return i
}

func (p *pruner) escByte(c byte) {
	if p.escKeep {
		p.out = append(p.out, c)
		p.strN++
	} else {
		p.strDrop++
	}
}

func (p *pruner) run(r []byte) {
	if !p.emit || p.cutting {
		p.strDrop += len(r)
		return
	}
	room := max(p.strLim-p.strN, 0) // an escape kept whole may pass the limit
	if len(r) <= room {
		p.out = append(p.out, r...)
		p.strN += len(r)
		return
	}
	p.out = append(p.out, r[:room]...)
	p.strN += room
	p.strDrop += len(r) - room
	p.cutting = true
}

func (p *pruner) endString() {
	p.st = pValue
	if p.emit {
		if p.strDrop > 0 {
			// do not leave half a character before the marker
			n := len(p.out)
			for k := n - 1; k >= 0 && k >= n-4; k-- {
				if !utf8.RuneStart(p.out[k]) {
					continue
				}
				if !utf8.FullRune(p.out[k:]) {
					p.strDrop += n - k
					p.out = p.out[:k]
				}
				break
			}
			p.out = append(p.out, "…(truncated "...)
			p.out = strconv.AppendInt(p.out, int64(p.strDrop), 10)
			p.out = append(p.out, " bytes)"...)
		}
		p.out = append(p.out, '"')
	}
	if p.isKey {
		p.isKey = false
		if l := p.top(); l != nil {
			l.key = false
		}
	}
}

func (p *pruner) beginLiteral(c byte) {
	p.st, p.litN = pLiteral, 1
	switch l := p.top(); {
	case p.drop > 0:
		p.emit = false
	case l != nil && !l.arr && l.key:
		p.bad = true
		return
	default:
		p.emit = p.valueStart()
	}
	if p.emit {
		p.out = append(p.out, c)
	}
}

func (p *pruner) beginContainer(c byte) {
	if p.drop > 0 {
		p.drop++
		return
	}
	if l := p.top(); l != nil && !l.arr && l.key {
		p.bad = true
		return
	}
	if !p.valueStart() {
		p.drop = 1
		return
	}
	p.out = append(p.out, c)
	p.stk = append(p.stk, plevel{arr: c == '[', key: c == '{'})
}

func (p *pruner) endContainer(c byte) {
	if p.drop > 0 {
		p.drop--
		return
	}
	l := p.top()
	if l == nil {
		p.bad = true
		return
	}
	if l.arr && l.dropped > 0 {
		if l.kept > 0 {
			p.out = append(p.out, ',')
		}
		p.out = append(p.out, `"… `...)
		p.out = appendCount(p.out, l.dropped)
		p.out = append(p.out, ` more"`...)
	}
	p.stk = p.stk[:len(p.stk)-1]
	p.out = append(p.out, c)
}

// appendCount writes n with thousands separators, as the runtime writes the
// "… N more" of the values it cuts.
func appendCount(b []byte, n int) []byte {
	s := strconv.Itoa(n)
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, s[i])
	}
	return b
}
