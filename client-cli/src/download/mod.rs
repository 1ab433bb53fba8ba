//! `dbxc download`: list what to fetch, tell the server what is held locally so that it
//! decides the overwrite option (and reports the files it skips), then download exactly
//! those revisions, each into a partial file that is renamed only after its content_hash is
//! verified. A partial left by an interrupted run is continued
//! with a byte range. Never writes outside LOCAL_DIR.
//!
//! [`plan`] decides what to fetch, [`call`] runs the DownloadFiles calls: their streams go
//! through the pure [`decoder`], bytes into [`sink`], counts into [`tally`], and outcomes
//! out through [`report`].

mod call;
mod decoder;
mod plan;
mod report;
mod sink;
mod tally;

use std::path::PathBuf;

use dropbox_connector_proto::v1::{ItemMetadata, LocalFile};

use crate::Ctx;
use crate::args::DownloadArgs;
use crate::exit::CliError;
use crate::local_paths::safe_join;
use crate::partial;
use crate::progress::Progress;
use crate::reason::LocalReason;
use call::Call;
use plan::{collisions, local_file, resolve};
use report::{FileError, Report};

/// Files per DownloadFiles call.
const BATCH: usize = 100;

/// A remote file chosen for download.
struct Planned {
    item: ItemMetadata,
    relative: String,
    local: PathBuf,
    /// `local` below LOCAL_DIR, `/`-separated: how the server is told where the file goes
    /// (ItemRef.relative_path) and what is held there (LocalFile.relative_path). The remote
    /// relative path is not used for this: hostile names (`/x`, `a\b`) land elsewhere.
    key: String,
    /// What is at `local` already, when the overwrite option has to look at it.
    held: Option<LocalFile>,
}

/// Runs `dbxc download`.
pub async fn run(ctx: &Ctx, args: DownloadArgs) -> Result<(), CliError> {
    let connection = ctx.connection()?;
    let items = resolve(ctx, &connection, &args.remote, &args.filter).await?;

    let base = args.local_dir.clone();
    tokio::fs::create_dir_all(&base)
        .await
        .map_err(|e| CliError::failure(format!("cannot create {}: {e}", base.display())))?;

    let mut failed = 0usize;
    let total_files = items.len();
    let mut planned = Vec::new();
    let joined: Vec<_> = items
        .into_iter()
        .map(|(item, relative)| {
            let local = safe_join(&base, &relative);
            (item, relative, local)
        })
        .collect();
    let collisions = collisions(&base, &joined);
    for (index, (item, relative, local)) in joined.into_iter().enumerate() {
        if let Some(text) = collisions.get(&index) {
            failed += 1;
            Report::error(
                &item,
                &relative,
                local.as_deref().ok(),
                &FileError::local(LocalReason::NameCollision, text),
            )
            .print(ctx, None);
            continue;
        }
        let local = match local {
            Ok(p) => p,
            Err(e) => {
                failed += 1;
                Report::error(
                    &item,
                    &relative,
                    None,
                    &FileError::local(LocalReason::UnsafePath, e.to_string()),
                )
                .print(ctx, None);
                continue;
            }
        };
        let key = local_key(&base, &local);
        match local_file(&local, &item, &key, &args.overwrite).await {
            Ok(held) => planned.push(Planned {
                item,
                relative,
                local,
                key,
                held,
            }),
            Err(message) => {
                failed += 1;
                Report::error(
                    &item,
                    &relative,
                    Some(&local),
                    &FileError::local(LocalReason::LocalIo, &message),
                )
                .print(ctx, None);
            }
        }
    }

    let total: u64 = planned.iter().map(|p| p.item.size).sum();
    let progress = Progress::bytes(total, ctx.progress_wanted());
    // A partial of the same rev means an earlier run was interrupted: those files continue
    // where they stopped, each with a ranged call; the others go in batches.
    let (resuming, fresh): (Vec<Planned>, Vec<Planned>) = planned
        .into_iter()
        .partition(|p| partial::existing_len(&p.local, &p.item.rev).is_some_and(|len| len > 0));
    let call = Call {
        ctx,
        connection: &connection,
        base: &base,
        args: &args,
        progress: &progress,
    };
    let mut call_error = None;
    for one in &resuming {
        match call.resumed(one).await {
            Ok(n) => failed += n,
            Err((n, error)) => {
                failed += n;
                call_error = Some(error);
                break;
            }
        }
    }
    if call_error.is_none() {
        for batch in fresh.chunks(BATCH) {
            match call.batch(batch, None).await {
                Ok(n) => failed += n,
                Err((n, error)) => {
                    failed += n;
                    call_error = Some(error);
                    break;
                }
            }
        }
    }
    progress.finish();
    if let Some(error) = call_error {
        return Err(error);
    }
    if failed > 0 {
        return Err(CliError::failure(format!(
            "{failed} of {total_files} file(s) failed to download"
        )));
    }
    if total_files == 0 && !ctx.json && !ctx.quiet {
        eprintln!("no files matched; nothing downloaded");
    }
    Ok(())
}

/// `local` relative to `base`, `/`-separated (safe_join made it a plain path below `base`).
fn local_key(base: &std::path::Path, local: &std::path::Path) -> String {
    local
        .strip_prefix(base)
        .unwrap_or(local)
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// How to name a listed item in a later call: by its Dropbox id when there is one, since
/// an id does not depend on the item's name (which may be anything, or have changed).
fn stable_ref(item: &ItemMetadata) -> String {
    [&item.id, &item.path_lower, &item.path_display]
        .into_iter()
        .find(|s| !s.is_empty())
        .cloned()
        .unwrap_or_default()
}
