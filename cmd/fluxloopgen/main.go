// Fluxloopgen instruments Go functions marked with fluxloop directives so
// that every call records an observation with the fluxloop runtime.
//
// Mark the entry point of an agent run with //fluxloop:agent and the steps
// inside it with //fluxloop:trace, as a line of the function's doc comment:
//
//	//fluxloop:agent
//	func Answer(ctx context.Context, question string) (string, error) { ... }
//
//	//fluxloop:trace name=search type=tool capture=input
//	func (s *Store) Search(ctx context.Context, q string) ([]Doc, error) { ... }
//
// Options: name= (default: the function's name, or Type.Method; a name with
// spaces is written as a Go string literal, name="my tool"), type= (span,
// agent, chain, tool, generation, event, evaluation; default agent for
// //fluxloop:agent and span for //fluxloop:trace), capture= (all, input,
// output, none; default all). Like //go: directives, a directive has no space
// after the slashes: "// fluxloop:trace" is an ordinary comment, which
// fluxloopgen warns about.
//
// Usage:
//
//	fluxloopgen [flags] [packages]
//	fluxloopgen build|run|test|vet [go flags] [packages] [-- args]
//	fluxloopgen annotate [flags] [packages]
//
// The packages are go list patterns (default "."). Fluxloopgen rewrites the
// files that hold directives in place, all of them or none, and only those
// whose content changes. A second run changes nothing; -remove restores the
// original source. The flags are:
//
//	-l        list the files that would change; write nothing
//	-d        print the changes as a unified diff; write nothing
//	-check    exit 1 if any file would change (a CI gate); write nothing
//	-remove   strip the instrumentation instead of adding it
//	-overlay dir
//	          write instrumented copies of the changed files into dir and
//	          dir/overlay.json for go build -overlay; the sources stay
//	          untouched, and an unchanged file is not written again
//	-tests    also instrument _test.go files (default true; -tests=false
//	          suits overlay builds, which then need not compile package
//	          testing)
//	-tags t   comma-separated build tags, as for go build
//	-gomod    add the runtime's module, github.com/fluxloop/fluxloop-go/runtime,
//	          to go.mod when the module does not require it yet (default
//	          true): with go get at fluxloopgen's version or, when go.mod
//	          already replaces the runtime module (a local checkout), with a
//	          require line at the replaced version (go get of that version
//	          then completes go.sum); with -gomod=false, fluxloopgen stops
//	          and prints the command to run
//	-v        report what was instrumented and what was skipped
//	-version  print the version and exit
//
// Exit status: 0 on success, 1 when -check finds files to change, 2 on
// errors. Errors name the place in the source (file.go:12:3: message) and
// nothing is written.
//
// Every instrumented file ends with its observation sites and, before them,
// a version guard: const _ = fluxloop.GeneratedCodeAPI1, with a comment
// naming the fluxloopgen version. Built against a runtime too old or too new
// for the generated code, the file fails to compile there ("undefined:
// fluxloop.GeneratedCodeAPI1"), and the comment gives the fix: go get the
// runtime at that version, or regenerate with a matching fluxloopgen.
//
// A file rewritten in place is the source from then on: it carries no //line
// directives, so compiler errors, go vet, stack traces and the recorded
// code.lineno (the line of the function's func keyword) name its lines as
// they are. The copies of an overlay build (-overlay, build, run, test, vet)
// carry //line directives that name the untouched source's lines.
//
// From go:generate, with fluxloopgen tracked as a tool of the module
// (go get -tool github.com/fluxloop/fluxloop-go/cmd/fluxloopgen):
//
//	//go:generate go tool fluxloopgen
//
// or without the tool directive:
//
//	//go:generate go run github.com/fluxloop/fluxloop-go/cmd/fluxloopgen@latest
//
// As a Makefile pre-build step that leaves the sources untouched:
//
//	build:
//		go tool fluxloopgen -overlay $(OVERLAY) ./... && go build -overlay $(OVERLAY)/overlay.json ./...
//
// The build, run, test and vet subcommands do both in one step: they
// instrument the main module into an overlay kept in the user cache
// directory, then run the go command with -overlay and the remaining
// arguments (after --, the program's or the test binary's arguments), and
// exit with its status.
//
// The annotate subcommand inserts directives into existing code: at the end
// of the doc comment of every selected function (-match REGEXP on the name or
// Type.Method, -exported, -as trace|agent, -type T, -tests to include
// _test.go files; -l and -d as above), skipping generated files, init,
// functions without a body or marked //go:nosplit, and functions already
// marked. annotate -remove deletes the directives of the selected functions.
// A gofmt'd file stays gofmt'd; a file that is not only gets lines inserted;
// either way annotate -remove gives it back byte for byte.
//
// In a go statement inside a marked function, go f(x) becomes
// go fluxloop.Follow1(f)(x) (the typed helper of f's signature) so the new
// goroutine's observations nest under the function's, and the function
// passed to sync.WaitGroup.Go or errgroup.Group.Go/TryGo is wrapped with
// fluxloop.Bind or BindErr; iter.Seq and iter.Seq2 results, and <-chan T
// results the function makes itself (or any with stream=true), are wrapped
// so the observation lasts until the stream ends; an HTTP handler
// (http.ResponseWriter, *http.Request) records one trace per request.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/fluxloop/fluxloop-go/generator"
	"github.com/fluxloop/fluxloop-go/internal/diff"
)

// version is set with -ldflags "-X main.version=..." for release builds;
// otherwise it comes from the module's build information.
var version string

const usage = `usage: fluxloopgen [flags] [packages]

Instruments the functions marked //fluxloop:agent or //fluxloop:trace in the
packages (go list patterns, default ".") and rewrites their files in place.

Flags:
`

func main() {
	// A short-lived tool that builds large syntax trees: trade memory for
	// fewer collections, as gopls and other tools do.
	debug.SetGCPercent(400)
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole command; it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "build", "run", "test", "vet":
			return goWrapper(ctx, args[0], args[1:], stdout, stderr)
		case "annotate":
			return annotate(ctx, args[1:], stdout, stderr)
		}
		if s := mistypedCommand(args[0]); s != "" {
			fmt.Fprintf(stderr, "fluxloopgen: unknown command %q; did you mean %q?\n", args[0], s)
			return 2
		}
	}
	fs := flag.NewFlagSet("fluxloopgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		list     = fs.Bool("l", false, "list the files that would change; write nothing")
		showDiff = fs.Bool("d", false, "print the changes as a unified diff; write nothing")
		check    = fs.Bool("check", false, "exit 1 if any file would change; write nothing")
		remove   = fs.Bool("remove", false, "strip the instrumentation instead of adding it")
		tags     = fs.String("tags", "", "comma-separated build tags")
		gomod    = fs.Bool("gomod", true, "add the runtime module github.com/fluxloop/fluxloop-go/runtime to go.mod when missing (go get, or a require line when go.mod replaces it)")
		tests    = fs.Bool("tests", true, "also instrument _test.go files (-tests=false leaves them, and package testing, out: for builds)")
		overlay  = fs.String("overlay", "", "write instrumented copies and an overlay.json for go build -overlay into `dir`; sources stay untouched")
		verbose  = fs.Bool("v", false, "report what was instrumented and what was skipped")
		showVer  = fs.Bool("version", false, "print the version and exit")
	)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *showVer {
		fmt.Fprintln(stdout, "fluxloopgen", toolVersion())
		return 0
	}
	opts := generator.Options{Patterns: fs.Args(), Remove: *remove, AbsLineDirectives: *overlay != "", SkipTests: !*tests}
	if *tags != "" {
		opts.Tags = splitTags(*tags)
	}
	var logw *prefixWriter
	if *verbose {
		logw = &prefixWriter{w: stderr, prefix: "fluxloopgen: "}
		opts.Log = logw
	}
	generate := generator.Generate
	if *overlay != "" && !*list && !*showDiff && !*check {
		generate = generateCached // an overlay build reuses unchanged results
	}
	res, err := generate(ctx, opts)
	logw.flush()
	if err != nil {
		fmt.Fprintf(stderr, "%s\n", prefixLines(err.Error()))
		return 2
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(stderr, "fluxloopgen: %s\n", w)
	}
	cwd, _ := os.Getwd()
	dryRun := *list || *showDiff || *check
	printChanges(stdout, cwd, res.Changes, *list, *showDiff)
	if *verbose {
		verb := "instrumented"
		if *remove {
			verb = "stripped"
		}
		fmt.Fprintf(stderr, "fluxloopgen: %s %d functions; %d files to change\n", verb, res.Functions, len(res.Changes))
	}
	if *check {
		if len(res.Changes) > 0 {
			if !*list && !*showDiff {
				for _, c := range res.Changes {
					fmt.Fprintf(stderr, "fluxloopgen: %s is not up to date; run fluxloopgen\n", displayPath(cwd, c.Path))
				}
			}
			return 1
		}
		return 0
	}
	if *overlay != "" && !dryRun {
		path, err := generator.WriteOverlay(*overlay, res.Changes)
		if err != nil {
			fmt.Fprintf(stderr, "fluxloopgen: %v\n", err)
			return 2
		}
		if *verbose {
			fmt.Fprintf(stderr, "fluxloopgen: wrote %s\n", path)
		}
		return 0
	}
	if dryRun || len(res.Changes) == 0 {
		return 0
	}
	if *verbose {
		for _, c := range res.Changes {
			fmt.Fprintf(stderr, "fluxloopgen: will write %s (%d -> %d bytes)\n", displayPath(cwd, c.Path), len(c.Old), len(c.New))
		}
	}
	if !*remove {
		if err := generator.RequireRuntime(ctx, ".", toolVersion(), os.Environ(), *gomod); err != nil {
			fmt.Fprintf(stderr, "fluxloopgen: %v\n", err)
			return 2
		}
	}
	if err := generator.Write(res.Changes); err != nil {
		fmt.Fprintf(stderr, "fluxloopgen: %v\n", err)
		return 2
	}
	if *verbose {
		fmt.Fprintf(stderr, "fluxloopgen: wrote %d files\n", len(res.Changes))
	}
	return 0
}

// commands are the subcommands, for the suggestion on a typo.
var commands = []string{"build", "run", "test", "vet", "annotate"}

// mistypedCommand returns the subcommand arg is likely a typo of, when arg
// is a bare word (not a flag, not a path or pattern that exists).
func mistypedCommand(arg string) string {
	if arg == "" || strings.HasPrefix(arg, "-") || strings.ContainsAny(arg, "./\\") {
		return ""
	}
	if _, err := os.Stat(arg); err == nil {
		return ""
	}
	best, bestDist := "", 3
	for _, c := range commands {
		limit := 2
		if len(c) <= 4 {
			limit = 1
		}
		if d := editDistance(arg, c); d <= limit && d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the Damerau-Levenshtein (optimal string alignment)
// distance.
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

// prefixWriter prefixes every line written to it (-v notes), so that each
// line of fluxloopgen's output says where it comes from. A nil
// *prefixWriter is not used as a writer; flush on it does nothing.
type prefixWriter struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			break
		}
		line := p.buf[:i+1]
		if !bytes.HasPrefix(line, []byte(p.prefix)) {
			if _, err := io.WriteString(p.w, p.prefix); err != nil {
				return 0, err
			}
		}
		if _, err := p.w.Write(line); err != nil {
			return 0, err
		}
		p.buf = p.buf[i+1:]
	}
	return len(b), nil
}

// flush writes a last line that had no newline.
func (p *prefixWriter) flush() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.buf) > 0 {
		fmt.Fprintf(p.w, "%s%s\n", p.prefix, p.buf)
		p.buf = nil
	}
}

func splitTags(s string) []string { return strings.Split(s, ",") }

// toolVersion is the version of the fluxloop-go module this binary was built
// from.
func toolVersion() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(devel)"
	}
	if bi.Main.Path == generator.ModulePath {
		return bi.Main.Version
	}
	for _, d := range bi.Deps {
		if d.Path == generator.ModulePath {
			return d.Version
		}
	}
	return "(devel)"
}

// printChanges lists the changed files (-l) and prints their diffs (-d).
func printChanges(stdout io.Writer, cwd string, changes []generator.Change, list, showDiff bool) {
	for _, c := range changes {
		name := displayPath(cwd, c.Path)
		if list {
			fmt.Fprintln(stdout, name)
		}
		if showDiff {
			stdout.Write(diff.Unified(name+".orig", name, c.Old, c.New))
		}
	}
}

func displayPath(cwd, path string) string {
	if cwd != "" && strings.HasPrefix(path, cwd+string(os.PathSeparator)) {
		return path[len(cwd)+1:]
	}
	return path
}

// prefixLines leaves positioned messages as they are (file:line:col: msg)
// and prefixes any other line with the command name.
func prefixLines(msg string) string {
	lines := strings.Split(strings.TrimRight(msg, " \t\r\n"), "\n")
	for i, l := range lines {
		if !strings.Contains(l, ".go:") {
			lines[i] = "fluxloopgen: " + l
		}
	}
	return strings.Join(lines, "\n")
}
