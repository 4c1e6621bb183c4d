//! scimd-core: the SCIM 2.0 protocol as a pure library.
//!
//! Schema registry (RFC 7643), filter language (RFC 7644 §3.4.2.2), PATCH (§3.5.2),
//! projection (§3.9), sorting (§3.4.2.3) and errors (§3.12). No I/O, no async: the storage
//! and server crates build on this, and nothing else in the workspace re-implements it.

pub mod error;
pub mod filter;
pub mod schema;

pub use error::{Error, Result};
pub mod resource;

pub use resource::{MemberKind, MemberOp, MemberRef, Mode};
pub mod datetime;
pub mod message;
pub mod patch;
pub mod projection;
pub mod set;
pub mod sort;
pub mod validate;
