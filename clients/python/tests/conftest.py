"""Starts a real `dropbox-connector --dev` (server + in-process emulator) for the Python clients."""

import os
import pathlib
import queue
import subprocess
import sys
import threading
import time

import pytest

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[2]
# The generated package lives in clients/python.
sys.path.insert(0, str(HERE.parent))


def _server_bin() -> str:
    path = os.environ.get("DBXC_SERVER_BIN", str(REPO / "target" / "debug" / "dropbox-connector"))
    if not os.path.exists(path):
        pytest.fail(f"{path} is missing: run `cargo build --workspace --bins` first")
    return path


@pytest.fixture(scope="session")
def server_address(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("dbxc-data")
    stderr_log = open(data_dir / "server.stderr.log", "wb")
    # Reflection is off by default; the reflection test needs it.
    env = dict(os.environ, DBXC_LISTEN="127.0.0.1:0", DBXC_REFLECTION="true")
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
    yield address
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    stderr_log.close()
