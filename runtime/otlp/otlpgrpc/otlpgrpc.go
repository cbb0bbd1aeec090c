// Package otlpgrpc adds OTLP over gRPC to the otlp storage
// (github.com/fluxloop/fluxloop-go/runtime/otlp). It is a module of its own,
// as OpenTelemetry Go's otlptracegrpc is, so that programs exporting over
// HTTP do not link the gRPC exporter:
//
//	go get github.com/fluxloop/fluxloop-go/runtime/otlp/otlpgrpc
//
//	import (
//		_ "github.com/fluxloop/fluxloop-go/runtime/otlp"
//		_ "github.com/fluxloop/fluxloop-go/runtime/otlp/otlpgrpc"
//	)
//
//	FLUXLOOP_STORAGE=otlp OTEL_EXPORTER_OTLP_PROTOCOL=grpc OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4317 ./agent
//
// Importing it registers otlp.ProtocolGRPC (otlp.RegisterExporter), which
// OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_EXPORTER_OTLP_TRACES_PROTOCOL and
// otlp.WithProtocol(otlp.ProtocolGRPC) select. Without the import, asking
// for grpc is an error that names it. The exporter is the official
// otlptracegrpc: the OTEL_EXPORTER_OTLP_* variables work as the otlp
// package documents (default endpoint localhost:4317). otlp.WithEndpointURL,
// WithHeaders (as gRPC metadata), WithGzip(true) and WithTimeout win over
// them; WithGzip(false) leaves OTEL_EXPORTER_OTLP_COMPRESSION in charge, as
// the gRPC exporter has no way to say "none" over it.
package otlpgrpc

import (
	"context"

	"github.com/fluxloop/fluxloop-go/runtime/otlp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

func init() { otlp.RegisterExporter(otlp.ProtocolGRPC, newExporter) }

// newExporter is the otlp.ExporterFactory of otlp.ProtocolGRPC. The
// exporter encodes each request before ExportSpans returns, as
// otlp.ExporterFactory requires.
func newExporter(ctx context.Context, c otlp.ExporterConfig) (sdktrace.SpanExporter, error) {
	var opts []otlptracegrpc.Option
	if c.EndpointURL != "" {
		opts = append(opts, otlptracegrpc.WithEndpointURL(c.EndpointURL))
	}
	if c.Headers != nil {
		opts = append(opts, otlptracegrpc.WithHeaders(c.Headers))
	}
	if c.Compression == "gzip" {
		opts = append(opts, otlptracegrpc.WithCompressor("gzip"))
	}
	if c.Timeout > 0 {
		opts = append(opts, otlptracegrpc.WithTimeout(c.Timeout))
	}
	return otlptracegrpc.New(ctx, opts...)
}
