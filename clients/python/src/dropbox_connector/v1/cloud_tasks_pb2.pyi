import datetime

from dropbox_connector.v1 import errors_pb2 as _errors_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ItemKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ITEM_KIND_UNSPECIFIED: _ClassVar[ItemKind]
    ITEM_KIND_FILE: _ClassVar[ItemKind]
    ITEM_KIND_FOLDER: _ClassVar[ItemKind]
    ITEM_KIND_ALL: _ClassVar[ItemKind]

class Join(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOIN_UNSPECIFIED: _ClassVar[Join]
    JOIN_AND: _ClassVar[Join]
    JOIN_OR: _ClassVar[Join]

class DateField(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DATE_FIELD_UNSPECIFIED: _ClassVar[DateField]
    DATE_FIELD_CLIENT_MODIFIED: _ClassVar[DateField]
    DATE_FIELD_SERVER_MODIFIED: _ClassVar[DateField]

class SortBy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SORT_BY_UNSPECIFIED: _ClassVar[SortBy]
    SORT_BY_NAME: _ClassVar[SortBy]
    SORT_BY_MODIFIED: _ClassVar[SortBy]
    SORT_BY_SIZE: _ClassVar[SortBy]

class OverwriteMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OVERWRITE_MODE_UNSPECIFIED: _ClassVar[OverwriteMode]
    OVERWRITE_MODE_ALWAYS: _ClassVar[OverwriteMode]
    OVERWRITE_MODE_IF_NEWER: _ClassVar[OverwriteMode]
    OVERWRITE_MODE_IF_SIZE: _ClassVar[OverwriteMode]
    OVERWRITE_MODE_NEVER: _ClassVar[OverwriteMode]

class SizeComparison(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SIZE_COMPARISON_UNSPECIFIED: _ClassVar[SizeComparison]
    SIZE_COMPARISON_SAME: _ClassVar[SizeComparison]
    SIZE_COMPARISON_SMALLER: _ClassVar[SizeComparison]
    SIZE_COMPARISON_LARGER: _ClassVar[SizeComparison]
    SIZE_COMPARISON_SMALLER_OR_LARGER: _ClassVar[SizeComparison]
    SIZE_COMPARISON_DIFFERENT: _ClassVar[SizeComparison]
ITEM_KIND_UNSPECIFIED: ItemKind
ITEM_KIND_FILE: ItemKind
ITEM_KIND_FOLDER: ItemKind
ITEM_KIND_ALL: ItemKind
JOIN_UNSPECIFIED: Join
JOIN_AND: Join
JOIN_OR: Join
DATE_FIELD_UNSPECIFIED: DateField
DATE_FIELD_CLIENT_MODIFIED: DateField
DATE_FIELD_SERVER_MODIFIED: DateField
SORT_BY_UNSPECIFIED: SortBy
SORT_BY_NAME: SortBy
SORT_BY_MODIFIED: SortBy
SORT_BY_SIZE: SortBy
OVERWRITE_MODE_UNSPECIFIED: OverwriteMode
OVERWRITE_MODE_ALWAYS: OverwriteMode
OVERWRITE_MODE_IF_NEWER: OverwriteMode
OVERWRITE_MODE_IF_SIZE: OverwriteMode
OVERWRITE_MODE_NEVER: OverwriteMode
SIZE_COMPARISON_UNSPECIFIED: SizeComparison
SIZE_COMPARISON_SAME: SizeComparison
SIZE_COMPARISON_SMALLER: SizeComparison
SIZE_COMPARISON_LARGER: SizeComparison
SIZE_COMPARISON_SMALLER_OR_LARGER: SizeComparison
SIZE_COMPARISON_DIFFERENT: SizeComparison

class ItemMetadata(_message.Message):
    __slots__ = ("kind", "name", "path_display", "path_lower", "id", "rev", "size", "client_modified", "server_modified", "content_hash", "relative_path")
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PATH_DISPLAY_FIELD_NUMBER: _ClassVar[int]
    PATH_LOWER_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    REV_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    CLIENT_MODIFIED_FIELD_NUMBER: _ClassVar[int]
    SERVER_MODIFIED_FIELD_NUMBER: _ClassVar[int]
    CONTENT_HASH_FIELD_NUMBER: _ClassVar[int]
    RELATIVE_PATH_FIELD_NUMBER: _ClassVar[int]
    kind: ItemKind
    name: str
    path_display: str
    path_lower: str
    id: str
    rev: str
    size: int
    client_modified: _timestamp_pb2.Timestamp
    server_modified: _timestamp_pb2.Timestamp
    content_hash: str
    relative_path: str
    def __init__(self, kind: _Optional[_Union[ItemKind, str]] = ..., name: _Optional[str] = ..., path_display: _Optional[str] = ..., path_lower: _Optional[str] = ..., id: _Optional[str] = ..., rev: _Optional[str] = ..., size: _Optional[int] = ..., client_modified: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., server_modified: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., content_hash: _Optional[str] = ..., relative_path: _Optional[str] = ...) -> None: ...

class RemoteFileFilter(_message.Message):
    __slots__ = ("folder", "mask", "mask_is_regex", "case_sensitive", "kind", "include_subfolders", "modified_before", "modified_after", "date_join", "date_field", "size_smaller_than", "size_larger_than", "size_join", "sort_by", "sort_descending", "limit", "fail_if_empty")
    FOLDER_FIELD_NUMBER: _ClassVar[int]
    MASK_FIELD_NUMBER: _ClassVar[int]
    MASK_IS_REGEX_FIELD_NUMBER: _ClassVar[int]
    CASE_SENSITIVE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_SUBFOLDERS_FIELD_NUMBER: _ClassVar[int]
    MODIFIED_BEFORE_FIELD_NUMBER: _ClassVar[int]
    MODIFIED_AFTER_FIELD_NUMBER: _ClassVar[int]
    DATE_JOIN_FIELD_NUMBER: _ClassVar[int]
    DATE_FIELD_FIELD_NUMBER: _ClassVar[int]
    SIZE_SMALLER_THAN_FIELD_NUMBER: _ClassVar[int]
    SIZE_LARGER_THAN_FIELD_NUMBER: _ClassVar[int]
    SIZE_JOIN_FIELD_NUMBER: _ClassVar[int]
    SORT_BY_FIELD_NUMBER: _ClassVar[int]
    SORT_DESCENDING_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    FAIL_IF_EMPTY_FIELD_NUMBER: _ClassVar[int]
    folder: str
    mask: str
    mask_is_regex: bool
    case_sensitive: bool
    kind: ItemKind
    include_subfolders: bool
    modified_before: _timestamp_pb2.Timestamp
    modified_after: _timestamp_pb2.Timestamp
    date_join: Join
    date_field: DateField
    size_smaller_than: int
    size_larger_than: int
    size_join: Join
    sort_by: SortBy
    sort_descending: bool
    limit: int
    fail_if_empty: bool
    def __init__(self, folder: _Optional[str] = ..., mask: _Optional[str] = ..., mask_is_regex: _Optional[bool] = ..., case_sensitive: _Optional[bool] = ..., kind: _Optional[_Union[ItemKind, str]] = ..., include_subfolders: _Optional[bool] = ..., modified_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., modified_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., date_join: _Optional[_Union[Join, str]] = ..., date_field: _Optional[_Union[DateField, str]] = ..., size_smaller_than: _Optional[int] = ..., size_larger_than: _Optional[int] = ..., size_join: _Optional[_Union[Join, str]] = ..., sort_by: _Optional[_Union[SortBy, str]] = ..., sort_descending: _Optional[bool] = ..., limit: _Optional[int] = ..., fail_if_empty: _Optional[bool] = ...) -> None: ...

class ItemRef(_message.Message):
    __slots__ = ("path", "rev", "relative_path")
    PATH_FIELD_NUMBER: _ClassVar[int]
    REV_FIELD_NUMBER: _ClassVar[int]
    RELATIVE_PATH_FIELD_NUMBER: _ClassVar[int]
    path: str
    rev: str
    relative_path: str
    def __init__(self, path: _Optional[str] = ..., rev: _Optional[str] = ..., relative_path: _Optional[str] = ...) -> None: ...

class ItemRefs(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[ItemRef]
    def __init__(self, items: _Optional[_Iterable[_Union[ItemRef, _Mapping]]] = ...) -> None: ...

class OverwritePolicy(_message.Message):
    __slots__ = ("mode", "size_comparison")
    MODE_FIELD_NUMBER: _ClassVar[int]
    SIZE_COMPARISON_FIELD_NUMBER: _ClassVar[int]
    mode: OverwriteMode
    size_comparison: SizeComparison
    def __init__(self, mode: _Optional[_Union[OverwriteMode, str]] = ..., size_comparison: _Optional[_Union[SizeComparison, str]] = ...) -> None: ...

class Skipped(_message.Message):
    __slots__ = ("reason", "existing")
    REASON_FIELD_NUMBER: _ClassVar[int]
    EXISTING_FIELD_NUMBER: _ClassVar[int]
    reason: str
    existing: ItemMetadata
    def __init__(self, reason: _Optional[str] = ..., existing: _Optional[_Union[ItemMetadata, _Mapping]] = ...) -> None: ...

class UploadSpec(_message.Message):
    __slots__ = ("connection", "destination_folder", "overwrite", "keep_modified_date", "autorename")
    CONNECTION_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FOLDER_FIELD_NUMBER: _ClassVar[int]
    OVERWRITE_FIELD_NUMBER: _ClassVar[int]
    KEEP_MODIFIED_DATE_FIELD_NUMBER: _ClassVar[int]
    AUTORENAME_FIELD_NUMBER: _ClassVar[int]
    connection: str
    destination_folder: str
    overwrite: OverwritePolicy
    keep_modified_date: bool
    autorename: bool
    def __init__(self, connection: _Optional[str] = ..., destination_folder: _Optional[str] = ..., overwrite: _Optional[_Union[OverwritePolicy, _Mapping]] = ..., keep_modified_date: _Optional[bool] = ..., autorename: _Optional[bool] = ...) -> None: ...

class FileHeader(_message.Message):
    __slots__ = ("relative_path", "size", "modified_time", "content_hash")
    RELATIVE_PATH_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    MODIFIED_TIME_FIELD_NUMBER: _ClassVar[int]
    CONTENT_HASH_FIELD_NUMBER: _ClassVar[int]
    relative_path: str
    size: int
    modified_time: _timestamp_pb2.Timestamp
    content_hash: str
    def __init__(self, relative_path: _Optional[str] = ..., size: _Optional[int] = ..., modified_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., content_hash: _Optional[str] = ...) -> None: ...

class DataChunk(_message.Message):
    __slots__ = ("offset", "data")
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    offset: int
    data: bytes
    def __init__(self, offset: _Optional[int] = ..., data: _Optional[bytes] = ...) -> None: ...

class FileEnd(_message.Message):
    __slots__ = ("content_hash",)
    CONTENT_HASH_FIELD_NUMBER: _ClassVar[int]
    content_hash: str
    def __init__(self, content_hash: _Optional[str] = ...) -> None: ...

class UploadFilesRequest(_message.Message):
    __slots__ = ("spec", "file_header", "chunk", "file_end")
    SPEC_FIELD_NUMBER: _ClassVar[int]
    FILE_HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    FILE_END_FIELD_NUMBER: _ClassVar[int]
    spec: UploadSpec
    file_header: FileHeader
    chunk: DataChunk
    file_end: FileEnd
    def __init__(self, spec: _Optional[_Union[UploadSpec, _Mapping]] = ..., file_header: _Optional[_Union[FileHeader, _Mapping]] = ..., chunk: _Optional[_Union[DataChunk, _Mapping]] = ..., file_end: _Optional[_Union[FileEnd, _Mapping]] = ...) -> None: ...

class FileResult(_message.Message):
    __slots__ = ("relative_path", "uploaded", "skipped", "error")
    RELATIVE_PATH_FIELD_NUMBER: _ClassVar[int]
    UPLOADED_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    relative_path: str
    uploaded: ItemMetadata
    skipped: Skipped
    error: _errors_pb2.ItemError
    def __init__(self, relative_path: _Optional[str] = ..., uploaded: _Optional[_Union[ItemMetadata, _Mapping]] = ..., skipped: _Optional[_Union[Skipped, _Mapping]] = ..., error: _Optional[_Union[_errors_pb2.ItemError, _Mapping]] = ...) -> None: ...

class UploadFilesResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[FileResult]
    def __init__(self, results: _Optional[_Iterable[_Union[FileResult, _Mapping]]] = ...) -> None: ...

class ListItemsRequest(_message.Message):
    __slots__ = ("connection", "filter")
    CONNECTION_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    connection: str
    filter: RemoteFileFilter
    def __init__(self, connection: _Optional[str] = ..., filter: _Optional[_Union[RemoteFileFilter, _Mapping]] = ...) -> None: ...

class ListItemsResponse(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[ItemMetadata]
    def __init__(self, items: _Optional[_Iterable[_Union[ItemMetadata, _Mapping]]] = ...) -> None: ...

class ByteRange(_message.Message):
    __slots__ = ("offset", "length")
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    offset: int
    length: int
    def __init__(self, offset: _Optional[int] = ..., length: _Optional[int] = ...) -> None: ...

class DownloadFilesRequest(_message.Message):
    __slots__ = ("connection", "filter", "items", "range", "overwrite", "local_files", "keep_modified_date")
    CONNECTION_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    RANGE_FIELD_NUMBER: _ClassVar[int]
    OVERWRITE_FIELD_NUMBER: _ClassVar[int]
    LOCAL_FILES_FIELD_NUMBER: _ClassVar[int]
    KEEP_MODIFIED_DATE_FIELD_NUMBER: _ClassVar[int]
    connection: str
    filter: RemoteFileFilter
    items: ItemRefs
    range: ByteRange
    overwrite: OverwritePolicy
    local_files: _containers.RepeatedCompositeFieldContainer[LocalFile]
    keep_modified_date: bool
    def __init__(self, connection: _Optional[str] = ..., filter: _Optional[_Union[RemoteFileFilter, _Mapping]] = ..., items: _Optional[_Union[ItemRefs, _Mapping]] = ..., range: _Optional[_Union[ByteRange, _Mapping]] = ..., overwrite: _Optional[_Union[OverwritePolicy, _Mapping]] = ..., local_files: _Optional[_Iterable[_Union[LocalFile, _Mapping]]] = ..., keep_modified_date: _Optional[bool] = ...) -> None: ...

class LocalFile(_message.Message):
    __slots__ = ("relative_path", "size", "modified_time", "content_hash")
    RELATIVE_PATH_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    MODIFIED_TIME_FIELD_NUMBER: _ClassVar[int]
    CONTENT_HASH_FIELD_NUMBER: _ClassVar[int]
    relative_path: str
    size: int
    modified_time: _timestamp_pb2.Timestamp
    content_hash: str
    def __init__(self, relative_path: _Optional[str] = ..., size: _Optional[int] = ..., modified_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., content_hash: _Optional[str] = ...) -> None: ...

class DownloadHeader(_message.Message):
    __slots__ = ("metadata", "offset", "length", "modified_time")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    MODIFIED_TIME_FIELD_NUMBER: _ClassVar[int]
    metadata: ItemMetadata
    offset: int
    length: int
    modified_time: _timestamp_pb2.Timestamp
    def __init__(self, metadata: _Optional[_Union[ItemMetadata, _Mapping]] = ..., offset: _Optional[int] = ..., length: _Optional[int] = ..., modified_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class DownloadEnd(_message.Message):
    __slots__ = ("content_hash", "bytes_sent")
    CONTENT_HASH_FIELD_NUMBER: _ClassVar[int]
    BYTES_SENT_FIELD_NUMBER: _ClassVar[int]
    content_hash: str
    bytes_sent: int
    def __init__(self, content_hash: _Optional[str] = ..., bytes_sent: _Optional[int] = ...) -> None: ...

class DownloadFilesResponse(_message.Message):
    __slots__ = ("header", "chunk", "end", "error", "skipped")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    header: DownloadHeader
    chunk: DataChunk
    end: DownloadEnd
    error: DownloadError
    skipped: DownloadSkipped
    def __init__(self, header: _Optional[_Union[DownloadHeader, _Mapping]] = ..., chunk: _Optional[_Union[DataChunk, _Mapping]] = ..., end: _Optional[_Union[DownloadEnd, _Mapping]] = ..., error: _Optional[_Union[DownloadError, _Mapping]] = ..., skipped: _Optional[_Union[DownloadSkipped, _Mapping]] = ...) -> None: ...

class DownloadSkipped(_message.Message):
    __slots__ = ("path", "skipped")
    PATH_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    path: str
    skipped: Skipped
    def __init__(self, path: _Optional[str] = ..., skipped: _Optional[_Union[Skipped, _Mapping]] = ...) -> None: ...

class DownloadError(_message.Message):
    __slots__ = ("path", "error")
    PATH_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    path: str
    error: _errors_pb2.ItemError
    def __init__(self, path: _Optional[str] = ..., error: _Optional[_Union[_errors_pb2.ItemError, _Mapping]] = ...) -> None: ...

class CreateFolderRequest(_message.Message):
    __slots__ = ("connection", "path", "exist_ok")
    CONNECTION_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    EXIST_OK_FIELD_NUMBER: _ClassVar[int]
    connection: str
    path: str
    exist_ok: bool
    def __init__(self, connection: _Optional[str] = ..., path: _Optional[str] = ..., exist_ok: _Optional[bool] = ...) -> None: ...

class CreateFolderResponse(_message.Message):
    __slots__ = ("folder", "created")
    FOLDER_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    folder: ItemMetadata
    created: bool
    def __init__(self, folder: _Optional[_Union[ItemMetadata, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class DeleteItemsRequest(_message.Message):
    __slots__ = ("connection", "filter", "items", "dry_run")
    CONNECTION_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    connection: str
    filter: RemoteFileFilter
    items: ItemRefs
    dry_run: bool
    def __init__(self, connection: _Optional[str] = ..., filter: _Optional[_Union[RemoteFileFilter, _Mapping]] = ..., items: _Optional[_Union[ItemRefs, _Mapping]] = ..., dry_run: _Optional[bool] = ...) -> None: ...

class DeleteItemsResponse(_message.Message):
    __slots__ = ("path", "deleted", "error", "dry_run")
    PATH_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    path: str
    deleted: ItemMetadata
    error: _errors_pb2.ItemError
    dry_run: bool
    def __init__(self, path: _Optional[str] = ..., deleted: _Optional[_Union[ItemMetadata, _Mapping]] = ..., error: _Optional[_Union[_errors_pb2.ItemError, _Mapping]] = ..., dry_run: _Optional[bool] = ...) -> None: ...

class StartResumableUploadRequest(_message.Message):
    __slots__ = ("connection", "path", "overwrite", "modified_time", "autorename", "size", "content_hash")
    CONNECTION_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    OVERWRITE_FIELD_NUMBER: _ClassVar[int]
    MODIFIED_TIME_FIELD_NUMBER: _ClassVar[int]
    AUTORENAME_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_HASH_FIELD_NUMBER: _ClassVar[int]
    connection: str
    path: str
    overwrite: OverwritePolicy
    modified_time: _timestamp_pb2.Timestamp
    autorename: bool
    size: int
    content_hash: str
    def __init__(self, connection: _Optional[str] = ..., path: _Optional[str] = ..., overwrite: _Optional[_Union[OverwritePolicy, _Mapping]] = ..., modified_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., autorename: _Optional[bool] = ..., size: _Optional[int] = ..., content_hash: _Optional[str] = ...) -> None: ...

class StartResumableUploadResponse(_message.Message):
    __slots__ = ("upload_id", "expire_time", "skipped")
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    upload_id: str
    expire_time: _timestamp_pb2.Timestamp
    skipped: Skipped
    def __init__(self, upload_id: _Optional[str] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., skipped: _Optional[_Union[Skipped, _Mapping]] = ...) -> None: ...

class WriteResumableUploadRequest(_message.Message):
    __slots__ = ("upload_id", "write_offset", "data", "finish_write", "content_hash")
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    WRITE_OFFSET_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    FINISH_WRITE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_HASH_FIELD_NUMBER: _ClassVar[int]
    upload_id: str
    write_offset: int
    data: bytes
    finish_write: bool
    content_hash: str
    def __init__(self, upload_id: _Optional[str] = ..., write_offset: _Optional[int] = ..., data: _Optional[bytes] = ..., finish_write: _Optional[bool] = ..., content_hash: _Optional[str] = ...) -> None: ...

class WriteResumableUploadResponse(_message.Message):
    __slots__ = ("persisted_size", "result")
    PERSISTED_SIZE_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    persisted_size: int
    result: FileResult
    def __init__(self, persisted_size: _Optional[int] = ..., result: _Optional[_Union[FileResult, _Mapping]] = ...) -> None: ...

class QueryUploadRequest(_message.Message):
    __slots__ = ("upload_id",)
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    upload_id: str
    def __init__(self, upload_id: _Optional[str] = ...) -> None: ...

class QueryUploadResponse(_message.Message):
    __slots__ = ("persisted_size", "result", "expire_time", "path")
    PERSISTED_SIZE_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    persisted_size: int
    result: FileResult
    expire_time: _timestamp_pb2.Timestamp
    path: str
    def __init__(self, persisted_size: _Optional[int] = ..., result: _Optional[_Union[FileResult, _Mapping]] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., path: _Optional[str] = ...) -> None: ...

class CancelUploadRequest(_message.Message):
    __slots__ = ("upload_id",)
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    upload_id: str
    def __init__(self, upload_id: _Optional[str] = ...) -> None: ...

class CancelUploadResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
