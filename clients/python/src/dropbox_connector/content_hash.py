"""Dropbox's content_hash: the files are cut into 4 MiB blocks, each block is hashed with
SHA-256, and the hex SHA-256 of the concatenated block digests is the file's hash. It is
what the service reports for every file and checks on upload."""

from __future__ import annotations

import hashlib
import os

BLOCK_BYTES = 4 * 1024 * 1024
_READ_BYTES = 1024 * 1024


class ContentHasher:
    """Feeds bytes in any pieces; holds at most one partial block's digest state."""

    def __init__(self) -> None:
        self._overall = hashlib.sha256()
        self._block = hashlib.sha256()
        self._in_block = 0

    def update(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data)
        while view:
            take = min(len(view), BLOCK_BYTES - self._in_block)
            self._block.update(view[:take])
            self._in_block += take
            view = view[take:]
            if self._in_block == BLOCK_BYTES:
                self._finish_block()

    def _finish_block(self) -> None:
        self._overall.update(self._block.digest())
        self._block = hashlib.sha256()
        self._in_block = 0

    def hexdigest(self) -> str:
        """The hash of everything fed so far (feeding may go on afterwards)."""
        overall = self._overall.copy()
        if self._in_block:
            overall.update(self._block.digest())
        return overall.hexdigest()


def content_hash(data: bytes | bytearray | memoryview) -> str:
    hasher = ContentHasher()
    hasher.update(data)
    return hasher.hexdigest()


def content_hash_file(path: str | os.PathLike[str]) -> str:
    """Reads the file in pieces, so any size hashes in bounded memory."""
    hasher = ContentHasher()
    with open(path, "rb") as f:
        while piece := f.read(_READ_BYTES):
            hasher.update(piece)
    return hasher.hexdigest()
