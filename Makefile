# fluxloop-go: the two commands of the README are `make demo` and `make test`.
GO ?= go

.PHONY: demo generate test check bench clean-traces

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
	$(GO) test -run '^$$' -bench . -benchmem -cpu 1 -count 5 ./internal/benchmarks/

clean-traces:
	rm -rf .fluxloop
