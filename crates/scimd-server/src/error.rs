//! The server's one error type and the one place where any failure becomes an HTTP response.
//!
//! Protocol failures are [`scimd_core::Error`]s and render through
//! [`scimd_core::Error::to_body`] (RFC 7644 §3.12); the server adds only what HTTP needs on top:
//! `WWW-Authenticate` on 401 (RFC 7235 §4.1, RFC 6750 §3), `Allow`-free 405s, and 503 for
//! requests that exceeded the per-request timeout. Internal causes are logged with
//! `tracing` here and never reach the client.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use scimd_core::error::ERROR_SCHEMA;
use serde_json::json;

/// `application/scim+json`, the media type of every response body (RFC 7644 §8.1).
pub const SCIM_CONTENT_TYPE: &str = "application/scim+json";

/// The `WWW-Authenticate` challenges sent with every 401: bearer tokens first (what IdPs use),
/// then HTTP Basic.
pub const WWW_AUTHENTICATE: &str = "Bearer realm=\"scimd\", Basic realm=\"scimd\"";

/// Every way a request can fail.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A protocol-level failure with its RFC 7644 status and `scimType`.
    #[error(transparent)]
    Scim(#[from] scimd_core::Error),
    /// The request did not finish within the configured per-request timeout.
    #[error("request timed out")]
    Timeout,
    /// An HTTP-level failure that the protocol core has no variant for
    /// (415 Unsupported Media Type).
    #[error("{detail}")]
    Http {
        status: StatusCode,
        detail: &'static str,
    },
    /// A server fault. The message is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// A server fault with a cause to log.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::Internal(cause.to_string())
    }

    /// 401 with a detail that reveals nothing about which part of the credential was wrong.
    pub fn unauthorized() -> Self {
        Self::Scim(scimd_core::Error::Unauthorized(
            "authentication required".into(),
        ))
    }

    /// 400 invalidSyntax.
    pub fn syntax(detail: impl Into<String>) -> Self {
        Self::Scim(scimd_core::Error::InvalidSyntax(detail.into()))
    }

    /// 404 for a resource or endpoint.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::Scim(scimd_core::Error::NotFound(detail.into()))
    }

    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Scim(e) => {
                StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
            Self::Timeout => StatusCode::SERVICE_UNAVAILABLE,
            Self::Http { status, .. } => *status,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<crate::crypto::CryptoError> for ApiError {
    fn from(e: crate::crypto::CryptoError) -> Self {
        Self::internal(e)
    }
}

impl ApiError {
    /// The SCIM error body (RFC 7644 §3.12) sent for this error, as a response or as a Bulk
    /// operation's `response`; logs server faults, whose cause is never sent.
    pub fn body(&self) -> serde_json::Value {
        match self {
            Self::Scim(scimd_core::Error::Internal) => {
                tracing::error!(
                    request_id = %crate::audit::current_request_id(),
                    "internal error reported by the protocol core"
                );
                scimd_core::Error::Internal.to_body()
            }
            Self::Scim(e) => e.to_body(),
            // scimd_core::Error has no variant for 415 or 503; the body keeps the §3.12 shape.
            Self::Timeout => json!({
                "schemas": [ERROR_SCHEMA],
                "status": "503",
                "detail": "the request did not complete in time",
            }),
            Self::Http { status, detail } => json!({
                "schemas": [ERROR_SCHEMA],
                "status": status.as_str(),
                "detail": detail,
            }),
            Self::Internal(cause) => {
                tracing::error!(
                    request_id = %crate::audit::current_request_id(),
                    cause = %cause,
                    "internal error"
                );
                scimd_core::Error::Internal.to_body()
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = self.body();
        let scim_type = body
            .get("scimType")
            .and_then(serde_json::Value::as_str)
            .map(|t| crate::audit::ScimTypeTag(t.to_owned()));
        let mut response = (status, scim_json_bytes(&body)).into_response();
        if let Some(tag) = scim_type {
            response.extensions_mut().insert(tag);
        }
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(SCIM_CONTENT_TYPE),
        );
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(WWW_AUTHENTICATE),
            );
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

/// Serialises a JSON value; serialising a `Value` cannot fail, so the fallback is unreachable
/// in practice and still yields a valid (empty) JSON object.
pub fn scim_json_bytes(value: &serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec())
}

/// Result alias for handlers and services.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn unauthorized_carries_challenge_and_scim_body() {
        let r = ApiError::unauthorized().into_response();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(r.headers()[header::WWW_AUTHENTICATE], WWW_AUTHENTICATE);
        assert_eq!(r.headers()[header::CONTENT_TYPE], SCIM_CONTENT_TYPE);
    }

    #[test]
    fn internal_cause_is_not_echoed() {
        let e = ApiError::internal("database password is hunter2");
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let r = e.into_response();
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn scim_errors_keep_their_status() {
        let e = ApiError::from(scimd_core::Error::Uniqueness("taken".into()));
        assert_eq!(e.status(), StatusCode::CONFLICT);
        assert_eq!(ApiError::Timeout.status(), StatusCode::SERVICE_UNAVAILABLE);
    }

    #[test]
    fn store_timeouts_are_temporary_and_failures_internal() {
        use scimd_store::StoreError;
        let timeout = crate::store_error(StoreError::Timeout("statement timeout".into()));
        assert_eq!(timeout.status(), StatusCode::SERVICE_UNAVAILABLE);
        let failure = crate::store_error(StoreError::Backend("disk full".into()));
        assert_eq!(failure.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
