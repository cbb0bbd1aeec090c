package generator

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"golang.org/x/mod/modfile"
)

// zeroPseudoVersion is the version a module is required at when only a
// replace directive provides it (the go command's own choice for such a
// requirement).
const zeroPseudoVersion = "v0.0.0-00010101000000-000000000000"

// RequireRuntime makes sure the main module of dir requires
// RuntimeModulePath, so instrumented code builds. When it is missing and
// allowEdit is true, it adds the requirement; otherwise it returns an error
// that gives the command to run.
//
// Usually it runs `go get RuntimeModulePath@version` (@latest without a
// release version), which updates go.mod and go.sum as a user would. When
// go.mod already replaces the runtime module (with a local checkout, say),
// asking a proxy for a version would fail for an unpublished or replaced
// module: then it adds the require line itself, at the replaced version or,
// for a replace of every version, at v0.0.0-00010101000000-000000000000, and
// completes go.sum with a go get of that version, which the replacement
// serves.
func RequireRuntime(ctx context.Context, dir, version string, env []string, allowEdit bool) error {
	mainPath, err := goOutput(ctx, dir, env, "list", "-m", "-f", "{{.Path}}")
	if err != nil {
		return fmt.Errorf("find main module: %w", err)
	}
	if mainPath == "" || mainPath == "command-line-arguments" {
		return nil // not in a module: nothing to require
	}
	for _, m := range strings.Fields(mainPath) { // a workspace lists several
		if m == RuntimeModulePath {
			return nil
		}
	}
	if _, err := goOutput(ctx, dir, env, "list", "-m", RuntimeModulePath); err == nil {
		return nil
	}
	gomod, err := goOutput(ctx, dir, env, "env", "GOMOD")
	if err != nil {
		return fmt.Errorf("find go.mod: %w", err)
	}
	if gomod != "" && gomod != os.DevNull {
		data, err := os.ReadFile(gomod)
		if err != nil {
			return err
		}
		f, err := modfile.Parse(gomod, data, nil)
		if err != nil {
			return err
		}
		if v, ok := replacedVersion(f); ok {
			return requireReplaced(ctx, dir, env, gomod, data, f, v, mainPath, allowEdit)
		}
	}
	if version == "" || version == "(devel)" {
		version = "latest"
	}
	cmd := "go get " + RuntimeModulePath + "@" + version
	if !allowEdit {
		return fmt.Errorf("module %s does not require %s; run: %s", mainPath, RuntimeModulePath, cmd)
	}
	if _, err := goOutput(ctx, dir, env, "get", RuntimeModulePath+"@"+version); err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	return nil
}

// replacedVersion reports whether go.mod replaces the runtime module, and
// the version to require it at: zeroPseudoVersion when a replace applies to
// every version, else the version a replace applies to.
func replacedVersion(f *modfile.File) (string, bool) {
	version, found := "", false
	for _, r := range f.Replace {
		if r.Old.Path != RuntimeModulePath {
			continue
		}
		if r.Old.Version == "" {
			return zeroPseudoVersion, true
		}
		version, found = r.Old.Version, true
	}
	return version, found
}

// requireReplaced adds the requirement of the runtime module at version,
// which a replace in go.mod (gomod, whose content is data, parsed as f)
// provides, and completes the module graph and go.sum with go get of the
// same version, which asks no proxy for the replaced module. When go get
// fails, go.mod is put back as it was.
func requireReplaced(ctx context.Context, dir string, env []string, gomod string, data []byte, f *modfile.File, version, mainPath string, allowEdit bool) error {
	cmd := "go get " + RuntimeModulePath + "@" + version
	if !allowEdit {
		return fmt.Errorf("module %s does not require %s (which it replaces); run: %s", mainPath, RuntimeModulePath, cmd)
	}
	if err := f.AddRequire(RuntimeModulePath, version); err != nil {
		return err
	}
	f.Cleanup()
	out, err := f.Format()
	if err != nil {
		return err
	}
	if err := os.WriteFile(gomod, out, 0o666); err != nil {
		return err
	}
	if _, err := goOutput(ctx, dir, env, "get", RuntimeModulePath+"@"+version); err != nil {
		if werr := os.WriteFile(gomod, data, 0o666); werr != nil {
			return fmt.Errorf("%s: %w (and restoring %s: %v)", cmd, err, gomod, werr)
		}
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
