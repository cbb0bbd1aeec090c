package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// JaegerVersion is the Jaeger release scripts/jaeger.sh builds.
const JaegerVersion = "v1.76.0"

// Bounds of the waits.
const (
	startTimeout = 60 * time.Second // Jaeger ready
	runTimeout   = 2 * time.Minute  // building and running the agent
	pollTimeout  = 30 * time.Second // the trace visible in Jaeger
)

// jaegerBinary returns the path of the Jaeger binary: FLUXLOOP_JAEGER, or the
// cache path scripts/jaeger.sh builds into.
func jaegerBinary() string {
	if p := os.Getenv("FLUXLOOP_JAEGER"); p != "" {
		return p
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "fluxloop", "jaeger-"+JaegerVersion)
}

// jaegerConfig is a minimal Jaeger v2 configuration: OTLP/HTTP in, memory
// storage, the query API; every endpoint on loopback.
const jaegerConfig = `service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: info
extensions:
  jaeger_query:
    enable_tracing: false
    storage:
      traces: mem
    http:
      endpoint: 127.0.0.1:%d
    grpc:
      endpoint: 127.0.0.1:%d
  jaeger_storage:
    backends:
      mem:
        memory:
          max_traces: 10000
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:%d
exporters:
  jaeger_storage_exporter:
    trace_storage: mem
`

// jaeger is a running Jaeger.
type jaeger struct {
	queryURL string // http://127.0.0.1:port of the query API
	otlpURL  string // http://127.0.0.1:port of the OTLP/HTTP receiver
	log      string // path of its output
}

// freePorts returns n distinct free loopback TCP ports.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("finding a free port: %v", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

// startJaeger starts bin with a configuration on free ports and waits until
// its query API answers; it is killed when the test ends.
func startJaeger(t *testing.T, bin string) *jaeger {
	t.Helper()
	dir := t.TempDir()
	ports := freePorts(t, 3)
	cfg := filepath.Join(dir, "jaeger.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, jaegerConfig, ports[0], ports[1], ports[2]), 0o600); err != nil {
		t.Fatal(err)
	}
	j := &jaeger{
		queryURL: fmt.Sprintf("http://127.0.0.1:%d", ports[0]),
		otlpURL:  fmt.Sprintf("http://127.0.0.1:%d", ports[2]),
		log:      filepath.Join(dir, "jaeger.log"),
	}
	logf, err := os.Create(j.log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config=file:"+cfg)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), "HOME="+dir, "TMPDIR="+dir)
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("starting Jaeger %s: %v", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); logf.Close() }()
	t.Cleanup(func() {
		cmd.Process.Kill() // always, even when the test failed
		<-exited
		if t.Failed() {
			if out, err := os.ReadFile(j.log); err == nil {
				t.Logf("Jaeger output:\n%s", tail(out, 60))
			}
		}
	})

	start := time.Now()
	deadline := start.Add(startTimeout)
	for {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("Jaeger exited before it was ready: %v", err)
		default:
		}
		if ready(j.queryURL+"/api/services") && dialable(ports[2]) {
			t.Logf("Jaeger %s ready in %v (query %s, OTLP %s)", JaegerVersion, time.Since(start).Round(time.Millisecond), j.queryURL, j.otlpURL)
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("Jaeger not ready after %v", startTimeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func ready(url string) bool {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func dialable(port int) bool {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// tail returns the last n lines of b.
func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// goCommand returns the go command that runs this test.
func goCommand() string {
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); fileExists(p) {
		return p
	}
	return "go"
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// Jaeger's query API (the v1 JSON model that /api/traces serves).
type (
	apiResponse struct {
		Data   []apiTrace `json:"data"`
		Errors []any      `json:"errors"`
	}
	apiTrace struct {
		TraceID   string                `json:"traceID"`
		Spans     []apiSpan             `json:"spans"`
		Processes map[string]apiProcess `json:"processes"`
	}
	apiSpan struct {
		TraceID       string   `json:"traceID"`
		SpanID        string   `json:"spanID"`
		OperationName string   `json:"operationName"`
		References    []apiRef `json:"references"`
		StartTime     int64    `json:"startTime"` // µs
		Duration      int64    `json:"duration"`  // µs
		Tags          []apiKV  `json:"tags"`
		Logs          []apiLog `json:"logs"`
		ProcessID     string   `json:"processID"`
	}
	apiRef struct {
		RefType string `json:"refType"`
		TraceID string `json:"traceID"`
		SpanID  string `json:"spanID"`
	}
	apiKV struct {
		Key   string `json:"key"`
		Type  string `json:"type"`
		Value any    `json:"value"`
	}
	apiLog struct {
		Timestamp int64   `json:"timestamp"`
		Fields    []apiKV `json:"fields"`
	}
	apiProcess struct {
		ServiceName string `json:"serviceName"`
	}
)

// tags returns key/value pairs as a map, values printed with %v.
func tags(kvs []apiKV) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		m[kv.Key] = fmt.Sprint(kv.Value)
	}
	return m
}

// getJSON decodes the JSON at url into v; found is false on 404.
func getJSON(url string, v any) (found bool, err error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return false, nil
	}
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return false, fmt.Errorf("GET %s: decoding: %w", url, err)
	}
	return true, nil
}

// TestJaeger exports a run of cmd/e2eagent to a real Jaeger over OTLP/HTTP
// and checks the span tree Jaeger serves back.
func TestJaeger(t *testing.T) {
	bin := jaegerBinary()
	if !fileExists(bin) {
		t.Skipf("Jaeger binary not found at %q: run `bash scripts/jaeger.sh` (builds Jaeger %s into the cache, about 7 minutes once) or set FLUXLOOP_JAEGER", bin, JaegerVersion)
	}
	testStart := time.Now()
	j := startJaeger(t, bin)

	// Build the instrumented agent, then run it against Jaeger.
	dir := t.TempDir()
	agent := filepath.Join(dir, "e2eagent")
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	buildStart := time.Now()
	build := exec.CommandContext(ctx, goCommand(), "build", "-o", agent, "github.com/fluxloop/fluxloop-go/internal/e2e/cmd/e2eagent")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the agent: %v\n%s", err, out)
	}
	t.Logf("agent built in %v", time.Since(buildStart).Round(time.Millisecond))

	service := fmt.Sprintf("fluxloop-e2e-%d-%d", os.Getpid(), time.Now().UnixNano())
	run := exec.CommandContext(ctx, agent)
	run.Dir = dir
	run.Env = append(os.Environ(),
		"FLUXLOOP_ENABLED=true",
		"FLUXLOOP_STORAGE=otlp",
		"FLUXLOOP_SAMPLE_RATE=1",
		"FLUXLOOP_DIR="+filepath.Join(dir, ".fluxloop"),
		"OTEL_EXPORTER_OTLP_ENDPOINT="+j.otlpURL,
		"OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=",
		"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=",
		"OTEL_EXPORTER_OTLP_HEADERS=",
		"OTEL_SERVICE_NAME="+service,
		"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true",
	)
	var stderr bytes.Buffer
	run.Stderr = &stderr
	runStart := time.Now()
	out, err := run.Output()
	if err != nil {
		t.Fatalf("running the agent: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr.Bytes())
	}
	t.Logf("agent ran in %v", time.Since(runStart).Round(time.Millisecond))
	traceID := ""
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "trace_id="); ok {
			traceID = v
		}
	}
	if len(traceID) != 32 {
		t.Fatalf("no trace_id=<32 hex digits> line in the agent's output:\n%s", out)
	}

	// Poll Jaeger until the run's three spans are there.
	pollStart := time.Now()
	var tr apiTrace
	for {
		var resp apiResponse
		found, err := getJSON(j.queryURL+"/api/traces/"+traceID, &resp)
		if err != nil {
			t.Fatal(err)
		}
		if found && len(resp.Data) == 1 && len(resp.Data[0].Spans) >= 3 {
			tr = resp.Data[0]
			break
		}
		if time.Since(pollStart) > pollTimeout {
			t.Fatalf("trace %s not in Jaeger with 3 spans after %v (last answer: %+v)", traceID, pollTimeout, resp)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("trace visible in Jaeger after %v", time.Since(pollStart).Round(time.Millisecond))

	checkTree(t, tr, traceID, service)

	// The service is listed, and searching by it finds the trace.
	var search apiResponse
	if _, err := getJSON(j.queryURL+"/api/traces?service="+service+"&limit=20", &search); err != nil {
		t.Fatal(err)
	}
	if len(search.Data) != 1 || search.Data[0].TraceID != traceID {
		t.Errorf("searching service %s found %d traces, want just %s", service, len(search.Data), traceID)
	}
	t.Logf("end-to-end test took %v", time.Since(testStart).Round(time.Millisecond))
}

// checkTree checks the agent's run as Jaeger returns it.
func checkTree(t *testing.T, tr apiTrace, traceID, service string) {
	t.Helper()
	if tr.TraceID != traceID {
		t.Errorf("trace id %s, want %s", tr.TraceID, traceID)
	}
	if len(tr.Spans) != 4 {
		t.Fatalf("%d spans, want 4", len(tr.Spans))
	}
	spans := map[string]apiSpan{}
	for _, s := range tr.Spans {
		spans[s.OperationName] = s
		if s.TraceID != traceID {
			t.Errorf("%s: trace id %s", s.OperationName, s.TraceID)
		}
		if p := tr.Processes[s.ProcessID]; p.ServiceName != service {
			t.Errorf("%s: service %q, want %q", s.OperationName, p.ServiceName, service)
		}
	}
	agent, tool, gen, chat := spans["Answer"], spans["SearchDocs"], spans["GenerateAnswer"], spans["chat demo-model"]
	if agent.SpanID == "" || tool.SpanID == "" || gen.SpanID == "" || chat.SpanID == "" {
		t.Fatalf("spans %v, want Answer, SearchDocs, GenerateAnswer and chat demo-model", tr.Spans)
	}
	if len(chat.References) != 1 || chat.References[0].SpanID != gen.SpanID {
		t.Errorf("chat demo-model: references %v, want CHILD_OF GenerateAnswer (%s)", chat.References, gen.SpanID)
	}
	if len(agent.References) != 0 {
		t.Errorf("Answer has references %v, want none (a root)", agent.References)
	}
	for _, s := range []apiSpan{tool, gen} {
		if len(s.References) != 1 || s.References[0].RefType != "CHILD_OF" || s.References[0].SpanID != agent.SpanID || s.References[0].TraceID != traceID {
			t.Errorf("%s: references %v, want CHILD_OF Answer (%s)", s.OperationName, s.References, agent.SpanID)
		}
		if s.StartTime < agent.StartTime || s.StartTime+s.Duration > agent.StartTime+agent.Duration+2 {
			t.Errorf("%s [%d, +%d µs] is not within Answer [%d, +%d µs]", s.OperationName, s.StartTime, s.Duration, agent.StartTime, agent.Duration)
		}
	}

	want := map[string]map[string]string{
		"Answer": {
			"gen_ai.operation.name":     "invoke_agent",
			"gen_ai.agent.name":         "Answer",
			"fluxloop.observation.type": "agent",
			"fluxloop.input":            `{"question":"What is Go?"}`,
			"span.kind":                 "internal",
		},
		"SearchDocs": {
			"gen_ai.operation.name":     "execute_tool",
			"gen_ai.tool.name":          "SearchDocs",
			"fluxloop.observation.type": "tool",
			"error":                     "true",
			"otel.status_code":          "ERROR",
			"otel.status_description":   "search index unavailable",
			"error.type":                "*errors.errorString",
		},
		"GenerateAnswer": {
			"fluxloop.observation.type": "span",
			"span.kind":                 "internal",
		},
		// the model call, recorded by fluxloopllm with the GenAI attributes
		"chat demo-model": {
			"gen_ai.operation.name":          "chat",
			"gen_ai.provider.name":           "openai",
			"gen_ai.request.model":           "demo-model",
			"gen_ai.response.model":          "demo-model",
			"gen_ai.response.id":             "chatcmpl-e2e",
			"gen_ai.response.finish_reasons": `["stop"]`,
			"gen_ai.usage.input_tokens":      "12",
			"gen_ai.usage.output_tokens":     "7",
			"fluxloop.observation.type":      "generation",
			"span.kind":                      "client",
			"server.address":                 "127.0.0.1",
			"gen_ai.input.messages":          `[{"role":"user","parts":[{"type":"text","content":"What is Go?"}]}]`,
			"gen_ai.system_instructions":     `[{"type":"text","content":"Answer from 0 documents."}]`,
			"gen_ai.output.messages":         `[{"role":"assistant","parts":[{"type":"text","content":"Go is a programming language."}],"finish_reason":"stop"}]`,
		},
	}
	for _, s := range tr.Spans {
		for k, v := range tags(s.Tags) {
			if strings.Contains(v, "sk-e2e") {
				t.Errorf("%s: tag %s holds the API key: %s", s.OperationName, k, v)
			}
		}
	}
	for name, kv := range want {
		got := tags(spans[name].Tags)
		for k, v := range kv {
			if got[k] != v {
				t.Errorf("%s: tag %s = %q, want %q", name, k, got[k], v)
			}
		}
		if !strings.HasSuffix(got["code.file.path"], "e2eagent/main.go") || got["code.line.number"] == "" {
			t.Errorf("%s: code position %q:%q", name, got["code.file.path"], got["code.line.number"])
		}
		if name != "SearchDocs" {
			if _, isErr := got["error"]; isErr || got["otel.status_code"] == "ERROR" {
				t.Errorf("%s: marked as an error: %v", name, got)
			}
		}
	}

	// the tool's error is an exception event
	var exception map[string]string
	for _, l := range tool.Logs {
		if f := tags(l.Fields); f["event"] == "exception" {
			exception = f
		}
	}
	if exception == nil {
		t.Fatalf("SearchDocs: no exception event in %v", tool.Logs)
	}
	if exception["exception.message"] != "search index unavailable" || exception["exception.type"] != "*errors.errorString" {
		t.Errorf("SearchDocs: exception event %v", exception)
	}
}

// TestJaegerBinaryPath checks the default path matches scripts/jaeger.sh.
func TestJaegerBinaryPath(t *testing.T) {
	t.Setenv("FLUXLOOP_JAEGER", "")
	t.Setenv("XDG_CACHE_HOME", "/cache")
	if got := jaegerBinary(); got != "/cache/fluxloop/jaeger-v1.76.0" {
		t.Errorf("jaegerBinary() = %q", got)
	}
	script, err := os.ReadFile(filepath.Join("..", "..", "scripts", "jaeger.sh"))
	if errors.Is(err, os.ErrNotExist) {
		t.Skip("scripts/jaeger.sh not found")
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"JAEGER_VERSION=" + JaegerVersion, `${XDG_CACHE_HOME:-$HOME/.cache}/fluxloop`, "FLUXLOOP_JAEGER"} {
		if !bytes.Contains(script, []byte(s)) {
			t.Errorf("scripts/jaeger.sh does not contain %q", s)
		}
	}
}
