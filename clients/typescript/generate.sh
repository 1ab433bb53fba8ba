#!/usr/bin/env bash
# Regenerates the TypeScript messages and service descriptors from proto/ into OUT
# (default: src/gen of this package) with buf and protoc-gen-es from node_modules
# (run `npm ci` here first). A different OUT lets a check compare without touching src/gen.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$(realpath -m "${1:-$here/src/gen}")"
cd "$here"
if [[ ! -x node_modules/.bin/buf || ! -x node_modules/.bin/protoc-gen-es ]]; then
    echo "buf or protoc-gen-es missing: run \`npm ci\` in $here first" >&2
    exit 1
fi
# buf writes to the template's `out` under --output; generate aside and then swap in, so a
# failed run leaves OUT as it was.
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
node_modules/.bin/buf generate --template buf.gen.yaml --output "$scratch"
rm -rf "$out"
mkdir -p "$(dirname "$out")"
mv "$scratch/src/gen" "$out"
