//! Admin credentials: bearer tokens for the `/admin/v1` API (events, audit log, password
//! verification), kept apart from SCIM credentials so that neither kind is ever accepted
//! where the other is expected. Admin tokens are global (they reach every tenant): they
//! belong to the host application and its operators, not to an identity provider.

use std::future::Future;

use crate::error::StoreError;
use crate::store::Store;

/// An admin token as stored (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminToken {
    pub id: i64,
    /// Free text for operators ("billing service").
    pub label: String,
    /// SHA-256 of the token, lower-case hex.
    pub token_hash: String,
    /// RFC 3339 UTC with milliseconds.
    pub created: String,
    pub revoked: bool,
}

/// Storage of admin tokens.
pub trait AdminStore: Store {
    /// Stores a new admin token by its SHA-256 hash.
    fn create_admin_token(
        &self,
        label: &str,
        token_hash: &str,
    ) -> impl Future<Output = Result<AdminToken, StoreError>> + Send;

    /// The active (not revoked) admin token with this hash.
    fn admin_token_by_hash(
        &self,
        token_hash: &str,
    ) -> impl Future<Output = Result<Option<AdminToken>, StoreError>> + Send;

    /// Every admin token (revoked ones included), oldest first.
    fn list_admin_tokens(&self)
    -> impl Future<Output = Result<Vec<AdminToken>, StoreError>> + Send;

    /// Revokes an admin token; [`StoreError::NotFound`] when there is none with this id.
    fn revoke_admin_token(&self, id: i64) -> impl Future<Output = Result<(), StoreError>> + Send;
}
