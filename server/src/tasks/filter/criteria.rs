//! VisualCron's remote file filter, as a plain value: which items pass, in what order,
//! how many. Listing lives in `listing.rs`; this file has no I/O.

use std::cmp::Ordering;

use dropbox_client::Metadata;
use time::OffsetDateTime;

use super::NameMatcher;
use super::RemoteItem;

/// Files, folders or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KindFilter {
    #[default]
    Files,
    Folders,
    All,
}

/// How two conditions combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Join {
    #[default]
    And,
    Or,
}

/// Which timestamp date conditions (and the modified sort) read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DateField {
    #[default]
    ClientModified,
    ServerModified,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Name,
    Modified,
    Size,
}

/// The value an item is sorted by (one filter always yields one variant).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum SortValue {
    Name(String),
    Date(Option<OffsetDateTime>),
    Size(u64),
}

/// A validated filter.
#[derive(Debug, Clone)]
pub struct RemoteFilter {
    /// Normalised Dropbox folder: `""` for the root, else `/a/b`.
    pub folder: String,
    pub matcher: NameMatcher,
    pub case_sensitive: bool,
    pub kind: KindFilter,
    pub include_subfolders: bool,
    pub modified_before: Option<OffsetDateTime>,
    pub modified_after: Option<OffsetDateTime>,
    pub date_join: Join,
    pub date_field: DateField,
    pub size_smaller_than: Option<u64>,
    pub size_larger_than: Option<u64>,
    pub size_join: Join,
    pub sort: Option<(SortKey, bool)>,
    /// `None`: no limit.
    pub limit: Option<usize>,
    pub fail_if_empty: bool,
}

fn combine(a: Option<bool>, b: Option<bool>, join: Join) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(x), None) | (None, Some(x)) => x,
        (Some(x), Some(y)) => match join {
            Join::And => x && y,
            Join::Or => x || y,
        },
    }
}

impl RemoteFilter {
    /// A filter that lists everything of `kind` directly in `folder`.
    pub fn everything(folder: String, kind: KindFilter) -> RemoteFilter {
        RemoteFilter {
            folder,
            matcher: NameMatcher::any(),
            case_sensitive: false,
            kind,
            include_subfolders: false,
            modified_before: None,
            modified_after: None,
            date_join: Join::And,
            date_field: DateField::ClientModified,
            size_smaller_than: None,
            size_larger_than: None,
            size_join: Join::And,
            sort: None,
            limit: None,
            fail_if_empty: false,
        }
    }

    /// True when the whole listing must be seen before the first item can be given out.
    pub fn needs_whole_set(&self) -> bool {
        self.sort.is_some()
    }

    fn date_of(&self, m: &Metadata) -> Option<OffsetDateTime> {
        let f = m.as_file()?;
        Some(match self.date_field {
            DateField::ClientModified => f.client_modified,
            DateField::ServerModified => f.server_modified,
        })
    }

    /// Does this item pass kind, mask, date and size? Folders carry no dates or sizes in
    /// Dropbox, so a filter with a date or size condition never selects a folder: that
    /// keeps, for example, "delete everything older than X" from deleting folders.
    pub fn accepts(&self, m: &Metadata) -> bool {
        let kind_ok = matches!(
            (self.kind, m),
            (KindFilter::Files, Metadata::File(_))
                | (KindFilter::Folders, Metadata::Folder(_))
                | (KindFilter::All, _)
        );
        if !kind_ok || !self.matcher.matches(m.name()) {
            return false;
        }
        let has_dates = self.modified_before.is_some() || self.modified_after.is_some();
        let has_sizes = self.size_smaller_than.is_some() || self.size_larger_than.is_some();
        let Some(file) = m.as_file() else {
            return !has_dates && !has_sizes;
        };
        if has_dates {
            let Some(t) = self.date_of(m) else {
                return false;
            };
            let before = self.modified_before.map(|b| t < b);
            let after = self.modified_after.map(|a| t > a);
            if !combine(before, after, self.date_join) {
                return false;
            }
        }
        let smaller = self.size_smaller_than.map(|n| file.size < n);
        let larger = self.size_larger_than.map(|n| file.size > n);
        combine(smaller, larger, self.size_join)
    }

    fn compare(&self, key: SortKey, a: &RemoteItem, b: &RemoteItem) -> Ordering {
        self.sort_value(key, a).cmp(&self.sort_value(key, b))
    }

    /// What `key` orders `item` by.
    pub(crate) fn sort_value(&self, key: SortKey, item: &RemoteItem) -> SortValue {
        match key {
            SortKey::Name if self.case_sensitive => SortValue::Name(item.relative_path.clone()),
            SortKey::Name => SortValue::Name(item.relative_path.to_lowercase()),
            // Folders have no date: they sort before every file.
            SortKey::Modified => SortValue::Date(self.date_of(&item.metadata)),
            SortKey::Size => SortValue::Size(size(&item.metadata)),
        }
    }

    /// Sorts (stable, so ties keep Dropbox's order) and applies the limit.
    pub fn finish(&self, mut items: Vec<RemoteItem>) -> Vec<RemoteItem> {
        if let Some((key, descending)) = self.sort {
            items.sort_by(|a, b| {
                let o = self.compare(key, a, b);
                if descending { o.reverse() } else { o }
            });
        }
        if let Some(limit) = self.limit {
            items.truncate(limit);
        }
        items
    }
}

fn size(m: &Metadata) -> u64 {
    m.as_file().map(|f| f.size).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dropbox_client::{FileMetadata, FolderMetadata};

    pub(crate) fn file(name: &str, size: u64, client: i64, server: i64) -> Metadata {
        Metadata::File(FileMetadata {
            name: name.into(),
            id: format!("id:{name}"),
            path_lower: Some(format!("/{}", name.to_lowercase())),
            path_display: Some(format!("/{name}")),
            client_modified: OffsetDateTime::from_unix_timestamp(client).unwrap(),
            server_modified: OffsetDateTime::from_unix_timestamp(server).unwrap(),
            rev: "0123456789".into(),
            size,
            is_downloadable: true,
            content_hash: None,
        })
    }

    fn folder(name: &str) -> Metadata {
        Metadata::Folder(FolderMetadata {
            name: name.into(),
            id: format!("id:{name}"),
            path_lower: Some(format!("/{}", name.to_lowercase())),
            path_display: Some(format!("/{name}")),
        })
    }

    fn t(s: i64) -> Option<OffsetDateTime> {
        Some(OffsetDateTime::from_unix_timestamp(s).unwrap())
    }

    fn base() -> RemoteFilter {
        RemoteFilter::everything(String::new(), KindFilter::Files)
    }

    #[test]
    fn kind() {
        let mut f = base();
        assert!(f.accepts(&file("a", 1, 0, 0)) && !f.accepts(&folder("d")));
        f.kind = KindFilter::Folders;
        assert!(!f.accepts(&file("a", 1, 0, 0)) && f.accepts(&folder("d")));
        f.kind = KindFilter::All;
        assert!(f.accepts(&file("a", 1, 0, 0)) && f.accepts(&folder("d")));
    }

    #[test]
    fn dates_join_and_field() {
        let mut f = base();
        f.modified_after = t(100);
        f.modified_before = t(200);
        let inside = file("in", 1, 150, 500);
        let outside = file("out", 1, 50, 150);
        assert!(f.accepts(&inside) && !f.accepts(&outside));
        f.date_join = Join::Or; // after 100 OR before 200: everything
        assert!(f.accepts(&outside));
        f.date_join = Join::And;
        f.date_field = DateField::ServerModified;
        assert!(!f.accepts(&inside) && f.accepts(&outside));
        // Folders never pass a date condition.
        f.kind = KindFilter::All;
        assert!(!f.accepts(&folder("d")));
    }

    #[test]
    fn sizes_join() {
        let mut f = base();
        f.size_larger_than = Some(10);
        f.size_smaller_than = Some(5);
        assert!(!f.accepts(&file("a", 3, 0, 0)));
        f.size_join = Join::Or;
        assert!(
            f.accepts(&file("a", 3, 0, 0))
                && f.accepts(&file("b", 20, 0, 0))
                && !f.accepts(&file("c", 7, 0, 0))
        );
        f.size_smaller_than = None;
        f.size_join = Join::And;
        assert!(!f.accepts(&file("a", 10, 0, 0)) && f.accepts(&file("a", 11, 0, 0)));
    }

    fn items(ms: Vec<Metadata>) -> Vec<RemoteItem> {
        ms.into_iter()
            .map(|m| RemoteItem {
                relative_path: m.name().to_owned(),
                metadata: m,
            })
            .collect()
    }

    fn names(v: &[RemoteItem]) -> Vec<&str> {
        v.iter().map(|i| i.relative_path.as_str()).collect()
    }

    #[test]
    fn sort_and_limit() {
        let list = items(vec![
            file("b", 3, 20, 1),
            file("C", 1, 10, 3),
            file("a", 2, 30, 2),
        ]);
        let mut f = base();
        f.sort = Some((SortKey::Name, false));
        assert_eq!(names(&f.finish(list.clone())), ["a", "b", "C"]);
        f.case_sensitive = true;
        assert_eq!(names(&f.finish(list.clone())), ["C", "a", "b"]);
        f.sort = Some((SortKey::Size, true));
        assert_eq!(names(&f.finish(list.clone())), ["b", "a", "C"]);
        f.sort = Some((SortKey::Modified, false));
        assert_eq!(names(&f.finish(list.clone())), ["C", "b", "a"]);
        f.date_field = DateField::ServerModified;
        assert_eq!(names(&f.finish(list.clone())), ["b", "a", "C"]);
        f.limit = Some(1);
        assert_eq!(names(&f.finish(list.clone())), ["b"]);
        f.sort = None;
        assert_eq!(names(&f.finish(list)), ["b"]);
    }
}
