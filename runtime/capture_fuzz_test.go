package fluxloop

import (
	"encoding/json"
	"strings"
	"testing"
)

// fuzzNode is a value of the shapes the fuzzer builds: nested maps,
// slices, pointers, structs with tags and cycles.
type fuzzNode struct {
	Name  string           `json:"name,omitempty"`
	N     int64            `json:"n"`
	F     float64          `json:"f"`
	Kids  []*fuzzNode      `json:"kids"`
	Attrs map[string]any   `json:"attrs"`
	Back  *fuzzNode        `json:"back"`
	Raw   json.RawMessage  `json:"raw"`
	Bytes []byte           `json:"bytes"`
	ByInt map[int]fuzzNode `json:"by_int"`
	any   any
}

// buildValue interprets data as a program that builds a value.
func buildValue(data []byte) any {
	var nodes []*fuzzNode
	root := &fuzzNode{}
	nodes = append(nodes, root)
	var stack []any
	for i := 0; i+1 < len(data); i += 2 {
		op, arg := data[i], data[i+1]
		cur := nodes[int(arg)%len(nodes)]
		switch op % 12 {
		case 0:
			n := &fuzzNode{Name: string(data[i:min(len(data), i+int(arg%16))])}
			cur.Kids = append(cur.Kids, n)
			nodes = append(nodes, n)
		case 1:
			cur.Back = nodes[int(op)%len(nodes)] // often a cycle
		case 2:
			if cur.Attrs == nil {
				cur.Attrs = map[string]any{}
			}
			cur.Attrs[string([]byte{arg, op})] = string(data[i:]) // invalid UTF-8 too
		case 3:
			cur.N = int64(arg) << (op % 60)
		case 4:
			cur.F = float64(int8(arg)) / float64(op%7)
		case 5:
			cur.Raw = json.RawMessage(data[i:min(len(data), i+int(arg%32))])
		case 6:
			cur.Bytes = append(cur.Bytes, data[i:]...)
		case 7:
			stack = append(stack, cur, []any{cur, stack})
		case 8:
			if cur.Attrs == nil {
				cur.Attrs = map[string]any{}
			}
			cur.Attrs["self"] = cur.Attrs
		case 9:
			if cur.ByInt == nil {
				cur.ByInt = map[int]fuzzNode{}
			}
			cur.ByInt[int(arg)] = fuzzNode{Name: "v", any: cur}
		case 10:
			cur.any = stack
		case 11:
			big := make([]*fuzzNode, int(arg)*40)
			for j := range big {
				big[j] = cur
			}
			cur.Kids = append(cur.Kids, big...)
		}
	}
	if len(data) > 0 && data[0]%2 == 0 {
		return stack
	}
	return root
}

// FuzzCapture: whatever the value, capture never panics and writes valid
// JSON within its budget.
func FuzzCapture(f *testing.F) {
	f.Add([]byte{0, 0, 1, 0, 2, 1, 8, 0, 7, 0})
	f.Add([]byte("\x00\x05\x02\xff\x05\x10{\"a\":[1,2\x06\xfe\x0b\x09"))
	f.Add([]byte(strings.Repeat("\x00\x01\x0b\x02", 40)))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, budget := range []int{64, 1024} {
			cfg := defaultConfig()
			cfg.MaxFieldBytes = budget
			if len(data) > 0 {
				cfg.MaxItems = 1 + int(data[len(data)-1])%50
				cfg.MaxDepth = 1 + int(data[0])%10
			}
			s := captureAny(newCapturer(&cfg), buildValue(data))
			out := string(appendValue(nil, &s))
			if !json.Valid([]byte(out)) {
				t.Fatalf("invalid JSON: %s", out)
			}
			// The budget is passed by at most the element being written
			// when it ran out (a marker or a string cut to 16 bytes) and
			// the "… N more" markers and brackets that close the
			// containers open then.
			if slack := 96*(cfg.MaxDepth+2) + 256; len(out) > budget+slack {
				t.Fatalf("%d bytes for a budget of %d: %.200s", len(out), budget, out)
			}
		}
	})
}
