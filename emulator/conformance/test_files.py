"""Listing, metadata, downloads, folders, deletes, the account, non-ASCII names."""

import io
import zipfile

import pytest
from dropbox import files, users
from dropbox.content_hash import content_hash
from dropbox.exceptions import ApiError

from conftest import wait_until


def test_list_folder_limit_and_continue(dbx):
    for i in range(5):
        dbx.files_upload(("entry %d" % i).encode(), "/listing/e%d.txt" % i)
    page = dbx.files_list_folder("/listing", limit=2)
    seen = [e.name for e in page.entries]
    assert len(page.entries) == 2 and page.has_more
    pages = 1
    while page.has_more:
        page = dbx.files_list_folder_continue(page.cursor)
        assert len(page.entries) <= 2
        seen.extend(e.name for e in page.entries)
        pages += 1
    assert pages == 3
    assert sorted(seen) == ["e%d.txt" % i for i in range(5)]
    # The final cursor reports later changes.
    dbx.files_upload(b"late", "/listing/late.txt")
    dbx.files_delete_v2("/listing/e0.txt")
    changes = dbx.files_list_folder_continue(page.cursor)
    kinds = {(type(e).__name__, e.name) for e in changes.entries}
    assert ("FileMetadata", "late.txt") in kinds
    assert ("DeletedMetadata", "e0.txt") in kinds


def test_list_folder_root_and_recursive(dbx):
    dbx.files_upload(b"x", "/r/a/b/deep.txt")
    dbx.files_upload(b"y", "/top.txt")
    root = dbx.files_list_folder("")
    assert sorted(e.name for e in root.entries) == ["r", "top.txt"]
    everything = dbx.files_list_folder("", recursive=True)
    paths = [e.path_lower for e in everything.entries]
    assert paths.index("/r") < paths.index("/r/a") < paths.index("/r/a/b") < paths.index("/r/a/b/deep.txt")


def test_get_metadata(dbx):
    uploaded = dbx.files_upload(b"metadata", "/Meta/File.TXT", client_modified=__import__("datetime").datetime(2020, 1, 2, 3, 4, 5))
    meta = dbx.files_get_metadata("/meta/file.txt")
    assert isinstance(meta, files.FileMetadata)
    assert meta.id == uploaded.id
    assert meta.name == "File.TXT"
    assert meta.path_display == "/Meta/File.TXT"
    assert meta.size == 8
    assert meta.client_modified.year == 2020 and meta.client_modified.second == 5
    assert meta.content_hash == content_hash(b"metadata")
    folder = dbx.files_get_metadata("/META")
    assert isinstance(folder, files.FolderMetadata)
    assert folder.name == "Meta"
    by_id = dbx.files_get_metadata(uploaded.id)
    assert by_id.path_lower == "/meta/file.txt"


def test_download_whole_and_range(dbx):
    data = bytes(range(256)) * 40
    dbx.files_upload(data, "/range.bin")
    meta, response = dbx.files_download("/range.bin")
    assert response.content == data
    assert meta.size == len(data)
    meta, response = dbx.files_download("/range.bin", extra_headers={"Range": "bytes=100-199"})
    assert response.status_code == 206
    assert response.headers["Content-Range"] == "bytes 100-199/%d" % len(data)
    assert response.content == data[100:200]
    assert meta.size == len(data)
    _, response = dbx.files_download("/range.bin", extra_headers={"Range": "bytes=-10"})
    assert response.content == data[-10:]
    rev_meta, response = dbx.files_download("rev:" + meta.rev)
    assert response.content == data and rev_meta.id == meta.id


def test_download_zip(dbx):
    dbx.files_upload(b"alpha", "/Zipped/a.txt")
    dbx.files_upload(b"beta", "/Zipped/sub/b.txt")
    dbx.files_create_folder_v2("/Zipped/empty")
    result, response = dbx.files_download_zip("/zipped")
    assert result.metadata.name == "Zipped"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.testzip() is None
    names = set(archive.namelist())
    assert {"Zipped/a.txt", "Zipped/sub/b.txt", "Zipped/empty/"} <= names
    assert archive.read("Zipped/a.txt") == b"alpha"
    assert archive.read("Zipped/sub/b.txt") == b"beta"


def test_create_folder_and_conflict(dbx):
    created = dbx.files_create_folder_v2("/New Folder")
    assert created.metadata.name == "New Folder"
    assert created.metadata.path_display == "/New Folder"
    with pytest.raises(ApiError) as err:
        dbx.files_create_folder_v2("/new folder")
    path_error = err.value.error.get_path()
    assert path_error.is_conflict() and path_error.get_conflict().is_folder()
    renamed = dbx.files_create_folder_v2("/new folder", autorename=True)
    assert renamed.metadata.name == "new folder (2)"


def test_delete_folder_with_children(dbx):
    dbx.files_upload(b"1", "/tree/one.txt")
    dbx.files_upload(b"2", "/tree/sub/two.txt")
    result = dbx.files_delete_v2("/Tree")
    assert isinstance(result.metadata, files.FolderMetadata)
    assert result.metadata.path_display == "/tree"
    for path in ["/tree", "/tree/one.txt", "/tree/sub/two.txt"]:
        with pytest.raises(ApiError) as err:
            dbx.files_get_metadata(path)
        assert err.value.error.get_path().is_not_found()
    with pytest.raises(ApiError) as err:
        dbx.files_delete_v2("/tree")
    assert err.value.error.get_path_lookup().is_not_found()


def test_delete_batch_and_check(dbx):
    for name in ["x", "y"]:
        dbx.files_upload(name.encode(), "/batch-del/%s.txt" % name)
    launch = dbx.files_delete_batch(
        [files.DeleteArg("/batch-del/x.txt"), files.DeleteArg("/batch-del/y.txt"), files.DeleteArg("/batch-del/z.txt")]
    )
    assert launch.is_async_job_id()
    job = launch.get_async_job_id()

    def complete():
        status = dbx.files_delete_batch_check(job)
        return status if status.is_complete() else None

    status = wait_until(complete)
    entries = status.get_complete().entries
    assert entries[0].is_success() and entries[0].get_success().metadata.name == "x.txt"
    assert entries[1].is_success()
    assert entries[2].is_failure() and entries[2].get_failure().get_path_lookup().is_not_found()
    assert dbx.files_list_folder("/batch-del").entries == []


def test_get_current_account(dbx, accounts):
    account = dbx.users_get_current_account()
    assert isinstance(account, users.FullAccount)
    assert len(account.account_id) == 40 and account.account_id.startswith("dbid:")
    assert account.email == "user1@example.com"
    assert account.name.display_name
    assert account.root_info.root_namespace_id == account.root_info.home_namespace_id
    known = [a for a in accounts["accounts"] if a["access_token"] == "conformance-token"]
    assert known[0]["account_id"] == account.account_id


def test_non_ascii_names_round_trip(dbx):
    names = ["é", "日本", "😀"]
    path = "/" + "/".join(names) + "/naïve 😀 файл.txt"
    meta = dbx.files_upload("contenu é".encode(), path)
    assert meta.path_display == path
    assert meta.name == "naïve 😀 файл.txt"
    again = dbx.files_get_metadata(path)
    assert again.path_display == path
    listed = dbx.files_list_folder("/é/日本/😀")
    assert [e.name for e in listed.entries] == ["naïve 😀 файл.txt"]
    dmeta, response = dbx.files_download(path)
    assert dmeta.path_display == path
    assert response.content == "contenu é".encode()
    root = dbx.files_list_folder("", recursive=True)
    assert path in [e.path_display for e in root.entries]


def test_second_account_is_separate(emulator):
    import dropbox

    from conftest import OTHER_TOKEN, TOKEN

    one = dropbox.Dropbox(TOKEN, ca_certs=emulator.ca_path)
    two = dropbox.Dropbox(OTHER_TOKEN, ca_certs=emulator.ca_path)
    one.files_upload(b"mine", "/private.txt")
    with pytest.raises(ApiError):
        two.files_get_metadata("/private.txt")
    assert one.users_get_current_account().account_id != two.users_get_current_account().account_id
