package fluxloop

import (
	"context"
	"io"
	"os"
	"sync"
)

// StdoutStorage writes records as JSON lines to standard output
// (FLUXLOOP_STORAGE=stdout), for containers whose logs are collected. Each
// line starts with a "record" field, "observation" or "trace", to tell the
// two kinds apart.
type StdoutStorage struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

// NewStdoutStorage returns a storage writing to os.Stdout.
func NewStdoutStorage() *StdoutStorage { return &StdoutStorage{w: os.Stdout} }

// Write writes the batch with one write call.
func (s *StdoutStorage) Write(_ context.Context, b Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	buf := s.buf[:0]
	for i := range b.Observations {
		buf = b.Observations[i].appendJSON(buf, "observation")
		buf = append(buf, '\n')
	}
	for i := range b.Traces {
		buf = b.Traces[i].appendJSON(buf, "trace")
		buf = append(buf, '\n')
	}
	s.buf = shrink(buf)
	_, err := s.w.Write(buf)
	return err
}

func (s *StdoutStorage) writeLines(_ context.Context, observations, traces []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	buf := append(append(s.buf[:0], observations...), traces...)
	s.buf = shrink(buf)
	_, err := s.w.Write(buf)
	return err
}

func (s *StdoutStorage) tagRecords() bool { return true }

// Flush does nothing: writes are not buffered.
func (s *StdoutStorage) Flush(context.Context) error { return nil }

// Close does nothing: standard output stays open.
func (s *StdoutStorage) Close(context.Context) error { return nil }
