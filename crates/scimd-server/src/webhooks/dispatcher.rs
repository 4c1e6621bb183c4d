//! The webhook dispatcher: the background task of `scimd serve` that delivers outbox events.
//!
//! Each round:
//! 1. **fan-out** — for every enabled endpoint whose tenant has events past the endpoint's
//!    cursor ([`EventStore::event_heads`]), read them in `seq` order, keep those matching the
//!    endpoint's filter, render each body once, and [`WebhookStore::enqueue`] them while
//!    moving the cursor (one transaction, compare-and-set: a crash before commit re-reads
//!    the same events, a second node's concurrent fan-out loses the race and enqueues
//!    nothing);
//! 2. **send** — [`WebhookStore::claim_due`] leases each endpoint's oldest pending delivery
//!    if it is due; they are POSTed concurrently (one per endpoint, so per-endpoint order
//!    holds), each with a fresh `Scimd-Signature`; the outcome is recorded with
//!    [`WebhookStore::finish_attempt`]: `delivered` only after a 2xx, otherwise a retry
//!    time from [`Backoff`] or `dead` once the retry period is over.
//!
//! At-least-once: a delivery is marked delivered only after the receiver's 2xx; if the
//! process dies between the answer and the mark, the lease expires and the delivery is sent
//! again, so receivers deduplicate by `Scimd-Event-Id`. Several nodes (PostgreSQL) run a
//! dispatcher each: claims use `FOR UPDATE SKIP LOCKED` plus the lease.
//!
//! No secret, signature or body is ever logged; transport errors are recorded without the
//! URL.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{CONTENT_TYPE, HeaderValue, USER_AGENT};
use scimd_store::webhooks::{AttemptOutcome, AttemptRecord, ClaimedDelivery, WebhookStore};
use scimd_store::{EventStore, StoreError};
use tokio::sync::Notify;

use super::signing::{SIGNATURE_HEADER, header_value};
use super::{EVENT_ID_HEADER, EVENT_TYPE_HEADER, WebhookConfig, delivery_for, filter_matches};

/// Events read per endpoint and round.
const FAN_OUT_BATCH: u32 = 500;
/// The longest error text kept per attempt.
const MAX_ERROR_LEN: usize = 300;

/// Counts of one round, for tests and logs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Round {
    pub enqueued: usize,
    pub sent: usize,
}

/// Delivers a store's events to its webhook endpoints.
pub struct Dispatcher<S> {
    store: S,
    config: WebhookConfig,
    client: reqwest::Client,
    /// This dispatcher's lease owner name (random per process).
    owner: String,
    wake: Arc<Notify>,
}

fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

fn random_u64() -> u64 {
    crate::crypto::random_bytes::<8>().map_or(0, u64::from_le_bytes)
}

fn truncate(mut s: String) -> String {
    if s.len() > MAX_ERROR_LEN {
        let mut cut = MAX_ERROR_LEN;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

impl<S: EventStore + WebhookStore> Dispatcher<S> {
    /// A dispatcher over `store`. Fails only when the HTTP client cannot be built (TLS
    /// roots).
    pub fn new(store: S, config: WebhookConfig) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.request_timeout)
            // A redirect would send the signed event somewhere the operator did not
            // configure; a 3xx is a failed attempt instead.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("webhook HTTP client: {e}"))?;
        let owner = crate::crypto::random_bytes::<8>()
            .map(|b| format!("scimd-{}", crate::crypto::hex(&b)))
            .map_err(|e| e.to_string())?;
        Ok(Self {
            store,
            config,
            client,
            owner,
            wake: Arc::new(Notify::new()),
        })
    }

    /// A handle that wakes the dispatcher before its next poll (after a write, say).
    pub fn waker(&self) -> Arc<Notify> {
        Arc::clone(&self.wake)
    }

    /// Runs rounds until `shutdown` completes. Store failures are logged and retried after
    /// the poll interval; a round in flight finishes its requests first.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()> + Send) {
        tokio::pin!(shutdown);
        tracing::info!(owner = %self.owner, "webhook dispatcher started");
        loop {
            let busy = match self.round().await {
                Ok(r) => r.enqueued > 0 || r.sent > 0,
                Err(e) => {
                    tracing::error!(error = %e, "webhook dispatcher round failed");
                    false
                }
            };
            if busy {
                // More may be due right away; still let shutdown in.
                tokio::select! {
                    () = &mut shutdown => break,
                    () = tokio::task::yield_now() => continue,
                }
            }
            tokio::select! {
                () = &mut shutdown => break,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(self.config.poll_interval) => {}
            }
        }
        tracing::info!("webhook dispatcher stopped");
    }

    /// One fan-out pass and one send pass.
    pub async fn round(&self) -> Result<Round, StoreError> {
        let enqueued = self.fan_out().await?;
        let sent = self.send_due().await?;
        Ok(Round { enqueued, sent })
    }

    /// Turns new events into deliveries; returns how many were enqueued.
    pub async fn fan_out(&self) -> Result<usize, StoreError> {
        let heads: HashMap<_, _> = self.store.event_heads().await?.into_iter().collect();
        let mut enqueued = 0;
        for endpoint in self.store.enabled_endpoints().await? {
            let head = heads.get(&endpoint.tenant_id).copied().unwrap_or(0);
            if head <= endpoint.cursor {
                continue;
            }
            let events = self
                .store
                .events_after(endpoint.tenant_id, endpoint.cursor, FAN_OUT_BATCH)
                .await?;
            let Some(last) = events.last().map(|e| e.seq) else {
                continue;
            };
            let deliveries: Vec<_> = events
                .iter()
                .filter(|e| filter_matches(&endpoint.events, e.kind.as_str()))
                .map(|e| delivery_for(e, &endpoint, &self.config.public_base_url))
                .collect();
            let n = deliveries.len();
            if self
                .store
                .enqueue(&endpoint.id, endpoint.cursor, last, deliveries)
                .await?
            {
                enqueued += n;
            }
        }
        Ok(enqueued)
    }

    /// Sends every due delivery (one per endpoint) concurrently and records the outcomes;
    /// returns how many were attempted.
    pub async fn send_due(&self) -> Result<usize, StoreError> {
        let now = now_us();
        let claimed = self
            .store
            .claim_due(
                now,
                now.saturating_add(micros(self.config.lease)),
                &self.owner,
                self.config.batch,
            )
            .await?;
        let n = claimed.len();
        let mut tasks = tokio::task::JoinSet::new();
        for c in claimed {
            let client = self.client.clone();
            tasks.spawn(async move {
                let record = attempt(&client, &c).await;
                (c, record)
            });
        }
        while let Some(joined) = tasks.join_next().await {
            let Ok((c, record)) = joined else { continue };
            let d = &c.delivery;
            let attempts = d.attempts.saturating_add(1);
            let outcome = if record.status_code.is_some_and(|s| (200..300).contains(&s)) {
                AttemptOutcome::Delivered
            } else {
                self.config
                    .backoff
                    .after_failure(d.created_us, attempts, now_us(), random_u64())
            };
            match outcome {
                AttemptOutcome::Delivered => tracing::debug!(
                    delivery = d.id, endpoint = %d.endpoint_id, event = %d.event_id,
                    "webhook delivered"
                ),
                AttemptOutcome::RetryAt(_) => tracing::warn!(
                    delivery = d.id, endpoint = %d.endpoint_id, event = %d.event_id,
                    attempts, status = ?record.status_code, error = ?record.error,
                    "webhook attempt failed; will retry"
                ),
                AttemptOutcome::Dead => tracing::error!(
                    delivery = d.id, endpoint = %d.endpoint_id, event = %d.event_id,
                    attempts, status = ?record.status_code, error = ?record.error,
                    "webhook delivery is dead: retry period exhausted"
                ),
            }
            self.store
                .finish_attempt(d.id, &self.owner, record, outcome)
                .await?;
        }
        Ok(n)
    }
}

/// One POST of a claimed delivery.
async fn attempt(client: &reqwest::Client, c: &ClaimedDelivery) -> AttemptRecord {
    let started_us = now_us();
    let started = Instant::now();
    let timestamp = started_us.div_euclid(1_000_000);
    let d = &c.delivery;
    let body = d.body.clone().into_bytes();
    let signature = header_value(&c.secret, timestamp, &body);
    let mut request = client
        .post(&c.url)
        .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
        .header(
            USER_AGENT,
            HeaderValue::from_static(concat!("scimd-webhooks/", env!("CARGO_PKG_VERSION"))),
        );
    // Ids and types are ASCII from scimd itself; a value that is not a valid header is
    // left out rather than failing the attempt.
    for (name, value) in [
        (EVENT_ID_HEADER, d.event_id.as_str()),
        (EVENT_TYPE_HEADER, d.event_type.as_str()),
        (SIGNATURE_HEADER, signature.as_str()),
    ] {
        if let Ok(v) = HeaderValue::from_str(value) {
            request = request.header(name, v);
        }
    }
    let result = request.body(body).send().await;
    let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    match result {
        Ok(response) => {
            let status = response.status();
            // Drain (bounded by the client timeout) so the connection can be reused.
            let _ = response.bytes().await;
            AttemptRecord {
                started_us,
                status_code: Some(i64::from(status.as_u16())),
                error: (!status.is_success()).then(|| format!("HTTP {}", status.as_u16())),
                duration_ms,
            }
        }
        Err(e) => AttemptRecord {
            started_us,
            status_code: None,
            error: Some(truncate(e.without_url().to_string())),
            duration_ms,
        },
    }
}
