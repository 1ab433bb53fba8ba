#!/usr/bin/env bash
# Regenerates the messages, gRPC stubs and .pyi of our own protos into OUT/dropbox_connector/v1
# (default OUT: this folder's src/). google/api and google/rpc are not generated: their
# imports resolve to googleapis-common-protos, a dependency of the package.
#
# grpcio-tools bundles protoc; its version (pinned in requirements-dev.txt) decides the
# output, so use PYTHON from a venv with requirements-dev.txt (test.sh makes one).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${1:-$here/src}"
python="${PYTHON:-$here/.venv/bin/python}"
if ! "$python" -c 'import grpc_tools' 2>/dev/null; then
    echo "generate.sh: $python has no grpcio-tools; set PYTHON to a venv with" \
        "clients/python/requirements-dev.txt (clients/python/test.sh makes .venv)" >&2
    exit 1
fi
# Absolute paths: protoc runs from proto/.
mkdir -p "$out"
out="$(cd "$out" && pwd)"
[[ "$python" == */* ]] && python="$(cd "$(dirname "$python")" && pwd)/$(basename "$python")"
v1="$out/dropbox_connector/v1"
# Only generated files live in v1/: start empty so a removed proto leaves nothing behind.
rm -rf "$v1"
mkdir -p "$v1"
protos=()
for proto in "$repo"/proto/dropbox_connector/v1/*.proto; do
    protos+=("dropbox_connector/v1/$(basename "$proto")")
done
(cd "$repo/proto" && "$python" -m grpc_tools.protoc -I . \
    --python_out="$out" --pyi_out="$out" --grpc_python_out="$out" \
    "${protos[@]}")
printf '"""Generated from proto/dropbox_connector/v1 by clients/python/generate.sh. DO NOT EDIT."""\n' \
    > "$v1/__init__.py"
