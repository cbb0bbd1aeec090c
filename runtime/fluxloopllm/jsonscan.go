package fluxloopllm

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math/bits"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// unsafeBytes views a string as bytes, for searches that do not keep them.
func unsafeBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// A small JSON scanner over byte slices: it finds the members of an object
// and the elements of an array without decoding what the caller does not
// ask for, and allocates nothing. Streamed chunks are read with it because
// decoding each one with encoding/json would cost the program more than its
// SDK's own decoding does. Malformed input makes the functions stop early
// and report false; they never panic.

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && b[i] <= ' ' && isSpace(b[i]) {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] == '"',
// or -1 when it is not terminated.
func skipString(b []byte, i int) int {
	i++
	for {
		j := quoteOrBackslash(b, i)
		if j >= len(b) {
			return -1
		}
		if b[j] == '"' {
			return j + 1
		}
		i = j + 2 // an escape: skip the escaped byte
	}
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// quoteOrBackslash returns the index of the first '"' or '\\' in b at or
// after i, or len(b): eight bytes at a time (SWAR), which is what makes
// reading a streamed chunk cheap next to decoding it.
func quoteOrBackslash(b []byte, i int) int {
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		q := x ^ ('"' * lsb)
		s := x ^ ('\\' * lsb)
		if t := ((q - lsb) &^ q & msb) | ((s - lsb) &^ s & msb); t != 0 {
			return i + bits.TrailingZeros64(t)/8
		}
	}
	for ; i < len(b); i++ {
		if c := b[i]; c == '"' || c == '\\' {
			return i
		}
	}
	return len(b)
}

// structural marks the bytes skipValue stops at inside a container.
var structural = [256]bool{'"': true, '{': true, '[': true, '}': true, ']': true}

// skipValue returns the index after the value starting at or after b[i],
// or -1 when there is none.
func skipValue(b []byte, i int) int {
	i = skipSpace(b, i)
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		// one tight loop: strings are scanned in place
		depth := 0
		for ; i < len(b); i++ {
			c := b[i]
			if !structural[c] {
				continue
			}
			switch c {
			case '"':
				if i = skipString(b, i) - 1; i < 0 {
					return -1
				}
			case '{', '[':
				depth++
			default:
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return -1
	default:
		j := i
		for j < len(b) {
			c := b[j]
			if c == ',' || c == '}' || c == ']' || c == ':' || isSpace(c) {
				break
			}
			j++
		}
		if j == i {
			return -1
		}
		return j
	}
}

// members calls fn with the raw key (without quotes, escapes left as they
// are) and the raw value of each member of the object b, until fn returns
// false. It reports whether b was an object read to its end.
func members(b []byte, fn func(key, val []byte) bool) bool {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i++
	for {
		i = skipSpace(b, i)
		if i >= len(b) {
			return false
		}
		if b[i] == '}' {
			return true
		}
		if b[i] == ',' {
			i++
			continue
		}
		if b[i] != '"' {
			return false
		}
		end := skipString(b, i)
		if end < 0 {
			return false
		}
		key := b[i+1 : end-1]
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		i = skipSpace(b, i+1)
		vend := skipValue(b, i)
		if vend < 0 {
			return false
		}
		if !fn(key, b[i:vend]) {
			return true
		}
		i = vend
	}
}

// elements calls fn with each raw element of the array b, until fn returns
// false. It reports whether b was an array read to its end.
func elements(b []byte, fn func(val []byte) bool) bool {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '[' {
		return false
	}
	i++
	for {
		i = skipSpace(b, i)
		if i >= len(b) {
			return false
		}
		if b[i] == ']' {
			return true
		}
		if b[i] == ',' {
			i++
			continue
		}
		end := skipValue(b, i)
		if end < 0 {
			return false
		}
		if !fn(b[i:end]) {
			return true
		}
		i = end
	}
}

// member returns the raw value of the member key of the object b.
func member(b []byte, key string) ([]byte, bool) {
	var out []byte
	found := false
	members(b, func(k, v []byte) bool {
		if string(k) == key {
			out, found = v, true
			return false
		}
		return true
	})
	return out, found
}

func isNull(v []byte) bool { return len(v) == 0 || string(v) == "null" }

// str decodes a JSON string; ok is false for anything else.
func str(v []byte) (string, bool) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", false
	}
	inner := v[1 : len(v)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner), true
	}
	return string(appendUnquoted(nil, inner)), true
}

// appendUnquoted appends the decoded contents of a JSON string (without its
// quotes) to dst.
func appendUnquoted(dst, s []byte) []byte {
	for len(s) > 0 {
		i := bytes.IndexByte(s, '\\')
		if i < 0 {
			return append(dst, s...)
		}
		dst = append(dst, s[:i]...)
		s = s[i:]
		if len(s) < 2 {
			return dst
		}
		switch s[1] {
		case 'n':
			dst = append(dst, '\n')
		case 't':
			dst = append(dst, '\t')
		case 'r':
			dst = append(dst, '\r')
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'u':
			if len(s) < 6 {
				return dst
			}
			r, ok := hex4(s[2:6])
			if !ok {
				return dst
			}
			s = s[6:]
			if utf16.IsSurrogate(r) {
				if len(s) >= 6 && s[0] == '\\' && s[1] == 'u' {
					if r2, ok := hex4(s[2:6]); ok {
						if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
							dst = utf8.AppendRune(dst, d)
							s = s[6:]
							continue
						}
					}
				}
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default: // '"', '\\', '/'
			dst = append(dst, s[1])
		}
		s = s[2:]
	}
	return dst
}

func hex4(b []byte) (rune, bool) {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// integer decodes a JSON number that is an integer.
func integer(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 20 {
		return 0, false
	}
	var n int64
	neg := false
	i := 0
	if v[0] == '-' {
		neg, i = true, 1
	}
	if i == len(v) {
		return 0, false
	}
	for ; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			f, err := strconv.ParseFloat(string(v), 64)
			if err != nil {
				return 0, false
			}
			return int64(f), true
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

func number(v []byte) (float64, bool) {
	if len(v) == 0 || !(v[0] == '-' || v[0] >= '0' && v[0] <= '9') {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(v), 64)
	return f, err == nil
}

func boolean(v []byte) (bool, bool) {
	switch string(v) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

// stringList decodes a JSON string or array of strings (32 at most).
func stringList(v []byte) []string {
	if s, ok := str(v); ok {
		return []string{s}
	}
	var out []string
	elements(v, func(e []byte) bool {
		if s, ok := str(e); ok && len(out) < 32 {
			out = append(out, s)
		}
		return true
	})
	return out
}

// validJSON reports whether v is JSON, for tool arguments recorded as JSON
// rather than as a string.
func validJSON(v []byte) bool { return len(v) > 0 && json.Valid(v) }

// valueOf finds the member key (at any depth: the first key of that name)
// in the JSON text b by searching for its quoted name followed by a colon,
// which no string value can contain (their quotes are escaped), and returns
// b from the member's value on: members, elements and skipValue stop at its
// end. It reads what it passes over once, with a vectorised search, instead
// of walking the structure before it.
func valueOf(b []byte, quotedKey string) ([]byte, bool) {
	for {
		i := bytes.Index(b, unsafeBytes(quotedKey))
		if i < 0 {
			return nil, false
		}
		j := skipSpace(b, i+len(quotedKey))
		if j < len(b) && b[j] == ':' {
			return b[skipSpace(b, j+1):], true
		}
		b = b[i+len(quotedKey):]
	}
}

// walk is members for callbacks that read a value in place: fn gets the key
// and the text from the value on, and returns how many bytes the value took
// (having read it), or 0 to have walk skip it, or -1 to stop. Each byte is
// then read once. walk returns the index after the object, or -1 when b is
// not an object read to its end.
func walk(b []byte, fn func(key, rest []byte) int) int {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return -1
	}
	return walkAt(b, i+1, fn)
}

// walkAt is walk from index i inside the object: after its '{' or after
// one of its values.
func walkAt(b []byte, i int, fn func(key, rest []byte) int) int {
	for {
		i = skipSpace(b, i)
		if i >= len(b) {
			return -1
		}
		switch b[i] {
		case '}':
			return i + 1
		case ',':
			i++
			continue
		case '"':
		default:
			return -1
		}
		end := skipString(b, i)
		if end < 0 {
			return -1
		}
		key := b[i+1 : end-1]
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return -1
		}
		i = skipSpace(b, i+1)
		n := fn(key, b[i:])
		switch {
		case n < 0:
			return len(b)
		case n == 0:
			if n = skipValue(b, i) - i; n <= 0 {
				return -1
			}
		}
		i += n
	}
}

// walkElements is walk for arrays: fn gets the text from each element on.
func walkElements(b []byte, fn func(rest []byte) int) int {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '[' {
		return -1
	}
	i++
	for {
		i = skipSpace(b, i)
		if i >= len(b) {
			return -1
		}
		switch b[i] {
		case ']':
			return i + 1
		case ',':
			i++
			continue
		}
		n := fn(b[i:])
		switch {
		case n < 0:
			return len(b)
		case n == 0:
			if n = skipValue(b, i) - i; n <= 0 {
				return -1
			}
		}
		i += n
	}
}
