//! How secrets are turned into bytes for the database and back: the one place that
//! encodes them.
//!
//! Sealed format (version 2): `[2][key id: 8 ASCII hex][nonce: 12 bytes][AES-256-GCM
//! ciphertext + 16-byte tag]`. The key id is the first 8 hex digits of SHA-256 of the key,
//! so a value sealed under another key is recognised (and named) instead of failing as
//! "corrupt". The associated data binds a value to its row (e.g. the connection id) and to
//! the key id, so sealed values cannot be swapped between rows. A fresh random 96-bit nonce
//! is drawn for every seal.
//!
//! Version 1 (plain JSON, written before sealing existed) is never written, and read only
//! by [`Sealer::open_legacy`], which `dropbox-connector migrate-secrets` uses to seal it:
//! a server never takes plaintext from the database as if it had been sealed.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::model::Secrets;

/// Format tag of the legacy plain encoding (read only).
const PLAIN_V1: u8 = 1;
/// Format tag of the AES-256-GCM encoding.
const SEALED_V2: u8 = 2;
const KEY_ID_LEN: usize = 8;
const NONCE_LEN: usize = 12;
/// Bytes of key material.
pub const KEY_LEN: usize = 32;
/// How to make a key, for messages.
pub const MAKE_A_KEY: &str = "head -c 32 /dev/urandom | base64";

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("stored secrets use an unknown format {0}")]
    UnknownFormat(u8),
    #[error("stored secrets are empty")]
    Empty,
    #[error("stored secrets are corrupt: {0}")]
    Corrupt(String),
    #[error(
        "stored secrets were sealed with key id {stored}, but the server's key has id {have}: \
         start the server with the key they were sealed with (DBXC_SECRETS__KEY or \
         DBXC_SECRETS__KEY_FILE; after `dropbox-connector rotate-key`, the new key file)"
    )]
    WrongKey { stored: String, have: String },
    #[error("stored secrets failed authentication (tampered with, or moved between rows)")]
    Tampered,
    #[error(
        "the secrets key must be {KEY_LEN} random bytes in standard base64, not a passphrase \
         ({0}); make one with `{MAKE_A_KEY}`"
    )]
    BadKey(String),
    #[error(
        "stored secrets are in the legacy plain (unsealed) format; stop the server and run \
         `dropbox-connector {MIGRATE_COMMAND}` to seal them under the current key"
    )]
    LegacyPlain,
}

/// The command that seals legacy plain secrets, for messages.
pub const MIGRATE_COMMAND: &str = "migrate-secrets";

/// An AES-256-GCM key and its id. `Debug` prints only the id.
#[derive(Clone)]
pub struct Sealer {
    cipher: Aes256Gcm,
    id: String,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("key_id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Sealer {
    /// From the 32 raw key bytes.
    pub fn from_bytes(key: &[u8]) -> Result<Sealer, SecretsError> {
        if key.len() != KEY_LEN {
            return Err(SecretsError::BadKey(format!(
                "got {} bytes after decoding",
                key.len()
            )));
        }
        let id = hex::encode(Sha256::digest(key))[..KEY_ID_LEN].to_owned();
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key));
        Ok(Sealer { cipher, id })
    }

    /// From base64 text (surrounding whitespace ignored).
    pub fn from_base64(text: &str) -> Result<Sealer, SecretsError> {
        let raw = STANDARD
            .decode(text.trim())
            .map_err(|_| SecretsError::BadKey("not valid base64".into()))?;
        Sealer::from_bytes(&raw)
    }

    /// A new random key: the sealer and its base64 text (to write to a key file).
    pub fn generate() -> (Sealer, String) {
        let mut raw = [0u8; KEY_LEN];
        rand::rngs::OsRng.fill_bytes(&mut raw);
        let text = STANDARD.encode(raw);
        // 32 bytes always make a key.
        let sealer = match Sealer::from_bytes(&raw) {
            Ok(s) => s,
            Err(_) => unreachable!("a 32-byte key is always accepted"),
        };
        (sealer, text)
    }

    /// First 8 hex digits of SHA-256 of the key.
    pub fn key_id(&self) -> &str {
        &self.id
    }

    fn aad(&self, context: &str) -> Vec<u8> {
        format!("dbxc-secrets:v2:{}:{context}", self.id).into_bytes()
    }

    /// Seals `plain`, bound to `context` (the row it belongs to).
    pub fn seal_bytes(&self, plain: &[u8], context: &str) -> Result<Vec<u8>, SecretsError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let aad = self.aad(context);
        let sealed = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: &aad,
                },
            )
            .map_err(|_| SecretsError::Corrupt("encryption failed".into()))?;
        let mut out = Vec::with_capacity(1 + KEY_ID_LEN + NONCE_LEN + sealed.len());
        out.push(SEALED_V2);
        out.extend_from_slice(self.id.as_bytes());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Opens what [`Sealer::seal_bytes`] made with the same `context`; a legacy plain
    /// value (version 1) comes back as such, its bytes being those after the tag.
    fn open_bytes(&self, bytes: &[u8], context: &str) -> Result<Opened, SecretsError> {
        match bytes.split_first() {
            None => Err(SecretsError::Empty),
            Some((&PLAIN_V1, rest)) => Ok(Opened::Plain(rest.to_vec())),
            Some((&SEALED_V2, rest)) => {
                if rest.len() < KEY_ID_LEN + NONCE_LEN + 16 {
                    return Err(SecretsError::Corrupt("sealed value too short".into()));
                }
                let (id, rest) = rest.split_at(KEY_ID_LEN);
                let id = String::from_utf8_lossy(id).into_owned();
                if id != self.id {
                    return Err(SecretsError::WrongKey {
                        stored: id,
                        have: self.id.clone(),
                    });
                }
                let (nonce, sealed) = rest.split_at(NONCE_LEN);
                let aad = self.aad(context);
                let plain = self
                    .cipher
                    .decrypt(
                        Nonce::from_slice(nonce),
                        Payload {
                            msg: sealed,
                            aad: &aad,
                        },
                    )
                    .map_err(|_| SecretsError::Tampered)?;
                Ok(Opened::Sealed(plain))
            }
            Some((&other, _)) => Err(SecretsError::UnknownFormat(other)),
        }
    }

    /// Bytes of a sealed value; a legacy plain value is refused.
    pub fn unseal_bytes(&self, bytes: &[u8], context: &str) -> Result<Vec<u8>, SecretsError> {
        match self.open_bytes(bytes, context)? {
            Opened::Sealed(p) => Ok(p),
            Opened::Plain(_) => Err(SecretsError::LegacyPlain),
        }
    }

    /// Secrets -> bytes for the `secrets` column of connection `id`.
    pub fn seal(&self, secrets: &Secrets, id: &str) -> Result<Vec<u8>, SecretsError> {
        let json = serde_json::to_vec(secrets).map_err(|e| SecretsError::Corrupt(e.to_string()))?;
        self.seal_bytes(&json, id)
    }

    /// Bytes from the `secrets` column of connection `id` -> secrets. A legacy plain value
    /// is refused ([`SecretsError::LegacyPlain`]).
    pub fn unseal(&self, bytes: &[u8], id: &str) -> Result<Secrets, SecretsError> {
        let json = self.unseal_bytes(bytes, id)?;
        serde_json::from_slice(&json).map_err(|e| SecretsError::Corrupt(e.to_string()))
    }

    /// The migration's reader: secrets from a `secrets` column that may still hold the
    /// legacy plain format. Only `migrate-secrets` calls it.
    pub fn open_legacy(&self, bytes: &[u8], id: &str) -> Result<Secrets, SecretsError> {
        let json = match self.open_bytes(bytes, id)? {
            Opened::Sealed(p) | Opened::Plain(p) => p,
        };
        serde_json::from_slice(&json).map_err(|e| SecretsError::Corrupt(e.to_string()))
    }

    /// Whether `bytes` still need sealing under this key (legacy plain, or another key).
    pub fn needs_reseal(&self, bytes: &[u8]) -> bool {
        match bytes.split_first() {
            Some((&SEALED_V2, rest)) => rest.get(..KEY_ID_LEN) != Some(self.id.as_bytes()),
            _ => true,
        }
    }
}

/// Whether `bytes` are a legacy plain value (written before sealing existed).
pub fn is_legacy_plain(bytes: &[u8]) -> bool {
    bytes.first() == Some(&PLAIN_V1)
}

enum Opened {
    Sealed(Vec<u8>),
    Plain(Vec<u8>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let (k, text) = Sealer::generate();
        let k2 = Sealer::from_base64(&format!(" {text}\n")).unwrap();
        assert_eq!(k.key_id(), k2.key_id());
        let s = Secrets {
            access_token: Some("sl.abc".into()),
            refresh_token: Some("refresh-xyz".into()),
            access_token_expires_at: Some(5),
            ..Default::default()
        };
        let sealed = k.seal(&s, "id1").unwrap();
        assert_eq!(k2.unseal(&sealed, "id1").unwrap(), s);
        assert!(!String::from_utf8_lossy(&sealed).contains("sl.abc"));
        assert!(!String::from_utf8_lossy(&sealed).contains("refresh-xyz"));
        // Fresh nonce per seal.
        assert_ne!(sealed, k.seal(&s, "id1").unwrap());
        // Bound to the row.
        assert!(matches!(
            k.unseal(&sealed, "id2"),
            Err(SecretsError::Tampered)
        ));
        // Another key is named, not "corrupt".
        let (other, _) = Sealer::generate();
        assert!(matches!(
            other.unseal(&sealed, "id1"),
            Err(SecretsError::WrongKey { .. })
        ));
        assert!(other.needs_reseal(&sealed) && !k.needs_reseal(&sealed));
        let mut flipped = sealed.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(matches!(
            k.unseal(&flipped, "id1"),
            Err(SecretsError::Tampered)
        ));
        assert!(matches!(k.unseal(&[], "id1"), Err(SecretsError::Empty)));
        assert!(matches!(
            k.unseal(&[9, b'{'], "id1"),
            Err(SecretsError::UnknownFormat(9))
        ));
        // Legacy plain values are read only by the migration's reader.
        let mut plain = vec![PLAIN_V1];
        plain.extend(serde_json::to_vec(&s).unwrap());
        assert!(matches!(
            k.unseal(&plain, "id1"),
            Err(SecretsError::LegacyPlain)
        ));
        assert!(is_legacy_plain(&plain) && !is_legacy_plain(&sealed));
        assert_eq!(k.open_legacy(&plain, "id1").unwrap(), s);
        assert_eq!(k.open_legacy(&sealed, "id1").unwrap(), s);
        assert!(k.needs_reseal(&plain));
        assert!(!format!("{s:?}").contains("sl.abc"));
        assert!(!format!("{k:?}").contains(&text));
        for not_a_key in [
            "c2hvcnQ=".to_owned(),
            "not base64!".to_owned(),
            "correct horse battery staple".to_owned(),
            STANDARD.encode([1u8; 16]),
            STANDARD.encode([1u8; 48]),
        ] {
            let e = Sealer::from_base64(&not_a_key).unwrap_err().to_string();
            assert!(e.contains(MAKE_A_KEY), "{e}");
        }
    }
}
