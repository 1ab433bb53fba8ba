//! "Cloud - List item(s)": the filter's matches, a page at a time.

use dropbox_client::DropboxClient;

use super::connection_client::ConnectionClient;
use super::filter::{Lister, ListingLimits, RemoteFilter, RemoteItem};
use super::{Events, TaskError, emit};

/// Most items per message.
const ITEMS_PER_MESSAGE: usize = 500;
/// What the items of one message may add up to (estimated by [`item_bytes`]): a Dropbox
/// page holds up to 2,000 entries whose paths have no length limit, so a page sent whole
/// could pass the 4 MiB that gRPC runtimes accept in one message by default.
const MESSAGE_BUDGET_BYTES: usize = 1024 * 1024;

/// An over-estimate of one item's encoded size: the fixed fields (id, rev, times, size,
/// hash) plus the four paths it carries.
fn item_bytes(item: &RemoteItem) -> usize {
    let m = &item.metadata;
    256 + m.name().len()
        + m.path_display().map_or(0, str::len)
        + m.path_lower().map_or(0, str::len)
        + item.relative_path.len()
}

/// Sends `items` in messages of at most [`ITEMS_PER_MESSAGE`] items and
/// [`MESSAGE_BUDGET_BYTES`]; returns how many were sent.
async fn send_in_messages(
    items: Vec<RemoteItem>,
    tx: &Events<Vec<RemoteItem>>,
) -> Result<usize, TaskError> {
    let total = items.len();
    let mut message = Vec::new();
    let mut bytes = 0;
    for item in items {
        let size = item_bytes(&item);
        if !message.is_empty()
            && (message.len() == ITEMS_PER_MESSAGE || bytes + size > MESSAGE_BUDGET_BYTES)
        {
            emit(tx, std::mem::take(&mut message)).await?;
            bytes = 0;
        }
        bytes += size;
        message.push(item);
    }
    if !message.is_empty() {
        emit(tx, message).await?;
    }
    Ok(total)
}

/// Streams pages as Dropbox returns them, unless a sort needs the whole set first.
pub async fn list_items(
    conn: &ConnectionClient,
    filter: &RemoteFilter,
    limits: ListingLimits,
    tx: &Events<Vec<RemoteItem>>,
) -> Result<(), TaskError> {
    conn.named(list(conn.dropbox(), filter, limits, tx)).await
}

async fn list(
    client: &DropboxClient,
    filter: &RemoteFilter,
    limits: ListingLimits,
    tx: &Events<Vec<RemoteItem>>,
) -> Result<(), TaskError> {
    let mut lister = Lister::new(client, filter, limits);
    let mut sent = 0usize;
    if filter.needs_whole_set() {
        sent += send_in_messages(lister.collect(tx).await?, tx).await?;
    } else {
        while let Some(page) = lister.next_page(tx).await? {
            sent += send_in_messages(page, tx).await?;
        }
    }
    if sent == 0 && filter.fail_if_empty {
        return Err(no_items(filter));
    }
    Ok(())
}

pub(crate) fn no_items(filter: &RemoteFilter) -> TaskError {
    let folder = if filter.folder.is_empty() {
        "/".to_owned()
    } else {
        filter.folder.clone()
    };
    TaskError::NoItemsMatched { folder }
}
