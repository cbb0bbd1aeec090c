// Package benchmarks compares the cost of fluxloop's generated
// instrumentation with a plain call, the timing floor and an OpenTelemetry SDK
// span, and measures the background writer's throughput. It holds only tests
// and benchmarks, so that OpenTelemetry never enters the runtime's imports.
//
//	go test ./internal/benchmarks -run '^$' -bench . -benchmem -cpu 1 -count 5
//
// The sustained-load check (50,000 observations/s for 10 s without a drop)
// runs only with FLUXLOOP_SOAK=1.
package benchmarks
