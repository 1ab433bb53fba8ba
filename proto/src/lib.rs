//! The dropbox-connector gRPC contract (`proto/dropbox_connector/v1`), generated at build time.

/// Package `dropbox_connector.v1`.
pub mod v1 {
    #![allow(clippy::doc_lazy_continuation, clippy::large_enum_variant)]
    tonic::include_proto!("dropbox_connector.v1");
}

/// Vendored `google.api` annotations the contract refers to.
pub mod google_api {
    #![allow(clippy::doc_lazy_continuation)]
    tonic::include_proto!("google.api");
}

/// The encoded `FileDescriptorSet` of the contract, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    tonic::include_file_descriptor_set!("dropbox_connector_descriptor");

/// The `google.rpc.ErrorInfo.domain` of every error this service returns.
pub const ERROR_DOMAIN: &str = "dropbox-connector";

/// The numbers the contract's comments promise, for every side to use instead of literals.
///
/// File data in one message (`DataChunk.data`, `WriteResumableUploadRequest.data`): "at most
/// 2 MiB".
pub const MAX_CHUNK_BYTES: usize = 2 * 1024 * 1024;

/// Largest encoded message the service accepts or sends: a chunk of [`MAX_CHUNK_BYTES`] and
/// its framing fit with room to spare. A client that sets its own limits to this never has
/// a message refused that the service would have taken.
pub const MAX_MESSAGE_BYTES: usize = 8 * 1024 * 1024;
const _: () = assert!(MAX_CHUNK_BYTES < MAX_MESSAGE_BYTES);

/// `ListConnectionsRequest.page_size`: "1..1000; 0 means 100".
pub const MAX_CONNECTIONS_PAGE_SIZE: i32 = 1000;
/// `ListConnectionsRequest.page_size` when 0 is given.
pub const DEFAULT_CONNECTIONS_PAGE_SIZE: i32 = 100;

/// `DropboxSettings.timeout_seconds` when 0 is given: "0 means the default, 60".
pub const DEFAULT_TIMEOUT_SECONDS: u32 = 60;

#[cfg(test)]
mod tests {
    use super::*;

    const CLOUD_TASKS: &str = include_str!("../dropbox_connector/v1/cloud_tasks.proto");
    const CONNECTION: &str = include_str!("../dropbox_connector/v1/connection.proto");

    /// The constants say what the contract's comments say: a change to one without the
    /// other fails here.
    #[test]
    fn constants_match_the_contract_comments() {
        let mib = MAX_CHUNK_BYTES / (1024 * 1024);
        assert_eq!(mib * 1024 * 1024, MAX_CHUNK_BYTES);
        assert_eq!(
            CLOUD_TASKS.matches(&format!("At most {mib} MiB.")).count(),
            2,
            "DataChunk.data and WriteResumableUploadRequest.data"
        );
        assert!(CLOUD_TASKS.contains(&format!("of at most {mib} MiB that carry their offset")));
        assert!(CONNECTION.contains(&format!(
            "(1..{MAX_CONNECTIONS_PAGE_SIZE}; 0 means {DEFAULT_CONNECTIONS_PAGE_SIZE})"
        )));
        assert!(CONNECTION.contains(&format!("0 means the default, {DEFAULT_TIMEOUT_SECONDS}.")));
    }
}
