package tracefile

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
)

// Stdin is the path that names standard input, as command-line tools spell
// it.
const Stdin = "-"

// Source names where records are read: a directory's two files, one file,
// or a stream such as standard input.
type Source struct {
	// Observations is the path of the observations file, or Stdin ("-")
	// for Reader.
	Observations string
	// Traces is the path of the traces file, empty when there is none (a
	// single file, or a stream, which holds both kinds of line).
	Traces string
	// Dir is the directory the files were found in, empty for a stream.
	Dir string
	// Reader is read when Observations is Stdin; nil means os.Stdin.
	Reader io.Reader
}

// IsStream reports whether s is a stream (standard input) rather than files.
func (s Source) IsStream() bool { return s.Observations == Stdin }

// String returns the observations path, or "standard input".
func (s Source) String() string {
	if s.IsStream() {
		return "standard input"
	}
	return s.Observations
}

// DefaultDir returns the directory fluxloop's file storage writes to by
// default, as getenv (os.Getenv when nil) reports the environment:
// FLUXLOOP_DIR, else FLUXLOOP_OFFLINE_DIR, else ".fluxloop".
func DefaultDir(getenv func(string) string) string {
	if getenv == nil {
		getenv = os.Getenv
	}
	return cmp.Or(getenv("FLUXLOOP_DIR"), getenv("FLUXLOOP_OFFLINE_DIR"), fluxloop.DefaultDir)
}

// Locate returns the source path names:
//
//   - "-": standard input (a program's output with FLUXLOOP_STORAGE=stdout,
//     or a file of tagged records such as fluxloop export writes);
//   - a directory: its observations.jsonl and traces.jsonl, which need not
//     exist yet (a program may create them later);
//   - a file named observations.jsonl: it and the traces.jsonl beside it;
//   - any other file: that file alone, whose lines are observations unless
//     tagged as records of either kind (the named file must exist).
//
// A path that does not exist is taken for a directory still to be created,
// unless it ends in ".jsonl": then Locate returns an error wrapping
// fs.ErrNotExist.
func Locate(path string) (Source, error) {
	if path == Stdin {
		return Source{Observations: Stdin}, nil
	}
	info, err := os.Stat(path)
	switch {
	case err == nil && info.IsDir():
		return dirSource(path), nil
	case err == nil:
		if filepath.Base(path) == fluxloop.ObservationsFile {
			s := dirSource(filepath.Dir(path))
			s.Observations = path
			return s, nil
		}
		if filepath.Base(path) == fluxloop.TracesFile {
			return Source{}, fmt.Errorf("tracefile: %s: name the directory or its %s, not %s", path, fluxloop.ObservationsFile, fluxloop.TracesFile)
		}
		return Source{Observations: path}, nil
	case errors.Is(err, os.ErrNotExist) && filepath.Ext(path) != ".jsonl":
		return dirSource(path), nil
	default:
		return Source{}, fmt.Errorf("tracefile: %w", err)
	}
}

func dirSource(dir string) Source {
	return Source{
		Observations: filepath.Join(dir, fluxloop.ObservationsFile),
		Traces:       filepath.Join(dir, fluxloop.TracesFile),
		Dir:          dir,
	}
}

func (s Source) reader() io.Reader {
	if s.Reader != nil {
		return s.Reader
	}
	return os.Stdin
}

// ReadAll reads every record of src to the end: both files (a file that
// does not exist holds nothing), or the stream to EOF. The records come in
// file order, observations first. Lines that could not be read are returned
// as warnings; the error is for files that exist but cannot be read.
func ReadAll(src Source) ([]Record, []Warning, error) {
	if src.IsStream() {
		r := NewReader(src.reader(), Stdin, KindMixed)
		recs, err := readAll(r)
		return recs, r.Warnings(), err
	}
	var recs []Record
	var warns []Warning
	for _, f := range []struct {
		path string
		kind Kind
	}{{src.Observations, KindObservation}, {src.Traces, KindTrace}} {
		if f.path == "" {
			continue
		}
		file, err := os.Open(f.path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return recs, warns, fmt.Errorf("tracefile: %w", err)
		}
		r := NewReader(file, f.path, f.kind)
		got, err := readAll(r)
		file.Close()
		recs = append(recs, got...)
		warns = append(warns, r.Warnings()...)
		if err != nil {
			return recs, warns, err
		}
	}
	return recs, warns, nil
}

func readAll(r *Reader) ([]Record, error) {
	var recs []Record
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return recs, nil
		}
		if err != nil {
			return recs, err
		}
		recs = append(recs, rec)
	}
}
