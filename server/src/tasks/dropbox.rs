//! The Dropbox metadata, errors and path rules the api layer needs (to answer with
//! metadata and to classify failures), named through `tasks` so that swapping the Dropbox
//! client touches no api file.

pub use dropbox_client::paths;
pub use dropbox_client::{
    AuthError, ConflictKind, DropboxClient, Error, FileMetadata, FolderMetadata, LookupError,
    Metadata, TransportKind,
};
