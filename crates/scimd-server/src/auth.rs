//! Authentication (RFC 7644 §2): bearer tokens and HTTP Basic client credentials, and the
//! tenant each request acts for.
//!
//! - Bearer: the token's SHA-256 is looked up with one indexed query; the stored hash is
//!   compared again in constant time.
//! - Basic: the client id is looked up, the secret verified against its argon2id hash on a
//!   blocking thread. IdPs send Basic credentials on every request and argon2 costs tens of
//!   milliseconds, so successful verifications are cached in process, keyed by
//!   SHA-256(client id, NUL, secret), for [`BASIC_CACHE_TTL`] and at most
//!   [`BASIC_CACHE_CAPACITY`] entries. Consequence: revoking a Basic client takes effect
//!   within 60 seconds, not instantly. Failed verifications are never cached.
//! - `/tenants/{tenant}/scim/v2/…` must name the credential's own tenant; any mismatch is
//!   the same 401 as a bad credential, so the response reveals nothing about other tenants.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::state::ServerStore;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use scimd_store::{CredentialKind, Tenant};

use crate::config::TenantSettings;
use crate::crypto;
use crate::error::ApiError;
use crate::state::AppState;

/// How long a successful Basic verification is trusted without re-running argon2.
pub const BASIC_CACHE_TTL: Duration = Duration::from_secs(60);
/// The most Basic verifications kept; when full, expired entries are dropped, and if none
/// are, the whole cache is cleared (the next requests simply verify again).
pub const BASIC_CACHE_CAPACITY: usize = 10_000;

/// The tenant a request acts for, and the base URL its resources are addressed under.
#[derive(Debug, Clone)]
pub struct TenantContext {
    pub tenant: Tenant,
    /// The label of the credential that authenticated the request (the actor of events
    /// and audit entries).
    pub label: String,
    pub settings: TenantSettings,
    /// `…/scim/v2` or `…/tenants/{tenant}/scim/v2`, without a trailing slash.
    pub base_url: String,
}

/// Cache of successful Basic verifications (see the module documentation for the bounds).
#[derive(Debug, Default)]
pub struct BasicCache {
    entries: Mutex<HashMap<[u8; 32], (Instant, Authenticated)>>,
}

impl BasicCache {
    fn key(client_id: &str, secret: &str) -> [u8; 32] {
        let mut data = Vec::with_capacity(client_id.len() + secret.len() + 1);
        data.extend_from_slice(client_id.as_bytes());
        data.push(0);
        data.extend_from_slice(secret.as_bytes());
        crypto::sha256(&data)
    }

    fn get(&self, key: &[u8; 32]) -> Option<Authenticated> {
        let mut map = self.entries.lock().ok()?;
        match map.get(key) {
            Some((at, tenant)) if at.elapsed() < BASIC_CACHE_TTL => Some(tenant.clone()),
            Some(_) => {
                map.remove(key);
                None
            }
            None => None,
        }
    }

    fn insert(&self, key: [u8; 32], tenant: Authenticated) {
        let Ok(mut map) = self.entries.lock() else {
            return;
        };
        if map.len() >= BASIC_CACHE_CAPACITY {
            map.retain(|_, (at, _)| at.elapsed() < BASIC_CACHE_TTL);
            if map.len() >= BASIC_CACHE_CAPACITY {
                map.clear();
            }
        }
        map.insert(key, (Instant::now(), tenant));
    }

    /// Number of cached verifications (for tests and diagnostics).
    pub fn len(&self) -> usize {
        self.entries.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A credential as presented in the `Authorization` header.
#[derive(Debug, PartialEq, Eq)]
enum Presented {
    Bearer(String),
    Basic { client_id: String, secret: String },
}

fn presented(headers: &HeaderMap) -> Option<Presented> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        (!rest.is_empty()).then(|| Presented::Bearer(rest.to_owned()))
    } else if scheme.eq_ignore_ascii_case("basic") {
        let decoded = STANDARD.decode(rest).ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (id, secret) = text.split_once(':')?;
        Some(Presented::Basic {
            client_id: id.to_owned(),
            secret: secret.to_owned(),
        })
    } else {
        None
    }
}

/// A tenant and the label of the credential that authenticated for it.
pub type Authenticated = (Tenant, String);

/// Resolves the credential in `headers` to its tenant and credential label, or `None` when
/// it is missing or wrong.
pub async fn authenticate<S: ServerStore>(
    state: &AppState<S>,
    headers: &HeaderMap,
) -> Result<Option<Authenticated>, ApiError> {
    let Some(cred) = presented(headers) else {
        return Ok(None);
    };
    match cred {
        Presented::Bearer(token) => {
            let hash = crypto::sha256_hex(token.as_bytes());
            let found = state
                .store()
                .bearer_by_hash(&hash)
                .await
                .map_err(crate::store_error)?;
            Ok(found.and_then(|(c, t)| {
                (c.kind == CredentialKind::Bearer
                    && !c.revoked
                    && crypto::constant_time_eq(c.secret_hash.as_bytes(), hash.as_bytes()))
                .then_some((t, c.label))
            }))
        }
        Presented::Basic { client_id, secret } => {
            let key = BasicCache::key(&client_id, &secret);
            if let Some(tenant) = state.basic_cache().get(&key) {
                return Ok(Some(tenant));
            }
            let found = state
                .store()
                .basic_by_client_id(&client_id)
                .await
                .map_err(crate::store_error)?;
            let Some((c, tenant)) = found else {
                return Ok(None);
            };
            if c.kind != CredentialKind::Basic || c.revoked {
                return Ok(None);
            }
            let phc = c.secret_hash.clone();
            let ok = tokio::task::spawn_blocking(move || crypto::verify_secret(&secret, &phc))
                .await
                .map_err(ApiError::internal)?;
            if !ok {
                return Ok(None);
            }
            let authed = (tenant, c.label);
            state.basic_cache().insert(key, authed.clone());
            Ok(Some(authed))
        }
    }
}

/// The tenant named by a `/tenants/{tenant}/…` path, if the path has that form.
pub fn path_tenant(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/tenants/")?;
    Some(rest.split('/').next().unwrap_or(rest))
}

/// The SCIM base URL for a request path: the configured public base URL plus the
/// `/tenants/{tenant}` prefix when the request came that way.
pub fn base_url_for(public_base_url: &str, path: &str) -> String {
    match path_tenant(path) {
        Some(t) => format!("{public_base_url}/tenants/{t}/scim/v2"),
        None => format!("{public_base_url}/scim/v2"),
    }
}

/// Middleware on every authenticated route: resolves the tenant and stores a
/// [`TenantContext`] in the request extensions, or answers 401.
pub async fn require_auth<S: ServerStore>(
    State(state): State<AppState<S>>,
    mut req: Request,
    next: Next,
) -> Response {
    let path = req
        .extensions()
        .get::<axum::extract::OriginalUri>()
        .map_or_else(|| req.uri().path().to_owned(), |u| u.path().to_owned());
    let (tenant, label) = match authenticate(&state, req.headers()).await {
        Ok(Some(t)) => t,
        Ok(None) => return ApiError::unauthorized().into_response(),
        Err(e) => return e.into_response(),
    };
    if let Some(named) = path_tenant(&path)
        && named != tenant.name
    {
        return ApiError::unauthorized().into_response();
    }
    crate::audit::set_actor(Some(tenant.id), &tenant.name, &label);
    let settings = TenantSettings::from_json(&tenant.settings);
    let base_url = base_url_for(&state.config().public_base_url, &path);
    req.extensions_mut().insert(TenantContext {
        tenant,
        label,
        settings,
        base_url,
    });
    next.run(req).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;
    use axum::http::HeaderValue;
    use scimd_store::TenantId;

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn parses_bearer_and_basic_case_insensitively() {
        assert_eq!(
            presented(&headers("bearer abc")),
            Some(Presented::Bearer("abc".into()))
        );
        let b = STANDARD.encode("id:sec:ret");
        assert_eq!(
            presented(&headers(&format!("BASIC {b}"))),
            Some(Presented::Basic {
                client_id: "id".into(),
                secret: "sec:ret".into()
            })
        );
        assert_eq!(presented(&headers("Bearer ")), None);
        assert_eq!(presented(&headers("Basic !!!")), None);
        assert_eq!(presented(&headers("Digest x")), None);
        assert_eq!(presented(&HeaderMap::new()), None);
    }

    #[test]
    fn tenant_prefix_and_base_url() {
        assert_eq!(path_tenant("/tenants/acme/scim/v2/Users"), Some("acme"));
        assert_eq!(path_tenant("/scim/v2/Users"), None);
        assert_eq!(
            base_url_for("http://h", "/tenants/acme/scim/v2/Users"),
            "http://h/tenants/acme/scim/v2"
        );
        assert_eq!(
            base_url_for("http://h", "/scim/v2/Users"),
            "http://h/scim/v2"
        );
    }

    #[test]
    fn cache_keeps_successes_and_is_bounded() {
        let cache = BasicCache::default();
        let t = Tenant {
            id: TenantId(1),
            name: "t".into(),
            settings: serde_json::Value::Null,
            created: String::new(),
        };
        let k = BasicCache::key("id", "secret");
        assert!(cache.get(&k).is_none());
        cache.insert(k, (t.clone(), "okta".into()));
        assert_eq!(cache.get(&k), Some((t.clone(), "okta".into())));
        assert!(cache.get(&BasicCache::key("id", "other")).is_none());
        for i in 0..BASIC_CACHE_CAPACITY + 5 {
            cache.insert(
                BasicCache::key(&i.to_string(), "s"),
                (t.clone(), String::new()),
            );
        }
        assert!(cache.len() <= BASIC_CACHE_CAPACITY);
    }
}
