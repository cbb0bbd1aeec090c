// Package cli is what the fluxloop command does: list, show, follow, export
// and serve the traces a fluxloop program wrote. cmd/fluxloop parses the
// flags and maps errors to exit codes; everything else is here, so tests
// call it directly.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/fluxloop/fluxloop-go/internal/viewer"
	"github.com/fluxloop/fluxloop-go/runtime/tracefile"
)

// Env is the world a command runs in.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Getenv reads the environment (os.Getenv when nil).
	Getenv func(string) string
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Loc is the time zone times are shown in (time.Local when nil).
	Loc *time.Location
	// Color turns on ANSI colours (see UseColor).
	Color bool
	// Assets is the viewer's UI (index.html at its root).
	Assets fs.FS
	// OpenURL opens a URL in a browser; nil uses OpenBrowser.
	OpenURL func(url string) error
}

func (e *Env) getenv(k string) string {
	if e.Getenv == nil {
		return os.Getenv(k)
	}
	return e.Getenv(k)
}

func (e *Env) now() time.Time {
	if e.Now == nil {
		return time.Now()
	}
	return e.Now()
}

func (e *Env) loc() *time.Location {
	if e.Loc == nil {
		return time.Local
	}
	return e.Loc
}

// UseColor reports whether output to f should be coloured: f is a terminal
// (a character device) and NO_COLOR is not set (https://no-color.org) and
// TERM is not "dumb".
func UseColor(f *os.File, getenv func(string) string) bool {
	if getenv("NO_COLOR") != "" || getenv("TERM") == "dumb" {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Source returns the source an argument names (see tracefile.Locate): ""
// is the default directory, $FLUXLOOP_DIR or ./.fluxloop.
func (e *Env) Source(arg string) (tracefile.Source, error) {
	if arg == "" {
		arg = tracefile.DefaultDir(e.getenv)
	}
	src, err := tracefile.Locate(arg)
	if err != nil {
		return src, err
	}
	if src.IsStream() {
		src.Reader = e.Stdin
	}
	return src, nil
}

// IsSource reports whether a command-line argument names a source rather
// than something else (a trace id, search text): "-", a path that exists,
// or one with a directory or a .jsonl extension.
func IsSource(arg string) bool {
	if arg == tracefile.Stdin || strings.ContainsRune(arg, '/') || strings.ContainsRune(arg, filepath.Separator) ||
		strings.HasSuffix(arg, ".jsonl") {
		return true
	}
	_, err := os.Stat(arg)
	return err == nil
}

// load reads a source into an index, reporting skipped lines on stderr.
func (e *Env) load(src tracefile.Source) (*viewer.Index, error) {
	ix := viewer.NewIndex()
	w := e.warner()
	f, err := ix.Load(src, w.warn)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	for _, p := range f.Partial() {
		w.warn(p)
	}
	if src.IsStream() {
		if err := ix.Follow(context.Background(), f, 0, w.warn); err != nil {
			return nil, err
		}
	}
	w.done()
	if _, n := ix.Len(); n == 0 {
		return nil, e.noObservations(src)
	}
	return ix, nil
}

// warner prints the first warnings and counts the rest.
type warner struct {
	e     *Env
	n     int
	shown int
}

func (e *Env) warner() *warner { return &warner{e: e} }

func (w *warner) warn(x tracefile.Warning) {
	w.n++
	if w.shown < 5 {
		w.shown++
		fmt.Fprintf(w.e.Stderr, "fluxloop: warning: %v\n", x)
	}
}

func (w *warner) done() {
	if w.n > w.shown {
		fmt.Fprintf(w.e.Stderr, "fluxloop: warning: %s skipped in all\n", Count(w.n, "line", "lines"))
	}
}

// ErrNoObservations is wrapped by the error of a command that found
// nothing to show.
var ErrNoObservations = errors.New("no observations")

// noObservations says what to check when a source holds no observations.
func (e *Env) noObservations(src tracefile.Source) error {
	var b strings.Builder
	if src.IsStream() {
		b.WriteString("no fluxloop records on standard input. Check that:\n")
		b.WriteString("  - the program writes them there: FLUXLOOP_STORAGE=stdout go run . | fluxloop ls -\n")
		b.WriteString("    (with the default file storage they go to ./.fluxloop instead: fluxloop ls);\n")
	} else {
		where := src.Observations
		if abs, err := filepath.Abs(where); err == nil {
			where = abs
		}
		state := "is empty"
		if _, err := os.Stat(src.Observations); errors.Is(err, fs.ErrNotExist) {
			state = "does not exist"
		}
		fmt.Fprintf(&b, "%s %s. Check that:\n", where, state)
		dir := "FLUXLOOP_DIR is not set here"
		if d := e.getenv("FLUXLOOP_DIR"); d != "" {
			dir = "FLUXLOOP_DIR=" + d + " here"
		}
		fmt.Fprintf(&b, "  - the program wrote to this directory: it writes to $FLUXLOOP_DIR, else ./.fluxloop\n")
		fmt.Fprintf(&b, "    in its working directory (%s; name another directory as an argument);\n", dir)
	}
	b.WriteString("  - it is instrumented: functions marked //fluxloop:agent or //fluxloop:trace, and\n")
	b.WriteString("    go generate ./... (fluxloopgen) run before building;\n")
	b.WriteString("  - main calls defer fluxloop.Shutdown(ctx): without it, what is still queued when the\n")
	b.WriteString("    program exits is never written;\n")
	b.WriteString("  - tracing is on: FLUXLOOP_ENABLED is not false, FLUXLOOP_SAMPLE_RATE is not 0")
	return fmt.Errorf("%w: %s", ErrNoObservations, b.String())
}

// Count returns "1 observation", "2 observations".
func Count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// Duration formats a duration: µs below a millisecond, then ms, s, and
// minutes.
func Duration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0µs"
	case d < time.Microsecond:
		return "<1µs"
	case d < 999500*time.Nanosecond:
		return strconv.FormatInt(int64((d+500)/time.Microsecond), 10) + "µs"
	case d < 999500*time.Microsecond:
		v := float64(d) / 1e6
		prec := 0
		switch {
		case v < 9.995:
			prec = 2
		case v < 99.95:
			prec = 1
		}
		return trimZeros(strconv.FormatFloat(v, 'f', prec, 64)) + "ms"
	case d < 59950*time.Millisecond:
		v := float64(d) / 1e9
		prec := 1
		if v < 9.995 {
			prec = 2
		}
		return trimZeros(strconv.FormatFloat(v, 'f', prec, 64)) + "s"
	}
	return d.Round(time.Second).String()
}

func trimZeros(s string) string {
	if !strings.Contains(s, ".") {
		return s
	}
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// Cost formats a cost in US dollars.
func Cost(c float64) string {
	switch {
	case c == 0:
		return "$0"
	case c >= 1:
		return "$" + strconv.FormatFloat(c, 'f', 2, 64)
	case c >= 0.01:
		return "$" + trimZeros(strconv.FormatFloat(c, 'f', 4, 64))
	case c < 0.000001:
		return "<$0.000001"
	}
	return "$" + trimZeros(strconv.FormatFloat(c, 'f', 6, 64))
}

func durationMS(ms float64) time.Duration { return time.Duration(ms * 1e6) }

// style is an ANSI style, applied only when colours are on.
type style string

const (
	plain  style = ""
	bold   style = "1"
	dim    style = "2"
	red    style = "31"
	green  style = "32"
	yellow style = "33"
	cyan   style = "36"
)

func (e *Env) paint(s string, st style) string {
	if !e.Color || st == plain || s == "" {
		return s
	}
	return "\x1b[" + string(st) + "m" + s + "\x1b[0m"
}

// cell is a table cell: text and its style.
type cell struct {
	text string
	st   style
}

// table writes rows with columns padded to their widest cell, two spaces
// apart, colours not counting towards the width.
func (e *Env) table(w io.Writer, rows [][]cell) {
	var widths []int
	for _, r := range rows {
		for i, c := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], width(c.text))
		}
	}
	var b strings.Builder
	for _, r := range rows {
		b.Reset()
		for i, c := range r {
			b.WriteString(e.paint(c.text, c.st))
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-width(c.text)+2))
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

func width(s string) int { return len([]rune(s)) }

// cut shortens s to n characters (0: no limit), marking the cut.
func cut(s string, n int) string {
	if n <= 0 {
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// resolve finds the trace a command names.
func resolve(ix *viewer.Index, ref string) (string, error) { return ix.Resolve(ref) }
