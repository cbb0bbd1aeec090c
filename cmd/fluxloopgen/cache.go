package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/fluxloop/fluxloop-go/generator"
)

// generateCached runs the generator for an overlay build, reusing the result
// of an earlier run with the same fingerprint (same sources, options,
// environment and fluxloopgen binary), so that a build with nothing changed
// costs a go list and reading the files instead of a type check and a
// rewrite. Results live in the user cache directory; a cache that cannot be
// read or written is simply not used.
func generateCached(ctx context.Context, opts generator.Options) (*generator.Result, error) {
	fp, err := generator.Fingerprint(ctx, opts, toolFingerprint())
	if err != nil {
		return generator.Generate(ctx, opts)
	}
	dir := filepath.Join(cacheRoot(), "results")
	path := filepath.Join(dir, fp+".json")
	if data, err := os.ReadFile(path); err == nil {
		var res generator.Result
		if json.Unmarshal(data, &res) == nil {
			return &res, nil
		}
	}
	res, err := generator.Generate(ctx, opts)
	if err != nil {
		return nil, err
	}
	stored := *res
	stored.Changes = nil
	for _, c := range res.Changes {
		stored.Changes = append(stored.Changes, generator.Change{Path: c.Path, New: c.New})
	}
	if data, err := json.Marshal(&stored); err == nil && os.MkdirAll(dir, 0o755) == nil {
		tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
		if os.WriteFile(tmp, data, 0o644) == nil {
			os.Rename(tmp, path)
		}
		pruneCache(dir, 30*24*time.Hour)
	}
	return res, nil
}

// cacheRoot is fluxloopgen's directory in the user cache.
func cacheRoot() string {
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	return filepath.Join(cache, "fluxloopgen")
}

// toolFingerprint identifies this fluxloopgen binary, so a new build of it
// does not reuse an old one's results.
func toolFingerprint() string {
	exe, err := os.Executable()
	if err != nil {
		return toolVersion()
	}
	fi, err := os.Stat(exe)
	if err != nil {
		return toolVersion()
	}
	return fmt.Sprintf("%s %s %d %d", toolVersion(), exe, fi.Size(), fi.ModTime().UnixNano())
}

// pruneCache removes results not used for age.
func pruneCache(dir string, age time.Duration) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > age {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}
