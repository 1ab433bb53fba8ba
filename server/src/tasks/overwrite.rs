//! VisualCron's overwrite options: decide, from what is at the destination and what is
//! known about the source, whether an upload replaces it, is skipped, or must wait for
//! more facts (the size, when the header did not give it).

use dropbox_client::{FileMetadata, Metadata};
use time::OffsetDateTime;

/// How the destination's size compares to the source's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeComparison {
    Same,
    Smaller,
    Larger,
    SmallerOrLarger,
    /// Size differs, or the content_hash differs when the source's is known.
    Different,
}

/// When to replace an existing file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OverwritePolicy {
    #[default]
    Always,
    IfNewer,
    IfSize(SizeComparison),
    Never,
}

/// What is known about the source at a given moment.
#[derive(Debug, Clone, Default)]
pub struct SourceFacts<'a> {
    pub size: Option<u64>,
    pub modified: Option<OffsetDateTime>,
    pub content_hash: Option<&'a str>,
}

/// The outcome of the policy.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Nothing is there: create.
    Create,
    /// A file is there and is to be replaced; carries its revision.
    Replace { rev: String },
    /// Keep what is there.
    Skip {
        reason: String,
        existing: Box<Metadata>,
    },
    /// The decision needs the source's size (or hash): ask again at the end of the file.
    NeedSize,
    /// A folder is in the way. Uploading would fail (or, with autorename, land beside it).
    FolderInTheWay,
    /// The policy needs a fact the client did not give.
    Invalid(String),
}

/// The file that would be replaced, as far as the policy looks at it.
#[derive(Debug, Clone, Copy)]
struct Destination<'a> {
    size: u64,
    /// `None`: not known (counts as older).
    modified: Option<OffsetDateTime>,
    content_hash: Option<&'a str>,
}

/// The policy's answer once both sides are known as far as they are.
#[derive(Debug, Clone, PartialEq)]
enum Verdict {
    Replace,
    Keep(String),
    /// The source's size (or hash) is not known yet.
    NeedSize,
    /// IF_NEWER without the source's modified time.
    NeedModified,
}

impl OverwritePolicy {
    /// Decides for `existing` (the destination's metadata, `None` when nothing is there).
    pub fn decide(&self, existing: Option<&Metadata>, source: &SourceFacts<'_>) -> Decision {
        let file = match existing {
            None => return Decision::Create,
            Some(Metadata::Folder(_)) => return Decision::FolderInTheWay,
            Some(Metadata::File(f)) => f,
        };
        let destination = Destination {
            size: file.size,
            modified: Some(file.client_modified),
            content_hash: file.content_hash.as_deref(),
        };
        match self.compare(&destination, source) {
            Verdict::Replace => Decision::Replace {
                rev: file.rev.clone(),
            },
            Verdict::Keep(reason) => Decision::Skip {
                reason,
                existing: Box::new(Metadata::File(file.clone())),
            },
            Verdict::NeedSize => Decision::NeedSize,
            Verdict::NeedModified => Decision::Invalid(
                "overwrite policy IF_NEWER needs the file's modified_time in its FileHeader".into(),
            ),
        }
    }

    /// A download, where the Dropbox file is the source and the caller's own file (`local`,
    /// `None` when it holds none) the destination. `Some(reason)`: keep the caller's file.
    pub fn keeps_local(&self, local: Option<&LocalFacts>, remote: &FileMetadata) -> Option<String> {
        let local = local?;
        let destination = Destination {
            size: local.size,
            modified: local.modified,
            content_hash: local.content_hash.as_deref(),
        };
        let source = SourceFacts {
            size: Some(remote.size),
            modified: Some(remote.client_modified),
            content_hash: remote.content_hash.as_deref(),
        };
        match self.compare(&destination, &source) {
            Verdict::Replace | Verdict::NeedModified => None,
            Verdict::Keep(reason) => Some(reason),
            // Same size and Dropbox gave no hash to compare with: the same file.
            Verdict::NeedSize => Some(format!(
                "the destination has the source's size ({} bytes) and Dropbox gave no content_hash to compare",
                remote.size
            )),
        }
    }

    fn compare(&self, dest: &Destination<'_>, source: &SourceFacts<'_>) -> Verdict {
        match self {
            OverwritePolicy::Always => Verdict::Replace,
            OverwritePolicy::Never => Verdict::Keep(
                "a file already exists at the destination and the overwrite policy is NEVER".into(),
            ),
            OverwritePolicy::IfNewer => match (source.modified, dest.modified) {
                (None, _) => Verdict::NeedModified,
                // Dropbox keeps whole seconds: compare at that precision.
                (Some(m), Some(d)) if m.unix_timestamp() <= d.unix_timestamp() => {
                    Verdict::Keep(format!(
                        "the destination (modified {}) is not older than the source (modified {})",
                        fmt_time(d),
                        fmt_time(m)
                    ))
                }
                (Some(_), _) => Verdict::Replace,
            },
            OverwritePolicy::IfSize(cmp) => match size_allows(*cmp, dest, source) {
                None => Verdict::NeedSize,
                Some(true) => Verdict::Replace,
                Some(false) => Verdict::Keep(format!(
                    "the destination's size ({} bytes) is not {} the source's ({})",
                    dest.size,
                    describe(*cmp),
                    source
                        .size
                        .map(|s| format!("{s} bytes"))
                        .unwrap_or_else(|| "unknown".into())
                )),
            },
        }
    }
}

/// What the caller of a download holds where the file would go.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LocalFacts {
    pub size: u64,
    pub modified: Option<OffsetDateTime>,
    pub content_hash: Option<String>,
}

/// Whether the comparison allows replacing; `None` when the source's size is not known yet.
fn size_allows(
    cmp: SizeComparison,
    dest: &Destination<'_>,
    source: &SourceFacts<'_>,
) -> Option<bool> {
    let src = source.size?;
    Some(match cmp {
        SizeComparison::Same => dest.size == src,
        SizeComparison::Smaller => dest.size < src,
        SizeComparison::Larger => dest.size > src,
        SizeComparison::SmallerOrLarger => dest.size != src,
        SizeComparison::Different => {
            if dest.size != src {
                return Some(true);
            }
            match (source.content_hash, dest.content_hash) {
                (Some(a), Some(b)) => !a.eq_ignore_ascii_case(b),
                // Same size: wait for the source's hash (always known at the end of the file).
                (None, Some(_)) => return None,
                // No destination hash to compare with: same size counts as the same.
                (_, None) => false,
            }
        }
    })
}

fn describe(cmp: SizeComparison) -> &'static str {
    match cmp {
        SizeComparison::Same => "the same as",
        SizeComparison::Smaller => "smaller than",
        SizeComparison::Larger => "larger than",
        SizeComparison::SmallerOrLarger => "different from",
        SizeComparison::Different => "different (in size or content) from",
    }
}

fn fmt_time(t: OffsetDateTime) -> String {
    dropbox_client::format_timestamp(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dropbox_client::FolderMetadata;

    fn existing(size: u64, modified: i64, hash: &str) -> Metadata {
        Metadata::File(FileMetadata {
            name: "a.txt".into(),
            id: "id:a".into(),
            path_lower: Some("/a.txt".into()),
            path_display: Some("/a.txt".into()),
            client_modified: OffsetDateTime::from_unix_timestamp(modified).unwrap(),
            server_modified: OffsetDateTime::from_unix_timestamp(modified).unwrap(),
            rev: "015f00000001".into(),
            size,
            is_downloadable: true,
            content_hash: Some(hash.into()),
        })
    }

    fn src(size: Option<u64>, modified: Option<i64>, hash: Option<&str>) -> SourceFacts<'_> {
        SourceFacts {
            size,
            modified: modified.map(|m| OffsetDateTime::from_unix_timestamp(m).unwrap()),
            content_hash: hash,
        }
    }

    fn replaces(d: Decision) -> bool {
        match d {
            Decision::Replace { .. } => true,
            Decision::Skip { .. } => false,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn nothing_there_or_folder() {
        for p in [
            OverwritePolicy::Always,
            OverwritePolicy::Never,
            OverwritePolicy::IfNewer,
        ] {
            assert_eq!(p.decide(None, &src(None, None, None)), Decision::Create);
        }
        let folder = Metadata::Folder(FolderMetadata {
            name: "a".into(),
            id: "id:f".into(),
            path_lower: None,
            path_display: None,
        });
        assert_eq!(
            OverwritePolicy::Always.decide(Some(&folder), &src(None, None, None)),
            Decision::FolderInTheWay
        );
    }

    #[test]
    fn always_never_if_newer() {
        let e = existing(5, 1000, "h");
        assert!(replaces(
            OverwritePolicy::Always.decide(Some(&e), &src(None, None, None))
        ));
        assert!(!replaces(
            OverwritePolicy::Never.decide(Some(&e), &src(Some(5), Some(5000), None))
        ));
        assert!(replaces(
            OverwritePolicy::IfNewer.decide(Some(&e), &src(None, Some(1001), None))
        ));
        assert!(!replaces(
            OverwritePolicy::IfNewer.decide(Some(&e), &src(None, Some(1000), None))
        ));
        assert!(!replaces(
            OverwritePolicy::IfNewer.decide(Some(&e), &src(None, Some(999), None))
        ));
        assert!(matches!(
            OverwritePolicy::IfNewer.decide(Some(&e), &src(None, None, None)),
            Decision::Invalid(_)
        ));
    }

    #[test]
    fn if_size_each_comparison() {
        use SizeComparison::*;
        let e = existing(10, 0, "hash-a");
        let d =
            |cmp, size, hash| OverwritePolicy::IfSize(cmp).decide(Some(&e), &src(size, None, hash));
        assert!(replaces(d(Same, Some(10), None)) && !replaces(d(Same, Some(11), None)));
        assert!(replaces(d(Smaller, Some(11), None)) && !replaces(d(Smaller, Some(10), None)));
        assert!(replaces(d(Larger, Some(9), None)) && !replaces(d(Larger, Some(10), None)));
        assert!(
            replaces(d(SmallerOrLarger, Some(9), None))
                && !replaces(d(SmallerOrLarger, Some(10), None))
        );
        assert!(replaces(d(Different, Some(9), None)));
        assert_eq!(
            d(Different, Some(10), None),
            Decision::NeedSize,
            "same size: wait for the hash"
        );
        assert!(
            replaces(d(Different, Some(10), Some("hash-b")))
                && !replaces(d(Different, Some(10), Some("HASH-A")))
        );
        assert_eq!(d(Same, None, None), Decision::NeedSize);
    }

    /// Downloads: the Dropbox file is the source, the caller's file the destination.
    #[test]
    fn downloads_compare_the_other_way_round() {
        use SizeComparison::*;
        let Metadata::File(remote) = existing(10, 1000, "aa") else {
            unreachable!()
        };
        let local = |size, modified: i64, hash: Option<&str>| LocalFacts {
            size,
            modified: Some(OffsetDateTime::from_unix_timestamp(modified).unwrap()),
            content_hash: hash.map(str::to_owned),
        };
        let keeps = |p: OverwritePolicy, l: &LocalFacts| p.keeps_local(Some(l), &remote).is_some();
        assert!(
            OverwritePolicy::Never.keeps_local(None, &remote).is_none(),
            "nothing held"
        );
        assert!(keeps(OverwritePolicy::Never, &local(10, 0, None)));
        assert!(!keeps(OverwritePolicy::Always, &local(10, 5000, None)));
        // The remote (modified 1000) replaces only an older local file, in whole seconds.
        assert!(!keeps(OverwritePolicy::IfNewer, &local(10, 999, None)));
        assert!(keeps(OverwritePolicy::IfNewer, &local(10, 1000, None)));
        assert!(keeps(OverwritePolicy::IfNewer, &local(10, 2000, None)));
        // IF_SIZE reads the local (destination) size against the remote's.
        assert!(!keeps(OverwritePolicy::IfSize(Smaller), &local(9, 0, None)));
        assert!(keeps(OverwritePolicy::IfSize(Smaller), &local(11, 0, None)));
        assert!(!keeps(OverwritePolicy::IfSize(Larger), &local(11, 0, None)));
        assert!(!keeps(
            OverwritePolicy::IfSize(Different),
            &local(10, 0, Some("bb"))
        ));
        assert!(keeps(
            OverwritePolicy::IfSize(Different),
            &local(10, 0, Some("AA"))
        ));
        assert!(keeps(
            OverwritePolicy::IfSize(Different),
            &local(10, 0, None)
        ));
    }
}
