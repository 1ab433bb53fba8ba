//! The Cloud remote file filter shared by List, Download and Delete.

mod bounded;
mod criteria;
mod listing;

use dropbox_client::Metadata;

pub use bounded::{DEFAULT_MAX_ENTRIES, ListingLimits};
pub use criteria::{DateField, Join, KindFilter, RemoteFilter, SortKey};
pub use listing::{Lister, relative_path};
// The item mask has its own crate, shared with `dbxc upload --mask`.
pub use dropbox_wildcard::{MaskError, NameMatcher};

/// An item a filter selected.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteItem {
    pub metadata: Metadata,
    /// Path below the filter's folder, `/`-separated, as Dropbox displays it.
    pub relative_path: String,
}
