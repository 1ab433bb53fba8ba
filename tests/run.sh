#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what it needs (a Python venv for the
# official Dropbox SDK and the gRPC clients, buf from npm), checks formatting and lints,
# builds the binaries, and runs the Rust, Python and proto checks.
#
#   bash tests/run.sh            # everything
#   bash tests/run.sh --no-lint  # skip fmt/clippy/buf (quicker while iterating)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
lint=1
[[ "${1:-}" == "--no-lint" ]] && lint=0

step() { printf '\n==> %s\n' "$*"; }

step "Debian packages for the browser and proxy tests: chromium, tinyproxy, dante-server"
if ! command -v tinyproxy >/dev/null || ! command -v danted >/dev/null \
    || ! command -v chromium >/dev/null; then
    as_root=()
    [[ $(id -u) == 0 ]] || as_root=(sudo)
    "${as_root[@]}" apt-get update -qq
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq tinyproxy dante-server chromium
fi

step "Python environment (.venv): official Dropbox SDK, grpcio clients, pytest"
python="${PYTHON:-python3}"
if [[ ! -x .venv/bin/python ]]; then
    "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check \
    -r emulator/conformance/requirements.txt \
    -r clients/python/requirements.txt

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

    step "buf lint (STANDARD) on proto/"
    if [[ ! -x .ci/node_modules/.bin/buf ]]; then
        npm install --silent --no-audit --no-fund --prefix .ci @bufbuild/buf@1 >/dev/null
    fi
    (cd proto && "$repo/.ci/node_modules/.bin/buf" lint)
fi

step "cargo build (binaries used by the end-to-end tests)"
cargo build --workspace --bins --locked

step "Rust tests (unit, emulator rules, server API, end-to-end)"
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --locked --no-fail-fast
else
    cargo test --workspace --locked --no-fail-fast
fi

step "Dropbox SDK conformance suite against the emulator (Python, dropbox==12.2.4)"
DROPBOX_EMULATOR_BIN="$repo/target/debug/dropbox-emulator" \
    .venv/bin/python -m pytest -q emulator/conformance

step "Python gRPC clients: health, reflection, generated stubs"
DBXC_SERVER_BIN="$repo/target/debug/dropbox-connector" \
    .venv/bin/python -m pytest -q clients/python/tests

echo
echo "all test suites passed"
