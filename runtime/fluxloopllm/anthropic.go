package fluxloopllm

// Anthropic Messages (api.anthropic.com, and Claude on Vertex AI through
// rawPredict / streamRawPredict).

// anthropicEvent handles one event of a Messages stream.
func (c *call) anthropicEvent(name, data []byte) {
	typ := name // the event name is the data's type
	if len(typ) == 0 {
		if v, ok := member(data, "type"); ok && len(v) > 2 {
			typ = v[1 : len(v)-1]
		}
	}
	switch string(typ) {
	case "message_start":
		if m, ok := member(data, "message"); ok {
			c.anthropicMessage(m, false)
		}
	case "content_block_start":
		ch := c.choice(0)
		block, ok := member(data, "content_block")
		if !ok || ch == nil {
			return
		}
		c.anthropicBlock(ch, block, blockIndex(data), false)
	case "content_block_delta":
		ch := c.choice(0)
		d, ok := member(data, "delta")
		if !ok || ch == nil {
			return
		}
		idx := blockIndex(data)
		members(d, func(k, v []byte) bool {
			switch string(k) {
			case "text":
				c.addJSONString(&ch.text, v)
			case "thinking":
				c.addJSONString(&ch.reasoning, v)
			case "partial_json":
				if tc := ch.tool(idx); tc != nil {
					if tc.argsRaw { // an input given whole in content_block_start
						c.left += len(tc.args.b)
						tc.args, tc.argsRaw = textBuf{}, false
					}
					c.addJSONString(&tc.args, v)
				}
			}
			return true
		})
	case "message_delta":
		if d, ok := member(data, "delta"); ok {
			if sr, ok := member(d, "stop_reason"); ok {
				if s, ok := str(sr); ok && s != "" {
					if ch := c.choice(0); ch != nil {
						ch.finish = s
					}
				}
			}
		}
		if u, ok := member(data, "usage"); ok {
			c.anthropicUsage(u)
		}
	case "message_stop":
		c.complete = true
	case "error":
		if e, ok := member(data, "error"); ok {
			c.streamError(e)
		} else {
			c.streamError(data)
		}
	}
}

func blockIndex(data []byte) int {
	if v, ok := member(data, "index"); ok {
		if n, ok := integer(v); ok {
			return int(n)
		}
	}
	return -1
}

// anthropicBlock reads a content block: text, thinking, or a tool use (the
// client's tools and the server's), whose input is whole in a message and
// {} in a stream, where input_json_delta events bring it.
func (c *call) anthropicBlock(ch *choice, block []byte, idx int, whole bool) {
	var typ string
	if v, ok := member(block, "type"); ok {
		typ, _ = str(v)
	}
	switch typ {
	case "text":
		if v, ok := member(block, "text"); ok {
			c.addJSONString(&ch.text, v)
		}
	case "thinking":
		if v, ok := member(block, "thinking"); ok {
			c.addJSONString(&ch.reasoning, v)
		}
	case "redacted_thinking":
		if ch.reasoning.empty() {
			c.addString(&ch.reasoning, "[redacted thinking]")
		}
	case "tool_use", "server_tool_use", "mcp_tool_use":
		tc := ch.tool(idx)
		if tc == nil {
			return
		}
		if typ != "tool_use" {
			tc.typ = typ
		}
		members(block, func(k, v []byte) bool {
			switch string(k) {
			case "id":
				tc.id, _ = str(v)
			case "name":
				tc.name, _ = str(v)
			case "input":
				if whole || string(v) != "{}" {
					c.setRaw(tc, v)
				}
			}
			return true
		})
	}
}

// anthropicMessage reads a message: id, model, usage, stop reason, and with
// whole its content blocks.
func (c *call) anthropicMessage(m []byte, whole bool) bool {
	ch := c.choice(0)
	return members(m, func(k, v []byte) bool {
		switch string(k) {
		case "id":
			c.id, _ = str(v)
		case "model":
			c.model, _ = str(v)
		case "role":
			if ch != nil {
				ch.role, _ = str(v)
			}
		case "stop_reason":
			if s, ok := str(v); ok && s != "" && ch != nil {
				ch.finish = s
			}
		case "usage":
			c.anthropicUsage(v)
		case "content":
			if ch == nil {
				break
			}
			idx := 0
			elements(v, func(b []byte) bool {
				c.anthropicBlock(ch, b, idx, whole)
				idx++
				return true
			})
		}
		return true
	})
}

// anthropicUsage accumulates usage as the SDK does: message_start sets it;
// each message_delta overwrites output_tokens, and the input and cache
// counts only when it carries them. Anthropic's input_tokens leaves out the
// tokens read from or written to the cache; the recorded input tokens
// (prompt_tokens, gen_ai.usage.input_tokens) include them, as the
// conventions define input tokens.
func (c *call) anthropicUsage(v []byte) {
	u := &c.au
	members(v, func(k, v []byte) bool {
		n, ok := integer(v)
		if !ok {
			return true
		}
		switch string(k) {
		case "input_tokens":
			u.input, u.hasInput = n, true
		case "output_tokens":
			u.output = n
		case "cache_read_input_tokens":
			u.cacheRead, u.hasCacheRead = n, true
		case "cache_creation_input_tokens":
			u.cacheWrite, u.hasCacheWrite = n, true
		}
		return true
	})
	c.u = usage{
		has:           true,
		input:         u.input + u.cacheRead + u.cacheWrite,
		output:        u.output,
		cacheRead:     u.cacheRead,
		cacheWrite:    u.cacheWrite,
		hasCacheRead:  u.hasCacheRead,
		hasCacheWrite: u.hasCacheWrite,
	}
}

// anthropicUsageAcc is Anthropic's usage as sent.
type anthropicUsageAcc struct {
	input, output, cacheRead, cacheWrite  int64
	hasInput, hasCacheRead, hasCacheWrite bool
}

func (c *call) anthropicBody(doc []byte) bool {
	return c.anthropicMessage(doc, true)
}
