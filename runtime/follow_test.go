package fluxloop

// Follow at go statements. These tests are in package fluxloop, not
// fluxloop_test, to look at the goroutine table; they record with a
// MemoryStorage client of their own.

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	siteFollowLocal  = Site{Name: "followLocal", Type: TypeSpan, Params: []string{"tag"}}
	siteFollowCtx    = Site{Name: "followCtx", Type: TypeSpan, Params: []string{"tag"}}
	siteFollowParent = Site{Name: "followParent", Type: TypeAgent}
)

// followLocal is a traced function without a ctx, instrumented as
// fluxloopgen does it: its parent is its goroutine's current observation.
func followLocal(tag string) (__fluxloopR0 string) {
	__fluxloopSpan := EnterLocal(&siteFollowLocal)
	if __fluxloopSpan != nil {
		__fluxloopSpan.Inputs(V(tag))
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			__fluxloopSpan.Return(nil, V(__fluxloopR0))
		}()
	}
	return tag
}

// followCtx is a traced function with a ctx.
func followCtx(ctx context.Context, tag string) (__fluxloopR0 error) {
	ctx, __fluxloopSpan := Enter(ctx, &siteFollowCtx)
	if __fluxloopSpan != nil {
		__fluxloopSpan.Inputs(V(tag))
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			__fluxloopSpan.Return(__fluxloopR0)
		}()
	}
	_ = ctx
	if strings.HasPrefix(tag, "fail") {
		return errors.New(tag)
	}
	return nil
}

// followParent is a traced function (an agent, without a ctx) whose body
// runs body; go statements in body are written as generated code writes
// them.
func followParent(body func()) {
	__fluxloopSpan := EnterLocal(&siteFollowParent)
	if __fluxloopSpan != nil {
		__fluxloopSpan.Inputs()
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			__fluxloopSpan.Return(nil)
		}()
	}
	body()
}

// followRecorder installs a default client recording to memory for t and
// returns a function listing what it recorded. At the end of the test it
// waits until the goroutine table is back to its size at the start.
func followRecorder(t *testing.T, opts ...Option) (*Client, func() []Observation) {
	t.Helper()
	mem := NewMemoryStorage()
	c, err := NewClient(append([]Option{WithStorage(mem), WithFlushInterval(time.Hour)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	prev := SetDefault(c)
	entries0, _ := glsSize()
	t.Cleanup(func() {
		// goroutines that signalled the test from inside a wrapped
		// function release their entry just after: wait for them
		settledGls(entries0)
		c.Shutdown(context.Background())
		if prev != nil { // as fluxlooptest does: never fall back to the environment's client
			SetDefault(prev)
		}
	})
	return c, func() []Observation {
		t.Helper()
		if err := c.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		return mem.Observations()
	}
}

func byName(obs []Observation, name string) []Observation {
	var out []Observation
	for _, o := range obs {
		if o.Name == name {
			out = append(out, o)
		}
	}
	return out
}

func followTree(obs []Observation) string {
	var b strings.Builder
	for _, o := range obs {
		b.WriteString(o.Name + " " + o.ID + " parent=" + o.ParentObservationID + " input=" + string(o.Input) + "\n")
	}
	return b.String()
}

// checkUnder checks that every followLocal and followCtx observation is a
// child of the one followParent, and that the tags are want.
func checkUnder(t *testing.T, obs []Observation, want ...string) {
	t.Helper()
	parents := byName(obs, "followParent")
	if len(parents) != 1 {
		t.Fatalf("%d followParent observations:\n%s", len(parents), followTree(obs))
	}
	var got []string
	for _, o := range obs {
		if o.Name != "followLocal" && o.Name != "followCtx" {
			continue
		}
		got = append(got, strings.Trim(strings.TrimPrefix(string(o.Input), `{"tag":`), `"}`))
		if o.ParentObservationID != parents[0].ID || o.TraceID != parents[0].TraceID {
			t.Errorf("%s %s is not a child of followParent:\n%s", o.Name, o.Input, followTree(obs))
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("recorded %v, want %v", got, want)
	}
}

type followJob func(tag string)
type followTask func()
type followTaskErr func() error

type followWorker struct {
	prefix string
	wg     *sync.WaitGroup
}

func (w followWorker) run(tag string) {
	defer w.wg.Done()
	followLocal(w.prefix + tag)
}

func (w *followWorker) runPtr(tag string) (int, error) {
	defer w.wg.Done()
	followLocal(w.prefix + tag)
	return len(tag), nil
}

func followGeneric[T any](wg *sync.WaitGroup, v T, format func(T) string) {
	defer wg.Done()
	followLocal(format(v))
}

// go f(x) of every shape, rewritten as generated code does, nests the new
// goroutine's observations under the function that ran the go statement.
func TestFollowShapes(t *testing.T) {
	_, recorded := followRecorder(t)
	var wg sync.WaitGroup
	followParent(func() {
		wg.Add(10)
		// func()
		go Follow(func() {
			defer wg.Done()
			followLocal("closure")
		})()
		// a function with arguments and results
		go Follow(func(a int, b string) (string, error) {
			defer wg.Done()
			return followLocal(b + strings.Repeat("!", a)), nil
		})(2, "args")
		// variadic, with separate arguments and with a spread slice
		variadic := func(prefix string, xs ...string) {
			defer wg.Done()
			followLocal(prefix + strings.Join(xs, ""))
		}
		go Follow(variadic)("variadic-", "a", "b")
		go Follow(variadic)("spread-", []string{"c", "d"}...)
		// method values, value and pointer receivers
		w := followWorker{prefix: "method-", wg: &wg}
		go Follow(w.run)("value")
		go Follow((&w).runPtr)("pointer")
		// an instantiated generic function
		go Follow(followGeneric[int])(&wg, 7, func(i int) string { return "generic-" + string(rune('0'+i)) })
		// named function types: with arguments (reflection), and of the
		// func() and func() error shapes (closures)
		var job followJob = func(tag string) {
			defer wg.Done()
			followLocal(tag)
		}
		go Follow(job)("named")
		var task followTask = func() {
			defer wg.Done()
			followLocal("named-task")
		}
		go Follow(task)()
		var taskErr followTaskErr = func() error {
			defer wg.Done()
			followLocal("named-task-err")
			return nil
		}
		go Follow(taskErr)()
		wg.Wait()
	})
	checkUnder(t, recorded(), "closure", "args!!", "variadic-ab", "spread-cd", "method-value", "method-pointer",
		"generic-7", "named", "named-task", "named-task-err")
}

// The wrapper has the type of f, and Follow of a nil function is that nil
// function: go of it fails as it would have.
func TestFollowTypesAndNil(t *testing.T) {
	followRecorder(t)
	followParent(func() {
		if w := Follow(followJob(nil)); w != nil {
			t.Errorf("Follow(nil followJob) = non-nil")
		}
		if w := Follow((func())(nil)); w != nil {
			t.Errorf("Follow(nil func()) = non-nil")
		}
		if w := Follow((func() error)(nil)); w != nil {
			t.Errorf("Follow(nil func() error) = non-nil")
		}
		if w := Follow(followTask(nil)); w != nil {
			t.Errorf("Follow(nil followTask) = non-nil")
		}
		if w := Follow((func(int, ...string) error)(nil)); w != nil {
			t.Errorf("Follow(nil variadic) = non-nil")
		}
		var task followTask = func() {}
		if reflect.TypeOf(Follow(task)) != reflect.TypeFor[followTask]() {
			t.Errorf("Follow changed the type")
		}
		// results come back through the wrapper
		n, err := Follow(func(a, b int) (int, error) { return a + b, errors.New("e") })(2, 3)
		if n != 5 || err == nil {
			t.Errorf("results %d, %v", n, err)
		}
		sum := Follow(func(xs ...int) int { return len(xs) })(1, 2, 3)
		if sum != 3 {
			t.Errorf("variadic result %d", sum)
		}
	})
}

// f and the arguments are evaluated where the go statement is, in order,
// before the goroutine starts, exactly as without Follow.
func TestFollowEvaluationOrder(t *testing.T) {
	followRecorder(t)
	var mu sync.Mutex
	var log []string
	note := func(s string) {
		mu.Lock()
		log = append(log, s)
		mu.Unlock()
	}
	release := make(chan struct{})
	done := make(chan struct{}, 2)
	fn := func() func(a, b int, w followWorker) {
		note("f")
		return func(a, b int, w followWorker) {
			<-release
			note("body " + string(rune('0'+a)) + string(rune('0'+b)) + " " + w.prefix)
			done <- struct{}{}
		}
	}
	arg := func(v int) int {
		note("arg " + string(rune('0'+v)))
		return v
	}
	run := func(prefix string) {
		x := 1
		w := followWorker{prefix: "before"}
		go Follow(fn())(arg(x), arg(2), w)
		x, w.prefix = 9, "after" // too late: both were evaluated
		_ = x
		note("after go " + prefix)
	}
	followParent(func() { run("traced") })
	run("untraced") // no current observation: Follow returns f
	close(release)
	<-done
	<-done
	mu.Lock()
	defer mu.Unlock()
	want := []string{"f", "arg 1", "arg 2", "after go traced", "f", "arg 1", "arg 2", "after go untraced"}
	if !slices.Equal(log[:8], want) {
		t.Errorf("evaluation order %q, want %q", log[:8], want)
	}
	if log[8] != "body 12 before" || log[9] != "body 12 before" {
		t.Errorf("goroutines saw %q, want the values at the go statement", log[8:])
	}
}

// A panic through the wrapper still restores the goroutine's current
// observation, so the goroutine table does not grow, whatever the shape.
func TestFollowPanicReleases(t *testing.T) {
	_, recorded := followRecorder(t)
	warm := func() {
		followParent(func() {
			var wg sync.WaitGroup
			wg.Add(1)
			go Follow(func() { defer wg.Done(); followLocal("warm") })()
			wg.Wait()
		})
	}
	warm()
	entries0, slots0 := settledGls(0)
	const n = 3000
	var wg sync.WaitGroup
	followParent(func() {
		for i := range n {
			wg.Add(1)
			// the wrapper is made at the go statement, called under a
			// recover in the new goroutine
			var w func()
			switch i % 3 {
			case 0:
				fn := Follow(func() { followLocal("p"); panic("boom") })
				w = fn
			case 1:
				fn := Follow(func(s string) int { followLocal(s); panic(s) })
				w = func() { fn("p") }
			case 2:
				fn := Follow(followTaskErr(func() error { panic("boom") }))
				w = func() { fn() }
			}
			go func() {
				defer wg.Done()
				defer func() {
					if recover() == nil {
						t.Error("no panic")
					}
				}()
				w()
			}()
			// and go statements whose function returns normally
			wg.Add(1)
			go Follow(func(i int) { defer wg.Done(); followLocal("ok") })(i)
		}
		wg.Wait()
	})
	// Thousands of goroutines held an entry at once; once they are gone
	// no entry is left, and every shard has shrunk back to at most 64
	// slots.
	entries, slots := settledGls(entries0)
	if entries != entries0 || slots > max(slots0, 64*glsShards) {
		t.Errorf("goroutine table: %d entries in %d slots after %d Follow calls, was %d in %d", entries, slots, 2*n, entries0, slots0)
	}
	obs := recorded()
	if got := len(byName(obs, "followLocal")); got != 1+2*n-n/3 {
		t.Errorf("%d followLocal observations, want %d", got, 1+2*n-n/3)
	}
	// called on a goroutine that has a current observation, the wrapper
	// puts it back after a panic
	followParent(func() {
		w := Follow(func() { panic("x") })
		func() {
			defer func() { recover() }()
			w()
		}()
		if cur := current(); cur == nil || cur.site != &siteFollowParent {
			t.Errorf("current observation after the panic: %v", cur)
		}
	})
}

// settledGls returns the goroutine table's size once it holds at most want
// entries, or after a second. Goroutines release their entry after the
// function they ran returned, so after wg.Wait() a few may still hold one.
func settledGls(want int) (entries, slots int) {
	deadline := time.Now().Add(time.Second)
	for {
		entries, slots = glsSize()
		if entries <= want || time.Now().After(deadline) {
			return entries, slots
		}
		time.Sleep(time.Millisecond)
	}
}

// With tracing disabled, or outside any observation, Follow returns f
// itself.
func TestFollowReturnsF(t *testing.T) {
	f0 := func() {}
	f2 := func(a int, b string) error { return nil }
	fv := func(xs ...int) {}
	same := func(a, b any) bool { return reflect.ValueOf(a).Pointer() == reflect.ValueOf(b).Pointer() }
	check := func(t *testing.T) {
		t.Helper()
		if !same(Follow(f0), f0) || !same(Follow(f2), f2) || !same(Follow(fv), fv) || !same(Follow(followTask(f0)), f0) {
			t.Errorf("Follow did not return f")
		}
	}
	t.Run("disabled", func(t *testing.T) {
		followRecorder(t)
		off, err := NewClient(WithEnabled(false))
		if err != nil {
			t.Fatal(err)
		}
		followParent(func() {
			// an observation is current, but tracing is now off
			prev := SetDefault(off)
			defer SetDefault(prev)
			check(t)
		})
	})
	t.Run("no current observation", func(t *testing.T) {
		followRecorder(t)
		check(t)
	})
	t.Run("shut down", func(t *testing.T) {
		c, _ := followRecorder(t)
		c.Shutdown(context.Background())
		followParent(func() { check(t) })
	})
	t.Run("traced", func(t *testing.T) {
		followRecorder(t)
		followParent(func() {
			if same(Follow(f0), f0) || same(Follow(f2), f2) {
				t.Errorf("Follow returned f inside an observation")
			}
		})
	})
}

// followParentCtx is a traced function with a ctx.
func followParentCtx(ctx context.Context, body func(ctx context.Context) error) (__fluxloopR0 error) {
	ctx, __fluxloopSpan := Enter(ctx, &siteFollowParent)
	if __fluxloopSpan != nil {
		__fluxloopSpan.Inputs()
		defer func() {
			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
				__fluxloopSpan.Panic(__fluxloopPanic)
				panic(__fluxloopPanic)
			}
			__fluxloopSpan.Return(__fluxloopR0)
		}()
	}
	return body(ctx)
}

// Goroutines started by errgroup.Group.Go (errGroup here) and sync.WaitGroup.Go: traced
// calls that take ctx nest through ctx; calls without a ctx nest when the
// closure is wrapped (with Follow here; the generator writes Bind and
// BindErr, see TestBindGroups), and are roots otherwise.
func TestFollowGroups(t *testing.T) {
	t.Run("errgroup with ctx", func(t *testing.T) {
		_, recorded := followRecorder(t)
		err := followParentCtx(context.Background(), func(ctx context.Context) error {
			g, gctx := withErrGroup(ctx)
			for _, tag := range []string{"a", "b", "fail-c"} {
				g.Go(func() error { return followCtx(gctx, tag) })
			}
			return g.Wait()
		})
		if err == nil || err.Error() != "fail-c" {
			t.Errorf("Wait = %v", err)
		}
		obs := recorded()
		checkUnder(t, obs, "a", "b", "fail-c")
		if p := byName(obs, "followParent")[0]; p.Error != "fail-c" {
			t.Errorf("parent error %q", p.Error)
		}
	})
	t.Run("WaitGroup.Go with ctx", func(t *testing.T) {
		_, recorded := followRecorder(t)
		followParentCtx(context.Background(), func(ctx context.Context) error {
			var wg sync.WaitGroup
			for _, tag := range []string{"a", "b"} {
				goWG(&wg, func() { followCtx(ctx, tag) })
			}
			wg.Wait()
			return nil
		})
		checkUnder(t, recorded(), "a", "b")
	})
	t.Run("Follow wrapped closures without ctx", func(t *testing.T) {
		_, recorded := followRecorder(t)
		followParent(func() {
			var wg sync.WaitGroup
			var g errGroup
			for _, tag := range []string{"a", "b"} {
				goWG(&wg, Follow(func() { followLocal("wg-" + tag) }))
				g.Go(Follow(func() error { followLocal("eg-" + tag); return nil }))
			}
			wg.Wait()
			g.Wait()
		})
		checkUnder(t, recorded(), "wg-a", "wg-b", "eg-a", "eg-b")
	})
	t.Run("closures without ctx or Follow", func(t *testing.T) {
		_, recorded := followRecorder(t)
		followParent(func() {
			var wg sync.WaitGroup
			goWG(&wg, func() { followLocal("lost") })
			wg.Wait()
		})
		obs := recorded()
		if l := byName(obs, "followLocal"); len(l) != 1 || l[0].ParentObservationID != "" {
			t.Errorf("want a root (no ctx, no Follow: nothing to nest under):\n%s", followTree(obs))
		}
	})
}

// Follow of a stream-producing goroutine: the producer's traced calls nest
// under the stream's observation, which stays open until the stream ends.
func TestFollowStreamProducer(t *testing.T) {
	_, recorded := followRecorder(t)
	site := &Site{Name: "producer", Type: TypeSpan}
	produce := func() (r <-chan string) {
		s := EnterLocal(site)
		if s != nil {
			defer func() {
				r = Chan(s, r)
				s.Return(nil)
			}()
		}
		ch := make(chan string)
		go Follow(func(tags ...string) {
			defer close(ch)
			for _, tag := range tags {
				ch <- followLocal(tag)
			}
		})("x", "y")
		return ch
	}
	var got []string
	for v := range produce() {
		got = append(got, v)
	}
	obs := recorded()
	p := byName(obs, "producer")
	if len(p) != 1 || !slices.Equal(got, []string{"x", "y"}) {
		t.Fatalf("got %v:\n%s", got, followTree(obs))
	}
	for _, o := range byName(obs, "followLocal") {
		if o.ParentObservationID != p[0].ID || o.EndTime.After(p[0].EndTime) {
			t.Errorf("%s not inside producer:\n%s", o.Input, followTree(obs))
		}
	}
}
