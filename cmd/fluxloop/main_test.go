package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fluxloop/fluxloop-go/internal/cli"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// fixed is the tests' clock: an hour after the fixtures were written.
var fixed = time.Date(2026, 12, 1, 13, 0, 0, 0, time.UTC)

type cliCase struct {
	name  string
	args  []string
	env   map[string]string
	stdin string // a file under testdata, or text
	color bool
}

func runCase(t *testing.T, c cliCase) string {
	t.Helper()
	var stdin []byte
	if c.stdin != "" {
		if b, err := os.ReadFile(c.stdin); err == nil {
			stdin = b
		} else {
			stdin = []byte(c.stdin)
		}
	}
	var out, errb bytes.Buffer
	env := &cli.Env{
		Stdin:   bytes.NewReader(stdin),
		Stdout:  &out,
		Stderr:  &errb,
		Getenv:  func(k string) string { return c.env[k] },
		Now:     func() time.Time { return fixed },
		Loc:     time.UTC,
		Color:   c.color,
		OpenURL: func(u string) error { return cli.ErrNoOpener },
	}
	code := run(context.Background(), c.args, env)
	wd, _ := os.Getwd()
	s := fmt.Sprintf("$ fluxloop %s\n%s", strings.Join(c.args, " "), out.String())
	if errb.Len() > 0 {
		s += "--- stderr\n" + errb.String()
	}
	s += fmt.Sprintf("--- exit %d\n", code)
	return strings.ReplaceAll(s, wd, "$WORK")
}

func TestGolden(t *testing.T) {
	for _, c := range []cliCase{
		{name: "ls", args: []string{"ls", "testdata/runs"}},
		{name: "ls_errors", args: []string{"ls", "-error", "testdata/runs"}},
		{name: "ls_model_since", args: []string{"ls", "-model", "GPT", "-since", "2026-12-01T11:52:00Z", "testdata/runs"}},
		{name: "ls_since_duration", args: []string{"ls", "testdata/runs", "-since", "1h5m"}},
		{name: "ls_limit", args: []string{"ls", "-n", "3", "testdata/runs"}},
		{name: "ls_text", args: []string{"ls", "testdata/runs", "wordcount"}},
		{name: "ls_text_step", args: []string{"ls", "word_count", "testdata/runs"}},
		{name: "ls_running", args: []string{"ls", "-running", "testdata/runs"}},
		{name: "ls_name_nomatch", args: []string{"ls", "-name", "nope", "testdata/runs"}},
		{name: "ls_default_dir_cost", args: []string{"ls"}, env: map[string]string{"FLUXLOOP_DIR": "testdata/conversation"}},
		{name: "ls_stdin", args: []string{"ls", "-"}, stdin: "testdata/stdout.txt"},
		{name: "ls_color", args: []string{"ls", "-n", "4", "testdata/runs"}, color: true},
		{name: "tree_last", args: []string{"tree", "testdata/runs"}},
		{name: "tree_prefix", args: []string{"tree", "d590", "testdata/runs"}},
		{name: "tree_verbose", args: []string{"tree", "-v", "-w", "80", "d590", "testdata/runs"}},
		{name: "tree_panic", args: []string{"tree", "-v", "2e28", "testdata/runs"}},
		{name: "tree_errors", args: []string{"tree", "8f5f", "testdata/runs"}},
		{name: "tree_in_progress", args: []string{"tree", "-v", "f000", "testdata/runs"}},
		{name: "tree_mcp", args: []string{"tree", "81f4", "testdata/runs"}},
		{name: "tree_streams", args: []string{"tree", "92eb", "testdata/runs"}},
		{name: "tree_goroutines", args: []string{"tree", "fca9", "testdata/runs"}},
		{name: "tree_color", args: []string{"tree", "c0000000000000000000000000000002", "testdata/conversation"}, color: true},
		{name: "tree_ambiguous", args: []string{"tree", "c000", "testdata/conversation"}},
		{name: "tree_missing", args: []string{"tree", "ffff", "testdata/runs"}},
		{name: "tree_stdin", args: []string{"tree", "-"}, stdin: "testdata/stdout.txt"},
		{name: "export_jsonl", args: []string{"export", "d590", "testdata/runs"}},
		{name: "export_md", args: []string{"export", "-format", "md", "c0000000000000000000000000000001", "testdata/conversation"}},
		{name: "export_md_anthropic", args: []string{"export", "-format", "md", "c0000000000000000000000000000002", "testdata/conversation"}},
		{name: "export_md_llm", args: []string{"export", "-format", "md", "d590", "testdata/runs"}},
		{name: "export_bad_format", args: []string{"export", "-format", "html", "last", "testdata/runs"}},
		{name: "no_observations", args: []string{"ls", "testdata/nothing-here"}},
		{name: "no_observations_env", args: []string{"tree"}, env: map[string]string{"FLUXLOOP_DIR": "testdata/nothing-here"}},
		{name: "no_observations_stdin", args: []string{"ls", "-"}, stdin: "hello from the program\n"},
		{name: "partial_line", args: []string{"ls", "testdata/partial"}},
		{name: "usage", args: nil},
		{name: "usage_unknown", args: []string{"frob"}},
		{name: "usage_flag", args: []string{"ls", "-bogus"}},
		{name: "usage_args", args: []string{"tree", "a", "b", "c"}},
		{name: "usage_since", args: []string{"ls", "-since", "yesterday", "testdata/runs"}},
		{name: "help_tree", args: []string{"tree", "-h"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := runCase(t, c)
			path := filepath.Join("testdata", c.name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (go test -update writes it)", err)
			}
			if got != string(want) {
				t.Errorf("output differs from %s (go test -update rewrites it):\n%s", path, got)
			}
		})
	}
}

// TestExportRoundTrip checks that what export writes reads back as the same
// trace.
func TestExportRoundTrip(t *testing.T) {
	out := runCase(t, cliCase{args: []string{"export", "c0000000000000000000000000000001", "testdata/conversation"}})
	lines := strings.SplitN(out, "\n", 2)[1]
	lines = lines[:strings.Index(lines, "--- exit")]
	back := runCase(t, cliCase{args: []string{"tree", "-v", "-"}, stdin: lines})
	direct := runCase(t, cliCase{args: []string{"tree", "-v", "c0000000000000000000000000000001", "testdata/conversation"}})
	strip := func(s string) string { return strings.SplitN(s, "\n", 2)[1] }
	if strip(back) != strip(direct) {
		t.Errorf("tree of the export:\n%s\nwant:\n%s", back, direct)
	}
}
