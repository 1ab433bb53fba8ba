//! The callers file (`DBXC_AUTH__CALLERS_FILE`): its TOML format and strict validation.
//! Every mistake is refused with the line, the caller and the fix, because a file that is
//! half understood would grant or deny the wrong calls.

use std::collections::HashSet;

use serde::Deserialize;

use super::policy::{Caller, Groups, Role};

/// One `[[caller]]` once validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallerDef {
    pub caller: Caller,
    /// SHA-256 of the bearer token.
    pub token_sha256: Option<[u8; 32]>,
    /// A SAN URI or DNS name of a verified client certificate.
    pub certificate: Option<String>,
    pub jwt: Option<JwtIdentity>,
}

/// Which JWTs name this caller: all three must match the token's claims.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtIdentity {
    pub issuer: String,
    pub subject: String,
    pub audience: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    caller: Vec<toml::Spanned<Entry>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    #[serde(default)]
    token_sha256: Option<String>,
    #[serde(default)]
    certificate: Option<String>,
    #[serde(default)]
    jwt: Option<JwtIdentity>,
    role: String,
    groups: Vec<String>,
}

const FORMAT_HINT: &str = "each caller is a [[caller]] table with name, role \
    (reader | writer | admin), groups ([\"finance\"] or [\"*\"]) and at least one of \
    token_sha256, certificate, jwt = { issuer, subject, audience }; see \
    deploy/callers.example.toml";

/// Parses and validates the whole file; `Err` says what to fix.
pub fn parse(text: &str) -> Result<Vec<CallerDef>, String> {
    let file: File = toml::from_str(text).map_err(|e| format!("{e}\n({FORMAT_HINT})"))?;
    let mut names = HashSet::new();
    let mut tokens = HashSet::new();
    let mut certificates = HashSet::new();
    let mut jwts = HashSet::new();
    let mut out = Vec::with_capacity(file.caller.len());
    for spanned in file.caller {
        let line = line_of(text, spanned.span().start);
        let entry = spanned.into_inner();
        let at = |msg: String| format!("line {line}, caller {:?}: {msg}", entry.name);
        let name = entry.name.trim();
        if name.is_empty() || name != entry.name || name.chars().any(char::is_control) {
            return Err(format!(
                "line {line}: caller name {:?} must be non-empty, without surrounding spaces \
                 or control characters",
                entry.name
            ));
        }
        if !names.insert(name.to_owned()) {
            return Err(at(
                "another caller already has this name; names must be unique (they are \
                 what the audit log and upload ownership go by)"
                    .into(),
            ));
        }
        let role = Role::parse(&entry.role).ok_or_else(|| {
            at(format!(
                "role {:?} is not one of reader, writer, admin",
                entry.role
            ))
        })?;
        let groups = groups(&entry.groups).map_err(at)?;
        let token_sha256 = match &entry.token_sha256 {
            None => None,
            Some(h) => Some(token_hash(h).map_err(at)?),
        };
        if let Some(t) = token_sha256
            && !tokens.insert(t)
        {
            return Err(at(
                "another caller has the same token_sha256; give each caller its own token".into(),
            ));
        }
        let certificate = match &entry.certificate {
            Some(c) if c.trim().is_empty() || c.trim() != c => {
                return Err(at(format!(
                    "certificate {c:?} must be a SAN URI (spiffe://...) or DNS name, without spaces"
                )));
            }
            other => other.clone(),
        };
        if let Some(c) = &certificate
            && !certificates.insert(c.clone())
        {
            return Err(at(format!(
                "another caller has the certificate {c:?}; a certificate names one caller"
            )));
        }
        if let Some(j) = &entry.jwt {
            for (key, v) in [
                ("issuer", &j.issuer),
                ("subject", &j.subject),
                ("audience", &j.audience),
            ] {
                if v.trim().is_empty() {
                    return Err(at(format!(
                        "jwt.{key} is empty; give the claim it must equal"
                    )));
                }
            }
            if !jwts.insert((j.issuer.clone(), j.subject.clone(), j.audience.clone())) {
                return Err(at(
                    "another caller has the same jwt issuer, subject and audience".into(),
                ));
            }
        }
        if token_sha256.is_none() && certificate.is_none() && entry.jwt.is_none() {
            return Err(at(format!(
                "no identity: add token_sha256 (`printf %s \"$TOKEN\" | sha256sum`), \
                 certificate or jwt ({FORMAT_HINT})"
            )));
        }
        out.push(CallerDef {
            caller: Caller {
                name: name.to_owned(),
                role,
                groups,
                anonymous: false,
            },
            token_sha256,
            certificate,
            jwt: entry.jwt,
        });
    }
    Ok(out)
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map(|before| before.matches('\n').count() + 1)
        .unwrap_or(1)
}

fn groups(list: &[String]) -> Result<Groups, String> {
    if list.is_empty() {
        return Err("groups is empty; list the connection groups, or [\"*\"] for all".into());
    }
    if list.iter().any(|g| g == "*") {
        if list.len() > 1 {
            return Err("groups mixes \"*\" with named groups; \"*\" stands alone".into());
        }
        return Ok(Groups::All);
    }
    Ok(Groups::Only(list.to_vec()))
}

fn token_hash(hex_text: &str) -> Result<[u8; 32], String> {
    let bad = || {
        format!(
            "token_sha256 must be 64 hex digits (the SHA-256 of the token: \
             `printf %s \"$TOKEN\" | sha256sum`), got {} characters",
            hex_text.len()
        )
    };
    if hex_text.len() != 64 {
        return Err(bad());
    }
    let bytes = hex::decode(hex_text).map_err(|_| bad())?;
    bytes.try_into().map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    fn err(text: &str) -> String {
        parse(text).unwrap_err()
    }

    #[test]
    fn the_shipped_example_parses() {
        let text = include_str!("../../../deploy/callers.example.toml");
        let callers = parse(text).unwrap();
        assert!(callers.len() >= 3, "{callers:?}");
        assert!(callers.iter().any(|c| c.jwt.is_some()));
        assert!(callers.iter().any(|c| c.certificate.is_some()));
        assert!(callers.iter().any(|c| c.token_sha256.is_some()));
    }

    #[test]
    fn a_full_caller() {
        let c = parse(&format!(
            "[[caller]]\nname = \"reports\"\ntoken_sha256 = \"{HASH}\"\nrole = \"writer\"\n\
             groups = [\"finance\"]\ncertificate = \"spiffe://c/ns/r/sa/e\"\n\
             jwt = {{ issuer = \"i\", subject = \"s\", audience = \"a\" }}\n"
        ))
        .unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].caller.role, Role::Writer);
        assert_eq!(c[0].caller.groups, Groups::Only(vec!["finance".into()]));
        assert_eq!(c[0].token_sha256.map(hex::encode).as_deref(), Some(HASH));
        assert_eq!(c[0].jwt.as_ref().unwrap().audience, "a");
    }

    #[test]
    fn strict_validation_names_the_line_and_the_fix() {
        let ok = format!("role = \"reader\"\ngroups = [\"*\"]\ntoken_sha256 = \"{HASH}\"\n");
        // Unknown keys, at either level.
        let e = err(&format!("[[caller]]\nname = \"a\"\n{ok}tokn = \"x\"\n"));
        assert!(e.contains("tokn") && e.contains("line 6"), "{e}");
        assert!(err("[[callers]]\nname = \"a\"\n").contains("callers"));
        let e = err(&format!(
            "[[caller]]\nname = \"a\"\n{ok}jwt = {{ issuer = \"i\", subject = \"s\", audience = \"a\", aud = \"x\" }}\n"
        ));
        assert!(e.contains("aud"), "{e}");
        // Token hash.
        let e = err(
            "[[caller]]\nname = \"a\"\nrole = \"reader\"\ngroups = [\"*\"]\ntoken_sha256 = \"abc\"\n",
        );
        assert!(
            e.contains("64 hex") && e.contains("\"a\"") && e.contains("sha256sum"),
            "{e}"
        );
        let e = err(&format!(
            "[[caller]]\nname = \"a\"\nrole = \"reader\"\ngroups = [\"*\"]\ntoken_sha256 = \"{}\"\n",
            "g".repeat(64)
        ));
        assert!(e.contains("64 hex"), "{e}");
        // Unique names, on the line of the second one.
        let e = err(&format!(
            "[[caller]]\nname = \"a\"\n{ok}\n[[caller]]\nname = \"a\"\nrole = \"admin\"\ngroups = [\"x\"]\ncertificate = \"c\"\n"
        ));
        assert!(e.contains("line 7") && e.contains("unique"), "{e}");
        // At least one identity.
        let e = err("[[caller]]\nname = \"b\"\nrole = \"reader\"\ngroups = [\"*\"]\n");
        assert!(e.contains("no identity") && e.contains("\"b\""), "{e}");
        // Role.
        let e = err(&format!(
            "[[caller]]\nname = \"a\"\nrole = \"root\"\ngroups = [\"*\"]\ntoken_sha256 = \"{HASH}\"\n"
        ));
        assert!(e.contains("reader, writer, admin"), "{e}");
        // Groups.
        assert!(err(&format!("[[caller]]\nname = \"a\"\nrole = \"reader\"\ngroups = []\ntoken_sha256 = \"{HASH}\"\n")).contains("groups is empty"));
        assert!(err(&format!("[[caller]]\nname = \"a\"\nrole = \"reader\"\ngroups = [\"*\", \"x\"]\ntoken_sha256 = \"{HASH}\"\n")).contains("stands alone"));
        // Missing required keys.
        assert!(err("[[caller]]\nname = \"a\"\n").contains("role"));
        // One token, one caller.
        let e = err(&format!(
            "[[caller]]\nname = \"a\"\n{ok}[[caller]]\nname = \"b\"\n{ok}"
        ));
        assert!(e.contains("same token_sha256"), "{e}");
    }
}
