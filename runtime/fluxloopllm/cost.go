package fluxloopllm

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// Price is what a model costs, in US dollars per million tokens.
//
// The recorded token counts follow the GenAI conventions whatever the
// provider: input tokens include the tokens read from a cache and written
// to one, and output tokens include reasoning (thinking) tokens. The cost
// is therefore
//
//	(input − cache_read − cache_write) × Input + cache_read × CacheRead
//	  + cache_write × CacheWrite + output × Output
//
// which is how each provider bills: OpenAI's prompt_tokens include
// cached_tokens, billed at the cached rate; Anthropic's input_tokens leave
// out cache_read_input_tokens and cache_creation_input_tokens, each billed
// at its own rate (the transport adds them to the input count); Gemini's
// promptTokenCount includes cachedContentTokenCount, and its thinking
// tokens (thoughtsTokenCount) are billed as output. Reasoning tokens are
// billed as output tokens by all three.
type Price struct {
	// Input is the price of input tokens not read from a cache nor written
	// to one.
	Input float64 `json:"input"`
	// Output is the price of output tokens, reasoning tokens included.
	Output float64 `json:"output"`
	// CacheRead is the price of input tokens read from a cache; 0 means
	// the Input price.
	CacheRead float64 `json:"cache_read,omitempty"`
	// CacheWrite is the price of input tokens written to a cache
	// (Anthropic's cache_creation_input_tokens); 0 means the Input price.
	CacheWrite float64 `json:"cache_write,omitempty"`
}

// Prices maps model names to prices. A call is priced by the model the
// response names (gen_ai.response.model), else the requested one; a name
// not in the table is also tried without a trailing date or version
// ("gpt-4o-2024-08-06" → "gpt-4o", "claude-sonnet-4-5-20250929" →
// "claude-sonnet-4-5", "gemini-1.5-pro-002" → "gemini-1.5-pro") and
// without a "models/" prefix. Calls of models not in the table get no
// cost. fluxloopllm ships no prices: they change, and differ by contract.
//
// As JSON (LoadPrices, FLUXLOOP_LLM_PRICES):
//
//	{
//	  "gpt-4o":            {"input": 2.5, "cache_read": 1.25, "output": 10},
//	  "claude-sonnet-4-5": {"input": 3, "cache_read": 0.3, "cache_write": 3.75, "output": 15}
//	}
type Prices map[string]Price

// LoadPrices reads a price table from a JSON file (see Prices).
func LoadPrices(path string) (Prices, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var p Prices
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

func (p Prices) lookup(model string) (Price, bool) {
	if model == "" || len(p) == 0 {
		return Price{}, false
	}
	if pr, ok := p[model]; ok {
		return pr, true
	}
	m := strings.TrimPrefix(model, "models/")
	if pr, ok := p[m]; ok {
		return pr, true
	}
	if base := stripVersion(m); base != m {
		if pr, ok := p[base]; ok {
			return pr, true
		}
	}
	return Price{}, false
}

// stripVersion removes a trailing -YYYY-MM-DD, -YYYYMMDD, @YYYYMMDD or
// -NNN from a model name.
func stripVersion(m string) string {
	digits := func(s string) bool {
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		}
		return s != ""
	}
	if i := strings.LastIndexByte(m, '@'); i > 0 {
		return m[:i]
	}
	if n := len(m); n > 11 && m[n-11] == '-' && m[n-6] == '-' && m[n-3] == '-' &&
		digits(m[n-10:n-6]+m[n-5:n-3]+m[n-2:]) {
		return m[:n-11]
	}
	if i := strings.LastIndexByte(m, '-'); i > 0 {
		if s := m[i+1:]; (len(s) == 8 || len(s) == 3) && digits(s) {
			return m[:i]
		}
	}
	return m
}

// cost prices u; respModel wins over reqModel.
func (p Prices) cost(respModel, reqModel string, u usage) (float64, bool) {
	pr, ok := p.lookup(respModel)
	if !ok {
		if pr, ok = p.lookup(reqModel); !ok {
			return 0, false
		}
	}
	cr, cw := pr.CacheRead, pr.CacheWrite
	if cr == 0 {
		cr = pr.Input
	}
	if cw == 0 {
		cw = pr.Input
	}
	uncached := max(u.input-u.cacheRead-u.cacheWrite, 0)
	usd := (float64(uncached)*pr.Input + float64(u.cacheRead)*cr + float64(u.cacheWrite)*cw + float64(u.output)*pr.Output) / 1e6
	return usd, true
}
