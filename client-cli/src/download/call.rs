//! One DownloadFiles call: the stream goes through the [decoder](super::decoder), and each
//! event it gives is written to a partial, verified, reported and counted.

use std::path::Path;

use dropbox_connector_proto::v1::delete_items_response::Outcome as DeleteOutcome;
use dropbox_connector_proto::v1::download_files_request::Selection;
use dropbox_connector_proto::v1::{
    ByteRange, DeleteItemsRequest, DownloadFilesRequest, ErrorReason, ItemMetadata, ItemRef,
    ItemRefs, delete_items_request,
};
use serde_json::{Value, json};
use tokio_stream::StreamExt;

use super::decoder::{Decoder, Event, FileKey};
use super::report::{FileError, Report};
use super::sink::{self, Writing};
use super::tally::Tally;
use super::{Planned, stable_ref};
use crate::Ctx;
use crate::args::DownloadArgs;
use crate::exit::CliError;
use crate::output::{human_size, item_error_json, item_error_text, local_error_json};
use crate::partial::Partial;
use crate::progress::Progress;
use crate::reason::{LocalReason, server_reason};

/// What every file of a call shares.
pub(super) struct Call<'a> {
    pub(super) ctx: &'a Ctx,
    pub(super) connection: &'a str,
    pub(super) base: &'a Path,
    pub(super) args: &'a DownloadArgs,
    pub(super) progress: &'a Progress,
}

/// Server reasons after which a partial's bytes can never complete the download.
fn bytes_are_useless(reason: Option<ErrorReason>) -> bool {
    matches!(
        reason,
        Some(
            ErrorReason::ContentHashMismatch
                | ErrorReason::PathNotFound
                | ErrorReason::PathWrongKind
        )
    )
}

impl Call<'_> {
    /// Continues one file from its partial with a ranged call (a range needs a call of its
    /// own). A partial that is already complete is verified and moved into place without a
    /// call.
    pub(super) async fn resumed(&self, planned: &Planned) -> Result<usize, (usize, CliError)> {
        let progress = self.progress;
        let local_failure = |text: String| {
            progress.inc(planned.item.size);
            let error = FileError::local(LocalReason::LocalIo, text);
            Report::error(
                &planned.item,
                &planned.relative,
                Some(&planned.local),
                &error,
            )
            .print(self.ctx, Some(progress));
            Ok(1)
        };
        let mut partial = match sink::open_partial(self.base, planned, true).await {
            Ok(p) => p,
            Err(text) => return local_failure(text),
        };
        let size = planned.item.size;
        let complete_here = partial.resumed_from == size
            && planned
                .item
                .content_hash
                .eq_ignore_ascii_case(&partial.hasher.clone().finish());
        // Only the server decides whether a file held locally is replaced: a complete
        // partial is moved into place without a call only when nothing is held there.
        let complete_here = complete_here && planned.held.is_none();
        if partial.resumed_from >= size && !complete_here {
            // Longer than the file, or all of it but not its bytes: start over.
            if let Err(e) = partial.restart().await {
                return local_failure(format!("cannot empty {}: {e}", partial.path.display()));
            }
        }
        if partial.resumed_from > 0 && !self.ctx.quiet {
            progress.eprintln(&format!(
                "resuming {} at {} bytes ({} of {})",
                planned.relative,
                partial.resumed_from,
                human_size(partial.resumed_from),
                human_size(size)
            ));
        }
        progress.inc(partial.resumed_from);
        if complete_here {
            // No header will come: the listing's client_modified is the same Dropbox time.
            let modified = self
                .args
                .keep_dates
                .then_some(planned.item.client_modified.as_ref())
                .flatten();
            return Ok(self.complete(planned, partial, "", modified).await);
        }
        self.batch(std::slice::from_ref(planned), Some(partial))
            .await
    }

    /// Downloads `batch` with one DownloadFiles call; with `resumed`, `batch` is that
    /// partial's one file and the call asks for the rest of it. Returns the number of failed
    /// files, or on a call error that number plus the error.
    pub(super) async fn batch(
        &self,
        batch: &[Planned],
        resumed: Option<Partial>,
    ) -> Result<usize, (usize, CliError)> {
        let first_offset = resumed.as_ref().map_or(0, |p| p.resumed_from);
        let request = DownloadFilesRequest {
            connection: self.connection.to_string(),
            selection: Some(Selection::Items(ItemRefs {
                items: batch
                    .iter()
                    .map(|p| ItemRef {
                        path: stable_ref(&p.item),
                        rev: p.item.rev.clone(),
                        relative_path: p.key.clone(),
                    })
                    .collect(),
            })),
            range: (first_offset > 0).then_some(ByteRange {
                offset: first_offset,
                length: 0,
            }),
            overwrite: Some(self.args.overwrite),
            local_files: batch.iter().filter_map(|p| p.held.clone()).collect(),
            keep_modified_date: self.args.keep_dates,
        };
        let mut tally =
            Tally::new(batch.iter().map(|p| p.item.size).collect()).already(0, first_offset);
        let mut stream = match self.ctx.tasks().download_files(request).await {
            Ok(r) => r.into_inner(),
            Err(status) => {
                for index in 0..batch.len() {
                    self.progress.inc(tally.settle(index));
                }
                return Err((0, CliError::from_status(&status)));
            }
        };
        let keys = batch.iter().map(|p| FileKey::of(&p.item)).collect();
        let mut state = Receiving {
            call: self,
            batch,
            decoder: Decoder::new(keys, first_offset),
            tally,
            resumed,
            writing: None,
            failed: 0,
        };
        let mut call_error: Option<CliError> = None;
        while let Some(message) = stream.next().await {
            match message {
                Ok(m) => {
                    if let Some(m) = m.message {
                        let events = state.decoder.push(m);
                        state.handle(events).await;
                    }
                }
                Err(status) => {
                    call_error = Some(CliError::from_status(&status));
                    break;
                }
            }
        }
        let cause = call_error.as_ref().map(|e| e.message.clone());
        let events = state.decoder.finish(cause);
        state.handle(events).await;
        match call_error {
            Some(e) => Err((state.failed, e)),
            None => Ok(state.failed),
        }
    }

    /// Verifies a finished download and moves it into place, then reports it (and deletes
    /// the source when asked). Returns 1 when the file or its source's deletion failed, else 0.
    async fn complete(
        &self,
        planned: &Planned,
        partial: Partial,
        server_hash: &str,
        modified_time: Option<&prost_types::Timestamp>,
    ) -> usize {
        let resumed_from = partial.resumed_from;
        match sink::finish(partial, planned, server_hash, modified_time).await {
            Ok(hash) => {
                let mut report = Report::downloaded(
                    &planned.item,
                    &planned.relative,
                    &planned.local,
                    &hash,
                    resumed_from,
                );
                if self.args.delete_source {
                    self.delete_source(&planned.item, &mut report).await;
                }
                report.print(self.ctx, Some(self.progress));
                // A source that was asked to go and stays (changed meanwhile, refused) fails
                // the run, so a scheduler sees it.
                usize::from(report.failed)
            }
            Err((reason, text)) => {
                let error = FileError::local(reason, text);
                Report::error(
                    &planned.item,
                    &planned.relative,
                    Some(&planned.local),
                    &error,
                )
                .print(self.ctx, Some(self.progress));
                1
            }
        }
    }

    /// Deletes the downloaded revision of the source; records the outcome in the report.
    async fn delete_source(&self, item: &ItemMetadata, report: &mut Report) {
        let request = DeleteItemsRequest {
            connection: self.connection.to_string(),
            selection: Some(delete_items_request::Selection::Items(ItemRefs {
                items: vec![ItemRef {
                    path: stable_ref(item),
                    rev: item.rev.clone(),
                    ..Default::default()
                }],
            })),
            dry_run: false,
        };
        let outcome: Result<(), (Value, String)> = async {
            let mut stream = self
                .ctx
                .tasks()
                .delete_items(request)
                .await
                .map_err(|s| status_error(&s))?
                .into_inner();
            let mut deleted = false;
            while let Some(response) = stream.next().await {
                match response.map_err(|s| status_error(&s))?.outcome {
                    Some(DeleteOutcome::Deleted(_)) => deleted = true,
                    Some(DeleteOutcome::Error(e)) => {
                        let text = match server_reason(&e.reason) {
                            Some(ErrorReason::RevisionChanged) => format!(
                                "it changed in Dropbox after it was downloaded, so it was kept ({})",
                                item_error_text(&e)
                            ),
                            _ => item_error_text(&e),
                        };
                        return Err((item_error_json(&e), text));
                    }
                    None => {}
                }
            }
            if deleted {
                Ok(())
            } else {
                Err((Value::Null, "the server reported no deletion".to_string()))
            }
        }
        .await;
        match outcome {
            Ok(()) => {
                report.json["source_deleted"] = json!(true);
                report.human.push_str(", source deleted");
            }
            Err((error, text)) => {
                report.json["source_deleted"] = json!(false);
                report.json["source_delete_error"] = error;
                report.source_warning = Some(format!(
                    "warning: {}: source not deleted: {text}",
                    item.path_display
                ));
                report.failed = true;
            }
        }
    }
}

fn status_error(status: &tonic::Status) -> (Value, String) {
    let e = CliError::from_status(status);
    (
        local_error_json(LocalReason::CallFailed, &e.message),
        e.message,
    )
}

/// The state of one call while its stream is read.
struct Receiving<'a, 'c> {
    call: &'a Call<'c>,
    batch: &'a [Planned],
    decoder: Decoder,
    tally: Tally,
    /// The resumed file's partial, until its header comes.
    resumed: Option<Partial>,
    writing: Option<Writing>,
    /// Files that failed, including those that arrived but did not verify.
    failed: usize,
}

impl Receiving<'_, '_> {
    async fn handle(&mut self, events: Vec<Event>) {
        for event in events {
            match event {
                Event::Start {
                    index,
                    offset,
                    modified_time,
                } => self.start(index, offset, modified_time).await,
                Event::Data { index, data } => self.data(index, &data).await,
                Event::End {
                    index,
                    content_hash,
                } => {
                    self.call.progress.inc(self.tally.settle(index));
                    if let Some(w) = self.writing.take() {
                        self.failed += self
                            .call
                            .complete(
                                &self.batch[index],
                                w.partial,
                                &content_hash,
                                w.modified_time.as_ref(),
                            )
                            .await;
                    }
                }
                Event::Skipped { index, reason } => {
                    // The local file stays: a partial toward replacing it has no use.
                    if let Some(p) = self.resumed.take() {
                        p.discard();
                    }
                    self.call.progress.inc(self.tally.settle(index));
                    let p = &self.batch[index];
                    Report::skipped(&p.item, &p.relative, &p.local, &reason)
                        .print(self.call.ctx, Some(self.call.progress));
                }
                Event::Refused { index, error } => {
                    let useless = bytes_are_useless(server_reason(&error.reason));
                    let note = self.give_up(index, useless);
                    self.settle_and_report(index, &FileError::Server { error, note });
                }
                Event::Failed { index, failure } => {
                    let note = self.give_up(index, false);
                    let text = format!("{}{note}", failure.message());
                    self.settle_and_report(index, &FileError::local(failure.reason(), text));
                }
            }
        }
    }

    async fn start(
        &mut self,
        index: usize,
        offset: u64,
        modified_time: Option<prost_types::Timestamp>,
    ) {
        let batch = self.batch;
        let planned = &batch[index];
        self.call.progress.set_message(&planned.relative);
        let resumed = self.resumed.take();
        match sink::start(
            self.call.base,
            planned,
            index,
            offset,
            modified_time,
            resumed,
        )
        .await
        {
            Ok(w) => self.writing = Some(w),
            Err(text) => {
                self.decoder.abandon();
                self.report_local(index, LocalReason::LocalIo, text);
            }
        }
    }

    async fn data(&mut self, index: usize, data: &[u8]) {
        let Some(w) = self.writing.as_mut() else {
            return;
        };
        match w.write(data).await {
            Ok(()) => self
                .call
                .progress
                .inc(self.tally.add(index, data.len() as u64)),
            Err(text) => {
                let text = format!("{text}{}", w.kept_note());
                self.writing = None;
                self.decoder.abandon();
                self.report_local(index, LocalReason::LocalIo, text);
            }
        }
    }

    /// Lets go of file `index`'s partial after it failed: removed when its bytes can never
    /// complete it (`useless`), else kept for the next run. Returns what to tell the user.
    fn give_up(&mut self, index: usize, useless: bool) -> String {
        match self.writing.take_if(|w| w.index == index) {
            Some(w) if useless => {
                w.partial.discard();
                String::new()
            }
            Some(w) => w.kept_note(),
            None => {
                // The resumed file failed before its header.
                if let Some(p) = self.resumed.take()
                    && useless
                {
                    p.discard();
                }
                String::new()
            }
        }
    }

    fn report_local(&mut self, index: usize, reason: LocalReason, text: String) {
        self.settle_and_report(index, &FileError::local(reason, text));
    }

    fn settle_and_report(&mut self, index: usize, error: &FileError) {
        self.call.progress.inc(self.tally.settle(index));
        self.failed += 1;
        let p = &self.batch[index];
        Report::error(&p.item, &p.relative, Some(&p.local), error)
            .print(self.call.ctx, Some(self.call.progress));
    }
}
