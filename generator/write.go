package generator

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// Write stores every change, all or nothing: it first writes each new
// content to a temporary file beside its target (synced to disk), and only
// when all of them are written does it rename them into place, so that
// every file is at any moment wholly old or wholly new, even when the
// process is killed. On any failure before the renames, every temporary
// file is removed and no target has changed. A target that is a symbolic
// link keeps its link: the file it points to is rewritten, with its mode.
func Write(changes []Change) error {
	type pending struct {
		tmp, path string
	}
	var done []pending
	cleanup := func() {
		for _, p := range done {
			os.Remove(p.tmp)
		}
	}
	paths := make([]string, len(changes))
	for i, c := range changes {
		// Checked before anything is written, so that a refusal leaves
		// every file as it was.
		path, err := filepath.EvalSymlinks(c.Path)
		if err != nil {
			return fmt.Errorf("write %s: %w", c.Path, err)
		}
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o222 == 0 {
			return fmt.Errorf("%s is read-only: make it writable (chmod u+w) to instrument it in place, or use -overlay, which leaves the sources untouched", c.Path)
		}
		paths[i] = path
	}
	for i, c := range changes {
		path := paths[i]
		crashPoint()
		tmp, err := writeTemp(path, c.New)
		if err != nil {
			cleanup()
			return err
		}
		done = append(done, pending{tmp, path})
	}
	var errs []error
	dirs := map[string]bool{}
	for i, p := range done {
		crashPoint()
		if err := os.Rename(p.tmp, p.path); err != nil {
			errs = append(errs, fmt.Errorf("rename %s: %w", p.path, err))
			for _, rest := range done[i+1:] {
				os.Remove(rest.tmp)
			}
			break
		}
		dirs[filepath.Dir(p.path)] = true
	}
	// The renames are durable once their directories are synced.
	for dir := range dirs {
		if d, err := os.Open(dir); err == nil {
			d.Sync()
			d.Close()
		}
	}
	return errors.Join(errs...)
}

// crashAt is the FLUXLOOPGEN_CRASH_AT test hook: the number of file
// operations (temporary writes and renames) after which Write exits the
// process abruptly, as a kill would, to test that no file is left partial.
var crashAt, _ = strconv.Atoi(os.Getenv("FLUXLOOPGEN_CRASH_AT"))

var crashSteps int

func crashPoint() {
	if crashAt <= 0 {
		return
	}
	crashSteps++
	if crashSteps >= crashAt {
		os.Exit(3)
	}
}

// writeTemp writes content to a temporary file in path's directory, with
// path's permissions.
func writeTemp(path string, content []byte) (string, error) {
	perm := os.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		perm = fi.Mode().Perm()
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".fluxloopgen-*")
	if err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	_, err = f.Write(content)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return tmp, nil
}
