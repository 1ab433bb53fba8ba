"""Uploads: files/upload, upload sessions with the SDK's automatic content hashes,
finish_batch_v2, content_hash_mismatch, concurrent sessions."""

import hashlib
import json
import os

import dropbox
import pytest
from dropbox import files
from dropbox.content_hash import content_hash
from dropbox.exceptions import ApiError

MIB = 1024 * 1024


def test_small_upload(dbx):
    meta = dbx.files_upload(b"hello", "/small.txt")
    assert isinstance(meta, files.FileMetadata)
    assert meta.name == "small.txt"
    assert meta.path_display == "/small.txt"
    assert meta.path_lower == "/small.txt"
    assert meta.size == 5
    assert meta.content_hash == "9595c9df90075148eb06860365df33584b75bff782a510c6cd4883a419833d50"
    assert meta.id.startswith("id:")
    assert len(meta.rev) >= 9
    _, response = dbx.files_download("/small.txt")
    assert response.content == b"hello"


def test_upload_sends_and_checks_content_hash(dbx, emulator):
    dbx.files_upload(b"A", "/a.txt")
    (entry,) = emulator.requests_log("files/upload")
    # The SDK adds the hash of the body on its own; the emulator verified it.
    assert entry["arg"]["content_hash"] == content_hash(b"A")
    assert entry["status"] == 200


def test_session_upload_20_mib(dbx, emulator):
    data = os.urandom(20 * MIB)
    chunk = 8 * MIB
    start = dbx.files_upload_session_start(data[:chunk])
    offset = chunk
    while len(data) - offset > chunk:
        cursor = files.UploadSessionCursor(start.session_id, offset)
        assert dbx.files_upload_session_append_v2(data[offset:offset + chunk], cursor) is None
        offset += chunk
    cursor = files.UploadSessionCursor(start.session_id, offset)
    commit = files.CommitInfo("/big/twenty.bin")
    meta = dbx.files_upload_session_finish(data[offset:], cursor, commit)
    assert meta.size == len(data)
    assert meta.content_hash == content_hash(data)
    assert meta.path_display == "/big/twenty.bin"
    _, response = dbx.files_download("/big/twenty.bin")
    assert hashlib.sha256(response.content).digest() == hashlib.sha256(data).digest()
    routes = [e["route"] for e in emulator.requests_log() if e["route"].startswith("files/upload_session")]
    assert routes == [
        "files/upload_session/start",
        "files/upload_session/append_v2",
        "files/upload_session/finish",
    ]
    for entry in emulator.requests_log():
        if entry["route"].startswith("files/upload_session"):
            assert len(entry["arg"]["content_hash"]) == 64, entry


def test_session_incorrect_offset(dbx):
    start = dbx.files_upload_session_start(b"12345")
    cursor = files.UploadSessionCursor(start.session_id, 3)
    with pytest.raises(ApiError) as err:
        dbx.files_upload_session_append_v2(b"678", cursor)
    assert err.value.error.is_incorrect_offset()
    assert err.value.error.get_incorrect_offset().correct_offset == 5
    with pytest.raises(ApiError) as err:
        dbx.files_upload_session_finish(
            b"", files.UploadSessionCursor(start.session_id, 9), files.CommitInfo("/o.txt")
        )
    lookup = err.value.error.get_lookup_failed()
    assert lookup.is_incorrect_offset()
    assert lookup.get_incorrect_offset().correct_offset == 5


def test_finish_batch_v2(dbx):
    entries = []
    for i in range(3):
        body = ("file %d\n" % i).encode() * (i + 1)
        start = dbx.files_upload_session_start(body, close=True)
        entries.append(
            files.UploadSessionFinishArg(
                cursor=files.UploadSessionCursor(start.session_id, len(body)),
                commit=files.CommitInfo("/batch/f%d.txt" % i),
            )
        )
    # One entry whose session does not exist.
    entries.append(
        files.UploadSessionFinishArg(
            cursor=files.UploadSessionCursor("pid_upload_session:nope", 0),
            commit=files.CommitInfo("/batch/missing.txt"),
        )
    )
    result = dbx.files_upload_session_finish_batch_v2(entries)
    assert len(result.entries) == 4
    for i, entry in enumerate(result.entries[:3]):
        assert entry.is_success()
        meta = entry.get_success()
        assert meta.path_display == "/batch/f%d.txt" % i
        assert meta.size == len(("file %d\n" % i).encode() * (i + 1))
    failure = result.entries[3].get_failure()
    assert failure.is_lookup_failed() and failure.get_lookup_failed().is_not_found()
    names = sorted(e.name for e in dbx.files_list_folder("/batch").entries)
    assert names == ["f0.txt", "f1.txt", "f2.txt"]


def test_wrong_content_hash(dbx):
    with pytest.raises(ApiError) as err:
        dbx.files_upload(b"some bytes", "/bad-hash.txt", content_hash="0" * 64)
    assert err.value.error.is_content_hash_mismatch()
    with pytest.raises(ApiError) as err:
        dbx.files_get_metadata("/bad-hash.txt")
    assert err.value.error.get_path().is_not_found()


def test_wrong_content_hash_on_append(dbx):
    start = dbx.files_upload_session_start(b"abc")
    cursor = files.UploadSessionCursor(start.session_id, 3)
    with pytest.raises(ApiError) as err:
        dbx.files_upload_session_append_v2(b"def", cursor, content_hash=content_hash(b"xyz"))
    assert err.value.error.is_content_hash_mismatch()
    # The refused append left the session where it was.
    dbx.files_upload_session_append_v2(b"def", cursor)
    meta = dbx.files_upload_session_finish(
        b"", files.UploadSessionCursor(start.session_id, 6), files.CommitInfo("/abcdef.txt")
    )
    assert meta.size == 6 and meta.content_hash == content_hash(b"abcdef")


def test_parallel_upload_uses_concurrent_session(dbx, emulator):
    from dropbox.file_transfer import BytesUpload, Uploader, UploadOptions

    data = os.urandom(18 * MIB + 12345)
    result = Uploader(dbx).upload(
        BytesUpload(data), files.CommitInfo("/parallel.bin"), UploadOptions(parallel_uploads=3)
    )
    assert result.metadata.size == len(data)
    assert result.metadata.content_hash == content_hash(data)
    (start,) = emulator.requests_log("files/upload_session/start")
    assert start["arg"]["session_type"][".tag"] == "concurrent"


def test_write_modes_and_autorename(dbx):
    first = dbx.files_upload(b"one", "/modes/Note.txt")
    with pytest.raises(ApiError) as err:
        dbx.files_upload(b"two", "/modes/note.txt")
    reason = err.value.error.get_path().reason
    assert reason.is_conflict() and reason.get_conflict().is_file()
    renamed = dbx.files_upload(b"two", "/modes/note.txt", autorename=True)
    assert renamed.name == "note (2).txt"
    same = dbx.files_upload(b"one", "/modes/NOTE.txt")
    assert same.rev == first.rev  # identical content is not a conflict
    over = dbx.files_upload(b"three", "/modes/note.txt", mode=files.WriteMode.overwrite)
    assert over.id == first.id and over.rev != first.rev and over.name == "Note.txt"
    updated = dbx.files_upload(b"four", "/modes/note.txt", mode=files.WriteMode.update(over.rev))
    assert updated.size == 4
    with pytest.raises(ApiError) as err:
        dbx.files_upload(b"five", "/modes/note.txt", mode=files.WriteMode.update(over.rev))
    assert err.value.error.get_path().reason.get_conflict().is_file()
    with pytest.raises(ApiError) as err:
        dbx.files_upload(b"four", "/modes/note.txt", strict_conflict=True)
    assert err.value.error.get_path().reason.is_conflict()
