package collector

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"github.com/fluxloop/fluxloop-go/runtime/internal/flock"
)

// spillFiles appends JSON lines to the file storage's files in a directory,
// observations.jsonl and traces.jsonl, exactly as fluxloop.FileStorage does:
// the directory (mode 0700) and files (0600) are created on the first
// write, and each file's share of a write is one write call of whole lines,
// under an exclusive flock on unix systems, so that the spill files can be
// shared with file storages of other processes.
type spillFiles struct {
	dir string

	mu     sync.Mutex
	obs    *os.File
	traces *os.File
}

// writeLines appends whole lines of observations and of traces.
func (f *spillFiles) writeLines(observations, traces []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(observations) > 0 {
		if err := f.append(&f.obs, fluxloop.ObservationsFile, observations); err != nil {
			return err
		}
	}
	if len(traces) > 0 {
		if err := f.append(&f.traces, fluxloop.TracesFile, traces); err != nil {
			return err
		}
	}
	return nil
}

func (f *spillFiles) append(fp **os.File, name string, data []byte) error {
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

// close closes the files; a later write opens them again.
func (f *spillFiles) close() error {
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

// spillNow appends a write's records to the files, from the writer.
func (s *Storage) spillNow(observations, traces []byte, nObs, nTr int, reason error) error {
	if err := s.spill.writeLines(observations, traces); err != nil {
		s.obsDropped.Add(uint64(nObs))
		s.trDropped.Add(uint64(nTr))
		err = s.wrap(fmt.Errorf("could not send (%v) nor spill %d observations and %d traces: %w", reason, nObs, nTr, err))
		s.logDrop(err)
		return err
	}
	s.obsSpilled.Add(uint64(nObs))
	s.trSpilled.Add(uint64(nTr))
	s.notice(reason)
	return nil
}

// spillJob appends a job's records to the files, from a sender.
func (s *Storage) spillJob(j *job, reason error) {
	var err error
	if j.traceID == "" {
		err = s.spill.writeLines(nil, j.lines)
	} else {
		err = s.spill.writeLines(j.lines, nil)
	}
	spilled, dropped := &s.obsSpilled, &s.obsDropped
	kind := "observations"
	if j.traceID == "" {
		spilled, dropped, kind = &s.trSpilled, &s.trDropped, "traces"
	}
	if err != nil {
		dropped.Add(uint64(j.n))
		s.logDrop(s.wrap(fmt.Errorf("could not send (%v) nor spill %d %s: %w", reason, j.n, kind, err)))
		return
	}
	spilled.Add(uint64(j.n))
	s.notice(reason)
}

// spillJobs appends the jobs' records to the files, with one write per
// file, and settles them.
func (s *Storage) spillJobs(jobs []*job, reason error) {
	if len(jobs) == 1 {
		s.spillJob(jobs[0], reason)
		s.settle(jobs[0].n, len(jobs[0].lines))
		return
	}
	var obsSize, trSize int
	for _, j := range jobs {
		if j.traceID == "" {
			trSize += len(j.lines)
		} else {
			obsSize += len(j.lines)
		}
	}
	obs, traces := make([]byte, 0, obsSize), make([]byte, 0, trSize)
	var nObs, nTr int
	for _, j := range jobs {
		if j.traceID == "" {
			traces, nTr = append(traces, j.lines...), nTr+j.n
		} else {
			obs, nObs = append(obs, j.lines...), nObs+j.n
		}
	}
	s.spillNow(obs, traces, nObs, nTr, reason)
	s.settle(nObs+nTr, len(obs)+len(traces))
}

// spillQueued spills the jobs no sender has taken yet, for Close when time
// is up.
func (s *Storage) spillQueued() {
	for {
		select {
		case j := <-s.jobs:
			s.spillJobs(s.takeQueued(j), errShutdown)
		default:
			return
		}
	}
}

// notice says once (every time with Debug) that records go to the files.
func (s *Storage) notice(reason error) {
	if s.noticed.Swap(true) && !s.opts.Debug {
		return
	}
	s.logf("fluxloop: http storage: cannot deliver to the collector: %v; writing records to %s instead (counted in collector.Storage.Stats)",
		reason, s.opts.SpillDir)
}

// logDrop reports a drop once (every time with Debug).
func (s *Storage) logDrop(err error) {
	if s.dropLog.Swap(true) && !s.opts.Debug {
		return
	}
	s.logf("%v", err)
}
