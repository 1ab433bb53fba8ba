"""VisualCron's Download options through the Python client: the overwrite policy decided by
the service against what the caller holds, keep-dates, and delete-source only after the
file was stored and verified, pinned to the revision downloaded."""

import datetime
import os
import uuid

import grpc
import pytest

from dropbox_connector import DropboxConnectorError, FileToUpload

from conftest import DEMO

# Whole seconds: Dropbox keeps client_modified to the second.
T0 = datetime.datetime(2026, 1, 1, 12, 0, 0, tzinfo=datetime.timezone.utc).timestamp()
DAY = 24 * 3600


def _folder() -> str:
    return f"/py-dlopts-{uuid.uuid4().hex[:8]}"


def _upload(client, tmp_path, folder, files: dict[str, bytes], mtime: float = T0):
    """Uploads `files` keeping `mtime` as their Dropbox modification time."""
    source = tmp_path / f"source-{uuid.uuid4().hex[:6]}"
    source.mkdir()
    for name, data in files.items():
        path = source / name
        path.write_bytes(data)
        os.utime(path, (mtime, mtime))
    client.upload(
        DEMO, [FileToUpload(source / n, n) for n in files], folder, keep_modified_date=True, overwrite="always"
    )


def _local(path, data: bytes, mtime: float):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))
    return path


def _by_name(files):
    return {f.path.name: f for f in files}


def test_never_keeps_what_the_caller_holds_and_downloads_the_rest(client, tmp_path):
    folder = _folder()
    _upload(client, tmp_path, folder, {"a.txt": b"remote a", "b.txt": b"remote b"})
    local = tmp_path / "local"
    _local(local / "a.txt", b"local a", T0 - DAY)

    files = _by_name(client.download_folder(DEMO, folder, local, overwrite="never"))
    assert files["a.txt"].skipped is not None
    assert files["a.txt"].skipped.existing.path_display == f"{folder}/a.txt"
    assert files["b.txt"].skipped is None
    assert (local / "a.txt").read_bytes() == b"local a"
    assert (local / "b.txt").read_bytes() == b"remote b"
    client.delete(DEMO, folder)


def test_if_newer_replaces_only_older_local_files(client, tmp_path):
    folder = _folder()
    _upload(client, tmp_path, folder, {"old.txt": b"remote old", "new.txt": b"remote new"})
    local = tmp_path / "local"
    _local(local / "old.txt", b"local, a day older", T0 - DAY)
    _local(local / "new.txt", b"local, a day newer", T0 + DAY)

    files = _by_name(client.download_folder(DEMO, folder, local, overwrite="if-newer"))
    assert files["old.txt"].skipped is None
    assert files["new.txt"].skipped is not None
    assert (local / "old.txt").read_bytes() == b"remote old"
    assert (local / "new.txt").read_bytes() == b"local, a day newer"

    # The same policy for one named file.
    single = client.download_file(DEMO, f"{folder}/new.txt", local / "new.txt", overwrite="if-newer")
    assert single.skipped is not None
    client.delete(DEMO, folder)


def test_keep_dates_gives_the_file_dropbox_modification_time(client, tmp_path):
    folder = _folder()
    _upload(client, tmp_path, folder, {"dated.txt": b"dated"})
    kept = client.download_file(DEMO, f"{folder}/dated.txt", tmp_path / "kept.txt", keep_dates=True)
    assert kept.path.stat().st_mtime == T0
    assert kept.metadata.client_modified.ToDatetime(tzinfo=datetime.timezone.utc).timestamp() == T0
    plain = client.download_file(DEMO, f"{folder}/dated.txt", tmp_path / "plain.txt")
    assert abs(plain.path.stat().st_mtime - datetime.datetime.now().timestamp()) < 3600
    client.delete(DEMO, folder)


def test_delete_source_deletes_stored_files_and_keeps_one_changed_meanwhile(client, tmp_path):
    folder = _folder()
    _upload(client, tmp_path, folder, {"x.txt": b"x, first", "y.txt": b"y, first"})
    stored = []

    def on_downloaded(downloaded):
        stored.append(downloaded.path.name)
        # Someone writes a new x.txt in Dropbox after both were downloaded, before the deletes.
        if len(stored) == 2:
            _upload(client, tmp_path, folder, {"x.txt": b"x, second version"})

    local = tmp_path / "local"
    files = _by_name(client.download_folder(DEMO, folder, local, delete_source=True, on_downloaded=on_downloaded))
    assert sorted(stored) == ["x.txt", "y.txt"]
    assert (local / "x.txt").read_bytes() == b"x, first"
    assert (local / "y.txt").read_bytes() == b"y, first"

    assert files["y.txt"].source_deleted and files["y.txt"].source_error is None
    assert not files["x.txt"].source_deleted
    assert files["x.txt"].source_error.reason == "REVISION_CHANGED"
    assert files["x.txt"].source_error.code == grpc.StatusCode.ABORTED
    remaining = {item.name: item.size for item in client.list(DEMO, folder)}
    assert remaining == {"x.txt": len(b"x, second version")}
    client.delete(DEMO, folder)


def test_delete_source_keeps_a_file_that_did_not_arrive_whole(client, server, tmp_path):
    folder = _folder()
    _upload(client, tmp_path, folder, {"fragile.bin": os.urandom(300_000)})
    server.emulator("POST", "/__emulator/faults", {"route": "files/download", "kind": "corrupt", "count": 1})
    try:
        with pytest.raises(DropboxConnectorError) as caught:
            client.download_file(DEMO, f"{folder}/fragile.bin", tmp_path / "fragile.bin", delete_source=True)
    finally:
        server.emulator("DELETE", "/__emulator/faults")
    assert caught.value.reason == "CONTENT_HASH_MISMATCH"
    assert not (tmp_path / "fragile.bin").exists()
    assert [item.name for item in client.list(DEMO, folder)] == ["fragile.bin"]

    downloaded = client.download_file(DEMO, f"{folder}/fragile.bin", tmp_path / "fragile.bin", delete_source=True)
    assert downloaded.source_deleted
    assert list(client.list(DEMO, folder)) == []
    client.delete(DEMO, folder)
