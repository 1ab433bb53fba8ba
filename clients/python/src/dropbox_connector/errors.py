"""The service's errors as one exception type.

Every failure carries a `google.rpc.ErrorInfo` whose reason is an `ErrorReason` value name
without its prefix ("PATH_NOT_FOUND"), and a rate limit also a `google.rpc.RetryInfo`.
Per-item failures inside a stream (an upload result, a download or delete error) carry the
same fields in an `ItemError`; both become a `DropboxConnectorError`."""

from __future__ import annotations

import datetime
from typing import Mapping

import grpc
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

#: ErrorInfo.domain of the service's errors.
ERROR_DOMAIN = "dropbox-connector"

_CODES_BY_NUMBER = {code.value[0]: code for code in grpc.StatusCode}


class DropboxConnectorError(Exception):
    """A call, or one item of a call, failed.

    `code` is the gRPC status code; `reason` the ErrorInfo reason ("" when the failure did
    not come from the service, e.g. a broken connection); `metadata` the ErrorInfo
    metadata (such as `path`); `retry_delay` the RetryInfo delay when the service says
    when to try again; `path` the item a per-item failure is about."""

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        *,
        reason: str = "",
        metadata: Mapping[str, str] | None = None,
        retry_delay: datetime.timedelta | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(f"{code.name}: {reason + ': ' if reason else ''}{message}")
        self.code = code
        self.message = message
        self.reason = reason
        self.metadata = dict(metadata or {})
        self.retry_delay = retry_delay
        self.path = path

    @classmethod
    def from_rpc_error(cls, err: grpc.RpcError) -> "DropboxConnectorError":
        """Decodes a failed call (sync or grpc.aio) with its status details."""
        code = err.code() if callable(getattr(err, "code", None)) else grpc.StatusCode.UNKNOWN
        message = err.details() if callable(getattr(err, "details", None)) else str(err)
        reason, metadata, retry_delay = "", {}, None
        status = _status_details(err)
        if status is not None:
            message = status.message or message
            for detail in status.details:
                if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                    info = error_details_pb2.ErrorInfo()
                    detail.Unpack(info)
                    reason, metadata = info.reason, dict(info.metadata)
                elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                    retry = error_details_pb2.RetryInfo()
                    detail.Unpack(retry)
                    retry_delay = retry.retry_delay.ToTimedelta()
        return cls(
            code or grpc.StatusCode.UNKNOWN,
            message or "",
            reason=reason,
            metadata=metadata,
            retry_delay=retry_delay,
        )

    @classmethod
    def from_item_error(cls, item_error, path: str | None = None) -> "DropboxConnectorError":
        """Decodes the `ItemError` of one item of a multi-item call."""
        return cls(
            _CODES_BY_NUMBER.get(item_error.code, grpc.StatusCode.UNKNOWN),
            item_error.message,
            reason=item_error.reason,
            metadata=dict(item_error.metadata),
            path=path or item_error.metadata.get("path"),
        )


def _status_details(err: grpc.RpcError) -> status_pb2.Status | None:
    # Both grpc's and grpc.aio's errors answer code(), details() and trailing_metadata()
    # without awaiting, which is all from_call reads.
    if not callable(getattr(err, "trailing_metadata", None)):
        return None
    try:
        return rpc_status.from_call(err)
    except ValueError:
        # Details that contradict the status line are not the service's: ignore them.
        return None
