#!/usr/bin/env bash
# The TypeScript client's whole check, from a fresh clone (needs node >= 20 with npm, openssl,
# and the Rust binaries: `cargo build --workspace --bins`):
#   1. npm ci (the locked dependencies, buf and protoc-gen-es included);
#   2. regenerating from proto/ leaves src/gen as committed;
#   3. tsc builds the package and its tests;
#   4. the tests, against a real dropbox-connector --dev over TLS with a bearer token;
#   5. install as a user: npm pack, install the tarball into a fresh folder, and list a
#      folder with a five-line script against a running server.
# DBXC_SERVER_BIN names the server binary (default: target/debug/dropbox-connector).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
export DBXC_SERVER_BIN="${DBXC_SERVER_BIN:-$repo/target/debug/dropbox-connector}"
cd "$here"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
step() { echo "== [${SECONDS}s] $*"; }

step "npm ci"
npm ci --no-audit --no-fund --loglevel=error

step "regeneration leaves no diff"
bash generate.sh "$scratch/gen"
if ! diff -r "$scratch/gen" src/gen; then
    echo "src/gen differs from what proto/ generates: run clients/typescript/generate.sh" >&2
    exit 1
fi

step "tsc"
rm -rf build-test
npx tsc -p tsconfig.test.json

step "tests against the real server"
node --test --test-concurrency=2 build-test/test/*.test.js

step "install as a user: npm pack, install the tarball into a fresh folder, list a folder"
npm pack --silent --pack-destination "$scratch" >/dev/null
user="$scratch/user"
mkdir "$user"
(cd "$user" && npm init -y >/dev/null &&
    npm install --no-audit --no-fund --loglevel=error "$scratch"/dropbox-connector-client-*.tgz)
cat >"$user/list.mjs" <<'JS'
import { DropboxConnectorClient } from "@dropbox-connector/client";
import { readFileSync } from "node:fs";
const client = new DropboxConnectorClient({ address: process.env.DBXC_ADDRESS, caPem: readFileSync(process.env.DBXC_CA_FILE), token: readFileSync(process.env.DBXC_TOKEN_FILE, "utf8").trim() });
for await (const item of client.listItems({ connection: "demo", filter: { folder: "/install-check" } })) console.log(item.name, String(item.size));
client.close();
JS
node build-test/test/install-check.js "$user"
step "done"
