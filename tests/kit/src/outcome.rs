//! Assertions on the service's answers that tests of every crate make.

use dropbox_connector_proto::v1 as pb;

/// Asserts that every file of an UploadFiles answer was uploaded (and there was at least
/// one), naming `what` and the whole answer when not.
pub fn assert_all_uploaded(response: &pb::UploadFilesResponse, what: &str) {
    let uploaded =
        |r: &pb::FileResult| matches!(r.outcome, Some(pb::file_result::Outcome::Uploaded(_)));
    assert!(
        !response.results.is_empty() && response.results.iter().all(uploaded),
        "{what}: {response:?}"
    );
}

/// The whole answer of an UploadFiles call: the server sends each file's result as the
/// file finishes, spread over its response messages; they are gathered into one
/// response, in order. A call that fails (at the start or after some results) is its
/// status, as a client that needs every result sees it.
pub async fn upload_results(
    call: Result<tonic::Response<tonic::Streaming<pb::UploadFilesResponse>>, tonic::Status>,
) -> Result<pb::UploadFilesResponse, tonic::Status> {
    let mut stream = call?.into_inner();
    let mut all = pb::UploadFilesResponse::default();
    while let Some(response) = stream.message().await? {
        all.results.extend(response.results);
    }
    Ok(all)
}
