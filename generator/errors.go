package generator

import (
	"fmt"
	"go/token"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// An Error is a problem at a position in a source file.
type Error struct {
	Pos token.Position
	Msg string
}

// Error formats the error as the go command does: file:line:col: message.
func (e *Error) Error() string {
	if !e.Pos.IsValid() {
		return e.Msg
	}
	return fmt.Sprintf("%s: %s", e.Pos, e.Msg)
}

// ErrorList is a list of errors sorted by position. It is returned as the
// error of a run that found problems in the source.
type ErrorList []*Error

// Error joins the errors, one a line.
func (l ErrorList) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// sort orders the list by file, line and column and drops exact duplicates,
// which arise when a file belongs to several package variants.
func (l ErrorList) sort() ErrorList {
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i].Pos, l[j].Pos
		if a.Filename != b.Filename {
			return a.Filename < b.Filename
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	out := l[:0]
	for i, e := range l {
		if i > 0 && *e == *l[i-1] {
			continue
		}
		out = append(out, e)
	}
	return out
}

// relPath shortens an absolute path to one relative to dir when it lies
// below dir, so messages read like the go command's.
func relPath(dir, path string) string {
	if dir == "" {
		return path
	}
	rel, err := filepath.Rel(dir, path)
	if err != nil || strings.HasPrefix(rel, "..") {
		return path
	}
	return rel
}

// parsePos parses the "file:line:col" positions go/packages reports.
func parsePos(s string) token.Position {
	var pos token.Position
	rest := s
	for _, dst := range []*int{&pos.Column, &pos.Line} {
		i := strings.LastIndexByte(rest, ':')
		if i < 0 {
			break
		}
		n, err := strconv.Atoi(rest[i+1:])
		if err != nil {
			break
		}
		*dst = n
		rest = rest[:i]
	}
	if pos.Line == 0 && pos.Column != 0 {
		// Only "file:line" was given.
		pos.Line, pos.Column = pos.Column, 0
	}
	if pos.Line == 0 || rest == "" || rest == "-" {
		return token.Position{}
	}
	pos.Filename = rest
	return pos
}
