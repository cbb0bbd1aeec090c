package fluxloop_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
)

func TestDisabled(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "never")
	c := install(t, fluxloop.WithEnabled(false), fluxloop.WithDir(dir))
	ctx := context.Background()
	if got, sp := fluxloop.Enter(ctx, &siteAdd); sp != nil || got != ctx {
		t.Errorf("Enter disabled = %v, %v; want ctx, nil", got, sp)
	}
	if got, sp := fluxloop.Enter(nil, &siteAdd); sp != nil || got != nil {
		t.Errorf("Enter(nil) disabled = %v, %v", got, sp)
	}
	if sp := fluxloop.EnterLocal(&siteHelper); sp != nil {
		t.Errorf("EnterLocal disabled = %v", sp)
	}
	if _, sp := fluxloop.Start(ctx, "x"); sp != nil {
		t.Errorf("Start disabled = %v", sp)
	}
	if h := fluxloop.Handoff(ctx); h != (fluxloop.Handover{}) {
		t.Errorf("Handoff disabled = %v", h)
	}
	Run(ctx, "q")
	if n := testing.AllocsPerRun(100, func() { Add(ctx, 1, 2) }); n != 0 {
		t.Errorf("a traced call allocates %v times when disabled", n)
	}
	if st := c.Stats(); st != (fluxloop.Counters{}) {
		t.Errorf("stats %+v", st)
	}
	if err := c.Flush(ctx); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("disabled client created %s", dir)
	}
	var nilSpan *fluxloop.Span // every method is a no-op on nil
	nilSpan.Inputs(fluxloop.V(1))
	nilSpan.SetAttributes(fluxloop.Attribute("k", "v"))
	nilSpan.SetUsage(fluxloop.Usage{})
	nilSpan.SetOutput(1)
	nilSpan.RecordError(os.ErrNotExist)
	nilSpan.Panic("p")
	nilSpan.Return(nil, fluxloop.V(1))
	nilSpan.End()
	if nilSpan.ID() != "" || nilSpan.TraceID() != "" || nilSpan.String() == "" {
		t.Errorf("nil span ids")
	}
	fluxloop.RecordError(ctx, os.ErrClosed)
	fluxloop.SetAttributes(ctx, fluxloop.Attribute("k", 1))
	fluxloop.SetUsage(ctx, fluxloop.Usage{Model: "m"})
	fluxloop.SetTrace(ctx, fluxloop.TraceInfo{UserID: "u"})
}

func TestOptionErrors(t *testing.T) {
	for _, tc := range []struct {
		opt  fluxloop.Option
		want string
	}{
		{fluxloop.WithSampleRate(1.5), "sample rate 1.5 (WithSampleRate)"},
		{fluxloop.WithSampleRate(-0.1), "WithSampleRate"},
		{fluxloop.WithCapture(9), "WithCapture"},
		{fluxloop.WithMaxFieldBytes(10), "max field bytes 10 (WithMaxFieldBytes)"},
		{fluxloop.WithBatchSize(0), "WithBatchSize"},
		{fluxloop.WithFlushInterval(0), "WithFlushInterval"},
		{fluxloop.WithMaxQueueSize(-1), "WithMaxQueueSize"},
		{fluxloop.WithStorageName("nosuch"), `unknown storage "nosuch"`},
		{fluxloop.WithStorageName("http"), `import _ "github.com/fluxloop/fluxloop-go/runtime/collector"`},
		{fluxloop.WithStorageName("otlp"), "runtime/otlp"},
	} {
		_, err := fluxloop.NewClient(tc.opt)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewClient = %v, want an error containing %q", err, tc.want)
		}
	}
}

func TestInitFromEnvironment(t *testing.T) {
	install(t, fluxloop.WithStorage(fluxloop.NewMemoryStorage())) // Init replaces and shuts down this one
	for name, val := range map[string]string{
		"FLUXLOOP_SAMPLE_RATE":     "abc",
		"FLUXLOOP_ENABLED":         "maybe",
		"FLUXLOOP_MAX_QUEUE_SIZE":  "0",
		"FLUXLOOP_FLUSH_INTERVAL":  "soon",
		"FLUXLOOP_CAPTURE":         "some",
		"FLUXLOOP_MAX_FIELD_BYTES": "1e3",
		"FLUXLOOP_STORAGE":         "carrier-pigeon",
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(name, val)
			before := fluxloop.Default()
			err := fluxloop.Init()
			if err == nil || !strings.Contains(err.Error(), name) && name != "FLUXLOOP_STORAGE" || !strings.Contains(err.Error(), val) {
				t.Errorf("Init with %s=%s: %v", name, val, err)
			}
			if fluxloop.Default() != before {
				t.Errorf("a failed Init replaced the default client")
			}
		})
	}

	dir := t.TempDir()
	t.Setenv("FLUXLOOP_OFFLINE_DIR", dir)
	t.Setenv("FLUXLOOP_SAMPLE_RATE", "0.25")
	t.Setenv("FLUXLOOP_FLUSH_INTERVAL", "2.5")
	t.Setenv("FLUXLOOP_CAPTURE", "input")
	t.Setenv("FLUXLOOP_SERVICE_NAME", "svc")
	if err := fluxloop.Init(fluxloop.WithBatchSize(7)); err != nil {
		t.Fatal(err)
	}
	c := fluxloop.Default()
	t.Cleanup(func() { c.Shutdown(context.Background()) })
	cfg := c.Config()
	if cfg.Dir != dir || cfg.SampleRate != 0.25 || cfg.FlushInterval != 2500*time.Millisecond ||
		cfg.Capture != fluxloop.CaptureInput || cfg.ServiceName != "svc" || cfg.BatchSize != 7 || cfg.StorageName != "file" {
		t.Errorf("config from env = %+v", cfg)
	}
}

// The lazily created default client reads the environment; an invalid value
// gives one warning and its default. Run in a child process, which has no
// default client yet.
func TestLazyDefaultFromEnvironment(t *testing.T) {
	if dir := os.Getenv("FLUXLOOP_TEST_LAZY"); dir != "" {
		Run(context.Background(), "q")
		Run(context.Background(), "q")
		c := fluxloop.Default()
		if c.Config().SampleRate != 1 || c.Config().Dir != dir {
			t.Fatalf("config %+v", c.Config())
		}
		if err := fluxloop.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLazyDefaultFromEnvironment$")
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0", "FLUXLOOP_TEST_LAZY="+dir, "FLUXLOOP_DIR="+dir, "FLUXLOOP_SAMPLE_RATE=often")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if out, err := cmd.Output(); err != nil {
		t.Fatalf("child: %v\n%s\n%s", err, out, stderr.String())
	}
	if n := strings.Count(stderr.String(), "FLUXLOOP_SAMPLE_RATE"); n != 1 {
		t.Errorf("warnings about FLUXLOOP_SAMPLE_RATE: %d, want 1:\n%s", n, stderr.String())
	}
	if lines := readLines(t, filepath.Join(dir, fluxloop.ObservationsFile)); len(lines) != 6 {
		t.Errorf("%d observations written, want 6", len(lines))
	}
}

// An unknown FLUXLOOP_STORAGE makes the lazily created default client fall
// back to the file storage, in FLUXLOOP_DIR, not in ./.fluxloop.
func TestUnknownStorageFallbackUsesDir(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(t.TempDir()) // where ./.fluxloop would appear
	t.Setenv("FLUXLOOP_STORAGE", "nosuch")
	t.Setenv("FLUXLOOP_DIR", dir)
	prev := fluxloop.SetDefault(nil)
	t.Cleanup(func() { fluxloop.SetDefault(prev) })
	c := fluxloop.Default()
	t.Cleanup(func() { c.Shutdown(context.Background()) })
	if cfg := c.Config(); cfg.StorageName != "file" || cfg.Dir != dir {
		t.Fatalf("fallback config: storage %q, dir %q; want file in %s", cfg.StorageName, cfg.Dir, dir)
	}
	Run(context.Background(), "q")
	if err := c.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if lines := readLines(t, filepath.Join(dir, fluxloop.ObservationsFile)); len(lines) != 3 {
		t.Errorf("%d observations in %s, want 3", len(lines), dir)
	}
	if _, err := os.Stat(fluxloop.DefaultDir); !os.IsNotExist(err) {
		t.Errorf("the fallback wrote to ./%s: %v", fluxloop.DefaultDir, err)
	}
}

// FLUXLOOP_ENABLED=false in a child process: nothing is written, no file is
// created.
func TestEnvDisabled(t *testing.T) {
	if os.Getenv("FLUXLOOP_TEST_DISABLED") != "" {
		if _, sp := fluxloop.Enter(context.Background(), &siteAdd); sp != nil {
			t.Fatal("Enter returned a span with FLUXLOOP_ENABLED=false")
		}
		Run(context.Background(), "q")
		fluxloop.Shutdown(context.Background())
		return
	}
	dir := filepath.Join(t.TempDir(), "d")
	cmd := exec.Command(os.Args[0], "-test.run=^TestEnvDisabled$")
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0", "FLUXLOOP_TEST_DISABLED=1", "FLUXLOOP_DIR="+dir, "FLUXLOOP_ENABLED=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("disabled process created %s", dir)
	}
}

type nopStorage struct{ name string }

func (nopStorage) Write(context.Context, []fluxloop.Record) error { return nil }
func (nopStorage) Flush(context.Context) error                    { return nil }
func (nopStorage) Close(context.Context) error                    { return nil }

func TestRegisterStorage(t *testing.T) {
	var got fluxloop.Config
	fluxloop.RegisterStorage("Test-NOP", func(c fluxloop.Config) (fluxloop.Storage, error) {
		got = c
		return nopStorage{name: c.ServiceName}, nil
	})
	c, err := fluxloop.NewClient(fluxloop.WithStorageName("test-nop"), fluxloop.WithServiceName("s"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Shutdown(context.Background())
	if _, ok := c.Storage().(nopStorage); !ok || got.ServiceName != "s" {
		t.Errorf("storage %T, factory config %+v", c.Storage(), got)
	}
	m, err := fluxloop.NewClient(fluxloop.WithStorageName("memory"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown(context.Background())
	if _, ok := m.Storage().(*fluxloop.MemoryStorage); !ok {
		t.Errorf("memory storage is %T", m.Storage())
	}
}
