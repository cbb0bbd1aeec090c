package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/fluxloop/fluxloop-go/generator"
)

// goWrapper runs "fluxloopgen build|run|test|vet [go flags] [packages]
// [-- args]": it instruments the main module into a temporary overlay, then
// runs the go command with -overlay, so the sources stay untouched. The go
// command's exit status is returned.
func goWrapper(ctx context.Context, verb string, args []string, stdout, stderr io.Writer) int {
	goArgs, progArgs := args, []string(nil)
	for i, a := range args {
		if a == "--" {
			goArgs, progArgs = args[:i], args[i+1:]
			break
		}
	}
	root, err := moduleRoot(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "fluxloopgen %s: %v\n", verb, err)
		return 2
	}
	opts := generator.Options{Dir: root, Patterns: []string{"./..."}, Tags: buildTags(goArgs), AbsLineDirectives: true, SkipTests: verb != "test" && verb != "vet"}
	res, err := generateCached(ctx, opts)
	if err != nil {
		fmt.Fprintf(stderr, "%s\n", prefixLines(err.Error()))
		return 2
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(stderr, "fluxloopgen: %s\n", w)
	}
	dir, err := overlayDir(root)
	if err != nil {
		fmt.Fprintf(stderr, "fluxloopgen %s: %v\n", verb, err)
		return 2
	}
	overlay, err := generator.WriteOverlay(dir, res.Changes)
	if err != nil {
		fmt.Fprintf(stderr, "fluxloopgen %s: %v\n", verb, err)
		return 2
	}
	cmdArgs := append([]string{verb, "-overlay", overlay}, goArgs...)
	if len(progArgs) > 0 {
		if verb == "test" {
			cmdArgs = append(cmdArgs, "-args")
		}
		cmdArgs = append(cmdArgs, progArgs...)
	}
	cmd := exec.CommandContext(ctx, "go", cmdArgs...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, stdout, stderr
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode()
		}
		fmt.Fprintf(stderr, "fluxloopgen %s: %v\n", verb, err)
		return 2
	}
	return 0
}

// moduleRoot is the directory of the main module's go.mod.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		wd, _ := os.Getwd()
		return "", fmt.Errorf("no go.mod in %s or its parents: run it inside a Go module (go mod init)", wd)
	}
	return filepath.Dir(gomod), nil
}

// overlayDir is where the wrappers keep their overlay: in the user cache,
// one directory per module, so repeated builds reuse unchanged copies and
// the go build cache keeps hitting.
func overlayDir(root string) (string, error) {
	name := strings.NewReplacer(string(filepath.Separator), "_", ":", "_").Replace(strings.TrimPrefix(root, string(filepath.Separator)))
	return filepath.Join(cacheRoot(), "overlay", name), nil
}

// buildTags finds a -tags flag among the go command's arguments.
func buildTags(args []string) []string {
	for i, a := range args {
		switch {
		case strings.HasPrefix(a, "-tags=") || strings.HasPrefix(a, "--tags="):
			return strings.Split(a[strings.Index(a, "=")+1:], ",")
		case (a == "-tags" || a == "--tags") && i+1 < len(args):
			return strings.Split(args[i+1], ",")
		}
	}
	return nil
}
