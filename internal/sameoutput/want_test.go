package sameoutput

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// A check is one line of a want section.
type check struct {
	line int    // line number in the want section, from 1
	text string // the line as written
	sel  string // selector: NAME, NAME#N, NAME#last, NAME#deepest; "file" for file checks
	// field is the JSON key checked ("count" and "parent" are pseudo-fields;
	// empty for file checks), sub the member of an object field.
	field, sub string
	op         string // contains, not-contains, =, absent, present, count, parent
	arg        string
}

var ops = map[string]bool{"contains": true, "not-contains": true, "=": true, "absent": true, "present": true}

// parseWant parses a want section.
func parseWant(data []byte) ([]check, error) {
	var checks []check
	for i, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		c := check{line: i + 1, text: l}
		sel, rest, _ := strings.Cut(l, " ")
		c.sel = sel
		rest = strings.TrimSpace(rest)
		if sel == "file" {
			op, arg, _ := strings.Cut(rest, " ")
			c.op, c.arg = op, strings.TrimSpace(arg)
			if (op != "contains" && op != "not-contains") || c.arg == "" {
				return nil, fmt.Errorf("want:%d: %q: want file contains|not-contains TEXT", c.line, l)
			}
			checks = append(checks, c)
			continue
		}
		if _, _, err := parseSelector(sel); err != nil {
			return nil, fmt.Errorf("want:%d: %q: %v", c.line, l, err)
		}
		field, rest, _ := strings.Cut(rest, " ")
		rest = strings.TrimSpace(rest)
		switch field {
		case "":
			return nil, fmt.Errorf("want:%d: %q: no field", c.line, l)
		case "count":
			if _, err := strconv.Atoi(rest); err != nil {
				return nil, fmt.Errorf("want:%d: %q: want NAME count N", c.line, l)
			}
			c.op, c.arg = "count", rest
		case "parent":
			if rest == "" || strings.Contains(rest, " ") {
				return nil, fmt.Errorf("want:%d: %q: want NAME parent OTHER|none", c.line, l)
			}
			c.op, c.arg = "parent", rest
		default:
			c.field, c.sub, _ = strings.Cut(field, ".")
			op, arg, _ := strings.Cut(rest, " ")
			c.op, c.arg = op, strings.TrimSpace(arg)
			if !ops[op] {
				return nil, fmt.Errorf("want:%d: %q: unknown operator %q (want contains, not-contains, =, absent or present)", c.line, l, op)
			}
			needArg := op != "absent" && op != "present"
			if needArg != (c.arg != "") {
				return nil, fmt.Errorf("want:%d: %q: %s takes %s", c.line, l, op, map[bool]string{true: "a value", false: "no value"}[needArg])
			}
		}
		checks = append(checks, c)
	}
	return checks, nil
}

// parseSelector splits NAME#WHICH.
func parseSelector(sel string) (name, which string, err error) {
	name, which, _ = strings.Cut(sel, "#")
	if name == "" {
		return "", "", fmt.Errorf("empty observation name")
	}
	switch which {
	case "", "last", "deepest":
	default:
		if n, err := strconv.Atoi(which); err != nil || n < 1 {
			return "", "", fmt.Errorf("selector %q: want NAME, NAME#N (N from 1), NAME#last or NAME#deepest", sel)
		}
	}
	return name, which, nil
}

// An obs is one line of observations.jsonl.
type obs struct {
	fields map[string]json.RawMessage
	id     string
	parent string
	name   string
	start  time.Time
	index  int // line number, from 1
}

// parseObservations parses observations.jsonl.
func parseObservations(data []byte) ([]*obs, error) {
	var all []*obs
	for i, l := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		o := &obs{index: i + 1}
		if err := json.Unmarshal(l, &o.fields); err != nil {
			return nil, fmt.Errorf("observations.jsonl:%d: %v: %s", i+1, err, clip(l, 300))
		}
		for key, dst := range map[string]*string{"id": &o.id, "parent_observation_id": &o.parent, "name": &o.name} {
			if raw, ok := o.fields[key]; ok {
				if err := json.Unmarshal(raw, dst); err != nil {
					return nil, fmt.Errorf("observations.jsonl:%d: %s: %v", i+1, key, err)
				}
			}
		}
		if raw, ok := o.fields["start_time"]; ok {
			if err := json.Unmarshal(raw, &o.start); err != nil {
				return nil, fmt.Errorf("observations.jsonl:%d: start_time: %v", i+1, err)
			}
		}
		all = append(all, o)
	}
	return all, nil
}

// checkAll runs the checks on the observations file and returns one message
// per failed check.
func checkAll(checks []check, data []byte) []string {
	all, err := parseObservations(data)
	if err != nil {
		return []string{err.Error()}
	}
	byID := map[string]*obs{}
	for _, o := range all {
		byID[o.id] = o
	}
	var fails []string
	for _, c := range checks {
		if msg := c.run(all, byID, data); msg != "" {
			fails = append(fails, fmt.Sprintf("want:%d: %s: %s", c.line, c.text, msg))
		}
	}
	return fails
}

func (c check) run(all []*obs, byID map[string]*obs, data []byte) string {
	if c.sel == "file" {
		has := bytes.Contains(data, []byte(c.arg))
		if has && c.op == "not-contains" {
			i := bytes.Index(data, []byte(c.arg))
			return fmt.Sprintf("observations.jsonl contains it: ...%s...", clip(data[max(0, i-80):min(len(data), i+len(c.arg)+80)], 300))
		}
		if !has && c.op == "contains" {
			return "observations.jsonl does not contain it"
		}
		return ""
	}
	name, which, _ := parseSelector(c.sel)
	var named []*obs
	for _, o := range all {
		if o.name == name {
			named = append(named, o)
		}
	}
	if c.op == "count" {
		n, _ := strconv.Atoi(c.arg)
		if len(named) != n {
			return fmt.Sprintf("%d observations named %q, want %d (recorded: %s)", len(named), name, n, summary(all))
		}
		return ""
	}
	if len(named) == 0 {
		return fmt.Sprintf("MISSING: no observation named %q (recorded: %s)", name, summary(all))
	}
	sort.SliceStable(named, func(i, j int) bool { return named[i].start.Before(named[j].start) })
	switch which {
	case "":
	case "last":
		named = named[len(named)-1:]
	case "deepest":
		best, bestDepth := named[0], -1
		for _, o := range named {
			if d := depth(o, byID); d > bestDepth {
				best, bestDepth = o, d
			}
		}
		named = []*obs{best}
	default:
		n, _ := strconv.Atoi(which)
		if n > len(named) {
			return fmt.Sprintf("MISSING: only %d observations named %q", len(named), name)
		}
		named = named[n-1 : n]
	}
	for _, o := range named {
		if msg := c.one(o, byID); msg != "" {
			return fmt.Sprintf("observation %s (line %d of observations.jsonl): %s", o.id, o.index, msg)
		}
	}
	return ""
}

// one checks one observation.
func (c check) one(o *obs, byID map[string]*obs) string {
	if c.op == "parent" {
		if o.parent == "" {
			if c.arg == "none" {
				return ""
			}
			return fmt.Sprintf("it is a root, want parent %q", c.arg)
		}
		p, ok := byID[o.parent]
		switch {
		case !ok:
			return fmt.Sprintf("its parent %s is not in the file, want %q", o.parent, c.arg)
		case c.arg == "none":
			return fmt.Sprintf("its parent is %q, want a root", p.name)
		case p.name != c.arg:
			return fmt.Sprintf("its parent is %q, want %q", p.name, c.arg)
		}
		return ""
	}
	raw, ok := o.fields[c.field]
	where, detail := c.field, ""
	if ok && c.sub != "" {
		where += "." + c.sub
		var members map[string]json.RawMessage
		if err := json.Unmarshal(raw, &members); err != nil {
			return fmt.Sprintf("%s is not an object: %s", c.field, clip(raw, 300))
		}
		raw, ok = members[c.sub]
		if !ok {
			keys := make([]string, 0, len(members))
			for k := range members {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			detail = fmt.Sprintf(" (%s has keys %v)", c.field, keys)
		}
	} else if c.sub != "" {
		where += "." + c.sub
	}
	null := !ok || bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
	switch c.op {
	case "absent":
		if !null {
			return fmt.Sprintf("%s is %s, want it absent", where, clip(raw, 300))
		}
		return ""
	case "present":
		if null {
			return c.missing(where, detail)
		}
		return ""
	}
	if !ok {
		return c.missing(where, detail)
	}
	switch c.op {
	case "contains":
		if !bytes.Contains(raw, []byte(c.arg)) {
			return fmt.Sprintf("%s does not contain %q: %s", where, c.arg, clip(raw, 600))
		}
	case "not-contains":
		if i := bytes.Index(raw, []byte(c.arg)); i >= 0 {
			return fmt.Sprintf("%s contains %q: ...%s...", where, c.arg, clip(raw[max(0, i-80):min(len(raw), i+len(c.arg)+80)], 300))
		}
	case "=":
		got, want := compact(raw), compact([]byte(c.arg))
		if !bytes.Equal(got, want) {
			return fmt.Sprintf("%s is %s, want %s", where, clip(got, 600), want)
		}
	}
	return ""
}

func (c check) missing(where, detail string) string {
	return fmt.Sprintf("MISSING: the observation has no %s%s", where, detail)
}

// depth counts o's ancestors in the file.
func depth(o *obs, byID map[string]*obs) int {
	d := 0
	for seen := map[string]bool{}; o.parent != "" && !seen[o.parent]; d++ {
		seen[o.parent] = true
		p, ok := byID[o.parent]
		if !ok {
			return d + 1
		}
		o = p
	}
	return d
}

// compact returns b compacted when it is JSON, else b trimmed.
func compact(b []byte) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, bytes.TrimSpace(b)); err == nil {
		return buf.Bytes()
	}
	return bytes.TrimSpace(b)
}

// summary lists the names recorded, with counts.
func summary(all []*obs) string {
	if len(all) == 0 {
		return "nothing"
	}
	counts := map[string]int{}
	var names []string
	for _, o := range all {
		if counts[o.name] == 0 {
			names = append(names, o.name)
		}
		counts[o.name]++
	}
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s×%d", n, counts[n])
	}
	return strings.Join(parts, ", ")
}

// clip shortens b to about n bytes for a message.
func clip(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return fmt.Sprintf("%s... (%d bytes)", b[:n], len(b))
}
