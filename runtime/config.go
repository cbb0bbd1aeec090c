package fluxloop

import (
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Config is a client's configuration. Init reads it from the environment and
// then applies Options; NewClient applies Options to the defaults. Storages
// registered with RegisterStorage receive it, so its fields are stable.
type Config struct {
	// Enabled switches recording on (default true; FLUXLOOP_ENABLED). When
	// false, Enter and Start return nil spans at the cost of an atomic load.
	Enabled bool
	// StorageName selects a storage by name when Storage is nil: "file"
	// (default), "stdout", "memory", or a name given to RegisterStorage
	// (FLUXLOOP_STORAGE).
	StorageName string
	// Storage, when set, is used instead of StorageName.
	Storage Storage
	// Dir is the file storage's directory (default ./.fluxloop;
	// FLUXLOOP_DIR or FLUXLOOP_OFFLINE_DIR).
	Dir string
	// SampleRate is the fraction of traces recorded, 0..1 (default 1;
	// FLUXLOOP_SAMPLE_RATE). The decision is made once per trace, from its id.
	SampleRate float64
	// Capture says which values are recorded (default CaptureAll;
	// FLUXLOOP_CAPTURE).
	Capture Capture
	// MaxFieldBytes is the byte budget of each recorded value (argument,
	// result, attribute) in bytes of JSON. The capture engine stops walking a
	// value once it has written that much and closes it with a marker; a
	// longer string is cut, ending in "…(truncated N bytes)". Either way the
	// observation gets metadata fluxloop.truncated = true (default 64 KiB,
	// which keeps a 20 KB prompt whole; FLUXLOOP_MAX_FIELD_BYTES).
	MaxFieldBytes int
	// MaxDepth bounds how deep the capture engine descends into nested
	// structs, slices, arrays and maps; deeper values are written as
	// "<too deep: T>" (default 12; FLUXLOOP_MAX_DEPTH).
	MaxDepth int
	// MaxNodes bounds the values (struct fields, elements, map entries; a
	// string or []byte counts as one, whatever its length) written of each
	// captured value, so that a large data structure handed to a traced
	// function costs a few microseconds, not the whole byte budget, while
	// a request with long prompts is kept whole (default 200;
	// FLUXLOOP_MAX_NODES).
	MaxNodes int
	// MaxItems bounds the elements written of each slice, array and map;
	// the rest is counted in a final "… N more" (default 100;
	// FLUXLOOP_MAX_ITEMS).
	MaxItems int
	// UserMarshalers lets the capture engine call the MarshalJSON method of
	// the program's types, which it never does by default because such a
	// method may change the value, take a lock or panic
	// (FLUXLOOP_USER_MARSHALERS). MarshalerTypes trusts only the types
	// listed (see WithUserMarshalers).
	UserMarshalers bool
	// MarshalerTypes are the types whose MarshalJSON is called when
	// UserMarshalers is false.
	MarshalerTypes []reflect.Type
	// BatchSize is the number of queued observations that makes the writer
	// write at once instead of waiting for FlushInterval (default 10;
	// FLUXLOOP_BATCH_SIZE). When more are waiting, one write carries them all,
	// up to 4096.
	BatchSize int
	// FlushInterval is the longest an observation waits in the writer
	// (default 5s; FLUXLOOP_FLUSH_INTERVAL, a Go duration or seconds).
	FlushInterval time.Duration
	// MaxQueueSize bounds the observations waiting for the writer; beyond it
	// observations are dropped and counted in Stats (default 16384;
	// FLUXLOOP_MAX_QUEUE_SIZE). The default absorbs a third of a second at
	// 50,000 observations/s while the storage stalls.
	MaxQueueSize int
	// Debug logs every storage error and drop to stderr, not just the first
	// (FLUXLOOP_DEBUG).
	Debug bool
	// ServiceName is recorded in each trace's metadata as service_name
	// (FLUXLOOP_SERVICE_NAME).
	ServiceName string
	// Environment is recorded in each trace's metadata as environment
	// (FLUXLOOP_ENVIRONMENT).
	Environment string
	// Redactor replaces the default redaction of secrets (see WithRedactor).
	Redactor Redactor
}

// Defaults of Config.
const (
	DefaultDir           = ".fluxloop"
	DefaultMaxFieldBytes = 64 << 10
	DefaultMaxDepth      = 12
	DefaultMaxItems      = 100
	DefaultMaxNodes      = 200
	DefaultBatchSize     = 10
	DefaultFlushInterval = 5 * time.Second
	DefaultMaxQueueSize  = 16384

	maxWriteBatch = 4096
)

func defaultConfig() Config {
	return Config{
		Enabled:       true,
		StorageName:   "file",
		Dir:           DefaultDir,
		SampleRate:    1,
		Capture:       CaptureAll,
		MaxFieldBytes: DefaultMaxFieldBytes,
		MaxDepth:      DefaultMaxDepth,
		MaxItems:      DefaultMaxItems,
		MaxNodes:      DefaultMaxNodes,
		BatchSize:     DefaultBatchSize,
		FlushInterval: DefaultFlushInterval,
		MaxQueueSize:  DefaultMaxQueueSize,
	}
}

// Option changes a Config; pass Options to Init or NewClient.
type Option func(*Config)

// WithEnabled switches recording on or off (FLUXLOOP_ENABLED).
func WithEnabled(on bool) Option { return func(c *Config) { c.Enabled = on } }

// WithStorage makes the client write to st instead of the storage named by
// FLUXLOOP_STORAGE. The client closes st on Shutdown.
func WithStorage(st Storage) Option { return func(c *Config) { c.Storage = st } }

// WithStorageName selects a storage by name (FLUXLOOP_STORAGE): "file",
// "stdout", "memory" or one registered with RegisterStorage.
func WithStorageName(name string) Option { return func(c *Config) { c.StorageName = name } }

// WithDir sets the file storage's directory (FLUXLOOP_DIR).
func WithDir(dir string) Option { return func(c *Config) { c.Dir = dir } }

// WithSampleRate sets the fraction of traces recorded, 0..1
// (FLUXLOOP_SAMPLE_RATE).
func WithSampleRate(rate float64) Option { return func(c *Config) { c.SampleRate = rate } }

// WithCapture sets which values are recorded (FLUXLOOP_CAPTURE).
func WithCapture(mode Capture) Option { return func(c *Config) { c.Capture = mode } }

// WithMaxFieldBytes bounds recorded values (FLUXLOOP_MAX_FIELD_BYTES).
func WithMaxFieldBytes(n int) Option { return func(c *Config) { c.MaxFieldBytes = n } }

// WithMaxDepth bounds how deep values are captured (FLUXLOOP_MAX_DEPTH).
func WithMaxDepth(n int) Option { return func(c *Config) { c.MaxDepth = n } }

// WithMaxItems bounds the elements captured of each slice, array and map
// (FLUXLOOP_MAX_ITEMS).
func WithMaxItems(n int) Option { return func(c *Config) { c.MaxItems = n } }

// WithMaxNodes bounds the values captured of each argument and result
// (FLUXLOOP_MAX_NODES).
func WithMaxNodes(n int) Option { return func(c *Config) { c.MaxNodes = n } }

// WithUserMarshalers makes the capture engine call MarshalJSON methods, so
// that values are recorded exactly as the program's own JSON. With no
// arguments it trusts every type (FLUXLOOP_USER_MARSHALERS=true); otherwise
// only the types of the values given, and pointers to them:
//
//	fluxloop.Init(fluxloop.WithUserMarshalers(schema.Definition{}))
//
// Only trust marshalers that do not change the value, lock or block.
func WithUserMarshalers(examples ...any) Option {
	return func(c *Config) {
		if len(examples) == 0 {
			c.UserMarshalers = true
			return
		}
		for _, x := range examples {
			t := reflect.TypeOf(x)
			if t == nil {
				continue
			}
			c.MarshalerTypes = append(c.MarshalerTypes, t)
			if t.Kind() != reflect.Pointer {
				c.MarshalerTypes = append(c.MarshalerTypes, reflect.PointerTo(t))
			}
		}
	}
}

// WithBatchSize sets the writer's batch size (FLUXLOOP_BATCH_SIZE).
func WithBatchSize(n int) Option { return func(c *Config) { c.BatchSize = n } }

// WithFlushInterval sets the writer's flush interval (FLUXLOOP_FLUSH_INTERVAL).
func WithFlushInterval(d time.Duration) Option { return func(c *Config) { c.FlushInterval = d } }

// WithMaxQueueSize bounds the writer's queue (FLUXLOOP_MAX_QUEUE_SIZE).
func WithMaxQueueSize(n int) Option { return func(c *Config) { c.MaxQueueSize = n } }

// WithDebug logs every storage error and drop to stderr (FLUXLOOP_DEBUG).
func WithDebug(on bool) Option { return func(c *Config) { c.Debug = on } }

// WithServiceName sets the service name recorded on traces
// (FLUXLOOP_SERVICE_NAME).
func WithServiceName(name string) Option { return func(c *Config) { c.ServiceName = name } }

// WithEnvironment sets the environment recorded on traces
// (FLUXLOOP_ENVIRONMENT).
func WithEnvironment(env string) Option { return func(c *Config) { c.Environment = env } }

// WithRedactor replaces the default redaction (see Redactor).
func WithRedactor(r Redactor) Option { return func(c *Config) { c.Redactor = r } }

// validate reports the first invalid field, naming the option that sets it.
func (c *Config) validate() error {
	switch {
	case math.IsNaN(c.SampleRate) || c.SampleRate < 0 || c.SampleRate > 1:
		return fmt.Errorf("fluxloop: sample rate %v (WithSampleRate) must be between 0 and 1", c.SampleRate)
	case c.Capture > CaptureNone:
		return fmt.Errorf("fluxloop: capture mode %d (WithCapture) is not one of CaptureAll, CaptureInput, CaptureOutput, CaptureNone", c.Capture)
	case c.MaxFieldBytes < 64:
		return fmt.Errorf("fluxloop: max field bytes %d (WithMaxFieldBytes) must be at least 64", c.MaxFieldBytes)
	case c.MaxDepth < 1:
		return fmt.Errorf("fluxloop: max depth %d (WithMaxDepth) must be at least 1", c.MaxDepth)
	case c.MaxNodes < 1:
		return fmt.Errorf("fluxloop: max nodes %d (WithMaxNodes) must be at least 1", c.MaxNodes)
	case c.MaxItems < 1:
		return fmt.Errorf("fluxloop: max items %d (WithMaxItems) must be at least 1", c.MaxItems)
	case c.BatchSize < 1:
		return fmt.Errorf("fluxloop: batch size %d (WithBatchSize) must be at least 1", c.BatchSize)
	case c.FlushInterval <= 0:
		return fmt.Errorf("fluxloop: flush interval %v (WithFlushInterval) must be positive", c.FlushInterval)
	case c.MaxQueueSize < 1:
		return fmt.Errorf("fluxloop: max queue size %d (WithMaxQueueSize) must be at least 1", c.MaxQueueSize)
	case c.Storage == nil && c.StorageName == "":
		return errors.New("fluxloop: no storage: set WithStorage or WithStorageName")
	case c.Storage == nil && c.StorageName == "file" && c.Dir == "":
		return errors.New("fluxloop: file storage needs a directory (WithDir or FLUXLOOP_DIR)")
	}
	return nil
}

// envPrefix is the prefix of every environment variable fluxloop reads.
const envPrefix = "FLUXLOOP_"

// applyEnv sets c's fields from the environment. It applies every valid
// variable and returns the errors of the invalid ones, each naming the
// variable and its value.
func (c *Config) applyEnv(getenv func(string) string) error {
	var errs []error
	get := func(name string) (string, bool) {
		v := strings.TrimSpace(getenv(envPrefix + name))
		return v, v != ""
	}
	bad := func(name, val, want string) {
		errs = append(errs, fmt.Errorf("fluxloop: %s%s=%q: %s", envPrefix, name, val, want))
	}
	boolVar := func(name string, dst *bool) {
		if v, ok := get(name); ok {
			b, err := parseBool(v)
			if err != nil {
				bad(name, v, "want true or false")
				return
			}
			*dst = b
		}
	}
	intVar := func(name string, dst *int, lo int) {
		if v, ok := get(name); ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < lo {
				bad(name, v, fmt.Sprintf("want an integer >= %d", lo))
				return
			}
			*dst = n
		}
	}
	durVar := func(name string, dst *time.Duration) {
		if v, ok := get(name); ok {
			d, err := parseDuration(v)
			if err != nil || d <= 0 {
				bad(name, v, "want a positive Go duration (5s, 500ms) or a number of seconds")
				return
			}
			*dst = d
		}
	}
	strVar := func(name string, dst *string) {
		if v, ok := get(name); ok {
			*dst = v
		}
	}

	boolVar("ENABLED", &c.Enabled)
	strVar("OFFLINE_DIR", &c.Dir)
	strVar("DIR", &c.Dir)
	if v, ok := get("STORAGE"); ok {
		c.StorageName = strings.ToLower(v)
	}
	if v, ok := get("SAMPLE_RATE"); ok {
		r, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(r) || r < 0 || r > 1 {
			bad("SAMPLE_RATE", v, "want a number between 0 and 1")
		} else {
			c.SampleRate = r
		}
	}
	if v, ok := get("CAPTURE"); ok {
		m, err := ParseCapture(v)
		if err != nil {
			bad("CAPTURE", v, "want all, input, output or none")
		} else {
			c.Capture = m
		}
	}
	intVar("MAX_FIELD_BYTES", &c.MaxFieldBytes, 64)
	intVar("MAX_DEPTH", &c.MaxDepth, 1)
	intVar("MAX_ITEMS", &c.MaxItems, 1)
	intVar("MAX_NODES", &c.MaxNodes, 1)
	boolVar("USER_MARSHALERS", &c.UserMarshalers)
	intVar("BATCH_SIZE", &c.BatchSize, 1)
	durVar("FLUSH_INTERVAL", &c.FlushInterval)
	intVar("MAX_QUEUE_SIZE", &c.MaxQueueSize, 1)
	boolVar("DEBUG", &c.Debug)
	strVar("SERVICE_NAME", &c.ServiceName)
	strVar("ENVIRONMENT", &c.Environment)
	return errors.Join(errs...)
}

// ParseCapture parses a capture mode as FLUXLOOP_CAPTURE spells it: all,
// input, output or none (case-insensitive).
func ParseCapture(s string) (Capture, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "all":
		return CaptureAll, nil
	case "input", "inputs":
		return CaptureInput, nil
	case "output", "outputs":
		return CaptureOutput, nil
	case "none":
		return CaptureNone, nil
	}
	return 0, fmt.Errorf("fluxloop: capture mode %q is not all, input, output or none", s)
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "1", "t", "true", "yes", "y", "on":
		return true, nil
	case "0", "f", "false", "no", "n", "off":
		return false, nil
	}
	return false, fmt.Errorf("not a boolean: %q", s)
}

func parseDuration(s string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) || f > math.MaxInt64/float64(time.Second) {
			return 0, fmt.Errorf("bad duration %q", s)
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	return time.ParseDuration(s)
}

// fallbackConfig is the configuration the lazily created default client
// uses when cfg, read from the environment, cannot make a client (an unknown
// FLUXLOOP_STORAGE, a storage that fails to start): the defaults, that is the
// file storage, in cfg's directory (FLUXLOOP_DIR) and with cfg's Enabled.
func fallbackConfig(cfg Config) Config {
	def := defaultConfig()
	def.Enabled = cfg.Enabled
	if cfg.Dir != "" {
		def.Dir = cfg.Dir
	}
	return def
}

// envConfig returns the defaults overridden by the environment.
func envConfig() (Config, error) {
	c := defaultConfig()
	err := c.applyEnv(os.Getenv)
	return c, err
}
