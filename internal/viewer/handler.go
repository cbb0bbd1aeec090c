package viewer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Options configure a Handler.
type Options struct {
	// Assets holds the browser UI: index.html at its root, served for /
	// and the deep links, and the files served under /static/. Nil serves
	// a page that says the UI is missing.
	Assets fs.FS
	// AllowedHosts are host names accepted in the Host header besides
	// localhost, 127.0.0.1 and ::1 (for a viewer bound to another
	// address on purpose).
	AllowedHosts []string
	// PingInterval is the time between SSE comment pings (15s when 0).
	PingInterval time.Duration
	// Now is the clock that "since" durations count back from (time.Now
	// when nil).
	Now func() time.Time
	// OTLP accepts POST /v1/traces, OTLP/HTTP JSON, into the index (kept
	// in memory).
	OTLP bool
}

// Handler serves the viewer's JSON API and UI over an Index.
type Handler struct {
	ix   *Index
	opts Options
	mux  *http.ServeMux
}

// NewHandler returns the viewer's handler for ix.
func NewHandler(ix *Index, opts Options) *Handler {
	if opts.PingInterval <= 0 {
		opts.PingInterval = 15 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	h := &Handler{ix: ix, opts: opts, mux: http.NewServeMux()}
	h.mux.HandleFunc("GET /api/traces", h.traces)
	h.mux.HandleFunc("GET /api/traces/{id}", h.trace)
	h.mux.HandleFunc("GET /api/traces/{id}/observations/{oid}", h.observation)
	h.mux.HandleFunc("GET /api/compare", h.compare)
	h.mux.HandleFunc("GET /api/events", h.events)
	if opts.OTLP {
		h.mux.HandleFunc("POST /v1/traces", h.otlp)
	}
	h.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Errorf("no API endpoint %s %s", r.Method, r.URL.Path))
	})
	for _, p := range []string{"GET /{$}", "GET /trace/{id}", "GET /trace/{id}/{oid}", "GET /compare/{a}/{b}"} {
		h.mux.HandleFunc(p, h.index)
	}
	if opts.Assets != nil {
		h.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(opts.Assets)))
	}
	return h
}

// ServeHTTP refuses requests whose Host is not a loopback name with the
// server's port, or whose Origin is not the same origin (DNS rebinding,
// cross-site requests), with 403; it serves the others.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := h.checkHost(r); err != nil {
		writeError(w, http.StatusForbidden, err)
		return
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	h.mux.ServeHTTP(w, r)
}

func (h *Handler) checkHost(r *http.Request) error {
	host, port, err := net.SplitHostPort(r.Host)
	if err != nil {
		host, port = r.Host, "80"
	}
	host = strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
	ok := host == "localhost" || host == "127.0.0.1" || host == "::1"
	for _, a := range h.opts.AllowedHosts {
		ok = ok || strings.EqualFold(host, a)
	}
	if !ok {
		return fmt.Errorf("refused: Host %q is not localhost, 127.0.0.1 or [::1]", r.Host)
	}
	if la, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr); la != nil {
		if _, lport, err := net.SplitHostPort(la.String()); err == nil && lport != port {
			return fmt.Errorf("refused: Host %q does not name this server's port %s", r.Host, lport)
		}
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || !strings.EqualFold(u.Host, r.Host) {
			return fmt.Errorf("refused: Origin %q is not this server (%s)", o, r.Host)
		}
	}
	return nil
}

// marshal is json.Marshal without HTML escaping.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	err := enc.Encode(v)
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), err
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, status int, err error) {
	b, _ := json.Marshal(map[string]string{"error": err.Error()})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func errorStatus(err error) int {
	switch {
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, errBadRequest):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

var errBadRequest = errors.New("bad request")

// ParseSince reads a -since flag or query value: a duration back from now
// ("90s", "15m", "2h", "3d") or a time in RFC 3339 ("2026-12-01T10:00:00Z")
// or as a date ("2026-12-01", UTC).
func ParseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.ParseFloat(d, 64); err == nil && n >= 0 {
			return now.Add(-time.Duration(n * 24 * float64(time.Hour))), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("since %q: want a duration (15m, 2h, 3d) or a time (2026-12-01T10:00:00Z)", s)
}

// ParseFilter reads the query of GET /api/traces.
func ParseFilter(q url.Values, now time.Time) (Filter, error) {
	f := Filter{
		Text:  q.Get("q"),
		Name:  q.Get("name"),
		Model: q.Get("model"),
		Limit: 100,
	}
	var err error
	if f.Since, err = ParseSince(q.Get("since"), now); err != nil {
		return f, err
	}
	for _, b := range []struct {
		key string
		dst *bool
	}{{"error", &f.Errors}, {"in_progress", &f.InProgress}} {
		if v := q.Get(b.key); v != "" {
			if *b.dst, err = strconv.ParseBool(v); err != nil {
				return f, fmt.Errorf("%s=%q: want 1 or 0", b.key, v)
			}
		}
	}
	for _, n := range []struct {
		key string
		dst *int
	}{{"limit", &f.Limit}, {"offset", &f.Offset}} {
		if v := q.Get(n.key); v != "" {
			if *n.dst, err = strconv.Atoi(v); err != nil || *n.dst < 0 {
				return f, fmt.Errorf("%s=%q: want a number, 0 or more", n.key, v)
			}
		}
	}
	return f, nil
}

type traceList struct {
	Traces []Summary `json:"traces"`
	Total  int       `json:"total"`
}

func (h *Handler) traces(w http.ResponseWriter, r *http.Request) {
	f, err := ParseFilter(r.URL.Query(), h.opts.Now())
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	list, total := h.ix.Query(f)
	writeJSON(w, http.StatusOK, traceList{list, total})
}

func (h *Handler) resolve(w http.ResponseWriter, ref string) (string, bool) {
	id, err := h.ix.Resolve(ref)
	if err != nil {
		status := http.StatusBadRequest
		if errors.Is(err, ErrNotFound) {
			status = http.StatusNotFound
		}
		writeError(w, status, err)
		return "", false
	}
	return id, true
}

func (h *Handler) trace(w http.ResponseWriter, r *http.Request) {
	id, ok := h.resolve(w, r.PathValue("id"))
	if !ok {
		return
	}
	s, nodes, err := h.ix.Trace(id)
	if err != nil {
		writeError(w, errorStatus(err), err)
		return
	}
	sum, err := marshal(s)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	b := make([]byte, 0, 64+len(sum)+300*len(nodes))
	b = append(b, `{"trace":`...)
	b = append(b, sum...)
	b = append(b, `,"observations":[`...)
	for i := range nodes {
		if i > 0 {
			b = append(b, ',')
		}
		b = nodes[i].appendJSON(b)
	}
	b = append(b, "]}\n"...)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b)
}

func (h *Handler) observation(w http.ResponseWriter, r *http.Request) {
	id, ok := h.resolve(w, r.PathValue("id"))
	if !ok {
		return
	}
	b, err := h.ix.Observation(id, r.PathValue("oid"))
	if err != nil {
		writeError(w, errorStatus(err), err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(append(b[:len(b):len(b)], '\n'))
}

func (h *Handler) compare(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("a") == "" || q.Get("b") == "" {
		writeError(w, http.StatusBadRequest, errors.New("compare needs a=ID&b=ID"))
		return
	}
	a, ok := h.resolve(w, q.Get("a"))
	if !ok {
		return
	}
	b, ok := h.resolve(w, q.Get("b"))
	if !ok {
		return
	}
	c, err := h.ix.Compare(a, b)
	if err != nil {
		writeError(w, errorStatus(err), err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (h *Handler) events(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	ch, cancel := h.ix.Subscribe(4096)
	defer cancel()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 1000\n: connected\n\n")
	if err := rc.Flush(); err != nil {
		return
	}
	ping := time.NewTicker(h.opts.PingInterval)
	defer ping.Stop()
	var buf bytes.Buffer
	for {
		select {
		case <-r.Context().Done():
			return
		case <-ping.C:
			buf.WriteString(": ping\n\n")
		case e, ok := <-ch:
			if !ok {
				return // fell behind: the client reconnects
			}
			writeEvent(&buf, e)
			// Write what else is queued with it.
			for more := true; more && buf.Len() < 1<<20; {
				select {
				case e, ok := <-ch:
					if !ok {
						w.Write(buf.Bytes())
						rc.Flush()
						return
					}
					writeEvent(&buf, e)
				default:
					more = false
				}
			}
		}
		if _, err := w.Write(buf.Bytes()); err != nil {
			return
		}
		buf.Reset()
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

func writeEvent(buf *bytes.Buffer, e Event) {
	var v any
	switch e.Type {
	case "trace":
		v = e.Summary
	case "observation":
		v = observationEvent{TraceID: e.TraceID, Node: e.Node}
	default:
		v = struct{}{}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	fmt.Fprintf(buf, "event: %s\ndata: %s\n\n", e.Type, b)
}

// missingUI is served when the handler has no assets.
const missingUI = `<!doctype html>
<meta charset="utf-8">
<title>fluxloop</title>
<p>The viewer's UI is not built into this binary. The API is at <a href="/api/traces">/api/traces</a>.
`

func (h *Handler) index(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-cache")
	if h.opts.Assets == nil {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, missingUI)
		return
	}
	b, err := fs.ReadFile(h.opts.Assets, "index.html")
	if err != nil {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, missingUI)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(b)
}
