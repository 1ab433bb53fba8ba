"""`AsyncClient`: the helpers of `Client` on grpc.aio. File reads run in a worker thread,
so a large upload never blocks the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pathlib
from typing import AsyncIterator, Callable, Iterable, Iterator, Sequence, TypeVar

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

T = TypeVar("T")
_DONE = object()


@contextlib.contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except grpc.RpcError as err:
        raise DropboxConnectorError.from_rpc_error(err) from err


async def _in_thread(iterator: Iterator[T]) -> AsyncIterator[T]:
    """Pulls a blocking iterator (one that reads files) from a worker thread."""
    while (item := await asyncio.to_thread(next, iterator, _DONE)) is not _DONE:
        yield item


class AsyncClient:
    """`Client` for asyncio: the same arguments and helpers, as coroutines and async
    iterators. Use `async with AsyncClient(...) as client:`."""

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
        self.channel = grpc.aio.secure_channel(config.address, config.credentials, config.options)
        self.connections = connection_pb2_grpc.ConnectionServiceStub(self.channel)
        self.tasks = cloud_tasks_pb2_grpc.CloudTaskServiceStub(self.channel)
        self.timeout = timeout

    async def close(self) -> None:
        await self.channel.close()

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def create_connection(
        self,
        display_name: str,
        *,
        access_token: str | None = None,
        refresh_token: str | None = None,
        app_key: str | None = None,
        group: str = "",
    ) -> conn_pb.Connection:
        connection = _requests.new_connection(
            display_name, access_token=access_token, refresh_token=refresh_token, app_key=app_key, group=group
        )
        with _translated():
            response = await self.connections.CreateConnection(
                conn_pb.CreateConnectionRequest(connection=connection), timeout=self.timeout
            )
        return response.connection

    async def get_connection(self, name: str) -> conn_pb.Connection:
        with _translated():
            response = await self.connections.GetConnection(
                conn_pb.GetConnectionRequest(name=name), timeout=self.timeout
            )
        return response.connection

    async def list_connections(self, *, group: str = "") -> AsyncIterator[conn_pb.Connection]:
        token = ""
        while True:
            with _translated():
                page = await self.connections.ListConnections(
                    conn_pb.ListConnectionsRequest(group=group, page_token=token), timeout=self.timeout
                )
            for connection in page.connections:
                yield connection
            token = page.next_page_token
            if not token:
                return

    async def delete_connection(self, name: str) -> None:
        with _translated():
            await self.connections.DeleteConnection(conn_pb.DeleteConnectionRequest(name=name), timeout=self.timeout)

    async def create_folder(self, connection: str, path: str, *, exist_ok: bool = False) -> pb.ItemMetadata:
        with _translated():
            response = await self.tasks.CreateFolder(
                pb.CreateFolderRequest(connection=connection, path=path, exist_ok=exist_ok),
                timeout=self.timeout,
            )
        return response.folder

    async def list(
        self,
        connection: str,
        folder: str = "",
        *,
        mask: str = "",
        recursive: bool = False,
        kind: int = pb.ITEM_KIND_FILE,
        filter: pb.RemoteFileFilter | None = None,
    ) -> AsyncIterator[pb.ItemMetadata]:
        request = _requests.list_request(connection, folder, mask=mask, recursive=recursive, kind=kind, filter=filter)
        call = self.tasks.ListItems(request, timeout=self.timeout)
        try:
            with _translated():
                async for page in call:
                    for item in page.items:
                        yield item
        finally:
            call.cancel()

    async def upload(
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
        spec = _requests.upload_spec(
            connection, remote_folder, overwrite=overwrite, keep_modified_date=keep_modified_date, autorename=autorename
        )
        requests = _in_thread(_upload.upload_requests(spec, files, chunk_bytes))
        results: list[pb.FileResult] = []
        call = self.tasks.UploadFiles(requests, timeout=self.timeout)
        try:
            with _translated():
                async for response in call:
                    for result in _upload.results_of(response):
                        results.append(result)
                        if on_result is not None:
                            on_result(result)
        finally:
            call.cancel()
        _upload.raise_first_failure(results)
        return results

    async def upload_file(
        self, connection: str, local_path: PathLike, remote_folder: str, *, name: str | None = None, **options
    ) -> pb.FileResult:
        path = pathlib.Path(local_path)
        [result] = await self.upload(connection, [FileToUpload(path, name or path.name)], remote_folder, **options)
        return result

    async def upload_folder(
        self, connection: str, local_folder: PathLike, remote_folder: str, *, recursive: bool = True, **options
    ) -> list[pb.FileResult]:
        files = _upload.files_of_folder(local_folder, recursive=recursive)
        return await self.upload(connection, files, remote_folder, **options)

    async def download_file(
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
        """As `Client.download_file`."""
        destination = pathlib.Path(local_path)
        request = _download.file_request(
            connection,
            remote_path,
            destination,
            rev=rev,
            overwrite=_requests.overwrite_policy(overwrite),
            keep_dates=keep_dates,
        )
        [downloaded] = await self._download(request, lambda _metadata: destination, delete_source, None)
        return downloaded

    async def download_folder(
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
        """As `Client.download_folder`."""
        if filter is None:
            filter = pb.RemoteFileFilter(folder=remote_folder, mask=mask, include_subfolders=recursive)
        request = _download.folder_request(
            connection,
            filter,
            local_dir,
            overwrite=_requests.overwrite_policy(overwrite),
            keep_dates=keep_dates,
        )
        return await self._download(request, _download.relative_destination(local_dir), delete_source, on_downloaded)

    async def _download(
        self, request: pb.DownloadFilesRequest, destination_of, delete_source: bool, on_downloaded
    ) -> list[DownloadedFile]:
        receiver = _download.DownloadReceiver(destination_of, on_downloaded)
        call = self.tasks.DownloadFiles(request, timeout=self.timeout)
        try:
            with _translated():
                async for message in call:
                    # Hashing and writing a chunk would hold up the event loop.
                    await asyncio.to_thread(receiver.feed, message)
        finally:
            call.cancel()
            receiver.close()
        files = receiver.files
        refs = _download.source_refs(files) if delete_source else []
        if refs:
            delete = pb.DeleteItemsRequest(connection=request.connection, items=pb.ItemRefs(items=refs))
            with _translated():
                responses = [r async for r in self.tasks.DeleteItems(delete, timeout=self.timeout)]
            files = _download.with_delete_outcomes(files, responses)
        if receiver.errors:
            raise receiver.errors[0]
        return files

    async def delete(self, connection: str, *paths: str, dry_run: bool = False) -> list[pb.ItemMetadata]:
        request = pb.DeleteItemsRequest(
            connection=connection,
            items=pb.ItemRefs(items=[pb.ItemRef(path=p) for p in paths]),
            dry_run=dry_run,
        )
        deleted, errors = [], []
        with _translated():
            async for response in self.tasks.DeleteItems(request, timeout=self.timeout):
                if response.WhichOneof("outcome") == "deleted":
                    deleted.append(response.deleted)
                else:
                    errors.append(DropboxConnectorError.from_item_error(response.error, path=response.path))
        if errors:
            raise errors[0]
        return deleted

    async def upload_resumable(
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
        """As `Client.upload_resumable`."""
        path = pathlib.Path(local_path)
        size = os.stat(path).st_size
        digest = await asyncio.to_thread(content_hash_file, path)
        ask_where = upload_id is not None
        offset = 0
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
                started = await self.tasks.StartResumableUpload(request, timeout=self.timeout)
            if started.HasField("skipped"):
                return pb.FileResult(relative_path=remote_path, skipped=started.skipped)
            upload_id = started.upload_id
            if on_started is not None:
                on_started(upload_id)
        attempt = 0
        while True:
            result, error = None, None
            try:
                with _translated():
                    if ask_where:
                        status = await self.tasks.QueryUpload(
                            pb.QueryUploadRequest(upload_id=upload_id), timeout=self.timeout
                        )
                        if status.HasField("result"):
                            result = status.result
                        else:
                            offset = status.persisted_size
                            if on_resume is not None:
                                on_resume(offset)
                    if result is None:
                        requests = _resumable.resumable_requests(upload_id, path, offset, digest, chunk_bytes)
                        written = await self.tasks.WriteResumableUpload(_in_thread(requests), timeout=self.timeout)
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
            await asyncio.sleep(delay)
            ask_where = True
