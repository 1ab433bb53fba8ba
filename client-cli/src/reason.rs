//! Error reasons: the server's (the contract's `ErrorReason`, parsed from ErrorInfo and never
//! compared as text) and dbxc's own, for what only the client can see.

use dropbox_connector_proto::v1::ErrorReason;
use tonic_types::StatusExt;

/// The contract's reason named by an ErrorInfo reason string (`PATH_NOT_FOUND`, sent
/// without the enum's `ERROR_REASON_` prefix); `None` for an empty or unknown one.
pub fn server_reason(reason: &str) -> Option<ErrorReason> {
    if reason.is_empty() {
        return None;
    }
    ErrorReason::from_str_name(&format!("ERROR_REASON_{reason}"))
        .filter(|r| *r != ErrorReason::Unspecified)
}

/// The contract's reason of a status's ErrorInfo.
pub fn status_reason(status: &tonic::Status) -> Option<ErrorReason> {
    status
        .get_details_error_info()
        .and_then(|info| server_reason(&info.reason))
}

/// How a reason is written on the wire and in dbxc's output: `PATH_NOT_FOUND`.
pub fn wire_name(reason: ErrorReason) -> &'static str {
    let name = reason.as_str_name();
    name.strip_prefix("ERROR_REASON_").unwrap_or(name)
}

/// What to do about `reason` with dbxc: the service's messages speak to API callers of
/// every language, so the dbxc command that helps is named here. `metadata` is the
/// error's (`connection` names the connection).
pub fn remedy(
    reason: ErrorReason,
    metadata: &std::collections::HashMap<String, String>,
) -> Option<String> {
    let connection = metadata
        .get("connection")
        .filter(|c| !c.is_empty())
        .map_or("NAME", String::as_str);
    match reason {
        ErrorReason::ConnectionNotFound => Some(
            "see the connections with `dbxc connection list`, or add one with `dbxc connection create`"
                .into(),
        ),
        ErrorReason::ReauthorizationRequired => {
            Some(format!("run `dbxc connection authorize {connection}`"))
        }
        ErrorReason::AuthorizationStateInvalid => {
            Some(format!("start again with `dbxc connection authorize {connection}`"))
        }
        _ => None,
    }
}

/// `message`, followed by dbxc's remedy for `reason` when it has one.
pub fn with_remedy(
    message: String,
    reason: Option<ErrorReason>,
    metadata: &std::collections::HashMap<String, String>,
) -> String {
    match reason.and_then(|r| remedy(r, metadata)) {
        Some(remedy) => format!("{message} ({remedy})"),
        None => message,
    }
}

/// The reason in a file's error that dbxc reports itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalReason {
    /// Reading or writing a local file failed.
    LocalIo,
    /// A remote name would land outside LOCAL_DIR.
    UnsafePath,
    /// Two remote files would be written to one local path.
    NameCollision,
    /// The server said nothing about this file.
    NoResult,
    /// The stream ended in the middle of this file.
    Incomplete,
    /// A follow-up call for this file (deleting the source) failed.
    CallFailed,
    /// A condition the contract names, seen by dbxc itself (a hash that does not verify,
    /// a stream out of order, a chunk at the wrong offset).
    Contract(ErrorReason),
}

impl LocalReason {
    /// The name in output: `LOCAL_IO`, or the contract's name.
    pub fn as_str(self) -> &'static str {
        match self {
            LocalReason::LocalIo => "LOCAL_IO",
            LocalReason::UnsafePath => "UNSAFE_PATH",
            LocalReason::NameCollision => "NAME_COLLISION",
            LocalReason::NoResult => "NO_RESULT",
            LocalReason::Incomplete => "INCOMPLETE",
            LocalReason::CallFailed => "CALL_FAILED",
            LocalReason::Contract(reason) => wire_name(reason),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remedies_name_the_dbxc_command_and_the_connection() {
        let meta: std::collections::HashMap<String, String> =
            [("connection".to_owned(), "stale".to_owned())].into();
        assert_eq!(
            with_remedy(
                "refused".into(),
                Some(ErrorReason::ReauthorizationRequired),
                &meta
            ),
            "refused (run `dbxc connection authorize stale`)"
        );
        assert!(
            remedy(ErrorReason::ConnectionNotFound, &Default::default())
                .unwrap()
                .contains("dbxc connection list")
        );
        assert_eq!(
            with_remedy("gone".into(), Some(ErrorReason::PathNotFound), &meta),
            "gone"
        );
        assert_eq!(with_remedy("x".into(), None, &meta), "x");
    }

    #[test]
    fn server_reasons_parse_through_the_contract_enum() {
        assert_eq!(
            server_reason("PATH_NOT_FOUND"),
            Some(ErrorReason::PathNotFound)
        );
        assert_eq!(server_reason("UPLOAD_BUSY"), Some(ErrorReason::UploadBusy));
        assert_eq!(server_reason(""), None);
        assert_eq!(server_reason("UNSPECIFIED"), None);
        assert_eq!(server_reason("path_not_found"), None);
        assert_eq!(server_reason("NOT_A_REASON"), None);
        assert_eq!(
            wire_name(ErrorReason::ContentHashMismatch),
            "CONTENT_HASH_MISMATCH"
        );
    }

    #[test]
    fn local_reasons_have_their_output_names() {
        assert_eq!(LocalReason::LocalIo.as_str(), "LOCAL_IO");
        assert_eq!(LocalReason::UnsafePath.as_str(), "UNSAFE_PATH");
        assert_eq!(LocalReason::NameCollision.as_str(), "NAME_COLLISION");
        assert_eq!(LocalReason::NoResult.as_str(), "NO_RESULT");
        assert_eq!(LocalReason::Incomplete.as_str(), "INCOMPLETE");
        assert_eq!(LocalReason::CallFailed.as_str(), "CALL_FAILED");
        assert_eq!(
            LocalReason::Contract(ErrorReason::StreamOutOfOrder).as_str(),
            "STREAM_OUT_OF_ORDER"
        );
    }

    #[test]
    fn status_reason_reads_error_info() {
        use tonic_types::ErrorDetails;
        let status = tonic::Status::with_error_details(
            tonic::Code::FailedPrecondition,
            "held",
            ErrorDetails::with_error_info(
                "UPLOAD_BUSY",
                "dropbox-connector",
                std::collections::HashMap::new(),
            ),
        );
        assert_eq!(status_reason(&status), Some(ErrorReason::UploadBusy));
        assert_eq!(status_reason(&tonic::Status::internal("x")), None);
    }
}
