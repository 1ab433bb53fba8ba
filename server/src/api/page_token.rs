//! Opaque ListConnections page tokens: where the previous page ended, and for which group,
//! so a token cannot be replayed against another filter.

use serde::{Deserialize, Serialize};

use crate::tasks::TaskError;

#[derive(Serialize, Deserialize)]
struct Token {
    /// Continue after this display_name.
    a: String,
    /// The group filter the token belongs to.
    g: String,
}

pub fn encode(after: &str, group: &str) -> String {
    let json = serde_json::to_vec(&Token {
        a: after.to_owned(),
        g: group.to_owned(),
    })
    .unwrap_or_default();
    hex::encode(json)
}

/// `None` for an empty token (the first page).
pub fn decode(token: &str, group: &str) -> Result<Option<String>, TaskError> {
    if token.is_empty() {
        return Ok(None);
    }
    let bad = || {
        TaskError::invalid(
            "page_token",
            "not a token from a previous ListConnections response; start again without it",
        )
    };
    let bytes = hex::decode(token).map_err(|_| bad())?;
    let t: Token = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if t.g != group {
        return Err(TaskError::invalid(
            "page_token",
            "the token belongs to a listing with another group filter",
        ));
    }
    Ok(Some(t.a))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        assert_eq!(
            decode(&encode("b", "g"), "g").unwrap().as_deref(),
            Some("b")
        );
        assert_eq!(decode("", "g").unwrap(), None);
        assert!(decode("zz", "g").is_err());
        assert!(decode(&encode("b", "g"), "other").is_err());
    }
}
