//! `scimd-bench`: the benchmark harness of issue 7, driven by `scripts/bench.sh`.
//!
//! - `seed`: fills a fresh database through scimd's own service layer (users, the W5 groups);
//! - `limit`: the bare axum "hardware limit" server for W2 and W3;
//! - `run`: the load generator (closed loop, one connection per worker, exact percentiles),
//!   writing a JSON results file;
//! - `report`: the Markdown table for docs/PERFORMANCE.md;
//! - `wait`: waits until a server accepts connections.

mod client;
mod data;
mod limit;
mod load;
mod report;
mod runner;
mod seed;
mod workloads;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use scimd_store_postgres::is_postgres_url;
use serde_json::json;

/// Any failure of the harness; reported on stderr.
pub type BenchError = Box<dyn std::error::Error + Send + Sync>;
/// Result of the harness.
pub type BenchResult<T> = Result<T, BenchError>;

#[derive(Parser)]
#[command(
    name = "scimd-bench",
    about = "Benchmark harness of scimd (see scripts/bench.sh)"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Seed users and the W5 groups into a fresh database, before scimd starts on it.
    Seed {
        /// `sqlite://PATH` or `postgres://USER@HOST:PORT/DATABASE` (as given to `scimd serve`).
        #[arg(long)]
        database: String,
        #[arg(long, default_value_t = 10_000)]
        users: u64,
        /// Members of the large W5 group (at most half the users, so W5 has users to add).
        #[arg(long, default_value_t = 100_000)]
        big_group: u64,
        #[arg(long, env = "SCIMD_BOOTSTRAP_TOKEN")]
        token: String,
        #[arg(long)]
        manifest: PathBuf,
        /// Concurrent writers (default 64 on SQLite, PG_WRITERS on PostgreSQL).
        #[arg(long)]
        writers: Option<u64>,
    },
    /// Serve the limit (bare axum, pre-serialized users) for the seeded ids.
    Limit {
        #[arg(long)]
        listen: String,
        #[arg(long)]
        manifest: PathBuf,
    },
    /// Run workloads against a server and write the results as JSON.
    Run {
        #[arg(long)]
        target: SocketAddr,
        #[arg(long, env = "SCIMD_BOOTSTRAP_TOKEN")]
        token: Option<String>,
        #[arg(long)]
        manifest: PathBuf,
        /// Comma-separated workload keys (W1, W2, W3, W4, W4-first, W4-index, W4-cursor, W5,
        /// W6, W7, W8); all when absent.
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        #[arg(long, default_value_t = 10)]
        duration: u64,
        #[arg(long, default_value_t = 1)]
        warmup: u64,
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        #[arg(long, default_value_t = 4)]
        w5_concurrency: usize,
        /// Users per W8 Bulk request (100: at the current write rate, 16 concurrent Bulks of
        /// 1,000 exceed the server's 30 s request timeout).
        #[arg(long, default_value_t = 100)]
        bulk_size: u64,
        /// The server's pid, for peak RSS and CPU time.
        #[arg(long)]
        server_pid: Option<u32>,
        /// Units of work started at most per workload (warm-up included).
        #[arg(long, default_value_t = 2_000_000)]
        max_units: u64,
        /// `scimd` or `limit`.
        #[arg(long, default_value = "scimd")]
        label: String,
        #[arg(long, default_value = "sqlite")]
        backend: String,
        /// Date and command recorded in the results (the script passes them).
        #[arg(long, default_value = "")]
        date: String,
        #[arg(long, default_value = "")]
        command: String,
        /// Remarks on the set-up recorded with the machine (`machine.notes`) and printed
        /// under the table; repeatable.
        #[arg(long)]
        note: Vec<String>,
        #[arg(long)]
        out: PathBuf,
    },
    /// Render results as the Markdown table of docs/PERFORMANCE.md.
    Report {
        #[arg(long)]
        results: PathBuf,
        #[arg(long)]
        limit: Option<PathBuf>,
        /// Results at another scale, for the growth column.
        #[arg(long)]
        baseline: Option<PathBuf>,
    },
    /// Wait until `target` accepts TCP connections.
    Wait {
        #[arg(long)]
        target: SocketAddr,
        #[arg(long, default_value_t = 60)]
        timeout: u64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(cmd: Cmd) -> BenchResult<()> {
    match cmd {
        Cmd::Seed {
            database,
            users,
            big_group,
            token,
            manifest,
            writers,
        } => {
            let writers = writers.unwrap_or(if is_postgres_url(&database) {
                seed::PG_WRITERS
            } else {
                seed::SQLITE_WRITERS
            });
            let m = seed::seed(&seed::SeedOptions {
                database,
                users,
                big_group: big_group.min(users / 2),
                token,
                manifest,
                writers,
            })
            .await?;
            eprintln!(
                "seeded {} users in {:.1} s ({:.0} users/s); groups of {} and {} members",
                m.users,
                m.seed_seconds,
                m.seed_users_per_sec,
                m.big_group_members,
                m.small_group_members
            );
            Ok(())
        }
        Cmd::Limit { listen, manifest } => {
            let m = data::Manifest::load(&manifest)?;
            let tables = limit::Tables::build(&m)?;
            let listener = tokio::net::TcpListener::bind(&listen).await?;
            eprintln!("limit listening on {listen}");
            limit::serve(listener, tables).await
        }
        Cmd::Run {
            target,
            token,
            manifest,
            only,
            duration,
            warmup,
            concurrency,
            w5_concurrency,
            bulk_size,
            server_pid,
            max_units,
            label,
            backend,
            date,
            command,
            note,
            out,
        } => {
            let manifest = data::Manifest::load(&manifest)?;
            let seed = serde_json::to_value(&manifest)?;
            let users = manifest.users;
            let load_before = loadavg();
            let results = runner::run(&runner::RunOptions {
                target,
                token,
                manifest,
                only,
                duration: Duration::from_secs(duration),
                warmup: Duration::from_secs(warmup),
                concurrency,
                w5_concurrency,
                bulk_size,
                server_pid,
                max_units,
            })
            .await?;
            let file = report::ResultsFile {
                target: label,
                users,
                backend,
                date,
                command,
                machine: json!({
                    "cpus": std::thread::available_parallelism().map(usize::from).unwrap_or(0),
                    "cpu_model": cpu_model(),
                    "mem_total": meminfo_total(),
                    "loadavg_before": load_before,
                    "loadavg_after": loadavg(),
                    "notes": note,
                }),
                seed,
                workloads: results
                    .iter()
                    .map(serde_json::to_value)
                    .collect::<Result<_, _>>()?,
            };
            std::fs::write(&out, serde_json::to_string_pretty(&file)?)
                .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
            Ok(())
        }
        Cmd::Report {
            results,
            limit,
            baseline,
        } => {
            let read = |p: &PathBuf| -> BenchResult<report::ResultsFile> {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| format!("cannot read {}: {e}", p.display()))?;
                Ok(serde_json::from_str(&text)?)
            };
            let scimd = read(&results)?;
            let limit = limit.as_ref().map(read).transpose()?;
            let baseline = baseline.as_ref().map(read).transpose()?;
            print!(
                "{}",
                report::markdown(&scimd, limit.as_ref(), baseline.as_ref())
            );
            Ok(())
        }
        Cmd::Wait { target, timeout } => {
            let deadline = Instant::now() + Duration::from_secs(timeout);
            loop {
                if tokio::net::TcpStream::connect(target).await.is_ok() {
                    return Ok(());
                }
                if Instant::now() >= deadline {
                    return Err(
                        format!("{target} did not accept connections in {timeout} s").into(),
                    );
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_default()
}

fn meminfo_total() -> String {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .map(|l| l.trim_start_matches("MemTotal:").trim().to_owned())
        })
        .unwrap_or_default()
}
