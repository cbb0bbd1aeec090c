package otlp

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
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

// The protocols of WithProtocol and OTEL_EXPORTER_OTLP_PROTOCOL.
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

func init() {
	fluxloop.RegisterStorage(StorageName, func(c fluxloop.Config) (fluxloop.Storage, error) {
		opts := []Option{withFluxloopConfig(c)}
		return New(context.Background(), opts...)
	})
	InstallBridge()
}

// Storage is a fluxloop.Storage that exports observations as OpenTelemetry
// spans with an OTLP exporter. Make one with New, or let FLUXLOOP_STORAGE=otlp
// make it. The client's background writer calls its methods one at a time.
type Storage struct {
	exp           sdktrace.SpanExporter
	res           *resource.Resource
	scope         instrumentation.Scope
	maxValue      int
	exportTimeout time.Duration
	protocol      string

	spans []sdktrace.ReadOnlySpan // reused between Writes
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

	// from fluxloop.Config, used when neither an option nor an OTEL_
	// variable says otherwise
	fallbackService string
	fallbackTimeout time.Duration
}

// WithProtocol selects the OTLP protocol: ProtocolHTTPProtobuf (the
// default), ProtocolHTTPJSON or ProtocolGRPC. It wins over
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
// tests. The storage shuts exp down on Close.
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

// withFluxloopConfig takes the service name, environment and timeout from a
// client's Config (FLUXLOOP_SERVICE_NAME, FLUXLOOP_ENVIRONMENT,
// FLUXLOOP_TIMEOUT), as fallbacks.
func withFluxloopConfig(c fluxloop.Config) Option {
	return func(o *options) {
		if c.ServiceName != "" {
			o.fallbackService = c.ServiceName
		}
		if c.Environment != "" {
			o.environment = c.Environment
		}
		o.fallbackTimeout = c.Timeout
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
		exportTimeout: o.exportTimeout,
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
	s.protocol, err = o.resolveProtocol()
	if err != nil {
		return nil, err
	}
	switch s.protocol {
	case ProtocolGRPC:
		s.exp, err = otlptracegrpc.New(ctx, o.grpcOptions()...)
	default:
		s.exp, err = otlptracehttp.New(ctx, o.httpOptions(s.protocol)...)
	}
	if err != nil {
		return nil, fmt.Errorf("otlp: creating the %s exporter: %w", s.protocol, err)
	}
	return s, nil
}

// resolveProtocol picks the protocol from the option or the environment.
func (o *options) resolveProtocol() (string, error) {
	p, from := o.protocol, "WithProtocol"
	if p == "" {
		for _, name := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
			if v := strings.TrimSpace(os.Getenv(name)); v != "" {
				p, from = v, name
				break
			}
		}
	}
	switch strings.ToLower(p) {
	case "", ProtocolHTTPProtobuf:
		return ProtocolHTTPProtobuf, nil
	case ProtocolHTTPJSON:
		return ProtocolHTTPJSON, nil
	case ProtocolGRPC:
		return ProtocolGRPC, nil
	}
	return "", fmt.Errorf("otlp: %s=%q: unsupported protocol (use %s, %s or %s)", from, p, ProtocolHTTPProtobuf, ProtocolHTTPJSON, ProtocolGRPC)
}

// timeoutFromEnv reports whether an OTEL_ variable sets the request timeout.
func timeoutFromEnv() bool {
	return os.Getenv("OTEL_EXPORTER_OTLP_TIMEOUT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT") != ""
}

func (o *options) httpOptions(protocol string) []otlptracehttp.Option {
	var opts []otlptracehttp.Option
	if protocol == ProtocolHTTPJSON {
		opts = append(opts, otlptracehttp.WithEncoding(otlptracehttp.EncodingJSON))
	} else if o.protocol != "" {
		// an explicit http/protobuf wins over a variable saying http/json
		opts = append(opts, otlptracehttp.WithEncoding(otlptracehttp.EncodingProtobuf))
	}
	if o.endpointURL != "" {
		opts = append(opts, otlptracehttp.WithEndpointURL(o.endpointURL))
	}
	if o.headers != nil {
		opts = append(opts, otlptracehttp.WithHeaders(o.headers))
	}
	if o.gzip != nil {
		c := otlptracehttp.NoCompression
		if *o.gzip {
			c = otlptracehttp.GzipCompression
		}
		opts = append(opts, otlptracehttp.WithCompression(c))
	}
	if t := o.requestTimeout(); t > 0 {
		opts = append(opts, otlptracehttp.WithTimeout(t))
	}
	return opts
}

func (o *options) grpcOptions() []otlptracegrpc.Option {
	var opts []otlptracegrpc.Option
	if o.endpointURL != "" {
		opts = append(opts, otlptracegrpc.WithEndpointURL(o.endpointURL))
	}
	if o.headers != nil {
		opts = append(opts, otlptracegrpc.WithHeaders(o.headers))
	}
	if o.gzip != nil && *o.gzip {
		// (the gRPC exporter has no way to say "none" over the variable)
		opts = append(opts, otlptracegrpc.WithCompressor("gzip"))
	}
	if t := o.requestTimeout(); t > 0 {
		opts = append(opts, otlptracegrpc.WithTimeout(t))
	}
	return opts
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
// ProtocolHTTPJSON, ProtocolGRPC, or "custom" for WithExporter.
func (s *Storage) Protocol() string { return s.protocol }

// Resource returns the resource of the exported spans.
func (s *Storage) Resource() *resource.Resource { return s.res }

// Write converts the batch's observations to spans and exports them in one
// request. Observations with malformed ids are skipped and reported in the
// error; the others are still exported.
func (s *Storage) Write(ctx context.Context, b fluxloop.Batch) error {
	spans, convErr := s.convert(s.spans[:0], b)
	defer func() {
		clear(spans) // let the records go
		s.spans = spans[:0]
	}()
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
