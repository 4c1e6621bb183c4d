//! Schemas, resource types and the registry that resolves attribute paths (RFC 7643).
//!
//! `builtin` holds the RFC 7643 catalogue, `config` adds operator-defined attributes and
//! extensions, `registry` resolves paths case-insensitively, and `discovery` renders the
//! RFC 7644 §4 discovery documents.

mod builtin;
pub mod config;
pub mod discovery;
mod registry;
mod types;

pub use builtin::URN_ALIASES;
pub use config::{ExtensionConfig, SchemaConfig};
pub use discovery::{AuthenticationScheme, ServiceProviderFeatures};
pub use registry::{
    AttrLocation, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, Registry, ResolvedAttr, ResourceKind,
    USER_SCHEMA,
};
pub use types::{
    AttributeDef, AttributeType, Mutability, ResourceType, Returned, Schema, SchemaExtension,
    Uniqueness,
};
