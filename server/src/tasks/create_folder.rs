//! "Cloud - Create folder".

use dropbox_client::{
    ConflictKind, DropboxClient, Error as DbxError, FolderMetadata, LookupError, Metadata,
};

use super::TaskError;
use super::connection_client::ConnectionClient;

/// Creates `path`; with `exist_ok` an existing folder is fine (returned with `false`).
pub async fn create_folder(
    conn: &ConnectionClient,
    path: &str,
    exist_ok: bool,
) -> Result<(FolderMetadata, bool), TaskError> {
    conn.named(create(conn.dropbox(), path, exist_ok)).await
}

async fn create(
    client: &DropboxClient,
    path: &str,
    exist_ok: bool,
) -> Result<(FolderMetadata, bool), TaskError> {
    match client.create_folder(path, false).await {
        Ok(folder) => Ok((folder, true)),
        Err(DbxError::Path {
            kind: LookupError::Conflict(ConflictKind::Folder),
            ..
        }) if exist_ok => {
            match client
                .get_metadata(path)
                .await
                .map_err(|e| TaskError::dropbox(path, e))?
            {
                Metadata::Folder(f) => Ok((f, false)),
                Metadata::File(_) => Err(TaskError::WrongKind {
                    path: path.to_owned(),
                    wanted: "folder",
                    actual: "file",
                }),
            }
        }
        Err(e) => Err(TaskError::dropbox(path, e)),
    }
}
