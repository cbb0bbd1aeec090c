package viewertest

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWriteFixtures writes the fixtures to $FLUXLOOP_FIXTURES_DIR (the
// 50,000-observation trace to its big/ subdirectory), to look at them with
// the viewer by hand:
//
//	FLUXLOOP_FIXTURES_DIR=/tmp/fx go test -run TestWriteFixtures ./internal/viewertest/
//	go run ./cmd/fluxloop serve /tmp/fx
func TestWriteFixtures(t *testing.T) {
	dir := os.Getenv("FLUXLOOP_FIXTURES_DIR")
	if dir == "" {
		t.Skip("set FLUXLOOP_FIXTURES_DIR to write the fixtures there")
	}
	big := filepath.Join(dir, "big")
	if err := os.MkdirAll(big, 0o755); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := writeRuns(dir, fixtureRuns(now), true); err != nil {
		t.Fatal(err)
	}
	if err := writeRuns(big, []run{bigRun(now.Add(-time.Minute), 50000)}, true); err != nil {
		t.Fatal(err)
	}
	t.Logf("fixtures in %s and %s", dir, big)
}

// fixture writes the main fixture to a temporary directory and serves it.
func fixture(t *testing.T) (*browser, string) {
	t.Helper()
	if chromePath() == "" {
		t.Skip("no chromium found (set CHROME_PATH, or install it: apt-get install chromium)")
	}
	dir := t.TempDir()
	if err := writeRuns(dir, fixtureRuns(time.Now()), true); err != nil {
		t.Fatal(err)
	}
	url := serve(t, dir)
	return newBrowser(t, url), dir
}

// tracePath is the page of trace n, with observation oid selected when
// given.
func tracePath(n int, oid string) string {
	p := "/trace/" + traceID(n)
	if oid != "" {
		p += "/" + oid
	}
	return p
}

// waitTrace waits until the trace page has loaded its observations.
func waitTrace(b *browser) {
	b.t.Helper()
	b.waitJS("trace loaded", `window.__fluxloopTrace && window.__fluxloopTrace.ready && document.querySelectorAll('[data-testid=tree-row]').length > 0`)
}

func TestTraceList(t *testing.T) {
	b, _ := fixture(t)
	b.open("/")
	b.waitJS("4 traces listed", `document.querySelectorAll('[data-testid=trace-row]').length === 4`)
	rows := jsonOf[[]struct{ ID, Name string }](b, `[...document.querySelectorAll('[data-testid=trace-row]')].map(r => ({ID: r.dataset.id, Name: r.querySelector('td.name').innerText}))`)
	// newest first
	want := []struct{ id, name string }{{traceID(claude), "Researcher"}, {traceID(gather), "ParallelAgent"}, {traceID(chainB), "AsyncAgent"}, {traceID(chainA), "AsyncAgent"}}
	for i, w := range want {
		if rows[i].ID != w.id || rows[i].Name != w.name {
			t.Errorf("row %d = %s %q, want %s %q", i, rows[i].ID, rows[i].Name, w.id, w.name)
		}
	}
	row := `[data-testid=trace-row][data-id="` + traceID(gather) + `"]`
	if n := count(b, row+` [data-testid=error-count]`); n != 1 {
		t.Errorf("gather row: %d error counts, want 1", n)
	}
	if s := text(b, `[data-testid=trace-row][data-id="`+traceID(chainA)+`"]`); !strings.Contains(s, "gpt-4o-mini") || !strings.Contains(s, "150ms") {
		t.Errorf("chain row %q: want its model and its duration 150ms", s)
	}
	b.screenshot("list")

	// errors only: the server filters
	b.click(`[data-testid=filter-error]`)
	b.waitJS("3 traces with errors", `document.querySelectorAll('[data-testid=trace-row]').length === 3`)
	if !strings.Contains(b.currentURL(), "error=1") {
		t.Errorf("URL %s does not keep the filter", b.currentURL())
	}
	b.click(`[data-testid=filter-error]`)
	b.waitJS("4 traces", `document.querySelectorAll('[data-testid=trace-row]').length === 4`)

	// keyboard: j moves, Enter opens
	b.key("j")
	b.key("j")
	b.key("Enter")
	b.waitJS("gather opened", `location.pathname === `+q(tracePath(gather, "")))
	waitTrace(b)
}

func (b *browser) currentURL() string {
	b.t.Helper()
	return eval[string](b, `location.href`)
}

// bar is a waterfall bar's position in percent of the time axis.
type bar struct {
	ID    string
	Left  float64
	Width float64
	Depth int
	Error bool
}

func bars(b *browser) []bar {
	b.t.Helper()
	return jsonOf[[]bar](b, `[...document.querySelectorAll('[data-testid=tree-row]')].map(r => { const x = r.querySelector('[data-testid=bar]'); return {ID: x.dataset.id, Left: parseFloat(x.style.left), Width: parseFloat(x.style.width), Depth: +r.dataset.depth, Error: !!r.querySelector('[data-testid=error-marker]')}; })`)
}

func visibleIDs(b *browser) []string {
	return jsonOf[[]string](b, `[...document.querySelectorAll('[data-testid=tree-row]')].map(r => r.dataset.id)`)
}

func selected(b *browser) string {
	return eval[string](b, `(document.querySelector('.row.sel')||{dataset:{}}).dataset.id || ""`)
}

func TestTreeAndWaterfall(t *testing.T) {
	b, _ := fixture(t)
	b.open(tracePath(gather, ""))
	waitTrace(b)
	bs := bars(b)
	if len(bs) != 5 {
		t.Fatalf("%d bars, want 5: %+v", len(bs), bs)
	}
	byID := map[string]bar{}
	for _, x := range bs {
		byID[x.ID] = x
	}
	root := bs[0]
	if root.ID != obsID(gather, 1) || root.Depth != 0 || root.Left != 0 || math.Abs(root.Width-100) > 0.01 {
		t.Errorf("root bar %+v: want depth 0 spanning the axis", root)
	}
	for _, x := range bs[1:] {
		if x.Depth != 1 {
			t.Errorf("child %s at depth %d, want 1", x.ID, x.Depth)
		}
	}
	a1, a2 := byID[gatherAPI1], byID[gatherAPI2]
	overlap := math.Min(a1.Left+a1.Width, a2.Left+a2.Width) - math.Max(a1.Left, a2.Left)
	t.Logf("CallAPI1 bar %.2f%%+%.2f%%, CallAPI2 bar %.2f%%+%.2f%%: overlap %.1f%% of the axis", a1.Left, a1.Width, a2.Left, a2.Width, overlap)
	if overlap < 80 {
		t.Errorf("concurrent children overlap by %.1f%% of the axis, want about 89%%", overlap)
	}
	var errs []string
	for _, x := range bs {
		if x.Error {
			errs = append(errs, x.ID)
		}
	}
	if strings.Join(errs, ",") != gatherFail+","+gatherPanic {
		t.Errorf("error markers on %v, want Validate and Explode", errs)
	}
	if s := text(b, `[data-testid=tree-row][data-id="`+gatherAPI1+`"] .dur`); s != "100ms" {
		t.Errorf("CallAPI1 duration %q, want 100ms", s)
	}

	// n: next error, with its message; again: the panic with its stack
	b.key("n")
	b.waitJS("Validate selected", `document.querySelector('[data-testid=detail-body]')?.dataset.id === `+q(gatherFail))
	if s := text(b, `[data-testid=error-detail]`); !strings.Contains(s, "invalid answer: empty") {
		t.Errorf("error detail %q", s)
	}
	b.key("n")
	b.waitJS("Explode selected", `document.querySelector('[data-testid=detail-body]')?.dataset.id === `+q(gatherPanic))
	if s := text(b, `[data-testid=traceback]`); !strings.Contains(s, "main.Explode") {
		t.Errorf("panic stack %q, want main.Explode", s)
	}
	if p := b.currentURL(); !strings.HasSuffix(p, tracePath(gather, gatherPanic)) {
		t.Errorf("URL %s, want the selected observation in it", p)
	}
	b.screenshot("waterfall")
	// the theme follows prefers-color-scheme
	light := eval[string](b, `getComputedStyle(document.body).backgroundColor`)
	b.colorScheme("dark")
	dark := eval[string](b, `getComputedStyle(document.body).backgroundColor`)
	if light == dark {
		t.Errorf("background %s in both light and dark", light)
	}
	b.screenshot("waterfall-dark")
	b.colorScheme("")

	// collapse the root with ←: one row; → opens it again
	b.key("g")
	b.key("ArrowLeft")
	b.waitJS("collapsed", `document.querySelectorAll('[data-testid=tree-row]').length === 1`)
	if s := text(b, `[data-testid=tree-row] .kids`); s != "+4" {
		t.Errorf("collapsed root shows %q hidden, want +4", s)
	}
	b.key("ArrowRight")
	b.waitJS("expanded", `document.querySelectorAll('[data-testid=tree-row]').length === 5`)

	// the filter hides what does not match; ancestors stay
	filter := func(s string, want ...string) {
		t.Helper()
		b.exec(`(f => { f.value = ` + q(s) + `; f.dispatchEvent(new Event('input')); })(document.querySelector('[data-testid=filter]'))`)
		b.waitJS("filter "+s, fmt.Sprintf(`[...document.querySelectorAll('[data-testid=tree-row]')].map(r => r.dataset.id).join(',') === %q`, strings.Join(want, ",")))
	}
	rootID := obsID(gather, 1)
	filter("type:tool", rootID, gatherAPI2)
	filter("dur>50ms", rootID, gatherAPI1, gatherAPI2)
	filter("error", rootID, gatherFail, gatherPanic)
	filter("explode", rootID, gatherPanic)
	filter("-error dur<50ms")
	filter("", rootID, gatherAPI1, gatherAPI2, gatherFail, gatherPanic)

	// focus on a subtree: f on CallAPI1 shows it alone, on its own axis
	b.click(`[data-testid=tree-row][data-id="` + gatherAPI1 + `"] .name`)
	b.waitJS("CallAPI1 selected", `document.querySelector('.row.sel')?.dataset.id === `+q(gatherAPI1))
	b.key("f")
	b.waitJS("focused", `document.querySelectorAll('[data-testid=tree-row]').length === 1`)
	if f := bars(b)[0]; f.Left != 0 || math.Abs(f.Width-100) > 0.01 {
		t.Errorf("focused bar %+v, want it to span the axis", f)
	}
	b.key("F")
	b.waitJS("unfocused", `document.querySelectorAll('[data-testid=tree-row]').length === 5`)

	// ? shows the help
	b.key("?")
	b.waitJS("help", `!document.querySelector('[data-testid=help]').hidden`)
	b.key("Escape")
	b.waitJS("help closed", `document.querySelector('[data-testid=help]').hidden`)
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("copied %s to %s", src, dst)
}

type message struct {
	Role, Text string
}

func messages(b *browser) []message {
	return jsonOf[[]message](b, `[...document.querySelectorAll('[data-testid=conversation] [data-testid=message]')].map(m => ({Role: m.dataset.role, Text: m.textContent}))`)
}

func TestConversation(t *testing.T) {
	b, _ := fixture(t)
	// OpenAI chat: system, user, the assistant's tool call, the tool's
	// result, then the reply
	b.open(tracePath(chainA, chainAGen))
	waitTrace(b)
	b.waitJS("conversation", `document.querySelectorAll('[data-testid=conversation] [data-testid=message]').length > 0`)
	ms := messages(b)
	roles := make([]string, len(ms))
	for i, m := range ms {
		roles[i] = m.Role
	}
	if got := strings.Join(roles, ","); got != "system,user,assistant,tool,assistant" {
		t.Errorf("roles %s, want system,user,assistant,tool,assistant", got)
	}
	checks := []struct {
		i    int
		want string
	}{{0, "concise assistant"}, {1, "What is Go?"}, {2, "search_docs"}, {2, "Go language"}, {3, "supported by Google"}, {4, "designed at Google"}, {4, "finish: stop"}}
	for _, c := range checks {
		if c.i < len(ms) && !strings.Contains(ms[c.i].Text, c.want) {
			t.Errorf("message %d (%s) %q: want %q", c.i, ms[c.i].Role, ms[c.i].Text, c.want)
		}
	}
	stats := text(b, `[data-testid=convo-stats]`)
	for _, want := range []string{"gpt-4o-mini", "120 in → 30 out", "time to first token 32ms", "search_docs"} {
		if !strings.Contains(stats, want) {
			t.Errorf("conversation stats %q: want %q", stats, want)
		}
	}
	if n := count(b, `[data-testid=conversation] [data-testid=reasoning]`); n != 1 {
		t.Errorf("%d reasoning blocks, want 1", n)
	}
	if n := count(b, `[data-testid=metadata] tr`); n < 5 {
		t.Errorf("metadata table has %d rows", n)
	}
	b.screenshot("conversation-openai")

	// a long history shows its first and last messages; the rest on demand
	b.open(tracePath(chainB, obsID(chainB, 3)))
	waitTrace(b)
	b.waitJS("long conversation", `!!document.querySelector('[data-testid=conversation] [data-testid=show-earlier]')`)
	if n := len(messages(b)); n != 6 {
		t.Errorf("%d messages shown of a 24-message history, want 6 (system, the last 4, the reply)", n)
	}
	b.click(`[data-testid=show-earlier]`)
	b.waitJS("all messages", `document.querySelectorAll('[data-testid=conversation] [data-testid=message]').length === 25`)

	// Anthropic: system blocks, thinking, tool_use, tool_result
	b.open(tracePath(claude, claudeGen))
	waitTrace(b)
	b.waitJS("conversation", `document.querySelector('[data-testid=detail-body]')?.dataset.id === `+q(claudeGen)+` && document.querySelectorAll('[data-testid=conversation] [data-testid=message]').length > 0`)
	ms = messages(b)
	roles = roles[:0]
	for _, m := range ms {
		roles = append(roles, m.Role)
	}
	if got := strings.Join(roles, ","); got != "system,user,assistant,tool,assistant" {
		t.Errorf("anthropic roles %s", got)
	}
	if n := count(b, `[data-testid=conversation] [data-testid=tool-call][data-name=lookup]`); n != 1 {
		t.Errorf("%d lookup tool calls, want 1", n)
	}
	if s := text(b, `[data-testid=conversation] [data-testid=tool-result]`); !strings.Contains(s, "lookup") || !strings.Contains(s, "path of a request") {
		t.Errorf("tool result %q: want the tool's name and its result", s)
	}
	// the README's picture (docs/waterfall.png): concurrent tools, an
	// error, a stream, and a conversation
	shot := b.screenshot("conversation-anthropic")
	if dst := os.Getenv("FLUXLOOP_README_SCREENSHOT"); dst != "" {
		copyFile(t, shot, dst)
	}

	// Gemini: systemInstruction and contents with parts
	b.click(`[data-testid=tree-row][data-id="` + obsID(claude, 3) + `"] .name`)
	b.waitJS("gemini", `document.querySelector('[data-testid=detail-body]')?.dataset.id === `+q(obsID(claude, 3))+` && document.querySelectorAll('[data-testid=conversation] [data-testid=message]').length > 0`)
	roles = roles[:0]
	for _, m := range messages(b) {
		roles = append(roles, m.Role)
	}
	if got := strings.Join(roles, ","); got != "system,user,assistant,tool,assistant" {
		t.Errorf("gemini roles %s", got)
	}

	// a stream's first item: a tick on its bar once its details are read
	b.key("j")
	b.waitJS("stream selected", `document.querySelector('.row.sel')?.dataset.id === `+q(claudeStream))
	b.waitJS("stream tick", `!!document.querySelector('[data-testid=bar][data-id="`+claudeStream+`"] [data-testid=first-item]')`)
}

func TestDeepLinkAndHistory(t *testing.T) {
	b, _ := fixture(t)
	b.open(tracePath(gather, gatherAPI2))
	waitTrace(b)
	b.waitJS("CallAPI2 selected", `document.querySelector('.row.sel')?.dataset.id === `+q(gatherAPI2)+` && document.querySelector('[data-testid=detail-body]')?.dataset.id === `+q(gatherAPI2))
	if s := text(b, `[data-testid=output]`); !strings.Contains(s, "API2: test") {
		t.Errorf("output %q", s)
	}
	// c copies the selected observation as JSON
	b.key("c")
	b.waitJS("copied", `(window.__fluxloopLastCopy || '').includes('"id": "`+gatherAPI2+`"') && (window.__fluxloopLastCopy || '').includes('API2: test')`)
	b.key("j")
	b.waitJS("next selected", `location.pathname === `+q(tracePath(gather, gatherFail)))
	b.exec(`history.back()`)
	b.waitJS("back to CallAPI2", `location.pathname === `+q(tracePath(gather, gatherAPI2))+` && document.querySelector('.row.sel')?.dataset.id === `+q(gatherAPI2))
	b.exec(`history.forward()`)
	b.waitJS("forward to Validate", `document.querySelector('.row.sel')?.dataset.id === `+q(gatherFail))
	// an unknown trace says so
	b.open("/trace/" + traceID(99))
	b.waitJS("not found", `!!document.querySelector('[data-testid=load-error]')`)
}

func TestCompare(t *testing.T) {
	b, _ := fixture(t)
	b.open("/")
	b.waitJS("traces", `document.querySelectorAll('[data-testid=trace-row]').length === 4`)
	for _, id := range []string{traceID(chainA), traceID(chainB)} {
		b.click(`[data-testid=trace-row][data-id="` + id + `"] [data-testid=compare-check]`)
	}
	b.click(`[data-testid=compare-btn]`)
	b.waitJS("compare page", `document.querySelectorAll('[data-testid=compare-row]').length > 0`)
	if p := b.currentURL(); !strings.Contains(p, "/compare/") {
		t.Errorf("URL %s", p)
	}
	type row struct {
		Path, Changed, Dur, DurClass, Tok, Err, ErrClass, Out string
	}
	rows := jsonOf[[]row](b, `[...document.querySelectorAll('[data-testid=compare-row]')].map(r => ({Path: r.dataset.path, Changed: r.dataset.changed,
		Dur: r.querySelector('[data-testid=duration-delta]').innerText, DurClass: r.querySelector('[data-testid=duration-delta]').className,
		Tok: r.querySelector('[data-testid=tokens-delta]').innerText, Err: r.querySelector('[data-testid=error-cell]').innerText,
		ErrClass: r.querySelector('[data-testid=error-cell]').className, Out: r.querySelector('[data-testid=output-cell]').innerText}))`)
	t.Logf("compare rows: %+v", rows)
	if len(rows) != 3 {
		t.Fatalf("%d rows, want 3", len(rows))
	}
	find := func(name string) row {
		for _, r := range rows {
			if strings.HasSuffix(r.Path, name) {
				return r
			}
		}
		t.Fatalf("no row for %s in %+v", name, rows)
		return row{}
	}
	if r := find("FetchContext"); !strings.Contains(r.ErrClass, "changed") || r.Changed != "1" {
		t.Errorf("FetchContext row %+v: want its error change marked", r)
	}
	if r := find("ChatCompletion"); r.Tok != "+124" || !strings.Contains(r.DurClass, "slower") {
		t.Errorf("ChatCompletion row %+v: want +124 tokens and slower", r)
	}
	b.screenshot("compare")
}

func TestLive(t *testing.T) {
	b, dir := fixture(t)
	b.open("/")
	b.waitJS("traces", `document.querySelectorAll('[data-testid=trace-row]').length === 4 && document.querySelector('[data-testid=live]').dataset.state === 'open'`)
	base := time.Now().Add(-2 * time.Second)
	tid := traceID(liveRun)
	step := func(n int, name string, start, end float64) obs {
		return obs{ID: obsID(liveRun, n), TraceID: tid, Parent: liveRoot, Type: "span", Name: name,
			Start: base.Add(ms(start)), End: base.Add(ms(end)), Level: "info"}
	}
	// a child ends while its parent (the root) still runs: a trace in
	// progress appears in the list without a reload
	if err := writeObs(dir, step(2, "Plan", 5, 300)); err != nil {
		t.Fatal(err)
	}
	b.waitJS("live trace listed", `!!document.querySelector('[data-testid=trace-row][data-id="`+tid+`"] [data-testid=in-progress]')`)
	b.screenshot("live-list")

	b.click(`[data-testid=trace-row][data-id="` + tid + `"] td.name a`)
	waitTrace(b)
	b.waitJS("running root", `!!document.querySelector('[data-testid=tree-row][data-id="`+liveRoot+`"] [data-testid=running-marker]')`)
	rootDur := `document.querySelector('[data-testid=tree-row][data-id="` + liveRoot + `"] .dur').innerText`
	d1 := eval[string](b, rootDur)
	time.Sleep(1100 * time.Millisecond)
	d2 := eval[string](b, rootDur)
	if d1 == d2 {
		t.Errorf("running root's duration did not tick: %s then %s", d1, d2)
	}
	// another child arrives
	if err := writeObs(dir, step(3, "Act", 310, 700)); err != nil {
		t.Fatal(err)
	}
	b.waitJS("second child", `!!document.querySelector('[data-testid=tree-row][data-id="`+obsID(liveRun, 3)+`"]')`)
	// the root ends: nothing runs any more
	root := obs{ID: liveRoot, TraceID: tid, Type: "agent", Name: "LiveAgent", Start: base, End: base.Add(ms(800)), Level: "info", Output: "done"}
	if err := writeObs(dir, root); err != nil {
		t.Fatal(err)
	}
	if err := writeTrace(dir, trace{ID: tid, Name: "LiveAgent", Start: root.Start, End: root.End, Output: "done"}); err != nil {
		t.Fatal(err)
	}
	b.waitJS("root ended", `document.querySelectorAll('[data-testid=running-marker]').length === 0 && document.querySelectorAll('[data-testid=tree-row]').length === 3`)
	if s := text(b, `[data-testid=tree-row][data-id="`+liveRoot+`"] .name`); s != "LiveAgent" {
		t.Errorf("root named %q after it ended, want LiveAgent", s)
	}
}

func TestBigTrace(t *testing.T) {
	if chromePath() == "" {
		t.Skip("no chromium found (set CHROME_PATH, or install it: apt-get install chromium)")
	}
	const n = 50000
	dir := t.TempDir()
	if err := writeRuns(dir, []run{bigRun(time.Now().Add(-time.Minute), n)}, true); err != nil {
		t.Fatal(err)
	}
	url := serve(t, dir)
	b := newBrowser(t, url)
	b.open("/") // warm the browser and the server's reading of the files
	b.waitJS("listed", `document.querySelectorAll('[data-testid=trace-row]').length === 1`)

	start := time.Now()
	b.open(tracePath(bigTrace, ""))
	// generous: the server reads 50,000 lines, under -race on a shared machine
	b.waitJSFor("trace loaded", `window.__fluxloopTrace && window.__fluxloopTrace.ready && document.querySelectorAll('[data-testid=tree-row]').length > 0`, 3*time.Minute)
	wall := time.Since(start)
	tm := jsonOf[struct {
		Fetch, Parse, Index, FirstRender, Total float64
		Nodes                                   int
	}](b, `window.__fluxloopTrace.timings`)
	rendered := eval[int](b, `+document.querySelector('[data-testid=tree]').dataset.rendered`)
	total := eval[int](b, `+document.querySelector('[data-testid=tree]').dataset.total`)
	t.Logf("50k trace: open to first rows %v (fetch %.0fms, JSON.parse %.0fms, index %.0fms, flatten+first paint %.0fms, page total %.0fms); %d nodes, %d rows in the DOM",
		wall.Round(time.Millisecond), tm.Fetch, tm.Parse, tm.Index, tm.FirstRender, tm.Total, tm.Nodes, rendered)
	if total != n || tm.Nodes != n {
		t.Errorf("tree has %d nodes (page says %d), want %d", total, tm.Nodes, n)
	}
	if rendered == 0 || rendered > 200 {
		t.Errorf("%d rows in the DOM: want the visible ones only", rendered)
	}
	if ids := visibleIDs(b); len(ids) == 0 || ids[0] != bigTraceRoot {
		t.Errorf("first row %v, want the root", ids[:min(3, len(ids))])
	}
	b.screenshot("big-trace")

	// scroll to the middle: the rows there are drawn
	scrollMS := eval[float64](b, `new Promise(res => { const vp = document.querySelector('[data-testid=tree]'); const t = performance.now();
		vp.scrollTop = vp.scrollHeight / 2; requestAnimationFrame(() => requestAnimationFrame(() => res(performance.now() - t))); })`)
	b.waitJS("middle rows", `+document.querySelector('[data-testid=tree]').dataset.first > 20000`)
	first := eval[int](b, `+document.querySelector('[data-testid=tree-row]').dataset.index`)
	t.Logf("scroll to the middle: rows from %d drawn in %.1fms (two frames)", first, scrollMS)

	// End selects the last row; n finds an error; the filter narrows 50k
	b.key("End")
	b.waitJS("last row selected", `document.querySelector('.row.sel')?.dataset.index === String(`+fmt.Sprint(n-1)+`)`)
	b.key("n")
	b.waitJS("an error selected", `!!document.querySelector('.row.sel [data-testid=error-marker]')`)
	filterMS := eval[float64](b, `new Promise(res => { const f = document.querySelector('[data-testid=filter]'); f.value = 'error'; const t = performance.now();
		f.dispatchEvent(new Event('input')); const check = () => document.querySelector('[data-testid=filter-info]').dataset.matches ? res(performance.now() - t - 120) : setTimeout(check, 5); check(); })`)
	matches := eval[string](b, `document.querySelector('[data-testid=filter-info]').innerText`)
	t.Logf("filter \"error\" over 50k: %s in %.0fms", matches, filterMS)
	collapseMS := eval[float64](b, `new Promise(res => { const t = performance.now(); document.querySelector('[data-testid=collapse-all]').click(); requestAnimationFrame(() => res(performance.now() - t)); })`)
	t.Logf("collapse all over 50k: %.0fms", collapseMS)
}
