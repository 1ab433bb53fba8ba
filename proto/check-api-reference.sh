#!/usr/bin/env bash
# Fails when docs/api.md is not what proto-docgen makes of the protos today.
# Usage: bash proto/check-api-reference.sh   (from anywhere in the repository)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
fresh="$(mktemp)"
trap 'rm -f "$fresh"' EXIT
cargo run -q --locked -p dropbox-connector-docgen -- proto >"$fresh"
if ! diff -u docs/api.md "$fresh"; then
    echo "docs/api.md is out of date with proto/. Regenerate it with:" >&2
    echo "    cargo run -q -p dropbox-connector-docgen -- proto > docs/api.md" >&2
    exit 1
fi
echo "docs/api.md is current"
