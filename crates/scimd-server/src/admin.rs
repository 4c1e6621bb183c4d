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

use std::collections::{HashMap, VecDeque};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use scimd_core::schema::ResourceKind;
use scimd_store::{AuditQuery, Load, StatusFilter, Tenant};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::crypto;
use crate::error::ApiError;
use crate::state::{AppState, ServerStore};

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
    Path(name): Path<String>,
    Query(p): Query<EventsParams>,
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
    Path(name): Path<String>,
    Query(p): Query<AuditParams>,
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
    Path((name, user)): Path<(String, String)>,
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
