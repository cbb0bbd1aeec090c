package viewer

import (
	"testing"
	"time"
)

func TestNodeJSON(t *testing.T) {
	end := time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC)
	for _, n := range []Node{
		{},
		{ID: "a", ParentID: "b", Type: "tool", Name: "q\"uote\\ <tag> & \n\r\t\b\f\x01\x1f é 😀 \u2028\u2029 \xff bad", StartTime: end.Add(-time.Second),
			EndTime: &end, DurationMS: 1000.123, Level: "error", Error: "boom", StatusMessage: "panic", Model: "m", PromptTokens: 3, CompletionTokens: 4,
			HasInput: true, HasOutput: true},
		{ID: "r", StartTime: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), DurationMS: 0.001, Running: true},
		{DurationMS: 123456789.5},
	} {
		want, err := marshal(n)
		if err != nil {
			t.Fatal(err)
		}
		if got := n.appendJSON(nil); string(got) != string(want) {
			t.Errorf("appendJSON:\n%s\nencoding/json:\n%s", got, want)
		}
	}
}

func FuzzNodeJSON(f *testing.F) {
	f.Add("name", "err", 1.5)
	f.Fuzz(func(t *testing.T, name, msg string, d float64) {
		if d < 0 || d > 1e20 || d != d {
			return
		}
		n := Node{Name: name, Error: msg, DurationMS: d}
		want, _ := marshal(n)
		if got := n.appendJSON(nil); string(got) != string(want) {
			t.Errorf("appendJSON:\n%s\nencoding/json:\n%s", got, want)
		}
	})
}
