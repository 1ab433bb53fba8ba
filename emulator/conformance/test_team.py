"""The Business team: Select-User, Select-Admin and Path-Root."""

import dropbox
import pytest
from dropbox import common
from dropbox.exceptions import AuthError, BadInputError, PathRootError

from conftest import TEAM_TOKEN


@pytest.fixture
def team(emulator):
    client = dropbox.DropboxTeam(TEAM_TOKEN, ca_certs=emulator.ca_path)
    yield client
    client.close()


def members(accounts):
    return [a for a in accounts["accounts"] if a["kind"] == "member"]


def test_select_user_acts_as_member(team, accounts):
    admin_id = accounts["team"]["admin_member_id"]
    plain = [m for m in members(accounts) if not m["is_admin"]]
    assert len(plain) == 2
    one = team.as_user(plain[0]["team_member_id"])
    two = team.as_user(plain[1]["team_member_id"])
    me = one.users_get_current_account()
    assert me.account_id == plain[0]["account_id"]
    assert me.team_member_id == plain[0]["team_member_id"]
    assert isinstance(me.root_info, dropbox.common.TeamRootInfo)
    assert me.root_info.home_path == "/Member One"
    assert me.root_info.home_namespace_id == plain[0]["home_namespace_id"]
    assert me.root_info.root_namespace_id == accounts["team"]["team_space_namespace_id"]
    one.files_upload(b"member one", "/home-file.txt")
    with pytest.raises(dropbox.exceptions.ApiError):
        two.files_get_metadata("/home-file.txt")
    admin = team.as_admin(admin_id)
    assert admin.users_get_current_account().account_id != me.account_id


def test_team_token_needs_select_user(emulator):
    as_user_client = dropbox.Dropbox(TEAM_TOKEN, ca_certs=emulator.ca_path)
    with pytest.raises(BadInputError) as err:
        as_user_client.files_list_folder("")
    assert "Dropbox-API-Select-User" in err.value.message


def test_bad_select_user(team):
    with pytest.raises(AuthError) as err:
        team.as_user("dbmid:nobody").files_list_folder("")
    assert err.value.error.is_invalid_select_user()


def test_path_root_team_space(team, accounts):
    space = accounts["team"]["team_space_namespace_id"]
    plain = [m for m in members(accounts) if not m["is_admin"]]
    one = team.as_user(plain[0]["team_member_id"])
    two = team.as_user(plain[1]["team_member_id"])
    shared_one = one.with_path_root(common.PathRoot.root(space))
    shared_two = two.with_path_root(common.PathRoot.namespace_id(space))
    meta = shared_one.files_upload(b"for the team", "/Team Folder/plan.txt")
    assert meta.path_display == "/Team Folder/plan.txt"
    listed = shared_two.files_list_folder("/Team Folder")
    assert [e.name for e in listed.entries] == ["plan.txt"]
    _, response = shared_two.files_download("/team folder/PLAN.txt")
    assert response.content == b"for the team"
    # Not in the member's home namespace.
    with pytest.raises(dropbox.exceptions.ApiError):
        one.files_get_metadata("/Team Folder/plan.txt")
    # Home root is the default, and explicit.
    one.files_upload(b"h", "/mine.txt")
    home = one.with_path_root(common.PathRoot.home)
    assert home.files_get_metadata("/mine.txt").size == 1
    # ns:<id> paths reach the team space too.
    assert one.files_get_metadata("ns:%s/Team Folder/plan.txt" % space).size == 12


def test_bad_path_root(team, accounts):
    plain = [m for m in members(accounts) if not m["is_admin"]]
    one = team.as_user(plain[0]["team_member_id"])
    with pytest.raises(PathRootError) as err:
        one.with_path_root(common.PathRoot.root("12345")).files_list_folder("")
    assert err.value.error.is_invalid_root()
    with pytest.raises(PathRootError) as err:
        one.with_path_root(common.PathRoot.namespace_id("12345")).files_list_folder("")
    assert err.value.error.is_no_permission()
