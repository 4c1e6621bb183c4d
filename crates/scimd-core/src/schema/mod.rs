//! Schemas, resource types and the registry that resolves attribute paths (RFC 7643).

mod builtin;
mod registry;
mod types;

pub use registry::{
    AttrLocation, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, Registry, ResolvedAttr, ResourceKind,
    USER_SCHEMA,
};
pub use types::{
    AttributeDef, AttributeType, Mutability, ResourceType, Returned, Schema, SchemaExtension,
    Uniqueness,
};
