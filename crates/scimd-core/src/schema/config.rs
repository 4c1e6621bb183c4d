//! Custom attributes from configuration.
//!
//! SaaS applications routinely ask identity providers to send attributes the RFC 7643
//! catalogue lacks: Okta and Entra both let an administrator add e.g. a `role` string to
//! the core User namespace, or map attributes into a custom extension URN. Operators
//! declare them here in the RFC 7643 §7 attribute-definition form (the same shape
//! `/Schemas` serves), from the server's TOML configuration or a JSON file, and
//! [`Registry::with_config`] validates them and builds the registry every request uses.
//!
//! Validation follows RFC 7643 §2.1 (ATTRNAME grammar, case-insensitive names), §2.3.8
//! (complex attributes hold no complex sub-attributes), §3.3 (extensions are identified
//! by a URN) and keeps the attributes the server derives itself off limits.

use serde::Deserialize;

use super::builtin;
use super::registry::Registry;
use super::types::{AttributeDef, Schema, SchemaExtension};
use crate::error::{Error, Result};

/// Names a configuration may not define: they are common attributes (RFC 7643 §3.1),
/// the `schemas` envelope, or membership attributes the server derives from its own tables.
const RESERVED_NAMES: &[&str] = &["id", "externalId", "meta", "schemas", "groups", "members"];

/// Custom schema content from configuration.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaConfig {
    /// Attributes added to the core User schema (`urn:ietf:params:scim:schemas:core:2.0:User`).
    #[serde(default, alias = "userAttributes")]
    pub user_attributes: Vec<AttributeDef>,
    /// Attributes added to the core Group schema.
    #[serde(default, alias = "groupAttributes")]
    pub group_attributes: Vec<AttributeDef>,
    /// New extension schemas, each with its own URN, attached to a resource type.
    #[serde(default)]
    pub extensions: Vec<ExtensionConfig>,
}

/// One extension schema declared in configuration (RFC 7643 §3.3, §6 `schemaExtensions`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtensionConfig {
    /// The schema URN, e.g. `urn:ietf:params:scim:schemas:extension:acme:2.0:User`.
    pub id: String,
    /// Human-readable schema name, served in `/Schemas`.
    pub name: String,
    /// Schema description, served in `/Schemas`.
    #[serde(default)]
    pub description: String,
    /// The resource type it extends: `User` or `Group` (case-insensitive).
    #[serde(alias = "resourceType")]
    pub resource_type: String,
    /// Whether resources of that type must carry the extension (`schemaExtensions.required`).
    #[serde(default)]
    pub required: bool,
    /// The extension's top-level attributes.
    pub attributes: Vec<AttributeDef>,
}

impl Registry {
    /// The built-in catalogue plus the custom attributes and extensions of `config`.
    ///
    /// Fails with [`Error::InvalidValue`] naming the offending attribute or URN when a
    /// name is not an RFC 7643 ATTRNAME, clashes (case-insensitively) with an existing
    /// or reserved attribute, a complex attribute nests another complex attribute or has
    /// no sub-attributes, an extension URN is malformed or already taken, or an
    /// extension names an unknown resource type.
    pub fn with_config(config: &SchemaConfig) -> Result<Registry> {
        let mut schemas = builtin::schemas();
        let mut resource_types = builtin::resource_types();
        let common = builtin::common_attributes();

        let targets = [
            ("User", &config.user_attributes),
            ("Group", &config.group_attributes),
        ];
        for (rt_name, attributes) in targets {
            if attributes.is_empty() {
                continue;
            }
            let core_urn = resource_types
                .iter()
                .find(|rt| rt.name.eq_ignore_ascii_case(rt_name))
                .map(|rt| rt.schema.clone())
                .ok_or(Error::Internal)?;
            let core = schemas
                .iter_mut()
                .find(|s| s.id.eq_ignore_ascii_case(&core_urn))
                .ok_or(Error::Internal)?;
            for attr in attributes {
                let context = format!("custom {rt_name} attribute");
                check_top_level(attr, &context)?;
                if common.attribute(&attr.name).is_some() || core.attribute(&attr.name).is_some() {
                    return Err(Error::invalid_value(format!(
                        "{context} '{}' clashes with an existing attribute of the {rt_name} schema",
                        attr.name
                    )));
                }
                core.attributes.push(attr.clone());
            }
        }

        for ext in &config.extensions {
            check_urn(&ext.id)?;
            let taken = schemas.iter().any(|s| s.id.eq_ignore_ascii_case(&ext.id))
                || builtin::URN_ALIASES
                    .iter()
                    .any(|(alias, _)| alias.eq_ignore_ascii_case(&ext.id))
                || ext.id.eq_ignore_ascii_case(builtin::COMMON_SCHEMA_ID);
            if taken {
                return Err(Error::invalid_value(format!(
                    "extension schema {} is defined more than once",
                    ext.id
                )));
            }
            if ext.name.trim().is_empty() {
                return Err(Error::invalid_value(format!(
                    "extension schema {} needs a name",
                    ext.id
                )));
            }
            let rt = resource_types
                .iter_mut()
                .find(|rt| rt.name.eq_ignore_ascii_case(&ext.resource_type))
                .ok_or_else(|| {
                    Error::invalid_value(format!(
                        "extension schema {} names unknown resource type '{}' (expected User or Group)",
                        ext.id, ext.resource_type
                    ))
                })?;
            let context = format!("attribute of extension {}", ext.id);
            check_unique_names(&ext.attributes, &context)?;
            for attr in &ext.attributes {
                check_top_level(attr, &context)?;
            }
            rt.schema_extensions.push(SchemaExtension {
                schema: ext.id.clone(),
                required: ext.required,
            });
            schemas.push(Schema {
                id: ext.id.clone(),
                name: ext.name.clone(),
                description: ext.description.clone(),
                attributes: ext.attributes.clone(),
            });
        }

        // Duplicates inside one list are caught above for extensions; for core additions
        // the clash check against the growing core schema catches them.
        Ok(Registry::from_parts(schemas, resource_types, common))
    }
}

/// Checks a top-level custom attribute: its name, reservation, and shape.
fn check_top_level(attr: &AttributeDef, context: &str) -> Result<()> {
    check_name(&attr.name, false, context)?;
    if RESERVED_NAMES
        .iter()
        .any(|r| r.eq_ignore_ascii_case(&attr.name))
    {
        return Err(Error::invalid_value(format!(
            "{context} '{}' is reserved: the server manages it",
            attr.name
        )));
    }
    check_shape(attr, context)
}

/// Complex attributes need sub-attributes and may not nest (RFC 7643 §2.3.8); simple
/// attributes may not have sub-attributes.
fn check_shape(attr: &AttributeDef, context: &str) -> Result<()> {
    if !attr.is_complex() {
        if !attr.sub_attributes.is_empty() {
            return Err(Error::invalid_value(format!(
                "{context} '{}' has sub-attributes but is not of type complex",
                attr.name
            )));
        }
        return Ok(());
    }
    if attr.sub_attributes.is_empty() {
        return Err(Error::invalid_value(format!(
            "{context} '{}' is complex but has no sub-attributes",
            attr.name
        )));
    }
    let sub_context = format!("sub-attribute of {context} '{}'", attr.name);
    check_unique_names(&attr.sub_attributes, &sub_context)?;
    for sub in &attr.sub_attributes {
        check_name(&sub.name, true, &sub_context)?;
        if sub.is_complex() || !sub.sub_attributes.is_empty() {
            return Err(Error::invalid_value(format!(
                "{sub_context} '{}' is nested too deep: complex attributes hold only simple sub-attributes",
                sub.name
            )));
        }
    }
    Ok(())
}

/// RFC 7643 §2.1: `ATTRNAME = ALPHA *(nameChar)`, `nameChar = "-" / "_" / DIGIT / ALPHA`;
/// `$ref` is allowed as a sub-attribute (§2.3.7).
fn check_name(name: &str, is_sub: bool, context: &str) -> Result<()> {
    if is_sub && name == "$ref" {
        return Ok(());
    }
    let mut chars = name.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid {
        Ok(())
    } else {
        Err(Error::invalid_value(format!(
            "{context} name '{name}' is not a valid attribute name (a letter followed by letters, digits, '-' or '_')"
        )))
    }
}

fn check_unique_names(attrs: &[AttributeDef], context: &str) -> Result<()> {
    for (i, a) in attrs.iter().enumerate() {
        if attrs
            .iter()
            .skip(i + 1)
            .any(|b| b.name.eq_ignore_ascii_case(&a.name))
        {
            return Err(Error::invalid_value(format!(
                "{context} '{}' is defined more than once",
                a.name
            )));
        }
    }
    Ok(())
}

/// An extension id must be a URN (RFC 8141 shape: `urn:` NID `:` NSS) without whitespace,
/// and must not end in `:` (the filter grammar splits `urn:attr` at the last colon).
fn check_urn(urn: &str) -> Result<()> {
    let err = || {
        Error::invalid_value(format!(
            "extension schema id '{urn}' is not a URN (expected e.g. urn:ietf:params:scim:schemas:extension:acme:2.0:User)"
        ))
    };
    let rest = urn
        .get(..4)
        .filter(|p| p.eq_ignore_ascii_case("urn:"))
        .and_then(|_| urn.get(4..))
        .ok_or_else(err)?;
    let (nid, nss) = rest.split_once(':').ok_or_else(err)?;
    let nid_ok = !nid.is_empty() && nid.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    let nss_ok = !nss.is_empty()
        && !nss.ends_with(':')
        && nss
            .chars()
            .all(|c| c.is_ascii_graphic() && !matches!(c, '"' | '[' | ']' | '(' | ')' | ' '));
    if nid_ok && nss_ok { Ok(()) } else { Err(err()) }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use serde_json::json;

    use super::*;
    use crate::filter::AttrPath;
    use crate::schema::{AttrLocation, AttributeType, USER_SCHEMA};

    const ACME: &str = "urn:ietf:params:scim:schemas:extension:acme:2.0:User";

    fn config(value: serde_json::Value) -> SchemaConfig {
        serde_json::from_value(value).expect("config deserializes")
    }

    fn err_of(value: serde_json::Value) -> String {
        match Registry::with_config(&config(value)) {
            Err(Error::InvalidValue(msg)) => msg,
            other => panic!("expected InvalidValue, got {other:?}"),
        }
    }

    /// The shape the server's TOML parser produces (snake_case table keys).
    fn toml_like() -> serde_json::Value {
        json!({
            "user_attributes": [
                {"name": "role", "type": "string"}
            ],
            "extensions": [{
                "id": ACME,
                "name": "AcmeUser",
                "resource_type": "User",
                "attributes": [
                    {"name": "costCenterCode", "type": "string", "caseExact": true},
                    {"name": "badge", "type": "complex", "multiValued": true, "subAttributes": [
                        {"name": "number", "type": "integer"},
                        {"name": "$ref", "type": "reference", "referenceTypes": ["external"]}
                    ]}
                ]
            }]
        })
    }

    #[test]
    fn core_attribute_from_config_resolves() {
        let reg = Registry::with_config(&config(toml_like())).unwrap();
        let user = reg.resource_type("User").unwrap();
        let r = reg.resolve(user, &AttrPath::simple("ROLE")).unwrap();
        assert_eq!(r.location, AttrLocation::Core);
        assert_eq!(r.canonical_path(), "role");
        let qualified = AttrPath {
            urn: Some(USER_SCHEMA.into()),
            name: "role".into(),
            sub: None,
        };
        assert!(reg.resolve(user, &qualified).is_ok());
        // The Group schema is untouched.
        let group = reg.resource_type("Group").unwrap();
        assert!(reg.resolve(group, &AttrPath::simple("role")).is_err());
    }

    #[test]
    fn extension_from_config_resolves_with_urn() {
        let reg = Registry::with_config(&config(toml_like())).unwrap();
        let user = reg.resource_type("user").unwrap();
        let path = AttrPath {
            urn: Some(ACME.to_ascii_lowercase()),
            name: "costcentercode".into(),
            sub: None,
        };
        let r = reg.resolve(user, &path).unwrap();
        assert_eq!(r.location, AttrLocation::Extension);
        assert_eq!(r.container_key(), Some(ACME));
        assert_eq!(r.canonical_path(), format!("{ACME}:costCenterCode"));
        assert!(r.leaf().case_exact);
        let sub = AttrPath {
            urn: Some(ACME.into()),
            name: "badge".into(),
            sub: Some("number".into()),
        };
        assert_eq!(
            reg.resolve(user, &sub).unwrap().leaf().kind,
            AttributeType::Integer
        );
        assert!(reg.extension(user, ACME).is_some());
        assert_eq!(reg.extension_schemas(user).count(), 2);
        // Built-ins still work.
        assert!(reg.resolve(user, &AttrPath::simple("userName")).is_ok());
    }

    #[test]
    fn json_like_camel_case_input() {
        let cfg = config(json!({
            "groupAttributes": [{"name": "groupType", "type": "string"}],
            "extensions": [{
                "id": "urn:example:params:scim:schemas:extension:team:2.0:Group",
                "name": "Team",
                "resourceType": "group",
                "required": true,
                "attributes": [{"name": "channel", "type": "string"}]
            }]
        }));
        let reg = Registry::with_config(&cfg).unwrap();
        let group = reg.resource_type("Group").unwrap();
        assert!(reg.resolve(group, &AttrPath::simple("groupType")).is_ok());
        assert!(group.schema_extensions.iter().any(|e| e.required));
    }

    #[test]
    fn empty_config_is_the_builtin_catalogue() {
        let reg = Registry::with_config(&SchemaConfig::default()).unwrap();
        assert_eq!(reg.schemas(), Registry::builtin().schemas());
        assert_eq!(reg.resource_types(), Registry::builtin().resource_types());
    }

    #[test]
    fn unknown_config_keys_are_rejected() {
        let r: std::result::Result<SchemaConfig, _> =
            serde_json::from_value(json!({"user_atributes": []}));
        assert!(r.is_err());
    }

    #[test]
    fn rejects_bad_names() {
        for name in ["1role", "ro le", "role!", "", "$ref", "rôle"] {
            let msg = err_of(json!({"user_attributes": [{"name": name, "type": "string"}]}));
            assert!(msg.contains("not a valid attribute name"), "{name}: {msg}");
        }
        assert!(
            Registry::with_config(&config(json!({
                "user_attributes": [{"name": "a-b_c9", "type": "string"}]
            })))
            .is_ok()
        );
    }

    #[test]
    fn rejects_clashes_and_reserved_names() {
        let msg = err_of(json!({"user_attributes": [{"name": "USERNAME", "type": "string"}]}));
        assert!(msg.contains("clashes"), "{msg}");
        let msg = err_of(json!({"user_attributes": [{"name": "externalid", "type": "string"}]}));
        assert!(msg.contains("reserved"), "{msg}");
        let msg = err_of(json!({"group_attributes": [{"name": "Members", "type": "string"}]}));
        assert!(msg.contains("reserved"), "{msg}");
        let msg = err_of(json!({"user_attributes": [
            {"name": "role", "type": "string"}, {"name": "Role", "type": "string"}
        ]}));
        assert!(msg.contains("clashes"), "{msg}");
        let msg = err_of(json!({"extensions": [{
            "id": ACME, "name": "Acme", "resource_type": "User",
            "attributes": [{"name": "x", "type": "string"}, {"name": "X", "type": "string"}]
        }]}));
        assert!(msg.contains("more than once"), "{msg}");
    }

    #[test]
    fn rejects_deep_or_empty_complex() {
        let msg = err_of(json!({"user_attributes": [{
            "name": "deep", "type": "complex", "subAttributes": [
                {"name": "inner", "type": "complex", "subAttributes": [{"name": "x", "type": "string"}]}
            ]
        }]}));
        assert!(msg.contains("nested too deep"), "{msg}");
        let msg = err_of(json!({"user_attributes": [{"name": "empty", "type": "complex"}]}));
        assert!(msg.contains("no sub-attributes"), "{msg}");
        let msg = err_of(json!({"user_attributes": [{
            "name": "flat", "type": "string", "subAttributes": [{"name": "x", "type": "string"}]
        }]}));
        assert!(msg.contains("not of type complex"), "{msg}");
    }

    #[test]
    fn rejects_bad_or_duplicate_urns() {
        for urn in [
            "acme:User",
            "urn:",
            "urn:acme",
            "urn::x",
            "urn:acme:a b",
            "urn:acme:User:",
        ] {
            let msg = err_of(json!({"extensions": [{
                "id": urn, "name": "Acme", "resource_type": "User", "attributes": []
            }]}));
            assert!(msg.contains("is not a URN"), "{urn}: {msg}");
        }
        let ext = json!({"id": ACME, "name": "Acme", "resource_type": "User", "attributes": []});
        let msg = err_of(json!({"extensions": [ext.clone(), ext]}));
        assert!(msg.contains("more than once"), "{msg}");
        let msg = err_of(json!({"extensions": [{
            "id": "URN:IETF:params:scim:schemas:extension:enterprise:2.0:User",
            "name": "Dup", "resource_type": "User", "attributes": []
        }]}));
        assert!(msg.contains("more than once"), "{msg}");
        let msg = err_of(json!({"extensions": [{
            "id": ACME, "name": "Acme", "resource_type": "Device", "attributes": []
        }]}));
        assert!(msg.contains("unknown resource type"), "{msg}");
    }
}
