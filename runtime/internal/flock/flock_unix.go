//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package flock

import (
	"fmt"
	"os"
	"syscall"
)

// Write writes data with one write call under an exclusive flock, so
// that processes appending to the same file never interleave lines.
func Write(f *os.File, data []byte) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var opErr error
	err = rc.Control(func(fd uintptr) {
		for {
			opErr = syscall.Flock(int(fd), syscall.LOCK_EX)
			if opErr != syscall.EINTR {
				break
			}
		}
		if opErr != nil {
			opErr = fmt.Errorf("flock: %w", opErr)
			return
		}
		defer syscall.Flock(int(fd), syscall.LOCK_UN)
		for len(data) > 0 {
			n, werr := syscall.Write(int(fd), data)
			if werr == syscall.EINTR {
				continue
			}
			if werr != nil {
				opErr = werr
				return
			}
			data = data[n:]
		}
	})
	if err != nil {
		return err
	}
	return opErr
}
