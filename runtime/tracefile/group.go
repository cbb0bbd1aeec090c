package tracefile

import (
	"cmp"
	"slices"
	"time"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
)

// Run is one trace as read: its trace line, when written, and the
// observations that have ended.
type Run struct {
	// ID is the trace id.
	ID string
	// Trace is the trace line; nil while the run is in progress, or when
	// only the root observation has been read (see Complete). When several
	// processes wrote one (each with a local root), it is the one that
	// starts first; Traces holds them all.
	Trace  *fluxloop.Trace
	Traces []*fluxloop.Trace
	// Observations are the trace's observations by start time (a parent
	// before a child that starts at the same time).
	Observations []*fluxloop.Observation
	// Running lists, while the run is in progress, the ids of observations
	// named as parents that have not been written: they are still running.
	// Sorted.
	Running []string
}

// Complete reports whether the run's root has ended: its trace line, or an
// observation without a parent, has been read.
func (r *Run) Complete() bool {
	if len(r.Traces) > 0 {
		return true
	}
	for _, o := range r.Observations {
		if o.ParentObservationID == "" {
			return true
		}
	}
	return false
}

// InProgress is !Complete.
func (r *Run) InProgress() bool { return !r.Complete() }

// Root returns the run's root observation: the one without a parent, else
// (a local root whose parent is in another process, which did not write
// here) the earliest one whose parent is not in the run; nil when there are
// no observations.
func (r *Run) Root() *fluxloop.Observation {
	ids := make(map[string]bool, len(r.Observations))
	for _, o := range r.Observations {
		ids[o.ID] = true
	}
	var orphan *fluxloop.Observation
	for _, o := range r.Observations {
		if o.ParentObservationID == "" {
			return o
		}
		if orphan == nil && !ids[o.ParentObservationID] {
			orphan = o
		}
	}
	return orphan
}

// Name returns the trace line's name, else the root observation's, else
// "" (a run in progress whose root is still running).
func (r *Run) Name() string {
	if r.Trace != nil {
		return r.Trace.Name
	}
	if r.Complete() {
		if o := r.Root(); o != nil {
			return o.Name
		}
	}
	return ""
}

// Start returns the earliest start among the trace lines and observations.
func (r *Run) Start() time.Time {
	var t time.Time
	for _, tr := range r.Traces {
		if t.IsZero() || tr.StartTime.Before(t) {
			t = tr.StartTime
		}
	}
	for _, o := range r.Observations {
		if t.IsZero() || o.StartTime.Before(t) {
			t = o.StartTime
		}
	}
	return t
}

// End returns the latest end among the trace lines and observations: for a
// run in progress, the end of what has been written so far.
func (r *Run) End() time.Time {
	var t time.Time
	for _, tr := range r.Traces {
		if tr.EndTime.After(t) {
			t = tr.EndTime
		}
	}
	for _, o := range r.Observations {
		if o.EndTime.After(t) {
			t = o.EndTime
		}
	}
	return t
}

// Group groups records into runs, newest (latest start) first. An
// observation read twice (the same id in the same trace) counts once, the
// last read winning.
func Group(records []Record) []*Run {
	byID := map[string]*Run{}
	var runs []*Run
	get := func(id string) *Run {
		r := byID[id]
		if r == nil {
			r = &Run{ID: id}
			byID[id] = r
			runs = append(runs, r)
		}
		return r
	}
	seen := map[[2]string]int{}
	for _, rec := range records {
		switch rec.Kind {
		case KindObservation:
			o := rec.Observation
			r := get(o.TraceID)
			key := [2]string{o.TraceID, o.ID}
			if i, ok := seen[key]; ok {
				r.Observations[i] = o
				continue
			}
			seen[key] = len(r.Observations)
			r.Observations = append(r.Observations, o)
		case KindTrace:
			r := get(rec.Trace.ID)
			r.Traces = append(r.Traces, rec.Trace)
		}
	}
	for _, r := range runs {
		slices.SortStableFunc(r.Traces, func(a, b *fluxloop.Trace) int {
			return cmp.Or(a.StartTime.Compare(b.StartTime), b.EndTime.Compare(a.EndTime))
		})
		if len(r.Traces) > 0 {
			r.Trace = r.Traces[0]
		}
		SortObservations(r.Observations)
		if !r.Complete() {
			ids := make(map[string]bool, len(r.Observations))
			for _, o := range r.Observations {
				ids[o.ID] = true
			}
			for _, o := range r.Observations {
				if p := o.ParentObservationID; p != "" && !ids[p] {
					ids[p] = true
					r.Running = append(r.Running, p)
				}
			}
			slices.Sort(r.Running)
		}
	}
	slices.SortStableFunc(runs, func(a, b *Run) int {
		return cmp.Or(b.Start().Compare(a.Start()), cmp.Compare(a.ID, b.ID))
	})
	return runs
}

// SortObservations sorts observations by start time; of two that start at
// the same time, the one that ends later (the parent) comes first, then by
// id.
func SortObservations(obs []*fluxloop.Observation) {
	slices.SortStableFunc(obs, func(a, b *fluxloop.Observation) int {
		return cmp.Or(a.StartTime.Compare(b.StartTime), b.EndTime.Compare(a.EndTime), cmp.Compare(a.ID, b.ID))
	})
}
