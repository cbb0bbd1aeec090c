// Package llmtest holds the conformance tests of runtime/fluxloopllm against
// the real LLM SDKs: github.com/openai/openai-go/v3,
// github.com/anthropics/anthropic-sdk-go/v2, github.com/sashabaranov/go-openai,
// github.com/tmc/langchaingo (its openai, anthropic and googleai providers;
// googleai talks REST through github.com/google/generative-ai-go) and
// google.golang.org/genai (Gemini API and Vertex AI backends).
//
// Each test points an SDK at an in-process httptest server that answers
// with a fixture from testdata, written from the providers' documented
// examples, and makes the SDK's calls under an agent observation of a
// fluxlooptest recorder. The SDK's HTTP client is
//
//	SDK → wire.Tee → fluxloopllm.NewTransport → http.Transport → server
//
// The tee records the request body the SDK sent and every response byte the
// SDK read; the server records what it received and wrote. Besides the
// observation tree and its fields, every test checks that the bytes crossed
// fluxloopllm unchanged in both directions (all of them, or a prefix when the
// SDK stopped early). The tee is a package of its own so that the tests can
// name it to fluxloopllm.WithLibraryPackages and check that the recorded
// source position is the test's call into the SDK.
//
// Nothing here reaches the network.
package llmtest
