//! The closed-loop load driver: `concurrency` workers, each with its own connection, run one
//! unit of work after another (a request, or a whole Entra sync cycle) until the duration
//! ends or the shared request budget is spent. Every unit's latency is kept (bounded by the
//! budget), so percentiles are exact rather than bucketed.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::BenchResult;

/// How one workload is driven.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub duration: Duration,
    /// Unmeasured lead-in with the same work.
    pub warmup: Duration,
    /// Most units started in total (warm-up included).
    pub max_units: u64,
}

/// The result of one unit of work.
pub enum Unit {
    /// Done, every response as expected.
    Ok,
    /// A response outside the expected statuses (the text names it).
    Error(String),
    /// Nothing left to do (e.g. W5 ran out of users that are not yet members).
    Exhausted,
}

/// Latency and throughput of one workload.
#[derive(Debug, Clone, Serialize)]
pub struct Measured {
    /// Units completed in the measured window.
    pub units: u64,
    pub errors: u64,
    pub seconds: f64,
    pub units_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// First error seen, for the report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
}

/// A worker: called once per unit with its worker number and the unit's sequence number.
pub trait Worker: Send + 'static {
    /// Runs one unit.
    fn unit(&mut self) -> impl Future<Output = BenchResult<Unit>> + Send;
}

/// Runs `workers` (one per connection) under `plan`.
pub async fn drive<W: Worker>(plan: Plan, workers: Vec<W>) -> BenchResult<Measured> {
    let started = Arc::new(AtomicU64::new(0));
    let t0 = Instant::now();
    let measure_from = t0 + plan.warmup;
    let end = measure_from + plan.duration;
    let mut handles = Vec::new();
    for mut w in workers {
        let started = Arc::clone(&started);
        handles.push(tokio::spawn(async move {
            let mut lat: Vec<u32> = Vec::new();
            let mut errors = 0u64;
            let mut first_error = None;
            loop {
                let now = Instant::now();
                if now >= end || started.fetch_add(1, Ordering::Relaxed) >= plan.max_units {
                    break;
                }
                let outcome = w.unit().await;
                let done = Instant::now();
                // A unit counts when it completes inside the window (throughput), so long
                // units such as 1,000-user Bulks are not dropped for having started earlier.
                let measured = done >= measure_from && done <= end;
                match outcome {
                    Ok(Unit::Ok) if measured => {
                        let us = done.duration_since(now).as_micros();
                        lat.push(u32::try_from(us).unwrap_or(u32::MAX));
                    }
                    Ok(Unit::Ok) => {}
                    Ok(Unit::Exhausted) => break,
                    Ok(Unit::Error(e)) => {
                        if measured {
                            errors += 1;
                        }
                        first_error.get_or_insert(e);
                    }
                    Err(e) => {
                        if measured {
                            errors += 1;
                        }
                        first_error.get_or_insert(format!("transport: {e}"));
                    }
                }
            }
            (lat, errors, first_error)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    for h in handles {
        let (lat, e, fe) = h.await.map_err(|e| e.to_string())?;
        all.extend(lat);
        errors += e;
        if first_error.is_none() {
            first_error = fe;
        }
    }
    // The window ends at `end` unless every worker stopped earlier (budget spent).
    let finished = Instant::now().min(end);
    let seconds = finished
        .saturating_duration_since(measure_from)
        .as_secs_f64();
    all.sort_unstable();
    let units = u64::try_from(all.len())?;
    Ok(Measured {
        units,
        errors,
        seconds,
        units_per_sec: crate::seed::rate(units, seconds),
        p50_ms: percentile(&all, 50.0),
        p99_ms: percentile(&all, 99.0),
        max_ms: all.last().map_or(0.0, |v| f64::from(*v) / 1000.0),
        first_error,
    })
}

/// The `p`th percentile (nearest rank) of sorted microsecond samples, in milliseconds.
pub fn percentile(sorted_us: &[u32], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let rank = ((p / 100.0) * sorted_us.len() as f64).ceil() as usize;
    let idx = rank.saturating_sub(1).min(sorted_us.len() - 1);
    sorted_us.get(idx).map_or(0.0, |v| f64::from(*v) / 1000.0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u32> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&v, 100.0), 100.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
        assert_eq!(percentile(&[7000], 99.0), 7.0);
    }

    struct Counter(u64);
    impl Worker for Counter {
        async fn unit(&mut self) -> BenchResult<Unit> {
            self.0 += 1;
            tokio::task::yield_now().await;
            Ok(if self.0.is_multiple_of(10) {
                Unit::Error("every tenth".into())
            } else {
                Unit::Ok
            })
        }
    }

    #[tokio::test]
    async fn budget_bounds_the_units_and_errors_are_counted() {
        let plan = Plan {
            duration: Duration::from_secs(5),
            warmup: Duration::ZERO,
            max_units: 100,
        };
        let m = drive(plan, vec![Counter(0), Counter(0)]).await.unwrap();
        assert_eq!(m.units + m.errors, 100);
        assert_eq!(m.errors, 10);
        assert!(m.seconds < 5.0);
    }
}
