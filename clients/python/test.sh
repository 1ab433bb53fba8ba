#!/usr/bin/env bash
# The Python client's suite, as the test command runs it from a fresh clone:
#   1. a venv (clients/python/.venv, made when missing) with the package installed from
#      this folder as a user would (`pip install ./clients/python`) and requirements-dev.txt;
#   2. ruff (lint, format) on the hand-written code; regeneration into a temp dir must equal the committed stubs;
#   3. pytest against the real server (`dropbox-connector --dev`, its emulator in-process);
#   4. install-as-a-user: the package alone in another fresh venv, and a five-line script
#      that lists a folder of a running server over TLS with a token.
# DBXC_SERVER_BIN (default: target/debug/dropbox-connector) names the server binary;
# PYTHON (default: python3) the interpreter the venvs are made from.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
server_bin="${DBXC_SERVER_BIN:-$repo/target/debug/dropbox-connector}"
python="${PYTHON:-python3}"
pip_flags=(--quiet --disable-pip-version-check)
step() { printf '\n==> python client: %s\n' "$*"; }

[[ -x "$server_bin" ]] || { echo "$server_bin is missing: run cargo build --workspace --bins" >&2; exit 1; }
work="$(mktemp -d)"
server_pid=""
cleanup() {
    if [[ -n "$server_pid" ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

step "venv (clients/python/.venv): the package and requirements-dev.txt"
venv="$here/.venv"
[[ -x "$venv/bin/python" ]] || "$python" -m venv "$venv"
# --force-reinstall of the package alone: the venv is reused, the package under test never is.
"$venv/bin/python" -m pip install "${pip_flags[@]}" -r "$here/requirements-dev.txt" "$here"
"$venv/bin/python" -m pip install "${pip_flags[@]}" --force-reinstall --no-deps "$here"

step "ruff: lint and format (settings in pyproject.toml)"
(cd "$here" && "$venv/bin/ruff" check --quiet . && "$venv/bin/ruff" format --check --quiet .)

step "generated code is current"
PYTHON="$venv/bin/python" bash "$here/generate.sh" "$work/generated"
if ! diff -r "$work/generated/dropbox_connector/v1" "$here/src/dropbox_connector/v1" \
    --exclude=__pycache__ >"$work/generated.diff"; then
    head -40 "$work/generated.diff" >&2
    echo "the generated Python code differs from proto/: run clients/python/generate.sh" >&2
    exit 1
fi

step "pytest (real server and emulator, TLS and tokens)"
# From the repo root, where no dropbox_connector folder can shadow the installed package.
(cd "$repo" && DBXC_SERVER_BIN="$server_bin" "$venv/bin/python" -m pytest -q -p no:cacheprovider \
    "$here/tests")

step "install as a user: pip install ./clients/python into a fresh venv, list a folder"
"$python" -m venv "$work/user-venv"
(cd "$repo" && "$work/user-venv/bin/python" -m pip install "${pip_flags[@]}" ./clients/python)
# A server with TLS and a callers file, as a service would meet it (certificates from the
# test venv's trustme; the user's venv has nothing but the package).
"$venv/bin/python" - "$work" <<'PY'
import sys, pathlib, trustme
work = pathlib.Path(sys.argv[1])
ca = trustme.CA()
ca.cert_pem.write_to_path(str(work / "ca.pem"))
cert = ca.issue_cert("localhost", "127.0.0.1")
cert.cert_chain_pems[0].write_to_path(str(work / "server.crt"))
cert.private_key_pem.write_to_path(str(work / "server.key"))
PY
token="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
printf '%s' "$token" >"$work/token"
cat >"$work/callers.toml" <<TOML
[[caller]]
name = "user-check"
token_sha256 = "$(printf '%s' "$token" | sha256sum | cut -d' ' -f1)"
role = "writer"
groups = ["*"]
TOML
# Only the settings given here: DBXC_* variables of the caller's shell are config for the server.
unset_dbxc=()
while IFS='=' read -r name _; do
    [[ "$name" == DBXC_* ]] && unset_dbxc+=(-u "$name")
done < <(env)
env "${unset_dbxc[@]}" DBXC_LISTEN=127.0.0.1:0 DBXC_TLS__CERT_FILE="$work/server.crt" \
    DBXC_TLS__KEY_FILE="$work/server.key" DBXC_AUTH__CALLERS_FILE="$work/callers.toml" \
    "$server_bin" --dev --data-dir "$work/data" >"$work/server.out" 2>"$work/server.err" </dev/null &
server_pid=$!
address=""
for _ in $(seq 600); do
    address="$(sed -n 's/^listening on //p' "$work/server.out")"
    [[ -n "$address" ]] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
done
[[ -n "$address" ]] || { cat "$work/server.err" >&2; echo "the server did not start" >&2; exit 1; }
cat >"$work/list_a_folder.py" <<'PY'
import os, sys
from dropbox_connector import Client
with Client(os.environ["DBXC_ADDRESS"], ca_file=os.environ["DBXC_CA_FILE"], token_file=os.environ["DBXC_TOKEN_FILE"]) as dbx:
    dbx.upload_file("demo", sys.argv[0], "/user-check")
    print(*(item.path_display for item in dbx.list("demo", "/user-check")))
PY
listed="$(cd "$work" && DBXC_ADDRESS="$address" DBXC_CA_FILE="$work/ca.pem" DBXC_TOKEN_FILE="$work/token" \
    "$work/user-venv/bin/python" list_a_folder.py)"
if [[ "$listed" != "/user-check/list_a_folder.py" ]]; then
    echo "the user's script listed ${listed@Q}, expected /user-check/list_a_folder.py" >&2
    exit 1
fi
echo "listed $listed through the package installed as a user"
echo "python client: all checks passed"
