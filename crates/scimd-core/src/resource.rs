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

/// A group member as a client names it: the member's `id`, and optionally its type.
/// `display` and `$ref` are derived on output, never trusted from input.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MemberRef {
    pub value: String,
    pub kind: Option<MemberKind>,
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
