package fluxloop

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sync"
	"time"
	"unsafe"
)

// Value is one captured argument or result, made by V (or Int, Uint, Float,
// Bool, String) and handed to Span.Inputs or Span.Return. Most users never
// touch a Value: generated code makes them. The zero Value is JSON null.
type Value struct {
	slot
}

// slot is a captured value as a span stores it.
type slot struct {
	s    string // string, error text or encoded JSON
	n    uint64 // bool, int, uint and float bits; jsonTruncated|jsonZero for kindJSON
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
)

// Int captures a signed integer. Generated code calls it for parameters and
// results of the predeclared integer types (the generator knows each one's
// type): no reflection, no type switch, no allocation. It records the
// number, whatever methods a named type may have.
func Int[T ~int | ~int8 | ~int16 | ~int32 | ~int64](v T) Value {
	return Value{slot{kind: kindInt, n: uint64(int64(v))}}
}

// Uint captures an unsigned integer (see Int).
func Uint[T ~uint | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~uintptr](v T) Value {
	return Value{slot{kind: kindUint, n: uint64(v)}}
}

// Float captures a floating-point number (see Int). NaN and infinities are
// written as the strings "NaN", "+Inf" and "-Inf".
func Float[T ~float32 | ~float64](v T) Value {
	return Value{slot{kind: kindFloat, n: math.Float64bits(float64(v))}}
}

// Bool captures a boolean (see Int).
func Bool[T ~bool](v T) Value {
	if v {
		return Value{slot{kind: kindBool, n: 1}}
	}
	return Value{slot{kind: kindBool}}
}

// String captures a string (see Int). The string is kept as it is, without a
// copy (strings are immutable); the writer cuts it to MaxFieldBytes.
func String[T ~string](v T) Value { return Value{slot{kind: kindString, s: string(v)}} }

// V captures v for Span.Inputs or Span.Return; generated code wraps every
// argument and result whose type is not a predeclared scalar type in it.
//
// Booleans, numbers, strings, nil and errors are stored in the Value itself
// without allocating; an error as the text of its Error method (called now,
// with panics recovered and tracing quiet).
//
// Any other value is encoded to JSON now, while the traced call is on the
// stack, because the program may change it after the call while the
// background writer would read it later. The capture engine that does it
// (see the package documentation) does bounded work whatever the value's
// size, calls none of the program's methods but Error and LogValue, and
// never reads a struct that holds a lock.
func V[T any](v T) Value {
	switch x := any(v).(type) {
	case nil:
		return Value{}
	case bool:
		return Bool(x)
	case int:
		return Int(int64(x))
	case int64:
		return Int(x)
	case int32:
		return Int(int64(x))
	case int16:
		return Int(int64(x))
	case int8:
		return Int(int64(x))
	case uint:
		return Uint(uint64(x))
	case uint64:
		return Uint(x)
	case uint32:
		return Uint(uint64(x))
	case uint16:
		return Uint(uint64(x))
	case uint8:
		return Uint(uint64(x))
	case uintptr:
		return Uint(uint64(x))
	case float64:
		return Float(x)
	case float32:
		return Float(float64(x))
	case string:
		return String(x)
	case time.Duration:
		return String(x.String())
	case error:
		// A second conversion, so that only this branch lets v escape.
		return Value{slot{kind: kindString, s: errorText(any(v).(error))}}
	}
	if sl, ok := namedScalar(&v); ok {
		return Value{sl}
	}
	c := defaultClient()
	if c.cfg.Capture == CaptureNone {
		return Value{}
	}
	return Value{captureAny(c.capture, any(v))}
}

// captureAny captures a composite value.
func captureAny(c *capturer, a any) slot {
	if a == nil {
		return slot{}
	}
	if ctx, ok := a.(context.Context); ok {
		return slot{kind: kindString, s: describe(ctx)}
	}
	v := reflect.ValueOf(a)
	if v.Kind() == reflect.Struct && !pointerShaped(v.Type()) {
		// The interface holds a pointer to its own copy of the struct: view
		// it in place, addressable, so that the struct encoder reads scalar
		// fields from memory. Nothing writes through it.
		v = reflect.NewAt(v.Type(), (*[2]unsafe.Pointer)(unsafe.Pointer(&a))[1]).Elem()
	}
	return c.capture(v)
}

// pointerShaped reports whether values of t are stored in an interface
// directly rather than through a pointer: pointers, maps, channels, funcs
// and structs or arrays of one such element.
func pointerShaped(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Chan, reflect.Func, reflect.UnsafePointer:
		return true
	case reflect.Struct:
		return t.NumField() == 1 && pointerShaped(t.Field(0).Type)
	case reflect.Array:
		return t.Len() == 1 && pointerShaped(t.Elem())
	}
	return false
}

// plainScalars caches, per named type of a scalar kind, whether it is
// captured as its underlying value: when the capture engine would not call
// one of its methods or write a standard-library form.
var plainScalars sync.Map // reflect.Type -> bool

// namedScalar captures *p without reflection on the value when T is a named
// type of a bool, integer, float or string kind that is captured as that
// kind.
func namedScalar[T any](p *T) (slot, bool) {
	t := reflect.TypeFor[T]()
	k := t.Kind()
	if k < reflect.Bool || k > reflect.Float64 && k != reflect.String {
		return slot{}, false
	}
	ok, known := plainScalars.Load(t)
	if !known {
		ok = stdlibEncoder(t) == nil && methodHooks(t) == 0
		plainScalars.Store(t, ok)
	}
	if !ok.(bool) {
		return slot{}, false
	}
	ptr := unsafe.Pointer(p)
	switch k {
	case reflect.Bool:
		return Bool(*(*bool)(ptr)).slot, true
	case reflect.Int:
		return Int(int64(*(*int)(ptr))).slot, true
	case reflect.Int8:
		return Int(int64(*(*int8)(ptr))).slot, true
	case reflect.Int16:
		return Int(int64(*(*int16)(ptr))).slot, true
	case reflect.Int32:
		return Int(int64(*(*int32)(ptr))).slot, true
	case reflect.Int64:
		return Int(*(*int64)(ptr)).slot, true
	case reflect.Uint:
		return Uint(uint64(*(*uint)(ptr))).slot, true
	case reflect.Uint8:
		return Uint(uint64(*(*uint8)(ptr))).slot, true
	case reflect.Uint16:
		return Uint(uint64(*(*uint16)(ptr))).slot, true
	case reflect.Uint32:
		return Uint(uint64(*(*uint32)(ptr))).slot, true
	case reflect.Uint64:
		return Uint(*(*uint64)(ptr)).slot, true
	case reflect.Uintptr:
		return Uint(uint64(*(*uintptr)(ptr))).slot, true
	case reflect.Float32:
		return Float(float64(*(*float32)(ptr))).slot, true
	case reflect.Float64:
		return Float(*(*float64)(ptr)).slot, true
	case reflect.String:
		return String(*(*string)(ptr)).slot, true
	}
	return slot{}, false
}

// valueOf captures an arbitrary value at once. It is used for values handed
// over as any (attributes, WithInput, SetOutput), with the capture limits of
// client c.
func valueOf(c *capturer, v any) slot {
	switch x := v.(type) {
	case nil:
		return slot{}
	case bool:
		return Bool(x).slot
	case int:
		return Int(int64(x)).slot
	case int64:
		return Int(x).slot
	case int32:
		return Int(int64(x)).slot
	case uint64:
		return Uint(x).slot
	case float64:
		return Float(x).slot
	case string:
		return String(x).slot
	case error:
		return slot{kind: kindString, s: errorText(x)}
	case slot:
		return x
	case Value:
		return x.slot
	}
	return captureAny(c, v)
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

// frozen returns the value's slot.
func (v *Value) frozen() slot { return v.slot }

// isZero reports whether the captured value was its type's zero value.
func (v *slot) isZero() bool {
	switch v.kind {
	case kindNull:
		return true
	case kindBool, kindInt, kindUint:
		return v.n == 0
	case kindFloat:
		return math.Float64frombits(v.n) == 0
	case kindString:
		return v.s == ""
	case kindJSON:
		return v.n&jsonZero != 0
	}
	return false
}

// describe is the JSON string recorded for a value that is not encoded.
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
