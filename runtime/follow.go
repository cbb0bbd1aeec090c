package fluxloop

import (
	"reflect"
	"sync/atomic"
	"unsafe"

	"github.com/petermattis/goid"
)

//go:generate go run ./internal/genfollow

// Hand-over to goroutines. Observations started without a context find
// their parent in the goroutine's current observation, which a new goroutine
// does not have; these helpers carry it there. Generated code calls them in
// traced functions (and in the function literals inside them):
//
//   - a go statement, go f(x, y), becomes go fluxloop.Follow2(f)(x, y): the
//     typed helper of f's shape (follow_gen.go: Follow0 to Follow6R3, and
//     Follow1V to Follow6VR3 for variadic functions), or the reflective
//     Follow for functions with more parameters or results, or whose type
//     is a type parameter. The go statement still evaluates f, then the
//     arguments, in the calling goroutine before the new goroutine starts.
//     Go statements calling builtins (go close(ch)) or generic functions
//     without explicit type arguments are left as they are.
//   - wg.Go(f) of a sync.WaitGroup becomes wg.Go(fluxloop.Bind(f)), and
//     g.Go(f) and g.TryGo(f) of a golang.org/x/sync/errgroup.Group become
//     g.Go(fluxloop.BindErr(f)) and g.TryGo(fluxloop.BindErr(f)).
//
// Nothing else is followed: goroutines that other libraries start (worker
// pools such as conc, time.AfterFunc, callbacks run later by a client
// library) start with no current observation, so traced functions without
// a context called there are roots. Pass them a ctx, or wrap the function
// handed to the library with Bind or BindErr by hand.

// Follow returns f wrapped so that, when it runs in a new goroutine,
// observations started there without a context nest under the observation
// current where Follow was called. Generated code uses it for go statements
// whose function has no typed helper (Follow0 ... Follow6VR3): go f(x)
// becomes go fluxloop.Follow(f)(x); the go statement still evaluates f and
// x, in that order, before the goroutine starts, and the goroutine runs
// f(x) as before.
//
// When tracing is off or no observation is current, Follow returns f itself;
// a nil f is returned as it is. While the wrapper runs, the observation is
// its goroutine's current one; when it returns or panics the goroutine's
// previous current observation (none, in a new goroutine) is restored, so
// the wrapper may also be called directly.
//
// Functions whose type has the underlying type func() or func() error are
// wrapped by a closure (one allocation, about 100 ns next to a go
// statement's 400 ns); other signatures by reflect.MakeFunc, which costs a
// few microseconds per call (reflection, and the new goroutine's stack
// growing for it): the typed helpers avoid that.
func Follow[F any](f F) F {
	s := followed()
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

// Bind returns f wrapped so that it runs with the observation current at
// the call of Bind as its goroutine's current one, restoring the goroutine's
// previous current observation when f returns or panics. Traced calls
// without a context made by f then nest under that observation, whichever
// goroutine runs it and whenever. Generated code rewrites wg.Go(f) of a
// sync.WaitGroup in a traced function to wg.Go(fluxloop.Bind(f)); call it by
// hand for functions that other code runs on its goroutines:
//
//	pool.Submit(fluxloop.Bind(func() { step(item) }))
//
// When tracing is off or no observation is current, Bind returns f itself;
// a nil f is returned as nil, so the callee's own handling of a nil function
// is unchanged.
func Bind(f func()) func() {
	if f == nil {
		return nil
	}
	s := followed()
	if s == nil {
		return f
	}
	return follow0(s, f)
}

// BindErr is Bind for a func() error, the function errgroup.Group.Go and
// TryGo take: generated code rewrites g.Go(f) to g.Go(fluxloop.BindErr(f)).
// The wrapper returns f's error.
func BindErr(f func() error) func() error {
	if f == nil {
		return nil
	}
	s := followed()
	if s == nil {
		return f
	}
	return followErr(s, f)
}

// followed returns the observation to hand over: the goroutine's current
// one, or nil when tracing is off or there is none.
func followed() *Span {
	if atomic.LoadUint32(&std.modeRaw) == modeOff {
		return nil
	}
	return current()
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
