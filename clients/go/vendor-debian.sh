#!/usr/bin/env bash
# Builds MODULE_DIR/vendor (default: this folder) from Debian's packaged Go sources, so the module builds
# offline: proxy.golang.org is never asked. Go's vendor mode reads only vendor/modules.txt and never loads the
# dependencies' go.mod files, whose requirement graphs name modules Debian does not ship.
# Each module required in go.mod is linked from GOCODE (default /usr/share/gocode/src), or from the local
# directory a `replace` points it to. Needs: golang-go golang-google-grpc-dev golang-google-protobuf-dev
# golang-google-genproto-dev golang-github-golang-protobuf-1-5-dev.
set -euo pipefail
module_dir="$(cd "${1:-$(dirname "${BASH_SOURCE[0]}")}" && pwd)"
gocode="${GOCODE:-/usr/share/gocode/src}"
cd "$module_dir"
rm -rf vendor
mkdir vendor
# One line per requirement: "path version replacement-dir-or-empty" (go mod edit only parses go.mod).
go mod edit -json | python3 -c '
import json, os, sys
m = json.load(sys.stdin)
local = {r["Old"]["Path"]: r["New"]["Path"] for r in (m.get("Replace") or []) if not r["New"].get("Version")}
for r in m.get("Require") or []:
    print(r["Path"], r["Version"], local.get(r["Path"], ""))
' | while read -r path version replacement; do
    if [ -n "$replacement" ]; then
        source_dir="$(cd "$replacement" && pwd)"
        header="# $path $version => $replacement"
    else
        source_dir="$gocode/$path"
        header="# $path $version"
    fi
    if [ ! -f "$source_dir/go.mod" ]; then
        echo "vendor-debian: $path is not installed (no $source_dir/go.mod)" >&2
        exit 1
    fi
    mkdir -p "vendor/$(dirname "$path")"
    ln -s "$source_dir" "vendor/$path"
    go_version="$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$source_dir/go.mod")"
    {
        echo "$header"
        echo "## explicit${go_version:+; go $go_version}"
        # Every package directory of the module, skipping nested modules, testdata and vendor folders.
        (cd "$source_dir" && find -L . -type d \( -name testdata -o -name vendor -o -name '.?*' \
            -o ! -name . -exec test -e '{}/go.mod' \; \) -prune -o -type d -print | sort | while read -r dir; do
                if ls "$dir"/*.go >/dev/null 2>&1; then echo "$path${dir#.}"; fi
            done)
    } >>vendor/modules.txt
done
# Replacements are listed again on their own, as `go mod vendor` does, so the consistency check matches them.
go mod edit -json | python3 -c '
import json, sys
for r in json.load(sys.stdin).get("Replace") or []:
    if not r["New"].get("Version"):
        print("# %s => %s" % (r["Old"]["Path"], r["New"]["Path"]))
' >>vendor/modules.txt
