//! One file's outcome as dbxc prints it: a line for people, an object for --json.

use std::path::Path;

use dropbox_connector_proto::v1::{ItemError, ItemMetadata};
use serde_json::{Value, json};

use crate::Ctx;
use crate::output::{
    emit_json, human_size, item_error_json, item_error_text, item_json, local_error_json,
    str_or_null,
};
use crate::progress::Progress;
use crate::reason::LocalReason;

/// Why a file failed: the server's error for it, or a condition dbxc found itself.
pub(super) enum FileError {
    Server { error: ItemError, note: String },
    Local { reason: LocalReason, text: String },
}

impl FileError {
    pub(super) fn local(reason: LocalReason, text: impl Into<String>) -> Self {
        FileError::Local {
            reason,
            text: text.into(),
        }
    }

    fn json(&self) -> Value {
        match self {
            FileError::Server { error, .. } => item_error_json(error),
            FileError::Local { reason, text } => local_error_json(*reason, text),
        }
    }

    /// `REASON: message` (plus what became of the bytes kept).
    fn text(&self) -> String {
        match self {
            FileError::Server { error, note } => format!("{}{note}", item_error_text(error)),
            FileError::Local { reason, text } => format!("{}: {text}", reason.as_str()),
        }
    }
}

/// One file's outcome, for printing.
pub(super) struct Report {
    pub(super) failed: bool,
    pub(super) human: String,
    pub(super) json: Value,
    pub(super) source_warning: Option<String>,
}

impl Report {
    fn base(item: &ItemMetadata, relative: &str, local: Option<&Path>, outcome: &str) -> Value {
        json!({
            "path_display": item.path_display,
            "relative_path": relative,
            "local_path": local.map(|p| Value::String(p.display().to_string())).unwrap_or(Value::Null),
            "outcome": outcome,
            "size": item.size,
            "content_hash": str_or_null(&item.content_hash),
            "rev": str_or_null(&item.rev),
            "item": item_json(item),
            "skipped_reason": null,
            "error": null,
            "source_deleted": null,
            "source_delete_error": null,
            "resumed_from": null,
        })
    }

    pub(super) fn downloaded(
        item: &ItemMetadata,
        relative: &str,
        local: &Path,
        hash: &str,
        resumed_from: u64,
    ) -> Self {
        let mut json = Self::base(item, relative, Some(local), "downloaded");
        json["content_hash"] = json!(hash);
        let resumed = if resumed_from > 0 {
            json["resumed_from"] = json!(resumed_from);
            format!(", resumed at {resumed_from} bytes")
        } else {
            String::new()
        };
        let human = format!(
            "downloaded {} -> {} ({}{resumed}, content_hash {hash})",
            item.path_display,
            local.display(),
            human_size(item.size)
        );
        Self {
            failed: false,
            human,
            json,
            source_warning: None,
        }
    }

    pub(super) fn skipped(item: &ItemMetadata, relative: &str, local: &Path, reason: &str) -> Self {
        let mut json = Self::base(item, relative, Some(local), "skipped");
        json["skipped_reason"] = json!(reason);
        Self {
            failed: false,
            human: format!("skipped {} ({reason})", item.path_display),
            json,
            source_warning: None,
        }
    }

    pub(super) fn error(
        item: &ItemMetadata,
        relative: &str,
        local: Option<&Path>,
        error: &FileError,
    ) -> Self {
        let mut json = Self::base(item, relative, local, "error");
        json["error"] = error.json();
        Self {
            failed: true,
            human: format!("error: {}: {}", item.path_display, error.text()),
            json,
            source_warning: None,
        }
    }

    pub(super) fn print(&self, ctx: &Ctx, progress: Option<&Progress>) {
        let out = |line: &str| match progress {
            Some(p) => p.println_stdout(line),
            None => crate::output::emit_text(line),
        };
        let err = |line: &str| match progress {
            Some(p) => p.eprintln(line),
            None => crate::output::eprint_text(line),
        };
        if ctx.json {
            emit_json(&self.json);
        } else {
            if self.json["outcome"] == "error" {
                err(&self.human);
            } else if !ctx.quiet {
                out(&self.human);
            }
        }
        if !ctx.json
            && let Some(w) = &self.source_warning
        {
            err(w);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item() -> ItemMetadata {
        ItemMetadata {
            path_display: "/d/a.txt".into(),
            ..Default::default()
        }
    }

    #[test]
    fn error_lines_name_the_reason_once() {
        let local = FileError::local(LocalReason::LocalIo, "disk full");
        let report = Report::error(&item(), "a.txt", None, &local);
        assert_eq!(report.human, "error: /d/a.txt: LOCAL_IO: disk full");
        assert_eq!(report.json["error"]["reason"], "LOCAL_IO");
        assert!(report.failed);

        let server = FileError::Server {
            error: ItemError {
                code: tonic::Code::NotFound as i32,
                reason: "PATH_NOT_FOUND".into(),
                message: "gone".into(),
                metadata: Default::default(),
            },
            note: "; kept".into(),
        };
        let report = Report::error(&item(), "a.txt", None, &server);
        assert_eq!(report.human, "error: /d/a.txt: PATH_NOT_FOUND: gone; kept");
        assert_eq!(report.json["error"]["code_name"], "NOT_FOUND");

        // No reason from the server: the code's name stands in, in text only.
        let bare = FileError::Server {
            error: ItemError {
                code: tonic::Code::Internal as i32,
                message: "boom".into(),
                ..Default::default()
            },
            note: String::new(),
        };
        let report = Report::error(&item(), "a.txt", None, &bare);
        assert_eq!(report.human, "error: /d/a.txt: INTERNAL: boom");
        assert!(report.json["error"]["reason"].is_null());
    }
}
