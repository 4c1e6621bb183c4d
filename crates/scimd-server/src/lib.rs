//! scimd-server: SCIM 2.0 (RFC 7643, RFC 7644) over HTTP on top of `scimd-core` and a
//! [`scimd_store::Store`] backend — the `scimd` binary and an embeddable [`axum::Router`].
//!
//! Library use: build an [`AppState`] from a store and a [`ServerConfig`], then mount
//! [`router`] in your own axum application (see `examples/embed.rs`), or serve it with
//! [`launch_with_listener`].
//!
//! Module layout (the path of a request):
//! - [`server`]: routes, middleware (trace, request id, timeout), 404/405, serving;
//! - [`auth`]: bearer/Basic authentication and the tenant of the request;
//! - [`handlers`] and [`discovery`]: thin HTTP handlers (extract → service → response);
//! - [`service`]: create/get/replace/patch/delete for Users and Groups (shared with Bulk);
//! - [`list`]: list and search requests (filter, sort, index and cursor pagination);
//! - [`http`]: body extractor, query parameters, ETags, the SCIM response type;
//! - [`error`]: the one error type and its rendering as SCIM error bodies;
//! - [`config`], [`cli`], [`bootstrap`], [`telemetry`], [`crypto`]: operating the server.

pub mod admin;
pub mod audit;
pub mod auth;
pub mod bootstrap;
pub mod bulk;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod discovery;
pub mod error;
pub mod handlers;
pub mod http;
pub mod list;
pub mod log_sink;
pub mod render;
pub mod server;
pub mod service;
pub mod state;
pub mod telemetry;
pub mod webhooks;

pub use config::{ServerConfig, TenantSettings};
pub use error::{ApiError, ApiResult};
pub use server::{launch_with_listener, router, shutdown_signal};
pub use state::{AppState, ServerStore};

use scimd_core::schema::Registry;
use scimd_core::schema::config::SchemaConfig;

/// Builds the schema registry: the built-in catalogue plus custom attributes from the
/// `[schema]` section of the configuration.
pub fn schema_registry(
    schema: Option<&serde_json::Value>,
) -> Result<std::sync::Arc<Registry>, config::ConfigError> {
    let Some(section) = schema else {
        return Ok(std::sync::Arc::new(Registry::builtin()));
    };
    let parsed: SchemaConfig = serde_json::from_value(section.clone())
        .map_err(|e| config::ConfigError::Invalid(format!("[schema]: {e}")))?;
    Registry::with_config(&parsed)
        .map(std::sync::Arc::new)
        .map_err(|e| config::ConfigError::Invalid(format!("[schema]: {e}")))
}

/// Maps a storage failure to the client-facing error, logging backend causes (which are
/// never shown to clients).
pub fn store_error(e: scimd_store::StoreError) -> ApiError {
    match &e {
        scimd_store::StoreError::Backend(cause) => {
            tracing::error!(cause = %cause, "storage backend error");
        }
        // Temporary (a cancelled runaway statement): the client retries on 503.
        scimd_store::StoreError::Timeout(cause) => {
            tracing::warn!(cause = %cause, "storage timeout");
            return ApiError::Timeout;
        }
        _ => {}
    }
    ApiError::Scim(e.into())
}
