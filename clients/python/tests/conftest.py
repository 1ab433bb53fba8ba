"""Starts a real `dropbox-connector --dev` (server + in-process emulator) for the Python
clients, the way a service would meet it in production: TLS with a certificate from a test
CA, and a callers file that names each client by the SHA-256 of its bearer token."""

import dataclasses
import hashlib
import os
import pathlib
import queue
import secrets
import subprocess
import sys
import threading
import time

import pytest
import trustme

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[2]
# The generated package lives in clients/python.
sys.path.insert(0, str(HERE.parent))


def _server_bin() -> str:
    path = os.environ.get("DBXC_SERVER_BIN", str(REPO / "target" / "debug" / "dropbox-connector"))
    if not os.path.exists(path):
        pytest.fail(f"{path} is missing: run `cargo build --workspace --bins` first")
    return path


@dataclasses.dataclass
class Server:
    """Where the server listens and what a client needs to be let in."""

    address: str
    ca_pem: bytes
    # Bearer tokens by role: an admin of every group, and a reader of group "finance" only.
    admin_token: str
    reader_token: str


def _callers_file(path: pathlib.Path, admin_token: str, reader_token: str) -> None:
    def sha(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    path.write_text(
        f"""
[[caller]]
name = "python-admin"
token_sha256 = "{sha(admin_token)}"
role = "admin"
groups = ["*"]

[[caller]]
name = "python-finance-reader"
token_sha256 = "{sha(reader_token)}"
role = "reader"
groups = ["finance"]
"""
    )


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("dbxc-data")
    stderr_log = open(data_dir / "server.stderr.log", "wb")
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    cert_file, key_file = data_dir / "server.crt", data_dir / "server.key"
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    admin_token, reader_token = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    callers = data_dir / "callers.toml"
    _callers_file(callers, admin_token, reader_token)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBXC_")}
    env.update(
        DBXC_LISTEN="127.0.0.1:0",
        DBXC_TLS__CERT_FILE=str(cert_file),
        DBXC_TLS__KEY_FILE=str(key_file),
        DBXC_AUTH__CALLERS_FILE=str(callers),
        DBXC_REFLECTION="true",
    )
    proc = subprocess.Popen(
        [_server_bin(), "--dev", "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=stderr_log,
        stdin=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    lines: "queue.Queue[str]" = queue.Queue()

    def pump():
        for line in proc.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + 60
    address = None
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            break
        if line.startswith("listening on "):
            address = line.removeprefix("listening on ").strip()
            break
    if address is None:
        proc.kill()
        proc.wait()
        pytest.fail("dropbox-connector did not print `listening on ...`:\n"
                    + (data_dir / "server.stderr.log").read_text())
    yield Server(
        address=address,
        ca_pem=ca.cert_pem.bytes(),
        admin_token=admin_token,
        reader_token=reader_token,
    )
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    stderr_log.close()
