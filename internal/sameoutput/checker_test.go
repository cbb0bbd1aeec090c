package sameoutput

import (
	"strings"
	"testing"
)

// TestWant checks the expectations checker on a hand-written file: the
// checks that must pass pass, and those that must fail fail with the
// expected message (a missing observation says MISSING).
func TestWant(t *testing.T) {
	const file = `{"id":"01","trace_id":"t","type":"agent","name":"run","start_time":"2026-01-01T00:00:00Z","end_time":"2026-01-01T00:00:01Z","input":{"q":"hi"},"level":"info"}
{"id":"02","trace_id":"t","parent_observation_id":"01","type":"span","name":"step","start_time":"2026-01-01T00:00:00.5Z","end_time":"2026-01-01T00:00:00.6Z","input":{"n":2},"output":["a", 1],"level":"info"}
{"id":"03","trace_id":"t","parent_observation_id":"02","type":"span","name":"step","start_time":"2026-01-01T00:00:00.55Z","end_time":"2026-01-01T00:00:00.56Z","input":{"n":3},"error":"not found","level":"error","metadata":{"code.lineno":12}}
`
	pass := []string{
		"run parent none",
		"run input.q contains hi",
		`run input = {"q": "hi"}`,
		"run output absent",
		"run count 1",
		"missing count 0",
		"step count 2",
		"step#1 parent run",
		"step#2 parent step",
		"step#last input.n = 3",
		"step#deepest input.n = 3",
		"step#1 output contains \"a\"",
		"step#1 output not-contains b",
		"step#2 error contains not found",
		"step#2 metadata.code.lineno = 12",
		"step#2 output absent",
		"step#2 input.other absent",
		"step type = \"span\"",
		"file contains not found",
		"file not-contains hunter2",
	}
	fail := map[string]string{
		"nosuch input contains x":        "MISSING: no observation named \"nosuch\" (recorded: run×1, step×2)",
		"step#3 input present":           "MISSING: only 2",
		"step input.n = 2":               "input.n is 3, want 2",
		"run output contains x":          "MISSING: the observation has no output",
		"run output not-contains x":      "MISSING: the observation has no output",
		"run input.nope contains x":      "no input.nope (input has keys [q])",
		"step parent run":                "observation 03 (line 3 of observations.jsonl): its parent is \"step\", want \"run\"",
		"step#2 parent run":              "its parent is \"step\", want \"run\"",
		"step#1 parent none":             "want a root",
		"step#2 error contains found it": "does not contain",
		"step#1 output not-contains a":   "contains \"a\"",
		"step count 3":                   "2 observations named \"step\", want 3",
		"file not-contains lineno":       "observations.jsonl contains it",
		"file contains hunter2":          "does not contain it",
	}
	for _, l := range pass {
		checks, err := parseWant([]byte(l))
		if err != nil {
			t.Errorf("%s: %v", l, err)
			continue
		}
		if fails := checkAll(checks, []byte(file)); len(fails) != 0 {
			t.Errorf("%s: failed: %v", l, fails)
		}
	}
	for l, want := range fail {
		checks, err := parseWant([]byte(l))
		if err != nil {
			t.Errorf("%s: %v", l, err)
			continue
		}
		fails := checkAll(checks, []byte(file))
		if len(fails) != 1 || !strings.Contains(fails[0], want) {
			t.Errorf("%s: got %q, want a failure containing %q", l, fails, want)
		}
	}
	for _, bad := range []string{"x", "x input", "x input contains", "x input absent y", "x count n", "x#0 input present", "file has x", "x input equals y"} {
		if _, err := parseWant([]byte(bad)); err == nil {
			t.Errorf("%q parsed; want an error", bad)
		}
	}
}
