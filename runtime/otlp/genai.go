package otlp

import (
	"encoding/json"
	"os"
	"strconv"
	"strings"
)

// The GenAI semantic conventions carry a model call's content in opt-in
// attributes (gen_ai.input.messages, gen_ai.output.messages,
// gen_ai.system_instructions, gen_ai.tool.definitions), each a JSON
// document with messages of {role, parts[{type, ...}]}. With WithGenAIContent
// (or OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true) the storage
// derives them from a generation's recorded input (the provider's request:
// OpenAI Chat Completions or Responses, Anthropic Messages, Gemini) and
// output (fluxloopllm's reply object). Shapes it does not know are left to
// fluxloop.input and fluxloop.output, which are exported either way.

// Keys of the opt-in content attributes.
const (
	keyInputMessages      = "gen_ai.input.messages"
	keyOutputMessages     = "gen_ai.output.messages"
	keySystemInstructions = "gen_ai.system_instructions"
	keyToolDefinitions    = "gen_ai.tool.definitions"
)

// envGenAIContent is the variable OpenTelemetry's GenAI instrumentations
// read to capture message content.
const envGenAIContent = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"

// WithGenAIContent adds the GenAI conventions' opt-in content attributes
// (gen_ai.input.messages, gen_ai.output.messages, gen_ai.system_instructions,
// gen_ai.tool.definitions) to generation spans, derived from their recorded
// request and reply, for backends that render conversations from them. By
// default they are added when OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT
// is true. Content that fluxloop did not record (fluxloopllm.WithoutContent)
// is not exported either way.
func WithGenAIContent(on bool) Option {
	return func(o *options) { o.genAIContent = &on }
}

func genAIContentFromEnv() bool {
	on, _ := strconv.ParseBool(strings.TrimSpace(os.Getenv(envGenAIContent)))
	return on
}

// part is one part of a message in the conventions' schema.
type part struct {
	Type      string `json:"type"`
	Content   string `json:"content,omitempty"`
	ID        string `json:"id,omitempty"`
	Name      string `json:"name,omitempty"`
	Arguments any    `json:"arguments,omitempty"`
	Response  any    `json:"response,omitempty"`
}

// message is a message in the conventions' schema.
type message struct {
	Role         string `json:"role"`
	Parts        []part `json:"parts"`
	FinishReason string `json:"finish_reason,omitempty"`
}

// genAIContent is what a generation's content maps to; empty strings are
// left out.
type genAIContent struct {
	input, output, system, tools string
}

// genAIFromRecord derives the content attributes from a generation's input
// (a request body) and output (fluxloopllm's reply).
func genAIFromRecord(in, out string) genAIContent {
	var c genAIContent
	if in != "" {
		var req request
		if json.Unmarshal([]byte(in), &req) == nil {
			msgs, system := req.messages()
			c.input = marshalNonEmpty(msgs)
			c.system = marshalNonEmpty(system)
			if len(req.Tools) > 0 && string(req.Tools) != "null" {
				c.tools = string(req.Tools)
			}
		}
	}
	if out != "" {
		c.output = marshalNonEmpty(replyMessages(out))
	}
	return c
}

func marshalNonEmpty[T any](v []T) string {
	if len(v) == 0 {
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

// request holds the fields of the providers' request bodies that carry
// content.
type request struct {
	Messages          []json.RawMessage `json:"messages"`          // OpenAI chat, Anthropic
	System            json.RawMessage   `json:"system"`            // Anthropic
	Input             json.RawMessage   `json:"input"`             // OpenAI Responses
	Instructions      string            `json:"instructions"`      // OpenAI Responses
	Contents          []geminiContent   `json:"contents"`          // Gemini
	SystemInstruction *geminiContent    `json:"systemInstruction"` // Gemini
	Tools             json.RawMessage   `json:"tools"`
}

type geminiContent struct {
	Role  string `json:"role"`
	Parts []struct {
		Text         string `json:"text"`
		Thought      bool   `json:"thought"`
		FunctionCall *struct {
			Name string          `json:"name"`
			Args json.RawMessage `json:"args"`
		} `json:"functionCall"`
		FunctionResponse *struct {
			Name     string          `json:"name"`
			Response json.RawMessage `json:"response"`
		} `json:"functionResponse"`
	} `json:"parts"`
}

// chatMessage is a message of OpenAI Chat Completions or Anthropic
// Messages, or an input item of the Responses API.
type chatMessage struct {
	Role       string          `json:"role"`
	Content    json.RawMessage `json:"content"`
	ToolCalls  []openAIToolUse `json:"tool_calls"`
	ToolCallID string          `json:"tool_call_id"`
	// Responses API items
	Type      string          `json:"type"`
	CallID    string          `json:"call_id"`
	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments"`
	Output    json.RawMessage `json:"output"`
}

type openAIToolUse struct {
	ID       string `json:"id"`
	Function struct {
		Name      string          `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
	} `json:"function"`
}

// block is a content part: OpenAI's {type: text|input_text|output_text,
// text}, Anthropic's text, tool_use and tool_result blocks.
type block struct {
	Type      string          `json:"type"`
	Text      string          `json:"text"`
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
	ToolUseID string          `json:"tool_use_id"`
	Content   json.RawMessage `json:"content"`
}

// messages returns the request's conversation and its system instructions
// as parts.
func (r *request) messages() (msgs []message, system []part) {
	switch {
	case len(r.Contents) > 0 || r.SystemInstruction != nil:
		if r.SystemInstruction != nil {
			system = geminiParts(r.SystemInstruction)
		}
		for i := range r.Contents {
			role := r.Contents[i].Role
			if role == "model" {
				role = "assistant"
			} else if role == "" {
				role = "user"
			}
			msgs = append(msgs, message{Role: role, Parts: geminiParts(&r.Contents[i])})
		}
	case len(r.Messages) > 0:
		system = append(system, textParts(r.System)...)
		for _, raw := range r.Messages {
			var m chatMessage
			if json.Unmarshal(raw, &m) != nil {
				continue
			}
			if m.Role == "system" || m.Role == "developer" {
				system = append(system, textParts(m.Content)...)
				continue
			}
			msgs = append(msgs, chatParts(m))
		}
	case len(r.Input) > 0:
		if r.Instructions != "" {
			system = append(system, part{Type: "text", Content: r.Instructions})
		}
		var text string
		if json.Unmarshal(r.Input, &text) == nil {
			msgs = append(msgs, message{Role: "user", Parts: []part{{Type: "text", Content: text}}})
			break
		}
		var items []chatMessage
		if json.Unmarshal(r.Input, &items) != nil {
			break
		}
		for _, it := range items {
			switch it.Type {
			case "function_call":
				msgs = append(msgs, message{Role: "assistant", Parts: []part{{Type: "tool_call", ID: it.CallID, Name: it.Name, Arguments: jsonArg(it.Arguments)}}})
			case "function_call_output":
				msgs = append(msgs, message{Role: "tool", Parts: []part{{Type: "tool_call_response", ID: it.CallID, Response: jsonArg(it.Output)}}})
			default:
				if it.Role == "system" || it.Role == "developer" {
					system = append(system, textParts(it.Content)...)
					continue
				}
				msgs = append(msgs, chatParts(it))
			}
		}
	}
	return msgs, system
}

func geminiParts(c *geminiContent) []part {
	var ps []part
	for _, p := range c.Parts {
		switch {
		case p.FunctionCall != nil:
			ps = append(ps, part{Type: "tool_call", Name: p.FunctionCall.Name, Arguments: jsonArg(p.FunctionCall.Args)})
		case p.FunctionResponse != nil:
			ps = append(ps, part{Type: "tool_call_response", Name: p.FunctionResponse.Name, Response: jsonArg(p.FunctionResponse.Response)})
		case p.Thought:
			ps = append(ps, part{Type: "reasoning", Content: p.Text})
		case p.Text != "":
			ps = append(ps, part{Type: "text", Content: p.Text})
		}
	}
	return ps
}

// chatParts converts an OpenAI or Anthropic message.
func chatParts(m chatMessage) message {
	msg := message{Role: m.Role}
	if m.Role == "tool" { // OpenAI's tool result
		msg.Parts = append(msg.Parts, part{Type: "tool_call_response", ID: m.ToolCallID, Response: contentText(m.Content)})
		return msg
	}
	var blocks []block
	if json.Unmarshal(m.Content, &blocks) == nil {
		for _, b := range blocks {
			switch b.Type {
			case "tool_use":
				msg.Parts = append(msg.Parts, part{Type: "tool_call", ID: b.ID, Name: b.Name, Arguments: jsonArg(b.Input)})
			case "tool_result":
				msg.Parts = append(msg.Parts, part{Type: "tool_call_response", ID: b.ToolUseID, Response: contentText(b.Content)})
			case "thinking":
				msg.Parts = append(msg.Parts, part{Type: "reasoning", Content: b.Text})
			default:
				if b.Text != "" {
					msg.Parts = append(msg.Parts, part{Type: "text", Content: b.Text})
				}
			}
		}
	} else if s := contentText(m.Content); s != "" {
		msg.Parts = append(msg.Parts, part{Type: "text", Content: s})
	}
	for _, tc := range m.ToolCalls {
		msg.Parts = append(msg.Parts, part{Type: "tool_call", ID: tc.ID, Name: tc.Function.Name, Arguments: jsonArg(tc.Function.Arguments)})
	}
	return msg
}

// textParts reads a system prompt: a string or a list of text blocks.
func textParts(raw json.RawMessage) []part {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if s == "" {
			return nil
		}
		return []part{{Type: "text", Content: s}}
	}
	var blocks []block
	if json.Unmarshal(raw, &blocks) != nil {
		return nil
	}
	var ps []part
	for _, b := range blocks {
		if b.Text != "" {
			ps = append(ps, part{Type: "text", Content: b.Text})
		}
	}
	return ps
}

// contentText is a content's text: a string, or its text blocks joined.
func contentText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var sb strings.Builder
	for _, p := range textParts(raw) {
		sb.WriteString(p.Content)
	}
	return sb.String()
}

// jsonArg returns tool arguments as JSON values: a JSON string holding an
// object (OpenAI's arguments) decoded once, raw JSON as it is.
func jsonArg(raw json.RawMessage) any {
	if len(raw) == 0 {
		return nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if json.Valid([]byte(s)) {
			return json.RawMessage(s)
		}
		return s
	}
	return raw
}

// reply is fluxloopllm's output object: one message, or choices of them.
type reply struct {
	Role         string `json:"role"`
	Content      string `json:"content"`
	Reasoning    string `json:"reasoning"`
	Refusal      string `json:"refusal"`
	FinishReason string `json:"finish_reason"`
	ToolCalls    []struct {
		ID        string          `json:"id"`
		Name      string          `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
	} `json:"tool_calls"`
	Choices []json.RawMessage `json:"choices"`
}

func replyMessages(out string) []message {
	var r reply
	if json.Unmarshal([]byte(out), &r) != nil {
		return nil
	}
	if len(r.Choices) > 0 {
		var msgs []message
		for _, c := range r.Choices {
			msgs = append(msgs, replyMessages(string(c))...)
		}
		return msgs
	}
	msg := message{Role: r.Role, FinishReason: r.FinishReason}
	if msg.Role == "" {
		msg.Role = "assistant"
	}
	if r.Reasoning != "" {
		msg.Parts = append(msg.Parts, part{Type: "reasoning", Content: r.Reasoning})
	}
	if r.Content != "" {
		msg.Parts = append(msg.Parts, part{Type: "text", Content: r.Content})
	}
	if r.Refusal != "" {
		msg.Parts = append(msg.Parts, part{Type: "refusal", Content: r.Refusal})
	}
	for _, tc := range r.ToolCalls {
		msg.Parts = append(msg.Parts, part{Type: "tool_call", ID: tc.ID, Name: tc.Name, Arguments: jsonArg(tc.Arguments)})
	}
	if len(msg.Parts) == 0 {
		return nil
	}
	return []message{msg}
}
