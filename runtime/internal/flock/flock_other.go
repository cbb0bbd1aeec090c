//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package flock

import "os"

// Write writes data with one write call; this system has no flock, so
// concurrent processes rely on O_APPEND alone.
func Write(f *os.File, data []byte) error {
	_, err := f.Write(data)
	return err
}
