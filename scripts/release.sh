#!/usr/bin/env bash
# release.sh VERSION: prepares the release of the fluxloop-go module set at
# VERSION (see versions.yaml): every module's requirements on its siblings
# and the runtime's Version constant are set to VERSION, versions.yaml is
# updated, the tests run, and a commit and one tag per module are made
# (v0.3.0, runtime/v0.3.0, runtime/otlp/v0.3.0, ...); the examples and the
# golden files are regenerated, since the version guard names the version. Nothing is pushed:
# the script prints the push command. The replace directives stay: they
# only apply inside this repository (the go command ignores them in
# dependencies), so development keeps using the checkout.
set -euo pipefail
cd "$(dirname "$0")/.."

version=${1:-}
if ! [[ $version =~ ^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]]; then
	echo "usage: scripts/release.sh vX.Y.Z" >&2
	exit 2
fi
if [ -n "$(git status --porcelain)" ]; then
	echo "release: the work tree is not clean" >&2
	exit 1
fi

root=github.com/fluxloop/fluxloop-go
modules=$(sed -n 's/^ *- \(github.com[^ ]*\).*/\1/p' versions.yaml)
dir_of() { local d=${1#"$root"}; d=${d#/}; echo "${d:-.}"; }

for m in $modules; do
	d=$(dir_of "$m")
	for sib in $modules; do
		if [ "$sib" != "$m" ] && grep -q "^[[:space:]]*$sib " "$d/go.mod"; then
			go mod edit -require="$sib@$version" "$d/go.mod"
		fi
	done
done
sed -i "s/^const Version = \".*\"/const Version = \"$version\"/" runtime/version.go generator/version.go
sed -i "s/^\(    version: \).*/\1$version/" versions.yaml
# the generated version guard names the version: regenerate what is committed
go run ./cmd/fluxloopgen ./examples/...
go test ./generator -run TestGolden -update >/dev/null

make check test

git commit -qam "release $version"
tags=()
for m in $modules; do
	d=$(dir_of "$m")
	if [ "$d" = . ]; then tag=$version; else tag=$d/$version; fi
	git tag -a "$tag" -m "$m $version"
	tags+=("$tag")
done
echo "tagged ${tags[*]}"
echo "publish with: git push origin HEAD ${tags[*]}"
