package tracefile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// Update is what a Follower read since the previous one.
type Update struct {
	// Reset lists the files that were truncated, replaced (rotated, or
	// deleted and written again) or deleted since the previous update:
	// what was read from them before is gone, and the records of this
	// update that come from them start again at their beginning. A
	// consumer that keeps records forgets those with these sources first.
	Reset []string
	// Records are the whole lines read, the traces file's first.
	Records []Record
	// Warnings are the lines skipped.
	Warnings []Warning
	// More reports that Poll stopped before the end of a file, to keep an
	// update's size bounded (a few megabytes of lines): poll again at once.
	More bool
}

// Empty reports whether u holds nothing (and needs no next poll at once).
func (u Update) Empty() bool {
	return len(u.Reset) == 0 && len(u.Records) == 0 && len(u.Warnings) == 0 && !u.More
}

// Follower reads a source's files as they grow, as tail -f does: each Poll
// returns the whole lines appended since the previous one. A last line
// without its newline is held back until the newline arrives. Files that do
// not exist yet are waited for. A file truncated, replaced or deleted is
// reported in Update.Reset and read again from its beginning.
//
// A Follower is not safe for concurrent use.
type Follower struct {
	// SkipDecode, set before the first Poll, leaves the lines undecoded:
	// records carry Kind, Source, Line, Offset and Raw, with Observation
	// and Trace nil, for consumers that read the lines themselves (only
	// lines that are not JSON objects are reported as warnings).
	SkipDecode bool

	src    Source
	files  []*followed
	stream *streamFollow
}

type followed struct {
	path  string
	kind  Kind
	f     *os.File
	off   int64 // bytes read so far
	head  []byte
	buf   []byte
	lines lineSplitter
}

type streamFollow struct {
	lines lineSplitter
	eof   bool
}

// NewFollower returns a follower of src, which starts at the beginning of
// its files.
func NewFollower(src Source) *Follower {
	f := &Follower{src: src}
	if src.IsStream() {
		f.stream = &streamFollow{}
		return f
	}
	if src.Traces != "" {
		f.files = append(f.files, &followed{path: src.Traces, kind: KindTrace})
	}
	f.files = append(f.files, &followed{path: src.Observations, kind: KindObservation})
	return f
}

// Close closes the files.
func (f *Follower) Close() error {
	var first error
	for _, ff := range f.files {
		if ff.f != nil {
			if err := ff.f.Close(); err != nil && first == nil {
				first = fmt.Errorf("tracefile: %w", err)
			}
			ff.f = nil
		}
	}
	return first
}

// Poll reads what has been appended to the files since the previous call.
// For a stream source it reads the stream to its end, blocking until then,
// and later calls return nothing; Follow reads a stream as it arrives.
func (f *Follower) Poll() (Update, error) {
	var u Update
	if f.stream != nil {
		if f.stream.eof {
			return u, nil
		}
		recs, warns, err := ReadAll(f.src)
		f.stream.eof = true
		u.Records, u.Warnings = recs, warns
		return u, err
	}
	for _, ff := range f.files {
		if err := ff.poll(&u, f.SkipDecode); err != nil {
			return u, err
		}
	}
	return u, nil
}

// pollBytes bounds the bytes one Poll reads from a file.
const pollBytes = 8 << 20

func (ff *followed) reset(u *Update) {
	if ff.f != nil {
		ff.f.Close()
		ff.f = nil
	}
	if ff.off > 0 || ff.lines.no > 0 {
		u.Reset = append(u.Reset, ff.path)
	}
	ff.off, ff.head = 0, nil
	ff.lines.reset()
}

func (ff *followed) poll(u *Update, skipDecode bool) error {
	if ff.f != nil {
		st, err := os.Stat(ff.path)
		if errors.Is(err, os.ErrNotExist) {
			ff.reset(u)
			return nil
		}
		if err != nil {
			return fmt.Errorf("tracefile: %w", err)
		}
		fst, err := ff.f.Stat()
		if err != nil {
			return fmt.Errorf("tracefile: %w", err)
		}
		if !os.SameFile(st, fst) || st.Size() < ff.off || !ff.sameHead() {
			ff.reset(u)
		}
	}
	if ff.f == nil {
		file, err := os.Open(ff.path)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("tracefile: %w", err)
		}
		ff.f = file
	}
	if ff.buf == nil {
		ff.buf = make([]byte, 256<<10)
	}
	buf := ff.buf
	for read := 0; ; {
		if read >= pollBytes {
			u.More = true
			return nil
		}
		n, err := ff.f.ReadAt(buf, ff.off)
		read += n
		if n > 0 {
			if len(ff.head) < 64 {
				ff.head = append(ff.head, buf[:min(n, 64-len(ff.head))]...)
			}
			ff.off += int64(n)
			ff.lines.write(buf[:n])
			for {
				l, ok := ff.lines.next()
				if !ok {
					break
				}
				rec, w, ok := parseLine(l, ff.path, ff.kind, !skipDecode)
				if w != nil {
					u.Warnings = append(u.Warnings, *w)
				}
				if ok {
					u.Records = append(u.Records, rec)
				}
			}
		}
		if errors.Is(err, io.EOF) || n == 0 {
			return nil
		}
		if err != nil {
			return fmt.Errorf("tracefile: read %s: %w", ff.path, err)
		}
	}
}

// Partial returns a warning for each file whose last line, read without
// its newline, is being held back: for a reader that stops here (a
// one-shot command), the line is cut short and skipped.
func (f *Follower) Partial() []Warning {
	var out []Warning
	for _, ff := range f.files {
		if p, ok := ff.lines.partial(); ok {
			out = append(out, Warning{Source: ff.path, Line: p.no, Offset: p.off,
				Reason: "partial last line (no newline: still being written, or cut short), skipped"})
		}
	}
	return out
}

// sameHead reports whether the file still starts with the bytes read from
// it first: a file rewritten in place beyond the old size is read again.
func (ff *followed) sameHead() bool {
	if len(ff.head) == 0 {
		return true
	}
	b := make([]byte, len(ff.head))
	n, _ := ff.f.ReadAt(b, 0)
	return bytes.Equal(b[:n], ff.head)
}

// Follow calls fn with each non-empty update until ctx is done (then it
// returns ctx's error) or fn returns an error (which it returns). It polls
// the files every interval (250ms when 0). A stream source is read as it
// arrives; at its end Follow returns nil.
func (f *Follower) Follow(ctx context.Context, interval time.Duration, fn func(Update) error) error {
	if interval <= 0 {
		interval = 250 * time.Millisecond
	}
	if f.stream != nil {
		return f.followStream(ctx, fn)
	}
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		u, err := f.Poll()
		if !u.Empty() {
			if err := fn(u); err != nil {
				return err
			}
		}
		if err != nil {
			return err
		}
		if u.More {
			t.Reset(0)
		} else {
			t.Reset(interval)
		}
	}
}

func (f *Follower) followStream(ctx context.Context, fn func(Update) error) error {
	type chunk struct {
		b   []byte
		err error
	}
	ch := make(chan chunk, 4)
	done := make(chan struct{})
	defer close(done)
	r := f.src.reader()
	go func() {
		for {
			buf := make([]byte, 64<<10)
			n, err := r.Read(buf)
			select {
			case ch <- chunk{buf[:n], err}:
			case <-done:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	s := f.stream
	for {
		var c chunk
		select {
		case <-ctx.Done():
			return ctx.Err()
		case c = <-ch:
		}
		var u Update
		s.lines.write(c.b)
		for {
			l, ok := s.lines.next()
			if !ok {
				break
			}
			rec, w, ok := parseLine(l, Stdin, KindMixed, !f.SkipDecode)
			if w != nil {
				u.Warnings = append(u.Warnings, *w)
			}
			if ok {
				u.Records = append(u.Records, rec)
			}
		}
		if c.err != nil {
			s.eof = true
			if p, ok := s.lines.partial(); ok {
				u.Warnings = append(u.Warnings, Warning{Source: Stdin, Line: p.no, Offset: p.off,
					Reason: "partial last line (no newline: cut short), skipped"})
			}
		}
		if !u.Empty() {
			if err := fn(u); err != nil {
				return err
			}
		}
		if errors.Is(c.err, io.EOF) {
			return nil
		}
		if c.err != nil {
			return fmt.Errorf("tracefile: read %s: %w", Stdin, c.err)
		}
	}
}
