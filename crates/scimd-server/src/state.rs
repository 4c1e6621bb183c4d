//! Shared application state: the store, the schema registry, the resolved configuration,
//! the credential cache (successful authentications, polled for invalidation), the audit
//! log writer, the notifier that wakes event
//! long-polls, and the password-verification rate limiter. Cloned per request (one `Arc`).

use std::sync::Arc;

use scimd_core::projection::VerbatimKeys;
use scimd_core::schema::{Registry, ResourceKind};
use scimd_store::{AdminStore, AuditStore, ChangeStore, EventStore, Store, WebhookStore};
use tokio::sync::watch;

use crate::admin::RateLimiter;
use crate::audit::AuditLog;
use crate::auth::CredentialCache;
use crate::config::ServerConfig;

/// Everything the server needs from a storage backend: resources ([`Store`]), writes that
/// record their events and audit entries ([`ChangeStore`]), the outbox ([`EventStore`]),
/// the audit log ([`AuditStore`]), admin tokens ([`AdminStore`]) and webhook endpoints and
/// deliveries ([`WebhookStore`], managed through the admin API). Implemented by every type
/// that implements those traits.
pub trait ServerStore:
    Store + ChangeStore + EventStore + AuditStore + AdminStore + WebhookStore
{
}

impl<T: Store + ChangeStore + EventStore + AuditStore + AdminStore + WebhookStore> ServerStore
    for T
{
}

/// Everything a request handler needs, generic over the storage backend.
pub struct AppState<S: ServerStore> {
    inner: Arc<Shared<S>>,
}

struct Shared<S> {
    store: S,
    registry: Arc<Registry>,
    /// Per kind (Users, Groups): the document keys a read may copy verbatim.
    verbatim: [VerbatimKeys; 2],
    config: ServerConfig,
    credential_cache: Arc<CredentialCache>,
    audit: AuditLog,
    events: watch::Sender<u64>,
    password_limiter: RateLimiter,
}

impl<S: ServerStore> Clone for AppState<S> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<S: ServerStore> AppState<S> {
    /// Builds the state and starts its background tasks (the audit batch writer, the
    /// retention task, and the poll of the credential generation that invalidates the
    /// credential cache, [`crate::auth::start_auth_poller`]), so it must be called inside a
    /// Tokio runtime. `registry` must be the
    /// one the store was opened with (the store indexes documents by it); build it with
    /// [`crate::schema_registry`] from the configuration's `[schema]` section.
    pub fn new(store: S, config: ServerConfig, registry: Arc<Registry>) -> Self {
        let audit = AuditLog::start(store.clone());
        crate::audit::start_retention(
            store.clone(),
            config.audit_retention_days,
            config.events_retention_days,
        );
        let credential_cache = Arc::new(CredentialCache::default());
        // The poller holds the cache weakly: it stops once the last state clone is dropped.
        crate::auth::start_auth_poller(store.clone(), Arc::downgrade(&credential_cache));
        let (events, _) = watch::channel(0);
        let verbatim = [ResourceKind::User, ResourceKind::Group].map(|kind| {
            registry
                .resource_type_of(kind)
                .map(|rt| VerbatimKeys::new(&registry, rt).without(crate::render::RENDERED_KEYS))
                .unwrap_or_default()
        });
        Self {
            inner: Arc::new(Shared {
                store,
                registry,
                verbatim,
                config,
                credential_cache,
                audit,
                events,
                password_limiter: RateLimiter::new(
                    crate::admin::PASSWORD_ATTEMPTS,
                    crate::admin::PASSWORD_WINDOW,
                ),
            }),
        }
    }

    /// The storage backend.
    pub fn store(&self) -> &S {
        &self.inner.store
    }

    /// The schema registry every request resolves attributes against.
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// The schema registry, shared (for renderers that outlive the request borrow).
    pub fn registry_arc(&self) -> Arc<Registry> {
        Arc::clone(&self.inner.registry)
    }

    /// The document keys of `kind` that a read may copy verbatim (see
    /// [`crate::render::verbatim`]).
    pub fn verbatim_keys(&self, kind: ResourceKind) -> &VerbatimKeys {
        let [users, groups] = &self.inner.verbatim;
        match kind {
            ResourceKind::User => users,
            ResourceKind::Group => groups,
        }
    }

    /// The resolved configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.inner.config
    }

    /// The cache of successful authentications (bearer and Basic).
    pub fn credential_cache(&self) -> &CredentialCache {
        &self.inner.credential_cache
    }

    /// The audit log writer (batched, off the request path).
    pub fn audit(&self) -> &AuditLog {
        &self.inner.audit
    }

    /// Wakes event long-polls on this node: called after every committed write.
    pub fn events_written(&self) {
        self.inner.events.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A receiver that changes whenever this node commits a write.
    pub fn events_watch(&self) -> watch::Receiver<u64> {
        self.inner.events.subscribe()
    }

    /// The per-user limiter of password verifications.
    pub fn password_limiter(&self) -> &RateLimiter {
        &self.inner.password_limiter
    }
}
