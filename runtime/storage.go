package fluxloop

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Storage receives finished records from a client's background writer. The
// writer calls its methods from one goroutine at a time, never on the
// traced program's path, so a Storage may block (the writer's queue absorbs
// the wait, then drops and counts).
//
// Write gets the records in the order observations ended. The records and
// the memory they point to are reused after Write returns, so a Storage
// that keeps records copies them (Record.Clone, or Record.Observation and
// Record.TraceRecord). Flush makes written records durable or visible
// (Client.Flush calls it). Close flushes and releases resources; the client
// calls it once, on Shutdown. Errors are counted in Stats and logged, never
// returned to the traced program.
type Storage interface {
	Write(ctx context.Context, records []Record) error
	Flush(ctx context.Context) error
	Close(ctx context.Context) error
}

// StorageFactory builds a storage from a client's Config.
type StorageFactory func(Config) (Storage, error)

var storages = struct {
	sync.RWMutex
	m map[string]StorageFactory
}{m: map[string]StorageFactory{
	"file":   func(c Config) (Storage, error) { return NewFileStorage(c.Dir), nil },
	"stdout": func(Config) (Storage, error) { return NewStdoutStorage(), nil },
	"memory": func(Config) (Storage, error) { return NewMemoryStorage(), nil },
}}

// RegisterStorage makes a storage selectable by name with FLUXLOOP_STORAGE or
// WithStorageName, like database/sql drivers: a package providing a storage
// calls it from init. Registering a name twice replaces the factory. The
// names "file", "stdout" and "memory" are built in; "http" (the FluxLoop
// collector) is registered by importing
// github.com/fluxloop/fluxloop-go/runtime/collector, and "otlp" by importing
// github.com/fluxloop/fluxloop-go/runtime/otlp.
func RegisterStorage(name string, factory StorageFactory) {
	name = strings.ToLower(name)
	if name == "" || factory == nil {
		panic("fluxloop: RegisterStorage with an empty name or nil factory")
	}
	storages.Lock()
	storages.m[name] = factory
	storages.Unlock()
}

// newStorage builds the storage a Config asks for.
func newStorage(c Config) (Storage, error) {
	if c.Storage != nil {
		return c.Storage, nil
	}
	name := strings.ToLower(c.StorageName)
	storages.RLock()
	f := storages.m[name]
	var names []string
	if f == nil {
		for n := range storages.m {
			names = append(names, n)
		}
	}
	storages.RUnlock()
	if f == nil {
		slices.Sort(names)
		hint := ""
		switch name {
		case "otlp":
			hint = ` (import _ "github.com/fluxloop/fluxloop-go/runtime/otlp" to register it)`
		case "http":
			hint = ` (import _ "github.com/fluxloop/fluxloop-go/runtime/collector" to register it)`
		}
		return nil, fmt.Errorf("fluxloop: unknown storage %q%s: registered storages are %s", name, hint, strings.Join(names, ", "))
	}
	st, err := f(c)
	if err != nil {
		return nil, fmt.Errorf("fluxloop: storage %q: %w", name, err)
	}
	return st, nil
}
