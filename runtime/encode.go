package fluxloop

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// The hand-written JSON encoder used by the background writer. It encodes
// strings like encoding/json does (invalid UTF-8 becomes U+FFFD, U+2028 and
// U+2029 are escaped) but does not escape <, > and &, which JSON does not
// require. encoding/json is used only for arbitrary captured values.

// timeLayout is RFC 3339 with exactly nine fractional digits, so that
// timestamps sort as text.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// appendTime appends t in UTC as a JSON string in timeLayout. Years 1..9999
// take a fast path (civil date from days, after Howard Hinnant's algorithm).
func appendTime(b []byte, t time.Time) []byte {
	sec := t.Unix()
	const minSec, maxSec = -62135596800, 253402300799 // 0001-01-01 .. 9999-12-31
	if sec < minSec || sec > maxSec {
		b = append(b, '"')
		b = t.UTC().AppendFormat(b, timeLayout)
		return append(b, '"')
	}
	days := sec / 86400
	rem := sec % 86400
	if rem < 0 {
		rem += 86400
		days--
	}
	// civil_from_days
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	var buf [32]byte
	buf[0] = '"'
	put4(buf[1:], int(y))
	buf[5] = '-'
	put2(buf[6:], int(m))
	buf[8] = '-'
	put2(buf[9:], int(d))
	buf[11] = 'T'
	put2(buf[12:], int(rem/3600))
	buf[14] = ':'
	put2(buf[15:], int(rem/60%60))
	buf[17] = ':'
	put2(buf[18:], int(rem%60))
	buf[20] = '.'
	ns := t.Nanosecond()
	for i := 29; i >= 21; i-- {
		buf[i] = byte('0' + ns%10)
		ns /= 10
	}
	buf[30] = 'Z'
	buf[31] = '"'
	return append(b, buf[:]...)
}

func put2(b []byte, v int) {
	b[0] = byte('0' + v/10)
	b[1] = byte('0' + v%10)
}

func put4(b []byte, v int) {
	put2(b, v/100)
	put2(b[2:], v%100)
}

func appendInt(b []byte, n int64) []byte { return strconv.AppendInt(b, n, 10) }

// appendFloat encodes f like encoding/json; NaN and infinities, which JSON
// cannot express, become the strings "NaN", "+Inf" and "-Inf".
func appendFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return appendString(b, strconv.FormatFloat(f, 'g', -1, 64))
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9, as encoding/json does
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// plainByte marks the bytes a JSON string holds as they are: printable
// ASCII but the quote and the backslash.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		for i < len(s) && plainByte[s[i]] {
			i++
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendRaw appends already-encoded JSON, or null when it is empty.
func appendRaw(b []byte, raw []byte) []byte {
	if len(raw) == 0 {
		return append(b, "null"...)
	}
	return append(b, raw...)
}

// appendValue appends a captured value.
func appendValue(b []byte, v *slot) []byte {
	switch v.kind {
	case kindBool:
		if v.n != 0 {
			return append(b, "true"...)
		}
		return append(b, "false"...)
	case kindInt:
		return appendInt(b, int64(v.n))
	case kindUint:
		return strconv.AppendUint(b, v.n, 10)
	case kindFloat:
		return appendFloat(b, math.Float64frombits(v.n))
	case kindString:
		return appendString(b, v.s)
	case kindJSON:
		return append(b, v.s...)
	}
	return append(b, "null"...)
}

// appendMap appends m as a JSON object with sorted keys.
func appendMap(b []byte, m map[string]any) []byte {
	var stack [16]string
	keys := stack[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		b = appendAny(b, m[k])
	}
	return append(b, '}')
}

// appendAny appends the JSON encoding of v: fast paths for the types the
// writer puts into metadata, encoding/json (made safe) for the rest.
func appendAny(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case string:
		return appendString(b, x)
	case bool:
		if x {
			return append(b, "true"...)
		}
		return append(b, "false"...)
	case int:
		return appendInt(b, int64(x))
	case int64:
		return appendInt(b, x)
	case uint64:
		return strconv.AppendUint(b, x, 10)
	case float64:
		return appendFloat(b, x)
	case json.RawMessage:
		return appendRaw(b, x)
	case json.Number:
		if x == "" {
			return append(b, '0')
		}
		return append(b, x...)
	case slot:
		return appendValue(b, &x)
	case []string:
		b = append(b, '[')
		for i, s := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, s)
		}
		return append(b, ']')
	case map[string]any:
		return appendMap(b, x)
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendAny(b, e)
		}
		return append(b, ']')
	}
	s := captureAny(fallbackCapturer, v)
	return appendValue(b, &s)
}
