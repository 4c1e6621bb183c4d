//! The admin API for the host application, under `/admin/v1`, authenticated by admin tokens
//! (`scimd admin-tokens create`), which are never SCIM credentials: SCIM tokens answer 401
//! here and admin tokens answer 401 on SCIM routes (they live in separate tables).
//!
//! - `GET /admin/v1/tenants/{t}/events?after=SEQ&limit=N&wait=SECONDS`: the outbox of a
//!   tenant in `seq` order (`limit` default 100, at most 1000). With `wait` (at most 30 s)
//!   and nothing new, the request waits for an event: this node's writes wake it at once,
//!   and the database is polled every [`POLL_INTERVAL`] so other nodes' writes are seen too.
//! - `GET /admin/v1/tenants/{t}/audit?since=…&status=…&limit=N`: the audit log, newest first.
//! - `POST /admin/v1/tenants/{t}/users/{id}/password:verify` with `{"password": "…"}`:
//!   `{"match": bool}` (Okta's Sync Password). argon2 runs on a blocking thread against the
//!   stored hash, or a dummy hash when the user or hash does not exist, so the time does not
//!   reveal which; at most [`PASSWORD_ATTEMPTS`] attempts per user per [`PASSWORD_WINDOW`]
//!   on each node, then 429 with `Retry-After`.
//! - Webhook endpoints, through the same helpers as `scimd webhooks …` ([`crate::webhooks`]):
//!   `GET /admin/v1/tenants/{t}/webhooks` lists endpoints (never their secrets);
//!   `POST /admin/v1/tenants/{t}/webhooks` with `{"url", "events", "format"}` adds one and
//!   answers 201 with its id and secret (the only time the secret is shown);
//!   `DELETE /admin/v1/tenants/{t}/webhooks/{id}` removes one with its queue (204);
//!   `POST /admin/v1/tenants/{t}/webhooks/replay` with `{"since", "endpoint"}` re-queues past
//!   events (202 with the count); `GET /admin/v1/tenants/{t}/webhooks/{id}/deliveries` lists
//!   recent deliveries, newest first.

use std::collections::{HashMap, VecDeque};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use scimd_core::schema::ResourceKind;
use scimd_store::webhooks::{Delivery, Endpoint, WebhookFormat};
use scimd_store::{AuditQuery, Load, StatusFilter, StoreError, Tenant};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::crypto;
use crate::error::ApiError;
use crate::http::{PathParams, QueryParams};
use crate::state::{AppState, ServerStore};
use crate::webhooks::{self, ReplayFrom, WebhookError};

/// Default and largest page of the events API.
pub const EVENTS_DEFAULT_LIMIT: u32 = 100;
pub const EVENTS_MAX_LIMIT: u32 = 1000;
/// Longest long-poll.
pub const MAX_WAIT_SECS: u64 = 30;
/// How often a long-poll re-reads the database (for events written by other nodes).
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);
/// Password verifications allowed per user per window, per node.
pub const PASSWORD_ATTEMPTS: usize = 5;
pub const PASSWORD_WINDOW: Duration = Duration::from_secs(60);
/// Largest audit page.
pub const AUDIT_MAX_LIMIT: u32 = 1000;
/// Default and largest page of the webhook deliveries API.
pub const DELIVERIES_DEFAULT_LIMIT: u32 = 50;
pub const DELIVERIES_MAX_LIMIT: u32 = 1000;

/// An argon2id hash of a random secret, verified against when a user has no hash so that
/// absent users take as long as present ones.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let secret = crypto::new_bearer_token().unwrap_or_else(|_| "scimd-dummy".to_owned());
    crypto::hash_secret(&secret).unwrap_or_default()
});

/// Allows at most `max` events per key in a sliding window.
#[derive(Debug)]
pub struct RateLimiter {
    max: usize,
    window: Duration,
    hits: Mutex<HashMap<String, VecDeque<Instant>>>,
}

/// Keys tracked before stale ones are swept.
const LIMITER_SWEEP_AT: usize = 10_000;

impl RateLimiter {
    pub fn new(max: usize, window: Duration) -> Self {
        Self {
            max,
            window,
            hits: Mutex::default(),
        }
    }

    /// Counts an attempt for `key`; `Err(retry_after)` when over the limit.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let mut hits = self.hits.lock().unwrap_or_else(|p| p.into_inner());
        if hits.len() >= LIMITER_SWEEP_AT {
            let window = self.window;
            hits.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < window));
        }
        let q = hits.entry(key.to_owned()).or_default();
        while q
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            q.pop_front();
        }
        if q.len() >= self.max {
            let oldest = q.front().copied().unwrap_or(now);
            return Err(self.window.saturating_sub(now.duration_since(oldest)));
        }
        q.push_back(now);
        Ok(())
    }
}

/// Middleware: requires an active admin token (`Authorization: Bearer …`).
pub async fn require_admin<S: ServerStore>(
    State(state): State<AppState<S>>,
    req: Request,
    next: Next,
) -> Response {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_owned());
    let Some(token) = token else {
        return ApiError::unauthorized().into_response();
    };
    let hash = crypto::sha256_hex(token.as_bytes());
    match state.store().admin_token_by_hash(&hash).await {
        Ok(Some(t))
            if !t.revoked && crypto::constant_time_eq(t.token_hash.as_bytes(), hash.as_bytes()) =>
        {
            next.run(req).await
        }
        Ok(_) => ApiError::unauthorized().into_response(),
        Err(e) => crate::store_error(e).into_response(),
    }
}

async fn tenant<S: ServerStore>(state: &AppState<S>, name: &str) -> Result<Tenant, ApiError> {
    state
        .store()
        .tenant_by_name(name)
        .await
        .map_err(crate::store_error)?
        .ok_or_else(|| ApiError::not_found(format!("tenant {name} not found")))
}

/// Query of the events API.
#[derive(Debug, Deserialize)]
pub struct EventsParams {
    after: Option<i64>,
    limit: Option<u32>,
    wait: Option<u64>,
}

/// `GET /admin/v1/tenants/{t}/events`.
pub async fn events<S: ServerStore>(
    State(state): State<AppState<S>>,
    PathParams(name): PathParams<String>,
    QueryParams(p): QueryParams<EventsParams>,
) -> Result<Json<Value>, ApiError> {
    let t = tenant(&state, &name).await?;
    let after = p.after.unwrap_or(0).max(0);
    let limit = p
        .limit
        .unwrap_or(EVENTS_DEFAULT_LIMIT)
        .clamp(1, EVENTS_MAX_LIMIT);
    let wait = Duration::from_secs(p.wait.unwrap_or(0).min(MAX_WAIT_SECS));
    let deadline = tokio::time::Instant::now() + wait;
    let mut watch = state.events_watch();
    let events = loop {
        watch.borrow_and_update();
        let events = state
            .store()
            .events_after(t.id, after, limit)
            .await
            .map_err(crate::store_error)?;
        if !events.is_empty() || tokio::time::Instant::now() >= deadline {
            break events;
        }
        let poll = (tokio::time::Instant::now() + POLL_INTERVAL).min(deadline);
        tokio::select! {
            _ = watch.changed() => {}
            () = tokio::time::sleep_until(poll) => {}
        }
    };
    let next_after = events.last().map_or(after, |e| e.seq);
    let list: Vec<Value> = events.iter().map(scimd_store::Event::to_json).collect();
    Ok(Json(json!({"events": list, "next_after": next_after})))
}

/// Query of the audit API.
#[derive(Debug, Deserialize)]
pub struct AuditParams {
    since: Option<String>,
    status: Option<String>,
    limit: Option<u32>,
}

/// `GET /admin/v1/tenants/{t}/audit`.
pub async fn audit<S: ServerStore>(
    State(state): State<AppState<S>>,
    PathParams(name): PathParams<String>,
    QueryParams(p): QueryParams<AuditParams>,
) -> Result<Json<Value>, ApiError> {
    let t = tenant(&state, &name).await?;
    let since = match p.since.as_deref() {
        None => None,
        Some(s) => Some(crate::audit::parse_since(s).ok_or_else(|| {
            ApiError::Scim(scimd_core::Error::invalid_value(
                "since: expected an RFC 3339 time or a duration like 1h",
            ))
        })?),
    };
    let status = match p.status.as_deref() {
        None => None,
        Some(s) => Some(StatusFilter::parse(s).ok_or_else(|| {
            ApiError::Scim(scimd_core::Error::invalid_value(
                "status: expected a status like 404 or a class like 4xx",
            ))
        })?),
    };
    let entries = state
        .store()
        .query_audit(&AuditQuery {
            tenant: t.id,
            since,
            status,
            limit: p.limit.unwrap_or(100).clamp(1, AUDIT_MAX_LIMIT),
        })
        .await
        .map_err(crate::store_error)?;
    let list: Vec<Value> = entries.iter().map(crate::audit::entry_json).collect();
    Ok(Json(json!({ "entries": list })))
}

/// `POST /admin/v1/tenants/{t}/users/{id}/password:verify`.
pub async fn verify_password<S: ServerStore>(
    State(state): State<AppState<S>>,
    PathParams((name, user)): PathParams<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    match verify(&state, &name, &user, &body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn verify<S: ServerStore>(
    state: &AppState<S>,
    name: &str,
    user_path: &str,
    body: &[u8],
) -> Result<Response, ApiError> {
    let user = user_path;
    let parsed: Value = serde_json::from_slice(body).map_err(|_| {
        ApiError::Scim(scimd_core::Error::invalid_syntax(
            "expected {\"password\": \"…\"}",
        ))
    })?;
    let Some(password) = parsed.get("password").and_then(Value::as_str) else {
        return Err(ApiError::Scim(scimd_core::Error::invalid_syntax(
            "expected {\"password\": \"…\"}",
        )));
    };
    let t = tenant(state, name).await?;
    if let Err(retry) = state
        .password_limiter()
        .check(&format!("{}/{user}", t.id.0))
    {
        let secs = retry.as_secs().max(1);
        let mut r = (
            StatusCode::TOO_MANY_REQUESTS,
            Json(json!({"detail": "too many password verifications for this user; retry later"})),
        )
            .into_response();
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return Ok(r);
    }
    let stored = state
        .store()
        .get(t.id, ResourceKind::User, user, Load::NONE)
        .await
        .map_err(crate::store_error)?
        .and_then(|u| u.password_hash);
    let (hash, real) = match stored {
        Some(h) => (h, true),
        None => (DUMMY_HASH.clone(), false),
    };
    let password = password.to_owned();
    let ok = tokio::task::spawn_blocking(move || crypto::verify_secret(&password, &hash))
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(json!({ "match": ok && real })).into_response())
}

/// A webhook helper's error as an API error: bad input is 400 `invalidValue`, an unknown
/// endpoint 404, anything else what the store or server says.
fn webhook_error(e: WebhookError) -> ApiError {
    match e {
        WebhookError::Invalid(msg) => ApiError::Scim(scimd_core::Error::invalid_value(msg)),
        WebhookError::Store(StoreError::NotFound) => {
            ApiError::not_found("no such webhook endpoint in this tenant")
        }
        WebhookError::Store(e) => crate::store_error(e),
        WebhookError::Random(cause) => ApiError::internal(cause),
    }
}

/// Parses a JSON request body into `T`, answering 400 `invalidSyntax` with `expected`.
fn json_body<T: serde::de::DeserializeOwned>(body: &[u8], expected: &str) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::Scim(scimd_core::Error::invalid_syntax(format!(
            "{expected}: {e}"
        )))
    })
}

/// An endpoint as the API shows it: everything but the secret.
fn endpoint_json(e: &Endpoint) -> Value {
    json!({
        "id": e.id,
        "url": e.url,
        "events": e.events,
        "format": e.format.as_str(),
        "enabled": e.enabled,
        "created": e.created,
    })
}

/// A delivery as the API shows it (without its body, which the receiver already has).
fn delivery_json(d: &Delivery) -> Value {
    json!({
        "id": d.id,
        "endpoint": d.endpoint_id,
        "event_id": d.event_id,
        "event_seq": d.event_seq,
        "event_type": d.event_type,
        "status": d.status.as_str(),
        "attempts": d.attempts,
        "created": scimd_core::datetime::format_rfc3339(d.created_us),
        "last_status": d.last_status,
        "last_error": d.last_error,
    })
}

/// `GET /admin/v1/tenants/{t}/webhooks`: the tenant's endpoints, oldest first.
pub async fn list_webhooks<S: ServerStore>(
    State(state): State<AppState<S>>,
    PathParams(name): PathParams<String>,
) -> Result<Json<Value>, ApiError> {
    let t = tenant(&state, &name).await?;
    let endpoints = state
        .store()
        .list_endpoints(t.id)
        .await
        .map_err(crate::store_error)?;
    let list: Vec<Value> = endpoints.iter().map(endpoint_json).collect();
    Ok(Json(json!({ "webhooks": list })))
}

/// Body of `POST /admin/v1/tenants/{t}/webhooks`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    url: String,
    /// Event types or `prefix.*` patterns; absent or empty means every type.
    #[serde(default)]
    events: Vec<String>,
    /// `json` (default) or `set`.
    format: Option<String>,
}

/// `POST /admin/v1/tenants/{t}/webhooks`: 201 with the endpoint and its secret (shown only
/// in this response).
pub async fn add_webhook<S: ServerStore>(
    State(state): State<AppState<S>>,
    PathParams(name): PathParams<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let req: NewWebhook = json_body(
        &body,
        "expected {\"url\": \"…\", \"events\": [\"…\"], \"format\": \"json\"|\"set\"}",
    )?;
    let format_name = req.format.as_deref().unwrap_or("json");
    let format = WebhookFormat::parse(format_name).ok_or_else(|| {
        ApiError::Scim(scimd_core::Error::invalid_value(format!(
            "format must be json or set, not '{format_name}'"
        )))
    })?;
    // Each entry goes through the CLI's parser on its own, so a comma inside one entry
    // cannot smuggle in a second pattern.
    let mut events = Vec::new();
    for entry in &req.events {
        let parsed = webhooks::parse_filter(entry).map_err(webhook_error)?;
        if parsed.len() != 1 {
            return Err(ApiError::Scim(scimd_core::Error::invalid_value(format!(
                "events: '{entry}' must be exactly one event type or pattern"
            ))));
        }
        events.extend(parsed);
    }
    let t = tenant(&state, &name).await?;
    let (endpoint, secret) = webhooks::add_endpoint(state.store(), t.id, &req.url, events, format)
        .await
        .map_err(webhook_error)?;
    let mut out = endpoint_json(&endpoint);
    if let Some(obj) = out.as_object_mut() {
        obj.insert("secret".into(), Value::String(secret));
    }
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

/// `DELETE /admin/v1/tenants/{t}/webhooks/{id}`: 204, or 404 for an unknown endpoint.
pub async fn remove_webhook<S: ServerStore>(
    State(state): State<AppState<S>>,
    PathParams((name, id)): PathParams<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let t = tenant(&state, &name).await?;
    state
        .store()
        .delete_endpoint(t.id, &id)
        .await
        .map_err(|e| webhook_error(e.into()))?;
    Ok(StatusCode::NO_CONTENT)
}

/// Body of `POST /admin/v1/tenants/{t}/webhooks/replay`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    /// A sequence number (events with `seq >= since`) or an RFC 3339 time; a JSON number is
    /// accepted as well as a string.
    since: Value,
    /// Only this endpoint (default: every endpoint of the tenant).
    endpoint: Option<String>,
}

/// `POST /admin/v1/tenants/{t}/webhooks/replay`: 202 with `{"queued": N}`.
pub async fn replay_webhooks<S: ServerStore>(
    State(state): State<AppState<S>>,
    PathParams(name): PathParams<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let req: ReplayRequest = json_body(
        &body,
        "expected {\"since\": \"<RFC 3339 time or sequence number>\", \"endpoint\": \"…\"}",
    )?;
    let since = match &req.since {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => {
            return Err(ApiError::Scim(scimd_core::Error::invalid_value(
                "since must be a sequence number or an RFC 3339 time",
            )));
        }
    };
    let from = ReplayFrom::parse(&since).map_err(webhook_error)?;
    let t = tenant(&state, &name).await?;
    let queued = webhooks::replay(
        state.store(),
        t.id,
        from,
        req.endpoint.as_deref(),
        &state.config().public_base_url,
    )
    .await
    .map_err(webhook_error)?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "queued": queued }))).into_response())
}

/// Query of the deliveries API.
#[derive(Debug, Deserialize)]
pub struct DeliveriesParams {
    limit: Option<u32>,
}

/// `GET /admin/v1/tenants/{t}/webhooks/{id}/deliveries`: the endpoint's recent deliveries,
/// newest first (`limit` default 50, at most 1000); 404 for an unknown endpoint.
pub async fn webhook_deliveries<S: ServerStore>(
    State(state): State<AppState<S>>,
    PathParams((name, id)): PathParams<(String, String)>,
    QueryParams(p): QueryParams<DeliveriesParams>,
) -> Result<Json<Value>, ApiError> {
    let t = tenant(&state, &name).await?;
    if state
        .store()
        .get_endpoint(t.id, &id)
        .await
        .map_err(crate::store_error)?
        .is_none()
    {
        return Err(webhook_error(StoreError::NotFound.into()));
    }
    let limit = p
        .limit
        .unwrap_or(DELIVERIES_DEFAULT_LIMIT)
        .clamp(1, DELIVERIES_MAX_LIMIT);
    let deliveries = state
        .store()
        .list_deliveries(t.id, Some(&id), limit)
        .await
        .map_err(crate::store_error)?;
    let list: Vec<Value> = deliveries.iter().map(delivery_json).collect();
    Ok(Json(json!({ "deliveries": list })))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn limiter_allows_max_then_refuses() {
        let l = RateLimiter::new(2, Duration::from_secs(60));
        assert!(l.check("a").is_ok());
        assert!(l.check("a").is_ok());
        let retry = l.check("a").unwrap_err();
        assert!(retry <= Duration::from_secs(60) && retry > Duration::from_secs(50));
        assert!(l.check("b").is_ok(), "per key");
    }
}
