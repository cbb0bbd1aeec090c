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
	enc Encoder
	buf []byte
}

// NewStdoutStorage returns a storage writing to os.Stdout.
func NewStdoutStorage() *StdoutStorage { return &StdoutStorage{w: os.Stdout, enc: Encoder{tag: true}} }

// Write writes the records with one write call.
func (s *StdoutStorage) Write(_ context.Context, records []Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	buf := s.buf[:0]
	for i := range records {
		buf = s.enc.AppendObservation(buf, &records[i])
		buf = append(buf, '\n')
	}
	for i := range records {
		if records[i].Root {
			buf = s.enc.AppendTrace(buf, &records[i])
			buf = append(buf, '\n')
		}
	}
	s.buf = shrink(buf)
	_, err := s.w.Write(buf)
	return err
}

// Flush does nothing: writes are not buffered.
func (s *StdoutStorage) Flush(context.Context) error { return nil }

// Close does nothing: standard output stays open.
func (s *StdoutStorage) Close(context.Context) error { return nil }
