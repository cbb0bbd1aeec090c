package generator

import (
	"bytes"
	"fmt"
	"go/scanner"
	"go/token"
	"regexp"
	"strings"
)

// spacedDirective matches a comment that was meant as a directive but has
// a space after the slashes: "// fluxloop:trace" or "// fluxloop:agent
// name=x". Prose that merely mentions one ("// fluxloop:trace is ...") has
// words that are not options after the verb and is left alone.
var spacedDirective = regexp.MustCompile(`^//[ \t]+fluxloop:(agent|trace)((?:[ \t]+[a-z]+=\S*)*)[ \t]*$`)

// spacedDirectives returns a warning, file:line:col first, for every comment
// of src that reads as a directive written with a space after the slashes,
// which Go (and fluxloopgen) take for an ordinary comment.
func spacedDirectives(name string, src []byte) []string {
	if !bytes.Contains(src, []byte("fluxloop:")) {
		return nil
	}
	var warnings []string
	fset := token.NewFileSet()
	file := fset.AddFile(name, -1, len(src))
	var s scanner.Scanner
	s.Init(file, src, func(token.Position, string) {}, scanner.ScanComments)
	for {
		pos, tok, lit := s.Scan()
		if tok == token.EOF {
			break
		}
		if tok != token.COMMENT || !strings.HasPrefix(lit, "//") {
			continue
		}
		m := spacedDirective.FindStringSubmatch(strings.TrimRight(lit, "\r"))
		if m == nil {
			continue
		}
		written := strings.TrimRight(strings.TrimRight(lit, "\r"), " \t")
		fixed := directivePrefix + m[1] + m[2]
		warnings = append(warnings, fmt.Sprintf("%s: %q is not a directive: write %s without a space", fset.Position(pos), written, fixed))
	}
	return warnings
}
