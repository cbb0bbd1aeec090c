package fluxloop

import (
	"reflect"
	"sync/atomic"
)

// Follow returns f wrapped so that, when it runs in a new goroutine,
// observations started there without a context nest under the observation
// current where Follow was called. Generated code rewrites a go statement in
// a traced function, go f(x), to go fluxloop.Follow(f)(x): the go statement
// still evaluates f and x, in that order, before the goroutine starts, and
// the goroutine runs f(x) as before.
//
// When tracing is off or no observation is current, Follow returns f itself.
// A func() is wrapped by a closure (one allocation); other signatures by
// reflect.MakeFunc, which costs about a microsecond per call, a small price
// next to starting a goroutine that does traced work.
func Follow[F any](f F) F {
	if atomic.LoadUint32(&std.modeRaw) == modeOff {
		return f
	}
	s := current()
	if s == nil {
		return f
	}
	h := Handover{s: s}
	if fn, ok := any(f).(func()); ok {
		if fn == nil {
			return f
		}
		return any(func() {
			h.Adopt()
			defer h.Release()
			fn()
		}).(F)
	}
	v := reflect.ValueOf(f)
	if v.Kind() != reflect.Func || v.IsNil() {
		return f
	}
	variadic := v.Type().IsVariadic()
	w := reflect.MakeFunc(v.Type(), func(args []reflect.Value) []reflect.Value {
		h.Adopt()
		defer h.Release()
		if variadic {
			return v.CallSlice(args)
		}
		return v.Call(args)
	})
	return w.Interface().(F)
}
