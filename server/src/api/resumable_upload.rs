//! The resumable-upload RPCs of CloudTaskService (StartResumableUpload,
//! WriteResumableUpload, QueryUpload, CancelUpload): protobuf in, task calls, protobuf out.

use dropbox_connector_proto::v1 as pb;
use futures::StreamExt;
use tonic::{Request, Response, Status, Streaming};
use tracing::Instrument;

use super::cloud_task_service::call_deadline;
use super::{Ready, convert};
use crate::tasks::TaskError;
use crate::tasks::connections::RESOURCE_PREFIX;
use crate::tasks::resumable::{Progress, StartRequest, Started, WriteMessage, redact};
use crate::tasks::upload::FileOutcome;
use crate::transport::idle::idle_limited;

pub async fn start(
    ready: &Ready,
    req: Request<pb::StartResumableUploadRequest>,
) -> Result<Response<pb::StartResumableUploadResponse>, Status> {
    let (metadata, _, r) = req.into_parts();
    let span =
        tracing::info_span!("StartResumableUpload", connection = %r.connection, path = %r.path);
    async move {
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
        };
        let name = convert::connection_name(&r.connection)?;
        let connections = ready.get().await?;
        let (client, watch) = connections.client_watched(name).await?;
        let client = client.with_deadline(call_deadline(&metadata));
        let uploads = ready.uploads().await?;
        let started = uploads
            .start(&client, watch.connection_id(), start)
            .await
            .map_err(|e| watch.check(e))?;
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
    .await
}

fn write_message(m: pb::WriteResumableUploadRequest) -> WriteMessage {
    WriteMessage {
        offset: m.write_offset,
        data: bytes::Bytes::from(m.data),
        finish: m.finish_write,
        content_hash: Some(m.content_hash).filter(|h| !h.is_empty()),
    }
}

/// A stream that goes silent for `stream_idle` ends with STREAM_IDLE and gives up its
/// lease on the upload, so the client can resume on a new stream.
pub async fn write(
    ready: &Ready,
    stream_idle: std::time::Duration,
    req: Request<Streaming<pb::WriteResumableUploadRequest>>,
) -> Result<Response<pb::WriteResumableUploadResponse>, Status> {
    let deadline = call_deadline(req.metadata());
    let mut stream = idle_limited(req.into_inner(), stream_idle);
    let Some(first) = stream.next().await.transpose()?.transpose()? else {
        return Err(TaskError::invalid(
            "upload_id",
            "the stream was empty; the first message names the upload (upload_id)",
        )
        .into());
    };
    if first.upload_id.is_empty() {
        return Err(TaskError::invalid(
            "upload_id",
            "the first message must name the upload: set upload_id from StartResumableUpload",
        )
        .into());
    }
    let id = first.upload_id.clone();
    let span = tracing::info_span!("WriteResumableUpload", upload_id = %redact(&id));
    async move {
        let uploads = ready.uploads().await?;
        let lease = uploads.lease(&id)?;
        let upload = uploads.get(&id).await?;
        let connections = ready.get().await?;
        let (client, watch) = connections
            .client_watched(&format!("{RESOURCE_PREFIX}{}", upload.connection_id))
            .await?;
        let client = client.with_deadline(deadline);
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
            .await
            .map_err(|e| watch.check(e))?;
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
    .await
}

pub async fn query(
    ready: &Ready,
    req: Request<pb::QueryUploadRequest>,
) -> Result<Response<pb::QueryUploadResponse>, Status> {
    let id = req.into_inner().upload_id;
    let span = tracing::info_span!("QueryUpload", upload_id = %redact(&id));
    async move {
        check_id(&id)?;
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
    req: Request<pb::CancelUploadRequest>,
) -> Result<Response<pb::CancelUploadResponse>, Status> {
    let id = req.into_inner().upload_id;
    let span = tracing::info_span!("CancelUpload", upload_id = %redact(&id));
    async move {
        check_id(&id)?;
        let uploads = ready.uploads().await?;
        // Not while a stream is writing it: that stream could still commit.
        let _lease = uploads.lease(&id)?;
        uploads.cancel(&id).await?;
        tracing::info!("resumable upload cancelled");
        Ok(Response::new(pb::CancelUploadResponse {}))
    }
    .instrument(span)
    .await
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
    let name = dropbox_client::paths::file_name(&progress.path).to_owned();
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
