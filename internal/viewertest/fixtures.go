package viewertest

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// obs is one observation line as the runtime's file storage writes it.
type obs struct {
	ID               string         `json:"id"`
	TraceID          string         `json:"trace_id"`
	Parent           string         `json:"parent_observation_id,omitempty"`
	Type             string         `json:"type"`
	Name             string         `json:"name"`
	Start            time.Time      `json:"start_time"`
	End              time.Time      `json:"end_time"`
	Input            any            `json:"input,omitempty"`
	Output           any            `json:"output,omitempty"`
	Error            string         `json:"error,omitempty"`
	Level            string         `json:"level"`
	StatusMessage    string         `json:"status_message,omitempty"`
	Metadata         map[string]any `json:"metadata,omitempty"`
	Model            string         `json:"model,omitempty"`
	PromptTokens     int            `json:"prompt_tokens,omitempty"`
	CompletionTokens int            `json:"completion_tokens,omitempty"`
	TotalTokens      int            `json:"total_tokens,omitempty"`
}

// trace is one line of traces.jsonl.
type trace struct {
	ID     string    `json:"id"`
	Name   string    `json:"name"`
	Start  time.Time `json:"start_time"`
	End    time.Time `json:"end_time"`
	Input  any       `json:"input,omitempty"`
	Output any       `json:"output,omitempty"`
	Error  string    `json:"error,omitempty"`
}

// run is one trace's lines, written in the order the runtime writes them:
// every observation when it ends (children before their parent), then the
// trace line right after the root's.
type run struct {
	trace trace
	obs   []obs
}

// traceID and obsID are fixed ids that look like the runtime's random ones.
func traceID(n int) string {
	h := sha256.Sum256(fmt.Appendf(nil, "trace %d", n))
	return hex.EncodeToString(h[:16])
}

func obsID(t, n int) string {
	h := sha256.Sum256(fmt.Appendf(nil, "observation %d %d", t, n))
	return hex.EncodeToString(h[:8])
}

func ms(n float64) time.Duration { return time.Duration(n * float64(time.Millisecond)) }

// builder makes the observations of one run relative to its start.
type builder struct {
	t     int
	base  time.Time
	next  int
	lines []*obs
}

func newBuilder(t int, base time.Time) *builder { return &builder{t: t, base: base} }

// add appends an observation from start to end (milliseconds after the
// run's start) under parent ("" for the root) and returns it for more
// fields.
func (b *builder) add(parent, typ, name string, start, end float64) *obs {
	b.next++
	o := obs{
		ID: obsID(b.t, b.next), TraceID: traceID(b.t), Parent: parent, Type: typ, Name: name,
		Start: b.base.Add(ms(start)), End: b.base.Add(ms(end)), Level: "info",
		Metadata: map[string]any{"code.filepath": "/src/app/main.go", "code.lineno": 10 + b.next},
	}
	b.lines = append(b.lines, &o)
	return &o
}

// run returns the run with the observations ordered by end time, as the
// runtime writes them, and the trace line of the root.
func (b *builder) run() run {
	lines := make([]obs, len(b.lines))
	for i, o := range b.lines {
		lines[i] = *o
	}
	// insertion sort by end: fixtures are small
	for i := 1; i < len(lines); i++ {
		for j := i; j > 0 && lines[j].End.Before(lines[j-1].End); j-- {
			lines[j], lines[j-1] = lines[j-1], lines[j]
		}
	}
	root := *b.lines[0]
	return run{
		trace: trace{ID: root.TraceID, Name: root.Name, Start: root.Start, End: root.End, Input: root.Input, Output: root.Output, Error: root.Error},
		obs:   lines,
	}
}

// The fixture traces. Their ids are fixed so that tests can name them.
var (
	chainA   = 1 // a chain with an OpenAI generation (conversation view)
	chainB   = 2 // the same chain, slower, more tokens, an error: compared with chainA
	gather   = 3 // two concurrent children (overlap), an error and a panic
	claude   = 4 // Anthropic and Gemini generations, a stream
	liveRun  = 5 // appended while the page is open
	bigTrace = 6 // 50,000 observations
)

// Ids of observations the tests select; see the builders below.
var (
	chainAGen     = obsID(chainA, 3)
	gatherAPI1    = obsID(gather, 2)
	gatherAPI2    = obsID(gather, 3)
	gatherFail    = obsID(gather, 4)
	gatherPanic   = obsID(gather, 5)
	claudeGen     = obsID(claude, 2)
	claudeStream  = obsID(claude, 4)
	liveRoot      = obsID(liveRun, 1)
	liveChild     = obsID(liveRun, 2)
	liveGrandkid  = obsID(liveRun, 3)
	bigTraceRoot  = obsID(bigTrace, 1)
	panicTraceStr = "goroutine 7 [running]:\nmain.Explode({0x0, 0x0})\n\t/src/app/main.go:88 +0x45\nmain.ParallelAgent.func1()\n\t/src/app/main.go:61 +0x2c\nruntime.goexit()\n\t/usr/local/go/src/runtime/asm_amd64.s:1700 +0x1\n"
)

func chainRun(t int, base time.Time, slow bool) run {
	b := newBuilder(t, base)
	total, genEnd := 150.0, 150.0
	in, out := 120, 30
	if slow {
		total, genEnd, in, out = 420, 420, 210, 64
	}
	root := b.add("", "agent", "AsyncAgent", 0, total)
	root.Input = map[string]any{"query": "What is Go?"}
	root.Output = "Go is a programming language."
	fetch := b.add(root.ID, "span", "FetchContext", 0.2, 50)
	fetch.Input = map[string]any{"query": "What is Go?"}
	fetch.Output = "Context for: What is Go?"
	if slow {
		fetch.Error = "context deadline exceeded"
		fetch.Level = "error"
		fetch.Metadata["error_type"] = "context.deadlineExceededError"
		fetch.Output = nil
	}
	gen := b.add(root.ID, "generation", "ChatCompletion", 50.5, genEnd)
	gen.Model = "gpt-4o-mini"
	gen.PromptTokens, gen.CompletionTokens, gen.TotalTokens = in, out, in+out
	gen.Input = map[string]any{
		"model": "gpt-4o-mini",
		"messages": []any{
			map[string]any{"role": "system", "content": "You are a concise assistant. Answer in one sentence."},
			map[string]any{"role": "user", "content": "What is Go?"},
			map[string]any{"role": "assistant", "content": nil, "tool_calls": []any{
				map[string]any{"id": "call_1", "type": "function", "function": map[string]any{"name": "search_docs", "arguments": `{"query":"Go language"}`}},
			}},
			map[string]any{"role": "tool", "tool_call_id": "call_1", "content": "Go is an open source programming language supported by Google."},
		},
		"tools":       []any{map[string]any{"type": "function", "function": map[string]any{"name": "search_docs", "parameters": map[string]any{"type": "object"}}}},
		"temperature": 0.2,
		"stream":      true,
	}
	if slow {
		// a long history: the conversation view collapses its middle
		msgs := gen.Input.(map[string]any)["messages"].([]any)
		var history []any
		for i := range 10 {
			history = append(history,
				map[string]any{"role": "user", "content": fmt.Sprintf("Earlier question %d", i)},
				map[string]any{"role": "assistant", "content": fmt.Sprintf("Earlier answer %d", i)})
		}
		gen.Input.(map[string]any)["messages"] = append(append(msgs[:1:1], history...), msgs[1:]...)
	}
	gen.Output = map[string]any{
		"role":          "assistant",
		"content":       "Go is an open source programming language designed at Google.",
		"reasoning":     "The tool result says Go is by Google; keep it to one sentence.",
		"finish_reason": "stop",
	}
	for k, v := range map[string]any{
		"gen_ai.provider.name": "openai", "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini",
		"gen_ai.response.model": "gpt-4o-mini-2024-07-18", "gen_ai.usage.input_tokens": in, "gen_ai.usage.output_tokens": out,
		"gen_ai.response.time_to_first_chunk": 0.032, "fluxloop.llm.stream": true, "fluxloop.llm.cost_usd": 0.000036,
	} {
		gen.Metadata[k] = v
	}
	return b.run()
}

func gatherRun(base time.Time) run {
	b := newBuilder(gather, base)
	root := b.add("", "agent", "ParallelAgent", 0, 112)
	root.Input = map[string]any{"query": "test"}
	root.Output = "API1: test | API2: test"
	a1 := b.add(root.ID, "span", "CallAPI1", 1, 101)
	a1.Input, a1.Output = map[string]any{"query": "test"}, "API1: test"
	a2 := b.add(root.ID, "tool", "CallAPI2", 1.5, 103)
	a2.Input, a2.Output = map[string]any{"query": "test"}, "API2: test"
	v := b.add(root.ID, "span", "Validate", 104, 106)
	v.Error, v.Level = "invalid answer: empty", "error"
	v.Metadata["error_type"] = "*errors.errorString"
	p := b.add(root.ID, "span", "Explode", 106.5, 110)
	p.Error, p.Level = "boom", "error"
	p.Metadata["error_type"] = "string"
	p.Metadata["traceback"] = panicTraceStr
	return b.run()
}

func claudeRun(base time.Time) run {
	b := newBuilder(claude, base)
	root := b.add("", "agent", "Researcher", 0, 1200)
	root.Input = map[string]any{"topic": "tracing"}
	root.Output = "Tracing records each step a request takes, with its timing."
	g := b.add(root.ID, "generation", "anthropic.messages", 5, 400)
	g.Model = "claude-sonnet-4-5"
	g.PromptTokens, g.CompletionTokens, g.TotalTokens = 300, 80, 380
	g.Input = map[string]any{
		"model":  "claude-sonnet-4-5",
		"system": []any{map[string]any{"type": "text", "text": "You research topics and cite sources."}},
		"messages": []any{
			map[string]any{"role": "user", "content": "Explain tracing in one line."},
			map[string]any{"role": "assistant", "content": []any{
				map[string]any{"type": "thinking", "thinking": "I should look it up first."},
				map[string]any{"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": map[string]any{"term": "tracing"}},
			}},
			map[string]any{"role": "user", "content": []any{
				map[string]any{"type": "tool_result", "tool_use_id": "toolu_1", "content": "Tracing records the path of a request."},
			}},
		},
		"max_tokens": 512,
	}
	g.Output = map[string]any{"role": "assistant", "content": "Tracing records each step a request takes, with its timing.", "finish_reason": "end_turn"}
	g.Metadata["gen_ai.provider.name"] = "anthropic"
	g.Metadata["gen_ai.response.time_to_first_chunk"] = 0.21
	gm := b.add(root.ID, "generation", "gemini.generateContent", 760, 1000)
	gm.Model = "gemini-2.5-flash"
	gm.PromptTokens, gm.CompletionTokens, gm.TotalTokens = 90, 20, 110
	gm.Input = map[string]any{
		"systemInstruction": map[string]any{"parts": []any{map[string]any{"text": "Be brief."}}},
		"contents": []any{
			map[string]any{"role": "user", "parts": []any{map[string]any{"text": "Summarize."}}},
			map[string]any{"role": "model", "parts": []any{map[string]any{"functionCall": map[string]any{"name": "fetch", "args": map[string]any{"url": "https://example.com"}}}}},
			map[string]any{"role": "user", "parts": []any{map[string]any{"functionResponse": map[string]any{"name": "fetch", "response": map[string]any{"body": "ok"}}}}},
		},
	}
	gm.Output = map[string]any{"role": "model", "content": "Done.", "finish_reason": "STOP"}
	s := b.add(root.ID, "span", "StreamTokens", 1010, 1190)
	s.Output = []any{"Tracing ", "records ", "each step"}
	s.Metadata["stream_items"] = 3
	s.Metadata["fluxloop.stream.first_item_time"] = base.Add(ms(1045)).Format(time.RFC3339Nano)
	// two searches at once (a gather), with their own steps
	web := b.add(root.ID, "tool", "search_web", 410, 700)
	web.Input, web.Output = map[string]any{"query": "what is tracing"}, []any{"https://example.com/tracing"}
	get := b.add(web.ID, "span", "http.GET", 420, 650)
	get.Input = map[string]any{"url": "https://example.com/search?q=tracing"}
	docs := b.add(root.ID, "tool", "search_docs", 412, 560)
	docs.Input, docs.Output = map[string]any{"query": "what is tracing"}, []any{"doc-17", "doc-4"}
	emb := b.add(docs.ID, "generation", "embeddings", 415, 470)
	emb.Model, emb.PromptTokens, emb.TotalTokens = "text-embedding-3-small", 40, 40
	vq := b.add(docs.ID, "span", "vector.query", 475, 555)
	vq.Input = map[string]any{"k": 5}
	rr := b.add(root.ID, "span", "rerank", 705, 750)
	rr.Error, rr.Level = "rerank: deadline exceeded after 40ms", "error"
	rr.Metadata["error_type"] = "context.deadlineExceededError"
	return b.run()
}

// bigRun makes a trace of n observations: a root, 50 agents, steps under
// them and leaves under the steps, the siblings of each level overlapping
// in time, with one error in every 997.
func bigRun(base time.Time, n int) run {
	b := newBuilder(bigTrace, base)
	b.lines = make([]*obs, 0, n)
	root := b.add("", "agent", "BigAgent", 0, 60000)
	for b.next < n {
		a := b.add(root.ID, "agent", fmt.Sprintf("worker-%d", b.next), float64(b.next%600), float64(b.next%600)+30000)
		aid := a.ID
		for s := 0; s < 20 && b.next < n; s++ {
			st := float64(b.next%600) + float64(s)*1000
			step := b.add(aid, "span", fmt.Sprintf("step-%d", s), st, st+900)
			sid := step.ID
			for l := 0; l < 48 && b.next < n; l++ {
				ls := st + float64(l)*18
				leaf := b.add(sid, []string{"tool", "span", "generation", "event"}[l%4], fmt.Sprintf("leaf-%d-%d", s, l), ls, ls+15)
				if b.next%997 == 0 {
					leaf.Error, leaf.Level = "leaf failed", "error"
				}
			}
		}
	}
	lines := make([]obs, len(b.lines))
	for i, o := range b.lines {
		lines[i] = *o
		lines[i].Metadata = nil // keep the file small
	}
	// The root last, as the runtime writes it; the order of the rest does
	// not matter to a reader.
	lines = append(lines[1:], lines[0])
	return run{trace: trace{ID: root.TraceID, Name: root.Name, Start: root.Start, End: root.End}, obs: lines}
}

// fixtureRuns are the runs of the main fixture, oldest first, starting a
// few minutes ago.
func fixtureRuns(now time.Time) []run {
	base := now.Add(-10 * time.Minute)
	return []run{
		chainRun(chainA, base, false),
		chainRun(chainB, base.Add(time.Minute), true),
		gatherRun(base.Add(2 * time.Minute)),
		claudeRun(base.Add(3 * time.Minute)),
	}
}

// writeRuns appends the runs' lines to dir's observations.jsonl and
// traces.jsonl; with traces false only the observations are written.
func writeRuns(dir string, runs []run, traces bool) error {
	of, err := os.OpenFile(filepath.Join(dir, "observations.jsonl"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer of.Close()
	tf, err := os.OpenFile(filepath.Join(dir, "traces.jsonl"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer tf.Close()
	ow := bufio.NewWriterSize(of, 1<<20)
	oe := json.NewEncoder(ow)
	for _, r := range runs {
		for i := range r.obs {
			if err := oe.Encode(&r.obs[i]); err != nil {
				return err
			}
		}
		if traces {
			// flush observations first: the trace line follows its root's
			if err := ow.Flush(); err != nil {
				return err
			}
			if err := json.NewEncoder(tf).Encode(&r.trace); err != nil {
				return err
			}
		}
	}
	return ow.Flush()
}

// writeObs appends single observation lines (for live tests).
func writeObs(dir string, lines ...obs) error {
	return writeRuns(dir, []run{{obs: lines}}, false)
}

// writeTrace appends a trace line.
func writeTrace(dir string, t trace) error {
	f, err := os.OpenFile(filepath.Join(dir, "traces.jsonl"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	return json.NewEncoder(f).Encode(&t)
}
