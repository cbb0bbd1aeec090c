package otlp

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// StorageName is the name the package registers its storage under:
// FLUXLOOP_STORAGE=otlp or fluxloop.WithStorageName(otlp.StorageName).
const StorageName = "otlp"

// ScopeName is the instrumentation scope of the exported spans.
const ScopeName = "github.com/fluxloop/fluxloop-go/runtime/otlp"

// The protocols of WithProtocol and OTEL_EXPORTER_OTLP_PROTOCOL. This
// package exports over HTTP; ProtocolGRPC is registered by importing
// github.com/fluxloop/fluxloop-go/runtime/otlp/otlpgrpc.
const (
	ProtocolHTTPProtobuf = "http/protobuf"
	ProtocolHTTPJSON     = "http/json"
	ProtocolGRPC         = "grpc"
)

// Defaults of the options.
const (
	// DefaultMaxValueBytes bounds each string attribute made from recorded
	// data (input, output, metadata, error texts).
	DefaultMaxValueBytes = 16 << 10
	// DefaultExportTimeout bounds one Write, retries included.
	DefaultExportTimeout = 30 * time.Second
)

// init registers the storage, as database/sql drivers register themselves.
// It does not install the OpenTelemetry bridge: InstallBridge does.
func init() {
	fluxloop.RegisterStorage(StorageName, func(c fluxloop.Config) (fluxloop.Storage, error) {
		opts := []Option{withFluxloopConfig(c)}
		return New(context.Background(), opts...)
	})
}

// ExporterConfig is what New gives an ExporterFactory: the settings of its
// options that concern the exporter, resolved. An empty field leaves the
// setting to the exporter, which reads the OTEL_EXPORTER_OTLP_* variables.
type ExporterConfig struct {
	// Protocol is the protocol asked for (lowercase).
	Protocol string
	// EndpointURL is WithEndpointURL's URL, used as it is.
	EndpointURL string
	// Headers are WithHeaders' headers (gRPC metadata).
	Headers map[string]string
	// Compression is "gzip" or "none" from WithGzip.
	Compression string
	// Timeout bounds each export request: WithTimeout's, else
	// FLUXLOOP_TIMEOUT's when no OTEL_EXPORTER_OTLP_TIMEOUT or
	// OTEL_EXPORTER_OTLP_TRACES_TIMEOUT is set.
	Timeout time.Duration
}

// ExporterFactory builds the exporter of a protocol for New.
//
// The exporter must be done with the spans it is given, their attribute
// lists and events included, when ExportSpans returns, as the OTLP exporters
// are (they encode the request before returning): the storage reuses that
// memory for its next Write. An exporter that keeps spans belongs in
// WithExporter, which does not reuse it.
type ExporterFactory func(ctx context.Context, cfg ExporterConfig) (sdktrace.SpanExporter, error)

// exporters are the registered protocols; gRPC registers itself from the
// otlpgrpc module.
var exporters = struct {
	sync.RWMutex
	m map[string]ExporterFactory
}{m: map[string]ExporterFactory{
	ProtocolHTTPProtobuf: newHTTPExporter,
	ProtocolHTTPJSON:     newHTTPExporter,
}}

// grpcImport is the package that registers ProtocolGRPC.
const grpcImport = "github.com/fluxloop/fluxloop-go/runtime/otlp/otlpgrpc"

// RegisterExporter makes a protocol selectable with WithProtocol and
// OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL; a package providing an exporter
// calls it from init, as the otlpgrpc module does for ProtocolGRPC:
//
//	import _ "github.com/fluxloop/fluxloop-go/runtime/otlp/otlpgrpc"
//
// Protocols are case-insensitive; registering one twice replaces its
// factory (the built-in ProtocolHTTPProtobuf and ProtocolHTTPJSON too). See
// ExporterFactory for what the exporter must guarantee.
func RegisterExporter(protocol string, f ExporterFactory) {
	protocol = strings.ToLower(strings.TrimSpace(protocol))
	if protocol == "" || protocol == "custom" || f == nil {
		panic("otlp: RegisterExporter with an empty or reserved protocol, or a nil factory")
	}
	exporters.Lock()
	exporters.m[protocol] = f
	exporters.Unlock()
}

// Storage is a fluxloop.Storage that exports observations as OpenTelemetry
// spans with an OTLP exporter. Make one with New, or let FLUXLOOP_STORAGE=otlp
// make it. The client's background writer calls its methods one at a time;
// Write must not be called concurrently (it reuses its memory).
type Storage struct {
	exp           sdktrace.SpanExporter
	res           *resource.Resource
	scope         instrumentation.Scope
	maxValue      int
	exportTimeout time.Duration
	protocol      string
	genAIContent  bool // add the GenAI content attributes to generations

	// reuse says the exporter is done with the spans when ExportSpans
	// returns (an exporter of the registry), so buf is kept between Writes.
	reuse bool
	buf   buffers
	keys  keyCache
}

// Option configures New.
type Option func(*options)

type options struct {
	protocol      string
	endpointURL   string
	headers       map[string]string
	gzip          *bool
	timeout       time.Duration
	exportTimeout time.Duration
	serviceName   string
	environment   string
	resource      *resource.Resource
	exporter      sdktrace.SpanExporter
	maxValue      int
	maxValueSet   bool
	genAIContent  *bool

	// from fluxloop.Config, used when neither an option nor an OTEL_
	// variable says otherwise
	fallbackService string
	fallbackTimeout time.Duration
}

// WithProtocol selects the OTLP protocol: ProtocolHTTPProtobuf (the
// default), ProtocolHTTPJSON, ProtocolGRPC (with the otlpgrpc module
// imported) or another registered with RegisterExporter. It wins over
// OTEL_EXPORTER_OTLP_TRACES_PROTOCOL and OTEL_EXPORTER_OTLP_PROTOCOL.
func WithProtocol(p string) Option {
	return func(o *options) { o.protocol = p }
}

// WithEndpointURL sets the collector's URL, used as it is (as
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is): "http://localhost:4318/v1/traces"
// for HTTP, "http://localhost:4317" for gRPC. An http:// URL means no TLS.
func WithEndpointURL(u string) Option {
	return func(o *options) { o.endpointURL = u }
}

// WithHeaders adds headers (gRPC metadata) to every export request, for
// instance an authorization header. They replace OTEL_EXPORTER_OTLP_HEADERS.
func WithHeaders(h map[string]string) Option {
	return func(o *options) { o.headers = h }
}

// WithGzip switches gzip compression of the requests on or off
// (OTEL_EXPORTER_OTLP_COMPRESSION=gzip). With gRPC, WithGzip(false) leaves
// the variable in charge.
func WithGzip(on bool) Option {
	return func(o *options) { o.gzip = &on }
}

// WithTimeout bounds each export request (OTEL_EXPORTER_OTLP_TIMEOUT; by
// default FLUXLOOP_TIMEOUT, 10 s).
func WithTimeout(d time.Duration) Option {
	return func(o *options) { o.timeout = d }
}

// WithExportTimeout bounds one Write of the storage, the exporter's retries
// included (default DefaultExportTimeout). The client's writer waits for it,
// so a collector that is down delays, and past the queue's size drops,
// observations, but never blocks the traced program.
func WithExportTimeout(d time.Duration) Option {
	return func(o *options) { o.exportTimeout = d }
}

// WithServiceName sets the resource's service.name, winning over
// OTEL_SERVICE_NAME.
func WithServiceName(name string) Option {
	return func(o *options) { o.serviceName = name }
}

// WithEnvironment sets the resource's deployment.environment.name (by
// default FLUXLOOP_ENVIRONMENT).
func WithEnvironment(env string) Option {
	return func(o *options) { o.environment = env }
}

// WithResource replaces the resource of the exported spans (by default the
// SDK's attributes, OTEL_RESOURCE_ATTRIBUTES, service.name and
// deployment.environment.name).
func WithResource(r *resource.Resource) Option {
	return func(o *options) { o.resource = r }
}

// WithExporter makes the storage hand its spans to exp instead of an OTLP
// exporter built from the other options and the environment: another
// exporter (stdouttrace, a vendor's), or tracetest.NewInMemoryExporter in
// tests. The storage shuts exp down on Close. exp may keep the spans it is
// given: each Write converts into new memory (the exporters of the
// protocols reuse it instead, see ExporterFactory).
func WithExporter(exp sdktrace.SpanExporter) Option {
	return func(o *options) { o.exporter = exp }
}

// WithMaxValueBytes bounds each string attribute made from recorded data
// (fluxloop.input, fluxloop.output, metadata, error message and stack) to n
// bytes; longer values are cut at a UTF-8 boundary and marked. n <= 0 keeps
// them whole (fluxloop's own FLUXLOOP_MAX_FIELD_BYTES still applies).
func WithMaxValueBytes(n int) Option {
	return func(o *options) { o.maxValue, o.maxValueSet = n, true }
}

// withFluxloopConfig takes the service name and environment from a client's
// Config (FLUXLOOP_SERVICE_NAME, FLUXLOOP_ENVIRONMENT) and the timeout from
// FLUXLOOP_TIMEOUT (a Go duration or a number of seconds, as fluxloop parses
// its durations; default 10s; an invalid value is ignored), as fallbacks.
func withFluxloopConfig(c fluxloop.Config) Option {
	return func(o *options) {
		if c.ServiceName != "" {
			o.fallbackService = c.ServiceName
		}
		if c.Environment != "" {
			o.environment = c.Environment
		}
		o.fallbackTimeout = 10 * time.Second
		if v := strings.TrimSpace(os.Getenv("FLUXLOOP_TIMEOUT")); v != "" {
			var d time.Duration
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				if f > 0 && f*float64(time.Second) < 1<<63 { // not NaN, Inf or too long
					d = time.Duration(f * float64(time.Second))
				}
			} else if pd, err := time.ParseDuration(v); err == nil {
				d = pd
			}
			if d > 0 {
				o.fallbackTimeout = d
			}
		}
	}
}

// New returns a storage exporting to the collector that opts and the
// OTEL_EXPORTER_OTLP_* variables name (see the package documentation). It
// does not connect: the first Write does. Give it to a client with
// fluxloop.WithStorage; the client closes it on Shutdown.
func New(ctx context.Context, opts ...Option) (*Storage, error) {
	o := options{
		maxValue:        DefaultMaxValueBytes,
		exportTimeout:   DefaultExportTimeout,
		fallbackService: os.Getenv("FLUXLOOP_SERVICE_NAME"),
		environment:     os.Getenv("FLUXLOOP_ENVIRONMENT"),
	}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if o.exportTimeout <= 0 {
		o.exportTimeout = DefaultExportTimeout
	}
	s := &Storage{
		scope:         instrumentation.Scope{Name: ScopeName},
		maxValue:      o.maxValue,
		genAIContent:  genAIContentFromEnv(),
		exportTimeout: o.exportTimeout,
	}
	if o.genAIContent != nil {
		s.genAIContent = *o.genAIContent
	}
	res, err := o.buildResource(ctx)
	if err != nil {
		return nil, err
	}
	s.res = res
	if o.exporter != nil {
		s.exp = o.exporter
		s.protocol = "custom"
		return s, nil
	}
	var factory ExporterFactory
	s.protocol, factory, err = o.resolveProtocol()
	if err != nil {
		return nil, err
	}
	s.exp, err = factory(ctx, o.exporterConfig(s.protocol))
	if err != nil {
		return nil, fmt.Errorf("otlp: creating the %s exporter: %w", s.protocol, err)
	}
	if s.exp == nil {
		return nil, fmt.Errorf("otlp: creating the %s exporter: the factory returned none", s.protocol)
	}
	s.reuse = true
	return s, nil
}

// resolveProtocol picks the protocol from the option or the environment,
// and its exporter's factory.
func (o *options) resolveProtocol() (string, ExporterFactory, error) {
	p, from := o.protocol, "WithProtocol"
	if p == "" {
		for _, name := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
			if v := strings.TrimSpace(os.Getenv(name)); v != "" {
				p, from = v, name
				break
			}
		}
	}
	protocol := strings.ToLower(strings.TrimSpace(p))
	if protocol == "" {
		protocol = ProtocolHTTPProtobuf
	}
	exporters.RLock()
	f := exporters.m[protocol]
	var names []string
	if f == nil {
		for n := range exporters.m {
			names = append(names, n)
		}
	}
	exporters.RUnlock()
	if f != nil {
		return protocol, f, nil
	}
	if protocol == ProtocolGRPC {
		return "", nil, fmt.Errorf("otlp: %s=%q: the gRPC exporter is in a module of its own, so that HTTP-only programs do not link it: import _ %q", from, p, grpcImport)
	}
	if !slices.Contains(names, ProtocolGRPC) {
		names = append(names, ProtocolGRPC+" (with "+grpcImport+")")
	}
	slices.Sort(names)
	return "", nil, fmt.Errorf("otlp: %s=%q: unsupported protocol (use %s)", from, p, strings.Join(names, ", "))
}

// timeoutFromEnv reports whether an OTEL_ variable sets the request timeout.
func timeoutFromEnv() bool {
	return os.Getenv("OTEL_EXPORTER_OTLP_TIMEOUT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT") != ""
}

// exporterConfig is what the options say about the exporter.
func (o *options) exporterConfig(protocol string) ExporterConfig {
	c := ExporterConfig{
		Protocol:    protocol,
		EndpointURL: o.endpointURL,
		Headers:     o.headers,
		Timeout:     o.requestTimeout(),
	}
	if o.gzip != nil {
		c.Compression = "none"
		if *o.gzip {
			c.Compression = "gzip"
		}
	}
	return c
}

// newHTTPExporter is the factory of ProtocolHTTPProtobuf and
// ProtocolHTTPJSON.
func newHTTPExporter(ctx context.Context, c ExporterConfig) (sdktrace.SpanExporter, error) {
	var opts []otlptracehttp.Option
	if c.Protocol == ProtocolHTTPJSON {
		opts = append(opts, otlptracehttp.WithEncoding(otlptracehttp.EncodingJSON))
	} else {
		opts = append(opts, otlptracehttp.WithEncoding(otlptracehttp.EncodingProtobuf))
	}
	if c.EndpointURL != "" {
		opts = append(opts, otlptracehttp.WithEndpointURL(c.EndpointURL))
	}
	if c.Headers != nil {
		opts = append(opts, otlptracehttp.WithHeaders(c.Headers))
	}
	switch c.Compression {
	case "gzip":
		opts = append(opts, otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
	case "none":
		opts = append(opts, otlptracehttp.WithCompression(otlptracehttp.NoCompression))
	}
	if c.Timeout > 0 {
		opts = append(opts, otlptracehttp.WithTimeout(c.Timeout))
	}
	return otlptracehttp.New(ctx, opts...)
}

// requestTimeout is the per-request timeout to pass to the exporter, or 0 to
// leave it to the exporter (OTEL_EXPORTER_OTLP_TIMEOUT or its default).
func (o *options) requestTimeout() time.Duration {
	if o.timeout > 0 {
		return o.timeout
	}
	if !timeoutFromEnv() && o.fallbackTimeout > 0 {
		return o.fallbackTimeout
	}
	return 0
}

// buildResource makes the resource of the exported spans.
func (o *options) buildResource(ctx context.Context) (*resource.Resource, error) {
	if o.resource != nil {
		return o.resource, nil
	}
	res, err := resource.New(ctx, resource.WithTelemetrySDK(), resource.WithFromEnv())
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("otlp: building the resource: %w", err)
	}
	var extra []attribute.KeyValue
	if o.serviceName != "" {
		extra = append(extra, attribute.String("service.name", o.serviceName))
	} else if _, ok := res.Set().Value("service.name"); !ok {
		name := o.fallbackService
		if name == "" {
			name = "unknown_service:" + filepath.Base(os.Args[0])
		}
		extra = append(extra, attribute.String("service.name", name))
	}
	if _, ok := res.Set().Value("deployment.environment.name"); !ok && o.environment != "" {
		extra = append(extra, attribute.String("deployment.environment.name", o.environment))
	}
	if len(extra) == 0 {
		return res, nil
	}
	merged, err := resource.Merge(res, resource.NewSchemaless(extra...))
	if err != nil {
		return nil, fmt.Errorf("otlp: building the resource: %w", err)
	}
	return merged, nil
}

// Protocol returns the protocol the storage exports with: ProtocolHTTPProtobuf,
// ProtocolHTTPJSON, ProtocolGRPC or another registered one (lowercase), or
// "custom" for WithExporter.
func (s *Storage) Protocol() string { return s.protocol }

// Resource returns the resource of the exported spans.
func (s *Storage) Resource() *resource.Resource { return s.res }

// Write converts the records to spans and exports them in one request.
// Records with a zero trace or span id are skipped and reported in the
// error; the others are still exported.
func (s *Storage) Write(ctx context.Context, records []fluxloop.Record) error {
	b := &s.buf
	if s.reuse {
		defer b.reset() // let the spans' strings go, keep the memory
	} else {
		// an exporter of WithExporter may keep the spans: give them
		// memory of their own
		b = &buffers{}
	}
	spans, convErr := s.convert(b, records)
	if len(spans) == 0 {
		return convErr
	}
	ctx, cancel := context.WithTimeout(ctx, s.exportTimeout)
	defer cancel()
	if err := s.exp.ExportSpans(ctx, spans); err != nil {
		return errors.Join(fmt.Errorf("otlp: exporting %d spans (%s): %w", len(spans), s.protocol, err), convErr)
	}
	return convErr
}

// Flush does nothing: Write exports before it returns.
func (s *Storage) Flush(context.Context) error { return nil }

// Close shuts the exporter down, closing its connections.
func (s *Storage) Close(ctx context.Context) error {
	if err := s.exp.Shutdown(ctx); err != nil {
		return fmt.Errorf("otlp: shutting the exporter down: %w", err)
	}
	return nil
}
