//! Discovery endpoints (RFC 7644 §4): `/ServiceProviderConfig`, `/Schemas`, `/Schemas/{id}`,
//! `/ResourceTypes`, `/ResourceTypes/{id}`. The documents come from
//! `scimd_core::schema::discovery` and reflect the configured custom attributes and limits;
//! this module only adds the base URL of the request (with its `/tenants/{t}` prefix).

use std::collections::HashMap;

use crate::state::ServerStore;
use axum::extract::{OriginalUri, State};
use scimd_core::schema::discovery::{self, AuthenticationScheme, ServiceProviderFeatures};

use crate::auth::base_url_for;
use crate::error::{ApiError, ApiResult};
use crate::http::{PathParams, ScimResponse};
use crate::state::AppState;

/// Whether this build routes `/Bulk`. Bulk is advertised (with the configured limits) only
/// when it is served, so clients never see a capability that answers 404.
pub const BULK_ROUTED: bool = true;

fn base<S: ServerStore>(state: &AppState<S>, uri: &OriginalUri) -> String {
    base_url_for(&state.config().public_base_url, uri.path())
}

/// The capabilities advertised in `/ServiceProviderConfig`, from the configuration.
pub fn features<S: ServerStore>(state: &AppState<S>) -> ServiceProviderFeatures {
    let c = state.config();
    let max = usize::try_from(c.max_page_size).unwrap_or(usize::MAX);
    ServiceProviderFeatures {
        patch: true,
        bulk_max_operations: if BULK_ROUTED {
            usize::try_from(c.bulk_max_operations).unwrap_or(usize::MAX)
        } else {
            0
        },
        bulk_max_payload_size: if BULK_ROUTED {
            c.bulk_max_payload_bytes
        } else {
            0
        },
        filter_max_results: max,
        sort: true,
        etag: true,
        change_password: false,
        cursor_pagination: true,
        max_page_size: max,
        documentation_uri: None,
        authentication_schemes: vec![
            AuthenticationScheme::oauth_bearer_token(true),
            AuthenticationScheme::http_basic(false),
        ],
    }
}

/// `GET /ServiceProviderConfig`.
pub async fn service_provider_config<S: ServerStore>(
    State(state): State<AppState<S>>,
    uri: OriginalUri,
) -> ScimResponse {
    ScimResponse::ok(discovery::service_provider_config(
        &features(&state),
        &base(&state, &uri),
    ))
}

/// `GET /Schemas`.
pub async fn schemas<S: ServerStore>(
    State(state): State<AppState<S>>,
    uri: OriginalUri,
) -> ScimResponse {
    ScimResponse::ok(discovery::schemas_list(
        state.registry(),
        &base(&state, &uri),
    ))
}

/// `GET /Schemas/{id}`.
pub async fn schema<S: ServerStore>(
    State(state): State<AppState<S>>,
    uri: OriginalUri,
    PathParams(path): PathParams<HashMap<String, String>>,
) -> ApiResult<ScimResponse> {
    let id = path.get("id").map(String::as_str).unwrap_or_default();
    discovery::schema_resource(state.registry(), id, &base(&state, &uri))
        .map(ScimResponse::ok)
        .ok_or_else(|| ApiError::not_found(format!("schema {id} not found")))
}

/// `GET /ResourceTypes`.
pub async fn resource_types<S: ServerStore>(
    State(state): State<AppState<S>>,
    uri: OriginalUri,
) -> ScimResponse {
    ScimResponse::ok(discovery::resource_types_list(
        state.registry(),
        &base(&state, &uri),
    ))
}

/// `GET /ResourceTypes/{id}`.
pub async fn resource_type<S: ServerStore>(
    State(state): State<AppState<S>>,
    uri: OriginalUri,
    PathParams(path): PathParams<HashMap<String, String>>,
) -> ApiResult<ScimResponse> {
    let id = path.get("id").map(String::as_str).unwrap_or_default();
    discovery::resource_type_resource(state.registry(), id, &base(&state, &uri))
        .map(ScimResponse::ok)
        .ok_or_else(|| ApiError::not_found(format!("resource type {id} not found")))
}
