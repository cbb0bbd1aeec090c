package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/fluxloop/fluxloop-go/internal/viewer"
	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"github.com/fluxloop/fluxloop-go/runtime/tracefile"
)

// TreeOptions are fluxloop tree's.
type TreeOptions struct {
	// Verbose shows inputs, outputs, source positions and panics' stacks.
	Verbose bool
	// Width cuts values and messages to this many characters (0: no
	// limit).
	Width int
}

// Tree prints the observation tree of the trace ref names (an id, a unique
// prefix, or "last").
func Tree(e *Env, src tracefile.Source, ref string, opts TreeOptions) error {
	ix, err := e.load(src)
	if err != nil {
		return err
	}
	id, err := resolve(ix, ref)
	if err != nil {
		return err
	}
	return e.printTree(e.Stdout, ix, id, opts)
}

// Metadata keys of streams: the runtime's, and the fluxloop.stream.* names.
var (
	streamItemsKeys = []string{"fluxloop.stream.items", "stream_items"}
	firstItemKeys   = []string{"fluxloop.stream.first_item_ms", "first_item_ms"}
	abandonedKeys   = []string{"fluxloop.stream.abandoned", "stream_abandoned"}
)

func metaNumber(md map[string]any, keys ...string) (float64, bool) {
	for _, k := range keys {
		if v, ok := md[k].(float64); ok {
			return v, true
		}
	}
	return 0, false
}

func metaBool(md map[string]any, keys ...string) bool {
	for _, k := range keys {
		if v, ok := md[k].(bool); ok && v {
			return true
		}
	}
	return false
}

func (e *Env) printTree(w io.Writer, ix *viewer.Index, id string, opts TreeOptions) error {
	sum, nodes, err := ix.Trace(id)
	if err != nil {
		return err
	}
	obs, err := ix.Observations(id)
	if err != nil {
		return err
	}
	full := make(map[string]*fluxloop.Observation, len(obs))
	for _, o := range obs {
		full[o.ID] = o
	}
	e.traceHeader(w, sum, nodes)

	ids := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		ids[n.ID] = true
	}
	kids := map[string][]int{}
	var roots []int
	for i, n := range nodes {
		if n.ParentID == "" || !ids[n.ParentID] {
			roots = append(roots, i)
		} else {
			kids[n.ParentID] = append(kids[n.ParentID], i)
		}
	}
	var walk func(i int, prefix string, last bool)
	walk = func(i int, prefix string, last bool) {
		n := nodes[i]
		branch, next := "├─ ", "│  "
		if last {
			branch, next = "└─ ", "   "
		}
		fmt.Fprintf(w, "%s%s\n", e.paint(prefix+branch, dim), e.describe(n, full[n.ID], opts))
		if opts.Verbose {
			detail := prefix + next
			if len(kids[n.ID]) > 0 {
				detail += "│ "
			} else {
				detail += "  "
			}
			e.details(w, detail, full[n.ID], opts)
		}
		for j, k := range kids[n.ID] {
			walk(k, prefix+next, j == len(kids[n.ID])-1)
		}
	}
	for j, r := range roots {
		walk(r, "", j == len(roots)-1)
	}
	return nil
}

func (e *Env) traceHeader(w io.Writer, s viewer.Summary, nodes []viewer.Node) {
	name := s.Name
	if s.InProgress {
		name = "(in progress)"
	}
	fmt.Fprintf(w, "%s  %s\n", e.paint(name, bold), e.paint("trace "+s.ID, cyan))
	var parts []string
	start := s.StartTime.In(e.loc()).Format("2006-01-02 15:04:05.000 MST")
	d := Duration(durationMS(s.DurationMS))
	if s.InProgress {
		running := 0
		for _, n := range nodes {
			if n.Running {
				running++
			}
		}
		parts = append(parts, fmt.Sprintf("started %s, running for %s so far", start, d),
			Count(s.Observations, "observation", "observations")+" written", fmt.Sprintf("%d still running", running))
	} else {
		parts = append(parts, fmt.Sprintf("started %s, took %s", start, d), Count(s.Observations, "observation", "observations"))
	}
	if s.Errors > 0 {
		parts = append(parts, e.paint(Count(s.Errors, "error", "errors"), red))
	}
	if s.TotalTokens > 0 {
		parts = append(parts, fmt.Sprintf("%s (%d in, %d out)", Count(s.TotalTokens, "token", "tokens"), s.PromptTokens, s.CompletionTokens))
	}
	if s.CostUSD != nil {
		parts = append(parts, Cost(*s.CostUSD))
	}
	fmt.Fprintln(w, strings.Join(parts, ", "))
}

// describe is a node's line: name, type, duration, and what stands out.
func (e *Env) describe(n viewer.Node, o *fluxloop.Observation, opts TreeOptions) string {
	if n.Running {
		return e.paint(fmt.Sprintf("(running) %s so far", Duration(durationMS(n.DurationMS))), yellow)
	}
	var b strings.Builder
	b.WriteString(n.Name)
	b.WriteString(" ")
	b.WriteString(e.paint("["+n.Type+"]", dim))
	b.WriteString(" ")
	b.WriteString(e.paint(Duration(durationMS(n.DurationMS)), yellow))
	if n.Model != "" || n.PromptTokens+n.CompletionTokens > 0 {
		b.WriteString("  ")
		if n.Model != "" {
			b.WriteString(e.paint(n.Model, green) + " ")
		}
		fmt.Fprintf(&b, "%d+%d tokens", n.PromptTokens, n.CompletionTokens)
	}
	var md map[string]any
	if o != nil {
		md = o.Metadata
	}
	if c, ok := metaNumber(md, "fluxloop.llm.cost_usd"); ok {
		b.WriteString("  " + Cost(c))
	}
	if items, ok := metaNumber(md, streamItemsKeys...); ok {
		fmt.Fprintf(&b, "  stream: %s", Count(int(items), "item", "items"))
		if first, ok := metaNumber(md, firstItemKeys...); ok {
			fmt.Fprintf(&b, ", first after %s", Duration(durationMS(first)))
		}
		if metaBool(md, abandonedKeys...) {
			b.WriteString(e.paint(", abandoned", yellow))
		}
	} else if metaBool(md, "fluxloop.llm.stream") {
		b.WriteString("  streamed")
		if first, ok := metaNumber(md, "fluxloop.llm.time_to_first_content", "gen_ai.response.time_to_first_chunk"); ok {
			fmt.Fprintf(&b, ", first token after %s", Duration(time.Duration(first*float64(time.Second))))
		}
	}
	msgWidth := opts.Width
	if !opts.Verbose {
		msgWidth = 100
	}
	switch {
	case n.Error != "":
		label := "error"
		if n.StatusMessage == "panic" {
			label = "panic"
		}
		b.WriteString("  " + e.paint(label+": "+oneLine(cut(n.Error, msgWidth)), red))
	case n.Level == string(fluxloop.LevelError):
		b.WriteString("  " + e.paint("error", red))
	}
	if n.StatusMessage != "" && n.StatusMessage != "panic" {
		b.WriteString("  " + e.paint("("+oneLine(cut(n.StatusMessage, msgWidth))+")", dim))
	}
	return b.String()
}

func oneLine(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r", ""), "\n", "⏎")
}

// details are a node's input, output, position and stack, for -v.
func (e *Env) details(w io.Writer, prefix string, o *fluxloop.Observation, opts TreeOptions) {
	if o == nil {
		return
	}
	line := func(label, value string) {
		fmt.Fprintln(w, strings.TrimRight(fmt.Sprintf("%s%s %s", e.paint(prefix, dim), e.paint(label, dim), value), " "))
	}
	if len(o.Input) > 0 && string(o.Input) != "null" {
		line("input: ", oneLine(cut(string(o.Input), opts.Width)))
	}
	if len(o.Output) > 0 && string(o.Output) != "null" {
		line("output:", oneLine(cut(string(o.Output), opts.Width)))
	}
	if file, ok := o.Metadata["code.filepath"].(string); ok {
		if wd, err := os.Getwd(); err == nil {
			if rel, err := filepath.Rel(wd, file); err == nil && !strings.HasPrefix(rel, "..") {
				file = rel
			}
		}
		pos := file
		if l, ok := o.Metadata["code.lineno"].(float64); ok {
			pos += ":" + strconv.Itoa(int(l))
		}
		line("at:    ", pos)
	}
	if t, ok := o.Metadata["error_type"].(string); ok {
		line("type:  ", t)
	}
	if tb, ok := o.Metadata["traceback"].(string); ok {
		line("stack: ", "")
		for _, l := range strings.Split(strings.TrimRight(tb, "\n"), "\n") {
			fmt.Fprintf(w, "%s  %s\n", e.paint(prefix, dim), e.paint(l, dim))
		}
	}
}
