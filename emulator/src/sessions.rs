//! Upload sessions: every append is stored as its own piece, so a failed or repeated
//! append leaves nothing half-written. Sequential sessions accept appends only at the
//! current end; concurrent sessions accept 4 MiB-aligned pieces in any order.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Value, json};

use crate::blob::Blob;
use crate::hash::BLOCK;
use crate::wire::tag;

/// Largest file a session can build: 2^41 - 2^22 bytes.
pub const MAX_SESSION_SIZE: u64 = (1 << 41) - (1 << 22);

#[derive(Clone, Debug)]
pub struct Piece {
    pub blob: Blob,
    pub len: u64,
    pub content_hash: String,
}

#[derive(Clone, Debug)]
pub struct Session {
    pub account_id: String,
    pub concurrent: bool,
    pub closed: bool,
    /// Sequential: the next offset. Concurrent: the end once the closing piece arrived.
    pub offset: u64,
    pub pieces: BTreeMap<u64, Piece>,
}

/// UploadSessionLookupError members (also used by append).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionErr {
    NotFound,
    IncorrectOffset(u64),
    Closed,
    NotClosed,
    TooLarge,
    InvalidOffset,
    InvalidDataSize,
    MissingData,
}

impl SessionErr {
    pub fn json(self) -> Value {
        match self {
            SessionErr::NotFound => tag("not_found"),
            SessionErr::IncorrectOffset(n) => {
                json!({".tag": "incorrect_offset", "correct_offset": n})
            }
            SessionErr::Closed => tag("closed"),
            SessionErr::NotClosed => tag("not_closed"),
            SessionErr::TooLarge => tag("too_large"),
            SessionErr::InvalidOffset => tag("concurrent_session_invalid_offset"),
            SessionErr::InvalidDataSize => tag("concurrent_session_invalid_data_size"),
            SessionErr::MissingData => tag("concurrent_session_missing_data"),
        }
    }
}

#[derive(Default)]
pub struct Sessions {
    pub map: HashMap<String, Session>,
}

impl Sessions {
    pub fn create(&mut self, account_id: &str, concurrent: bool) -> String {
        let id = format!("pid_upload_session:{}", crate::auth::random_token("", 32));
        self.map.insert(
            id.clone(),
            Session {
                account_id: account_id.to_string(),
                concurrent,
                closed: false,
                offset: 0,
                pieces: BTreeMap::new(),
            },
        );
        id
    }

    pub fn get_mut(&mut self, id: &str, account_id: &str) -> Result<&mut Session, SessionErr> {
        match self.map.get_mut(id) {
            Some(s) if s.account_id == account_id => Ok(s),
            _ => Err(SessionErr::NotFound),
        }
    }

    /// Every blob of every session (dropped by `reset`).
    pub fn drain_blobs(&mut self) -> Vec<Blob> {
        let out = self
            .map
            .values()
            .flat_map(|s| s.pieces.values().map(|p| p.blob.clone()))
            .collect();
        self.map.clear();
        out
    }
}

impl Session {
    /// Whether an append of unknown length may start at `offset`.
    pub fn check_append_start(&self, offset: u64) -> Result<(), SessionErr> {
        if self.concurrent {
            if !offset.is_multiple_of(BLOCK as u64) {
                return Err(SessionErr::InvalidOffset);
            }
            if self.closed && offset >= self.offset {
                return Err(SessionErr::Closed);
            }
            Ok(())
        } else {
            if self.closed {
                return Err(SessionErr::Closed);
            }
            if offset != self.offset {
                return Err(SessionErr::IncorrectOffset(self.offset));
            }
            Ok(())
        }
    }

    /// Records an append whose bytes are stored; returns a piece nobody needs any more
    /// (one a retried concurrent append replaced, or an empty one that adds nothing).
    pub fn add_piece(
        &mut self,
        offset: u64,
        piece: Piece,
        close: bool,
    ) -> Result<Option<Piece>, SessionErr> {
        self.check_append_start(offset)?;
        let end = offset.saturating_add(piece.len);
        if end > MAX_SESSION_SIZE {
            return Err(SessionErr::TooLarge);
        }
        if self.concurrent {
            if !close && !piece.len.is_multiple_of(BLOCK as u64) {
                return Err(SessionErr::InvalidDataSize);
            }
            if close {
                if self.pieces.range(end..).next().is_some() {
                    return Err(SessionErr::InvalidOffset);
                }
                self.closed = true;
                self.offset = end;
            }
        } else {
            self.offset = end;
            self.closed = close;
        }
        if piece.len > 0 || close || self.concurrent {
            return Ok(self.pieces.insert(offset, piece));
        }
        Ok(Some(piece))
    }

    /// The pieces in order, checked to cover `0..total` exactly.
    pub fn ordered_pieces(&self) -> Result<Vec<Piece>, SessionErr> {
        let mut expected = 0u64;
        let mut out = Vec::new();
        for (offset, piece) in &self.pieces {
            if *offset != expected {
                return Err(SessionErr::MissingData);
            }
            expected += piece.len;
            out.push(piece.clone());
        }
        if expected != self.offset {
            return Err(SessionErr::MissingData);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn piece(len: u64) -> Piece {
        Piece {
            blob: Blob::default(),
            len,
            content_hash: String::new(),
        }
    }

    #[test]
    fn sequential_offsets() {
        let mut s = Sessions::default();
        let id = s.create("a", false);
        let sess = s.get_mut(&id, "a").unwrap();
        sess.add_piece(0, piece(10), false).unwrap();
        assert_eq!(
            sess.add_piece(5, piece(10), false).map(|_| ()),
            Err(SessionErr::IncorrectOffset(10))
        );
        sess.add_piece(10, piece(5), true).unwrap();
        assert_eq!(
            sess.add_piece(15, piece(1), false).map(|_| ()),
            Err(SessionErr::Closed)
        );
        assert_eq!(sess.ordered_pieces().unwrap().len(), 2);
        assert_eq!(s.get_mut(&id, "b").err(), Some(SessionErr::NotFound));
    }

    #[test]
    fn concurrent_rules() {
        let b = BLOCK as u64;
        let mut s = Sessions::default();
        let id = s.create("a", true);
        let sess = s.get_mut(&id, "a").unwrap();
        assert_eq!(
            sess.add_piece(b, piece(100), false).map(|_| ()),
            Err(SessionErr::InvalidDataSize)
        );
        assert_eq!(
            sess.add_piece(3, piece(b), false).map(|_| ()),
            Err(SessionErr::InvalidOffset)
        );
        sess.add_piece(2 * b, piece(7), true).unwrap();
        assert_eq!(sess.ordered_pieces().err(), Some(SessionErr::MissingData));
        sess.add_piece(b, piece(b), false).unwrap();
        sess.add_piece(0, piece(b), false).unwrap();
        assert_eq!(sess.ordered_pieces().unwrap().len(), 3);
        assert_eq!(sess.offset, 2 * b + 7);
    }
}
