// Fluxloopview prints the observation trees stored in a fluxloop JSONL
// directory (the runtime's default storage), most recent traces last.
//
// Usage:
//
//	fluxloopview [-n 5] [-trace ID] [dir]
//
// The directory defaults to $FLUXLOOP_DIR or ./.fluxloop. Each trace is a
// tree of observations with their type, duration, inputs, outputs and
// errors:
//
//	trace 4bf92f3577b34da6a3ce929d0e0e4736 (1 root, 3 observations)
//	└─ AsyncAgent [agent] 151ms input={"query":"What is AI?"} output="Generated from ..."
//	   ├─ FetchContext [span] 50ms ...
//	   └─ GenerateResponse [generation] 100ms ...
package main

import (
	"bufio"
	"cmp"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// observation holds the fields of a FluxLoop observation this command shows.
type observation struct {
	ID               string          `json:"id"`
	TraceID          string          `json:"trace_id"`
	ParentID         string          `json:"parent_observation_id"`
	Type             string          `json:"type"`
	Name             string          `json:"name"`
	StartTime        time.Time       `json:"start_time"`
	EndTime          time.Time       `json:"end_time"`
	Input            json.RawMessage `json:"input"`
	Output           json.RawMessage `json:"output"`
	Error            string          `json:"error"`
	Model            string          `json:"model"`
	TotalTokens      int             `json:"total_tokens"`
	PromptTokens     int             `json:"prompt_tokens"`
	CompletionTokens int             `json:"completion_tokens"`
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fluxloopview", flag.ContinueOnError)
	fs.SetOutput(stderr)
	last := fs.Int("n", 5, "show the `N` most recent traces (0: all)")
	traceID := fs.String("trace", "", "show only the trace with this `ID`")
	width := fs.Int("width", 60, "cut inputs and outputs to `N` characters (0: no limit)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: fluxloopview [flags] [dir]\n\nPrints the observation trees in a fluxloop JSONL directory (default $FLUXLOOP_DIR or ./.fluxloop).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	dir := fs.Arg(0)
	if dir == "" {
		dir = cmp.Or(os.Getenv("FLUXLOOP_DIR"), ".fluxloop")
	}
	path := filepath.Join(dir, "observations.jsonl")
	obs, err := readObservations(path)
	if err != nil {
		fmt.Fprintf(stderr, "fluxloopview: %v\n", err)
		return 1
	}
	traces := groupTraces(obs)
	total := len(traces)
	if *traceID != "" {
		traces = slices.DeleteFunc(traces, func(t []*observation) bool { return t[0].TraceID != *traceID })
		if len(traces) == 0 {
			fmt.Fprintf(stderr, "fluxloopview: no trace %s in %s\n", *traceID, path)
			return 1
		}
	}
	if *last > 0 && len(traces) > *last {
		traces = traces[len(traces)-*last:]
	}
	fmt.Fprintf(stdout, "%s: %d observations in %d traces", path, len(obs), total)
	if len(traces) < total {
		fmt.Fprintf(stdout, ", showing the last %d", len(traces))
	}
	fmt.Fprintln(stdout)
	for _, t := range traces {
		printTrace(stdout, t, *width)
	}
	return 0
}

func readObservations(path string) ([]*observation, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []*observation
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 64<<20)
	for line := 1; sc.Scan(); line++ {
		if len(strings.TrimSpace(sc.Text())) == 0 {
			continue
		}
		o := new(observation)
		if err := json.Unmarshal(sc.Bytes(), o); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		out = append(out, o)
	}
	return out, sc.Err()
}

// groupTraces groups observations by trace, ordering traces by their first
// start time and observations by start time.
func groupTraces(obs []*observation) [][]*observation {
	byTrace := map[string][]*observation{}
	for _, o := range obs {
		byTrace[o.TraceID] = append(byTrace[o.TraceID], o)
	}
	var traces [][]*observation
	for _, t := range byTrace {
		slices.SortStableFunc(t, func(a, b *observation) int { return a.StartTime.Compare(b.StartTime) })
		traces = append(traces, t)
	}
	slices.SortFunc(traces, func(a, b []*observation) int { return a[0].StartTime.Compare(b[0].StartTime) })
	return traces
}

func printTrace(w io.Writer, t []*observation, width int) {
	ids := map[string]bool{}
	children := map[string][]*observation{}
	for _, o := range t {
		ids[o.ID] = true
	}
	var roots []*observation
	for _, o := range t {
		if o.ParentID == "" || !ids[o.ParentID] {
			roots = append(roots, o)
			continue
		}
		children[o.ParentID] = append(children[o.ParentID], o)
	}
	fmt.Fprintf(w, "\ntrace %s (%d %s)\n", t[0].TraceID, len(t), plural(len(t), "observation"))
	var walk func(o *observation, prefix string, last bool)
	walk = func(o *observation, prefix string, last bool) {
		branch, next := "├─ ", "│  "
		if last {
			branch, next = "└─ ", "   "
		}
		fmt.Fprintf(w, "%s%s%s\n", prefix, branch, describe(o, width))
		kids := children[o.ID]
		for i, c := range kids {
			walk(c, prefix+next, i == len(kids)-1)
		}
	}
	for i, r := range roots {
		walk(r, "", i == len(roots)-1)
	}
}

func describe(o *observation, width int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s [%s] %s", o.Name, o.Type, o.EndTime.Sub(o.StartTime).Round(time.Millisecond))
	if len(o.Input) > 0 && string(o.Input) != "null" && string(o.Input) != "{}" {
		fmt.Fprintf(&b, " input=%s", cut(string(o.Input), width))
	}
	if len(o.Output) > 0 && string(o.Output) != "null" {
		fmt.Fprintf(&b, " output=%s", cut(string(o.Output), width))
	}
	if o.Model != "" {
		fmt.Fprintf(&b, " model=%s tokens=%d+%d", o.Model, o.PromptTokens, o.CompletionTokens)
	}
	if o.Error != "" {
		fmt.Fprintf(&b, " ERROR=%q", cut(o.Error, width))
	}
	return b.String()
}

func cut(s string, width int) string {
	if width <= 0 || len(s) <= width {
		return s
	}
	return s[:width] + "…"
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
