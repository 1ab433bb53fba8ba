"""Error answers the SDK must decode: 400 text, 409 unions, 401 auth errors."""

import pytest
import dropbox
from dropbox.exceptions import ApiError, AuthError, BadInputError


def test_slash_as_root_is_bad_input(dbx):
    with pytest.raises(BadInputError) as err:
        dbx.files_list_folder("/")
    assert "Specify the root folder as an empty string" in err.value.message


def test_missing_file_is_not_found(dbx):
    with pytest.raises(ApiError) as err:
        dbx.files_get_metadata("/no/such/file.txt")
    assert err.value.error.is_path() and err.value.error.get_path().is_not_found()
    with pytest.raises(ApiError) as err:
        dbx.files_download("/no/such/file.txt")
    assert err.value.error.get_path().is_not_found()
    with pytest.raises(ApiError) as err:
        dbx.files_list_folder("/no/such")
    assert err.value.error.get_path().is_not_found()


def test_trailing_slash_is_malformed(dbx):
    dbx.files_create_folder_v2("/folder")
    with pytest.raises(ApiError) as err:
        dbx.files_get_metadata("/folder/")
    assert err.value.error.get_path().is_malformed_path()
    with pytest.raises(ApiError) as err:
        dbx.files_list_folder("/folder/")
    assert err.value.error.get_path().is_malformed_path()


def test_not_folder_and_not_file(dbx):
    dbx.files_upload(b"f", "/plain.txt")
    with pytest.raises(ApiError) as err:
        dbx.files_list_folder("/plain.txt")
    assert err.value.error.get_path().is_not_folder()
    dbx.files_create_folder_v2("/dir")
    with pytest.raises(ApiError) as err:
        dbx.files_download("/dir")
    assert err.value.error.get_path().is_not_file()


def test_invalid_token(emulator):
    client = dropbox.Dropbox("not-a-token", ca_certs=emulator.ca_path)
    with pytest.raises(AuthError) as err:
        client.users_get_current_account()
    assert err.value.error.is_invalid_access_token()
