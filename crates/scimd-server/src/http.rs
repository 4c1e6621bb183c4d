//! HTTP plumbing shared by the handlers: the JSON body extractor (media types, size limit,
//! syntax errors as SCIM errors), case-insensitive query parameters, path and typed query
//! extractors whose rejections are SCIM errors, ETags and preconditions (RFC 7644 §3.14,
//! RFC 9110 §8.8.3 and §13), and the `application/scim+json` response.

use crate::state::ServerStore;
use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{ApiError, SCIM_CONTENT_TYPE, scim_json_bytes};
use crate::state::AppState;

/// A JSON request body, read with the configured size limit.
///
/// Accepts `application/scim+json`, `application/json` (RFC 7644 §3.1 allows both) and any
/// other `+json` type, or no `Content-Type` at all (some IdP templates omit it); anything
/// else is 415. Too large is 413, malformed JSON 400 `invalidSyntax`.
#[derive(Debug, Clone)]
pub struct JsonBody(pub Value);

impl<S: ServerStore> FromRequest<AppState<S>> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState<S>) -> Result<Self, ApiError> {
        check_content_type(req.headers())?;
        let limit = state.config().max_body_bytes;
        read_json(req.into_body(), limit).await.map(JsonBody)
    }
}

/// Rejects media types other than JSON ones.
pub fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let media = value
        .to_str()
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if media == "application/json" || media == "application/scim+json" || media.ends_with("+json") {
        Ok(())
    } else {
        Err(ApiError::Http {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            detail: "the request body must be application/scim+json or application/json",
        })
    }
}

/// Reads at most `limit` bytes and parses them as JSON. Public so that `/Bulk` can read its
/// own (differently limited) body the same way.
pub async fn read_json(body: Body, limit: usize) -> Result<Value, ApiError> {
    let bytes = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            return Err(scimd_core::Error::PayloadTooLarge(format!(
                "the request body exceeds {limit} bytes"
            ))
            .into());
        }
        Err(_) => return Err(ApiError::syntax("the request body could not be read")),
    };
    if bytes.is_empty() {
        return Err(ApiError::syntax("the request body is empty"));
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::syntax(format!("the request body is not valid JSON: {e}")))
}

/// Query parameters with case-insensitive names (RFC 7644 §3.4.2 names them in camelCase;
/// Entra sends `startindex`).
#[derive(Debug, Clone, Default)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    /// The first value of `name`, ignoring case.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `attributes` and `excludedAttributes` (RFC 7644 §3.9).
    pub fn projection(&self) -> (Option<&str>, Option<&str>) {
        (self.get("attributes"), self.get("excludedAttributes"))
    }

    /// Whether the client asked for a projection at all.
    pub fn has_projection(&self) -> bool {
        let (a, e) = self.projection();
        a.is_some_and(|s| !s.trim().is_empty()) || e.is_some_and(|s| !s.trim().is_empty())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
            .map(|Query(v)| Params(v))
            .map_err(|_| ApiError::syntax("the query string is malformed"))
    }
}

/// Path parameters, like axum's `Path`, but a segment that does not decode (invalid UTF-8
/// after percent-decoding, a value of the wrong type) is a SCIM error, 400 `invalidValue`,
/// instead of axum's plain-text rejection.
#[derive(Debug, Clone)]
pub struct PathParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for PathParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| PathParams(v))
            .map_err(|e| {
                // A route without the parameter its handler reads is scimd's fault, not the
                // client's.
                if e.status().is_server_error() {
                    ApiError::internal(e.body_text())
                } else {
                    scimd_core::Error::InvalidValue(e.body_text()).into()
                }
            })
    }
}

/// Typed query parameters, like axum's `Query`, but a value that does not parse is a SCIM
/// error, 400 `invalidValue`, instead of axum's plain-text rejection.
#[derive(Debug, Clone)]
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        Query::<T>::try_from_uri(&parts.uri)
            .map(|Query(v)| QueryParams(v))
            .map_err(|e| scimd_core::Error::InvalidValue(e.body_text()).into())
    }
}

/// The weak entity tag of a resource version (RFC 7644 §3.14).
pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// An `If-Match` / `If-None-Match` condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// `*`: any current version.
    Any,
    /// These versions; an entity tag scimd did not issue becomes a version that never
    /// matches, so the precondition fails as RFC 9110 requires.
    Versions(Vec<i64>),
}

impl Precondition {
    /// Whether `version` satisfies the condition.
    pub fn matches(&self, version: i64) -> bool {
        match self {
            Self::Any => true,
            Self::Versions(v) => v.contains(&version),
        }
    }
}

/// Parses an `If-Match` or `If-None-Match` header. Weak and strong tags compare alike
/// (weak comparison, RFC 9110 §8.8.3.2), since scimd only issues weak tags.
pub fn precondition(headers: &HeaderMap, name: header::HeaderName) -> Option<Precondition> {
    let mut versions = Vec::new();
    let mut seen = false;
    for value in headers.get_all(name) {
        seen = true;
        let text = value.to_str().unwrap_or_default();
        for tag in text.split(',') {
            let tag = tag.trim();
            if tag == "*" {
                return Some(Precondition::Any);
            }
            let opaque = tag.strip_prefix("W/").unwrap_or(tag);
            let inner = opaque
                .strip_prefix('"')
                .and_then(|t| t.strip_suffix('"'))
                .unwrap_or(opaque);
            versions.push(inner.parse::<i64>().unwrap_or(i64::MIN));
        }
    }
    seen.then_some(Precondition::Versions(versions))
}

/// The body of a successful response.
#[derive(Debug, Clone, PartialEq)]
pub enum ScimBody {
    /// A JSON value, serialized when the response is written.
    Json(Value),
    /// JSON text, already serialized (and well-formed by construction).
    Text(String),
}

impl From<Value> for ScimBody {
    fn from(value: Value) -> Self {
        Self::Json(value)
    }
}

impl From<String> for ScimBody {
    fn from(text: String) -> Self {
        Self::Text(text)
    }
}

/// A successful SCIM response: status, JSON body, and optional `ETag` and `Location`.
#[derive(Debug, Clone)]
pub struct ScimResponse {
    pub status: StatusCode,
    pub body: Option<ScimBody>,
    pub version: Option<i64>,
    pub location: Option<String>,
}

impl ScimResponse {
    /// 200 with a body.
    pub fn ok(body: impl Into<ScimBody>) -> Self {
        Self {
            status: StatusCode::OK,
            body: Some(body.into()),
            version: None,
            location: None,
        }
    }
}

impl IntoResponse for ScimResponse {
    fn into_response(self) -> Response {
        let has_body = self.body.is_some();
        let mut response = match self.body {
            Some(ScimBody::Json(body)) => (self.status, scim_json_bytes(&body)).into_response(),
            Some(ScimBody::Text(text)) => (self.status, text).into_response(),
            None => self.status.into_response(),
        };
        let headers = response.headers_mut();
        if has_body {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(SCIM_CONTENT_TYPE),
            );
        }
        if let Some(v) = self.version
            && let Ok(h) = HeaderValue::from_str(&etag(v))
        {
            headers.insert(header::ETAG, h);
        }
        if let Some(loc) = &self.location
            && let Ok(h) = HeaderValue::from_str(loc)
        {
            headers.insert(header::LOCATION, h);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;

    fn h(name: header::HeaderName, v: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert(name, HeaderValue::from_str(v).unwrap());
        m
    }

    #[test]
    fn parses_preconditions() {
        let m = h(header::IF_MATCH, "W/\"3\"");
        assert_eq!(
            precondition(&m, header::IF_MATCH),
            Some(Precondition::Versions(vec![3]))
        );
        let m = h(header::IF_MATCH, "\"4\", W/\"5\"");
        let p = precondition(&m, header::IF_MATCH).unwrap();
        assert!(p.matches(5) && p.matches(4) && !p.matches(3));
        let m = h(header::IF_MATCH, "*");
        assert_eq!(precondition(&m, header::IF_MATCH), Some(Precondition::Any));
        let m = h(header::IF_MATCH, "W/\"abc\"");
        assert!(!precondition(&m, header::IF_MATCH).unwrap().matches(1));
        assert_eq!(precondition(&HeaderMap::new(), header::IF_MATCH), None);
    }

    #[test]
    fn content_types() {
        assert!(check_content_type(&HeaderMap::new()).is_ok());
        for ok in [
            "application/scim+json",
            "application/json; charset=utf-8",
            "Application/SCIM+JSON",
        ] {
            assert!(
                check_content_type(&h(header::CONTENT_TYPE, ok)).is_ok(),
                "{ok}"
            );
        }
        let e = check_content_type(&h(header::CONTENT_TYPE, "text/plain")).unwrap_err();
        assert_eq!(e.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }

    #[tokio::test]
    async fn body_limits_and_syntax() {
        let e = read_json(Body::from("x".repeat(20)), 10).await.unwrap_err();
        assert_eq!(e.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let e = read_json(Body::from("{nope"), 100).await.unwrap_err();
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        let v = read_json(Body::from("{\"a\":1}"), 100).await.unwrap();
        assert_eq!(v["a"], 1);
    }

    #[test]
    fn params_are_case_insensitive() {
        let p = Params(vec![("startindex".into(), "3".into())]);
        assert_eq!(p.get("startIndex"), Some("3"));
        assert_eq!(p.get("count"), None);
    }
}
