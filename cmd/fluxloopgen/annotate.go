package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"

	"github.com/fluxloop/fluxloop-go/generator"
)

const annotateUsage = `usage: fluxloopgen annotate [flags] [packages]

Inserts //fluxloop:trace (or -as agent) at the end of the doc comment of the
selected functions. Skips generated files, init functions, functions without
a body or marked //go:nosplit, and functions that already have a directive.
-remove deletes the directives again.

Flags:
`

// annotate runs "fluxloopgen annotate".
func annotate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fluxloopgen annotate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		match    = fs.String("match", "", "annotate only functions whose name (Type.Method for methods) matches `regexp`")
		exported = fs.Bool("exported", false, "annotate only exported functions and methods")
		as       = fs.String("as", "trace", "directive to insert: trace or agent")
		typ      = fs.String("type", "", "add type=`T` to the directive (span, tool, generation, ...)")
		tests    = fs.Bool("tests", false, "also annotate functions in _test.go files")
		remove   = fs.Bool("remove", false, "delete fluxloop directives instead")
		list     = fs.Bool("l", false, "list the files that would change; write nothing")
		showDiff = fs.Bool("d", false, "print the changes as a unified diff; write nothing")
		tags     = fs.String("tags", "", "comma-separated build tags")
	)
	fs.Usage = func() {
		fmt.Fprint(stderr, annotateUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	opts := generator.AnnotateOptions{
		Patterns: fs.Args(),
		Exported: *exported,
		As:       generator.Kind(*as),
		Type:     *typ,
		Tests:    *tests,
		Remove:   *remove,
	}
	if *tags != "" {
		opts.Tags = splitTags(*tags)
	}
	if *match != "" {
		re, err := regexp.Compile(*match)
		if err != nil {
			fmt.Fprintf(stderr, "fluxloopgen annotate: -match: %v\n", err)
			return 2
		}
		opts.Match = re
	}
	res, err := generator.Annotate(ctx, opts)
	if err != nil {
		fmt.Fprintf(stderr, "%s\n", prefixLines(err.Error()))
		return 2
	}
	cwd, _ := os.Getwd()
	printChanges(stdout, cwd, res.Changes, *list, *showDiff)
	if *list || *showDiff {
		return 0
	}
	if err := generator.Write(res.Changes); err != nil {
		fmt.Fprintf(stderr, "fluxloopgen annotate: %v\n", err)
		return 2
	}
	return 0
}
