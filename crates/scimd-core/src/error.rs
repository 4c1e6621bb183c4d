//! The one error type of the protocol core, and the one place that renders it as an
//! RFC 7644 §3.12 error body. Every layer above maps its failures into [`Error`] (or
//! wraps it) so that clients always see a SCIM error with the right status and `scimType`.

use serde_json::{Value, json};

/// URN of the SCIM error message schema (RFC 7644 §3.12).
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// Every failure the protocol can report to a client.
///
/// Each variant maps to exactly one HTTP status and at most one `scimType`
/// (RFC 7644 §3.12, Table 9); `detail` texts are safe to show to clients.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Filter syntax or semantics are wrong; `position` is a byte offset into the filter.
    #[error("invalid filter at byte {position}: {message}")]
    InvalidFilter { position: usize, message: String },
    /// A filter, PATCH or sort path names something that does not exist or cannot be used there.
    #[error("{0}")]
    InvalidPath(String),
    /// A PATCH path matched nothing where a match is required.
    #[error("{0}")]
    NoTarget(String),
    /// A value has the wrong type, a required attribute is missing, or similar.
    #[error("{0}")]
    InvalidValue(String),
    /// The request body is not parseable or violates the message schema.
    #[error("{0}")]
    InvalidSyntax(String),
    /// An attempt to change a readOnly or immutable attribute.
    #[error("{0}")]
    Mutability(String),
    /// A value that must be unique is already taken.
    #[error("{0}")]
    Uniqueness(String),
    /// The query would return or process more than the server allows.
    #[error("{0}")]
    TooMany(String),
    /// A `cursor` value that the server did not issue or cannot decode (RFC 9865).
    #[error("{0}")]
    InvalidCursor(String),
    /// A cursor that was once valid but has expired (RFC 9865).
    #[error("{0}")]
    ExpiredCursor(String),
    /// Unsupported protocol version or similar.
    #[error("{0}")]
    InvalidVersion(String),
    /// The resource or endpoint does not exist.
    #[error("{0}")]
    NotFound(String),
    /// `If-Match` did not match the current version.
    #[error("{0}")]
    PreconditionFailed(String),
    /// Missing or wrong credentials. Never reveals which part was wrong.
    #[error("{0}")]
    Unauthorized(String),
    /// The credential is valid but may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The HTTP method is not allowed on this endpoint.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// The body is larger than the advertised limit.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The feature is not implemented by this server (e.g. an unsupported endpoint).
    #[error("{0}")]
    NotImplemented(String),
    /// Something failed inside the server. The detail shown to clients is generic;
    /// the real cause must be logged by the caller, never echoed.
    #[error("internal error")]
    Internal,
}

impl Error {
    /// Shorthand for [`Error::InvalidValue`].
    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::InvalidValue(detail.into())
    }

    /// Shorthand for [`Error::InvalidPath`].
    pub fn invalid_path(detail: impl Into<String>) -> Self {
        Self::InvalidPath(detail.into())
    }

    /// Shorthand for [`Error::InvalidSyntax`].
    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::InvalidSyntax(detail.into())
    }

    /// Shorthand for [`Error::InvalidFilter`].
    pub fn invalid_filter(position: usize, message: impl Into<String>) -> Self {
        Self::InvalidFilter {
            position,
            message: message.into(),
        }
    }

    /// The HTTP status code for this error.
    pub fn status(&self) -> u16 {
        match self {
            Self::InvalidFilter { .. }
            | Self::InvalidPath(_)
            | Self::NoTarget(_)
            | Self::InvalidValue(_)
            | Self::InvalidSyntax(_)
            | Self::Mutability(_)
            | Self::TooMany(_)
            | Self::InvalidCursor(_)
            | Self::ExpiredCursor(_)
            | Self::InvalidVersion(_) => 400,
            Self::Unauthorized(_) => 401,
            Self::Forbidden(_) => 403,
            Self::NotFound(_) => 404,
            Self::MethodNotAllowed(_) => 405,
            Self::Uniqueness(_) => 409,
            Self::PreconditionFailed(_) => 412,
            Self::PayloadTooLarge(_) => 413,
            Self::Internal => 500,
            Self::NotImplemented(_) => 501,
        }
    }

    /// The RFC 7644 `scimType` keyword, where one applies.
    pub fn scim_type(&self) -> Option<&'static str> {
        Some(match self {
            Self::InvalidFilter { .. } => "invalidFilter",
            Self::InvalidPath(_) => "invalidPath",
            Self::NoTarget(_) => "noTarget",
            Self::InvalidValue(_) => "invalidValue",
            Self::InvalidSyntax(_) => "invalidSyntax",
            Self::Mutability(_) => "mutability",
            Self::Uniqueness(_) => "uniqueness",
            Self::TooMany(_) => "tooMany",
            Self::InvalidCursor(_) => "invalidCursor",
            Self::ExpiredCursor(_) => "expiredCursor",
            Self::InvalidVersion(_) => "invalidVers",
            _ => return None,
        })
    }

    /// The RFC 7644 §3.12 error body. `status` is a string, as the RFC's examples show
    /// and as Okta's and Microsoft's validators expect.
    pub fn to_body(&self) -> Value {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status().to_string(),
            "detail": self.to_string(),
        });
        if let (Some(scim_type), Some(map)) = (self.scim_type(), body.as_object_mut()) {
            map.insert("scimType".into(), Value::String(scim_type.into()));
        }
        body
    }
}

/// Result alias used throughout the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn body_has_string_status_and_scim_type() {
        let body = Error::Uniqueness("userName already exists".into()).to_body();
        assert_eq!(body["status"], "409");
        assert_eq!(body["scimType"], "uniqueness");
        assert_eq!(body["schemas"][0], ERROR_SCHEMA);
        assert_eq!(body["detail"], "userName already exists");
    }

    #[test]
    fn not_found_has_no_scim_type() {
        let body = Error::NotFound("User 42 not found".into()).to_body();
        assert_eq!(body["status"], "404");
        assert!(body.get("scimType").is_none());
    }

    #[test]
    fn internal_error_hides_the_cause() {
        assert_eq!(Error::Internal.to_body()["detail"], "internal error");
        assert_eq!(Error::Internal.status(), 500);
    }

    #[test]
    fn filter_error_names_the_position() {
        let e = Error::invalid_filter(7, "expected an operator");
        assert_eq!(e.status(), 400);
        assert_eq!(e.scim_type(), Some("invalidFilter"));
        assert!(e.to_string().contains("byte 7"));
    }
}
