package fluxloophttp

import (
	"bufio"
	"io"
	"net"
	"net/http"
)

// recorder is the state every wrapper type embeds: the wrapped writer and the
// status code it was given. A handler uses its ResponseWriter from one
// goroutine at a time and Return reads the state after the handler returned,
// so plain fields suffice.
type recorder struct {
	w        http.ResponseWriter
	status   int  // the final status code, 0 until one is sent
	hijacked bool // Hijack succeeded: the connection is the handler's
}

// rec gives Return the recorder behind any of the wrapper types.
func (r *recorder) rec() *recorder { return r }

// Header returns the wrapped writer's header map.
func (r *recorder) Header() http.Header { return r.w.Header() }

// WriteHeader records the first final status code and passes code on.
// Informational codes (1xx other than 101 Switching Protocols) may precede
// the final one and are not recorded.
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		r.status = code
	}
	r.w.WriteHeader(code)
}

// wrote records the implicit 200 that net/http sends with the first byte of
// the body or the first flush.
func (r *recorder) wrote() {
	if r.status == 0 {
		r.status = http.StatusOK
	}
}

// Write records an implicit 200 and writes b.
func (r *recorder) Write(b []byte) (int, error) {
	r.wrote()
	return r.w.Write(b)
}

// WriteString writes s without converting it to a byte slice when the
// wrapped writer allows (io.WriteString finds this method).
func (r *recorder) WriteString(s string) (int, error) {
	r.wrote()
	return io.WriteString(r.w, s)
}

// Unwrap returns the wrapped writer, for http.ResponseController (Flush,
// Hijack, SetReadDeadline, SetWriteDeadline, EnableFullDuplex) and for
// middleware that looks for optional interfaces.
func (r *recorder) Unwrap() http.ResponseWriter { return r.w }

func (r *recorder) flush() {
	r.wrote()
	r.w.(http.Flusher).Flush()
}

// flushError flushes and reports the error when the wrapped writer can
// (http.ResponseController prefers FlushError to Flush).
func (r *recorder) flushError() error {
	r.wrote()
	if fe, ok := r.w.(interface{ FlushError() error }); ok {
		return fe.FlushError()
	}
	r.w.(http.Flusher).Flush()
	return nil
}

func (r *recorder) hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := r.w.(http.Hijacker).Hijack()
	if err == nil {
		r.hijacked = true
	}
	return c, rw, err
}

func (r *recorder) readFrom(src io.Reader) (int64, error) {
	r.wrote()
	return r.w.(io.ReaderFrom).ReadFrom(src)
}

func (r *recorder) push(target string, opts *http.PushOptions) error {
	return r.w.(http.Pusher).Push(target, opts)
}

// recorderOf finds the recorder Enter made in w, looking through writers
// that wrap it (Unwrap), or returns nil.
func recorderOf(w http.ResponseWriter) *recorder {
	for range 16 {
		switch x := w.(type) {
		case interface{ rec() *recorder }:
			return x.rec()
		case interface{ Unwrap() http.ResponseWriter }:
			w = x.Unwrap()
		default:
			return nil
		}
	}
	return nil
}
