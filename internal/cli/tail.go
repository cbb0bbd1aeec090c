package cli

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/fluxloop/fluxloop-go/internal/viewer"
	"github.com/fluxloop/fluxloop-go/runtime/tracefile"
)

// TailOptions are fluxloop tail's.
type TailOptions struct {
	TreeOptions
	// Last prints the N most recent complete traces first.
	Last int
	// Interval is the time between two reads of the files (250ms when 0).
	Interval time.Duration
	// Quiet is how long a complete trace must stay unchanged before it is
	// printed, so that observations ending just after the root (goroutines,
	// streams) are in it (2 Intervals when 0).
	Quiet time.Duration
}

// Tail follows src and prints each trace's tree once it completes; a trace
// that changes after it was printed is printed again. It returns when ctx
// is done, or at the end of a stream.
func Tail(ctx context.Context, e *Env, src tracefile.Source, opts TailOptions) error {
	if opts.Interval <= 0 {
		opts.Interval = 250 * time.Millisecond
	}
	if opts.Quiet <= 0 {
		opts.Quiet = 2 * opts.Interval
	}
	ix := viewer.NewIndex()
	warn := e.warner()
	f, err := ix.Load(src, warn.warn)
	if err != nil {
		return err
	}
	defer f.Close()
	printed := map[string]int{} // trace id → observations when printed
	if !src.IsStream() {
		list, _ := ix.Query(viewer.Filter{})
		var last []string
		for _, s := range list {
			if !s.InProgress {
				printed[s.ID] = s.Observations
				if len(last) < opts.Last {
					last = append(last, s.ID)
				}
			}
		}
		slices.Reverse(last)
		for _, id := range last {
			e.printTree(e.Stdout, ix, id, opts.TreeOptions)
			fmt.Fprintln(e.Stdout)
		}
	}
	fmt.Fprintf(e.Stderr, "fluxloop: following %s (Ctrl-C to stop)\n", src)

	updates := make(chan tracefile.Update)
	done := make(chan error, 1)
	fctx, cancel := context.WithCancel(ctx)
	stopped := false
	defer func() {
		cancel()
		if !stopped {
			<-done // before f.Close
		}
	}()
	go func() {
		done <- f.Follow(fctx, opts.Interval, func(u tracefile.Update) error {
			select {
			case updates <- u:
				return nil
			case <-fctx.Done():
				return fctx.Err()
			}
		})
	}()
	pending := map[string]time.Time{} // trace id → last change
	flush := func(all bool) {
		var ready []viewer.Summary
		now := time.Now()
		for id, t := range pending {
			ss := ix.Summaries(id)
			if len(ss) == 0 {
				delete(pending, id)
				continue
			}
			s := ss[0]
			if (!s.InProgress && now.Sub(t) >= opts.Quiet) || all {
				if n, ok := printed[id]; !ok || n != s.Observations {
					ready = append(ready, s)
				}
				delete(pending, id)
			}
		}
		slices.SortFunc(ready, func(a, b viewer.Summary) int { return a.StartTime.Compare(b.StartTime) })
		for _, s := range ready {
			if _, again := printed[s.ID]; again {
				fmt.Fprintln(e.Stdout, e.paint("(updated)", dim))
			}
			printed[s.ID] = s.Observations
			e.printTree(e.Stdout, ix, s.ID, opts.TreeOptions)
			fmt.Fprintln(e.Stdout)
		}
	}
	tick := time.NewTicker(opts.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-done:
			stopped = true
			flush(true)
			if err == context.Canceled {
				return nil
			}
			return err
		case u := <-updates:
			for _, w := range u.Warnings {
				warn.warn(w)
			}
			res := ix.Apply(u)
			for _, w := range res.Warnings {
				warn.warn(w)
			}
			now := time.Now()
			for _, id := range res.Changed {
				pending[id] = now
			}
			if len(u.Reset) > 0 {
				fmt.Fprintf(e.Stderr, "fluxloop: %v was truncated or replaced: reading it again\n", u.Reset)
				clear(printed)
			}
		case <-tick.C:
			flush(false)
		}
	}
}
