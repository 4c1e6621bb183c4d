//! scimd-store: the storage interface of scimd, independent of any database driver.
//!
//! - [`Store`]: the narrow async trait the server is generic over (tenants, credentials,
//!   resources, listing);
//! - [`records`]: what goes in and comes out;
//! - [`events`]: the transactional outbox ([`ChangeStore`] writes, [`EventStore`] reads);
//! - [`audit`], [`admin`]: the audit log and admin credentials;
//! - [`index`]: the flattening of a resource document into comparable index rows;
//! - [`sql`]: the translation of a SCIM filter (RFC 7644 §3.4.2.2) and sort (§3.4.2.3) into a
//!   dialect-neutral SQL condition with bound values, run against those rows.
//!
//! Backends (`scimd-store-sqlite`, …) implement [`Store`] with these pieces so that every
//! backend filters, sorts and compares exactly like `scimd_core`'s in-memory evaluator.

pub mod admin;
pub mod audit;
pub mod cursor;
pub mod error;
pub mod events;
pub mod ids;
pub mod index;
pub mod listing;
pub mod records;
pub mod sql;
pub mod store;
pub mod transfer;
pub mod webhooks;

pub use admin::{AdminStore, AdminToken};
pub use audit::{AuditEntry, AuditQuery, AuditStore, StatusFilter};
pub use error::{StoreError, StoreResult};
pub use events::{Change, ChangeStore, Event, EventKind, EventStore, Renderer};
pub use records::{
    Credential, CredentialKind, Document, GroupRef, Load, Member, NewResource, Page, Query,
    QueryResult, Replacement, SortOrder, SortSpec, StoredResource, Tenant, TenantId, Update,
};
pub use store::Store;
pub use transfer::{TenantExport, Transfer};
pub use webhooks::WebhookStore;

#[cfg(feature = "testsuite")]
pub mod testsuite;
