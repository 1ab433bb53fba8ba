"""The pieces of a resumable upload that resumes by itself: one write stream from an
offset, and which failures are worth going on after, and when."""

from __future__ import annotations

from typing import Iterator

import grpc

from ._channel import MAX_CHUNK_BYTES, PathLike
from ._upload import raise_first_failure
from .errors import DropboxConnectorError
from .v1 import cloud_tasks_pb2 as pb


def resumable_requests(
    upload_id: str, path: PathLike, offset: int, content_hash: str, chunk_bytes: int = MAX_CHUNK_BYTES
) -> Iterator[pb.WriteResumableUploadRequest]:
    """One WriteResumableUpload stream from `offset` to the end of the file, then finish."""
    first = True
    with open(path, "rb") as f:
        f.seek(offset)
        while data := f.read(chunk_bytes):
            yield pb.WriteResumableUploadRequest(upload_id=upload_id if first else "", write_offset=offset, data=data)
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
