package viewertest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// chromePath finds the browser: $CHROME_PATH, else chromium (Debian's
// package) or another Chrome on PATH.
func chromePath() string {
	if p := os.Getenv("CHROME_PATH"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// artifacts returns the directory for screenshots: $FLUXLOOP_ARTIFACTS, else
// a temporary directory of the test.
func artifacts(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("FLUXLOOP_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browser is a headless chromium tab sized like a laptop screen.
type browser struct {
	t   *testing.T
	ctx context.Context
	url string // the server's base URL
	art string // where screenshots go
}

func newBrowser(t *testing.T, baseURL string) *browser {
	t.Helper()
	path := chromePath()
	if path == "" {
		t.Skip("no chromium found (set CHROME_PATH, or install it: apt-get install chromium)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.WindowSize(1400, 900),
		chromedp.NoSandbox, // root in CI containers
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("force-color-profile", "srgb"),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	// Start the browser now, so that its start-up is not counted in the
	// first step's timeout.
	if err := chromedp.Do(ctx); err != nil {
		cancelC()
		cancelA()
		t.Fatalf("starting %s: %v", path, err)
	}
	t.Cleanup(func() { cancelC(); cancelA() })
	return &browser{t: t, ctx: ctx, url: baseURL, art: artifacts(t)}
}

// do runs actions with a timeout, failing the test on error.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression (awaiting a promise) into a T.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// exec runs a JavaScript statement for its effect.
func (b *browser) exec(js string) {
	b.t.Helper()
	eval[bool](b, "("+js+", true)")
}

// waitJS polls a JavaScript expression until it is true, for up to 30 s
// (the machines that run the tests are shared and run them with -race).
func (b *browser) waitJS(what, expr string) {
	b.t.Helper()
	b.waitJSFor(what, expr, 30*time.Second)
}

// waitJSFor is waitJS with a timeout.
func (b *browser) waitJSFor(what, expr string, d time.Duration) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, d+5*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(d)))
	if err != nil {
		dctx, dcancel := context.WithTimeout(b.ctx, 5*time.Second)
		defer dcancel()
		dump, _ := chromedp.Run(dctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText.slice(0, 1500)`))
		b.t.Fatalf("waiting for %s (%s): %v\npage:\n%s", what, expr, err, dump)
	}
}

// open navigates to path and waits for the page's app to be there.
func (b *browser) open(path string) {
	b.t.Helper()
	b.do("open "+path, chromedp.Navigate(b.url+path), chromedp.WaitReady(chromedp.CSS(`#app`)))
}

// click clicks the first element the CSS selector matches.
func (b *browser) click(sel string) {
	b.t.Helper()
	b.do("click "+sel, chromedp.Click(chromedp.CSS(sel)))
}

// screenshot saves the viewport as name.png in the artifacts directory and
// returns its path.
func (b *browser) screenshot(name string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	p := filepath.Join(b.art, name+".png")
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot %s (%d KB)", p, len(buf)/1024)
	return p
}

// colorScheme emulates prefers-color-scheme: "dark", "light", or "" for the
// browser's own.
func (b *browser) colorScheme(scheme string) {
	b.t.Helper()
	b.do("prefers-color-scheme "+scheme, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
		})
		return err
	}))
}

var keyNames = map[string]string{
	"ArrowLeft": kb.ArrowLeft, "ArrowRight": kb.ArrowRight, "ArrowUp": kb.ArrowUp, "ArrowDown": kb.ArrowDown,
	"End": kb.End, "Home": kb.Home, "Enter": kb.Enter, "Escape": kb.Escape,
}

// key sends one key press (a character, or a name of keyNames) to the page.
func (b *browser) key(k string) {
	b.t.Helper()
	if s, ok := keyNames[k]; ok {
		k = s
	}
	b.do("key "+k, chromedp.KeyEvent(k))
}

// jsonOf evaluates expr, which yields a JSON-able value, into out.
func jsonOf[T any](b *browser, expr string) T {
	b.t.Helper()
	s := eval[string](b, `JSON.stringify(`+expr+`)`)
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		b.t.Fatalf("decoding %s: %v (%s)", expr, err, s)
	}
	return v
}

func q(s string) string { return fmt.Sprintf("%q", s) }

func count(b *browser, selector string) int {
	b.t.Helper()
	return eval[int](b, `document.querySelectorAll(`+q(selector)+`).length`)
}

func text(b *browser, selector string) string {
	b.t.Helper()
	return strings.TrimSpace(eval[string](b, `(document.querySelector(`+q(selector)+`)||{}).innerText||""`))
}
