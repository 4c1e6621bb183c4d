//! The output form of stored resources (RFC 7643 §3): `schemas`, `id`, the document,
//! Group `members` / User `groups` when loaded, and `meta`, in that order.
//!
//! Two ways to the same bytes. [`resource`] builds a [`Value`] (what projections, event
//! snapshots and writes use). [`verbatim`] writes the text directly around the document as
//! stored, without parsing it, when the default projection would leave every stored value
//! as it is ([`VerbatimKeys`]): reads of whole resources, the commonest request an IdP
//! makes, then skip parsing and re-serializing the document. Stored documents are compact
//! serde_json text, so both give byte-identical output; the API tests compare them.

use scimd_core::projection::VerbatimKeys;
use scimd_core::schema::{Registry, ResourceKind, ResourceType};
use scimd_core::validate;
use scimd_store::StoredResource;
use serde::Serialize;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

/// The keys the renderer writes itself, never copied from a stored document.
pub const RENDERED_KEYS: &[&str] = &["schemas", "id", "members", "groups", "meta"];

/// The output form of `res`, unprojected. Takes the resource by value, so the document's
/// attributes move into the output instead of being copied.
pub fn resource(registry: &Registry, base_url: &str, mut res: StoredResource) -> Value {
    let document = std::mem::take(&mut res.document);
    let mut out = Map::new();
    if let Some(rt) = registry.resource_type_of(res.kind) {
        out.insert(
            "schemas".into(),
            json!(validate::output_schemas(registry, rt, &document)),
        );
    }
    out.insert("id".into(), Value::String(res.id.clone()));
    out.extend(document);
    // Strings and lists of them: turning them into a Value cannot fail.
    if let Ok(Value::Object(derived)) = serde_json::to_value(derived(base_url, &res)) {
        out.extend(derived);
    }
    Value::Object(out)
}

/// The output form of `res` as JSON text, copied from `stored` (the text of its document),
/// when every stored key is in `keys` and no value is null or holds an empty object or
/// array; `None` otherwise (including when the text has a key that needs unescaping), for
/// the caller to parse it and use [`resource`]. The same as [`resource`] then projected by
/// the default projection.
pub fn verbatim(
    registry: &Registry,
    rt: &ResourceType,
    keys: &VerbatimKeys,
    base_url: &str,
    res: &StoredResource,
    stored: &str,
) -> Option<String> {
    let TopLevel(fields) = serde_json::from_str(stored).ok()?;
    // The default projection drops empty objects and arrays at any depth, which stored
    // documents never hold (validation drops them first) — but an imported export is taken
    // as it is. Text holding `{}` or `[]` anywhere, even inside a string, is left to it.
    let copyable = |(key, value): &(&str, &RawValue)| {
        let text = value.get();
        keys.contains(key) && text != "null" && !text.contains("{}") && !text.contains("[]")
    };
    if !fields.iter().all(copyable) {
        return None;
    }
    let schemas =
        validate::output_schemas_where(registry, rt, |urn| fields.iter().any(|(k, _)| *k == urn));
    let tail = serde_json::to_string(&derived(base_url, res)).ok()?;
    let mut out = String::with_capacity(stored.len() + tail.len() + 256);
    out.push_str("{\"schemas\":");
    out.push_str(&serde_json::to_string(&schemas).ok()?);
    out.push_str(",\"id\":");
    out.push_str(&serde_json::to_string(&res.id).ok()?);
    for (key, value) in &fields {
        // A key borrowed from JSON text had no escapes, so it needs none.
        out.push_str(",\"");
        out.push_str(key);
        out.push_str("\":");
        out.push_str(value.get());
    }
    out.push(',');
    out.push_str(tail.strip_prefix('{')?);
    Some(out)
}

/// What follows the document: `members`/`groups` when loaded, and `meta`. Plain structs
/// rather than a [`Map`]: serialized straight to text, no key is hashed.
#[derive(Serialize)]
struct Derived<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    members: Option<Vec<Reference<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    groups: Option<Vec<Reference<'a>>>,
    meta: Meta<'a>,
}

/// One element of `members` or `groups`.
#[derive(Serialize)]
struct Reference<'a> {
    value: &'a str,
    #[serde(rename = "$ref")]
    reference: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    display: Option<&'a str>,
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Meta<'a> {
    resource_type: &'static str,
    created: &'a str,
    last_modified: &'a str,
    location: String,
    version: String,
}

fn derived<'a>(base_url: &str, res: &'a StoredResource) -> Derived<'a> {
    let location = |kind: ResourceKind, id: &str| format!("{base_url}/{}/{id}", endpoint(kind));
    let members = res.members.as_ref().map(|members| {
        members
            .iter()
            .map(|m| {
                let kind = match m.kind {
                    scimd_core::MemberKind::User => ResourceKind::User,
                    scimd_core::MemberKind::Group => ResourceKind::Group,
                };
                Reference {
                    value: &m.value,
                    reference: location(kind, &m.value),
                    display: m.display.as_deref(),
                    kind: kind.as_str(),
                }
            })
            .collect()
    });
    let groups = res.groups.as_ref().map(|groups| {
        groups
            .iter()
            .map(|g| Reference {
                value: &g.value,
                reference: location(ResourceKind::Group, &g.value),
                display: g.display.as_deref(),
                kind: "direct",
            })
            .collect()
    });
    Derived {
        members,
        groups,
        meta: Meta {
            resource_type: res.kind.as_str(),
            created: &res.created,
            last_modified: &res.modified,
            location: location(res.kind, &res.id),
            version: crate::http::etag(res.version),
        },
    }
}

/// The endpoint of a kind (`Users`, `Groups`).
pub fn endpoint(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "Users",
        ResourceKind::Group => "Groups",
    }
}

/// A JSON object's members in order, keys and values borrowed from its text.
struct TopLevel<'a>(Vec<(&'a str, &'a RawValue)>);

impl<'de> Deserialize<'de> for TopLevel<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> Visitor<'de> for Members {
            type Value = TopLevel<'de>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(16));
                while let Some(entry) = map.next_entry::<&'de str, &'de RawValue>()? {
                    out.push(entry);
                }
                Ok(TopLevel(out))
            }
        }
        deserializer.deserialize_map(Members)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use super::*;
    use scimd_core::projection::Projection;
    use scimd_core::schema::ENTERPRISE_USER_SCHEMA;
    use scimd_store::{GroupRef, Member};

    fn stored(kind: ResourceKind, document: &Value) -> StoredResource {
        StoredResource {
            seq: 1,
            kind,
            id: "0190c0de-0000-7000-8000-000000000001".into(),
            version: 3,
            created: "2026-01-01T00:00:00.000Z".into(),
            modified: "2026-01-02T00:00:00.000Z".into(),
            document: document.as_object().unwrap().clone(),
            document_text: None,
            members: None,
            groups: None,
            password_hash: None,
        }
    }

    /// The default projection's output, through a Value, as text.
    fn projected(registry: &Registry, rt: &ResourceType, res: StoredResource) -> String {
        let Value::Object(mut out) = resource(registry, "https://h/scim/v2", res) else {
            panic!("not an object");
        };
        Projection::default().apply(registry, rt, &mut out);
        Value::Object(out).to_string()
    }

    fn both(registry: &Registry, res: StoredResource) -> (Option<String>, String) {
        let rt = registry.resource_type_of(res.kind).unwrap();
        let keys = VerbatimKeys::new(registry, rt).without(RENDERED_KEYS);
        let text = serde_json::to_string(&res.document).unwrap();
        let fast = verbatim(registry, rt, &keys, "https://h/scim/v2", &res, &text);
        (fast, projected(registry, rt, res))
    }

    #[test]
    fn verbatim_output_is_the_projected_output_byte_for_byte() {
        let registry = Registry::builtin();
        let mut user = stored(
            ResourceKind::User,
            &json!({
                "userName": "b\"jensen\u{1}",
                "name": {"givenName": "Bär", "familyName": "Jensen"},
                "emails": [{"value": "b@x", "primary": true}],
                "x509Certificates": [{"value": "MIIC/+=="}],
                ENTERPRISE_USER_SCHEMA: {"employeeNumber": "7", "manager": {"value": "m"}},
                "active": false,
            }),
        );
        user.groups = Some(vec![GroupRef {
            value: "g1".into(),
            display: Some("Admins".into()),
        }]);
        let mut group = stored(ResourceKind::Group, &json!({"displayName": "Admins"}));
        group.members = Some(vec![Member {
            value: "u1".into(),
            kind: scimd_core::MemberKind::User,
            display: None,
        }]);
        let plain = stored(ResourceKind::User, &json!({"userName": "n"}));
        for res in [user, group, plain] {
            let (fast, slow) = both(&registry, res);
            assert_eq!(fast.as_deref(), Some(slow.as_str()));
        }
    }

    #[test]
    fn anything_the_projection_would_touch_is_not_copied() {
        let registry = Registry::builtin();
        for document in [
            json!({"userName": "n", "password": "p"}),
            json!({"userName": "n", "id": "forged"}),
            json!({"userName": "n", "meta": {"version": "W/\"9\""}}),
            json!({"userName": "n", "groups": [{"value": "g"}]}),
            json!({"userName": "n", "notAnAttribute": 1}),
            json!({"userName": "n", "name": {}}),
            json!({"userName": "n", ENTERPRISE_USER_SCHEMA: null}),
            json!({"userName": "n", "emails": [{}, {"value": "a@b"}]}),
            json!({"userName": "n", "name": {"givenName": "x", "honorificPrefix": []}}),
        ] {
            let (fast, _) = both(&registry, stored(ResourceKind::User, &document));
            assert_eq!(fast, None, "{document}");
        }
        let registry = Registry::builtin();
        let rt = registry.resource_type("User").unwrap();
        let keys = VerbatimKeys::new(&registry, rt).without(RENDERED_KEYS);
        let res = stored(ResourceKind::User, &json!({}));
        for text in [r#"{"user\u004eame":"n"}"#, "[1]", "{", ""] {
            assert_eq!(
                verbatim(&registry, rt, &keys, "b", &res, text),
                None,
                "{text}"
            );
        }
    }
}
