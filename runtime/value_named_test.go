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
// underlying kind, without allocating, unless they marshal themselves.
func TestNamedScalars(t *testing.T) {
	for _, tc := range []struct {
		v    Value
		want string
	}{
		{V(time.Duration(1500)), "1500"},
		{V(level(-3)), "-3"},
		{V(name("x")), `"x"`},
		{V(marshaledLevel(2)), `"L"`},
	} {
		sl := tc.v.frozen()
		if got := string(appendValue(nil, &sl)); got != tc.want {
			t.Errorf("captured %s, want %s", got, tc.want)
		}
	}
	d := time.Duration(7)
	if n := testing.AllocsPerRun(100, func() { _ = V(d) }); n != 0 {
		t.Errorf("V(time.Duration) allocates %v times", n)
	}
}
