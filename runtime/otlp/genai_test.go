package otlp_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"github.com/fluxloop/fluxloop-go/runtime/otlp"
	"go.opentelemetry.io/otel/trace"
)

// A generation's recorded request and reply become the GenAI conventions'
// opt-in content attributes for each provider's request shape; without the
// opt-in they are absent, and finish reasons are a string slice either way.
func TestGenAIContent(t *testing.T) {
	reply := `{"role":"assistant","content":"Paris.","tool_calls":[{"id":"call_1","type":"function","name":"lookup","arguments":{"city":"Paris"}}],"finish_reason":"tool_calls"}`
	wantOut := `[{"role":"assistant","parts":[{"type":"text","content":"Paris."},{"type":"tool_call","id":"call_1","name":"lookup","arguments":{"city":"Paris"}}],"finish_reason":"tool_calls"}]`
	cases := []struct {
		name, input, wantIn, wantSystem, wantTools string
	}{{
		name:       "openai chat",
		input:      `{"model":"gpt-4o","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"Capital of France?"}]},{"role":"assistant","tool_calls":[{"id":"c0","type":"function","function":{"name":"lookup","arguments":"{\"q\":\"France\"}"}}]},{"role":"tool","tool_call_id":"c0","content":"France: Paris"}],"tools":[{"type":"function","function":{"name":"lookup"}}]}`,
		wantIn:     `[{"role":"user","parts":[{"type":"text","content":"Capital of France?"}]},{"role":"assistant","parts":[{"type":"tool_call","id":"c0","name":"lookup","arguments":{"q":"France"}}]},{"role":"tool","parts":[{"type":"tool_call_response","id":"c0","response":"France: Paris"}]}]`,
		wantSystem: `[{"type":"text","content":"Be brief."}]`,
		wantTools:  `[{"type":"function","function":{"name":"lookup"}}]`,
	}, {
		name:       "anthropic",
		input:      `{"model":"claude-sonnet-4-5","system":[{"type":"text","text":"Be brief."}],"messages":[{"role":"user","content":"Capital of France?"},{"role":"assistant","content":[{"type":"tool_use","id":"tu1","name":"lookup","input":{"q":"France"}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"tu1","content":[{"type":"text","text":"Paris"}]}]}]}`,
		wantIn:     `[{"role":"user","parts":[{"type":"text","content":"Capital of France?"}]},{"role":"assistant","parts":[{"type":"tool_call","id":"tu1","name":"lookup","arguments":{"q":"France"}}]},{"role":"user","parts":[{"type":"tool_call_response","id":"tu1","response":"Paris"}]}]`,
		wantSystem: `[{"type":"text","content":"Be brief."}]`,
	}, {
		name:       "gemini",
		input:      `{"systemInstruction":{"parts":[{"text":"Be brief."}]},"contents":[{"role":"user","parts":[{"text":"Capital of France?"}]},{"role":"model","parts":[{"functionCall":{"name":"lookup","args":{"q":"France"}}}]},{"role":"user","parts":[{"functionResponse":{"name":"lookup","response":{"city":"Paris"}}}]}]}`,
		wantIn:     `[{"role":"user","parts":[{"type":"text","content":"Capital of France?"}]},{"role":"assistant","parts":[{"type":"tool_call","name":"lookup","arguments":{"q":"France"}}]},{"role":"user","parts":[{"type":"tool_call_response","name":"lookup","response":{"city":"Paris"}}]}]`,
		wantSystem: `[{"type":"text","content":"Be brief."}]`,
	}, {
		name:       "openai responses",
		input:      `{"model":"gpt-4o","instructions":"Be brief.","input":[{"role":"user","content":[{"type":"input_text","text":"Capital of France?"}]},{"type":"function_call","call_id":"fc1","name":"lookup","arguments":"{\"q\":\"France\"}"},{"type":"function_call_output","call_id":"fc1","output":"Paris"}]}`,
		wantIn:     `[{"role":"user","parts":[{"type":"text","content":"Capital of France?"}]},{"role":"assistant","parts":[{"type":"tool_call","id":"fc1","name":"lookup","arguments":{"q":"France"}}]},{"role":"tool","parts":[{"type":"tool_call_response","id":"fc1","response":"Paris"}]}]`,
		wantSystem: `[{"type":"text","content":"Be brief."}]`,
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := fluxloop.Record{
				TraceID: testTrace, ID: spanID(1), Root: true,
				Type: fluxloop.TypeGeneration, Name: "chat gpt-4o",
				Start: testStart, End: testStart.Add(time.Second), Level: fluxloop.LevelInfo,
				Input: json.RawMessage(tc.input), Output: json.RawMessage(reply),
				Metadata: []fluxloop.Field{{Key: "gen_ai.response.finish_reasons", Value: json.RawMessage(`["tool_calls"]`)}},
			}
			spans := write(t, []fluxloop.Record{rec}, otlp.WithGenAIContent(true))
			if len(spans) != 1 {
				t.Fatalf("%d spans", len(spans))
			}
			if spans[0].SpanKind() != trace.SpanKindClient {
				t.Errorf("kind %v, want client", spans[0].SpanKind())
			}
			a := attrMap(t, spans[0].Attributes())
			for key, want := range map[string]string{
				"gen_ai.input.messages":      tc.wantIn,
				"gen_ai.output.messages":     wantOut,
				"gen_ai.system_instructions": tc.wantSystem,
				"gen_ai.tool.definitions":    tc.wantTools,
			} {
				got := a[key].AsString()
				if want == "" {
					if _, ok := a[key]; ok {
						t.Errorf("%s = %s, want none", key, got)
					}
					continue
				}
				if !sameJSONText(got, want) {
					t.Errorf("%s =\n%s\nwant\n%s", key, got, want)
				}
			}
			if got := a["gen_ai.response.finish_reasons"].AsStringSlice(); !reflect.DeepEqual(got, []string{"tool_calls"}) {
				t.Errorf("finish reasons %v", got)
			}

			plain := attrMap(t, write(t, []fluxloop.Record{rec}, otlp.WithGenAIContent(false))[0].Attributes())
			if _, ok := plain["gen_ai.input.messages"]; ok {
				t.Errorf("content exported without the opt-in")
			}
			if _, ok := plain["fluxloop.input"]; !ok {
				t.Errorf("fluxloop.input missing")
			}
		})
	}
}

func TestGenAIContentFromEnvironment(t *testing.T) {
	t.Setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
	rec := fluxloop.Record{
		TraceID: testTrace, ID: spanID(1), Root: true, Type: fluxloop.TypeGeneration, Name: "chat m",
		Start: testStart, End: testStart, Level: fluxloop.LevelInfo,
		Input: json.RawMessage(`{"messages":[{"role":"user","content":"hi"}]}`),
	}
	a := attrMap(t, write(t, []fluxloop.Record{rec})[0].Attributes())
	if !sameJSONText(a["gen_ai.input.messages"].AsString(), `[{"role":"user","parts":[{"type":"text","content":"hi"}]}]`) {
		t.Errorf("input messages %q", a["gen_ai.input.messages"].AsString())
	}
	if _, ok := a["gen_ai.output.messages"]; ok {
		t.Errorf("output messages without an output")
	}
}

func sameJSONText(a, b string) bool {
	var va, vb any
	if json.Unmarshal([]byte(a), &va) != nil || json.Unmarshal([]byte(b), &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}
