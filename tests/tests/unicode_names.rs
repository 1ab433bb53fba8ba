//! Issue 14, item 6: the NFC and NFD spellings of one name, through `dbxc`. Dropbox folds
//! case but not Unicode normalization: the two spellings are two files there (its desktop
//! client renames one "(Unicode Encoding Conflict)" on disks that normalize, which is
//! only needed because the server keeps both). A Linux disk keeps both too, so a user
//! uploads two files and downloads the same two, each with its own bytes, whether the
//! folder or each file is downloaded.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::collections::BTreeMap;
use std::path::Path;

use dropbox_connector_tests::{EmulatorProcess, dbxc, ok, server_with_connection};

const NFC: &str = "caf\u{e9}.txt";
const NFD: &str = "cafe\u{301}.txt";

/// File name -> bytes of every file directly in `dir`.
fn files_in(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            (
                e.file_name().into_string().unwrap(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

#[test]
fn nfc_and_nfd_names_stay_two_files_up_and_down() {
    let work = tempfile::tempdir().unwrap();
    let emulator = EmulatorProcess::start(work.path(), &[]);
    let server = server_with_connection(work.path(), &emulator, "uni");
    let src = work.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join(NFC), "composed\n").unwrap();
    std::fs::write(src.join(NFD), "decomposed\n").unwrap();
    // NFC first, then NFD in a second call.
    for name in [NFC, NFD] {
        ok(dbxc(
            &server.url,
            &[
                "--connection",
                "uni",
                "upload",
                src.join(name).to_str().unwrap(),
                "/uni",
            ],
        ));
    }

    // Dropbox (the emulator, read directly) holds two files.
    assert_eq!(
        emulator.download(&format!("/uni/{NFC}")).unwrap(),
        b"composed\n"
    );
    assert_eq!(
        emulator.download(&format!("/uni/{NFD}")).unwrap(),
        b"decomposed\n"
    );
    // One JSON object per line, one line per file.
    let listed = ok(dbxc(
        &server.url,
        &["--connection", "uni", "--json", "list", "/uni"],
    ));
    let names: Vec<String> = listed
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(names.len(), 2, "{listed}");
    assert!(
        names.iter().any(|l| l.contains(NFC)) && names.iter().any(|l| l.contains(NFD)),
        "both spellings are listed: {listed}"
    );

    // The folder: both files, each with its bytes.
    let folder = work.path().join("folder");
    ok(dbxc(
        &server.url,
        &[
            "--connection",
            "uni",
            "download",
            "/uni",
            folder.to_str().unwrap(),
        ],
    ));
    let want: BTreeMap<String, Vec<u8>> = [
        (NFC.to_owned(), b"composed\n".to_vec()),
        (NFD.to_owned(), b"decomposed\n".to_vec()),
    ]
    .into();
    assert_eq!(files_in(&folder), want);

    // Each file by its own spelling: that file, and only it.
    for (name, bytes) in &want {
        let one = work.path().join(format!("one-{}", name.len()));
        ok(dbxc(
            &server.url,
            &[
                "--connection",
                "uni",
                "download",
                &format!("/uni/{name}"),
                one.to_str().unwrap(),
            ],
        ));
        assert_eq!(
            files_in(&one),
            BTreeMap::from([(name.clone(), bytes.clone())]),
            "download of {name:?}"
        );
    }
}
