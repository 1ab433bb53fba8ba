//! `dropbox_connector.v1.CloudTaskService`: each RPC validates, resolves the connection's
//! client, and runs the task; streaming results go through a small bounded channel.

use std::pin::Pin;

use dropbox_connector_proto::v1 as pb;
use futures::{Stream, StreamExt};
use pb::cloud_task_service_server::CloudTaskService;
use pb::upload_files_request::Message as UploadMsg;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};
use tracing::Instrument;

use super::access::connection_for;
use super::status::{to_item_error, to_status};
use super::{Ready, convert, resumable_upload, task_guard};
use crate::auth::{Audit, Auth, Caller, Method};
use crate::tasks::budget::UploadBudget;
use crate::tasks::connection_client::ConnectionClient;
use crate::tasks::delete::DeleteEvent;
use crate::tasks::download::DownloadEvent;
use crate::tasks::filter::ListingLimits;
use crate::tasks::upload::{FileOutcome, UploadMessage};
use crate::tasks::{self, TaskError};
use crate::transport::idle::idle_limited;

/// Messages buffered between a task and the gRPC stream. Small: download chunks are up
/// to 1 MiB each, and a slow reader must slow the Dropbox read down.
const CHANNEL_DEPTH: usize = 4;

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

pub struct CloudTasksApi {
    ready: Ready,
    auth: Auth,
    /// How long a client stream may send nothing before it is closed.
    stream_idle: std::time::Duration,
    /// What UploadFiles calls may buffer, together with resumable uploads.
    budget: UploadBudget,
    listing: ListingLimits,
}

impl CloudTasksApi {
    pub fn new(ready: Ready, auth: Auth) -> CloudTasksApi {
        CloudTasksApi {
            ready,
            auth,
            stream_idle: std::time::Duration::from_secs(60),
            budget: UploadBudget::default(),
            listing: ListingLimits::default(),
        }
    }

    /// Bounds for sorted List and filtered Download and Delete (`listing.*`).
    pub fn with_listing(mut self, listing: ListingLimits) -> CloudTasksApi {
        self.listing = listing;
        self
    }

    /// The server's stream idle timeout and upload buffer budget.
    pub fn with_limits(mut self, stream_idle: std::time::Duration, budget: UploadBudget) -> Self {
        self.stream_idle = stream_idle;
        self.budget = budget;
        self
    }

    /// The connection's client, if `caller` may use the connection for `method`.
    /// `metadata` is the call's: its `grpc-timeout` bounds the client's retries and waits.
    async fn client(
        &self,
        caller: &Caller,
        method: Method,
        connection: &str,
        metadata: &tonic::metadata::MetadataMap,
    ) -> Result<ConnectionClient, Status> {
        let name = convert::connection_name(connection)?;
        let connections = self.ready.get().await?;
        let record = connection_for(&connections, caller, method, name).await?;
        let client = connections.connection_client_of(&record)?;
        Ok(client.with_deadline(call_deadline(metadata)))
    }
}

/// Runs `task` in the background and streams what it emits, converted by `to_proto`;
/// a panic in the task ends the stream with INTERNAL.
fn spawn_stream<E, T, F, Fut, P>(span: tracing::Span, task: F, to_proto: P) -> BoxStream<T>
where
    E: Send + 'static,
    T: Send + 'static,
    F: FnOnce(tasks::Events<E>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
    P: Fn(E) -> T + Send + 'static,
{
    spawn_stream_queued(span, CHANNEL_DEPTH, task, to_proto)
}

/// [`spawn_stream`] with `depth` events queued before the task waits for the reader.
fn spawn_stream_queued<E, T, F, Fut, P>(
    span: tracing::Span,
    depth: usize,
    task: F,
    to_proto: P,
) -> BoxStream<T>
where
    E: Send + 'static,
    T: Send + 'static,
    F: FnOnce(tasks::Events<E>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
    P: Fn(E) -> T + Send + 'static,
{
    let rx = task_guard::spawn_guarded(span, depth, task);
    Box::pin(ReceiverStream::new(rx).map(move |r| r.map(&to_proto).map_err(|e| to_status(&e))))
}

fn upload_message(m: pb::UploadFilesRequest) -> Result<UploadMessage, TaskError> {
    match m.message {
        Some(UploadMsg::Spec(_)) => Ok(UploadMessage::Spec),
        Some(UploadMsg::FileHeader(h)) => Ok(UploadMessage::Header(convert::file_header(h)?)),
        Some(UploadMsg::Chunk(c)) => Ok(UploadMessage::Chunk {
            offset: c.offset,
            data: bytes::Bytes::from(c.data),
        }),
        Some(UploadMsg::FileEnd(e)) => Ok(UploadMessage::End {
            content_hash: convert::file_end(e)?,
        }),
        None => Err(TaskError::invalid(
            "message",
            "an UploadFilesRequest must set one of spec, file_header, chunk, file_end",
        )),
    }
}

fn file_result(r: tasks::upload::FileResult) -> pb::FileResult {
    use pb::file_result::Outcome;
    let outcome = match r.outcome {
        FileOutcome::Uploaded(meta) => {
            Outcome::Uploaded(convert::file_metadata(&meta, r.relative_path.clone()))
        }
        FileOutcome::Skipped { reason, existing } => Outcome::Skipped(pb::Skipped {
            reason,
            existing: Some(convert::metadata(&existing, r.relative_path.clone())),
        }),
        FileOutcome::Failed(e) => Outcome::Error(to_item_error(&e)),
    };
    pb::FileResult {
        relative_path: r.relative_path,
        outcome: Some(outcome),
    }
}

fn download_message(e: DownloadEvent) -> pb::DownloadFilesResponse {
    use pb::download_files_response::Message;
    let message = match e {
        DownloadEvent::Header {
            metadata,
            relative_path,
            offset,
            length,
            modified_time,
        } => Message::Header(pb::DownloadHeader {
            metadata: Some(convert::file_metadata(&metadata, relative_path)),
            offset,
            length,
            modified_time: modified_time.map(convert::timestamp),
        }),
        DownloadEvent::Chunk { offset, data } => Message::Chunk(pb::DataChunk {
            offset,
            data: data.to_vec(),
        }),
        DownloadEvent::End {
            content_hash,
            bytes_sent,
        } => Message::End(pb::DownloadEnd {
            content_hash,
            bytes_sent,
        }),
        DownloadEvent::Failed { path, error } => Message::Error(pb::DownloadError {
            path,
            error: Some(to_item_error(&error)),
        }),
        DownloadEvent::Skipped {
            path,
            relative_path,
            reason,
            metadata,
        } => Message::Skipped(pb::DownloadSkipped {
            path,
            skipped: Some(pb::Skipped {
                reason,
                existing: Some(convert::file_metadata(&metadata, relative_path)),
            }),
        }),
    };
    pb::DownloadFilesResponse {
        message: Some(message),
    }
}

fn delete_message(dry_run: bool) -> impl Fn(DeleteEvent) -> pb::DeleteItemsResponse {
    use pb::delete_items_response::Outcome;
    move |e| match e {
        DeleteEvent::Deleted { path, item } => pb::DeleteItemsResponse {
            path,
            outcome: Some(Outcome::Deleted(convert::item(&item))),
            dry_run,
        },
        DeleteEvent::Failed { path, error } => pb::DeleteItemsResponse {
            path,
            outcome: Some(Outcome::Error(to_item_error(&error))),
            dry_run,
        },
    }
}

/// Audit counts: files uploaded, items deleted.
fn uploaded(r: &pb::UploadFilesResponse) -> u64 {
    r.results
        .iter()
        .filter(|f| matches!(f.outcome, Some(pb::file_result::Outcome::Uploaded(_))))
        .count() as u64
}

fn deleted(r: &pb::DeleteItemsResponse) -> u64 {
    u64::from(matches!(
        r.outcome,
        Some(pb::delete_items_response::Outcome::Deleted(_))
    ))
}

#[tonic::async_trait]
impl CloudTaskService for CloudTasksApi {
    type UploadFilesStream = BoxStream<pb::UploadFilesResponse>;

    async fn upload_files(
        &self,
        req: Request<Streaming<pb::UploadFilesRequest>>,
    ) -> Result<Response<Self::UploadFilesStream>, Status> {
        // The role is checked before a byte of the stream is read.
        let caller = self.auth.authorize(&req, Method::UploadFiles);
        let mut audit = Audit::new(Method::UploadFiles, &caller, "");
        let caller = match caller {
            Ok(c) => c,
            Err(e) => return Err(audit.fail(e.into())),
        };
        let (metadata, _, stream) = req.into_parts();
        let mut stream = idle_limited(stream, self.stream_idle);
        let first = match resumable_upload::next_message(&mut stream).await {
            Ok(m) => m,
            Err(e) => return Err(audit.fail(e)),
        };
        let Some(pb::UploadFilesRequest {
            message: Some(UploadMsg::Spec(spec)),
        }) = first
        else {
            let what = if first.is_none() {
                "the stream was empty"
            } else {
                "the first message was not an UploadSpec"
            };
            return Err(audit.fail(
                TaskError::StreamOutOfOrder(format!("{what}; send the UploadSpec first")).into(),
            ));
        };
        audit.set_connection(&spec.connection);
        let span = tracing::info_span!("UploadFiles", connection = %spec.connection, destination = %spec.destination_folder);
        let prepared = task_guard::guarded(async {
            let upload = convert::upload_spec(&spec)?;
            let client = self
                .client(&caller, Method::UploadFiles, &spec.connection, &metadata)
                .await?;
            Ok((upload, client))
        })
        .instrument(span.clone())
        .await;
        let (upload, client) = match prepared {
            Ok(p) => p,
            Err(e) => return Err(audit.fail(e)),
        };
        // A broken stream (client gone, reset) ends the call; nothing open is committed.
        let messages = stream.map(|m| match m? {
            Ok(m) => upload_message(m),
            Err(status) if status.code() == tonic::Code::OutOfRange => {
                Err(convert::oversize_message(status.message()))
            }
            Err(status) => {
                tracing::info!(code = ?status.code(), "upload stream broke");
                Err(TaskError::Cancelled)
            }
        });
        let budget = self.budget.clone();
        let stream = spawn_stream_queued(
            span,
            tasks::upload::RESULT_QUEUE_DEPTH,
            move |tx| async move {
                tasks::run_to_channel(
                    tx.clone(),
                    tasks::upload::upload_files(&client, &upload, &budget, messages, &tx),
                )
                .await
            },
            // One message per finished file: small, and the caller sees progress.
            |r: tasks::upload::QueuedResult| pb::UploadFilesResponse {
                results: vec![file_result(r.take())],
            },
        );
        Ok(Response::new(Box::pin(audit.stream(stream, uploaded))))
    }

    type ListItemsStream = BoxStream<pb::ListItemsResponse>;

    async fn list_items(
        &self,
        req: Request<pb::ListItemsRequest>,
    ) -> Result<Response<Self::ListItemsStream>, Status> {
        let caller = self.auth.authorize(&req, Method::ListItems)?;
        let (metadata, _, r) = req.into_parts();
        let span = tracing::info_span!("ListItems", connection = %r.connection);
        let filter = convert::filter(&r.filter.unwrap_or_default())?;
        let client = self
            .client(&caller, Method::ListItems, &r.connection, &metadata)
            .instrument(span.clone())
            .await?;
        let limits = self.listing;
        let stream = spawn_stream(
            span,
            move |tx| async move {
                tasks::run_to_channel(
                    tx.clone(),
                    tasks::list::list_items(&client, &filter, limits, &tx),
                )
                .await
            },
            |items: Vec<tasks::filter::RemoteItem>| pb::ListItemsResponse {
                items: items.iter().map(convert::item).collect(),
            },
        );
        Ok(Response::new(stream))
    }

    type DownloadFilesStream = BoxStream<pb::DownloadFilesResponse>;

    async fn download_files(
        &self,
        req: Request<pb::DownloadFilesRequest>,
    ) -> Result<Response<Self::DownloadFilesStream>, Status> {
        use pb::download_files_request::Selection as Sel;
        let caller = self.auth.authorize(&req, Method::DownloadFiles)?;
        let (metadata, _, r) = req.into_parts();
        let span = tracing::info_span!("DownloadFiles", connection = %r.connection);
        let selection = match &r.selection {
            Some(Sel::Filter(f)) => convert::selection(Some(f), None)?,
            Some(Sel::Items(i)) => convert::selection(None, Some(i))?,
            None => convert::selection(None, None)?,
        };
        // (With a filter, the count is only known after listing: the task checks it.)
        if r.range.is_some() && matches!(&selection, tasks::Selection::Items(i) if i.len() != 1) {
            return Err(TaskError::invalid("range", "a byte range needs exactly one item").into());
        }
        let range = r.range.as_ref().map(convert::byte_range).transpose()?;
        let options = convert::download_options(&r)?;
        let client = self
            .client(&caller, Method::DownloadFiles, &r.connection, &metadata)
            .instrument(span.clone())
            .await?;
        let limits = self.listing;
        let stream = spawn_stream(
            span,
            move |tx| async move {
                tasks::run_to_channel(
                    tx.clone(),
                    tasks::download::download_files(
                        &client, &selection, range, &options, limits, &tx,
                    ),
                )
                .await
            },
            download_message,
        );
        Ok(Response::new(stream))
    }

    async fn create_folder(
        &self,
        req: Request<pb::CreateFolderRequest>,
    ) -> Result<Response<pb::CreateFolderResponse>, Status> {
        let caller = self.auth.authorize(&req, Method::CreateFolder);
        let (metadata, _, r) = req.into_parts();
        let audit = Audit::new(Method::CreateFolder, &caller, &r.connection);
        let span = tracing::info_span!("CreateFolder", connection = %r.connection, path = %r.path);
        let result = async move {
            let caller = caller?;
            let path = convert::new_folder_path(&r.path)?;
            let client = self
                .client(&caller, Method::CreateFolder, &r.connection, &metadata)
                .await?;
            let (folder, created) =
                tasks::create_folder::create_folder(&client, &path, r.exist_ok).await?;
            let name = folder.name.clone();
            Ok(Response::new(pb::CreateFolderResponse {
                folder: Some(convert::folder_metadata(&folder, name)),
                created,
            }))
        }
        .instrument(span)
        .await;
        audit.finish(result, |r| u64::from(r.get_ref().created))
    }

    type DeleteItemsStream = BoxStream<pb::DeleteItemsResponse>;

    async fn delete_items(
        &self,
        req: Request<pb::DeleteItemsRequest>,
    ) -> Result<Response<Self::DeleteItemsStream>, Status> {
        use pb::delete_items_request::Selection as Sel;
        let caller = self.auth.authorize(&req, Method::DeleteItems);
        let (metadata, _, r) = req.into_parts();
        let span =
            tracing::info_span!("DeleteItems", connection = %r.connection, dry_run = r.dry_run);
        let audit = Audit::new(Method::DeleteItems, &caller, &r.connection).dry_run(r.dry_run);
        let prepared = async {
            let caller = caller?;
            let selection = match &r.selection {
                Some(Sel::Filter(f)) => convert::delete_selection(Some(f), None)?,
                Some(Sel::Items(i)) => convert::delete_selection(None, Some(i))?,
                None => convert::delete_selection(None, None)?,
            };
            let client = self
                .client(&caller, Method::DeleteItems, &r.connection, &metadata)
                .instrument(span.clone())
                .await?;
            Ok::<_, Status>((selection, client))
        }
        .await;
        let (selection, client) = match prepared {
            Ok(p) => p,
            Err(e) => return Err(audit.fail(e)),
        };
        let dry_run = r.dry_run;
        let limits = self.listing;
        let stream: Self::DeleteItemsStream = spawn_stream(
            span,
            move |tx| async move {
                tasks::run_to_channel(
                    tx.clone(),
                    tasks::delete::delete_items(&client, &selection, dry_run, limits, &tx),
                )
                .await
            },
            delete_message(dry_run),
        );
        Ok(Response::new(Box::pin(audit.stream(stream, deleted))))
    }

    async fn start_resumable_upload(
        &self,
        req: Request<pb::StartResumableUploadRequest>,
    ) -> Result<Response<pb::StartResumableUploadResponse>, Status> {
        resumable_upload::start(&self.ready, &self.auth, req).await
    }

    async fn write_resumable_upload(
        &self,
        req: Request<Streaming<pb::WriteResumableUploadRequest>>,
    ) -> Result<Response<pb::WriteResumableUploadResponse>, Status> {
        task_guard::guarded(resumable_upload::write(
            &self.ready,
            &self.auth,
            self.stream_idle,
            req,
        ))
        .await
    }

    async fn query_upload(
        &self,
        req: Request<pb::QueryUploadRequest>,
    ) -> Result<Response<pb::QueryUploadResponse>, Status> {
        resumable_upload::query(&self.ready, &self.auth, req).await
    }

    async fn cancel_upload(
        &self,
        req: Request<pb::CancelUploadRequest>,
    ) -> Result<Response<pb::CancelUploadResponse>, Status> {
        resumable_upload::cancel(&self.ready, &self.auth, req).await
    }
}

/// When the caller stops waiting, from its `grpc-timeout` header (`<digits><unit>`, unit
/// one of H M S m u n); `None` without one.
pub(super) fn call_deadline(
    metadata: &tonic::metadata::MetadataMap,
) -> Option<tokio::time::Instant> {
    let raw = metadata.get("grpc-timeout")?.to_str().ok()?;
    let unit = raw.len().checked_sub(1).and_then(|i| raw.get(i..))?;
    let amount: u64 = raw.get(..raw.len() - 1)?.parse().ok()?;
    let timeout = match unit {
        "H" => std::time::Duration::from_secs(amount.saturating_mul(3600)),
        "M" => std::time::Duration::from_secs(amount.saturating_mul(60)),
        "S" => std::time::Duration::from_secs(amount),
        "m" => std::time::Duration::from_millis(amount),
        "u" => std::time::Duration::from_micros(amount),
        "n" => std::time::Duration::from_nanos(amount),
        _ => return None,
    };
    tokio::time::Instant::now().checked_add(timeout)
}

#[cfg(test)]
mod tests {
    use super::call_deadline;
    use std::time::Duration;

    fn deadline_in(value: &str) -> Option<Duration> {
        let mut m = tonic::metadata::MetadataMap::new();
        m.insert("grpc-timeout", value.parse().unwrap());
        call_deadline(&m).map(|d| d - tokio::time::Instant::now())
    }

    #[test]
    fn grpc_timeout_sets_the_deadline() {
        assert!(call_deadline(&tonic::metadata::MetadataMap::new()).is_none());
        let s = deadline_in("30S").unwrap();
        assert!(s <= Duration::from_secs(30) && s > Duration::from_secs(29));
        assert!(deadline_in("1500m").unwrap() <= Duration::from_millis(1500));
        assert!(deadline_in("2H").unwrap() > Duration::from_secs(7000));
        assert!(deadline_in("5x").is_none());
        assert!(deadline_in("S").is_none());
    }
}
