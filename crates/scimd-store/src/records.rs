//! Storage records: what the [`crate::Store`] takes and returns.
//!
//! These are plain data, independent of any database driver. A resource is stored as its
//! *stored document* (docs/ARCHITECTURE.md "Resource documents": no `id`, `meta`, `schemas`,
//! `members`, `groups` or `password`) plus the columns the server derives those from. Group
//! membership is rows, never part of the document, so PATCHing one member of a large group
//! touches one row (RFC 7644 §3.5.2 operations become [`MemberOp`]s).

use scimd_core::filter::Filter;
use scimd_core::schema::ResourceKind;
use scimd_core::{MemberKind, MemberOp, MemberRef};
use serde_json::{Map, Value};

pub use scimd_core::sort::{SortOrder, SortSpec};

/// A JSON object: a stored resource document.
pub type Document = Map<String, Value>;

/// A tenant's numeric id (internal; never shown in SCIM responses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(pub i64);

/// A tenant: an isolated set of Users, Groups and credentials.
#[derive(Debug, Clone, PartialEq)]
pub struct Tenant {
    pub id: TenantId,
    /// Unique name, used in URLs and the admin CLI.
    pub name: String,
    /// Per-tenant settings (a JSON object the server interprets).
    pub settings: Value,
    /// RFC 3339 UTC with milliseconds.
    pub created: String,
}

/// How a credential authenticates (RFC 7644 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CredentialKind {
    /// A bearer token; `secret_hash` is the SHA-256 of the token, lower-case hex.
    Bearer,
    /// HTTP Basic; `client_id` is the user name, `secret_hash` an argon2id PHC string.
    Basic,
}

impl CredentialKind {
    /// The stored name (`bearer`, `basic`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bearer => "bearer",
            Self::Basic => "basic",
        }
    }

    /// Parses [`CredentialKind::as_str`] output.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "bearer" => Some(Self::Bearer),
            "basic" => Some(Self::Basic),
            _ => None,
        }
    }
}

/// A credential of a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub id: i64,
    pub tenant_id: TenantId,
    pub kind: CredentialKind,
    /// Free text for operators ("Entra production").
    pub label: String,
    /// Basic only: the client id (user name), unique across all tenants.
    pub client_id: Option<String>,
    /// SHA-256 hex (bearer) or argon2id PHC string (basic). Never the secret itself.
    pub secret_hash: String,
    /// RFC 3339 UTC with milliseconds.
    pub created: String,
    pub revoked: bool,
}

/// A resource to create. The caller (server) generates `id` ([`crate::ids`]) and has validated and
/// normalised the document.
#[derive(Debug, Clone, PartialEq)]
pub struct NewResource {
    pub kind: ResourceKind,
    pub id: String,
    /// The stored document (no `id`, `meta`, `schemas`, `members`, `groups`, `password`).
    pub document: Document,
    /// The value that must be unique per tenant and kind: the lower-cased `userName` for
    /// Users, the lower-cased `displayName` for Groups when the tenant wants it unique.
    pub unique_key: Option<String>,
    /// `externalId` as given (case-exact).
    pub external_id: Option<String>,
    /// What other resources show for this one as `members[].display` / `groups[].display`.
    pub display: Option<String>,
    /// Group members (ignored for Users). Each must exist in the tenant.
    pub members: Vec<MemberRef>,
    /// A hash of a synced password (never the password).
    pub password_hash: Option<String>,
}

/// One member of a Group, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The member's `id`.
    pub value: String,
    pub kind: MemberKind,
    /// The member's display column.
    pub display: Option<String>,
}

/// One Group a User (or Group) belongs to directly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRef {
    /// The group's `id`.
    pub value: String,
    pub display: Option<String>,
}

impl GroupRef {
    /// Reads the groups a backend aggregated in SQL as a JSON array of `[id, display]`
    /// pairs (so that a read by id fetches a resource and its groups in one statement).
    pub fn list_from_json(json: &str) -> Result<Vec<GroupRef>, crate::StoreError> {
        let pairs: Vec<(String, Option<String>)> = serde_json::from_str(json)
            .map_err(|e| crate::StoreError::Backend(format!("groups of a resource: {e}")))?;
        Ok(pairs
            .into_iter()
            .map(|(value, display)| GroupRef { value, display })
            .collect())
    }
}

/// A resource as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResource {
    /// Insertion order; the stable tie-breaker of every listing.
    pub seq: i64,
    pub kind: ResourceKind,
    pub id: String,
    /// Starts at 1; bumped by every change (the ETag is derived from it).
    pub version: i64,
    /// RFC 3339 UTC with milliseconds.
    pub created: String,
    /// RFC 3339 UTC with milliseconds.
    pub modified: String,
    /// The client's attributes, normalised; empty when [`Load::document_text`] asked for
    /// [`StoredResource::document_text`] instead.
    pub document: Document,
    /// The document as stored (a JSON object's text), when asked for with
    /// [`Load::document_text`]; `None` otherwise.
    pub document_text: Option<String>,
    /// Group members, when asked for with [`Load::members`] (always `None` for Users).
    pub members: Option<Vec<Member>>,
    /// Direct group memberships, when asked for with [`Load::groups`].
    pub groups: Option<Vec<GroupRef>>,
    pub password_hash: Option<String>,
}

/// Which derived lists to load with a resource. The server leaves out what the
/// `attributes`/`excludedAttributes` projection would drop (RFC 7644 §3.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Load {
    /// Load Group `members`.
    pub members: bool,
    /// Load User (or Group) `groups`.
    pub groups: bool,
    /// Hand the document over as its stored text in [`StoredResource::document_text`]
    /// and leave [`StoredResource::document`] empty: for a reader that only serializes it,
    /// which then need not parse it. Reads honour it; writes ignore it.
    pub document_text: bool,
}

impl Load {
    /// Load nothing derived.
    pub const NONE: Load = Load {
        members: false,
        groups: false,
        document_text: false,
    };
    /// Load members and groups.
    pub const ALL: Load = Load {
        members: true,
        groups: true,
        document_text: false,
    };
}

/// A full replacement (PUT, RFC 7644 §3.5.1).
#[derive(Debug, Clone, PartialEq)]
pub struct Replacement {
    pub document: Document,
    pub unique_key: Option<String>,
    pub external_id: Option<String>,
    pub display: Option<String>,
    /// `None` leaves the member rows as they are (PUT without `members`, in compatible
    /// mode); `Some` replaces them (an empty list removes all).
    pub members: Option<Vec<MemberRef>>,
    /// `Some` sets the password hash; `None` leaves it.
    pub password_hash: Option<String>,
}

/// A partial update (PATCH, RFC 7644 §3.5.2), as computed by `scimd_core::patch`.
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    /// The new document, or `None` when PATCH did not change it.
    pub document: Option<Document>,
    /// Ignored when `document` is `None`.
    pub unique_key: Option<String>,
    /// Ignored when `document` is `None`.
    pub external_id: Option<String>,
    /// Ignored when `document` is `None`.
    pub display: Option<String>,
    /// Member row changes, applied in order.
    pub member_ops: Vec<MemberOp>,
    /// `Some` sets the password hash.
    pub password_hash: Option<String>,
    /// The client pinned the version (`If-Match`): `expected_version` is checked even when
    /// `document` is `None`. Otherwise a member-only or password-only update applies to
    /// whatever version is current — member rows and the password hash do not depend on the
    /// document the PATCH was computed from, so concurrent membership PATCHes never conflict.
    pub version_pinned: bool,
}

/// Which page of a listing to return (RFC 7644 §3.4.2.4; cursors per RFC 9865).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Page {
    /// `startIndex` (1-based) and `count`.
    Index { start_index: u64, count: u64 },
    /// `cursor` (absent for the first page) and `count`.
    Cursor { cursor: Option<String>, count: u64 },
}

/// A listing query.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub filter: Option<Filter>,
    pub sort: Option<SortSpec>,
    pub page: Page,
    pub load: Load,
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    /// Every resource matching the filter (not just this page): `totalResults`.
    pub total: u64,
    pub resources: Vec<StoredResource>,
    /// With [`Page::Cursor`]: the cursor of the next page, `None` on the last page.
    pub next_cursor: Option<String>,
    /// With [`Page::Cursor`]: the cursor of the previous page, `None` on the first page.
    pub previous_cursor: Option<String>,
}
