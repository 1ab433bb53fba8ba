//! Whatever names the remote side reports — `../`, a
//! backslash path, an absolute path, a drive letter — `dbxc download` never writes outside
//! its LOCAL_DIR.
//!
//! The emulator's `/__emulator/hostile_name` makes stored items report names Dropbox itself
//! would refuse, standing in for a broken or hostile remote side.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::path::{Path, PathBuf};

use dropbox_connector_tests::{EmulatorProcess, dbxc, ok, server_with_connection};

const HOSTILE_NAMES: [&str; 6] = [
    "../../escape-dotdot.txt",
    "..\\..\\escape-backslash.txt",
    "/tmp/escape-absolute.txt",
    "C:\\escape-drive.txt",
    "..",
    "sub/../../../escape-nested.txt",
];

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found
}

#[test]
fn hostile_remote_names_never_land_outside_the_download_directory() {
    let work = tempfile::tempdir().unwrap();
    // Everything the test creates lives under `sandbox`; LOCAL_DIR is two levels down so
    // that `../..` from it is still inside the sandbox, where the test can see it.
    let sandbox = work.path().join("sandbox");
    let local_dir = sandbox.join("a/b/local");
    std::fs::create_dir_all(&local_dir).unwrap();

    let emulator = EmulatorProcess::start(work.path(), &[]);
    let server = server_with_connection(work.path(), &emulator, "hostile");

    // Plain files go up first; then each is made to report a hostile name.
    let upload_dir = work.path().join("upload");
    std::fs::create_dir_all(&upload_dir).unwrap();
    for i in 0..HOSTILE_NAMES.len() {
        std::fs::write(
            upload_dir.join(format!("f{i}.txt")),
            format!("payload {i}\n"),
        )
        .unwrap();
    }
    let mut upload_args = vec!["--connection", "hostile", "upload"];
    let names: Vec<String> = (0..HOSTILE_NAMES.len())
        .map(|i| {
            upload_dir
                .join(format!("f{i}.txt"))
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    upload_args.extend(names.iter().map(String::as_str));
    upload_args.push("/dl");
    ok(dbxc(&server.url, &upload_args));
    for (i, name) in HOSTILE_NAMES.iter().enumerate() {
        emulator.control(
            "POST",
            "/__emulator/hostile_name",
            Some(serde_json::json!({
                "token": emulator.token,
                "path": format!("/dl/f{i}.txt"),
                "name": name,
            })),
        );
    }

    let folder_run = dbxc(
        &server.url,
        &[
            "--connection",
            "hostile",
            "download",
            "/dl",
            local_dir.to_str().unwrap(),
        ],
    );
    let stderr = String::from_utf8_lossy(&folder_run.stderr).into_owned();

    let outside: Vec<PathBuf> = files_under(work.path())
        .into_iter()
        .filter(|p| !p.starts_with(&local_dir))
        .filter(|p| p.starts_with(&sandbox) || p.to_string_lossy().contains("escape"))
        .collect();
    assert!(
        outside.is_empty(),
        "files were written outside {}: {outside:?}\nfolder run: {}",
        local_dir.display(),
        String::from_utf8_lossy(&folder_run.stderr)
    );
    for name in ["/tmp/escape-absolute.txt", "/escape-drive.txt"] {
        assert!(!Path::new(name).exists(), "{name} was written");
    }

    // Names that can be made safe are kept inside LOCAL_DIR under their last component
    // with the right bytes; the rest are refused one by one, saying why.
    let mut kept: Vec<String> = files_under(&local_dir)
        .iter()
        .map(|p| {
            p.strip_prefix(&local_dir)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    kept.sort();
    println!("kept inside LOCAL_DIR: {kept:?}\ndbxc: {stderr}");
    assert_eq!(
        kept,
        [
            "escape-absolute.txt",
            "escape-dotdot.txt",
            "escape-nested.txt"
        ],
        "dbxc: {stderr}"
    );
    for name in &kept {
        let text = std::fs::read_to_string(local_dir.join(name)).unwrap();
        assert!(text.starts_with("payload "), "{name} holds its payload");
    }
    assert_eq!(
        folder_run.status.code(),
        Some(1),
        "some files were refused: {stderr}"
    );
    for refused in [
        "..\\..\\escape-backslash.txt",
        "C:\\escape-drive.txt",
        "\"..\"",
    ] {
        assert!(
            stderr
                .lines()
                .any(|l| l.contains("UNSAFE_PATH") && l.contains(refused)),
            "{refused} is refused with UNSAFE_PATH: {stderr}"
        );
    }
}
