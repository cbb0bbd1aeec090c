package fluxloop

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
	"unsafe"
)

// The capture engine turns an argument or result into JSON on the caller's
// path, while the traced call is on the stack (the program may change the
// value afterwards). It is built so that it can stay on for every function:
//
//   - Bounded work. It walks the value itself with reflect and stops at a
//     budget of bytes (MaxFieldBytes) and of values (MaxNodes: fields,
//     elements and entries, a string counting as one), a depth (MaxDepth)
//     and a number of items per slice, array or map (MaxItems), writing a
//     visible marker such as
//     "… 999,900 more" where it stops. Pointers, slices and maps on the
//     current path are remembered, so a cycle costs one scan of at most
//     MaxDepth entries and is written as "<cycle: *T>". The work per value
//     is O(budget), never O(size).
//   - No behaviour change. It calls no method of the program's types: not
//     MarshalJSON, MarshalText or String, which may mutate, lock or panic.
//     The exceptions are error's Error (the text of an error) and
//     slog.LogValuer's LogValue (the standard hook a type uses to describe
//     or redact itself), both with panics recovered and tracing quiet.
//     Marshalers can be trusted explicitly (WithUserMarshalers).
//   - No guarded memory. A struct holding a sync or sync/atomic value
//     (directly or in fields it contains by value) is shared state: its
//     fields are not read, and it is recorded as "<T: not read, it holds a
//     sync.Mutex>".
//   - Useful output. Exported fields appear under their json tag names, with
//     "-", omitempty and omitzero honoured, in declaration order; a type of
//     the program whose fields are all unexported shows them under their Go
//     names, as %+v would, instead of {}. Standard-library types get their
//     usual forms: time.Time as RFC 3339, time.Duration as "1.5s", URLs with
//     the password redacted, net/netip addresses, big numbers, json
//     RawMessage and Number, []byte as text or base64. A field tagged
//     `fluxloop:"-"` is left out, `fluxloop:"redact"` written as "***", and
//     fields whose names the default redactor flags (apiKey, password) are
//     masked as they are written.
//   - Cheap. Encoders are built once per type and cached, as encoding/json
//     does; the encoded bytes are carved from shared slabs, so capturing a
//     pointer to a struct costs no allocation at all.

// capturer holds a client's capture limits. It is immutable.
type capturer struct {
	maxBytes, maxDepth, maxItems, maxNodes int
	allMarshalers                          bool
	trusted                                map[reflect.Type]bool
}

func newCapturer(cfg *Config) *capturer {
	c := &capturer{
		maxBytes:      cfg.MaxFieldBytes,
		maxDepth:      cfg.MaxDepth,
		maxItems:      cfg.MaxItems,
		maxNodes:      cfg.MaxNodes,
		allMarshalers: cfg.UserMarshalers,
	}
	if len(cfg.MarshalerTypes) > 0 {
		c.trusted = map[reflect.Type]bool{}
		for _, t := range cfg.MarshalerTypes {
			c.trusted[t] = true
		}
	}
	return c
}

// trusts reports whether the MarshalJSON of t may be called.
func (c *capturer) trusts(t reflect.Type) bool {
	return c.allMarshalers || c.trusted[t]
}

// encState is one capture in progress. The bytes are not kept in it but
// passed from encoder to encoder (append style), which keeps them in
// registers and out of the write barrier.
type encState struct {
	slab      []byte // captured bytes are encoded into its free tail
	c         *capturer
	limit     int // len(b) at which the budget is spent
	nodes     int // values written or started
	depth     int
	path      []uintptr // pointers of the containers being encoded, for cycles
	truncated bool
	keys      bool // object keys were written that are not struct fields' (see jsonKeys)
	private   int  // depth of structs shown by their unexported fields

	lastType reflect.Type // the dynamic type last met in an interface, and its encoder
	lastEnc  encoderFunc
}

var encStates = sync.Pool{New: func() any { return new(encState) }}

// spent reports whether the budget is spent before one more value is
// written, counting that value: MaxFieldBytes bytes or MaxNodes values.
func (e *encState) spent(b []byte) bool {
	e.nodes++
	return len(b) >= e.limit || e.nodes > e.c.maxNodes
}

// capture encodes v. The slot records whether the capture stopped at a
// limit and whether v was its type's zero value.
func (c *capturer) capture(v reflect.Value) slot {
	e := encStates.Get().(*encState)
	if cap(e.slab)-len(e.slab) < slabMinFree {
		e.slab = make([]byte, 0, slabSize)
	}
	start := len(e.slab)
	e.c, e.limit, e.nodes, e.depth, e.path, e.truncated, e.keys, e.private = c, c.maxBytes, 0, 0, e.path[:0], false, false, 0
	b := e.value(e.slab[start:start], v)
	s := slot{kind: kindJSON}
	if len(b) > 0 {
		// In the slab's tail, or in an array append grew for this value
		// alone: either way bytes no encoder writes again.
		s.s = unsafe.String(&b[0], len(b))
		if cap(b) > 0 && &b[:cap(b)][cap(b)-1] == &e.slab[:cap(e.slab)][cap(e.slab)-1] {
			e.slab = e.slab[:start+len(b)]
		}
	}
	if e.truncated {
		s.n |= jsonTruncated
	}
	if e.keys {
		s.n |= jsonKeys
	}
	if cheapIsZero(v) {
		s.n |= jsonZero
	}
	e.c, e.lastType, e.lastEnc = nil, nil, nil
	encStates.Put(e)
	return s
}

// Flags in slot.n of a kindJSON slot.
const (
	jsonTruncated = 1 << iota // the capture stopped at a limit
	jsonZero                  // the value was its type's zero value
	jsonKeys                  // map or raw JSON keys, which the writer's redaction must see
)

// cheapIsZero reports whether v is the zero value of its type, without
// looking at more than a fixed amount of memory: slices, maps, pointers and
// interfaces are zero only when nil, and large arrays and structs are not
// checked.
func cheapIsZero(v reflect.Value) bool {
	if !v.IsValid() {
		return true
	}
	switch v.Kind() {
	case reflect.Array, reflect.Struct:
		if v.Type().Size() > 1024 {
			return false
		}
	}
	return v.IsZero()
}

// Captured bytes are encoded straight into the free tail of a slab, a
// chunk of memory shared by many captures, so that a capture needs no
// allocation and no copy of its own. Bytes once handed out are never
// written again; a slab is freed when no captured value points into it.
const (
	slabSize    = 16 << 10
	slabMinFree = 1 << 10
)

// encoderFunc appends the JSON for v, a value of the type it was built for.
type encoderFunc func(e *encState, b []byte, v reflect.Value) []byte

var encoders sync.Map // reflect.Type -> encoderFunc

// typeEncoder returns the cached encoder for t, building it on first use.
// Recursive types get an indirect encoder while theirs is being built, as in
// encoding/json.
func typeEncoder(t reflect.Type) encoderFunc {
	if f, ok := encoders.Load(t); ok {
		return f.(encoderFunc)
	}
	var (
		wg sync.WaitGroup
		f  encoderFunc
	)
	wg.Add(1)
	fi, loaded := encoders.LoadOrStore(t, encoderFunc(func(e *encState, b []byte, v reflect.Value) []byte {
		wg.Wait()
		return f(e, b, v)
	}))
	if loaded {
		return fi.(encoderFunc)
	}
	f = newTypeEncoder(t)
	wg.Done()
	encoders.Store(t, f)
	return f
}

// value appends the JSON for v, whatever its type.
func (e *encState) value(b []byte, v reflect.Value) []byte {
	if !v.IsValid() {
		return append(b, "null"...)
	}
	return typeEncoder(v.Type())(e, b, v)
}

// marker appends a JSON string describing what was not written.
func (e *encState) marker(b []byte, parts ...string) []byte {
	b = append(b, '"')
	for _, p := range parts {
		b = appendStringBody(b, p)
	}
	return append(b, '"')
}

// enter starts a container; it returns false (having written a marker) when
// the depth limit or the budget is reached.
func (e *encState) enter(b []byte, t reflect.Type) ([]byte, bool) {
	if e.depth >= e.c.maxDepth {
		e.truncated = true
		return e.marker(b, "<too deep: ", t.String(), ">"), false
	}
	if len(b) >= e.limit || e.nodes >= e.c.maxNodes {
		e.truncated = true
		return e.marker(b, "…"), false
	}
	e.depth++
	return b, true
}

func (e *encState) leave() { e.depth-- }

// onPath reports whether the container at p is being encoded, and pushes it
// when not. Callers pop it with pop.
func (e *encState) onPath(p uintptr) bool {
	if slices.Contains(e.path, p) {
		return true
	}
	e.path = append(e.path, p)
	return false
}

func (e *encState) pop() { e.path = e.path[:len(e.path)-1] }

// cycle appends the marker of a container met again on the path.
func (e *encState) cycle(b []byte, t reflect.Type) []byte {
	e.truncated = true
	return e.marker(b, "<cycle: ", t.String(), ">")
}

// more appends the "… N more" marker for n items left out.
func (e *encState) more(b []byte, n int) []byte {
	e.truncated = true
	b = append(b, `"… `...)
	b = appendGrouped(b, n)
	return append(b, ` more"`...)
}

// Inside a struct shown by its unexported fields (internal state such as a
// parser's, not a payload) strings and collections are cut shorter.
const (
	privateStringBytes = 256
	privateItems       = 10
)

// room is the number of bytes a string may take here.
func (e *encState) room(b []byte) int {
	room := max(e.limit-len(b), 16)
	if e.private > 0 {
		room = min(room, privateStringBytes)
	}
	return room
}

// items is the number of elements of a collection of n written here.
func (e *encState) items(n int) int {
	if e.private > 0 {
		return min(n, e.c.maxItems, privateItems)
	}
	return min(n, e.c.maxItems)
}

// appendGrouped appends n with thousands separators: 999,900.
func appendGrouped(b []byte, n int) []byte {
	s := strconv.Itoa(n)
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, s[i])
	}
	return b
}

// str appends s as a JSON string, cut to the remaining budget.
func (e *encState) str(b []byte, s string) []byte {
	room := e.room(b)
	if len(s)*6 <= room {
		return appendString(b, s) // fits even if every byte is escaped
	}
	cut := escapedCut(s, room)
	if cut == len(s) {
		return appendString(b, s)
	}
	e.truncated = true
	b = append(b, '"')
	b = appendStringBody(b, s[:cut])
	b = append(b, "…(truncated "...)
	b = strconv.AppendInt(b, int64(len(s)-cut), 10)
	return append(b, ` bytes)"`...)
}

// escapedCut returns the length of the longest prefix of s, ending at a
// rune boundary, whose JSON escaping takes at most room bytes. It reads at
// most room bytes of s.
func escapedCut(s string, room int) int {
	n := 0
	for i := 0; i < len(s); {
		c := s[i]
		w, size := 1, 1
		switch {
		case plainByte[c]:
		case c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t':
			w = 2
		case c < utf8.RuneSelf:
			w = 6
		default:
			r, sz := utf8.DecodeRuneInString(s[i:])
			size, w = sz, sz
			if r == utf8.RuneError && sz == 1 || r == '\u2028' || r == '\u2029' {
				w = 6
			}
		}
		if n+w > room {
			return i
		}
		n += w
		i += size
	}
	return len(s)
}

// appendStringBody appends s escaped for a JSON string, without quotes.
func appendStringBody(b []byte, s string) []byte {
	n := len(b)
	b = appendString(b, s)
	copy(b[n:], b[n+1:len(b)-1]) // drop the quotes
	return b[:len(b)-2]
}

// readable returns v with the read-only flag reflect sets on values reached
// through unexported fields cleared, so that methods can be called and
// standard-library values converted. It never writes through v.
func readable(v reflect.Value) (reflect.Value, bool) {
	if v.CanInterface() {
		return v, true
	}
	if v.CanAddr() {
		return reflect.NewAt(v.Type(), unsafe.Pointer(v.UnsafeAddr())).Elem(), true
	}
	if flagField.ok {
		p := (*uintptr)(unsafe.Add(unsafe.Pointer(&v), flagField.offset))
		*p &^= flagRO
		if v.CanInterface() {
			return v, true
		}
	}
	return v, false
}

// flagRO is reflect's flagStickyRO|flagEmbedRO (reflect/value.go), checked
// at init against the running reflect: when the check fails, values reached
// through unexported fields and not addressable are described by type.
const flagRO = 1<<5 | 1<<6

var flagField struct {
	offset uintptr
	ok     bool
}

func init() {
	f, ok := reflect.TypeFor[reflect.Value]().FieldByName("flag")
	if !ok || f.Type.Kind() != reflect.Uintptr {
		return
	}
	flagField.offset, flagField.ok = f.Offset, true
	probe := reflect.ValueOf(struct{ x any }{x: 1}).Field(0)
	if probe.CanInterface() {
		flagField.ok = false
		return
	}
	if v, _ := readable(probe); !v.CanInterface() || v.Interface() != any(1) {
		flagField.ok = false
	}
}

// iface returns v as an interface value for calling a method or converting
// a standard-library type, or false when that is not possible.
func iface(v reflect.Value) (any, bool) {
	v, ok := readable(v)
	if !ok {
		return nil, false
	}
	return v.Interface(), true
}

// describeType appends "<T>".
func (e *encState) describeType(b []byte, t reflect.Type) []byte {
	return e.marker(b, "<", t.String(), ">")
}

func encodeBool(_ *encState, b []byte, v reflect.Value) []byte {
	if v.Bool() {
		return append(b, "true"...)
	}
	return append(b, "false"...)
}

func encodeInt(_ *encState, b []byte, v reflect.Value) []byte {
	return strconv.AppendInt(b, v.Int(), 10)
}

func encodeUint(_ *encState, b []byte, v reflect.Value) []byte {
	return strconv.AppendUint(b, v.Uint(), 10)
}

func encodeFloat(_ *encState, b []byte, v reflect.Value) []byte { return appendFloat(b, v.Float()) }

func encodeComplex(_ *encState, b []byte, v reflect.Value) []byte {
	c := v.Complex()
	b = append(b, `"(`...)
	b = strconv.AppendFloat(b, real(c), 'g', -1, 64)
	if imag(c) >= 0 || math.IsNaN(imag(c)) {
		b = append(b, '+')
	}
	b = strconv.AppendFloat(b, imag(c), 'g', -1, 64)
	return append(b, `i)"`...)
}

func encodeString(e *encState, b []byte, v reflect.Value) []byte { return e.str(b, v.String()) }

func encodeInterface(e *encState, b []byte, v reflect.Value) []byte {
	if v.IsNil() {
		return append(b, "null"...)
	}
	x := v.Elem()
	// Collections of interfaces mostly hold one dynamic type: remember its
	// encoder instead of looking it up for every element.
	if t := x.Type(); t != e.lastType {
		e.lastType, e.lastEnc = t, typeEncoder(t)
	}
	return e.lastEnc(e, b, x)
}

// encodeBytes writes a []byte as text when it is valid UTF-8 and as base64
// otherwise (encoding/json always uses base64, which hides text payloads).
func encodeBytes(e *encState, b []byte, v reflect.Value) []byte {
	if v.Kind() == reflect.Slice && v.IsNil() {
		return append(b, "null"...)
	}
	var data []byte
	if v.Kind() == reflect.Slice || v.CanAddr() {
		data = v.Bytes()
	} else {
		data = make([]byte, v.Len())
		reflect.Copy(reflect.ValueOf(data), v)
	}
	room := e.room(b)
	cut := len(data)
	if cut > room {
		cut = room
		for cut > 0 && !utf8.RuneStart(data[cut]) {
			cut--
		}
	}
	if utf8.Valid(data[:cut]) {
		return e.str(b, unsafe.String(unsafe.SliceData(data), len(data)))
	}
	if cut = min(len(data), room/4*3); cut < len(data) {
		e.truncated = true
	}
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, data[:cut])
	if cut < len(data) {
		b = append(b, "…(truncated "...)
		b = strconv.AppendInt(b, int64(len(data)-cut), 10)
		b = append(b, " bytes)"...)
	}
	return append(b, '"')
}

func newSliceEncoder(t reflect.Type) encoderFunc {
	if t.Elem().Kind() == reflect.Uint8 && !hasMethods(t.Elem()) {
		return encodeBytes
	}
	elem := typeEncoder(t.Elem())
	fast := fastList(t)
	return func(e *encState, b []byte, v reflect.Value) []byte {
		if v.IsNil() {
			return append(b, "null"...)
		}
		if e.onPath(uintptr(v.UnsafePointer())) {
			return e.cycle(b, t)
		}
		if fast != nil {
			var ok bool
			if b, ok = e.enter(b, t); ok {
				b = fast(e, b, v.UnsafePointer(), v.Len())
				e.leave()
			}
		} else {
			b = encodeList(e, b, v, t, elem)
		}
		e.pop()
		return b
	}
}

func newArrayEncoder(t reflect.Type) encoderFunc {
	elem := typeEncoder(t.Elem())
	return func(e *encState, b []byte, v reflect.Value) []byte { return encodeList(e, b, v, t, elem) }
}

// encodeList writes the first MaxItems elements of a slice or array.
func encodeList(e *encState, b []byte, v reflect.Value, t reflect.Type, enc encoderFunc) []byte {
	b, ok := e.enter(b, t)
	if !ok {
		return b
	}
	n := v.Len()
	shown := e.items(n)
	b = append(b, '[')
	for i := 0; i < shown; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		if e.spent(b) {
			b = e.more(b, n-i)
			shown = n
			break
		}
		b = enc(e, b, v.Index(i))
	}
	if shown < n {
		if shown > 0 {
			b = append(b, ',')
		}
		b = e.more(b, n-shown)
	}
	e.leave()
	return append(b, ']')
}

// fastList returns a loop for slices of the common unnamed element types,
// which skips reflection per element, or nil.
func fastList(t reflect.Type) func(e *encState, b []byte, data unsafe.Pointer, n int) []byte {
	switch t {
	case reflect.TypeFor[[]int]():
		return func(e *encState, b []byte, p unsafe.Pointer, n int) []byte {
			return listOf(e, b, unsafe.Slice((*int)(p), n), func(b []byte, v int) []byte { return strconv.AppendInt(b, int64(v), 10) })
		}
	case reflect.TypeFor[[]int64]():
		return func(e *encState, b []byte, p unsafe.Pointer, n int) []byte {
			return listOf(e, b, unsafe.Slice((*int64)(p), n), func(b []byte, v int64) []byte { return strconv.AppendInt(b, v, 10) })
		}
	case reflect.TypeFor[[]float64]():
		return func(e *encState, b []byte, p unsafe.Pointer, n int) []byte {
			return listOf(e, b, unsafe.Slice((*float64)(p), n), appendFloat)
		}
	case reflect.TypeFor[[]string]():
		return func(e *encState, b []byte, p unsafe.Pointer, n int) []byte {
			return listOf(e, b, unsafe.Slice((*string)(p), n), e.str)
		}
	}
	return nil
}

// listOf writes the first MaxItems elements of xs.
func listOf[T any](e *encState, b []byte, xs []T, app func([]byte, T) []byte) []byte {
	shown := e.items(len(xs))
	b = append(b, '[')
	for i, x := range xs[:shown] {
		if i > 0 {
			b = append(b, ',')
		}
		if e.spent(b) {
			b = e.more(b, len(xs)-i)
			return append(b, ']')
		}
		b = app(b, x)
	}
	if shown < len(xs) {
		if shown > 0 {
			b = append(b, ',')
		}
		b = e.more(b, len(xs)-shown)
	}
	return append(b, ']')
}

type mapEntry struct {
	key string
	val reflect.Value
}

func newMapEncoder(t reflect.Type) encoderFunc {
	enc := typeEncoder(t.Elem())
	keyText := mapKeyText(t.Key())
	return func(e *encState, b []byte, v reflect.Value) []byte {
		if v.IsNil() {
			return append(b, "null"...)
		}
		if e.onPath(uintptr(v.UnsafePointer())) {
			return e.cycle(b, t)
		}
		defer e.pop()
		b, ok := e.enter(b, t)
		if !ok {
			return b
		}
		defer e.leave()
		n := v.Len()
		shown := e.items(n)
		entries := make([]mapEntry, 0, shown)
		it := v.MapRange()
		for len(entries) < shown && it.Next() {
			entries = append(entries, mapEntry{key: keyText(e, it.Key()), val: it.Value()})
		}
		slices.SortFunc(entries, func(a, b mapEntry) int { return strings.Compare(a.key, b.key) })
		b = append(b, '{')
		for i, en := range entries {
			if i > 0 {
				b = append(b, ',')
			}
			if e.spent(b) {
				b = append(b, `"…":`...)
				b = e.more(b, n-i)
				shown = n
				break
			}
			b = appendString(b, en.key)
			b = append(b, ':')
			b = enc(e, b, en.val)
			e.keys = true
		}
		if shown < n {
			if shown > 0 {
				b = append(b, ',')
			}
			b = append(b, `"…":`...)
			b = e.more(b, n-shown)
		}
		return append(b, '}')
	}
}

// mapKeyText returns the function that turns a map key into its object key:
// strings as they are, numbers and booleans in decimal, anything else as its
// JSON encoding.
func mapKeyText(t reflect.Type) func(*encState, reflect.Value) string {
	switch t.Kind() {
	case reflect.String:
		return func(_ *encState, k reflect.Value) string { return k.String() }
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return func(_ *encState, k reflect.Value) string { return strconv.FormatInt(k.Int(), 10) }
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return func(_ *encState, k reflect.Value) string { return strconv.FormatUint(k.Uint(), 10) }
	case reflect.Bool:
		return func(_ *encState, k reflect.Value) string { return strconv.FormatBool(k.Bool()) }
	}
	return func(e *encState, k reflect.Value) string {
		sub := &encState{c: e.c, limit: 256, depth: max(e.c.maxDepth-2, 0)}
		return string(sub.value(nil, k))
	}
}

func newPointerEncoder(t reflect.Type) encoderFunc {
	elem := typeEncoder(t.Elem())
	return func(e *encState, b []byte, v reflect.Value) []byte {
		if v.IsNil() {
			return append(b, "null"...)
		}
		if e.onPath(uintptr(v.UnsafePointer())) {
			return e.cycle(b, t)
		}
		b = elem(e, b, v.Elem())
		e.pop()
		return b
	}
}

// hasMethods reports whether t (or *t) has methods, so that a named []byte
// or byte type is not taken for plain bytes.
func hasMethods(t reflect.Type) bool {
	return t.NumMethod() > 0 || reflect.PointerTo(t).NumMethod() > 0
}

// encodeRawJSON writes a json.RawMessage as the JSON it holds when that is
// valid and fits the budget, and as a string otherwise.
func encodeRawJSON(e *encState, b []byte, v reflect.Value) []byte {
	if v.IsNil() {
		return append(b, "null"...)
	}
	raw := v.Bytes()
	if len(raw) <= e.limit-len(b) && json.Valid(raw) {
		e.keys = true
		return append(b, trimJSONSpace(raw)...)
	}
	return e.str(b, unsafe.String(unsafe.SliceData(raw), len(raw)))
}

func trimJSONSpace(b []byte) []byte {
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// fallbackCapturer has the default limits, for values encoded where no
// client is at hand.
var fallbackCapturer = func() *capturer {
	cfg := defaultConfig()
	return newCapturer(&cfg)
}()
