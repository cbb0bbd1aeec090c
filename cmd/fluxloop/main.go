// Fluxloop looks at the traces a program instrumented with fluxloop-go
// wrote: it lists them, prints their observation trees, follows the files
// as the program runs, exports a trace, and serves a web viewer.
//
// Usage:
//
//	fluxloop ls [-name S] [-error] [-running] [-since D] [-model M] [-n 20] [text] [source]
//	fluxloop tree [-v] [-w 160] [ID|last] [source]
//	fluxloop tail [-v] [-n 0] [source]
//	fluxloop serve [-addr 127.0.0.1:7777] [source]
//	fluxloop open [-addr 127.0.0.1:7777] [ID|last] [source]
//	fluxloop export [-format jsonl|md] [ID|last] [source]
//	fluxloop upload [-url URL] [-key KEY] [-state FILE] [source]
//
// The source is a directory (default $FLUXLOOP_DIR, else ./.fluxloop), an
// observations.jsonl path, or - for standard input: the output of a program
// run with FLUXLOOP_STORAGE=stdout, whose own lines are ignored, or a file
// fluxloop export wrote. An ID may be a unique prefix of a trace id; "last"
// is the newest trace.
//
//	$ go run ./examples/chain && fluxloop ls
//	ID        NAME        START                DURATION  OBS  ERRORS  TOKENS
//	bc080bbb  AsyncAgent  2026-12-01 11:51:59  151ms     3    0       19
//	1 trace in .fluxloop/observations.jsonl
//
//	$ fluxloop tree
//	AsyncAgent  trace bc080bbbebe728e5bf73a2a4ac91253e
//	started 2026-12-01 11:51:59.828 UTC, took 151ms, 3 observations, 19 tokens (12 in, 7 out)
//	└─ AsyncAgent [agent] 151ms
//	   ├─ FetchContext [span] 50.2ms
//	   └─ GenerateResponse [generation] 101ms  demo-model 12+7 tokens
//
// fluxloop serve starts the viewer, a web page listing the traces and
// showing each as a tree and a timeline, live as the files grow; it binds
// the loopback interface only, and refuses requests naming another host.
// It also takes OpenTelemetry spans as OTLP/HTTP JSON at /v1/traces.
//
// Exit status: 0 success, 1 an error (no observations, no such trace), 2 a
// usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/fluxloop/fluxloop-go/internal/cli"
	"github.com/fluxloop/fluxloop-go/internal/viewer"
	"github.com/fluxloop/fluxloop-go/internal/viewer/ui"
	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env := &cli.Env{
		Stdin:  os.Stdin,
		Stdout: os.Stdout,
		Stderr: os.Stderr,
		Getenv: os.Getenv,
		Color:  cli.UseColor(os.Stdout, os.Getenv),
		Now:    time.Now,
		Assets: ui.FS(),
	}
	os.Exit(run(ctx, os.Args[1:], env))
}

const usage = `usage: fluxloop <command> [flags] [arguments]

Looks at the traces a fluxloop program wrote.

Commands:
  ls [flags] [text] [source]       list traces, newest first
  tree [-v] [ID|last] [source]     print a trace's observation tree (default: the last)
  tail [-v] [-n N] [source]        follow the files, printing each trace as it completes
  serve [-addr A] [source]         start the web viewer (default address 127.0.0.1:7777)
  open [-addr A] [ID|last] [source]
                                   start the viewer and open a trace in the browser
  export [-format jsonl|md] [ID|last] [source]
                                   print a trace's lines, or its conversation as Markdown
  upload [-url URL] [-key KEY] [-state FILE] [source]
                                   send the files' records to a FluxLoop collector
  version                          print the version

The source is a directory (default $FLUXLOOP_DIR, else ./.fluxloop), an
observations.jsonl path, or - for standard input (a program's output with
FLUXLOOP_STORAGE=stdout). An ID may be a unique prefix; "last" is the newest.
Run fluxloop <command> -h for a command's flags.
`

// errUsage marks usage errors (exit status 2); errUsageShown those the
// flag package has already reported.
var (
	errUsage      = errors.New("usage")
	errUsageShown = errors.New("usage shown")
)

func run(ctx context.Context, args []string, env *cli.Env) int {
	if len(args) == 0 {
		fmt.Fprint(env.Stderr, usage)
		return 2
	}
	err := command(ctx, args[0], args[1:], env)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsageShown):
		return 2
	case errors.Is(err, errUsage):
		fmt.Fprintf(env.Stderr, "fluxloop %s: %s\n", args[0], strings.TrimSuffix(err.Error(), ": "+errUsage.Error()))
		return 2
	}
	fmt.Fprintf(env.Stderr, "fluxloop: %v\n", err)
	return 1
}

func usageErr(format string, a ...any) error {
	return fmt.Errorf(format+": %w", append(a, errUsage)...)
}

func newFlags(env *cli.Env, name, args, doc string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.Stderr, "usage: fluxloop %s %s\n\n%s\n", name, args, doc)
		var n int
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprintf(env.Stderr, "\nFlags:\n")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parse parses flags anywhere among the arguments, returning the others.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, errUsageShown
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// split reads the arguments [x] [source]: with one, it is the source if it
// names one ("-" or an existing path); of two, the one that names a source.
func split(pos []string, max int) (x, source string, err error) {
	switch {
	case len(pos) > max:
		return "", "", usageErr("too many arguments: %q", pos)
	case len(pos) == 2 && cli.IsSource(pos[0]) && !cli.IsSource(pos[1]):
		return pos[1], pos[0], nil
	case len(pos) == 2:
		return pos[0], pos[1], nil
	case len(pos) == 1 && max == 2 && !cli.IsSource(pos[0]):
		return pos[0], "", nil
	case len(pos) == 1:
		return "", pos[0], nil
	}
	return "", "", nil
}

func command(ctx context.Context, name string, args []string, env *cli.Env) error {
	switch name {
	case "ls", "list":
		fs := newFlags(env, "ls", "[flags] [text] [source]",
			"Lists the traces, newest first: id, name, start, duration, observations, errors, tokens and cost.\n"+
				"text matches part of a trace's id, name, observation names, models, errors, tags, session or user.")
		var f viewer.Filter
		fs.StringVar(&f.Name, "name", "", "only traces whose name contains `S`")
		fs.BoolVar(&f.Errors, "error", false, "only traces with an error")
		fs.BoolVar(&f.InProgress, "running", false, "only traces in progress")
		since := fs.String("since", "", "only traces started in the last `D` (15m, 2h, 3d) or since a time (RFC 3339)")
		fs.StringVar(&f.Model, "model", "", "only traces with a generation by a model whose name contains `M`")
		fs.IntVar(&f.Limit, "n", 20, "show at most `N` traces (0: all)")
		pos, err := parse(fs, args)
		if err != nil {
			return err
		}
		text, source, err := split(pos, 2)
		if err != nil {
			return err
		}
		f.Text = text
		if f.Since, err = viewer.ParseSince(*since, env.Now()); err != nil {
			return usageErr("%v", err)
		}
		src, err := env.Source(source)
		if err != nil {
			return err
		}
		return cli.List(env, src, cli.ListOptions{Filter: f})

	case "tree", "show":
		fs := newFlags(env, "tree", "[-v] [-w N] [ID|last] [source]",
			"Prints a trace's observation tree: types, durations, errors, streams, models and tokens.")
		var o cli.TreeOptions
		fs.BoolVar(&o.Verbose, "v", false, "show inputs, outputs, source positions and stacks")
		fs.IntVar(&o.Width, "w", 160, "cut values to `N` characters with -v (0: no limit)")
		pos, err := parse(fs, args)
		if err != nil {
			return err
		}
		ref, source, err := split(pos, 2)
		if err != nil {
			return err
		}
		src, err := env.Source(source)
		if err != nil {
			return err
		}
		return cli.Tree(env, src, ref, o)

	case "tail", "follow":
		fs := newFlags(env, "tail", "[-v] [-n N] [source]",
			"Follows the files (or standard input) and prints each trace's tree as it completes.")
		var o cli.TailOptions
		fs.BoolVar(&o.Verbose, "v", false, "show inputs, outputs, source positions and stacks")
		fs.IntVar(&o.Width, "w", 160, "cut values to `N` characters with -v (0: no limit)")
		fs.IntVar(&o.Last, "n", 0, "first print the `N` most recent traces")
		fs.DurationVar(&o.Interval, "interval", 250*time.Millisecond, "time between two reads of the files")
		pos, err := parse(fs, args)
		if err != nil {
			return err
		}
		_, source, err := split(pos, 1)
		if err != nil {
			return err
		}
		src, err := env.Source(source)
		if err != nil {
			return err
		}
		return cli.Tail(ctx, env, src, o)

	case "serve", "open":
		argDoc, doc := "[-addr A] [source]", "Starts the web viewer over the traces, following the files, and prints its URL. It also\n"+
			"takes OpenTelemetry spans as OTLP/HTTP JSON at /v1/traces (OTEL_EXPORTER_OTLP_PROTOCOL=http/json)."
		if name == "open" {
			argDoc, doc = "[-addr A] [ID|last] [source]", "Starts the web viewer and opens the trace in a browser (or prints its URL); with a\nviewer already running at the address, opens the trace there."
		}
		fs := newFlags(env, name, argDoc, doc)
		var o cli.ServeOptions
		fs.StringVar(&o.Addr, "addr", cli.DefaultAddr, "listen on `address` (port 0: any free port)")
		hosts := fs.String("allow-host", "", "also accept requests naming these `hosts` (comma-separated), for a non-loopback -addr")
		fs.DurationVar(&o.Interval, "interval", 250*time.Millisecond, "time between two reads of the files")
		pos, err := parse(fs, args)
		if err != nil {
			return err
		}
		max := 1
		if name == "open" {
			max = 2
		}
		ref, source, err := split(pos, max)
		if err != nil {
			return err
		}
		if name == "open" {
			o.Open = ref
			if o.Open == "" {
				o.Open = "last"
			}
		}
		if *hosts != "" {
			o.AllowedHosts = strings.Split(*hosts, ",")
		}
		src, err := env.Source(source)
		if err != nil {
			return err
		}
		return cli.Serve(ctx, env, src, o)

	case "export":
		fs := newFlags(env, "export", "[-format jsonl|md] [ID|last] [source]",
			"Prints a trace: its lines as JSONL (observations, then the trace line, tagged with their\n"+
				"kind so that fluxloop reads the file back), or its conversation as Markdown.")
		format := fs.String("format", cli.FormatJSONL, "`format`: jsonl or md")
		pos, err := parse(fs, args)
		if err != nil {
			return err
		}
		ref, source, err := split(pos, 2)
		if err != nil {
			return err
		}
		if *format != cli.FormatJSONL && *format != cli.FormatMarkdown {
			return usageErr("-format %q: want jsonl or md", *format)
		}
		src, err := env.Source(source)
		if err != nil {
			return err
		}
		return cli.Export(env, src, ref, *format)

	case "upload":
		fs := newFlags(env, "upload", "[-url URL] [-key KEY] [-state FILE] [source]",
			"Sends the observations and traces of the files (what the file storage wrote, or what the\n"+
				"http storage spilled while its collector was down) to a FluxLoop collector, in batches.\n"+
				"The state file records how far each batch acknowledged got in each file, per collector, so a\n"+
				"re-run sends only what is new; a batch interrupted midway is sent again (duplicate ids).")
		var o cli.UploadOptions
		fs.StringVar(&o.URL, "url", "", "the collector's base `URL` (default $FLUXLOOP_API_URL)")
		fs.StringVar(&o.APIKey, "key", "", "the collector's API `key` (default $FLUXLOOP_API_KEY)")
		fs.StringVar(&o.State, "state", "", "the state `file` (default source/"+cli.UploadStateFile+")")
		pos, err := parse(fs, args)
		if err != nil {
			return err
		}
		_, source, err := split(pos, 1)
		if err != nil {
			return err
		}
		src, err := env.Source(source)
		if err != nil {
			return err
		}
		return cli.Upload(ctx, env, src, o)

	case "version", "-version", "--version":
		fmt.Fprintf(env.Stdout, "fluxloop %s\n", fluxloop.Version)
		return nil

	case "help", "-h", "-help", "--help":
		fmt.Fprint(env.Stdout, usage)
		return nil
	}
	io.WriteString(env.Stderr, usage)
	return usageErr("unknown command %q", name)
}
