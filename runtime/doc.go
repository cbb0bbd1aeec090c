// Package fluxloop is the runtime of fluxloop-go: it records a tree of
// observations for each run of a Go AI agent and writes them, in FluxLoop's
// format, to JSON lines files (or another storage). It is the Go counterpart
// of FluxLoop's Python SDK; the fluxloopgen code generator rewrites functions
// marked //fluxloop:agent or //fluxloop:trace so that they call it.
//
// # Quick start
//
// Mark functions and run the generator; call Init (optional) and Shutdown in
// main:
//
//	//fluxloop:agent
//	func Answer(ctx context.Context, question string) (string, error) { ... }
//
//	func main() {
//		if err := fluxloop.Init(fluxloop.WithServiceName("support-bot")); err != nil {
//			log.Fatal(err)
//		}
//		defer fluxloop.Shutdown(context.Background())
//		...
//	}
//
// Each call of Answer is then an observation in .fluxloop/observations.jsonl,
// with its inputs, output, error, timing, source position and its children
// (the traced functions it called), and each run a line in
// .fluxloop/traces.jsonl.
//
// Blocks of code that are not functions get an observation with Start:
//
//	ctx, obs := fluxloop.Start(ctx, "db.query", fluxloop.WithType(fluxloop.TypeTool))
//	defer obs.End()
//
// Inside a traced function, add data to its observation through ctx:
// SetAttributes, SetUsage (model and tokens of an LLM call), RecordError,
// SetTrace (session, user and tags of the whole run). Tests assert on what
// was recorded with package fluxlooptest.
//
// # Exiting without losing observations
//
// Observations are written by a background goroutine. A trace is written as
// soon as its root observation ends, and any other observation within
// FlushInterval (200ms), so a program that forgets Shutdown loses only what
// ended in its last millisecond or so: of a program making 7 traced calls of
// 1 ms each and returning from main without Shutdown, 6 are written in 19
// runs of 20 (87 of 88 with 88 calls). Shutdown writes everything queued;
// nothing can report the
// observations lost when the process exits without it. log.Fatal, os.Exit
// and a panic that ends the program skip deferred calls, a deferred
// Shutdown among them, so call Shutdown before them:
//
//	if err != nil {
//		fluxloop.Shutdown(context.Background())
//		log.Fatal(err)
//	}
//
// Tests that trace through the default client, without package
// fluxlooptest (which flushes before every read), flush once for the whole
// package in TestMain:
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		fluxloop.Shutdown(context.Background())
//		os.Exit(code)
//	}
//
// Stats tells what was lost: Enqueued counts what reached the queue,
// Written what the storage accepted, Dropped what a full queue (or a shut
// down client) refused and Failed what the storage returned an error for;
// after Flush or Shutdown, Enqueued = Written + Failed.
//
// # What generated code calls
//
// The generator emits, per function, a package-level Site and:
//
//	ctx, __fluxloopSpan := fluxloop.Enter(ctx, &__fluxloopSite_Add)
//	if __fluxloopSpan != nil {
//		__fluxloopSpan.Inputs(fluxloop.V(a), fluxloop.V(b))
//		defer func() {
//			if __fluxloopPanic := recover(); __fluxloopPanic != nil {
//				__fluxloopSpan.Panic(__fluxloopPanic)
//				panic(__fluxloopPanic)
//			}
//			__fluxloopSpan.Return(__fluxloopR1, fluxloop.V(__fluxloopR0))
//		}()
//	}
//
// Functions with no context.Context in reach call EnterLocal instead. Users
// never need Site, Enter, EnterLocal, V, Inputs, Return or Panic.
//
// # Environment
//
// Init and the lazily created default client read these variables; Init
// reports an invalid value as an error naming the variable, the lazy default
// warns once on stderr and uses the default value.
//
//	FLUXLOOP_ENABLED          true          false makes every traced call a near-free no-op
//	FLUXLOOP_DIR              ./.fluxloop   directory of the file storage (alias FLUXLOOP_OFFLINE_DIR)
//	FLUXLOOP_STORAGE          file          file, stdout, memory, http (a FluxLoop collector, after importing
//	                                        runtime/collector, which reads FLUXLOOP_API_URL, FLUXLOOP_API_KEY
//	                                        and FLUXLOOP_TIMEOUT), otlp (after importing runtime/otlp), or a
//	                                        name given to RegisterStorage
//	FLUXLOOP_SAMPLE_RATE      1             fraction of traces recorded, decided per trace from its id
//	FLUXLOOP_CAPTURE          all           all, input, output or none: which values are recorded
//	FLUXLOOP_MAX_FIELD_BYTES  65536         byte budget of each captured value; the rest is cut, visibly
//	FLUXLOOP_MAX_DEPTH        12            nesting captured; deeper values become "<too deep: T>"
//	FLUXLOOP_MAX_ITEMS        100           elements captured per slice, array or map, then "… N more"
//	FLUXLOOP_MAX_NODES        200           values (fields, elements, entries; a string is one) per capture
//	FLUXLOOP_USER_MARSHALERS  false         true lets capture call MarshalJSON of the program's types
//	FLUXLOOP_BATCH_SIZE       10            queued observations that trigger a write
//	FLUXLOOP_FLUSH_INTERVAL   200ms         longest wait before a write (Go duration or seconds); a trace is
//	                                        written as soon as its root ends
//	FLUXLOOP_MAX_QUEUE_SIZE   16384         observations waiting for the writer; beyond, dropped and counted
//	FLUXLOOP_DEBUG            false         log every storage error and drop, not just the first
//	FLUXLOOP_SERVICE_NAME                   recorded in each trace's metadata (service_name)
//	FLUXLOOP_ENVIRONMENT                    recorded in each trace's metadata (environment)
//
// The queue default is larger than FluxLoop's 1000 so that a program making
// 50,000 observations per second rides out a third of a second of storage
// stall without a drop.
//
// # Data model
//
// An Observation (observations.jsonl) has FluxLoop's snake_case fields: id (16
// hex digits) and trace_id (32 hex digits), the same bits as OpenTelemetry's
// span and trace ids; parent_observation_id (absent for a root); type; name;
// start_time and end_time (RFC 3339, UTC, nanoseconds); input (an object from
// parameter name to value), output (the single result, or an array of
// several); error and level ("error" when an error was recorded, else
// "info"); status_message ("panic" for panics); metadata (code.filepath and
// code.lineno, user attributes, error_type and traceback for errors and
// panics, fluxloop.truncated); and for generations model, prompt_tokens,
// completion_tokens and total_tokens. A Trace (traces.jsonl) is written when
// a root observation ends: id, name, times, input, output, error, metadata
// (service_name, environment, SetTrace's), tags, session_id, user_id.
//
// # Mechanisms and their cost
//
// The numbers are medians of `go test ./internal/benchmarks -bench . -cpu 1
// -count 5` on the project's 2-core machines, where a plain call costs 1.1 ns
// and the cheapest timing of a call (time.Now plus a deferred time.Since)
// 65 ns.
//
// Disabled. Enter's first statement is one atomic load of the default
// client's mode and a compare; Enter is inlined. A disabled traced call costs
// under 2 ns more than a plain one and allocates nothing.
//
// Propagation. A span implements context.Context itself (it embeds the
// parent ctx and answers Value for its own key), so Enter allocates one
// 256-byte object for both (up to three arguments and one result are
// stored in it; more take a second allocation). Lookups try a type assertion before
// ctx.Value. The parent is the span in ctx, else the goroutine's current span,
// else none (a new trace, sampled here).
//
// Goroutine-local fallback. Every span registers as its goroutine's current
// span when it starts and restores the previous one when it ends, skipping
// spans that ended out of order, even when it ends on another goroutine.
// Goroutine ids come from github.com/petermattis/goid (2 ns); the table is 64
// shards of mutex plus open-addressing hash table, so a start and an end
// each cost an uncontended lock and a probe (together about 30 ns), and the
// table holds only goroutines that are inside traced calls. Handoff, Adopt
// and Release carry the current observation into a new goroutine.
//
// Goroutines. In traced functions, generated code hands the current
// observation to the goroutines they start: go f(x, y) becomes
// go fluxloop.Follow2(f)(x, y) (a typed helper per signature, Follow0 to
// Follow6VR3, about 1.5x a plain go statement; the reflective Follow
// beyond them), sync.WaitGroup.Go(f) gets Bind(f) and errgroup.Group's Go
// and TryGo get BindErr(f). Goroutines started elsewhere are not followed:
// by other libraries (worker pools such as conc), by time.AfterFunc, or
// callbacks a library runs later; traced functions without a ctx called
// there are roots. Pass them a ctx, or wrap the function with Bind or
// BindErr by hand.
//
// Recording. A traced call pays for two clock readings (plus one for the
// end), a span allocation, random ids, the goroutine table and a non-blocking
// channel send: about 280 ns in all with one allocation (EnabledCallerOnly),
// against about 1400 ns and 7 allocations for an OpenTelemetry SDK span with
// the same attributes and a discarding exporter. Scalars, strings and
// errors are captured without allocating; composite values are encoded to
// JSON during the call, because the program may change them afterwards,
// by the capture engine described below. Everything else, the hex ids, JSON
// encoding, redaction and truncation, happens in a background writer
// goroutine per client, which polls the queue while busy (so a span's end
// rarely has to wake it) and turns spans into typed records that the
// built-in storages encode as JSON lines: 1.5 to 2 million observations per
// second on one core, 380 bytes each (Writer). When the queue is full,
// observations are dropped and counted (Stats) and one warning is printed;
// the program never blocks nor yields for it: with 64 goroutines spinning
// on traced calls on 2 cores, the writer's one share of the CPU keeps a few
// percent of the observations (make load), and a program that needs them
// all raises FLUXLOOP_MAX_QUEUE_SIZE or traces less.
//
// On a single core under a loop that does nothing but traced calls, the
// writer takes its share of the CPU: that loop measures about 530 ns per
// call (Enabled) while dropping about 60% of the observations, since it
// makes them faster than any writer could store them. With a sustained
// 50,000 observations per second (internal/benchmarks, FLUXLOOP_SOAK=1)
// nothing is dropped.
//
// Capture. Generated code captures arguments of the predeclared scalar types
// with typed constructors (Int, Uint, Float, Bool, String: no reflection, no
// allocation) and everything else with V, which hands composite values to a
// capture engine built to be left on for every function:
//
//   - Bounded work. It walks the value itself and stops at a byte budget
//     (MaxFieldBytes, 64 KiB, which keeps a 20 KB prompt whole), a budget
//     of values (MaxNodes, 200 fields, elements and entries, a string
//     counting as one, so a large data structure handed to a traced
//     function costs microseconds), a depth (MaxDepth, 12) and a number of
//     elements per slice, array or map (MaxItems, 100), writing a marker
//     where it stops: "… 999,900 more",
//     "<too deep: T>", "…(truncated N bytes)". Containers on the path are
//     remembered, so a cycle is written as "<cycle: *T>" at the cost of a
//     scan of at most MaxDepth pointers. Capturing a 1e6-element slice costs
//     what capturing a 100-element one does; so does each call of a
//     recursion that hands down a growing path. The observation gets
//     metadata fluxloop.truncated = true.
//   - No behaviour change. It calls none of the program's methods that
//     could change the value, block or panic: not MarshalJSON, MarshalText or
//     String. The exceptions are an error's Error (its text is what an error
//     means) and slog.LogValuer's LogValue, the standard hook a type uses to
//     describe or redact itself for observability: a type whose LogValue
//     says "REDACTED" never has its fields written. Both run with panics
//     recovered and tracing quiet. WithUserMarshalers (or
//     FLUXLOOP_USER_MARSHALERS) trusts MarshalJSON, for all types or the
//     types given.
//   - No guarded memory. A struct that holds a sync or sync/atomic value
//     (Mutex, RWMutex, WaitGroup, atomic.Int64, ...), directly or in fields
//     it contains by value, is shared state that another goroutine may be
//     changing under its lock: it is recorded as "<T: not read, it holds a
//     sync.Mutex>", never read. Other data races are the program's own.
//   - Useful output. Exported fields under their json tag names, in
//     declaration order, with "-", omitempty and omitzero honoured and
//     embedded structs' fields promoted, so an LLM request reads like its API
//     JSON. A type of the program whose fields are all unexported shows them
//     under their Go names, as %+v would, instead of {}; a standard-library
//     type without exported fields is written as "<T>". Standard-library
//     types get their usual forms without calling user code: time.Time in
//     RFC 3339, time.Duration as "1.5s", *url.URL with its password
//     redacted, net/netip and net addresses, math/big numbers, a
//     json.RawMessage as the JSON it holds, []byte as text when it is UTF-8
//     and base64 otherwise. A field tagged `fluxloop:"-"` is left out,
//     `fluxloop:"redact"` is written as "***", and so are fields whose names
//     DefaultRedactor flags.
//   - Cheap. Encoders are built once per type and cached; scalar struct
//     fields are read straight from memory; bytes are encoded into the free
//     tail of shared 16 KiB slabs, so capturing a pointer to a request
//     struct allocates nothing (a struct passed by value is boxed once).
//     About 1.4x faster than json.Marshal of the same 10-field request
//     (CaptureVsJSON).
//
// When a function returns a non-nil error and its other results are all
// zero values, they are left out of the output: by convention they carry
// nothing.
//
// Sampling. The decision is made once per trace from its id's low bits (like
// OpenTelemetry's TraceIDRatioBased), so a trace is kept or dropped whole. An
// unsampled root is a span that records nothing; its descendants get nil
// spans.
//
// Redaction. Keys whose words (split at camelCase humps and separators)
// name secrets have their values replaced by "***" (see DefaultRedactor):
// struct fields as they are captured, and in the writer parameter names,
// metadata keys and map keys nested in captured values, which are only
// scanned when their JSON contains a suspicious fragment. The writer
// replaces values in the JSON text, so keys keep their order. WithRedactor
// replaces the writer's rule.
//
// Storage. The file storage appends each batch with one write call of whole
// lines under flock, so several processes can share the files. Storages are
// pluggable (Storage, RegisterStorage); MemoryStorage keeps records for
// tests.
//
// # Global state
//
// The default client (an atomic pointer, created from the environment on
// first use unless Init or SetDefault installed one), the goroutine table and
// the storage registry are the package's only global state.
package fluxloop
