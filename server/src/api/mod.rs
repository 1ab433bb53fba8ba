//! The gRPC surface: tonic services (`CloudTasksApi`, `ConnectionsApi`) that translate
//! protobuf to task calls and back. This layer talks to `tasks` only: Dropbox and store
//! types reach it as `tasks::{dropbox, model}`. Errors become statuses only in [`status`].

mod access;
mod cloud_task_service;
mod connection_fields;
mod connection_service;
mod convert;
mod page_token;
mod resumable_upload;
pub mod status;
mod task_guard;

use std::sync::Arc;
use std::time::Duration;

pub use cloud_task_service::CloudTasksApi;
pub use connection_service::ConnectionsApi;

use crate::tasks::connections::Connections;
use crate::tasks::resumable::ResumableUploads;

/// How long a call that arrives during start-up waits for the store to open.
const STARTUP_WAIT: Duration = Duration::from_secs(15);

/// Shared by the services: empty until the connection store is open. A call that arrives
/// before that waits a little (health says NOT_SERVING meanwhile), then gets UNAVAILABLE.
#[derive(Clone)]
pub struct Ready {
    tx: Arc<tokio::sync::watch::Sender<Option<Backends>>>,
}

/// What the services work with once the store is open.
#[derive(Clone)]
struct Backends {
    connections: Arc<Connections>,
    uploads: Arc<ResumableUploads>,
}

impl Default for Ready {
    fn default() -> Self {
        Ready {
            tx: Arc::new(tokio::sync::watch::channel(None).0),
        }
    }
}

impl Ready {
    /// Makes the services usable.
    pub fn set(&self, connections: Arc<Connections>, uploads: Arc<ResumableUploads>) {
        self.tx.send_replace(Some(Backends {
            connections,
            uploads,
        }));
    }

    async fn backends(&self) -> Result<Backends, tonic::Status> {
        let mut rx = self.tx.subscribe();
        let ready = tokio::time::timeout(STARTUP_WAIT, rx.wait_for(Option::is_some)).await;
        match ready {
            Ok(Ok(v)) => v.clone().ok_or_else(starting),
            _ => Err(starting()),
        }
    }

    async fn get(&self) -> Result<Arc<Connections>, tonic::Status> {
        Ok(self.backends().await?.connections)
    }

    async fn uploads(&self) -> Result<Arc<ResumableUploads>, tonic::Status> {
        Ok(self.backends().await?.uploads)
    }
}

fn starting() -> tonic::Status {
    tonic::Status::unavailable(
        "the service is starting (connection store not open yet); retry shortly",
    )
}
