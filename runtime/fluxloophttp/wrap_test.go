package fluxloophttp_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"github.com/fluxloop/fluxloop-go/runtime/fluxloophttp"
	"github.com/fluxloop/fluxloop-go/runtime/fluxlooptest"
)

// fake is a ResponseWriter that counts the calls of the optional methods
// which the capability types below add to it.
type fake struct {
	h                                 http.Header
	code                              int
	body                              []byte
	flushes, hijacks, readFroms, push int
}

func (f *fake) Header() http.Header {
	if f.h == nil {
		f.h = http.Header{}
	}
	return f.h
}
func (f *fake) Write(b []byte) (int, error) { f.body = append(f.body, b...); return len(b), nil }
func (f *fake) WriteHeader(code int)        { f.code = code }

type flushF struct{ *fake }
type hijackF struct{ *fake }
type readF struct{ *fake }
type pushF struct{ *fake }

func (f flushF) Flush() { f.flushes++ }
func (f hijackF) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	f.hijacks++
	return nil, nil, nil
}
func (f readF) ReadFrom(r io.Reader) (int64, error) {
	f.readFroms++
	b, err := io.ReadAll(r)
	f.body = append(f.body, b...)
	return int64(len(b)), err
}
func (f pushF) Push(string, *http.PushOptions) error { f.push++; return nil }

// fakeWith returns a writer implementing exactly the optional interfaces of
// mask: 1 Flusher, 2 Hijacker, 4 ReaderFrom, 8 Pusher.
func fakeWith(mask int, f *fake) http.ResponseWriter {
	switch mask {
	case 0:
		return struct{ *fake }{f}
	case 1:
		return struct {
			*fake
			flushF
		}{f, flushF{f}}
	case 2:
		return struct {
			*fake
			hijackF
		}{f, hijackF{f}}
	case 3:
		return struct {
			*fake
			flushF
			hijackF
		}{f, flushF{f}, hijackF{f}}
	case 4:
		return struct {
			*fake
			readF
		}{f, readF{f}}
	case 5:
		return struct {
			*fake
			flushF
			readF
		}{f, flushF{f}, readF{f}}
	case 6:
		return struct {
			*fake
			hijackF
			readF
		}{f, hijackF{f}, readF{f}}
	case 7:
		return struct {
			*fake
			flushF
			hijackF
			readF
		}{f, flushF{f}, hijackF{f}, readF{f}}
	case 8:
		return struct {
			*fake
			pushF
		}{f, pushF{f}}
	case 9:
		return struct {
			*fake
			flushF
			pushF
		}{f, flushF{f}, pushF{f}}
	case 10:
		return struct {
			*fake
			hijackF
			pushF
		}{f, hijackF{f}, pushF{f}}
	case 11:
		return struct {
			*fake
			flushF
			hijackF
			pushF
		}{f, flushF{f}, hijackF{f}, pushF{f}}
	case 12:
		return struct {
			*fake
			readF
			pushF
		}{f, readF{f}, pushF{f}}
	case 13:
		return struct {
			*fake
			flushF
			readF
			pushF
		}{f, flushF{f}, readF{f}, pushF{f}}
	case 14:
		return struct {
			*fake
			hijackF
			readF
			pushF
		}{f, hijackF{f}, readF{f}, pushF{f}}
	case 15:
		return struct {
			*fake
			flushF
			hijackF
			readF
			pushF
		}{f, flushF{f}, hijackF{f}, readF{f}, pushF{f}}
	}
	panic("bad mask")
}

func capsOf(w http.ResponseWriter) int {
	m := 0
	if _, ok := w.(http.Flusher); ok {
		m |= 1
	}
	if _, ok := w.(http.Hijacker); ok {
		m |= 2
	}
	if _, ok := w.(io.ReaderFrom); ok {
		m |= 4
	}
	if _, ok := w.(http.Pusher); ok {
		m |= 8
	}
	return m
}

// TestWrapperMethodSets checks all sixteen combinations of optional
// interfaces: the wrapper implements exactly those of the writer it wraps,
// its methods reach the writer, and Unwrap returns it.
func TestWrapperMethodSets(t *testing.T) {
	rec := fluxlooptest.New(t)
	site := &fluxloop.Site{Name: "h", Type: fluxloop.TypeAgent}
	for mask := range 16 {
		f := &fake{}
		under := fakeWith(mask, f)
		if got := capsOf(under); got != mask {
			t.Fatalf("fake %d implements %d", mask, got)
		}
		w, _, span := fluxloophttp.Enter(under, httptest.NewRequest("GET", "/", nil), site)
		if span == nil {
			t.Fatal("nil span")
		}
		if got := capsOf(w); got != mask {
			t.Errorf("wrapper of a writer with capabilities %04b has %04b", mask, got)
		}
		if u, ok := w.(interface{ Unwrap() http.ResponseWriter }); !ok || u.Unwrap() != under {
			t.Errorf("mask %d: Unwrap does not return the wrapped writer", mask)
		}
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
			if err := w.(interface{ FlushError() error }).FlushError(); err != nil {
				t.Error(err)
			}
			if f.flushes != 2 {
				t.Errorf("mask %d: %d flushes reached the writer, want 2", mask, f.flushes)
			}
		}
		if hj, ok := w.(http.Hijacker); ok {
			hj.Hijack()
			if f.hijacks != 1 {
				t.Errorf("mask %d: hijack did not reach the writer", mask)
			}
		}
		if rf, ok := w.(io.ReaderFrom); ok {
			rf.ReadFrom(io.LimitReader(zeros{}, 3))
			if f.readFroms != 1 || len(f.body) != 3 {
				t.Errorf("mask %d: ReadFrom did not reach the writer", mask)
			}
		}
		if p, ok := w.(http.Pusher); ok {
			p.Push("/x", nil)
			if f.push != 1 {
				t.Errorf("mask %d: Push did not reach the writer", mask)
			}
		}
		io.WriteString(w, "ok")
		fluxloophttp.Return(span, w)
	}
	if n := len(rec.All("h")); n != 16 {
		t.Errorf("%d observations, want 16", n)
	}
}

type zeros struct{}

func (zeros) Read(b []byte) (int, error) { clear(b); return len(b), nil }
