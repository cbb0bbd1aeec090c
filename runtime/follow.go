package fluxloop

import (
	"reflect"
	"sync/atomic"
	"unsafe"

	"github.com/petermattis/goid"
)

// Follow returns f wrapped so that, when it runs in a new goroutine,
// observations started there without a context nest under the observation
// current where Follow was called. Generated code rewrites a go statement in
// a traced function, go f(x), to go fluxloop.Follow(f)(x): the go statement
// still evaluates f and x, in that order, before the goroutine starts, and
// the goroutine runs f(x) as before.
//
// When tracing is off or no observation is current, Follow returns f itself;
// a nil f is returned as it is. While the wrapper runs, the observation is
// its goroutine's current one; when it returns or panics the goroutine's
// previous current observation (none, in a new goroutine) is restored, so
// the wrapper may also be handed to sync.WaitGroup.Go, errgroup.Group.Go or
// called directly.
//
// Functions whose type has the underlying type func() or func() error (the
// shapes of closures, WaitGroup.Go and errgroup) are wrapped by a closure
// (one allocation, about 100 ns next to a go statement's 400 ns); other
// signatures by reflect.MakeFunc, which costs a few microseconds per call
// (reflection, and the new goroutine's stack growing for it), still small
// next to a goroutine that does traced work.
func Follow[F any](f F) F {
	if atomic.LoadUint32(&std.modeRaw) == modeOff {
		return f
	}
	s := current()
	if s == nil {
		return f
	}
	switch fn := any(f).(type) {
	case func():
		if fn == nil {
			return f
		}
		return any(follow0(s, fn)).(F)
	case func() error:
		if fn == nil {
			return f
		}
		return any(followErr(s, fn)).(F)
	}
	t := reflect.TypeFor[F]()
	if t.Kind() != reflect.Func {
		return f
	}
	if t.NumIn() == 0 && !t.IsVariadic() {
		// A named type of one of the shapes above: a func value is one
		// pointer whatever its type's name, so convert it in place.
		switch {
		case t.NumOut() == 0:
			fn := *(*func())(unsafe.Pointer(&f))
			if fn == nil {
				return f
			}
			w := follow0(s, fn)
			return *(*F)(unsafe.Pointer(&w))
		case t.NumOut() == 1 && t.Out(0) == errorType:
			fn := *(*func() error)(unsafe.Pointer(&f))
			if fn == nil {
				return f
			}
			w := followErr(s, fn)
			return *(*F)(unsafe.Pointer(&w))
		}
	}
	v := reflect.ValueOf(f)
	if v.IsNil() {
		return f
	}
	variadic := t.IsVariadic()
	w := reflect.MakeFunc(t, func(args []reflect.Value) []reflect.Value {
		gid, prev := adopt(s)
		defer restore(gid, prev)
		if variadic {
			return v.CallSlice(args)
		}
		return v.Call(args)
	})
	return w.Interface().(F)
}

func follow0(s *Span, fn func()) func() {
	return func() {
		gid, prev := adopt(s)
		defer restore(gid, prev)
		fn()
	}
}

func followErr(s *Span, fn func() error) func() error {
	return func() error {
		gid, prev := adopt(s)
		defer restore(gid, prev)
		return fn()
	}
}

// adopt makes s the current goroutine's current observation and returns the
// goroutine's id and its previous current observation, for restore.
func adopt(s *Span) (gid int64, prev *Span) {
	gid = goid.Get()
	sh := shardOf(gid)
	sh.mu.Lock()
	prev = sh.t.get(gid)
	sh.t.set(gid, s)
	sh.mu.Unlock()
	return gid, prev
}

// restore makes prev the current observation of goroutine gid again,
// removing the goroutine from the table when prev is nil.
func restore(gid int64, prev *Span) {
	sh := shardOf(gid)
	sh.mu.Lock()
	if prev == nil {
		sh.t.delete(gid)
	} else {
		sh.t.set(gid, prev)
	}
	sh.mu.Unlock()
}
