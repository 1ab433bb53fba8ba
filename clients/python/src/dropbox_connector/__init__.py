"""Python client of dropbox-connector: the generated stubs (`dropbox_connector.v1`) and a
small layer on top (`Client`, `AsyncClient`, `DropboxConnectorError`)."""

from ._channel import MAX_CHUNK_BYTES, MAX_MESSAGE_BYTES
from ._download import DownloadedFile
from ._upload import FileToUpload
from .aio import AsyncClient
from .client import Client
from .content_hash import ContentHasher, content_hash, content_hash_file
from .errors import ERROR_DOMAIN, DropboxConnectorError

__all__ = [
    "AsyncClient",
    "Client",
    "ContentHasher",
    "DownloadedFile",
    "DropboxConnectorError",
    "ERROR_DOMAIN",
    "FileToUpload",
    "MAX_CHUNK_BYTES",
    "MAX_MESSAGE_BYTES",
    "content_hash",
    "content_hash_file",
]
