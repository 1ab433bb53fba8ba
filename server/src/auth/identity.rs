//! Finding the caller of a call: a bearer token (by its SHA-256, in constant time), a JWT
//! signed by a key of the JWKS, or a verified client certificate. Tokens are never logged
//! nor echoed in errors.

use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::callers::CallerDef;
use crate::peer::CertificateIdentity;

/// Clock skew tolerated on `exp` and `nbf`.
pub const JWT_LEEWAY_SECONDS: u64 = 30;

/// The bearer token of `authorization: Bearer <token>`; `Err` (a message without the
/// value) for an `authorization` header of another form.
pub fn bearer_token(metadata: &tonic::metadata::MetadataMap) -> Result<Option<&str>, String> {
    let Some(value) = metadata.get("authorization") else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| "the authorization metadata is not ASCII text".to_owned())?;
    let (scheme, token) = text.trim().split_once(' ').unwrap_or((text, ""));
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err("the authorization metadata is not of the form `Bearer <token>`".into());
    }
    Ok(Some(token.trim()))
}

/// The caller whose `token_sha256` is the hash of `token`. Every caller's hash is
/// compared, in constant time, so the time taken says nothing about which one matched.
pub fn match_token<'a>(callers: &'a [CallerDef], token: &str) -> Option<&'a CallerDef> {
    let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    let mut found = None;
    for c in callers {
        if let Some(h) = &c.token_sha256
            && bool::from(h.ct_eq(&digest))
        {
            found = Some(c);
        }
    }
    found
}

/// The caller named by a verified client certificate: its `certificate` equals one of
/// the certificate's SAN URIs or DNS names exactly.
pub fn match_certificate<'a>(
    callers: &'a [CallerDef],
    cert: &CertificateIdentity,
) -> Option<&'a CallerDef> {
    callers.iter().find(|c| {
        c.certificate.as_deref().is_some_and(|want| {
            cert.uris.iter().any(|u| u == want) || cert.dns_names.iter().any(|d| d == want)
        })
    })
}

/// Whether a bearer token has the shape of a JWT (three base64url parts, the first a
/// JSON header), so that a plain token is never reported as a bad JWT.
pub fn looks_like_jwt(token: &str) -> bool {
    token.split('.').count() == 3 && jsonwebtoken::decode_header(token).is_ok()
}

/// The verification keys of `DBXC_AUTH__JWKS_FILE`.
#[derive(Clone, Default)]
pub struct Jwks {
    keys: Vec<(Jwk, DecodingKey)>,
}

impl std::fmt::Debug for Jwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jwks")
            .field(
                "kids",
                &self
                    .keys
                    .iter()
                    .map(|(j, _)| j.common.key_id.clone())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

#[derive(Debug, Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    aud: Audience,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn contains(&self, want: &str) -> bool {
        match self {
            Audience::One(a) => a == want,
            Audience::Many(list) => list.iter().any(|a| a == want),
        }
    }
}

/// The claims of a verified JWT that callers are matched on.
#[derive(Debug)]
pub struct VerifiedJwt {
    claims: Claims,
}

impl Jwks {
    /// Parses a JWKS document. Symmetric (`oct`) keys are refused: anyone who could
    /// verify with one could also sign.
    pub fn parse(text: &str) -> Result<Jwks, String> {
        let set: JwkSet = serde_json::from_str(text)
            .map_err(|e| format!("not a JWKS document ({{\"keys\": [...]}}): {e}"))?;
        let mut keys = Vec::with_capacity(set.keys.len());
        for (i, jwk) in set.keys.into_iter().enumerate() {
            let kid = jwk.common.key_id.clone().unwrap_or_default();
            if matches!(jwk.algorithm, AlgorithmParameters::OctetKey(_)) {
                return Err(format!(
                    "key {i} (kid {kid:?}) is a symmetric key; the JWKS holds public keys only"
                ));
            }
            // Encryption keys never sign.
            if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
                continue;
            }
            let key =
                DecodingKey::from_jwk(&jwk).map_err(|e| format!("key {i} (kid {kid:?}): {e}"))?;
            keys.push((jwk, key));
        }
        Ok(Jwks { keys })
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Verifies the signature (by the key its `kid` names), `exp` and `nbf`. `Err` says
    /// what was wrong, never the token.
    pub fn verify(&self, token: &str) -> Result<VerifiedJwt, String> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| format!("the JWT is malformed: {e}"))?;
        let (jwk, key) = match &header.kid {
            Some(kid) => self
                .keys
                .iter()
                .find(|(j, _)| j.common.key_id.as_deref() == Some(kid.as_str()))
                .ok_or_else(|| format!("the JWT's key id {kid:?} is not in the JWKS file"))?,
            None if self.keys.len() == 1 => &self.keys[0],
            None => return Err("the JWT names no key id (kid) and the JWKS has several".into()),
        };
        if !algorithm_fits(jwk, header.alg) {
            return Err(format!(
                "the JWT's algorithm {:?} does not fit its key",
                header.alg
            ));
        }
        let mut validation = Validation::new(header.alg);
        validation.leeway = JWT_LEEWAY_SECONDS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        // Audience, issuer and subject are matched per caller afterwards.
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
        let data = jsonwebtoken::decode::<Claims>(token, key, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::ExpiredSignature => "the JWT has expired".to_owned(),
                ErrorKind::ImmatureSignature => "the JWT is not valid yet (nbf)".to_owned(),
                ErrorKind::InvalidSignature => "the JWT's signature does not verify".to_owned(),
                _ => format!("the JWT was refused: {e}"),
            }
        })?;
        Ok(VerifiedJwt {
            claims: data.claims,
        })
    }
}

/// Only the algorithms of the key's own family (and the one it declares, if any).
fn algorithm_fits(jwk: &Jwk, alg: Algorithm) -> bool {
    use Algorithm::*;
    let family_ok = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => matches!(alg, RS256 | RS384 | RS512 | PS256 | PS384 | PS512),
        AlgorithmParameters::EllipticCurve(_) => matches!(alg, ES256 | ES384),
        AlgorithmParameters::OctetKeyPair(_) => matches!(alg, EdDSA),
        AlgorithmParameters::OctetKey(_) => false,
    };
    let declared_ok = match jwk.common.key_algorithm {
        None => true,
        Some(declared) => format!("{declared:?}") == format!("{alg:?}"),
    };
    family_ok && declared_ok
}

/// The caller whose `jwt` issuer, subject and audience the verified token carries.
pub fn match_jwt<'a>(callers: &'a [CallerDef], jwt: &VerifiedJwt) -> Option<&'a CallerDef> {
    callers.iter().find(|c| {
        c.jwt.as_ref().is_some_and(|want| {
            want.issuer == jwt.claims.iss
                && want.subject == jwt.claims.sub
                && jwt.claims.aud.contains(&want.audience)
        })
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::auth::callers::parse;

    fn callers() -> Vec<CallerDef> {
        let hash = hex::encode(Sha256::digest(b"s3cret"));
        parse(&format!(
            "[[caller]]\nname = \"tok\"\nrole = \"reader\"\ngroups = [\"*\"]\ntoken_sha256 = \"{hash}\"\n\
             [[caller]]\nname = \"spiffe\"\nrole = \"reader\"\ngroups = [\"*\"]\ncertificate = \"spiffe://cluster.local/ns/r/sa/e\"\n\
             [[caller]]\nname = \"dns\"\nrole = \"reader\"\ngroups = [\"*\"]\ncertificate = \"exporter.reports.svc\"\n\
             [[caller]]\nname = \"k8s\"\nrole = \"reader\"\ngroups = [\"*\"]\njwt = {{ issuer = \"https://kubernetes.default.svc\", subject = \"system:serviceaccount:r:e\", audience = \"dropbox-connector\" }}\n"
        ))
        .unwrap()
    }

    #[test]
    fn tokens_match_by_hash_only() {
        let c = callers();
        assert_eq!(match_token(&c, "s3cret").unwrap().caller.name, "tok");
        assert!(match_token(&c, "s3cret ").is_none());
        assert!(match_token(&c, "").is_none());
    }

    #[test]
    fn bearer_metadata() {
        let mut m = tonic::metadata::MetadataMap::new();
        assert_eq!(bearer_token(&m), Ok(None));
        m.insert("authorization", "Bearer abc".parse().unwrap());
        assert_eq!(bearer_token(&m), Ok(Some("abc")));
        m.insert("authorization", "Basic abc".parse().unwrap());
        let e = bearer_token(&m).unwrap_err();
        assert!(!e.contains("abc"), "{e}");
    }

    #[test]
    fn certificates_match_a_san_uri_or_dns_name_exactly() {
        let c = callers();
        let peer = crate::peer::PeerInfo {
            remote_addr: None,
            certificate: Some(CertificateIdentity {
                uris: vec!["spiffe://cluster.local/ns/r/sa/e".into()],
                dns_names: vec!["other.svc".into()],
            }),
        };
        let cert = peer.certificate.as_ref().unwrap();
        assert_eq!(match_certificate(&c, cert).unwrap().caller.name, "spiffe");
        let dns = CertificateIdentity {
            uris: vec![],
            dns_names: vec!["exporter.reports.svc".into()],
        };
        assert_eq!(match_certificate(&c, &dns).unwrap().caller.name, "dns");
        for near in [
            "spiffe://cluster.local/ns/r/sa/e/x",
            "SPIFFE://cluster.local/ns/r/sa/e",
            "spiffe://cluster.local/ns/r/sa",
        ] {
            let id = CertificateIdentity {
                uris: vec![near.into()],
                dns_names: vec!["exporter.reports.svc.evil".into()],
            };
            assert!(match_certificate(&c, &id).is_none(), "{near}");
        }
        assert!(match_certificate(&c, &CertificateIdentity::default()).is_none());
    }

    /// An EC P-256 key pair as (JWKS text, encoding key).
    fn es256_key(kid: &str) -> (String, jsonwebtoken::EncodingKey) {
        use base64::Engine;
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let point = pair.public_key_raw();
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let jwks = serde_json::json!({"keys": [{
            "kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
            "x": b64(&point[1..33]), "y": b64(&point[33..65]),
        }]});
        let enc = jsonwebtoken::EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).unwrap();
        (jwks.to_string(), enc)
    }

    fn sign(enc: &jsonwebtoken::EncodingKey, kid: &str, claims: serde_json::Value) -> String {
        let mut h = jsonwebtoken::Header::new(Algorithm::ES256);
        h.kid = Some(kid.into());
        jsonwebtoken::encode(&h, &claims, enc).unwrap()
    }

    fn now() -> i64 {
        time::OffsetDateTime::now_utc().unix_timestamp()
    }

    #[test]
    fn jwts_are_verified_and_matched_on_issuer_subject_audience() {
        let (jwks, enc) = es256_key("k1");
        let jwks = Jwks::parse(&jwks).unwrap();
        let c = callers();
        let claims = |aud: serde_json::Value, exp: i64| serde_json::json!({"iss": "https://kubernetes.default.svc", "sub": "system:serviceaccount:r:e", "aud": aud, "exp": exp});
        let good = sign(&enc, "k1", claims("dropbox-connector".into(), now() + 600));
        assert!(looks_like_jwt(&good) && !looks_like_jwt("s3cret"));
        let v = jwks.verify(&good).unwrap();
        assert_eq!(match_jwt(&c, &v).unwrap().caller.name, "k8s");
        let many = sign(
            &enc,
            "k1",
            claims(serde_json::json!(["x", "dropbox-connector"]), now() + 600),
        );
        assert!(match_jwt(&c, &jwks.verify(&many).unwrap()).is_some());
        let other_aud = sign(&enc, "k1", claims("someone-else".into(), now() + 600));
        assert!(match_jwt(&c, &jwks.verify(&other_aud).unwrap()).is_none());
        let expired = sign(&enc, "k1", claims("dropbox-connector".into(), now() - 600));
        assert!(jwks.verify(&expired).unwrap_err().contains("expired"));
        let unknown_kid = sign(&enc, "k2", claims("dropbox-connector".into(), now() + 600));
        assert!(jwks.verify(&unknown_kid).unwrap_err().contains("k2"));
        // Another key with the same kid: the signature does not verify.
        let (_, other) = es256_key("k1");
        let forged = sign(
            &other,
            "k1",
            claims("dropbox-connector".into(), now() + 600),
        );
        let e = jwks.verify(&forged).unwrap_err();
        assert!(e.contains("signature"), "{e}");
        assert!(!e.contains(&forged));
    }

    #[test]
    fn symmetric_keys_and_garbage_are_refused() {
        assert!(Jwks::parse(r#"{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"h"}]}"#).is_err());
        assert!(Jwks::parse("{}").is_err());
        assert!(Jwks::parse(r#"{"keys":[]}"#).unwrap().is_empty());
    }
}
