//! A Business connection made with `dbxc` alone: a team token acting as one member, with
//! the team space as its path root, writes into the team space and not the member's home.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside test fns

use dropbox_connector_tests::{
    EmulatorProcess, ServerProcess, ascii_json, dbxc, dbxc_with_stdin, ok,
};

/// get_metadata as `member`, with an optional Path-Root header; true when the item exists.
fn exists_as(
    emulator: &EmulatorProcess,
    token: &str,
    member: &str,
    root: Option<&str>,
    path: &str,
) -> bool {
    let mut request = reqwest::blocking::Client::new()
        .post(format!("{}/2/files/get_metadata", emulator.base_url))
        .bearer_auth(token)
        .header("Dropbox-API-Select-User", member)
        .json(&serde_json::json!({ "path": path }));
    if let Some(ns) = root {
        let header = ascii_json(&serde_json::json!({".tag": "root", "root": ns}).to_string());
        request = request.header("Dropbox-API-Path-Root", header);
    }
    match request.send().expect("get_metadata").status().as_u16() {
        200 => true,
        409 => false,
        other => panic!("get_metadata {path} as {member}: HTTP {other}"),
    }
}

#[test]
fn team_connection_with_member_and_team_space_root() {
    let work = tempfile::tempdir().unwrap();
    let team_token = format!("team-{}", std::process::id());
    let emulator = EmulatorProcess::start(work.path(), &["--team", &team_token]);
    let accounts = emulator.control("GET", "/__emulator/accounts", None);
    let team = &accounts["team"];
    let member = team["members"][1].as_str().unwrap().to_string();
    let team_space = team["team_space_namespace_id"]
        .as_str()
        .unwrap()
        .to_string();
    let server = ServerProcess::start(
        work.path(),
        &work.path().join("server-data"),
        &emulator.base_url,
    );

    ok(dbxc_with_stdin(
        &server.url,
        &[
            "connection",
            "create",
            "team",
            "--access-token-file",
            "-",
            "--account-type",
            "business",
            "--team-member-id",
            &member,
            "--path-root",
            &format!("team-root:{team_space}"),
        ],
        Some(team_token.as_bytes()),
    ));
    let shown = ok(dbxc(&server.url, &["--json", "connection", "get", "team"]));
    let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown["business"]["team_member_id"], member.as_str());
    assert_eq!(
        shown["business"]["path_root"],
        format!("team-root:{team_space}").as_str()
    );

    let local = work.path().join("minutes.txt");
    std::fs::write(&local, b"team minutes\n").unwrap();
    ok(dbxc(
        &server.url,
        &[
            "--connection",
            "team",
            "upload",
            local.to_str().unwrap(),
            "/shared",
        ],
    ));

    assert!(
        exists_as(
            &emulator,
            &team_token,
            &member,
            Some(&team_space),
            "/shared/minutes.txt"
        ),
        "the file is in the team space"
    );
    assert!(
        !exists_as(&emulator, &team_token, &member, None, "/shared/minutes.txt"),
        "the file is not in the member's home"
    );

    let bad = dbxc_with_stdin(
        &server.url,
        &[
            "connection",
            "create",
            "nobody",
            "--access-token-file",
            "-",
            "--account-type",
            "business",
            "--team-member-id",
            "dbmid:no-such-member",
        ],
        Some(team_token.as_bytes()),
    );
    assert!(
        bad.status.success(),
        "creating stores settings; Dropbox judges them on use"
    );
    let listed = dbxc(&server.url, &["--connection", "nobody", "list", "/"]);
    let stderr = String::from_utf8_lossy(&listed.stderr);
    assert!(!listed.status.success());
    assert!(
        stderr.contains("dbmid:no-such-member"),
        "the error names the member id: {stderr}"
    );
}
