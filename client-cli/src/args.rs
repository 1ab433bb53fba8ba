//! Command-line arguments (clap derive).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use dropbox_connector_proto::v1::{OverwriteMode, OverwritePolicy, SizeComparison};

use crate::filter_args::FilterArgs;

const ABOUT: &str = "dbxc: the command line for dropbox-connector, VisualCron's five Dropbox Cloud \
tasks (upload, list, download, create folder, delete) as a gRPC service.";

/// The top-level help footer: exit codes and JSON shapes.
fn after_help() -> String {
    format!(
        "{}\n\n{}",
        crate::exit::EXIT_CODES_HELP,
        crate::output::JSON_HELP
    )
}

/// dbxc: the dropbox-connector command line.
#[derive(Debug, Parser)]
#[command(name = "dbxc", version, about = ABOUT, after_long_help = after_help(),
          after_help = "Exit codes: 0 ok, 1 failure (incl. some files failed), 2 usage / INVALID_ARGUMENT, \
3 NOT_FOUND, 4 server unreachable / UNAVAILABLE, 5 not authenticated / not allowed, 130 interrupted. \
See --help for JSON shapes.")]
pub struct Cli {
    /// The dropbox-connector server: http://HOST:PORT, or https://HOST:PORT for TLS (a bare
    /// HOST:PORT means http).
    #[arg(
        long,
        global = true,
        env = "DBXC_SERVER",
        default_value = "http://127.0.0.1:50051"
    )]
    pub server: String,
    /// PEM file of the CA(s) to trust for an https:// server (default: the public web PKI
    /// roots compiled into dbxc).
    #[arg(
        long,
        global = true,
        env = "DBXC_CA_FILE",
        value_name = "FILE",
        help_heading = "Server access"
    )]
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate, for servers that require mutual TLS (with --key-file).
    #[arg(
        long,
        global = true,
        env = "DBXC_CERT_FILE",
        value_name = "FILE",
        help_heading = "Server access"
    )]
    pub cert_file: Option<PathBuf>,
    /// PEM private key of --cert-file.
    #[arg(
        long,
        global = true,
        env = "DBXC_KEY_FILE",
        value_name = "FILE",
        help_heading = "Server access"
    )]
    pub key_file: Option<PathBuf>,
    /// File holding the bearer token sent as `authorization: Bearer ...` on every call
    /// (whitespace around it is trimmed). There is no flag taking the token itself.
    #[arg(
        long,
        global = true,
        env = "DBXC_TOKEN_FILE",
        value_name = "FILE",
        help_heading = "Server access"
    )]
    pub token_file: Option<PathBuf>,
    /// The connection to use: its display name or `connections/{id}`.
    #[arg(long, global = true, env = "DBXC_CONNECTION", value_name = "NAME")]
    pub connection: Option<String>,
    /// Machine-readable output on stdout (see --help for the shapes).
    #[arg(long, global = true)]
    pub json: bool,
    /// No progress bars and no success lines; errors are still printed.
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
// Parsed once per process: the size of the largest variant costs nothing worth boxing for.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Manage stored Dropbox connections.
    #[command(subcommand)]
    Connection(ConnectionCommand),
    /// Upload local files and folders into a Dropbox folder ("Cloud - Upload file(s)").
    Upload(UploadArgs),
    /// List the items of a Dropbox folder that match a filter ("Cloud - List item(s)").
    List(ListArgs),
    /// Download Dropbox files into a local folder ("Cloud - Download file(s)").
    Download(DownloadArgs),
    /// Create a Dropbox folder ("Cloud - Create folder").
    CreateFolder(CreateFolderArgs),
    /// Delete Dropbox items by path or by filter ("Cloud - Delete item(s)").
    Delete(DeleteArgs),
}

/// `dbxc connection ...`.
#[derive(Debug, Subcommand)]
pub enum ConnectionCommand {
    /// Create a connection.
    Create {
        /// The connection's display name (unique).
        name: String,
        /// The settings.
        #[command(flatten)]
        fields: ConnectionFields,
    },
    /// List connections, ordered by display name.
    List {
        /// Only connections of this group.
        #[arg(long)]
        group: Option<String>,
    },
    /// Show one connection (secrets are never shown, only whether they are set).
    Get {
        /// Display name or `connections/{id}`.
        name: String,
    },
    /// Change the settings given as flags (only those: an update_mask of the flags given).
    Update {
        /// Display name or `connections/{id}`.
        name: String,
        /// Rename the connection.
        #[arg(long, value_name = "NEW_NAME")]
        display_name: Option<String>,
        /// The settings to change.
        #[command(flatten)]
        fields: ConnectionFields,
    },
    /// Delete a connection and its stored secrets.
    Delete {
        /// Display name or `connections/{id}`.
        name: String,
    },
    /// Authorize the connection at Dropbox (OAuth 2 in a browser).
    Authorize(crate::authorize::AuthorizeArgs),
    /// Check the proxy, then Dropbox, and report each step.
    Test(crate::authorize::TestArgs),
}

/// Account types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AccountTypeArg {
    /// A personal account.
    Personal,
    /// A Dropbox Business team.
    Business,
}

/// Proxy types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProxyTypeArg {
    /// No proxy.
    None,
    /// HTTP proxy (CONNECT).
    Http,
    /// HTTP proxy over TLS.
    Https,
    /// SOCKS5.
    Socks5,
    /// SOCKS4.
    Socks4,
}

/// Connection settings. Secrets are read from a file, or from standard input with `-`
/// (one trailing newline is trimmed); they are never accepted on the command line.
#[derive(Debug, Clone, Default, Args)]
pub struct ConnectionFields {
    /// Group [server default: "Default group"].
    #[arg(long)]
    pub group: Option<String>,
    /// Seconds before a Dropbox request fails [server default: 60].
    #[arg(long, value_name = "N")]
    pub timeout_seconds: Option<u32>,
    /// Code page, a WHATWG encoding label [server default: windows-1252].
    #[arg(long, value_name = "CP")]
    pub code_page: Option<String>,
    /// Your own Dropbox app key (default: the operator's app).
    #[arg(long, value_name = "KEY", help_heading = "App")]
    pub app_key: Option<String>,
    /// File holding the app secret (`-`: standard input).
    #[arg(long, value_name = "FILE", help_heading = "App")]
    pub app_secret_file: Option<PathBuf>,
    /// OAuth redirect URI [server default: http://localhost:9999].
    #[arg(long, value_name = "URI", help_heading = "App")]
    pub redirect_uri: Option<String>,
    /// File holding a Dropbox access token (`-`: standard input).
    #[arg(long, value_name = "FILE", help_heading = "Credentials")]
    pub access_token_file: Option<PathBuf>,
    /// File holding a Dropbox refresh token (`-`: standard input).
    #[arg(long, value_name = "FILE", help_heading = "Credentials")]
    pub refresh_token_file: Option<PathBuf>,
    /// Personal or business.
    #[arg(long, value_enum, help_heading = "Business")]
    pub account_type: Option<AccountTypeArg>,
    /// Team member to act as (`dbmid:...`).
    #[arg(long, value_name = "ID", help_heading = "Business")]
    pub team_member_id: Option<String>,
    /// Act as the team member with admin rights (`--as-admin=false` to turn off).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true",
          require_equals = true, help_heading = "Business")]
    pub as_admin: Option<bool>,
    /// Which namespace paths start from (Dropbox-API-Path-Root): `home`,
    /// `team-root:NSID` (the team space) or `namespace:NSID`.
    #[arg(long, value_name = "ROOT", value_parser = parse_path_root, help_heading = "Business")]
    pub path_root: Option<PathRootArg>,
    /// Proxy type.
    #[arg(long, value_enum, help_heading = "Proxy")]
    pub proxy_type: Option<ProxyTypeArg>,
    /// Proxy host name or address.
    #[arg(long, value_name = "HOST", help_heading = "Proxy")]
    pub proxy_address: Option<String>,
    /// Proxy port.
    #[arg(long, value_name = "PORT", help_heading = "Proxy")]
    pub proxy_port: Option<u32>,
    /// Proxy user name (implies --proxy-use-credentials unless given).
    #[arg(long, value_name = "USER", help_heading = "Proxy")]
    pub proxy_username: Option<String>,
    /// File holding the proxy password (`-`: standard input).
    #[arg(long, value_name = "FILE", help_heading = "Proxy")]
    pub proxy_password_file: Option<PathBuf>,
    /// Windows domain for the proxy user (sent as DOMAIN\user).
    #[arg(long, value_name = "DOMAIN", help_heading = "Proxy")]
    pub proxy_domain: Option<String>,
    /// Send the user name and password to the proxy.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true",
          require_equals = true, help_heading = "Proxy")]
    pub proxy_use_credentials: Option<bool>,
    /// A URL fetched through the proxy to test it.
    #[arg(long, value_name = "URL", help_heading = "Proxy")]
    pub proxy_test_url: Option<String>,
}

/// `dbxc upload`.
#[derive(Debug, Args)]
#[command(after_help = "\
LOCAL may be files or directories. A file is uploaded under its own name; a directory
contributes the files inside it (with --recursive, also those of its sub directories,
keeping their layout relative to that directory). Example: `dbxc upload ./data /backup`
sends data/a.txt to /backup/a.txt and, with --recursive, data/sub/b.txt to
/backup/sub/b.txt. --mask applies to every file name, including files named directly.
Inside a directory, a symbolic link leading out of it is skipped (a notice says so) unless
--follow-symlinks is given.
Each file's content_hash is computed locally first and checked by the server.
Exit code 1 when any file failed (skipped files are not failures).")]
pub struct UploadArgs {
    /// `;`-separated wildcard masks for local file names, e.g. "*.csv;*.txt".
    #[arg(long, value_name = "MASKS")]
    pub mask: Option<String>,
    /// Match --mask case-sensitively.
    #[arg(long)]
    pub case_sensitive: bool,
    /// Include the files of sub directories, keeping their relative layout.
    #[arg(long, short = 'r')]
    pub recursive: bool,
    /// Follow symbolic links that lead out of a LOCAL directory (and, with --recursive,
    /// links to directories). Without it such links are skipped with a notice.
    #[arg(long)]
    pub follow_symlinks: bool,
    /// When to replace an existing remote file: always, if-newer, if-size=same|smaller|larger|
    /// smaller-or-larger|different (the destination's size compared to the source's), never.
    #[arg(long, value_name = "WHEN", default_value = "always", value_parser = parse_overwrite)]
    pub overwrite: OverwritePolicy,
    /// Keep each file's local modification time in Dropbox.
    #[arg(long)]
    pub keep_dates: bool,
    /// On a conflict the overwrite option does not resolve, store as "name (2).ext".
    #[arg(long)]
    pub autorename: bool,
    /// Files of at least this size go through resumable uploads: when interrupted, the
    /// same command run again sends only what the server does not have yet. The upload
    /// state lives in $DBXC_STATE_DIR (default ~/.local/state/dbxc).
    #[arg(long, value_name = "SIZE", default_value = "32MB", value_parser = crate::filter_args::parse_size)]
    pub resumable_from: u64,
    /// Local files or directories.
    #[arg(required = true, value_name = "LOCAL")]
    pub local: Vec<PathBuf>,
    /// The Dropbox folder to upload into ("/" for the root; created as needed).
    #[arg(required = true, value_name = "REMOTE_FOLDER")]
    pub remote_folder: String,
}

/// `dbxc list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// The Dropbox folder ("/" for the root).
    #[arg(value_name = "REMOTE_FOLDER")]
    pub folder: String,
    /// The filter.
    #[command(flatten)]
    pub filter: FilterArgs,
}

/// `dbxc download`.
#[derive(Debug, Args)]
#[command(after_help = "\
Which REMOTE: with any filter flag, or a REMOTE ending in `/`, or the root, REMOTE is a folder
and the filter selects its files. Otherwise dbxc looks REMOTE up: a file is downloaded on its
own (to LOCAL_DIR/<name>), a folder is treated as above (its files, no sub folders without
--recursive). Files keep their path relative to the folder under LOCAL_DIR.

Safety: each file is written to a partial file next to its destination,
`.<name>.<rev>.dbxc-partial`, and renamed over the destination only after the content_hash
of the whole file matches Dropbox's. On a mismatch the partial is removed, the destination
is left as it was, and the exit code is 1.

Resuming: a download that was interrupted (Ctrl-C, a killed process, a dropped connection)
keeps its partial. Run the same command again and each file continues from the partial's
length with a byte range ('resuming <file> at <n> bytes' on stderr, `resumed_from` in the
JSON), then the whole file is verified as above. A partial resumes only for the same Dropbox
revision; partials of other revisions are removed. Two runs never write one partial at once
(it is locked). dbxc writes, resumes and removes only partials it made itself: a symbolic
link, a hard-linked file or another user's file at a partial's name fails that file.

Remote names never leave LOCAL_DIR: `/` and `\\` are separators, leading separators are
dropped, and a name with `..`, a NUL byte, a drive letter (C:) or a component longer than
255 bytes is refused for that file (error reason UNSAFE_PATH). Two remote names that land on
the same local file (`x`, `\\x`, `/x`) are refused (NAME_COLLISION) rather than overwrite
each other; the one named exactly as it lands, if there is one, is downloaded.

--overwrite compares with the local file: if-newer replaces when the remote modified time is
later than the local one; if-size=X replaces when the local (destination) size is X compared
to the remote's; `different` also compares content_hash. --delete-source deletes each remote
file only after its verified download, and only the revision that was downloaded: a source
that changed in Dropbox meanwhile is kept and reported (REVISION_CHANGED). The overwrite
decision is the server's: dbxc tells it what is in LOCAL_DIR (size, modified time, and the
content_hash for `different`), and the server reports the files it skips.
Exit code 1 when any file failed or a source could not be deleted (skipped files are not
failures).")]
pub struct DownloadArgs {
    /// A Dropbox folder or file.
    #[arg(value_name = "REMOTE")]
    pub remote: String,
    /// The local folder (created if missing).
    #[arg(value_name = "LOCAL_DIR")]
    pub local_dir: PathBuf,
    /// When to replace an existing local file (same values as for upload).
    #[arg(long, value_name = "WHEN", default_value = "always", value_parser = parse_overwrite)]
    pub overwrite: OverwritePolicy,
    /// Set each local file's modification time to the remote client_modified time.
    #[arg(long)]
    pub keep_dates: bool,
    /// Delete each remote file (that revision only) after its verified download.
    #[arg(long)]
    pub delete_source: bool,
    /// The filter.
    #[command(flatten)]
    pub filter: FilterArgs,
}

/// `dbxc create-folder`.
#[derive(Debug, Args)]
pub struct CreateFolderArgs {
    /// The new folder, e.g. /reports/2026.
    #[arg(value_name = "PATH")]
    pub path: String,
    /// Succeed when the folder already exists.
    #[arg(long)]
    pub exist_ok: bool,
}

/// `dbxc delete`.
#[derive(Debug, Args)]
#[command(after_help = "\
Either name items (`dbxc delete /a.txt /old-folder`) or select them with a filter
(`dbxc delete --folder /logs --mask '*.log' --modified-before 30d`). Try --dry-run first.
Exit code 1 when any item failed.")]
pub struct DeleteArgs {
    /// Items to delete (files or folders).
    #[arg(
        value_name = "PATH",
        required_unless_present = "folder",
        conflicts_with = "folder"
    )]
    pub paths: Vec<String>,
    /// Delete what the filter selects in this folder instead.
    #[arg(long, value_name = "FOLDER")]
    pub folder: Option<String>,
    /// Show what would be deleted without deleting.
    #[arg(long)]
    pub dry_run: bool,
    /// The filter (only with --folder).
    #[command(flatten)]
    pub filter: FilterArgs,
}

/// Parses an overwrite option: always, if-newer, if-size=COMPARISON, never.
pub fn parse_overwrite(text: &str) -> Result<OverwritePolicy, String> {
    let lower = text.trim().to_ascii_lowercase().replace('_', "-");
    let policy = |mode: OverwriteMode, cmp: SizeComparison| OverwritePolicy {
        mode: mode as i32,
        size_comparison: cmp as i32,
    };
    let result = match lower.as_str() {
        "always" => policy(OverwriteMode::Always, SizeComparison::Unspecified),
        "if-newer" => policy(OverwriteMode::IfNewer, SizeComparison::Unspecified),
        "never" => policy(OverwriteMode::Never, SizeComparison::Unspecified),
        other => {
            let Some(cmp) = other.strip_prefix("if-size=") else {
                return Err(format!(
                    "{text:?}: expected always, if-newer, if-size=same|smaller|larger|smaller-or-larger|different, or never"
                ));
            };
            let cmp = match cmp {
                "same" => SizeComparison::Same,
                "smaller" => SizeComparison::Smaller,
                "larger" => SizeComparison::Larger,
                "smaller-or-larger" => SizeComparison::SmallerOrLarger,
                "different" => SizeComparison::Different,
                _ => {
                    return Err(format!(
                        "{text:?}: the size comparison is one of same, smaller, larger, smaller-or-larger, different"
                    ));
                }
            };
            policy(OverwriteMode::IfSize, cmp)
        }
    };
    Ok(result)
}

/// A parsed `--path-root`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathRootArg {
    Home,
    TeamRoot(String),
    Namespace(String),
}

fn parse_path_root(raw: &str) -> Result<PathRootArg, String> {
    let id = |v: &str| {
        if !v.is_empty() && v.chars().all(|c| c.is_ascii_digit()) {
            Ok(v.to_string())
        } else {
            Err(format!("namespace ids are digits, got {v:?}"))
        }
    };
    match raw.split_once(':') {
        None if raw == "home" => Ok(PathRootArg::Home),
        Some(("team-root", v)) => id(v).map(PathRootArg::TeamRoot),
        Some(("namespace", v)) => id(v).map(PathRootArg::Namespace),
        _ => Err(format!(
            "expected home, team-root:NSID or namespace:NSID, got {raw:?}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn overwrite_values() {
        let p = parse_overwrite("always").unwrap();
        assert_eq!(p.mode, OverwriteMode::Always as i32);
        assert_eq!(
            parse_overwrite("if-newer").unwrap().mode,
            OverwriteMode::IfNewer as i32
        );
        assert_eq!(
            parse_overwrite("NEVER").unwrap().mode,
            OverwriteMode::Never as i32
        );
        for (text, cmp) in [
            ("if-size=same", SizeComparison::Same),
            ("if-size=smaller", SizeComparison::Smaller),
            ("if-size=larger", SizeComparison::Larger),
            ("if-size=smaller-or-larger", SizeComparison::SmallerOrLarger),
            ("if_size=smaller_or_larger", SizeComparison::SmallerOrLarger),
            ("if-size=different", SizeComparison::Different),
        ] {
            let p = parse_overwrite(text).unwrap();
            assert_eq!(p.mode, OverwriteMode::IfSize as i32, "{text}");
            assert_eq!(p.size_comparison, cmp as i32, "{text}");
        }
        for bad in [
            "",
            "sometimes",
            "if-size",
            "if-size=",
            "if-size=bigger",
            "if-newer=1",
        ] {
            assert!(parse_overwrite(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn upload_takes_many_locals_then_remote() {
        let cli = Cli::try_parse_from([
            "dbxc", "upload", "--mask", "*.txt", "a", "b", "dir", "/dest",
        ])
        .unwrap();
        let Command::Upload(up) = cli.command else {
            panic!("not upload")
        };
        assert_eq!(
            up.local,
            [PathBuf::from("a"), PathBuf::from("b"), PathBuf::from("dir")]
        );
        assert_eq!(up.remote_folder, "/dest");
        assert!(Cli::try_parse_from(["dbxc", "upload", "/dest"]).is_err());
    }

    #[test]
    fn delete_needs_paths_or_folder() {
        assert!(Cli::try_parse_from(["dbxc", "delete"]).is_err());
        assert!(Cli::try_parse_from(["dbxc", "delete", "/a", "--folder", "/f"]).is_err());
        assert!(
            Cli::try_parse_from([
                "dbxc",
                "delete",
                "--folder",
                "/f",
                "--mask",
                "*.x",
                "--dry-run"
            ])
            .is_ok()
        );
        assert!(Cli::try_parse_from(["dbxc", "delete", "/a", "/b"]).is_ok());
    }

    #[test]
    fn secrets_are_not_accepted_on_argv() {
        assert!(
            Cli::try_parse_from(["dbxc", "connection", "create", "x", "--access-token", "t"])
                .is_err()
        );
        let cli = Cli::try_parse_from([
            "dbxc",
            "connection",
            "create",
            "x",
            "--access-token-file",
            "-",
        ])
        .unwrap();
        assert!(matches!(
            cli.command,
            Command::Connection(ConnectionCommand::Create { .. })
        ));
    }

    #[test]
    fn mask_and_regex_conflict() {
        assert!(Cli::try_parse_from(["dbxc", "list", "/", "--mask", "a", "--regex", "b"]).is_err());
    }

    #[test]
    fn as_admin_forms() {
        let cli = Cli::try_parse_from(["dbxc", "connection", "update", "x", "--as-admin"]).unwrap();
        let Command::Connection(ConnectionCommand::Update { fields, .. }) = cli.command else {
            panic!()
        };
        assert_eq!(fields.as_admin, Some(true));
        let cli =
            Cli::try_parse_from(["dbxc", "connection", "update", "x", "--as-admin=false"]).unwrap();
        let Command::Connection(ConnectionCommand::Update { fields, .. }) = cli.command else {
            panic!()
        };
        assert_eq!(fields.as_admin, Some(false));
    }

    #[test]
    fn path_root_forms() {
        assert_eq!(parse_path_root("home"), Ok(PathRootArg::Home));
        assert_eq!(
            parse_path_root("team-root:123"),
            Ok(PathRootArg::TeamRoot("123".into()))
        );
        assert_eq!(
            parse_path_root("namespace:42"),
            Ok(PathRootArg::Namespace("42".into()))
        );
        assert!(parse_path_root("team-root:").is_err());
        assert!(parse_path_root("namespace:abc").is_err());
        assert!(parse_path_root("root").is_err());
    }
}
