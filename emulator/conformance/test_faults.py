"""Injected faults and expired tokens: what the SDK retries on its own."""

import dropbox
import pytest
from dropbox.exceptions import AuthError, InternalServerError

from conftest import APP_KEY, refreshing_client


def test_injected_429_is_retried(dbx, emulator):
    dbx.files_upload(b"x", "/rl.txt")
    emulator.control(
        "POST",
        "/faults",
        {"route": "files/list_folder", "kind": "status", "status": 429, "retry_after": 1, "count": 1},
    )
    result = dbx.files_list_folder("")
    assert [e.name for e in result.entries] == ["rl.txt"]
    statuses = [e["status"] for e in emulator.requests_log("files/list_folder")]
    assert statuses == [429, 200]


def test_injected_503_is_retried_then_given_up(dbx, emulator):
    emulator.control(
        "POST", "/faults", {"route": "users/*", "kind": "status", "status": 503, "count": 10}
    )
    with pytest.raises(InternalServerError):
        dbx.users_get_current_account()
    # max_retries_on_error=2: three attempts in all.
    assert len(emulator.requests_log("users/get_current_account")) == 3


def test_corrupted_download_is_detectable(dbx, emulator):
    from dropbox.content_hash import content_hash

    data = b"0123456789" * 1000
    dbx.files_upload(data, "/c.bin")
    emulator.control("POST", "/faults", {"route": "files/download", "kind": "corrupt", "count": 1})
    meta, response = dbx.files_download("/c.bin")
    assert len(response.content) == len(data)
    assert content_hash(response.content) != meta.content_hash
    _, response = dbx.files_download("/c.bin")
    assert content_hash(response.content) == meta.content_hash


def test_expired_token_is_refreshed(emulator):
    client, issued = refreshing_client(emulator)
    client.files_upload(b"before", "/before.txt")
    emulator.control("POST", "/tokens/expire")
    # The next call gets 401 expired_access_token, refreshes, and retries.
    meta = client.files_get_metadata("/before.txt")
    assert meta.size == 6
    assert client._oauth2_access_token != issued["access_token"]
    statuses = [e["status"] for e in emulator.requests_log("files/get_metadata")]
    assert statuses == [401, 200]
    # The old access token stays expired.
    old = dropbox.Dropbox(issued["access_token"], ca_certs=emulator.ca_path)
    with pytest.raises(AuthError) as err:
        old.users_get_current_account()
    assert err.value.error.is_expired_access_token()


def test_revoke_kills_refresh_token(emulator):
    issued = emulator.control("POST", "/tokens", {"app_key": APP_KEY})
    client = dropbox.Dropbox(issued["access_token"], ca_certs=emulator.ca_path)
    client.auth_token_revoke()
    with pytest.raises(AuthError):
        client.users_get_current_account()
    refreshing = dropbox.Dropbox(
        oauth2_refresh_token=issued["refresh_token"], app_key=APP_KEY, ca_certs=emulator.ca_path
    )
    with pytest.raises(AuthError):
        refreshing.users_get_current_account()
