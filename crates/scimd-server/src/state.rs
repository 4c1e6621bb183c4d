//! Shared application state: the store, the schema registry, the resolved configuration and
//! the Basic-auth verification cache. Cloned per request (one `Arc`).

use std::sync::Arc;

use scimd_core::schema::Registry;
use scimd_store::Store;

use crate::auth::BasicCache;
use crate::config::ServerConfig;

/// Everything a request handler needs, generic over the storage backend.
pub struct AppState<S: Store> {
    inner: Arc<Shared<S>>,
}

struct Shared<S> {
    store: S,
    registry: Arc<Registry>,
    config: ServerConfig,
    basic_cache: BasicCache,
}

impl<S: Store> Clone for AppState<S> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<S: Store> AppState<S> {
    /// Builds the state. `registry` must be the one the store was opened with (the store
    /// indexes documents by it); build it with [`crate::schema_registry`] from the
    /// configuration's `[schema]` section.
    pub fn new(store: S, config: ServerConfig, registry: Arc<Registry>) -> Self {
        Self {
            inner: Arc::new(Shared {
                store,
                registry,
                config,
                basic_cache: BasicCache::default(),
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

    /// The resolved configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.inner.config
    }

    /// The cache of successful HTTP Basic verifications.
    pub fn basic_cache(&self) -> &BasicCache {
        &self.inner.basic_cache
    }
}
