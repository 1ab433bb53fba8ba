//! `dbxc delete PATH...` and `dbxc delete --folder F [filter flags]`.

use dropbox_connector_proto::v1::delete_items_request::Selection;
use dropbox_connector_proto::v1::delete_items_response::Outcome;
use dropbox_connector_proto::v1::{DeleteItemsRequest, ItemRef, ItemRefs};
use serde_json::{Value, json};
use tokio_stream::StreamExt;

use crate::Ctx;
use crate::args::DeleteArgs;
use crate::exit::CliError;
use crate::filter_args::normalize_remote;
use crate::output::{
    emit_json, emit_text, eprint_text, item_error_json, item_error_text, item_json,
};

/// Runs `dbxc delete`.
pub async fn run(ctx: &Ctx, args: DeleteArgs) -> Result<(), CliError> {
    let connection = ctx.connection()?;
    let selection = match &args.folder {
        Some(folder) => Selection::Filter(args.filter.to_filter(folder)),
        None => {
            if args.filter.is_set() {
                return Err(CliError::usage(
                    "filter flags select items inside a folder: use them with --folder FOLDER, not with PATHs",
                ));
            }
            let mut items = Vec::new();
            for path in &args.paths {
                let path = normalize_remote(path);
                if path.is_empty() {
                    return Err(CliError::usage("refusing to delete the root folder"));
                }
                items.push(ItemRef {
                    path,
                    rev: String::new(),
                    ..Default::default()
                });
            }
            Selection::Items(ItemRefs { items })
        }
    };
    let mut stream = ctx
        .tasks()
        .delete_items(DeleteItemsRequest {
            connection,
            selection: Some(selection),
            dry_run: args.dry_run,
        })
        .await?
        .into_inner();
    let (mut done, mut failed) = (0u64, 0u64);
    while let Some(response) = stream.next().await {
        let response = response?;
        match &response.outcome {
            Some(Outcome::Deleted(item)) => {
                done += 1;
                let outcome = if response.dry_run {
                    "would_delete"
                } else {
                    "deleted"
                };
                if ctx.json {
                    emit_json(&line(
                        &response.path,
                        outcome,
                        response.dry_run,
                        json_item(item),
                        Value::Null,
                    ));
                } else if !ctx.quiet || response.dry_run {
                    let verb = if response.dry_run {
                        "would delete"
                    } else {
                        "deleted"
                    };
                    emit_text(&format!("{verb} {}", display(&response.path, item)));
                }
            }
            Some(Outcome::Error(error)) => {
                failed += 1;
                if ctx.json {
                    emit_json(&line(
                        &response.path,
                        "error",
                        response.dry_run,
                        Value::Null,
                        item_error_json(error),
                    ));
                } else {
                    eprint_text(&format!(
                        "error: {}: {}",
                        response.path,
                        item_error_text(error)
                    ));
                }
            }
            None => {}
        }
    }
    if !ctx.json && !ctx.quiet {
        let verb = if args.dry_run {
            "would delete"
        } else {
            "deleted"
        };
        eprintln!("{verb} {done} item(s), {failed} failed");
    }
    if failed > 0 {
        return Err(CliError::failure(format!(
            "{failed} of {} item(s) could not be deleted",
            done + failed
        )));
    }
    Ok(())
}

fn json_item(item: &dropbox_connector_proto::v1::ItemMetadata) -> Value {
    item_json(item)
}

fn display(path: &str, item: &dropbox_connector_proto::v1::ItemMetadata) -> String {
    if item.path_display.is_empty() {
        path.to_string()
    } else {
        item.path_display.clone()
    }
}

fn line(path: &str, outcome: &str, dry_run: bool, item: Value, error: Value) -> Value {
    json!({ "path": path, "outcome": outcome, "dry_run": dry_run, "item": item, "error": error })
}
