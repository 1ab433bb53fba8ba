#!/usr/bin/env bash
# Regenerates the Go messages and gRPC stubs from proto/ into OUT (default: this folder), as
# OUT/dropboxconnectorv1/*.pb.go. Needs Debian's protobuf-compiler, protoc-gen-go and
# protoc-gen-go-grpc (clients/go/test.sh installs them).
# google/api/field_behavior.proto is not generated: its Go package is genproto's annotations.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${1:-$here}"
module="$(sed -n 's/^module //p' "$here/go.mod")"
package="$module/dropboxconnectorv1"
mkdir -p "$out"
cd "$repo/proto"
protos=(dropbox_connector/v1/*.proto)
# The protos carry no go_package option (it is a Go-only concern), so each file is mapped here.
mappings=()
for proto in "${protos[@]}"; do
    mappings+=("M$proto=$package;dropboxconnectorv1")
done
go_opts="module=$module$(printf ',%s' "${mappings[@]}")"
rm -f "$out"/dropboxconnectorv1/*.pb.go
protoc -I . \
    --go_out="$out" --go_opt="$go_opts" \
    --go-grpc_out="$out" --go-grpc_opt="$go_opts" \
    "${protos[@]}"
