package generator

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Write stores every change, all or nothing: it first writes each new
// content to a temporary file beside its target, and only when all of them
// are written does it rename them into place. On any failure before the
// renames, every temporary file is removed and no target has changed.
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
	for _, c := range changes {
		tmp, err := writeTemp(c)
		if err != nil {
			cleanup()
			return err
		}
		done = append(done, pending{tmp, c.Path})
	}
	var errs []error
	for i, p := range done {
		if err := os.Rename(p.tmp, p.path); err != nil {
			errs = append(errs, fmt.Errorf("rename %s: %w", p.path, err))
			for _, rest := range done[i+1:] {
				os.Remove(rest.tmp)
			}
			break
		}
	}
	return errors.Join(errs...)
}

// writeTemp writes c's new content to a temporary file in the target's
// directory, with the target's permissions.
func writeTemp(c Change) (string, error) {
	perm := os.FileMode(0o644)
	if fi, err := os.Stat(c.Path); err == nil {
		perm = fi.Mode().Perm()
	}
	f, err := os.CreateTemp(filepath.Dir(c.Path), "."+filepath.Base(c.Path)+".fluxloopgen-*")
	if err != nil {
		return "", fmt.Errorf("write %s: %w", c.Path, err)
	}
	tmp := f.Name()
	_, err = f.Write(c.New)
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
		return "", fmt.Errorf("write %s: %w", c.Path, err)
	}
	return tmp, nil
}
