package fluxloop

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/netip"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// captureJSON captures v with the default limits, or with those of opts.
func captureJSON(t testing.TB, v any, opts ...Option) (string, slot) {
	t.Helper()
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	s := captureAny(newCapturer(&cfg), v)
	if s.kind == kindJSON && !json.Valid([]byte(s.s)) {
		t.Fatalf("capture of %T is not valid JSON: %s", v, s.s)
	}
	return string(appendValue(nil, &s)), s
}

type schemaDef struct {
	Type       string                `json:"type"`
	Properties map[string]*schemaDef `json:"properties"`
}

// MarshalJSON fills in a nil map, as a real schema library does.
func (d *schemaDef) MarshalJSON() ([]byte, error) {
	if d.Properties == nil {
		d.Properties = map[string]*schemaDef{}
	}
	type plain schemaDef
	return json.Marshal((*plain)(d))
}

func TestCaptureCallsNoMarshaler(t *testing.T) {
	d := &schemaDef{Type: "object"}
	got, _ := captureJSON(t, d)
	if d.Properties != nil {
		t.Fatalf("capture called MarshalJSON, which changed the value")
	}
	if got != `{"type":"object","properties":null}` {
		t.Errorf("captured %s", got)
	}
	// Trusted, the program's own JSON is recorded.
	got, _ = captureJSON(t, &schemaDef{Type: "object"}, WithUserMarshalers(schemaDef{}))
	if got != `{"type":"object","properties":{}}` {
		t.Errorf("trusted marshaler: captured %s", got)
	}
}

type lockedMarshal struct {
	mu *sync.Mutex
	N  int
}

func (l lockedMarshal) MarshalJSON() ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return []byte(`1`), nil
}

func TestCaptureDoesNotTakeCallersLock(t *testing.T) {
	var mu sync.Mutex
	mu.Lock()
	defer mu.Unlock()
	done := make(chan string)
	go func() {
		got, _ := captureJSON(t, lockedMarshal{mu: &mu, N: 3})
		done <- got
	}()
	select {
	case got := <-done:
		if got != `{"N":3}` {
			t.Errorf("captured %s", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("capture blocked on a lock the caller holds")
	}
}

type guardedStats struct {
	mu    sync.Mutex
	Count int
	Names []string
}

type atomicStats struct {
	Hits atomic.Int64
	Name string
}

// TestCaptureReadsNoGuardedMemory runs under -race in CI: a goroutine
// updates the struct under its lock while it is captured.
func TestCaptureReadsNoGuardedMemory(t *testing.T) {
	s := &guardedStats{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	goWG(&wg, func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			s.mu.Lock()
			s.Count++
			s.Names = append(s.Names[:0], "x")
			s.mu.Unlock()
		}
	})
	var got string
	for range 200 {
		got, _ = captureJSON(t, s)
	}
	close(stop)
	wg.Wait()
	if got != `"<fluxloop.guardedStats: not read, it holds a sync.Mutex>"` {
		t.Errorf("captured %s", got)
	}
	if got, _ := captureJSON(t, &atomicStats{Name: "a"}); !strings.Contains(got, "not read, it holds a atomic.Int64") {
		t.Errorf("atomic: captured %s", got)
	}
	type outer struct{ Inner guardedStats }
	if got, _ := captureJSON(t, outer{}); !strings.Contains(got, "fluxloop.outer: not read") {
		t.Errorf("nested lock: captured %s", got)
	}
}

func TestCaptureIsBounded(t *testing.T) {
	big := make([]int, 1_000_000)
	got, s := captureJSON(t, big)
	if !strings.HasSuffix(got, `,"… 999,900 more"]`) || s.n&jsonTruncated == 0 {
		t.Errorf("1e6 slice captured as %.80s…%s", got, got[max(0, len(got)-40):])
	}
	// A growing path of interface values, as a recursive parser hands down.
	path := make([]any, 0, 12000)
	for i := range 12000 {
		path = append(path, map[string]any{"i": i, "k": []any{"x", i}})
	}
	got, _ = captureJSON(t, path)
	if len(got) > DefaultMaxFieldBytes+1024 || !strings.Contains(got, "more") {
		t.Errorf("path captured in %d bytes", len(got))
	}
	// The byte budget holds for any shape, and the result stays valid.
	nested := map[string]any{}
	for i := range 50 {
		nested[fmt.Sprint("k", i)] = strings.Repeat("v", 1000)
	}
	got, s = captureJSON(t, []any{nested, nested, nested}, WithMaxFieldBytes(4096))
	if len(got) > 4096+256 || s.n&jsonTruncated == 0 {
		t.Errorf("budget 4096: %d bytes, truncated=%v", len(got), s.n&jsonTruncated != 0)
	}
	// A 20 KB prompt is kept whole by default.
	prompt := strings.Repeat("word ", 4000)
	if got, _ := captureJSON(t, struct{ Prompt string }{prompt}); !strings.Contains(got, prompt) {
		t.Errorf("20 KB prompt cut")
	}
}

type node struct {
	Val  int
	Next *node
}

func TestCaptureCyclesAndDepth(t *testing.T) {
	a, b := &node{Val: 1}, &node{Val: 2}
	a.Next, b.Next = b, a
	got, _ := captureJSON(t, a)
	if got != `{"Val":1,"Next":{"Val":2,"Next":"<cycle: *fluxloop.node>"}}` {
		t.Errorf("cycle captured as %s", got)
	}
	m := map[string]any{}
	m["self"] = m
	if got, _ := captureJSON(t, m); got != `{"self":"<cycle: map[string]interface {}>"}` {
		t.Errorf("map cycle captured as %s", got)
	}
	var deep any = 1
	for range 30 {
		deep = []any{deep}
	}
	got, _ = captureJSON(t, deep, WithMaxDepth(3))
	if got != `[[["<too deep: []interface {}>"]]]` {
		t.Errorf("depth 3: %s", got)
	}
}

type panickyString struct{ N int }

var stringCalls atomic.Int32

func (p panickyString) String() string { stringCalls.Add(1); panic("String called") }

type badErr struct{}

func (*badErr) Error() string { panic("boom") }

func TestCaptureMethods(t *testing.T) {
	if got, _ := captureJSON(t, panickyString{7}); got != `{"N":7}` || stringCalls.Load() != 0 {
		t.Errorf("captured %s, String called %d times", got, stringCalls.Load())
	}
	if got, _ := captureJSON(t, struct{ Err error }{errors.New("bad input")}); got != `{"Err":"bad input"}` {
		t.Errorf("error field: %s", got)
	}
	if got, _ := captureJSON(t, struct{ Err error }{&badErr{}}); !strings.Contains(got, "Error panicked") && !strings.Contains(got, "{}") {
		t.Errorf("panicking Error: %s", got)
	}
}

type credentials struct {
	User     string
	Password string
}

func (credentials) LogValue() slog.Value { return slog.StringValue("REDACTED") }

type account struct {
	ID    int
	Creds credentials
}

func (a account) LogValue() slog.Value {
	return slog.GroupValue(slog.Int("id", a.ID), slog.Any("creds", a.Creds))
}

func TestCaptureLogValuer(t *testing.T) {
	got, _ := captureJSON(t, credentials{"bob", "hunter2"})
	if got != `"REDACTED"` {
		t.Errorf("captured %s", got)
	}
	got, _ = captureJSON(t, []account{{ID: 1, Creds: credentials{"bob", "hunter2"}}})
	if got != `[{"id":1,"creds":"REDACTED"}]` {
		t.Errorf("nested LogValuer: %s", got)
	}
}

type chatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type chatRequest struct {
	Model       string        `json:"model"`
	Messages    []chatMessage `json:"messages"`
	MaxTokens   int           `json:"max_tokens,omitempty"`
	Temperature *float64      `json:"temperature,omitempty"`
	APIKey      string        `json:"api_key"`
	Org         string        `fluxloop:"redact"`
	Internal    string        `json:"-"`
	Hidden      string        `fluxloop:"-"`
	Stop        []string      `json:"stop,omitzero"`
	internal    int
}

func TestCaptureRequestStruct(t *testing.T) {
	temp := 0.2
	req := chatRequest{
		Model: "gpt-4o", Messages: []chatMessage{{"user", "hi"}}, Temperature: &temp,
		APIKey: "sk-123", Org: "org-1", Internal: "x", Hidden: "y", internal: 3,
	}
	got, _ := captureJSON(t, &req)
	want := `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"temperature":0.2,"api_key":"***","Org":"***"}`
	if got != want {
		t.Errorf("captured\n%s\nwant\n%s", got, want)
	}
	type point struct{ x, y int }
	if got, _ := captureJSON(t, point{1, 2}); got != `{"x":1,"y":2}` {
		t.Errorf("unexported fields: %s", got)
	}
	type Base struct{ ID string }
	type derived struct {
		Base
		Name string `json:"name"`
	}
	if got, _ := captureJSON(t, derived{Base{"b"}, "n"}); got != `{"ID":"b","name":"n"}` {
		t.Errorf("embedded: %s", got)
	}
}

func TestCaptureStandardLibrary(t *testing.T) {
	u, _ := url.Parse("https://bob:pw@example.com/x?q=1")
	tm := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	v := struct {
		T    time.Time
		D    time.Duration
		U    *url.URL
		A    netip.Addr
		N    *big.Int
		Raw  json.RawMessage
		Num  json.Number
		Text []byte
		Bin  []byte
		M    time.Month
		C    complex128
		F    func()
		Ch   chan int
	}{tm, 1500 * time.Millisecond, u, netip.MustParseAddr("10.0.0.1"), big.NewInt(42),
		json.RawMessage(` {"a": 1} `), "12.5", []byte("hello"), []byte{0xff, 0}, time.March, 1 + 2i, func() {}, nil}
	got, _ := captureJSON(t, v)
	want := `{"T":"2026-01-02T03:04:05.000000006Z","D":"1.5s","U":"https://bob:xxxxx@example.com/x?q=1","A":"10.0.0.1","N":"42","Raw":{"a": 1},"Num":12.5,"Text":"hello","Bin":"/wA=","M":"March","C":"(1+2i)","F":"<func()>","Ch":null}`
	if got != want {
		t.Errorf("captured\n%s\nwant\n%s", got, want)
	}
	type hidden struct{ when time.Time }
	if got, _ := captureJSON(t, hidden{tm}); got != `{"when":"2026-01-02T03:04:05.000000006Z"}` {
		t.Errorf("unexported time: %s", got)
	}
}

func TestCaptureMaps(t *testing.T) {
	m := map[string]int{}
	for i := range 300 {
		m[fmt.Sprintf("k%03d", i)] = i
	}
	got, _ := captureJSON(t, m)
	var back map[string]any
	if err := json.Unmarshal([]byte(got), &back); err != nil || len(back) != 101 || back["…"] != "… 200 more" {
		t.Errorf("300-entry map: %d keys, marker %v (%v)", len(back), back["…"], err)
	}
	if got, _ := captureJSON(t, map[int]string{2: "b", 1: "a"}); got != `{"1":"a","2":"b"}` {
		t.Errorf("int keys: %s", got)
	}
}

func TestCaptureAllocations(t *testing.T) {
	req := &chatRequest{Model: "gpt-4o", Messages: []chatMessage{{"user", "hi"}}}
	c := fallbackCapturer
	captureAny(c, req)
	if n := testing.AllocsPerRun(200, func() { captureAny(c, req) }); n > 1 {
		t.Errorf("capturing a request pointer allocates %v times", n)
	}
}

func TestZeroResultsLeftOutOnError(t *testing.T) {
	vs := []Value{V(""), V(0), V(chatRequest{}), V[*chatRequest](nil)}
	if !allZero(vs) {
		t.Errorf("zero values not recognised")
	}
	if allZero([]Value{V(""), V(1)}) {
		t.Errorf("non-zero value taken for zero")
	}
}

func TestCaptureEveryKind(t *testing.T) {
	// Every reflect kind goes through the engine without panicking.
	type all struct {
		B   bool
		I8  int8
		U16 uint16
		F32 float32
		C64 complex64
		Arr [2]string
		Ptr *int
		If  any
		UP  uintptr
	}
	got, _ := captureJSON(t, all{Arr: [2]string{"a", "b"}, If: all{}})
	if !strings.HasPrefix(got, `{"B":false,"I8":0,"U16":0,"F32":0,"C64":"(0+0i)","Arr":["a","b"],"Ptr":null,"If":{`) {
		t.Errorf("captured %s", got)
	}
	for _, v := range []any{reflect.ValueOf(1), reflect.TypeOf(1), &sync.WaitGroup{}, errors.New("e")} {
		captureJSON(t, v)
	}
}

// TestCaptureInternalState: a struct shown by its unexported fields is
// internal state, such as a parser's, whose buffers are cut short so that
// a traced method of it does not copy its whole input on every call.
func TestCaptureInternalState(t *testing.T) {
	type parser struct {
		input  []byte
		tokens []int
		name   string
	}
	p := &parser{input: []byte(strings.Repeat("x", 20000)), tokens: make([]int, 500), name: "p"}
	got, s := captureJSON(t, p)
	if len(got) > 600 || !strings.Contains(got, `"name":"p"`) || !strings.Contains(got, "… 490 more") || s.n&jsonTruncated == 0 {
		t.Errorf("internal state captured in %d bytes: %.300s", len(got), got)
	}
	// An exported payload keeps its 20 KB.
	type request struct{ Prompt []byte }
	if got, _ := captureJSON(t, request{p.input}); len(got) < 20000 {
		t.Errorf("payload cut to %d bytes", len(got))
	}
}
