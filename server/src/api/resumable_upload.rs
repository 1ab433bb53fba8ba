//! The resumable-upload RPCs of CloudTaskService (StartResumableUpload,
//! WriteResumableUpload, QueryUpload, CancelUpload): protobuf in, task calls, protobuf out.

use dropbox_connector_proto::v1 as pb;
use futures::StreamExt;
use tonic::{Request, Response, Status, Streaming};
use tracing::Instrument;

use super::access::connection_for;
use super::cloud_task_service::call_deadline;
use super::{Ready, convert};
use crate::auth::{Audit, Auth, Caller, Method};
use crate::tasks::TaskError;
use crate::tasks::connections::RESOURCE_PREFIX;
use crate::tasks::model::ResumableUpload;
use crate::tasks::resumable::{Progress, StartRequest, Started, WriteMessage, redact};
use crate::tasks::upload::FileOutcome;
use crate::transport::idle::idle_limited;

pub async fn start(
    ready: &Ready,
    auth: &Auth,
    req: Request<pb::StartResumableUploadRequest>,
) -> Result<Response<pb::StartResumableUploadResponse>, Status> {
    let caller = auth.authorize(&req, Method::StartResumableUpload);
    let (metadata, _, r) = req.into_parts();
    let audit = Audit::new(Method::StartResumableUpload, &caller, &r.connection);
    let span =
        tracing::info_span!("StartResumableUpload", connection = %r.connection, path = %r.path);
    let result = async move {
        let caller = caller?;
        if r.path.is_empty() || r.path == "/" {
            return Err(TaskError::invalid(
                "path",
                "name the file to upload, e.g. \"/reports/2026/q3.csv\"",
            )
            .into());
        }
        let start = StartRequest {
            overwrite: convert::overwrite(r.overwrite.as_ref())?,
            modified: convert::opt_timestamp("modified_time", r.modified_time.as_ref())?,
            autorename: r.autorename,
            size: r.size,
            content_hash: Some(r.content_hash).filter(|h| !h.is_empty()),
            path: r.path,
            owner: caller.upload_owner().to_owned(),
        };
        let name = convert::connection_name(&r.connection)?;
        let connections = ready.get().await?;
        let record =
            connection_for(&connections, &caller, Method::StartResumableUpload, name).await?;
        let client = connections
            .connection_client_of(&record)?
            .with_deadline(call_deadline(&metadata));
        let uploads = ready.uploads().await?;
        let started = uploads.start(&client, start).await?;
        Ok(Response::new(match started {
            Started::Upload { id, expire_time } => pb::StartResumableUploadResponse {
                upload_id: id,
                expire_time: Some(convert::timestamp(expire_time)),
                skipped: None,
            },
            Started::Skipped { reason, existing } => {
                let name = existing.name().to_owned();
                pb::StartResumableUploadResponse {
                    upload_id: String::new(),
                    expire_time: None,
                    skipped: Some(pb::Skipped {
                        reason,
                        existing: Some(convert::metadata(&existing, name)),
                    }),
                }
            }
        }))
    }
    .instrument(span)
    .await;
    audit.finish(result, |r| u64::from(!r.get_ref().upload_id.is_empty()))
}

/// The upload `id`, if it belongs to `caller` and its connection is still one of the
/// caller's (groups can change while an upload is under way).
async fn owned_upload(
    ready: &Ready,
    caller: &Caller,
    method: Method,
    id: &str,
) -> Result<ResumableUpload, Status> {
    let upload = ready.uploads().await?.get(id).await?;
    caller.check_upload_owner(method, &upload.owner)?;
    let connections = ready.get().await?;
    connection_for(
        &connections,
        caller,
        method,
        &format!("{RESOURCE_PREFIX}{}", upload.connection_id),
    )
    .await?;
    Ok(upload)
}

fn write_message(m: pb::WriteResumableUploadRequest) -> WriteMessage {
    WriteMessage {
        offset: m.write_offset,
        data: bytes::Bytes::from(m.data),
        finish: m.finish_write,
        content_hash: Some(m.content_hash).filter(|h| !h.is_empty()),
    }
}

/// The next message of an idle-limited client stream: `None` at its end, an error for a
/// broken stream or one that went silent.
pub(super) async fn next_message<S, T>(stream: &mut S) -> Result<Option<T>, Status>
where
    S: futures::Stream<Item = Result<Result<T, Status>, TaskError>> + Unpin,
{
    match stream.next().await {
        None => Ok(None),
        Some(Err(idle)) => Err(idle.into()),
        Some(Ok(message)) => message.map(Some),
    }
}

/// A stream that goes silent for `stream_idle` ends with STREAM_IDLE and gives up its
/// lease on the upload, so the client can resume on a new stream.
pub async fn write(
    ready: &Ready,
    auth: &Auth,
    stream_idle: std::time::Duration,
    req: Request<Streaming<pb::WriteResumableUploadRequest>>,
) -> Result<Response<pb::WriteResumableUploadResponse>, Status> {
    // The role is checked before the stream is read, the owner on its first message.
    let caller = auth.authorize(&req, Method::WriteResumableUpload);
    let mut audit = Audit::new(Method::WriteResumableUpload, &caller, "");
    let caller = match caller {
        Ok(c) => c,
        Err(e) => return Err(audit.fail(e.into())),
    };
    let deadline = call_deadline(req.metadata());
    let mut stream = idle_limited(req.into_inner(), stream_idle);
    let first = match next_message(&mut stream).await {
        Ok(Some(m)) => m,
        Ok(None) => {
            return Err(audit.fail(
                TaskError::invalid(
                    "upload_id",
                    "the stream was empty; the first message names the upload (upload_id)",
                )
                .into(),
            ));
        }
        Err(e) => return Err(audit.fail(e)),
    };
    if first.upload_id.is_empty() {
        return Err(audit.fail(
            TaskError::invalid(
                "upload_id",
                "the first message must name the upload: set upload_id from StartResumableUpload",
            )
            .into(),
        ));
    }
    let id = first.upload_id.clone();
    let span = tracing::info_span!("WriteResumableUpload", upload_id = %redact(&id));
    let audit_ref = &mut audit;
    let result = async move {
        let owned = owned_upload(ready, &caller, Method::WriteResumableUpload, &id).await?;
        audit_ref.set_connection(&format!("{RESOURCE_PREFIX}{}", owned.connection_id));
        let uploads = ready.uploads().await?;
        let lease = uploads.lease(&id)?;
        let upload = uploads.get(&id).await?;
        let connections = ready.get().await?;
        let client = connections
            .connection_client(&format!("{RESOURCE_PREFIX}{}", upload.connection_id))
            .await?
            .with_deadline(deadline);
        let messages = stream.map(|m| match m? {
            Ok(m) if !m.upload_id.is_empty() && m.upload_id != id => Err(TaskError::invalid(
                "upload_id",
                "one stream writes one upload; leave upload_id empty after the first message",
            )),
            Ok(m) => Ok(write_message(m)),
            Err(status) => {
                tracing::info!(code = ?status.code(), "resumable upload stream broke");
                Err(TaskError::Cancelled)
            }
        });
        let progress = uploads
            .write(&lease, &client, upload, write_message(first), messages)
            .await?;
        tracing::info!(
            persisted = progress.persisted_size,
            finished = progress.outcome.is_some(),
            "resumable upload stream ended"
        );
        Ok(Response::new(pb::WriteResumableUploadResponse {
            persisted_size: progress.persisted_size,
            result: file_result(&progress),
        }))
    }
    .instrument(span)
    .await;
    audit.finish(result, |r| u64::from(r.get_ref().result.is_some()))
}

pub async fn query(
    ready: &Ready,
    auth: &Auth,
    req: Request<pb::QueryUploadRequest>,
) -> Result<Response<pb::QueryUploadResponse>, Status> {
    let caller = auth.authorize(&req, Method::QueryUpload)?;
    let id = req.into_inner().upload_id;
    let span = tracing::info_span!("QueryUpload", upload_id = %redact(&id));
    async move {
        check_id(&id)?;
        owned_upload(ready, &caller, Method::QueryUpload, &id).await?;
        let progress = ready.uploads().await?.query(&id).await?;
        Ok(Response::new(pb::QueryUploadResponse {
            persisted_size: progress.persisted_size,
            result: file_result(&progress),
            expire_time: Some(convert::timestamp(progress.expire_time)),
            path: progress.path,
        }))
    }
    .instrument(span)
    .await
}

pub async fn cancel(
    ready: &Ready,
    auth: &Auth,
    req: Request<pb::CancelUploadRequest>,
) -> Result<Response<pb::CancelUploadResponse>, Status> {
    let caller = auth.authorize(&req, Method::CancelUpload);
    let mut audit = Audit::new(Method::CancelUpload, &caller, "");
    let id = req.into_inner().upload_id;
    let span = tracing::info_span!("CancelUpload", upload_id = %redact(&id));
    let audit_ref = &mut audit;
    let result = async move {
        let caller = caller?;
        check_id(&id)?;
        let owned = owned_upload(ready, &caller, Method::CancelUpload, &id).await?;
        audit_ref.set_connection(&format!("{RESOURCE_PREFIX}{}", owned.connection_id));
        let uploads = ready.uploads().await?;
        // Not while a stream is writing it: that stream could still commit.
        let _lease = uploads.lease(&id)?;
        uploads.cancel(&id).await?;
        tracing::info!("resumable upload cancelled");
        Ok(Response::new(pb::CancelUploadResponse {}))
    }
    .instrument(span)
    .await;
    audit.finish(result, |_| 1)
}

fn check_id(id: &str) -> Result<(), TaskError> {
    if id.is_empty() {
        return Err(TaskError::invalid(
            "upload_id",
            "name the upload: the upload_id from StartResumableUpload",
        ));
    }
    Ok(())
}

fn file_result(progress: &Progress) -> Option<pb::FileResult> {
    use pb::file_result::Outcome;
    let name = crate::tasks::dropbox::paths::file_name(&progress.path).to_owned();
    let outcome = match progress.outcome.as_ref()? {
        FileOutcome::Uploaded(meta) => {
            Outcome::Uploaded(convert::file_metadata(meta, name.clone()))
        }
        FileOutcome::Skipped { reason, existing } => Outcome::Skipped(pb::Skipped {
            reason: reason.clone(),
            existing: Some(convert::metadata(existing, name.clone())),
        }),
        // Failures are the call's status, never stored.
        FileOutcome::Failed(_) => return None,
    };
    Some(pb::FileResult {
        relative_path: name,
        outcome: Some(outcome),
    })
}
