package fluxloop

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/fluxloop/fluxloop-go/runtime/internal/flock"
)

// File names of the file storage, in its directory.
const (
	ObservationsFile = "observations.jsonl"
	TracesFile       = "traces.jsonl"
)

// FileStorage appends records as JSON lines to observations.jsonl and
// traces.jsonl in a directory, FluxLoop's offline format. It is the default
// storage. The directory (mode 0700) and files (0600) are created on the
// first write. Each Write appends each file's share of the batch with one
// write call of whole lines, under an exclusive flock on unix systems, so
// several processes can append to the same files without interleaving lines.
type FileStorage struct {
	dir string

	mu     sync.Mutex
	obs    *os.File
	traces *os.File
	enc    Encoder
	buf    []byte
}

// NewFileStorage returns a file storage writing in dir. Nothing is created
// until the first write.
func NewFileStorage(dir string) *FileStorage {
	return &FileStorage{dir: dir}
}

// Dir returns the storage's directory.
func (f *FileStorage) Dir() string { return f.dir }

// Write appends the records' observations and, for roots, traces.
func (f *FileStorage) Write(ctx context.Context, records []Record) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	buf := f.buf[:0]
	for i := range records {
		buf = f.enc.AppendObservation(buf, &records[i])
		buf = append(buf, '\n')
	}
	n := len(buf)
	for i := range records {
		if records[i].Root {
			buf = f.enc.AppendTrace(buf, &records[i])
			buf = append(buf, '\n')
		}
	}
	f.buf = shrink(buf)
	if n > 0 {
		if err := f.append(&f.obs, ObservationsFile, buf[:n]); err != nil {
			return err
		}
	}
	if len(buf) > n {
		return f.append(&f.traces, TracesFile, buf[n:])
	}
	return nil
}

func (f *FileStorage) append(fp **os.File, name string, data []byte) error {
	if *fp == nil {
		if err := os.MkdirAll(f.dir, 0o700); err != nil {
			return fmt.Errorf("fluxloop: create directory %s: %w", f.dir, err)
		}
		path := filepath.Join(f.dir, name)
		file, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return fmt.Errorf("fluxloop: open %s: %w", path, err)
		}
		*fp = file
	}
	if err := flock.Write(*fp, data); err != nil {
		return fmt.Errorf("fluxloop: write %s: %w", (*fp).Name(), err)
	}
	return nil
}

// Flush does nothing: every Write reaches the operating system before it
// returns.
func (f *FileStorage) Flush(context.Context) error { return nil }

// Close closes the files; a later Write opens them again.
func (f *FileStorage) Close(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var first error
	for _, fp := range []**os.File{&f.obs, &f.traces} {
		if *fp != nil {
			if err := (*fp).Close(); err != nil && first == nil {
				first = fmt.Errorf("fluxloop: close %s: %w", (*fp).Name(), err)
			}
			*fp = nil
		}
	}
	return first
}
