//! Small resource-level types shared by validation, PATCH and storage.

use serde::{Deserialize, Serialize};

/// How lenient the protocol core is with the shapes real identity providers send.
///
/// `Compatible` (the default) accepts the documented IdP deviations catalogued in
/// docs/COMPATIBILITY.md; `Strict` follows RFC 7643/7644 to the letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Strict,
    #[default]
    Compatible,
}

/// What a group member is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MemberKind {
    User,
    Group,
}

/// A group member as a client names it: the member's `id`, optionally its type, and
/// optionally a `display` name. `display` is immutable (RFC 7643 §2.4): a client-given one
/// is kept as sent (Entra: "values sent should be stored in the same format"); without one,
/// output shows the member's own name. `$ref` is always derived.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MemberRef {
    pub value: String,
    pub kind: Option<MemberKind>,
    pub display: Option<String>,
}

impl MemberRef {
    /// A member named only by id.
    pub fn new(value: impl Into<String>) -> Self {
        Self {
            value: value.into(),
            kind: None,
            display: None,
        }
    }
}

/// A change to a group's member list, in request order. Storage applies these as row
/// inserts and deletes; no member list is ever read or rewritten to apply one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberOp {
    /// Add these members (already-present ones are ignored).
    Add(Vec<MemberRef>),
    /// Remove the members with these ids (absent ones are ignored).
    Remove(Vec<String>),
    /// Remove every member.
    Clear,
}
