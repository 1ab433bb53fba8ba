//! `dbxc` against hostile names, end to end with the real binaries: remote names that collide
//! locally, `--delete-source` after a refusal, a symlink planted where a partial goes,
//! names too long in bytes, control characters in names, and upload of links out of the tree.
//!
//! Names Dropbox itself would refuse come from the emulator's `/__emulator/hostile_name`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::path::Path;

use dropbox_connector_tests::{
    EmulatorProcess, ServerProcess, bytes, dbxc, ok, server_with_connection,
};

/// An emulator, a server in front of it, and a connection named `c`.
struct Setup {
    work: tempfile::TempDir,
    emulator: EmulatorProcess,
    server: ServerProcess,
}

impl Setup {
    fn start() -> Setup {
        let work = tempfile::tempdir().unwrap();
        let emulator = EmulatorProcess::start(work.path(), &[]);
        let server = server_with_connection(work.path(), &emulator, "c");
        Setup {
            work,
            emulator,
            server,
        }
    }

    fn dbxc(&self, args: &[&str]) -> std::process::Output {
        let mut all = vec!["--connection", "c"];
        all.extend_from_slice(args);
        dbxc(&self.server.url, &all)
    }

    /// Uploads `files` (name, content) into `folder`.
    fn upload(&self, folder: &str, files: &[(&str, &[u8])]) {
        let dir = self
            .work
            .path()
            .join(format!("up-{}", folder.replace('/', "_")));
        std::fs::create_dir_all(&dir).unwrap();
        let mut args = vec!["upload".to_string()];
        for (name, content) in files {
            std::fs::write(dir.join(name), content).unwrap();
            args.push(dir.join(name).to_string_lossy().into_owned());
        }
        args.push(folder.to_string());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        ok(self.dbxc(&args));
    }

    /// Makes the item at `path` report `name` from now on.
    fn rename_hostile(&self, path: &str, name: &str) {
        self.emulator.control(
            "POST",
            "/__emulator/hostile_name",
            Some(serde_json::json!({ "token": self.emulator.token, "path": path, "name": name })),
        );
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn colliding_remote_names_are_refused_and_their_sources_kept() {
    let s = Setup::start();
    s.upload(
        "/dl",
        &[
            ("f0.txt", b"payload zero"),
            ("f1.txt", b"payload one"),
            ("ok.txt", b"payload ok"),
        ],
    );
    // `x` and `\x` both land on LOCAL_DIR/x.
    s.rename_hostile("/dl/f0.txt", "x");
    s.rename_hostile("/dl/f1.txt", "\\x");
    let local = s.work.path().join("local");
    let run = s.dbxc(&[
        "download",
        "/dl",
        local.to_str().unwrap(),
        "--delete-source",
    ]);
    let stderr = text(&run.stderr);
    println!("stdout:\n{}\nstderr:\n{stderr}", text(&run.stdout));
    assert_eq!(run.status.code(), Some(1), "one file was refused: {stderr}");
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("NAME_COLLISION") && l.contains("\\\\x")),
        "the backslash name is refused by name: {stderr}"
    );
    // The name that is literally `x` keeps the path, with its own bytes.
    assert_eq!(std::fs::read(local.join("x")).unwrap(), b"payload zero");
    assert_eq!(std::fs::read(local.join("ok.txt")).unwrap(), b"payload ok");
    assert_eq!(names_in(&local), ["ok.txt", "x"]);
    // --delete-source deleted only what landed.
    assert!(s.emulator.metadata("/dl/f0.txt").is_none(), "x landed");
    assert!(s.emulator.metadata("/dl/ok.txt").is_none(), "ok.txt landed");
    assert!(
        s.emulator.metadata("/dl/f1.txt").is_some(),
        "the refused file's source must stay"
    );

    // No name is literally the path: `x` twice (one of them `/x`) are both refused.
    s.upload("/dl2", &[("g0.txt", b"zero"), ("g1.txt", b"one")]);
    s.rename_hostile("/dl2/g0.txt", "x");
    s.rename_hostile("/dl2/g1.txt", "/x");
    let local2 = s.work.path().join("local2");
    let run = s.dbxc(&[
        "download",
        "/dl2",
        local2.to_str().unwrap(),
        "--delete-source",
    ]);
    let stderr = text(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr
            .lines()
            .filter(|l| l.contains("NAME_COLLISION"))
            .count(),
        2,
        "{stderr}"
    );
    assert!(names_in(&local2).is_empty(), "{:?}", names_in(&local2));
    assert!(s.emulator.metadata("/dl2/g0.txt").is_some());
    assert!(s.emulator.metadata("/dl2/g1.txt").is_some());
}

#[cfg(unix)]
#[test]
fn a_symlink_planted_at_the_partial_is_not_written_through() {
    let s = Setup::start();
    let payload = bytes(300_000, 1);
    s.upload("/dl", &[("big.bin", &payload)]);
    let listed = ok(s.dbxc(&["--json", "list", "/dl"]));
    let item: serde_json::Value = serde_json::from_str(listed.lines().next().unwrap()).unwrap();
    let rev = item["rev"].as_str().unwrap().to_string();

    let local = s.work.path().join("local");
    std::fs::create_dir_all(&local).unwrap();
    let outside = s.work.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let precious = outside.join("precious.txt");
    std::fs::write(&precious, b"precious bytes").unwrap();
    let planted = local.join(format!(".big.bin.{rev}.dbxc-partial"));
    std::os::unix::fs::symlink(&precious, &planted).unwrap();

    let run = s.dbxc(&["download", "/dl", local.to_str().unwrap()]);
    let stderr = text(&run.stderr);
    println!("stderr:\n{stderr}");
    assert_eq!(
        std::fs::read(&precious).unwrap(),
        b"precious bytes",
        "written through the symlink: {stderr}"
    );
    assert!(
        planted.is_symlink(),
        "a link dbxc did not make is left alone"
    );
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("symbolic link"), "{stderr}");
    assert!(!local.join("big.bin").exists());

    // Once the user moves it away, the download goes through.
    std::fs::remove_file(&planted).unwrap();
    ok(s.dbxc(&["download", "/dl", local.to_str().unwrap()]));
    assert_eq!(std::fs::read(local.join("big.bin")).unwrap(), payload);
}

#[test]
fn names_too_long_in_bytes_are_refused_clearly() {
    let s = Setup::start();
    s.upload("/dl", &[("long.txt", b"long"), ("short.txt", b"short")]);
    // 200 characters, 400 bytes: more than a local file name holds.
    let long = "é".repeat(200);
    s.rename_hostile("/dl/long.txt", &long);
    let local = s.work.path().join("local");
    let run = s.dbxc(&["download", "/dl", local.to_str().unwrap()]);
    let stderr = text(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("UNSAFE_PATH") && l.contains("400 bytes")),
        "{stderr}"
    );
    assert_eq!(names_in(&local), ["short.txt"]);
}

#[test]
fn control_characters_in_remote_names_are_escaped_in_text_output() {
    let s = Setup::start();
    s.upload("/dl", &[("evil.txt", b"evil")]);
    let name = "evil\u{1b}]0;owned\u{7}\u{1b}[2J\r\u{202e}txt.exe";
    s.rename_hostile("/dl/evil.txt", name);

    let listed = s.dbxc(&["list", "/dl"]);
    let stdout = text(&listed.stdout);
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    assert!(
        !stdout.contains('\u{1b}') && !stdout.contains('\r') && !stdout.contains('\u{7}'),
        "raw control characters reached the terminal: {stdout:?}"
    );
    assert!(!stdout.contains('\u{202e}'), "{stdout:?}");
    assert!(
        stdout.contains("evil\\x1b]0;owned\\x07\\x1b[2J\\x0d\\u{202e}txt.exe"),
        "{stdout:?}"
    );

    // JSON keeps the exact name.
    let json = ok(s.dbxc(&["--json", "list", "/dl"]));
    let item: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert_eq!(item["name"], name);

    // Download and delete show it escaped as well.
    let local = s.work.path().join("local");
    let run = s.dbxc(&["download", "/dl", local.to_str().unwrap()]);
    let out = format!("{}{}", text(&run.stdout), text(&run.stderr));
    assert!(!out.contains('\u{1b}'), "{out:?}");
    let run = s.dbxc(&["delete", "--folder", "/dl", "--dry-run"]);
    let out = format!("{}{}", text(&run.stdout), text(&run.stderr));
    assert!(!out.contains('\u{1b}') && out.contains("\\x1b"), "{out:?}");
}

#[cfg(unix)]
#[test]
fn upload_skips_links_out_of_the_tree_unless_asked() {
    let s = Setup::start();
    let outside = s.work.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("id_rsa"), b"private key").unwrap();
    let tree = s.work.path().join("tree");
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(tree.join("a.txt"), b"a").unwrap();
    std::os::unix::fs::symlink(outside.join("id_rsa"), tree.join("key")).unwrap();

    let run = s.dbxc(&["upload", "-r", tree.to_str().unwrap(), "/up"]);
    let stderr = text(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(
        stderr.contains("skipped") && stderr.contains("--follow-symlinks"),
        "{stderr}"
    );
    assert!(s.emulator.metadata("/up/a.txt").is_some());
    assert!(
        s.emulator.metadata("/up/key").is_none(),
        "followed the link"
    );

    ok(s.dbxc(&[
        "upload",
        "-r",
        "--follow-symlinks",
        tree.to_str().unwrap(),
        "/up",
    ]));
    assert_eq!(
        s.emulator.download("/up/key").unwrap(),
        b"private key",
        "--follow-symlinks follows it"
    );
}
