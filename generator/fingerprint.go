package generator

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/tools/go/packages"
)

// Fingerprint identifies what a run with opts depends on: the options, the
// content of every Go file of the packages the patterns match (with their
// tests unless SkipTests), the main module's go.mod and go.sum, the build
// environment (GOOS, GOARCH, GOFLAGS, CGO_ENABLED, the Go version), and
// salt (the caller's version). It costs one go list and reading the files,
// so a caller can reuse an earlier run's result when nothing changed, which
// is what the overlay builds do. Packages outside the patterns are covered
// only through go.mod and go.sum: name the whole module (./...) when its
// other packages' types matter, as the build wrappers do.
func Fingerprint(ctx context.Context, opts Options, salt string) (string, error) {
	cfg := &packages.Config{
		Context:    ctx,
		Dir:        opts.Dir,
		Tests:      !opts.SkipTests,
		BuildFlags: buildFlags(&opts),
		Env:        opts.Env,
		Mode:       scanMode,
	}
	pkgs, err := packages.Load(cfg, opts.patterns()...)
	if err != nil {
		return "", fmt.Errorf("list %s: %w", strings.Join(opts.patterns(), " "), err)
	}
	files := map[string]bool{}
	for _, p := range pkgs {
		for _, f := range p.GoFiles {
			files[f] = true
		}
		if p.Module != nil && p.Module.GoMod != "" {
			files[p.Module.GoMod] = true
			files[filepath.Join(filepath.Dir(p.Module.GoMod), "go.sum")] = true
		}
	}
	names := make([]string, 0, len(files))
	for f := range files {
		names = append(names, f)
	}
	sort.Strings(names)
	h := sha256.New()
	fmt.Fprintf(h, "fluxloopgen %s\n%q %q %v %v %v %v %q\n", salt, opts.patterns(), opts.Tags,
		opts.SkipTests, opts.Remove, opts.AbsLineDirectives, opts.absDir(), goEnv(opts.Env))
	for _, name := range names {
		fmt.Fprintf(h, "%s\n", name)
		f, err := os.Open(name)
		if err != nil {
			if os.IsNotExist(err) {
				continue // a module without go.sum
			}
			return "", err
		}
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return "", fmt.Errorf("read %s: %w", name, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// goEnv is the part of the environment that changes what a run produces.
func goEnv(env []string) string {
	if env == nil {
		env = os.Environ()
	}
	var keep []string
	for _, kv := range env {
		for _, k := range []string{"GOOS=", "GOARCH=", "GOFLAGS=", "CGO_ENABLED=", "GOTOOLCHAIN=", "GOROOT=", "PATH="} {
			if strings.HasPrefix(kv, k) {
				keep = append(keep, kv)
			}
		}
	}
	sort.Strings(keep)
	return strings.Join(keep, "\n")
}
