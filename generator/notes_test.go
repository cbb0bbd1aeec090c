package generator_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fluxloop/fluxloop-go/generator"
	"golang.org/x/tools/txtar"
)

// TestStreamNotes checks what -v says about every stream-typed result and
// about go statements that are not handed over, or only reflectively, for
// the inputs of golden cases.
func TestStreamNotes(t *testing.T) {
	if testing.Short() {
		t.Skip("loads packages with the go command")
	}
	mod := newModule(t)
	t.Setenv("GOFLAGS", "-mod=mod")
	for _, tc := range []struct {
		name string
		want string
	}{
		{"ownership", `ownership.go:16:17: C: result 0 (<-chan time.Time) not wrapped: the returned channel is not made in this function (it may be shared, like time.Timer.C); add stream=true to wrap it
ownership.go:19:6: Done: result 0 (<-chan struct{}) not wrapped: the returned channel is not made in this function (it may be shared, like time.Timer.C); add stream=true to wrap it
ownership.go:24:6: Shared: result 0 (<-chan int) not wrapped: the returned channel is not made in this function (it may be shared, like time.Timer.C); add stream=true to wrap it
ownership.go:27:6: Direct: result 0 (<-chan int) wrapped as a stream: the channel is made here at line 27
ownership.go:30:6: Produce: result 0 (<-chan int) wrapped as a stream: the channel is made here at line 31
ownership.go:42:6: Declared: result 0 (<-chan int) wrapped as a stream: the channel is made here at line 44
ownership.go:50:6: Shadowed: result 0 (<-chan time.Time) wrapped as a stream: the channel is made here at line 51
ownership.go:60:6: Either: result 0 (<-chan int) not wrapped: the returned channel is not made in this function (it may be shared, like time.Timer.C); add stream=true to wrap it
ownership.go:69:6: Reassigned: result 0 (<-chan time.Time) not wrapped: the returned channel is not made in this function (it may be shared, like time.Timer.C); add stream=true to wrap it
ownership.go:78:6: Captured: result 0 (<-chan int) not wrapped: the returned channel is not made in this function (it may be shared, like time.Timer.C); add stream=true to wrap it
ownership.go:86:6: Addressed: result 0 (<-chan int) not wrapped: the returned channel is not made in this function (it may be shared, like time.Timer.C); add stream=true to wrap it
ownership.go:94:6: Named: result 0 (<-chan int) wrapped as a stream: the channel is made here at line 95
ownership.go:100:6: Deferred: result 0 (<-chan time.Time) not wrapped: the returned channel is not made in this function (it may be shared, like time.Timer.C); add stream=true to wrap it
ownership.go:112:6: Tuple: result 0 (<-chan int) not wrapped: the returned channel is not made in this function (it may be shared, like time.Timer.C); add stream=true to wrap it
ownership.go:117:18: Items: result 0 (<-chan int) wrapped as a stream: stream=true
ownership.go:120:6: Unwrapped: result 0 (iter.Seq[int]) not wrapped: stream=false
ownership.go:131:6: Made: result 0 (<-chan int) not wrapped: stream=false
ownership.go:134:6: Bidirectional: result 0 (chan int) not wrapped: only receive-only channels are (the caller may send on it); the observation ends when the function returns
`},
		{"follow", `follow.go:22:6: spawn: go statement at line 23 is handed over with the reflective fluxloop.Follow (a few microseconds): the function's type is a type parameter
follow.go:27:6: Shapes: go statement at line 42 is handed over with the reflective fluxloop.Follow (a few microseconds): it has 7 parameters and 0 results; the typed helpers go up to 6 and 3
follow.go:27:6: Shapes: go statement at line 43 is handed over with the reflective fluxloop.Follow (a few microseconds): it has 0 parameters and 4 results; the typed helpers go up to 6 and 3
follow.go:27:6: Shapes: go statement calling the generic function spawn without explicit type arguments is not handed over; write spawn[...]( ) to have it followed
`},
		{"streams", `streams.go:9:6: Tokens: result 0 (<-chan string) wrapped as a stream: the channel is made here at line 10
streams.go:19:6: Numbers: result 0 (iter.Seq[int]) wrapped as a stream: an iterator is wrapped transparently (ranged once, same values, same early stop); the observation stays open until it is ranged over or Shutdown
streams.go:30:6: Pairs: result 0 (iter.Seq2[string, error]) wrapped as a stream: an iterator is wrapped transparently (ranged once, same values, same early stop); the observation stays open until it is ranged over or Shutdown
streams.go:37:6: Both: result 0 (chan int) not wrapped: only receive-only channels are (the caller may send on it); the observation ends when the function returns
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := txtar.ParseFile(filepath.Join(testdataDir(t), "golden", tc.name+".txtar"))
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(mod, tc.name)
			for _, f := range a.Files {
				if name, ok := strings.CutPrefix(f.Name, "input/"); ok {
					writeFile(t, filepath.Join(dir, name), f.Data)
				}
			}
			var log bytes.Buffer
			if _, err := generator.Generate(context.Background(), generator.Options{Dir: dir, Patterns: []string{"."}, Log: &log}); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, l := range strings.SplitAfter(log.String(), "\n") {
				if strings.Contains(l, ": result ") || strings.Contains(l, "go statement") || strings.Contains(l, "stream=") {
					got = append(got, l)
				}
			}
			if g := strings.Join(got, ""); g != tc.want {
				t.Errorf("-v notes differ\ngot:\n%s\nwant:\n%s\nall:\n%s", g, tc.want, log.String())
			}
		})
	}
}
