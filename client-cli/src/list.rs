//! `dbxc list` and `dbxc create-folder`.

use dropbox_connector_proto::v1::{CreateFolderRequest, ListItemsRequest, RemoteFileFilter};
use serde_json::json;
use tokio_stream::StreamExt;

use crate::Ctx;
use crate::args::{CreateFolderArgs, ListArgs};
use crate::exit::CliError;
use crate::filter_args::normalize_remote;
use crate::output::{emit_json, emit_text, item_json, item_line, opt_item_json};

/// Runs `dbxc list`: one line (or JSON line) per matching item, as pages arrive.
pub async fn run(ctx: &Ctx, args: ListArgs) -> Result<(), CliError> {
    let connection = ctx.connection()?;
    let filter = args.filter.to_filter(&args.folder);
    let mut count = 0u64;
    list_items(ctx, &connection, filter, |item| {
        count += 1;
        if ctx.json {
            emit_json(&item_json(item));
        } else {
            emit_text(&item_line(item));
        }
    })
    .await?;
    if !ctx.json && !ctx.quiet && count == 0 {
        eprintln!("no items matched");
    }
    Ok(())
}

/// Streams ListItems and calls `each` per item.
pub async fn list_items(
    ctx: &Ctx,
    connection: &str,
    filter: RemoteFileFilter,
    mut each: impl FnMut(&dropbox_connector_proto::v1::ItemMetadata),
) -> Result<(), CliError> {
    let mut stream = ctx
        .tasks()
        .list_items(ListItemsRequest {
            connection: connection.to_string(),
            filter: Some(filter),
        })
        .await?
        .into_inner();
    while let Some(page) = stream.next().await {
        for item in &page?.items {
            each(item);
        }
    }
    Ok(())
}

/// Runs `dbxc create-folder`.
pub async fn create_folder(ctx: &Ctx, args: CreateFolderArgs) -> Result<(), CliError> {
    let connection = ctx.connection()?;
    let path = normalize_remote(&args.path);
    if path.is_empty() {
        return Err(CliError::usage(
            "the root folder always exists; give a path like /reports",
        ));
    }
    let response = ctx
        .tasks()
        .create_folder(CreateFolderRequest {
            connection,
            path: path.clone(),
            exist_ok: args.exist_ok,
        })
        .await?
        .into_inner();
    if ctx.json {
        emit_json(
            &json!({ "created": response.created, "item": opt_item_json(response.folder.as_ref()) }),
        );
    } else if !ctx.quiet {
        let shown = response
            .folder
            .as_ref()
            .map(|f| f.path_display.clone())
            .unwrap_or(path);
        if response.created {
            emit_text(&format!("created {shown}"));
        } else {
            emit_text(&format!("exists {shown}"));
        }
    }
    Ok(())
}
