package otlp_test

import (
	"context"
	"log"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"github.com/fluxloop/fluxloop-go/runtime/otlp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Export to a collector named in code instead of the environment. (For
// FLUXLOOP_STORAGE=otlp, importing the package is enough: it registers the
// storage.)
func ExampleNew() {
	ctx := context.Background()
	st, err := otlp.New(ctx,
		otlp.WithEndpointURL("http://localhost:4318/v1/traces"),
		otlp.WithHeaders(map[string]string{"authorization": "Bearer my-token"}),
		otlp.WithServiceName("support-bot"))
	if err != nil {
		log.Fatal(err)
	}
	if err := fluxloop.Init(fluxloop.WithStorage(st)); err != nil {
		log.Fatal(err)
	}
	defer fluxloop.Shutdown(ctx)
	// ... traced functions run here ...
}

// Install the bridge once at startup, as otel.SetTracerProvider, when the
// program also uses OpenTelemetry instrumentation: then traced functions
// called inside a span of an OpenTelemetry-instrumented server join its
// trace, and OpenTelemetry spans started from a traced function's ctx nest
// under its observation. Importing the package does not install it.
func ExampleInstallBridge() {
	otlp.InstallBridge()

	tp := sdktrace.NewTracerProvider()
	defer tp.Shutdown(context.Background())
	ctx, span := tp.Tracer("server").Start(context.Background(), "HTTP POST /ask")
	defer span.End()

	// An observation started here is a child of the server span, in its trace.
	ctx, obs := fluxloop.Start(ctx, "Answer", fluxloop.WithType(fluxloop.TypeAgent))
	defer obs.End()

	// And this OpenTelemetry span is a child of the observation.
	_, db := tp.Tracer("db").Start(ctx, "SELECT docs")
	db.End()
}
