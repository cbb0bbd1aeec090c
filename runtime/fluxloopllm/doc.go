// Package fluxloopllm records every LLM call a Go program makes through an
// SDK's HTTP client as a generation observation, with no change to the calls:
// give the SDK a client whose transport is NewTransport.
//
//	// github.com/openai/openai-go/v3 and github.com/anthropics/anthropic-sdk-go
//	client := openai.NewClient(option.WithHTTPClient(fluxloopllm.NewClient()))
//	client := anthropic.NewClient(option.WithHTTPClient(fluxloopllm.NewClient()))
//
//	// github.com/sashabaranov/go-openai
//	cfg := openai.DefaultConfig(apiKey)
//	cfg.HTTPClient = fluxloopllm.NewClient()
//	client := openai.NewClientWithConfig(cfg)
//
//	// github.com/tmc/langchaingo (llms/openai, llms/anthropic)
//	llm, err := openai.New(openai.WithHTTPClient(fluxloopllm.NewClient()))
//
//	// google.golang.org/genai
//	client, err := genai.NewClient(ctx, &genai.ClientConfig{APIKey: key, HTTPClient: fluxloopllm.NewClient()})
//
// NewClient(opts...) is &http.Client{Transport: NewTransport(nil, opts...)}.
// A program that already has a transport (a proxy, an authenticating
// transport for Vertex AI, retries) wraps it: NewTransport(base, opts...).
//
// # What is recorded
//
// Each call is one observation of type generation, a child of the
// observation active in the request's context (the ctx passed to the SDK
// call: inside a function marked //fluxloop:agent or //fluxloop:trace it is
// that function's observation), else of the goroutine's current observation,
// else the root of a trace of its own. Its name is
// "{gen_ai.operation.name} {gen_ai.request.model}", as the OpenTelemetry GenAI
// conventions name client spans: "chat gpt-4o", "generate_content
// gemini-2.5-flash", "embeddings text-embedding-3-small".
//
//   - model, prompt_tokens, completion_tokens, total_tokens: the model the
//     response names (else the requested one) and the token counts, input
//     tokens including those read from or written to a prompt cache and
//     output tokens including reasoning tokens, whatever the provider's own
//     definition (Anthropic's input_tokens leave the cache out, Gemini's
//     candidatesTokenCount the thoughts: the transport adds them).
//   - input: the request body, member by member ("model", "messages",
//     "tools", "temperature", ...), captured like any input: within the
//     capture budget (MaxFieldBytes; a body larger than the budget is pruned
//     on the way, still JSON: long strings cut, long arrays shortened) and
//     redacted by key.
//   - output: the reply as one JSON object: {"role", "content", "reasoning"
//     (reasoning summaries, thinking), "refusal", "tool_calls": [{"id",
//     "type" (when not a function), "name", "arguments"}], "finish_reason"},
//     or {"choices": [...]} for several choices; {"embeddings": N,
//     "dimensions": D} for embeddings, whose vectors are not recorded.
//     Arguments are recorded as JSON when they are JSON. Text is kept up to
//     the capture budget; the rest is counted ("…(truncated N bytes)").
//   - metadata: gen_ai.provider.name, gen_ai.operation.name,
//     gen_ai.request.model, the request parameters given
//     (gen_ai.request.temperature, max_tokens, top_p, top_k, seed,
//     stop_sequences, frequency_penalty, presence_penalty, choice.count,
//     encoding_formats; gen_ai.embeddings.dimension.count;
//     openai.request.reasoning_effort, anthropic.request.thinking.budget_tokens,
//     gen_ai.conversation.id), gen_ai.response.id, gen_ai.response.model,
//     gen_ai.response.finish_reasons, gen_ai.usage.input_tokens,
//     gen_ai.usage.output_tokens, gen_ai.usage.cache_read.input_tokens,
//     gen_ai.usage.cache_creation.input_tokens,
//     gen_ai.usage.reasoning.output_tokens (each when the provider sends it),
//     server.address, server.port, http.response.status_code; for streams
//     fluxloop.llm.stream, gen_ai.response.time_to_first_chunk (seconds from
//     the request to the first event the program read) and
//     fluxloop.llm.time_to_first_content (to the first text, reasoning or
//     tool-call delta); fluxloop.llm.cost_usd when priced (see Prices);
//     code.filepath and code.lineno of the program's call into its SDK (the
//     first frame of the calling goroutine outside net/http, this package and
//     the SDKs, told by package and by file: an SDK's code inlined into the
//     program is named after the program's package but its file is in the
//     module cache; see WithLibraryPackages).
//
// Headers are never recorded, nor is the URL beyond its host and port, so
// Authorization, x-api-key, api-key, x-goog-api-key and a key= query
// parameter never reach the trace.
//
// # Providers
//
// Calls are recognised by method (POST), path and content type (JSON):
//
//	…/chat/completions          OpenAI Chat Completions, and every server speaking it
//	…/responses                 OpenAI Responses
//	…/embeddings                OpenAI Embeddings (operation embeddings)
//	…/v1/messages               Anthropic Messages
//	…/models/{m}:generateContent, :streamGenerateContent   Gemini, Vertex AI
//	…/publishers/anthropic/models/{m}:rawPredict, :streamRawPredict   Claude on Vertex AI
//
// and a body that names the model (or a URL that does: Gemini, Vertex AI,
// Azure OpenAI's /openai/deployments/{deployment}/, whose deployment is the
// requested model). The provider is told from the host: api.openai.com
// openai, *.openai.azure.com, *.cognitiveservices.azure.com and
// *.services.ai.azure.com azure.ai.openai, api.anthropic.com anthropic,
// generativelanguage.googleapis.com gcp.gemini, *aiplatform.googleapis.com
// gcp.vertex_ai, openrouter.ai openrouter, api.groq.com groq,
// api.deepseek.com deepseek, api.mistral.ai mistral_ai, api.x.ai x_ai,
// api.perplexity.ai perplexity, api.together.xyz together_ai,
// api.fireworks.ai fireworks_ai, localhost:11434 ollama; any other host
// speaking the OpenAI format is reported as openai (a compatible server:
// vLLM, LM Studio, a gateway), the Anthropic one as anthropic, Gemini's as
// gcp.gemini, except that a Vertex AI path
// (…/projects/{p}/locations/{l}/publishers/{publisher}/models/{m}, or
// …/publishers/{publisher}/models/{m}) is gcp.vertex_ai on any host.
// WithProvider names others.
//
// Gemini's and Vertex AI's enums (finishReason, promptFeedback.blockReason)
// are recorded by name also when the client asks for numbers
// (enum-encoding=int, as generative-ai-go's REST client does), named as the
// Gemini API's or Vertex AI's protos name them; a number neither knows is
// recorded as it is.
//
// Every other request (another method, path or content type) is passed to
// the base transport untouched, after a few string comparisons. So is every
// request when tracing is disabled (fluxloop.Enabled false) or the request's
// context is in an unsampled trace.
//
// # Streams
//
// A streamed response (server-sent events; Gemini's streamed JSON array
// without alt=sse) is read as the program reads it: the transport wraps the
// response body, parses what each Read returned and hands the program the
// same bytes, never reading ahead and keeping only the event being read
// (bounded) and the reply within the capture budget, however long the
// stream. The observation ends when the body reaches its end or is closed.
// Tool calls streamed in fragments (Chat Completions delta.tool_calls by
// index, Responses function_call_arguments deltas, Anthropic
// input_json_delta) are assembled into whole calls; usage is taken as each
// provider sends it (Chat Completions' last chunk, Responses'
// response.completed, Anthropic's message_start and message_delta, output
// tokens overwritten by each message_delta and input and cache counts only
// when present, as the SDK does; Gemini's running totals, the last
// usageMetadata winning).
//
// A stream closed before its end records what arrived, with
// fluxloop.llm.stream_incomplete and status message "stream closed before
// its end"; one cancelled (the request's context done) records the
// context's error ("stream cancelled"); a read error records it ("stream
// interrupted"). A Chat Completions stream requested without
// stream_options.include_usage has no usage: it records
// fluxloop.llm.usage_missing. WithIncludeUsage asks for it.
//
// # Errors and retries
//
// An HTTP error status records the provider's message as the error (an
// *APIError), its error type or code as error.type ("rate_limit_exceeded",
// "overloaded_error", "INVALID_ARGUMENT"; the status code when there is
// none) and status message "HTTP 429". So do error events inside a stream
// (Chat Completions {"error": ...} chunks, Responses error and
// response.failed, Anthropic error events) and a Gemini prompt blocked under
// HTTP 200 (promptFeedback.blockReason: error "prompt blocked: SAFETY",
// error.type "SAFETY"). A request that gets no response records the
// transport's error ("request failed").
//
// Each attempt an SDK makes reaches the transport and is an observation of
// its own. fluxloop.llm.attempt numbers them from the X-Stainless-Retry-Count
// header of openai-go and anthropic-sdk-go; fluxloop.llm.previous_attempt_id
// names the observation of the failed attempt before, found by parent
// observation, URL and body (a request identical to one that failed under
// the same parent in the last five minutes is its retry, also for SDKs that
// send no such header).
//
// # Content, cost, environment
//
// WithoutContent, or FLUXLOOP_LLM_CONTENT=false, records no prompt and no
// reply: model, tokens, timing, finish reasons and the other metadata only.
// fluxloop's own FLUXLOOP_CAPTURE applies too (input, output, none).
//
// Costs are computed from a price table the program supplies (WithPrices,
// or a JSON file named by FLUXLOOP_LLM_PRICES; see Prices for the format and
// how cached and reasoning tokens are billed) and recorded as
// fluxloop.llm.cost_usd. No prices are built in.
//
//	FLUXLOOP_LLM_CONTENT        true    false: WithoutContent for every transport
//	FLUXLOOP_LLM_INCLUDE_USAGE  false   true: WithIncludeUsage for every transport
//	FLUXLOOP_LLM_PRICES                 path of a JSON price table
//
// # Limits
//
//   - Bodies the server compresses itself (a Content-Encoding the program
//     asked for: Go's transport decompresses the gzip it asks for) are
//     passed on unread: fluxloop.llm.body_not_read.
//   - A response body the program never reads to its end nor closes leaves
//     the observation open.
//   - Retries are linked by the failed attempt's parent, URL and body: two
//     identical concurrent calls under one parent that both fail may be
//     linked crosswise.
//   - Other formats are not recognised: Bedrock, Cohere, Ollama's own /api/chat,
//     legacy /completions, audio, images, Gemini's embedContent, gRPC
//     transports (langchaingo's googleai unless it uses REST).
//   - Long-context price tiers and Anthropic's separate 1-hour cache-write
//     price are not modelled by Prices.
package fluxloopllm
