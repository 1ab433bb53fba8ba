//! `dropbox_connector.v1.ConnectionService`.

use dropbox_connector_proto::v1 as pb;
use pb::connection_service_server::ConnectionService;
use tonic::{Request, Response, Status};
use tracing::Instrument;

use super::connection_fields::{apply, new_connection, to_proto};
use super::convert::{self, timestamp};
use super::status::to_item_error;
use super::{Ready, page_token};
use crate::tasks::connections::validate_redirect_uri;
use crate::tasks::{TaskError, authorize, probe};

const DEFAULT_PAGE_SIZE: i32 = 100;
const MAX_PAGE_SIZE: i32 = 1000;

pub struct ConnectionsApi {
    ready: Ready,
    /// TestConnection may fetch test URLs on non-public addresses (`test_connection.*`).
    allow_private_test_targets: bool,
}

impl ConnectionsApi {
    pub fn new(ready: Ready) -> ConnectionsApi {
        ConnectionsApi {
            ready,
            allow_private_test_targets: false,
        }
    }

    pub fn allow_private_test_targets(mut self, allow: bool) -> ConnectionsApi {
        self.allow_private_test_targets = allow;
        self
    }
}

fn required<'a, T>(field: &str, v: Option<&'a T>) -> Result<&'a T, Status> {
    v.ok_or_else(|| TaskError::invalid(field, "is required").into())
}

#[tonic::async_trait]
impl ConnectionService for ConnectionsApi {
    async fn create_connection(
        &self,
        req: Request<pb::CreateConnectionRequest>,
    ) -> Result<Response<pb::CreateConnectionResponse>, Status> {
        let span = tracing::info_span!("CreateConnection");
        async move {
            let connections = self.ready.get().await?;
            let c = required("connection", req.get_ref().connection.as_ref())?;
            let record = connections.create(new_connection(c)?).await?;
            tracing::info!(connection = %record.display_name, "connection created");
            Ok(Response::new(pb::CreateConnectionResponse {
                connection: Some(to_proto(&record)),
            }))
        }
        .instrument(span)
        .await
    }

    async fn get_connection(
        &self,
        req: Request<pb::GetConnectionRequest>,
    ) -> Result<Response<pb::GetConnectionResponse>, Status> {
        let span = tracing::info_span!("GetConnection", connection = %req.get_ref().name);
        async move {
            let name = convert::connection_ref("name", &req.get_ref().name)?;
            let record = self.ready.get().await?.resolve(name).await?;
            Ok(Response::new(pb::GetConnectionResponse {
                connection: Some(to_proto(&record)),
            }))
        }
        .instrument(span)
        .await
    }

    async fn list_connections(
        &self,
        req: Request<pb::ListConnectionsRequest>,
    ) -> Result<Response<pb::ListConnectionsResponse>, Status> {
        let span = tracing::info_span!("ListConnections");
        async move {
            let connections = self.ready.get().await?;
            let r = req.get_ref();
            let size = match r.page_size {
                0 => DEFAULT_PAGE_SIZE,
                n if n < 0 => {
                    return Err(TaskError::invalid(
                        "page_size",
                        format!(
                            "{n} is negative; give 1..{MAX_PAGE_SIZE}, or 0 for {DEFAULT_PAGE_SIZE}"
                        ),
                    )
                    .into());
                }
                // AIP-158: a page_size over the maximum is coerced to it, not refused.
                n => n.min(MAX_PAGE_SIZE),
            };
            let after = page_token::decode(&r.page_token, &r.group)?;
            let group = Some(r.group.clone()).filter(|g| !g.is_empty());
            let page = connections.list(group, after, size as u32).await?;
            Ok(Response::new(pb::ListConnectionsResponse {
                connections: page.connections.iter().map(to_proto).collect(),
                next_page_token: page
                    .next_after
                    .map(|a| page_token::encode(&a, &r.group))
                    .unwrap_or_default(),
            }))
        }
        .instrument(span)
        .await
    }

    async fn update_connection(
        &self,
        req: Request<pb::UpdateConnectionRequest>,
    ) -> Result<Response<pb::UpdateConnectionResponse>, Status> {
        let span = tracing::info_span!("UpdateConnection");
        async move {
            let connections = self.ready.get().await?;
            let r = req.get_ref();
            let c = required("connection", r.connection.as_ref())?;
            if c.name.is_empty() {
                return Err(TaskError::invalid(
                    "connection.name",
                    "name the connection to update (`connections/{id}` or its display_name)",
                )
                .into());
            }
            let mut record = connections
                .resolve(convert::connection_ref("connection.name", &c.name)?)
                .await?;
            let mask: Vec<String> = r
                .update_mask
                .as_ref()
                .map(|m| m.paths.clone())
                .unwrap_or_default();
            apply(&mut record, c, &mask, false)?;
            let stored = connections.update(record).await?;
            tracing::info!(connection = %stored.display_name, "connection updated");
            Ok(Response::new(pb::UpdateConnectionResponse {
                connection: Some(to_proto(&stored)),
            }))
        }
        .instrument(span)
        .await
    }

    async fn delete_connection(
        &self,
        req: Request<pb::DeleteConnectionRequest>,
    ) -> Result<Response<pb::DeleteConnectionResponse>, Status> {
        let span = tracing::info_span!("DeleteConnection", connection = %req.get_ref().name);
        async move {
            let name = convert::connection_ref("name", &req.get_ref().name)?;
            self.ready.get().await?.delete(name).await?;
            tracing::info!("connection deleted");
            Ok(Response::new(pb::DeleteConnectionResponse {}))
        }
        .instrument(span)
        .await
    }

    async fn start_authorization(
        &self,
        req: Request<pb::StartAuthorizationRequest>,
    ) -> Result<Response<pb::StartAuthorizationResponse>, Status> {
        let span = tracing::info_span!("StartAuthorization", connection = %req.get_ref().name);
        async move {
            let connections = self.ready.get().await?;
            let r = req.get_ref();
            let name = convert::connection_ref("name", &r.name)?;
            // The request's own argument is checked before the connection's state.
            if !r.no_redirect && !r.redirect_uri.trim().is_empty() {
                validate_redirect_uri("redirect_uri", r.redirect_uri.trim())?;
            }
            let started =
                authorize::start(&connections, name, &r.redirect_uri, r.no_redirect).await?;
            Ok(Response::new(pb::StartAuthorizationResponse {
                authorize_url: started.authorize_url,
                state: started.state,
                redirect_uri: started.redirect_uri.unwrap_or_default(),
                expire_time: Some(timestamp(started.expire_time)),
            }))
        }
        .instrument(span)
        .await
    }

    async fn complete_authorization(
        &self,
        req: Request<pb::CompleteAuthorizationRequest>,
    ) -> Result<Response<pb::CompleteAuthorizationResponse>, Status> {
        let span = tracing::info_span!("CompleteAuthorization");
        async move {
            let connections = self.ready.get().await?;
            let r = req.get_ref();
            let record = authorize::complete(&connections, &r.state, &r.code).await?;
            Ok(Response::new(pb::CompleteAuthorizationResponse {
                connection: Some(to_proto(&record)),
            }))
        }
        .instrument(span)
        .await
    }

    async fn test_connection(
        &self,
        req: Request<pb::TestConnectionRequest>,
    ) -> Result<Response<pb::TestConnectionResponse>, Status> {
        let span = tracing::info_span!("TestConnection", connection = %req.get_ref().name);
        async move {
            let connections = self.ready.get().await?;
            let name = convert::connection_ref("name", &req.get_ref().name)?;
            let report =
                probe::test_connection(&connections, name, self.allow_private_test_targets).await?;
            let ok = report.ok();
            for s in &report.steps {
                tracing::info!(
                    step = s.step,
                    ok = s.ok,
                    duration_ms = s.duration.as_millis() as u64,
                    "connection test step"
                );
            }
            Ok(Response::new(pb::TestConnectionResponse {
                ok,
                steps: report
                    .steps
                    .iter()
                    .map(|s| pb::TestStep {
                        step: s.step.to_owned(),
                        ok: s.ok,
                        detail: s.detail.clone(),
                        duration: Some(prost_types::Duration {
                            seconds: s.duration.as_secs() as i64,
                            nanos: s.duration.subsec_nanos() as i32,
                        }),
                        error: s.error.as_ref().map(to_item_error),
                    })
                    .collect(),
                account: report.account.map(|a| pb::AccountInfo {
                    account_id: a.account_id,
                    email: a.email,
                    display_name: a.display_name,
                    account_type: a.account_type,
                }),
            }))
        }
        .instrument(span)
        .await
    }
}
