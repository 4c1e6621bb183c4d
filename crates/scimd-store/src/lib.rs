//! scimd-store: the storage interface of scimd, independent of any database driver.
//!
//! - [`Store`]: the narrow async trait the server is generic over (tenants, credentials,
//!   resources, listing);
//! - [`records`]: what goes in and comes out;
//! - [`index`]: the flattening of a resource document into comparable index rows;
//! - [`sql`]: the translation of a SCIM filter (RFC 7644 §3.4.2.2) and sort (§3.4.2.3) into a
//!   dialect-neutral SQL condition with bound values, run against those rows.
//!
//! Backends (`scimd-store-sqlite`, …) implement [`Store`] with these pieces so that every
//! backend filters, sorts and compares exactly like `scimd_core`'s in-memory evaluator.

pub mod cursor;
pub mod error;
pub mod index;
pub mod records;
pub mod sql;
pub mod store;
pub mod transfer;

pub use error::{StoreError, StoreResult};
pub use records::{
    Credential, CredentialKind, Document, GroupRef, Load, Member, NewResource, Page, Query,
    QueryResult, Replacement, SortOrder, SortSpec, StoredResource, Tenant, TenantId, Update,
};
pub use store::Store;
pub use transfer::{TenantExport, Transfer};

#[cfg(feature = "testsuite")]
pub mod testsuite;
