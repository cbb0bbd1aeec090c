package fluxloop

import (
	"encoding/json"
	"fmt"
	"reflect"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unsafe"
)

// Per-type encoders of the capture engine (see capture.go).

var (
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
	stringerType  = reflect.TypeFor[fmt.Stringer]()
	timeType      = reflect.TypeFor[time.Time]()
	durationType  = reflect.TypeFor[time.Duration]()
	rawJSONType   = reflect.TypeFor[json.RawMessage]()
	jsonNumType   = reflect.TypeFor[json.Number]()
)

// newTypeEncoder builds the encoder for t.
func newTypeEncoder(t reflect.Type) encoderFunc {
	if enc := stdlibEncoder(t); enc != nil {
		return enc
	}
	base := kindEncoder(t)
	if t.Kind() == reflect.Interface {
		return base // the dynamic value's type decides
	}
	hooks := methodHooks(t)
	if hooks == 0 {
		return base
	}
	nilable := t.Kind() == reflect.Pointer || t.Kind() == reflect.Map || t.Kind() == reflect.Slice
	return func(e *encState, b []byte, v reflect.Value) []byte {
		if nilable && v.IsNil() {
			return append(b, "null"...)
		}
		if hooks&hookLogValuer != 0 {
			if out, ok := e.logValue(b, v); ok {
				return out
			}
		}
		if hooks&hookMarshalJSON != 0 && e.c.trusts(t) {
			if out, ok := e.marshalJSON(b, v); ok {
				return out
			}
		}
		if hooks&hookError != 0 {
			if x, ok := iface(v); ok {
				return e.str(b, errorText(x.(error)))
			}
		}
		return base(e, b, v)
	}
}

// The methods of a program's type the capture engine may call.
const (
	hookLogValuer = 1 << iota
	hookMarshalJSON
	hookError
)

func methodHooks(t reflect.Type) int {
	h := 0
	if isLogValuer(t) {
		h |= hookLogValuer
	}
	if t.Implements(jsonMarshaler) {
		h |= hookMarshalJSON
	}
	if t.Implements(errorType) {
		h |= hookError
	}
	return h
}

// isLogValuer reports whether t has slog.LogValuer's method, LogValue()
// slog.Value. It is checked by reflection so that the runtime does not link
// log/slog into programs that do not use it.
func isLogValuer(t reflect.Type) bool {
	m, ok := t.MethodByName("LogValue")
	if !ok || m.Type.NumIn() != 1 || m.Type.NumOut() != 1 {
		return false
	}
	out := m.Type.Out(0)
	return out.PkgPath() == "log/slog" && out.Name() == "Value"
}

// logValue writes what v's LogValue method returns, resolved as slog
// resolves it. It returns false when the method cannot be called.
func (e *encState) logValue(b []byte, v reflect.Value) ([]byte, bool) {
	rv, ok := readable(v)
	if !ok {
		return b, false
	}
	var val reflect.Value
	if !callQuiet(func() {
		val = rv.MethodByName("LogValue").Call(nil)[0]
	}) {
		return e.marker(b, "<", v.Type().String(), ": LogValue panicked>"), true
	}
	return e.slogValue(b, val), true
}

// slogValue writes a slog.Value, given as a reflect.Value.
func (e *encState) slogValue(b []byte, val reflect.Value) []byte {
	var x any
	if !callQuiet(func() {
		val = val.MethodByName("Resolve").Call(nil)[0]
		x = val.MethodByName("Any").Call(nil)[0].Interface()
	}) {
		return e.marker(b, "<slog.Value: Resolve panicked>")
	}
	xv := reflect.ValueOf(x)
	if xv.Kind() == reflect.Slice && xv.Type().Elem().PkgPath() == "log/slog" && xv.Type().Elem().Name() == "Attr" {
		b, ok := e.enter(b, xv.Type())
		if !ok {
			return b
		}
		defer e.leave()
		b = append(b, '{')
		for i := 0; i < xv.Len(); i++ {
			if i > 0 {
				b = append(b, ',')
			}
			if e.spent(b) {
				b = append(b, `"…":`...)
				b = e.more(b, xv.Len()-i)
				break
			}
			a := xv.Index(i)
			b = appendString(b, a.FieldByName("Key").String())
			e.keys = true
			b = append(b, ':')
			b = e.slogValue(b, a.FieldByName("Value"))
		}
		return append(b, '}')
	}
	return e.value(b, xv)
}

// marshalJSON writes what a trusted MarshalJSON returns, when it is valid
// JSON that fits the budget.
func (e *encState) marshalJSON(b []byte, v reflect.Value) ([]byte, bool) {
	x, ok := iface(v)
	if !ok {
		return b, false
	}
	var out []byte
	var err error
	if !callQuiet(func() { out, err = x.(json.Marshaler).MarshalJSON() }) || err != nil || !json.Valid(out) {
		return b, false
	}
	if len(out) > e.limit-len(b) {
		return e.str(b, string(out)), true
	}
	e.keys = true
	return append(b, trimJSONSpace(out)...), true
}

// callQuiet runs f with tracing quiet on this goroutine (a method of the
// program may call traced code) and reports whether it returned without
// panicking.
func callQuiet(f func()) (ok bool) {
	gid, prev := adopt(quiet)
	defer func() {
		restore(gid, prev)
		if recover() != nil {
			ok = false
		}
	}()
	f()
	return true
}

// kindEncoder is the structural encoder of t, from its kind.
func kindEncoder(t reflect.Type) encoderFunc {
	switch t.Kind() {
	case reflect.Bool:
		return encodeBool
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return encodeInt
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return encodeUint
	case reflect.Float32, reflect.Float64:
		return encodeFloat
	case reflect.Complex64, reflect.Complex128:
		return encodeComplex
	case reflect.String:
		return encodeString
	case reflect.Interface:
		return encodeInterface
	case reflect.Pointer:
		return newPointerEncoder(t)
	case reflect.Slice:
		return newSliceEncoder(t)
	case reflect.Array:
		return newArrayEncoder(t)
	case reflect.Map:
		return newMapEncoder(t)
	case reflect.Struct:
		return newStructEncoder(t)
	}
	// funcs, channels, unsafe pointers
	return func(e *encState, b []byte, v reflect.Value) []byte {
		if v.IsNil() {
			return append(b, "null"...)
		}
		return e.describeType(b, t)
	}
}

// stdlibEncoder returns the encoder of a standard-library type that has a
// usual text form, or nil. Only methods of the standard library are called.
func stdlibEncoder(t reflect.Type) encoderFunc {
	switch t {
	case timeType:
		return func(e *encState, b []byte, v reflect.Value) []byte {
			x, ok := iface(v)
			if !ok {
				return e.describeType(b, t)
			}
			b = append(b, '"')
			b = x.(time.Time).AppendFormat(b, time.RFC3339Nano)
			return append(b, '"')
		}
	case durationType:
		return func(e *encState, b []byte, v reflect.Value) []byte { return e.str(b, time.Duration(v.Int()).String()) }
	case rawJSONType:
		return encodeRawJSON
	case jsonNumType:
		return func(e *encState, b []byte, v reflect.Value) []byte {
			s := v.String()
			if s != "" && len(s) < 64 && json.Valid([]byte(s)) {
				return append(b, s...)
			}
			return e.str(b, s)
		}
	}
	switch t.PkgPath() + "." + t.Name() {
	case "net/url.URL":
		return func(e *encState, b []byte, v reflect.Value) []byte {
			x, ok := iface(v)
			if !ok {
				return e.describeType(b, t)
			}
			p := reflect.New(t)
			p.Elem().Set(reflect.ValueOf(x))
			return e.str(b, redactQuery(p.MethodByName("Redacted").Call(nil)[0].String()))
		}
	case "time.Month", "time.Weekday", "time.Location", "net/netip.Addr", "net/netip.Prefix",
		"net/netip.AddrPort", "net.IP", "net.IPNet", "net.HardwareAddr", "math/big.Int",
		"math/big.Float", "math/big.Rat", "reflect.Kind", "os.FileMode", "io/fs.FileMode":
		return stdlibStringer(t)
	}
	return nil
}

// stdlibStringer writes the String form of a standard-library value, calling
// it on a pointer to a copy when only the pointer has the method.
func stdlibStringer(t reflect.Type) encoderFunc {
	ptr := !t.Implements(stringerType)
	return func(e *encState, b []byte, v reflect.Value) []byte {
		x, ok := iface(v)
		if !ok {
			return e.describeType(b, t)
		}
		var s fmt.Stringer
		if ptr {
			p := reflect.New(t)
			p.Elem().Set(reflect.ValueOf(x))
			s, _ = p.Interface().(fmt.Stringer)
		} else {
			s, _ = x.(fmt.Stringer)
		}
		if s == nil {
			return e.describeType(b, t)
		}
		var text string
		if !callQuiet(func() { text = s.String() }) {
			return e.describeType(b, t)
		}
		return e.str(b, text)
	}
}

// field is one struct field a struct encoder writes.
type field struct {
	index     []int
	name      string
	key       []byte // the JSON-encoded name and a colon
	omitEmpty bool
	omitZero  bool
	redact    bool
	enc       encoderFunc
	leaf      reflect.Kind // a scalar read straight from memory, or Invalid
	offset    uintptr      // of a leaf, from the struct's start
}

// leafKind is the kind of a field type the struct encoder reads from memory
// without reflection: a scalar type whose encoder is its kind's.
func leafKind(t reflect.Type) reflect.Kind {
	switch k := t.Kind(); k {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int64, reflect.Int32, reflect.Float64, reflect.Float32,
		reflect.Uint, reflect.Uint64, reflect.Uint32:
		if stdlibEncoder(t) == nil && methodHooks(t) == 0 {
			return k
		}
	}
	return reflect.Invalid
}

// appendLeaf writes the scalar of kind k at p; omit is true (and nothing
// written) when omitEmpty is set and the value is empty.
func (e *encState) appendLeaf(b []byte, k reflect.Kind, p unsafe.Pointer, omitEmpty bool) (_ []byte, omit bool) {
	switch k {
	case reflect.String:
		x := *(*string)(p)
		if omitEmpty && x == "" {
			return b, true
		}
		return e.str(b, x), false
	case reflect.Bool:
		x := *(*bool)(p)
		if omitEmpty && !x {
			return b, true
		}
		if x {
			return append(b, "true"...), false
		}
		return append(b, "false"...), false
	case reflect.Int:
		x := int64(*(*int)(p))
		if omitEmpty && x == 0 {
			return b, true
		}
		return strconv.AppendInt(b, x, 10), false
	case reflect.Int64:
		x := *(*int64)(p)
		if omitEmpty && x == 0 {
			return b, true
		}
		return strconv.AppendInt(b, x, 10), false
	case reflect.Int32:
		x := *(*int32)(p)
		if omitEmpty && x == 0 {
			return b, true
		}
		return strconv.AppendInt(b, int64(x), 10), false
	case reflect.Uint:
		x := uint64(*(*uint)(p))
		if omitEmpty && x == 0 {
			return b, true
		}
		return strconv.AppendUint(b, x, 10), false
	case reflect.Uint64:
		x := *(*uint64)(p)
		if omitEmpty && x == 0 {
			return b, true
		}
		return strconv.AppendUint(b, x, 10), false
	case reflect.Uint32:
		x := *(*uint32)(p)
		if omitEmpty && x == 0 {
			return b, true
		}
		return strconv.AppendUint(b, uint64(x), 10), false
	case reflect.Float64:
		x := *(*float64)(p)
		if omitEmpty && x == 0 {
			return b, true
		}
		return appendFloat(b, x), false
	case reflect.Float32:
		x := *(*float32)(p)
		if omitEmpty && x == 0 {
			return b, true
		}
		return appendFloat(b, float64(x)), false
	}
	return b, true
}

func newStructEncoder(t reflect.Type) encoderFunc {
	if lock := guardOf(t, 0); lock != "" {
		return func(e *encState, b []byte, _ reflect.Value) []byte {
			return e.marker(b, "<", t.String(), ": not read, it holds a ", lock, ">")
		}
	}
	fields := structFields(t)
	private := 0
	if len(fields) == 0 && t.NumField() > 0 {
		if isStdlib(t.PkgPath()) {
			return func(e *encState, b []byte, _ reflect.Value) []byte { return e.describeType(b, t) }
		}
		fields, private = goFields(t), 1
	}
	return func(e *encState, b []byte, v reflect.Value) []byte {
		b, ok := e.enter(b, t)
		if !ok {
			return b
		}
		e.private += private
		b = append(b, '{')
		first := true
		var base unsafe.Pointer
		if v.CanAddr() {
			base = unsafe.Pointer(v.UnsafeAddr())
		}
		for i := range fields {
			f := &fields[i]
			if f.leaf != reflect.Invalid && base != nil && !f.redact && !f.omitZero {
				// The common case: a scalar field, read from memory.
				n := len(b)
				if !first {
					b = append(b, ',')
				}
				if e.spent(b) {
					b = e.moreFields(b, len(fields)-i)
					break
				}
				b = append(b, f.key...)
				var omit bool
				if b, omit = e.appendLeaf(b, f.leaf, unsafe.Add(base, f.offset), f.omitEmpty); omit {
					b = b[:n]
					continue
				}
				first = false
				continue
			}
			var fv reflect.Value
			if len(f.index) == 1 {
				fv = v.Field(f.index[0])
			} else if fv, ok = fieldByIndex(v, f.index); !ok {
				continue
			}
			if f.omitEmpty && isEmptyValue(fv) || f.omitZero && fv.IsZero() {
				continue
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			if e.spent(b) {
				b = e.moreFields(b, len(fields)-i)
				break
			}
			b = append(b, f.key...)
			if f.redact {
				b = append(b, `"`+Masked+`"`...)
				continue
			}
			b = f.enc(e, b, fv)
		}
		e.private -= private
		e.leave()
		return append(b, '}')
	}
}

// moreFields appends the marker of n fields left out.
func (e *encState) moreFields(b []byte, n int) []byte {
	e.truncated = true
	b = append(b, `"…":"`...)
	b = appendGrouped(b, n)
	return append(b, ` more fields"`...)
}

// fieldByIndex is v.FieldByIndex that reports a nil embedded pointer on the
// way instead of panicking.
func fieldByIndex(v reflect.Value, index []int) (reflect.Value, bool) {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return reflect.Value{}, false
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v, true
}

// structFields lists the fields encoding/json would write for t, in its
// order and under its names: exported fields, fields of embedded structs
// promoted (a shallower name wins; of equal depth the first), json tags
// honoured. fluxloop tags hide ("-") or mask ("redact") a field.
func structFields(t reflect.Type) []field {
	type candidate struct {
		field
		depth int
	}
	var all []candidate
	var walk func(t reflect.Type, index []int, depth int)
	walk = func(t reflect.Type, index []int, depth int) {
		if depth > 8 {
			return
		}
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			tag := sf.Tag.Get("json")
			if tag == "-" || sf.Tag.Get("fluxloop") == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			idx := append(append([]int(nil), index...), i)
			ft := sf.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if sf.Anonymous && name == "" && ft.Kind() == reflect.Struct && guardOf(ft, 0) == "" {
				walk(ft, idx, depth+1)
				continue
			}
			if !sf.IsExported() {
				continue
			}
			if name == "" || !validTagName(name) {
				name = sf.Name
			}
			all = append(all, candidate{field: newField(sf, idx, name, opts), depth: depth})
		}
	}
	walk(t, nil, 0)
	var fields []field
	seen := map[string]int{} // name -> depth kept
	for _, c := range all {
		if d, ok := seen[c.name]; ok && d <= c.depth {
			continue
		}
		if _, ok := seen[c.name]; ok {
			// a shallower field replaces a deeper one of the same name
			fields = deleteField(fields, c.name)
		}
		seen[c.name] = c.depth
		fields = append(fields, c.field)
	}
	return fields
}

func deleteField(fields []field, name string) []field {
	out := fields[:0]
	for _, f := range fields {
		if f.name != name {
			out = append(out, f)
		}
	}
	return out
}

// goFields lists every field of t under its Go name, for a type of the
// program whose fields are all unexported.
func goFields(t reflect.Type) []field {
	var fields []field
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if sf.Tag.Get("fluxloop") == "-" || sf.Name == "_" {
			continue
		}
		fields = append(fields, newField(sf, []int{i}, sf.Name, ""))
	}
	return fields
}

func newField(sf reflect.StructField, index []int, name, opts string) field {
	f := field{index: index, name: name, enc: typeEncoder(sf.Type)}
	if len(index) == 1 {
		f.leaf, f.offset = leafKind(sf.Type), sf.Offset
	}
	f.key = appendString(nil, name)
	f.key = append(f.key, ':')
	for opts != "" {
		var o string
		o, opts, _ = strings.Cut(opts, ",")
		switch o {
		case "omitempty":
			f.omitEmpty = true
		case "omitzero":
			f.omitZero = true
		}
	}
	f.redact = sf.Tag.Get("fluxloop") == "redact" || IsSecretKey(name)
	return f
}

// validTagName is encoding/json's rule for a json tag's name.
func validTagName(s string) bool {
	for _, c := range s {
		switch {
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c):
		case !unicode.IsLetter(c) && !unicode.IsDigit(c):
			return false
		}
	}
	return s != ""
}

func isEmptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool:
		return !v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return v.Uint() == 0
	case reflect.Float32, reflect.Float64:
		return v.Float() == 0
	case reflect.Interface, reflect.Pointer:
		return v.IsNil()
	}
	return false
}

// guardOf names the sync or sync/atomic type that t is or holds by value
// (in its fields, fields of those, and arrays), or returns "".
func guardOf(t reflect.Type, depth int) string {
	if depth > 16 {
		return ""
	}
	switch t.Kind() {
	case reflect.Struct:
		if p := t.PkgPath(); p == "sync" || p == "sync/atomic" {
			return strings.TrimPrefix(p, "sync/") + "." + t.Name()
		}
		for i := 0; i < t.NumField(); i++ {
			if g := guardOf(t.Field(i).Type, depth+1); g != "" {
				return g
			}
		}
	case reflect.Array:
		return guardOf(t.Elem(), depth+1)
	}
	return ""
}

// isStdlib reports whether a package path belongs to the standard library:
// its first element has no dot and it is not in the main module or a
// dependency of the running program.
func isStdlib(path string) bool {
	if path == "" || path == "main" {
		return false
	}
	first, _, _ := strings.Cut(path, "/")
	if strings.Contains(first, ".") {
		return false
	}
	for _, m := range buildModules() {
		if path == m || strings.HasPrefix(path, m+"/") {
			return false
		}
	}
	return true
}

var buildModules = sync.OnceValue(func() []string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return nil
	}
	mods := []string{bi.Main.Path, "command-line-arguments"}
	for _, d := range bi.Deps {
		mods = append(mods, d.Path)
	}
	return mods
})
