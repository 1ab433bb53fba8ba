//! Wire types and encodings: header-safe JSON, timestamps, metadata and account.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

use crate::error::{Error, union_tag};

/// Serialise to JSON that is safe in an HTTP header (`Dropbox-API-Arg`): every char >= 0x7F
/// is written as `\uXXXX`, chars above U+FFFF as UTF-16 surrogate pairs.
pub fn escape_header_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len() + 16);
    let mut buf = [0u16; 2];
    for ch in json.chars() {
        if (ch as u32) < 0x7F {
            out.push(ch);
        } else {
            for unit in ch.encode_utf16(&mut buf) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

/// `serde_json::to_string` + [`escape_header_json`].
pub(crate) fn header_arg<T: Serialize + ?Sized>(arg: &T) -> Result<String, Error> {
    let json = serde_json::to_string(arg).map_err(|e| Error::Decode(e.to_string()))?;
    Ok(escape_header_json(&json))
}

/// Decode a `Dropbox-API-Result` header (escaped JSON; raw UTF-8 is tolerated too).
pub(crate) fn decode_result_header<T: for<'de> Deserialize<'de>>(raw: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(raw).map_err(|e| Error::Decode(format!("Dropbox-API-Result: {e}")))
}

/// Format a timestamp the way Dropbox wants it: UTC, no fractional seconds.
pub fn format_timestamp(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let t = t.replace_nanosecond(0).unwrap_or(t);
    t.format(format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
    ))
    .unwrap_or_default()
}

pub(crate) fn ser_opt_timestamp<S: Serializer>(
    t: &Option<OffsetDateTime>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&format_timestamp(*t)),
        None => s.serialize_none(),
    }
}

fn de_timestamp<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
    let s = String::deserialize(d)?;
    OffsetDateTime::parse(&s, &Rfc3339).map_err(serde::de::Error::custom)
}

/// File metadata (`FileMetadata` in files.stone; the fields this project uses).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct FileMetadata {
    pub name: String,
    pub id: String,
    #[serde(default)]
    pub path_lower: Option<String>,
    #[serde(default)]
    pub path_display: Option<String>,
    #[serde(deserialize_with = "de_timestamp", serialize_with = "ser_timestamp")]
    pub client_modified: OffsetDateTime,
    #[serde(deserialize_with = "de_timestamp", serialize_with = "ser_timestamp")]
    pub server_modified: OffsetDateTime,
    pub rev: String,
    pub size: u64,
    #[serde(default = "default_true")]
    pub is_downloadable: bool,
    #[serde(default)]
    pub content_hash: Option<String>,
}

fn ser_timestamp<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_timestamp(*t))
}

fn default_true() -> bool {
    true
}

/// Folder metadata.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct FolderMetadata {
    pub name: String,
    pub id: String,
    #[serde(default)]
    pub path_lower: Option<String>,
    #[serde(default)]
    pub path_display: Option<String>,
}

/// File or folder metadata (deleted entries are filtered out by this client).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Metadata {
    File(FileMetadata),
    Folder(FolderMetadata),
}

impl Metadata {
    pub fn name(&self) -> &str {
        match self {
            Metadata::File(f) => &f.name,
            Metadata::Folder(f) => &f.name,
        }
    }
    pub fn path_display(&self) -> Option<&str> {
        match self {
            Metadata::File(f) => f.path_display.as_deref(),
            Metadata::Folder(f) => f.path_display.as_deref(),
        }
    }
    pub fn path_lower(&self) -> Option<&str> {
        match self {
            Metadata::File(f) => f.path_lower.as_deref(),
            Metadata::Folder(f) => f.path_lower.as_deref(),
        }
    }
    pub fn id(&self) -> &str {
        match self {
            Metadata::File(f) => &f.id,
            Metadata::Folder(f) => &f.id,
        }
    }
    pub fn as_file(&self) -> Option<&FileMetadata> {
        match self {
            Metadata::File(f) => Some(f),
            Metadata::Folder(_) => None,
        }
    }
    pub fn is_folder(&self) -> bool {
        matches!(self, Metadata::Folder(_))
    }
}

/// Metadata as it arrives, `.tag` included (`deleted` possible in listings).
#[derive(Debug)]
pub(crate) enum RawMetadata {
    File(FileMetadata),
    Folder(FolderMetadata),
    Deleted,
}

impl RawMetadata {
    pub(crate) fn into_metadata(self) -> Option<Metadata> {
        match self {
            RawMetadata::File(f) => Some(Metadata::File(f)),
            RawMetadata::Folder(f) => Some(Metadata::Folder(f)),
            RawMetadata::Deleted => None,
        }
    }
}

impl<'de> Deserialize<'de> for RawMetadata {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        let tag = union_tag(&v).unwrap_or("").to_owned();
        match tag.as_str() {
            "file" => FileMetadata::deserialize(v).map(RawMetadata::File),
            "folder" => FolderMetadata::deserialize(v).map(RawMetadata::Folder),
            "deleted" => Ok(RawMetadata::Deleted),
            other => Err(serde::de::Error::custom(format!(
                "unknown metadata tag {other:?}"
            ))),
        }
        .map_err(serde::de::Error::custom)
    }
}

impl<'de> Deserialize<'de> for Metadata {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        RawMetadata::deserialize(d)?.into_metadata().ok_or_else(|| {
            serde::de::Error::custom("deleted metadata where a file or folder was expected")
        })
    }
}

impl Serialize for Metadata {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (tag, mut v) = match self {
            Metadata::File(f) => (
                "file",
                serde_json::to_value(f).map_err(serde::ser::Error::custom)?,
            ),
            Metadata::Folder(f) => (
                "folder",
                serde_json::to_value(f).map_err(serde::ser::Error::custom)?,
            ),
        };
        if let Value::Object(m) = &mut v {
            m.insert(".tag".into(), Value::String(tag.into()));
        }
        v.serialize(s)
    }
}

/// `users/get_current_account` result (the fields this project uses).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Account {
    pub account_id: String,
    pub name: Name,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub email_verified: bool,
    #[serde(default)]
    pub disabled: bool,
    #[serde(default)]
    pub locale: String,
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default, deserialize_with = "de_account_type")]
    pub account_type: AccountType,
    #[serde(default)]
    pub root_info: Option<RootInfo>,
    /// Team info when the account belongs to a team (raw JSON).
    #[serde(default)]
    pub team: Option<Value>,
    #[serde(default)]
    pub team_member_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Name {
    #[serde(default)]
    pub given_name: String,
    #[serde(default)]
    pub surname: String,
    #[serde(default)]
    pub familiar_name: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub abbreviated_name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AccountType {
    Basic,
    Pro,
    Business,
    #[default]
    Unknown,
}

fn de_account_type<'de, D: Deserializer<'de>>(d: D) -> Result<AccountType, D::Error> {
    let v = Value::deserialize(d)?;
    Ok(match union_tag(&v) {
        Some("basic") => AccountType::Basic,
        Some("pro") => AccountType::Pro,
        Some("business") => AccountType::Business,
        _ => AccountType::Unknown,
    })
}

/// `root_info`: `{".tag": "user"|"team", root_namespace_id, home_namespace_id}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootInfo {
    pub is_team: bool,
    pub root_namespace_id: String,
    pub home_namespace_id: String,
}

impl<'de> Deserialize<'de> for RootInfo {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        let get = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        Ok(RootInfo {
            is_team: union_tag(&v) == Some("team"),
            root_namespace_id: get("root_namespace_id"),
            home_namespace_id: get("home_namespace_id"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_non_ascii() {
        let arg = serde_json::json!({"path": "/é/日本/😀\u{7f}.txt"});
        let s = escape_header_json(&serde_json::to_string(&arg).unwrap());
        assert_eq!(
            s,
            r#"{"path":"/\u00e9/\u65e5\u672c/\ud83d\ude00\u007f.txt"}"#
        );
        assert!(s.bytes().all(|b| (0x20..0x7f).contains(&b)));
        let back: Value = serde_json::from_str(&s).unwrap();
        assert_eq!(back, arg);
    }

    #[test]
    fn header_arg_roundtrip() {
        let s = header_arg(&serde_json::json!({"path": "/a\"b\\c é"})).unwrap();
        assert_eq!(s, r#"{"path":"/a\"b\\c \u00e9"}"#);
        let v: Value = decode_result_header(s.as_bytes()).unwrap();
        assert_eq!(v["path"], "/a\"b\\c é");
        // Raw UTF-8 from a lax server is tolerated.
        let v: Value = decode_result_header("{\"name\":\"日本\"}".as_bytes()).unwrap();
        assert_eq!(v["name"], "日本");
    }

    #[test]
    fn timestamps_without_fraction() {
        let t = OffsetDateTime::parse("2015-05-15T15:50:38.123456+02:00", &Rfc3339).unwrap();
        assert_eq!(format_timestamp(t), "2015-05-15T13:50:38Z");
    }

    #[test]
    fn metadata_decoding() {
        let file = r#"{".tag":"file","name":"é.txt","id":"id:abc","path_lower":"/é.txt","path_display":"/é.txt","client_modified":"2015-05-15T15:50:38Z","server_modified":"2015-05-15T15:50:38Z","rev":"a1c10ce0dd78","size":5,"is_downloadable":true,"content_hash":"9595c9df90075148eb06860365df33584b75bff782a510c6cd4883a419833d50"}"#;
        let m: Metadata = serde_json::from_str(file).unwrap();
        let f = m.as_file().unwrap();
        assert_eq!(f.size, 5);
        assert_eq!(f.name, "é.txt");
        // Upload results come without .tag.
        let f2: FileMetadata =
            serde_json::from_str(&file.replace(r#"".tag":"file","#, "")).unwrap();
        assert_eq!(&f2, f);
        let folder: Metadata = serde_json::from_str(
            r#"{".tag":"folder","name":"d","id":"id:d","path_lower":"/d","path_display":"/D"}"#,
        )
        .unwrap();
        assert!(folder.is_folder());
        let del: RawMetadata =
            serde_json::from_str(r#"{".tag":"deleted","name":"x","path_lower":"/x"}"#).unwrap();
        assert!(del.into_metadata().is_none());
        // Serialize with .tag and no fractional seconds.
        let s = serde_json::to_string(&m).unwrap();
        assert!(s.contains(r#"".tag":"file""#) && s.contains("2015-05-15T15:50:38Z"));
    }

    #[test]
    fn account_decoding_union_forms() {
        let a = r#"{"account_id":"dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc","name":{"given_name":"F","surname":"L","familiar_name":"F","display_name":"F L","abbreviated_name":"FL"},"email":"f@example.com","email_verified":true,"disabled":false,"locale":"en","referral_link":"https://db.tt/x","is_paired":false,"account_type":{".tag":"basic"},"root_info":{".tag":"user","root_namespace_id":"3235641","home_namespace_id":"3235641"}}"#;
        let acc: Account = serde_json::from_str(a).unwrap();
        assert_eq!(acc.account_type, AccountType::Basic);
        assert_eq!(acc.root_info.unwrap().home_namespace_id, "3235641");
        let acc: Account =
            serde_json::from_str(&a.replace(r#"{".tag":"basic"}"#, r#""business""#)).unwrap();
        assert_eq!(acc.account_type, AccountType::Business);
    }
}
