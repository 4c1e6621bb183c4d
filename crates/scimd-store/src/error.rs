//! Storage errors, and their one mapping to the protocol error (RFC 7644 §3.12).
//!
//! Backends report what went wrong in storage terms (a unique index fired, a version did not
//! match, a referenced member does not exist); [`From<StoreError> for scimd_core::Error`] is the
//! single place that decides which SCIM status and `scimType` the client sees. Backend
//! failures carry their cause for the log and map to a generic internal error.

/// A failure of a [`crate::Store`] operation.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    /// The resource (or credential) does not exist in this tenant.
    #[error("not found")]
    NotFound,
    /// A value that must be unique per tenant and resource type is taken.
    /// `attribute` is the SCIM attribute name (`userName`, `displayName`).
    #[error("{attribute} is already in use")]
    UniqueViolation { attribute: String },
    /// The caller's expected version is stale; `current` is the stored version.
    #[error("version mismatch (current version {current})")]
    VersionMismatch { current: i64 },
    /// A Group member names a resource that does not exist in the tenant.
    #[error("member {value} does not exist")]
    MemberNotFound { value: String },
    /// A tenant with this name already exists.
    #[error("tenant already exists")]
    TenantExists,
    /// The tenant does not exist.
    #[error("tenant not found")]
    TenantNotFound,
    /// A pagination cursor that this store did not issue, or that does not fit the query.
    #[error("invalid cursor")]
    InvalidCursor,
    /// A filter or sort that cannot be translated (unknown path, wrong operator for the type).
    #[error(transparent)]
    Scim(scimd_core::Error),
    /// The database cancelled a statement that ran past its time limit (a runaway plan, an
    /// overloaded database). Temporary: the server answers 503. The text is for the log only.
    #[error("storage timeout: {0}")]
    Timeout(String),
    /// The database failed. The text is for the log only, never shown to clients.
    #[error("storage backend error: {0}")]
    Backend(String),
}

impl From<scimd_core::Error> for StoreError {
    fn from(e: scimd_core::Error) -> Self {
        Self::Scim(e)
    }
}

impl From<StoreError> for scimd_core::Error {
    fn from(e: StoreError) -> Self {
        use scimd_core::Error;
        match e {
            StoreError::NotFound => Error::NotFound("resource not found".into()),
            StoreError::UniqueViolation { attribute } => {
                Error::Uniqueness(format!("{attribute} is already in use"))
            }
            StoreError::VersionMismatch { .. } => Error::PreconditionFailed(
                "the resource was modified since the version given".into(),
            ),
            StoreError::MemberNotFound { value } => {
                Error::invalid_value(format!("member {value} does not exist"))
            }
            StoreError::TenantExists => Error::Uniqueness("tenant already exists".into()),
            StoreError::TenantNotFound => Error::NotFound("tenant not found".into()),
            StoreError::InvalidCursor => {
                Error::InvalidCursor("the cursor is not valid for this query".into())
            }
            StoreError::Scim(e) => e,
            StoreError::Timeout(_) | StoreError::Backend(_) => Error::Internal,
        }
    }
}

/// Result alias for store operations.
pub type StoreResult<T> = Result<T, StoreError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_to_scim_statuses() {
        let e: scimd_core::Error = StoreError::UniqueViolation {
            attribute: "userName".into(),
        }
        .into();
        assert_eq!(e.status(), 409);
        assert_eq!(e.scim_type(), Some("uniqueness"));
        assert!(e.to_string().contains("userName"));

        let e: scimd_core::Error = StoreError::MemberNotFound {
            value: "abc".into(),
        }
        .into();
        assert_eq!(e.status(), 400);
        assert_eq!(e.scim_type(), Some("invalidValue"));
        assert!(e.to_string().contains("member abc does not exist"));

        let e: scimd_core::Error = StoreError::VersionMismatch { current: 3 }.into();
        assert_eq!(e.status(), 412);

        let e: scimd_core::Error = StoreError::InvalidCursor.into();
        assert_eq!(e.scim_type(), Some("invalidCursor"));

        let e: scimd_core::Error = StoreError::NotFound.into();
        assert_eq!(e.status(), 404);
    }

    #[test]
    fn backend_cause_is_not_shown() {
        let e: scimd_core::Error = StoreError::Backend("disk I/O error at /var/lib".into()).into();
        assert_eq!(e, scimd_core::Error::Internal);
        assert!(!e.to_body().to_string().contains("/var/lib"));
    }

    #[test]
    fn scim_errors_pass_through() {
        let inner = scimd_core::Error::invalid_filter(3, "bad");
        let e: scimd_core::Error = StoreError::from(inner.clone()).into();
        assert_eq!(e, inner);
    }
}
