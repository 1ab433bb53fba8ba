//! Retry policy, jittered backoff and the shared rate-limit pacer.

use std::sync::Mutex;
use std::time::Duration;

use rand::Rng;
use tokio::time::Instant;

/// How hard a call tries before giving up. Rate-limit waits (429 Retry-After) count against
/// `max_elapsed` but not against `max_attempts`, which bounds 5xx/connection failures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total for 5xx, timeouts and connection errors (1 = no retry).
    pub max_attempts: u32,
    /// First backoff; doubles per failure up to `max_backoff`, jittered.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// No retry is started once this much time has passed since the call began, and no
    /// wait is started that would end after it.
    pub max_elapsed: Duration,
    /// Upper bound on 429 retries within one call.
    pub max_rate_limited_retries: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(16),
            max_elapsed: Duration::from_secs(180),
            max_rate_limited_retries: 30,
        }
    }
}

impl RetryPolicy {
    /// No retries at all (tests, or callers doing their own).
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            max_rate_limited_retries: 0,
            ..Self::default()
        }
    }

    /// Backoff before retry number `failures` (1-based): "equal jitter" — half fixed, half
    /// random — of `initial * 2^(failures-1)`, capped.
    pub fn backoff(&self, failures: u32) -> Duration {
        let exp = failures.saturating_sub(1).min(20);
        let base = self
            .initial_backoff
            .saturating_mul(1u32 << exp)
            .min(self.max_backoff);
        let half = base / 2;
        let jitter = rand::thread_rng().gen_range(0..=half.as_millis() as u64);
        half + Duration::from_millis(jitter)
    }
}

/// Shared by every clone of a client: a 429 pauses the whole connection, not one request.
#[derive(Debug, Default)]
pub(crate) struct Pacer {
    paused_until: Mutex<Option<Instant>>,
}

impl Pacer {
    /// Pause everything until `now + wait` (never shortens an existing pause).
    pub(crate) fn pause(&self, wait: Duration) {
        // Waits come from Dropbox: never let one overflow the clock.
        let now = Instant::now();
        let until = now
            .checked_add(wait.min(crate::MAX_RETRY_AFTER))
            .unwrap_or(now);
        if let Ok(mut g) = self.paused_until.lock() {
            match *g {
                Some(t) if t >= until => {}
                _ => *g = Some(until),
            }
        }
    }

    /// Wait until no pause is in force. Waiters wake with a little jitter so a paused crowd
    /// does not stampede at the same instant.
    pub(crate) async fn wait(&self) {
        loop {
            let until = self.paused_until.lock().ok().and_then(|g| *g);
            match until {
                Some(t) if t > Instant::now() => {
                    let jitter = Duration::from_millis(rand::thread_rng().gen_range(0..=200));
                    tokio::time::sleep_until(t + jitter).await;
                }
                _ => return,
            }
        }
    }
}

/// Adaptive concurrency (AIMD), shared by every clone of a client: a 429 halves the number of
/// requests allowed in flight (at most once per `DECREASE_GAP`), each success adds one back,
/// up to `MAX_IN_FLIGHT`. Under a rate-limit storm the connection sends a trickle instead of
/// every waiter retrying at once.
#[derive(Debug)]
pub(crate) struct Limiter {
    state: Mutex<LimiterState>,
    notify: tokio::sync::Notify,
}

#[derive(Debug)]
struct LimiterState {
    in_flight: usize,
    limit: usize,
    last_decrease: Option<Instant>,
}

const MAX_IN_FLIGHT: usize = 64;
const DECREASE_GAP: Duration = Duration::from_millis(250);

impl Default for Limiter {
    fn default() -> Self {
        Self {
            state: Mutex::new(LimiterState {
                in_flight: 0,
                limit: MAX_IN_FLIGHT,
                last_decrease: None,
            }),
            notify: tokio::sync::Notify::new(),
        }
    }
}

/// Held while a request is on the wire.
pub(crate) struct Permit<'a> {
    limiter: &'a Limiter,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if let Ok(mut s) = self.limiter.state.lock() {
            s.in_flight = s.in_flight.saturating_sub(1);
        }
        self.limiter.notify.notify_waiters();
    }
}

impl Limiter {
    pub(crate) async fn acquire(&self) -> Permit<'_> {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Ok(mut s) = self.state.lock()
                && s.in_flight < s.limit
            {
                s.in_flight += 1;
                return Permit { limiter: self };
            }
            notified.await;
        }
    }

    pub(crate) fn on_success(&self) {
        if let Ok(mut s) = self.state.lock()
            && s.limit < MAX_IN_FLIGHT
        {
            s.limit += 1;
            drop(s);
            self.notify.notify_waiters();
        }
    }

    pub(crate) fn on_rate_limited(&self) {
        if let Ok(mut s) = self.state.lock() {
            let now = Instant::now();
            if s.last_decrease
                .is_none_or(|t| now.duration_since(t) >= DECREASE_GAP)
            {
                s.limit = (s.limit / 2).max(1);
                s.last_decrease = Some(now);
            }
        }
    }

    #[cfg(test)]
    fn limit(&self) -> usize {
        self.state.lock().map(|s| s.limit).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy::default();
        for n in 1..30 {
            let d = p.backoff(n);
            let base = p
                .initial_backoff
                .saturating_mul(1 << (n - 1).min(20))
                .min(p.max_backoff);
            assert!(d >= base / 2 && d <= base, "{n}: {d:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn pacer_pauses_everyone() {
        let pacer = Pacer::default();
        let start = Instant::now();
        pacer.pause(Duration::from_secs(2));
        pacer.pause(Duration::from_secs(1)); // does not shorten
        pacer.wait().await;
        assert!(start.elapsed() >= Duration::from_secs(2));
        let again = Instant::now();
        pacer.wait().await;
        assert!(again.elapsed() < Duration::from_millis(1));
    }

    #[tokio::test(start_paused = true)]
    async fn limiter_halves_and_recovers() {
        let l = Limiter::default();
        assert_eq!(l.limit(), MAX_IN_FLIGHT);
        l.on_rate_limited();
        l.on_rate_limited(); // within the gap: counted once
        assert_eq!(l.limit(), MAX_IN_FLIGHT / 2);
        for _ in 0..10 {
            tokio::time::advance(DECREASE_GAP).await;
            l.on_rate_limited();
        }
        assert_eq!(l.limit(), 1);
        let p1 = l.acquire().await;
        // A second acquire waits until the first permit is dropped.
        let waited = tokio::time::timeout(Duration::from_millis(10), l.acquire()).await;
        assert!(waited.is_err());
        drop(p1);
        let _p2 = l.acquire().await;
        l.on_success();
        assert_eq!(l.limit(), 2);
        let _p3 = tokio::time::timeout(Duration::from_millis(10), l.acquire())
            .await
            .unwrap();
    }
}
