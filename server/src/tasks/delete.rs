//! "Cloud - Delete item(s)": one result per item, checked for cancellation between items.

use dropbox_client::{ConflictKind, Error as DbxError, LookupError, Metadata};

use super::connection_client::ConnectionClient;
use super::filter::{Lister, ListingLimits, RemoteItem};
use super::{Events, ItemRef, Selection, TaskError, emit};

/// The outcome for one item.
#[derive(Debug)]
pub enum DeleteEvent {
    /// Deleted (or, in a dry run, would be): the item as it was.
    Deleted {
        path: String,
        item: RemoteItem,
    },
    Failed {
        path: String,
        error: TaskError,
    },
}

pub async fn delete_items(
    conn: &ConnectionClient,
    selection: &Selection,
    dry_run: bool,
    limits: ListingLimits,
    tx: &Events<DeleteEvent>,
) -> Result<(), TaskError> {
    conn.named(delete_all(conn, selection, dry_run, limits, tx))
        .await
}

async fn delete_all(
    conn: &ConnectionClient,
    selection: &Selection,
    dry_run: bool,
    limits: ListingLimits,
    tx: &Events<DeleteEvent>,
) -> Result<(), TaskError> {
    let client = conn.dropbox();
    match selection {
        Selection::Filter(filter) => {
            // The whole selection is fixed before the first delete, so deleting cannot
            // change what a later listing page returns.
            let items = Lister::new(client, filter, limits).collect(tx).await?;
            if items.is_empty() && filter.fail_if_empty {
                return Err(super::list::no_items(filter));
            }
            let mut deleted_folders: Vec<String> = Vec::new();
            for item in items {
                if tx.is_closed() {
                    return Err(TaskError::Cancelled);
                }
                let path = item
                    .metadata
                    .path_display()
                    .unwrap_or(item.metadata.name())
                    .to_owned();
                let lower = item.metadata.path_lower().unwrap_or_default().to_owned();
                // Already gone with a folder deleted before it: report it with that folder.
                let inside_deleted = deleted_folders
                    .iter()
                    .any(|f| lower.starts_with(f.as_str()));
                let event = if dry_run || inside_deleted {
                    DeleteEvent::Deleted { path, item }
                } else {
                    match client.delete(&lower, None).await {
                        Ok(_) => {
                            if item.metadata.is_folder() {
                                deleted_folders.push(format!("{lower}/"));
                            }
                            DeleteEvent::Deleted { path, item }
                        }
                        Err(e) => DeleteEvent::Failed {
                            error: conn.check(TaskError::dropbox(&path, e)),
                            path,
                        },
                    }
                };
                emit(tx, event).await?;
            }
        }
        Selection::Items(refs) => {
            for r in refs {
                if tx.is_closed() {
                    return Err(TaskError::Cancelled);
                }
                emit(tx, delete_one(conn, r, dry_run).await).await?;
            }
        }
    }
    Ok(())
}

async fn delete_one(conn: &ConnectionClient, r: &ItemRef, dry_run: bool) -> DeleteEvent {
    let client = conn.dropbox();
    let result = if dry_run {
        client.get_metadata(&r.path).await
    } else {
        client.delete(&r.path, r.rev.as_deref()).await
    };
    match result {
        Ok(metadata) => DeleteEvent::Deleted {
            path: r.path.clone(),
            item: named(metadata),
        },
        Err(e) => DeleteEvent::Failed {
            path: r.path.clone(),
            error: match (&r.rev, &e) {
                (
                    Some(expected),
                    DbxError::Path {
                        kind: LookupError::Conflict(ConflictKind::File),
                        ..
                    },
                ) => revision_changed(conn, &r.path, expected).await,
                _ => conn.check(TaskError::dropbox(&r.path, e)),
            },
        },
    }
}

/// Dropbox refuses a `delete_v2` whose `parent_rev` is not the file's current revision
/// with `path_write/conflict/file`: the file changed since that revision was read. The
/// current revision is looked up (best effort) so the caller can tell what it would lose.
async fn revision_changed(conn: &ConnectionClient, path: &str, expected: &str) -> TaskError {
    let current_rev = match conn.dropbox().get_metadata(path).await {
        Ok(Metadata::File(f)) => Some(f.rev),
        _ => None,
    };
    TaskError::RevisionChanged {
        path: path.to_owned(),
        expected_rev: expected.to_owned(),
        current_rev,
    }
}

/// An item named directly: its relative path is its name.
pub(crate) fn named(metadata: Metadata) -> RemoteItem {
    RemoteItem {
        relative_path: metadata.name().to_owned(),
        metadata,
    }
}
