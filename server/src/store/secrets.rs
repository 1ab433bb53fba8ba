//! How secrets are turned into bytes for the database and back.
//!
//! Today the bytes are plain JSON tagged with a format version. Sealing them with AES-GCM
//! (a later issue) replaces `seal`/`unseal` and adds a version: nothing else in the store
//! sees the format.

use super::model::Secrets;

/// Format tag of the current (unsealed) encoding.
const PLAIN_V1: u8 = 1;

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("stored secrets use an unknown format {0}")]
    UnknownFormat(u8),
    #[error("stored secrets are empty")]
    Empty,
    #[error("stored secrets are corrupt: {0}")]
    Corrupt(String),
}

/// Secrets -> bytes for the `secrets` column.
pub fn seal(secrets: &Secrets) -> Result<Vec<u8>, SecretsError> {
    let mut out = vec![PLAIN_V1];
    serde_json::to_writer(&mut out, secrets).map_err(|e| SecretsError::Corrupt(e.to_string()))?;
    Ok(out)
}

/// Bytes from the `secrets` column -> secrets.
pub fn unseal(bytes: &[u8]) -> Result<Secrets, SecretsError> {
    match bytes.split_first() {
        None => Err(SecretsError::Empty),
        Some((&PLAIN_V1, rest)) => {
            serde_json::from_slice(rest).map_err(|e| SecretsError::Corrupt(e.to_string()))
        }
        Some((&other, _)) => Err(SecretsError::UnknownFormat(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let s = Secrets {
            access_token: Some("sl.abc".into()),
            access_token_expires_at: Some(5),
            ..Default::default()
        };
        assert_eq!(unseal(&seal(&s).unwrap()).unwrap(), s);
        assert!(matches!(unseal(&[]), Err(SecretsError::Empty)));
        assert!(matches!(
            unseal(&[9, b'{']),
            Err(SecretsError::UnknownFormat(9))
        ));
        assert!(!format!("{s:?}").contains("sl.abc"));
    }
}
