//! The Dropbox client of one connection, as the tasks use it: every task runs on one of
//! these, so the errors it reports name the connection without the api layer knowing how.

use dropbox_client::{AuthError, DropboxClient, Error as DbxError};

use super::TaskError;
use crate::store::{AccountKind, ConnectionRecord};

/// A connection's (cached) client with what its errors need: its name, and the team
/// member id of a Business connection. (A refused refresh token has marked the
/// connection already, through the client's token sink; here it only gets named.)
#[derive(Clone)]
pub struct ConnectionClient {
    client: DropboxClient,
    id: String,
    name: String,
    /// The team member id of a Business connection (named when Dropbox refuses it).
    member: Option<String>,
}

impl ConnectionClient {
    pub fn new(client: DropboxClient, record: &ConnectionRecord) -> ConnectionClient {
        let b = &record.settings.business;
        ConnectionClient {
            client,
            id: record.id.clone(),
            name: record.display_name.clone(),
            member: (record.settings.account_type == AccountKind::Business
                && !b.team_member_id.is_empty())
            .then(|| b.team_member_id.clone()),
        }
    }

    /// Bounds the client's retries and waits by the caller's deadline.
    pub fn with_deadline(mut self, deadline: Option<tokio::time::Instant>) -> ConnectionClient {
        self.client = self.client.with_deadline(deadline);
        self
    }

    /// The `{id}` of the connection.
    pub fn connection_id(&self) -> &str {
        &self.id
    }

    pub(crate) fn dropbox(&self) -> &DropboxClient {
        &self.client
    }

    /// Runs a task's call on this connection and names the connection in its error.
    pub(crate) async fn named<T>(
        &self,
        task: impl Future<Output = Result<T, TaskError>>,
    ) -> Result<T, TaskError> {
        task.await.map_err(|e| self.check(e))
    }

    /// Passes `e` through, except a refused refresh token (REAUTHORIZATION_REQUIRED for
    /// this connection) and a refused team member id (named, with the header it was in).
    pub(crate) fn check(&self, e: TaskError) -> TaskError {
        match e {
            TaskError::Dropbox {
                source: DbxError::NeedsReauthorization { .. },
                ..
            } => TaskError::ReauthorizationRequired {
                connection: self.name.clone(),
            },
            TaskError::Dropbox {
                source:
                    DbxError::Unauthorized {
                        tag: tag @ (AuthError::InvalidSelectUser | AuthError::InvalidSelectAdmin),
                        ..
                    },
                ..
            } if self.member.is_some() => TaskError::TeamMemberRefused {
                connection: self.name.clone(),
                member_id: self.member.clone().unwrap_or_default(),
                admin: tag == AuthError::InvalidSelectAdmin,
            },
            other => other,
        }
    }
}
