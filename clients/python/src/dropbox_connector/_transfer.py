"""What sync and asyncio clients share: turning local files into request streams, the
upload results, and writing downloaded files only once they are verified."""

from __future__ import annotations

import dataclasses
import os
import pathlib
import tempfile
from typing import Iterable, Iterator

import grpc
from google.protobuf import timestamp_pb2

from ._channel import MAX_CHUNK_BYTES, PathLike
from .content_hash import ContentHasher
from .errors import DropboxConnectorError
from .v1 import cloud_tasks_pb2 as pb

_OVERWRITE_MODES = {
    "always": pb.OVERWRITE_MODE_ALWAYS,
    "if-newer": pb.OVERWRITE_MODE_IF_NEWER,
    "never": pb.OVERWRITE_MODE_NEVER,
}


def overwrite_policy(value: str | pb.OverwritePolicy | None) -> pb.OverwritePolicy | None:
    """"always", "if-newer", "never", or an OverwritePolicy (for IF_SIZE)."""
    if value is None or isinstance(value, pb.OverwritePolicy):
        return value
    try:
        return pb.OverwritePolicy(mode=_OVERWRITE_MODES[value])
    except KeyError:
        raise ValueError(
            f"overwrite must be one of {sorted(_OVERWRITE_MODES)} or an OverwritePolicy, not {value!r}"
        ) from None


@dataclasses.dataclass(frozen=True)
class LocalFile:
    """A file to upload and where it goes under the destination folder ("sub/a.txt")."""

    path: pathlib.Path
    relative_path: str


def files_of_folder(folder: PathLike, *, recursive: bool = True) -> list[LocalFile]:
    """Regular files under `folder` in a stable order; links to folders are not followed."""
    root = pathlib.Path(folder)
    if not root.is_dir():
        raise NotADirectoryError(f"{root} is not a folder")
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        if not recursive:
            dirnames.clear()
        for name in sorted(filenames):
            path = pathlib.Path(dirpath) / name
            if path.is_file():
                found.append(LocalFile(path, path.relative_to(root).as_posix()))
    return found


def timestamp_of(seconds: float) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromNanoseconds(int(seconds * 1_000_000_000))
    return stamp


def upload_requests(
    spec: pb.UploadSpec, files: Iterable[LocalFile], chunk_bytes: int = MAX_CHUNK_BYTES
) -> Iterator[pb.UploadFilesRequest]:
    """The UploadFiles stream. Files are opened one at a time and read a chunk at a time as
    gRPC asks for the next message, so memory stays at a few chunks whatever the sizes;
    each file's content_hash is computed on the way and sent in its FileEnd."""
    if not 0 < chunk_bytes <= MAX_CHUNK_BYTES:
        raise ValueError(f"chunk_bytes must be within 1..{MAX_CHUNK_BYTES}")
    yield pb.UploadFilesRequest(spec=spec)
    for local in files:
        with open(local.path, "rb") as f:
            stat = os.fstat(f.fileno())
            yield pb.UploadFilesRequest(
                file_header=pb.FileHeader(
                    relative_path=local.relative_path,
                    size=stat.st_size,
                    modified_time=timestamp_of(stat.st_mtime),
                )
            )
            hasher, offset = ContentHasher(), 0
            while data := f.read(chunk_bytes):
                hasher.update(data)
                yield pb.UploadFilesRequest(chunk=pb.DataChunk(offset=offset, data=data))
                offset += len(data)
        yield pb.UploadFilesRequest(file_end=pb.FileEnd(content_hash=hasher.hexdigest()))


def results_of(response: pb.UploadFilesResponse) -> list[pb.FileResult]:
    """The results one UploadFiles response carries (the one place that reads them)."""
    return list(response.results)


def raise_first_failure(results: Iterable[pb.FileResult]) -> None:
    for result in results:
        if result.WhichOneof("outcome") == "error":
            raise DropboxConnectorError.from_item_error(result.error, path=result.relative_path)


def resumable_requests(
    upload_id: str, path: PathLike, offset: int, content_hash: str, chunk_bytes: int = MAX_CHUNK_BYTES
) -> Iterator[pb.WriteResumableUploadRequest]:
    """One WriteResumableUpload stream from `offset` to the end of the file, then finish."""
    first = True
    with open(path, "rb") as f:
        f.seek(offset)
        while data := f.read(chunk_bytes):
            yield pb.WriteResumableUploadRequest(
                upload_id=upload_id if first else "", write_offset=offset, data=data
            )
            first = False
            offset += len(data)
    yield pb.WriteResumableUploadRequest(
        upload_id=upload_id if first else "",
        write_offset=offset,
        finish_write=True,
        content_hash=content_hash,
    )


def finished_result(result: pb.FileResult) -> pb.FileResult:
    """An uploaded or skipped result; a failed one raises."""
    raise_first_failure([result])
    return result


# Failures after which a resumable upload is worth going on with: the stream broke (the
# service kept what it persisted), the upload was busy with a stream that is going away,
# or the service or Dropbox asked to come back later.
_RESUMABLE_CODES = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.ABORTED,
    grpc.StatusCode.DEADLINE_EXCEEDED,
}
_RESUMABLE_REASONS = {"SERVER_BUSY", "RATE_LIMITED", "UPLOAD_BUSY", "STREAM_IDLE"}


def worth_resuming(error: DropboxConnectorError) -> bool:
    if error.reason:
        return error.reason in _RESUMABLE_REASONS or (
            error.code in _RESUMABLE_CODES and error.reason.startswith("DROPBOX_")
        )
    # No ErrorInfo: the failure came from the transport, not from the service.
    return error.code in _RESUMABLE_CODES | {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}


def resume_delay(attempt: int, error: DropboxConnectorError, max_delay: float) -> float | None:
    """Seconds to wait before attempt number `attempt` (1-based), or None when the service
    asks for a longer wait than `max_delay`."""
    if error.retry_delay is not None:
        wanted = error.retry_delay.total_seconds()
        return wanted if wanted <= max_delay else None
    return min(0.1 * 2 ** (attempt - 1), max_delay)


@dataclasses.dataclass(frozen=True)
class DownloadedFile:
    """A downloaded file: where it was written, and Dropbox's metadata of it."""

    path: pathlib.Path
    metadata: pb.ItemMetadata


class _VerifiedFile:
    """Receives one file into a temporary file beside its destination; only a file whose
    length and content_hash match DownloadEnd is renamed into place."""

    def __init__(self, destination: pathlib.Path, header: pb.DownloadHeader) -> None:
        self.destination = destination
        self.header = header
        destination.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(
            dir=destination.parent, prefix=f".{destination.name}.", suffix=".part"
        )
        self._temp = pathlib.Path(temp)
        self._file = os.fdopen(fd, "wb")
        self._hasher = ContentHasher()
        self._received = 0

    def write(self, chunk: pb.DataChunk) -> None:
        expected = self.header.offset + self._received
        if chunk.offset != expected:
            raise DropboxConnectorError(
                grpc.StatusCode.DATA_LOSS,
                f"a chunk of {self.destination.name} starts at {chunk.offset}, expected {expected}",
                path=self.header.metadata.path_display,
            )
        self._hasher.update(chunk.data)
        self._file.write(chunk.data)
        self._received += len(chunk.data)

    def finish(self, end: pb.DownloadEnd) -> DownloadedFile:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        actual = self._hasher.hexdigest()
        path = self.header.metadata.path_display
        if self._received != end.bytes_sent or self._received != self.header.length:
            self.abort()
            raise DropboxConnectorError(
                grpc.StatusCode.DATA_LOSS,
                f"received {self._received} bytes of {path}, the service sent {end.bytes_sent}",
                reason="CONTENT_HASH_MISMATCH",
                path=path,
            )
        if actual != end.content_hash:
            self.abort()
            raise DropboxConnectorError(
                grpc.StatusCode.DATA_LOSS,
                f"the bytes received for {path} hash to {actual}, Dropbox says {end.content_hash}",
                reason="CONTENT_HASH_MISMATCH",
                metadata={"path": path},
                path=path,
            )
        os.replace(self._temp, self.destination)
        return DownloadedFile(self.destination, self.header.metadata)

    def abort(self) -> None:
        if not self._file.closed:
            self._file.close()
        self._temp.unlink(missing_ok=True)


class DownloadReceiver:
    """Feeds DownloadFiles messages into verified files. `destination_of(metadata)` says
    where each file goes. Failed files are collected in `errors`; the stream goes on."""

    def __init__(self, destination_of) -> None:
        self._destination_of = destination_of
        self._current: _VerifiedFile | None = None
        self.files: list[DownloadedFile] = []
        self.errors: list[DropboxConnectorError] = []

    def feed(self, message: pb.DownloadFilesResponse) -> None:
        kind = message.WhichOneof("message")
        if kind == "header":
            self._drop_current()
            self._current = _VerifiedFile(self._destination_of(message.header.metadata), message.header)
        elif kind == "chunk":
            self._require_current().write(message.chunk)
        elif kind == "end":
            current, self._current = self._require_current(), None
            try:
                self.files.append(current.finish(message.end))
            except DropboxConnectorError as err:
                self.errors.append(err)
        elif kind == "error":
            self._drop_current()
            self.errors.append(
                DropboxConnectorError.from_item_error(message.error.error, path=message.error.path)
            )

    def _require_current(self) -> _VerifiedFile:
        if self._current is None:
            raise DropboxConnectorError(
                grpc.StatusCode.INTERNAL, "the service sent file data before a file header"
            )
        return self._current

    def _drop_current(self) -> None:
        if self._current is not None:
            self._current.abort()
            self._current = None

    def close(self) -> None:
        """Ends the stream: a file still open was not finished and is removed."""
        self._drop_current()

    def outcome(self) -> list[DownloadedFile]:
        if self.errors:
            raise self.errors[0]
        return self.files


def list_request(
    connection: str,
    folder: str,
    *,
    mask: str,
    recursive: bool,
    kind: int,
    filter: pb.RemoteFileFilter | None,
) -> pb.ListItemsRequest:
    if filter is None:
        filter = pb.RemoteFileFilter(folder=folder, mask=mask, include_subfolders=recursive, kind=kind)
    return pb.ListItemsRequest(connection=connection, filter=filter)


def relative_destination(local_dir: PathLike):
    """Where a file of a filtered download goes: its relative path under `local_dir`,
    refusing any path that would leave it."""
    root = pathlib.Path(local_dir).resolve()

    def destination_of(metadata: pb.ItemMetadata) -> pathlib.Path:
        relative = metadata.relative_path or metadata.name
        target = (root / relative).resolve()
        if root != target and root not in target.parents:
            raise DropboxConnectorError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"refusing to write {relative!r} outside {root}",
                path=metadata.path_display,
            )
        return target

    return destination_of
