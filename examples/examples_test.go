// Package examples_test runs every example program and checks the
// observation tree it writes to the default JSONL storage.
package examples_test

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

type observation struct {
	ID       string          `json:"id"`
	TraceID  string          `json:"trace_id"`
	Parent   string          `json:"parent_observation_id"`
	Name     string          `json:"name"`
	Type     string          `json:"type"`
	Error    string          `json:"error"`
	Output   json.RawMessage `json:"output"`
	Metadata map[string]any  `json:"metadata"`
	Tokens   int             `json:"total_tokens"`
}

// edges renders a tree as sorted "parent>child" lines ("" for a root), with
// "!" after observations that recorded an error.
func edges(obs []observation) string {
	byID := map[string]observation{}
	for _, o := range obs {
		byID[o.ID] = o
	}
	var out []string
	for _, o := range obs {
		name := o.Name
		if o.Error != "" {
			name += "!"
		}
		out = append(out, byID[o.Parent].Name+">"+name)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func TestExamples(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the example programs")
	}
	for _, tc := range []struct {
		dir  string
		args []string
		want string
	}{
		{"basic", nil, ">AsyncAgent"},
		{"chain", nil, ">AsyncAgent AsyncAgent>FetchContext AsyncAgent>GenerateResponse"},
		{"gather", nil, ">ParallelAgent ParallelAgent>CallAPI1 ParallelAgent>CallAPI2"},
		{"blockspan", nil, ">QueryAgent QueryAgent>database_connection"},
		{"errors", nil, ">AsyncAgentWithError! >Explode! AsyncAgentWithError>Validate!"},
		{"httpagent", []string{"-once"}, ">AgentEndpoint AgentEndpoint>Process"},
		{"streaming", nil, ">StreamingAgent >TokenSeq"},
		{"fanout", nil, ">Gather Gather>CallAPI Gather>CallAPI Gather>CallAPI"},
		// The model call is recorded by fluxloopllm's transport, under the
		// step that made it (offline: the example's fake server).
		{"llm", nil, ">Assistant.Answer Assistant.Answer>Assistant.Lookup Assistant.Answer>Assistant.Stream Assistant.Stream>chat gpt-4o-mini"},
		// Two processes, one trace: each tool call is the agent's tool
		// observation with the server's under it (see examples/mcptool).
		{"mcptool", nil, ">Agent.Research Agent.Research>Summarize Agent.Research>search Agent.Research>word_count search>SearchIndex search>search word_count>CountWords word_count>word_count"},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command("go", append([]string{"run", "./" + tc.dir}, tc.args...)...)
			cmd.Env = append(os.Environ(), "FLUXLOOP_DIR="+dir, "FLUXLOOP_STORAGE=file")
			if tc.dir == "llm" { // offline, whatever the environment says
				cmd.Env = append(cmd.Env, "OPENAI_API_KEY=", "OPENAI_MODEL=")
			}
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("go run ./%s: %v\n%s", tc.dir, err, out)
			}
			obs := read(t, filepath.Join(dir, "observations.jsonl"))
			if got := edges(obs); got != tc.want {
				t.Errorf("tree %q, want %q", got, tc.want)
			}
			if tc.dir == "streaming" {
				for _, o := range obs {
					if o.Name == "TokenSeq" && string(o.Output) != `["Token 0: Hi","Token 1: Hi","Token 2: Hi"]` {
						t.Errorf("TokenSeq output %s, want the 3 tokens delivered before the break", o.Output)
					}
				}
			}
			if tc.dir == "llm" {
				for _, o := range obs {
					if o.Type == "generation" && (o.Tokens == 0 || o.Metadata["gen_ai.response.time_to_first_chunk"] == nil) {
						t.Errorf("%s: no usage or no time to first chunk: tokens %d, metadata %v", o.Name, o.Tokens, o.Metadata)
					}
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "traces.jsonl")); err != nil {
				t.Errorf("no traces.jsonl: %v", err)
			}
		})
	}
}

func read(t *testing.T, path string) []observation {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var obs []observation
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var o observation
		if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		obs = append(obs, o)
	}
	return obs
}
