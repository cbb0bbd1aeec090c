package fluxloopllm

import "strconv"

// Google Gemini (generativelanguage.googleapis.com) and Vertex AI
// (publishers/google/models/...): generateContent, and streamGenerateContent
// as server-sent events (alt=sse) or as a streamed JSON array.

// geminiChunk reads a GenerateContentResponse: a whole response or one
// chunk of a stream. Chunks repeat the running usage totals, so the last
// usageMetadata wins, and a chunk without one leaves the totals alone.
func (c *call) geminiChunk(doc []byte) bool {
	var blockReason, blockMessage string
	sawCandidates := false
	ok := members(doc, func(k, v []byte) bool {
		switch string(k) {
		case "responseId", "response_id":
			if c.id == "" {
				c.id, _ = str(v)
			}
		case "modelVersion", "model_version":
			if s, ok := str(v); ok && s != "" {
				c.model = s
			}
		case "usageMetadata", "usage_metadata":
			c.geminiUsage(v)
		case "candidates":
			pos := 0
			elements(v, func(e []byte) bool {
				sawCandidates = true
				c.geminiCandidate(e, pos)
				pos++
				return true
			})
		case "promptFeedback", "prompt_feedback":
			members(v, func(k, v []byte) bool {
				switch string(k) {
				case "blockReason", "block_reason":
					blockReason = c.geminiEnum(v, geminiBlockReasons, vertexBlockedReasons)
				case "blockReasonMessage", "block_reason_message":
					blockMessage, _ = str(v)
				}
				return true
			})
		case "error":
			if !isNull(v) {
				c.streamError(v)
			}
		}
		return true
	})
	if blockReason != "" && blockReason != "BLOCK_REASON_UNSPECIFIED" && blockReason != "BLOCKED_REASON_UNSPECIFIED" && !sawCandidates {
		msg := "prompt blocked: " + blockReason
		if blockMessage != "" {
			msg += ": " + blockMessage
		}
		c.err = &APIError{StatusCode: c.status, Type: blockReason, Message: msg}
	}
	if c.mode == modeSSE || c.mode == modeArray {
		// a stream has no final event: its end is the body's end
		return ok
	}
	return ok
}

func (c *call) geminiCandidate(e []byte, pos int) {
	index := pos
	if v, ok := member(e, "index"); ok {
		if n, ok := integer(v); ok {
			index = int(n)
		}
	}
	ch := c.choice(index)
	if ch == nil {
		return
	}
	members(e, func(k, v []byte) bool {
		switch string(k) {
		case "content":
			members(v, func(k, v []byte) bool {
				switch string(k) {
				case "role":
					if s, ok := str(v); ok && s != "" {
						ch.role = s
					}
				case "parts":
					elements(v, func(p []byte) bool {
						c.geminiPart(ch, p)
						return true
					})
				}
				return true
			})
		case "finishReason", "finish_reason":
			if s := c.geminiEnum(v, geminiFinishReasons, vertexFinishReasons); s != "" {
				ch.finish = s
			}
		}
		return true
	})
}

func (c *call) geminiPart(ch *choice, p []byte) {
	var text []byte
	thought := false
	members(p, func(k, v []byte) bool {
		switch string(k) {
		case "text":
			text = v
		case "thought":
			thought, _ = boolean(v)
		case "functionCall", "function_call":
			tc := ch.tool(len(ch.tools))
			if tc == nil {
				break
			}
			members(v, func(k, v []byte) bool {
				switch string(k) {
				case "id":
					tc.id, _ = str(v)
				case "name":
					tc.name, _ = str(v)
				case "args":
					c.setRaw(tc, v)
				}
				return true
			})
		case "executableCode", "executable_code":
			tc := ch.tool(len(ch.tools))
			if tc != nil {
				tc.typ = "code_execution"
				if code, ok := member(v, "code"); ok {
					c.addJSONString(&tc.args, code)
				}
			}
		}
		return true
	})
	if text != nil {
		if thought {
			c.addJSONString(&ch.reasoning, text)
		} else {
			c.addJSONString(&ch.text, text)
		}
	}
}

// geminiUsage reads usageMetadata. candidatesTokenCount leaves out the
// thinking tokens (thoughtsTokenCount), which are billed as output: the
// recorded output tokens are their sum, with the thoughts as reasoning
// tokens. promptTokenCount includes cachedContentTokenCount.
func (c *call) geminiUsage(v []byte) {
	var u usage
	var candidates, thoughts, toolPrompt int64
	members(v, func(k, v []byte) bool {
		n, ok := integer(v)
		if !ok {
			return true
		}
		switch string(k) {
		case "promptTokenCount", "prompt_token_count":
			u.input, u.has = n, true
		case "candidatesTokenCount", "candidates_token_count":
			candidates, u.has = n, true
		case "thoughtsTokenCount", "thoughts_token_count":
			thoughts, u.hasReas = n, true
		case "cachedContentTokenCount", "cached_content_token_count":
			u.cacheRead, u.hasCacheRead = n, true
		case "toolUsePromptTokenCount", "tool_use_prompt_token_count":
			toolPrompt = n
		}
		return true
	})
	if !u.has && !u.hasReas {
		return
	}
	u.has = true
	u.input += toolPrompt
	u.output = candidates + thoughts
	u.reasoning = thoughts
	c.u = u
}

// Enums are names ("STOP"), or numbers when the client asks for
// enum-encoding=int, as the REST clients generated from the protos do
// (github.com/google/generative-ai-go, cloud.google.com/go/aiplatform's
// REST transport: $alt=json;enum-encoding=int). The numbers are those of
// the protos, which differ between the Gemini API
// (google.ai.generativelanguage.v1beta, v1) and Vertex AI
// (google.cloud.aiplatform.v1beta1, v1); a number neither names is
// recorded as it is.

// Candidate.FinishReason
var geminiFinishReasons = []string{
	0:  "FINISH_REASON_UNSPECIFIED",
	1:  "STOP",
	2:  "MAX_TOKENS",
	3:  "SAFETY",
	4:  "RECITATION",
	5:  "OTHER",
	6:  "LANGUAGE",
	7:  "BLOCKLIST",
	8:  "PROHIBITED_CONTENT",
	9:  "SPII",
	10: "MALFORMED_FUNCTION_CALL",
	11: "IMAGE_SAFETY",
	12: "UNEXPECTED_TOOL_CALL",
	13: "TOO_MANY_TOOL_CALLS",
	14: "IMAGE_PROHIBITED_CONTENT",
	15: "IMAGE_OTHER",
	16: "NO_IMAGE",
	17: "IMAGE_RECITATION",
}

var vertexFinishReasons = []string{
	0:  "FINISH_REASON_UNSPECIFIED",
	1:  "STOP",
	2:  "MAX_TOKENS",
	3:  "SAFETY",
	4:  "RECITATION",
	5:  "OTHER",
	6:  "BLOCKLIST",
	7:  "PROHIBITED_CONTENT",
	8:  "SPII",
	9:  "MALFORMED_FUNCTION_CALL",
	10: "MODEL_ARMOR",
}

// GenerateContentResponse.PromptFeedback.BlockReason (Gemini API),
// BlockedReason (Vertex AI)
var geminiBlockReasons = []string{
	0: "BLOCK_REASON_UNSPECIFIED",
	1: "SAFETY",
	2: "OTHER",
	3: "BLOCKLIST",
	4: "PROHIBITED_CONTENT",
	5: "IMAGE_SAFETY",
}

var vertexBlockedReasons = []string{
	0: "BLOCKED_REASON_UNSPECIFIED",
	1: "SAFETY",
	2: "OTHER",
	3: "BLOCKLIST",
	4: "PROHIBITED_CONTENT",
	5: "MODEL_ARMOR",
	6: "JAILBREAK",
}

// geminiEnum reads an enum value, a name or a number ("" for neither).
func (c *call) geminiEnum(v []byte, gemini, vertex []string) string {
	if s, ok := str(v); ok {
		return s
	}
	n, ok := integer(v)
	if !ok {
		return ""
	}
	names := gemini
	if c.r.vertex {
		names = vertex
	}
	if n >= 0 && n < int64(len(names)) {
		return names[n]
	}
	return strconv.FormatInt(n, 10)
}
