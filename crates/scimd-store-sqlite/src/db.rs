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
//! runs them in one `BEGIN IMMEDIATE … COMMIT`, each inside its own savepoint: a write that
//! fails rolls back only itself, and pages shared by the group (index leaves, counters,
//! the outbox head) are written to the WAL once per group instead of once per write. Each
//! caller is answered only after the shared `COMMIT`, so an acknowledged write is durable
//! exactly as a lone one would be.
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
const READ_CONNECTIONS: usize = 4;

/// The most writes committed together.
const MAX_GROUP: usize = 256;

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
    // of writer time per created user either way), each reader 4 MiB: at most 32 MiB in
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
}

impl Readers {
    pub(crate) fn new(file: &Path) -> Self {
        Self {
            file: file.to_path_buf(),
            idle: Arc::new(Mutex::new(Vec::with_capacity(READ_CONNECTIONS))),
            permits: Arc::new(Semaphore::new(READ_CONNECTIONS)),
        }
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
        self.permits.close();
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

/// What a queued write tells the writer after it ran: whether it succeeded (to release or
/// roll back its savepoint) and how to answer its caller once the group's fate is known.
struct Ran {
    ok: bool,
    answer: Box<dyn FnOnce(Option<StoreError>) + Send>,
}

/// A queued write. Called with the connection inside the group's transaction, or with the
/// error that kept the transaction from starting.
type Job = Box<dyn FnOnce(Result<&Connection, StoreError>) -> Ran + Send>;

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

    /// Runs `f` as one write: inside a transaction shared with the writes queued beside it,
    /// in its own savepoint. Answers after the commit; an error from `f` undoes all of `f`
    /// and nothing else.
    pub(crate) async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<Result<T, StoreError>>();
        let job: Job = Box::new(move |conn| {
            let result = match conn {
                Ok(conn) => catch_unwind(AssertUnwindSafe(|| f(conn))).unwrap_or_else(|_| {
                    Err(StoreError::Backend("a database write panicked".into()))
                }),
                Err(e) => Err(e),
            };
            Ran {
                ok: result.is_ok(),
                answer: Box::new(move |commit_error| {
                    let _ = tx.send(match commit_error {
                        Some(e) => Err(e),
                        None => result,
                    });
                }),
            }
        });
        {
            let queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            let sent = queue.as_ref().map(|q| q.send(job));
            if !matches!(sent, Some(Ok(()))) {
                return Err(StoreError::Backend("the database is closed".into()));
            }
        }
        rx.await
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
    while let Ok(first) = jobs.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        if commit_group(conn, group) {
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

/// Runs a group of writes in one transaction and answers each caller; whether it committed.
fn commit_group(conn: &Connection, group: Vec<Job>) -> bool {
    if let Err(e) = control(conn, "BEGIN IMMEDIATE") {
        let message = e.to_string();
        for job in group {
            (job(Err(StoreError::Backend(message.clone()))).answer)(None);
        }
        return false;
    }
    let alone = group.len() == 1;
    let mut answers = Vec::with_capacity(group.len());
    let mut any_ok = false;
    for job in group {
        // A lone write needs no savepoint: its failure rolls back the whole transaction.
        if !alone && let Err(e) = control(conn, "SAVEPOINT w") {
            answers.push((job(Err(backend(e))).answer, false));
            continue;
        }
        let ran = job(Ok(conn));
        if !alone {
            let end = if ran.ok {
                control(conn, "RELEASE w")
            } else {
                control(conn, "ROLLBACK TO w").and_then(|()| control(conn, "RELEASE w"))
            };
            if let Err(e) = end {
                // The transaction is in an unknown state: give up the whole group.
                let _ = control(conn, "ROLLBACK");
                (ran.answer)(Some(backend(e)));
                for (answer, _) in answers {
                    answer(Some(StoreError::Backend(
                        "the write was rolled back with its commit group".into(),
                    )));
                }
                return false;
            }
        }
        any_ok |= ran.ok;
        answers.push((ran.answer, ran.ok));
    }
    let end = if any_ok { "COMMIT" } else { "ROLLBACK" };
    let failure = control(conn, end).err().map(|e| {
        let _ = control(conn, "ROLLBACK");
        e.to_string()
    });
    for (answer, ok) in answers {
        // A failed write already carries its own error; a successful one fails only if the
        // commit did.
        match (&failure, ok) {
            (Some(message), true) => answer(Some(StoreError::Backend(message.clone()))),
            _ => answer(None),
        }
    }
    any_ok && failure.is_none()
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
