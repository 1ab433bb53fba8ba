"""DownloadFiles messages into files that are written only once verified."""

from __future__ import annotations

import dataclasses
import os
import pathlib
import tempfile
from typing import Iterable, Iterator

import grpc

from ._channel import PathLike
from .content_hash import ContentHasher, content_hash_file
from .errors import DropboxConnectorError
from .v1 import cloud_tasks_pb2 as pb


@dataclasses.dataclass(frozen=True)
class DownloadedFile:
    """A file of a download: where it was written (or, when `skipped`, the local file the
    overwrite policy kept), and Dropbox's metadata of it. With delete_source,
    `source_deleted` says whether the Dropbox file was deleted, and `source_error` why not
    (REVISION_CHANGED: it changed in Dropbox after it was downloaded, and was kept)."""

    path: pathlib.Path
    metadata: pb.ItemMetadata
    skipped: pb.Skipped | None = None
    source_deleted: bool = False
    source_error: DropboxConnectorError | None = None


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
        if self.header.HasField("modified_time"):
            # keep_modified_date: the file gets Dropbox's modification time.
            mtime_ns = self.header.modified_time.ToNanoseconds()
            os.utime(self._temp, ns=(mtime_ns, mtime_ns))
        os.replace(self._temp, self.destination)
        return DownloadedFile(self.destination, self.header.metadata)

    def abort(self) -> None:
        if not self._file.closed:
            self._file.close()
        self._temp.unlink(missing_ok=True)


class DownloadReceiver:
    """Feeds DownloadFiles messages into verified files. `destination_of(metadata)` says
    where each file goes. Failed files are collected in `errors`; the stream goes on."""

    def __init__(self, destination_of, on_downloaded=None) -> None:
        self._destination_of = destination_of
        self._on_downloaded = on_downloaded
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
                stored = current.finish(message.end)
            except DropboxConnectorError as err:
                self.errors.append(err)
            else:
                self.files.append(stored)
                if self._on_downloaded is not None:
                    self._on_downloaded(stored)
        elif kind == "skipped":
            self._drop_current()
            kept = message.skipped.skipped
            self.files.append(DownloadedFile(self._destination_of(kept.existing), kept.existing, skipped=kept))
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


def local_files(policy: pb.OverwritePolicy | None, held: Iterable[tuple[str, pathlib.Path]]) -> list[pb.LocalFile]:
    """What the caller already holds, for the service's overwrite decision: nothing when
    every file is replaced anyway; content_hash only where the policy compares it."""
    if policy is None or policy.mode in (pb.OVERWRITE_MODE_UNSPECIFIED, pb.OVERWRITE_MODE_ALWAYS):
        return []
    with_hash = policy.mode == pb.OVERWRITE_MODE_IF_SIZE and policy.size_comparison == pb.SIZE_COMPARISON_DIFFERENT
    described = []
    for relative_path, path in held:
        stat = path.stat()
        local = pb.LocalFile(relative_path=relative_path, size=stat.st_size)
        local.modified_time.FromNanoseconds(stat.st_mtime_ns)
        if with_hash:
            local.content_hash = content_hash_file(path)
        described.append(local)
    return described


def held_under(local_dir: PathLike, recursive: bool) -> Iterator[tuple[str, pathlib.Path]]:
    """The files already under `local_dir`, by their path relative to it."""
    root = pathlib.Path(local_dir)
    if not root.is_dir():
        return
    for dirpath, dirnames, filenames in os.walk(root):
        if not recursive:
            dirnames.clear()
        for name in filenames:
            path = pathlib.Path(dirpath) / name
            if path.is_file() and not (name.startswith(".") and name.endswith(".part")):
                yield path.relative_to(root).as_posix(), path


def source_refs(files: Iterable[DownloadedFile]) -> list[pb.ItemRef]:
    """The Dropbox files to delete after they were stored: each pinned to the revision
    downloaded, so a file changed since then is kept (REVISION_CHANGED)."""
    return [
        pb.ItemRef(path=f.metadata.id or f.metadata.path_lower, rev=f.metadata.rev) for f in files if f.skipped is None
    ]


def with_delete_outcomes(
    files: list[DownloadedFile], responses: Iterable[pb.DeleteItemsResponse]
) -> list[DownloadedFile]:
    """`files` with the outcome of deleting each one's source."""
    outcomes = {}
    for response in responses:
        if response.WhichOneof("outcome") == "deleted":
            outcomes[response.path] = (True, None)
        else:
            outcomes[response.path] = (False, DropboxConnectorError.from_item_error(response.error, path=response.path))
    updated = []
    for f in files:
        deleted, error = outcomes.get(f.metadata.id or f.metadata.path_lower, (False, None))
        updated.append(dataclasses.replace(f, source_deleted=deleted, source_error=error))
    return updated


def file_request(
    connection: str,
    remote_path: str,
    destination: pathlib.Path,
    *,
    rev: str,
    overwrite: pb.OverwritePolicy | None,
    keep_dates: bool,
) -> pb.DownloadFilesRequest:
    """DownloadFiles of one named file into `destination` (its name is the file's key)."""
    held = [(destination.name, destination)] if destination.is_file() else []
    return pb.DownloadFilesRequest(
        connection=connection,
        items=pb.ItemRefs(items=[pb.ItemRef(path=remote_path, rev=rev, relative_path=destination.name)]),
        overwrite=overwrite,
        local_files=local_files(overwrite, held),
        keep_modified_date=keep_dates,
    )


def folder_request(
    connection: str,
    filter: pb.RemoteFileFilter,
    local_dir: PathLike,
    *,
    overwrite: pb.OverwritePolicy | None,
    keep_dates: bool,
) -> pb.DownloadFilesRequest:
    """DownloadFiles of what `filter` matches, into `local_dir` by relative path."""
    return pb.DownloadFilesRequest(
        connection=connection,
        filter=filter,
        overwrite=overwrite,
        local_files=local_files(overwrite, held_under(local_dir, filter.include_subfolders)),
        keep_modified_date=keep_dates,
    )
