#!/usr/bin/env bash
# Regenerates every client from proto/ after a contract change: Python (grpcio-tools),
# TypeScript (buf + protoc-gen-es from the package's node_modules) and Go (Debian's protoc,
# protoc-gen-go and protoc-gen-go-grpc). Each client's test.sh checks that its committed
# code equals a fresh regeneration, so a contract change without this step fails the tests.
#
# Needs what the clients' test.sh scripts install: clients/python/.venv, the TypeScript
# package's node_modules (`npm ci`), and the Debian packages named in clients/go/test.sh.
set -euo pipefail
clients="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if [[ ! -x "$clients/python/.venv/bin/python" ]]; then
    python3 -m venv "$clients/python/.venv"
    "$clients/python/.venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        -r "$clients/python/requirements-dev.txt"
fi
PYTHON="$clients/python/.venv/bin/python" bash "$clients/python/generate.sh"

if [[ ! -x "$clients/typescript/node_modules/.bin/protoc-gen-es" ]]; then
    (cd "$clients/typescript" && npm ci --silent --no-audit --no-fund)
fi
bash "$clients/typescript/generate.sh"

for tool in protoc protoc-gen-go protoc-gen-go-grpc; do
    command -v "$tool" >/dev/null || {
        echo "$tool is missing: install the Debian packages that clients/go/test.sh names" >&2
        exit 1
    }
done
bash "$clients/go/generate.sh"
echo "regenerated the Python, TypeScript and Go clients"
