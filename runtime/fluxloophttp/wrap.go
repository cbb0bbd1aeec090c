package fluxloophttp

// The response writer wrapper comes in sixteen types, one per combination of
// the optional interfaces http.Flusher, http.Hijacker, io.ReaderFrom and
// http.Pusher, so that a type assertion on the wrapper answers as it would on
// the writer it wraps. They differ only in their method sets; all the work is
// done by the embedded recorder (writer.go).

import (
	"bufio"
	"io"
	"net"
	"net/http"
)

// Capability bits of a ResponseWriter: which optional interfaces the
// underlying writer implements, and so which the wrapper implements.
const (
	capFlusher    = 1 << iota // http.Flusher
	capHijacker               // http.Hijacker
	capReaderFrom             // io.ReaderFrom
	capPusher                 // http.Pusher
)

// capabilities returns w's capability bits.
func capabilities(w http.ResponseWriter) int {
	c := 0
	if _, ok := w.(http.Flusher); ok {
		c |= capFlusher
	}
	if _, ok := w.(http.Hijacker); ok {
		c |= capHijacker
	}
	if _, ok := w.(io.ReaderFrom); ok {
		c |= capReaderFrom
	}
	if _, ok := w.(http.Pusher); ok {
		c |= capPusher
	}
	return c
}

// wrap returns a recorder around w whose dynamic type implements exactly the
// optional interfaces w implements, among http.Flusher, http.Hijacker,
// io.ReaderFrom and http.Pusher (one allocation).
func wrap(w http.ResponseWriter) http.ResponseWriter {
	switch capabilities(w) {
	case 0:
		return &rw0{recorder{w: w}}
	case 1:
		return &rwF{recorder{w: w}}
	case 2:
		return &rwH{recorder{w: w}}
	case 3:
		return &rwFH{recorder{w: w}}
	case 4:
		return &rwR{recorder{w: w}}
	case 5:
		return &rwFR{recorder{w: w}}
	case 6:
		return &rwHR{recorder{w: w}}
	case 7:
		return &rwFHR{recorder{w: w}}
	case 8:
		return &rwP{recorder{w: w}}
	case 9:
		return &rwFP{recorder{w: w}}
	case 10:
		return &rwHP{recorder{w: w}}
	case 11:
		return &rwFHP{recorder{w: w}}
	case 12:
		return &rwRP{recorder{w: w}}
	case 13:
		return &rwFRP{recorder{w: w}}
	case 14:
		return &rwHRP{recorder{w: w}}
	case 15:
		return &rwFHRP{recorder{w: w}}
	}
	panic("unreachable")
}

// rw0 wraps a writer implementing none of the optional interfaces.
type rw0 struct{ recorder }

// rwF wraps a writer implementing Flusher.
type rwF struct{ recorder }

func (x *rwF) Flush()            { x.flush() }
func (x *rwF) FlushError() error { return x.flushError() }

// rwH wraps a writer implementing Hijacker.
type rwH struct{ recorder }

func (x *rwH) Hijack() (net.Conn, *bufio.ReadWriter, error) { return x.hijack() }

// rwFH wraps a writer implementing Flusher, Hijacker.
type rwFH struct{ recorder }

func (x *rwFH) Flush()                                       { x.flush() }
func (x *rwFH) FlushError() error                            { return x.flushError() }
func (x *rwFH) Hijack() (net.Conn, *bufio.ReadWriter, error) { return x.hijack() }

// rwR wraps a writer implementing ReaderFrom.
type rwR struct{ recorder }

func (x *rwR) ReadFrom(src io.Reader) (int64, error) { return x.readFrom(src) }

// rwFR wraps a writer implementing Flusher, ReaderFrom.
type rwFR struct{ recorder }

func (x *rwFR) Flush()                                { x.flush() }
func (x *rwFR) FlushError() error                     { return x.flushError() }
func (x *rwFR) ReadFrom(src io.Reader) (int64, error) { return x.readFrom(src) }

// rwHR wraps a writer implementing Hijacker, ReaderFrom.
type rwHR struct{ recorder }

func (x *rwHR) Hijack() (net.Conn, *bufio.ReadWriter, error) { return x.hijack() }
func (x *rwHR) ReadFrom(src io.Reader) (int64, error)        { return x.readFrom(src) }

// rwFHR wraps a writer implementing Flusher, Hijacker, ReaderFrom.
type rwFHR struct{ recorder }

func (x *rwFHR) Flush()                                       { x.flush() }
func (x *rwFHR) FlushError() error                            { return x.flushError() }
func (x *rwFHR) Hijack() (net.Conn, *bufio.ReadWriter, error) { return x.hijack() }
func (x *rwFHR) ReadFrom(src io.Reader) (int64, error)        { return x.readFrom(src) }

// rwP wraps a writer implementing Pusher.
type rwP struct{ recorder }

func (x *rwP) Push(target string, opts *http.PushOptions) error { return x.push(target, opts) }

// rwFP wraps a writer implementing Flusher, Pusher.
type rwFP struct{ recorder }

func (x *rwFP) Flush()                                           { x.flush() }
func (x *rwFP) FlushError() error                                { return x.flushError() }
func (x *rwFP) Push(target string, opts *http.PushOptions) error { return x.push(target, opts) }

// rwHP wraps a writer implementing Hijacker, Pusher.
type rwHP struct{ recorder }

func (x *rwHP) Hijack() (net.Conn, *bufio.ReadWriter, error)     { return x.hijack() }
func (x *rwHP) Push(target string, opts *http.PushOptions) error { return x.push(target, opts) }

// rwFHP wraps a writer implementing Flusher, Hijacker, Pusher.
type rwFHP struct{ recorder }

func (x *rwFHP) Flush()                                           { x.flush() }
func (x *rwFHP) FlushError() error                                { return x.flushError() }
func (x *rwFHP) Hijack() (net.Conn, *bufio.ReadWriter, error)     { return x.hijack() }
func (x *rwFHP) Push(target string, opts *http.PushOptions) error { return x.push(target, opts) }

// rwRP wraps a writer implementing ReaderFrom, Pusher.
type rwRP struct{ recorder }

func (x *rwRP) ReadFrom(src io.Reader) (int64, error)            { return x.readFrom(src) }
func (x *rwRP) Push(target string, opts *http.PushOptions) error { return x.push(target, opts) }

// rwFRP wraps a writer implementing Flusher, ReaderFrom, Pusher.
type rwFRP struct{ recorder }

func (x *rwFRP) Flush()                                           { x.flush() }
func (x *rwFRP) FlushError() error                                { return x.flushError() }
func (x *rwFRP) ReadFrom(src io.Reader) (int64, error)            { return x.readFrom(src) }
func (x *rwFRP) Push(target string, opts *http.PushOptions) error { return x.push(target, opts) }

// rwHRP wraps a writer implementing Hijacker, ReaderFrom, Pusher.
type rwHRP struct{ recorder }

func (x *rwHRP) Hijack() (net.Conn, *bufio.ReadWriter, error)     { return x.hijack() }
func (x *rwHRP) ReadFrom(src io.Reader) (int64, error)            { return x.readFrom(src) }
func (x *rwHRP) Push(target string, opts *http.PushOptions) error { return x.push(target, opts) }

// rwFHRP wraps a writer implementing Flusher, Hijacker, ReaderFrom, Pusher.
type rwFHRP struct{ recorder }

func (x *rwFHRP) Flush()                                           { x.flush() }
func (x *rwFHRP) FlushError() error                                { return x.flushError() }
func (x *rwFHRP) Hijack() (net.Conn, *bufio.ReadWriter, error)     { return x.hijack() }
func (x *rwFHRP) ReadFrom(src io.Reader) (int64, error)            { return x.readFrom(src) }
func (x *rwFHRP) Push(target string, opts *http.PushOptions) error { return x.push(target, opts) }
