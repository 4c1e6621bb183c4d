//! Retry timing for webhook deliveries: exponential backoff with full jitter, bounded by a
//! retry period after which a delivery is dead.
//!
//! Attempt `n` (1-based) that failed waits a uniformly random time in
//! `[0, min(cap, base · 2^(n-1))]` before the next one ("full jitter"), so receivers that
//! recover from an outage are not hit by every scimd node's retries at the same instant. A
//! delivery whose next attempt would fall after `created + retry_period` is marked dead.

use std::time::Duration;

use scimd_store::webhooks::AttemptOutcome;

/// The retry schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first retry's upper bound.
    pub base: Duration,
    /// The largest wait between two attempts.
    pub cap: Duration,
    /// How long after its creation a delivery is retried before it is dead.
    pub retry_period: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(600),
            retry_period: Duration::from_secs(24 * 3600),
        }
    }
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

impl Backoff {
    /// The upper bound of the wait after the `attempts`-th failed attempt (1-based).
    pub fn ceiling(&self, attempts: i64) -> Duration {
        let shift = u32::try_from(attempts.saturating_sub(1).clamp(0, 40)).unwrap_or(40);
        let factor = 1_u64.checked_shl(shift).unwrap_or(u64::MAX);
        let base_ms = u64::try_from(self.base.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(base_ms.saturating_mul(factor)).min(self.cap)
    }

    /// The wait after the `attempts`-th failed attempt, with `random` (any `u64`, uniformly
    /// distributed) choosing the point in `[0, ceiling]`.
    pub fn delay(&self, attempts: i64, random: u64) -> Duration {
        let ceiling = u64::try_from(self.ceiling(attempts).as_micros()).unwrap_or(u64::MAX);
        Duration::from_micros(random % ceiling.saturating_add(1))
    }

    /// What to do after a failed attempt: retry at `now + delay`, or give up when that is
    /// past the retry period counted from `created_us`.
    pub fn after_failure(
        &self,
        created_us: i64,
        attempts: i64,
        now_us: i64,
        random: u64,
    ) -> AttemptOutcome {
        let next = now_us.saturating_add(micros(self.delay(attempts, random)));
        if next > created_us.saturating_add(micros(self.retry_period)) {
            AttemptOutcome::Dead
        } else {
            AttemptOutcome::RetryAt(next)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn ceilings_double_up_to_the_cap() {
        let b = Backoff::default();
        assert_eq!(b.ceiling(1), Duration::from_secs(1));
        assert_eq!(b.ceiling(2), Duration::from_secs(2));
        assert_eq!(b.ceiling(5), Duration::from_secs(16));
        assert_eq!(b.ceiling(10), Duration::from_secs(512));
        assert_eq!(b.ceiling(11), Duration::from_secs(600));
        assert_eq!(b.ceiling(10_000), Duration::from_secs(600));
        assert_eq!(b.ceiling(0), Duration::from_secs(1));
    }

    #[test]
    fn full_jitter_stays_within_the_ceiling() {
        let b = Backoff::default();
        assert_eq!(b.delay(3, 0), Duration::ZERO);
        assert_eq!(b.delay(3, 4_000_000), Duration::from_secs(4));
        for r in [1_u64, 7, 999_999_999, u64::MAX] {
            assert!(b.delay(3, r) <= Duration::from_secs(4));
        }
    }

    #[test]
    fn dead_after_the_retry_period() {
        let b = Backoff {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(10),
            retry_period: Duration::from_secs(60),
        };
        assert_eq!(
            b.after_failure(0, 1, 1_000_000, 500_000),
            AttemptOutcome::RetryAt(1_500_000)
        );
        assert_eq!(
            b.after_failure(0, 9, 59_000_000, 5_000_000),
            AttemptOutcome::Dead
        );
        assert_eq!(
            b.after_failure(0, 9, 59_000_000, 0),
            AttemptOutcome::RetryAt(59_000_000)
        );
    }
}
