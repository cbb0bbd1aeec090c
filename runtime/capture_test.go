package fluxloop_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"github.com/fluxloop/fluxloop-go/runtime/fluxlooptest"
)

func TestCaptureModes(t *testing.T) {
	for _, tc := range []struct {
		mode    fluxloop.Capture
		in, out bool
	}{
		{fluxloop.CaptureAll, true, true},
		{fluxloop.CaptureInput, true, false},
		{fluxloop.CaptureOutput, false, true},
		{fluxloop.CaptureNone, false, false},
	} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			rec := fluxlooptest.New(t, fluxloop.WithCapture(tc.mode))
			Add(context.Background(), 2, 3)
			Fail(context.Background(), "bad")
			add := rec.MustGet("Add")
			if (add.Input != nil) != tc.in || (add.Output != nil) != tc.out {
				t.Errorf("input %s output %s, want input %v output %v", add.Input, add.Output, tc.in, tc.out)
			}
			if f := rec.MustGet("Fail"); f.Error != "bad" || f.Level != fluxloop.LevelError {
				t.Errorf("errors must be recorded in every mode: %+v", f)
			}
		})
	}
	if m, err := fluxloop.ParseCapture("Output"); err != nil || m != fluxloop.CaptureOutput {
		t.Errorf("ParseCapture(Output) = %v, %v", m, err)
	}
	if _, err := fluxloop.ParseCapture("some"); err == nil {
		t.Errorf("ParseCapture(some) succeeded")
	}
}

func TestValues(t *testing.T) {
	rec := fluxlooptest.New(t)
	ctx := context.Background()
	type point struct {
		X, Y int
		Tag  string `json:"tag"`
	}
	type named int
	var nilErr error
	Echo(ctx, true)
	Echo(ctx, int8(-8))
	Echo(ctx, uint64(math.MaxUint64))
	Echo(ctx, float32(1.5))
	Echo(ctx, math.Inf(1))
	Echo(ctx, "a \"quoted\" <string>\n")
	Echo(ctx, point{1, 2, "p"})
	Echo(ctx, &point{3, 4, "q"})
	Echo(ctx, []int{1, 2, 3})
	Echo(ctx, map[string]int{"k": 1})
	Echo(ctx, named(5))
	Echo(ctx, []byte("text"))
	Echo(ctx, []byte{0xff, 0x00})
	Echo(ctx, errors.New("an error"))
	Echo(ctx, nilErr)
	Echo[any](ctx, nil)
	Echo(ctx, (*point)(nil))
	want := []string{
		`true`, `-8`, `18446744073709551615`, `1.5`, `"+Inf"`, `"a \"quoted\" <string>\n"`,
		`{"X":1,"Y":2,"tag":"p"}`, `{"X":3,"Y":4,"tag":"q"}`, `[1,2,3]`, `{"k":1}`, `5`,
		`"text"`, `"/wA="`, `"an error"`, `null`, `null`, `null`,
	}
	obs := rec.All("Echo")
	if len(obs) != len(want) {
		t.Fatalf("%d observations, want %d", len(obs), len(want))
	}
	for i, o := range obs {
		assertJSON(t, o.Input, `{"v":`+want[i]+`}`)
		assertJSON(t, o.Output, want[i])
	}
	Two(ctx)
	assertJSON(t, rec.MustGet("Two").Output, `[7,"seven"]`)
	if rec.MustGet("Two").Input != nil {
		t.Errorf("Two has no parameters but input %s", rec.MustGet("Two").Input)
	}
	Many(ctx, 1, 2, 3, 4, 5, 6)
	assertJSON(t, rec.MustGet("Many").Input, `{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6}`)
}

// Composite values are snapshot when the call records them: later changes
// by the program are not seen (and are no data race for -race).
func TestSnapshot(t *testing.T) {
	rec := fluxlooptest.New(t)
	m := map[string]int{"n": 1}
	Echo(context.Background(), m)
	m["n"] = 2
	assertJSON(t, rec.MustGet("Echo").Input, `{"v":{"n":1}}`)
}

type cyclic struct {
	Name string
	Next *cyclic
}

type badMarshal struct{}

func (badMarshal) MarshalJSON() ([]byte, error) { panic("marshal boom") }

type errMarshal struct{}

func (errMarshal) MarshalJSON() ([]byte, error) { return nil, errors.New("no") }

type nilPtrErr struct{ msg string }

func (e *nilPtrErr) Error() string { return e.msg }

func TestUnencodableValues(t *testing.T) {
	rec := fluxlooptest.New(t)
	ctx := context.Background()
	c := &cyclic{Name: "a"}
	c.Next = c
	ch := make(chan int)
	var npe *nilPtrErr
	Echo(ctx, func(int) error { return nil })
	Echo(ctx, ch)
	Echo(ctx, c)
	Echo(ctx, badMarshal{})
	Echo(ctx, errMarshal{})
	Echo[error](ctx, npe)
	Echo(ctx, struct{ F func() }{})
	want := []string{
		`"<func(int) error>"`, `"<chan int>"`, `{"Name":"a","Next":"<cycle: *fluxloop_test.cyclic>"}`,
		`{}`, `{}`, ``, `{"F":null}`,
	}
	obs := rec.All("Echo")
	if len(obs) != len(want) {
		t.Fatalf("%d observations, want %d", len(obs), len(want))
	}
	for i, o := range obs {
		if want[i] == "" {
			var in map[string]string
			json.Unmarshal(o.Input, &in)
			if !strings.Contains(in["v"], "*fluxloop_test.nilPtrErr") || !strings.Contains(in["v"], "panicked") {
				t.Errorf("nil pointer error recorded as %s", o.Input)
			}
			continue
		}
		assertJSON(t, o.Input, `{"v":`+want[i]+`}`)
	}
}

func TestTruncation(t *testing.T) {
	rec := fluxlooptest.New(t, fluxloop.WithMaxFieldBytes(100))
	ctx := context.Background()
	long := strings.Repeat("é", 200) // 400 bytes
	Echo(ctx, long)
	Echo(ctx, []int{1, 2, 3})
	big := make([]int, 100)
	Echo(ctx, big)
	obs := rec.All("Echo")
	var in map[string]string
	if err := json.Unmarshal(obs[0].Input, &in); err != nil {
		t.Fatalf("input %s: %v", obs[0].Input, err)
	}
	if !strings.HasPrefix(in["v"], strings.Repeat("é", 50)) || !strings.HasSuffix(in["v"], "…(truncated 300 bytes)") {
		t.Errorf("truncated string = %q", in["v"])
	}
	if obs[0].Metadata["fluxloop.truncated"] != true {
		t.Errorf("metadata fluxloop.truncated = %v", obs[0].Metadata["fluxloop.truncated"])
	}
	if _, ok := obs[1].Metadata["fluxloop.truncated"]; ok {
		t.Errorf("small value marked truncated")
	}
	var out []any
	if err := json.Unmarshal(obs[2].Output, &out); err != nil || len(out) < 2 || out[0] != 0.0 {
		t.Fatalf("truncated composite output = %s (%v)", obs[2].Output, err)
	}
	if last, _ := out[len(out)-1].(string); last != fmt.Sprintf("… %d more", 100-(len(out)-1)) {
		t.Errorf("truncated composite output = %s, want a final \"… N more\"", obs[2].Output)
	}
	if obs[2].Metadata["fluxloop.truncated"] != true {
		t.Errorf("composite: metadata fluxloop.truncated = %v", obs[2].Metadata["fluxloop.truncated"])
	}
}

func TestValueDoesNotAllocate(t *testing.T) {
	var sink fluxloop.Value
	err := errors.New("e")
	s := "string"
	for name, f := range map[string]func(){
		"int":     func() { sink = fluxloop.V(12345) },
		"int64":   func() { sink = fluxloop.V(int64(-1 << 40)) },
		"uint8":   func() { sink = fluxloop.V(uint8(200)) },
		"float64": func() { sink = fluxloop.V(3.25) },
		"bool":    func() { sink = fluxloop.V(true) },
		"string":  func() { sink = fluxloop.V(s) },
		"error":   func() { sink = fluxloop.V(err) },
		"nil":     func() { sink = fluxloop.V[error](nil) },
	} {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("V(%s) allocates %v times", name, n)
		}
	}
	_ = sink
}
