package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/fluxloop/fluxloop-go/internal/viewer"
	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"github.com/fluxloop/fluxloop-go/runtime/tracefile"
)

// Export formats.
const (
	FormatJSONL    = "jsonl"
	FormatMarkdown = "md"
)

// Export writes the trace ref names: its lines as JSONL (observations by
// start time, then the trace line, each tagged with its kind as the stdout
// storage tags them, so fluxloop reads the file back), or its conversation
// as Markdown.
func Export(e *Env, src tracefile.Source, ref, format string) error {
	if format != FormatJSONL && format != FormatMarkdown {
		return fmt.Errorf("unknown format %q: want jsonl or md", format)
	}
	ix, err := e.load(src)
	if err != nil {
		return err
	}
	id, err := resolve(ix, ref)
	if err != nil {
		return err
	}
	if format == FormatJSONL {
		lines, err := ix.Lines(id)
		if err != nil {
			return err
		}
		var b bytes.Buffer
		for _, l := range lines {
			b.Write(tracefile.Tag(l.JSON, l.Kind))
			b.WriteByte('\n')
		}
		_, err = e.Stdout.Write(b.Bytes())
		return err
	}
	return e.markdown(e.Stdout, ix, id)
}

// markdown writes a trace's conversation: the generations' messages and
// replies, the tools' calls and results, in start order. A generation's
// messages that the previous generation already showed are not repeated.
func (e *Env) markdown(w io.Writer, ix *viewer.Index, id string) error {
	s, _, err := ix.Trace(id)
	if err != nil {
		return err
	}
	obs, err := ix.Observations(id)
	if err != nil {
		return err
	}
	var root *fluxloop.Observation
	for _, o := range obs {
		if o.ParentObservationID == "" {
			root = o
			break
		}
	}
	var b strings.Builder
	title := s.Name
	if s.InProgress {
		title = "Trace in progress"
	}
	fmt.Fprintf(&b, "# %s\n\n", mdEscape(title))
	fmt.Fprintf(&b, "Trace `%s`, started %s, ", s.ID, s.StartTime.In(e.loc()).Format("2006-01-02 15:04:05 MST"))
	if s.InProgress {
		fmt.Fprintf(&b, "in progress (%s so far)", Duration(durationMS(s.DurationMS)))
	} else {
		b.WriteString(Duration(durationMS(s.DurationMS)))
	}
	fmt.Fprintf(&b, "; %s", Count(s.Observations, "observation", "observations"))
	if s.Errors > 0 {
		fmt.Fprintf(&b, ", %s", Count(s.Errors, "error", "errors"))
	}
	if s.TotalTokens > 0 {
		fmt.Fprintf(&b, ", %s (%d in, %d out)", Count(s.TotalTokens, "token", "tokens"), s.PromptTokens, s.CompletionTokens)
	}
	if s.CostUSD != nil {
		fmt.Fprintf(&b, ", %s", Cost(*s.CostUSD))
	}
	b.WriteString(".\n\n")
	if root != nil && hasJSON(root.Input) {
		b.WriteString("**Input**\n\n")
		writeValue(&b, root.Input)
	}

	var prev []message // the last generation's input messages
	var prevReply *message
	for _, o := range obs {
		switch o.Type {
		case fluxloop.TypeGeneration:
			fmt.Fprintf(&b, "## %s\n\n", mdEscape(o.Name))
			var facts []string
			if o.Model != "" {
				facts = append(facts, o.Model)
			}
			if o.PromptTokens+o.CompletionTokens > 0 {
				facts = append(facts, fmt.Sprintf("%d+%d tokens", o.PromptTokens, o.CompletionTokens))
			}
			facts = append(facts, Duration(o.EndTime.Sub(o.StartTime)))
			if c, ok := metaNumber(o.Metadata, "fluxloop.llm.cost_usd"); ok {
				facts = append(facts, Cost(c))
			}
			fmt.Fprintf(&b, "*%s*\n\n", strings.Join(facts, " · "))
			msgs, ok := inputMessages(o.Input)
			if !ok {
				if hasJSON(o.Input) {
					b.WriteString("**Input**\n\n")
					writeValue(&b, o.Input)
				}
				prev, prevReply = nil, nil
			} else {
				shown := msgs
				if k := commonPrefix(prev, msgs); k > 0 {
					shown = msgs[k:]
					if len(shown) > 0 && prevReply != nil && shown[0].sameText(*prevReply) {
						shown, k = shown[1:], k+1
					}
					fmt.Fprintf(&b, "*(%s shown above)*\n\n", Count(k, "earlier message", "earlier messages"))
				}
				for _, m := range shown {
					m.write(&b)
				}
				prev = msgs
			}
			prevReply = nil
			if reply, ok := outputMessage(o.Output); ok {
				reply.write(&b)
				prevReply = &reply
			} else if hasJSON(o.Output) {
				b.WriteString("### output\n\n")
				writeValue(&b, o.Output)
			}
			writeError(&b, o)
		case fluxloop.TypeTool:
			fmt.Fprintf(&b, "## Tool `%s`\n\n", strings.ReplaceAll(o.Name, "`", "'"))
			fmt.Fprintf(&b, "*%s*\n\n", Duration(o.EndTime.Sub(o.StartTime)))
			if hasJSON(o.Input) {
				b.WriteString("**Call**\n\n")
				writeValue(&b, o.Input)
			}
			if hasJSON(o.Output) {
				b.WriteString("**Result**\n\n")
				writeValue(&b, o.Output)
			}
			writeError(&b, o)
		}
	}
	if root != nil && (hasJSON(root.Output) || root.Error != "") {
		b.WriteString("## Result\n\n")
		if hasJSON(root.Output) {
			writeValue(&b, root.Output)
		}
		writeError(&b, root)
	}
	_, err = io.WriteString(w, strings.TrimRight(b.String(), "\n")+"\n")
	return err
}

func hasJSON(b json.RawMessage) bool {
	t := strings.TrimSpace(string(b))
	return t != "" && t != "null" && t != "{}"
}

func writeError(b *strings.Builder, o *fluxloop.Observation) {
	if o.Error == "" {
		return
	}
	label := "Error"
	if o.StatusMessage == "panic" {
		label = "Panic"
	}
	fmt.Fprintf(b, "> **%s:** %s\n\n", label, strings.ReplaceAll(o.Error, "\n", "\n> "))
}

// writeValue writes a JSON value: a string as text, anything else as an
// indented JSON block.
func writeValue(b *strings.Builder, raw json.RawMessage) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		b.WriteString(s)
		b.WriteString("\n\n")
		return
	}
	var out bytes.Buffer
	if json.Indent(&out, raw, "", "  ") != nil {
		out.Reset()
		out.Write(raw)
	}
	fence := "```"
	for strings.Contains(out.String(), fence) {
		fence += "`"
	}
	fmt.Fprintf(b, "%sjson\n%s\n%s\n\n", fence, out.String(), fence)
}

func mdEscape(s string) string {
	return strings.NewReplacer("\n", " ", "*", `\*`, "_", `\_`, "`", "\\`", "#", `\#`).Replace(s)
}
