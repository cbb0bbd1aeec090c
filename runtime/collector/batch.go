package collector

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// job is one request's records: the observations of one trace, or a
// write's traces (traceID "").
type job struct {
	traceID string
	lines   []byte // one JSON object per line
	n       int
}

// lineRef is an observation line of a write and the group of its trace.
type lineRef struct{ start, end, g int }

// groupInfo is a trace's share of a write's observations: its bytes and
// lines, and where they go in the jobs' common buffer.
type groupInfo struct {
	id       string
	size, n  int
	off, pos int
}

var errClosed = errors.New("storage closed")

// accept queues the records of one write as jobs, or spills them when the
// storage is closed, the circuit is open or the pending bound stays full.
// s.wmu is held.
func (s *Storage) accept(ctx context.Context, observations, traces []byte) error {
	observations, traces = terminated(observations), terminated(traces)
	nObs, nTr := bytes.Count(observations, nl), bytes.Count(traces, nl)
	if nObs+nTr == 0 {
		return nil
	}
	s.obs.Add(uint64(nObs))
	s.tr.Add(uint64(nTr))
	if s.breaker.isOpen(time.Now()) {
		return s.spillNow(observations, traces, nObs, nTr, errCircuitOpen)
	}
	need := nObs + nTr
	s.mu.Lock()
	full := func() bool { return s.pending > 0 && s.pending+need > s.opts.MaxPending }
	if s.saturated && s.pending <= s.opts.MaxPending/2 {
		s.saturated = false // the senders caught up
	}
	if !s.closed && !s.saturated && full() && s.opts.SpillWait > 0 {
		s.waitRoomLocked(ctx, need)
	}
	if s.closed || full() {
		closed, pending := s.closed, s.pending
		// Until the senders have caught up, spill without waiting again,
		// so that a stalled collector does not hold the writer up for
		// SpillWait per batch.
		s.saturated = !closed
		s.mu.Unlock()
		reason := errClosed
		if !closed {
			reason = fmt.Errorf("collector %s too slow: %d records already waiting (collector.Options.MaxPending %d)", s.shown, pending, s.opts.MaxPending)
		}
		return s.spillNow(observations, traces, nObs, nTr, reason)
	}
	s.pending += need // reserved: the jobs are made outside the lock
	s.pendBy += len(observations) + len(traces)
	s.mu.Unlock()

	jobs := s.makeJobs(observations, traces, nTr)
	var overflow []*job
	s.mu.Lock()
	for _, j := range jobs {
		if s.closed {
			overflow = append(overflow, j)
			continue
		}
		select {
		case s.jobs <- j:
		default: // cannot happen while pending is bounded, but never block
			overflow = append(overflow, j)
		}
	}
	s.mu.Unlock()
	if len(overflow) > 0 {
		s.spillJobs(overflow, errClosed)
	}
	return nil
}

var nl = []byte{'\n'}

// terminated returns lines ending with a newline (appendBatch's always do).
func terminated(lines []byte) []byte {
	if len(lines) == 0 || lines[len(lines)-1] == '\n' {
		return lines
	}
	return append(lines[:len(lines):len(lines)], '\n')
}

// waitRoomLocked waits, with s.mu held on entry and exit, up to SpillWait
// for room for need more records.
func (s *Storage) waitRoomLocked(ctx context.Context, need int) {
	timer := time.NewTimer(s.opts.SpillWait)
	defer timer.Stop()
	for !s.closed && s.pending > 0 && s.pending+need > s.opts.MaxPending {
		ch := s.changedLocked()
		s.mu.Unlock()
		select {
		case <-ch:
			s.mu.Lock()
		case <-timer.C:
			s.mu.Lock()
			return
		case <-ctx.Done():
			s.mu.Lock()
			return
		}
	}
}

// makeJobs copies the lines into jobs: the traces first, then one job per
// trace id among the observations, in order of first appearance. s.wmu is
// held.
func (s *Storage) makeJobs(observations, traces []byte, nTr int) []*job {
	clear(s.groups)
	refs, infos := s.refs[:0], s.infos[:0]
	for start := 0; start < len(observations); {
		end := start + bytes.IndexByte(observations[start:], '\n')
		id := traceIDOf(observations[start:end])
		g, ok := s.groups[string(id)]
		if !ok {
			g = len(infos)
			sid := string(id)
			s.groups[sid] = g
			infos = append(infos, groupInfo{id: sid})
		}
		infos[g].size += end + 1 - start
		infos[g].n++
		refs = append(refs, lineRef{start, end + 1, g})
		start = end + 1
	}
	// One allocation for all the bytes and one for all the jobs.
	data := make([]byte, len(observations)+len(traces))
	jobs := make([]job, 0, len(infos)+1)
	ptrs := make([]*job, 0, len(infos)+1)
	off := copy(data, traces)
	if nTr > 0 {
		jobs = append(jobs, job{lines: data[:off:off], n: nTr})
	}
	for i := range infos {
		infos[i].off, infos[i].pos = off, off
		off += infos[i].size
	}
	for _, r := range refs {
		gi := &infos[r.g]
		gi.pos += copy(data[gi.pos:], observations[r.start:r.end])
	}
	for i := range infos {
		gi := &infos[i]
		jobs = append(jobs, job{traceID: gi.id, lines: data[gi.off:gi.pos:gi.pos], n: gi.n})
	}
	for i := range jobs {
		ptrs = append(ptrs, &jobs[i])
	}
	clear(infos)
	s.refs, s.infos = refs[:0], infos[:0]
	if cap(s.refs) > 1<<16 {
		s.refs, s.infos = nil, nil
	}
	return ptrs
}

// traceIDOf returns the trace_id of an observation line. fluxloop.Encoder
// starts every observation line with the id and the trace id, so this is a
// slice of the line; other lines are decoded.
func traceIDOf(line []byte) []byte {
	const head, mid = `{"id":"`, `","trace_id":"`
	if len(line) > 70 && string(line[:7]) == head && string(line[23:37]) == mid && line[69] == '"' {
		return line[37:69]
	}
	var o struct {
		TraceID string `json:"trace_id"`
	}
	_ = json.Unmarshal(line, &o) // an undecodable line goes to trace ""
	return []byte(o.TraceID)
}

// takeQueued returns first and the jobs waiting in the queue now (at most
// maxWriteBatch of them), to be spilled together.
func (s *Storage) takeQueued(first *job) []*job {
	jobs := []*job{first}
	for len(jobs) < maxWriteBatch {
		select {
		case j := <-s.jobs:
			jobs = append(jobs, j)
			continue
		default:
		}
		break
	}
	return jobs
}
