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
