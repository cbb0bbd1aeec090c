// Package viewertest checks the trace viewer (internal/viewer and its UI in
// internal/viewer/ui) in a real browser: it serves JSONL fixtures with
// viewer.New over httptest and drives Debian's chromium through chromedp.
//
// It is a module of its own so that chromedp never enters the main
// module's dependencies. The tests skip when no chromium is found
// (exec.LookPath("chromium"), or $CHROME_PATH); install it with
//
//	apt-get install chromium
//
// Screenshots are written under $FLUXLOOP_ARTIFACTS (default: a temporary
// directory of the test) and their paths logged. With
// FLUXLOOP_FIXTURES_DIR set, TestWriteFixtures writes the fixtures there,
// to look at them with the viewer by hand.
package viewertest
