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
