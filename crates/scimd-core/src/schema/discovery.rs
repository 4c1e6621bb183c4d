//! The discovery documents of RFC 7644 §4: `/Schemas` (RFC 7643 §7), `/ResourceTypes`
//! (RFC 7643 §6) and `/ServiceProviderConfig` (RFC 7643 §5, with the RFC 9865 §4
//! `pagination` object).
//!
//! They are rendered by hand rather than by serialising the registry types so that the
//! wire form is exactly the RFC one: camelCase keys, integers for sizes, no JSON `null`
//! anywhere (Entra rejects discovery documents containing nulls), and no scimd-internal
//! characteristics such as `accepts_json_string`.

use serde_json::{Map, Value, json};

use super::registry::Registry;
use super::types::{
    AttributeDef, AttributeType, Mutability, ResourceType, Returned, Schema, Uniqueness,
};
use crate::message::ListResponse;

/// URN of Schema resources (RFC 7643 §7).
pub const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
/// URN of ResourceType resources (RFC 7643 §6).
pub const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
/// URN of the ServiceProviderConfig resource (RFC 7643 §5).
pub const SERVICE_PROVIDER_CONFIG_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";

/// The capabilities a server advertises in `/ServiceProviderConfig` (RFC 7643 §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceProviderFeatures {
    /// PATCH (RFC 7644 §3.5.2) is supported.
    pub patch: bool,
    /// Maximum operations in one Bulk request; `0` advertises Bulk as unsupported.
    pub bulk_max_operations: usize,
    /// Maximum Bulk payload size in bytes.
    pub bulk_max_payload_size: usize,
    /// Maximum resources a filtered query returns (`filter.maxResults`).
    pub filter_max_results: usize,
    /// `sortBy` is supported.
    pub sort: bool,
    /// ETags (`meta.version`, `If-Match`) are supported.
    pub etag: bool,
    /// Password changes through PATCH/PUT are supported.
    pub change_password: bool,
    /// RFC 9865 cursor pagination is supported (index pagination always is).
    pub cursor_pagination: bool,
    /// The largest page the server returns (`pagination.maxPageSize`).
    pub max_page_size: usize,
    /// Human-readable help for this service provider.
    pub documentation_uri: Option<String>,
    /// Supported authentication schemes, primary first.
    pub authentication_schemes: Vec<AuthenticationScheme>,
}

impl Default for ServiceProviderFeatures {
    /// What scimd supports out of the box: PATCH, sort, ETags, Bulk (1000 operations,
    /// 1 MiB), bearer tokens, index pagination with pages of up to 1000.
    fn default() -> Self {
        Self {
            patch: true,
            bulk_max_operations: 1000,
            bulk_max_payload_size: 1_048_576,
            filter_max_results: 1000,
            sort: true,
            etag: true,
            change_password: false,
            cursor_pagination: false,
            max_page_size: 1000,
            documentation_uri: None,
            authentication_schemes: vec![AuthenticationScheme::oauth_bearer_token(true)],
        }
    }
}

/// One entry of `authenticationSchemes` (RFC 7643 §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticationScheme {
    /// The `type` keyword: `oauthbearertoken`, `httpbasic`, `oauth`, `oauth2`, `httpdigest`.
    pub kind: String,
    /// Common name, e.g. `OAuth Bearer Token`.
    pub name: String,
    /// Description for administrators.
    pub description: String,
    /// The specification of the scheme.
    pub spec_uri: Option<String>,
    /// Whether this is the preferred scheme.
    pub primary: bool,
}

impl AuthenticationScheme {
    /// OAuth 2.0 bearer tokens (RFC 6750), the scheme Entra and Okta use.
    pub fn oauth_bearer_token(primary: bool) -> Self {
        Self {
            kind: "oauthbearertoken".into(),
            name: "OAuth Bearer Token".into(),
            description: "Authentication with a bearer token in the Authorization header.".into(),
            spec_uri: Some("https://www.rfc-editor.org/info/rfc6750".into()),
            primary,
        }
    }

    /// HTTP Basic authentication (RFC 7617).
    pub fn http_basic(primary: bool) -> Self {
        Self {
            kind: "httpbasic".into(),
            name: "HTTP Basic".into(),
            description: "Authentication with HTTP Basic credentials.".into(),
            spec_uri: Some("https://www.rfc-editor.org/info/rfc7617".into()),
            primary,
        }
    }
}

fn base(base_url: &str) -> &str {
    base_url.trim_end_matches('/')
}

fn list_response(resources: Vec<Value>) -> Value {
    ListResponse {
        total_results: resources.len() as u64,
        start_index: Some(1),
        items_per_page: resources.len(),
        resources,
        next_cursor: None,
        previous_cursor: None,
    }
    .into_json()
}

fn mutability_str(m: Mutability) -> &'static str {
    match m {
        Mutability::ReadOnly => "readOnly",
        Mutability::ReadWrite => "readWrite",
        Mutability::Immutable => "immutable",
        Mutability::WriteOnly => "writeOnly",
    }
}

fn returned_str(r: Returned) -> &'static str {
    match r {
        Returned::Always => "always",
        Returned::Never => "never",
        Returned::Default => "default",
        Returned::Request => "request",
    }
}

fn uniqueness_str(u: Uniqueness) -> &'static str {
    match u {
        Uniqueness::None => "none",
        Uniqueness::Server => "server",
        Uniqueness::Global => "global",
    }
}

fn type_str(t: AttributeType) -> &'static str {
    match t {
        AttributeType::String => "string",
        AttributeType::Boolean => "boolean",
        AttributeType::Decimal => "decimal",
        AttributeType::Integer => "integer",
        AttributeType::DateTime => "dateTime",
        AttributeType::Binary => "binary",
        AttributeType::Reference => "reference",
        AttributeType::Complex => "complex",
    }
}

/// One attribute definition in RFC 7643 §7 form.
fn attribute_json(attr: &AttributeDef) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(attr.name));
    m.insert("type".into(), json!(type_str(attr.kind)));
    m.insert("multiValued".into(), json!(attr.multi_valued));
    m.insert("description".into(), json!(attr.description));
    m.insert("required".into(), json!(attr.required));
    if !attr.is_complex() {
        // caseExact is meaningless on complex attributes; §8.7.1 omits it there.
        m.insert("caseExact".into(), json!(attr.case_exact));
    }
    if !attr.canonical_values.is_empty() {
        m.insert("canonicalValues".into(), json!(attr.canonical_values));
    }
    if attr.kind == AttributeType::Reference {
        m.insert("referenceTypes".into(), json!(attr.reference_types));
    }
    m.insert("mutability".into(), json!(mutability_str(attr.mutability)));
    m.insert("returned".into(), json!(returned_str(attr.returned)));
    m.insert("uniqueness".into(), json!(uniqueness_str(attr.uniqueness)));
    if attr.is_complex() {
        let subs: Vec<Value> = attr.sub_attributes.iter().map(attribute_json).collect();
        m.insert("subAttributes".into(), Value::Array(subs));
    }
    Value::Object(m)
}

fn schema_json(schema: &Schema, base_url: &str) -> Value {
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": schema.id,
        "name": schema.name,
        "description": schema.description,
        "attributes": schema.attributes.iter().map(attribute_json).collect::<Vec<_>>(),
        "meta": {
            "resourceType": "Schema",
            "location": format!("{}/Schemas/{}", base(base_url), schema.id),
        },
    })
}

fn resource_type_json(rt: &ResourceType, base_url: &str) -> Value {
    let extensions: Vec<Value> = rt
        .schema_extensions
        .iter()
        .map(|e| json!({"schema": e.schema, "required": e.required}))
        .collect();
    json!({
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": rt.id,
        "name": rt.name,
        "endpoint": rt.endpoint,
        "description": rt.description,
        "schema": rt.schema,
        "schemaExtensions": extensions,
        "meta": {
            "resourceType": "ResourceType",
            "location": format!("{}/ResourceTypes/{}", base(base_url), rt.id),
        },
    })
}

/// `GET /Schemas`: every schema the registry serves, custom ones included, as a
/// ListResponse. `base_url` is the SCIM base (e.g. `https://host/scim/v2`).
pub fn schemas_list(registry: &Registry, base_url: &str) -> Value {
    list_response(
        registry
            .schemas()
            .iter()
            .map(|s| schema_json(s, base_url))
            .collect(),
    )
}

/// `GET /Schemas/{id}`: one schema by URN (case-insensitive; SCIM 1.1 aliases resolve
/// to their 2.0 schema), or `None` for a 404.
pub fn schema_resource(registry: &Registry, urn: &str, base_url: &str) -> Option<Value> {
    registry.schema(urn).map(|s| schema_json(s, base_url))
}

/// `GET /ResourceTypes` as a ListResponse.
pub fn resource_types_list(registry: &Registry, base_url: &str) -> Value {
    list_response(
        registry
            .resource_types()
            .iter()
            .map(|rt| resource_type_json(rt, base_url))
            .collect(),
    )
}

/// `GET /ResourceTypes/{name}` (case-insensitive), or `None` for a 404.
pub fn resource_type_resource(registry: &Registry, name: &str, base_url: &str) -> Option<Value> {
    registry
        .resource_type(name)
        .map(|rt| resource_type_json(rt, base_url))
}

/// `GET /ServiceProviderConfig` (RFC 7643 §5) with the RFC 9865 `pagination` object.
///
/// Index pagination is always supported and stays the default method, as RFC 9865
/// recommends for existing index-based providers and as Entra and Okta expect.
pub fn service_provider_config(features: &ServiceProviderFeatures, base_url: &str) -> Value {
    let schemes: Vec<Value> = features
        .authentication_schemes
        .iter()
        .map(|s| {
            let mut m = Map::new();
            m.insert("type".into(), json!(s.kind));
            m.insert("name".into(), json!(s.name));
            m.insert("description".into(), json!(s.description));
            if let Some(uri) = &s.spec_uri {
                m.insert("specUri".into(), json!(uri));
            }
            m.insert("primary".into(), json!(s.primary));
            Value::Object(m)
        })
        .collect();
    let mut doc = json!({
        "schemas": [SERVICE_PROVIDER_CONFIG_SCHEMA],
        "patch": {"supported": features.patch},
        "bulk": {
            "supported": features.bulk_max_operations > 0,
            "maxOperations": features.bulk_max_operations,
            "maxPayloadSize": features.bulk_max_payload_size,
        },
        "filter": {"supported": true, "maxResults": features.filter_max_results},
        "changePassword": {"supported": features.change_password},
        "sort": {"supported": features.sort},
        "etag": {"supported": features.etag},
        "pagination": {
            "cursor": features.cursor_pagination,
            "index": true,
            "defaultPaginationMethod": "index",
            "maxPageSize": features.max_page_size,
        },
        "authenticationSchemes": schemes,
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{}/ServiceProviderConfig", base(base_url)),
        },
    });
    if let (Some(uri), Some(map)) = (&features.documentation_uri, doc.as_object_mut()) {
        map.insert("documentationUri".into(), json!(uri));
    }
    doc
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use super::*;
    use crate::schema::{ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, SchemaConfig, USER_SCHEMA};

    const BASE: &str = "https://scim.example.com/scim/v2/";

    fn assert_no_nulls(v: &Value, path: &str) {
        match v {
            Value::Null => panic!("null at {path}"),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    assert_no_nulls(item, &format!("{path}[{i}]"));
                }
            }
            Value::Object(map) => {
                for (k, item) in map {
                    assert!(!k.contains('_'), "snake_case key {path}.{k}");
                    assert_no_nulls(item, &format!("{path}.{k}"));
                }
            }
            _ => {}
        }
    }

    fn find_attr<'a>(schema: &'a Value, name: &str) -> &'a Value {
        schema["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name)
            .unwrap_or_else(|| panic!("no attribute {name}"))
    }

    #[test]
    fn schemas_list_shape() {
        let reg = Registry::builtin();
        let list = schemas_list(&reg, BASE);
        assert_no_nulls(&list, "$");
        assert_eq!(list["schemas"][0], crate::message::LIST_RESPONSE);
        assert_eq!(list["totalResults"], 3);
        assert_eq!(list["itemsPerPage"], 3);
        assert_eq!(list["startIndex"], 1);
        let resources = list["Resources"].as_array().unwrap();
        let ids: Vec<_> = resources
            .iter()
            .map(|r| r["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, [USER_SCHEMA, GROUP_SCHEMA, ENTERPRISE_USER_SCHEMA]);
        let user = &resources[0];
        assert_eq!(user["schemas"], json!([SCHEMA_SCHEMA]));
        assert_eq!(user["name"], "User");
        assert_eq!(user["meta"]["resourceType"], "Schema");
        assert_eq!(
            user["meta"]["location"],
            format!("https://scim.example.com/scim/v2/Schemas/{USER_SCHEMA}")
        );
        // No common attributes in the User schema; exactly the RFC keys.
        assert!(
            user["attributes"]
                .as_array()
                .unwrap()
                .iter()
                .all(|a| a["name"] != "id" && a["name"] != "meta")
        );
        let user_name = find_attr(user, "userName");
        assert_eq!(
            user_name,
            &json!({
                "name": "userName", "type": "string", "multiValued": false,
                "description": user_name["description"], "required": true, "caseExact": false,
                "mutability": "readWrite", "returned": "default", "uniqueness": "server"
            })
        );
        let emails = find_attr(user, "emails");
        assert_eq!(emails["multiValued"], true);
        assert!(emails.get("caseExact").is_none());
        let email_type = &emails["subAttributes"][2];
        assert_eq!(email_type["name"], "type");
        assert_eq!(
            email_type["canonicalValues"],
            json!(["work", "home", "other"])
        );
        let password = find_attr(user, "password");
        assert_eq!(password["mutability"], "writeOnly");
        assert_eq!(password["returned"], "never");
        assert_eq!(
            find_attr(user, "profileUrl")["referenceTypes"],
            json!(["external"])
        );
        // The internal flag on roles.value never reaches the wire.
        let roles = find_attr(user, "roles");
        let role_value = &roles["subAttributes"][0];
        assert_eq!(role_value.as_object().unwrap().len(), 9);
        assert!(role_value.get("acceptsJsonString").is_none());
    }

    #[test]
    fn schema_resource_by_urn_and_alias() {
        let reg = Registry::builtin();
        let ent = schema_resource(&reg, &ENTERPRISE_USER_SCHEMA.to_uppercase(), BASE).unwrap();
        assert_eq!(ent["id"], ENTERPRISE_USER_SCHEMA);
        let manager = find_attr(&ent, "manager");
        assert_eq!(manager["subAttributes"].as_array().unwrap().len(), 3);
        let alias = schema_resource(&reg, "urn:scim:schemas:core:1.0", BASE).unwrap();
        assert_eq!(alias["id"], USER_SCHEMA);
        assert!(schema_resource(&reg, "urn:nope", BASE).is_none());
        assert!(schema_resource(&reg, "urn:scimd:common", BASE).is_none());
    }

    #[test]
    fn custom_attributes_appear_in_schemas() {
        let cfg: SchemaConfig = serde_json::from_value(json!({
            "user_attributes": [{"name": "role", "type": "string", "description": "App role"}],
            "extensions": [{
                "id": "urn:ietf:params:scim:schemas:extension:acme:2.0:User",
                "name": "AcmeUser",
                "description": "Acme",
                "resource_type": "User",
                "required": true,
                "attributes": [{"name": "costCenterCode", "type": "string", "caseExact": true}]
            }]
        }))
        .unwrap();
        let reg = Registry::with_config(&cfg).unwrap();
        let list = schemas_list(&reg, BASE);
        assert_no_nulls(&list, "$");
        assert_eq!(list["totalResults"], 4);
        let user = &list["Resources"][0];
        assert_eq!(find_attr(user, "role")["description"], "App role");
        let acme = &list["Resources"][3];
        assert_eq!(
            acme["id"],
            "urn:ietf:params:scim:schemas:extension:acme:2.0:User"
        );
        assert_eq!(find_attr(acme, "costCenterCode")["caseExact"], true);
        let rt = resource_type_resource(&reg, "User", BASE).unwrap();
        assert_eq!(
            rt["schemaExtensions"],
            json!([
                {"schema": ENTERPRISE_USER_SCHEMA, "required": false},
                {"schema": "urn:ietf:params:scim:schemas:extension:acme:2.0:User", "required": true}
            ])
        );
    }

    #[test]
    fn resource_types_shape() {
        let reg = Registry::builtin();
        let list = resource_types_list(&reg, "https://h/scim/v2");
        assert_no_nulls(&list, "$");
        assert_eq!(list["totalResults"], 2);
        let user = &list["Resources"][0];
        assert_eq!(
            user,
            &json!({
                "schemas": [RESOURCE_TYPE_SCHEMA],
                "id": "User",
                "name": "User",
                "endpoint": "/Users",
                "description": "User Account",
                "schema": USER_SCHEMA,
                "schemaExtensions": [{"schema": ENTERPRISE_USER_SCHEMA, "required": false}],
                "meta": {"resourceType": "ResourceType", "location": "https://h/scim/v2/ResourceTypes/User"}
            })
        );
        let group = resource_type_resource(&reg, "group", "https://h/scim/v2").unwrap();
        assert_eq!(group["endpoint"], "/Groups");
        assert_eq!(group["schemaExtensions"], json!([]));
        assert!(resource_type_resource(&reg, "Device", BASE).is_none());
    }

    #[test]
    fn service_provider_config_shape() {
        let features = ServiceProviderFeatures {
            patch: true,
            bulk_max_operations: 100,
            bulk_max_payload_size: 1_048_576,
            filter_max_results: 200,
            sort: true,
            etag: false,
            change_password: false,
            cursor_pagination: true,
            max_page_size: 500,
            documentation_uri: None,
            authentication_schemes: vec![
                AuthenticationScheme::oauth_bearer_token(true),
                AuthenticationScheme {
                    kind: "httpbasic".into(),
                    name: "Basic".into(),
                    description: "Basic".into(),
                    spec_uri: None,
                    primary: false,
                },
            ],
        };
        let doc = service_provider_config(&features, BASE);
        assert_no_nulls(&doc, "$");
        assert_eq!(doc["schemas"], json!([SERVICE_PROVIDER_CONFIG_SCHEMA]));
        assert_eq!(doc["patch"], json!({"supported": true}));
        assert_eq!(
            doc["bulk"],
            json!({"supported": true, "maxOperations": 100, "maxPayloadSize": 1_048_576})
        );
        assert_eq!(doc["filter"], json!({"supported": true, "maxResults": 200}));
        assert_eq!(doc["etag"], json!({"supported": false}));
        assert_eq!(doc["sort"], json!({"supported": true}));
        assert_eq!(doc["changePassword"], json!({"supported": false}));
        assert_eq!(
            doc["pagination"],
            json!({"cursor": true, "index": true, "defaultPaginationMethod": "index", "maxPageSize": 500})
        );
        assert_eq!(doc["authenticationSchemes"][0]["type"], "oauthbearertoken");
        assert_eq!(doc["authenticationSchemes"][0]["primary"], true);
        assert!(doc["authenticationSchemes"][1].get("specUri").is_none());
        assert!(doc.get("documentationUri").is_none());
        assert_eq!(
            doc["meta"],
            json!({"resourceType": "ServiceProviderConfig",
                   "location": "https://scim.example.com/scim/v2/ServiceProviderConfig"})
        );
    }

    #[test]
    fn bulk_disabled_and_documentation_uri() {
        let features = ServiceProviderFeatures {
            bulk_max_operations: 0,
            documentation_uri: Some("https://docs.example.com".into()),
            ..ServiceProviderFeatures::default()
        };
        let doc = service_provider_config(&features, BASE);
        assert_eq!(doc["bulk"]["supported"], false);
        assert_eq!(doc["documentationUri"], "https://docs.example.com");
        assert_eq!(doc["pagination"]["cursor"], false);
        assert_no_nulls(&doc, "$");
    }
}
