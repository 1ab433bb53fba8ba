"""The OAuth 2 code flow through the SDK's own flow classes, against the authorize page."""

import html
import re
import urllib.parse

import dropbox
import pytest
import requests
from dropbox.oauth import DropboxOAuth2Flow, DropboxOAuth2FlowNoRedirect

from conftest import APP_KEY, APP_SECRET, EXTRA_REDIRECT


def approve(emulator, authorize_url, follow=True):
    """Loads the authorize page and presses Allow, like a user in a browser."""
    http = requests.Session()
    http.verify = emulator.ca_path
    page = http.get(authorize_url)
    assert page.status_code == 200, page.text
    assert '<button type="submit" name="allow">Allow</button>' in page.text
    form = dict(
        (html.unescape(name), html.unescape(value))
        for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.text)
    )
    form["allow"] = ""
    action = urllib.parse.urljoin(authorize_url, "/oauth2/authorize")
    return http.post(action, data=form, allow_redirects=False)


def test_pkce_no_redirect_flow(emulator):
    flow = DropboxOAuth2FlowNoRedirect(
        APP_KEY, use_pkce=True, token_access_type="offline", ca_certs=emulator.ca_path
    )
    url = flow.start()
    assert url.startswith("https://%s/oauth2/authorize?" % emulator.hostport)
    response = approve(emulator, url)
    assert response.status_code == 200
    code = re.search(r'<code id="auth-code">([^<]+)</code>', response.text).group(1)
    result = flow.finish(code)
    assert result.access_token.startswith("sl.")
    assert result.refresh_token
    assert len(result.account_id) == 40
    client = dropbox.Dropbox(
        oauth2_access_token=result.access_token,
        oauth2_refresh_token=result.refresh_token,
        oauth2_access_token_expiration=result.expires_at,
        app_key=APP_KEY,
        ca_certs=emulator.ca_path,
    )
    assert client.users_get_current_account().account_id == result.account_id
    # A code works once.
    with pytest.raises(requests.HTTPError):
        flow.finish(code)


def test_redirect_flow_with_secret(emulator):
    session = {}
    flow = DropboxOAuth2Flow(
        APP_KEY,
        redirect_uri="http://localhost:9999",
        session=session,
        csrf_token_session_key="dropbox-auth-csrf-token",
        consumer_secret=APP_SECRET,
        token_access_type="offline",
        ca_certs=emulator.ca_path,
    )
    url = flow.start(url_state="after-login")
    response = approve(emulator, url)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("http://localhost:9999?")
    params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
    result = flow.finish(params)
    assert result.url_state == "after-login"
    assert result.refresh_token
    client = dropbox.Dropbox(result.access_token, ca_certs=emulator.ca_path)
    assert client.users_get_current_account().account_id == result.account_id


def test_redirect_flow_with_pkce_and_extra_uri(emulator):
    flow = DropboxOAuth2Flow(
        APP_KEY,
        redirect_uri=EXTRA_REDIRECT,
        session={},
        csrf_token_session_key="csrf",
        use_pkce=True,
        token_access_type="offline",
        ca_certs=emulator.ca_path,
    )
    response = approve(emulator, flow.start())
    assert response.headers["Location"].startswith(EXTRA_REDIRECT + "?code=")
    params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(response.headers["Location"]).query))
    result = flow.finish(params)
    assert result.access_token


def test_unregistered_redirect_uri_is_refused(emulator):
    flow = DropboxOAuth2Flow(
        APP_KEY,
        redirect_uri="http://localhost:1234/elsewhere",
        session={},
        csrf_token_session_key="csrf",
        consumer_secret=APP_SECRET,
        ca_certs=emulator.ca_path,
    )
    page = requests.get(flow.start(), verify=emulator.ca_path)
    assert page.status_code == 400
    assert "Invalid redirect_uri" in page.text
