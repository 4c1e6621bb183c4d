//! How scimd talks to the SQLite file: a pool of read connections used from the blocking
//! thread pool, and one writer thread that commits queued writes in groups.
//!
//! SQLite calls are synchronous and cheap (microseconds on cached pages); what costs is
//! crossing threads. So each store call is one closure that runs every statement it needs
//! on one connection, in one hop to a blocking thread and one hop back — never one hop per
//! statement or row.
//!
//! Writes go to a single thread that owns the only write connection (SQLite has one writer
//! per file anyway). It takes every write queued at that moment, up to [`MAX_GROUP`], and
//! runs them in one `BEGIN IMMEDIATE … COMMIT`: pages shared by the group (index leaves,
//! counters, the outbox head) are written to the WAL once per group instead of once per
//! write. A write that fails is undone alone — without a savepoint per write unless one is
//! needed (see [`commit_group`]). Each caller is answered only after the shared `COMMIT`, so
//! an acknowledged write is durable exactly as a lone one would be.
//!
//! Checkpoints (copying committed WAL pages back into the database file) run on a third
//! thread with its own connection, so the writer only appends to the WAL; see
//! [`Checkpointer`].

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::thread::{JoinHandle, Thread};
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags};
use scimd_store::StoreError;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

/// Read connections (concurrent reads; WAL readers never block the writer or each other).
const READ_CONNECTIONS: usize = 6;

/// Read connections that listings may hold at once; the other two are left to point reads.
/// A listing can read without bound (a `co` filter reads every index entry of its attribute:
/// 0.2–0.5 s at 1M users). When listings could take every connection, four such filters
/// running made every tenant's GETs by id and IdP lookups queue behind them: W2 fell from
/// 18,000 to 195 req/s, p99 376 ms; with these two left free, 5,400 req/s, p99 13 ms (the
/// scans still share the CPU). Four listing slots keep W4's throughput as it was with four
/// connections (alternating A/B at 1M users; two slots cost it 10–25%).
pub(crate) const LISTING_CONNECTIONS: usize = 4;

/// The most writes committed together.
const MAX_GROUP: usize = 256;

/// Groups run with a savepoint per write after a group had to be replayed (a write failed
/// after changing rows), so that a burst of such failures is not paid for twice.
const GUARDED_AFTER_REPLAY: u32 = 8;

/// How long a connection waits for a lock held by another process (a CLI command on the
/// same file) before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Prepared statements kept per connection. Listing SQL differs per filter shape, so this is
/// sized for the shapes an IdP uses plus the fixed statements.
const STATEMENT_CACHE: usize = 256;

/// Pause between two checkpoints while writes keep coming: a page rewritten many times in
/// that span is copied back once.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(50);

/// WAL pages after which the writer checkpoints by itself — only reached when the
/// checkpointer thread cannot keep up (SQLite's default for its automatic checkpoint is
/// 1,000 pages).
const WRITER_CHECKPOINT_PAGES: u32 = 16_384;

/// A database failure, for the log.
pub(crate) fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// The SQLite extended result code of a failure, if it came from SQLite.
pub(crate) fn extended_code(e: &rusqlite::Error) -> Option<i32> {
    match e {
        rusqlite::Error::SqliteFailure(f, _) => Some(f.extended_code),
        _ => None,
    }
}

pub(crate) fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        extended_code(e),
        Some(rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
    )
}

pub(crate) fn is_foreign_key_violation(e: &rusqlite::Error) -> bool {
    extended_code(e) == Some(rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY)
}

/// Opens a connection with scimd's settings.
pub(crate) fn connect(file: &Path, read_only: bool) -> Result<Connection, StoreError> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE
    } | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(file, flags).map_err(backend)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(backend)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // Plans must not depend on bound values: otherwise SQLite marks a statement whose plan
    // looked at a value as expired whenever its bindings are cleared (as the statement
    // cache does on every return), and re-prepares it on every use — a quarter of the CPU
    // of a GET by id when measured. scimd's SQL is written so that the value-independent
    // plan is the indexed one (the EXPLAIN tests hold it to that).
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
        .map_err(backend)?;
    // WAL: readers never block the writer; synchronous=NORMAL: durable across process
    // crashes, a machine crash loses at most the last commits and never consistency.
    // temp_store=MEMORY: statement journals and sorts never spill to a temp file.
    // cache_size: a write touches ~10 index B-trees; with SQLite's 2 MiB default their
    // pages are re-read from the OS on every descent (measured: the writer's top cost).
    // The writer keeps 16 MiB (32 MiB wrote no faster in an alternating W1/W8 A/B: 0.21 ms
    // of writer time per created user either way), each reader 4 MiB: at most 40 MiB in
    // all, which keeps a 1M-user server under 150 MB at its Bulk peak. A reader's cache
    // starts empty after every commit it has not seen (SQLite drops it when the WAL moved),
    // so a bigger one mostly costs memory, and emptying it costs CPU: W2 ran at 0.11 ms of
    // CPU per request with 4 MiB against 0.14 ms with 8 MiB (alternating A/B, 200k users).
    let mut pragmas = String::from(
        "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;",
    );
    if read_only {
        pragmas.push_str(" PRAGMA cache_size = -4096;");
    } else {
        pragmas.insert_str(0, "PRAGMA journal_mode = WAL; PRAGMA cache_size = -16384; ");
        pragmas.push_str(&format!(
            " PRAGMA wal_autocheckpoint = {WRITER_CHECKPOINT_PAGES};"
        ));
    }
    conn.execute_batch(&pragmas).map_err(backend)?;
    Ok(conn)
}

/// The read side: a few connections lent to blocking threads, one call at a time.
#[derive(Debug)]
pub(crate) struct Readers {
    file: std::path::PathBuf,
    idle: Arc<Mutex<Vec<Connection>>>,
    permits: Arc<Semaphore>,
    /// Taken by listings before a connection (see [`LISTING_CONNECTIONS`]).
    listings: Arc<Semaphore>,
}

impl Readers {
    pub(crate) fn new(file: &Path) -> Self {
        Self {
            file: file.to_path_buf(),
            idle: Arc::new(Mutex::new(Vec::with_capacity(READ_CONNECTIONS))),
            permits: Arc::new(Semaphore::new(READ_CONNECTIONS)),
            listings: Arc::new(Semaphore::new(LISTING_CONNECTIONS)),
        }
    }

    /// Runs a listing through [`Readers::run`] once one of the [`LISTING_CONNECTIONS`] slots
    /// is free, so that listings never hold every read connection.
    pub(crate) async fn run_listing<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let slot = Arc::clone(&self.listings)
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Backend("the database is closed".into()))?;
        // The slot goes with the read: a caller that stops waiting (a request timeout) does
        // not free it while the read still runs.
        self.run(move |conn| {
            let _slot = slot;
            f(conn)
        })
        .await
    }

    /// Runs `f` on a read connection on a blocking thread. Connections are opened on first
    /// need and kept.
    pub(crate) async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let permit: OwnedSemaphorePermit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Backend("the database is closed".into()))?;
        let idle = Arc::clone(&self.idle);
        let file = self.file.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let taken = idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
            let conn = match taken {
                Some(conn) => conn,
                None => connect(&file, true)?,
            };
            let out = catch_unwind(AssertUnwindSafe(|| f(&conn)))
                .unwrap_or_else(|_| Err(StoreError::Backend("a database read panicked".into())));
            // A connection left inside a transaction (a read that failed half-way) is
            // dropped rather than lent again.
            if conn.is_autocommit() {
                idle.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(conn);
            }
            out
        })
        .await
        .map_err(|e| StoreError::Backend(format!("a database read stopped: {e}")))?
    }

    /// Runs a point read — a lookup by a unique key, touching a handful of index pages —
    /// directly on the calling (async) thread when a read connection is idle, and through
    /// [`Readers::run`] otherwise. Such a read takes microseconds, less than the two
    /// thread wake-ups of a hop to the blocking pool; anything that can read an unbounded
    /// number of rows (listings, member lists) must use [`Readers::run`].
    pub(crate) async fn run_point<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let idle = match Arc::clone(&self.permits).try_acquire_owned() {
            Ok(permit) => {
                let conn = self
                    .idle
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .pop();
                conn.map(|conn| (permit, conn))
            }
            Err(_) => None,
        };
        let Some((_permit, conn)) = idle else {
            return self.run(f).await;
        };
        let out = catch_unwind(AssertUnwindSafe(|| f(&conn)))
            .unwrap_or_else(|_| Err(StoreError::Backend("a database read panicked".into())));
        if conn.is_autocommit() {
            self.idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(conn);
        }
        out
    }

    /// Closes the idle connections; no read may be running.
    pub(crate) fn close(&self) {
        self.listings.close();
        self.permits.close();
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

/// A queued write. The writer may run it twice: once without a savepoint and, if it
/// failed after changing rows, again inside its own savepoint (see [`commit_group`]).
trait WriteJob: Send {
    /// Runs the write inside the group's transaction; whether it succeeded. A second run
    /// replaces the outcome of the first.
    fn run(&mut self, conn: &Connection) -> bool;
    /// Records the failure that kept the write from running.
    fn fail(&mut self, error: StoreError);
    /// Whether the last run succeeded.
    fn succeeded(&self) -> bool;
    /// Answers the caller once the group's fate is known: a failed write keeps its own error;
    /// a successful one, or one that never ran, fails with `commit_error` when the group did
    /// not commit.
    fn answer(self: Box<Self>, commit_error: Option<&str>);
}

type Job = Box<dyn WriteJob>;

/// A write and, once run, its outcome.
struct Pending<T, F> {
    write: F,
    outcome: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> WriteJob for Pending<T, F>
where
    T: Send,
    F: Fn(&Connection) -> Result<T, StoreError> + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let outcome = catch_unwind(AssertUnwindSafe(|| (self.write)(conn)))
            .unwrap_or_else(|_| Err(StoreError::Backend("a database write panicked".into())));
        let ok = outcome.is_ok();
        self.outcome = Some(outcome);
        ok
    }

    fn fail(&mut self, error: StoreError) {
        self.outcome = Some(Err(error));
    }

    fn succeeded(&self) -> bool {
        matches!(self.outcome, Some(Ok(_)))
    }

    fn answer(self: Box<Self>, commit_error: Option<&str>) {
        let outcome = match (self.outcome, commit_error) {
            (Some(Ok(_)) | None, Some(message)) => Err(StoreError::Backend(message.to_owned())),
            (Some(outcome), _) => outcome,
            (None, _) => Err(StoreError::Backend("the write was not run".into())),
        };
        let _ = self.reply.send(outcome);
    }
}

/// The write side: one thread owning the write connection.
#[derive(Debug)]
pub(crate) struct Writer {
    queue: Mutex<Option<mpsc::Sender<Job>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    checkpointer: Arc<Checkpointer>,
}

impl Writer {
    /// Starts the writer thread on `conn` (already migrated) and the checkpointer of `file`.
    pub(crate) fn start(conn: Connection, file: &Path) -> Result<Self, StoreError> {
        let checkpointer = Checkpointer::start(file)?;
        let (queue, jobs) = mpsc::channel::<Job>();
        let notify = Arc::clone(&checkpointer);
        let thread = std::thread::Builder::new()
            .name("scimd-sqlite-writer".into())
            .spawn(move || write_loop(&conn, &jobs, &notify))
            .map_err(|e| StoreError::Backend(format!("starting the SQLite writer: {e}")))?;
        Ok(Self {
            queue: Mutex::new(Some(queue)),
            thread: Mutex::new(Some(thread)),
            checkpointer,
        })
    }

    /// Runs `f` as one write, inside a transaction shared with the writes queued beside it.
    /// Answers after the commit; an error from `f` undoes all of `f` and nothing else. `f`
    /// may be called twice (the first call's changes undone), so it must not act outside
    /// the database.
    pub(crate) async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel::<Result<T, StoreError>>();
        let job: Job = Box::new(Pending {
            write: f,
            outcome: None,
            reply,
        });
        {
            let queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            let sent = queue.as_ref().map(|q| q.send(job));
            if !matches!(sent, Some(Ok(()))) {
                return Err(StoreError::Backend("the database is closed".into()));
            }
        }
        answer
            .await
            .map_err(|_| StoreError::Backend("the database writer stopped".into()))?
    }

    /// Stops accepting writes, lets the queued ones finish and joins the thread (which
    /// closes the write connection).
    pub(crate) fn close(&self) {
        self.queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        join(&self.thread, || ());
        self.checkpointer.stop();
    }
}

/// Copies committed WAL pages into the database file on its own thread and connection.
///
/// Measured before it existed: SQLite's automatic checkpoint, which runs inside the commit
/// that crosses 1,000 WAL pages, took a sixth of the writer thread's time under a stream of
/// creates — time every queued write waited for. A `PASSIVE` checkpoint never blocks the
/// writer or readers; the writer keeps a far larger automatic threshold only as a backstop.
#[derive(Debug)]
struct Checkpointer {
    /// Set by the writer after a commit; cleared by the checkpoint that follows.
    dirty: AtomicBool,
    stopping: AtomicBool,
    /// The checkpointer thread, to wake it; set once it is spawned.
    waker: OnceLock<Thread>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Checkpointer {
    fn start(file: &Path) -> Result<Arc<Self>, StoreError> {
        let conn = connect(file, false)?;
        conn.execute_batch("PRAGMA cache_size = -1024; PRAGMA wal_autocheckpoint = 0;")
            .map_err(backend)?;
        let this = Arc::new(Self {
            dirty: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            waker: OnceLock::new(),
            thread: Mutex::new(None),
        });
        let state = Arc::clone(&this);
        let thread = std::thread::Builder::new()
            .name("scimd-sqlite-checkpointer".into())
            .spawn(move || state.run(&conn))
            .map_err(|e| StoreError::Backend(format!("starting the SQLite checkpointer: {e}")))?;
        let _ = this.waker.set(thread.thread().clone());
        *this.thread.lock().unwrap_or_else(PoisonError::into_inner) = Some(thread);
        Ok(this)
    }

    fn run(&self, conn: &Connection) {
        loop {
            std::thread::park();
            let stopping = self.stopping.load(Ordering::Acquire);
            if self.dirty.swap(false, Ordering::AcqRel) {
                // Busy readers only shorten a passive checkpoint; the next one catches up.
                if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                    tracing::warn!(error = %e, "SQLite checkpoint failed");
                }
            }
            if stopping {
                return;
            }
            std::thread::sleep(CHECKPOINT_INTERVAL);
        }
    }

    /// Called by the writer after each commit: cheap when the thread is already awake.
    fn committed(&self) {
        if !self.dirty.swap(true, Ordering::AcqRel)
            && let Some(thread) = self.waker.get()
        {
            thread.unpark();
        }
    }

    /// Runs a last checkpoint and joins the thread.
    fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
        self.dirty.store(true, Ordering::Release);
        join(&self.thread, || {
            if let Some(thread) = self.waker.get() {
                thread.unpark();
            }
        });
    }
}

/// Takes the thread out of `slot` (once), runs `wake` and joins it.
fn join(slot: &Mutex<Option<JoinHandle<()>>>, wake: impl FnOnce()) {
    let thread = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
    if let Some(thread) = thread {
        wake();
        let _ = thread.join();
    }
}

fn write_loop(conn: &Connection, jobs: &mpsc::Receiver<Job>, checkpointer: &Checkpointer) {
    let mut guarded_left = 0_u32;
    while let Ok(first) = jobs.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let guarded = guarded_left > 0;
        guarded_left = guarded_left.saturating_sub(1);
        let outcome = commit_group(conn, group, guarded);
        if outcome.replayed {
            guarded_left = GUARDED_AFTER_REPLAY;
        }
        if outcome.committed {
            checkpointer.committed();
        }
    }
}

/// Runs a transaction-control statement (`BEGIN`, `SAVEPOINT`, …) from the statement cache:
/// `execute_batch` would parse it again on every one of the several a write needs.
fn control(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.raw_execute().map(|_| ())
}

/// Runs `f` in one read transaction (one snapshot for all its statements), with `BEGIN` and
/// `COMMIT` from the statement cache — rusqlite's `Transaction` parses them on every call,
/// which was 2% of a filtered listing's CPU. On an error the transaction is rolled back; a
/// panic leaves it open, and the reader pool drops such a connection.
pub(crate) fn in_read_snapshot<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    control(conn, "BEGIN").map_err(backend)?;
    match f(conn) {
        Ok(out) => {
            control(conn, "COMMIT").map_err(backend)?;
            Ok(out)
        }
        Err(e) => {
            // The read's own error is the one to report.
            let _ = control(conn, "ROLLBACK");
            Err(e)
        }
    }
}

/// What became of a group.
struct GroupOutcome {
    committed: bool,
    /// A write failed after changing rows, so the group was run again with savepoints.
    replayed: bool,
}

/// Runs a group of writes in one transaction and answers each caller.
///
/// A savepoint per write would let a failed write be undone alone, but it is not free:
/// SQLite copies every page a savepoint touches before changing it (measured: a tenth of the
/// writer's time under a stream of creates, at no failure). Most failed writes fail before
/// they change anything (a uniqueness conflict is one statement that SQLite undoes itself;
/// a missing resource or a stale version is found by a read), and the connection's change
/// counter tells them apart. So the group first runs without savepoints (`guarded` false);
/// only when a write fails after changing rows is the whole transaction rolled back and the
/// group run again, each write in its own savepoint.
fn commit_group(conn: &Connection, mut group: Vec<Job>, guarded: bool) -> GroupOutcome {
    if let Err(e) = control(conn, "BEGIN IMMEDIATE") {
        return give_up(group, &e.to_string(), false);
    }
    let mut replayed = false;
    if !guarded || group.len() == 1 {
        if run_unguarded(conn, &mut group) {
            return finish(conn, group, replayed);
        }
        let _ = control(conn, "ROLLBACK");
        if group.len() == 1 {
            // The lone write's own error is its answer; the rollback undid it.
            return give_up(group, "the write was rolled back", replayed);
        }
        replayed = true;
        if let Err(e) = control(conn, "BEGIN IMMEDIATE") {
            return give_up(group, &e.to_string(), replayed);
        }
    }
    for job in &mut group {
        if let Err(e) = control(conn, "SAVEPOINT w") {
            job.fail(backend(e));
            continue;
        }
        let end = if job.run(conn) {
            control(conn, "RELEASE w")
        } else {
            control(conn, "ROLLBACK TO w").and_then(|()| control(conn, "RELEASE w"))
        };
        if let Err(e) = end {
            // The transaction is in an unknown state: give up the whole group.
            let _ = control(conn, "ROLLBACK");
            return give_up(group, &backend(e).to_string(), replayed);
        }
    }
    finish(conn, group, replayed)
}

/// Runs each write of the group in turn without savepoints; false as soon as one fails
/// after changing rows (or takes the transaction down with it), when only rolling back the
/// whole group can undo it.
fn run_unguarded(conn: &Connection, group: &mut [Job]) -> bool {
    for job in group {
        let before = conn.total_changes();
        if !job.run(conn) && (conn.total_changes() != before || conn.is_autocommit()) {
            return false;
        }
    }
    true
}

/// Commits the group if any write succeeded (else rolls it back) and answers every caller.
fn finish(conn: &Connection, group: Vec<Job>, replayed: bool) -> GroupOutcome {
    let any_ok = group.iter().any(|job| job.succeeded());
    let end = if any_ok { "COMMIT" } else { "ROLLBACK" };
    let failure = control(conn, end).err().map(|e| {
        let _ = control(conn, "ROLLBACK");
        e.to_string()
    });
    for job in group {
        job.answer(failure.as_deref());
    }
    GroupOutcome {
        committed: any_ok && failure.is_none(),
        replayed,
    }
}

/// Answers every write of a group that did not commit: failed ones with their own error,
/// the others with `message`.
fn give_up(group: Vec<Job>, message: &str, replayed: bool) -> GroupOutcome {
    for job in group {
        job.answer(Some(message));
    }
    GroupOutcome {
        committed: false,
        replayed,
    }
}

/// Every row of a (cached) statement, mapped.
pub(crate) fn query_all<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    map: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, StoreError> {
    let mut st = conn.prepare_cached(sql).map_err(backend)?;
    st.query_map(params, map)
        .and_then(Iterator::collect)
        .map_err(backend)
}

/// The first row of a (cached) statement, mapped, if there is one.
pub(crate) fn query_opt<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    map: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Option<T>, StoreError> {
    use rusqlite::OptionalExtension;
    let mut st = conn.prepare_cached(sql).map_err(backend)?;
    st.query_row(params, map).optional().map_err(backend)
}

/// Runs a (cached) statement; the number of rows it changed.
pub(crate) fn execute(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<usize, StoreError> {
    let mut st = conn.prepare_cached(sql).map_err(backend)?;
    st.execute(params).map_err(backend)
}
