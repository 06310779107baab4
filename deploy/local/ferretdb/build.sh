#!/usr/bin/env bash
# Build the kopa-ferretdb launcher: deploy/local/ferretdb/build.sh OUTPUT_BINARY
#
# FerretDB v1.24.2 comes unmodified from the Go module proxy. Our fixes to it live in
# patches/*.patch (diffs relative to the FerretDB module root): they are applied to a copy
# of the module next to the output binary, and the build uses that copy through a
# temporary go.mod with a replace directive (go build -modfile). Nothing downloaded is
# modified or committed; go.mod/go.sum stay those of the unpatched module.
set -euo pipefail

out=${1:?usage: build.sh OUTPUT_BINARY}
src=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$src"
export GOFLAGS=${GOFLAGS:--buildvcs=false}

module=github.com/FerretDB/FerretDB
go mod download "$module"
moddir=$(go list -m -f '{{.Dir}}' "$module")
version=$(go list -m -f '{{.Version}}' "$module")
[[ -d $moddir ]] || { echo "build.sh: $module not found in the module cache" >&2; exit 1; }

work="$(dirname "$out")/.build-kopa-ferretdb"
rm -rf "$work"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT

names=()
modfile=go.mod
if compgen -G "$src/patches/*.patch" >/dev/null; then
	cp -r "$moddir" "$work/FerretDB"
	chmod -R u+w "$work/FerretDB"
	for p in "$src"/patches/*.patch; do
		patch --quiet --forward -p1 -d "$work/FerretDB" <"$p"
		names+=("$(basename "$p" .patch)")
	done
	cp go.mod "$work/go.mod"
	cp go.sum "$work/go.sum"
	printf '\nreplace %s => %s\n' "$module" "$work/FerretDB" >>"$work/go.mod"
	modfile="$work/go.mod"
fi

patches=$(IFS=,; echo "${names[*]:-none}")
go build -modfile "$modfile" -trimpath \
	-ldflags "-s -w -X main.ferretdbVersion=$version -X main.patches=$patches" \
	-o "$out.tmp" .
mv "$out.tmp" "$out"
echo "built $out: FerretDB $version, patches: $patches"
