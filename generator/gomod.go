package generator

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// RequireRuntime makes sure the main module of dir requires ModulePath, so
// instrumented code builds. When it is missing and allowEdit is true, it runs
// `go get ModulePath@version`, which updates go.mod and go.sum as a user
// would; otherwise it returns an error that gives that command.
func RequireRuntime(ctx context.Context, dir, version string, env []string, allowEdit bool) error {
	mainPath, err := goOutput(ctx, dir, env, "list", "-m", "-f", "{{.Path}}")
	if err != nil {
		return fmt.Errorf("find main module: %w", err)
	}
	if mainPath == "" || mainPath == "command-line-arguments" {
		return nil // not in a module: nothing to require
	}
	for _, m := range strings.Fields(mainPath) { // a workspace lists several
		if m == ModulePath {
			return nil
		}
	}
	if _, err := goOutput(ctx, dir, env, "list", "-m", ModulePath); err == nil {
		return nil
	}
	if version == "" || version == "(devel)" {
		version = "latest"
	}
	cmd := "go get " + ModulePath + "@" + version
	if !allowEdit {
		return fmt.Errorf("module %s does not require %s; run: %s", mainPath, ModulePath, cmd)
	}
	if _, err := goOutput(ctx, dir, env, "get", ModulePath+"@"+version); err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	return nil
}

func goOutput(ctx context.Context, dir string, env []string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return "", fmt.Errorf("%s", msg)
		}
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}
