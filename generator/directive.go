package generator

import (
	"errors"
	"fmt"
	"go/ast"
	"go/token"
	"sort"
	"strconv"
	"strings"

	fluxloopruntime "github.com/fluxloop/fluxloop-go/runtime"
)

// directivePrefix starts every fluxloop directive. Like //go: directives, a
// directive has no space after the slashes: "// fluxloop:trace" is an ordinary
// comment.
const directivePrefix = "//fluxloop:"

// Kind is the verb of a directive.
type Kind string

// The directive verbs.
const (
	KindAgent Kind = "agent" // //fluxloop:agent: the entry point of an agent run
	KindTrace Kind = "trace" // //fluxloop:trace: a step inside a run
)

// observationTypes are the FluxLoop observation types a directive may ask for,
// mapped to the runtime constant that names each.
var observationTypes = map[string]string{
	"span":       "TypeSpan",
	"agent":      "TypeAgent",
	"chain":      "TypeChain",
	"tool":       "TypeTool",
	"generation": "TypeGeneration",
	"event":      "TypeEvent",
	"evaluation": "TypeEvaluation",
}

// Capture says which values a directive records.
type Capture string

// The capture modes of the capture= option.
const (
	CaptureAll    Capture = "all"
	CaptureInput  Capture = "input"
	CaptureOutput Capture = "output"
	CaptureNone   Capture = "none"
)

func (c Capture) inputs() bool  { return c == CaptureAll || c == CaptureInput }
func (c Capture) outputs() bool { return c == CaptureAll || c == CaptureOutput }

// StreamMode says which results a directive wraps as streams (stream=).
type StreamMode string

// The values of the stream= option.
const (
	// StreamAuto (no stream= option) wraps iter.Seq and iter.Seq2 results,
	// and receive-only channel results that the function itself makes.
	StreamAuto StreamMode = ""
	// StreamOn (stream=true) wraps every receive-only channel, iter.Seq
	// and iter.Seq2 result, wherever the channel comes from.
	StreamOn StreamMode = "true"
	// StreamOff (stream=false) wraps no result: the observation ends when
	// the function returns.
	StreamOff StreamMode = "false"
)

// Directive is one parsed //fluxloop: comment.
type Directive struct {
	Kind    Kind
	Name    string // name= option, or "" for the default name
	Type    string // observation type (span, agent, ...)
	Capture Capture
	Stream  StreamMode // stream= option
	Pos     token.Pos  // position of the comment
}

// parseDirective parses the text of one comment that starts with
// directivePrefix. Errors are messages without a position.
func parseDirective(text string) (*Directive, error) {
	body := strings.TrimPrefix(text, directivePrefix)
	verb := ""
	if i := strings.IndexAny(body, optionSpace); i != 0 {
		if i < 0 {
			i = len(body)
		}
		verb, body = body[:i], body[i:]
	}
	d := &Directive{Capture: CaptureAll}
	switch Kind(verb) {
	case KindAgent:
		d.Kind, d.Type = KindAgent, "agent"
	case KindTrace:
		d.Kind, d.Type = KindTrace, "span"
	default:
		msg := fmt.Sprintf("unknown directive %s%s", directivePrefix, verb)
		if s := suggest(verb, []string{string(KindAgent), string(KindTrace)}); s != "" {
			msg += fmt.Sprintf("; did you mean %s%s?", directivePrefix, s)
		} else {
			msg += fmt.Sprintf("; use %sagent or %strace", directivePrefix, directivePrefix)
		}
		return nil, fmt.Errorf("%s", msg)
	}
	opts, err := splitOptions(body, verb)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, o := range opts {
		key, value := o.key, o.value
		if seen[key] {
			return nil, fmt.Errorf("option %s= given twice", key)
		}
		seen[key] = true
		switch key {
		case "name":
			if value == "" {
				return nil, fmt.Errorf("empty name= option; give a name or leave the option out")
			}
			d.Name = value
		case "type":
			if _, ok := observationTypes[value]; !ok {
				return nil, fmt.Errorf("unknown observation type %q; use one of %s", value, strings.Join(sortedKeys(observationTypes), ", "))
			}
			d.Type = value
		case "capture":
			// One parser for capture= and FLUXLOOP_CAPTURE.
			m, err := fluxloopruntime.ParseCapture(value)
			if err != nil {
				msg := fmt.Sprintf("unknown capture mode %q; use all, input, output or none", value)
				if i := strings.Index(err.Error(), " (did you mean"); i >= 0 {
					msg += err.Error()[i:]
				}
				return nil, errors.New(msg)
			}
			d.Capture = Capture(m.String())
		case "stream":
			switch StreamMode(value) {
			case StreamOn, StreamOff:
				d.Stream = StreamMode(value)
			default:
				return nil, fmt.Errorf("unknown stream= value %q; use true (wrap every channel and iterator result) or false (wrap none), or leave the option out", value)
			}
		default:
			msg := fmt.Sprintf("unknown option %q", key)
			if s := suggest(key, []string{"name", "type", "capture", "stream"}); s != "" {
				msg += fmt.Sprintf("; did you mean %s=?", s)
			} else {
				msg += "; options are name=, type=, capture= and stream="
			}
			return nil, fmt.Errorf("%s", msg)
		}
	}
	return d, nil
}

// optionSpace separates the verb and the options of a directive.
const optionSpace = " \t\r\n\v\f"

// An option is one key=value of a directive.
type option struct{ key, value string }

// splitOptions splits the options of a directive at spaces. A value may be a
// Go string literal, for names with spaces or other special characters:
// name="my tool" or name=`my tool`.
func splitOptions(body, verb string) ([]option, error) {
	var opts []option
	rest := strings.TrimLeft(body, optionSpace)
	for rest != "" {
		end := strings.IndexAny(rest, optionSpace+"=")
		if end < 0 {
			end = len(rest)
		}
		if end == len(rest) || rest[end] != '=' {
			f := rest[:end]
			if len(opts) > 0 && opts[len(opts)-1].key == "name" {
				return nil, fmt.Errorf("malformed option %q in %s%s after name=%s: a name with spaces must be quoted, as in name=%q", f, directivePrefix, verb, opts[len(opts)-1].value, opts[len(opts)-1].value+" "+f)
			}
			return nil, fmt.Errorf("malformed option %q in %s%s: options are key=value (name=, type=, capture=, stream=)", f, directivePrefix, verb)
		}
		key := rest[:end]
		rest = rest[end+1:]
		var value string
		if rest != "" && (rest[0] == '"' || rest[0] == '`') {
			lit, err := strconv.QuotedPrefix(rest)
			if err != nil {
				return nil, fmt.Errorf("unterminated or malformed quoted value of %s= in %s%s: write it as a Go string literal, as in %s=\"my tool\"", key, directivePrefix, verb, key)
			}
			value, _ = strconv.Unquote(lit)
			rest = rest[len(lit):]
			if rest != "" && !strings.ContainsRune(optionSpace, rune(rest[0])) {
				return nil, fmt.Errorf("malformed option %s=%s%s in %s%s: put a space after the closing quote", key, lit, rest, directivePrefix, verb)
			}
		} else {
			end := strings.IndexAny(rest, optionSpace)
			if end < 0 {
				end = len(rest)
			}
			value, rest = rest[:end], rest[end:]
			if strings.ContainsAny(value, "\"`") {
				return nil, fmt.Errorf("malformed value %s=%s in %s%s: quote a value as a whole Go string literal, as in %s=\"my tool\"", key, value, directivePrefix, verb, key)
			}
		}
		opts = append(opts, option{key, value})
		rest = strings.TrimLeft(rest, optionSpace)
	}
	return opts, nil
}

// isDirective reports whether a comment is a fluxloop directive.
func isDirective(c *ast.Comment) bool {
	return strings.HasPrefix(c.Text, directivePrefix)
}

// findDirectives returns the directive of every function declaration in f
// and reports every misplaced or malformed directive through errf.
func findDirectives(f *ast.File, errf func(pos token.Pos, format string, args ...any)) map[*ast.FuncDecl]*Directive {
	// Directives in the doc comment of a function with a body are the
	// accepted ones; every other directive comment is an error.
	accepted := map[*ast.Comment]*ast.FuncDecl{}
	for _, decl := range f.Decls {
		fd, ok := decl.(*ast.FuncDecl)
		if !ok || fd.Doc == nil {
			continue
		}
		for _, c := range fd.Doc.List {
			if isDirective(c) {
				accepted[c] = fd
			}
		}
	}
	found := map[*ast.FuncDecl]*Directive{}
	for _, cg := range f.Comments {
		for _, c := range cg.List {
			if !isDirective(c) {
				continue
			}
			d, err := parseDirective(c.Text)
			if err != nil {
				errf(c.Pos(), "%v", err)
				continue
			}
			d.Pos = c.Pos()
			fd, ok := accepted[c]
			if !ok {
				errf(c.Pos(), "%s%s must be in the doc comment of a function or method declaration, %s", directivePrefix, d.Kind, misplacedWhat(f, c))
				continue
			}
			if fd.Body == nil {
				errf(c.Pos(), "%s%s on %s, which has no body; only functions with a body can be traced", directivePrefix, d.Kind, fd.Name.Name)
				continue
			}
			if _, dup := found[fd]; dup {
				errf(c.Pos(), "second fluxloop directive on %s; keep one", fd.Name.Name)
				continue
			}
			found[fd] = d
		}
	}
	return found
}

// misplacedWhat describes what a misplaced directive is attached to, so the
// message says what to do.
func misplacedWhat(f *ast.File, c *ast.Comment) string {
	what := "directly above the func keyword"
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case nil:
			return false
		case *ast.GenDecl:
			if isIn(n.Doc, c) {
				what = "not of a " + n.Tok.String() + " declaration"
				return false
			}
		case *ast.ValueSpec:
			if isIn(n.Doc, c) || isIn(n.Comment, c) {
				what = "not of a var or const declaration"
				return false
			}
		case *ast.TypeSpec:
			if isIn(n.Doc, c) || isIn(n.Comment, c) {
				what = "not of a type declaration"
				return false
			}
		case *ast.Field:
			if isIn(n.Doc, c) || isIn(n.Comment, c) {
				what = "not of an interface method or struct field; mark the methods of the implementing types instead"
				return false
			}
		case *ast.FuncLit:
			if contains(n, c) {
				what = "not inside a function literal; move the literal into a named function and mark that"
			}
		case *ast.FuncDecl:
			if n.Body != nil && contains(n.Body, c) {
				what = "not inside a function body; put it in the doc comment above the func keyword"
			}
		}
		_, isFile := n.(*ast.File)
		return isFile || contains(n, c)
	})
	return what
}

func contains(n ast.Node, c *ast.Comment) bool {
	return n.Pos() <= c.Pos() && c.End() <= n.End()
}

func isIn(cg *ast.CommentGroup, c *ast.Comment) bool {
	if cg == nil {
		return false
	}
	for _, x := range cg.List {
		if x == c {
			return true
		}
	}
	return false
}

// suggest returns the candidate closest to s when it is a likely typo.
func suggest(s string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the Damerau-Levenshtein (optimal string alignment) distance.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
