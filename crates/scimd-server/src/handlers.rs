//! HTTP handlers for `/Users`, `/Groups` and `/.search` (RFC 7644 §3.3–§3.6): each one
//! extracts the request, calls the [`Service`], and shapes the response (status, `ETag`,
//! `Location`, projection). No protocol logic lives here.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::state::ServerStore;
use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use scimd_core::schema::ResourceKind;

use crate::auth::TenantContext;
use crate::config::PatchResponse;
use crate::error::{ApiError, ApiResult};
use crate::http::{JsonBody, Params, PathParams, ScimResponse, etag, precondition};
use crate::list;
use crate::service::Service;
use crate::state::AppState;
use scimd_core::message::ListQuery;

/// Selects the resource type of a route at compile time.
pub trait KindMarker: Send + Sync + 'static {
    const KIND: ResourceKind;
}

/// Marker for `/Users` routes.
#[derive(Debug)]
pub struct UserKind(PhantomData<()>);
/// Marker for `/Groups` routes.
#[derive(Debug)]
pub struct GroupKind(PhantomData<()>);

impl KindMarker for UserKind {
    const KIND: ResourceKind = ResourceKind::User;
}
impl KindMarker for GroupKind {
    const KIND: ResourceKind = ResourceKind::Group;
}

fn id_param(params: &HashMap<String, String>) -> ApiResult<&str> {
    params
        .get("id")
        .map(String::as_str)
        .ok_or_else(|| ApiError::not_found("no resource id in the path"))
}

/// `POST /Users`, `POST /Groups`: 201 with `Location` and `ETag`.
pub async fn create<S: ServerStore, K: KindMarker>(
    State(state): State<AppState<S>>,
    Extension(ctx): Extension<Arc<TenantContext>>,
    params: Params,
    JsonBody(body): JsonBody,
) -> ApiResult<ScimResponse> {
    let svc = Service::new(&state, &ctx);
    let (attrs, excluded) = params.projection();
    let projection = scimd_core::projection::Projection::parse(attrs, excluded)?;
    let load = svc.load_for(K::KIND, &projection)?;
    let res = svc.create(K::KIND, &body, load).await?;
    Ok(ScimResponse {
        status: StatusCode::CREATED,
        version: Some(res.version),
        location: Some(svc.location(K::KIND, &res.id)),
        body: Some(svc.render(res, &projection)?.into()),
    })
}

/// `GET /Users/{id}`: 200, or 304 when `If-None-Match` names the current version.
pub async fn get_one<S: ServerStore, K: KindMarker>(
    State(state): State<AppState<S>>,
    Extension(ctx): Extension<Arc<TenantContext>>,
    PathParams(path): PathParams<HashMap<String, String>>,
    params: Params,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let id = id_param(&path)?;
    let svc = Service::new(&state, &ctx);
    let (attrs, excluded) = params.projection();
    let projection = scimd_core::projection::Projection::parse(attrs, excluded)?;
    let load = svc.read_load_for(K::KIND, &projection)?;
    let res = svc.get(K::KIND, id, load).await?;
    if let Some(pre) = precondition(&headers, header::IF_NONE_MATCH)
        && pre.matches(res.version)
    {
        let mut r = StatusCode::NOT_MODIFIED.into_response();
        if let Ok(v) = etag(res.version).parse() {
            r.headers_mut().insert(header::ETAG, v);
        }
        return Ok(r);
    }
    Ok(ScimResponse {
        status: StatusCode::OK,
        version: Some(res.version),
        location: Some(svc.location(K::KIND, &res.id)),
        body: Some(svc.render_text(res, &projection)?.into()),
    }
    .into_response())
}

/// `PUT /Users/{id}`: 200 with the replaced resource; 412 when `If-Match` is stale.
pub async fn replace<S: ServerStore, K: KindMarker>(
    State(state): State<AppState<S>>,
    Extension(ctx): Extension<Arc<TenantContext>>,
    PathParams(path): PathParams<HashMap<String, String>>,
    params: Params,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> ApiResult<ScimResponse> {
    let id = id_param(&path)?;
    let svc = Service::new(&state, &ctx);
    let (attrs, excluded) = params.projection();
    let projection = scimd_core::projection::Projection::parse(attrs, excluded)?;
    let load = svc.load_for(K::KIND, &projection)?;
    let if_match = precondition(&headers, header::IF_MATCH);
    let res = svc
        .replace(K::KIND, id, &body, if_match.as_ref(), load)
        .await?;
    Ok(ScimResponse {
        status: StatusCode::OK,
        version: Some(res.version),
        location: Some(svc.location(K::KIND, &res.id)),
        body: Some(svc.render(res, &projection)?.into()),
    })
}

/// `PATCH /Users/{id}`: Users answer 200 with the resource and Groups 204, unless the
/// tenant's settings say otherwise or `attributes`/`excludedAttributes` ask for a body.
pub async fn patch<S: ServerStore, K: KindMarker>(
    State(state): State<AppState<S>>,
    Extension(ctx): Extension<Arc<TenantContext>>,
    PathParams(path): PathParams<HashMap<String, String>>,
    params: Params,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> ApiResult<ScimResponse> {
    let id = id_param(&path)?;
    let svc = Service::new(&state, &ctx);
    let setting = match K::KIND {
        ResourceKind::User => ctx.settings.user_patch_response,
        ResourceKind::Group => ctx.settings.group_patch_response,
    };
    let with_body = setting == PatchResponse::Resource || params.has_projection();
    let (attrs, excluded) = params.projection();
    let projection = scimd_core::projection::Projection::parse(attrs, excluded)?;
    let load = if with_body {
        svc.load_for(K::KIND, &projection)?
    } else {
        scimd_store::Load::NONE
    };
    let if_match = precondition(&headers, header::IF_MATCH);
    let status = if with_body {
        StatusCode::OK
    } else {
        StatusCode::NO_CONTENT
    };
    let res = svc
        .patch(K::KIND, id, &body, if_match.as_ref(), load, status.as_u16())
        .await?;
    Ok(ScimResponse {
        status,
        version: Some(res.version),
        location: Some(svc.location(K::KIND, &res.id)),
        body: if with_body {
            Some(svc.render(res, &projection)?.into())
        } else {
            None
        },
    })
}

/// `DELETE /Users/{id}`: 204.
pub async fn delete<S: ServerStore, K: KindMarker>(
    State(state): State<AppState<S>>,
    Extension(ctx): Extension<Arc<TenantContext>>,
    PathParams(path): PathParams<HashMap<String, String>>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    let id = id_param(&path)?;
    let svc = Service::new(&state, &ctx);
    let if_match = precondition(&headers, header::IF_MATCH);
    svc.delete(K::KIND, id, if_match.as_ref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /Users`, `GET /Groups`: a ListResponse.
pub async fn list<S: ServerStore, K: KindMarker>(
    State(state): State<AppState<S>>,
    Extension(ctx): Extension<Arc<TenantContext>>,
    params: Params,
) -> ApiResult<ScimResponse> {
    let req = ListQuery::from_pairs(params.0.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
    let svc = Service::new(&state, &ctx);
    let c = state.config();
    let body = list::list(&svc, K::KIND, &req, c.default_page_size, c.max_page_size).await?;
    Ok(ScimResponse::ok(body))
}

/// `POST /Users/.search`, `POST /Groups/.search` (RFC 7644 §3.4.3).
pub async fn search<S: ServerStore, K: KindMarker>(
    State(state): State<AppState<S>>,
    Extension(ctx): Extension<Arc<TenantContext>>,
    JsonBody(body): JsonBody,
) -> ApiResult<ScimResponse> {
    let req = ListQuery::from_search_request(&body)?;
    let svc = Service::new(&state, &ctx);
    let c = state.config();
    let body = list::list(&svc, K::KIND, &req, c.default_page_size, c.max_page_size).await?;
    Ok(ScimResponse::ok(body))
}

/// `POST /.search` at the root: Users and Groups.
pub async fn search_all<S: ServerStore>(
    State(state): State<AppState<S>>,
    Extension(ctx): Extension<Arc<TenantContext>>,
    JsonBody(body): JsonBody,
) -> ApiResult<ScimResponse> {
    let req = ListQuery::from_search_request(&body)?;
    let svc = Service::new(&state, &ctx);
    let c = state.config();
    let body = list::search_all(&svc, &req, c.default_page_size, c.max_page_size).await?;
    Ok(ScimResponse::ok(body))
}
