package fluxloop

import (
	"testing"
	"time"
)

type level int

type marshaledLevel int

func (l marshaledLevel) MarshalText() ([]byte, error) { return []byte("L"), nil }

type name string

// TestNamedScalars: named types of scalar kinds are captured like their
// underlying kind, without allocating; their MarshalText is not called, and
// time.Duration is written in its usual form.
func TestNamedScalars(t *testing.T) {
	for _, tc := range []struct {
		v    Value
		want string
	}{
		{V(time.Duration(1500)), `"1.5µs"`},
		{V(level(-3)), "-3"},
		{V(name("x")), `"x"`},
		{V(marshaledLevel(2)), `2`},
	} {
		sl := tc.v.frozen()
		if got := string(appendValue(nil, &sl)); got != tc.want {
			t.Errorf("captured %s, want %s", got, tc.want)
		}
	}
	l := level(7)
	if n := testing.AllocsPerRun(100, func() { _ = V(l) }); n != 0 {
		t.Errorf("V(level) allocates %v times", n)
	}
}
