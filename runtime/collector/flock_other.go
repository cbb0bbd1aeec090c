//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package collector

import "os"

// lockedWrite writes data with one write call; this system has no flock, so
// concurrent processes rely on O_APPEND alone.
func lockedWrite(f *os.File, data []byte) error {
	_, err := f.Write(data)
	return err
}
