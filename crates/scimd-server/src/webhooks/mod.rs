//! Webhooks: signed HTTP deliveries of the outbox events (issue 6), per tenant endpoint.
//!
//! - [`signing`]: the `Scimd-Signature` header (HMAC-SHA256 over `"<t>.<body>"`);
//! - [`backoff`]: exponential backoff with full jitter, dead after the retry period;
//! - [`dispatcher`]: the background task of `scimd serve` that turns new events into
//!   deliveries (fan-out) and sends them, at least once, in order per endpoint;
//! - [`cli`]: `scimd webhooks add|list|remove|replay|deliveries`;
//! - this module: endpoint management (usable by an admin API as well as the CLI), event-type
//!   filters, payload rendering (scimd's event JSON or an RFC 9967 Security Event Token
//!   claims set, [`scimd_core::set`]) and replay.
//!
//! Endpoint secrets are stored as given in the database (they must be recoverable to sign);
//! they are printed once by `scimd webhooks add` and never listed or logged. Whoever can
//! read the database can forge webhooks to the host application, so protect the database
//! (SQLite file mode 0600, PostgreSQL credentials) as you protect the host app's secrets.

pub mod backoff;
pub mod cli;
pub mod dispatcher;
pub mod signing;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use scimd_core::schema::ResourceKind;
use scimd_core::set::{self, ChangeKind, SetInput};
use scimd_store::webhooks::{Endpoint, NewDelivery, NewEndpoint, WebhookFormat, WebhookStore};
use scimd_store::{Event, EventKind, EventStore, StoreError, TenantId};

use crate::config::ServerConfig;

pub use backoff::Backoff;
pub use dispatcher::Dispatcher;

/// The prefix of every webhook secret scimd generates.
pub const SECRET_PREFIX: &str = "whsec_";
/// Header carrying the event id (the idempotency key).
pub const EVENT_ID_HEADER: &str = "Scimd-Event-Id";
/// Header carrying the event type (`user.created`, …).
pub const EVENT_TYPE_HEADER: &str = "Scimd-Event-Type";

/// How the dispatcher runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    /// Retry schedule and retry period (`webhook_retry_hours`, default 24).
    pub backoff: Backoff,
    /// Timeout of one HTTP request, connection included (default 10 s).
    pub request_timeout: Duration,
    /// How long a claimed delivery stays reserved for its sender; longer than the request
    /// timeout, so only a dead node's claims expire (default 60 s).
    pub lease: Duration,
    /// Pause between polls when there is nothing to do (default 250 ms).
    pub poll_interval: Duration,
    /// Deliveries sent concurrently (one per endpoint at most; default 32).
    pub batch: u32,
    /// `iss` of Security Event Tokens and the base of their `sub_id` URIs: the public base
    /// URL (`…/tenants/{tenant}/scim/v2` is appended).
    pub public_base_url: String,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            backoff: Backoff::default(),
            request_timeout: Duration::from_secs(10),
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_millis(250),
            batch: 32,
            public_base_url: "http://127.0.0.1:8080".into(),
        }
    }
}

impl WebhookConfig {
    /// The defaults with `public_base_url`, adjusted by the `SCIMD_WEBHOOK_*` environment
    /// variables only (no configuration file); see [`Self::from_config`].
    pub fn from_env(public_base_url: &str) -> Result<Self, String> {
        let config = ServerConfig {
            public_base_url: public_base_url.to_owned(),
            ..ServerConfig::default()
        };
        Self::from_config(&config)
    }

    /// The dispatcher settings of a resolved server configuration: each of
    /// `SCIMD_WEBHOOK_RETRY_HOURS` / `webhook_retry_hours` (decimal hours, default 24),
    /// `SCIMD_WEBHOOK_BACKOFF_BASE_MS` / `webhook_backoff_base_ms` (default 1000),
    /// `SCIMD_WEBHOOK_BACKOFF_CAP_SECS` / `webhook_backoff_cap_secs` (default 600),
    /// `SCIMD_WEBHOOK_TIMEOUT_SECS` / `webhook_timeout_secs` (default 10) and
    /// `SCIMD_WEBHOOK_LEASE_SECS` / `webhook_lease_secs` (default 60, at least the timeout
    /// plus one second) comes from the environment variable if set, else the file key, else
    /// the default. Unparsable or out-of-range values are errors naming their source rather
    /// than being ignored.
    pub fn from_config(config: &ServerConfig) -> Result<Self, String> {
        Self::from_config_with_env(config, |name| std::env::var(name).ok())
    }

    /// [`Self::from_config`] with the environment read through `env` (for tests).
    pub fn from_config_with_env(
        config: &ServerConfig,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, String> {
        /// The environment's value if set (parsed), else the file's; with its source's name.
        fn pick<T: std::str::FromStr>(
            env: &impl Fn(&str) -> Option<String>,
            var: &'static str,
            key: &'static str,
            file: Option<T>,
        ) -> Result<Option<(T, &'static str)>, String> {
            match env(var) {
                Some(v) => v
                    .trim()
                    .parse::<T>()
                    .map(|t| Some((t, var)))
                    .map_err(|_| format!("{var}: not a valid number: {v:?}")),
                None => Ok(file.map(|t| (t, key))),
            }
        }
        let f = &config.webhook;
        let mut c = Self {
            public_base_url: config.public_base_url.trim_end_matches('/').to_owned(),
            ..Self::default()
        };
        if let Some((h, source)) = pick(
            &env,
            "SCIMD_WEBHOOK_RETRY_HOURS",
            "webhook_retry_hours",
            f.retry_hours,
        )? {
            let period = (h.is_finite() && h > 0.0)
                .then(|| Duration::try_from_secs_f64(h * 3600.0).ok())
                .flatten()
                .ok_or_else(|| format!("{source} must be a positive number of hours"))?;
            c.backoff.retry_period = period;
        }
        if let Some((ms, _)) = pick(
            &env,
            "SCIMD_WEBHOOK_BACKOFF_BASE_MS",
            "webhook_backoff_base_ms",
            f.backoff_base_ms,
        )? {
            c.backoff.base = Duration::from_millis(ms.max(1));
        }
        if let Some((s, _)) = pick(
            &env,
            "SCIMD_WEBHOOK_BACKOFF_CAP_SECS",
            "webhook_backoff_cap_secs",
            f.backoff_cap_secs,
        )? {
            c.backoff.cap = Duration::from_secs(s.max(1));
        }
        if let Some((s, _)) = pick(
            &env,
            "SCIMD_WEBHOOK_TIMEOUT_SECS",
            "webhook_timeout_secs",
            f.timeout_secs,
        )? {
            c.request_timeout = Duration::from_secs(s.clamp(1, 300));
            c.lease = c.lease.max(c.request_timeout * 3);
        }
        if let Some((s, _)) = pick(
            &env,
            "SCIMD_WEBHOOK_LEASE_SECS",
            "webhook_lease_secs",
            f.lease_secs,
        )? {
            // Never shorter than a request: a live sender must not lose its claim.
            c.lease = Duration::from_secs(s).max(c.request_timeout + Duration::from_secs(1));
        }
        Ok(c)
    }
}

/// A webhook operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("random source failed: {0}")]
    Random(String),
}

/// Whether an event type matches an endpoint's filter: an empty filter or `*` matches every
/// type, `group.*` every type starting with `group.`, anything else exactly.
pub fn filter_matches(filter: &[String], event_type: &str) -> bool {
    filter.is_empty()
        || filter.iter().any(|p| {
            p == "*"
                || p == event_type
                || p.strip_suffix('*')
                    .is_some_and(|prefix| prefix.ends_with('.') && event_type.starts_with(prefix))
        })
}

/// Parses a comma-separated event filter (`user.created,group.*`), checking every entry
/// names an event type or a `prefix.*` of one.
pub fn parse_filter(list: &str) -> Result<Vec<String>, WebhookError> {
    let mut out = Vec::new();
    for raw in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let known = raw == "*"
            || EventKind::parse(raw).is_some()
            || raw.strip_suffix('*').is_some_and(|prefix| {
                prefix.ends_with('.')
                    && EventKind::ALL
                        .iter()
                        .any(|k| k.as_str().starts_with(prefix))
            });
        if !known {
            return Err(WebhookError::Invalid(format!(
                "unknown event type '{raw}' (known: {}, or user.* / group.* / *)",
                EventKind::ALL.map(EventKind::as_str).join(", ")
            )));
        }
        out.push(raw.to_owned());
    }
    Ok(out)
}

/// Checks a webhook URL: absolute `http://` or `https://` with a host, no credentials.
pub fn check_url(url: &str) -> Result<(), WebhookError> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| WebhookError::Invalid(format!("invalid webhook URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(WebhookError::Invalid(
            "the webhook URL must be http:// or https:// with a host".into(),
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(WebhookError::Invalid(
            "the webhook URL must not carry credentials; receivers verify the signature".into(),
        ));
    }
    Ok(())
}

/// A new signing secret: `whsec_` and 256 random bits (URL-safe base64).
pub fn new_secret() -> Result<String, WebhookError> {
    let bytes =
        crate::crypto::random_bytes::<32>().map_err(|e| WebhookError::Random(e.to_string()))?;
    Ok(format!("{SECRET_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

fn new_endpoint_id() -> Result<String, WebhookError> {
    let bytes =
        crate::crypto::random_bytes::<12>().map_err(|e| WebhookError::Random(e.to_string()))?;
    Ok(format!("wh_{}", crate::crypto::hex(&bytes)))
}

/// The latest event sequence number of a tenant (0 when it has none).
pub async fn tenant_head<S: EventStore>(store: &S, tenant: TenantId) -> Result<i64, StoreError> {
    Ok(store
        .event_heads()
        .await?
        .into_iter()
        .find(|(t, _)| *t == tenant)
        .map_or(0, |(_, seq)| seq))
}

/// Adds an endpoint that receives the tenant's events from now on; returns it with its
/// generated secret (shown once).
pub async fn add_endpoint<S: EventStore + WebhookStore>(
    store: &S,
    tenant: TenantId,
    url: &str,
    events: Vec<String>,
    format: WebhookFormat,
) -> Result<(Endpoint, String), WebhookError> {
    check_url(url)?;
    let secret = new_secret()?;
    let endpoint = store
        .create_endpoint(
            tenant,
            NewEndpoint {
                id: new_endpoint_id()?,
                url: url.to_owned(),
                events,
                secret: secret.clone(),
                format,
                start_after_seq: tenant_head(store, tenant).await?,
            },
        )
        .await?;
    Ok((endpoint, secret))
}

/// The SCIM endpoint name of a resource kind.
fn endpoint_name(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "Users",
        ResourceKind::Group => "Groups",
    }
}

/// How RFC 9967 sees an event type.
fn change_kind(kind: EventKind) -> ChangeKind {
    match kind {
        EventKind::UserCreated | EventKind::GroupCreated => ChangeKind::Create,
        EventKind::UserDeleted | EventKind::GroupDeleted => ChangeKind::Delete,
        EventKind::UserDeactivated => ChangeKind::Deactivate,
        EventKind::UserReactivated => ChangeKind::Activate,
        EventKind::UserUpdated
        | EventKind::UserPasswordChanged
        | EventKind::GroupRenamed
        | EventKind::GroupUpdated
        | EventKind::GroupMemberAdded
        | EventKind::GroupMemberRemoved => ChangeKind::Update,
    }
}

/// Seconds since the epoch of an RFC 3339 time (0 when unreadable).
fn unix_seconds(rfc3339: &str) -> i64 {
    scimd_core::datetime::parse_rfc3339(rfc3339).map_or(0, |us| us.div_euclid(1_000_000))
}

/// The request body for an event in an endpoint's format.
pub fn render_body(event: &Event, endpoint: &Endpoint, public_base_url: &str) -> String {
    match endpoint.format {
        WebhookFormat::Json => event.to_json().to_string(),
        WebhookFormat::Set => {
            let issuer = format!(
                "{}/tenants/{}/scim/v2",
                public_base_url.trim_end_matches('/'),
                event.tenant
            );
            set::claims(&SetInput {
                jti: &event.id,
                iat: unix_seconds(&event.time),
                issuer: &issuer,
                audience: &endpoint.url,
                txn: Some(&event.request_id),
                endpoint: endpoint_name(event.resource_type),
                resource_id: &event.resource_id,
                change: change_kind(event.kind),
                data: event.resource.as_ref(),
                attributes: &event.changed_attributes,
            })
            .to_string()
        }
    }
}

/// The delivery of an event to an endpoint.
pub fn delivery_for(event: &Event, endpoint: &Endpoint, public_base_url: &str) -> NewDelivery {
    NewDelivery {
        event_id: event.id.clone(),
        event_seq: event.seq,
        event_type: event.kind.as_str().to_owned(),
        body: render_body(event, endpoint, public_base_url),
    }
}

/// Where a replay starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayFrom {
    /// Events with `seq >= n`.
    Seq(i64),
    /// Events written at or after this time (microseconds since the epoch).
    Time(i64),
}

impl ReplayFrom {
    /// Parses `--since`: a sequence number or an RFC 3339 time.
    pub fn parse(s: &str) -> Result<Self, WebhookError> {
        if let Ok(n) = s.trim().parse::<i64>() {
            return Ok(Self::Seq(n.max(0)));
        }
        scimd_core::datetime::parse_rfc3339(s.trim())
            .map(Self::Time)
            .ok_or_else(|| {
                WebhookError::Invalid(format!(
                    "--since must be a sequence number or an RFC 3339 time, not '{s}'"
                ))
            })
    }
}

/// Re-enqueues the tenant's events from `from` (still in the outbox) for one endpoint or
/// all of them, through each endpoint's filter and up to its cursor (later events are
/// delivered by the dispatcher anyway). Returns how many deliveries were queued.
pub async fn replay<S: EventStore + WebhookStore>(
    store: &S,
    tenant: TenantId,
    from: ReplayFrom,
    endpoint_id: Option<&str>,
    public_base_url: &str,
) -> Result<u64, WebhookError> {
    let endpoints: Vec<Endpoint> = match endpoint_id {
        Some(id) => vec![
            store
                .get_endpoint(tenant, id)
                .await?
                .ok_or(StoreError::NotFound)?,
        ],
        None => store.list_endpoints(tenant).await?,
    };
    let mut total = 0;
    for endpoint in &endpoints {
        let mut after = match from {
            ReplayFrom::Seq(n) => n.saturating_sub(1),
            ReplayFrom::Time(_) => 0,
        };
        loop {
            let events = store.events_after(tenant, after, 500).await?;
            let Some(last) = events.last() else { break };
            after = last.seq;
            let batch: Vec<NewDelivery> = events
                .iter()
                .filter(|e| e.seq <= endpoint.cursor)
                .filter(|e| match from {
                    ReplayFrom::Time(t) => {
                        scimd_core::datetime::parse_rfc3339(&e.time).is_some_and(|et| et >= t)
                    }
                    ReplayFrom::Seq(_) => true,
                })
                .filter(|e| filter_matches(&endpoint.events, e.kind.as_str()))
                .map(|e| delivery_for(e, endpoint, public_base_url))
                .collect();
            if !batch.is_empty() {
                total += store.enqueue_replay(tenant, &endpoint.id, batch).await?;
            }
            if after >= endpoint.cursor {
                break;
            }
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;

    fn f(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn filters() {
        assert!(filter_matches(&[], "user.created"));
        assert!(filter_matches(&f(&["*"]), "group.deleted"));
        assert!(filter_matches(&f(&["group.*"]), "group.member_added"));
        assert!(!filter_matches(&f(&["group.*"]), "user.created"));
        assert!(filter_matches(
            &f(&["user.created", "user.deleted"]),
            "user.deleted"
        ));
        assert!(!filter_matches(&f(&["user.created"]), "user.created2"));
        assert!(!filter_matches(&f(&["user*"]), "user.created"));
    }

    #[test]
    fn parse_filters() {
        assert_eq!(
            parse_filter("user.created, group.*").unwrap(),
            f(&["user.created", "group.*"])
        );
        assert!(parse_filter("").unwrap().is_empty());
        assert!(parse_filter("user.exploded").is_err());
        assert!(parse_filter("foo.*").is_err());
    }

    #[test]
    fn urls() {
        assert!(check_url("https://app.example.com/hooks/scim").is_ok());
        assert!(check_url("http://127.0.0.1:9000/").is_ok());
        assert!(check_url("ftp://x/").is_err());
        assert!(check_url("https://u:p@x/").is_err());
        assert!(check_url("/relative").is_err());
    }

    #[test]
    fn secrets_are_random_and_prefixed() {
        let a = new_secret().unwrap();
        assert!(a.starts_with(SECRET_PREFIX));
        assert_eq!(a.len(), SECRET_PREFIX.len() + 43);
        assert_ne!(a, new_secret().unwrap());
    }

    #[test]
    fn replay_from() {
        assert_eq!(ReplayFrom::parse("42").unwrap(), ReplayFrom::Seq(42));
        assert!(matches!(
            ReplayFrom::parse("2026-01-01T00:00:00Z").unwrap(),
            ReplayFrom::Time(_)
        ));
        assert!(ReplayFrom::parse("yesterday").is_err());
    }
}
