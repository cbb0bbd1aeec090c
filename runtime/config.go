package fluxloop

import (
	"errors"
	"fmt"
	"io"
	"math"
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
	// (default 200ms; FLUXLOOP_FLUSH_INTERVAL, a Go duration or seconds).
	// A trace is written as soon as its root observation ends, without
	// waiting for the interval; the interval bounds how long the
	// observations of a trace still running (or of goroutines that outlive
	// their root) wait, and so what a program that exits without Shutdown
	// loses.
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
	DefaultFlushInterval = 200 * time.Millisecond
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

// envError is an invalid FLUXLOOP_ variable: Init returns it, naming the
// variable and its value; the lazily created default client prints it with
// the value it uses instead.
type envError struct {
	name  string // the variable, with its prefix
	val   string // its value, trimmed
	want  string // what the value must be
	field string // the Config field it sets, to tell whether an option overrides it
	using string // what is used instead: the default, or a safe value
}

func (e *envError) Error() string {
	return fmt.Sprintf("fluxloop: %s=%q: %s", e.name, e.val, e.want)
}

// warning is the message of the lazily created default client.
func (e *envError) warning() string { return e.Error() + "; " + e.using }

// applyEnv sets c's fields from the environment. It applies every valid
// variable and returns the invalid ones, each naming the variable and its
// value. An invalid variable leaves its field as it was (the default),
// except FLUXLOOP_ENABLED, which then switches tracing off, and
// FLUXLOOP_CAPTURE, which then captures nothing: a switch that cannot be
// read fails safe.
func (c *Config) applyEnv(getenv func(string) string) []*envError {
	var errs []*envError
	get := func(name string) (string, bool) {
		v := strings.TrimSpace(getenv(envPrefix + name))
		return v, v != ""
	}
	bad := func(name, val, want, field, using string) {
		errs = append(errs, &envError{name: envPrefix + name, val: val, want: want, field: field, using: using})
	}
	boolVar := func(name string, dst *bool, field string) {
		if v, ok := get(name); ok {
			b, err := parseBool(v)
			if err != nil {
				bad(name, v, "must be true or false", field, "using "+strconv.FormatBool(*dst))
				return
			}
			*dst = b
		}
	}
	intVar := func(name string, dst *int, lo int, field string) {
		if v, ok := get(name); ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < lo {
				bad(name, v, fmt.Sprintf("must be an integer >= %d", lo), field, "using "+strconv.Itoa(*dst))
				return
			}
			*dst = n
		}
	}
	strVar := func(name string, dst *string) {
		if v, ok := get(name); ok {
			*dst = v
		}
	}

	if v, ok := get("ENABLED"); ok {
		b, err := parseBool(v)
		if err != nil {
			c.Enabled = false
			bad("ENABLED", v, "must be true or false", "Enabled", "tracing is off until it is fixed")
		} else {
			c.Enabled = b
		}
	}
	strVar("OFFLINE_DIR", &c.Dir)
	strVar("DIR", &c.Dir)
	if v, ok := get("STORAGE"); ok {
		c.StorageName = strings.ToLower(v)
	}
	if v, ok := get("SAMPLE_RATE"); ok {
		r, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(r) || r < 0 || r > 1 {
			bad("SAMPLE_RATE", v, "must be a number between 0 and 1", "SampleRate", "using "+strconv.FormatFloat(c.SampleRate, 'g', -1, 64))
		} else {
			c.SampleRate = r
		}
	}
	if v, ok := get("CAPTURE"); ok {
		m, err := ParseCapture(v)
		if err != nil {
			c.Capture = CaptureNone
			bad("CAPTURE", v, "must be all, input, output or none"+didYouMean(v), "Capture", "using none (no inputs or outputs recorded) until it is fixed")
		} else {
			c.Capture = m
		}
	}
	intVar("MAX_FIELD_BYTES", &c.MaxFieldBytes, 64, "MaxFieldBytes")
	intVar("MAX_DEPTH", &c.MaxDepth, 1, "MaxDepth")
	intVar("MAX_ITEMS", &c.MaxItems, 1, "MaxItems")
	intVar("MAX_NODES", &c.MaxNodes, 1, "MaxNodes")
	boolVar("USER_MARSHALERS", &c.UserMarshalers, "UserMarshalers")
	intVar("BATCH_SIZE", &c.BatchSize, 1, "BatchSize")
	if v, ok := get("FLUSH_INTERVAL"); ok {
		d, err := parseDuration(v)
		if err != nil || d <= 0 {
			bad("FLUSH_INTERVAL", v, "must be a positive Go duration (5s, 500ms) or a number of seconds", "FlushInterval", "using "+c.FlushInterval.String())
		} else {
			c.FlushInterval = d
		}
	}
	intVar("MAX_QUEUE_SIZE", &c.MaxQueueSize, 1, "MaxQueueSize")
	boolVar("DEBUG", &c.Debug, "Debug")
	strVar("SERVICE_NAME", &c.ServiceName)
	strVar("ENVIRONMENT", &c.Environment)
	return errs
}

// envVars are the variables applyEnv reads, without the prefix.
var envVars = []string{
	"ENABLED", "OFFLINE_DIR", "DIR", "STORAGE", "SAMPLE_RATE", "CAPTURE",
	"MAX_FIELD_BYTES", "MAX_DEPTH", "MAX_ITEMS", "MAX_NODES", "USER_MARSHALERS",
	"BATCH_SIZE", "FLUSH_INTERVAL", "MAX_QUEUE_SIZE", "DEBUG", "SERVICE_NAME",
	"ENVIRONMENT",
}

// optionSets reports whether opts set the Config field named field: they
// are applied to two configurations holding different values there, and
// set it if both end with the same value.
func optionSets(opts []Option, field string) bool {
	var got [2]any
	for i := range got {
		c := defaultConfig()
		f := reflect.ValueOf(&c).Elem().FieldByName(field)
		switch f.Kind() {
		case reflect.Bool:
			f.SetBool(i == 1)
		case reflect.Int, reflect.Int64:
			f.SetInt(int64(-1 - i))
		case reflect.Uint8:
			f.SetUint(uint64(250 + i))
		case reflect.Float64:
			f.SetFloat(float64(-1 - i))
		default:
			return false
		}
		for _, o := range opts {
			if o != nil {
				o(&c)
			}
		}
		got[i] = f.Interface()
	}
	return got[0] == got[1]
}

// ParseCapture parses a capture mode as FLUXLOOP_CAPTURE and the capture=
// option of directives spell it: all, input, output or none
// (case-insensitive, surrounding spaces ignored).
func ParseCapture(s string) (Capture, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "all":
		return CaptureAll, nil
	case "input":
		return CaptureInput, nil
	case "output":
		return CaptureOutput, nil
	case "none":
		return CaptureNone, nil
	}
	return 0, fmt.Errorf("fluxloop: capture mode %q is not all, input, output or none%s", s, didYouMean(s))
}

// didYouMean suggests the capture mode a plural or a synonym meant.
func didYouMean(s string) string {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "inputs", "in", "args", "arguments":
		return ` (did you mean "input"?)`
	case "outputs", "out", "results":
		return ` (did you mean "output"?)`
	case "both", "on", "true":
		return ` (did you mean "all"?)`
	case "off", "false", "nothing":
		return ` (did you mean "none"?)`
	}
	return ""
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

// initConfig is the configuration Init makes: the defaults, overridden by
// the environment, overridden by opts. An invalid variable is an error
// unless an option sets the same field, in which case the option wins and
// the variable is ignored.
func initConfig(getenv func(string) string, opts []Option) (Config, error) {
	c := defaultConfig()
	envErrs := c.applyEnv(getenv)
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	var errs []error
	for _, e := range envErrs {
		if !optionSets(opts, e.field) {
			errs = append(errs, e)
		}
	}
	return c, errors.Join(errs...)
}

// lazyConfig is the configuration of the lazily created default client:
// the defaults overridden by the valid variables; each invalid one is
// reported on w with the value used instead.
func lazyConfig(getenv func(string) string, w io.Writer) Config {
	c := defaultConfig()
	for _, e := range c.applyEnv(getenv) {
		fmt.Fprintln(w, e.warning())
	}
	return c
}
