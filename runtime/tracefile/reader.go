package tracefile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
)

// Kind tells what a line holds, or, given to NewReader, what the lines of a
// stream are taken to hold.
type Kind uint8

const (
	// KindMixed, given to NewReader, reads only lines tagged as records
	// ({"record":"observation", or {"record":"trace",), as the stdout
	// storage writes them, and ignores every other line.
	KindMixed Kind = iota
	// KindObservation is an observation line (observations.jsonl, or a
	// tagged observation anywhere). Given to NewReader, untagged lines are
	// observations.
	KindObservation
	// KindTrace is a trace line (traces.jsonl, or a tagged trace). Given to
	// NewReader, untagged lines are traces.
	KindTrace
)

// String returns "observation", "trace" or "mixed".
func (k Kind) String() string {
	switch k {
	case KindObservation:
		return "observation"
	case KindTrace:
		return "trace"
	}
	return "mixed"
}

// article returns "an observation" or "a trace".
func (k Kind) article() string {
	if k == KindObservation {
		return "an observation"
	}
	return "a " + k.String()
}

// Record is one record line: an observation or a trace.
type Record struct {
	// Kind is KindObservation or KindTrace.
	Kind Kind
	// Observation is set for KindObservation, Trace for KindTrace.
	Observation *fluxloop.Observation
	Trace       *fluxloop.Trace
	// Source is the path of the file the line was read from, or "-".
	Source string
	// Line is the line's number in Source, from 1.
	Line int
	// Offset is the byte offset in Source of the record's JSON object (the
	// start of the line, or where the tag starts on a line of mixed
	// output), and Raw the object's bytes, without the newline: with
	// Offset, enough to read the record again later with ReadAt.
	Offset int64
	Raw    []byte
}

// JSON returns the record's JSON object without a leading record tag:
// exactly the fields of a fluxloop.Observation or fluxloop.Trace (see
// StripTag).
func (r Record) JSON() []byte { return StripTag(r.Raw) }

// Tags that start the lines of the stdout storage.
var (
	observationTag = []byte(`{"record":"observation",`)
	traceTag       = []byte(`{"record":"trace",`)
)

// StripTag returns line without its leading record tag, if it has one:
// `{"record":"observation","id":...}` becomes `{"id":...}`. It returns line
// itself when there is no tag, else a new slice.
func StripTag(line []byte) []byte {
	for _, tag := range [][]byte{observationTag, traceTag} {
		if bytes.HasPrefix(line, tag) {
			out := line[len(tag)-1:]
			// out starts with the tag's comma; make it the object's brace.
			b := make([]byte, len(out))
			copy(b, out)
			b[0] = '{'
			return b
		}
	}
	return line
}

// Tag returns line with a leading record tag of kind k, as the stdout
// storage writes it, unless it has one already; so a file of observations
// and traces can be read back as one stream.
func Tag(line []byte, k Kind) []byte {
	if bytes.HasPrefix(line, []byte(`{"record":`)) || len(line) < 2 || line[0] != '{' {
		return line
	}
	tag := observationTag
	if k == KindTrace {
		tag = traceTag
	}
	rest := bytes.TrimLeft(line[1:], " \t")
	b := make([]byte, 0, len(tag)+len(rest))
	b = append(b, tag...)
	if len(rest) > 0 && rest[0] == '}' { // an empty object
		b = b[:len(b)-1]
	}
	return append(b, rest...)
}

// A Warning is a line that was skipped: a partial last line, or a line that
// is not a record.
type Warning struct {
	// Source, Line and Offset say where the line is (see Record).
	Source string
	Line   int
	Offset int64
	// Reason says why it was skipped.
	Reason string
}

// Error returns "path:line: reason".
func (w Warning) Error() string { return fmt.Sprintf("%s:%d: %s", w.Source, w.Line, w.Reason) }

// Reader reads records from a stream of lines, such as a file or standard
// input, to its end.
type Reader struct {
	r     io.Reader
	name  string
	kind  Kind
	lines lineSplitter
	buf   []byte
	eof   bool
	err   error
	warns []Warning
}

// NewReader returns a reader of r, whose lines are named name (a path, or
// "-") in records and warnings. kind says what untagged lines hold:
// KindObservation (observations.jsonl), KindTrace (traces.jsonl), or
// KindMixed, which ignores them (standard output).
func NewReader(r io.Reader, name string, kind Kind) *Reader {
	return &Reader{r: r, name: name, kind: kind, buf: make([]byte, 64<<10)}
}

// Next returns the next record, or io.EOF after the last one. A last line
// without a newline is skipped with a warning. Other errors are read errors,
// wrapped with the name.
func (r *Reader) Next() (Record, error) {
	for {
		if line, ok := r.lines.next(); ok {
			rec, w, ok := parseLine(line, r.name, r.kind, true)
			if w != nil {
				r.warns = append(r.warns, *w)
			}
			if ok {
				return rec, nil
			}
			continue
		}
		if r.err != nil {
			return Record{}, r.err
		}
		if r.eof {
			if p, ok := r.lines.partial(); ok {
				r.warns = append(r.warns, Warning{Source: r.name, Line: p.no, Offset: p.off,
					Reason: "partial last line (no newline: still being written, or cut short), skipped"})
			}
			return Record{}, io.EOF
		}
		n, err := r.r.Read(r.buf)
		r.lines.write(r.buf[:n])
		if errors.Is(err, io.EOF) {
			r.eof = true
		} else if err != nil {
			r.err = fmt.Errorf("tracefile: read %s: %w", r.name, err)
		}
	}
}

// Warnings returns the lines skipped so far.
func (r *Reader) Warnings() []Warning { return r.warns }

// line is one whole line, without its newline.
type line struct {
	b   []byte
	no  int
	off int64
}

// lineSplitter cuts bytes written to it into whole lines, numbering them and
// tracking their offsets; a last line without a newline waits for the rest.
type lineSplitter struct {
	pending []byte
	start   int   // start of the first unread line in pending
	off     int64 // offset of pending[0] in the stream
	no      int   // number of the last line returned
}

func (s *lineSplitter) write(b []byte) {
	if len(b) == 0 {
		return
	}
	if s.start > 0 && s.start == len(s.pending) {
		s.off += int64(s.start)
		s.pending, s.start = s.pending[:0], 0
	} else if s.start > len(s.pending)/2 && s.start > 64<<10 {
		n := copy(s.pending, s.pending[s.start:])
		s.off += int64(s.start)
		s.pending, s.start = s.pending[:n], 0
	}
	s.pending = append(s.pending, b...)
}

func (s *lineSplitter) next() (line, bool) {
	i := bytes.IndexByte(s.pending[s.start:], '\n')
	if i < 0 {
		return line{}, false
	}
	b := s.pending[s.start : s.start+i]
	l := line{b: b, no: s.no + 1, off: s.off + int64(s.start)}
	s.no++
	s.start += i + 1
	return l, true
}

// partial returns the bytes after the last newline, if any.
func (s *lineSplitter) partial() (line, bool) {
	if s.start == len(s.pending) {
		return line{}, false
	}
	if len(bytes.TrimSpace(s.pending[s.start:])) == 0 {
		return line{}, false
	}
	return line{b: s.pending[s.start:], no: s.no + 1, off: s.off + int64(s.start)}, true
}

// reset forgets everything, as for a new stream.
func (s *lineSplitter) reset() { *s = lineSplitter{pending: s.pending[:0]} }

// parseLine reads one line, decoding it when decode is set. ok is false for
// a line that is skipped, with a warning when it should have been a record.
func parseLine(l line, name string, kind Kind, decode bool) (rec Record, w *Warning, ok bool) {
	b := bytes.TrimRight(l.b, "\r")
	off := l.off
	k := kind
	switch {
	case bytes.HasPrefix(b, observationTag):
		k = KindObservation
	case bytes.HasPrefix(b, traceTag):
		k = KindTrace
	default:
		if i := bytes.Index(b, observationTag); i > 0 {
			k, b, off = KindObservation, b[i:], off+int64(i)
			break
		}
		if i := bytes.Index(b, traceTag); i > 0 {
			k, b, off = KindTrace, b[i:], off+int64(i)
			break
		}
		if kind == KindMixed {
			return Record{}, nil, false
		}
		t := bytes.TrimSpace(b)
		if len(t) == 0 {
			return Record{}, nil, false
		}
		if t[0] != '{' {
			return Record{}, &Warning{Source: name, Line: l.no, Offset: l.off, Reason: "not a JSON object, skipped"}, false
		}
	}
	raw := bytes.Clone(b)
	rec = Record{Kind: k, Source: name, Line: l.no, Offset: off, Raw: raw}
	if !decode {
		return rec, nil, true
	}
	var err error
	var id string
	if k == KindObservation {
		rec.Observation = new(fluxloop.Observation)
		err = json.Unmarshal(raw, rec.Observation)
		id = rec.Observation.ID
		if err == nil && rec.Observation.TraceID == "" {
			err = errors.New("no trace_id")
		}
	} else {
		rec.Trace = new(fluxloop.Trace)
		err = json.Unmarshal(raw, rec.Trace)
		id = rec.Trace.ID
	}
	if err == nil && id == "" {
		err = errors.New("no id")
	}
	if err != nil {
		return Record{}, &Warning{Source: name, Line: l.no, Offset: off, Reason: fmt.Sprintf("not %s record (%v), skipped", k.article(), err)}, false
	}
	return rec, nil, true
}
