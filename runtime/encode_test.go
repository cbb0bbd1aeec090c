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

// records fills the record of each span as the writer does.
func records(c *Client, spans []*Span) []Record {
	w := &writer{c: c, pcs: make(pcPositions), traceMD: staticTraceMetadata(c)}
	out := make([]Record, len(spans))
	for i, s := range spans {
		w.fill(&out[i], s)
	}
	return out
}

// The encoder writes the same bytes whether it uses the site's cached
// encodings or the record's fields, with a fresh or a used Encoder, and its
// objects decode to the record's read model.
func TestEncoderMatchesReadModel(t *testing.T) {
	c, err := NewClient(WithStorage(NewMemoryStorage()), WithMaxFieldBytes(128), WithServiceName("svc"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Shutdown(context.Background())
	recs := records(c, spanSamples(t, c))
	var used Encoder
	for pass := range 2 {
		for i := range recs {
			r := &recs[i]
			got := used.AppendObservation(nil, r)
			plain := *r
			plain.head, plain.mdJSON = nil, nil
			if want := plain.AppendJSON(nil); !bytes.Equal(got, want) {
				t.Errorf("pass %d, %s:\ncached %s\nfields %s", pass, r.Name, got, want)
			}
			var back Observation
			if err := json.Unmarshal(got, &back); err != nil {
				t.Fatalf("%v: %s", err, got)
			}
			if want := r.Observation(); !sameJSON(t, back, want) {
				t.Errorf("%s: decoded %+v\nwant %+v", r.Name, back, want)
			}
			if !back.StartTime.Equal(r.Start) || !back.EndTime.Equal(r.End) {
				t.Errorf("%s: times %v %v, want %v %v", r.Name, back.StartTime, back.EndTime, r.Start, r.End)
			}
			if r.Root {
				var tr Trace
				line := used.AppendTrace(nil, r)
				if err := json.Unmarshal(line, &tr); err != nil {
					t.Fatalf("%v: %s", err, line)
				}
				if want := r.TraceRecord(); !sameJSON(t, tr, want) {
					t.Errorf("trace: decoded %+v\nwant %+v", tr, want)
				}
			}
		}
	}
}

// sameJSON compares two values by their encoding/json encodings.
func sameJSON(t *testing.T, a, b any) bool {
	t.Helper()
	ja, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	var va, vb any
	json.Unmarshal(ja, &va)
	json.Unmarshal(jb, &vb)
	return reflect.DeepEqual(va, vb)
}

// Times in one second reuse the cached text; others do not, across years,
// before 1970, and outside 1..9999.
func TestEncoderTimes(t *testing.T) {
	var e Encoder
	times := []time.Time{
		time.Date(2026, 12, 1, 10, 0, 0, 5, time.UTC),
		time.Date(2026, 12, 1, 10, 0, 0, 999999999, time.UTC),
		time.Date(2026, 12, 1, 10, 0, 1, 0, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 1, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 2, time.FixedZone("x", 3600)),
		time.Date(10000, 1, 1, 0, 0, 0, 7, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 8, time.UTC),
		time.Date(2026, 12, 1, 10, 0, 1, 123, time.FixedZone("y", -7200)),
	}
	for _, tm := range times {
		got := string(e.appendTime(nil, tm))
		want := string(appendTime(nil, tm))
		if got != want {
			t.Errorf("%v: %s, want %s", tm, got, want)
		}
	}
}

// Record.Clone shares no memory with the record.
func TestRecordClone(t *testing.T) {
	c, err := NewClient(WithStorage(NewMemoryStorage()), WithServiceName("svc"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Shutdown(context.Background())
	recs := records(c, spanSamples(t, c))
	for i := range recs {
		r := &recs[i]
		want := r.AppendJSON(nil)
		cl := r.Clone()
		for j := range r.Input {
			r.Input[j] = 'X'
		}
		for j := range r.Output {
			r.Output[j] = 'X'
		}
		if got := cl.AppendJSON(nil); !bytes.Equal(got, want) {
			t.Errorf("clone changed with the record:\n%s\n%s", got, want)
		}
	}
}

func TestStdoutStorageTagsRecords(t *testing.T) {
	var buf bytes.Buffer
	st := &StdoutStorage{w: &buf, enc: Encoder{tag: true}}
	// The spans are recorded by c, whose writer (woken when the root ends)
	// writes them to memory; the test writes them to st through c2's
	// configuration, whose own writer never gets a span.
	c, err := NewClient(WithStorage(NewMemoryStorage()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Shutdown(context.Background())
	c2, err := NewClient(WithStorage(st))
	if err != nil {
		t.Fatal(err)
	}
	spans := spanSamples(t, c)
	w := &writer{c: c2, pcs: make(pcPositions), pending: slices.Clone(spans)}
	w.write(context.Background())
	w.pending = slices.Clone(spans)
	w.write(context.Background())
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
	c2.Shutdown(context.Background())
}
