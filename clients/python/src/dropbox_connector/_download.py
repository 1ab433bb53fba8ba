"""DownloadFiles messages into files that are written only once verified."""

from __future__ import annotations

import dataclasses
import os
import pathlib
import tempfile

import grpc

from ._channel import PathLike
from .content_hash import ContentHasher
from .errors import DropboxConnectorError
from .v1 import cloud_tasks_pb2 as pb


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
        fd, temp = tempfile.mkstemp(dir=destination.parent, prefix=f".{destination.name}.", suffix=".part")
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
            self.errors.append(DropboxConnectorError.from_item_error(message.error.error, path=message.error.path))

    def _require_current(self) -> _VerifiedFile:
        if self._current is None:
            raise DropboxConnectorError(grpc.StatusCode.INTERNAL, "the service sent file data before a file header")
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
