"""`AsyncClient`: the same helpers on grpc.aio, against the real server."""

import asyncio
import filecmp
import os
import uuid

import grpc
import pytest

from dropbox_connector import AsyncClient, DropboxConnectorError, content_hash_file

from conftest import DEMO
from cutting_proxy import CuttingProxy

MIB = 1024 * 1024


def test_async_upload_list_download_delete_and_typed_errors(server, tmp_path):
    source = tmp_path / "async.bin"
    source.write_bytes(bytes(range(256)) * (5 * MIB // 256 + 3))
    folder = f"/py-async-{uuid.uuid4().hex[:8]}"

    async def scenario():
        async with AsyncClient(server.address, ca_pem=server.ca_pem, token=server.admin_token, timeout=60) as client:
            assert DEMO in [c.display_name async for c in client.list_connections()]
            result = await client.upload_file(DEMO, source, folder)
            assert result.uploaded.content_hash == content_hash_file(source)
            names = [item.name async for item in client.list(DEMO, folder)]
            assert names == ["async.bin"]
            target = tmp_path / "back" / "async.bin"
            await client.download_file(DEMO, f"{folder}/async.bin", target)
            assert filecmp.cmp(source, target, shallow=False)
            with pytest.raises(DropboxConnectorError) as caught:
                await client.download_file(DEMO, f"{folder}/missing.bin", tmp_path / "missing.bin")
            assert caught.value.code == grpc.StatusCode.NOT_FOUND
            assert caught.value.reason == "PATH_NOT_FOUND"
            deleted = await client.delete(DEMO, folder)
            assert [d.path_display for d in deleted] == [folder]
            with pytest.raises(DropboxConnectorError) as caught:
                [item async for item in client.list(DEMO, folder)]
            assert caught.value.reason == "PATH_NOT_FOUND"

    asyncio.run(scenario())


def test_async_resumable_upload_resumes_by_itself(server, tmp_path):
    source = tmp_path / "resumable.bin"
    source.write_bytes(bytes(range(251)) * (14 * MIB // 251))
    remote = f"/py-async-{uuid.uuid4().hex[:8]}/resumable.bin"
    proxy = CuttingProxy(server.address, cut_after_bytes=10 * MIB)
    resumed_at = []

    async def scenario():
        async with AsyncClient(proxy.address, ca_pem=server.ca_pem, token=server.admin_token, timeout=120) as client:
            return await client.upload_resumable(DEMO, source, remote, on_resume=resumed_at.append)

    try:
        result = asyncio.run(scenario())
    finally:
        proxy.close()
    assert proxy.cut.is_set()
    assert resumed_at and resumed_at[0] > 0, resumed_at
    assert result.uploaded.size == source.stat().st_size
    assert result.uploaded.content_hash == content_hash_file(source)


def test_async_download_options(server, tmp_path):
    folder = f"/py-async-{uuid.uuid4().hex[:8]}"
    source = tmp_path / "dated.txt"
    source.write_bytes(b"dated")
    stamp = 1767268800  # 2026-01-01T12:00:00Z, whole seconds as Dropbox keeps them
    os.utime(source, (stamp, stamp))
    local = tmp_path / "local"
    local.mkdir()
    (local / "dated.txt").write_bytes(b"held locally")

    async def scenario():
        async with AsyncClient(server.address, ca_pem=server.ca_pem, token=server.admin_token, timeout=60) as client:
            await client.upload_file(DEMO, source, folder, keep_modified_date=True)
            [kept] = await client.download_folder(DEMO, folder, local, overwrite="never")
            assert kept.skipped is not None
            assert (local / "dated.txt").read_bytes() == b"held locally"
            fresh = await client.download_file(
                DEMO, f"{folder}/dated.txt", tmp_path / "fresh.txt", keep_dates=True, delete_source=True
            )
            assert fresh.path.stat().st_mtime == stamp
            assert fresh.source_deleted
            assert [item async for item in client.list(DEMO, folder)] == []
            await client.delete(DEMO, folder)

    asyncio.run(scenario())
