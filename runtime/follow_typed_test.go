package fluxloop

// The typed Follow helpers (follow_gen.go) and Bind/BindErr.

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// go f(...) of every shape, written as the generator writes it with the
// typed helpers, nests the goroutine's observations under the caller.
func TestFollowTypedShapes(t *testing.T) {
	_, recorded := followRecorder(t)
	var wg sync.WaitGroup
	followParent(func() {
		wg.Add(11)
		go Follow0(func() {
			defer wg.Done()
			followLocal("f0")
		})()
		go Follow1(func(s string) {
			defer wg.Done()
			followLocal(s)
		})("f1")
		go Follow2R1(func(a int, b string) string {
			defer wg.Done()
			return followLocal(b + strconv.Itoa(a))
		})(2, "f2r")
		variadic := func(prefix string, xs ...string) {
			defer wg.Done()
			followLocal(prefix + strings.Join(xs, ""))
		}
		go Follow2V(variadic)("v-", "a", "b")
		go Follow2V(variadic)("spread-", []string{"c", "d"}...)
		w := followWorker{prefix: "method-", wg: &wg}
		go Follow1(w.run)("value")
		go Follow1R2((&w).runPtr)("pointer")
		var job followJob = func(tag string) {
			defer wg.Done()
			followLocal(tag)
		}
		go Follow1(job)("named")
		go Follow6R3(func(a, b, c, d, e int, f string) (int, string, error) {
			defer wg.Done()
			followLocal(f + strconv.Itoa(a+b+c+d+e))
			return 0, "", nil
		})(1, 2, 3, 4, 5, "six-")
		go Follow3VR1(func(a int, b bool, xs ...int) error {
			defer wg.Done()
			followLocal("v3-" + strconv.Itoa(a+len(xs)))
			return nil
		})(1, true, 7, 8)
		go Follow3(followGeneric[int])(&wg, 7, func(int) string { return "generic" })
		wg.Wait()
	})
	checkUnder(t, recorded(), "f0", "f1", "f2r2", "v-ab", "spread-cd", "method-value", "method-pointer", "named", "six-15", "v3-3", "generic")
}

// The wrappers return f's results, to a direct caller.
func TestFollowTypedResults(t *testing.T) {
	followRecorder(t)
	followParent(func() {
		n, s, err := Follow2R3(func(a, b int) (int, string, error) { return a + b, "x", errors.New("e") })(2, 3)
		if n != 5 || s != "x" || err == nil {
			t.Errorf("results %d, %q, %v", n, s, err)
		}
		if got := Follow1VR1(func(xs ...int) int { return len(xs) })(1, 2, 3); got != 3 {
			t.Errorf("variadic result %d", got)
		}
		if got := Follow1VR1(func(xs ...int) int { return len(xs) })([]int{1, 2}...); got != 2 {
			t.Errorf("spread variadic result %d", got)
		}
		if err := BindErr(func() error { return errors.New("bound") })(); err == nil || err.Error() != "bound" {
			t.Errorf("BindErr result %v", err)
		}
	})
}

// A nil f is returned as a nil function of the same type, traced or not, so
// a go statement of it fails as it would have; Bind and BindErr return nil.
func TestFollowTypedNil(t *testing.T) {
	followRecorder(t)
	check := func() {
		if Follow0(nil) != nil || Follow1((func(int))(nil)) != nil || Follow2VR1((func(int, ...string) error)(nil)) != nil ||
			Follow6R3((func(a, b, c, d, e, f int) (int, int, int))(nil)) != nil {
			t.Errorf("a typed helper returned a non-nil function for nil")
		}
		if Bind(nil) != nil || BindErr(nil) != nil {
			t.Errorf("Bind or BindErr returned a non-nil function for nil")
		}
		var job followJob
		if Follow1(job) != nil {
			t.Errorf("Follow1 of a nil named function type is not nil")
		}
	}
	check()
	followParent(check)
}

// With tracing off or no current observation, the helpers return f itself.
func TestFollowTypedReturnsF(t *testing.T) {
	f0 := func() {}
	f2 := func(a int, b string) error { return nil }
	fv := func(a int, xs ...int) (int, bool) { return 0, false }
	fe := func() error { return nil }
	same := func(a, b any) bool { return reflect.ValueOf(a).Pointer() == reflect.ValueOf(b).Pointer() }
	check := func(t *testing.T, want bool) {
		t.Helper()
		if got := same(Follow0(f0), f0) && same(Follow2R1(f2), f2) && same(Follow2VR2(fv), fv) &&
			same(Bind(f0), f0) && same(BindErr(fe), fe); got != want {
			t.Errorf("helpers returned f: %v, want %v", got, want)
		}
	}
	t.Run("no current observation", func(t *testing.T) {
		followRecorder(t)
		check(t, true)
	})
	t.Run("disabled", func(t *testing.T) {
		followRecorder(t)
		off, err := NewClient(WithEnabled(false))
		if err != nil {
			t.Fatal(err)
		}
		followParent(func() {
			prev := SetDefault(off)
			defer SetDefault(prev)
			check(t, true)
		})
	})
	t.Run("traced", func(t *testing.T) {
		followRecorder(t)
		followParent(func() {
			for _, w := range []bool{same(Follow0(f0), f0), same(Follow2R1(f2), f2), same(Follow2VR2(fv), fv), same(Bind(f0), f0), same(BindErr(fe), fe)} {
				if w {
					t.Errorf("a helper returned f inside an observation")
				}
			}
		})
	})
}

// A panic through a wrapper restores the goroutine's previous current
// observation: the caller's when called directly, none in a new goroutine
// (the goroutine table does not grow).
func TestFollowTypedPanicRestores(t *testing.T) {
	_, recorded := followRecorder(t)
	followParent(func() {
		for i, w := range []func(){
			func() { Follow1R1(func(s string) int { panic(s) })("a") },
			func() { Follow2V(func(a int, xs ...int) { panic(a) })(1, 2) },
			func() { Bind(func() { panic("b") })() },
			func() { _ = BindErr(func() error { panic("c") })() },
		} {
			func() {
				defer func() {
					if recover() == nil {
						t.Errorf("%d: no panic", i)
					}
				}()
				w()
			}()
			if cur := current(); cur == nil || cur.site != &siteFollowParent {
				t.Errorf("%d: current observation after the panic: %v", i, cur)
			}
		}
	})
	entries0, _ := settledGls(0)
	const n = 600
	var wg sync.WaitGroup
	followParent(func() {
		for i := range n {
			wg.Add(1)
			fn := Follow1(func(s string) { followLocal(s); panic(s) })
			go func() {
				defer wg.Done()
				defer func() { recover() }()
				fn("p" + strconv.Itoa(i%2))
			}()
		}
		wg.Wait()
	})
	if entries, _ := settledGls(entries0); entries != entries0 {
		t.Errorf("goroutine table: %d entries after %d panicking wrappers, was %d", entries, n, entries0)
	}
	if got := len(byName(recorded(), "followLocal")); got != n {
		t.Errorf("%d followLocal observations, want %d", got, n)
	}
}

// Bind and BindErr, as generated code writes them for WaitGroup.Go and
// errgroup.Group.Go/TryGo, nest the goroutines' observations; a bound
// function called later, on another goroutine, still nests under the
// observation current at Bind.
func TestBindGroups(t *testing.T) {
	_, recorded := followRecorder(t)
	var later []func()
	followParent(func() {
		var wg sync.WaitGroup
		var g errGroup
		g.SetLimit(2)
		for _, tag := range []string{"a", "b"} {
			goWG(&wg, Bind(func() { followLocal("wg-" + tag) }))
			g.Go(BindErr(func() error { followLocal("eg-" + tag); return nil }))
		}
		wg.Wait()
		if err := g.Wait(); err != nil {
			t.Error(err)
		}
		if !g.TryGo(BindErr(func() error { followLocal("try"); return nil })) {
			t.Error("TryGo refused")
		}
		g.Wait()
		later = append(later, Bind(func() { followLocal("later") }))
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		later[0]()
	}()
	<-done
	checkUnder(t, recorded(), "wg-a", "wg-b", "eg-a", "eg-b", "try", "later")
}

// follow_gen.go is what internal/genfollow writes.
func TestFollowGenUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go run")
	}
	out := filepath.Join(t.TempDir(), "follow_gen.go")
	cmd := exec.CommandContext(context.Background(), "go", "run", "./internal/genfollow", "-o", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("genfollow: %v\n%s", err, b)
	}
	want, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("follow_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("follow_gen.go is stale: run go generate in runtime/")
	}
}
