// Package sameoutput proves that instrumentation never changes a program. It
// holds only tests.
//
// Each case is a txtar file testdata/NAME.txtar: a small package main (one
// or more .go files, with //fluxloop:trace and //fluxloop:agent directives,
// calling fluxloop.Shutdown before it returns so that the records are
// flushed) and a "want" section of expectations on what the instrumented
// program records. The txtar comment says what the case is about.
//
// TestSameOutput writes every case as its own package of one temporary
// module that requires the runtime through a replace to this checkout
// (GOFLAGS=-mod=mod), builds them all with go build -race, instruments them
// in place with generator.Generate and generator.Write, and builds them with
// -race again. One go build for all the cases is much faster than one per
// case on two cores, because the packages are loaded once and the links run
// in parallel; when a build fails, the cases are built one by one so that
// only the failing ones fail. Then, for each case (a parallel subtest), it
// runs the plain binary and the instrumented one, each with its own
// FLUXLOOP_DIR and a timeout (60 s, SAMEOUTPUT_TIMEOUT to change it; on
// expiry the process is killed and the case fails with "deadlock/timeout"),
// and requires:
//
//   - the same exit code and byte-identical stdout;
//   - no "WARNING: DATA RACE" on stderr (in either run);
//   - the expectations of the want section, checked against
//     FLUXLOOP_DIR/observations.jsonl of the instrumented run.
//
// # Expectations
//
// One check per line; blank lines and lines starting with # are ignored:
//
//	SELECTOR FIELD OP [TEXT]
//	SELECTOR count N
//	SELECTOR parent NAME|none
//	file contains|not-contains TEXT
//
// SELECTOR picks observations by name: NAME is every observation of that
// name, NAME#N the N-th of them by start time (from 1), NAME#last the last
// to start and NAME#deepest the one with the longest chain of parents. A
// selector that matches nothing fails the case, naming the observations
// that were recorded.
//
// FIELD is a top-level key of the observation's JSON line (input, output,
// error, metadata, type, level, status_message, model, ...) or KEY.SUB for
// the member SUB of the object under KEY (input.PARAM, metadata.code.lineno:
// SUB is everything after the first dot). Checks are made on the raw JSON
// text of the field as written, so a string field includes its quotes and
// escapes (error contains not found matches "not found"), and contains does
// not depend on key order except inside the TEXT itself. OP is:
//
//	contains TEXT      the field is present and its JSON text contains TEXT
//	not-contains TEXT  the field is present and its JSON text does not contain TEXT
//	= VALUE            the field's JSON equals VALUE (both compacted when VALUE is JSON)
//	absent             the field is missing or null
//	present            the field is present and not null
//
// TEXT is the rest of the line with surrounding blanks removed, taken
// literally (no quoting). count N requires exactly N observations of the
// selector (NAME count 0 is allowed); parent requires the parent of each
// selected observation to be named NAME, or none for a root. file checks
// apply to the whole of observations.jsonl.
//
// # Running
//
// The test builds with the race detector and runs every case, so it is
// skipped under -short:
//
//	go test -v -run TestSameOutput ./internal/sameoutput/
//	go test -v -run TestSameOutput/big_slice ./internal/sameoutput/
//
// The second form builds only the cases whose names match the part of -run
// after the slash. TestWant checks the expectations checker itself and runs
// under -short too.
package sameoutput
