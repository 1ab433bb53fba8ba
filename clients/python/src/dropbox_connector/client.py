"""`Client`: the service's calls, plus helpers that do the chunking, hashing, verifying and
resuming a caller would otherwise write again."""

from __future__ import annotations

import contextlib
import functools
import os
import pathlib
import time
from typing import Callable, Iterable, Iterator, Sequence

import grpc

from . import _download, _requests, _resumable, _upload
from ._channel import MAX_CHUNK_BYTES, PathLike, channel_config
from ._download import DownloadedFile
from ._upload import FileToUpload
from .content_hash import content_hash_file
from .errors import DropboxConnectorError
from .v1 import cloud_tasks_pb2 as pb
from .v1 import cloud_tasks_pb2_grpc, connection_pb2_grpc
from .v1 import connection_pb2 as conn_pb


@contextlib.contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except grpc.RpcError as err:
        raise DropboxConnectorError.from_rpc_error(err) from err


def _translating(method):
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        with _translated():
            return method(*args, **kwargs)

    return wrapper


class Client:
    """A channel to the service with TLS and a bearer token.

    `address` is "host:port". TLS: `ca_file`/`ca_pem` (the CA that signed the server's
    certificate; grpcio's bundled roots without either), `client_cert_file` +
    `client_key_file` (or the `_pem` forms) for mTLS, `server_name` to check another name
    than the address's. Identity: `token`, or `token_file` (read at every call, so a
    rotated token is picked up). `plaintext_loopback=True` talks to a server on loopback
    without TLS (`dropbox-connector --dev`). `timeout` (seconds) bounds every call.

    Every method raises `DropboxConnectorError` on failure."""

    def __init__(
        self,
        address: str,
        *,
        token: str | None = None,
        token_file: PathLike | None = None,
        ca_file: PathLike | None = None,
        ca_pem: bytes | None = None,
        client_cert_file: PathLike | None = None,
        client_key_file: PathLike | None = None,
        client_cert_pem: bytes | None = None,
        client_key_pem: bytes | None = None,
        server_name: str | None = None,
        plaintext_loopback: bool = False,
        timeout: float | None = None,
        options: Sequence[tuple[str, object]] = (),
    ) -> None:
        config = channel_config(
            address,
            token=token,
            token_file=token_file,
            ca_file=ca_file,
            ca_pem=ca_pem,
            client_cert_file=client_cert_file,
            client_key_file=client_key_file,
            client_cert_pem=client_cert_pem,
            client_key_pem=client_key_pem,
            server_name=server_name,
            plaintext_loopback=plaintext_loopback,
            options=options,
        )
        self.channel = grpc.secure_channel(config.address, config.credentials, config.options)
        #: The generated stubs, for calls the helpers do not cover.
        self.connections = connection_pb2_grpc.ConnectionServiceStub(self.channel)
        self.tasks = cloud_tasks_pb2_grpc.CloudTaskServiceStub(self.channel)
        self.timeout = timeout

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # Connections

    @_translating
    def create_connection(
        self,
        display_name: str,
        *,
        access_token: str | None = None,
        refresh_token: str | None = None,
        app_key: str | None = None,
        group: str = "",
    ) -> conn_pb.Connection:
        """Stores a connection with tokens given directly (for other settings, pass a
        whole `Connection` to `self.connections.CreateConnection`)."""
        connection = _requests.new_connection(
            display_name, access_token=access_token, refresh_token=refresh_token, app_key=app_key, group=group
        )
        request = conn_pb.CreateConnectionRequest(connection=connection)
        return self.connections.CreateConnection(request, timeout=self.timeout).connection

    @_translating
    def get_connection(self, name: str) -> conn_pb.Connection:
        """By resource name (`connections/{id}`) or display_name."""
        request = conn_pb.GetConnectionRequest(name=name)
        return self.connections.GetConnection(request, timeout=self.timeout).connection

    def list_connections(self, *, group: str = "") -> Iterator[conn_pb.Connection]:
        """Every connection the caller may see, following the pages."""
        token = ""
        while True:
            with _translated():
                page = self.connections.ListConnections(
                    conn_pb.ListConnectionsRequest(group=group, page_token=token),
                    timeout=self.timeout,
                )
            yield from page.connections
            token = page.next_page_token
            if not token:
                return

    @_translating
    def delete_connection(self, name: str) -> None:
        request = conn_pb.DeleteConnectionRequest(name=name)
        self.connections.DeleteConnection(request, timeout=self.timeout)

    # Cloud tasks

    @_translating
    def create_folder(self, connection: str, path: str, *, exist_ok: bool = False) -> pb.ItemMetadata:
        request = pb.CreateFolderRequest(connection=connection, path=path, exist_ok=exist_ok)
        return self.tasks.CreateFolder(request, timeout=self.timeout).folder

    def list(
        self,
        connection: str,
        folder: str = "",
        *,
        mask: str = "",
        recursive: bool = False,
        kind: int = pb.ITEM_KIND_FILE,
        filter: pb.RemoteFileFilter | None = None,
    ) -> Iterator[pb.ItemMetadata]:
        """The items of `folder` (files by default; `kind=ITEM_KIND_ALL` adds folders), as
        the service streams them. `filter` replaces the other arguments."""
        request = _requests.list_request(connection, folder, mask=mask, recursive=recursive, kind=kind, filter=filter)
        call = self.tasks.ListItems(request, timeout=self.timeout)
        try:
            with _translated():
                for page in call:
                    yield from page.items
        finally:
            # A caller that stops iterating early ends the call instead of leaving it open.
            call.cancel()

    def upload(
        self,
        connection: str,
        files: Iterable[FileToUpload],
        remote_folder: str,
        *,
        overwrite: str | pb.OverwritePolicy | None = None,
        keep_modified_date: bool = False,
        autorename: bool = False,
        chunk_bytes: int = MAX_CHUNK_BYTES,
        on_result: Callable[[pb.FileResult], None] | None = None,
    ) -> list[pb.FileResult]:
        """Uploads `files` in one stream; returns a result per file (uploaded or skipped)
        and raises the first failed file's error after the stream, when the other files
        are stored. `on_result(result)` is told of each file as the service finishes it."""
        spec = _requests.upload_spec(
            connection, remote_folder, overwrite=overwrite, keep_modified_date=keep_modified_date, autorename=autorename
        )
        requests = _upload.upload_requests(spec, files, chunk_bytes)
        results: list[pb.FileResult] = []
        call = self.tasks.UploadFiles(requests, timeout=self.timeout)
        try:
            with _translated():
                for response in call:
                    for result in _upload.results_of(response):
                        results.append(result)
                        if on_result is not None:
                            on_result(result)
        finally:
            call.cancel()
        _upload.raise_first_failure(results)
        return results

    def upload_file(
        self, connection: str, local_path: PathLike, remote_folder: str, *, name: str | None = None, **options
    ) -> pb.FileResult:
        """Uploads one file into `remote_folder` (as `name`, default its own name)."""
        path = pathlib.Path(local_path)
        [result] = self.upload(connection, [FileToUpload(path, name or path.name)], remote_folder, **options)
        return result

    def upload_folder(
        self, connection: str, local_folder: PathLike, remote_folder: str, *, recursive: bool = True, **options
    ) -> list[pb.FileResult]:
        """Uploads the files of `local_folder` keeping their relative paths."""
        files = _upload.files_of_folder(local_folder, recursive=recursive)
        return self.upload(connection, files, remote_folder, **options)

    def download_file(
        self,
        connection: str,
        remote_path: str,
        local_path: PathLike,
        *,
        rev: str = "",
        overwrite: str | pb.OverwritePolicy | None = None,
        keep_dates: bool = False,
        delete_source: bool = False,
    ) -> DownloadedFile:
        """Downloads one file to `local_path`. The bytes go to a temporary file beside it,
        which replaces `local_path` only when its content_hash matches Dropbox's.

        `overwrite` ("always", "if-newer", "never" or an OverwritePolicy) decides against a
        file already at `local_path` (the service compares; a kept file comes back with
        `skipped` set); `keep_dates` gives the file Dropbox's modification time;
        `delete_source` deletes the Dropbox file once it is stored and verified, pinned to
        the revision downloaded (a file changed meanwhile is kept: `source_error`)."""
        destination = pathlib.Path(local_path)
        request = _download.file_request(
            connection,
            remote_path,
            destination,
            rev=rev,
            overwrite=_requests.overwrite_policy(overwrite),
            keep_dates=keep_dates,
        )
        [downloaded] = self._download(request, lambda _metadata: destination, delete_source, None)
        return downloaded

    def download_folder(
        self,
        connection: str,
        remote_folder: str,
        local_dir: PathLike,
        *,
        mask: str = "",
        recursive: bool = False,
        filter: pb.RemoteFileFilter | None = None,
        overwrite: str | pb.OverwritePolicy | None = None,
        keep_dates: bool = False,
        delete_source: bool = False,
        on_downloaded: Callable[[DownloadedFile], None] | None = None,
    ) -> list[DownloadedFile]:
        """Downloads the files of `remote_folder` (or of `filter`) under `local_dir`,
        keeping their relative paths, each verified like `download_file`, with the same
        options (`overwrite` compares with the files already under `local_dir`).
        `on_downloaded(file)` is told of each file as it is stored."""
        if filter is None:
            filter = pb.RemoteFileFilter(folder=remote_folder, mask=mask, include_subfolders=recursive)
        request = _download.folder_request(
            connection,
            filter,
            local_dir,
            overwrite=_requests.overwrite_policy(overwrite),
            keep_dates=keep_dates,
        )
        return self._download(request, _download.relative_destination(local_dir), delete_source, on_downloaded)

    def _download(
        self, request: pb.DownloadFilesRequest, destination_of, delete_source: bool, on_downloaded
    ) -> list[DownloadedFile]:
        receiver = _download.DownloadReceiver(destination_of, on_downloaded)
        call = self.tasks.DownloadFiles(request, timeout=self.timeout)
        try:
            with _translated():
                for message in call:
                    receiver.feed(message)
        finally:
            call.cancel()
            receiver.close()
        files = receiver.files
        refs = _download.source_refs(files) if delete_source else []
        if refs:
            delete = pb.DeleteItemsRequest(connection=request.connection, items=pb.ItemRefs(items=refs))
            with _translated():
                responses = list(self.tasks.DeleteItems(delete, timeout=self.timeout))
            files = _download.with_delete_outcomes(files, responses)
        # The sources of the files that were stored are deleted even when another failed.
        if receiver.errors:
            raise receiver.errors[0]
        return files

    def delete(self, connection: str, *paths: str, dry_run: bool = False) -> list[pb.ItemMetadata]:
        """Deletes the items at `paths` (files or folders); returns them as they were.
        Raises the first item's failure once the others are done."""
        request = pb.DeleteItemsRequest(
            connection=connection,
            items=pb.ItemRefs(items=[pb.ItemRef(path=p) for p in paths]),
            dry_run=dry_run,
        )
        deleted, errors = [], []
        with _translated():
            for response in self.tasks.DeleteItems(request, timeout=self.timeout):
                if response.WhichOneof("outcome") == "deleted":
                    deleted.append(response.deleted)
                else:
                    errors.append(DropboxConnectorError.from_item_error(response.error, path=response.path))
        if errors:
            raise errors[0]
        return deleted

    def upload_resumable(
        self,
        connection: str,
        local_path: PathLike,
        remote_path: str,
        *,
        overwrite: str | pb.OverwritePolicy | None = None,
        keep_modified_date: bool = False,
        autorename: bool = False,
        upload_id: str | None = None,
        on_started: Callable[[str], None] | None = None,
        on_resume: Callable[[int], None] | None = None,
        max_attempts: int = 8,
        max_delay: float = 30.0,
        chunk_bytes: int = MAX_CHUNK_BYTES,
    ) -> pb.FileResult:
        """Uploads one file through a resumable upload, and resumes it by itself: when a
        write stream breaks, it asks QueryUpload how much is persisted and sends from there
        (up to `max_attempts` streams, waiting between them as the service asks, at most
        `max_delay` seconds).

        `on_started(upload_id)` gets the new upload's id (keep it to resume after a
        restart of the caller, by passing it back as `upload_id`); `on_resume(offset)` is
        told where each further stream starts."""
        path = pathlib.Path(local_path)
        size = os.stat(path).st_size
        digest = content_hash_file(path)
        if upload_id is None:
            request = pb.StartResumableUploadRequest(
                connection=connection,
                path=remote_path,
                overwrite=_requests.overwrite_policy(overwrite),
                autorename=autorename,
                size=size,
                content_hash=digest,
            )
            if keep_modified_date:
                request.modified_time.CopyFrom(_requests.timestamp_of(os.stat(path).st_mtime))
            with _translated():
                started = self.tasks.StartResumableUpload(request, timeout=self.timeout)
            if started.HasField("skipped"):
                return pb.FileResult(relative_path=remote_path, skipped=started.skipped)
            upload_id = started.upload_id
            if on_started is not None:
                on_started(upload_id)
            ask_where, offset = False, 0
        else:
            ask_where, offset = True, 0
        attempt = 0
        while True:
            result, error = None, None
            try:
                with _translated():
                    if ask_where:
                        status = self.tasks.QueryUpload(
                            pb.QueryUploadRequest(upload_id=upload_id), timeout=self.timeout
                        )
                        if status.HasField("result"):
                            result = status.result
                        else:
                            offset = status.persisted_size
                            if on_resume is not None:
                                on_resume(offset)
                    if result is None:
                        written = self.tasks.WriteResumableUpload(
                            _resumable.resumable_requests(upload_id, path, offset, digest, chunk_bytes),
                            timeout=self.timeout,
                        )
                        if written.HasField("result"):
                            result = written.result
            except DropboxConnectorError as err:
                error = err
            if result is not None:
                return _resumable.finished_result(result)
            if error is None:
                error = DropboxConnectorError(
                    grpc.StatusCode.UNAVAILABLE, "the write stream ended before the upload finished"
                )
            attempt += 1
            delay = _resumable.resume_delay(attempt, error, max_delay)
            if attempt >= max_attempts or delay is None or not _resumable.worth_resuming(error):
                raise error
            time.sleep(delay)
            ask_where = True
