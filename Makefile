# fluxloop-go: the two commands of the README are `make demo` and `make test`.
GO ?= go

.PHONY: demo generate test check bench conformance e2e clean-traces

# demo instruments the examples, runs the chain agent, and prints the traces
# it wrote to the default JSONL storage (./.fluxloop).
demo: generate
	$(GO) run ./examples/chain
	$(GO) run ./examples/gather
	$(GO) run ./cmd/fluxloopview -n 2

# generate (re)instruments the examples in place; a no-op when up to date.
generate:
	$(GO) run ./cmd/fluxloopgen ./examples/...

# test runs every test with the race detector.
test:
	$(GO) test -race ./...

# check is what CI runs besides the tests: formatting, vet, and that the
# committed instrumented examples are up to date.
check:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run ./cmd/fluxloopgen -check ./examples/...

# bench runs the hot-path benchmarks against their baselines.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -cpu 1,2 -count 5 ./internal/benchmarks/

# conformance instruments real modules (google/uuid, x/sync, samber/lo,
# yaml.v3, google/btree, cenkalti/backoff, BurntSushi/toml) and runs their own
# vet and race tests, which must pass as they do plain; it logs the test run
# times, plain and instrumented (about 10 minutes in all on 2 cores).
conformance:
	FLUXLOOP_CONFORMANCE=1 $(GO) test -count=1 -v -run Conformance -timeout 20m ./internal/conformance/

# e2e builds Jaeger (cached after the first time) and checks that an
# instrumented program's trace arrives there over OTLP with its span tree.
e2e:
	bash scripts/jaeger.sh
	$(GO) test -count=1 -v -timeout 10m ./internal/e2e/

clean-traces:
	rm -rf .fluxloop
