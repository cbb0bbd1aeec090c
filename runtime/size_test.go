package fluxloop

import (
	"testing"
	"unsafe"
)

// The span is the one allocation of a traced call: keep it in its size class.
func TestSpanSize(t *testing.T) {
	if n := unsafe.Sizeof(Span{}); n > 256 {
		t.Errorf("Span is %d bytes, want at most 256 (the 256-byte size class)", n)
	}
}
