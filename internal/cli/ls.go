package cli

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/fluxloop/fluxloop-go/internal/viewer"
	"github.com/fluxloop/fluxloop-go/runtime/tracefile"
)

// ListOptions are fluxloop ls's.
type ListOptions struct {
	// Filter selects the traces; its Limit is N.
	Filter viewer.Filter
}

// List prints the traces of src that opts select, newest first: id, name,
// start, duration, observations, errors, tokens and, when known, cost.
func List(e *Env, src tracefile.Source, opts ListOptions) error {
	ix, err := e.load(src)
	if err != nil {
		return err
	}
	list, total := ix.Query(opts.Filter)
	all, _ := ix.Len()
	if total == 0 {
		fmt.Fprintf(e.Stdout, "no traces match (of %s in %s)\n", Count(all, "trace", "traces"), src)
		return nil
	}
	idLen := ix.PrefixLen(8)
	hasCost := false
	for _, s := range list {
		hasCost = hasCost || s.CostUSD != nil
	}
	head := []cell{{"ID", bold}, {"NAME", bold}, {"START", bold}, {"DURATION", bold}, {"OBS", bold}, {"ERRORS", bold}, {"TOKENS", bold}}
	if hasCost {
		head = append(head, cell{"COST", bold})
	}
	rows := [][]cell{head}
	for _, s := range list {
		name := cell{s.Name, plain}
		dur := cell{Duration(durationMS(s.DurationMS)), plain}
		if s.InProgress {
			name = cell{"(in progress)", yellow}
			dur = cell{dur.text + "…", yellow}
		}
		errs := cell{strconv.Itoa(s.Errors), plain}
		if s.Errors > 0 {
			errs.st = red
		}
		tokens := "-"
		if s.TotalTokens > 0 {
			tokens = strconv.Itoa(s.TotalTokens)
		}
		r := []cell{
			{s.ID[:min(idLen, len(s.ID))], cyan},
			name,
			{s.StartTime.In(e.loc()).Format("2006-01-02 15:04:05"), plain},
			dur,
			{strconv.Itoa(s.Observations), plain},
			errs,
			{tokens, plain},
		}
		if hasCost {
			c := "-"
			if s.CostUSD != nil {
				c = Cost(*s.CostUSD)
			}
			r = append(r, cell{c, plain})
		}
		rows = append(rows, r)
	}
	e.table(e.Stdout, rows)
	var b strings.Builder
	if len(list) < total {
		fmt.Fprintf(&b, "%d of %s", len(list), Count(total, "trace", "traces"))
	} else {
		b.WriteString(Count(total, "trace", "traces"))
	}
	if total < all {
		fmt.Fprintf(&b, " (of %d)", all)
	}
	fmt.Fprintf(&b, " in %s", src)
	if len(list) < total {
		b.WriteString("; -n 0 shows all")
	}
	fmt.Fprintln(e.Stdout, e.paint(b.String(), dim))
	return nil
}
