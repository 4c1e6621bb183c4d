//! `scimd-bench run`: drives the workloads against a running server (scimd or the limit),
//! measuring each one's throughput, latency, errors, the server's peak RSS (`VmHWM`, reset
//! before each workload through `/proc/<pid>/clear_refs`) and the CPU time the server and the
//! load generator spent (both share the machine's cores, as the issue asks).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use hyper::Method;
use serde::Serialize;
use serde_json::Value;

use crate::BenchResult;
use crate::client::Conn;
use crate::data::{Manifest, encode_query};
use crate::load::{Measured, Plan, drive};
use crate::workloads::{BASE, Kind, ScimWorker, Shared};

/// Longest warm-up of W5 (see where it is applied).
const W5_WARMUP: Duration = Duration::from_millis(200);

/// One workload of the catalogue.
pub struct Spec {
    pub key: &'static str,
    pub kind: Kind,
    pub what: &'static str,
    /// HTTP requests per unit of work.
    pub requests_per_unit: u64,
}

/// Every workload, in the order they run (reads before writes, so the read workloads see
/// exactly the seeded data set).
pub const CATALOGUE: &[Spec] = &[
    Spec {
        key: "W2",
        kind: Kind::W2Get,
        what: "GET /Users/{id}",
        requests_per_unit: 1,
    },
    Spec {
        key: "W3",
        kind: Kind::W3Filter,
        what: "GET /Users?filter=userName eq",
        requests_per_unit: 1,
    },
    Spec {
        key: "W4-first",
        kind: Kind::W4First,
        what: "GET /Users?count=100 (first page)",
        requests_per_unit: 1,
    },
    Spec {
        key: "W4-index",
        kind: Kind::W4Index,
        what: "GET /Users?startIndex=N-99&count=100",
        requests_per_unit: 1,
    },
    Spec {
        key: "W4-cursor",
        kind: Kind::W4Cursor,
        what: "GET /Users?cursor=…&count=100 at depth N-100",
        requests_per_unit: 1,
    },
    Spec {
        key: "W5-big",
        kind: Kind::W5Big,
        what: "PATCH /Groups add 1 member (large group)",
        requests_per_unit: 1,
    },
    Spec {
        key: "W5-small",
        kind: Kind::W5Small,
        what: "PATCH /Groups add 1 member (10-member group)",
        requests_per_unit: 1,
    },
    Spec {
        key: "W6",
        kind: Kind::W6Deactivate,
        what: "Okta deactivate/reactivate PATCH",
        requests_per_unit: 1,
    },
    Spec {
        key: "W1",
        kind: Kind::W1Create,
        what: "POST /Users",
        requests_per_unit: 1,
    },
    Spec {
        key: "W7",
        kind: Kind::W7Entra,
        what: "Entra cycle: filter + POST + PATCH",
        requests_per_unit: 3,
    },
    Spec {
        key: "W8",
        kind: Kind::W8Bulk,
        what: "POST /Bulk of users",
        requests_per_unit: 1,
    },
];

/// Settings of a run.
pub struct RunOptions {
    pub target: SocketAddr,
    pub token: Option<String>,
    pub manifest: Manifest,
    /// Workload keys to run (`W2`, `W4-first`, …); a bare `W4`/`W5` selects its variants.
    pub only: Vec<String>,
    pub duration: Duration,
    pub warmup: Duration,
    pub concurrency: usize,
    /// Concurrency of W5 (the peers' figures were taken at 4).
    pub w5_concurrency: usize,
    pub bulk_size: u64,
    pub server_pid: Option<u32>,
    pub max_units: u64,
}

/// The measurement of one workload.
#[derive(Debug, Clone, Serialize)]
pub struct WorkloadResult {
    pub key: String,
    pub what: String,
    pub concurrency: usize,
    pub requests_per_unit: u64,
    /// HTTP requests per second (units × requests per unit).
    pub requests_per_sec: f64,
    /// Users created per second (W1, W7, W8), else absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub users_per_sec: Option<f64>,
    #[serde(flatten)]
    pub measured: Measured,
    /// Peak resident set of the server during this workload, MiB.
    pub peak_rss_mib: Option<f64>,
    /// Server CPU milliseconds per unit of work.
    pub server_cpu_ms_per_unit: Option<f64>,
    /// Load-generator CPU milliseconds per unit of work.
    pub client_cpu_ms_per_unit: Option<f64>,
}

fn selected(only: &[String], key: &str) -> bool {
    only.is_empty()
        || only.iter().any(|o| {
            o.eq_ignore_ascii_case(key)
                || key
                    .split_once('-')
                    .is_some_and(|(base, _)| o.eq_ignore_ascii_case(base))
        })
}

/// Runs the selected workloads.
pub async fn run(opts: &RunOptions) -> BenchResult<Vec<WorkloadResult>> {
    let ids = opts.manifest.ids()?;
    let users = opts.manifest.users;
    let deep_start = users.saturating_sub(99).max(1);
    let deep_cursor = if selected(&opts.only, "W4-cursor") {
        Some(cursor_at(opts, deep_start - 1).await?)
    } else {
        None
    };
    let run_id = format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis())
    );
    let mut results = Vec::new();
    for spec in CATALOGUE {
        if !selected(&opts.only, spec.key) {
            continue;
        }
        let concurrency = if matches!(spec.kind, Kind::W5Big | Kind::W5Small) {
            opts.w5_concurrency
        } else {
            opts.concurrency
        };
        let shared = Arc::new(Shared {
            ids: ids.clone(),
            run_id: format!("{run_id}{}", spec.key.to_lowercase()),
            big_group_id: opts.manifest.big_group_id.clone(),
            small_group_id: opts.manifest.small_group_id.clone(),
            member_pool_start: opts.manifest.big_group_members,
            next_member: AtomicU64::new(0),
            deep_cursor: deep_cursor.clone(),
            deep_start,
            bulk_size: opts.bulk_size,
        });
        let workers = (0..concurrency)
            .map(|w| {
                Ok(ScimWorker::new(
                    spec.kind,
                    Conn::new(opts.target, opts.token.as_deref())?,
                    Arc::clone(&shared),
                    w,
                    concurrency,
                ))
            })
            .collect::<BenchResult<Vec<_>>>()?;
        // W5 draws from a finite pool of users that are not yet members (those after the
        // big group: 5,000 at 10,000 users), which a fast machine used up during a
        // one-second warm-up, leaving nothing to measure; its warm-up is kept short.
        let warmup = if matches!(spec.kind, Kind::W5Big | Kind::W5Small) {
            opts.warmup.min(W5_WARMUP)
        } else {
            opts.warmup
        };
        let plan = Plan {
            duration: opts.duration,
            warmup,
            max_units: opts.max_units,
        };
        if let Some(pid) = opts.server_pid {
            // Resets VmHWM to the current RSS (Linux ≥ 4.0), so the peak is this workload's.
            let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
        }
        let server_cpu0 = opts.server_pid.and_then(cpu_seconds);
        let client_cpu0 = cpu_seconds(std::process::id());
        let measured = drive(plan, workers).await?;
        let server_cpu = opts
            .server_pid
            .and_then(cpu_seconds)
            .zip(server_cpu0)
            .map(|(b, a)| b - a);
        let client_cpu = cpu_seconds(std::process::id())
            .zip(client_cpu0)
            .map(|(b, a)| b - a);
        // CPU seconds per wall second over warm-up and window, divided by units per second.
        let wall = measured.seconds + warmup.as_secs_f64();
        let rate = measured.units_per_sec;
        let per_unit = |cpu: Option<f64>| {
            cpu.filter(|_| wall > 0.0 && rate > 0.0)
                .map(|c| c / wall / rate * 1000.0)
        };
        #[allow(clippy::cast_precision_loss)]
        let rpu = spec.requests_per_unit as f64;
        let users_per_sec = match spec.kind {
            Kind::W1Create | Kind::W7Entra => Some(measured.units_per_sec),
            #[allow(clippy::cast_precision_loss)]
            Kind::W8Bulk => Some(measured.units_per_sec * opts.bulk_size as f64),
            _ => None,
        };
        let result = WorkloadResult {
            key: spec.key.to_owned(),
            what: spec.what.to_owned(),
            concurrency,
            requests_per_unit: spec.requests_per_unit,
            requests_per_sec: measured.units_per_sec * rpu,
            users_per_sec,
            server_cpu_ms_per_unit: per_unit(server_cpu),
            client_cpu_ms_per_unit: per_unit(client_cpu),
            peak_rss_mib: opts.server_pid.and_then(peak_rss_mib),
            measured,
        };
        eprintln!(
            "{:<10} {:>9.0} req/s  p50 {:>8.2} ms  p99 {:>8.2} ms  errors {:>5}  rss {:>7.1} MiB{}",
            result.key,
            result.requests_per_sec,
            result.measured.p50_ms,
            result.measured.p99_ms,
            result.measured.errors,
            result.peak_rss_mib.unwrap_or(0.0),
            result
                .measured
                .first_error
                .as_deref()
                .map(|e| format!("  first error: {e}"))
                .unwrap_or_default()
        );
        results.push(result);
    }
    Ok(results)
}

/// Walks the cursor chain (RFC 9865) to the position after `depth` users, a thousand at a
/// time with `attributes=id` (the cursor belongs to the filter and sort, not the projection).
async fn cursor_at(opts: &RunOptions, depth: u64) -> BenchResult<String> {
    let mut conn = Conn::new(opts.target, opts.token.as_deref())?;
    let mut cursor = String::new();
    let mut position = 0u64;
    while position < depth {
        let count = (depth - position).min(1000);
        let path = format!(
            "{BASE}/Users?attributes=id&count={count}&cursor={}",
            encode_query(&cursor)
        );
        let reply = conn.send(Method::GET, &path, None).await?;
        if !reply.status.is_success() {
            return Err(format!("cursor walk at {position}: HTTP {}", reply.status).into());
        }
        let v: Value = serde_json::from_slice(&reply.body)?;
        cursor = v
            .get("nextCursor")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("cursor walk at {position}: no nextCursor"))?
            .to_owned();
        position += count;
    }
    Ok(cursor)
}

/// `utime + stime` of a process, in seconds (clock ticks at the Linux USER_HZ of 100).
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name, which may itself contain spaces.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// `VmHWM` of a process, MiB.
pub fn peak_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn selection_by_key_and_family() {
        assert!(selected(&[], "W2"));
        let only = vec!["w4".to_owned(), "W2".to_owned()];
        assert!(selected(&only, "W4-cursor"));
        assert!(selected(&only, "W2"));
        assert!(!selected(&only, "W3"));
        assert!(!selected(&["W4-first".to_owned()], "W4-index"));
    }

    #[test]
    fn reads_own_process_stats() {
        assert!(cpu_seconds(std::process::id()).is_some());
        assert!(peak_rss_mib(std::process::id()).unwrap() > 0.0);
    }
}
