"""Starts a real `dropbox-connector --dev` (server + in-process emulator) for the Python
clients, the way a service would meet it in production: TLS with a certificate from a test
CA, and a callers file that names each client by the SHA-256 of its bearer token (or by its
client certificate, for mTLS). The package under test is the installed one
(`pip install ./clients/python`), never this folder on sys.path."""

import dataclasses
import hashlib
import json
import os
import pathlib
import queue
import secrets
import subprocess
import threading
import time
import urllib.request

import pytest
import trustme

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[2]
# The connection `--dev` creates, on the emulator account whose token is `dev-token-demo`.
DEMO = "demo"
DEV_TOKEN = "dev-token-demo"


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
    # The in-process emulator's base URL: its control API (/__emulator/...) injects faults.
    emulator_url: str

    def emulator(self, method: str, path: str, body=None):
        """A call of the emulator's control API, e.g. ("POST", "/__emulator/faults", {...})."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.emulator_url.rstrip("/") + path,
            data=data,
            method=method,
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
        return json.loads(raw) if raw else None


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _callers_file(path: pathlib.Path, admin_token: str, reader_token: str, cert_name: str | None) -> None:
    text = f"""
[[caller]]
name = "python-admin"
token_sha256 = "{_sha(admin_token)}"
role = "admin"
groups = ["*"]

[[caller]]
name = "python-finance-reader"
token_sha256 = "{_sha(reader_token)}"
role = "reader"
groups = ["finance"]
"""
    if cert_name is not None:
        text += f"""
[[caller]]
name = "python-mtls-writer"
certificate = "{cert_name}"
role = "writer"
groups = ["*"]
"""
    path.write_text(text)


def _start_server(
    data_dir: pathlib.Path, ca: trustme.CA | None, *, client_ca: trustme.CA | None = None, cert_name: str | None = None
):
    """With `ca` None: plain TCP and no callers file, as `--dev` on loopback allows."""
    stderr_log = open(data_dir / "server.stderr.log", "wb")
    admin_token, reader_token = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBXC_")}
    env.update(DBXC_LISTEN="127.0.0.1:0", DBXC_REFLECTION="true")
    if ca is not None:
        cert = ca.issue_cert("localhost", "127.0.0.1")
        cert_file, key_file = data_dir / "server.crt", data_dir / "server.key"
        cert.cert_chain_pems[0].write_to_path(str(cert_file))
        cert.private_key_pem.write_to_path(str(key_file))
        callers = data_dir / "callers.toml"
        _callers_file(callers, admin_token, reader_token, cert_name)
        env.update(
            DBXC_TLS__CERT_FILE=str(cert_file),
            DBXC_TLS__KEY_FILE=str(key_file),
            DBXC_AUTH__CALLERS_FILE=str(callers),
        )
    if client_ca is not None:
        client_ca_file = data_dir / "client-ca.pem"
        client_ca.cert_pem.write_to_path(str(client_ca_file))
        env["DBXC_TLS__CLIENT_CA_FILE"] = str(client_ca_file)
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
    address = emulator_url = None
    while time.monotonic() < deadline and (address is None or emulator_url is None):
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            break
        if line.startswith("listening on "):
            address = line.removeprefix("listening on ").strip()
        elif line.startswith("dev mode: Dropbox emulator at "):
            emulator_url = line.removeprefix("dev mode: Dropbox emulator at ").split(",")[0].strip()
    if address is None or emulator_url is None:
        proc.kill()
        proc.wait()
        stderr_log.close()
        pytest.fail(
            "dropbox-connector --dev did not print its address and emulator URL:\n"
            + (data_dir / "server.stderr.log").read_text()
        )
    server = Server(
        address=address,
        ca_pem=ca.cert_pem.bytes() if ca is not None else b"",
        admin_token=admin_token,
        reader_token=reader_token,
        emulator_url=emulator_url,
    )

    def stop():
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        stderr_log.close()

    return server, stop


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    server, stop = _start_server(tmp_path_factory.mktemp("dbxc-data"), trustme.CA())
    yield server
    stop()


@pytest.fixture(scope="session")
def plaintext_server(tmp_path_factory):
    """`--dev` as the README's quick start runs it: loopback, no TLS, no callers."""
    server, stop = _start_server(tmp_path_factory.mktemp("dbxc-plain"), None)
    yield server
    stop()


@dataclasses.dataclass
class MtlsServer:
    server: Server
    client_cert_pem: bytes
    client_key_pem: bytes


@pytest.fixture(scope="session")
def mtls_server(tmp_path_factory):
    """A server that requires a client certificate and knows one caller by it."""
    client_ca = trustme.CA()
    name = "python-client.test"
    client_cert = client_ca.issue_cert(name)
    server, stop = _start_server(
        tmp_path_factory.mktemp("dbxc-mtls"), trustme.CA(), client_ca=client_ca, cert_name=name
    )
    yield MtlsServer(
        server=server,
        client_cert_pem=client_cert.cert_chain_pems[0].bytes(),
        client_key_pem=client_cert.private_key_pem.bytes(),
    )
    stop()


@pytest.fixture()
def client(server):
    from dropbox_connector import Client

    with Client(server.address, ca_pem=server.ca_pem, token=server.admin_token, timeout=120) as client:
        yield client
