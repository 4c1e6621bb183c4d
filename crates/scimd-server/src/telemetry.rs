//! Logging: `tracing` with a text or JSON formatter, written to stderr through a
//! [`LogSink`] (batched by a background thread, so requests never wait on the log). The
//! level comes from `RUST_LOG` (default `info`). Nothing secret is ever passed to a log
//! macro: the request line carries the method, path and query, status, latency and request
//! id, never other headers or bodies.

use std::sync::OnceLock;
use std::time::Instant;

use axum::http::{Method, StatusCode, Uri};
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;
use crate::log_sink::LogSink;

/// The sink of the global subscriber, kept for [`flush`].
static SINK: OnceLock<LogSink> = OnceLock::new();

/// Installs the global subscriber; a second call (tests) is a no-op.
pub fn init(format: LogFormat) {
    if SINK.get().is_some() {
        return;
    }
    match LogSink::start(std::io::stderr()) {
        Ok(sink) => install(format, SINK.get_or_init(|| sink).clone()),
        Err(e) => {
            // Without a thread for the sink, log synchronously rather than not at all.
            eprintln!("scimd: cannot start the log writer thread ({e}); logging directly");
            install(format, std::io::stderr);
        }
    }
}

fn install<W>(format: LogFormat, writer: W)
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colour only on a terminal: redirected to a file or a log collector, escape codes
    // would land in every line (and cost formatting on every request).
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(writer);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Writes every log line logged so far; called before the process exits.
pub fn flush() {
    if let Some(sink) = SINK.get() {
        sink.flush();
    }
}

/// One INFO line per response on target `scimd::request` — method, path and query, status,
/// latency in microseconds and the request id (which the audit log entry of the same request
/// carries too). Silenced with `RUST_LOG=info,scimd::request=warn`.
///
/// A single event rather than a span around the request (as tower-http's trace layer
/// opens): nothing to create, enter and close per request, and the one line carries the
/// request id that correlates it with the audit log.
pub fn log_request(
    method: &Method,
    uri: &Uri,
    status: StatusCode,
    started: Instant,
    request_id: &str,
) {
    let latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    tracing::info!(
        target: "scimd::request",
        method = %method,
        uri = %uri,
        status = status.as_u16(),
        latency_us,
        request_id = %request_id,
        "request"
    );
}
