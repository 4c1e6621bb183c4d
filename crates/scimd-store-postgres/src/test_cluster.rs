//! A throwaway PostgreSQL cluster for tests: `initdb` + `pg_ctl` on a temporary directory
//! and a free port on 127.0.0.1, stopped and deleted on drop.
//!
//! Compiled for this crate's tests and, with the `test-cluster` feature, for other crates'
//! tests (the server's HTTP suite). Binaries are looked up on `PATH`, then in
//! `/usr/lib/postgresql/<version>/bin` (Debian's `postgresql` package), newest first.
//! PostgreSQL refuses to run as root, so when the tests run as root the cluster runs as the
//! `postgres` OS user (created by Debian's package) through `runuser`.
//!
//! When no binaries are found the tests are skipped with a message on stderr, unless
//! `SCIMD_REQUIRE_POSTGRES=1` is set (CI sets it), which turns that into a failure.
//!
//! The cluster trades durability for speed (`fsync = off`): it is deleted afterwards.

#![allow(clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use sqlx::{Connection, PgConnection};

/// Set to `1` to make a missing PostgreSQL installation a test failure instead of a skip.
pub const REQUIRE_ENV: &str = "SCIMD_REQUIRE_POSTGRES";

/// A running throwaway cluster.
#[derive(Debug)]
pub struct Cluster {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    /// Run the binaries as the `postgres` OS user (the tests run as root).
    as_postgres: bool,
}

static SHARED: Mutex<Weak<Cluster>> = Mutex::new(Weak::new());
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// The directory holding `initdb` and `pg_ctl`, if PostgreSQL is installed.
pub fn find_binaries() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.join("initdb").is_file() && dir.join("pg_ctl").is_file() {
                return Some(dir);
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

impl Cluster {
    /// A cluster shared by the tests of this process that are running: started by the first
    /// caller, stopped when the last holder drops it. `None` (after printing why) when
    /// PostgreSQL is not installed and [`REQUIRE_ENV`] is not set.
    pub fn shared() -> Option<Arc<Cluster>> {
        let mut slot = SHARED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = slot.upgrade() {
            return Some(c);
        }
        let Some(bin) = find_binaries() else {
            let required = std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1");
            let message = "PostgreSQL binaries (initdb, pg_ctl) not found on PATH or in \
                           /usr/lib/postgresql/*/bin; install Debian's `postgresql` package";
            if required {
                panic!("{message} ({REQUIRE_ENV}=1)");
            }
            eprintln!("SKIPPED: {message} to run the PostgreSQL tests");
            return None;
        };
        let cluster = Arc::new(Cluster::start(&bin).unwrap_or_else(|e| panic!("{e}")));
        *slot = Arc::downgrade(&cluster);
        Some(cluster)
    }

    /// Initialises and starts a new cluster with the binaries in `bin`.
    pub fn start(bin: &Path) -> Result<Cluster, String> {
        let as_postgres = is_root();
        let dir = std::env::temp_dir().join(format!(
            "scimd-pg-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let mut cluster = Cluster {
            dir,
            bin: bin.to_owned(),
            port: 0,
            as_postgres,
        };
        if as_postgres {
            cluster.run(
                Command::new("chown").arg("postgres:").arg(&cluster.dir),
                false,
            )?;
        }
        let data = cluster.dir.join("data");
        cluster.run(
            Command::new(bin.join("initdb")).arg("-D").arg(&data).args([
                "--auth=trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-locale",
            ]),
            true,
        )?;
        // The free port may be taken between probing and binding: try a few.
        let mut last = String::new();
        for _ in 0..5 {
            cluster.port = free_port()?;
            let options = format!(
                "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off \
                 -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
                cluster.port,
                cluster.dir.display()
            );
            let started = cluster.run(
                Command::new(bin.join("pg_ctl"))
                    .arg("-D")
                    .arg(&data)
                    .arg("-l")
                    .arg(cluster.dir.join("log"))
                    .args(["-w", "-t", "60", "-o", &options, "start"]),
                true,
            );
            match started {
                Ok(()) => return Ok(cluster),
                Err(e) => last = e,
            }
        }
        let log = std::fs::read_to_string(cluster.dir.join("log")).unwrap_or_default();
        Err(format!("starting PostgreSQL failed: {last}\n{log}"))
    }

    fn run(&self, cmd: &mut Command, as_postgres: bool) -> Result<(), String> {
        let mut cmd = if as_postgres && self.as_postgres {
            let mut wrapped = Command::new("runuser");
            wrapped
                .args(["-u", "postgres", "--"])
                .arg(cmd.get_program())
                .args(cmd.get_args());
            wrapped
        } else {
            std::mem::replace(cmd, Command::new("true"))
        };
        let out = cmd
            .output()
            .map_err(|e| format!("running {:?}: {e}", cmd.get_program()))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{:?} failed: {}{}",
                cmd.get_program(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// The port the cluster listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of database `name` as the `postgres` superuser.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Creates a new, empty database and returns its URL.
    pub async fn create_database(&self) -> String {
        let name = format!("scimd_test_{}", COUNTER.fetch_add(1, Ordering::Relaxed));
        let mut conn = PgConnection::connect(&self.url("postgres"))
            .await
            .expect("connecting to the test cluster");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("creating a test database");
        let _ = conn.close().await;
        self.url(&name)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let _ = self.run(
            Command::new(self.bin.join("pg_ctl"))
                .arg("-D")
                .arg(&data)
                .args(["-m", "immediate", "-w", "stop"]),
            true,
        );
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}
