//! The five Cloud tasks, connections (lookup, authorization, the connection test), written
//! against the Dropbox client and the connection store; `dropbox` and `model` re-export
//! the types of those the api layer needs. Nothing here knows about gRPC or HTTP: multi-item results travel as events on a bounded
//! channel, whose closing (the caller went away) stops the task.

pub mod authorize;
pub mod budget;
pub mod connection_client;
pub mod connections;
pub mod create_folder;
pub mod delete;
pub mod download;
pub mod dropbox;
mod error;
pub mod filter;
pub mod list;
pub mod model;
pub mod overwrite;
pub mod probe;
mod probe_target;
pub mod resumable;
pub mod secret_binding;
pub mod upload;

use tokio::sync::mpsc;

pub use error::TaskError;

/// Where a streaming task sends its results; a final `Err` ends the call.
pub type Events<T> = mpsc::Sender<Result<T, TaskError>>;

/// Sends one event; `Err(Cancelled)` when the receiver is gone (the client cancelled).
pub async fn emit<T>(tx: &Events<T>, event: T) -> Result<(), TaskError> {
    tx.send(Ok(event)).await.map_err(|_| TaskError::Cancelled)
}

/// Runs a streaming task to its end and reports its failure, if any, as the last event.
pub async fn run_to_channel<T, F>(tx: Events<T>, task: F)
where
    F: std::future::Future<Output = Result<(), TaskError>>,
{
    match task.await {
        Ok(()) | Err(TaskError::Cancelled) => {}
        Err(e) => {
            // The receiver may be gone already; then nobody is left to tell.
            let _ = tx.send(Err(e)).await;
        }
    }
}

/// A remote item named directly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemRef {
    /// A Dropbox path or `id:...`.
    pub path: String,
    /// A revision: the one to download, or the one a delete requires.
    pub rev: Option<String>,
    /// Downloads: how the caller names the file (else its name).
    pub relative_path: Option<String>,
}

/// What List-like tasks operate on.
#[derive(Debug, Clone)]
pub enum Selection {
    Filter(filter::RemoteFilter),
    Items(Vec<ItemRef>),
}
