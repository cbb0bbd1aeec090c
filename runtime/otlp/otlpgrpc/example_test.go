package otlpgrpc_test

import (
	"context"
	"log"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"github.com/fluxloop/fluxloop-go/runtime/otlp"
	_ "github.com/fluxloop/fluxloop-go/runtime/otlp/otlpgrpc" // registers otlp.ProtocolGRPC
)

// Export over gRPC to a collector named in code. With the import above,
// OTEL_EXPORTER_OTLP_PROTOCOL=grpc and FLUXLOOP_STORAGE=otlp do the same
// without code.
func Example() {
	ctx := context.Background()
	st, err := otlp.New(ctx,
		otlp.WithProtocol(otlp.ProtocolGRPC),
		otlp.WithEndpointURL("http://localhost:4317"))
	if err != nil {
		log.Fatal(err)
	}
	if err := fluxloop.Init(fluxloop.WithStorage(st)); err != nil {
		log.Fatal(err)
	}
	defer fluxloop.Shutdown(ctx)
	// ... traced functions run here ...
}
