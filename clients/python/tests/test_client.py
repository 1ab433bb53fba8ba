"""The helper layer of the installed package (`dropbox_connector.Client`) against the real
server and its emulator, over TLS with a bearer token."""

import datetime
import filecmp
import hashlib
import pathlib
import subprocess
import sys
import tracemalloc
import uuid

import grpc
import pytest

from dropbox_connector import Client, DropboxConnectorError
from dropbox_connector.v1 import cloud_tasks_pb2 as pb

from conftest import DEMO, DEV_TOKEN
from cutting_proxy import CuttingProxy

MIB = 1024 * 1024


def _folder() -> str:
    return f"/py-helpers-{uuid.uuid4().hex[:8]}"


def _write_file(path: pathlib.Path, size: int, seed: int = 0) -> pathlib.Path:
    """A file of `size` bytes that differ from block to block, written a MiB at a time."""
    with open(path, "wb") as f:
        written = 0
        while written < size:
            piece = hashlib.sha256(f"{seed}-{written}".encode()).digest() * (MIB // 32)
            f.write(piece[: size - written])
            written += len(piece[: size - written])
    return path


def _expected_content_hash(path: pathlib.Path) -> str:
    """Dropbox's content_hash, written here again so the package's own is not taken on trust."""
    digests = b""
    with open(path, "rb") as f:
        while block := f.read(4 * MIB):
            digests += hashlib.sha256(block).digest()
    return hashlib.sha256(digests).hexdigest()


def test_connections_are_created_read_listed_and_deleted(client):
    name = f"py-conn-{uuid.uuid4().hex[:8]}"
    created = client.create_connection(name, access_token=DEV_TOKEN)
    assert created.name.startswith("connections/")
    assert created.display_name == name
    fetched = client.get_connection(name)
    assert fetched.name == created.name
    assert fetched.credential_state.has_access_token
    assert not fetched.credentials.access_token, "secrets are never returned"
    assert name in [c.display_name for c in client.list_connections()]
    # The new connection works for the cloud tasks.
    folder = client.create_folder(name, _folder())
    assert folder.kind == pb.ITEM_KIND_FOLDER

    client.delete_connection(created.name)
    with pytest.raises(DropboxConnectorError) as caught:
        client.get_connection(name)
    assert caught.value.code == grpc.StatusCode.NOT_FOUND
    assert caught.value.reason == "CONNECTION_NOT_FOUND"


def test_20_mib_streams_from_a_file_in_bounded_memory_then_lists_downloads_and_deletes(client, tmp_path):
    size = 20 * MIB + 12345
    source = _write_file(tmp_path / "big.bin", size)
    folder = _folder()

    # tracemalloc sees every buffer Python holds: reading the file whole would show 20 MiB.
    tracemalloc.start()
    try:
        result = client.upload_file(DEMO, source, folder)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(f"upload of {size} bytes: Python peak {peak / MIB:.1f} MiB")
    assert peak < 8 * MIB, f"the upload held {peak / MIB:.1f} MiB at its peak"
    assert result.WhichOneof("outcome") == "uploaded"
    assert result.uploaded.size == size
    assert result.uploaded.content_hash == _expected_content_hash(source)

    listed = list(client.list(DEMO, folder))
    assert [(i.name, i.size, i.content_hash) for i in listed] == [("big.bin", size, result.uploaded.content_hash)]

    target = tmp_path / "down" / "big-copy.bin"
    downloaded = client.download_file(DEMO, f"{folder}/big.bin", target)
    assert downloaded.path == target
    assert downloaded.metadata.content_hash == result.uploaded.content_hash
    assert filecmp.cmp(source, target, shallow=False)
    assert sorted(p.name for p in target.parent.iterdir()) == ["big-copy.bin"], "no temp file left"

    deleted = client.delete(DEMO, folder)
    assert [d.path_display for d in deleted] == [folder]
    with pytest.raises(DropboxConnectorError) as caught:
        list(client.list(DEMO, folder))
    assert caught.value.code == grpc.StatusCode.NOT_FOUND
    assert caught.value.reason == "PATH_NOT_FOUND"


def test_upload_memory_of_the_whole_process_does_not_grow_with_the_file(client, server, tmp_path):
    """tracemalloc sees Python's buffers only; this counts gRPC's own too: a fresh process
    uploads 64 MiB, and its resident memory must rise by far less than that."""
    size = 64 * MIB
    source = _write_file(tmp_path / "large.bin", size, seed=11)
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(server.ca_pem)
    folder = _folder()
    probe = pathlib.Path(__file__).with_name("rss_probe.py")
    out = subprocess.run(
        [sys.executable, str(probe), server.address, str(ca_file), server.admin_token, DEMO, str(source), folder],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    uploaded, growth_mib = out.stdout.split()
    print(f"upload of {size} bytes: resident memory rose {growth_mib} MiB")
    assert int(uploaded) == size
    assert float(growth_mib) < 40, f"resident memory rose {growth_mib} MiB for a {size // MIB} MiB file"
    client.delete(DEMO, folder)


def test_a_folder_uploads_and_downloads_with_its_relative_paths(client, tmp_path):
    tree = tmp_path / "site"
    (tree / "reports" / "2026").mkdir(parents=True)
    (tree / "reports" / "2026" / "q1.csv").write_text("region,total\nnorth,12\n")
    (tree / "reports" / "notes.txt").write_text("draft\n")
    (tree / "empty.txt").write_bytes(b"")
    folder = _folder()

    told = []
    results = client.upload_folder(DEMO, tree, folder, on_result=told.append)
    assert told == results, "each result is told as it arrives, and all of them are returned"
    assert sorted(r.relative_path for r in results) == ["empty.txt", "reports/2026/q1.csv", "reports/notes.txt"]
    assert all(r.WhichOneof("outcome") == "uploaded" for r in results)

    listed = sorted(i.relative_path for i in client.list(DEMO, folder, recursive=True))
    assert listed == ["empty.txt", "reports/2026/q1.csv", "reports/notes.txt"]

    copy = tmp_path / "copy"
    downloaded = client.download_folder(DEMO, folder, copy, recursive=True)
    assert len(downloaded) == 3
    for rel in listed:
        assert (copy / rel).read_bytes() == (tree / rel).read_bytes(), rel

    # "never" keeps what is there: the file is reported skipped, not uploaded.
    (tree / "reports" / "notes.txt").write_text("changed\n")
    again = client.upload_file(DEMO, tree / "reports" / "notes.txt", f"{folder}/reports", overwrite="never")
    assert again.WhichOneof("outcome") == "skipped"
    client.delete(DEMO, folder)


def test_a_damaged_download_leaves_the_destination_as_it_was(client, server, tmp_path):
    folder = _folder()
    source = _write_file(tmp_path / "data.bin", 3 * MIB, seed=7)
    client.upload_file(DEMO, source, folder)
    target = tmp_path / "data-local.bin"
    target.write_bytes(b"the caller's old copy")
    # The emulator flips a byte in the middle of the next download body.
    server.emulator("POST", "/__emulator/faults", {"route": "files/download", "kind": "corrupt", "count": 1})
    try:
        with pytest.raises(DropboxConnectorError) as caught:
            client.download_file(DEMO, f"{folder}/data.bin", target)
    finally:
        server.emulator("DELETE", "/__emulator/faults")
    assert caught.value.code == grpc.StatusCode.DATA_LOSS
    assert caught.value.reason == "CONTENT_HASH_MISMATCH"
    assert target.read_bytes() == b"the caller's old copy"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data-local.bin", "data.bin"], "no temp file left"

    client.download_file(DEMO, f"{folder}/data.bin", target)
    assert filecmp.cmp(source, target, shallow=False)
    client.delete(DEMO, folder)


def test_a_resumable_upload_resumes_by_itself_after_the_network_breaks(server, tmp_path):
    size = 14 * MIB + 999
    source = _write_file(tmp_path / "resumable.bin", size, seed=3)
    remote = f"{_folder()}/resumable.bin"
    # Every connection through the proxy breaks once 10 MiB have gone towards the server.
    proxy = CuttingProxy(server.address, cut_after_bytes=10 * MIB)
    started, resumed_at = [], []
    try:
        with Client(proxy.address, ca_pem=server.ca_pem, token=server.admin_token, timeout=120) as client:
            result = client.upload_resumable(
                DEMO, source, remote, on_started=started.append, on_resume=resumed_at.append
            )
    finally:
        proxy.close()
    assert proxy.cut.is_set(), "the stream was never broken"
    print(f"resumable upload: {proxy.upstream_bytes} bytes through the proxy, resumed at {resumed_at}")
    assert len(started) == 1
    assert resumed_at, "the upload did not resume"
    # It went on from what the service had persisted (whole 4 MiB blocks), not from 0.
    assert resumed_at[0] > 0 and resumed_at[0] % (4 * MIB) == 0, resumed_at
    assert result.WhichOneof("outcome") == "uploaded"
    assert result.uploaded.size == size
    assert result.uploaded.content_hash == _expected_content_hash(source)

    with Client(server.address, ca_pem=server.ca_pem, token=server.admin_token, timeout=120) as client:
        target = tmp_path / "back.bin"
        client.download_file(DEMO, remote, target)
        assert filecmp.cmp(source, target, shallow=False)
        client.delete(DEMO, remote.rsplit("/", 1)[0])


def test_a_resumable_upload_goes_on_from_a_kept_upload_id(server, tmp_path):
    """A caller that gave up (here: one attempt only) keeps the upload_id and finishes later."""
    size = 14 * MIB
    source = _write_file(tmp_path / "later.bin", size, seed=5)
    remote = f"{_folder()}/later.bin"
    proxy = CuttingProxy(server.address, cut_after_bytes=10 * MIB)
    started = []
    try:
        with Client(proxy.address, ca_pem=server.ca_pem, token=server.admin_token, timeout=120) as client:
            with pytest.raises(DropboxConnectorError) as caught:
                client.upload_resumable(DEMO, source, remote, on_started=started.append, max_attempts=1)
    finally:
        proxy.close()
    assert caught.value.code == grpc.StatusCode.UNAVAILABLE
    assert caught.value.reason == ""
    [upload_id] = started

    resumed_at = []
    with Client(server.address, ca_pem=server.ca_pem, token=server.admin_token, timeout=120) as client:
        result = client.upload_resumable(DEMO, source, remote, upload_id=upload_id, on_resume=resumed_at.append)
        assert result.uploaded.size == size
        assert result.uploaded.content_hash == _expected_content_hash(source)
        assert resumed_at and resumed_at[0] > 0, resumed_at
        client.delete(DEMO, remote.rsplit("/", 1)[0])


def test_path_not_found_is_a_typed_error_from_every_helper(client, tmp_path):
    missing = f"{_folder()}/missing.txt"
    target = tmp_path / "never.txt"
    with pytest.raises(DropboxConnectorError) as on_download:
        client.download_file(DEMO, missing, target)
    with pytest.raises(DropboxConnectorError) as on_delete:
        client.delete(DEMO, missing)
    for caught in (on_download, on_delete):
        assert caught.value.code == grpc.StatusCode.NOT_FOUND, caught.value
        assert caught.value.reason == "PATH_NOT_FOUND", caught.value
        assert caught.value.path == missing
    assert on_delete.value.metadata.get("path", "").lower() == missing.lower()
    assert not target.exists()


def test_rate_limited_is_a_typed_error_with_its_retry_delay(client, server):
    # A connection of its own: a 429 pauses every call of the connection it hit.
    name = f"py-rate-{uuid.uuid4().hex[:8]}"
    client.create_connection(name, access_token=DEV_TOKEN)
    # Dropbox asks to wait 10 minutes, longer than the server's retry budget: the call fails.
    server.emulator(
        "POST",
        "/__emulator/faults",
        {"route": "files/list_folder", "kind": "status", "status": 429, "retry_after": 600, "count": 1},
    )
    try:
        with pytest.raises(DropboxConnectorError) as caught:
            list(client.list(name, "/"))
    finally:
        server.emulator("DELETE", "/__emulator/faults")
        client.delete_connection(name)
    assert caught.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert caught.value.reason == "RATE_LIMITED"
    assert caught.value.retry_delay == datetime.timedelta(seconds=600)


def test_caller_errors_carry_reason_and_metadata(server):
    with Client(server.address, ca_pem=server.ca_pem, token=server.reader_token, timeout=30) as reader:
        with pytest.raises(DropboxConnectorError) as caught:
            reader.create_folder(DEMO, _folder())
    assert caught.value.code == grpc.StatusCode.PERMISSION_DENIED
    assert caught.value.reason == "CALLER_NOT_ALLOWED"
    assert caught.value.metadata["caller"] == "python-finance-reader"


def test_a_token_file_is_read_at_every_call(server, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(server.admin_token + "\n")
    with Client(server.address, ca_pem=server.ca_pem, token_file=token_file, timeout=30) as client:
        assert DEMO in [c.display_name for c in client.list_connections()]
        # A rotated token: the reader of group "finance" does not see `demo`.
        token_file.write_text(server.reader_token)
        assert DEMO not in [c.display_name for c in client.list_connections()]


def test_mtls_client_certificate_identifies_the_caller(mtls_server, tmp_path):
    server = mtls_server.server
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(server.ca_pem)
    cert_file, key_file = tmp_path / "client.crt", tmp_path / "client.key"
    cert_file.write_bytes(mtls_server.client_cert_pem)
    key_file.write_bytes(mtls_server.client_key_pem)
    with Client(
        server.address, ca_file=ca_file, client_cert_file=cert_file, client_key_file=key_file, timeout=30
    ) as client:
        folder = _folder()
        assert client.create_folder(DEMO, folder).path_display == folder
    # Without the certificate the TLS handshake is refused.
    with Client(server.address, ca_file=ca_file, token=server.admin_token, timeout=10) as client:
        with pytest.raises(DropboxConnectorError) as caught:
            client.create_folder(DEMO, _folder())
    assert caught.value.code == grpc.StatusCode.UNAVAILABLE


def test_plaintext_loopback_reaches_a_dev_server_without_tls(plaintext_server):
    with Client(plaintext_server.address, plaintext_loopback=True, timeout=30) as client:
        assert DEMO in [c.display_name for c in client.list_connections()]
