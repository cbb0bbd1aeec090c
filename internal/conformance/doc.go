// Package conformance instruments whole real modules with fluxloopgen and
// checks that they still behave as before. It holds only tests.
//
// TestConformance takes each module of its list (github.com/google/uuid,
// golang.org/x/sync, github.com/samber/lo, gopkg.in/yaml.v3,
// github.com/google/btree, github.com/cenkalti/backoff/v4 and
// github.com/BurntSushi/toml, at pinned versions fetched through the module
// cache with go mod download), makes two copies of it that both use the local
// fluxloop-go, marks every non-test function of one copy with
// "fluxloopgen annotate ./..." and instruments it with "fluxloopgen ./...",
// and then runs go vet and go test -race on both copies, with tracing enabled
// in the instrumented one. The instrumented copy must pass exactly as the
// plain one: the same vet verdict and the same packages ok or failing. It also
// checks that a second run of the generator changes nothing and that
// "fluxloopgen -remove" and "fluxloopgen annotate -remove" restore the
// module's source byte for byte. It logs a markdown table of the results with
// the run time of the tests, plain and instrumented, and their ratio (build
// and link times apart); the ratio is reported, never checked, since timings
// on shared machines are noisy.
//
// TestBuildOverhead measures what instrumenting costs at build time on the
// annotated github.com/samber/lo: go build ./... against fluxloopgen -overlay
// followed by go build -overlay, with an empty build cache (cold) and again
// with the cache kept and nothing changed (warm).
//
// TestStdlib does the same to packages of the standard library (strings,
// bytes, encoding/json, net/url, text/template and its parse, sort,
// container/heap, list and ring, and the internal stringslite and fmtsort
// they import): it copies them from GOROOT into a module of their own,
// stdcopy, with their imports of each other rewritten (stdcopy/strings) and
// small stubs for the internal packages that cannot build outside GOROOT
// (bytealg, abi, godebug, reflectlite, asan, testenv), then marks,
// instruments, vets and runs their tests with -race -short, plain first
// (which must pass) and instrumented. It runs when FLUXLOOP_STDLIB=1 (make
// stdlib); the tests it skips, and why, are in stdPackages.
//
// Both TestConformance and TestBuildOverhead take minutes and need the Go module proxy (or a module cache that
// already holds the modules), so they run only when FLUXLOOP_CONFORMANCE=1:
//
//	FLUXLOOP_CONFORMANCE=1 go test -v -run Conformance ./internal/conformance/
//	FLUXLOOP_CONFORMANCE=1 go test -v -run Conformance/gopkg.in/yaml.v3 ./internal/conformance/
//	FLUXLOOP_CONFORMANCE=1 go test -v -run BuildOverhead ./internal/conformance/
package conformance
