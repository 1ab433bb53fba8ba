//! The remote file filter flags shared by `list`, `download` and `delete`, and their parsers.

use clap::{Args, ValueEnum};
use dropbox_connector_proto::v1::{DateField, ItemKind, Join, RemoteFileFilter, SortBy};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::output::to_timestamp;

/// Which kinds of items the filter returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KindArg {
    /// Files only (the default).
    Files,
    /// Folders only.
    Folders,
    /// Files and folders.
    All,
}

/// How two conditions combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum JoinArg {
    /// Both must hold (the default).
    And,
    /// Either may hold.
    Or,
}

/// Which timestamp the date conditions read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DateFieldArg {
    /// The modification time the uploader set (the default).
    Client,
    /// When Dropbox stored the revision.
    Server,
}

/// Sort keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SortArg {
    /// Path.
    Name,
    /// The --date-field timestamp.
    Modified,
    /// Size (folders count as 0).
    Size,
}

/// VisualCron's "Cloud Remote file filter".
#[derive(Debug, Clone, Default, Args)]
pub struct FilterArgs {
    /// `;`-separated wildcard masks matched against item names (`*`, `?`), e.g. "*.csv;r-??.txt".
    #[arg(
        long,
        value_name = "MASKS",
        conflicts_with = "regex",
        help_heading = "Filter"
    )]
    pub mask: Option<String>,
    /// A regular expression matched against item names (instead of --mask).
    #[arg(long, value_name = "REGEX", help_heading = "Filter")]
    pub regex: Option<String>,
    /// Match names case-sensitively.
    #[arg(long, help_heading = "Filter")]
    pub case_sensitive: bool,
    /// Which items to return [default: files].
    #[arg(long, value_enum, help_heading = "Filter")]
    pub kind: Option<KindArg>,
    /// Include sub folders (relative paths are kept).
    #[arg(long, short = 'r', help_heading = "Filter")]
    pub recursive: bool,
    /// Only items modified before this time: RFC 3339 (2026-01-31T00:00:00Z) or a
    /// relative duration meaning "now minus" (7d, 12h, 30m, 2w, "1d 6h").
    #[arg(long, value_name = "WHEN", value_parser = parse_when, help_heading = "Filter")]
    pub modified_before: Option<OffsetDateTime>,
    /// Only items modified after this time (same formats as --modified-before).
    #[arg(long, value_name = "WHEN", value_parser = parse_when, help_heading = "Filter")]
    pub modified_after: Option<OffsetDateTime>,
    /// How --modified-before and --modified-after combine [default: and].
    #[arg(long, value_enum, help_heading = "Filter")]
    pub date_join: Option<JoinArg>,
    /// Which timestamp the date conditions and --sort modified read [default: client].
    #[arg(long, value_enum, help_heading = "Filter")]
    pub date_field: Option<DateFieldArg>,
    /// Only files smaller than this size: bytes, or with a 1024-based unit (10KB, 5MB, 2GB, 1TB).
    #[arg(long, value_name = "SIZE", value_parser = parse_size, help_heading = "Filter")]
    pub smaller_than: Option<u64>,
    /// Only files larger than this size (same units as --smaller-than).
    #[arg(long, value_name = "SIZE", value_parser = parse_size, help_heading = "Filter")]
    pub larger_than: Option<u64>,
    /// How --smaller-than and --larger-than combine [default: and].
    #[arg(long, value_enum, help_heading = "Filter")]
    pub size_join: Option<JoinArg>,
    /// Sort key [default: Dropbox's listing order].
    #[arg(long, value_enum, help_heading = "Filter")]
    pub sort: Option<SortArg>,
    /// Sort descending.
    #[arg(long, help_heading = "Filter")]
    pub desc: bool,
    /// At most this many items, after sorting (0: no limit).
    #[arg(long, value_name = "N", help_heading = "Filter")]
    pub limit: Option<u32>,
    /// Fail with exit code 3 (NO_ITEMS_MATCHED) when nothing matches.
    #[arg(long, help_heading = "Filter")]
    pub fail_if_empty: bool,
}

impl FilterArgs {
    /// Whether any filter flag was given.
    pub fn is_set(&self) -> bool {
        self.mask.is_some()
            || self.regex.is_some()
            || self.case_sensitive
            || self.kind.is_some()
            || self.recursive
            || self.modified_before.is_some()
            || self.modified_after.is_some()
            || self.date_join.is_some()
            || self.date_field.is_some()
            || self.smaller_than.is_some()
            || self.larger_than.is_some()
            || self.size_join.is_some()
            || self.sort.is_some()
            || self.desc
            || self.limit.is_some()
            || self.fail_if_empty
    }

    /// The RemoteFileFilter for `folder`.
    pub fn to_filter(&self, folder: &str) -> RemoteFileFilter {
        let (mask, mask_is_regex) = match (&self.regex, &self.mask) {
            (Some(regex), _) => (regex.clone(), true),
            (None, Some(mask)) => (mask.clone(), false),
            (None, None) => (String::new(), false),
        };
        RemoteFileFilter {
            folder: normalize_remote(folder),
            mask,
            mask_is_regex,
            case_sensitive: self.case_sensitive,
            kind: match self.kind {
                None => ItemKind::Unspecified,
                Some(KindArg::Files) => ItemKind::File,
                Some(KindArg::Folders) => ItemKind::Folder,
                Some(KindArg::All) => ItemKind::All,
            } as i32,
            include_subfolders: self.recursive,
            modified_before: self.modified_before.map(to_timestamp),
            modified_after: self.modified_after.map(to_timestamp),
            date_join: join(self.date_join) as i32,
            date_field: match self.date_field {
                None => DateField::Unspecified,
                Some(DateFieldArg::Client) => DateField::ClientModified,
                Some(DateFieldArg::Server) => DateField::ServerModified,
            } as i32,
            size_smaller_than: self.smaller_than,
            size_larger_than: self.larger_than,
            size_join: join(self.size_join) as i32,
            sort_by: match self.sort {
                None => SortBy::Unspecified,
                Some(SortArg::Name) => SortBy::Name,
                Some(SortArg::Modified) => SortBy::Modified,
                Some(SortArg::Size) => SortBy::Size,
            } as i32,
            sort_descending: self.desc,
            limit: self.limit.unwrap_or(0),
            fail_if_empty: self.fail_if_empty,
        }
    }
}

fn join(arg: Option<JoinArg>) -> Join {
    match arg {
        None => Join::Unspecified,
        Some(JoinArg::And) => Join::And,
        Some(JoinArg::Or) => Join::Or,
    }
}

/// A remote folder as the contract wants it: "" for the root, otherwise "/a/b" (a missing
/// leading slash is added, a trailing one removed).
pub fn normalize_remote(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty()
        || path.starts_with("id:")
        || path.starts_with("ns:")
        || path.starts_with("rev:")
    {
        return if trimmed.is_empty() {
            String::new()
        } else {
            trimmed.to_string()
        };
    }
    if trimmed.starts_with('/') {
        trimmed.to_string()
    } else {
        format!("/{trimmed}")
    }
}

/// Parses a size: a number of bytes with an optional 1024-based unit: B, K/KB/KiB, M/MB/MiB,
/// G/GB/GiB, T/TB/TiB (case-insensitive; a fraction is allowed with a unit: 1.5MB).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit = unit.trim().to_ascii_lowercase();
    let multiplier: u64 = match unit.as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => {
            return Err(format!(
                "unknown size unit {unit:?} (use B, KB, MB, GB or TB)"
            ));
        }
    };
    if number.is_empty() {
        return Err(format!(
            "{text:?} is not a size (examples: 10, 10KB, 5MB, 2GB, 1TB)"
        ));
    }
    if let Ok(whole) = number.parse::<u64>() {
        return whole
            .checked_mul(multiplier)
            .ok_or_else(|| format!("{text:?} is too large"));
    }
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size (examples: 10, 10KB, 5MB, 2GB, 1TB)"))?;
    let bytes = value * multiplier as f64;
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(format!("{text:?} is too large"));
    }
    Ok(bytes.round() as u64)
}

/// Parses a point in time: RFC 3339, or a duration (humantime syntax: 7d, 12h, 30m, 2w,
/// "1d 6h") meaning that long before now.
pub fn parse_when(text: &str) -> Result<OffsetDateTime, String> {
    parse_when_at(text, OffsetDateTime::now_utc())
}

fn parse_when_at(text: &str, now: OffsetDateTime) -> Result<OffsetDateTime, String> {
    let text = text.trim();
    if let Ok(when) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(when);
    }
    let duration = humantime::parse_duration(text).map_err(|_| {
        format!("{text:?} is neither an RFC 3339 time (2026-01-31T00:00:00Z) nor a duration (7d, 12h, 30m)")
    })?;
    let duration =
        time::Duration::try_from(duration).map_err(|_| format!("{text:?} is too long"))?;
    now.checked_sub(duration)
        .ok_or_else(|| format!("{text:?} is too long ago"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("10").unwrap(), 10);
        assert_eq!(parse_size("0").unwrap(), 0);
        assert_eq!(parse_size("10B").unwrap(), 10);
        assert_eq!(parse_size("10KB").unwrap(), 10 * 1024);
        assert_eq!(parse_size("10kb").unwrap(), 10 * 1024);
        assert_eq!(parse_size("10K").unwrap(), 10 * 1024);
        assert_eq!(parse_size("5MB").unwrap(), 5 * 1024 * 1024);
        assert_eq!(parse_size("5 MiB").unwrap(), 5 * 1024 * 1024);
        assert_eq!(parse_size("2GB").unwrap(), 2 * 1024 * 1024 * 1024);
        assert_eq!(parse_size("1TB").unwrap(), 1024u64.pow(4));
        assert_eq!(parse_size("1.5KB").unwrap(), 1536);
        assert!(parse_size("").is_err());
        assert!(parse_size("KB").is_err());
        assert!(parse_size("10XB").is_err());
        assert!(parse_size("-5").is_err());
        assert!(parse_size("99999999999999999999").is_err());
        assert!(parse_size("20000000TB").is_err());
    }

    #[test]
    fn times() {
        let now = datetime!(2026-03-10 12:00:00 UTC);
        assert_eq!(
            parse_when_at("2026-01-31T00:00:00Z", now).unwrap(),
            datetime!(2026-01-31 00:00:00 UTC)
        );
        assert_eq!(
            parse_when_at("2026-01-31T02:00:00+02:00", now).unwrap(),
            datetime!(2026-01-31 00:00:00 UTC)
        );
        assert_eq!(
            parse_when_at("7d", now).unwrap(),
            datetime!(2026-03-03 12:00:00 UTC)
        );
        assert_eq!(
            parse_when_at("12h", now).unwrap(),
            datetime!(2026-03-10 00:00:00 UTC)
        );
        assert_eq!(
            parse_when_at("30m", now).unwrap(),
            datetime!(2026-03-10 11:30:00 UTC)
        );
        assert_eq!(
            parse_when_at("2w", now).unwrap(),
            datetime!(2026-02-24 12:00:00 UTC)
        );
        assert_eq!(
            parse_when_at("1d 6h", now).unwrap(),
            datetime!(2026-03-09 06:00:00 UTC)
        );
        assert!(parse_when_at("yesterday", now).is_err());
        assert!(parse_when_at("2026-13-01", now).is_err());
    }

    #[test]
    fn remote_folders_normalize() {
        assert_eq!(normalize_remote(""), "");
        assert_eq!(normalize_remote("/"), "");
        assert_eq!(normalize_remote("a/b"), "/a/b");
        assert_eq!(normalize_remote("/a/b/"), "/a/b");
        assert_eq!(normalize_remote("id:abc"), "id:abc");
    }

    #[test]
    fn filter_mapping() {
        let args = FilterArgs {
            regex: Some("^a.*$".into()),
            kind: Some(KindArg::All),
            recursive: true,
            smaller_than: Some(10),
            size_join: Some(JoinArg::Or),
            sort: Some(SortArg::Size),
            desc: true,
            limit: Some(3),
            ..FilterArgs::default()
        };
        assert!(args.is_set());
        let f = args.to_filter("x");
        assert_eq!(f.folder, "/x");
        assert!(f.mask_is_regex);
        assert_eq!(f.mask, "^a.*$");
        assert_eq!(f.kind, ItemKind::All as i32);
        assert!(f.include_subfolders);
        assert_eq!(f.size_smaller_than, Some(10));
        assert_eq!(f.size_larger_than, None);
        assert_eq!(f.size_join, Join::Or as i32);
        assert_eq!(f.sort_by, SortBy::Size as i32);
        assert!(f.sort_descending);
        assert_eq!(f.limit, 3);
        assert!(!FilterArgs::default().is_set());
    }
}
