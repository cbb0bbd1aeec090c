package viewer

import (
	"bufio"
	"os"
	"reflect"
	"testing"
)

var tricky = []string{
	`{"id":"a","trace_id":"t","name":"quote \" and \\ and \u00e9 and \n","start_time":"2026-01-01T00:00:00Z","end_time":"2026-01-01T00:00:01.5Z","level":"info"}`,
	`{"record":"observation","id":"a","trace_id":"t","type":null,"input":{"s":"}\"{","a":[1,{"b":"]"}]},"output":"x\\","metadata":{"x":{"fluxloop.llm.cost_usd":9},"fluxloop.llm.cost_usd":0.25}}`,
	` { "id" : "a" , "trace_id" : "t" , "prompt_tokens" : 12 , "total_tokens" : 1e2 , "output" : null } `,
	`{"id":"a","trace_id":"t","metadata":{"fluxloop.llm.cost_usd":"cheap"}}`,
	`{"id":"a","trace_id":"t","name":"tab	in"}`,
	`{"id":"a","trace_id":"t","name":"\ud83d\ude00 emoji"}`,
	`{"id":"a","trace_id":"t","prompt_tokens":1.5}`,
	`{"id":"a","trace_id":"t"} trailing`,
	`{"id":"a","trace_id":"t",}`,
	`{"id":"a","trace_id":"t","start_time":"yesterday"}`,
}

// TestScannerAgrees checks that the scanner reads what encoding/json reads,
// or gives up (and the caller falls back to encoding/json).
func TestScannerAgrees(t *testing.T) {
	lines := append([]string(nil), tricky...)
	for _, p := range []string{"testdata/runs/observations.jsonl", "testdata/compare/observations.jsonl"} {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		f.Close()
	}
	for _, l := range lines {
		checkAgree(t, []byte(l))
	}
}

func checkAgree(t *testing.T, b []byte) {
	fast, ferr := scanObservation(b)
	var slow lineObs
	serr := slowObservation(b, &slow)
	if ferr != nil || serr != nil {
		return // falls back; or lax about skipped strings
	}
	// encoding/json keeps input and output as raw bytes too.
	fast.input, fast.output, slow.input, slow.output = trim(fast.input), trim(fast.output), trim(slow.input), trim(slow.output)
	if !reflect.DeepEqual(fast, slow) {
		t.Errorf("%s:\nscanner       %+v\nencoding/json %+v", b, fast, slow)
	}
}

func trim(b []byte) []byte {
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	return b
}

func FuzzScanObservation(f *testing.F) {
	for _, l := range tricky {
		f.Add([]byte(l))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkAgree(t, b)
	})
}
