// Package otlp exports fluxloop observations as OpenTelemetry spans over
// OTLP, to Jaeger, Grafana Tempo, an OpenTelemetry Collector or any backend
// that speaks OTLP, and connects fluxloop with OpenTelemetry instrumentation
// running in the same process.
//
// # Enabling it
//
// The package is a module of its own, so that programs that do not export
// OTLP do not depend on OpenTelemetry:
//
//	go get github.com/fluxloop/fluxloop-go/runtime/otlp
//
// Link the package and select the storage by name (importing the package
// registers the storage "otlp", as database/sql drivers register
// themselves, and does nothing else):
//
//	import _ "github.com/fluxloop/fluxloop-go/runtime/otlp"
//
//	FLUXLOOP_STORAGE=otlp OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 ./agent
//
// or build the storage in code and give it to the client:
//
//	st, err := otlp.New(ctx, otlp.WithEndpointURL("http://localhost:4318/v1/traces"))
//	if err != nil {
//		log.Fatal(err)
//	}
//	if err := fluxloop.Init(fluxloop.WithStorage(st)); err != nil {
//		log.Fatal(err)
//	}
//	defer fluxloop.Shutdown(context.Background())
//
// The storage uses the official OpenTelemetry exporters, so the standard
// variables work as they do for any OpenTelemetry SDK:
//
//	OTEL_EXPORTER_OTLP_ENDPOINT         base URL; /v1/traces is appended for HTTP (default http://localhost:4318, or localhost:4317 for gRPC)
//	OTEL_EXPORTER_OTLP_TRACES_ENDPOINT  full URL, used as it is; wins over the above
//	OTEL_EXPORTER_OTLP_HEADERS          key=value,key2=value2 (URL-encoded values), e.g. authorization=Bearer%20xyz
//	OTEL_EXPORTER_OTLP_PROTOCOL         http/protobuf (default), http/json or grpc (OTEL_EXPORTER_OTLP_TRACES_PROTOCOL wins;
//	                                    grpc needs the otlpgrpc module, below)
//	OTEL_EXPORTER_OTLP_COMPRESSION      gzip or none
//	OTEL_EXPORTER_OTLP_TIMEOUT          per request, in milliseconds (default: FLUXLOOP_TIMEOUT, 10 s)
//	OTEL_EXPORTER_OTLP_CERTIFICATE, ..._CLIENT_CERTIFICATE, ..._CLIENT_KEY, ..._INSECURE   TLS
//	OTEL_SERVICE_NAME                   service.name of the resource; falls back to
//	                                    service.name in OTEL_RESOURCE_ATTRIBUTES, then
//	                                    FLUXLOOP_SERVICE_NAME, then unknown_service:<program>
//	OTEL_RESOURCE_ATTRIBUTES            more resource attributes
//
// Options given to New win over the variables. FLUXLOOP_ENVIRONMENT becomes
// the resource attribute deployment.environment.name.
//
// # HTTP and gRPC
//
// This package exports over HTTP (otlptracehttp, protobuf or JSON). The gRPC
// exporter (otlptracegrpc) is in a module of its own, as in OpenTelemetry
// Go, and importing it registers the protocol grpc (RegisterExporter):
//
//	go get github.com/fluxloop/fluxloop-go/runtime/otlp/otlpgrpc
//
//	import _ "github.com/fluxloop/fluxloop-go/runtime/otlp/otlpgrpc"
//
//	FLUXLOOP_STORAGE=otlp OTEL_EXPORTER_OTLP_PROTOCOL=grpc OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4317 ./agent
//
// Without that import, asking for grpc is an error that names it. What the
// split saves is smaller than it sounds: this package's code does not
// import google.golang.org/grpc, but otlptracehttp itself does (its shared
// configuration package, and the OTLP collector protobuf package it encodes
// requests with, import grpc and grpc-gateway), so an HTTP-only program
// still links part of gRPC and its go.mod still requires
// google.golang.org/grpc. It does not link otlptracegrpc, its gRPC client
// connection and retry machinery.
//
// # What a span holds
//
// Every observation becomes one span with the same trace id and span id (the
// fluxloop ids are OpenTelemetry ids), its parent's span id, and its start
// and end times, so links between fluxloop files and a tracing backend hold.
// The span's name is the observation's name (the function's name), and its
// attributes follow the OpenTelemetry semantic conventions for generative AI
// where they apply:
//
//	fluxloop type   gen_ai.operation.name   more                                       span kind
//	agent           invoke_agent            gen_ai.agent.name                          internal
//	tool            execute_tool            gen_ai.tool.name                           internal
//	generation      chat                    gen_ai.request.model,                      client
//	                                        gen_ai.usage.input_tokens, gen_ai.usage.output_tokens
//	others          (none)                                                             internal
//
// Metadata keys that start with "gen_ai." are exported as they are (a JSON
// list of strings, such as gen_ai.response.finish_reasons, as a string
// slice), so the calls fluxloopllm records carry gen_ai.provider.name,
// gen_ai.response.id, gen_ai.usage.* and the rest, and
// SetAttributes(ctx, fluxloop.Attribute("gen_ai.operation.name",
// "generate_content")) refines the defaults. A generation's content goes to
// the conventions' opt-in attributes gen_ai.input.messages,
// gen_ai.output.messages, gen_ai.system_instructions and
// gen_ai.tool.definitions (messages of {role, parts}) only with
// WithGenAIContent(true) or OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true,
// derived from the recorded request (OpenAI Chat Completions or Responses,
// Anthropic Messages, Gemini) and reply. Every span also has:
//
//	fluxloop.observation.type   the fluxloop type
//	fluxloop.input              the input, a JSON object as a string
//	fluxloop.output             the output, JSON as a string
//	code.file.path              source file (the stable semantic-convention names,
//	code.line.number            not the deprecated code.filepath and code.lineno)
//	fluxloop.metadata.<key>     every other metadata entry
//	fluxloop.truncated          true when a value was cut
//	fluxloop.status_message     the status message (for instance "panic")
//
// Strings (input, output, metadata, error texts) longer than the limit set
// by WithMaxValueBytes (default 16 KiB) are cut at a UTF-8 boundary and end
// with "…(truncated N bytes)". An observation with an error gets status
// Error with the message as description, the attribute error.type, and an
// "exception" event with exception.message, exception.type and
// exception.stacktrace (the recorded traceback). The root observation of a
// run carries its trace's session.id, user.id, fluxloop.trace.tags and
// fluxloop.trace.metadata.<key>.
//
// Each fluxloop.Record becomes an sdktrace.ReadOnlySpan of the package's
// own, handed to the exporter's ExportSpans directly: no OpenTelemetry
// tracer runs, and the fluxloop runtime itself never imports OpenTelemetry.
// The records' ids are already OpenTelemetry ids and a run's root carries
// its trace's fields, so the conversion neither parses nor joins anything.
// The spans, their attributes and events live in memory the storage reuses
// from one Write to the next, since the OTLP exporters are done with them
// when ExportSpans returns (an exporter given with WithExporter gets new
// memory each time, so it may keep them). Each Write of the background
// writer is one export request (the writer batches up to 4096
// observations), bounded by WithExportTimeout (default 30 s) including the
// exporter's retries; Flush has nothing to do and Close shuts the exporter
// down.
//
// # OpenTelemetry in the same process
//
// InstallBridge, called once at startup as otel.SetTracerProvider would be,
// installs a bridge (fluxloop.SetBridge) between fluxloop and the
// OpenTelemetry API's context; importing the package does not:
//
//	otlp.InstallBridge()
//
// With the bridge installed:
//
//   - an observation started in a ctx that carries a valid OpenTelemetry span
//     and no fluxloop observation (for instance inside an otelhttp handler)
//     joins that span's trace as its child, and is recorded or not as that
//     span is sampled or not;
//   - OpenTelemetry spans started from a traced function's ctx (an
//     instrumented HTTP client, a database driver) are children of the
//     function's observation, because trace.SpanContextFromContext(ctx)
//     returns the observation's ids.
//
// Both directions only need the ids: spans made by an OpenTelemetry SDK and
// exported by it land in the same trace as the observations this storage
// exports.
//
// The bridge is explicit, as otel.SetTracerProvider is, because it is a
// process-wide choice of which trace observations join; it works with any
// storage, not only this one. It is cheap: it adds no allocation to a traced
// call, answering OpenTelemetry's lookup of the active span in an
// observation's ctx only when one is made (fluxloop.Bridge.Value), and an
// observation started without a fluxloop parent looks the OpenTelemetry span
// up in its ctx (internal/benchmarks: CallerOnlyOTelBridge against
// CallerOnlyNoBridge). fluxloop.SetBridge(nil) removes it. Two limits come from
// the runtime: an observation started in the ctx of an OpenTelemetry span
// that is itself under an observation is a child of that observation, not of
// the OpenTelemetry span (the bridge is asked only when ctx carries no
// observation); and OpenTelemetry spans under an unsampled fluxloop trace do
// not see it (the bridge wraps only recorded observations), so their own
// sampler decides.
package otlp
