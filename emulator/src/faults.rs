//! Injected faults: HTTP statuses, connection resets and corrupted download bytes.

use std::sync::Mutex;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::state::lock;

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum FaultKind {
    Status,
    Reset,
    Corrupt,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// `reset`: cut the request body.
    Request,
    /// `reset`: cut the response body.
    Response,
    /// `status`: answer before reading any of the request body, then read and discard the
    /// rest of it, as a front end with a lingering close does.
    Early,
    /// `status`: answer before reading any of the request body, then close the connection at
    /// once, as a front end may: a client still writing sees its answer or a broken pipe.
    EarlyClose,
    /// `status`: read the whole request body, then answer (the default).
    AfterBody,
}

/// A fault as posted to `/__emulator/faults`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FaultSpec {
    /// `files/upload_session/append_v2`, `files/*` or `*`.
    pub route: String,
    pub kind: FaultKind,
    /// For `status`: 429 (default), 500, 503, ...
    #[serde(default)]
    pub status: Option<u16>,
    /// Seconds for 429's Retry-After (default 1).
    #[serde(default)]
    pub retry_after: Option<u64>,
    /// 429 reason: `too_many_requests` (default) or `too_many_write_operations`.
    #[serde(default)]
    pub reason: Option<String>,
    /// Fire on this share of matching requests (0..100).
    #[serde(default)]
    pub percent: Option<f64>,
    /// Fire on the next N matching requests (default 1 when percent is absent).
    #[serde(default, alias = "times")]
    pub count: Option<u64>,
    /// For `reset`: cut the request body (default when the route takes a body) or the response.
    /// For `status`: `after_body` (default), `early` or `early_close`.
    #[serde(default)]
    pub phase: Option<Phase>,
    /// Let this many matching requests pass before the fault may fire (e.g. one reset in
    /// the middle of an upload: `after` = the number of appends before it).
    #[serde(default)]
    pub after: Option<u64>,
    /// Seeds this fault's draws for `percent`, so a run can be replayed: the same requests
    /// in the same order meet the same faults.
    #[serde(default)]
    pub seed: Option<u64>,
}

#[derive(Clone, Debug, Serialize)]
struct Fault {
    id: u64,
    #[serde(flatten)]
    spec: FaultSpec,
    remaining: Option<u64>,
    /// How many requests this fault was applied to.
    fired: u64,
    /// How many matching requests it let pass because of `after`.
    passed: u64,
    #[serde(skip)]
    rng: StdRng,
}

#[derive(Default)]
pub struct Faults {
    list: Mutex<(u64, Vec<Fault>)>,
}

fn route_matches(pattern: &str, route: &str) -> bool {
    let pattern = pattern.trim_start_matches('/').trim_start_matches("2/");
    if pattern == "*" {
        return true;
    }
    match pattern.strip_suffix('*') {
        Some(prefix) => route.starts_with(prefix),
        None => pattern == route,
    }
}

impl Faults {
    pub fn add(&self, spec: FaultSpec) -> Result<u64, String> {
        if let Some(p) = spec.percent
            && !(0.0..=100.0).contains(&p)
        {
            return Err("percent must be within 0..100".into());
        }
        if spec.kind == FaultKind::Status
            && let Some(s) = spec.status
            && !(100..=599).contains(&s)
        {
            return Err("status must be an HTTP status code".into());
        }
        let phase_fits = match spec.phase {
            None => true,
            Some(Phase::Request | Phase::Response) => spec.kind == FaultKind::Reset,
            Some(Phase::Early | Phase::EarlyClose | Phase::AfterBody) => {
                spec.kind == FaultKind::Status
            }
        };
        if !phase_fits {
            return Err(
                "phase: request/response go with reset, early/after_body with status".into(),
            );
        }
        let rng = match spec.seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_entropy(),
        };
        let remaining = match (spec.count, spec.percent) {
            (Some(c), _) => Some(c),
            (None, Some(_)) => None,
            (None, None) => Some(1),
        };
        let mut list = lock(&self.list);
        list.0 += 1;
        let id = list.0;
        list.1.push(Fault {
            id,
            spec,
            remaining,
            fired: 0,
            passed: 0,
            rng,
        });
        Ok(id)
    }

    pub fn clear(&self) {
        lock(&self.list).1.clear();
    }

    pub fn list(&self) -> serde_json::Value {
        serde_json::to_value(&lock(&self.list).1).unwrap_or_default()
    }

    /// The fault to apply to this request, if any (consumes a count).
    pub fn take(&self, route: &str) -> Option<FaultSpec> {
        let mut list = lock(&self.list);
        for fault in list.1.iter_mut() {
            if !route_matches(&fault.spec.route, route) {
                continue;
            }
            if fault.remaining == Some(0) {
                continue;
            }
            if fault.passed < fault.spec.after.unwrap_or(0) {
                fault.passed += 1;
                continue;
            }
            if let Some(p) = fault.spec.percent
                && fault.rng.r#gen::<f64>() * 100.0 >= p
            {
                continue;
            }
            if let Some(r) = fault.remaining.as_mut() {
                *r -= 1;
            }
            fault.fired += 1;
            return Some(fault.spec.clone());
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(route: &str) -> FaultSpec {
        FaultSpec {
            route: route.into(),
            kind: FaultKind::Status,
            status: Some(503),
            retry_after: None,
            reason: None,
            percent: None,
            count: Some(2),
            phase: None,
            after: None,
            seed: None,
        }
    }

    #[test]
    fn counts_and_routes() {
        let f = Faults::default();
        f.add(spec("files/*")).unwrap();
        assert!(f.take("users/get_current_account").is_none());
        assert!(f.take("files/upload").is_some());
        assert!(f.take("files/list_folder").is_some());
        assert!(f.take("files/upload").is_none());
    }

    #[test]
    fn after_lets_requests_pass_first() {
        let f = Faults::default();
        f.add(FaultSpec {
            after: Some(3),
            count: Some(1),
            ..spec("files/upload_session/append_v2")
        })
        .unwrap();
        assert!(f.take("files/upload_session/start").is_none());
        for _ in 0..3 {
            assert!(f.take("files/upload_session/append_v2").is_none());
        }
        assert!(f.take("files/upload_session/append_v2").is_some());
        assert!(f.take("files/upload_session/append_v2").is_none());
    }

    fn draws(seed: u64) -> Vec<bool> {
        let f = Faults::default();
        f.add(FaultSpec {
            percent: Some(30.0),
            count: None,
            seed: Some(seed),
            ..spec("*")
        })
        .unwrap();
        (0..200).map(|_| f.take("files/upload").is_some()).collect()
    }

    #[test]
    fn a_seed_replays_the_same_draws() {
        let a = draws(42);
        assert_eq!(a, draws(42));
        assert_ne!(a, draws(43));
        let fired = a.iter().filter(|x| **x).count();
        assert!((20..120).contains(&fired), "about 30% of 200: {fired}");
    }

    #[test]
    fn phases_go_with_their_kinds() {
        let f = Faults::default();
        assert!(
            f.add(FaultSpec {
                phase: Some(Phase::Early),
                ..spec("*")
            })
            .is_ok()
        );
        assert!(
            f.add(FaultSpec {
                phase: Some(Phase::Request),
                ..spec("*")
            })
            .is_err()
        );
        assert!(
            f.add(FaultSpec {
                kind: FaultKind::Reset,
                phase: Some(Phase::Early),
                ..spec("*")
            })
            .is_err()
        );
    }
}
