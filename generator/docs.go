package generator

import (
	"go/ast"
	"go/doc/comment"
	"slices"
	"strings"

	"github.com/dave/dst"
	"github.com/dave/dst/decorator"
)

// canonicalDocs rewrites the doc comments of the package clause and of the
// top-level declarations into the form gofmt gives them. gofmt reformats
// such comments (a "//" line between text and directives, for one), but the
// printer does not when it prints a restored file, so without this the
// output of a source that is not gofmt'd would not be either.
func canonicalDocs(af *ast.File, dec *decorator.Decorator) {
	canonicalDoc(af.Doc, dec.Dst.Nodes[af])
	for _, decl := range af.Decls {
		switch d := decl.(type) {
		case *ast.FuncDecl:
			canonicalDoc(d.Doc, dec.Dst.Nodes[d])
		case *ast.GenDecl:
			canonicalDoc(d.Doc, dec.Dst.Nodes[d])
		}
	}
}

// canonicalDoc rewrites doc, the doc comment of n, in n's decorations,
// which end with it.
func canonicalDoc(doc *ast.CommentGroup, n dst.Node) {
	if doc == nil || n == nil {
		return
	}
	texts := make([]string, len(doc.List))
	for i, c := range doc.List {
		texts[i] = c.Text
	}
	formatted := formatDocComment(texts)
	if slices.Equal(formatted, texts) {
		return
	}
	start := &n.Decorations().Start
	var at []int // indexes of the comments in start
	for i, d := range *start {
		if d != "\n" {
			at = append(at, i)
		}
	}
	if len(at) < len(texts) {
		return
	}
	at = at[len(at)-len(texts):]
	for i, j := range at {
		if (*start)[j] != texts[i] {
			return // not laid out as expected: leave it
		}
	}
	out := append(dst.Decorations(nil), (*start)[:at[0]]...)
	out = append(out, formatted...)
	if strings.HasPrefix(formatted[len(formatted)-1], "/*") {
		out = append(out, "\n")
	}
	*start = out
}

// formatDocComment is go/printer's formatDocComment on comment texts: the
// canonical form of a doc comment.
func formatDocComment(list []string) []string {
	var kind, text string
	var directives []string
	if len(list) == 1 && strings.HasPrefix(list[0], "/*") {
		kind = "/*"
		text = list[0]
		if !strings.Contains(text, "\n") || allStars(text) {
			return list
		}
		text = text[2 : len(text)-2]
	} else if strings.HasPrefix(list[0], "//") {
		kind = "//"
		var b strings.Builder
		for _, c := range list {
			after, found := strings.CutPrefix(c, "//")
			if !found {
				return list
			}
			if isDirectiveText(c) {
				directives = append(directives, c)
				continue
			}
			b.WriteString(strings.TrimPrefix(after, " "))
			b.WriteString("\n")
		}
		text = b.String()
	} else {
		return list
	}
	if text == "" {
		return list
	}
	var p comment.Parser
	var pr comment.Printer
	text = string(pr.Comment(p.Parse(text)))
	if kind == "/*" {
		return []string{"/*\n" + text + "*/"}
	}
	var out []string
	for text != "" {
		var line string
		line, text, _ = strings.Cut(text, "\n")
		switch {
		case line == "":
			line = "//"
		case strings.HasPrefix(line, "\t"):
			line = "//" + line
		default:
			line = "// " + line
		}
		out = append(out, line)
	}
	if len(directives) > 0 {
		out = append(out, "//")
		out = append(out, directives...)
	}
	return out
}

// allStars reports whether text is an old-style block comment whose lines
// all start with a star, which gofmt leaves alone.
func allStars(text string) bool {
	for i := 0; i < len(text); i++ {
		if text[i] == '\n' {
			j := i + 1
			for j < len(text) && (text[j] == ' ' || text[j] == '\t') {
				j++
			}
			if j < len(text) && text[j] != '*' {
				return false
			}
		}
	}
	return true
}
