#!/usr/bin/env bash
# The Go client's suite, from a fresh clone: installs Debian's Go toolchain, protoc plugins and
# Go libraries when missing, checks that the committed stubs are what generate.sh makes, then
# vets and tests the client against the real server and emulator (DBXC_SERVER_BIN and
# DROPBOX_EMULATOR_BIN, default target/debug/), and finally runs `go test` in a separate
# module that requires the client through a replace directive, as a service would.
# Everything builds offline: Go modules come from Debian's packages (vendor-debian.sh),
# never from proxy.golang.org.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

step() { printf '\n==> %s\n' "$*"; }

# golang-github-golang-protobuf-1-5-dev is named because grpc's package also accepts the 1.3
# one, which predates the google.golang.org/protobuf API the stubs use.
packages=(golang-go protobuf-compiler protoc-gen-go protoc-gen-go-grpc golang-google-grpc-dev
    golang-google-protobuf-dev golang-google-genproto-dev golang-github-golang-protobuf-1-5-dev)
step "Debian packages for the Go client: ${packages[*]}"
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if (( ${#missing[@]} )); then
    as_root=()
    [[ $(id -u) == 0 ]] || as_root=(sudo)
    "${as_root[@]}" apt-get update -qq
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
go version

# Offline and out of git: modules from vendor/ only, the build cache under target/.
export GOFLAGS=-mod=vendor GOPROXY=off GOSUMDB=off
export GOCACHE="${GOCACHE:-$repo/target/go-cache}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

step "Generated Go stubs are current"
bash "$here/generate.sh" "$work/generated"
if ! diff -r "$here/dropboxconnectorv1" "$work/generated/dropboxconnectorv1"; then
    echo "The committed Go stubs differ from proto/: run clients/go/generate.sh" >&2
    exit 1
fi

step "vendor/ from Debian's Go packages"
bash "$here/vendor-debian.sh" "$here"

cd "$here"
step "gofmt and go vet"
unformatted="$(find . -name vendor -prune -o -name '*.go' -print | xargs gofmt -l)"
[[ -z $unformatted ]] || { echo "not gofmt-formatted: $unformatted" >&2; exit 1; }
go vet ./...

export DBXC_SERVER_BIN="${DBXC_SERVER_BIN:-$repo/target/debug/dropbox-connector}"
export DROPBOX_EMULATOR_BIN="${DROPBOX_EMULATOR_BIN:-$repo/target/debug/dropbox-emulator}"
for bin in "$DBXC_SERVER_BIN" "$DROPBOX_EMULATOR_BIN"; do
    [[ -x $bin ]] || { echo "$bin is missing: run \`cargo build --workspace --bins\` first" >&2; exit 1; }
done
step "go test (real server and emulator over TLS with a token)"
go test -count=1 -v ./...

step "A separate module requiring the client through a replace directive"
cp -r "$here/example-user" "$work/user-module"
rm -rf "$work/user-module/vendor"
cd "$work/user-module"
go mod edit -replace="$(sed -n 's/^module //p' "$here/go.mod")=$here"
bash "$here/vendor-debian.sh" .
go vet ./...
go test -count=1 -v ./...
