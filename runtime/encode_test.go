package fluxloop

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	cases := []string{"", "plain", "quote\" backslash\\ nl\n tab\t cr\r", "\x00\x1f\x7f", "<>&", "é ü 日本",
		"\u2028\u2029", "bad \xff utf8 \xc3", "emoji 😀"}
	r := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		b := make([]byte, r.IntN(20))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		cases = append(cases, string(b))
	}
	for _, s := range cases {
		enc := appendString(nil, s)
		var got string
		if err := json.Unmarshal(enc, &got); err != nil {
			t.Fatalf("appendString(%q) = %s: %v", s, enc, err)
		}
		want := strings.ToValidUTF8(s, "\uFFFD")
		if !utf8.ValidString(s) {
			// encoding/json replaces each invalid byte; so do we
			var w string
			std, _ := json.Marshal(s)
			json.Unmarshal(std, &w)
			want = w
		}
		if got != want {
			t.Errorf("appendString(%q) decodes to %q, want %q", s, got, want)
		}
	}
}

func TestAppendFloat(t *testing.T) {
	for _, f := range []float64{0, 1, -1.5, 1e20, 1e21, 1e-6, 1e-7, 123456789.125, math.MaxFloat64, math.SmallestNonzeroFloat64} {
		got := string(appendFloat(nil, f))
		want, _ := json.Marshal(f)
		if got != string(want) {
			t.Errorf("appendFloat(%v) = %s, want %s", f, got, want)
		}
	}
}

// spanSamples makes finished spans covering every field the writer encodes.
func spanSamples(t *testing.T, c *Client) []*Span {
	prev := SetDefault(c)
	t.Cleanup(func() { SetDefault(prev) })
	var out []*Span
	site := &Site{Name: "f", Type: TypeTool, Params: []string{"a", "password"}}
	ctx, root := Start(context.Background(), "root \"quoted\"", WithInput("q", "x"), WithMetadata("m", []int{1}))
	SetTrace(ctx, TraceInfo{SessionID: "s", UserID: "u", Tags: []string{"t1"}, Metadata: map[string]any{"token": "x", "n": 2}})
	out = append(out, root)
	_, s := Enter(ctx, site)
	s.Inputs(V(1), V("secret"), V(map[string]string{"apiKey": "k"}), V(2.5), V(true), V(errors.New("e")))
	s.SetAttributes(Attribute("b", 1), Attribute("a", "x"), Attribute("b", 2), Attribute("long", strings.Repeat("z", 300)))
	s.SetUsage(Usage{Model: "m", PromptTokens: 1, CompletionTokens: 2})
	s.Return(errors.New("failed"), V(1), V("two"))
	out = append(out, s)
	_, s = Enter(ctx, &Site{Name: "plain", Params: []string{"x"}})
	s.Inputs(V(strings.Repeat("é", 100)))
	s.Return(nil, V([]string{"a"}))
	out = append(out, s)
	_, s = Enter(ctx, &Site{Name: "nopos"})
	s.site.pos.Store(&sitePos{})
	s.Panic("boom")
	out = append(out, s)
	_, s = Enter(ctx, &Site{Name: "output"})
	s.SetOutput(struct{ Password string }{"p"})
	s.End()
	out = append(out, s)
	root.Return(nil, V(42))
	return out
}

// The two encodings of the writer produce the same bytes.
func TestLineEncodingMatchesRecords(t *testing.T) {
	c, err := NewClient(WithStorage(NewMemoryStorage()), WithMaxFieldBytes(128), WithServiceName("svc"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Shutdown(context.Background())
	spans := spanSamples(t, c)
	for _, record := range []string{"", "observation"} {
		w := &writer{c: c, pcs: make(pcPositions)}
		for _, s := range spans {
			line := w.appendObservationLine(nil, w.prepare(s, false), record)
			p := w.prepare(s, true)
			o := w.observation(p)
			want := o.appendJSON(nil, record)
			if !bytes.Equal(line, want) {
				t.Errorf("%s:\nline   %s\nrecord %s", s.site.Name, line, want)
			}
			if !json.Valid(line) {
				t.Errorf("invalid JSON: %s", line)
			}
			if s.up == nil {
				tl := w.appendTraceLine(nil, w.prepare(s, false), record)
				tr := w.trace(w.prepare(s, true), &o)
				if want := tr.appendJSON(nil, record); !bytes.Equal(tl, want) {
					t.Errorf("trace:\nline   %s\nrecord %s", tl, want)
				}
			}
		}
	}
}

// Observations survive a round trip through their JSON.
func TestObservationRoundTrip(t *testing.T) {
	c, err := NewClient(WithStorage(NewMemoryStorage()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Shutdown(context.Background())
	w := &writer{c: c, pcs: make(pcPositions)}
	for _, s := range spanSamples(t, c) {
		o := w.observation(w.prepare(s, true))
		b, err := json.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		var back Observation
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		b2, _ := json.Marshal(back)
		if !bytes.Equal(b, b2) {
			t.Errorf("round trip changed:\n%s\n%s", b, b2)
		}
		if !back.StartTime.Equal(o.StartTime) || back.StartTime.Location() != time.UTC {
			t.Errorf("start time %v -> %v", o.StartTime, back.StartTime)
		}
	}
}

func TestStdoutStorageTagsRecords(t *testing.T) {
	var buf bytes.Buffer
	st := &StdoutStorage{w: &buf}
	c, err := NewClient(WithStorage(st))
	if err != nil {
		t.Fatal(err)
	}
	spans := spanSamples(t, c)
	w := &writer{c: c, pcs: make(pcPositions), pending: slices.Clone(spans)}
	w.write(context.Background()) // the line path
	w.pending = slices.Clone(spans)
	if err := w.writeBatch(context.Background()); err != nil { // the record path
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		if !strings.HasPrefix(line, `{"record":"`) {
			t.Errorf("line without a leading record field: %s", line)
		}
		counts[m["record"].(string)]++
	}
	if !reflect.DeepEqual(counts, map[string]int{"observation": 10, "trace": 2}) {
		t.Errorf("records %v", counts)
	}
	c.Shutdown(context.Background())
}
