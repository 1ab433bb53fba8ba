//! Where the workspace's binaries are, and a refusal to run stale ones.
//!
//! `cargo test` builds the test executables but not the other packages' binaries, so an
//! end-to-end test could run a `dropbox-connector` built before the last edit and pass or
//! fail for code that is no longer there. Cargo writes `target/<profile>/<bin>.d` with
//! every source file the binary was built from; a binary older than any of them is
//! refused with the command that fixes it. The check only reads files, so it holds when
//! every test runs in its own process (nextest) and needs no lock.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The command that brings every binary up to date.
pub const BUILD_COMMAND: &str = "cargo build --workspace --bins";

/// The directory holding the workspace's built binaries: `DBXC_TEST_BIN_DIR`, or the
/// target directory the test executable runs from.
pub fn bin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("DBXC_TEST_BIN_DIR") {
        return PathBuf::from(dir);
    }
    // Test executables live in target/<profile>/deps/.
    let exe = std::env::current_exe().expect("current_exe");
    exe.parent()
        .and_then(Path::parent)
        .expect("test binary is under target/<profile>/deps")
        .to_path_buf()
}

/// The path of one workspace binary; panics with the fix when it is missing or older than
/// its sources.
pub fn bin(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing: run `{BUILD_COMMAND}` before the end-to-end tests",
        path.display()
    );
    if let Some(source) = newer_source(&path) {
        panic!(
            "{} is older than {}: run `{BUILD_COMMAND}` before the end-to-end tests",
            path.display(),
            source.display()
        );
    }
    path
}

/// A source file of `binary` modified after it was built, if any. Without a dep-info file
/// (binaries from elsewhere, `DBXC_TEST_BIN_DIR`) nothing can be said: `None`.
///
/// Files under the target directory (build-script output) are not sources: cargo may
/// rewrite them unchanged (another build, `cargo clippy`) without relinking the binary.
pub fn newer_source(binary: &Path) -> Option<PathBuf> {
    let built = modified(binary)?;
    let dep_info = std::fs::read_to_string(binary.with_extension("d")).ok()?;
    let target_dir = binary.parent().and_then(Path::parent);
    sources(&dep_info, binary)
        .into_iter()
        .filter(|source| !target_dir.is_some_and(|t| source.starts_with(t)))
        .find(|source| modified(source).is_some_and(|m| m > built))
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The source files a dep-info file (`output: source source ...`, spaces in names
/// escaped as `\ `) names. A target directory copied from another checkout still names
/// that checkout's files; they are read from this one's instead.
fn sources(dep_info: &str, binary: &Path) -> Vec<PathBuf> {
    let Some((output, deps)) = dep_info.lines().next().and_then(|l| l.split_once(": ")) else {
        return Vec::new();
    };
    let moved = checkout_root(Path::new(&unescape(output)))
        .zip(checkout_root(binary))
        .filter(|(old, new)| old != new);
    split_escaped(deps)
        .into_iter()
        .map(|dep| {
            let dep = PathBuf::from(dep);
            match &moved {
                Some((old, new)) => match dep.strip_prefix(old) {
                    Ok(rest) => new.join(rest),
                    Err(_) => dep,
                },
                None => dep,
            }
        })
        .collect()
}

/// `<root>` of a binary at `<root>/target/<profile>/<name>`.
fn checkout_root(binary: &Path) -> Option<PathBuf> {
    let target = binary.parent()?.parent()?;
    (target.file_name()? == "target").then(|| target.parent().map(Path::to_path_buf))?
}

fn unescape(s: &str) -> String {
    s.replace("\\ ", " ")
}

fn split_escaped(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = s.trim().chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&' ') => {
                current.push(' ');
                chars.next();
            }
            ' ' => {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::{File, FileTimes};
    use std::time::Duration;

    fn touch(path: &Path, at: SystemTime) {
        File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_times(FileTimes::new().set_modified(at))
            .unwrap();
    }

    /// A checkout with `src/main.rs` and the binary `target/debug/tool` built from it.
    fn checkout(root: &Path, dep_info_root: &Path) -> (PathBuf, PathBuf) {
        let src = root.join("src dir");
        std::fs::create_dir_all(&src).unwrap();
        std::fs::create_dir_all(root.join("target/debug")).unwrap();
        let main = src.join("main.rs");
        std::fs::write(&main, "fn main() {}").unwrap();
        let binary = root.join("target/debug/tool");
        std::fs::write(&binary, "").unwrap();
        std::fs::write(
            binary.with_extension("d"),
            format!(
                "{}: {}\n",
                dep_info_root.join("target/debug/tool").display(),
                dep_info_root
                    .join("src dir/main.rs")
                    .display()
                    .to_string()
                    .replace(' ', "\\ ")
            ),
        )
        .unwrap();
        (binary, main)
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("kit-bins-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_binary_older_than_a_source_is_stale_and_a_newer_one_is_not() {
        let root = scratch("stale");
        let (binary, main) = checkout(&root, &root);
        let now = SystemTime::now();
        touch(&main, now);
        touch(&binary, now - Duration::from_secs(60));
        assert_eq!(newer_source(&binary), Some(main.clone()));
        touch(&binary, now + Duration::from_secs(60));
        assert_eq!(newer_source(&binary), None);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_target_dir_copied_from_another_checkout_is_judged_by_this_checkouts_files() {
        let root = scratch("copied");
        let (binary, main) = checkout(&root, Path::new("/elsewhere/checkout"));
        let now = SystemTime::now();
        touch(&main, now);
        touch(&binary, now - Duration::from_secs(60));
        assert_eq!(newer_source(&binary), Some(main));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn build_script_output_under_the_target_dir_is_not_a_source() {
        let root = scratch("generated");
        let (binary, main) = checkout(&root, &root);
        let out = root.join("target/debug/build/x/out");
        std::fs::create_dir_all(&out).unwrap();
        let generated = out.join("descriptor.bin");
        std::fs::write(&generated, "").unwrap();
        let dep_info = binary.with_extension("d");
        let line = std::fs::read_to_string(&dep_info).unwrap();
        std::fs::write(
            &dep_info,
            format!("{} {}\n", line.trim_end(), generated.display()),
        )
        .unwrap();
        let now = SystemTime::now();
        touch(&main, now - Duration::from_secs(120));
        touch(&binary, now - Duration::from_secs(60));
        touch(&generated, now);
        assert_eq!(newer_source(&binary), None);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn without_dep_info_nothing_is_refused() {
        let root = scratch("bare");
        std::fs::create_dir_all(&root).unwrap();
        let binary = root.join("tool");
        std::fs::write(&binary, "").unwrap();
        assert_eq!(newer_source(&binary), None);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
