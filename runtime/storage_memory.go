package fluxloop

import (
	"context"
	"slices"
	"sync"
)

// MemoryStorage keeps records in memory, for tests (see package fluxlooptest)
// and for programs that inspect their own traces. It is safe for concurrent
// use.
type MemoryStorage struct {
	mu     sync.Mutex
	obs    []Observation
	traces []Trace
}

// NewMemoryStorage returns an empty memory storage.
func NewMemoryStorage() *MemoryStorage { return &MemoryStorage{} }

// Write keeps a copy of the records, as Observation and Trace values.
func (m *MemoryStorage) Write(_ context.Context, records []Record) error {
	m.mu.Lock()
	for i := range records {
		r := &records[i]
		m.obs = append(m.obs, r.Observation())
		if r.Root {
			m.traces = append(m.traces, r.TraceRecord())
		}
	}
	m.mu.Unlock()
	return nil
}

// Flush does nothing.
func (m *MemoryStorage) Flush(context.Context) error { return nil }

// Close does nothing; the records stay readable.
func (m *MemoryStorage) Close(context.Context) error { return nil }

// Observations returns a copy of the observations written so far, in the
// order they were written. Call Client.Flush first to include queued ones.
func (m *MemoryStorage) Observations() []Observation {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.obs)
}

// Traces returns a copy of the traces written so far.
func (m *MemoryStorage) Traces() []Trace {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.traces)
}

// Reset forgets every record.
func (m *MemoryStorage) Reset() {
	m.mu.Lock()
	m.obs, m.traces = nil, nil
	m.mu.Unlock()
}
