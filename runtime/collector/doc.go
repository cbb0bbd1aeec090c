// Package collector is the fluxloop storage that sends records to a FluxLoop
// collector over HTTP, the storage named "http".
//
// # Enabling it
//
// Link the package, which registers the storage, and select it by name:
//
//	import _ "github.com/fluxloop/fluxloop-go/runtime/collector"
//
//	FLUXLOOP_STORAGE=http FLUXLOOP_API_URL=https://collector.example FLUXLOOP_API_KEY=... ./agent
//
// or build the storage in code and give it to the client:
//
//	st, err := collector.New(collector.Options{URL: "https://collector.example", APIKey: key})
//	if err != nil {
//		log.Fatal(err)
//	}
//	if err := fluxloop.Init(fluxloop.WithStorage(st)); err != nil {
//		log.Fatal(err)
//	}
//	defer fluxloop.Shutdown(ctx)
//
// Selected by name, the storage reads these variables itself:
//
//	FLUXLOOP_API_URL   the collector's base URL (POST /api/traces, /api/traces/{id}/observations); required
//	FLUXLOOP_API_KEY   sent as Authorization: Bearer; never logged
//	FLUXLOOP_TIMEOUT   bound of each request, a Go duration or seconds (default 10s)
//
// and takes the service name, environment, spill directory and debug flag
// from the client's fluxloop.Config (FLUXLOOP_SERVICE_NAME,
// FLUXLOOP_ENVIRONMENT, FLUXLOOP_DIR, FLUXLOOP_DEBUG). New reads no variable:
// its Options say everything.
//
// # What it does
//
// Each write of the client's writer becomes a few gzipped POST requests, up
// to Options.Parallel of them in flight; failures are retried with
// exponential backoff honouring Retry-After, a collector that keeps failing
// opens a circuit breaker, and records that cannot be delivered are appended
// to the JSONL files of the file storage (spilled) instead. See Storage for
// the wire format and the guarantees.
package collector
