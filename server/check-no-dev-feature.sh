#!/usr/bin/env bash
# The production build (no `dev` cargo feature, as deploy/Dockerfile builds it) has no
# development mode: `--dev` is refused with a clear message, and neither the dependency graph
# nor the binary holds the Dropbox emulator. The default build keeps --dev; the tests that
# start it are server/tests/dev_mode.rs, server/tests/secure_defaults.rs,
# server/tests/store_security.rs and tests/tests/readme_session.rs.
#
# Builds into the normal target directory with the workspace selected, so that dependencies
# resolve to the same features as `cargo build --workspace --bins` and only the server crate
# is compiled again. That build replaces target/debug/dropbox-connector, so the default binary
# is put back on exit (a fresh rebuild after the test command's build, which only re-links).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
work="$(mktemp -d)"
restore() {
    rm -rf "$work"
    cargo build --locked --workspace --bins --quiet
}
trap restore EXIT

fail() {
    echo "check-no-dev-feature: FAIL: $*" >&2
    exit 1
}

echo "check-no-dev-feature: cargo tree without the default features"
graph="$(cargo tree --locked -p dropbox-connector-server --no-default-features -e normal --prefix none)"
if grep -q '^dropbox-emulator ' <<<"$graph"; then
    fail "dropbox-emulator is a normal dependency of the server without the dev feature"
fi
# The same query with the defaults proves the check can see the emulator at all.
cargo tree --locked -p dropbox-connector-server -e normal --prefix none | grep -q '^dropbox-emulator ' ||
    fail "cargo tree does not list dropbox-emulator even with the dev feature; the check above proves nothing"

echo "check-no-dev-feature: building dropbox-connector without the dev feature"
cargo build --locked --workspace --no-default-features --bin dropbox-connector --quiet
binary="$work/dropbox-connector"
cp "$target_dir/debug/dropbox-connector" "$binary"

if grep -qa 'dropbox_emulator' "$binary"; then
    fail "the binary built without the dev feature contains dropbox_emulator symbols"
fi

status=0
# A build that still had --dev would serve until stopped: the timeout turns that into a failure.
timeout 30 "$binary" --dev --listen 127.0.0.1:0 --data-dir "$work/data" \
    >"$work/stdout" 2>"$work/stderr" </dev/null || status=$?
if [[ "$status" -eq 0 ]]; then
    fail "dropbox-connector --dev exited 0 without the dev feature"
fi
grep -q 'this build has no development mode' "$work/stderr" ||
    fail "dropbox-connector --dev did not say why (stderr: $(cat "$work/stderr"))"
grep -q 'DBXC_DROPBOX__API_URL' "$work/stderr" ||
    fail "dropbox-connector --dev did not say how to reach an emulator (stderr: $(cat "$work/stderr"))"
[[ ! -e "$work/data" ]] || fail "dropbox-connector --dev created its data dir before refusing"
echo "check-no-dev-feature: --dev exits $status: $(cat "$work/stderr")"
echo "check-no-dev-feature: ok (no emulator in the graph or the binary; --dev refused)"
