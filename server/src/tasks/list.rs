//! "Cloud - List item(s)": the filter's matches, a page at a time.

use dropbox_client::DropboxClient;

use super::connection_client::ConnectionClient;
use super::filter::{Lister, ListingLimits, RemoteFilter, RemoteItem};
use super::{Events, TaskError, emit};

/// Items per message when a sorted set is given out.
const ITEMS_PER_MESSAGE: usize = 500;

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
        let items = lister.collect(tx).await?;
        for page in items.chunks(ITEMS_PER_MESSAGE) {
            sent += page.len();
            emit(tx, page.to_vec()).await?;
        }
    } else {
        while let Some(page) = lister.next_page(tx).await? {
            if !page.is_empty() {
                sent += page.len();
                emit(tx, page).await?;
            }
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
