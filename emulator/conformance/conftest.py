"""Starts the built `dropbox-emulator` over HTTPS and points the official Dropbox SDK at it.

The emulator binary comes from DROPBOX_EMULATOR_BIN (default: target/debug/dropbox-emulator
in this repository). The SDK reads its hosts at import time, so the emulator starts in
pytest_configure, before any test module imports `dropbox`.
"""

import os
import pathlib
import shutil
import subprocess
import tempfile
import threading
import time

import pytest
import requests

REPO = pathlib.Path(__file__).resolve().parents[2]
TOKEN = "conformance-token"
OTHER_TOKEN = "conformance-token-2"
TEAM_TOKEN = "conformance-team-token"
APP_KEY = "conformance-app"
APP_SECRET = "conformance-secret"
EXTRA_REDIRECT = "http://localhost:8765/oauth/callback"


class Emulator:
    """The running emulator process and a control-API client."""

    def __init__(self):
        self.workdir = tempfile.mkdtemp(prefix="dropbox-emulator-conformance-")
        self.ca_path = os.path.join(self.workdir, "ca.pem")
        binary = os.environ.get(
            "DROPBOX_EMULATOR_BIN", str(REPO / "target" / "debug" / "dropbox-emulator")
        )
        if not os.path.exists(binary):
            raise RuntimeError(
                "dropbox-emulator binary not found at %s (run `cargo build -p dropbox-emulator` "
                "or set DROPBOX_EMULATOR_BIN)" % binary
            )
        self.stderr = open(os.path.join(self.workdir, "emulator.log"), "wb")
        self.process = subprocess.Popen(
            [
                binary,
                "--listen", "127.0.0.1:0",
                "--tls", "--ca-out", self.ca_path,
                "--token", TOKEN,
                "--token", OTHER_TOKEN,
                "--team", TEAM_TOKEN,
                "--app", "%s:%s" % (APP_KEY, APP_SECRET),
                "--redirect-uri", "%s=%s" % (APP_KEY, EXTRA_REDIRECT),
            ],
            stdout=subprocess.PIPE,
            stderr=self.stderr,
        )
        self.base_url = self._wait_for_ready()
        self.hostport = self.base_url.split("://", 1)[1]
        self.http = requests.Session()
        self.http.verify = self.ca_path

    def _wait_for_ready(self):
        result = {}

        def read_line():
            result["line"] = self.process.stdout.readline().decode("utf-8", "replace").strip()

        reader = threading.Thread(target=read_line, daemon=True)
        reader.start()
        reader.join(timeout=30)
        line = result.get("line", "")
        if not line.startswith("listening on "):
            self.stop()
            raise RuntimeError("emulator did not start: %r" % line)
        return line[len("listening on "):]

    def control(self, method, path, body=None):
        response = self.http.request(method, self.base_url + "/__emulator" + path, json=body)
        assert response.status_code == 200, (path, response.status_code, response.text)
        return response.json()

    def requests_log(self, route=None):
        entries = self.control("GET", "/requests")["requests"]
        if route is not None:
            entries = [e for e in entries if e["route"] == route]
        return entries

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.stderr.close()
        shutil.rmtree(self.workdir, ignore_errors=True)


_EMULATOR = None


def pytest_configure(config):
    global _EMULATOR
    # requests lets these override a session's `verify` (and so the SDK's ca_certs=).
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        os.environ.pop(name, None)
    _EMULATOR = Emulator()
    # The SDK builds https://<host>/... URLs from these at import time.
    os.environ["DROPBOX_API_HOST"] = _EMULATOR.hostport
    os.environ["DROPBOX_API_CONTENT_HOST"] = _EMULATOR.hostport
    os.environ["DROPBOX_API_NOTIFY_HOST"] = _EMULATOR.hostport
    os.environ["DROPBOX_WEB_HOST"] = _EMULATOR.hostport


def pytest_unconfigure(config):
    if _EMULATOR is not None:
        _EMULATOR.stop()


@pytest.fixture(scope="session")
def emulator():
    return _EMULATOR


@pytest.fixture(autouse=True)
def clean_state(emulator):
    """Every case starts with empty Dropboxes, no faults and an empty request log."""
    emulator.control("POST", "/reset")
    emulator.control("DELETE", "/faults")
    emulator.control("DELETE", "/requests")
    emulator.control("POST", "/network", {"latency_ms": 0, "bandwidth_bytes_per_sec": 0})
    yield


@pytest.fixture
def dbx(emulator):
    import dropbox

    client = dropbox.Dropbox(TOKEN, ca_certs=emulator.ca_path, max_retries_on_error=2)
    yield client
    client.close()


def refreshing_client(emulator):
    """A freshly minted token pair and an SDK client that can refresh it (it believes the
    access token good for hours, so only a 401 makes it refresh)."""
    import datetime

    import dropbox

    issued = emulator.control("POST", "/tokens", {"app_key": APP_KEY})
    client = dropbox.Dropbox(
        oauth2_access_token=issued["access_token"],
        oauth2_refresh_token=issued["refresh_token"],
        oauth2_access_token_expiration=datetime.datetime.utcnow() + datetime.timedelta(hours=4),
        app_key=APP_KEY,
        ca_certs=emulator.ca_path,
    )
    return client, issued


@pytest.fixture
def accounts(emulator):
    return emulator.control("GET", "/accounts")


def wait_until(predicate, timeout=10.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met within %.1fs" % timeout)
