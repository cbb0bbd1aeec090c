package viewer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"github.com/fluxloop/fluxloop-go/runtime/tracefile"
)

// lineObs holds the fields of an observation line the index keeps.
type lineObs struct {
	id, traceID, parent, typ, name, level, err, status, model string

	start, end                time.Time
	prompt, completion, total int
	input, output             []byte
	cost                      float64
	hasCost                   bool
}

// lineTrace holds the fields of a trace line the index keeps.
type lineTrace struct {
	id, name, err, session, user string
	tags                         []string
	start, end                   time.Time
}

// decoded is a record with its fields read.
type decoded struct {
	rec tracefile.Record
	obs lineObs
	tr  lineTrace
	err error
}

func fromObservation(o *fluxloop.Observation) lineObs {
	l := lineObs{
		id: o.ID, traceID: o.TraceID, parent: o.ParentObservationID, typ: string(o.Type), name: o.Name,
		level: string(o.Level), err: o.Error, status: o.StatusMessage, model: o.Model,
		start: o.StartTime, end: o.EndTime, prompt: o.PromptTokens, completion: o.CompletionTokens, total: o.TotalTokens,
		input: o.Input, output: o.Output,
	}
	if c, ok := o.Metadata[costKey].(float64); ok {
		l.cost, l.hasCost = c, true
	}
	return l
}

func fromTrace(t *fluxloop.Trace) lineTrace {
	return lineTrace{id: t.ID, name: t.Name, err: t.Error, session: t.SessionID, user: t.UserID, tags: t.Tags,
		start: t.StartTime, end: t.EndTime}
}

// decodeAll reads the fields of records that carry only their line (a
// follower with SkipDecode), on every core for large batches.
func decodeAll(recs []tracefile.Record) []decoded {
	out := make([]decoded, len(recs))
	work := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			out[i] = decodeRecord(recs[i])
		}
	}
	n := runtime.GOMAXPROCS(0)
	if len(recs) < 2000 || n == 1 {
		work(0, len(recs))
		return out
	}
	var wg sync.WaitGroup
	chunk := (len(recs) + n - 1) / n
	for lo := 0; lo < len(recs); lo += chunk {
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			work(lo, hi)
		}(lo, min(lo+chunk, len(recs)))
	}
	wg.Wait()
	return out
}

func decodeRecord(r tracefile.Record) decoded {
	d := decoded{rec: r}
	switch {
	case r.Kind == tracefile.KindObservation && r.Observation != nil:
		d.obs = fromObservation(r.Observation)
	case r.Kind == tracefile.KindTrace && r.Trace != nil:
		d.tr = fromTrace(r.Trace)
	case r.Kind == tracefile.KindObservation:
		d.obs, d.err = scanObservation(r.Raw)
		if d.err != nil || d.obs.traceID == "" || d.obs.id == "" {
			d.err = slowObservation(r.Raw, &d.obs)
		}
	case r.Kind == tracefile.KindTrace:
		d.tr, d.err = scanTrace(r.Raw)
		if d.err != nil || d.tr.id == "" {
			d.err = slowTrace(r.Raw, &d.tr)
		}
	}
	return d
}

// slowObservation decodes with encoding/json, for lines the scanner does
// not take and for their error messages.
func slowObservation(raw []byte, l *lineObs) error {
	var o fluxloop.Observation
	if err := json.Unmarshal(raw, &o); err != nil {
		return err
	}
	switch {
	case o.ID == "":
		return errors.New("no id")
	case o.TraceID == "":
		return errors.New("no trace_id")
	}
	*l = fromObservation(&o)
	return nil
}

func slowTrace(raw []byte, l *lineTrace) error {
	var t fluxloop.Trace
	if err := json.Unmarshal(raw, &t); err != nil {
		return err
	}
	if t.ID == "" {
		return errors.New("no id")
	}
	*l = fromTrace(&t)
	return nil
}

// scanner reads one JSON object line without building it: the fields the
// index needs are read, the others skipped. Its structure and literals must
// be well-formed (any doubt is an error, and the caller falls back to
// encoding/json); the strings of skipped values (inputs, outputs) are not
// checked for invalid escapes or UTF-8, which encoding/json would refuse.
type scanner struct {
	b []byte
	i int
}

var errScan = errors.New("scan")

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\r', '\n':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) expect(c byte) error {
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != c {
		return errScan
	}
	s.i++
	return nil
}

// str reads a string, unescaping it only when it holds escapes.
func (s *scanner) str() (string, error) {
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return "", errScan
	}
	start := s.i + 1
	j := start
	simple := true
	for {
		k := bytes.IndexByte(s.b[j:], '"')
		if k < 0 {
			return "", errScan
		}
		j += k
		// Count the backslashes before the quote.
		n := 0
		for m := j - 1; m >= start && s.b[m] == '\\'; m-- {
			n++
		}
		if bytes.IndexByte(s.b[start:j], '\\') >= 0 {
			simple = false
		}
		if n%2 == 0 {
			break
		}
		j++
	}
	raw := s.b[start:j]
	s.i = j + 1
	if simple {
		for _, c := range raw {
			if c < 0x20 {
				return "", errScan
			}
		}
		if !utf8.Valid(raw) {
			return "", errScan
		}
		return string(raw), nil
	}
	var out string
	if err := json.Unmarshal(s.b[start-1:j+1], &out); err != nil {
		return "", errScan
	}
	return out, nil
}

// skip skips a value, returning its bytes.
func (s *scanner) skip() ([]byte, error) {
	s.ws()
	if s.i >= len(s.b) {
		return nil, errScan
	}
	start := s.i
	switch c := s.b[s.i]; c {
	case '"':
		if _, err := s.skipString(); err != nil {
			return nil, err
		}
	case '{', '[':
		depth := 0
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case '"':
				if _, err := s.skipString(); err != nil {
					return nil, err
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
			}
			s.i++
			if depth == 0 {
				return s.b[start:s.i], nil
			}
		}
		return nil, errScan
	default:
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case ',', '}', ']', ' ', '\t', '\r', '\n':
				return s.literal(s.b[start:s.i])
			}
			s.i++
		}
		return s.literal(s.b[start:s.i])
	}
	return s.b[start:s.i], nil
}

// literal checks a literal: true, false, null or a JSON number.
func (s *scanner) literal(b []byte) ([]byte, error) {
	switch string(b) {
	case "true", "false", "null":
		return b, nil
	}
	if !isNumber(b) {
		return nil, errScan
	}
	return b, nil
}

// isNumber reports whether b is a JSON number.
func isNumber(b []byte) bool {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i, n = i+1, n+1
		}
		return n
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(b)
}

func (s *scanner) skipString() (int, error) {
	j := s.i + 1
	for {
		k := bytes.IndexByte(s.b[j:], '"')
		if k < 0 {
			return 0, errScan
		}
		j += k
		n := 0
		for m := j - 1; m > s.i && s.b[m] == '\\'; m-- {
			n++
		}
		if n%2 == 0 {
			s.i = j + 1
			return j + 1, nil
		}
		j++
	}
}

func (s *scanner) num() (float64, error) {
	b, err := s.skip()
	if err != nil || len(b) == 0 {
		return 0, errScan
	}
	if b[0] == 'n' && string(b) == "null" {
		return 0, nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return 0, errScan
	}
	return f, nil
}

func (s *scanner) int() (int, error) {
	f, err := s.num()
	if err != nil || f != float64(int(f)) {
		return 0, errScan
	}
	return int(f), nil
}

func (s *scanner) time() (time.Time, error) {
	str, err := s.str()
	if err != nil {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, str)
	if err != nil {
		return time.Time{}, errScan
	}
	return t, nil
}

// object calls field for each member of an object. With known set, a key
// that matches one of them only case-insensitively (which encoding/json
// takes for that field) makes the scan give up.
func (s *scanner) object(known []string, field func(key string) error) error {
	if err := s.expect('{'); err != nil {
		return err
	}
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return nil
	}
	for {
		key, err := s.str()
		if err != nil {
			return err
		}
		if err := s.expect(':'); err != nil {
			return err
		}
		for _, k := range known {
			if key != k && strings.EqualFold(key, k) {
				return errScan
			}
		}
		if err := field(key); err != nil {
			return err
		}
		s.ws()
		if s.i >= len(s.b) {
			return errScan
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case '}':
			s.i++
			return nil
		default:
			return errScan
		}
	}
}

// end checks that only white space follows.
func (s *scanner) end() error {
	s.ws()
	if s.i != len(s.b) {
		return errScan
	}
	return nil
}

// nullable reads a string or null.
func (s *scanner) nullable() (string, error) {
	s.ws()
	if bytes.HasPrefix(s.b[s.i:], []byte("null")) {
		s.i += 4
		return "", nil
	}
	return s.str()
}

// The fields of fluxloop.Observation and fluxloop.Trace.
var (
	obsKeys = []string{"id", "trace_id", "parent_observation_id", "type", "name", "start_time", "end_time", "input",
		"output", "error", "level", "status_message", "metadata", "model", "prompt_tokens", "completion_tokens", "total_tokens"}
	traceKeys = []string{"id", "name", "start_time", "end_time", "input", "output", "error", "metadata", "tags",
		"session_id", "user_id"}
)

func scanObservation(b []byte) (lineObs, error) {
	var l lineObs
	s := &scanner{b: b}
	err := s.object(obsKeys, func(key string) error {
		var err error
		switch key {
		case "id":
			l.id, err = s.nullable()
		case "trace_id":
			l.traceID, err = s.nullable()
		case "parent_observation_id":
			l.parent, err = s.nullable()
		case "type":
			l.typ, err = s.nullable()
		case "name":
			l.name, err = s.nullable()
		case "level":
			l.level, err = s.nullable()
		case "error":
			l.err, err = s.nullable()
		case "status_message":
			l.status, err = s.nullable()
		case "model":
			l.model, err = s.nullable()
		case "start_time":
			l.start, err = s.time()
		case "end_time":
			l.end, err = s.time()
		case "prompt_tokens":
			l.prompt, err = s.int()
		case "completion_tokens":
			l.completion, err = s.int()
		case "total_tokens":
			l.total, err = s.int()
		case "input":
			l.input, err = s.skip()
		case "output":
			l.output, err = s.skip()
		case "metadata":
			s.ws()
			if s.i < len(s.b) && s.b[s.i] != '{' {
				_, err = s.skip()
				break
			}
			err = s.object(nil, func(key string) error {
				if key == costKey {
					f, err := s.num()
					l.cost, l.hasCost = f, err == nil
					return err
				}
				_, err := s.skip()
				return err
			})
		default:
			_, err = s.skip()
		}
		return err
	})
	if err == nil {
		err = s.end()
	}
	return l, err
}

func scanTrace(b []byte) (lineTrace, error) {
	var l lineTrace
	s := &scanner{b: b}
	err := s.object(traceKeys, func(key string) error {
		var err error
		switch key {
		case "id":
			l.id, err = s.nullable()
		case "name":
			l.name, err = s.nullable()
		case "error":
			l.err, err = s.nullable()
		case "session_id":
			l.session, err = s.nullable()
		case "user_id":
			l.user, err = s.nullable()
		case "start_time":
			l.start, err = s.time()
		case "end_time":
			l.end, err = s.time()
		case "tags":
			var raw []byte
			if raw, err = s.skip(); err == nil && !bytes.Equal(raw, []byte("null")) {
				if json.Unmarshal(raw, &l.tags) != nil {
					err = errScan
				}
			}
		default:
			_, err = s.skip()
		}
		return err
	})
	if err == nil {
		err = s.end()
	}
	return l, err
}

// warning is the warning for a line that could not be read.
func warning(r tracefile.Record, err error) tracefile.Warning {
	return tracefile.Warning{Source: r.Source, Line: r.Line, Offset: r.Offset,
		Reason: fmt.Sprintf("not %s record (%v), skipped", article(r.Kind), err)}
}

func article(k tracefile.Kind) string {
	if k == tracefile.KindObservation {
		return "an observation"
	}
	return "a " + k.String()
}
