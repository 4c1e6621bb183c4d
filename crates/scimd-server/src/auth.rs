//! Authentication (RFC 7644 §2): bearer tokens and HTTP Basic client credentials, and the
//! tenant each request acts for.
//!
//! - Bearer: the token's SHA-256 is looked up with one indexed query; the stored hash is
//!   compared again in constant time.
//! - Basic: the client id is looked up, the secret verified against its argon2id hash on a
//!   blocking thread (argon2 costs tens of milliseconds).
//! - Successes of both are cached in process ([`CredentialCache`]), keyed by a kind tag and
//!   a SHA-256 (of the token; of client id, NUL, secret), so a request normally does no
//!   database read and no JSON parse to authenticate: the entry holds the tenant, the
//!   credential label and the parsed [`TenantSettings`], as ready-made [`TenantContext`]s.
//!   Failures are never cached. At most [`CREDENTIAL_CACHE_CAPACITY`] entries, each trusted
//!   for at most [`CREDENTIAL_CACHE_TTL`] (a backstop).
//! - Invalidation: every change that can invalidate a credential (revocation, tenant
//!   deletion, tenant settings) increments the database's credential generation in its own
//!   transaction ([`scimd_store::store::AuthGeneration`]). A background task
//!   ([`start_auth_poller`]) reads it every [`AUTH_POLL_INTERVAL`] and clears the cache when
//!   it moved, and also when the read fails or takes longer than the interval (fail closed:
//!   the next requests go to the database). So a revocation, a settings change or a tenant
//!   deletion takes effect within about one second on every node (SQLite, or several nodes
//!   on one PostgreSQL database).
//! - `/tenants/{tenant}/scim/v2/…` must name the credential's own tenant; any mismatch is
//!   the same 401 as a bad credential, so the response reveals nothing about other tenants.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use crate::state::ServerStore;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use scimd_store::{CredentialKind, Store, Tenant};

use crate::config::TenantSettings;
use crate::crypto;
use crate::error::ApiError;
use crate::state::AppState;

/// Longest a cached authentication is trusted, whatever the poll says (a backstop: the
/// poll of the credential generation is what invalidates entries).
pub const CREDENTIAL_CACHE_TTL: Duration = Duration::from_secs(60);
/// The most authentications kept; when full, expired entries are dropped, and if none
/// are, the whole cache is cleared (the next requests simply authenticate again).
pub const CREDENTIAL_CACHE_CAPACITY: usize = 10_000;
/// How often each node reads the credential generation; also the longest it waits for
/// the answer before clearing the cache. The bound on how long a revoked credential keeps
/// working is about this interval plus one database read.
pub const AUTH_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// The tenant a request acts for, and the base URL its resources are addressed under.
/// Built once per cached authentication and shared (`Arc`) by the requests it serves.
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

/// A successful authentication: the request contexts for both SCIM bases of the
/// credential's tenant (they differ only in `base_url`), so that a request takes one
/// `Arc` clone and parses nothing.
#[derive(Debug)]
pub struct Authenticated {
    /// For `/scim/v2/…`.
    root: Arc<TenantContext>,
    /// For `/tenants/{tenant}/scim/v2/…`.
    prefixed: Arc<TenantContext>,
}

impl Authenticated {
    /// Parses the tenant's settings and builds both contexts under `public_base_url`.
    pub fn new(tenant: Tenant, label: String, public_base_url: &str) -> Self {
        let settings = TenantSettings::from_json(&tenant.settings);
        let prefixed = TenantContext {
            base_url: format!("{public_base_url}/tenants/{}/scim/v2", tenant.name),
            tenant: tenant.clone(),
            label: label.clone(),
            settings: settings.clone(),
        };
        let root = TenantContext {
            base_url: format!("{public_base_url}/scim/v2"),
            tenant,
            label,
            settings,
        };
        Self {
            root: Arc::new(root),
            prefixed: Arc::new(prefixed),
        }
    }

    /// The credential's tenant.
    pub fn tenant(&self) -> &Tenant {
        &self.root.tenant
    }

    /// The credential's label.
    pub fn label(&self) -> &str {
        &self.root.label
    }

    /// The context for a request to `path`, or `None` when the path names another tenant
    /// (`/tenants/{other}/…`).
    pub fn context_for(&self, path: &str) -> Option<Arc<TenantContext>> {
        match path_tenant(path) {
            None => Some(Arc::clone(&self.root)),
            Some(named) if named == self.root.tenant.name => Some(Arc::clone(&self.prefixed)),
            Some(_) => None,
        }
    }
}

/// What a cache entry is keyed by: the kind of credential and a SHA-256 of what was
/// presented. The tag keeps a bearer token and a Basic pair apart even if their digests
/// were equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CredentialKey {
    /// SHA-256 of the token (the digest the database is queried with, in hex).
    Bearer([u8; 32]),
    /// SHA-256(client id, NUL, secret).
    Basic([u8; 32]),
}

impl CredentialKey {
    /// The key of a bearer token.
    pub fn bearer(token: &str) -> Self {
        Self::Bearer(crypto::sha256(token.as_bytes()))
    }

    /// The key of a Basic client id and secret.
    pub fn basic(client_id: &str, secret: &str) -> Self {
        let mut data = Vec::with_capacity(client_id.len() + secret.len() + 1);
        data.extend_from_slice(client_id.as_bytes());
        data.push(0);
        data.extend_from_slice(secret.as_bytes());
        Self::Basic(crypto::sha256(&data))
    }

    /// The SHA-256 digest, without the tag.
    pub fn digest(&self) -> &[u8; 32] {
        match self {
            Self::Bearer(d) | Self::Basic(d) => d,
        }
    }
}

/// The cache's invalidation count when a lookup missed; an insert is accepted only if no
/// invalidation happened since (see [`CredentialCache`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Epoch(u64);

/// The outcome of [`CredentialCache::lookup`].
#[derive(Debug)]
pub enum Lookup {
    /// A live entry.
    Hit(Arc<Authenticated>),
    /// Nothing usable: authenticate against the database, then [`CredentialCache::insert`]
    /// with this epoch.
    Miss(Epoch),
}

/// The in-process cache of successful authentications (bearer and Basic), invalidated by
/// [`CredentialCache::observe`] (the poll of the credential generation).
///
/// Race with a concurrent invalidation: a request that misses records the cache's epoch
/// (the number of invalidations so far) *before* it queries the database, and its insert
/// is dropped if the epoch moved in the meantime. Why that is enough: suppose a revocation
/// commits at time R and a request read the credential as valid, so its database read
/// began before R, and its epoch was recorded before that read, hence before R. The
/// generation is bumped in the revocation's transaction, so the first poll that sees the new
/// value read it after R, and its invalidation (clear, then epoch + 1, under the same lock
/// as inserts) happens after R too. Either the request's insert came before that
/// invalidation (and was cleared by it) or after it, and then the epoch the request recorded
/// (before R) is older than the current one and the insert is refused. No entry built from a
/// read older than a change survives the invalidation that follows the change. A request
/// that misses during an unrelated invalidation merely skips caching; the next one caches.
#[derive(Debug, Default)]
pub struct CredentialCache {
    inner: Mutex<CacheInner>,
}

#[derive(Debug, Default)]
struct CacheInner {
    entries: HashMap<CredentialKey, (Instant, Arc<Authenticated>)>,
    /// Invalidations so far.
    epoch: u64,
    /// The credential generation the last successful poll read; `None` before the first
    /// one and after a failed one (so the next success clears again).
    generation: Option<i64>,
    /// Whether the last poll failed (failures are logged once per outage).
    failing: bool,
}

impl CredentialCache {
    /// The live entry for `key`, or the epoch to insert under after a database lookup.
    /// A poisoned lock (a panic elsewhere) is a miss whose insert will be refused.
    pub fn lookup(&self, key: &CredentialKey) -> Lookup {
        let Ok(mut inner) = self.inner.lock() else {
            return Lookup::Miss(Epoch(u64::MAX));
        };
        match inner.entries.get(key) {
            Some((at, authed)) if at.elapsed() < CREDENTIAL_CACHE_TTL => {
                Lookup::Hit(Arc::clone(authed))
            }
            Some(_) => {
                inner.entries.remove(key);
                Lookup::Miss(Epoch(inner.epoch))
            }
            None => Lookup::Miss(Epoch(inner.epoch)),
        }
    }

    /// Caches a successful authentication looked up after `observed` was returned by
    /// [`Self::lookup`]; refused (returns `false`) when an invalidation happened since.
    pub fn insert(&self, observed: Epoch, key: CredentialKey, authed: Arc<Authenticated>) -> bool {
        let Ok(mut inner) = self.inner.lock() else {
            return false;
        };
        if inner.epoch != observed.0 {
            return false;
        }
        if inner.entries.len() >= CREDENTIAL_CACHE_CAPACITY {
            inner
                .entries
                .retain(|_, (at, _)| at.elapsed() < CREDENTIAL_CACHE_TTL);
            if inner.entries.len() >= CREDENTIAL_CACHE_CAPACITY {
                inner.entries.clear();
            }
        }
        inner.entries.insert(key, (Instant::now(), authed));
        true
    }

    /// Drops every entry and refuses inserts of lookups that started before.
    pub fn invalidate(&self) {
        if let Ok(mut inner) = self.inner.lock() {
            Self::invalidate_locked(&mut inner);
        }
    }

    fn invalidate_locked(inner: &mut CacheInner) {
        inner.entries.clear();
        inner.epoch = inner.epoch.wrapping_add(1);
    }

    /// Records the result of a poll of the credential generation (`None`: the poll failed
    /// or timed out). Invalidates when the generation differs from the last one observed,
    /// on the first poll (entries may predate it), and on failure. Returns whether it
    /// invalidated.
    pub fn observe(&self, polled: Option<i64>) -> bool {
        let Ok(mut inner) = self.inner.lock() else {
            return false;
        };
        let changed = polled.is_none() || inner.generation != polled;
        if changed {
            Self::invalidate_locked(&mut inner);
        }
        inner.generation = polled;
        inner.failing = polled.is_none();
        changed
    }

    /// The credential generation the last successful poll read (`None` before the first
    /// poll and after a failed one); for tests and diagnostics.
    pub fn observed_generation(&self) -> Option<i64> {
        self.inner.lock().ok().and_then(|inner| inner.generation)
    }

    /// Number of cached authentications (for tests and diagnostics).
    pub fn len(&self) -> usize {
        self.inner.lock().map(|i| i.entries.len()).unwrap_or(0)
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One poll: reads the credential generation (waiting at most [`AUTH_POLL_INTERVAL`]) and
/// hands the result to [`CredentialCache::observe`]. Failures are logged once per outage.
pub async fn poll_auth_generation<S: Store>(store: &S, cache: &CredentialCache) {
    let was_failing = cache.inner.lock().is_ok_and(|inner| inner.failing);
    let polled = match tokio::time::timeout(AUTH_POLL_INTERVAL, store.auth_generation()).await {
        Ok(Ok(n)) => Some(n),
        Ok(Err(e)) => {
            if !was_failing {
                tracing::warn!(cause = %e, "reading the credential generation failed; credential cache cleared");
            }
            None
        }
        Err(_) => {
            if !was_failing {
                tracing::warn!(
                    "reading the credential generation timed out; credential cache cleared"
                );
            }
            None
        }
    };
    cache.observe(polled);
}

/// Starts the task that polls the credential generation every [`AUTH_POLL_INTERVAL`] for
/// `cache`, from now (the first poll runs at once); it ends when the cache is dropped.
/// Must be called inside a Tokio runtime.
pub fn start_auth_poller<S: Store>(store: S, cache: Weak<CredentialCache>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(AUTH_POLL_INTERVAL);
        // A slow poll delays the next one rather than bunching them up.
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(cache) = cache.upgrade() else {
                return;
            };
            poll_auth_generation(&store, &cache).await;
        }
    });
}

/// A credential as presented in the `Authorization` header.
#[derive(Debug, PartialEq, Eq)]
enum Presented<'a> {
    Bearer(&'a str),
    Basic { client_id: String, secret: String },
}

fn presented(headers: &HeaderMap) -> Option<Presented<'_>> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        (!rest.is_empty()).then_some(Presented::Bearer(rest))
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

/// Resolves the credential in `headers` to its tenant, credential label and settings (from
/// the cache, else the database), or `None` when it is missing or wrong.
pub async fn authenticate<S: ServerStore>(
    state: &AppState<S>,
    headers: &HeaderMap,
) -> Result<Option<Arc<Authenticated>>, ApiError> {
    let Some(cred) = presented(headers) else {
        return Ok(None);
    };
    let cache = state.credential_cache();
    let key = match &cred {
        Presented::Bearer(token) => CredentialKey::bearer(token),
        Presented::Basic { client_id, secret } => CredentialKey::basic(client_id, secret),
    };
    // The epoch is taken before the database is read (see `CredentialCache`).
    let observed = match cache.lookup(&key) {
        Lookup::Hit(authed) => return Ok(Some(authed)),
        Lookup::Miss(epoch) => epoch,
    };
    let found = match cred {
        Presented::Bearer(_) => {
            let hash = crypto::hex(key.digest());
            let found = state
                .store()
                .bearer_by_hash(&hash)
                .await
                .map_err(crate::store_error)?;
            found.filter(|(c, _)| {
                c.kind == CredentialKind::Bearer
                    && !c.revoked
                    && crypto::constant_time_eq(c.secret_hash.as_bytes(), hash.as_bytes())
            })
        }
        Presented::Basic { client_id, secret } => {
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
            ok.then_some((c, tenant))
        }
    };
    let Some((credential, tenant)) = found else {
        return Ok(None);
    };
    let authed = Arc::new(Authenticated::new(
        tenant,
        credential.label,
        &state.config().public_base_url,
    ));
    cache.insert(observed, key, Arc::clone(&authed));
    Ok(Some(authed))
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

/// Middleware on every authenticated route: resolves the tenant and stores an
/// `Arc<`[`TenantContext`]`>` in the request extensions, or answers 401.
pub async fn require_auth<S: ServerStore>(
    State(state): State<AppState<S>>,
    mut req: Request,
    next: Next,
) -> Response {
    let path = req
        .extensions()
        .get::<axum::extract::OriginalUri>()
        .map_or_else(|| req.uri().path().to_owned(), |u| u.path().to_owned());
    let authed = match authenticate(&state, req.headers()).await {
        Ok(Some(a)) => a,
        Ok(None) => return ApiError::unauthorized().into_response(),
        Err(e) => return e.into_response(),
    };
    let Some(ctx) = authed.context_for(&path) else {
        return ApiError::unauthorized().into_response();
    };
    crate::audit::set_actor(Some(ctx.tenant.id), &ctx.tenant.name, &ctx.label);
    req.extensions_mut().insert(ctx);
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
            Some(Presented::Bearer("abc"))
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

    fn tenant(name: &str, settings: serde_json::Value) -> Tenant {
        Tenant {
            id: TenantId(1),
            name: name.into(),
            settings,
            created: String::new(),
        }
    }

    fn authed(label: &str) -> Arc<Authenticated> {
        Arc::new(Authenticated::new(
            tenant("acme", serde_json::json!({"password_sync": true})),
            label.into(),
            "http://h",
        ))
    }

    fn epoch(cache: &CredentialCache, key: &CredentialKey) -> Epoch {
        match cache.lookup(key) {
            Lookup::Miss(e) => e,
            Lookup::Hit(_) => panic!("unexpected hit"),
        }
    }

    fn hit(cache: &CredentialCache, key: &CredentialKey) -> Option<Arc<Authenticated>> {
        match cache.lookup(key) {
            Lookup::Hit(a) => Some(a),
            Lookup::Miss(_) => None,
        }
    }

    #[test]
    fn contexts_carry_parsed_settings_and_both_base_urls() {
        let a = authed("okta");
        assert_eq!(a.label(), "okta");
        let root = a.context_for("/scim/v2/Users").unwrap();
        assert_eq!(root.base_url, "http://h/scim/v2");
        assert!(root.settings.password_sync);
        let prefixed = a.context_for("/tenants/acme/scim/v2/Users/x").unwrap();
        assert_eq!(prefixed.base_url, "http://h/tenants/acme/scim/v2");
        assert_eq!(
            prefixed.base_url,
            base_url_for("http://h", "/tenants/acme/scim/v2/Users")
        );
        assert!(a.context_for("/tenants/other/scim/v2/Users").is_none());
        // Requests share the contexts instead of copying them.
        assert!(Arc::ptr_eq(
            &root,
            &a.context_for("/scim/v2/Groups").unwrap()
        ));
    }

    #[test]
    fn keys_are_tagged_by_kind() {
        let digest = crypto::sha256(b"x");
        assert_ne!(CredentialKey::Bearer(digest), CredentialKey::Basic(digest));
        assert_eq!(CredentialKey::bearer("x"), CredentialKey::Bearer(digest));
        assert_ne!(
            CredentialKey::basic("id", "secret"),
            CredentialKey::basic("id", "secreT")
        );
        // The separator keeps ("ab", "c") and ("a", "bc") apart.
        assert_ne!(
            CredentialKey::basic("ab", "c"),
            CredentialKey::basic("a", "bc")
        );
    }

    #[test]
    fn cache_keeps_successes_and_is_bounded() {
        let cache = CredentialCache::default();
        let k = CredentialKey::basic("id", "secret");
        let e = epoch(&cache, &k);
        assert!(cache.insert(e, k, authed("okta")));
        assert_eq!(hit(&cache, &k).unwrap().label(), "okta");
        assert!(hit(&cache, &CredentialKey::basic("id", "other")).is_none());
        assert!(hit(&cache, &CredentialKey::Bearer(*k.digest())).is_none());
        for i in 0..CREDENTIAL_CACHE_CAPACITY + 5 {
            let k = CredentialKey::bearer(&i.to_string());
            let e = epoch(&cache, &k);
            assert!(cache.insert(e, k, authed("")));
        }
        assert!(cache.len() <= CREDENTIAL_CACHE_CAPACITY);
    }

    #[test]
    fn an_invalidation_refuses_inserts_of_lookups_that_started_before_it() {
        let cache = CredentialCache::default();
        let k = CredentialKey::bearer("t");
        let before = epoch(&cache, &k);
        cache.invalidate();
        assert!(!cache.insert(before, k, authed("stale")));
        assert!(cache.is_empty());
        let after = epoch(&cache, &k);
        assert!(cache.insert(after, k, authed("fresh")));
        assert_eq!(hit(&cache, &k).unwrap().label(), "fresh");
    }

    #[test]
    fn observing_the_generation_clears_only_when_it_moves_or_fails() {
        let cache = CredentialCache::default();
        let k = CredentialKey::bearer("t");
        let fill = |cache: &CredentialCache| {
            let e = epoch(cache, &k);
            assert!(cache.insert(e, k, authed("a")));
        };
        fill(&cache);
        // The first poll clears: entries may be older than the value it read.
        assert!(cache.observe(Some(3)));
        assert!(cache.is_empty());
        assert_eq!(cache.observed_generation(), Some(3));
        fill(&cache);
        assert!(!cache.observe(Some(3)));
        assert_eq!(cache.len(), 1, "an unchanged generation keeps entries");
        // A lookup racing with the next change: started before, inserts after.
        let racing = epoch(&cache, &CredentialKey::bearer("racing"));
        assert!(cache.observe(Some(4)));
        assert!(cache.is_empty());
        assert!(!cache.insert(racing, CredentialKey::bearer("racing"), authed("r")));
        fill(&cache);
        // A failed poll clears (fail closed), and so does the next success.
        assert!(cache.observe(None));
        assert!(cache.is_empty());
        assert_eq!(cache.observed_generation(), None);
        fill(&cache);
        assert!(cache.observe(Some(4)));
        assert!(cache.is_empty());
    }
}
