//! The built-in catalogue: the RFC 7643 User (§4.1), Group (§4.2) and Enterprise User
//! (§4.3) schemas with the characteristics of their §8.7.1 schema representation, the
//! common attributes of §3.1, and the User and Group resource types of §8.7.2/§6.
//!
//! Where §8.7.1 disagrees with the normative prose the prose wins, and the deviation is
//! commented at the attribute (Group `displayName` is REQUIRED in §4.2; `addresses`
//! has `primary` in §4.1.2; Group `members` carries `display` as every multi-valued
//! attribute may, §2.4).

use super::registry::{ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};
use super::types::{
    AttributeDef, AttributeType, Mutability, ResourceType, Returned, Schema, SchemaExtension,
    Uniqueness,
};

/// SCIM 1.1 URNs (OneLogin templates) and the 2.0 schemas they stand for.
pub const URN_ALIASES: &[(&str, &str)] = &[
    ("urn:scim:schemas:core:1.0", USER_SCHEMA),
    (
        "urn:scim:schemas:extension:enterprise:1.0",
        ENTERPRISE_USER_SCHEMA,
    ),
];

/// Id of the pseudo-schema that holds the common attributes; it is never served.
pub const COMMON_SCHEMA_ID: &str = "urn:scimd:common";

fn string(name: &str, description: &str) -> AttributeDef {
    AttributeDef::new(name, AttributeType::String).describe(description)
}

fn boolean(name: &str, description: &str) -> AttributeDef {
    AttributeDef::new(name, AttributeType::Boolean).describe(description)
}

fn reference(name: &str, description: &str, types: &[&str]) -> AttributeDef {
    AttributeDef::new(name, AttributeType::Reference)
        .describe(description)
        .with_reference_types(types)
}

fn complex(name: &str, description: &str, subs: Vec<AttributeDef>) -> AttributeDef {
    AttributeDef::new(name, AttributeType::Complex)
        .describe(description)
        .with_sub_attributes(subs)
}

/// A multi-valued complex attribute with the standard `value`, `display`, `type` and
/// `primary` sub-attributes (RFC 7643 §2.4).
fn multi(name: &str, description: &str, value: AttributeDef, types: &[&str]) -> AttributeDef {
    complex(
        name,
        description,
        vec![
            value,
            string(
                "display",
                "A human-readable name, primarily used for display purposes.",
            ),
            string("type", "A label indicating the attribute's function.")
                .with_canonical_values(types),
            boolean(
                "primary",
                "Whether this is the preferred value; at most one value may be primary.",
            ),
        ],
    )
    .with_multi_valued()
}

/// The common attributes of every resource (RFC 7643 §3.1).
pub fn common_attributes() -> Schema {
    let id = string(
        "id",
        "Unique identifier for the resource, assigned by the service provider.",
    )
    .with_case_exact()
    .with_mutability(Mutability::ReadOnly)
    .with_returned(Returned::Always)
    .with_uniqueness(Uniqueness::Server);
    let external_id = string(
        "externalId",
        "Identifier for the resource as defined by the provisioning client.",
    )
    .with_case_exact();
    let read_only = |a: AttributeDef| a.with_mutability(Mutability::ReadOnly);
    let meta = complex(
        "meta",
        "Resource metadata, maintained by the service provider.",
        vec![
            read_only(string("resourceType", "The name of the resource type.").with_case_exact()),
            read_only(
                AttributeDef::new("created", AttributeType::DateTime)
                    .describe("When the resource was added to the service provider."),
            ),
            read_only(
                AttributeDef::new("lastModified", AttributeType::DateTime)
                    .describe("When the resource was last modified."),
            ),
            read_only(
                reference("location", "The URI of the resource.", &["uri"]).with_case_exact(),
            ),
            read_only(string("version", "The version (ETag) of the resource.").with_case_exact()),
        ],
    )
    .with_mutability(Mutability::ReadOnly);
    Schema {
        id: COMMON_SCHEMA_ID.into(),
        name: "Common".into(),
        description: "Attributes common to every resource (RFC 7643 §3.1).".into(),
        attributes: vec![id, external_id, meta],
    }
}

fn user_schema() -> Schema {
    let name = complex(
        "name",
        "The components of the user's real name.",
        vec![
            string(
                "formatted",
                "The full name, formatted for display, including titles and suffixes.",
            ),
            string(
                "familyName",
                "The family name (last name in Western languages).",
            ),
            string(
                "givenName",
                "The given name (first name in Western languages).",
            ),
            string("middleName", "The middle name(s)."),
            string("honorificPrefix", "The honorific prefix(es), e.g. 'Ms.'."),
            string("honorificSuffix", "The honorific suffix(es), e.g. 'III'."),
        ],
    );
    let address_type = string("type", "A label indicating the address's function.")
        .with_canonical_values(&["work", "home", "other"]);
    let addresses = complex(
        "addresses",
        "A physical mailing address for this user.",
        vec![
            string(
                "formatted",
                "The full mailing address, formatted for display.",
            ),
            string(
                "streetAddress",
                "The full street address component (house number, street, apartment...).",
            ),
            string("locality", "The city or locality component."),
            string("region", "The state or region component."),
            string("postalCode", "The zip code or postal code component."),
            string(
                "country",
                "The country name component (ISO 3166-1 alpha-2).",
            ),
            address_type,
            // Absent from the §8.7.1 listing but defined for addresses in §4.1.2.
            boolean("primary", "Whether this is the primary mailing address."),
        ],
    )
    .with_multi_valued();
    let read_only = |a: AttributeDef| a.with_mutability(Mutability::ReadOnly);
    let groups = complex(
        "groups",
        "The groups the user belongs to, directly or indirectly. Managed by the service provider.",
        vec![
            read_only(string("value", "The id of the group.")),
            read_only(reference(
                "$ref",
                "The URI of the group resource.",
                &["User", "Group"],
            )),
            read_only(string(
                "display",
                "A human-readable name, primarily used for display purposes.",
            )),
            read_only(
                string(
                    "type",
                    "Whether membership is direct or indirect (nested groups).",
                )
                .with_canonical_values(&["direct", "indirect"]),
            ),
        ],
    )
    .with_multi_valued()
    .with_mutability(Mutability::ReadOnly);
    // Entra sends role values JSON-encoded in a string (`"[{\"value\":...}]"`).
    let mut role_value = string("value", "The value of a role.");
    role_value.accepts_json_string = true;

    Schema {
        id: USER_SCHEMA.into(),
        name: "User".into(),
        description: "User Account".into(),
        attributes: vec![
            string(
                "userName",
                "Unique identifier for the user, typically used to sign in. REQUIRED.",
            )
            .with_required()
            .with_uniqueness(Uniqueness::Server),
            name,
            string("displayName", "The name of the user, suitable for display."),
            string("nickName", "The casual way to address the user."),
            reference(
                "profileUrl",
                "A fully qualified URL pointing to the user's online profile.",
                &["external"],
            ),
            string("title", "The user's title, e.g. 'Vice President'."),
            string(
                "userType",
                "The relationship between the organization and the user, e.g. 'Employee'.",
            ),
            string(
                "preferredLanguage",
                "The user's preferred written or spoken language (RFC 7231 Accept-Language).",
            ),
            string(
                "locale",
                "The user's default location for localisation, e.g. 'en-US'.",
            ),
            string(
                "timezone",
                "The user's time zone in IANA database format, e.g. 'America/Los_Angeles'.",
            ),
            boolean("active", "The user's administrative status."),
            string("password", "The user's cleartext password. Never returned.")
                .with_mutability(Mutability::WriteOnly)
                .with_returned(Returned::Never),
            multi(
                "emails",
                "Email addresses for the user.",
                string("value", "An email address."),
                &["work", "home", "other"],
            ),
            multi(
                "phoneNumbers",
                "Phone numbers for the user.",
                string("value", "A phone number (RFC 3966 form preferred)."),
                &["work", "home", "mobile", "fax", "pager", "other"],
            ),
            multi(
                "ims",
                "Instant messaging addresses for the user.",
                string("value", "An instant messaging address."),
                &["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"],
            ),
            multi(
                "photos",
                "URLs of photos of the user.",
                reference("value", "The URL of a photo.", &["external"]),
                &["photo", "thumbnail"],
            ),
            addresses,
            groups,
            multi(
                "entitlements",
                "A list of entitlements for the user.",
                string("value", "The value of an entitlement."),
                &[],
            ),
            multi("roles", "A list of roles for the user.", role_value, &[]),
            multi(
                "x509Certificates",
                "A list of certificates issued to the user.",
                AttributeDef::new("value", AttributeType::Binary)
                    .describe("The value of an X.509 certificate (base64 DER)."),
                &[],
            ),
        ],
    }
}

fn group_schema() -> Schema {
    let immutable = |a: AttributeDef| a.with_mutability(Mutability::Immutable);
    let members = complex(
        "members",
        "A list of members of the group.",
        vec![
            immutable(string("value", "The id of the member resource.")),
            immutable(reference(
                "$ref",
                "The URI of the member resource.",
                &["User", "Group"],
            )),
            // Not in the §8.7.1 listing; every multi-valued attribute may carry `display`
            // (§2.4), and IdPs send it.
            immutable(string("display", "A human-readable name for the member.")),
            immutable(
                string("type", "The type of the member resource.")
                    .with_canonical_values(&["User", "Group"]),
            ),
        ],
    )
    .with_multi_valued();
    Schema {
        id: GROUP_SCHEMA.into(),
        name: "Group".into(),
        description: "Group".into(),
        attributes: vec![
            // §4.2 says REQUIRED; the §8.7.1 listing says `"required": false`.
            string(
                "displayName",
                "A human-readable name for the group. REQUIRED.",
            )
            .with_required(),
            members,
        ],
    }
}

fn enterprise_user_schema() -> Schema {
    let manager = complex(
        "manager",
        "The user's manager.",
        vec![
            string("value", "The id of the manager's User resource."),
            reference("$ref", "The URI of the manager's User resource.", &["User"]),
            string("displayName", "The display name of the manager.")
                .with_mutability(Mutability::ReadOnly),
        ],
    );
    Schema {
        id: ENTERPRISE_USER_SCHEMA.into(),
        name: "EnterpriseUser".into(),
        description: "Enterprise User".into(),
        attributes: vec![
            string(
                "employeeNumber",
                "A string identifier, typically numeric or alphanumeric, assigned to a person.",
            ),
            string("costCenter", "Identifies the name of a cost center."),
            string("organization", "Identifies the name of an organization."),
            string("division", "Identifies the name of a division."),
            string("department", "Identifies the name of a department."),
            manager,
        ],
    }
}

/// The built-in schemas in `/Schemas` order: User, Group, Enterprise User.
pub fn schemas() -> Vec<Schema> {
    vec![user_schema(), group_schema(), enterprise_user_schema()]
}

/// The built-in resource types (RFC 7643 §6): User with the optional Enterprise User
/// extension, and Group.
pub fn resource_types() -> Vec<ResourceType> {
    vec![
        ResourceType {
            id: "User".into(),
            name: "User".into(),
            endpoint: "/Users".into(),
            description: "User Account".into(),
            schema: USER_SCHEMA.into(),
            schema_extensions: vec![SchemaExtension {
                schema: ENTERPRISE_USER_SCHEMA.into(),
                required: false,
            }],
        },
        ResourceType {
            id: "Group".into(),
            name: "Group".into(),
            endpoint: "/Groups".into(),
            description: "Group".into(),
            schema: GROUP_SCHEMA.into(),
            schema_extensions: vec![],
        },
    ]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use super::*;

    fn attr<'a>(schema: &'a Schema, name: &str) -> &'a AttributeDef {
        schema.attribute(name).expect(name)
    }

    #[test]
    fn user_core_characteristics() {
        let user = user_schema();
        let user_name = attr(&user, "userName");
        assert!(user_name.required);
        assert!(!user_name.case_exact);
        assert_eq!(user_name.uniqueness, Uniqueness::Server);
        let password = attr(&user, "password");
        assert_eq!(password.mutability, Mutability::WriteOnly);
        assert_eq!(password.returned, Returned::Never);
        let groups = attr(&user, "groups");
        assert_eq!(groups.mutability, Mutability::ReadOnly);
        assert!(groups.multi_valued);
        for sub in &groups.sub_attributes {
            assert_eq!(sub.mutability, Mutability::ReadOnly, "{}", sub.name);
        }
        assert_eq!(attr(&user, "profileUrl").reference_types, ["external"]);
        assert_eq!(attr(&user, "active").kind, AttributeType::Boolean);
        let names: Vec<_> = user.attributes.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "userName",
                "name",
                "displayName",
                "nickName",
                "profileUrl",
                "title",
                "userType",
                "preferredLanguage",
                "locale",
                "timezone",
                "active",
                "password",
                "emails",
                "phoneNumbers",
                "ims",
                "photos",
                "addresses",
                "groups",
                "entitlements",
                "roles",
                "x509Certificates"
            ]
        );
    }

    #[test]
    fn multi_valued_attributes_have_standard_sub_attributes() {
        let user = user_schema();
        for name in [
            "emails",
            "phoneNumbers",
            "ims",
            "photos",
            "entitlements",
            "roles",
            "x509Certificates",
        ] {
            let a = attr(&user, name);
            assert!(a.multi_valued, "{name}");
            let subs: Vec<_> = a.sub_attributes.iter().map(|s| s.name.as_str()).collect();
            assert_eq!(subs, ["value", "display", "type", "primary"], "{name}");
        }
        assert_eq!(
            attr(&user, "phoneNumbers")
                .sub_attribute("type")
                .unwrap()
                .canonical_values,
            ["work", "home", "mobile", "fax", "pager", "other"]
        );
        assert_eq!(
            attr(&user, "x509Certificates")
                .sub_attribute("value")
                .unwrap()
                .kind,
            AttributeType::Binary
        );
        assert!(
            attr(&user, "roles")
                .sub_attribute("value")
                .unwrap()
                .accepts_json_string
        );
        assert!(
            !attr(&user, "emails")
                .sub_attribute("value")
                .unwrap()
                .accepts_json_string
        );
        let addresses = attr(&user, "addresses");
        assert!(addresses.sub_attribute("postalCode").is_some());
        assert!(addresses.sub_attribute("primary").is_some());
    }

    #[test]
    fn group_and_enterprise() {
        let group = group_schema();
        let display_name = attr(&group, "displayName");
        assert!(display_name.required);
        assert_eq!(display_name.uniqueness, Uniqueness::None);
        let members = attr(&group, "members");
        assert!(members.multi_valued);
        assert_eq!(members.mutability, Mutability::ReadWrite);
        assert_eq!(
            members.sub_attribute("value").unwrap().mutability,
            Mutability::Immutable
        );
        assert_eq!(
            members.sub_attribute("type").unwrap().canonical_values,
            ["User", "Group"]
        );
        let ent = enterprise_user_schema();
        let manager = attr(&ent, "manager");
        assert!(!manager.multi_valued);
        assert_eq!(
            manager.sub_attribute("displayName").unwrap().mutability,
            Mutability::ReadOnly
        );
        assert_eq!(
            manager.sub_attribute("$ref").unwrap().reference_types,
            ["User"]
        );
        assert!(ent.attribute("costCenter").is_some());
    }

    #[test]
    fn common_attributes_characteristics() {
        let common = common_attributes();
        let id = attr(&common, "id");
        assert!(id.case_exact);
        assert_eq!(id.mutability, Mutability::ReadOnly);
        assert_eq!(id.returned, Returned::Always);
        assert_eq!(id.uniqueness, Uniqueness::Server);
        let external_id = attr(&common, "externalId");
        assert!(external_id.case_exact);
        assert_eq!(external_id.mutability, Mutability::ReadWrite);
        let meta = attr(&common, "meta");
        assert_eq!(meta.mutability, Mutability::ReadOnly);
        assert_eq!(meta.sub_attributes.len(), 5);
        assert!(
            meta.sub_attributes
                .iter()
                .all(|s| s.mutability == Mutability::ReadOnly)
        );
    }

    #[test]
    fn resource_types_point_at_known_schemas() {
        let rts = resource_types();
        assert_eq!(rts[0].endpoint, "/Users");
        assert_eq!(rts[0].schema_extensions[0].schema, ENTERPRISE_USER_SCHEMA);
        assert!(!rts[0].schema_extensions[0].required);
        assert_eq!(rts[1].endpoint, "/Groups");
        assert!(rts[1].schema_extensions.is_empty());
    }
}
