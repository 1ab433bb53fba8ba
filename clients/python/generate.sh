#!/usr/bin/env bash
# Regenerates the Python messages and gRPC stubs from proto/ into OUT (default: this folder).
# grpcio-tools bundles protoc, so nothing else is needed.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${1:-$here}"
python="${PYTHON:-$repo/.venv/bin/python}"
mkdir -p "$out"
"$python" -m grpc_tools.protoc \
    -I "$repo/proto" \
    --python_out="$out" --pyi_out="$out" --grpc_python_out="$out" \
    "$repo/proto/dropbox_connector/v1/errors.proto" \
    "$repo/proto/dropbox_connector/v1/connection.proto" \
    "$repo/proto/dropbox_connector/v1/cloud_tasks.proto" \
    "$repo/proto/google/api/field_behavior.proto"
