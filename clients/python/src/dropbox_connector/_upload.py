"""Local files as an UploadFiles stream, and the results that come back."""

from __future__ import annotations

import dataclasses
import os
import pathlib
from typing import Iterable, Iterator

from ._channel import MAX_CHUNK_BYTES, PathLike
from ._requests import timestamp_of
from .content_hash import ContentHasher
from .errors import DropboxConnectorError
from .v1 import cloud_tasks_pb2 as pb


@dataclasses.dataclass(frozen=True)
class FileToUpload:
    """A file to upload and where it goes under the destination folder ("sub/a.txt")."""

    path: pathlib.Path
    relative_path: str


def files_of_folder(folder: PathLike, *, recursive: bool = True) -> list[FileToUpload]:
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
                found.append(FileToUpload(path, path.relative_to(root).as_posix()))
    return found


def upload_requests(
    spec: pb.UploadSpec, files: Iterable[FileToUpload], chunk_bytes: int = MAX_CHUNK_BYTES
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
    """The results one UploadFiles response carries (the one place that reads them): the
    service sends each file's result as the file finishes, in one or more responses."""
    return list(response.results)


def raise_first_failure(results: Iterable[pb.FileResult]) -> None:
    for result in results:
        if result.WhichOneof("outcome") == "error":
            raise DropboxConnectorError.from_item_error(result.error, path=result.relative_path)
