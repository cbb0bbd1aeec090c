package fluxloop

import (
	"context"
	"encoding"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sync"
	"unicode/utf8"
	"unsafe"
)

// Value is one captured argument or result, made by V and handed to
// Span.Inputs or Span.Return. Most users never touch a Value: generated code
// makes them. The zero Value is JSON null.
type Value struct {
	slot
	a any // a composite value waiting for its snapshot (kindAny)
}

// slot is a captured value as a span stores it: a Value after its snapshot.
type slot struct {
	s    string // string, error text or encoded JSON
	n    uint64 // bool, int, uint and float bits
	kind valueKind
}

type valueKind uint8

const (
	kindNull   valueKind = iota
	kindBool             // n != 0
	kindInt              // int64(n)
	kindUint             // n
	kindFloat            // math.Float64frombits(n)
	kindString           // s
	kindJSON             // s holds valid JSON
	kindAny              // a holds a composite value not yet encoded
)

// V captures v for Span.Inputs or Span.Return; generated code wraps every
// argument and result in it.
//
// Booleans, all integer and floating-point kinds, strings, nil and errors are
// stored in the Value itself without allocating: a string is kept as it is
// (strings are immutable) and an error as the text of its Error method
// (called now; a panic inside Error is recovered and described).
//
// Any other value (structs, slices, maps, pointers, named types with methods)
// is boxed here and encoded to JSON by Inputs or Return, that is while the
// traced call is still on the stack, because the program may change it after
// the call while the background writer would read it later (a data race).
// That snapshot is the one cost fluxloop pays on the caller's path for
// composite values: it costs what json.Marshal costs, and is skipped when the
// capture mode (WithCapture) excludes the value. Values encoding/json cannot
// handle (funcs, channels, cycles, failing or panicking MarshalJSON) are
// recorded as a short description such as "<func(int) error>"; a []byte is
// recorded as a JSON string when it is valid UTF-8 and as base64 otherwise.
func V[T any](v T) Value {
	switch x := any(v).(type) {
	case nil:
		return Value{}
	case bool:
		if x {
			return Value{slot: slot{kind: kindBool, n: 1}}
		}
		return Value{slot: slot{kind: kindBool}}
	case int:
		return Value{slot: slot{kind: kindInt, n: uint64(x)}}
	case int8:
		return Value{slot: slot{kind: kindInt, n: uint64(x)}}
	case int16:
		return Value{slot: slot{kind: kindInt, n: uint64(x)}}
	case int32:
		return Value{slot: slot{kind: kindInt, n: uint64(x)}}
	case int64:
		return Value{slot: slot{kind: kindInt, n: uint64(x)}}
	case uint:
		return Value{slot: slot{kind: kindUint, n: uint64(x)}}
	case uint8:
		return Value{slot: slot{kind: kindUint, n: uint64(x)}}
	case uint16:
		return Value{slot: slot{kind: kindUint, n: uint64(x)}}
	case uint32:
		return Value{slot: slot{kind: kindUint, n: uint64(x)}}
	case uint64:
		return Value{slot: slot{kind: kindUint, n: x}}
	case uintptr:
		return Value{slot: slot{kind: kindUint, n: uint64(x)}}
	case float32:
		return Value{slot: slot{kind: kindFloat, n: math.Float64bits(float64(x))}}
	case float64:
		return Value{slot: slot{kind: kindFloat, n: math.Float64bits(x)}}
	case string:
		return Value{slot: slot{kind: kindString, s: x}}
	case error:
		// A second conversion, so that only this branch lets v escape.
		return Value{slot: slot{kind: kindString, s: errorText(any(v).(error))}}
	default:
		if sl, ok := namedScalar(&v); ok {
			return Value{slot: sl}
		}
		return Value{slot: slot{kind: kindAny}, a: any(v)}
	}
}

// scalarKinds caches, per type, whether a named type of a scalar kind (such
// as time.Duration) can be captured as its underlying value: only when it
// has no MarshalJSON or MarshalText method, so the result is what
// encoding/json would write.
var scalarKinds sync.Map // reflect.Type -> bool

var (
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
)

// namedScalar captures *p without boxing it when T is a named type of a
// bool, integer, float or string kind that encodes as that kind.
func namedScalar[T any](p *T) (slot, bool) {
	t := reflect.TypeFor[T]()
	k := t.Kind()
	if k < reflect.Bool || k > reflect.Float64 && k != reflect.String {
		return slot{}, false
	}
	ok, known := scalarKinds.Load(t)
	if !known {
		ok = !t.Implements(jsonMarshaler) && !t.Implements(textMarshaler)
		scalarKinds.Store(t, ok)
	}
	if !ok.(bool) {
		return slot{}, false
	}
	ptr := unsafe.Pointer(p)
	switch k {
	case reflect.Bool:
		if *(*bool)(ptr) {
			return slot{kind: kindBool, n: 1}, true
		}
		return slot{kind: kindBool}, true
	case reflect.Int:
		return slot{kind: kindInt, n: uint64(*(*int)(ptr))}, true
	case reflect.Int8:
		return slot{kind: kindInt, n: uint64(*(*int8)(ptr))}, true
	case reflect.Int16:
		return slot{kind: kindInt, n: uint64(*(*int16)(ptr))}, true
	case reflect.Int32:
		return slot{kind: kindInt, n: uint64(*(*int32)(ptr))}, true
	case reflect.Int64:
		return slot{kind: kindInt, n: uint64(*(*int64)(ptr))}, true
	case reflect.Uint:
		return slot{kind: kindUint, n: uint64(*(*uint)(ptr))}, true
	case reflect.Uint8:
		return slot{kind: kindUint, n: uint64(*(*uint8)(ptr))}, true
	case reflect.Uint16:
		return slot{kind: kindUint, n: uint64(*(*uint16)(ptr))}, true
	case reflect.Uint32:
		return slot{kind: kindUint, n: uint64(*(*uint32)(ptr))}, true
	case reflect.Uint64:
		return slot{kind: kindUint, n: *(*uint64)(ptr)}, true
	case reflect.Uintptr:
		return slot{kind: kindUint, n: uint64(*(*uintptr)(ptr))}, true
	case reflect.Float32:
		return slot{kind: kindFloat, n: math.Float64bits(float64(*(*float32)(ptr)))}, true
	case reflect.Float64:
		return slot{kind: kindFloat, n: math.Float64bits(*(*float64)(ptr))}, true
	case reflect.String:
		return slot{kind: kindString, s: *(*string)(ptr)}, true
	}
	return slot{}, false
}

// valueOf captures an arbitrary value and snapshots it at once. It is used
// for values handed over as any (attributes, WithInput, SetOutput).
func valueOf(v any) slot {
	switch x := v.(type) {
	case nil:
		return slot{}
	case bool:
		return V(x).slot
	case int:
		return V(x).slot
	case int64:
		return V(x).slot
	case int32:
		return V(x).slot
	case uint64:
		return V(x).slot
	case float64:
		return V(x).slot
	case string:
		return V(x).slot
	case error:
		return slot{kind: kindString, s: errorText(x)}
	case slot:
		return x
	case Value:
		return x.frozen()
	}
	val := Value{slot: slot{kind: kindAny}, a: v}
	return val.frozen()
}

// errorText returns err.Error(), recovering from a panic in Error (for
// example a method with a pointer receiver called on a nil pointer).
func errorText(err error) (s string) {
	gid, prev := adopt(quiet) // Error may call traced code
	defer func() {
		restore(gid, prev)
		if r := recover(); r != nil {
			s = fmt.Sprintf("<%T: Error panicked: %v>", err, r)
		}
	}()
	return err.Error()
}

// frozen returns the value's slot, encoding a pending composite value to
// JSON now (see V).
func (v *Value) frozen() slot {
	if v.kind != kindAny {
		return v.slot
	}
	s, k := encodeComposite(v.a)
	return slot{kind: k, s: s}
}

// encodeComposite encodes a composite value to JSON, or describes it when it
// cannot be encoded. It never panics.
func encodeComposite(a any) (s string, k valueKind) {
	switch x := a.(type) {
	case []byte:
		if utf8.Valid(x) {
			return string(x), kindString
		}
	case context.Context:
		return describe(a), kindString
	}
	b, err := marshalSafe(a)
	if err != nil {
		return describe(a), kindString
	}
	return unsafe.String(unsafe.SliceData(b), len(b)), kindJSON
}

func marshalSafe(a any) (b []byte, err error) {
	gid, prev := adopt(quiet) // the value's MarshalJSON may call traced code
	defer func() {
		restore(gid, prev)
		if r := recover(); r != nil {
			b, err = nil, fmt.Errorf("panic: %v", r)
		}
	}()
	return json.Marshal(a)
}

// describe is the JSON string recorded for a value that cannot be encoded.
func describe(a any) string {
	t := reflect.TypeOf(a)
	if t == nil {
		return "<nil>"
	}
	return "<" + t.String() + ">"
}

// goValue returns the value as a Go value for metadata and redactors: nil,
// bool, int64, uint64, float64, string or json.RawMessage.
func (v *slot) goValue() any {
	switch v.kind {
	case kindBool:
		return v.n != 0
	case kindInt:
		return int64(v.n)
	case kindUint:
		return v.n
	case kindFloat:
		return math.Float64frombits(v.n)
	case kindString:
		return v.s
	case kindJSON:
		return json.RawMessage(v.s)
	}
	return nil
}
