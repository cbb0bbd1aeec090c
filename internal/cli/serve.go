package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/fluxloop/fluxloop-go/internal/viewer"
	"github.com/fluxloop/fluxloop-go/runtime/tracefile"
)

// DefaultAddr is the viewer's default address.
const DefaultAddr = "127.0.0.1:7777"

// ServeOptions are fluxloop serve's and fluxloop open's.
type ServeOptions struct {
	// Addr is the address to listen on (DefaultAddr when empty; port 0
	// picks a free port).
	Addr string
	// AllowedHosts are host names accepted besides the loopback names.
	AllowedHosts []string
	// Interval is the time between two reads of the files (250ms when 0).
	Interval time.Duration
	// Open, when not empty, names a trace (an id, a unique prefix or
	// "last") to open in a browser once the viewer serves.
	Open string
	// Ready, when not nil, is called with the viewer's URL once it
	// serves.
	Ready func(url string)
}

// Serve runs the viewer over src until ctx is done. With opts.Open it also
// opens the trace in a browser; when the address is taken by a viewer
// already running, it opens the trace there and returns.
func Serve(ctx context.Context, e *Env, src tracefile.Source, opts ServeOptions) error {
	if opts.Addr == "" {
		opts.Addr = DefaultAddr
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			if opts.Open != "" {
				if u, ok := runningViewer(opts.Addr, opts.Open); ok {
					fmt.Fprintf(e.Stderr, "fluxloop: a viewer is already running at %s\n", opts.Addr)
					e.open(u)
					return nil
				}
			}
			return fmt.Errorf("%w (another fluxloop serve? -addr 127.0.0.1:0 picks a free port)", err)
		}
		return err
	}
	defer ln.Close()
	host, _, _ := net.SplitHostPort(opts.Addr)
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		if host != "localhost" {
			fmt.Fprintf(e.Stderr, "fluxloop: warning: %s is not a loopback address: the viewer has no authentication, and answers only requests naming localhost or a host given with -allow-host\n", opts.Addr)
		}
	}
	base := "http://" + net.JoinHostPort(host, port)

	ix := viewer.NewIndex()
	warn := e.warner()
	f, err := ix.Load(src, warn.warn)
	if err != nil {
		return err
	}
	defer f.Close()
	if opts.Open != "" && src.IsStream() {
		// The trace to open is somewhere in the stream: read it all first.
		if err := ix.Follow(ctx, f, opts.Interval, warn.warn); err != nil {
			return err
		}
	}
	target := base + "/"
	if opts.Open != "" {
		id, err := resolve(ix, opts.Open)
		if err != nil {
			if nt, _ := ix.Len(); nt == 0 && !src.IsStream() {
				return e.noObservations(src)
			}
			return err
		}
		target = base + "/trace/" + url.PathEscape(id)
	}

	ctx, cancel := context.WithCancel(ctx)
	followed := make(chan struct{})
	defer func() {
		cancel()
		<-followed // before f.Close
	}()
	go func() {
		defer close(followed)
		ix.Follow(ctx, f, opts.Interval, warn.warn)
	}()
	srv := &http.Server{
		Handler:           viewer.NewHandler(ix, viewer.Options{Assets: e.Assets, AllowedHosts: opts.AllowedHosts, OTLP: true}),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	nt, no := ix.Len()
	fmt.Fprintf(e.Stdout, "fluxloop viewer: %s\n", base+"/")
	fmt.Fprintf(e.Stderr, "fluxloop: %s, %s from %s; following it (Ctrl-C to stop)\n",
		Count(nt, "trace", "traces"), Count(no, "observation", "observations"), src)
	if opts.Open != "" {
		e.open(target)
	}
	if opts.Ready != nil {
		opts.Ready(base + "/")
	}
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	sctx, scancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer scancel()
	srv.Shutdown(sctx)
	return nil
}

// runningViewer asks the server at addr whether it is a fluxloop viewer
// that knows the trace, returning the trace's page.
func runningViewer(addr, ref string) (string, bool) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", false
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	base := "http://" + net.JoinHostPort(host, port)
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(base + "/api/traces/" + url.PathEscape(ref))
	if err != nil {
		return "", false
	}
	defer resp.Body.Close()
	var v struct {
		Trace struct {
			ID string `json:"id"`
		} `json:"trace"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&v) != nil || v.Trace.ID == "" {
		return "", false
	}
	return base + "/trace/" + url.PathEscape(v.Trace.ID), true
}

// ErrNoOpener is returned by OpenBrowser where it knows no way to open a
// browser.
var ErrNoOpener = errors.New("no browser opener")

// OpenBrowser opens a URL in the desktop's browser: open on macOS,
// rundll32 on Windows, xdg-open elsewhere when a display is set.
func OpenBrowser(u string) error {
	var name string
	var args []string
	switch runtime.GOOS {
	case "darwin":
		name = "open"
	case "windows":
		name, args = "rundll32", []string{"url.dll,FileProtocolHandler"}
	default:
		if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
			return ErrNoOpener // xdg-open would start a text browser in this terminal
		}
		name = "xdg-open"
	}
	path, err := exec.LookPath(name)
	if err != nil {
		return ErrNoOpener
	}
	cmd := exec.Command(path, append(args, u)...)
	if err := cmd.Start(); err != nil {
		return err
	}
	go cmd.Wait()
	return nil
}

func (e *Env) open(u string) {
	open := e.OpenURL
	if open == nil {
		open = OpenBrowser
	}
	if err := open(u); err != nil {
		why := ""
		if !errors.Is(err, ErrNoOpener) {
			why = " (" + strings.TrimSpace(err.Error()) + ")"
		}
		fmt.Fprintf(e.Stdout, "open %s in a browser%s\n", u, why)
		return
	}
	fmt.Fprintf(e.Stderr, "fluxloop: opened %s\n", u)
}
