#!/usr/bin/env bash
# jaeger.sh builds the Jaeger all-in-one binary (v1.76.0) used by the
# end-to-end test in internal/e2e, into a cache directory outside this repo.
#
# Usage: bash scripts/jaeger.sh            # prints the binary path
#
# Environment:
#   FLUXLOOP_JAEGER   path of the binary (default:
#                     ${XDG_CACHE_HOME:-$HOME/.cache}/fluxloop/jaeger-v1.76.0)
#   GO                go command (default: go)
#
# It does nothing when the binary already exists, so repeated CI runs on the
# same machine are fast. The build itself takes about 7 minutes on 2 cores
# and ~2.2 GB of memory. It happens in a throwaway module under a temporary
# directory: this repository's go.mod is never touched.
set -euo pipefail

JAEGER_VERSION=v1.76.0
GO=${GO:-go}
CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/fluxloop"
BIN="${FLUXLOOP_JAEGER:-$CACHE_DIR/jaeger-$JAEGER_VERSION}"

if [ -x "$BIN" ]; then
	echo "jaeger: $BIN (cached)" >&2
	echo "$BIN"
	exit 0
fi

mkdir -p "$(dirname "$BIN")"
work=$(mktemp -d "${TMPDIR:-/tmp}/fluxloop-jaeger-build.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "jaeger: building $JAEGER_VERSION into $BIN (takes several minutes)" >&2
start=$(date +%s)
(
	cd "$work"
	# Run outside any enclosing workspace/module so the build only sees the
	# throwaway module below.
	export GOWORK=off GOFLAGS="${GOFLAGS:-} -mod=mod"
	"$GO" mod init fluxloop.invalid/jaegerbuild >/dev/null 2>&1
	"$GO" get -tool "github.com/jaegertracing/jaeger/cmd/jaeger@$JAEGER_VERSION"
	# Build to a temporary name and rename, so an interrupted build never
	# leaves a half-written binary that later runs would treat as cached.
	"$GO" build -trimpath -o "$work/jaeger" github.com/jaegertracing/jaeger/cmd/jaeger
)
mv -f "$work/jaeger" "$BIN.tmp.$$"
mv -f "$BIN.tmp.$$" "$BIN"
echo "jaeger: built in $(( $(date +%s) - start ))s" >&2
echo "$BIN"
