// Package diff computes line-oriented differences between two texts and
// formats them as unified diffs, in the format printed by "diff -u" and git.
//
// It is used by the code generator's -d flag to show what a run would
// change without writing any files.
//
// The differences are found with Myers' O((N+M)·D) algorithm in its
// linear-space, divide-and-conquer form (as in GNU diffutils), after the
// common prefix and suffix and all lines that occur in only one of the two
// texts have been set aside. As in GNU diff, a search that becomes far too
// expensive settles for a correct but possibly non-minimal result, and runs of
// changed lines are finally slid over equal neighbouring lines so that the
// hunks look the way "diff -u" prints them.
package diff

import (
	"bytes"
	"strconv"
)

// contextLines is the number of unchanged lines shown around each change,
// the default of "diff -u".
const contextLines = 3

// noNewline is the marker printed after a line that ends its file without a
// final newline.
const noNewline = "\\ No newline at end of file\n"

// Unified returns a unified diff that turns old into new, or nil if old and
// new are equal.
//
// The output matches "diff -u" and "git diff" without their timestamps and
// extended headers: it starts with the lines "--- oldName" and
// "+++ newName", followed by hunks of the form "@@ -a,b +c,d @@" with three
// lines of context, where hunks whose context would touch or overlap are
// merged. A line at the end of a text without a final newline is followed by
// the line "\ No newline at end of file".
func Unified(oldName, newName string, old, new []byte) []byte {
	if bytes.Equal(old, new) {
		return nil
	}
	a := splitLines(string(old))
	b := splitLines(string(new))
	ea, eb, nids := intern(a, b)
	ca, cb := compare(ea, eb, nids)
	shiftBoundaries(ca, cb, ea)
	shiftBoundaries(cb, ca, eb)
	return format(oldName, newName, a, b, ca, cb)
}

// splitLines splits s into lines, each keeping its terminating newline.
// The last line lacks the newline if s does not end with one.
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			n++
		}
	}
	if s[len(s)-1] != '\n' {
		n++
	}
	lines := make([]string, 0, n)
	for s != "" {
		i := 0
		for i < len(s) && s[i] != '\n' {
			i++
		}
		if i < len(s) {
			i++ // keep the newline
		}
		lines = append(lines, s[:i])
		s = s[i:]
	}
	return lines
}

// intern maps every distinct line of a and b to a small integer, so that
// lines can be compared by number. It returns the numbers of the lines of a
// and of b and the count of distinct lines.
func intern(a, b []string) (ea, eb []int32, n int) {
	ids := make(map[string]int32, len(a))
	number := func(lines []string) []int32 {
		e := make([]int32, len(lines))
		for i, l := range lines {
			id, ok := ids[l]
			if !ok {
				id = int32(len(ids))
				ids[l] = id
			}
			e[i] = id
		}
		return e
	}
	ea = number(a)
	eb = number(b)
	return ea, eb, len(ids)
}

// compare finds a shortest edit script between the line sequences a and b
// (given as line numbers from intern, all below nids). It returns, for each
// sequence, flags telling which lines are deleted from a or inserted into b.
// The flag of line i is at index i+1; the first and last elements are always
// false and serve as sentinels for shiftBoundaries.
func compare(a, b []int32, nids int) (ca, cb []bool) {
	ca = make([]bool, len(a)+2)
	cb = make([]bool, len(b)+2)

	// Set aside the common prefix and suffix.
	lo := 0
	for lo < len(a) && lo < len(b) && a[lo] == b[lo] {
		lo++
	}
	ha, hb := len(a), len(b)
	for ha > lo && hb > lo && a[ha-1] == b[hb-1] {
		ha--
		hb--
	}

	// A line that does not occur in the other text cannot be part of a
	// common subsequence, so it is changed. Dropping such lines before the
	// search does not change the edit distance but makes it much cheaper
	// when large parts of the texts are replaced.
	const inA, inB = 1, 2
	seen := make([]uint8, nids)
	for _, id := range a[lo:ha] {
		seen[id] |= inA
	}
	for _, id := range b[lo:hb] {
		seen[id] |= inB
	}
	keep := func(lines []int32, lo, hi int, changed []bool) (kept []int32, index []int) {
		for i := lo; i < hi; i++ {
			if seen[lines[i]] == inA|inB {
				kept = append(kept, lines[i])
				index = append(index, i)
			} else {
				changed[i+1] = true
			}
		}
		return kept, index
	}
	ra, ia := keep(a, lo, ha, ca)
	rb, ib := keep(b, lo, hb, cb)

	if len(ra) > 0 || len(rb) > 0 {
		m := newMyers(ra, rb)
		m.compareseq(0, len(ra), 0, len(rb), false)
		for i, c := range m.ca {
			if c {
				ca[ia[i]+1] = true
			}
		}
		for i, c := range m.cb {
			if c {
				cb[ib[i]+1] = true
			}
		}
	}
	return ca, cb
}

// myers holds the state of a linear-space Myers search, a port of
// compareseq and diag from GNU diffutils' diffseq.h.
type myers struct {
	a, b   []int32
	ca, cb []bool // ca[i]: a[i] is deleted; cb[i]: b[i] is inserted.

	// fd and bd hold, for each diagonal k = x-y, the furthest x reached by
	// the forward and the backward search. Index k+off.
	fd, bd []int
	off    int

	// tooExpensive is the edit cost after which diag gives up looking for
	// an optimal split and settles for a good one.
	tooExpensive int
}

func newMyers(a, b []int32) *myers {
	n := len(a) + len(b) + 3
	// As in GNU diff: about the square root of the input size, at least 4096.
	tooExpensive := 1
	for d := n; d != 0; d >>= 2 {
		tooExpensive <<= 1
	}
	tooExpensive = max(tooExpensive, 4096)
	return &myers{
		a:            a,
		b:            b,
		ca:           make([]bool, len(a)),
		cb:           make([]bool, len(b)),
		fd:           make([]int, n),
		bd:           make([]int, n),
		off:          len(b) + 1,
		tooExpensive: tooExpensive,
	}
}

// compareseq marks the changed lines in a[xoff:xlim] and b[yoff:ylim]. If
// minimal is set, the result is a shortest edit script even when finding it
// is expensive.
func (m *myers) compareseq(xoff, xlim, yoff, ylim int, minimal bool) {
	for {
		for xoff < xlim && yoff < ylim && m.a[xoff] == m.b[yoff] {
			xoff++
			yoff++
		}
		for xlim > xoff && ylim > yoff && m.a[xlim-1] == m.b[ylim-1] {
			xlim--
			ylim--
		}
		switch {
		case xoff == xlim:
			for y := yoff; y < ylim; y++ {
				m.cb[y] = true
			}
			return
		case yoff == ylim:
			for x := xoff; x < xlim; x++ {
				m.ca[x] = true
			}
			return
		}
		xmid, ymid, loMinimal, hiMinimal := m.diag(xoff, xlim, yoff, ylim, minimal)
		m.compareseq(xoff, xmid, yoff, ymid, loMinimal)
		xoff, yoff, minimal = xmid, ymid, hiMinimal
	}
}

// diag finds the midpoint (xmid, ymid) of a shortest edit script between
// a[xoff:xlim] and b[yoff:ylim] by searching forward from the start and
// backward from the end at once until the two searches overlap. The ranges
// must be non-empty and differ in their first and last lines.
//
// If minimal is not set and the cost exceeds m.tooExpensive, diag returns
// the point that the searches got furthest to instead; the half that is
// reported as minimal can then be finished cheaply with an exact search.
func (m *myers) diag(xoff, xlim, yoff, ylim int, minimal bool) (xmid, ymid int, loMinimal, hiMinimal bool) {
	a, b, fd, bd, off := m.a, m.b, m.fd, m.bd, m.off
	dmin := xoff - ylim // minimum valid diagonal
	dmax := xlim - yoff // maximum valid diagonal
	fmid := xoff - yoff // center diagonal of the forward search
	bmid := xlim - ylim // center diagonal of the backward search
	fmin, fmax := fmid, fmid
	bmin, bmax := bmid, bmid
	odd := (fmid-bmid)&1 != 0

	fd[off+fmid] = xoff
	bd[off+bmid] = xlim

	for c := 1; ; c++ {
		// Extend the forward search by one edit on each diagonal.
		if fmin > dmin {
			fmin--
			fd[off+fmin-1] = -1
		} else {
			fmin++
		}
		if fmax < dmax {
			fmax++
			fd[off+fmax+1] = -1
		} else {
			fmax--
		}
		for d := fmax; d >= fmin; d -= 2 {
			tlo, thi := fd[off+d-1], fd[off+d+1]
			x := thi
			if tlo >= thi {
				x = tlo + 1
			}
			y := x - d
			for x < xlim && y < ylim && a[x] == b[y] {
				x++
				y++
			}
			fd[off+d] = x
			if odd && bmin <= d && d <= bmax && bd[off+d] <= x {
				return x, y, true, true
			}
		}

		// Extend the backward search likewise.
		if bmin > dmin {
			bmin--
			bd[off+bmin-1] = int(^uint(0) >> 1)
		} else {
			bmin++
		}
		if bmax < dmax {
			bmax++
			bd[off+bmax+1] = int(^uint(0) >> 1)
		} else {
			bmax--
		}
		for d := bmax; d >= bmin; d -= 2 {
			tlo, thi := bd[off+d-1], bd[off+d+1]
			x := thi - 1
			if tlo < thi {
				x = tlo
			}
			y := x - d
			for x > xoff && y > yoff && a[x-1] == b[y-1] {
				x--
				y--
			}
			bd[off+d] = x
			if !odd && fmin <= d && d <= fmax && x <= fd[off+d] {
				return x, y, true, true
			}
		}

		if minimal || c < m.tooExpensive {
			continue
		}

		// Give up: use the forward point that maximizes x+y or the
		// backward point that minimizes it, whichever got further.
		fxybest, fxbest := -1, 0
		for d := fmax; d >= fmin; d -= 2 {
			x := min(fd[off+d], xlim)
			y := x - d
			if y > ylim {
				x, y = ylim+d, ylim
			}
			if x+y > fxybest {
				fxybest, fxbest = x+y, x
			}
		}
		bxybest, bxbest := int(^uint(0)>>1), 0
		for d := bmax; d >= bmin; d -= 2 {
			x := max(xoff, bd[off+d])
			y := x - d
			if y < yoff {
				x, y = yoff+d, yoff
			}
			if x+y < bxybest {
				bxybest, bxbest = x+y, x
			}
		}
		if (xlim+ylim)-bxybest < fxybest-(xoff+yoff) {
			return fxbest, fxybest - fxbest, true, false
		}
		return bxbest, bxybest - bxbest, false, true
	}
}

// shiftBoundaries moves each run of changed lines as far down as it can go
// over equal lines, merging it with neighbouring runs, and then back up to
// line up with a run of changes in the other text if there is one. It is a
// port of the function of the same name in GNU diffutils' analyze.c, which
// is what makes the output agree with "diff -u" when a change could be shown
// at several places.
//
// changed and other are flag slices as returned by compare, for the text
// with line numbers equivs and for the other text.
func shiftBoundaries(changed, other []bool, equivs []int32) {
	// changed[i+1] and other[j+1] are the flags of lines i and j; the
	// sentinels at both ends are false.
	iEnd := len(equivs)
	i, j := 0, 0
	for {
		// Find the start of the next run of changes, keeping track of the
		// corresponding point j in the other text.
		for i < iEnd && !changed[i+1] {
			for other[j+1] {
				j++
			}
			j++
			i++
		}
		if i == iEnd {
			return
		}
		start := i

		// Find the end of the run.
		i++
		for changed[i+1] {
			i++
		}
		for other[j+1] {
			j++
		}

		var corresponding int
		for {
			runLength := i - start

			// Move the run up while the line before it equals its last
			// line, merging with earlier runs.
			for start > 0 && equivs[start-1] == equivs[i-1] {
				start--
				changed[start+1] = true
				i--
				changed[i+1] = false
				for changed[start] {
					start--
				}
				j--
				for other[j+1] {
					j--
				}
			}

			// corresponding is the end of the run at the last position
			// where it lines up with a run of changes in the other text,
			// or iEnd if there is none.
			corresponding = iEnd
			if other[j] {
				corresponding = i
			}

			// Move the run down while its first line equals the line
			// after it, merging with later runs.
			for i != iEnd && equivs[start] == equivs[i] {
				changed[start+1] = false
				start++
				changed[i+1] = true
				i++
				for changed[i+1] {
					i++
				}
				for {
					j++
					if !other[j+1] {
						break
					}
					corresponding = i
				}
			}
			if runLength == i-start {
				break
			}
		}

		// Move the merged run back up to line up with changes in the other
		// text if possible.
		for corresponding < i {
			start--
			changed[start+1] = true
			i--
			changed[i+1] = false
			j--
			for other[j+1] {
				j--
			}
		}
	}
}

// change is a run of lines a[a0:a1] replaced by b[b0:b1].
type change struct {
	a0, a1, b0, b1 int
}

// format writes the unified diff of a and b given the changed flags.
func format(oldName, newName string, a, b []string, ca, cb []bool) []byte {
	var changes []change
	for i, j := 0, 0; i < len(a) || j < len(b); {
		if !ca[i+1] && !cb[j+1] {
			i++
			j++
			continue
		}
		c := change{a0: i, b0: j}
		for ca[i+1] {
			i++
		}
		for cb[j+1] {
			j++
		}
		c.a1, c.b1 = i, j
		changes = append(changes, c)
	}
	if len(changes) == 0 {
		return nil
	}

	var out bytes.Buffer
	out.WriteString("--- " + oldName + "\n")
	out.WriteString("+++ " + newName + "\n")
	for len(changes) > 0 {
		// A hunk takes all changes separated by at most 2*context
		// unchanged lines, so that their contexts touch or overlap.
		n := 1
		for n < len(changes) && changes[n].a0-changes[n-1].a1 <= 2*contextLines {
			n++
		}
		hunk := changes[:n]
		changes = changes[n:]

		first, last := hunk[0], hunk[n-1]
		before := min(contextLines, first.a0)
		after := min(contextLines, len(a)-last.a1)
		a0, a1 := first.a0-before, last.a1+after
		b0, b1 := first.b0-before, last.b1+after

		out.WriteString("@@ -")
		writeRange(&out, a0, a1-a0)
		out.WriteString(" +")
		writeRange(&out, b0, b1-b0)
		out.WriteString(" @@\n")

		i := a0
		for _, c := range hunk {
			writeLines(&out, ' ', a[i:c.a0])
			writeLines(&out, '-', a[c.a0:c.a1])
			writeLines(&out, '+', b[c.b0:c.b1])
			i = c.a1
		}
		writeLines(&out, ' ', a[i:a1])
	}
	return out.Bytes()
}

// writeRange writes a hunk header range for count lines from the 0-based
// line start the way diff does: "l,n" with 1-based l, just "l" for a single
// line, and "l,0" with l the line before the range for an empty one.
func writeRange(out *bytes.Buffer, start, count int) {
	var buf [40]byte
	switch count {
	case 0:
		out.Write(strconv.AppendInt(buf[:0], int64(start), 10))
		out.WriteString(",0")
	case 1:
		out.Write(strconv.AppendInt(buf[:0], int64(start+1), 10))
	default:
		b := strconv.AppendInt(buf[:0], int64(start+1), 10)
		b = append(b, ',')
		out.Write(strconv.AppendInt(b, int64(count), 10))
	}
}

// writeLines writes lines, each prefixed with prefix, adding the missing
// newline marker after a last line without one.
func writeLines(out *bytes.Buffer, prefix byte, lines []string) {
	for _, l := range lines {
		out.WriteByte(prefix)
		out.WriteString(l)
		if l == "" || l[len(l)-1] != '\n' {
			out.WriteString("\n" + noNewline)
		}
	}
}
