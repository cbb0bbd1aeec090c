package fluxloop_test

import (
	"context"
	"errors"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
)

// The functions below are instrumented exactly as fluxloopgen instruments
// them, so the tests exercise the runtime the way generated code does.

var (
	siteRun    = fluxloop.Site{Name: "Run", Type: fluxloop.TypeAgent, Params: []string{"query"}}
	siteAdd    = fluxloop.Site{Name: "Add", Type: fluxloop.TypeSpan, Params: []string{"a", "b"}}
	siteHelper = fluxloop.Site{Name: "Helper", Type: fluxloop.TypeSpan, Params: []string{"x"}}
	siteBoom   = fluxloop.Site{Name: "Boom", Type: fluxloop.TypeTool, Params: []string{"n"}}
	siteFail   = fluxloop.Site{Name: "Fail", Type: fluxloop.TypeSpan, Params: []string{"msg"}}
	siteEcho   = fluxloop.Site{Name: "Echo", Type: fluxloop.TypeSpan, Params: []string{"v"}}
	siteTwo    = fluxloop.Site{Name: "Two", Type: fluxloop.TypeSpan}
	siteChild  = fluxloop.Site{Name: "Child", Type: fluxloop.TypeSpan, Params: []string{"i"}}
	siteMany   = fluxloop.Site{Name: "Many", Type: fluxloop.TypeSpan, Params: []string{"a", "b", "c", "d", "e", "f"}}
)

// Run is an agent calling Add (with ctx) and Helper (without).
func Run(ctx context.Context, query string) (__fluxloopR0 string, __fluxloopR1 error) {
	ctx, __fluxloopSpan := fluxloop.Enter(ctx, &siteRun)
	if __fluxloopSpan != nil {
		__fluxloopSpan.Inputs(fluxloop.V(query))
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			__fluxloopSpan.Return(__fluxloopR1, fluxloop.V(__fluxloopR0))
		}()
	}
	n, err := Add(ctx, 1, 2)
	if err != nil {
		return "", err
	}
	return Helper(query) + "!" + string(rune('0'+n)), nil
}

func Add(ctx context.Context, a, b int) (__fluxloopR0 int, __fluxloopR1 error) {
	ctx, __fluxloopSpan := fluxloop.Enter(ctx, &siteAdd)
	if __fluxloopSpan != nil {
		__fluxloopSpan.Inputs(fluxloop.V(a), fluxloop.V(b))
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			__fluxloopSpan.Return(__fluxloopR1, fluxloop.V(__fluxloopR0))
		}()
	}
	_ = ctx
	return a + b, nil
}

// Helper has no ctx: its parent comes from the goroutine-local fallback.
func Helper(x string) (__fluxloopR0 string) {
	__fluxloopSpan := fluxloop.EnterLocal(&siteHelper)
	if __fluxloopSpan != nil {
		__fluxloopSpan.Inputs(fluxloop.V(x))
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			__fluxloopSpan.Return(nil, fluxloop.V(__fluxloopR0))
		}()
	}
	return "helped " + x
}

// Boom panics.
func Boom(n int) (__fluxloopR0 int) {
	__fluxloopSpan := fluxloop.EnterLocal(&siteBoom)
	if __fluxloopSpan != nil {
		__fluxloopSpan.Inputs(fluxloop.V(n))
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			__fluxloopSpan.Return(nil, fluxloop.V(__fluxloopR0))
		}()
	}
	var s []int
	return s[n]
}

// Fail returns an error.
func Fail(ctx context.Context, msg string) (__fluxloopR0 error) {
	ctx, __fluxloopSpan := fluxloop.Enter(ctx, &siteFail)
	if __fluxloopSpan != nil {
		__fluxloopSpan.Inputs(fluxloop.V(msg))
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			__fluxloopSpan.Return(__fluxloopR0)
		}()
	}
	_ = ctx
	return errors.New(msg)
}

// Echo records any value as input and output.
func Echo[T any](ctx context.Context, v T) (__fluxloopR0 T) {
	ctx, __fluxloopSpan := fluxloop.Enter(ctx, &siteEcho)
	if __fluxloopSpan != nil {
		__fluxloopSpan.Inputs(fluxloop.V(v))
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			__fluxloopSpan.Return(nil, fluxloop.V(__fluxloopR0))
		}()
	}
	_ = ctx
	return v
}

// Two has two non-error results.
func Two(ctx context.Context) (__fluxloopR0 int, __fluxloopR1 string, __fluxloopR2 error) {
	ctx, __fluxloopSpan := fluxloop.Enter(ctx, &siteTwo)
	if __fluxloopSpan != nil {
		__fluxloopSpan.Inputs()
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			__fluxloopSpan.Return(__fluxloopR2, fluxloop.V(__fluxloopR0), fluxloop.V(__fluxloopR1))
		}()
	}
	_ = ctx
	return 7, "seven", nil
}

// Many has more parameters than the span stores inline.
func Many(ctx context.Context, a, b, c, d, e, f int) (__fluxloopR0 int) {
	ctx, __fluxloopSpan := fluxloop.Enter(ctx, &siteMany)
	if __fluxloopSpan != nil {
		__fluxloopSpan.Inputs(fluxloop.V(a), fluxloop.V(b), fluxloop.V(c), fluxloop.V(d), fluxloop.V(e), fluxloop.V(f))
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			__fluxloopSpan.Return(nil, fluxloop.V(__fluxloopR0))
		}()
	}
	_ = ctx
	return a + b + c + d + e + f
}

// Child is a traced function run by many goroutines at once; it calls
// wait between its start and end.
func Child(ctx context.Context, i int, wait func()) (__fluxloopR0 int) {
	ctx, __fluxloopSpan := fluxloop.Enter(ctx, &siteChild)
	if __fluxloopSpan != nil {
		__fluxloopSpan.Inputs(fluxloop.V(i))
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			__fluxloopSpan.Return(nil, fluxloop.V(__fluxloopR0))
		}()
	}
	_ = ctx
	wait()
	return i * i
}
