//! `dropbox_connector.v1.ConnectionService`.

use dropbox_connector_proto::v1 as pb;
use pb::connection_service_server::ConnectionService;
use tonic::{Request, Response, Status};
use tracing::Instrument;

use super::access::{connection_for, effective_group};
use super::connection_fields::{apply, new_connection, to_proto};
use super::convert::{self, timestamp};
use super::status::to_item_error;
use super::{Ready, page_token};
use crate::auth::{Audit, Auth, Caller, Method};
use crate::tasks::connections::{Connections, RESOURCE_PREFIX, validate_redirect_uri};
use crate::tasks::model::{ConnectionPage, ConnectionRecord};
use crate::tasks::{TaskError, authorize, probe};

use dropbox_connector_proto::{
    DEFAULT_CONNECTIONS_PAGE_SIZE as DEFAULT_PAGE_SIZE, MAX_CONNECTIONS_PAGE_SIZE as MAX_PAGE_SIZE,
};

pub struct ConnectionsApi {
    ready: Ready,
    auth: Auth,
    /// TestConnection may fetch test URLs on non-public addresses (`test_connection.*`).
    allow_private_test_targets: bool,
}

impl ConnectionsApi {
    pub fn new(ready: Ready, auth: Auth) -> ConnectionsApi {
        ConnectionsApi {
            ready,
            auth,
            allow_private_test_targets: false,
        }
    }

    pub fn allow_private_test_targets(mut self, allow: bool) -> ConnectionsApi {
        self.allow_private_test_targets = allow;
        self
    }
}

fn one<T>(_: &T) -> u64 {
    1
}

/// One page of the connections `caller` may see. A caller of some groups is served by
/// reading the store's pages until its own page is full; the page token stays the
/// display_name to continue after, so tokens work as for everyone.
/// What the connections of one page may add up to, encoded. A connection's settings
/// may take tens of KiB (URLs of 2,048 characters, free text of 256, each up to 4 bytes a
/// character), so 1,000 of them could pass the 4 MiB that gRPC runtimes accept in one
/// message by default.
const PAGE_BUDGET_BYTES: usize = 2 * 1024 * 1024;

/// The page's connections as sent, cut short at [`PAGE_BUDGET_BYTES`] (the next page
/// then starts after the last one sent), and where the next page starts.
fn fit_page(page: ConnectionPage) -> (Vec<pb::Connection>, Option<String>) {
    let mut out: Vec<pb::Connection> = Vec::with_capacity(page.connections.len());
    let mut bytes = 0;
    for record in &page.connections {
        let connection = to_proto(record);
        let len = prost::Message::encoded_len(&connection);
        if let Some(last_sent) = out.last()
            && bytes + len > PAGE_BUDGET_BYTES
        {
            let after = last_sent.display_name.clone();
            return (out, Some(after));
        }
        bytes += len;
        out.push(connection);
    }
    (out, page.next_after)
}

async fn visible_page(
    connections: &Connections,
    caller: &Caller,
    group: Option<String>,
    after: Option<String>,
    size: u32,
) -> Result<ConnectionPage, TaskError> {
    if caller.groups == crate::auth::Groups::All {
        return connections.list(group, after, size).await;
    }
    let mut out = Vec::new();
    let mut cursor = after;
    loop {
        let page = connections
            .list(group.clone(), cursor.clone(), size)
            .await?;
        for record in page.connections {
            if !caller.may_use(&record.group) {
                cursor = Some(record.display_name);
                continue;
            }
            if out.len() >= size as usize {
                let next_after = out
                    .last()
                    .map(|r: &ConnectionRecord| r.display_name.clone());
                return Ok(ConnectionPage {
                    connections: out,
                    next_after,
                });
            }
            cursor = Some(record.display_name.clone());
            out.push(record);
        }
        if page.next_after.is_none() {
            return Ok(ConnectionPage {
                connections: out,
                next_after: None,
            });
        }
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
        let caller = self.auth.authorize(&req, Method::CreateConnection);
        let name = req
            .get_ref()
            .connection
            .as_ref()
            .map(|c| c.display_name.clone())
            .unwrap_or_default();
        let audit = Audit::new(Method::CreateConnection, &caller, &name);
        let result = async move {
            let caller = caller?;
            let connections = self.ready.get().await?;
            let c = required("connection", req.get_ref().connection.as_ref())?;
            let new = new_connection(c)?;
            caller.check_target_group(Method::CreateConnection, effective_group(&new.group))?;
            let record = connections.create(new).await?;
            tracing::info!(connection = %record.display_name, "connection created");
            Ok(Response::new(pb::CreateConnectionResponse {
                connection: Some(to_proto(&record)),
            }))
        }
        .instrument(span)
        .await;
        audit.finish(result, one)
    }

    async fn get_connection(
        &self,
        req: Request<pb::GetConnectionRequest>,
    ) -> Result<Response<pb::GetConnectionResponse>, Status> {
        let span = tracing::info_span!("GetConnection", connection = %req.get_ref().name);
        async move {
            let caller = self.auth.authorize(&req, Method::GetConnection)?;
            let name = convert::connection_ref("name", &req.get_ref().name)?;
            let connections = self.ready.get().await?;
            let record = connection_for(&connections, &caller, Method::GetConnection, name).await?;
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
            let caller = self.auth.authorize(&req, Method::ListConnections)?;
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
            let page = visible_page(&connections, &caller, group, after, size as u32).await?;
            let (connections, next_after) = fit_page(page);
            Ok(Response::new(pb::ListConnectionsResponse {
                connections,
                next_page_token: next_after
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
        let caller = self.auth.authorize(&req, Method::UpdateConnection);
        let name = req
            .get_ref()
            .connection
            .as_ref()
            .map(|c| c.name.clone())
            .unwrap_or_default();
        let audit = Audit::new(Method::UpdateConnection, &caller, &name);
        let result = async move {
            let caller = caller?;
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
            let mut record = connection_for(
                &connections,
                &caller,
                Method::UpdateConnection,
                convert::connection_ref("connection.name", &c.name)?,
            )
            .await?;
            let mask: Vec<String> = r
                .update_mask
                .as_ref()
                .map(|m| m.paths.clone())
                .unwrap_or_default();
            apply(&mut record, c, &mask, false)?;
            caller.check_target_group(Method::UpdateConnection, effective_group(&record.group))?;
            let stored = connections.update(record).await?;
            tracing::info!(connection = %stored.display_name, "connection updated");
            Ok(Response::new(pb::UpdateConnectionResponse {
                connection: Some(to_proto(&stored)),
            }))
        }
        .instrument(span)
        .await;
        audit.finish(result, one)
    }

    async fn delete_connection(
        &self,
        req: Request<pb::DeleteConnectionRequest>,
    ) -> Result<Response<pb::DeleteConnectionResponse>, Status> {
        let span = tracing::info_span!("DeleteConnection", connection = %req.get_ref().name);
        let caller = self.auth.authorize(&req, Method::DeleteConnection);
        let audit = Audit::new(Method::DeleteConnection, &caller, &req.get_ref().name);
        let result = async move {
            let caller = caller?;
            let name = convert::connection_ref("name", &req.get_ref().name)?;
            let connections = self.ready.get().await?;
            let record =
                connection_for(&connections, &caller, Method::DeleteConnection, name).await?;
            connections
                .delete(&format!("{RESOURCE_PREFIX}{}", record.id))
                .await?;
            tracing::info!("connection deleted");
            Ok(Response::new(pb::DeleteConnectionResponse {}))
        }
        .instrument(span)
        .await;
        audit.finish(result, one)
    }

    async fn start_authorization(
        &self,
        req: Request<pb::StartAuthorizationRequest>,
    ) -> Result<Response<pb::StartAuthorizationResponse>, Status> {
        let span = tracing::info_span!("StartAuthorization", connection = %req.get_ref().name);
        let caller = self.auth.authorize(&req, Method::StartAuthorization);
        let audit = Audit::new(Method::StartAuthorization, &caller, &req.get_ref().name);
        let result = async move {
            let caller = caller?;
            let connections = self.ready.get().await?;
            let r = req.get_ref();
            let name = convert::connection_ref("name", &r.name)?;
            // The request's own argument is checked before the connection's state.
            if !r.no_redirect && !r.redirect_uri.trim().is_empty() {
                validate_redirect_uri("redirect_uri", r.redirect_uri.trim())?;
            }
            let record =
                connection_for(&connections, &caller, Method::StartAuthorization, name).await?;
            let started = authorize::start(
                &connections,
                &format!("{RESOURCE_PREFIX}{}", record.id),
                &r.redirect_uri,
                r.no_redirect,
            )
            .await?;
            Ok(Response::new(pb::StartAuthorizationResponse {
                authorize_url: started.authorize_url,
                state: started.state,
                redirect_uri: started.redirect_uri.unwrap_or_default(),
                expire_time: Some(timestamp(started.expire_time)),
            }))
        }
        .instrument(span)
        .await;
        audit.finish(result, one)
    }

    async fn complete_authorization(
        &self,
        req: Request<pb::CompleteAuthorizationRequest>,
    ) -> Result<Response<pb::CompleteAuthorizationResponse>, Status> {
        let span = tracing::info_span!("CompleteAuthorization");
        let caller = self.auth.authorize(&req, Method::CompleteAuthorization);
        let mut audit = Audit::new(Method::CompleteAuthorization, &caller, "");
        let result = async {
            let caller = caller?;
            let connections = self.ready.get().await?;
            let r = req.get_ref();
            // The state names the connection; its name is not echoed to a foreign caller.
            let allowed = |record: &ConnectionRecord| {
                if caller.may_use(&record.group) {
                    Ok(())
                } else {
                    Err(caller.connection_denied(
                        Method::CompleteAuthorization,
                        "the connection of this state",
                    ))
                }
            };
            let record = authorize::complete(&connections, &r.state, &r.code, allowed).await?;
            audit.set_connection(&record.display_name);
            Ok(Response::new(pb::CompleteAuthorizationResponse {
                connection: Some(to_proto(&record)),
            }))
        }
        .instrument(span)
        .await;
        audit.finish(result, one)
    }

    async fn test_connection(
        &self,
        req: Request<pb::TestConnectionRequest>,
    ) -> Result<Response<pb::TestConnectionResponse>, Status> {
        let span = tracing::info_span!("TestConnection", connection = %req.get_ref().name);
        async move {
            let caller = self.auth.authorize(&req, Method::TestConnection)?;
            let connections = self.ready.get().await?;
            let name = convert::connection_ref("name", &req.get_ref().name)?;
            let record =
                connection_for(&connections, &caller, Method::TestConnection, name).await?;
            let report = probe::test_connection(
                &connections,
                &format!("{RESOURCE_PREFIX}{}", record.id),
                self.allow_private_test_targets,
            )
            .await?;
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
