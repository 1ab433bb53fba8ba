//! What a listing holds in memory while it reads Dropbox: with a sort and a limit only the
//! best `limit` entries so far (a heap), otherwise every accepted entry; never more than
//! the configured cap, past which the listing fails with LISTING_TOO_LARGE instead of
//! growing without bound.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::criteria::SortValue;
use super::{RemoteFilter, RemoteItem};
use crate::tasks::TaskError;

/// Server-side bounds of listing-based work (`listing` in the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListingLimits {
    /// Most entries one call holds at a time.
    pub max_entries: usize,
}

pub const DEFAULT_MAX_ENTRIES: usize = 1_000_000;

impl Default for ListingLimits {
    fn default() -> Self {
        ListingLimits {
            max_entries: DEFAULT_MAX_ENTRIES,
        }
    }
}

/// An entry in the top-k heap. Greater means "later in the result", so the heap's top is
/// the first to drop. Ties keep Dropbox's order (`seq`), as the stable sort does.
struct Ranked {
    value: SortValue,
    descending: bool,
    seq: u64,
    item: RemoteItem,
}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        let by_value = self.value.cmp(&other.value);
        let by_value = if self.descending {
            by_value.reverse()
        } else {
            by_value
        };
        by_value.then(self.seq.cmp(&other.seq))
    }
}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Ranked {}

enum Held {
    All(Vec<RemoteItem>),
    TopK { k: usize, heap: BinaryHeap<Ranked> },
}

/// Accepted entries as they arrive, within the bounds.
pub struct Collected<'a> {
    filter: &'a RemoteFilter,
    max_entries: usize,
    seq: u64,
    held: Held,
}

impl<'a> Collected<'a> {
    pub fn new(filter: &'a RemoteFilter, limits: ListingLimits) -> Collected<'a> {
        let held = match (filter.sort, filter.limit) {
            (Some(_), Some(k)) => Held::TopK {
                k,
                heap: BinaryHeap::new(),
            },
            _ => Held::All(Vec::new()),
        };
        Collected {
            filter,
            max_entries: limits.max_entries,
            seq: 0,
            held,
        }
    }

    pub fn push(&mut self, item: RemoteItem) -> Result<(), TaskError> {
        self.seq += 1;
        let held = match &mut self.held {
            Held::All(v) => {
                v.push(item);
                v.len()
            }
            Held::TopK { k, heap } => {
                if let Some((key, descending)) = self.filter.sort {
                    heap.push(Ranked {
                        value: self.filter.sort_value(key, &item),
                        descending,
                        seq: self.seq,
                        item,
                    });
                    if heap.len() > *k {
                        heap.pop();
                    }
                }
                heap.len()
            }
        };
        if held > self.max_entries {
            let folder = if self.filter.folder.is_empty() {
                "/".to_owned()
            } else {
                self.filter.folder.clone()
            };
            return Err(TaskError::ListingTooLarge {
                folder,
                max_entries: u64::try_from(self.max_entries).unwrap_or(u64::MAX),
            });
        }
        Ok(())
    }

    /// Sorted and limited as the filter asks.
    pub fn finish(self) -> Vec<RemoteItem> {
        match self.held {
            Held::All(v) => self.filter.finish(v),
            Held::TopK { heap, .. } => heap.into_sorted_vec().into_iter().map(|r| r.item).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::filter::{KindFilter, SortKey};
    use dropbox_client::{FileMetadata, Metadata};
    use time::OffsetDateTime;

    fn item(name: &str, size: u64) -> RemoteItem {
        RemoteItem {
            relative_path: name.into(),
            metadata: Metadata::File(FileMetadata {
                name: name.into(),
                id: format!("id:{name}"),
                path_lower: Some(format!("/{}", name.to_lowercase())),
                path_display: Some(format!("/{name}")),
                client_modified: OffsetDateTime::UNIX_EPOCH,
                server_modified: OffsetDateTime::UNIX_EPOCH,
                rev: "0123456789".into(),
                size,
                is_downloadable: true,
                content_hash: None,
            }),
        }
    }

    fn names(v: &[RemoteItem]) -> Vec<&str> {
        v.iter().map(|i| i.relative_path.as_str()).collect()
    }

    /// Pseudo-random sizes with ties, and names that record the arrival order.
    fn input(n: usize) -> Vec<RemoteItem> {
        (0..n)
            .map(|i| item(&format!("f{i:04}"), (i as u64 * 7919) % 97))
            .collect()
    }

    #[test]
    fn top_k_equals_sort_then_truncate_and_holds_only_k() {
        for (key, descending) in [
            (SortKey::Size, false),
            (SortKey::Size, true),
            (SortKey::Name, true),
            (SortKey::Modified, false),
        ] {
            let mut f = RemoteFilter::everything(String::new(), KindFilter::Files);
            f.sort = Some((key, descending));
            f.limit = Some(10);
            let expected = f.finish(input(500));
            // A cap far below the input: the heap never holds more than k.
            let mut c = Collected::new(&f, ListingLimits { max_entries: 10 });
            for i in input(500) {
                c.push(i).unwrap();
            }
            assert_eq!(names(&c.finish()), names(&expected), "{key:?} {descending}");
        }
    }

    #[test]
    fn past_the_cap_is_listing_too_large() {
        let mut f = RemoteFilter::everything("/big".into(), KindFilter::Files);
        f.sort = Some((SortKey::Name, false));
        let mut c = Collected::new(&f, ListingLimits { max_entries: 3 });
        let mut results = input(5).into_iter().map(|i| c.push(i));
        assert!(results.by_ref().take(3).all(|r| r.is_ok()));
        match results.next() {
            Some(Err(TaskError::ListingTooLarge {
                folder,
                max_entries,
            })) => assert_eq!((folder.as_str(), max_entries), ("/big", 3)),
            other => panic!("{other:?}"),
        }
        // Without a sort, the same cap holds.
        let f = RemoteFilter::everything(String::new(), KindFilter::Files);
        let mut c = Collected::new(&f, ListingLimits { max_entries: 2 });
        assert!(input(3).into_iter().map(|i| c.push(i)).any(|r| r.is_err()));
    }
}
