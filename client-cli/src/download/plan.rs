//! What to download: REMOTE and the filter resolved to files, the local paths they land on
//! (refusing collisions), and what is already held there, for the server's overwrite
//! decision.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use dropbox_connector_proto::v1::{
    ItemKind, ItemMetadata, LocalFile, OverwriteMode, OverwritePolicy, SizeComparison,
};
use dropbox_content_hash as content_hash;

use crate::Ctx;
use crate::exit::{CliError, NOT_FOUND};
use crate::filter_args::{FilterArgs, normalize_remote};
use crate::list::list_items;
use crate::local_paths::UnsafePath;
use crate::output::is_folder;

/// The files of this download that must not be written because their local path is also
/// another file's (`x`, `\x` and `/x` all become LOCAL_DIR/x): index -> why. When exactly
/// one of them is named as it lands (no backslash, no leading or doubled separator), that
/// one keeps the path; otherwise none does. Nothing is ever written twice to one path.
pub(super) fn collisions(
    base: &Path,
    joined: &[(ItemMetadata, String, Result<PathBuf, UnsafePath>)],
) -> HashMap<usize, String> {
    let mut by_path: HashMap<&Path, Vec<usize>> = HashMap::new();
    for (index, (_, _, local)) in joined.iter().enumerate() {
        if let Ok(local) = local {
            by_path.entry(local.as_path()).or_default().push(index);
        }
    }
    let mut refused = HashMap::new();
    for (local, indexes) in by_path {
        if indexes.len() < 2 {
            continue;
        }
        let literal = |i: &usize| {
            let relative = &joined[*i].1;
            local
                .strip_prefix(base)
                .ok()
                .and_then(Path::to_str)
                .is_some_and(|l| l == relative.as_str())
        };
        let keeper = match indexes.iter().filter(|i| literal(i)).collect::<Vec<_>>()[..] {
            [one] => Some(*one),
            _ => None,
        };
        let names: Vec<String> = indexes
            .iter()
            .map(|i| format!("{:?}", joined[*i].0.path_display))
            .collect();
        for &index in &indexes {
            if Some(index) == keeper {
                continue;
            }
            let why = match keeper {
                Some(k) => format!("it is the local file of {:?}", joined[k].0.path_display),
                None => format!("it is the local file of each of {}", names.join(", ")),
            };
            refused.insert(
                index,
                format!(
                    "remote name {:?} would be written to {}, but {why}; refusing it rather \
                     than overwrite one file with another",
                    joined[index].1,
                    local.display()
                ),
            );
        }
    }
    refused
}

/// Turns REMOTE and the filter flags into the files to download, with their paths relative
/// to LOCAL_DIR.
///
/// Rule: with any filter flag, a REMOTE ending in `/`, the root, or an `id:`/`ns:` REMOTE,
/// REMOTE is a folder and the filter selects its files. Otherwise REMOTE is looked up in its
/// parent folder: a file is downloaded alone (under its own name), a folder as above.
pub(super) async fn resolve(
    ctx: &Ctx,
    connection: &str,
    remote: &str,
    filter: &FilterArgs,
) -> Result<Vec<(ItemMetadata, String)>, CliError> {
    let normalized = normalize_remote(remote);
    let folder_mode = filter.is_set()
        || remote.ends_with('/')
        || normalized.is_empty()
        || normalized.starts_with("id:")
        || normalized.starts_with("ns:");
    if !folder_mode {
        let (parent, name) = match normalized.rfind('/') {
            Some(i) => (&normalized[..i], &normalized[i + 1..]),
            None => ("", normalized.as_str()),
        };
        let lookup = FilterArgs {
            regex: Some(format!("(?i)^{}$", regex::escape(name))),
            case_sensitive: true,
            kind: Some(crate::filter_args::KindArg::All),
            ..FilterArgs::default()
        };
        let mut found: Vec<ItemMetadata> = Vec::new();
        list_items(ctx, connection, lookup.to_filter(parent), |item| {
            found.push(item.clone())
        })
        .await?;
        let wanted = normalized.to_lowercase();
        let hit = found
            .iter()
            .position(|i| i.path_lower == wanted || i.path_display.to_lowercase() == wanted)
            .or(if found.is_empty() { None } else { Some(0) });
        let Some(hit) = hit else {
            return Err(CliError::new(
                NOT_FOUND,
                format!("PATH_NOT_FOUND: {normalized} does not exist"),
            ));
        };
        let item = found.swap_remove(hit);
        if !is_folder(&item) {
            let relative = item.name.clone();
            return Ok(vec![(item, relative)]);
        }
    }
    let mut out = Vec::new();
    list_items(ctx, connection, filter.to_filter(&normalized), |item| {
        if item.kind == ItemKind::File as i32 {
            let relative = if item.relative_path.is_empty() {
                item.name.clone()
            } else {
                item.relative_path.clone()
            };
            out.push((item.clone(), relative));
        }
    })
    .await?;
    Ok(out)
}

/// What dbxc holds at `local`, for the server's overwrite decision: `Ok(None)` when nothing
/// is there or the policy never looks (ALWAYS), `Err` when the local side cannot be checked
/// or a directory is in the way. The content_hash is read only when the server could use
/// it: IF_SIZE with DIFFERENT and the sizes equal.
pub(super) async fn local_file(
    local: &Path,
    item: &ItemMetadata,
    relative: &str,
    policy: &OverwritePolicy,
) -> Result<Option<LocalFile>, String> {
    let meta = match tokio::fs::metadata(local).await {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot check {}: {e}", local.display())),
    };
    if meta.is_dir() {
        return Err(format!(
            "{} is a directory; cannot replace it with a file",
            local.display()
        ));
    }
    let mode = OverwriteMode::try_from(policy.mode).unwrap_or(OverwriteMode::Always);
    if matches!(mode, OverwriteMode::Unspecified | OverwriteMode::Always) {
        return Ok(None);
    }
    let modified = meta.modified().ok().map(time::OffsetDateTime::from);
    if mode == OverwriteMode::IfNewer && modified.is_none() {
        // No time to compare: the file is downloaded, as if not held.
        return Ok(None);
    }
    let hash_needed = mode == OverwriteMode::IfSize
        && policy.size_comparison == SizeComparison::Different as i32
        && meta.len() == item.size;
    let content_hash = if hash_needed {
        let path = local.to_path_buf();
        tokio::task::spawn_blocking(move || content_hash::of_file(&path))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("cannot read {}: {e}", local.display()))?
            .0
    } else {
        String::new()
    };
    Ok(Some(LocalFile {
        relative_path: relative.to_owned(),
        size: meta.len(),
        modified_time: modified.map(|t| prost_types::Timestamp {
            seconds: t.unix_timestamp(),
            nanos: t.nanosecond() as i32,
        }),
        content_hash,
    }))
}
