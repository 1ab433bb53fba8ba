"""Old revisions through the official SDK: files_list_revisions, and files_download /
files_get_metadata of an overwritten revision by `rev:`."""

import pytest
from dropbox import files
from dropbox.content_hash import content_hash
from dropbox.exceptions import ApiError

OVERWRITE = files.WriteMode.overwrite


def test_list_revisions_newest_first(dbx):
    revs = [dbx.files_upload(b"revision 0", "/Revs/doc.txt").rev]
    for i in range(1, 12):
        revs.append(dbx.files_upload(b"revision %d!" % i, "/revs/doc.txt", mode=OVERWRITE).rev)
    revs.reverse()

    result = dbx.files_list_revisions("/revs/DOC.txt")
    assert isinstance(result, files.ListRevisionsResult)
    assert result.is_deleted is False
    assert [e.rev for e in result.entries] == revs[:10], "default limit 10, newest first"
    assert all(isinstance(e, files.FileMetadata) for e in result.entries)
    assert result.entries[0].content_hash == content_hash(b"revision 11!")
    assert result.entries[-1].size == len(b"revision 2!")
    assert result.has_more is True

    rest = dbx.files_list_revisions("/revs/doc.txt", before_rev=result.entries[-1].rev)
    assert [e.rev for e in rest.entries] == revs[10:]
    assert rest.has_more is False

    everything = dbx.files_list_revisions(
        "/revs/doc.txt", mode=files.ListRevisionsMode.path, limit=100
    )
    assert [e.rev for e in everything.entries] == revs
    assert everything.entries[-1].content_hash == content_hash(b"revision 0")
    assert everything.has_more is False


def test_list_revisions_of_a_missing_file(dbx):
    with pytest.raises(ApiError) as raised:
        dbx.files_list_revisions("/revs/missing.txt")
    error = raised.value.error
    assert error.is_path() and error.get_path().is_not_found()


def test_download_an_overwritten_revision(dbx):
    old = dbx.files_upload(b"the old bytes", "/revs/file.bin")
    new = dbx.files_upload(b"the new, longer bytes", "/revs/file.bin", mode=OVERWRITE)
    assert new.rev != old.rev and new.id == old.id

    meta, response = dbx.files_download("rev:" + old.rev)
    assert response.content == b"the old bytes"
    assert meta.rev == old.rev and meta.content_hash == old.content_hash
    _, response = dbx.files_download("rev:" + old.rev, extra_headers={"Range": "bytes=4-"})
    assert response.status_code == 206 and response.content == b"old bytes"
    _, response = dbx.files_download("/revs/file.bin")
    assert response.content == b"the new, longer bytes"

    by_rev = dbx.files_get_metadata("rev:" + old.rev)
    assert isinstance(by_rev, files.FileMetadata)
    assert by_rev.rev == old.rev and by_rev.size == len(b"the old bytes")


def test_download_an_unknown_rev(dbx):
    dbx.files_upload(b"x", "/revs/one.txt")
    with pytest.raises(ApiError) as raised:
        dbx.files_download("rev:0123456789abcdef")
    error = raised.value.error
    assert error.is_path() and error.get_path().is_not_found()


def test_delete_with_a_stale_parent_rev_keeps_the_file(dbx):
    """delete_v2 with a parent_rev that is no longer the file's revision refuses with
    DeleteError.path_write (WriteError.conflict: file) and keeps the file; with the current
    revision it deletes. Measured against Dropbox by other projects' clients (409
    `path_write/conflict/file/`); the service reports it as REVISION_CHANGED."""
    old = dbx.files_upload(b"as downloaded", "/revs/pinned.txt")
    new = dbx.files_upload(b"changed meanwhile", "/revs/pinned.txt", mode=OVERWRITE)
    with pytest.raises(ApiError) as raised:
        dbx.files_delete_v2("/revs/pinned.txt", parent_rev=old.rev)
    error = raised.value.error
    assert error.is_path_write(), error
    conflict = error.get_path_write()
    assert conflict.is_conflict() and conflict.get_conflict().is_file(), error
    assert dbx.files_get_metadata("/revs/pinned.txt").rev == new.rev

    deleted = dbx.files_delete_v2("/revs/pinned.txt", parent_rev=new.rev)
    assert isinstance(deleted.metadata, files.FileMetadata)
    assert deleted.metadata.rev == new.rev
    with pytest.raises(ApiError) as raised:
        dbx.files_get_metadata("/revs/pinned.txt")
    assert raised.value.error.get_path().is_not_found()
