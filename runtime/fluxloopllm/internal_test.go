package fluxloopllm

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

func TestPrunerKeepsSmallDocuments(t *testing.T) {
	for _, doc := range []string{
		`{"a":1,"b":[true,false,null],"c":{"d":"e\"\\\u00e9"},"f":-1.5e3}`,
		`[1,2,3]`, `"str"`, `{}`, `[]`, ` { "a" : [ { } , [ ] ] } `,
	} {
		p := newPruner(1 << 20)
		for i := range len(doc) { // one byte at a time
			p.write([]byte{doc[i]})
		}
		var x, y any
		if err := json.Unmarshal(p.out, &x); err != nil {
			t.Fatalf("%s -> %s: %v", doc, p.out, err)
		}
		json.Unmarshal([]byte(doc), &y)
		if !reflect.DeepEqual(x, y) {
			t.Errorf("%s -> %s", doc, p.out)
		}
	}
}

func TestPrunerBounds(t *testing.T) {
	const limit = 4096
	long := strings.Repeat("é", 50000) // 2-byte runes: cuts must not split one
	arr := make([]int, 5000)
	doc, _ := json.Marshal(map[string]any{
		"messages": []any{map[string]any{"content": long}, map[string]any{"content": "short"}},
		"vector":   arr,
		"model":    "gpt-4o",
	})
	p := newPruner(limit)
	for len(doc) > 0 {
		n := min(len(doc), 777)
		p.write(doc[:n])
		doc = doc[n:]
	}
	if len(p.out) > 2*limit {
		t.Errorf("pruned to %d bytes", len(p.out))
	}
	var v struct {
		Messages []struct{ Content string }
		Vector   []any
		Model    string
	}
	if err := json.Unmarshal(p.out, &v); err != nil {
		t.Fatalf("%v: %.400s", err, p.out)
	}
	if v.Model != "gpt-4o" || len(v.Messages) != 2 || v.Messages[1].Content != "short" {
		t.Errorf("%.400s", p.out)
	}
	if c := v.Messages[0].Content; !strings.HasSuffix(c, " bytes)") || !strings.HasPrefix(c, "éé") || strings.ContainsRune(c, '\uFFFD') {
		t.Errorf("cut string %q", c[len(c)-40:])
	}
	if last := v.Vector[len(v.Vector)-1]; last != "… 4,744 more" {
		t.Errorf("array ends with %v (%d kept)", last, len(v.Vector)-1)
	}
}

// Random documents pruned at random sizes stay JSON.
func TestPrunerRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var gen func(depth int) any
	gen = func(depth int) any {
		switch k := r.IntN(7); {
		case depth > 5 || k == 0:
			return strings.Repeat(string(rune('a'+r.IntN(26)))+"\"\\\n\u2028", r.IntN(400))
		case k == 1:
			return r.NormFloat64() * 1e6
		case k == 2:
			return nil
		case k < 5:
			a := make([]any, r.IntN(max(300>>(3*depth), 3)))
			for i := range a {
				a[i] = gen(depth + 1)
			}
			return a
		default:
			m := map[string]any{}
			for i := range r.IntN(max(20>>depth, 2)) {
				m[fmt.Sprint("k", i, strings.Repeat("x", r.IntN(300)))] = gen(depth + 1)
			}
			return m
		}
	}
	for i := range 200 {
		doc, _ := json.Marshal(gen(0))
		limit := 256 + r.IntN(8192)
		p := newPruner(limit)
		for len(doc) > 0 {
			n := min(len(doc), 1+r.IntN(100))
			p.write(doc[:n])
			doc = doc[n:]
		}
		if !json.Valid(p.out) {
			t.Fatalf("case %d: not JSON: %.300s", i, p.out)
		}
		if len(p.out) > 5*limit+64<<10 {
			t.Fatalf("case %d: %d bytes for limit %d", i, len(p.out), limit)
		}
	}
}

func TestSSEParser(t *testing.T) {
	stream := ": comment\n\nevent: a\ndata: 1\ndata:2\r\n\r\nid: 7\nretry: 10\ndata: {\"x\": \"y\"}\r\rdata\n\nevent:b\ndata: last"
	var got []string
	for _, step := range []int{1, 2, 3, 5, 1000} {
		got = got[:0]
		p := &sseParser{data: docBuf{limit: 1 << 10}}
		p.onEvent = func(ev, data []byte) { got = append(got, fmt.Sprintf("%s=%s", ev, data)) }
		s := []byte(stream)
		for len(s) > 0 {
			n := min(step, len(s))
			p.write(s[:n])
			s = s[n:]
		}
		p.flush()
		want := []string{"a=1\n2", `={"x": "y"}`, "=", "b=last"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("step %d: %q, want %q", step, got, want)
		}
	}
}

func TestArrayParser(t *testing.T) {
	stream := "[{\"a\":\"]}\\\"\"}\n,\r\n{\"b\":[1,{\"c\":2}]}\n]"
	for _, step := range []int{1, 4, 100} {
		var got []string
		p := &arrayParser{elem: docBuf{limit: 1 << 10}}
		p.onElem = func(e []byte) { got = append(got, string(e)) }
		s := []byte(stream)
		for len(s) > 0 {
			n := min(step, len(s))
			p.write(s[:n])
			s = s[n:]
		}
		want := []string{`{"a":"]}\""}`, `{"b":[1,{"c":2}]}`}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("step %d: %q", step, got)
		}
	}
}

func TestScanner(t *testing.T) {
	doc := []byte(` {"a\"b" : "x\"y", "n": -12, "f": 1.5, "o": {"p": [1, "]", {"q": null}]}, "t": true} `)
	var keys []string
	if !members(doc, func(k, v []byte) bool { keys = append(keys, string(k)+"="+string(v)); return true }) {
		t.Fatal("not read to the end")
	}
	want := []string{`a\"b="x\"y"`, "n=-12", "f=1.5", `o={"p": [1, "]", {"q": null}]}`, "t=true"}
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("%q", keys)
	}
	if o, ok := member(doc, "o"); !ok {
		t.Error("no o")
	} else if v, ok := member(o, "p"); !ok || string(v) != `[1, "]", {"q": null}]` {
		t.Errorf("o.p %s", v)
	}
	if s, _ := str([]byte(`"a\u00e9\ud83d\ude00\n\/"`)); s != "aé😀\n/" {
		t.Errorf("str %q", s)
	}
	if n, ok := integer([]byte("-12")); !ok || n != -12 {
		t.Errorf("integer %d", n)
	}
	for _, bad := range []string{`{"a":`, `{"a" 1}`, `[1,`, `{"a":"x}`, ``} {
		if members([]byte(bad), func(k, v []byte) bool { return true }) {
			t.Errorf("%q read as complete", bad)
		}
	}
}

func TestStripVersion(t *testing.T) {
	for in, want := range map[string]string{
		"gpt-4o-2024-08-06":          "gpt-4o",
		"claude-sonnet-4-5-20250929": "claude-sonnet-4-5",
		"claude-sonnet-4-5@20250929": "claude-sonnet-4-5",
		"gemini-1.5-pro-002":         "gemini-1.5-pro",
		"gpt-4o-mini":                "gpt-4o-mini",
		"gpt-4":                      "gpt-4",
	} {
		if got := stripVersion(in); got != want {
			t.Errorf("stripVersion(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestInjectIncludeUsage(t *testing.T) {
	for in, want := range map[string]string{
		`{}`:                           `{"stream_options":{"include_usage":true}}`,
		` { "stream": true } `:         ` { "stream": true ,"stream_options":{"include_usage":true}} `,
		`{"stream_options": {"x": 1}}`: `{"stream_options": {"include_usage":true,"x": 1}}`,
		`{"stream_options":{ }}`:       `{"stream_options":{"include_usage":true }}`,
		`{"stream_options":{"include_usage": false}}`: `{"stream_options":{"include_usage": true}}`,
	} {
		got, ok := injectIncludeUsage([]byte(in))
		if !ok || string(got) != want {
			t.Errorf("%s -> %s, want %s", in, got, want)
		}
	}
	if _, ok := injectIncludeUsage([]byte(`not json`)); ok {
		t.Error("rewrote a body that is not JSON")
	}
}
