//! Issue 14, item 6: symbolic links already inside LOCAL_DIR never let `dbxc download`
//! write outside it. A link to a file outside (`dest/a.txt -> /outside/file.txt`) is
//! replaced by the downloaded file (the rename replaces the link, not its target), and a
//! link to a directory outside (`dest/sub -> /outside/dir`) fails each file under it with
//! an error naming it; nothing outside changes, not even an empty directory.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dropbox_connector_tests::{EmulatorProcess, dbxc, ok, server_with_connection};

/// Every entry under `dir` (relative path -> file bytes, or None for a directory).
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            let rel = path.strip_prefix(dir).unwrap().to_path_buf();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                out.insert(rel, None);
                stack.push(path);
            } else {
                out.insert(rel, Some(std::fs::read(&path).unwrap()));
            }
        }
    }
    out
}

#[test]
fn links_inside_the_download_folder_are_never_written_through() {
    let work = tempfile::tempdir().unwrap();
    let outside = work.path().join("outside");
    std::fs::create_dir_all(outside.join("dir")).unwrap();
    std::fs::write(outside.join("file.txt"), "outside file\n").unwrap();
    std::fs::write(outside.join("dir/kept.txt"), "outside dir\n").unwrap();
    let before = snapshot(&outside);

    let emulator = EmulatorProcess::start(work.path(), &[]);
    let server = server_with_connection(work.path(), &emulator, "links");
    let src = work.path().join("src");
    std::fs::create_dir_all(src.join("sub/deeper")).unwrap();
    std::fs::write(src.join("a.txt"), "remote a\n").unwrap();
    std::fs::write(src.join("sub/b.txt"), "remote b\n").unwrap();
    std::fs::write(src.join("sub/deeper/c.txt"), "remote c\n").unwrap();
    ok(dbxc(
        &server.url,
        &[
            "--connection",
            "links",
            "upload",
            "--recursive",
            src.to_str().unwrap(),
            "/dl",
        ],
    ));

    let dest = work.path().join("dest");
    std::fs::create_dir_all(&dest).unwrap();
    std::os::unix::fs::symlink(outside.join("file.txt"), dest.join("a.txt")).unwrap();
    std::os::unix::fs::symlink(outside.join("dir"), dest.join("sub")).unwrap();

    let run = dbxc(
        &server.url,
        &[
            "--connection",
            "links",
            "download",
            "--recursive",
            "/dl",
            dest.to_str().unwrap(),
        ],
    );
    let stderr = String::from_utf8_lossy(&run.stderr).into_owned();

    assert_eq!(
        snapshot(&outside),
        before,
        "nothing outside LOCAL_DIR changed; dbxc: {stderr}"
    );
    // The file link was replaced by the download itself.
    let a = dest.join("a.txt");
    assert!(
        !std::fs::symlink_metadata(&a).unwrap().is_symlink(),
        "a.txt is now a plain file; dbxc: {stderr}"
    );
    assert_eq!(std::fs::read_to_string(&a).unwrap(), "remote a\n");
    // The directory link stays, and each file under it failed, saying why.
    assert!(
        std::fs::symlink_metadata(dest.join("sub"))
            .unwrap()
            .is_symlink()
    );
    for name in ["b.txt", "c.txt"] {
        assert!(
            stderr
                .lines()
                .any(|l| l.contains(name) && l.contains("outside")),
            "{name} fails with an error saying it would land outside: {stderr}"
        );
    }
    assert_eq!(run.status.code(), Some(1), "some files failed: {stderr}");

    // One file named directly, into a folder whose entry for it is a link outside.
    let single = work.path().join("single");
    std::fs::create_dir_all(&single).unwrap();
    std::os::unix::fs::symlink(outside.join("file.txt"), single.join("a.txt")).unwrap();
    ok(dbxc(
        &server.url,
        &[
            "--connection",
            "links",
            "download",
            "/dl/a.txt",
            single.to_str().unwrap(),
        ],
    ));
    assert_eq!(snapshot(&outside), before);
    assert_eq!(
        std::fs::read_to_string(single.join("a.txt")).unwrap(),
        "remote a\n"
    );
}
