package generator

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
)

// OverlayFile is the name of the go build -overlay file WriteOverlay
// writes.
const OverlayFile = "overlay.json"

// overlayName matches the names WriteOverlay gives the copies it writes;
// nothing else in the directory is ever removed.
var overlayName = regexp.MustCompile(`^[0-9a-f]{16}-.+\.go$`)

// WriteOverlay stores the changes for a build with go build -overlay,
// leaving the source files untouched: each new file content goes into dir
// under a name derived from its content (so an unchanged file is not
// written again, and the go build cache sees the same input), and
// dir/overlay.json maps every changed source path to its instrumented copy.
// overlay.json is rewritten only when its content changes. It returns the
// path of overlay.json.
func WriteOverlay(dir string, changes []Change) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("overlay dir: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("overlay dir: %w", err)
	}
	overlay := struct {
		Replace map[string]string
	}{Replace: map[string]string{}}
	for _, c := range changes {
		sum := sha256.Sum256(c.New)
		name := hex.EncodeToString(sum[:8]) + "-" + filepath.Base(c.Path)
		target := filepath.Join(dir, name)
		if err := writeIfChanged(target, c.New); err != nil {
			return "", err
		}
		overlay.Replace[c.Path] = target
	}
	data, err := json.MarshalIndent(overlay, "", "\t")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, OverlayFile)
	if err := writeIfChanged(path, append(data, '\n')); err != nil {
		return "", err
	}
	// Copies of earlier contents are no longer referenced: remove them.
	keep := map[string]bool{OverlayFile: true}
	for _, target := range overlay.Replace {
		keep[filepath.Base(target)] = true
	}
	stale, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	for _, f := range stale {
		if !keep[filepath.Base(f)] && overlayName.MatchString(filepath.Base(f)) {
			os.Remove(f)
		}
	}
	return path, nil
}

// writeIfChanged writes data to path unless the file already holds it; the
// write goes through a temporary file and a rename, so a reader never sees
// a partial file.
func writeIfChanged(path string, data []byte) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	tmp, err := writeTemp(path, data)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
