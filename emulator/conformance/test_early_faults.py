"""Status faults answered early (before the upload body is read, which is then drained): the
official SDK, still writing the body when the answer leaves, sees Dropbox's 401/429/503.

(With `early_close` the connection closes under the SDK's body write; over TLS urllib3 then
reports an SSL EOF instead of the answer, so the SDK is judged on `early` only.)"""

import os

import dropbox
import pytest
from dropbox.exceptions import RateLimitError

from conftest import TOKEN, refreshing_client

# Far more than the socket buffers hold: the answer leaves while the SDK is still writing.
BODY = os.urandom(8 * 1024 * 1024)


def early(emulator, status):
    emulator.control(
        "POST",
        "/faults",
        {"route": "files/upload", "kind": "status", "status": status, "phase": "early",
         "retry_after": 2, "count": 1},
    )


def test_early_401_makes_the_sdk_refresh(emulator):
    client, issued = refreshing_client(emulator)
    early(emulator, 401)
    # The SDK reads the early 401 expired_access_token, refreshes, and sends again.
    meta = client.files_upload(BODY, "/early-401.bin")
    assert meta.size == len(BODY)
    assert client._oauth2_access_token != issued["access_token"]
    entries = emulator.requests_log("files/upload")
    assert [(e["status"], e.get("phase")) for e in entries] == [(401, "early"), (200, None)]
    client.close()


def test_early_429_reaches_the_sdk_with_its_backoff(emulator):
    client = dropbox.Dropbox(TOKEN, ca_certs=emulator.ca_path, max_retries_on_rate_limit=0)
    early(emulator, 429)
    with pytest.raises(RateLimitError) as err:
        client.files_upload(BODY, "/early-429.bin")
    assert err.value.backoff == 2
    assert err.value.error.reason.is_too_many_requests()
    client.close()


def test_early_503_is_retried_by_the_sdk(dbx, emulator):
    early(emulator, 503)
    meta = dbx.files_upload(BODY, "/early-503.bin")
    assert meta.size == len(BODY)
    statuses = [e["status"] for e in emulator.requests_log("files/upload")]
    assert statuses == [503, 200]
