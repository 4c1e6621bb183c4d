//! Where log lines go: a memory buffer that a background thread writes out in batches, so a
//! request never makes a system call (or waits on a slow log pipe) to log its line.
//!
//! Writing each line to stderr directly took a `write` per request — half of the log line's
//! cost on `GET /Users/{id}`. Channel-based non-blocking writers move the write off the
//! request thread but wake their worker for each line. Here a request only appends to the
//! buffer under a mutex; the writer thread wakes every [`FLUSH_INTERVAL`] (or early, when
//! [`HIGH_WATER`] bytes are waiting) and writes everything in one call.
//!
//! Limits: a line reaches the output at most [`FLUSH_INTERVAL`] after it was logged, and a
//! crash loses at most that much. When the output cannot keep up and [`CAPACITY`] bytes are
//! waiting, further lines are dropped and counted; the next batch says how many.

use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// Longest a line waits in the buffer.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(20);
/// Bytes waiting that wake the writer before its interval is up.
pub const HIGH_WATER: usize = 256 * 1024;
/// Bytes waiting beyond which lines are dropped rather than buffered.
pub const CAPACITY: usize = 8 * 1024 * 1024;

/// A cloneable handle on the buffer. Its writer thread runs until [`LogSink::stop`] (the
/// global sink of [`crate::telemetry`] for the life of the process).
#[derive(Clone)]
pub struct LogSink {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for LogSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogSink").finish_non_exhaustive()
    }
}

struct Shared {
    state: Mutex<State>,
    /// Wakes the writer thread (high water, flush request, stop).
    wake: Condvar,
    /// Wakes [`LogSink::flush`] callers when a batch has been written.
    written: Condvar,
    capacity: usize,
    interval: Duration,
}

#[derive(Default)]
struct State {
    pending: Vec<u8>,
    dropped: u64,
    /// Flushes asked for and flushes done; a flush waits until `done` reaches its number.
    flushes_requested: u64,
    flushes_done: u64,
    /// The writer thread has exited (its output failed to spawn or the sink stopped).
    writer_gone: bool,
    stop: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl LogSink {
    /// Starts the writer thread on `out` with the default limits.
    pub fn start<W: Write + Send + 'static>(out: W) -> io::Result<Self> {
        Self::with_limits(out, CAPACITY, FLUSH_INTERVAL)
    }

    /// Starts the writer thread with an explicit capacity and interval (tests).
    pub fn with_limits<W: Write + Send + 'static>(
        out: W,
        capacity: usize,
        interval: Duration,
    ) -> io::Result<Self> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            written: Condvar::new(),
            capacity,
            interval,
        });
        let thread_shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("scimd-log".into())
            .spawn(move || write_loop(&thread_shared, out))?;
        Ok(Self { shared })
    }

    /// Appends one formatted line (or any bytes); never blocks on the output.
    pub fn push(&self, bytes: &[u8]) {
        let mut state = self.shared.lock();
        if state.pending.len().saturating_add(bytes.len()) > self.shared.capacity {
            state.dropped = state.dropped.saturating_add(1);
            return;
        }
        let was_below = state.pending.len() < HIGH_WATER;
        state.pending.extend_from_slice(bytes);
        if was_below && state.pending.len() >= HIGH_WATER {
            self.shared.wake.notify_one();
        }
    }

    /// Returns once everything pushed before the call has been written (or the writer
    /// thread is gone).
    pub fn flush(&self) {
        let mut state = self.shared.lock();
        state.flushes_requested += 1;
        let ticket = state.flushes_requested;
        self.shared.wake.notify_one();
        while state.flushes_done < ticket && !state.writer_gone {
            state = self
                .shared
                .written
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Writes what is pending and ends the writer thread.
    pub fn stop(&self) {
        self.shared.lock().stop = true;
        self.flush();
    }
}

/// The writer thread: waits for the interval (or a wake-up), takes the whole buffer and
/// writes it in one call. Output errors are ignored: there is nowhere to report them.
fn write_loop<W: Write>(shared: &Shared, mut out: W) {
    let mut batch = Vec::new();
    loop {
        let mut state = shared.lock();
        if state.flushes_requested == state.flushes_done && !state.stop {
            let (next, _) = shared
                .wake
                .wait_timeout_while(state, shared.interval, |s| {
                    s.pending.len() < HIGH_WATER && s.flushes_requested == s.flushes_done && !s.stop
                })
                .unwrap_or_else(PoisonError::into_inner);
            state = next;
        }
        std::mem::swap(&mut batch, &mut state.pending);
        let dropped = std::mem::take(&mut state.dropped);
        let ticket = state.flushes_requested;
        let stop = state.stop;
        drop(state);

        if dropped > 0 {
            let _ = writeln!(
                batch,
                "scimd: {dropped} log lines dropped: the log output did not keep up"
            );
        }
        if !batch.is_empty() {
            let _ = out.write_all(&batch);
            let _ = out.flush();
            batch.clear();
        }

        let mut state = shared.lock();
        state.flushes_done = ticket;
        let done = stop && state.pending.is_empty();
        if done {
            state.writer_gone = true;
        }
        drop(state);
        shared.written.notify_all();
        if done {
            return;
        }
    }
}

/// What the formatter writes one event into.
#[derive(Debug)]
pub struct SinkWriter<'a> {
    sink: &'a LogSink,
}

impl Write for SinkWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.sink.push(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogSink {
    type Writer = SinkWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        SinkWriter { sink: self }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use super::*;
    use std::sync::mpsc;

    /// An output that keeps what it is given.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    #[test]
    fn flush_writes_every_line_in_order() {
        let out = Captured::default();
        // An interval far longer than the test: only flush() can write the lines.
        let sink = LogSink::with_limits(out.clone(), CAPACITY, Duration::from_secs(3600)).unwrap();
        for i in 0..1000 {
            let mut w = sink.make_writer();
            writeln!(w, "line {i}").unwrap();
        }
        assert_eq!(
            out.text(),
            "",
            "nothing is written before the interval or a flush"
        );
        sink.flush();
        let text = out.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1000);
        assert_eq!(lines[0], "line 0");
        assert_eq!(lines[999], "line 999");
        sink.stop();
    }

    #[test]
    fn lines_reach_the_output_within_the_interval() {
        let out = Captured::default();
        let sink = LogSink::with_limits(out.clone(), CAPACITY, Duration::from_millis(5)).unwrap();
        sink.push(b"hello\n");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while out.text().is_empty() {
            assert!(std::time::Instant::now() < deadline, "line never written");
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(out.text(), "hello\n");
        sink.stop();
    }

    /// An output that blocks until told to go on.
    struct Gate {
        inner: Captured,
        entered: mpsc::Sender<()>,
        open: mpsc::Receiver<()>,
    }

    impl Write for Gate {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let _ = self.entered.send(());
            let _ = self.open.recv();
            self.inner.write(buf)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_stuck_output_drops_lines_beyond_capacity_and_says_so() {
        let out = Captured::default();
        let (entered_tx, entered) = mpsc::channel();
        let (open, open_rx) = mpsc::channel();
        let gate = Gate {
            inner: out.clone(),
            entered: entered_tx,
            open: open_rx,
        };
        let sink = LogSink::with_limits(gate, 64, Duration::from_secs(3600)).unwrap();
        // The first batch blocks the writer inside the output...
        sink.push(b"first\n");
        let flusher = {
            let sink = sink.clone();
            std::thread::spawn(move || sink.flush())
        };
        entered.recv().unwrap();
        // ...so these wait in the buffer, and past 64 bytes they are dropped.
        for i in 0..20 {
            sink.push(format!("queued {i:02}\n").as_bytes());
        }
        for _ in 0..3 {
            open.send(()).unwrap();
        }
        flusher.join().unwrap();
        sink.flush();
        let text = out.text();
        assert!(text.starts_with("first\nqueued 00\n"), "{text}");
        assert!(text.contains("queued 05\n"), "{text}");
        assert!(!text.contains("queued 19"), "{text}");
        assert!(text.contains("scimd: 14 log lines dropped"), "{text}");
        drop(open);
        sink.stop();
    }
}
