package diff

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// lines joins its arguments, each followed by a newline.
func lines(ls ...string) string {
	var b strings.Builder
	for _, l := range ls {
		b.WriteString(l + "\n")
	}
	return b.String()
}

// numbered returns the lines "1".."n" (each with a newline).
func numbered(n int) []string {
	ls := make([]string, n)
	for i := range ls {
		ls[i] = strconv.Itoa(i + 1)
	}
	return ls
}

// edit returns ls with element i (0-based) replaced by repl (none: deleted).
func edit(ls []string, i int, repl ...string) []string {
	out := append([]string(nil), ls[:i]...)
	out = append(out, repl...)
	return append(out, ls[i+1:]...)
}

// insert returns ls with add inserted before element i.
func insert(ls []string, i int, add ...string) []string {
	out := append([]string(nil), ls[:i]...)
	out = append(out, add...)
	return append(out, ls[i:]...)
}

type unifiedTest struct {
	name     string
	old, new string
	want     string // without the two header lines; "" means no diff
}

var unifiedTests = []unifiedTest{
	{name: "both empty"},
	{name: "identical", old: lines("a", "b", "c"), new: lines("a", "b", "c")},
	{
		name: "from empty",
		new:  lines("a", "b"),
		want: "@@ -0,0 +1,2 @@\n+a\n+b\n",
	},
	{
		name: "to empty",
		old:  lines("a"),
		want: "@@ -1 +0,0 @@\n-a\n",
	},
	{
		name: "insert at start",
		old:  lines(numbered(10)...),
		new:  lines(insert(numbered(10), 0, "new")...),
		want: "@@ -1,3 +1,4 @@\n+new\n 1\n 2\n 3\n",
	},
	{
		name: "insert in middle",
		old:  lines(numbered(10)...),
		new:  lines(insert(numbered(10), 5, "new")...),
		want: "@@ -3,6 +3,7 @@\n 3\n 4\n 5\n+new\n 6\n 7\n 8\n",
	},
	{
		name: "insert at end",
		old:  lines(numbered(10)...),
		new:  lines(insert(numbered(10), 10, "new", "newer")...),
		want: "@@ -8,3 +8,5 @@\n 8\n 9\n 10\n+new\n+newer\n",
	},
	{
		name: "delete",
		old:  lines(numbered(10)...),
		new:  lines(edit(numbered(10), 4)...),
		want: "@@ -2,7 +2,6 @@\n 2\n 3\n 4\n-5\n 6\n 7\n 8\n",
	},
	{
		name: "replace",
		old:  lines(numbered(10)...),
		new:  lines(edit(numbered(10), 1, "two", "deux")...),
		want: "@@ -1,5 +1,6 @@\n 1\n-2\n+two\n+deux\n 3\n 4\n 5\n",
	},
	{
		name: "replace everything",
		old:  lines("a", "b"),
		new:  lines("c"),
		want: "@@ -1,2 +1 @@\n-a\n-b\n+c\n",
	},
	{
		name: "empty lines as context",
		old:  lines("a", "", "b", "", "c"),
		new:  lines("a", "", "B", "", "c"),
		want: "@@ -1,5 +1,5 @@\n a\n \n-b\n+B\n \n c\n",
	},
	{
		name: "old lacks final newline",
		old:  "a\nb\nc",
		new:  "a\nb\nc\n",
		want: "@@ -1,3 +1,3 @@\n a\n b\n-c\n\\ No newline at end of file\n+c\n",
	},
	{
		name: "new lacks final newline",
		old:  "a\nb\nc\n",
		new:  "a\nb\nc",
		want: "@@ -1,3 +1,3 @@\n a\n b\n-c\n+c\n\\ No newline at end of file\n",
	},
	{
		name: "both lack final newline",
		old:  "a\nb\nc\nd\ne",
		new:  "a\nB\nc\nd\ne",
		want: "@@ -1,5 +1,5 @@\n a\n-b\n+B\n c\n d\n e\n\\ No newline at end of file\n",
	},
	{
		name: "append to line without newline",
		old:  "a",
		new:  "a\nb",
		want: "@@ -1 +1,2 @@\n-a\n\\ No newline at end of file\n+a\n+b\n\\ No newline at end of file\n",
	},
	{
		name: "multiple hunks",
		old:  lines(numbered(30)...),
		new:  lines(edit(edit(numbered(30), 24, "X"), 2, "Y")...),
		want: "@@ -1,6 +1,6 @@\n 1\n 2\n-3\n+Y\n 4\n 5\n 6\n" +
			"@@ -22,7 +22,7 @@\n 22\n 23\n 24\n-25\n+X\n 26\n 27\n 28\n",
	},
	{
		// Six unchanged lines between changes: the contexts touch.
		name: "adjacent hunks merge",
		old:  lines(numbered(20)...),
		new:  lines(edit(edit(numbered(20), 16, "Y"), 9, "X")...),
		want: "@@ -7,14 +7,14 @@\n 7\n 8\n 9\n-10\n+X\n 11\n 12\n 13\n 14\n 15\n 16\n-17\n+Y\n 18\n 19\n 20\n",
	},
	{
		// Seven unchanged lines between changes: two hunks.
		name: "hunks seven apart stay separate",
		old:  lines(numbered(20)...),
		new:  lines(edit(edit(numbered(20), 17, "Y"), 9, "X")...),
		want: "@@ -7,7 +7,7 @@\n 7\n 8\n 9\n-10\n+X\n 11\n 12\n 13\n" +
			"@@ -15,6 +15,6 @@\n 15\n 16\n 17\n-18\n+Y\n 19\n 20\n",
	},
	{
		// An ambiguous insertion is shown as late as possible, like diff.
		name: "duplicate line insertion slides down",
		old:  lines("a", "b", "c", "d", "e", "f"),
		new:  lines("a", "b", "b", "c", "d", "e", "f"),
		want: "@@ -1,5 +1,6 @@\n a\n b\n+b\n c\n d\n e\n",
	},
	{
		name: "repeated block",
		old:  lines("func f() {", "}", "", "func g() {", "}"),
		new:  lines("func f() {", "}", "", "func h() {", "}", "", "func g() {", "}"),
		want: "@@ -1,5 +1,8 @@\n func f() {\n }\n \n+func h() {\n+}\n+\n func g() {\n }\n",
	},
}

func TestUnified(t *testing.T) {
	for _, tt := range unifiedTests {
		t.Run(tt.name, func(t *testing.T) {
			got := Unified("old.go", "new.go", []byte(tt.old), []byte(tt.new))
			if tt.want == "" {
				if got != nil {
					t.Fatalf("Unified = %q, want nil", got)
				}
				return
			}
			want := "--- old.go\n+++ new.go\n" + tt.want
			if string(got) != want {
				t.Errorf("Unified:\n%s\nwant:\n%s", got, want)
			}
			checkApply(t, tt.old, tt.new, got)
		})
	}
}

// TestUnifiedMatchesDiff compares the output with that of the system's
// "diff -u", ignoring the timestamps in its header lines.
func TestUnifiedMatchesDiff(t *testing.T) {
	diffPath := "/usr/bin/diff"
	if _, err := os.Stat(diffPath); err != nil {
		t.Skipf("%s not available: %v", diffPath, err)
	}
	// A few extra cases besides the table, including larger ones with
	// unambiguous changes.
	big := numbered(200)
	bigNew := insert(edit(edit(insert(big, 150, "x", "y"), 100, "hundred"), 40), 3, "z")
	cases := append([]unifiedTest(nil), unifiedTests...)
	cases = append(cases,
		unifiedTest{name: "big", old: lines(big...), new: lines(bigNew...)},
		unifiedTest{name: "big no newline", old: lines(big...), new: strings.TrimSuffix(lines(bigNew...), "\n")},
		unifiedTest{name: "tail shared", old: "p\nq\nr\ns\nt\nu\nv\nw", new: "p\nQ\nr\ns\nt\nu\nv\nw"},
	)
	dir := t.TempDir()
	for i, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			oldPath := filepath.Join(dir, fmt.Sprintf("old%d", i))
			newPath := filepath.Join(dir, fmt.Sprintf("new%d", i))
			if err := os.WriteFile(oldPath, []byte(tt.old), 0o666); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(newPath, []byte(tt.new), 0o666); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(diffPath, "-u", oldPath, newPath)
			cmd.Env = append(os.Environ(), "LC_ALL=C")
			want, err := cmd.Output()
			var exitErr *exec.ExitError
			switch {
			case err == nil:
				want = nil // equal
			case errors.As(err, &exitErr) && exitErr.ExitCode() == 1:
			default:
				t.Fatalf("diff: %v", err)
			}
			got := Unified(oldPath, newPath, []byte(tt.old), []byte(tt.new))
			if want == nil {
				if got != nil {
					t.Fatalf("Unified = %q, diff reports no difference", got)
				}
				return
			}
			want = stripTimestamps(t, want)
			if !bytes.Equal(got, want) {
				t.Errorf("Unified:\n%s\ndiff -u:\n%s", got, want)
			}
		})
	}
}

// stripTimestamps removes the tab and timestamp from the first two lines of
// diff's output.
func stripTimestamps(t *testing.T, out []byte) []byte {
	t.Helper()
	ls := bytes.SplitAfterN(out, []byte("\n"), 3)
	if len(ls) != 3 || !bytes.HasPrefix(ls[0], []byte("--- ")) || !bytes.HasPrefix(ls[1], []byte("+++ ")) {
		t.Fatalf("unexpected diff header in %q", out)
	}
	for i := range 2 {
		if tab := bytes.IndexByte(ls[i], '\t'); tab >= 0 {
			ls[i] = append(ls[i][:tab:tab], '\n')
		}
	}
	return bytes.Join(ls, nil)
}

// TestUnifiedRandom applies the diffs of many random edits to the old text
// and checks that the result is the new text, and that the diff is minimal.
func TestUnifiedRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	iterations := 3000
	if testing.Short() {
		iterations = 300
	}
	for it := range iterations {
		// A small alphabet gives many repeated lines; a big one few.
		alphabet := 3 + rng.IntN(40)
		line := func() string { return "l" + strconv.Itoa(rng.IntN(alphabet)) + "\n" }
		var old []string
		for range rng.IntN(60) {
			old = append(old, line())
		}
		nw := append([]string(nil), old...)
		for range rng.IntN(8) {
			pos := rng.IntN(len(nw) + 1)
			switch rng.IntN(3) {
			case 0: // insert
				var add []string
				for range 1 + rng.IntN(4) {
					add = append(add, line())
				}
				nw = insert(nw, pos, add...)
			case 1: // delete
				if pos < len(nw) {
					end := min(len(nw), pos+1+rng.IntN(4))
					nw = append(nw[:pos:pos], nw[end:]...)
				}
			case 2: // replace
				if pos < len(nw) {
					nw = edit(nw, pos, line())
				}
			}
		}
		oldText, newText := strings.Join(old, ""), strings.Join(nw, "")
		if rng.IntN(4) == 0 && oldText != "" {
			oldText = oldText[:len(oldText)-1]
		}
		if rng.IntN(4) == 0 && newText != "" {
			newText = newText[:len(newText)-1]
		}

		d := Unified("a", "b", []byte(oldText), []byte(newText))
		if oldText == newText {
			if d != nil {
				t.Fatalf("#%d: diff of equal texts: %q", it, d)
			}
			continue
		}
		if d == nil {
			t.Fatalf("#%d: no diff for %q -> %q", it, oldText, newText)
		}
		checkApply(t, oldText, newText, d)

		// Minimality: the number of changed lines is fixed by the
		// length of a longest common subsequence.
		a, b := splitLines(oldText), splitLines(newText)
		want := len(a) + len(b) - 2*lcsLen(a, b)
		got := 0
		for _, l := range strings.SplitAfter(string(d), "\n")[2:] {
			if strings.HasPrefix(l, "-") || strings.HasPrefix(l, "+") {
				got++
			}
		}
		if got != want {
			t.Fatalf("#%d: %d changed lines, want %d, for %q -> %q:\n%s", it, got, want, oldText, newText, d)
		}
	}
}

// TestUnifiedLargeReplacement checks that a diff between two large texts
// with nothing in common, or with only repeated lines in common, is fast
// and correct.
func TestUnifiedLargeReplacement(t *testing.T) {
	var a, b strings.Builder
	for i := range 20000 {
		fmt.Fprintf(&a, "old %d\n}\n", i)
		fmt.Fprintf(&b, "new %d\n}\n", i)
	}
	start := time.Now()
	d := Unified("a", "b", []byte(a.String()), []byte(b.String()))
	t.Logf("%d-line diff in %v", strings.Count(string(d), "\n"), time.Since(start))
	checkApply(t, a.String(), b.String(), d)
}

// TestMyersTooExpensive checks that the search still yields a valid, if
// not minimal, edit script when it gives up early.
func TestMyersTooExpensive(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for it := range 500 {
		seq := func() []int32 {
			s := make([]int32, rng.IntN(200))
			for i := range s {
				s[i] = rng.Int32N(10)
			}
			return s
		}
		a, b := seq(), seq()
		m := newMyers(a, b)
		m.tooExpensive = 1 + rng.IntN(5)
		m.compareseq(0, len(a), 0, len(b), false)
		var ka, kb []int32
		for i, c := range m.ca {
			if !c {
				ka = append(ka, a[i])
			}
		}
		for i, c := range m.cb {
			if !c {
				kb = append(kb, b[i])
			}
		}
		if !slices.Equal(ka, kb) {
			t.Fatalf("#%d: unchanged lines differ: %v and %v", it, ka, kb)
		}
	}
}

func lcsLen(a, b []string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for i := range a {
		for j := range b {
			switch {
			case a[i] == b[j]:
				cur[j+1] = prev[j] + 1
			case prev[j+1] >= cur[j]:
				cur[j+1] = prev[j+1]
			default:
				cur[j+1] = cur[j]
			}
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// checkApply applies the unified diff d to old and checks that the result
// is new.
func checkApply(t *testing.T, old, new string, d []byte) {
	t.Helper()
	got, err := apply(old, d)
	if err != nil {
		t.Fatalf("applying diff: %v\nold: %q\nnew: %q\ndiff:\n%s", err, old, new, d)
	}
	if got != new {
		t.Fatalf("applying diff gave %q, want %q\nold: %q\ndiff:\n%s", got, new, old, d)
	}
}

// apply is a strict unified diff applier for tests: hunks must be in order,
// not overlap, have correct line counts and context, and "\ No newline"
// markers must only follow the last line of a text.
func apply(old string, d []byte) (string, error) {
	src := splitLines(old)
	ls := strings.SplitAfter(string(d), "\n")
	if ls[len(ls)-1] != "" {
		return "", errors.New("diff does not end in a newline")
	}
	ls = ls[:len(ls)-1]
	if len(ls) < 3 || !strings.HasPrefix(ls[0], "--- ") || !strings.HasPrefix(ls[1], "+++ ") {
		return "", errors.New("bad header")
	}
	ls = ls[2:]

	var out []string
	pos := 0 // next line of src to copy
	for len(ls) > 0 {
		var a0, an, b0, bn int
		if err := parseHeader(ls[0], &a0, &an, &b0, &bn); err != nil {
			return "", err
		}
		ls = ls[1:]
		// A range start is 1-based, except that an empty range names the
		// line before it.
		if an > 0 {
			a0--
		}
		if bn > 0 {
			b0--
		}
		if a0 < pos || a0 > len(src) {
			return "", fmt.Errorf("hunk at old line %d out of order (at %d)", a0, pos)
		}
		out = append(out, src[pos:a0]...)
		if len(out) != b0 {
			return "", fmt.Errorf("hunk starts at new line %d, have %d lines", b0, len(out))
		}
		pos = a0
		na, nb := 0, 0
		for len(ls) > 0 && !strings.HasPrefix(ls[0], "@@ ") {
			l := ls[0]
			ls = ls[1:]
			text := l[1:]
			if len(ls) > 0 && ls[0] == noNewline {
				text = strings.TrimSuffix(text, "\n")
				ls = ls[1:]
			}
			switch l[0] {
			case ' ', '-':
				if pos >= len(src) || src[pos] != text {
					return "", fmt.Errorf("old line %d is %q, diff has %q", pos+1, safe(src, pos), text)
				}
				if text[len(text)-1] != '\n' && pos != len(src)-1 {
					return "", fmt.Errorf("missing newline marked on old line %d of %d", pos+1, len(src))
				}
				pos++
				na++
				if l[0] == ' ' {
					out = append(out, text)
					nb++
				}
			case '+':
				out = append(out, text)
				nb++
			default:
				return "", fmt.Errorf("bad diff line %q", l)
			}
		}
		if na != an || nb != bn {
			return "", fmt.Errorf("hunk has %d,%d lines, header says %d,%d", na, nb, an, bn)
		}
	}
	out = append(out, src[pos:]...)
	for i, l := range out {
		if !strings.HasSuffix(l, "\n") && i != len(out)-1 {
			return "", fmt.Errorf("line %d of %d has no newline", i+1, len(out))
		}
	}
	return strings.Join(out, ""), nil
}

func safe(ls []string, i int) string {
	if i < len(ls) {
		return ls[i]
	}
	return "<EOF>"
}

// parseHeader parses "@@ -a0[,an] +b0[,bn] @@\n".
func parseHeader(l string, a0, an, b0, bn *int) error {
	rest, ok := strings.CutPrefix(l, "@@ -")
	if !ok {
		return fmt.Errorf("bad hunk header %q", l)
	}
	rest, ok = strings.CutSuffix(rest, " @@\n")
	if !ok {
		return fmt.Errorf("bad hunk header %q", l)
	}
	oldRange, newRange, ok := strings.Cut(rest, " +")
	if !ok {
		return fmt.Errorf("bad hunk header %q", l)
	}
	parse := func(r string, start, n *int) error {
		s, c, hasCount := strings.Cut(r, ",")
		var err error
		if *start, err = strconv.Atoi(s); err != nil {
			return fmt.Errorf("bad hunk header %q", l)
		}
		*n = 1
		if hasCount {
			if *n, err = strconv.Atoi(c); err != nil {
				return fmt.Errorf("bad hunk header %q", l)
			}
			if *n == 1 {
				return fmt.Errorf("hunk header %q: count 1 should be omitted", l)
			}
		}
		return nil
	}
	if err := parse(oldRange, a0, an); err != nil {
		return err
	}
	return parse(newRange, b0, bn)
}

// largeInputs returns a 50,000-line Go-like text and a copy with 300 lines
// inserted at scattered places.
func largeInputs() (old, new []byte) {
	rng := rand.New(rand.NewPCG(3, 4))
	const n = 50000
	src := make([]string, 0, n)
	for i := 0; len(src) < n; i++ {
		src = append(src,
			fmt.Sprintf("func f%d(x int) int {\n", i),
			fmt.Sprintf("\treturn x + %d\n", rng.IntN(1000)),
			"}\n",
			"\n")
	}
	src = src[:n]
	dst := append([]string(nil), src...)
	for i := range 300 {
		pos := rng.IntN(len(dst) + 1)
		dst = insert(dst, pos, fmt.Sprintf("\t// inserted %d\n", i))
	}
	return []byte(strings.Join(src, "")), []byte(strings.Join(dst, ""))
}

func TestUnifiedLarge(t *testing.T) {
	old, new := largeInputs()
	start := time.Now()
	d := Unified("old", "new", old, new)
	t.Logf("large diff took %v", time.Since(start))
	checkApply(t, string(old), string(new), d)
	if got := strings.Count(string(d), "\n+\t// inserted"); got != 300 {
		t.Errorf("diff shows %d insertions, want 300", got)
	}
}

func BenchmarkUnifiedLarge(b *testing.B) {
	old, new := largeInputs()
	b.ReportAllocs()
	b.SetBytes(int64(len(old) + len(new)))
	for b.Loop() {
		Unified("old", "new", old, new)
	}
}
