#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what it needs (Debian packages, a Python
# venv for the official Dropbox SDK, buf from npm; each client's script makes its own venv,
# node_modules or vendor/), checks formatting, lints and the contract, builds the binaries,
# and runs the Rust tests, the SDK conformance suite and the Python, TypeScript and Go
# clients' suites against the real server.
#
#   bash tests/run.sh            # everything
#   bash tests/run.sh --no-lint  # skip fmt/clippy/buf (quicker while iterating)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
lint=1
[[ "${1:-}" == "--no-lint" ]] && lint=0

step() { printf '\n==> %s\n' "$*"; }

step "Debian packages: chromium, tinyproxy, dante-server (browser and proxy tests); Go, protoc and its Go plugins (Go client)"
# Installed in one apt run here so that the suites below, some of which run side by side,
# never contend for apt's lock; each suite's own script still installs what it lacks when
# run alone.
debian_packages=(tinyproxy dante-server chromium
    golang-go protobuf-compiler protoc-gen-go protoc-gen-go-grpc golang-google-grpc-dev
    golang-google-protobuf-dev golang-google-genproto-dev golang-github-golang-protobuf-1-5-dev)
missing=()
for package in "${debian_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' \
        || missing+=("$package")
done
if (( ${#missing[@]} )); then
    as_root=()
    [[ $(id -u) == 0 ]] || as_root=(sudo)
    "${as_root[@]}" apt-get update -qq
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq "${missing[@]}"
fi

step "Python environment (.venv): the official Dropbox SDK and pytest for the conformance suite"
python="${PYTHON:-python3}"
if [[ ! -x .venv/bin/python ]]; then
    "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check \
    -r emulator/conformance/requirements.txt

if [[ $lint == 1 ]]; then
    step "cargo fmt --check"
    cargo fmt --all --check

    step "cargo clippy (all targets, warnings are errors)"
    cargo clippy --workspace --all-targets --locked -- -D warnings

    step "cargo deny: licenses, bans, sources (deny.toml; offline, no advisory database)"
    if ! cargo deny --version >/dev/null 2>&1; then
        # Built from crates.io (about 6 minutes on 2 cores), once per machine.
        cargo install --locked cargo-deny
    fi
    cargo deny --offline --locked check --hide-inclusion-graph licenses bans sources

    step "buf lint (STANDARD and COMMENTS) on proto/"
    if [[ ! -x .ci/node_modules/.bin/buf ]]; then
        npm install --silent --no-audit --no-fund --prefix .ci @bufbuild/buf@1 >/dev/null
    fi
    (cd proto && "$repo/.ci/node_modules/.bin/buf" lint)

    step "buf breaking against main (intentional breaks listed in proto/breaking-allowed.txt)"
    bash proto/check-breaking.sh
fi

step "cargo build (binaries used by the end-to-end tests)"
cargo build --workspace --bins --locked

step "production build: no dev feature, --dev refused (server/check-no-dev-feature.sh)"
bash server/check-no-dev-feature.sh

step "API reference docs/api.md is current with proto/"
bash proto/check-api-reference.sh

step "Rust tests (unit, emulator rules, server API, end-to-end)"
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --locked --no-fail-fast
else
    cargo test --workspace --locked --no-fail-fast
fi

# The suites below start their own servers on free ports and share nothing, so they run side
# by side; each writes a log that is printed whole once it ends.
logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT
suite_names=()
suite_pids=()
start_suite() {
    local name="$1"
    shift
    ("$@") >"$logs/${#suite_pids[@]}.log" 2>&1 &
    suite_names+=("$name")
    suite_pids+=("$!")
}
export DBXC_SERVER_BIN="$repo/target/debug/dropbox-connector"
export DROPBOX_EMULATOR_BIN="$repo/target/debug/dropbox-emulator"

step "Side by side: SDK conformance, the Python, TypeScript and Go clients, the deploy manifests"
start_suite "Dropbox SDK conformance suite against the emulator (Python, dropbox==12.2.4)" \
    .venv/bin/python -m pytest -q -p no:cacheprovider emulator/conformance
start_suite "Python client (clients/python/test.sh)" bash clients/python/test.sh
start_suite "TypeScript client (clients/typescript/test.sh)" bash clients/typescript/test.sh
start_suite "Go client (clients/go/test.sh)" bash clients/go/test.sh
start_suite "Deploy manifests (deploy/check.sh: kustomize, kubernetes-validate, checkov, policy semantics)" \
    bash deploy/check.sh

failed=()
for i in "${!suite_pids[@]}"; do
    name="${suite_names[$i]}"
    if wait "${suite_pids[$i]}"; then outcome="passed"; else outcome="FAILED"; failed+=("$name"); fi
    printf '\n==> %s: %s\n' "$name" "$outcome"
    cat "$logs/$i.log"
done
if (( ${#failed[@]} )); then
    printf '\nfailed: %s\n' "${failed[@]}" >&2
    exit 1
fi

echo
echo "all test suites passed"
