//! Secure by default, with the real binary: outside `--dev` a
//! non-loopback listen address needs callers or an explicit opt-out; `--dev` refuses any
//! non-loopback address; a callers file that does not parse refuses the start.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

fn server(data_dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dropbox-connector"));
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("DBXC_")) {
        c.env_remove(key);
    }
    c.args(args)
        .env("DBXC_DATA_DIR", data_dir)
        .env(
            "DBXC_SECRETS__KEY",
            dropbox_connector_server::store::Sealer::generate().1,
        )
        .envs(env.iter().copied())
        .stdin(Stdio::null());
    c
}

/// Runs a start that must be refused; returns its stderr.
fn refused(args: &[&str], env: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = server(dir.path(), args, env).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "exit code; stderr: {stderr}");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("listening on"),
        "{stderr}"
    );
    stderr
}

#[test]
fn a_non_loopback_address_without_callers_is_refused() {
    let stderr = refused(&[], &[("DBXC_LISTEN", "0.0.0.0:0")]);
    for needle in [
        "0.0.0.0:0",
        "DBXC_AUTH__CALLERS_FILE",
        "deploy/callers.example.toml",
        "DBXC_AUTH__ALLOW_UNAUTHENTICATED=true",
    ] {
        assert!(stderr.contains(needle), "{needle} in: {stderr}");
    }
}

#[test]
fn allow_unauthenticated_is_an_explicit_opt_out() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = server(
        dir.path(),
        &[],
        &[
            ("DBXC_LISTEN", "0.0.0.0:0"),
            ("DBXC_AUTH__ALLOW_UNAUTHENTICATED", "true"),
            ("DBXC_LOG__LEVEL", "warn"),
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.starts_with("listening on ") {
                let _ = tx.send(line);
            }
        }
    });
    let line = rx.recv_timeout(Duration::from_secs(60));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(line.unwrap().starts_with("listening on 0.0.0.0:"));
}

#[test]
fn dev_refuses_a_non_loopback_address() {
    let stderr = refused(&["--dev"], &[("DBXC_LISTEN", "0.0.0.0:0")]);
    assert!(
        stderr.contains("--dev") && stderr.contains("loopback"),
        "{stderr}"
    );
    // Not even with callers or the opt-out.
    let stderr = refused(
        &["--dev", "--listen", "0.0.0.0:0"],
        &[("DBXC_AUTH__ALLOW_UNAUTHENTICATED", "true")],
    );
    assert!(stderr.contains("loopback"), "{stderr}");
}

#[test]
fn a_broken_callers_file_refuses_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("callers.toml");
    std::fs::write(
        &file,
        "[[caller]]\nname = \"a\"\nrole = \"reader\"\ngroups = [\"*\"]\ntoken_sha256 = \"abc\"\n",
    )
    .unwrap();
    let stderr = refused(
        &[],
        &[
            ("DBXC_LISTEN", "127.0.0.1:0"),
            ("DBXC_AUTH__CALLERS_FILE", file.to_str().unwrap()),
        ],
    );
    for needle in ["DBXC_AUTH__CALLERS_FILE", "line 1", "\"a\"", "64 hex"] {
        assert!(stderr.contains(needle), "{needle} in: {stderr}");
    }
}
