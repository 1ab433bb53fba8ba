//! `dropbox_connector.v1.ConnectionService`.

use dropbox_connector_proto::v1 as pb;
use pb::connection_service_server::ConnectionService;
use tonic::{Request, Response, Status};
use tracing::Instrument;

use super::connection_fields::{apply, new_connection, to_proto};
use super::{Ready, page_token};
use crate::tasks::TaskError;

const DEFAULT_PAGE_SIZE: i32 = 100;
const MAX_PAGE_SIZE: i32 = 1000;

pub struct ConnectionsApi {
    ready: Ready,
}

impl ConnectionsApi {
    pub fn new(ready: Ready) -> ConnectionsApi {
        ConnectionsApi { ready }
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
            let record = self.ready.get().await?.resolve(&req.get_ref().name).await?;
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
                    return Err(TaskError::invalid("page_size", "must not be negative").into());
                }
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
            let mut record = connections.resolve(&c.name).await?;
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
            self.ready.get().await?.delete(&req.get_ref().name).await?;
            tracing::info!("connection deleted");
            Ok(Response::new(pb::DeleteConnectionResponse {}))
        }
        .instrument(span)
        .await
    }

    // Implemented with issue 4 (OAuth and connection tests); until then the contract
    // answers UNIMPLEMENTED rather than pretending.
    async fn start_authorization(
        &self,
        _req: Request<pb::StartAuthorizationRequest>,
    ) -> Result<Response<pb::StartAuthorizationResponse>, Status> {
        Err(Status::unimplemented(
            "StartAuthorization is not available yet",
        ))
    }

    async fn complete_authorization(
        &self,
        _req: Request<pb::CompleteAuthorizationRequest>,
    ) -> Result<Response<pb::CompleteAuthorizationResponse>, Status> {
        Err(Status::unimplemented(
            "CompleteAuthorization is not available yet",
        ))
    }

    async fn test_connection(
        &self,
        _req: Request<pb::TestConnectionRequest>,
    ) -> Result<Response<pb::TestConnectionResponse>, Status> {
        Err(Status::unimplemented("TestConnection is not available yet"))
    }
}
