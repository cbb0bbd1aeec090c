package fluxloop

import (
	"encoding/json"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Redactor decides, for one key and its value, whether the value is replaced
// before it is written: it returns the replacement and true, or anything and
// false to keep the value. Keys are input parameter names, metadata keys and
// the keys of objects nested in captured values (a value inside an array has
// no key and is not offered). Values are what JSON decoding gives: nil, bool,
// json.Number, string, []any or map[string]any (parameters and attributes of
// scalar kinds arrive as bool, int64, uint64, float64 or string).
//
// Redaction runs in the background writer, never on the traced program's
// path. The default, DefaultRedactor, masks secrets by key; set another with
// WithRedactor (call DefaultRedactor from yours to keep it). A custom
// Redactor makes the writer decode every captured composite value, which
// costs more than the default's filtered walk.
type Redactor func(key string, value any) (any, bool)

// Masked is the replacement the default redactor writes.
const Masked = "***"

// DefaultRedactor masks, as "***", the value of a key one of whose words (the
// key split at camelCase humps, underscores, dashes, dots and spaces, compared
// case-insensitively) is password, passwd, secret, token, authorization,
// auth, credential(s) or cookie, or that has the adjacent words api key,
// private key or access key. So apiKey, authToken, client_secret and
// X-Api-Key are masked; maxTokens and keyboard are not.
func DefaultRedactor(key string, _ any) (any, bool) {
	if IsSecretKey(key) {
		return Masked, true
	}
	return nil, false
}

// IsSecretKey reports whether DefaultRedactor masks key.
func IsSecretKey(key string) bool {
	prev := ""
	found := false
	eachWord(key, func(w string) bool {
		switch {
		case isSecretWord(w):
			found = true
		case strings.EqualFold(w, "key") && (strings.EqualFold(prev, "api") || strings.EqualFold(prev, "private") || strings.EqualFold(prev, "access")):
			found = true
		}
		prev = w
		return !found
	})
	return found
}

var secretWords = [...]string{
	"password", "passwords", "passwd", "secret", "secrets", "token", "authorization", "auth",
	"credential", "credentials", "cookie", "cookies", "apikey", "privatekey", "accesskey",
}

func isSecretWord(w string) bool {
	for _, s := range secretWords {
		if len(w) == len(s) && strings.EqualFold(w, s) {
			return true
		}
	}
	return false
}

// eachWord calls f with each word of key until f returns false. Words break at
// non-alphanumeric characters, at a lower-to-upper case change (fooBar), and
// before the last upper-case letter of an acronym followed by a lower-case
// one (APIKey is API Key).
func eachWord(key string, f func(string) bool) {
	start := -1
	var prev rune
	for i, r := range key {
		alnum := unicode.IsLetter(r) || unicode.IsDigit(r)
		if !alnum {
			if start >= 0 {
				if !f(key[start:i]) {
					return
				}
				start = -1
			}
			prev = r
			continue
		}
		if start < 0 {
			start = i
		} else if unicode.IsUpper(r) {
			split := unicode.IsLower(prev) || unicode.IsDigit(prev)
			if !split && unicode.IsUpper(prev) {
				// APIKey: split before K when followed by a lower-case letter
				next, _ := utf8.DecodeRuneInString(key[i+utf8.RuneLen(r):])
				split = unicode.IsLower(next)
			}
			if split {
				if !f(key[start:i]) {
					return
				}
				start = i
			}
		}
		prev = r
	}
	if start >= 0 {
		f(key[start:])
	}
}

// mayHoldSecretKey is the default redactor's cheap filter: encoded JSON holds
// a key the default redactor masks only if it contains one of these
// fragments, case-insensitively.
func mayHoldSecretKey(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] | 0x20 {
		case 'p':
			if hasFoldAt(s, i, "pass") || hasFoldAt(s, i, "private") {
				return true
			}
		case 's':
			if hasFoldAt(s, i, "secret") {
				return true
			}
		case 't':
			if hasFoldAt(s, i, "token") {
				return true
			}
		case 'a':
			if hasFoldAt(s, i, "auth") || hasFoldAt(s, i, "access") || hasFoldAt(s, i, "api") {
				return true
			}
		case 'c':
			if hasFoldAt(s, i, "cred") || hasFoldAt(s, i, "cookie") {
				return true
			}
		}
	}
	return false
}

func hasFoldAt(s string, i int, frag string) bool {
	return len(s)-i >= len(frag) && strings.EqualFold(s[i:i+len(frag)], frag)
}

// redaction applies a client's Redactor.
type redaction struct {
	fn     Redactor
	custom bool
}

func newRedaction(fn Redactor) redaction {
	if fn == nil {
		return redaction{fn: DefaultRedactor}
	}
	return redaction{fn: fn, custom: true}
}

// key offers one keyed captured value to the redactor. It returns the value
// to write.
func (r *redaction) key(key string, v slot) slot {
	if !r.custom {
		if IsSecretKey(key) {
			return slot{kind: kindString, s: Masked}
		}
	} else if repl, ok := r.call(key, v.goValue()); ok {
		return valueOf(fallbackCapturer, repl)
	}
	return r.nested(v)
}

// nested redacts keys inside an encoded composite value. It rewrites the
// JSON text in place of each redacted value, so keys keep their order.
func (r *redaction) nested(v slot) slot {
	if v.kind != kindJSON || (!r.custom && (v.n&jsonKeys == 0 || !mayHoldSecretKey(v.s))) {
		// The capture engine masked struct fields itself; only keys it
		// wrote from maps and raw JSON need the default redactor here.
		return v
	}
	out, changed, ok := r.redactJSON(make([]byte, 0, len(v.s)), v.s)
	if !ok || !changed || !json.Valid(out) {
		return v
	}
	return slot{kind: kindJSON, s: string(out), n: v.n}
}

// redactJSON appends the JSON value s with the values of redacted keys
// replaced. ok is false when s is not well-formed.
func (r *redaction) redactJSON(b []byte, s string) (_ []byte, changed, ok bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return b, false, false
	}
	switch s[0] {
	case '{':
		b = append(b, '{')
		rest := strings.TrimSpace(s[1:])
		first := true
		for !strings.HasPrefix(rest, "}") {
			if !first {
				if !strings.HasPrefix(rest, ",") {
					return b, false, false
				}
				b = append(b, ',')
				rest = strings.TrimSpace(rest[1:])
			}
			first = false
			kend := scanValue(rest)
			if kend <= 0 || rest[0] != '"' {
				return b, false, false
			}
			var key string
			if json.Unmarshal([]byte(rest[:kend]), &key) != nil {
				return b, false, false
			}
			b = append(b, rest[:kend]...)
			rest = strings.TrimSpace(rest[kend:])
			if !strings.HasPrefix(rest, ":") {
				return b, false, false
			}
			b = append(b, ':')
			rest = strings.TrimSpace(rest[1:])
			vend := scanValue(rest)
			if vend <= 0 {
				return b, false, false
			}
			val := rest[:vend]
			rest = strings.TrimSpace(rest[vend:])
			if repl, ok := r.replacement(key, val); ok {
				before := len(b)
				b = appendAny(b, repl)
				changed = changed || string(b[before:]) != val
				continue
			}
			var c bool
			if b, c, ok = r.redactJSON(b, val); !ok {
				return b, false, false
			}
			changed = changed || c
		}
		return append(b, '}'), changed, true
	case '[':
		b = append(b, '[')
		rest := strings.TrimSpace(s[1:])
		first := true
		for !strings.HasPrefix(rest, "]") {
			if !first {
				if !strings.HasPrefix(rest, ",") {
					return b, false, false
				}
				b = append(b, ',')
				rest = strings.TrimSpace(rest[1:])
			}
			first = false
			end := scanValue(rest)
			if end <= 0 {
				return b, false, false
			}
			var c bool
			if b, c, ok = r.redactJSON(b, rest[:end]); !ok {
				return b, false, false
			}
			changed = changed || c
			rest = strings.TrimSpace(rest[end:])
		}
		return append(b, ']'), changed, true
	}
	return append(b, s...), false, true
}

// replacement asks the redactor about one key and its encoded value.
func (r *redaction) replacement(key, val string) (any, bool) {
	if !r.custom {
		if IsSecretKey(key) {
			return Masked, true
		}
		return nil, false
	}
	dec := json.NewDecoder(strings.NewReader(val))
	dec.UseNumber()
	var x any
	if dec.Decode(&x) != nil {
		return nil, false
	}
	return r.call(key, x)
}

// scanValue returns the length of the JSON value at the start of s, or 0
// when it is not well-formed enough to find its end.
func scanValue(s string) int {
	if s == "" {
		return 0
	}
	depth := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			j := i + 1
			for ; j < len(s); j++ {
				if s[j] == '\\' {
					j++
				} else if s[j] == '"' {
					break
				}
			}
			if j >= len(s) {
				return 0
			}
			i = j
			if depth == 0 {
				return i + 1
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return i // the end of a scalar inside a container
			}
			depth--
			if depth == 0 {
				return i + 1
			}
		case ',', ':', ' ', '\t', '\n', '\r':
			if depth == 0 {
				return i
			}
		}
	}
	if depth == 0 {
		return len(s)
	}
	return 0
}

// call runs the redactor, treating a panic as "keep the value masked".
func (r *redaction) call(key string, v any) (repl any, ok bool) {
	defer func() {
		if p := recover(); p != nil {
			repl, ok = Masked, true
		}
	}()
	return r.fn(key, v)
}

// redactQuery masks, in the query of URL text u, the values of parameters
// whose names IsSecretKey flags (api_key, token, ...), keeping the rest of
// the text as it is.
func redactQuery(u string) string {
	q := strings.IndexByte(u, '?')
	if q < 0 {
		return u
	}
	end := len(u)
	if h := strings.IndexByte(u[q:], '#'); h >= 0 {
		end = q + h
	}
	var out []byte
	start := q + 1
	for i := start; i <= end; i++ {
		if i < end && u[i] != '&' && u[i] != ';' {
			continue
		}
		param := u[start:i]
		if eq := strings.IndexByte(param, '='); eq >= 0 {
			key := param[:eq]
			if k, err := url.QueryUnescape(key); err == nil {
				key = k
			}
			if IsSecretKey(key) && param[eq+1:] != Masked {
				if out == nil {
					out = append(out, u[:start]...)
				}
				out = append(out, param[:eq+1]...)
				out = append(out, Masked...)
				if i < end {
					out = append(out, u[i])
				}
				start = i + 1
				continue
			}
		}
		if out != nil {
			out = append(out, u[start:min(i+1, end)]...)
		}
		start = i + 1
	}
	if out == nil {
		return u
	}
	return string(append(out, u[end:]...))
}
