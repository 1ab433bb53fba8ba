//! Retry-After from Dropbox, in the header or in a 429 body's `retry_after`, is untrusted
//! input: any size or form may arrive (huge numbers, negatives, fractions, HTTP-dates,
//! garbage). A wait is always clamped to [`MAX_RETRY_AFTER`] so that the `Instant`
//! arithmetic of pacing and deadlines can never overflow; garbage and negatives are ignored.

use std::time::Duration;

use serde_json::Value;
use time::OffsetDateTime;
use time::macros::format_description;

/// The longest wait honoured. Dropbox asks for seconds to a few minutes; anything beyond this
/// is a broken or hostile answer, and the caller is better served by an error it can act on.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(15 * 60);

/// How much of an out-of-range value is quoted back in messages.
const QUOTE_MAX: usize = 40;

/// A wait Dropbox asked for, already within [`MAX_RETRY_AFTER`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryAfter {
    pub wait: Duration,
    /// What Dropbox asked for, when it was longer than the maximum and was clamped.
    pub clamped_from: Option<String>,
}

impl RetryAfter {
    fn exact(wait: Duration) -> RetryAfter {
        RetryAfter {
            wait,
            clamped_from: None,
        }
    }

    fn clamped(asked: &str) -> RetryAfter {
        let quoted: String = asked.chars().take(QUOTE_MAX).collect();
        let ellipsis = if asked.chars().count() > QUOTE_MAX {
            "…"
        } else {
            ""
        };
        RetryAfter {
            wait: MAX_RETRY_AFTER,
            clamped_from: Some(format!("{quoted}{ellipsis} s")),
        }
    }

    fn from_secs_f64(secs: f64, raw: &str) -> Option<RetryAfter> {
        if secs.is_nan() || secs < 0.0 {
            return None;
        }
        if secs > MAX_RETRY_AFTER.as_secs_f64() {
            return Some(RetryAfter::clamped(raw));
        }
        Duration::try_from_secs_f64(secs)
            .ok()
            .map(RetryAfter::exact)
    }
}

/// The note messages add when a wait was clamped.
pub fn clamp_note(clamped_from: Option<&str>) -> String {
    match clamped_from {
        Some(asked) => format!(
            "; Dropbox asked to wait {asked}; clamped to {} s",
            MAX_RETRY_AFTER.as_secs()
        ),
        None => String::new(),
    }
}

/// The `Retry-After` header: delay-seconds (any size, fractions tolerated) or an HTTP-date
/// (relative to `now`). `None` for what cannot be read, and for negative delays.
pub fn parse_header(raw: &str, now: OffsetDateTime) -> Option<RetryAfter> {
    let v = raw.trim();
    if v.is_empty() {
        return None;
    }
    if v.bytes().all(|b| b.is_ascii_digit()) {
        return Some(match v.parse::<u64>() {
            Ok(secs) => seconds(secs, v),
            // Only digits, yet no u64: far too large.
            Err(_) => RetryAfter::clamped(v),
        });
    }
    if let Ok(secs) = v.parse::<f64>() {
        return RetryAfter::from_secs_f64(secs, v);
    }
    http_date(v).map(|at| {
        let delta = at - now;
        if delta.is_negative() {
            RetryAfter::exact(Duration::ZERO)
        } else if delta > MAX_RETRY_AFTER {
            RetryAfter::clamped(&delta.whole_seconds().to_string())
        } else {
            RetryAfter::exact(delta.unsigned_abs())
        }
    })
}

/// The `retry_after` of a 429 body (seconds; Dropbox sends an integer).
pub fn from_body(v: &Value) -> Option<RetryAfter> {
    if let Some(secs) = v.as_u64() {
        return Some(seconds(secs, &secs.to_string()));
    }
    if let Some(secs) = v.as_f64() {
        return RetryAfter::from_secs_f64(secs, &secs.to_string());
    }
    // A string is not what Dropbox sends, but read it like the header rather than drop it.
    v.as_str()
        .and_then(|s| parse_header(s, OffsetDateTime::now_utc()))
}

fn seconds(secs: u64, raw: &str) -> RetryAfter {
    if secs > MAX_RETRY_AFTER.as_secs() {
        RetryAfter::clamped(raw)
    } else {
        RetryAfter::exact(Duration::from_secs(secs))
    }
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the form HTTP senders must use.
fn http_date(v: &str) -> Option<OffsetDateTime> {
    let format = format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    time::PrimitiveDateTime::parse(v, format)
        .ok()
        .map(time::PrimitiveDateTime::assume_utc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> OffsetDateTime {
        // Sun, 06 Nov 1994 08:49:37 GMT
        OffsetDateTime::from_unix_timestamp(784_111_777).unwrap()
    }

    fn header(v: &str) -> Option<RetryAfter> {
        parse_header(v, now())
    }

    fn wait(v: &str) -> Option<Duration> {
        header(v).map(|r| r.wait)
    }

    #[test]
    fn ordinary_values_are_kept() {
        assert_eq!(wait("15"), Some(Duration::from_secs(15)));
        assert_eq!(wait(" 0 "), Some(Duration::ZERO));
        assert_eq!(wait("1.5"), Some(Duration::from_millis(1500)));
        assert_eq!(header("300").unwrap().clamped_from, None);
        assert_eq!(wait("900"), Some(MAX_RETRY_AFTER));
        assert_eq!(header("900").unwrap().clamped_from, None);
    }

    #[test]
    fn huge_values_are_clamped_and_say_so() {
        for v in [
            "901",
            "18446744073709551615",
            "99999999999999999999999999999999999999",
            "1e30",
            "1.7976931348623157e308",
            "inf",
        ] {
            let r = header(v).unwrap_or_else(|| panic!("{v} is read"));
            assert_eq!(r.wait, MAX_RETRY_AFTER, "{v}");
            let asked = r.clamped_from.unwrap_or_else(|| panic!("{v} says clamped"));
            assert!(asked.len() <= QUOTE_MAX + 8, "{asked}");
            let note = clamp_note(Some(&asked));
            assert!(note.contains("Dropbox asked to wait") && note.contains("clamped to 900 s"));
        }
    }

    #[test]
    fn negative_nan_and_garbage_are_ignored() {
        for v in [
            "-1",
            "-0.5",
            "-99999999999999999999",
            "NaN",
            "soon",
            "",
            "1 2",
            "0x10",
        ] {
            assert_eq!(header(v), None, "{v:?}");
        }
    }

    #[test]
    fn http_dates_are_relative_to_now() {
        assert_eq!(
            wait("Sun, 06 Nov 1994 08:50:37 GMT"),
            Some(Duration::from_secs(60))
        );
        assert_eq!(wait("Sun, 06 Nov 1994 08:00:00 GMT"), Some(Duration::ZERO));
        let far = header("Fri, 31 Dec 9999 23:59:59 GMT").unwrap();
        assert_eq!(far.wait, MAX_RETRY_AFTER);
        assert!(far.clamped_from.is_some());
        assert_eq!(header("Sun, 06 Nov 1994 08:49:37 PST"), None);
    }

    #[test]
    fn body_values() {
        assert_eq!(
            from_body(&json!(300)).map(|r| r.wait),
            Some(Duration::from_secs(300))
        );
        assert_eq!(from_body(&json!(u64::MAX)).unwrap().wait, MAX_RETRY_AFTER);
        assert!(from_body(&json!(u64::MAX)).unwrap().clamped_from.is_some());
        assert_eq!(from_body(&json!(1e300)).unwrap().wait, MAX_RETRY_AFTER);
        assert_eq!(
            from_body(&json!(2.5)).map(|r| r.wait),
            Some(Duration::from_millis(2500))
        );
        assert_eq!(from_body(&json!(-5)), None);
        assert_eq!(from_body(&json!(i64::MIN)), None);
        assert_eq!(
            from_body(&json!("7")).map(|r| r.wait),
            Some(Duration::from_secs(7))
        );
        assert_eq!(from_body(&json!({"x": 1})), None);
        assert_eq!(from_body(&json!(null)), None);
    }
}
