//! Built-in schemas. PLACEHOLDER: a minimal subset so the crate compiles; the schema
//! work replaces this with the complete RFC 7643 catalogue.

use super::types::*;
use super::registry::{ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};

/// SCIM 1.1 URNs (OneLogin templates) and the 2.0 schemas they stand for.
pub const URN_ALIASES: &[(&str, &str)] = &[
    ("urn:scim:schemas:core:1.0", USER_SCHEMA),
    ("urn:scim:schemas:extension:enterprise:1.0", ENTERPRISE_USER_SCHEMA),
];

pub fn common_attributes() -> Schema {
    let mut id = AttributeDef::new("id", AttributeType::String);
    id.case_exact = true;
    id.mutability = Mutability::ReadOnly;
    id.returned = Returned::Always;
    id.uniqueness = Uniqueness::Server;
    let mut external_id = AttributeDef::new("externalId", AttributeType::String);
    external_id.case_exact = true;
    let mut meta = AttributeDef::new("meta", AttributeType::Complex);
    meta.mutability = Mutability::ReadOnly;
    meta.sub_attributes = vec![
        AttributeDef::new("resourceType", AttributeType::String),
        AttributeDef::new("created", AttributeType::DateTime),
        AttributeDef::new("lastModified", AttributeType::DateTime),
        AttributeDef::new("location", AttributeType::Reference),
        AttributeDef::new("version", AttributeType::String),
    ];
    Schema { id: "urn:scimd:common".into(), name: "Common".into(), description: String::new(), attributes: vec![id, external_id, meta] }
}

pub fn schemas() -> Vec<Schema> {
    let mut user_name = AttributeDef::new("userName", AttributeType::String);
    user_name.required = true;
    user_name.uniqueness = Uniqueness::Server;
    let mut emails = AttributeDef::new("emails", AttributeType::Complex);
    emails.multi_valued = true;
    emails.sub_attributes = vec![
        AttributeDef::new("value", AttributeType::String),
        AttributeDef::new("type", AttributeType::String),
        AttributeDef::new("primary", AttributeType::Boolean),
    ];
    let mut display_name = AttributeDef::new("displayName", AttributeType::String);
    display_name.required = true;
    let mut members = AttributeDef::new("members", AttributeType::Complex);
    members.multi_valued = true;
    members.sub_attributes = vec![AttributeDef::new("value", AttributeType::String)];
    let mut manager = AttributeDef::new("manager", AttributeType::Complex);
    manager.sub_attributes = vec![AttributeDef::new("value", AttributeType::String)];
    vec![
        Schema { id: USER_SCHEMA.into(), name: "User".into(), description: String::new(), attributes: vec![user_name, emails, AttributeDef::new("active", AttributeType::Boolean)] },
        Schema { id: GROUP_SCHEMA.into(), name: "Group".into(), description: String::new(), attributes: vec![display_name, members] },
        Schema { id: ENTERPRISE_USER_SCHEMA.into(), name: "EnterpriseUser".into(), description: String::new(), attributes: vec![manager] },
    ]
}

pub fn resource_types() -> Vec<ResourceType> {
    vec![
        ResourceType { id: "User".into(), name: "User".into(), endpoint: "/Users".into(), description: String::new(), schema: USER_SCHEMA.into(), schema_extensions: vec![SchemaExtension { schema: ENTERPRISE_USER_SCHEMA.into(), required: false }] },
        ResourceType { id: "Group".into(), name: "Group".into(), endpoint: "/Groups".into(), description: String::new(), schema: GROUP_SCHEMA.into(), schema_extensions: vec![] },
    ]
}
