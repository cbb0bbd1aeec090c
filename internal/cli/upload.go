package cli

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"time"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"github.com/fluxloop/fluxloop-go/runtime/collector"
	"github.com/fluxloop/fluxloop-go/runtime/tracefile"
)

// DefaultUploadBatch is the number of observations Upload sends, and
// waits to be acknowledged, before it records its progress.
const DefaultUploadBatch = 500

// UploadStateFile is the name of the state file Upload keeps in the source
// directory by default.
const UploadStateFile = ".fluxloop-upload.json"

// UploadOptions configures Upload.
type UploadOptions struct {
	// URL is the collector's base URL (default $FLUXLOOP_API_URL); APIKey
	// its key (default $FLUXLOOP_API_KEY), never printed.
	URL, APIKey string
	// State is the state file (default SOURCE/.fluxloop-upload.json).
	State string
	// Batch is the number of observations per batch (default
	// DefaultUploadBatch).
	Batch int
	// Collector is the base of the storage's options; URL, APIKey,
	// SpillDir and Log are set by Upload.
	Collector collector.Options
}

// uploadState is the state file: per collector URL, per file path, the
// byte offset just past the last line the collector acknowledged.
type uploadState struct {
	Version int                         `json:"version"`
	Uploads map[string]map[string]int64 `json:"uploads"`
}

// Upload sends the observations and traces of a source's JSONL files (what
// the file storage wrote, or what the http storage spilled while its
// collector was down) to a FluxLoop collector, in batches. After each batch
// is acknowledged it records in the state file how far it got in each file,
// so that a re-run sends only the lines after that: the collector receives
// each observation once however often the command is run. A batch that was
// interrupted (the collector failed part of it, the command was killed) is
// sent again whole, so the collector may see some of its records twice,
// with the same ids.
func Upload(ctx context.Context, e *Env, src tracefile.Source, o UploadOptions) error {
	if src.IsStream() {
		return errors.New("upload reads files, not standard input")
	}
	if o.URL == "" {
		o.URL = e.getenv("FLUXLOOP_API_URL")
	}
	if o.APIKey == "" {
		o.APIKey = e.getenv("FLUXLOOP_API_KEY")
	}
	if o.URL == "" {
		return errors.New("no collector URL: set FLUXLOOP_API_URL or give -url")
	}
	shown := o.URL
	if u, err := url.Parse(o.URL); err == nil {
		shown = u.Redacted()
	}
	if o.Batch <= 0 {
		o.Batch = DefaultUploadBatch
	}
	dir := src.Dir
	if dir == "" {
		dir = filepath.Dir(src.Observations)
	}
	if o.State == "" {
		o.State = filepath.Join(dir, UploadStateFile)
	}
	obsPath, err := filepath.Abs(src.Observations)
	if err != nil {
		return err
	}
	trPath := ""
	if src.Traces != "" {
		if trPath, err = filepath.Abs(src.Traces); err != nil {
			return err
		}
	}

	state, err := readUploadState(o.State)
	if err != nil {
		return err
	}
	done := state.Uploads[shown]
	if done == nil {
		done = map[string]int64{}
		state.Uploads[shown] = done
	}
	for _, p := range []string{obsPath, trPath} {
		if p == "" {
			continue
		}
		if fi, err := os.Stat(p); err == nil && fi.Size() < done[p] {
			fmt.Fprintf(e.Stderr, "fluxloop: warning: %s is shorter than when it was uploaded: sending it all again\n", p)
			done[p] = 0
		}
	}

	records, warnings, err := tracefile.ReadAll(src)
	if err != nil {
		return err
	}
	w := e.warner()
	for _, x := range warnings {
		w.warn(x)
	}

	// Split the lines into those sent before and those to send; index the
	// trace lines still to send by trace id.
	type traceLine struct {
		t    *fluxloop.Trace
		rec  tracefile.Record
		sent bool
	}
	var pending []tracefile.Record
	var traces []*traceLine
	byTrace := map[string][]*traceLine{}
	before := 0
	for _, r := range records {
		path, _ := filepath.Abs(r.Source)
		if r.Offset < done[path] {
			if r.Kind == tracefile.KindObservation {
				before++
			}
			continue
		}
		switch r.Kind {
		case tracefile.KindObservation:
			pending = append(pending, r)
		case tracefile.KindTrace:
			tl := &traceLine{t: r.Trace, rec: r}
			traces = append(traces, tl)
			byTrace[r.Trace.ID] = append(byTrace[r.Trace.ID], tl)
		}
	}
	// findTrace returns the trace line of a root observation: one of its
	// trace with the same name and times (the trace line repeats them).
	findTrace := func(ob *fluxloop.Observation) *traceLine {
		for _, tl := range byTrace[ob.TraceID] {
			if !tl.sent && tl.t.Name == ob.Name && tl.t.StartTime.Equal(ob.StartTime) && tl.t.EndTime.Equal(ob.EndTime) {
				return tl
			}
		}
		return nil
	}

	spill, err := os.MkdirTemp("", "fluxloop-upload-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(spill)
	opts := o.Collector
	opts.URL, opts.APIKey, opts.SpillDir = o.URL, o.APIKey, spill
	opts.Log = io.Discard
	st, err := collector.New(opts)
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		st.Close(cctx)
	}()

	var sentObs, sentTraces int
	for len(pending) > 0 {
		n := min(o.Batch, len(pending))
		batch := pending[:n]
		pending = pending[n:]
		recs := make([]fluxloop.Record, 0, n)
		var roots []*traceLine
		var obsEnd int64
		for _, r := range batch {
			obsEnd = r.Offset + int64(len(r.Raw)) + 1
			rec, err := toRecord(r.Observation)
			if err != nil {
				w.warn(tracefile.Warning{Source: r.Source, Line: r.Line, Offset: r.Offset, Reason: err.Error()})
				continue
			}
			if tl := findTrace(r.Observation); tl != nil {
				tl.sent = true
				roots = append(roots, tl)
				rec.Root = true
				rec.Trace = fluxloop.TraceFields{
					Metadata:  toFields(tl.t.Metadata),
					Tags:      tl.t.Tags,
					SessionID: tl.t.SessionID,
					UserID:    tl.t.UserID,
				}
			}
			recs = append(recs, rec)
		}
		if len(recs) > 0 {
			if err := st.Write(ctx, recs); err != nil {
				return uploadFailed(err, sentObs, sentTraces, shown)
			}
			if err := st.Flush(ctx); err != nil {
				return uploadFailed(err, sentObs, sentTraces, shown)
			}
			s := st.Stats()
			if s.Sent != uint64(sentObs+len(recs)) || s.TracesSent != uint64(sentTraces+len(roots)) {
				return uploadFailed(fmt.Errorf("the collector did not accept %s",
					Count(int(s.Spilled+s.Dropped+s.TracesSpilled+s.TracesDropped), "record", "records")),
					int(s.Sent), int(s.TracesSent), shown)
			}
		}
		sentObs += len(recs)
		sentTraces += len(roots)
		done[obsPath] = obsEnd
		if trPath != "" {
			// The trace lines before the first one not yet sent are done.
			end := done[trPath]
			for _, tl := range traces {
				if !tl.sent {
					break
				}
				end = tl.rec.Offset + int64(len(tl.rec.Raw)) + 1
			}
			done[trPath] = end
		}
		if err := writeUploadState(o.State, state); err != nil {
			return err
		}
	}
	w.done()
	fmt.Fprintf(e.Stdout, "uploaded %s and %s to %s (%d already sent before)\n",
		Count(sentObs, "observation", "observations"), Count(sentTraces, "trace", "traces"), shown, before)
	return nil
}

func uploadFailed(err error, obs, traces int, url string) error {
	return fmt.Errorf("upload to %s failed after %s and %s: %w; run fluxloop upload again to resume",
		url, Count(obs, "observation", "observations"), Count(traces, "trace", "traces"), err)
}

func readUploadState(path string) (*uploadState, error) {
	s := &uploadState{Version: 1, Uploads: map[string]map[string]int64{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, s); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if s.Uploads == nil {
		s.Uploads = map[string]map[string]int64{}
	}
	return s, nil
}

// writeUploadState replaces the state file atomically.
func writeUploadState(path string, s *uploadState) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}

// toRecord converts an observation line back to the record the client's
// writer would hand to a storage.
func toRecord(ob *fluxloop.Observation) (fluxloop.Record, error) {
	var r fluxloop.Record
	if err := hexID(r.TraceID[:], ob.TraceID); err != nil {
		return r, fmt.Errorf("trace_id: %v", err)
	}
	if err := hexID(r.ID[:], ob.ID); err != nil {
		return r, fmt.Errorf("id: %v", err)
	}
	if ob.ParentObservationID != "" {
		if err := hexID(r.ParentID[:], ob.ParentObservationID); err != nil {
			return r, fmt.Errorf("parent_observation_id: %v", err)
		}
	}
	r.Type, r.Name = ob.Type, ob.Name
	r.Start, r.End = ob.StartTime, ob.EndTime
	r.Input, r.Output = ob.Input, ob.Output
	r.Error, r.Level, r.StatusMessage = ob.Error, ob.Level, ob.StatusMessage
	r.Metadata = toFields(ob.Metadata)
	r.Model, r.PromptTokens, r.CompletionTokens = ob.Model, ob.PromptTokens, ob.CompletionTokens
	return r, nil
}

func hexID(dst []byte, s string) error {
	if len(s) != 2*len(dst) {
		return fmt.Errorf("%q is not %d hex digits", s, 2*len(dst))
	}
	if _, err := hex.Decode(dst, []byte(s)); err != nil {
		return fmt.Errorf("%q is not hex", s)
	}
	return nil
}

// toFields converts metadata read from JSON to sorted fields of the value
// types a Record holds: whole numbers become int64, objects and arrays
// json.RawMessage.
func toFields(m map[string]any) []fluxloop.Field {
	if len(m) == 0 {
		return nil
	}
	fs := make([]fluxloop.Field, 0, len(m))
	for k, v := range m {
		switch x := v.(type) {
		case nil, bool, string:
		case float64:
			if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
				v = int64(x)
			}
		case json.Number:
			if i, err := x.Int64(); err == nil {
				v = i
			} else if f, err := x.Float64(); err == nil {
				v = f
			} else {
				v = x.String()
			}
		default:
			b, err := json.Marshal(x)
			if err != nil {
				v = fmt.Sprint(x)
			} else {
				v = json.RawMessage(b)
			}
		}
		fs = append(fs, fluxloop.Field{Key: k, Value: v})
	}
	sort.Slice(fs, func(i, j int) bool { return fs[i].Key < fs[j].Key })
	return fs
}
