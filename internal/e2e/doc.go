// Package e2e holds the end-to-end test of the OTLP storage against a real
// Jaeger (v1.76.0, its v2 "jaeger" binary), built once into a cache by
// scripts/jaeger.sh:
//
//	bash scripts/jaeger.sh && go test -v ./internal/e2e/
//
// The test starts Jaeger with in-memory storage on free loopback ports,
// builds and runs the instrumented program in cmd/e2eagent with
// FLUXLOOP_STORAGE=otlp, and reads the run back through Jaeger's query API.
// Without the binary (FLUXLOOP_JAEGER, or
// ${XDG_CACHE_HOME:-$HOME/.cache}/fluxloop/jaeger-v1.76.0) the test is
// skipped.
package e2e
