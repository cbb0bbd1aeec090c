# fluxloop-go: the two commands of the README are `make demo` and `make test`.
GO ?= go

.PHONY: demo generate test check bench load conformance e2e adoption clean-traces

# The repository is a set of modules tied together by go.work (see
# versions.yaml); the targets below cover them all.
MODULE_DIRS = $(shell $(GO) list -m -f '{{.Dir}}')
PKGS = $(addsuffix /...,$(MODULE_DIRS))

# demo instruments the examples, runs the chain agent, and prints the traces
# it wrote to the default JSONL storage (./.fluxloop).
demo: generate
	$(GO) run ./examples/chain
	$(GO) run ./examples/gather
	$(GO) run ./examples/llm
	$(GO) run ./examples/mcptool
	$(GO) run ./cmd/fluxloop ls -n 4
	@echo; echo "A trace's tree: go run ./cmd/fluxloop tree last (-v adds inputs and outputs)"
	@echo "The viewer:     go run ./cmd/fluxloop serve"

# generate (re)instruments the examples in place; a no-op when up to date.
generate:
	$(GO) run ./cmd/fluxloopgen ./examples/...

# test runs every test of every module with the race detector.
test:
	$(GO) test -race $(PKGS)

# check is what CI runs besides the tests: formatting, vet, and that the
# committed instrumented examples are up to date.
check:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	@for d in $(MODULE_DIRS); do (cd $$d && GOWORK=off $(GO) mod tidy -diff >/dev/null) || { echo "go.mod of $$d is not tidy: run (cd $$d && GOWORK=off go mod tidy)"; exit 1; }; done
	$(GO) run ./cmd/fluxloopgen -check ./examples/...

# fuzz runs every fuzz target for FUZZTIME (go test runs one fuzz target
# at a time). A crasher is written to the package's testdata/fuzz/FuzzX/,
# where it stays as a regression case of the plain tests.
FUZZTIME ?= 20s
FUZZ_TARGETS = ./generator:FuzzParseDirective ./generator:FuzzGenerate ./runtime:FuzzCapture
.PHONY: fuzz
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t#*:}; \
		echo "== fuzz $$name ($$pkg, $(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

# bench runs the hot-path benchmarks against their baselines; the first
# line is the traced-call pair (a traced call with its JSON write against an
# OpenTelemetry span exported over OTLP/HTTP, and the time.Now floor) at
# -cpu 1.
bench:
	$(GO) test -run '^$$' -bench 'Floor$$|TracedCall' -benchmem -cpu 1 -count 5 ./internal/benchmarks/
	$(GO) test -run '^$$' -bench . -benchmem -cpu 1,2 -count 5 ./internal/benchmarks/

# load has 64 goroutines record as fast as they can for 10 s with the file
# storage and with the http storage against a slow, a flapping and a down
# collector, and checks that every observation is written or counted as
# dropped, with bounded memory (one to two minutes in all).
load:
	FLUXLOOP_LOAD=1 $(GO) test -count=1 -v -run '^TestLoad$$' -timeout 10m ./internal/benchmarks/

# adoption checks that a service pinned to older OpenTelemetry and gRPC
# adds only the runtime and goid when it adopts the runtime (also part of
# make test).
adoption:
	$(GO) test -count=1 -v ./internal/adoption/

# conformance instruments real modules (google/uuid, x/sync, samber/lo,
# yaml.v3, google/btree, cenkalti/backoff, BurntSushi/toml) and runs their own
# vet and race tests, which must pass as they do plain; it logs the test run
# times, plain and instrumented (about 10 minutes in all on 2 cores).
conformance:
	FLUXLOOP_CONFORMANCE=1 $(GO) test -count=1 -v -run Conformance -timeout 20m ./internal/conformance/

# stdlib copies packages of the standard library (strings, bytes,
# encoding/json, net/url, text/template, sort, container/*) into a module of
# their own, instruments every function of them, and runs their own vet and
# race tests (-short), which must pass as they do plain.
.PHONY: stdlib
stdlib:
	FLUXLOOP_STDLIB=1 $(GO) test -count=1 -v -run '^TestStdlib$$' -timeout 15m ./internal/conformance/

# e2e builds Jaeger (cached after the first time) and checks that an
# instrumented program's trace arrives there over OTLP with its span tree.
e2e:
	bash scripts/jaeger.sh
	$(GO) test -count=1 -v -timeout 10m ./internal/e2e/

clean-traces:
	rm -rf .fluxloop
