"""The package's content_hash against an independent reading of Dropbox's definition."""

import hashlib

from dropbox_connector import ContentHasher, content_hash, content_hash_file

BLOCK = 4 * 1024 * 1024


def _reference(data: bytes) -> str:
    blocks = [data[i : i + BLOCK] for i in range(0, len(data), BLOCK)]
    return hashlib.sha256(b"".join(hashlib.sha256(b).digest() for b in blocks)).hexdigest()


def _data(size: int) -> bytes:
    pattern = bytes(range(251))  # a prime length: no block repeats another's position
    return (pattern * (size // len(pattern) + 1))[:size]


def test_known_values():
    assert content_hash(b"") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert content_hash(b"hello") == "9595c9df90075148eb06860365df33584b75bff782a510c6cd4883a419833d50"
    assert content_hash(b"A") == "1cd6ef71e6e0ff46ad2609d403dc3fee244417089aa4461245a4e4fe23a55e42"


def test_block_boundaries():
    for size in [1, BLOCK - 1, BLOCK, BLOCK + 1, 2 * BLOCK, 2 * BLOCK + 7]:
        data = _data(size)
        assert content_hash(data) == _reference(data), size


def test_pieces_of_any_size_give_the_same_hash(tmp_path):
    data = _data(3 * BLOCK + 12345)
    hasher = ContentHasher()
    offset = 0
    for piece in [1, 100, BLOCK - 101, 3, 2 * 1024 * 1024, BLOCK + 5, len(data)]:
        hasher.update(data[offset : offset + piece])
        offset += piece
    assert hasher.hexdigest() == _reference(data)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    assert content_hash_file(path) == _reference(data)


def test_the_installed_package_is_under_test():
    """The suite imports the package pip installed, not clients/python/src by path."""
    import dropbox_connector

    assert "site-packages" in dropbox_connector.__file__, dropbox_connector.__file__
