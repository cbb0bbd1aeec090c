// Package wire holds the RoundTripper the conformance tests put between an
// SDK and fluxloopllm. It is a package of its own so that the tests can name
// it to fluxloopllm.WithLibraryPackages, like an in-house wrapper, and check
// that the recorded source position is the test's call into the SDK.
package wire

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"sync"
)

// CallHeader carries the tee's call number to the server, so that what the
// server wrote and what the SDK read can be paired.
const CallHeader = "X-Llmtest-Call"

// Tee is a RoundTripper placed above fluxloopllm, just below the SDK: it
// records the request body the SDK sent and every response byte the SDK
// read, so a test can check that the bytes crossing fluxloopllm are the ones
// the server sent and received.
type Tee struct {
	Next  http.RoundTripper
	mu    sync.Mutex
	seq   int
	calls []*Call
}

// Call is one round trip the tee saw.
type Call struct {
	ID      string
	Method  string
	URL     string
	ReqBody []byte // the request body the SDK sent

	mu sync.Mutex
	s  State
}

// State is what the SDK got from a call so far.
type State struct {
	Status  int    // the response status
	Err     error  // the round trip's error
	Read    []byte // the response body bytes the SDK read
	EOF     bool   // the SDK read up to io.EOF
	Closed  bool   // the SDK closed the body
	ReadErr error  // the first error a read returned, other than io.EOF
}

// State returns what the SDK got so far.
func (c *Call) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.s
	s.Read = append([]byte(nil), c.s.Read...)
	return s
}

// RoundTrip records the call and sends it on through Next.
func (t *Tee) RoundTrip(req *http.Request) (*http.Response, error) {
	t.mu.Lock()
	t.seq++
	c := &Call{ID: strconv.Itoa(t.seq), Method: req.Method, URL: req.URL.String()}
	t.calls = append(t.calls, c)
	t.mu.Unlock()

	req = req.Clone(req.Context())
	req.Header.Set(CallHeader, c.ID)
	if req.Body != nil && req.Body != http.NoBody {
		if req.GetBody != nil {
			rc, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			c.ReqBody, _ = io.ReadAll(rc)
			rc.Close()
		} else {
			b, err := io.ReadAll(req.Body)
			req.Body.Close()
			if err != nil {
				return nil, err
			}
			c.ReqBody = b
			req.Body = io.NopCloser(bytes.NewReader(b))
		}
	}
	resp, err := t.Next.RoundTrip(req)
	c.mu.Lock()
	c.s.Err = err
	if err == nil {
		c.s.Status = resp.StatusCode
	}
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	resp.Body = &teeBody{rc: resp.Body, c: c}
	return resp, nil
}

// Calls returns the calls so far.
func (t *Tee) Calls() []*Call {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]*Call(nil), t.calls...)
}

type teeBody struct {
	rc io.ReadCloser
	c  *Call
}

func (b *teeBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.c.mu.Lock()
	b.c.s.Read = append(b.c.s.Read, p[:n]...)
	if err == io.EOF {
		b.c.s.EOF = true
	} else if err != nil && b.c.s.ReadErr == nil {
		b.c.s.ReadErr = err
	}
	b.c.mu.Unlock()
	return n, err
}

func (b *teeBody) Close() error {
	b.c.mu.Lock()
	b.c.s.Closed = true
	b.c.mu.Unlock()
	return b.rc.Close()
}
