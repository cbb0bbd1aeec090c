package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// message is one message of a conversation, read from a generation's input
// (OpenAI Chat Completions and Responses, Anthropic Messages, Gemini
// requests) or its output (the reply as fluxloopllm records it).
type message struct {
	role      string
	text      string
	reasoning string
	calls     []toolCall
	results   []toolResult
	note      string
}

type toolCall struct {
	id, name string
	args     json.RawMessage
}

type toolResult struct {
	id, name string
	content  json.RawMessage
}

func (m message) key() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\x00%s\x00%s", m.role, m.text, m.reasoning)
	for _, c := range m.calls {
		fmt.Fprintf(&b, "\x00%s\x00%s\x00%s", c.id, c.name, compact(c.args))
	}
	for _, r := range m.results {
		fmt.Fprintf(&b, "\x00%s\x00%s\x00%s", r.id, r.name, compact(r.content))
	}
	return b.String()
}

// sameText reports whether m is the reply r sent back in a later request.
func (m message) sameText(r message) bool {
	if m.role != "assistant" || strings.TrimSpace(m.text) != strings.TrimSpace(r.text) || len(m.calls) != len(r.calls) {
		return false
	}
	for i := range m.calls {
		if m.calls[i].name != r.calls[i].name {
			return false
		}
	}
	return true
}

func compact(b json.RawMessage) string {
	var out bytes.Buffer
	if json.Compact(&out, b) != nil {
		return string(b)
	}
	return out.String()
}

func commonPrefix(a, b []message) int {
	if len(a) == 0 || len(a) > len(b) {
		return 0
	}
	for i := range a {
		if a[i].key() != b[i].key() {
			return 0
		}
	}
	return len(a)
}

func (m message) write(b *strings.Builder) {
	role := m.role
	if role == "" {
		role = "message"
	}
	results := m.results
	if len(results) == 1 && m.text == "" && len(m.calls) == 0 {
		// A message that only carries a tool's result: one heading.
		r := results[0]
		results = nil
		b.WriteString("### tool result")
		if r.name != "" {
			fmt.Fprintf(b, " `%s`", strings.ReplaceAll(r.name, "`", "'"))
		}
		if r.id != "" {
			fmt.Fprintf(b, " (%s)", r.id)
		}
		b.WriteString("\n\n")
		if len(r.content) > 0 {
			writeValue(b, argsJSON(r.content))
		}
		return
	}
	fmt.Fprintf(b, "### %s\n\n", role)
	if m.note != "" {
		fmt.Fprintf(b, "*%s*\n\n", m.note)
	}
	if m.reasoning != "" {
		b.WriteString("> " + strings.ReplaceAll(strings.TrimSpace(m.reasoning), "\n", "\n> ") + "\n\n")
	}
	if strings.TrimSpace(m.text) != "" {
		b.WriteString(strings.TrimSpace(m.text))
		b.WriteString("\n\n")
	}
	for _, c := range m.calls {
		fmt.Fprintf(b, "**Tool call** `%s`", strings.ReplaceAll(c.name, "`", "'"))
		if c.id != "" {
			fmt.Fprintf(b, " (%s)", c.id)
		}
		b.WriteString("\n\n")
		if hasJSON(c.args) {
			writeValue(b, c.args)
		}
	}
	for _, r := range results {
		b.WriteString("**Tool result**")
		switch {
		case r.name != "" && r.id != "":
			fmt.Fprintf(b, " `%s` (%s)", r.name, r.id)
		case r.name != "":
			fmt.Fprintf(b, " `%s`", r.name)
		case r.id != "":
			fmt.Fprintf(b, " (%s)", r.id)
		}
		b.WriteString("\n\n")
		if len(r.content) > 0 {
			writeValue(b, argsJSON(r.content))
		}
	}
}

type object map[string]json.RawMessage

func decodeObject(b []byte) (object, bool) {
	var o object
	if json.Unmarshal(b, &o) != nil || o == nil {
		return nil, false
	}
	return o, true
}

func (o object) str(k string) string {
	var s string
	json.Unmarshal(o[k], &s)
	return s
}

func (o object) has(k string) bool {
	v, ok := o[k]
	return ok && string(v) != "null"
}

// inputMessages reads the messages of a request body.
func inputMessages(input json.RawMessage) ([]message, bool) {
	o, ok := decodeObject(input)
	if !ok {
		return nil, false
	}
	var out []message
	// System prompts: Anthropic's system, Responses' instructions,
	// Gemini's systemInstruction.
	if o.has("system") {
		if t := partsText(o["system"]); t != "" {
			out = append(out, message{role: "system", text: t})
		}
	}
	if s := o.str("instructions"); s != "" {
		out = append(out, message{role: "system", text: s})
	}
	for _, k := range []string{"systemInstruction", "system_instruction"} {
		if si, ok := decodeObject(o[k]); ok {
			out = append(out, message{role: "system", text: partsText(si["parts"])})
		}
	}
	found := false
	if o.has("messages") {
		var list []json.RawMessage
		if json.Unmarshal(o["messages"], &list) == nil {
			found = true
			for _, raw := range list {
				if m, ok := chatMessage(raw); ok {
					out = append(out, m)
				}
			}
		}
	}
	if o.has("input") && !found {
		var s string
		var list []json.RawMessage
		switch {
		case json.Unmarshal(o["input"], &s) == nil:
			found = true
			out = append(out, message{role: "user", text: s})
		case json.Unmarshal(o["input"], &list) == nil:
			found = true
			for _, raw := range list {
				if m, ok := responsesItem(raw); ok {
					out = append(out, m)
				}
			}
		}
	}
	if o.has("contents") && !found {
		var list []json.RawMessage
		if json.Unmarshal(o["contents"], &list) == nil {
			found = true
			for _, raw := range list {
				if m, ok := geminiContent(raw); ok {
					out = append(out, m)
				}
			}
		}
	}
	return out, found
}

// partsText reads a string, or the text of a list of parts ({"text": ...}).
func partsText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []object
	if json.Unmarshal(raw, &parts) != nil {
		return ""
	}
	var texts []string
	for _, p := range parts {
		if t := p.str("text"); t != "" {
			texts = append(texts, t)
		}
	}
	return strings.Join(texts, "\n\n")
}

// chatMessage reads an OpenAI Chat Completions or Anthropic message.
func chatMessage(raw json.RawMessage) (message, bool) {
	o, ok := decodeObject(raw)
	if !ok {
		return message{}, false
	}
	m := message{role: o.str("role")}
	if m.role == "tool" || m.role == "function" { // OpenAI tool result
		m.results = append(m.results, toolResult{id: o.str("tool_call_id"), name: o.str("name"), content: textOrJSON(o["content"])})
		return m, true
	}
	var s string
	var parts []object
	switch {
	case json.Unmarshal(o["content"], &s) == nil:
		m.text = s
	case json.Unmarshal(o["content"], &parts) == nil:
		var texts []string
		for _, p := range parts {
			switch p.str("type") {
			case "text", "input_text", "output_text":
				texts = append(texts, p.str("text"))
			case "thinking":
				m.reasoning = p.str("thinking")
			case "tool_use":
				m.calls = append(m.calls, toolCall{id: p.str("id"), name: p.str("name"), args: p["input"]})
			case "tool_result":
				m.results = append(m.results, toolResult{id: p.str("tool_use_id"), content: textOrJSON(p["content"])})
			case "image", "image_url", "input_image":
				texts = append(texts, "[image]")
			case "input_audio", "audio":
				texts = append(texts, "[audio]")
			case "document", "file":
				texts = append(texts, "[file]")
			}
		}
		m.text = strings.Join(texts, "\n\n")
	}
	var calls []object
	if json.Unmarshal(o["tool_calls"], &calls) == nil {
		for _, c := range calls {
			fn, _ := decodeObject(c["function"])
			m.calls = append(m.calls, toolCall{id: c.str("id"), name: fn.str("name"), args: argsJSON(fn["arguments"])})
		}
	}
	return m, true
}

// responsesItem reads an OpenAI Responses input item.
func responsesItem(raw json.RawMessage) (message, bool) {
	o, ok := decodeObject(raw)
	if !ok {
		return message{}, false
	}
	switch o.str("type") {
	case "function_call":
		return message{role: "assistant", calls: []toolCall{{id: o.str("call_id"), name: o.str("name"), args: argsJSON(o["arguments"])}}}, true
	case "function_call_output":
		return message{role: "tool", results: []toolResult{{id: o.str("call_id"), content: textOrJSON(o["output"])}}}, true
	case "reasoning":
		return message{}, false
	}
	return chatMessage(raw)
}

// geminiContent reads a Gemini content.
func geminiContent(raw json.RawMessage) (message, bool) {
	o, ok := decodeObject(raw)
	if !ok {
		return message{}, false
	}
	m := message{role: o.str("role")}
	if m.role == "model" {
		m.role = "assistant"
	}
	var parts []object
	json.Unmarshal(o["parts"], &parts)
	var texts []string
	for _, p := range parts {
		switch {
		case p.has("text"):
			texts = append(texts, p.str("text"))
		case p.has("functionCall"):
			fc, _ := decodeObject(p["functionCall"])
			m.calls = append(m.calls, toolCall{id: fc.str("id"), name: fc.str("name"), args: fc["args"]})
		case p.has("functionResponse"):
			fr, _ := decodeObject(p["functionResponse"])
			m.results = append(m.results, toolResult{id: fr.str("id"), name: fr.str("name"), content: fr["response"]})
		case p.has("inlineData"), p.has("fileData"):
			texts = append(texts, "[file]")
		}
	}
	m.text = strings.Join(texts, "\n\n")
	return m, true
}

// textOrJSON keeps a string as a JSON string, and the text of a list of
// text parts as one.
func textOrJSON(raw json.RawMessage) json.RawMessage {
	var parts []object
	if json.Unmarshal(raw, &parts) == nil {
		if t := partsText(raw); t != "" {
			b, _ := json.Marshal(t)
			return b
		}
	}
	return raw
}

// argsJSON reads tool call arguments sent as a JSON string holding JSON.
func argsJSON(raw json.RawMessage) json.RawMessage {
	var s string
	if json.Unmarshal(raw, &s) == nil && json.Valid([]byte(s)) {
		return json.RawMessage(s)
	}
	return raw
}

// outputMessage reads a generation's reply as fluxloopllm records it:
// {"role", "content", "reasoning", "refusal", "tool_calls": [{"id",
// "name", "arguments"}], "finish_reason"}, or {"choices": [...]}.
func outputMessage(output json.RawMessage) (message, bool) {
	o, ok := decodeObject(output)
	if !ok {
		return message{}, false
	}
	note := ""
	var choices []json.RawMessage
	if json.Unmarshal(o["choices"], &choices) == nil && len(choices) > 0 {
		if o, ok = decodeObject(choices[0]); !ok {
			return message{}, false
		}
		if len(choices) > 1 {
			note = fmt.Sprintf("the first of %d choices", len(choices))
		}
	}
	if !o.has("role") && !o.has("content") && !o.has("tool_calls") && !o.has("refusal") {
		return message{}, false
	}
	m := message{role: o.str("role"), reasoning: o.str("reasoning"), note: note}
	if m.role == "" {
		m.role = "assistant"
	}
	m.text = partsText(o["content"])
	if r := o.str("refusal"); r != "" {
		m.text = strings.TrimSpace(m.text + "\n\nRefused: " + r)
	}
	var calls []object
	if json.Unmarshal(o["tool_calls"], &calls) == nil {
		for _, c := range calls {
			name := c.str("name")
			args := c["arguments"]
			if fn, ok := decodeObject(c["function"]); ok && name == "" {
				name, args = fn.str("name"), fn["arguments"]
			}
			m.calls = append(m.calls, toolCall{id: c.str("id"), name: name, args: argsJSON(args)})
		}
	}
	if fr := o.str("finish_reason"); fr != "" && fr != "stop" && fr != "end_turn" && fr != "STOP" {
		m.note = strings.TrimPrefix(m.note+"; finish reason "+fr, "; ")
	}
	return m, true
}
