//! Exit codes and the error type every command returns.

use std::fmt;

use dropbox_connector_proto::v1::ErrorReason;
use tonic::Code;
use tonic_types::StatusExt;

/// Success.
pub const SUCCESS: u8 = 0;
/// Any other failure, including "some items failed".
pub const FAILURE: u8 = 1;
/// A usage error: clap's own, a bad flag value, or a server INVALID_ARGUMENT.
pub const USAGE: u8 = 2;
/// The server answered NOT_FOUND (unknown connection, missing path, nothing matched).
pub const NOT_FOUND: u8 = 3;
/// The server could not be reached or answered UNAVAILABLE.
pub const UNAVAILABLE: u8 = 4;
/// The server does not know this caller (UNAUTHENTICATED, CALLER_UNKNOWN) or does not let
/// it do this (PERMISSION_DENIED, CALLER_NOT_ALLOWED).
pub const NOT_ALLOWED: u8 = 5;
/// Interrupted by Ctrl-C (SIGINT); partial downloads are kept, and the next run resumes them.
pub const INTERRUPTED: u8 = 130;

/// The exit-code table shown in `dbxc --help`.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0    success
  1    other failure, including a multi-file command where some files failed
  2    usage error (bad flags or values), or the server answered INVALID_ARGUMENT
  3    not found: the server answered NOT_FOUND (CONNECTION_NOT_FOUND, PATH_NOT_FOUND,
       NO_ITEMS_MATCHED with --fail-if-empty)
  4    the server is unreachable, or answered UNAVAILABLE
  5    not authenticated / not allowed: the server does not know this caller
       (UNAUTHENTICATED, CALLER_UNKNOWN: see --token-file, --cert-file) or its role or
       groups do not allow the call (PERMISSION_DENIED, CALLER_NOT_ALLOWED)
  130  interrupted (Ctrl-C); partial downloads are kept for the next run to resume

Errors are printed on stderr as `error: REASON: message`, REASON being the server's
google.rpc.ErrorInfo reason (an ErrorReason name) when it sent one.";

/// A failed command: what to print and which exit code to use.
#[derive(Debug, Clone)]
pub struct CliError {
    /// The process exit code.
    pub code: u8,
    /// The message, printed as `error: {message}`.
    pub message: String,
}

impl CliError {
    /// A failure with an explicit exit code.
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// Exit code 2.
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(USAGE, message)
    }

    /// Exit code 1.
    pub fn failure(message: impl Into<String>) -> Self {
        Self::new(FAILURE, message)
    }

    /// Exit code 4.
    pub fn unreachable(message: impl Into<String>) -> Self {
        Self::new(UNAVAILABLE, message)
    }

    /// Maps a gRPC status: the ErrorInfo reason and the server's message.
    pub fn from_status(status: &tonic::Status) -> Self {
        let info = status.get_details_error_info();
        let reason = info.as_ref().map(|info| info.reason.clone());
        let code = exit_code_for_reason(status.code(), crate::reason::status_reason(status));
        let mut message = match reason.as_deref() {
            Some(reason) if !reason.is_empty() => format!("{reason}: {}", status.message()),
            _ => format!("{}: {}", code_name(status.code()), status.message()),
        };
        if let Some(info) = &info {
            message = crate::reason::with_remedy(
                message,
                crate::reason::status_reason(status),
                &info.metadata,
            );
        }
        if code == NOT_ALLOWED {
            let needed = info
                .as_ref()
                .and_then(|i| i.metadata.get("needed_role"))
                .filter(|r| !r.is_empty());
            message.push_str(&match (status.code(), needed) {
                (Code::Unauthenticated, _) => " (the server does not know this caller: give dbxc \
                    an identity from the server's callers file, --token-file / DBXC_TOKEN_FILE \
                    or --cert-file/--key-file)"
                    .to_string(),
                (_, Some(role)) => format!(
                    " (this needs the {role} role for the connection's group; ask the operator)"
                ),
                _ => " (this caller's role or groups do not allow it; ask the operator)".into(),
            });
        }
        if let Some(delay) = status.get_details_retry_info().and_then(|r| r.retry_delay) {
            message.push_str(&format!(" (retry after {}s)", delay.as_secs_f64().ceil()));
        }
        if reason.is_none() && status.code() == Code::Unavailable {
            message.push_str(" (is the server running? see --server / DBXC_SERVER)");
        }
        Self { code, message }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

impl From<tonic::Status> for CliError {
    fn from(status: tonic::Status) -> Self {
        Self::from_status(&status)
    }
}

/// The exit code for a status: the caller reasons (and a bare UNAUTHENTICATED or
/// PERMISSION_DENIED, as a gateway in front of the server sends) are exit code 5. Dropbox
/// refusing a connection's own token is not about the caller and stays a failure.
pub fn exit_code_for_reason(code: Code, reason: Option<ErrorReason>) -> u8 {
    match (code, reason) {
        (_, Some(ErrorReason::CallerUnknown | ErrorReason::CallerNotAllowed)) => NOT_ALLOWED,
        (Code::Unauthenticated | Code::PermissionDenied, None) => NOT_ALLOWED,
        _ => exit_code_for(code),
    }
}

/// The exit code for a gRPC status code.
pub fn exit_code_for(code: Code) -> u8 {
    match code {
        Code::Ok => SUCCESS,
        Code::InvalidArgument => USAGE,
        Code::NotFound => NOT_FOUND,
        Code::Unavailable => UNAVAILABLE,
        _ => FAILURE,
    }
}

/// The canonical upper-case name of a gRPC code (`NOT_FOUND`).
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// An error and its sources on one line.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_map_to_exit_codes() {
        assert_eq!(exit_code_for(Code::InvalidArgument), USAGE);
        assert_eq!(exit_code_for(Code::NotFound), NOT_FOUND);
        assert_eq!(exit_code_for(Code::Unavailable), UNAVAILABLE);
        assert_eq!(exit_code_for(Code::AlreadyExists), FAILURE);
        assert_eq!(exit_code_for(Code::Internal), FAILURE);
    }

    fn status_with_reason(code: Code, reason: &str, meta: &[(&str, &str)]) -> tonic::Status {
        use tonic_types::{ErrorDetails, StatusExt};
        let metadata: std::collections::HashMap<String, String> = meta
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        tonic::Status::with_error_details(
            code,
            "refused",
            ErrorDetails::with_error_info(reason, "dropbox-connector", metadata),
        )
    }

    #[test]
    fn unknown_and_refused_callers_exit_5() {
        let unknown = CliError::from_status(&status_with_reason(
            Code::Unauthenticated,
            "CALLER_UNKNOWN",
            &[],
        ));
        assert_eq!(unknown.code, NOT_ALLOWED);
        assert!(
            unknown.message.starts_with("CALLER_UNKNOWN: refused"),
            "{}",
            unknown.message
        );
        assert!(
            unknown.message.contains("--token-file"),
            "{}",
            unknown.message
        );

        let denied = CliError::from_status(&status_with_reason(
            Code::PermissionDenied,
            "CALLER_NOT_ALLOWED",
            &[("caller", "reports"), ("needed_role", "writer")],
        ));
        assert_eq!(denied.code, NOT_ALLOWED);
        assert!(denied.message.contains("writer role"), "{}", denied.message);

        assert_eq!(
            CliError::from_status(&tonic::Status::unauthenticated("no")).code,
            NOT_ALLOWED
        );
        // Dropbox refusing a connection's token is not about the caller.
        let dropbox = status_with_reason(Code::Unauthenticated, "DROPBOX_UNAUTHORIZED", &[]);
        assert_eq!(CliError::from_status(&dropbox).code, FAILURE);
        assert!(EXIT_CODES_HELP.contains("5    not authenticated / not allowed"));
    }

    #[test]
    fn message_without_error_info_uses_code_name() {
        let error = CliError::from_status(&tonic::Status::not_found("/x does not exist"));
        assert_eq!(error.code, NOT_FOUND);
        assert_eq!(error.message, "NOT_FOUND: /x does not exist");
    }
}
