package fluxloop

import (
	"bytes"
	"encoding/json"
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
		return valueOf(repl)
	}
	return r.nested(v)
}

// nested redacts keys inside an encoded composite value.
func (r *redaction) nested(v slot) slot {
	if v.kind != kindJSON || (!r.custom && !mayHoldSecretKey(v.s)) {
		return v
	}
	dec := json.NewDecoder(strings.NewReader(v.s))
	dec.UseNumber()
	var x any
	if dec.Decode(&x) != nil {
		return v
	}
	x, changed := r.walk(x)
	if !changed {
		return v
	}
	b := appendAny(nil, x)
	if !json.Valid(b) {
		return v
	}
	return slot{kind: kindJSON, s: string(bytes.TrimSpace(b))}
}

func (r *redaction) walk(x any) (any, bool) {
	changed := false
	switch t := x.(type) {
	case map[string]any:
		for k, e := range t {
			if repl, ok := r.call(k, e); ok {
				t[k] = repl
				changed = true
				continue
			}
			if ne, c := r.walk(e); c {
				t[k] = ne
				changed = true
			}
		}
	case []any:
		for i, e := range t {
			if ne, c := r.walk(e); c {
				t[i] = ne
				changed = true
			}
		}
	}
	return x, changed
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
