package viewer

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// appendJSON appends n as encoding/json writes it (the same bytes, as
// TestNodeJSON checks), several times faster: a 50,000-node skeleton is
// 16 MB of JSON.
func (n *Node) appendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, n.ID)
	b = append(b, `,"parent_id":`...)
	b = appendString(b, n.ParentID)
	b = append(b, `,"type":`...)
	b = appendString(b, n.Type)
	b = append(b, `,"name":`...)
	b = appendString(b, n.Name)
	b = append(b, `,"start_time":`...)
	b = appendTime(b, n.StartTime)
	b = append(b, `,"end_time":`...)
	if n.EndTime == nil {
		b = append(b, "null"...)
	} else {
		b = appendTime(b, *n.EndTime)
	}
	b = append(b, `,"duration_ms":`...)
	b = strconv.AppendFloat(b, n.DurationMS, 'f', -1, 64)
	b = append(b, `,"level":`...)
	b = appendString(b, n.Level)
	b = append(b, `,"error":`...)
	b = appendString(b, n.Error)
	b = append(b, `,"status_message":`...)
	b = appendString(b, n.StatusMessage)
	b = append(b, `,"model":`...)
	b = appendString(b, n.Model)
	b = append(b, `,"prompt_tokens":`...)
	b = strconv.AppendInt(b, int64(n.PromptTokens), 10)
	b = append(b, `,"completion_tokens":`...)
	b = strconv.AppendInt(b, int64(n.CompletionTokens), 10)
	b = append(b, `,"has_input":`...)
	b = strconv.AppendBool(b, n.HasInput)
	b = append(b, `,"has_output":`...)
	b = strconv.AppendBool(b, n.HasOutput)
	b = append(b, `,"running":`...)
	b = strconv.AppendBool(b, n.Running)
	return append(b, '}')
}

// appendTime writes a time as time.Time's MarshalJSON does, for times
// within years 0 to 9999.
func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

const hex = "0123456789abcdef"

// appendString writes s as encoding/json does without HTML escaping:
// quotes, backslashes and control characters escaped, invalid UTF-8 as
// U+FFFD, U+2028 and U+2029 escaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
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
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
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
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
