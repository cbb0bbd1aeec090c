package fluxloopllm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
	"unsafe"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
)

// call is the state of one recorded LLM call, from the request to the end
// of the response body. It is used by one reader at a time (body's mutex).
type call struct {
	t       *transport
	span    *fluxloop.Span
	ctx     context.Context
	r       route
	info    reqInfo
	key     retryKey
	attempt int
	start   time.Time

	inputs   bool // inputs are captured
	keepText bool // reply text is kept for the output
	limit    int  // capture budget (MaxFieldBytes)
	left     int  // of it, still free for reply text

	status     int
	mode       uint8
	stream     bool
	remembered bool
	sse        sseParser
	arr        arrayParser
	doc        docBuf

	ttfc, ttft time.Duration

	id, model    string
	choices      []*choice
	moreChoices  int
	u            usage
	au           anthropicUsageAcc
	err          *APIError
	complete     bool
	sawFinish    bool
	respStatus   string // Responses: status of the response
	incomplete   string // Responses: incomplete_details.reason
	embeddings   int
	dims         int
	scratch      []byte
	opaque       string // why the body was not read
	prefix       []byte // Chat Completions: the members before choices in the last full chunk
	doc0         []byte // the chunk being read in full
	tpl          template
	rec          appendRecord
	reasoningSep bool // Responses: a new summary part starts
}

const (
	modeJSON uint8 = iota
	modeSSE
	modeArray
	modeOpaque
)

const (
	maxChoices   = 16
	maxToolCalls = 128
)

// usage holds token counts as the conventions define them: input includes
// tokens read from and written to a cache; output includes reasoning.
type usage struct {
	has                                  bool
	input, output                        int64
	cacheRead, cacheWrite, reasoning     int64
	hasCacheRead, hasCacheWrite, hasReas bool
}

type choice struct {
	index                    int
	role                     string
	text, reasoning, refusal textBuf
	tools                    []*toolCall
	moreTools                int
	finish                   string
}

type toolCall struct {
	key      int
	id, name string
	typ      string
	args     textBuf
	argsRaw  bool // args is a JSON value given whole (Anthropic input, Gemini args)
}

// textBuf is reply text kept up to the call's budget, the rest counted.
type textBuf struct {
	b       []byte
	dropped int
}

func (tb *textBuf) String() string {
	if tb.dropped == 0 {
		return string(tb.b)
	}
	return string(tb.b) + "…(truncated " + strconv.Itoa(tb.dropped) + " bytes)"
}

func (tb *textBuf) empty() bool { return len(tb.b) == 0 && tb.dropped == 0 }

func newCall(t *transport, span *fluxloop.Span, ctx context.Context, r route, info reqInfo) *call {
	cfg := span.Client().Config()
	c := &call{t: t, span: span, ctx: ctx, r: r, info: info}
	c.limit = cfg.MaxFieldBytes
	if c.limit <= 0 {
		c.limit = fluxloop.DefaultMaxFieldBytes
	}
	c.inputs = cfg.Capture == fluxloop.CaptureAll || cfg.Capture == fluxloop.CaptureInput
	c.keepText = !t.cfg.noContent && (cfg.Capture == fluxloop.CaptureAll || cfg.Capture == fluxloop.CaptureOutput)
	if c.keepText {
		c.left = c.limit
	}
	return c
}

// template is the shape of the last streamed event whose one effect was to
// append a string to a text (a content, reasoning or arguments delta): its
// bytes before the string (p) and after it (q). Servers send thousands of
// events of that shape that differ in the string only; one that is p, a
// JSON string and q has exactly the effect of appending that string (every
// other member of p and q was read before, and reading it again changes
// nothing), so it is handled without reading p and q again: the per-chunk
// cost of the transport is then two comparisons and the string's scan.
type template struct {
	name   []byte
	p, q   []byte
	target *textBuf
}

// appendRecord watches the appends an event makes while it is read in full.
type appendRecord struct {
	data     []byte
	n        int
	target   *textBuf
	raw      []byte
	off, end int
}

// fast handles an event that matches the template.
func (c *call) fast(name, data []byte) bool {
	t := &c.tpl
	if t.target == nil || len(data) < len(t.p)+len(t.q)+2 || string(name) != string(t.name) ||
		!bytes.HasPrefix(data, t.p) || !bytes.HasSuffix(data, t.q) {
		return false
	}
	mid := data[len(t.p) : len(data)-len(t.q)]
	if mid[0] != '"' || skipString(mid, 0) != len(mid) {
		return false
	}
	c.addJSONString(t.target, mid)
	return true
}

func (c *call) record(data []byte) {
	c.rec = appendRecord{data: data}
}

// learn makes the event just read the template when its one effect was an
// append.
func (c *call) learn(name, data []byte) {
	r := c.rec
	c.rec = appendRecord{}
	if r.n != 1 || r.target == nil || r.off < 0 || r.end > len(data) || r.off >= r.end || len(data)-(r.end-r.off) > 2048 ||
		unsafe.SliceData(r.raw) != &data[r.off] || skipString(data, r.off) != r.end {
		return // not a string of this event's data
	}
	t := &c.tpl
	t.name = append(t.name[:0], name...)
	t.p = append(t.p[:0], data[:r.off]...)
	t.q = append(t.q[:0], data[r.end:]...)
	t.target = r.target
}

// noteAppend records an append of raw (a slice of the event's data) for
// learn; other changes than appends of strings (whole arguments) count twice
// so that the event is not learnt.
func (c *call) noteAppend(tb *textBuf, raw []byte, n int) {
	r := &c.rec
	if r.data == nil {
		return
	}
	r.n += n
	r.target, r.raw = tb, raw
	r.off = -1
	if raw != nil && cap(raw) <= cap(r.data) {
		r.off = cap(r.data) - cap(raw)
		r.end = r.off + len(raw)
	}
}

// add keeps the decoded text of the JSON string raw (with its quotes) in tb.
func (c *call) addJSONString(tb *textBuf, raw []byte) {
	c.noteAppend(tb, raw, 1)
	if len(raw) < 2 || raw[0] != '"' {
		return
	}
	inner := raw[1 : len(raw)-1]
	if len(inner) == 0 {
		return
	}
	if c.ttft == 0 {
		c.ttft = time.Since(c.start)
	}
	if !c.keepText {
		return
	}
	if c.left == 0 {
		tb.dropped += len(inner) // escaped length: close enough once cut
		return
	}
	for i := range inner {
		if inner[i] == '\\' {
			c.scratch = appendUnquoted(c.scratch[:0], inner)
			c.add(tb, c.scratch)
			return
		}
	}
	c.add(tb, inner)
}

func (c *call) addString(tb *textBuf, s string) {
	c.noteAppend(tb, nil, 2)
	if s == "" {
		return
	}
	if c.ttft == 0 {
		c.ttft = time.Since(c.start)
	}
	if c.keepText {
		c.scratch = append(c.scratch[:0], s...)
		c.add(tb, c.scratch)
	}
}

func (c *call) add(tb *textBuf, p []byte) {
	if len(p) <= c.left {
		tb.b = append(tb.b, p...)
		c.left -= len(p)
		return
	}
	k := c.left
	for k > 0 && !utf8.RuneStart(p[k]) {
		k--
	}
	tb.b = append(tb.b, p[:k]...)
	tb.dropped += len(p) - k
	c.left = 0
}

// setRaw keeps a whole JSON value (tool arguments given as an object).
func (c *call) setRaw(tc *toolCall, raw []byte) {
	c.noteAppend(&tc.args, nil, 2)
	if isNull(raw) {
		return
	}
	if c.ttft == 0 {
		c.ttft = time.Since(c.start)
	}
	if !c.keepText {
		return
	}
	c.left += len(tc.args.b)
	tc.args = textBuf{}
	if len(raw) <= c.left {
		tc.args.b = append(tc.args.b, raw...)
		tc.argsRaw = true
		c.left -= len(raw)
		return
	}
	tc.args.dropped = len(raw)
}

func (c *call) choice(index int) *choice {
	for _, ch := range c.choices {
		if ch.index == index {
			return ch
		}
	}
	if len(c.choices) >= maxChoices {
		c.moreChoices++
		return nil
	}
	ch := &choice{index: index}
	c.choices = append(c.choices, ch)
	return ch
}

func (ch *choice) tool(key int) *toolCall {
	for _, tc := range ch.tools {
		if tc.key == key {
			return tc
		}
	}
	if len(ch.tools) >= maxToolCalls {
		ch.moreTools++
		return nil
	}
	tc := &toolCall{key: key}
	ch.tools = append(ch.tools, tc)
	return tc
}

// response wraps the response body so that the call is recorded as the
// consumer reads it.
func (c *call) response(resp *http.Response) {
	c.status = resp.StatusCode
	if c.status >= 400 {
		c.rememberFailure()
	}
	ct := resp.Header.Get("Content-Type")
	switch enc := resp.Header.Get("Content-Encoding"); {
	case enc != "" && !strings.EqualFold(enc, "identity"):
		c.mode, c.opaque = modeOpaque, "content-encoding "+enc
	case strings.HasPrefix(ct, "text/event-stream") && c.status < 300:
		c.mode, c.stream = modeSSE, true
		c.sse.data.limit = max(c.limit, 16<<10)
		c.sse.onEvent = c.event
	case c.r.api == apiGemini && c.r.urlStream && c.status < 300:
		c.mode, c.stream = modeArray, true
		c.arr.elem.limit = max(c.limit, 16<<10)
		c.arr.onElem = c.geminiElement
	default:
		c.mode = modeJSON
		c.doc.limit = max(c.limit, 16<<10)
	}
	if resp.Body == nil || resp.Body == http.NoBody {
		c.end(io.EOF, false)
		return
	}
	resp.Body = &body{rc: resp.Body, c: c}
}

func (c *call) fail(err error) {
	c.rememberFailure()
	c.finishWith(err, false)
}

func (c *call) rememberFailure() {
	if c.remembered {
		return
	}
	c.remembered = true
	c.t.retries.remember(c.key, retryEntry{id: c.span.ID(), attempt: c.attempt, at: time.Now()})
}

// body is the response body handed to the SDK: the same bytes, read
// through to the server's body, observed on the way.
type body struct {
	rc   io.ReadCloser
	c    *call
	mu   sync.Mutex
	done bool
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 || err != nil {
		b.mu.Lock()
		if !b.done {
			if n > 0 {
				b.c.feed(p[:n])
			}
			if err != nil {
				b.done = true
				b.c.end(err, false)
			}
		}
		b.mu.Unlock()
	}
	return n, err
}

func (b *body) Close() error {
	err := b.rc.Close()
	b.mu.Lock()
	if !b.done {
		b.done = true
		b.c.end(nil, true)
	}
	b.mu.Unlock()
	return err
}

func (c *call) feed(p []byte) {
	switch c.mode {
	case modeSSE:
		c.sse.write(p)
	case modeArray:
		c.arr.write(p)
	case modeJSON:
		c.doc.write(p)
	}
}

// event handles one server-sent event.
func (c *call) event(name, data []byte) {
	if c.ttfc == 0 {
		c.ttfc = time.Since(c.start)
	}
	if c.fast(name, data) {
		return
	}
	c.record(data)
	defer c.learn(name, data)
	switch c.r.api {
	case apiChat, apiEmbeddings:
		c.chatChunk(data)
	case apiResponses:
		c.responsesEvent(name, data)
	case apiAnthropic:
		c.anthropicEvent(name, data)
	case apiGemini:
		c.geminiChunk(data)
	}
}

func (c *call) geminiElement(elem []byte) {
	if c.ttfc == 0 {
		c.ttfc = time.Since(c.start)
	}
	if c.fast(nil, elem) {
		return
	}
	c.record(elem)
	c.geminiChunk(elem)
	c.learn(nil, elem)
}

// end is called once, at the body's end (err io.EOF), a read error, or
// Close before either (closed).
func (c *call) end(err error, closed bool) {
	switch c.mode {
	case modeSSE:
		if err == io.EOF {
			c.sse.flush()
		}
	case modeJSON:
		if doc := c.doc.bytes(); len(doc) > 0 {
			c.document(doc)
		}
	}
	if err == io.EOF && c.stream {
		// streams without a final event end with the body
		switch c.r.api {
		case apiGemini:
			c.complete = true
		case apiChat:
			c.complete = c.complete || c.sawFinish
		}
	}
	c.finishWith(err, closed)
}

// document handles a whole (non-streamed) response body.
func (c *call) document(doc []byte) {
	if c.status >= 400 {
		c.httpError(doc)
		c.complete = true
		return
	}
	var ok bool
	switch c.r.api {
	case apiChat:
		ok = c.chatBody(doc)
	case apiEmbeddings:
		ok = c.embeddingsBody(doc)
	case apiResponses:
		ok = c.responsesBody(doc)
	case apiAnthropic:
		ok = c.anthropicBody(doc)
	case apiGemini:
		ok = c.geminiChunk(doc)
	}
	c.complete = ok
}

// httpError reads the error body of an HTTP error status: every provider
// sends {"error": {...}} with a message, and a type, code or status.
func (c *call) httpError(doc []byte) {
	e := &APIError{StatusCode: c.status}
	if ev, ok := member(doc, "error"); ok {
		if s, ok := str(ev); ok {
			e.Message = s
		} else {
			c.errorObject(e, ev)
		}
	} else if !isJSON(doc) {
		s := strings.TrimSpace(string(doc[:min(len(doc), 200)]))
		if s != "" && utf8.ValidString(s) {
			e.Message = s
		}
	}
	if e.Message == "" {
		e.Message = "HTTP " + strconv.Itoa(c.status) + " " + http.StatusText(c.status)
	}
	c.err = e
}

func isJSON(b []byte) bool {
	i := skipSpace(b, 0)
	return i < len(b) && (b[i] == '{' || b[i] == '[')
}

// errorObject fills e from an error object: its message, and as the type
// the first of its type (OpenAI, Anthropic), code (OpenAI, Responses) and
// status (Google).
func (c *call) errorObject(e *APIError, obj []byte) {
	var typ, code, status string
	members(obj, func(k, v []byte) bool {
		switch string(k) {
		case "message":
			e.Message, _ = str(v)
		case "type":
			if s, _ := str(v); s != "error" {
				typ = s
			}
		case "code":
			if s, ok := str(v); ok {
				code = s
			} else if n, ok := integer(v); ok && code == "" {
				code = strconv.FormatInt(n, 10)
				if status == "" {
					status = code
				}
				code = ""
			}
		case "status":
			status, _ = str(v)
		}
		return true
	})
	switch {
	case typ != "":
		e.Type = typ
	case code != "":
		e.Type = code
	default:
		e.Type = status
	}
}

// streamError records an error sent inside a 200 stream.
func (c *call) streamError(obj []byte) {
	e := &APIError{StatusCode: c.status}
	if s, ok := str(obj); ok {
		e.Message = s
	} else {
		c.errorObject(e, obj)
	}
	if e.Message == "" {
		e.Message = "error event in the stream"
	}
	c.err = e
	c.complete = true
}

// APIError is the error recorded on the observation of a call that failed:
// an HTTP error status, an error event inside a stream, or (Gemini) a
// prompt blocked under HTTP 200. Its text is the provider's message.
type APIError struct {
	// StatusCode is the HTTP status (200 for errors inside a stream and
	// blocked prompts).
	StatusCode int
	// Type is the provider's error type or code: "rate_limit_error",
	// "invalid_request_error", "RESOURCE_EXHAUSTED", "SAFETY" (a blocked
	// prompt's reason); also recorded as metadata error.type.
	Type string
	// Message is the provider's message.
	Message string
}

func (e *APIError) Error() string { return e.Message }

// finishWith records everything and ends the observation.
func (c *call) finishWith(err error, closed bool) {
	attrs := make([]fluxloop.Attr, 0, 20)
	model := c.model
	if model == "" {
		model = c.info.model
	}
	if c.id != "" {
		attrs = append(attrs, fluxloop.Attribute("gen_ai.response.id", c.id))
	}
	if c.model != "" {
		attrs = append(attrs, fluxloop.Attribute("gen_ai.response.model", c.model))
	}
	if c.status != 0 {
		attrs = append(attrs, fluxloop.Attribute("http.response.status_code", c.status))
	}
	if fr := c.finishReasons(); len(fr) > 0 {
		attrs = append(attrs, fluxloop.Attribute("gen_ai.response.finish_reasons", fr))
	}
	u := c.u
	if u.has {
		attrs = append(attrs,
			fluxloop.Attribute("gen_ai.usage.input_tokens", u.input),
			fluxloop.Attribute("gen_ai.usage.output_tokens", u.output))
		if u.hasCacheRead {
			attrs = append(attrs, fluxloop.Attribute("gen_ai.usage.cache_read.input_tokens", u.cacheRead))
		}
		if u.hasCacheWrite {
			attrs = append(attrs, fluxloop.Attribute("gen_ai.usage.cache_creation.input_tokens", u.cacheWrite))
		}
		if u.hasReas {
			attrs = append(attrs, fluxloop.Attribute("gen_ai.usage.reasoning.output_tokens", u.reasoning))
		}
		if cost, ok := c.t.cfg.prices.cost(c.model, c.info.model, u); ok {
			attrs = append(attrs, fluxloop.Attribute("fluxloop.llm.cost_usd", cost))
		}
	} else if c.stream && c.r.api == apiChat && c.status < 300 && c.err == nil {
		attrs = append(attrs, fluxloop.Attribute("fluxloop.llm.usage_missing", true))
	}
	c.span.SetUsage(fluxloop.Usage{Model: model, PromptTokens: int(u.input), CompletionTokens: int(u.output)})
	if c.stream && c.ttfc > 0 {
		attrs = append(attrs, fluxloop.Attribute("gen_ai.response.time_to_first_chunk", c.ttfc.Seconds()))
	}
	if c.stream && c.ttft > 0 {
		attrs = append(attrs, fluxloop.Attribute("fluxloop.llm.time_to_first_content", c.ttft.Seconds()))
	}
	if c.r.api == apiEmbeddings && c.embeddings > 0 {
		attrs = append(attrs, fluxloop.Attribute("fluxloop.llm.embeddings", c.embeddings))
		if c.dims > 0 {
			attrs = append(attrs, fluxloop.Attribute("gen_ai.embeddings.dimension.count", c.dims))
		}
	}
	if c.opaque != "" {
		attrs = append(attrs, fluxloop.Attribute("fluxloop.llm.body_not_read", c.opaque))
	}
	if c.moreChoices > 0 {
		attrs = append(attrs, fluxloop.Attribute("fluxloop.llm.choices_not_recorded", c.moreChoices))
	}

	// how it ended
	cancelled := ctxErr(c.ctx)
	if cancelled == nil && err != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		cancelled = err
	}
	switch {
	case c.err != nil:
		c.span.RecordError(c.err)
		et := c.err.Type
		if et == "" {
			et = strconv.Itoa(c.status)
		}
		attrs = append(attrs, fluxloop.Attribute("error.type", et))
		if c.status >= 400 {
			c.span.SetStatusMessage("HTTP " + strconv.Itoa(c.status))
		}
	case c.status >= 400:
		c.span.RecordError(&APIError{StatusCode: c.status, Message: "HTTP " + strconv.Itoa(c.status) + " " + http.StatusText(c.status)})
		attrs = append(attrs, fluxloop.Attribute("error.type", strconv.Itoa(c.status)))
		c.span.SetStatusMessage("HTTP " + strconv.Itoa(c.status))
	}
	what := "response"
	if c.stream {
		what = "stream"
	}
	switch {
	case c.status == 0: // no response: the request failed
		if cancelled != nil {
			c.span.RecordError(cancelled)
			attrs = append(attrs, fluxloop.Attribute("error.type", "cancelled"))
			c.span.SetStatusMessage("request cancelled")
		} else if err != nil {
			c.span.RecordError(err)
			attrs = append(attrs, fluxloop.Attribute("error.type", errorType(err)))
			c.span.SetStatusMessage("request failed")
		}
	case err != io.EOF && !c.complete && c.mode != modeOpaque:
		// the body was closed or failed before its end: record what
		// arrived, and say so
		if c.stream {
			attrs = append(attrs, fluxloop.Attribute("fluxloop.llm.stream_incomplete", true))
		} else {
			attrs = append(attrs, fluxloop.Attribute("fluxloop.llm.response_incomplete", true))
		}
		switch {
		case cancelled != nil:
			if c.err == nil {
				c.span.RecordError(cancelled)
				attrs = append(attrs, fluxloop.Attribute("error.type", "cancelled"))
			}
			c.span.SetStatusMessage(what + " cancelled")
		case err != nil:
			if c.err == nil {
				c.span.RecordError(err)
				attrs = append(attrs, fluxloop.Attribute("error.type", errorType(err)))
			}
			c.span.SetStatusMessage(what + " interrupted")
		case closed:
			c.span.SetStatusMessage(what + " closed before its end")
		}
	case c.stream && !c.complete && c.err == nil:
		// the body ended without the stream's final event
		attrs = append(attrs, fluxloop.Attribute("fluxloop.llm.stream_incomplete", true))
		c.span.SetStatusMessage("stream ended without its final event")
	}
	if c.keepText {
		if out := c.output(); out != nil {
			c.span.SetOutput(out)
		}
	}
	c.span.SetAttributes(attrs...)
	c.span.End()
}

// errorType names a transport error for error.type: "timeout", or the type
// of the innermost error.
func errorType(err error) string {
	var ne interface{ Timeout() bool }
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	for {
		u := errors.Unwrap(err)
		if u == nil {
			break
		}
		err = u
	}
	return fmt.Sprintf("%T", err)
}

func (c *call) finishReasons() []string {
	var out []string
	for _, ch := range c.choices {
		if ch.finish != "" {
			out = append(out, ch.finish)
		}
	}
	if len(out) == 0 && c.r.api == apiResponses {
		// only a terminal status says how the response finished:
		// in_progress and queued (a stream's response.created, a background
		// response) do not
		switch c.respStatus {
		case "completed", "failed", "cancelled":
			out = append(out, c.respStatus)
		case "incomplete":
			if c.incomplete != "" {
				out = append(out, c.incomplete)
			} else {
				out = append(out, c.respStatus)
			}
		}
	}
	return out
}

// The recorded output: the reply as a compact JSON object.
type outMessage struct {
	Role         string    `json:"role,omitempty"`
	Content      string    `json:"content,omitempty"`
	Reasoning    string    `json:"reasoning,omitempty"`
	Refusal      string    `json:"refusal,omitempty"`
	ToolCalls    []outTool `json:"tool_calls,omitempty"`
	MoreTools    int       `json:"tool_calls_not_recorded,omitempty"`
	FinishReason string    `json:"finish_reason,omitempty"`
}

type outTool struct {
	ID        string `json:"id,omitempty"`
	Type      string `json:"type,omitempty"`
	Name      string `json:"name,omitempty"`
	Arguments any    `json:"arguments,omitempty"`
}

type outChoices struct {
	Choices []outMessage `json:"choices"`
}

type outEmbeddings struct {
	Embeddings int `json:"embeddings"`
	Dimensions int `json:"dimensions,omitempty"`
}

func (c *call) output() any {
	if c.r.api == apiEmbeddings {
		if c.embeddings == 0 {
			return nil
		}
		return outEmbeddings{Embeddings: c.embeddings, Dimensions: c.dims}
	}
	if len(c.choices) == 0 {
		return nil
	}
	msgs := make([]outMessage, 0, len(c.choices))
	for _, ch := range c.choices {
		m := outMessage{
			Role:         ch.role,
			Content:      ch.text.String(),
			Reasoning:    ch.reasoning.String(),
			Refusal:      ch.refusal.String(),
			FinishReason: ch.finish,
			MoreTools:    ch.moreTools,
		}
		if m.Role == "" {
			m.Role = "assistant"
		}
		for _, tc := range ch.tools {
			ot := outTool{ID: tc.id, Name: tc.name, Type: tc.typ}
			switch {
			case tc.args.dropped > 0:
				ot.Arguments = tc.args.String()
			case len(tc.args.b) > 0 && validJSON(tc.args.b):
				ot.Arguments = json.RawMessage(tc.args.b)
			case len(tc.args.b) > 0:
				ot.Arguments = string(tc.args.b)
			}
			m.ToolCalls = append(m.ToolCalls, ot)
		}
		msgs = append(msgs, m)
	}
	if len(msgs) == 1 {
		return msgs[0]
	}
	return outChoices{Choices: msgs}
}
