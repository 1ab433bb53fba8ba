#!/usr/bin/env bash
# buf breaking (FILE rules, proto/buf.yaml) for the contract in proto/.
#
# Against what:
#   - on a branch other than main: main where this branch left it (the merge base), so
#     only this branch's own changes are judged, not what main gained since;
#   - on main (or a detached HEAD at main's tip, as in a fresh CI clone): the first
#     parent of the latest commit that changed a .proto file or buf.yaml, so the latest
#     contract change (a whole merged branch) is judged;
#   - BREAKING_AGAINST=<commit> overrides both.
#
# Before the first release breaking changes are allowed, but only on purpose: each one
# must be listed with its reason in proto/breaking-allowed.txt. Anything else fails.
# Usage: bash proto/check-breaking.sh   (BUF=<path to buf> to use another buf binary)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
allowed_file=proto/breaking-allowed.txt

buf="${BUF:-$repo/.ci/node_modules/.bin/buf}"
if [[ ! -x "$buf" ]]; then
    npm install --silent --no-audit --no-fund --prefix "$repo/.ci" @bufbuild/buf@1 >/dev/null
    buf="$repo/.ci/node_modules/.bin/buf"
fi

main_ref=""
for candidate in main origin/main; do
    if git rev-parse -q --verify "$candidate^{commit}" >/dev/null; then
        main_ref="$candidate"
        break
    fi
done
head="$(git rev-parse HEAD)"
if [[ -n "${BREAKING_AGAINST:-}" ]]; then
    against="$(git rev-parse --verify "$BREAKING_AGAINST^{commit}")"
    what="$BREAKING_AGAINST (BREAKING_AGAINST)"
elif [[ -n "$main_ref" && "$(git rev-parse "$main_ref")" != "$head" ]]; then
    against="$(git merge-base HEAD "$main_ref")"
    what="$main_ref where this branch left it"
else
    # The contract proper (not scripts or docs beside it); along the first parents, so a
    # merged branch counts as one change, judged as a whole against main before it.
    last="$(git log -1 --first-parent --format=%H -- ':(glob)proto/**/*.proto' proto/buf.yaml)"
    if [[ -z "$last" ]]; then
        echo "buf breaking: no commit has touched proto/ yet; nothing to compare" >&2
        exit 0
    fi
    if ! against="$(git rev-parse -q --verify "$last^1" 2>/dev/null)"; then
        if [[ "$(git rev-parse --is-shallow-repository)" == true ]]; then
            echo "buf breaking: the commit before $last is not in this shallow clone; fetch more history (git fetch --deepen=50)" >&2
            exit 1
        fi
        echo "buf breaking: $last created proto/; nothing earlier to compare" >&2
        exit 0
    fi
    what="the contract before the latest change to proto/ ($(git log -1 --format='%h %s' "$last" | cut -c1-70))"
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
git archive "$against" proto | tar -x -C "$tmp"

# One finding per line: RULE | file | message (buf's JSON, unescaped).
set +e
(cd proto && "$buf" breaking --against "$tmp/proto" --error-format=json) >"$tmp/out.json" 2>"$tmp/err"
status=$?
set -e
if [[ $status -ne 0 && $status -ne 100 ]]; then
    cat "$tmp/err" >&2
    echo "buf breaking failed to run (exit $status)" >&2
    exit 1
fi
sed -E 's/^\{"path":"([^"]*)".*"type":"([^"]*)","message":"(.*)"\}$/\2 | \1 | \3/; s/\\"/"/g' \
    "$tmp/out.json" >"$tmp/found"

# The allow-list: RULE | file | message | reason. A line without a reason is an error.
grep -vE '^\s*(#|$)' "$allowed_file" >"$tmp/allowed.lines" || true
if awk -F' [|] ' 'NF < 4 || $4 ~ /^[[:space:]]*$/ { bad = 1; print "no reason given: " $0 > "/dev/stderr" } END { exit !bad }' "$tmp/allowed.lines"; then
    echo "every line of $allowed_file needs: RULE | file | message | reason" >&2
    exit 1
fi
awk -F' [|] ' '{ print $1 " | " $2 " | " $3 }' "$tmp/allowed.lines" >"$tmp/allowed"

unexpected="$(grep -vxF -f "$tmp/allowed" "$tmp/found" || true)"
count="$(grep -c . "$tmp/found" || true)"
if [[ -n "$unexpected" ]]; then
    echo "buf breaking against $what: breaking changes not listed in $allowed_file:" >&2
    echo "$unexpected" | sed 's/^/  /' >&2
    echo "If a break is intended (allowed before the first release), add the line above to" >&2
    echo "$allowed_file followed by ' | <why, and the change that made it>'." >&2
    exit 1
fi
echo "buf breaking against $what: ${count:-0} breaking change(s), each allowed on purpose in $allowed_file"
