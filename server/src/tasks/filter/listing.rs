//! Walks a Dropbox folder page by page and hands out the items a filter accepts, with
//! their path relative to the filter's folder.

use dropbox_client::{DropboxClient, Error as DbxError, Metadata};

use super::bounded::{Collected, ListingLimits};
use super::{RemoteFilter, RemoteItem};
use crate::tasks::{Events, TaskError};

/// Entries asked of Dropbox per page.
const PAGE_LIMIT: u32 = 1000;

/// A listing in progress.
pub struct Lister<'a> {
    client: &'a DropboxClient,
    filter: &'a RemoteFilter,
    folder_lower: String,
    cursor: Option<String>,
    done: bool,
    /// Items handed out so far (for a limit without a sort).
    given: usize,
    limits: ListingLimits,
}

impl<'a> Lister<'a> {
    pub fn new(
        client: &'a DropboxClient,
        filter: &'a RemoteFilter,
        limits: ListingLimits,
    ) -> Lister<'a> {
        Lister {
            client,
            filter,
            folder_lower: filter.folder.to_lowercase(),
            cursor: None,
            done: false,
            given: 0,
            limits,
        }
    }

    /// The next page of accepted items (possibly empty), or `None` at the end. With a limit
    /// and no sort, stops once the limit is reached. Once the caller is gone (`tx`
    /// closed), fails with `Cancelled`, abandoning a request in flight: nobody is left to
    /// read what Dropbox would return.
    pub async fn next_page<T>(
        &mut self,
        tx: &Events<T>,
    ) -> Result<Option<Vec<RemoteItem>>, TaskError> {
        tokio::select! {
            biased;
            () = tx.closed() => Err(TaskError::Cancelled),
            page = self.read_page() => page,
        }
    }

    async fn read_page(&mut self) -> Result<Option<Vec<RemoteItem>>, TaskError> {
        if self.done {
            return Ok(None);
        }
        let page = match &self.cursor {
            None => {
                self.client
                    .list_folder(
                        &self.filter.folder,
                        self.filter.include_subfolders,
                        Some(PAGE_LIMIT),
                    )
                    .await
            }
            Some(c) => self.client.list_folder_continue(c).await,
        }
        .map_err(|e| listing_error(&self.filter.folder, e))?;
        self.done = !page.has_more;
        self.cursor = Some(page.cursor);
        let mut items: Vec<RemoteItem> = page
            .entries
            .into_iter()
            .filter(|m| self.filter.accepts(m))
            .filter_map(|m| {
                let relative_path = relative_path(&self.folder_lower, &m)?;
                Some(RemoteItem {
                    metadata: m,
                    relative_path,
                })
            })
            .collect();
        if !self.filter.needs_whole_set()
            && let Some(limit) = self.filter.limit
        {
            items.truncate(limit.saturating_sub(self.given));
            if self.given + items.len() >= limit {
                self.done = true;
            }
        }
        self.given += items.len();
        Ok(Some(items))
    }

    /// Everything accepted, sorted and limited, holding at most the configured number of
    /// entries on the way (see [`Collected`]).
    pub async fn collect<T>(mut self, tx: &Events<T>) -> Result<Vec<RemoteItem>, TaskError> {
        let mut held = Collected::new(self.filter, self.limits);
        while let Some(page) = self.next_page(tx).await? {
            for item in page {
                held.push(item)?;
            }
        }
        Ok(held.finish())
    }
}

fn listing_error(folder: &str, e: DbxError) -> TaskError {
    let shown = if folder.is_empty() { "/" } else { folder };
    TaskError::dropbox(shown, e)
}

/// `path_display` relative to the folder, or `None` for the folder itself (a recursive
/// listing includes it). Dropbox may report ancestors of `path_display` in another case, so
/// the number of components is taken from `path_lower` and the text from `path_display`.
pub fn relative_path(folder_lower: &str, m: &Metadata) -> Option<String> {
    let lower = m.path_lower()?;
    let rest = lower.strip_prefix(folder_lower)?.strip_prefix('/')?;
    if rest.is_empty() {
        return None;
    }
    let depth = rest.split('/').count();
    let display = m.path_display().unwrap_or(lower);
    let parts: Vec<&str> = display.rsplit('/').take(depth).collect();
    if parts.len() != depth {
        return Some(rest.to_owned());
    }
    Some(parts.into_iter().rev().collect::<Vec<_>>().join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use dropbox_client::FolderMetadata;

    fn folder(lower: &str, display: &str) -> Metadata {
        Metadata::Folder(FolderMetadata {
            name: display.rsplit('/').next().unwrap().into(),
            id: "id:x".into(),
            path_lower: Some(lower.into()),
            path_display: Some(display.into()),
        })
    }

    #[test]
    fn relative_paths() {
        assert_eq!(relative_path("", &folder("/a", "/A")).as_deref(), Some("A"));
        assert_eq!(
            relative_path("/base", &folder("/base/sub/x", "/bASE/Sub/X")).as_deref(),
            Some("Sub/X")
        );
        assert_eq!(relative_path("/base", &folder("/base", "/Base")), None);
        assert_eq!(
            relative_path("/base", &folder("/basement/x", "/basement/x")),
            None
        );
    }
}
