//! The storage interface the server is generic over.
//!
//! One implementation per backend crate (`scimd-store-sqlite` now, PostgreSQL later). The
//! server holds a concrete `S: Store`, so calls are static (no `dyn`, no boxed futures);
//! methods are written as `fn … -> impl Future<…> + Send` so they can be awaited from any
//! multi-threaded runtime task.
//!
//! Every method is scoped by a [`TenantId`] where resources are concerned: no call can read
//! or change another tenant's data. Each write is one transaction.

use std::future::Future;

use scimd_core::schema::ResourceKind;
use serde_json::Value;

use crate::error::StoreError;
use crate::records::{
    Credential, CredentialKind, Load, NewResource, Query, QueryResult, Replacement, StoredResource,
    Tenant, TenantId, Update,
};

/// The credential generation: a counter in the database that every change able to
/// invalidate an authenticated credential increments in the same transaction as the change
/// (credential revocation, tenant deletion, tenant settings update). Servers cache
/// successful authentications in process and poll this counter to drop them (see
/// `scimd-server`'s `auth` module). Creating a credential does not change it: nothing that
/// failed is cached. A supertrait of [`Store`], so every backend provides it.
pub trait AuthGeneration {
    /// The current value of the credential generation (`auth_generation.n`): it only grows,
    /// and two reads return the same value only if no invalidating change committed between
    /// them.
    fn auth_generation(&self) -> impl Future<Output = Result<i64, StoreError>> + Send;
}

/// Storage for tenants, credentials and SCIM resources.
pub trait Store: AuthGeneration + Clone + Send + Sync + 'static {
    /// Whether writes submitted one after another without waiting commit in submission
    /// order, each seeing the ones before (a single writer queue). Callers may then
    /// pipeline independent writes and get exactly the outcomes of running them one by one.
    /// Backends with concurrent writers (PostgreSQL) keep the default, `false`.
    fn commits_in_submission_order(&self) -> bool {
        false
    }

    /// Health check: succeeds when the database answers a trivial query.
    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send;

    // ---- tenants ----

    /// Creates a tenant. [`StoreError::TenantExists`] when the name is taken.
    fn create_tenant(
        &self,
        name: &str,
        settings: Value,
    ) -> impl Future<Output = Result<Tenant, StoreError>> + Send;

    /// The tenant with this exact name.
    fn tenant_by_name(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<Tenant>, StoreError>> + Send;

    /// Every tenant, by name.
    fn list_tenants(&self) -> impl Future<Output = Result<Vec<Tenant>, StoreError>> + Send;

    /// Deletes a tenant with all its credentials, resources and memberships.
    /// [`StoreError::TenantNotFound`] when it does not exist.
    fn delete_tenant(
        &self,
        tenant: TenantId,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Replaces a tenant's settings. [`StoreError::TenantNotFound`] when it does not exist.
    fn update_tenant_settings(
        &self,
        tenant: TenantId,
        settings: Value,
    ) -> impl Future<Output = Result<Tenant, StoreError>> + Send;

    // ---- credentials ----

    /// Adds a credential. `client_id` is required for Basic and unique across tenants
    /// ([`StoreError::UniqueViolation`] with attribute `clientId`).
    fn create_credential(
        &self,
        tenant: TenantId,
        kind: CredentialKind,
        label: &str,
        client_id: Option<&str>,
        secret_hash: &str,
    ) -> impl Future<Output = Result<Credential, StoreError>> + Send;

    /// The active (not revoked) bearer credential whose token hashes to `sha256_hex`, with
    /// its tenant.
    fn bearer_by_hash(
        &self,
        sha256_hex: &str,
    ) -> impl Future<Output = Result<Option<(Credential, Tenant)>, StoreError>> + Send;

    /// The active (not revoked) Basic credential with this client id, with its tenant. The
    /// caller verifies the secret against `secret_hash`.
    fn basic_by_client_id(
        &self,
        client_id: &str,
    ) -> impl Future<Output = Result<Option<(Credential, Tenant)>, StoreError>> + Send;

    /// Every credential of a tenant (revoked ones included), oldest first.
    fn list_credentials(
        &self,
        tenant: TenantId,
    ) -> impl Future<Output = Result<Vec<Credential>, StoreError>> + Send;

    /// Revokes a credential of this tenant. [`StoreError::NotFound`] when the tenant has no
    /// credential with this id.
    fn revoke_credential(
        &self,
        tenant: TenantId,
        id: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    // ---- resources ----

    /// Creates a resource at version 1 with `created` = `modified` = now, and returns it with
    /// `members` (Groups) and `groups` loaded.
    /// [`StoreError::UniqueViolation`] when `unique_key` is taken in the tenant and kind
    /// (or `id` is); [`StoreError::MemberNotFound`] when a member does not exist;
    /// [`StoreError::TenantNotFound`] when the tenant does not.
    fn create(
        &self,
        tenant: TenantId,
        resource: NewResource,
    ) -> impl Future<Output = Result<StoredResource, StoreError>> + Send;

    /// A resource by id, or `None`.
    fn get(
        &self,
        tenant: TenantId,
        kind: ResourceKind,
        id: &str,
        load: Load,
    ) -> impl Future<Output = Result<Option<StoredResource>, StoreError>> + Send;

    /// Replaces a resource's document (PUT). With `expected_version` (from `If-Match`), a
    /// different stored version is [`StoreError::VersionMismatch`]. The version is bumped
    /// and `modified` set when anything changed.
    fn replace(
        &self,
        tenant: TenantId,
        kind: ResourceKind,
        id: &str,
        expected_version: Option<i64>,
        replacement: Replacement,
        load: Load,
    ) -> impl Future<Output = Result<StoredResource, StoreError>> + Send;

    /// Applies a PATCH result. `expected_version` is the version the caller read and
    /// patched: a different stored version is [`StoreError::VersionMismatch`] so the caller
    /// can re-read and retry. The version is bumped only when the document changed, a member
    /// row was really inserted or deleted, or a password was set. Member operations apply to
    /// Groups (they are ignored for Users); adding a member that does not exist is
    /// [`StoreError::MemberNotFound`], removing one that is not a member changes nothing.
    fn update(
        &self,
        tenant: TenantId,
        kind: ResourceKind,
        id: &str,
        expected_version: i64,
        update: Update,
        load: Load,
    ) -> impl Future<Output = Result<StoredResource, StoreError>> + Send;

    /// Deletes a resource and its memberships in both directions. Groups that lose it as a
    /// member get a new version (their member list changed).
    fn delete(
        &self,
        tenant: TenantId,
        kind: ResourceKind,
        id: &str,
        expected_version: Option<i64>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Lists resources of a kind (RFC 7644 §3.4.2): filter, sort, one page.
    /// Filter and sort errors are [`StoreError::Scim`]; a bad cursor is
    /// [`StoreError::InvalidCursor`].
    fn query(
        &self,
        tenant: TenantId,
        kind: ResourceKind,
        query: &Query,
    ) -> impl Future<Output = Result<QueryResult, StoreError>> + Send;
}
