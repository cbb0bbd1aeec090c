package fluxloopllm

import (
	"bytes"
	"encoding/base64"
	"strconv"
	"strings"
)

// OpenAI Chat Completions (and every server speaking it), Embeddings and
// Responses.

// chatChunk handles one chat.completion.chunk of a stream. Chunks are small
// and many: each is read in one pass (walk), values the transport does not
// need skipped, never decoded.
//
// A server repeats the members before "choices" (id, object, created,
// model, ...) byte for byte in every chunk: once a chunk has been read, the
// next one that starts with the same bytes is read from its choices on
// (reading those members again would change nothing).
func (c *call) chatChunk(data []byte) {
	if string(data) == "[DONE]" {
		c.complete = true
		return
	}
	if p := len(c.prefix); p > 0 && bytes.HasPrefix(data, c.prefix) {
		if n := c.chatChoices(data[p:]); n > 0 {
			walkAt(data, p+n, c.chatMember)
			return
		}
	}
	c.chatDocument(data)
}

// chatDocument reads a chunk or a whole chat.completion.
func (c *call) chatDocument(data []byte) int {
	c.doc0 = data
	n := walk(data, c.chatMember)
	c.doc0 = nil
	return n
}

func (c *call) chatChoices(v []byte) int {
	pos := 0
	return walkElements(v, func(e []byte) int {
		n := c.chatChoice(e, pos)
		pos++
		return n
	})
}

// chatMember reads a member of a chunk or completion.
func (c *call) chatMember(k, v []byte) int {
	switch string(k) {
	case "id":
		if c.id == "" {
			n := skipValue(v, 0)
			c.id, _ = str(v[:max(n, 0)])
			return n
		}
	case "model":
		if c.model == "" {
			n := skipValue(v, 0)
			c.model, _ = str(v[:max(n, 0)])
			return n
		}
	case "choices":
		if d := c.doc0; c.stream && d != nil {
			if off := len(d) - len(v); off <= 1024 && c.id != "" {
				c.prefix = append(c.prefix[:0], d[:off]...)
			}
		}
		return c.chatChoices(v)
	case "usage":
		if !hasNull(v) {
			n := skipValue(v, 0)
			c.openaiUsage(v[:max(n, 0)])
			return n
		}
	case "error":
		if !hasNull(v) {
			n := skipValue(v, 0)
			c.streamError(v[:max(n, 0)])
			return n
		}
	}
	return 0
}

func hasNull(v []byte) bool { return len(v) >= 4 && string(v[:4]) == "null" }

// chatBody handles a whole chat.completion.
func (c *call) chatBody(doc []byte) bool {
	return c.chatDocument(doc) > 0
}

// chatChoice reads a choice of a chunk (delta) or of a whole completion
// (message): both are appended to what the choice has. It returns the
// choice's length.
func (c *call) chatChoice(e []byte, pos int) int {
	index := pos
	var ch *choice
	return walk(e, func(k, v []byte) int {
		switch string(k) {
		case "index": // first, as servers send it
			n := skipValue(v, 0)
			if x, ok := integer(v[:max(n, 0)]); ok {
				index = int(x)
			}
			return n
		case "delta", "message":
			if ch == nil {
				ch = c.choice(index)
			}
			if ch != nil {
				return c.chatMessage(ch, v)
			}
		case "finish_reason":
			if v[0] == '"' {
				n := skipValue(v, 0)
				if s, ok := str(v[:max(n, 0)]); ok && s != "" {
					if ch == nil {
						ch = c.choice(index)
					}
					if ch != nil {
						ch.finish = s
						c.sawFinish = true
					}
				}
				return n
			}
		}
		return 0
	})
}

func (c *call) chatMessage(ch *choice, m []byte) int {
	return walk(m, func(k, v []byte) int {
		switch string(k) {
		case "role":
			if ch.role == "" {
				n := skipValue(v, 0)
				ch.role, _ = str(v[:max(n, 0)])
				return n
			}
		case "content":
			n := skipValue(v, 0)
			if n <= 0 {
				return n
			}
			v = v[:n]
			if v[0] == '[' { // content parts (some compatible servers)
				elements(v, func(p []byte) bool {
					if t, ok := member(p, "text"); ok {
						c.addJSONString(&ch.text, t)
					}
					return true
				})
				return n
			}
			c.addJSONString(&ch.text, v)
			return n
		case "reasoning_content", "reasoning":
			n := skipValue(v, 0)
			c.addJSONString(&ch.reasoning, v[:max(n, 0)])
			return n
		case "refusal":
			n := skipValue(v, 0)
			c.addJSONString(&ch.refusal, v[:max(n, 0)])
			return n
		case "tool_calls":
			pos := 0
			return walkElements(v, func(t []byte) int {
				n := skipValue(t, 0)
				if n > 0 {
					c.chatToolCall(ch, t[:n], pos)
				}
				pos++
				return n
			})
		case "function_call": // the legacy single call
			n := skipValue(v, 0)
			c.chatFunction(ch, ch.tool(-1), v[:max(n, 0)])
			return n
		}
		return 0
	})
}

// chatToolCall appends a fragment of a tool call: the first one of each
// index has its id and name, the others pieces of the arguments.
func (c *call) chatToolCall(ch *choice, t []byte, pos int) {
	key := pos
	if v, ok := member(t, "index"); ok {
		if n, ok := integer(v); ok {
			key = int(n)
		}
	}
	tc := ch.tool(key)
	if tc == nil {
		return
	}
	members(t, func(k, v []byte) bool {
		switch string(k) {
		case "id":
			if s, ok := str(v); ok && s != "" {
				tc.id = s
			}
		case "type":
			if s, ok := str(v); ok && s != "function" {
				tc.typ = s
			}
		case "function", "custom":
			c.chatFunction(ch, tc, v)
		}
		return true
	})
}

func (c *call) chatFunction(ch *choice, tc *toolCall, f []byte) {
	if tc == nil {
		return
	}
	members(f, func(k, v []byte) bool {
		switch string(k) {
		case "name":
			if s, ok := str(v); ok && s != "" {
				tc.name = s
			}
		case "arguments", "input":
			c.addJSONString(&tc.args, v)
		}
		return true
	})
}

// openaiUsage reads the usage of Chat Completions, Embeddings and Responses
// (prompt_/completion_tokens or input_/output_tokens): input includes the
// cached tokens and output the reasoning tokens, as the conventions want.
func (c *call) openaiUsage(v []byte) {
	var u usage
	ok := members(v, func(k, v []byte) bool {
		switch string(k) {
		case "prompt_tokens", "input_tokens":
			u.input, _ = integer(v)
			u.has = true
		case "completion_tokens", "output_tokens":
			u.output, _ = integer(v)
			u.has = true
		case "prompt_tokens_details", "input_tokens_details":
			if n, ok := member(v, "cached_tokens"); ok {
				if x, ok := integer(n); ok {
					u.cacheRead, u.hasCacheRead = x, true
				}
			}
		case "completion_tokens_details", "output_tokens_details":
			if n, ok := member(v, "reasoning_tokens"); ok {
				if x, ok := integer(n); ok {
					u.reasoning, u.hasReas = x, true
				}
			}
		}
		return true
	})
	if ok && u.has {
		c.u = u
	}
}

// embeddingsBody reads an embeddings list: the count, the dimensions of the
// first vector and the usage; the vectors themselves are not recorded.
func (c *call) embeddingsBody(doc []byte) bool {
	ok := members(doc, func(k, v []byte) bool {
		switch string(k) {
		case "model":
			c.model, _ = str(v)
		case "usage":
			c.openaiUsage(v)
		case "data":
			elements(v, func(e []byte) bool {
				if c.embeddings == 0 {
					if emb, ok := member(e, "embedding"); ok {
						c.dims = vectorLen(emb)
					}
				}
				if s, ok := str(e); !ok || !strings.HasPrefix(s, "… ") {
					c.embeddings++
				} else {
					c.embeddings += moreCount(s)
				}
				return true
			})
		}
		return true
	})
	return ok
}

// vectorLen is the length of an embedding: an array of numbers (pruned ones
// end with "… N more"), or base64 of little-endian float32s.
func vectorLen(v []byte) int {
	if s, ok := str(v); ok {
		n := len(s)
		if i := strings.Index(s, "…(truncated "); i >= 0 {
			more, _ := strconv.Atoi(strings.TrimSuffix(s[i+len("…(truncated "):], " bytes)"))
			n = i + more
		}
		return base64.StdEncoding.DecodedLen(n) / 4
	}
	n := 0
	elements(v, func(e []byte) bool {
		if s, ok := str(e); ok && strings.HasPrefix(s, "… ") {
			n += moreCount(s)
		} else {
			n++
		}
		return true
	})
	return n
}

// moreCount reads the N of a pruner's "… N more".
func moreCount(s string) int {
	s = strings.TrimSuffix(strings.TrimPrefix(s, "… "), " more")
	n, _ := strconv.Atoi(strings.ReplaceAll(s, ",", ""))
	return n
}

// responsesEvent handles one event of a Responses stream.
func (c *call) responsesEvent(name, data []byte) {
	typ := name // the event name is the data's type
	if len(typ) == 0 {
		if v, ok := member(data, "type"); ok && len(v) > 2 {
			typ = v[1 : len(v)-1]
		}
	}
	ch := c.choice(0)
	switch string(typ) {
	case "response.created", "response.in_progress", "response.queued":
		if r, ok := member(data, "response"); ok {
			c.responseObject(r, false)
		}
	case "response.completed", "response.incomplete", "response.failed", "response.cancelled":
		if r, ok := member(data, "response"); ok {
			c.responseObject(r, false)
		}
		c.complete = true
	case "error":
		c.streamError(data)
	case "response.output_text.delta":
		if d, ok := member(data, "delta"); ok && ch != nil {
			c.addJSONString(&ch.text, d)
		}
	case "response.refusal.delta":
		if d, ok := member(data, "delta"); ok && ch != nil {
			c.addJSONString(&ch.refusal, d)
		}
	case "response.reasoning_summary_text.delta", "response.reasoning_text.delta":
		if d, ok := member(data, "delta"); ok && ch != nil {
			if c.reasoningSep && !ch.reasoning.empty() {
				c.addString(&ch.reasoning, "\n\n")
			}
			c.reasoningSep = false
			c.addJSONString(&ch.reasoning, d)
		}
	case "response.reasoning_summary_part.added", "response.reasoning_summary_part.done":
		c.reasoningSep = true
	case "response.output_item.added", "response.output_item.done":
		if ch == nil {
			break
		}
		item, ok := member(data, "item")
		if !ok {
			break
		}
		oi := outputIndex(data)
		c.responsesItem(ch, item, oi, string(typ) == "response.output_item.done")
	case "response.function_call_arguments.delta", "response.custom_tool_call_input.delta":
		if ch == nil {
			break
		}
		if tc := ch.tool(outputIndex(data)); tc != nil {
			if d, ok := member(data, "delta"); ok {
				c.addJSONString(&tc.args, d)
			}
		}
	case "response.function_call_arguments.done", "response.custom_tool_call_input.done":
		if ch == nil {
			break
		}
		if tc := ch.tool(outputIndex(data)); tc != nil && tc.args.empty() {
			if a, ok := member(data, "arguments"); ok {
				c.addJSONString(&tc.args, a)
			} else if a, ok := member(data, "input"); ok {
				c.addJSONString(&tc.args, a)
			}
		}
	}
}

func outputIndex(data []byte) int {
	if v, ok := member(data, "output_index"); ok {
		if n, ok := integer(v); ok {
			return int(n)
		}
	}
	return -1
}

// responsesItem reads an output item: a message, a function (or custom
// tool) call, reasoning, or a built-in tool call. done says the item is
// complete: its text is taken only if no delta brought it.
func (c *call) responsesItem(ch *choice, item []byte, oi int, done bool) {
	var typ string
	if v, ok := member(item, "type"); ok {
		typ, _ = str(v)
	}
	switch {
	case typ == "message":
		if ch.role == "" {
			if v, ok := member(item, "role"); ok {
				ch.role, _ = str(v)
			}
		}
		if done && ch.text.empty() {
			if content, ok := member(item, "content"); ok {
				elements(content, func(p []byte) bool {
					if t, ok := member(p, "text"); ok {
						c.addJSONString(&ch.text, t)
					} else if r, ok := member(p, "refusal"); ok {
						c.addJSONString(&ch.refusal, r)
					}
					return true
				})
			}
		}
	case typ == "reasoning":
		if done && ch.reasoning.empty() {
			for _, key := range []string{"summary", "content"} {
				if parts, ok := member(item, key); ok {
					elements(parts, func(p []byte) bool {
						if t, ok := member(p, "text"); ok {
							if !ch.reasoning.empty() {
								c.addString(&ch.reasoning, "\n\n")
							}
							c.addJSONString(&ch.reasoning, t)
						}
						return true
					})
				}
			}
		}
	case typ == "function_call" || typ == "custom_tool_call" || strings.HasSuffix(typ, "_call"):
		tc := ch.tool(oi)
		if tc == nil {
			return
		}
		if typ != "function_call" {
			tc.typ = typ
		}
		members(item, func(k, v []byte) bool {
			switch string(k) {
			case "call_id":
				tc.id, _ = str(v)
			case "id":
				if tc.id == "" {
					tc.id, _ = str(v)
				}
			case "name":
				tc.name, _ = str(v)
			case "arguments", "input":
				if done && tc.args.empty() {
					c.addJSONString(&tc.args, v)
				}
			}
			return true
		})
	}
}

// responseObject reads a response: its id, model, status, usage and error,
// and with output its output items (a whole, non-streamed response).
func (c *call) responseObject(r []byte, output bool) bool {
	ch := c.choice(0)
	return members(r, func(k, v []byte) bool {
		switch string(k) {
		case "id":
			if s, ok := str(v); ok && s != "" {
				c.id = s
			}
		case "model":
			if s, ok := str(v); ok && s != "" {
				c.model = s
			}
		case "status":
			c.respStatus, _ = str(v)
		case "incomplete_details":
			if reason, ok := member(v, "reason"); ok {
				c.incomplete, _ = str(reason)
			}
		case "usage":
			if !isNull(v) {
				c.openaiUsage(v)
			}
		case "error":
			if !isNull(v) {
				c.streamError(v)
			}
		case "output":
			if output && ch != nil {
				oi := 0
				elements(v, func(item []byte) bool {
					c.responsesItem(ch, item, oi, true)
					oi++
					return true
				})
			}
		}
		return true
	})
}

func (c *call) responsesBody(doc []byte) bool {
	ok := c.responseObject(doc, true)
	if ch := c.choice(0); ch != nil && ch.role == "" && ch.text.empty() && len(ch.tools) == 0 && ch.reasoning.empty() {
		c.choices = c.choices[:0] // nothing was said
	}
	return ok
}
