from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class ErrorReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ERROR_REASON_UNSPECIFIED: _ClassVar[ErrorReason]
    ERROR_REASON_CONNECTION_NOT_FOUND: _ClassVar[ErrorReason]
    ERROR_REASON_CONNECTION_NAME_TAKEN: _ClassVar[ErrorReason]
    ERROR_REASON_INVALID_ARGUMENT: _ClassVar[ErrorReason]
    ERROR_REASON_MALFORMED_PATH: _ClassVar[ErrorReason]
    ERROR_REASON_PATH_NOT_FOUND: _ClassVar[ErrorReason]
    ERROR_REASON_PATH_CONFLICT: _ClassVar[ErrorReason]
    ERROR_REASON_PATH_WRONG_KIND: _ClassVar[ErrorReason]
    ERROR_REASON_DROPBOX_UNAUTHORIZED: _ClassVar[ErrorReason]
    ERROR_REASON_RATE_LIMITED: _ClassVar[ErrorReason]
    ERROR_REASON_CONTENT_HASH_MISMATCH: _ClassVar[ErrorReason]
    ERROR_REASON_STREAM_OUT_OF_ORDER: _ClassVar[ErrorReason]
    ERROR_REASON_CHUNK_OFFSET_MISMATCH: _ClassVar[ErrorReason]
    ERROR_REASON_NO_ITEMS_MATCHED: _ClassVar[ErrorReason]
    ERROR_REASON_CONNECTION_NOT_AUTHORIZED: _ClassVar[ErrorReason]
    ERROR_REASON_DROPBOX_TIMEOUT: _ClassVar[ErrorReason]
    ERROR_REASON_DROPBOX_UNAVAILABLE: _ClassVar[ErrorReason]
    ERROR_REASON_DROPBOX_ERROR: _ClassVar[ErrorReason]
    ERROR_REASON_INSUFFICIENT_SPACE: _ClassVar[ErrorReason]
    ERROR_REASON_CANCELLED: _ClassVar[ErrorReason]
    ERROR_REASON_DROPBOX_PERMISSION_DENIED: _ClassVar[ErrorReason]
    ERROR_REASON_REAUTHORIZATION_REQUIRED: _ClassVar[ErrorReason]
    ERROR_REASON_INVALID_REDIRECT_URI: _ClassVar[ErrorReason]
    ERROR_REASON_AUTHORIZATION_STATE_INVALID: _ClassVar[ErrorReason]
    ERROR_REASON_PROXY_FAILED: _ClassVar[ErrorReason]
    ERROR_REASON_UPLOAD_NOT_FOUND: _ClassVar[ErrorReason]
    ERROR_REASON_UPLOAD_BUSY: _ClassVar[ErrorReason]
    ERROR_REASON_UPLOAD_SESSION_LOST: _ClassVar[ErrorReason]
    ERROR_REASON_CALLER_UNKNOWN: _ClassVar[ErrorReason]
    ERROR_REASON_CALLER_NOT_ALLOWED: _ClassVar[ErrorReason]
    ERROR_REASON_SERVER_BUSY: _ClassVar[ErrorReason]
    ERROR_REASON_LISTING_TOO_LARGE: _ClassVar[ErrorReason]
    ERROR_REASON_INTERNAL: _ClassVar[ErrorReason]
    ERROR_REASON_STREAM_IDLE: _ClassVar[ErrorReason]
    ERROR_REASON_TARGET_NOT_ALLOWED: _ClassVar[ErrorReason]
    ERROR_REASON_REVISION_CHANGED: _ClassVar[ErrorReason]
    ERROR_REASON_INVALID_PATH: _ClassVar[ErrorReason]
    ERROR_REASON_CASE_CONFLICT_IN_CALL: _ClassVar[ErrorReason]
    ERROR_REASON_STORE_UNAVAILABLE: _ClassVar[ErrorReason]
ERROR_REASON_UNSPECIFIED: ErrorReason
ERROR_REASON_CONNECTION_NOT_FOUND: ErrorReason
ERROR_REASON_CONNECTION_NAME_TAKEN: ErrorReason
ERROR_REASON_INVALID_ARGUMENT: ErrorReason
ERROR_REASON_MALFORMED_PATH: ErrorReason
ERROR_REASON_PATH_NOT_FOUND: ErrorReason
ERROR_REASON_PATH_CONFLICT: ErrorReason
ERROR_REASON_PATH_WRONG_KIND: ErrorReason
ERROR_REASON_DROPBOX_UNAUTHORIZED: ErrorReason
ERROR_REASON_RATE_LIMITED: ErrorReason
ERROR_REASON_CONTENT_HASH_MISMATCH: ErrorReason
ERROR_REASON_STREAM_OUT_OF_ORDER: ErrorReason
ERROR_REASON_CHUNK_OFFSET_MISMATCH: ErrorReason
ERROR_REASON_NO_ITEMS_MATCHED: ErrorReason
ERROR_REASON_CONNECTION_NOT_AUTHORIZED: ErrorReason
ERROR_REASON_DROPBOX_TIMEOUT: ErrorReason
ERROR_REASON_DROPBOX_UNAVAILABLE: ErrorReason
ERROR_REASON_DROPBOX_ERROR: ErrorReason
ERROR_REASON_INSUFFICIENT_SPACE: ErrorReason
ERROR_REASON_CANCELLED: ErrorReason
ERROR_REASON_DROPBOX_PERMISSION_DENIED: ErrorReason
ERROR_REASON_REAUTHORIZATION_REQUIRED: ErrorReason
ERROR_REASON_INVALID_REDIRECT_URI: ErrorReason
ERROR_REASON_AUTHORIZATION_STATE_INVALID: ErrorReason
ERROR_REASON_PROXY_FAILED: ErrorReason
ERROR_REASON_UPLOAD_NOT_FOUND: ErrorReason
ERROR_REASON_UPLOAD_BUSY: ErrorReason
ERROR_REASON_UPLOAD_SESSION_LOST: ErrorReason
ERROR_REASON_CALLER_UNKNOWN: ErrorReason
ERROR_REASON_CALLER_NOT_ALLOWED: ErrorReason
ERROR_REASON_SERVER_BUSY: ErrorReason
ERROR_REASON_LISTING_TOO_LARGE: ErrorReason
ERROR_REASON_INTERNAL: ErrorReason
ERROR_REASON_STREAM_IDLE: ErrorReason
ERROR_REASON_TARGET_NOT_ALLOWED: ErrorReason
ERROR_REASON_REVISION_CHANGED: ErrorReason
ERROR_REASON_INVALID_PATH: ErrorReason
ERROR_REASON_CASE_CONFLICT_IN_CALL: ErrorReason
ERROR_REASON_STORE_UNAVAILABLE: ErrorReason

class ItemError(_message.Message):
    __slots__ = ("code", "reason", "message", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    code: int
    reason: str
    message: str
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, code: _Optional[int] = ..., reason: _Optional[str] = ..., message: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...
