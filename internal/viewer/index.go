package viewer

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"github.com/fluxloop/fluxloop-go/runtime/tracefile"
)

// maxNodeEvents bounds the observation events of one Apply: beyond, a
// reset event replaces them.
const maxNodeEvents = 2000

// Metadata keys the index reads.
const (
	costKey = "fluxloop.llm.cost_usd"
)

// Summary is one trace in the list (GET /api/traces).
type Summary struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	StartTime time.Time `json:"start_time"`
	// EndTime is null while the trace is in progress.
	EndTime *time.Time `json:"end_time"`
	// DurationMS is the trace's duration, or for one in progress the time
	// from its start to the last end written so far.
	DurationMS       float64 `json:"duration_ms"`
	Observations     int     `json:"observations"`
	Errors           int     `json:"errors"`
	PromptTokens     int     `json:"prompt_tokens"`
	CompletionTokens int     `json:"completion_tokens"`
	TotalTokens      int     `json:"total_tokens"`
	// CostUSD is the sum of the observations' fluxloop.llm.cost_usd, absent
	// when none has one.
	CostUSD    *float64 `json:"cost_usd,omitempty"`
	Models     []string `json:"models"`
	InProgress bool     `json:"in_progress"`
}

// Node is one observation of a trace's skeleton (GET /api/traces/{id}):
// no input, output or metadata.
type Node struct {
	ID string `json:"id"`
	// ParentID is empty for a root; a ParentID naming no node of the trace
	// is a parent in another process that did not write here.
	ParentID  string    `json:"parent_id"`
	Type      string    `json:"type"`
	Name      string    `json:"name"`
	StartTime time.Time `json:"start_time"`
	// EndTime is null for a running node.
	EndTime *time.Time `json:"end_time"`
	// DurationMS is, for a running node, the time from its start to the
	// last end of its children so far.
	DurationMS       float64 `json:"duration_ms"`
	Level            string  `json:"level"`
	Error            string  `json:"error"`
	StatusMessage    string  `json:"status_message"`
	Model            string  `json:"model"`
	PromptTokens     int     `json:"prompt_tokens"`
	CompletionTokens int     `json:"completion_tokens"`
	HasInput         bool    `json:"has_input"`
	HasOutput        bool    `json:"has_output"`
	// Running marks an observation named as a parent that has not been
	// written yet: it is still running. Its name and type are not known
	// yet (empty), its start is its earliest child's.
	Running bool `json:"running"`
}

// Filter selects traces (the query of GET /api/traces, the flags of
// fluxloop ls). Zero fields select everything.
type Filter struct {
	// Text matches, case-insensitively, part of the trace's id, its name,
	// an observation's name, model, error or status message, a tag, the
	// session or user id.
	Text string
	// Name matches part of the trace's name, case-insensitively.
	Name string
	// Errors selects traces with at least one error.
	Errors bool
	// InProgress selects traces still in progress.
	InProgress bool
	// Since selects traces that started at or after it.
	Since time.Time
	// Model matches part of one of the trace's models, case-insensitively.
	Model string
	// Offset and Limit page the result; Limit 0 means no limit.
	Offset, Limit int
}

// Index holds what a viewer shows of a set of traces: summaries, and the
// skeleton of every trace, kept up to date by Apply. Inputs, outputs and
// metadata stay in the files: the index keeps each line's position and
// reads it again on demand (lines from a stream are kept in memory).
//
// An Index is safe for concurrent use.
type Index struct {
	mu      sync.RWMutex
	traces  map[string]*itrace
	sorted  []*itrace // oldest first, when sortOK; traces added since are at the end
	sortOK  bool
	files   []string       // sources of positions
	fileIdx map[string]int // file → index in files
	intern  map[string]string
	nobs    int

	subMu sync.Mutex
	subs  map[*subscriber]struct{}
	nsubs atomic.Int32
}

// loc says where a line is: a file and offset, or in memory (raw).
type loc struct {
	file int32
	n    int32
	off  int64
	raw  []byte // a line from a stream, without a tag
}

type inode struct {
	id, parent, typ, name, level, err, status, model string

	start, end                int64 // unix nanoseconds
	prompt, completion, total int
	cost                      float64
	hasCost                   bool
	hasInput, hasOutput       bool
	outHash                   uint64
	loc                       loc
}

type itrace struct {
	id    string
	recs  []*trec // trace lines, earliest start first
	nodes map[string]*inode
	order []*inode // insertion order

	missing map[string]int64 // parent id → earliest child start, for parents not written

	nobs, nerr, roots         int
	prompt, completion, total int
	cost                      float64
	hasCost                   bool
	models                    map[string]int
	start, end                int64

	nameLower string
	search    string // lower-case text Filter.Text matches; "" when stale
	skeleton  []Node // cached Nodes; nil when stale
}

type trec struct {
	name, err, session, user string
	tags                     []string
	start, end               int64
	loc                      loc
}

// NewIndex returns an empty index.
func NewIndex() *Index {
	return &Index{
		traces:  map[string]*itrace{},
		fileIdx: map[string]int{},
		intern:  map[string]string{},
		subs:    map[*subscriber]struct{}{},
	}
}

func (ix *Index) str(s string) string {
	if len(s) > 64 {
		return s
	}
	if v, ok := ix.intern[s]; ok {
		return v
	}
	ix.intern[s] = s
	return s
}

func (ix *Index) locOf(r tracefile.Record) loc {
	if r.Source == tracefile.Stdin || r.Source == "" {
		return loc{file: -1, raw: bytes.Clone(r.JSON())}
	}
	i, ok := ix.fileIdx[r.Source]
	if !ok {
		i = len(ix.files)
		ix.files = append(ix.files, r.Source)
		ix.fileIdx[r.Source] = i
	}
	return loc{file: int32(i), off: r.Offset, n: int32(len(r.Raw))}
}

// Len returns the number of traces and of observations in the index.
func (ix *Index) Len() (traces, observations int) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.traces), ix.nobs
}

// Apply adds what a tracefile.Follower read: it first forgets what was read
// from files that were reset, then adds the records (decoding those that
// carry only their line: a follower with SkipDecode). It returns the lines
// it could not read and the traces that changed. Subscribers get an
// observation event for each observation line and a trace event for each
// trace that changed.
func (ix *Index) Apply(u tracefile.Update) Applied {
	recs := decodeAll(u.Records)
	var res Applied
	var events []Event
	changed := map[*itrace]bool{}
	var order []*itrace
	touch := func(t *itrace) {
		if !changed[t] {
			changed[t] = true
			order = append(order, t)
		}
	}
	live := ix.nsubs.Load() > 0
	ix.mu.Lock()
	reset := len(u.Reset) > 0
	if reset {
		ix.reset(u.Reset)
	}
	for i := range recs {
		d := &recs[i]
		if d.err != nil {
			res.Warnings = append(res.Warnings, warning(d.rec, d.err))
			continue
		}
		switch d.rec.Kind {
		case tracefile.KindObservation:
			t, n, added := ix.addObservation(d)
			touch(t)
			if live && !reset {
				if added != "" {
					events = append(events, Event{Type: "observation", TraceID: t.id, Node: t.runningNode(added)})
				}
				events = append(events, Event{Type: "observation", TraceID: t.id, Node: n.node()})
			}
		case tracefile.KindTrace:
			touch(ix.addTrace(d))
		}
	}
	for _, t := range order {
		if ix.traces[t.id] == t {
			res.Changed = append(res.Changed, t.id)
			t.searchText() // ready for queries, which then need only the read lock
		}
	}
	if reset {
		for _, t := range ix.traces {
			t.searchText()
		}
	}
	ix.sortedTraces()
	switch {
	case !live:
	case !reset && len(events) <= maxNodeEvents:
		for _, t := range order {
			if ix.traces[t.id] == t {
				s := t.summary()
				events = append(events, Event{Type: "trace", Summary: &s})
			}
		}
	default:
		// Files reset, or a burst of lines: one event that says fetch
		// everything again, rather than events that would overflow the
		// subscribers.
		events = []Event{{Type: "reset"}}
	}
	ix.mu.Unlock()
	ix.publish(events)
	return res
}

// Applied is what Apply did.
type Applied struct {
	// Changed are the ids of the traces added or changed, in the order of
	// their first record.
	Changed []string
	// Warnings are the lines that could not be read.
	Warnings []tracefile.Warning
}

// PrefixLen returns the shortest length, at least min, at which the
// prefixes of the trace ids are all different.
func (ix *Index) PrefixLen(min int) int {
	ix.mu.RLock()
	ids := make([]string, 0, len(ix.traces))
	for id := range ix.traces {
		ids = append(ids, id)
	}
	ix.mu.RUnlock()
	slices.Sort(ids)
	n := min
	for i := 1; i < len(ids); i++ {
		a, b := ids[i-1], ids[i]
		k := 0
		for k < len(a) && k < len(b) && a[k] == b[k] {
			k++
		}
		n = max(n, k+1)
	}
	return n
}

// reset forgets the lines read from the files.
func (ix *Index) reset(files []string) {
	drop := map[int32]bool{}
	for _, f := range files {
		if i, ok := ix.fileIdx[f]; ok {
			drop[int32(i)] = true
		}
	}
	if len(drop) == 0 {
		return
	}
	for id, t := range ix.traces {
		t.recs = slices.DeleteFunc(t.recs, func(r *trec) bool { return drop[r.loc.file] })
		n := len(t.order)
		t.order = slices.DeleteFunc(t.order, func(o *inode) bool { return drop[o.loc.file] })
		if len(t.order) == n {
			continue
		}
		ix.nobs -= n - len(t.order)
		if len(t.order) == 0 && len(t.recs) == 0 {
			delete(ix.traces, id)
			continue
		}
		t.recompute()
	}
	ix.sorted = slices.DeleteFunc(ix.sorted, func(t *itrace) bool { return ix.traces[t.id] != t })
	ix.sortOK = false
}

func (ix *Index) trace(id string) *itrace {
	t := ix.traces[id]
	if t == nil {
		t = &itrace{id: id, nodes: map[string]*inode{}, models: map[string]int{}, start: math.MaxInt64, end: math.MinInt64}
		ix.traces[id] = t
		ix.sorted = append(ix.sorted, t)
		ix.sortOK = false
	}
	return t
}

// addObservation adds an observation line, returning its trace, its node
// and the id of a running parent it revealed, if any.
func (ix *Index) addObservation(d *decoded) (*itrace, *inode, string) {
	o := &d.obs
	n := &inode{
		id:         o.id,
		parent:     o.parent,
		typ:        ix.str(o.typ),
		name:       ix.str(o.name),
		level:      ix.str(o.level),
		err:        o.err,
		status:     o.status,
		model:      ix.str(o.model),
		start:      o.start.UnixNano(),
		end:        o.end.UnixNano(),
		prompt:     o.prompt,
		completion: o.completion,
		total:      cmp.Or(o.total, o.prompt+o.completion),
		hasInput:   hasValue(o.input),
		hasOutput:  hasValue(o.output),
		cost:       o.cost,
		hasCost:    o.hasCost,
		loc:        ix.locOf(d.rec),
	}
	if n.hasOutput {
		h := fnv.New64a()
		h.Write(o.output)
		n.outHash = h.Sum64()
	}
	t := ix.trace(o.traceID)
	if old := t.nodes[n.id]; old != nil { // read twice: the last wins
		i := slices.Index(t.order, old)
		t.order[i] = n
		t.nodes[n.id] = n
		t.recompute()
		ix.sortOK = false
		return t, n, ""
	}
	ix.nobs++
	t.nodes[n.id] = n
	t.order = append(t.order, n)
	if n.start < t.start {
		t.start = n.start
		ix.sortOK = false
	}
	t.add(n)
	if n.parent == "" && len(t.recs) == 0 {
		t.nameLower = strings.ToLower(t.name())
	}
	revealed := ""
	if t.missing != nil {
		delete(t.missing, n.id)
	}
	if p := n.parent; p != "" && t.nodes[p] == nil {
		if t.missing == nil {
			t.missing = map[string]int64{}
		}
		if s, ok := t.missing[p]; !ok || n.start < s {
			if !ok && t.inProgress() {
				revealed = p
			}
			t.missing[p] = n.start
		}
	}
	return t, n, revealed
}

func hasValue(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && !bytes.Equal(b, []byte("null"))
}

// add adds n's share of the aggregates.
func (t *itrace) add(n *inode) {
	t.nobs++
	if n.err != "" || n.level == string(fluxloop.LevelError) {
		t.nerr++
	}
	if n.parent == "" {
		t.roots++
	}
	t.prompt += n.prompt
	t.completion += n.completion
	t.total += n.total
	if n.hasCost {
		t.cost += n.cost
		t.hasCost = true
	}
	if n.model != "" {
		t.models[n.model]++
	}
	t.start = min(t.start, n.start)
	t.end = max(t.end, n.end)
	t.search, t.skeleton = "", nil
}

// recompute computes the aggregates again from the nodes and trace lines.
func (t *itrace) recompute() {
	t.nobs, t.nerr, t.roots, t.prompt, t.completion, t.total = 0, 0, 0, 0, 0, 0
	t.cost, t.hasCost = 0, false
	t.models = map[string]int{}
	t.start, t.end = math.MaxInt64, math.MinInt64
	t.nodes = make(map[string]*inode, len(t.order))
	for _, n := range t.order {
		t.nodes[n.id] = n
	}
	t.missing = nil
	for _, n := range t.order {
		t.add(n)
		if p := n.parent; p != "" && t.nodes[p] == nil {
			if t.missing == nil {
				t.missing = map[string]int64{}
			}
			if s, ok := t.missing[p]; !ok || n.start < s {
				t.missing[p] = n.start
			}
		}
	}
	slices.SortStableFunc(t.recs, func(a, b *trec) int { return cmp.Or(cmp.Compare(a.start, b.start), cmp.Compare(b.end, a.end)) })
	for _, r := range t.recs {
		t.start = min(t.start, r.start)
		t.end = max(t.end, r.end)
	}
	t.nameLower = strings.ToLower(t.name())
}

func (ix *Index) addTrace(d *decoded) *itrace {
	tr := &d.tr
	rec := &trec{
		name:    ix.str(tr.name),
		err:     tr.err,
		session: tr.session,
		user:    tr.user,
		tags:    tr.tags,
		start:   tr.start.UnixNano(),
		end:     tr.end.UnixNano(),
		loc:     ix.locOf(d.rec),
	}
	t := ix.trace(tr.id)
	t.recs = append(t.recs, rec)
	slices.SortStableFunc(t.recs, func(a, b *trec) int { return cmp.Or(cmp.Compare(a.start, b.start), cmp.Compare(b.end, a.end)) })
	if rec.start < t.start {
		t.start = rec.start
		ix.sortOK = false
	}
	t.end = max(t.end, rec.end)
	t.nameLower = strings.ToLower(t.name())
	t.search, t.skeleton = "", nil
	return t
}

func (t *itrace) inProgress() bool { return len(t.recs) == 0 && t.roots == 0 }

// name is the trace line's name, else the root observation's.
func (t *itrace) name() string {
	if len(t.recs) > 0 {
		return t.recs[0].name
	}
	if t.roots > 0 {
		var root *inode
		for _, n := range t.order {
			if n.parent == "" && (root == nil || n.start < root.start) {
				root = n
			}
		}
		return root.name
	}
	return ""
}

func ms(ns int64) float64 { return math.Round(float64(ns)/1e3) / 1e3 }

func tm(ns int64) time.Time { return time.Unix(0, ns).UTC() }

func (t *itrace) summary() Summary {
	s := Summary{
		ID:               t.id,
		Name:             t.name(),
		Observations:     t.nobs,
		Errors:           t.nerr,
		PromptTokens:     t.prompt,
		CompletionTokens: t.completion,
		TotalTokens:      t.total,
		Models:           make([]string, 0, len(t.models)),
		InProgress:       t.inProgress(),
	}
	if t.start != math.MaxInt64 {
		s.StartTime = tm(t.start)
		if t.end >= t.start {
			s.DurationMS = ms(t.end - t.start)
		}
	}
	if !s.InProgress && t.end != math.MinInt64 {
		e := tm(t.end)
		s.EndTime = &e
	}
	if t.hasCost {
		c := math.Round(t.cost*1e9) / 1e9
		s.CostUSD = &c
	}
	for m := range t.models {
		s.Models = append(s.Models, m)
	}
	slices.Sort(s.Models)
	if s.Errors == 0 && len(t.recs) > 0 && t.recs[0].err != "" {
		s.Errors = 1
	}
	return s
}

func (n *inode) node() Node {
	e := tm(n.end)
	return Node{
		ID:               n.id,
		ParentID:         n.parent,
		Type:             n.typ,
		Name:             n.name,
		StartTime:        tm(n.start),
		EndTime:          &e,
		DurationMS:       ms(n.end - n.start),
		Level:            n.level,
		Error:            n.err,
		StatusMessage:    n.status,
		Model:            n.model,
		PromptTokens:     n.prompt,
		CompletionTokens: n.completion,
		HasInput:         n.hasInput,
		HasOutput:        n.hasOutput,
	}
}

// runningNode is the node of a parent not written yet.
func (t *itrace) runningNode(id string) Node {
	start := t.missing[id]
	end := start
	for _, n := range t.order {
		if n.parent == id {
			end = max(end, n.end)
		}
	}
	return Node{ID: id, StartTime: tm(start), DurationMS: ms(end - start), Running: true}
}

// nodes returns the skeleton, by start time (a parent before a child that
// starts at the same time).
func (t *itrace) skeletonNodes() []Node {
	if t.skeleton != nil {
		return t.skeleton
	}
	out := make([]Node, 0, len(t.order)+len(t.missing))
	type key struct {
		start, end int64
		running    bool
	}
	keys := make(map[string]key, cap(out))
	for _, n := range t.order {
		out = append(out, n.node())
		keys[n.id] = key{n.start, n.end, false}
	}
	if t.inProgress() && len(t.missing) > 0 {
		ends := map[string]int64{}
		for _, n := range t.order {
			if _, ok := t.missing[n.parent]; ok {
				ends[n.parent] = max(ends[n.parent], n.end)
			}
		}
		for id, start := range t.missing {
			end := max(ends[id], start)
			out = append(out, Node{ID: id, StartTime: tm(start), DurationMS: ms(end - start), Running: true})
			keys[id] = key{start, 0, true}
		}
	}
	slices.SortFunc(out, func(a, b Node) int {
		ka, kb := keys[a.ID], keys[b.ID]
		if c := cmp.Compare(ka.start, kb.start); c != 0 {
			return c
		}
		if ka.running != kb.running {
			if ka.running {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(kb.end, ka.end), cmp.Compare(a.ID, b.ID))
	})
	t.skeleton = out
	return out
}

// searchText returns the lower-case text Filter.Text matches.
func (t *itrace) searchText() string {
	if t.search != "" {
		return t.search
	}
	var b strings.Builder
	seen := map[string]bool{}
	add := func(s string) {
		if s != "" && !seen[s] {
			seen[s] = true
			b.WriteString(strings.ToLower(s))
			b.WriteByte('\n')
		}
	}
	add(t.id)
	for _, r := range t.recs {
		add(r.name)
		add(r.err)
		add(r.session)
		add(r.user)
		for _, tag := range r.tags {
			add(tag)
		}
	}
	for _, n := range t.order {
		add(n.name)
		add(n.model)
		add(n.err)
		add(n.status)
	}
	t.search = b.String()
	return t.search
}

func (ix *Index) sortedTraces() []*itrace {
	if !ix.sortOK {
		// Mostly in order already: new traces are the newest, and a
		// trace's start moves only a little.
		slices.SortStableFunc(ix.sorted, func(a, b *itrace) int { return cmp.Or(cmp.Compare(a.start, b.start), cmp.Compare(b.id, a.id)) })
		ix.sortOK = true
	}
	return ix.sorted
}

// Query returns the traces f selects, newest first, and how many it
// selects in all (before Offset and Limit).
func (ix *Index) Query(f Filter) ([]Summary, int) {
	text := strings.ToLower(f.Text)
	name := strings.ToLower(f.Name)
	model := strings.ToLower(f.Model)
	since := int64(math.MinInt64)
	if !f.Since.IsZero() {
		since = f.Since.UnixNano()
	}
	// Apply leaves the order and the search texts ready: a query needs the
	// read lock only.
	ix.mu.RLock()
	for !ix.sortOK {
		ix.mu.RUnlock()
		ix.mu.Lock()
		ix.sortedTraces()
		ix.mu.Unlock()
		ix.mu.RLock()
	}
	defer ix.mu.RUnlock()
	out := []Summary{}
	total := 0
	for i := len(ix.sorted) - 1; i >= 0; i-- { // newest first
		t := ix.sorted[i]
		if t.start < since {
			break // newest first: the rest start earlier still
		}
		if f.Errors && t.nerr == 0 && (len(t.recs) == 0 || t.recs[0].err == "") {
			continue
		}
		if f.InProgress && !t.inProgress() {
			continue
		}
		if name != "" && !strings.Contains(t.nameLower, name) {
			continue
		}
		if model != "" && !t.hasModel(model) {
			continue
		}
		if text != "" && !strings.Contains(t.search, text) {
			continue
		}
		total++
		if total > f.Offset && (f.Limit <= 0 || len(out) < f.Limit) {
			out = append(out, t.summary())
		}
	}
	return out, total
}

func (t *itrace) hasModel(sub string) bool {
	for m := range t.models {
		if strings.Contains(strings.ToLower(m), sub) {
			return true
		}
	}
	return false
}

// ErrNotFound is returned (wrapped) for a trace or observation the index
// does not hold.
var ErrNotFound = errors.New("not found")

// Resolve returns the id of the trace ref names: "last" (the newest trace),
// a trace id, or a prefix of exactly one trace's id.
func (ix *Index) Resolve(ref string) (string, error) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ref == "" || ref == "last" {
		s := ix.sortedTraces()
		if len(s) == 0 {
			return "", fmt.Errorf("no traces: %w", ErrNotFound)
		}
		return s[len(s)-1].id, nil
	}
	if _, ok := ix.traces[ref]; ok {
		return ref, nil
	}
	var found []string
	s := ix.sortedTraces()
	for i := len(s) - 1; i >= 0; i-- {
		if t := s[i]; strings.HasPrefix(t.id, ref) {
			found = append(found, t.id)
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("no trace %s: %w", ref, ErrNotFound)
	case 1:
		return found[0], nil
	}
	more := ""
	if len(found) > 5 {
		more = fmt.Sprintf(", and %d more", len(found)-5)
		found = found[:5]
	}
	return "", fmt.Errorf("trace id prefix %s is ambiguous: %s%s", ref, strings.Join(found, ", "), more)
}

// Trace returns the summary and skeleton of the trace with the id (see
// Resolve for prefixes). The nodes are shared: read them, do not change
// them.
func (ix *Index) Trace(id string) (Summary, []Node, error) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	t := ix.traces[id]
	if t == nil {
		return Summary{}, nil, fmt.Errorf("no trace %s: %w", id, ErrNotFound)
	}
	return t.summary(), t.skeletonNodes(), nil
}

// Summaries returns the summaries of the traces with the ids, skipping ids
// not in the index.
func (ix *Index) Summaries(ids ...string) []Summary {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	var out []Summary
	for _, id := range ids {
		if t := ix.traces[id]; t != nil {
			out = append(out, t.summary())
		}
	}
	return out
}

// Observation reads the observation's line again and returns its JSON (a
// fluxloop.Observation, without a record tag).
func (ix *Index) Observation(traceID, id string) ([]byte, error) {
	ix.mu.RLock()
	t := ix.traces[traceID]
	var n *inode
	var running bool
	var path string
	if t != nil {
		n = t.nodes[id]
		_, running = t.missing[id]
		if n != nil {
			path = ix.path(n.loc)
		}
	}
	ix.mu.RUnlock()
	switch {
	case t == nil:
		return nil, fmt.Errorf("no trace %s: %w", traceID, ErrNotFound)
	case n == nil && running:
		return nil, fmt.Errorf("observation %s of trace %s has not been written: %w", id, traceID, ErrNotFound)
	case n == nil:
		return nil, fmt.Errorf("no observation %s in trace %s: %w", id, traceID, ErrNotFound)
	}
	return readLoc(path, n.loc, id)
}

// readLoc reads a line again and checks that it still holds the record
// with the id.
func readLoc(path string, l loc, id string) ([]byte, error) {
	if l.raw != nil {
		return l.raw, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", id, err)
	}
	defer f.Close()
	b := make([]byte, l.n)
	if _, err := f.ReadAt(b, l.off); err != nil {
		return nil, fmt.Errorf("read %s from %s at offset %d: %w", id, path, l.off, err)
	}
	b = tracefile.StripTag(b)
	var head struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &head); err != nil || head.ID != id {
		return nil, fmt.Errorf("%s changed: offset %d no longer holds %s", path, l.off, id)
	}
	return b, nil
}

// Line is a trace's line, read again from its file.
type Line struct {
	Kind tracefile.Kind
	// JSON is the record without a record tag.
	JSON []byte
}

// Lines reads the trace's lines again: its observations by start time,
// then its trace lines.
func (ix *Index) Lines(traceID string) ([]Line, error) {
	type want struct {
		kind tracefile.Kind
		id   string
		path string
		loc  loc
	}
	var ws []want
	ix.mu.Lock()
	t := ix.traces[traceID]
	if t != nil {
		for _, nd := range t.skeletonNodes() {
			if n := t.nodes[nd.ID]; n != nil {
				ws = append(ws, want{tracefile.KindObservation, n.id, ix.path(n.loc), n.loc})
			}
		}
		for _, r := range t.recs {
			ws = append(ws, want{tracefile.KindTrace, t.id, ix.path(r.loc), r.loc})
		}
	}
	ix.mu.Unlock()
	if t == nil {
		return nil, fmt.Errorf("no trace %s: %w", traceID, ErrNotFound)
	}
	out := make([]Line, 0, len(ws))
	for _, w := range ws {
		b, err := readLoc(w.path, w.loc, w.id)
		if err != nil {
			return nil, err
		}
		out = append(out, Line{Kind: w.kind, JSON: b})
	}
	return out, nil
}

func (ix *Index) path(l loc) string {
	if l.raw != nil {
		return ""
	}
	return ix.files[l.file]
}

// Observations reads all of a trace's observations again, by start time,
// with their inputs, outputs and metadata.
func (ix *Index) Observations(traceID string) ([]*fluxloop.Observation, error) {
	lines, err := ix.Lines(traceID)
	if err != nil {
		return nil, err
	}
	var out []*fluxloop.Observation
	for _, l := range lines {
		if l.Kind != tracefile.KindObservation {
			continue
		}
		o := new(fluxloop.Observation)
		if err := json.Unmarshal(l.JSON, o); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}
