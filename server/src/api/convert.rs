//! Protobuf <-> task types for the Cloud tasks, with request validation.

use crate::tasks::dropbox::{FileMetadata, FolderMetadata, Metadata, paths};
use dropbox_connector_proto::v1 as pb;
use time::OffsetDateTime;

use std::collections::HashMap;

use crate::tasks::download::{DownloadOptions, Range};
use crate::tasks::filter::{
    DateField, Join, KindFilter, NameMatcher, RemoteFilter, RemoteItem, SortKey,
};
use crate::tasks::overwrite::{LocalFacts, OverwritePolicy, SizeComparison};
use crate::tasks::upload::{FileHeader, MAX_PATH_BYTES, UploadSpec};
use crate::tasks::{ItemRef, Selection, TaskError};

/// Most items a request may name directly.
pub const MAX_ITEM_REFS: usize = 10_000;
/// Longest revision accepted (Dropbox's are 9 to 16 hex digits today).
const MAX_REV_CHARS: usize = 64;
/// Longest connection reference (`connections/{id}` or a display_name, which has at most
/// 200 characters) looked up; longer ones cannot exist and are not echoed back.
pub const MAX_CONNECTION_REF_CHARS: usize = 256;

pub fn timestamp(t: OffsetDateTime) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.unix_timestamp(),
        nanos: t.nanosecond() as i32,
    }
}

pub fn from_timestamp(
    field: &str,
    t: &prost_types::Timestamp,
) -> Result<OffsetDateTime, TaskError> {
    if !(0..1_000_000_000).contains(&t.nanos) {
        return Err(TaskError::invalid(
            field,
            format!(
                "nanos is {}; a google.protobuf.Timestamp has nanos from 0 to 999999999",
                t.nanos
            ),
        ));
    }
    let nanos = i128::from(t.seconds) * 1_000_000_000 + i128::from(t.nanos);
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .map_err(|_| {
            TaskError::invalid(
                field,
                format!(
                    "{} seconds since 1970 is out of range; give a time between the years -9999 and 9999",
                    t.seconds
                ),
            )
        })
}

pub fn opt_timestamp(
    field: &str,
    t: Option<&prost_types::Timestamp>,
) -> Result<Option<OffsetDateTime>, TaskError> {
    t.map(|t| from_timestamp(field, t)).transpose()
}

pub fn file_metadata(f: &FileMetadata, relative_path: String) -> pb::ItemMetadata {
    pb::ItemMetadata {
        kind: pb::ItemKind::File as i32,
        name: f.name.clone(),
        path_display: f.path_display.clone().unwrap_or_default(),
        path_lower: f.path_lower.clone().unwrap_or_default(),
        id: f.id.clone(),
        rev: f.rev.clone(),
        size: f.size,
        client_modified: Some(timestamp(f.client_modified)),
        server_modified: Some(timestamp(f.server_modified)),
        content_hash: f.content_hash.clone().unwrap_or_default(),
        relative_path,
    }
}

pub fn folder_metadata(f: &FolderMetadata, relative_path: String) -> pb::ItemMetadata {
    pb::ItemMetadata {
        kind: pb::ItemKind::Folder as i32,
        name: f.name.clone(),
        path_display: f.path_display.clone().unwrap_or_default(),
        path_lower: f.path_lower.clone().unwrap_or_default(),
        id: f.id.clone(),
        relative_path,
        ..Default::default()
    }
}

pub fn metadata(m: &Metadata, relative_path: String) -> pb::ItemMetadata {
    match m {
        Metadata::File(f) => file_metadata(f, relative_path),
        Metadata::Folder(f) => folder_metadata(f, relative_path),
    }
}

pub fn item(i: &RemoteItem) -> pb::ItemMetadata {
    metadata(&i.metadata, i.relative_path.clone())
}

/// A connection field must name one.
pub fn connection_name(name: &str) -> Result<&str, TaskError> {
    connection_ref("connection", name)
}

/// A field naming a connection (`connections/{id}` or a display_name): set, and not longer
/// than any connection reference can be.
pub fn connection_ref<'a>(field: &str, name: &'a str) -> Result<&'a str, TaskError> {
    if name.trim().is_empty() {
        return Err(TaskError::invalid(
            field,
            "name the connection: `connections/{id}` or its display_name",
        ));
    }
    let chars = name.chars().count();
    if chars > MAX_CONNECTION_REF_CHARS {
        return Err(TaskError::invalid(
            field,
            format!(
                "{chars} characters is longer than any connection reference (at most {MAX_CONNECTION_REF_CHARS}); give `connections/{{id}}` or the display_name"
            ),
        ));
    }
    Ok(name)
}

/// A Dropbox path refused before any request: INVALID_PATH with the rule it breaks.
fn bad_path(value: &str, e: paths::PathError) -> TaskError {
    TaskError::invalid_path(value, &e)
}

/// A Dropbox folder as the filter and upload take it: `""`/`"/"` is the root.
pub fn folder(field: &str, value: &str) -> Result<String, TaskError> {
    let p = paths::normalize(value).map_err(|e| bad_path(value, e))?;
    if p.starts_with("rev:") {
        return Err(TaskError::invalid(field, "a folder cannot be a rev: path"));
    }
    Ok(p)
}

fn join(v: i32) -> Join {
    match pb::Join::try_from(v) {
        Ok(pb::Join::Or) => Join::Or,
        _ => Join::And,
    }
}

fn enum_value<T: TryFrom<i32>>(field: &str, v: i32) -> Result<T, TaskError> {
    T::try_from(v).map_err(|_| TaskError::invalid(field, format!("{v} is not a known value")))
}

pub fn filter(f: &pb::RemoteFileFilter) -> Result<RemoteFilter, TaskError> {
    let matcher = NameMatcher::parse(&f.mask, f.mask_is_regex, f.case_sensitive)
        .map_err(|e| TaskError::invalid("filter.mask", e.to_string()))?;
    let kind = match enum_value::<pb::ItemKind>("filter.kind", f.kind)? {
        pb::ItemKind::Unspecified | pb::ItemKind::File => KindFilter::Files,
        pb::ItemKind::Folder => KindFilter::Folders,
        pb::ItemKind::All => KindFilter::All,
    };
    let date_field = match enum_value::<pb::DateField>("filter.date_field", f.date_field)? {
        pb::DateField::ServerModified => DateField::ServerModified,
        _ => DateField::ClientModified,
    };
    let sort = match enum_value::<pb::SortBy>("filter.sort_by", f.sort_by)? {
        pb::SortBy::Unspecified => None,
        pb::SortBy::Name => Some((SortKey::Name, f.sort_descending)),
        pb::SortBy::Modified => Some((SortKey::Modified, f.sort_descending)),
        pb::SortBy::Size => Some((SortKey::Size, f.sort_descending)),
    };
    enum_value::<pb::Join>("filter.date_join", f.date_join)?;
    enum_value::<pb::Join>("filter.size_join", f.size_join)?;
    Ok(RemoteFilter {
        folder: folder("filter.folder", &f.folder)?,
        matcher,
        case_sensitive: f.case_sensitive,
        kind,
        include_subfolders: f.include_subfolders,
        modified_before: opt_timestamp("filter.modified_before", f.modified_before.as_ref())?,
        modified_after: opt_timestamp("filter.modified_after", f.modified_after.as_ref())?,
        date_join: join(f.date_join),
        date_field,
        size_smaller_than: f.size_smaller_than,
        size_larger_than: f.size_larger_than,
        size_join: join(f.size_join),
        sort,
        limit: (f.limit > 0).then_some(f.limit as usize),
        fail_if_empty: f.fail_if_empty,
    })
}

pub fn item_refs(refs: &pb::ItemRefs) -> Result<Vec<ItemRef>, TaskError> {
    if refs.items.is_empty() {
        return Err(TaskError::invalid("items", "name at least one item"));
    }
    if refs.items.len() > MAX_ITEM_REFS {
        return Err(TaskError::invalid(
            "items",
            format!("at most {MAX_ITEM_REFS} items per call"),
        ));
    }
    refs.items
        .iter()
        .map(|r| {
            if r.path.is_empty() {
                return Err(TaskError::invalid(
                    "items.path",
                    "every item needs a path (\"/a/b.txt\" or \"id:...\")",
                ));
            }
            let path = paths::normalize_non_root(&r.path).map_err(|e| bad_path(&r.path, e))?;
            let rev = Some(r.rev.trim().to_owned()).filter(|s| !s.is_empty());
            if let Some(rev) = &rev
                && (!paths::is_rev(rev) || rev.len() > MAX_REV_CHARS)
            {
                return Err(TaskError::invalid(
                    "items.rev",
                    format!(
                        "{:?} is not a Dropbox revision (at least {} lowercase hex digits, as ItemMetadata.rev gives them)",
                        rev.chars().take(MAX_REV_CHARS).collect::<String>(),
                        paths::MIN_REV_CHARS
                    ),
                ));
            }
            let relative_path = Some(r.relative_path.clone()).filter(|p| !p.is_empty());
            if let Some(relative) = &relative_path {
                relative_key("items.relative_path", relative)?;
            }
            Ok(ItemRef {
                path,
                rev,
                relative_path,
            })
        })
        .collect()
}

/// Most LocalFile entries a DownloadFiles request may carry.
pub const MAX_LOCAL_FILES: usize = 100_000;
/// Longest relative path accepted as a download's key.
const MAX_RELATIVE_PATH_BYTES: usize = 4096;

/// A relative path as DownloadFiles names files: what a listing's relative_path can be,
/// so that one that can never match is refused instead of silently never matching.
fn relative_key(field: &str, relative: &str) -> Result<(), TaskError> {
    let bad = |why: String| Err(TaskError::invalid(field, why));
    let shown = || relative.chars().take(200).collect::<String>();
    if relative.is_empty() {
        return bad("give the path relative to your destination folder, e.g. \"sub/a.txt\"".into());
    }
    if relative.len() > MAX_RELATIVE_PATH_BYTES {
        return bad(format!(
            "{} bytes is longer than the {MAX_RELATIVE_PATH_BYTES} bytes a relative path may have",
            relative.len()
        ));
    }
    if relative.starts_with('/') {
        return bad(format!(
            "{:?} is absolute; give the path relative to your destination folder, as DownloadHeader.metadata.relative_path names it",
            shown()
        ));
    }
    if relative
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return bad(format!(
            "{:?} has an empty, \".\" or \"..\" component",
            shown()
        ));
    }
    Ok(())
}

/// The overwrite options of DownloadFiles: the policy, the caller's files (bounded, each
/// relative path once, with what the policy needs), and keep_modified_date.
pub fn download_options(r: &pb::DownloadFilesRequest) -> Result<DownloadOptions, TaskError> {
    let overwrite = overwrite(r.overwrite.as_ref())?;
    if r.local_files.len() > MAX_LOCAL_FILES {
        return Err(TaskError::invalid(
            "local_files",
            format!(
                "{} entries is more than the {MAX_LOCAL_FILES} a call may carry; download in smaller selections",
                r.local_files.len()
            ),
        ));
    }
    let mut local_files = HashMap::with_capacity(r.local_files.len());
    for f in &r.local_files {
        relative_key("local_files.relative_path", &f.relative_path)?;
        let modified = opt_timestamp("local_files.modified_time", f.modified_time.as_ref())?;
        if overwrite == OverwritePolicy::IfNewer && modified.is_none() {
            return Err(TaskError::invalid(
                "local_files.modified_time",
                format!(
                    "overwrite IF_NEWER compares modification times, but the entry for {:?} has none",
                    f.relative_path.chars().take(200).collect::<String>()
                ),
            ));
        }
        let facts = LocalFacts {
            size: f.size,
            modified,
            content_hash: content_hash("local_files.content_hash", f.content_hash.clone())?,
        };
        if local_files.insert(f.relative_path.clone(), facts).is_some() {
            return Err(TaskError::invalid(
                "local_files.relative_path",
                format!(
                    "{:?} is given twice; send each file once",
                    f.relative_path.chars().take(200).collect::<String>()
                ),
            ));
        }
    }
    Ok(DownloadOptions {
        overwrite,
        local_files,
        keep_modified_date: r.keep_modified_date,
    })
}

/// The folder CreateFolder makes: a path below the root (not an `id:` or `rev:`).
pub fn new_folder_path(value: &str) -> Result<String, TaskError> {
    if value.is_empty() || value == "/" {
        return Err(TaskError::invalid(
            "path",
            "name the folder to create, e.g. \"/reports/2026\"",
        ));
    }
    let path = paths::normalize_non_root(value).map_err(|e| bad_path(value, e))?;
    if path.starts_with("id:") || path.starts_with("rev:") {
        return Err(TaskError::invalid(
            "path",
            "a new folder needs a path such as \"/reports/2026\", not an id: or rev: reference",
        ));
    }
    Ok(path)
}

/// The `selection` of DeleteItems: as for Download, but a `rev:` path names a revision,
/// which cannot be deleted on its own.
pub fn delete_selection(
    filter_sel: Option<&pb::RemoteFileFilter>,
    items: Option<&pb::ItemRefs>,
) -> Result<Selection, TaskError> {
    let selection = selection(filter_sel, items)?;
    if let Selection::Items(refs) = &selection
        && refs.iter().any(|r| r.path.starts_with("rev:"))
    {
        return Err(TaskError::invalid(
            "items.path",
            "a rev: path cannot be deleted; name the file by path or id: (with items.rev to delete it only at that revision)",
        ));
    }
    Ok(selection)
}

/// The `selection` oneof of Download and Delete.
pub fn selection(
    filter_sel: Option<&pb::RemoteFileFilter>,
    items: Option<&pb::ItemRefs>,
) -> Result<Selection, TaskError> {
    match (filter_sel, items) {
        (Some(f), _) => Ok(Selection::Filter(filter(f)?)),
        (None, Some(i)) => Ok(Selection::Items(item_refs(i)?)),
        (None, None) => Err(TaskError::invalid(
            "selection",
            "give either a filter or items",
        )),
    }
}

pub fn overwrite(p: Option<&pb::OverwritePolicy>) -> Result<OverwritePolicy, TaskError> {
    let Some(p) = p else {
        return Ok(OverwritePolicy::Always);
    };
    Ok(
        match enum_value::<pb::OverwriteMode>("overwrite.mode", p.mode)? {
            pb::OverwriteMode::Unspecified | pb::OverwriteMode::Always => OverwritePolicy::Always,
            pb::OverwriteMode::IfNewer => OverwritePolicy::IfNewer,
            pb::OverwriteMode::Never => OverwritePolicy::Never,
            pb::OverwriteMode::IfSize => OverwritePolicy::IfSize(
                match enum_value::<pb::SizeComparison>(
                    "overwrite.size_comparison",
                    p.size_comparison,
                )? {
                    pb::SizeComparison::Same => SizeComparison::Same,
                    pb::SizeComparison::Smaller => SizeComparison::Smaller,
                    pb::SizeComparison::Larger => SizeComparison::Larger,
                    pb::SizeComparison::SmallerOrLarger => SizeComparison::SmallerOrLarger,
                    pb::SizeComparison::Different => SizeComparison::Different,
                    pb::SizeComparison::Unspecified => {
                        return Err(TaskError::invalid(
                            "overwrite.size_comparison",
                            "IF_SIZE needs a size_comparison (SAME, SMALLER, LARGER, SMALLER_OR_LARGER or DIFFERENT)",
                        ));
                    }
                },
            ),
        },
    )
}

pub fn upload_spec(s: &pb::UploadSpec) -> Result<UploadSpec, TaskError> {
    path_length("spec.destination_folder", &s.destination_folder)?;
    let destination_folder = folder("spec.destination_folder", &s.destination_folder)?;
    if destination_folder.starts_with("id:") {
        return Err(TaskError::invalid(
            "spec.destination_folder",
            "files cannot be placed under an id: reference; give the folder as a path such as \"/reports\"",
        ));
    }
    Ok(UploadSpec {
        destination_folder,
        overwrite: overwrite(s.overwrite.as_ref())?,
        keep_modified_date: s.keep_modified_date,
        autorename: s.autorename,
    })
}

/// Refuses a path longer than [`MAX_PATH_BYTES`] before it is echoed in a result.
fn path_length(field: &str, path: &str) -> Result<(), TaskError> {
    if path.len() <= MAX_PATH_BYTES {
        return Ok(());
    }
    let start: String = path.chars().take(100).collect();
    Err(TaskError::invalid(
        field,
        format!(
            "the path starting {start:?} has {} bytes; at most {MAX_PATH_BYTES} are taken",
            path.len()
        ),
    ))
}

pub fn file_header(h: pb::FileHeader) -> Result<FileHeader, TaskError> {
    path_length("file_header.relative_path", &h.relative_path)?;
    Ok(FileHeader {
        modified_time: opt_timestamp("file_header.modified_time", h.modified_time.as_ref())?,
        content_hash: content_hash("file_header.content_hash", h.content_hash)?,
        relative_path: h.relative_path,
        size: h.size,
    })
}

/// The content_hash of a FileEnd (`None` when not given).
pub fn file_end(e: pb::FileEnd) -> Result<Option<String>, TaskError> {
    content_hash("file_end.content_hash", e.content_hash)
}

/// Empty, or a Dropbox content_hash: 64 hex digits.
fn content_hash(field: &str, hash: String) -> Result<Option<String>, TaskError> {
    if hash.is_empty() {
        return Ok(None);
    }
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(TaskError::invalid(
            field,
            "a Dropbox content_hash is 64 hex digits (SHA-256 over the SHA-256 of each 4 MiB block); leave it empty if unknown",
        ));
    }
    Ok(Some(hash))
}

/// A request message over the server's decoding limit (tonic refuses it with OUT_OF_RANGE
/// before our code sees it; inside an upload stream it ends the call like this).
pub fn oversize_message(detail: &str) -> TaskError {
    TaskError::invalid(
        "message",
        format!("{detail}; send file data as DataChunks of at most 2 MiB"),
    )
}

/// A DownloadFiles byte range, whose end must be a byte position.
pub fn byte_range(r: &pb::ByteRange) -> Result<Range, TaskError> {
    if r.offset.checked_add(r.length).is_none() {
        return Err(TaskError::invalid(
            "range",
            format!(
                "offset {} plus length {} is past the largest file size; use length 0 to read to the end",
                r.offset, r.length
            ),
        ));
    }
    Ok(Range {
        offset: r.offset,
        length: r.length,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_validation() {
        let ok = filter(&pb::RemoteFileFilter {
            folder: "/".into(),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(ok.folder, "");
        assert_eq!(ok.kind, KindFilter::Files);
        assert!(
            filter(&pb::RemoteFileFilter {
                folder: "no-slash".into(),
                ..Default::default()
            })
            .is_err()
        );
        assert!(
            filter(&pb::RemoteFileFilter {
                mask: "(".into(),
                mask_is_regex: true,
                ..Default::default()
            })
            .is_err()
        );
        assert!(
            filter(&pb::RemoteFileFilter {
                kind: 42,
                ..Default::default()
            })
            .is_err()
        );
        assert!(
            overwrite(Some(&pb::OverwritePolicy {
                mode: pb::OverwriteMode::IfSize as i32,
                size_comparison: 0
            }))
            .is_err()
        );
    }

    #[test]
    fn timestamps_round_trip() {
        let t = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        assert_eq!(from_timestamp("t", &timestamp(t)).unwrap(), t);
    }
}
