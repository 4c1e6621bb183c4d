//! `attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5 and §3.9) together with the
//! `returned` characteristic of RFC 7643 §7.
//!
//! A [`Projection`] is parsed once per request from the query parameters (or the POST
//! `/.search` body) and applied to each output resource. The rules:
//! - `returned: never` (e.g. `password`) is never in the output;
//! - `returned: always` (e.g. `id`) is always in the output; `excludedAttributes` "SHALL have
//!   no effect" on it; `schemas` is always returned and lists exactly the extensions left;
//! - `returned: default` is in the output unless excluded, or unless `attributes` is given
//!   and does not name it;
//! - `returned: request` is in the output only when `attributes` names it;
//! - a sub-attribute path (`name.givenName`, `emails.value`) selects or excludes inside a
//!   complex or multi-valued attribute; the same rules apply to sub-attributes' own
//!   `returned` characteristic;
//! - names may carry the core schema URN, an extension URN (the attribute inside the
//!   extension object) or be a bare extension URN (the whole extension).
//!
//! Names that do not resolve on the resource type are ignored rather than rejected: a client
//! may legitimately ask for an attribute this server does not define, and the RFC gives no
//! error for it. Syntactically invalid names are `400 invalidPath`.

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::error::Result;
use crate::filter::{AttrPath, parse_attr_path};
use crate::schema::{AttributeDef, Registry, ResourceType, Returned};
use crate::validate::output_schemas;

/// One name from `attributes` or `excludedAttributes`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Item {
    /// The name as given, trimmed: used to recognise a bare schema URN.
    raw: String,
    /// The parsed path, when the name is a valid attribute path.
    path: Option<AttrPath>,
}

/// A parsed `attributes` / `excludedAttributes` pair.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Projection {
    /// `None` when `attributes` was not given (or empty).
    attributes: Option<Vec<Item>>,
    excluded: Vec<Item>,
}

/// What one request names, resolved against a resource type: `(container, attribute,
/// sub-attribute)` in canonical case, where `container` is `None` for core and common
/// attributes and the extension URN for extension attributes.
type Target<'r> = (Option<&'r str>, &'r str, Option<&'r str>);

#[derive(Debug, Default)]
struct Resolved<'r> {
    /// Whole schemas named by a bare URN: `None` is the core schema.
    whole: Vec<Option<&'r str>>,
    targets: Vec<Target<'r>>,
}

impl<'r> Resolved<'r> {
    fn names_whole(&self, container: Option<&str>, name: &str) -> bool {
        self.whole.contains(&container)
            || self
                .targets
                .iter()
                .any(|(c, n, s)| *c == container && *n == name && s.is_none())
    }

    fn subs(&self, container: Option<&str>, name: &str) -> Vec<&'r str> {
        self.targets
            .iter()
            .filter(|(c, n, _)| *c == container && *n == name)
            .filter_map(|(_, _, s)| *s)
            .collect()
    }
}

/// How one top-level attribute is projected.
#[derive(Debug, PartialEq)]
enum Plan<'r> {
    Drop,
    Keep {
        /// `Some`: only these sub-attributes (plus `returned: always` ones).
        only: Option<Vec<&'r str>>,
        /// Sub-attributes with `returned: request` that were named, so are returned.
        requested: Vec<&'r str>,
        /// Sub-attributes to remove.
        excluded: Vec<&'r str>,
    },
}

impl Projection {
    /// Parses the `attributes` and `excludedAttributes` query parameters: comma-separated
    /// attribute paths in RFC 7644 §3.10 notation, whitespace around each trimmed, empty
    /// entries skipped. A bare schema URN (`urn:…:enterprise:2.0:User`) names a whole schema.
    /// Errors: [`crate::Error::InvalidPath`] for a name that is not an attribute path.
    pub fn parse(attributes: Option<&str>, excluded_attributes: Option<&str>) -> Result<Self> {
        Self::build(split_list(attributes), split_list(excluded_attributes))
    }

    /// Builds a projection from the `attributes` and `excludedAttributes` arrays of a
    /// POST `/.search` body (RFC 7644 §3.4.3); each entry may itself be comma-separated.
    pub fn from_lists(attributes: &[String], excluded_attributes: &[String]) -> Result<Self> {
        let split = |l: &[String]| -> Vec<String> {
            l.iter()
                .flat_map(|s| s.split(',').map(str::to_owned))
                .collect()
        };
        let a = split(attributes);
        let e = split(excluded_attributes);
        Self::build(
            a.iter().map(String::as_str).collect(),
            e.iter().map(String::as_str).collect(),
        )
    }

    fn build(attributes: Vec<&str>, excluded: Vec<&str>) -> Result<Self> {
        let attributes = items(&attributes)?;
        Ok(Self {
            attributes: (!attributes.is_empty()).then_some(attributes),
            excluded: items(&excluded)?,
        })
    }

    /// Whether the projection changes nothing beyond the `returned` rules.
    pub fn is_default(&self) -> bool {
        self.attributes.is_none() && self.excluded.is_empty()
    }

    /// Projects a full output resource (with `id`, `meta`, `schemas`, and Group `members` or
    /// User `groups`) in place, then rewrites `schemas` to the core URN plus the extensions
    /// still present. Keys that the schema does not define are kept unless `attributes` is
    /// given.
    pub fn apply(&self, registry: &Registry, rt: &ResourceType, doc: &mut Map<String, Value>) {
        let include = self
            .attributes
            .as_ref()
            .map(|items| resolve_items(registry, rt, items));
        let exclude = resolve_items(registry, rt, &self.excluded);
        let core = registry.core_schema(rt);
        let top_defs = registry
            .common_schema()
            .attributes
            .iter()
            .chain(core.into_iter().flat_map(|s| s.attributes.iter()));
        let mut handled: Vec<&str> = vec!["schemas"];
        for def in top_defs {
            handled.push(&def.name);
            project_attr(doc, None, def, include.as_ref(), &exclude);
        }
        for ext in registry.extension_schemas(rt) {
            handled.push(&ext.id);
            let Some(Value::Object(map)) = doc.get_mut(&ext.id) else {
                continue;
            };
            for def in &ext.attributes {
                project_attr(map, Some(&ext.id), def, include.as_ref(), &exclude);
            }
            if map.is_empty() {
                doc.shift_remove(&ext.id);
            }
        }
        if include.is_some() {
            doc.retain(|k, _| handled.contains(&k.as_str()));
        }
        let schemas = output_schemas(registry, rt, doc);
        doc.insert(
            "schemas".to_owned(),
            Value::Array(schemas.into_iter().map(Value::String).collect()),
        );
    }

    /// Whether the top-level attribute `attribute` (e.g. `members`, `groups`, or a
    /// URN-qualified name) would be in the output at all, so that the server can skip loading
    /// what it would drop. A name that does not resolve is wanted unless `attributes` is
    /// given.
    pub fn wants(&self, registry: &Registry, rt: &ResourceType, attribute: &str) -> bool {
        let Ok(path) = parse_attr_path(attribute) else {
            return self.attributes.is_none();
        };
        let Ok(resolved) = registry.resolve(rt, &path) else {
            return self.attributes.is_none();
        };
        let include = self
            .attributes
            .as_ref()
            .map(|items| resolve_items(registry, rt, items));
        let exclude = resolve_items(registry, rt, &self.excluded);
        plan(
            resolved.container_key(),
            resolved.attr,
            include.as_ref(),
            &exclude,
        ) != Plan::Drop
    }
}

/// The top-level keys of a stored document whose values the default projection (no
/// `attributes`, no `excludedAttributes`) returns exactly as they are: the core and common
/// attributes, and the extension URNs, under which no `returned` rule drops anything at any
/// depth (`returned: default` or `always`, and the same for every sub-attribute).
///
/// Built once per resource type. A reader that serializes a document whose keys are all
/// here, and whose values are not null and hold no empty object or array (which the
/// projection would drop), may copy the stored text instead of parsing it and applying
/// [`Projection::apply`]; the output is the same.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerbatimKeys {
    keys: HashSet<String>,
}

impl VerbatimKeys {
    /// The verbatim keys of `rt`.
    pub fn new(registry: &Registry, rt: &ResourceType) -> Self {
        let returned_as_is = |def: &AttributeDef| {
            let kept =
                |d: &AttributeDef| matches!(d.returned, Returned::Default | Returned::Always);
            kept(def) && def.sub_attributes.iter().all(kept)
        };
        let mut keys = HashSet::new();
        let core = registry.core_schema(rt);
        for def in registry
            .common_schema()
            .attributes
            .iter()
            .chain(core.into_iter().flat_map(|s| s.attributes.iter()))
        {
            if returned_as_is(def) {
                keys.insert(def.name.clone());
            }
        }
        for ext in registry.extension_schemas(rt) {
            if ext.attributes.iter().all(returned_as_is) {
                keys.insert(ext.id.clone());
            }
        }
        Self { keys }
    }

    /// Leaves out keys the reader writes itself (e.g. `id`, `meta`).
    #[must_use]
    pub fn without(mut self, keys: &[&str]) -> Self {
        for k in keys {
            self.keys.remove(*k);
        }
        self
    }

    /// Whether `key` is verbatim (exact case, as stored documents hold canonical names).
    pub fn contains(&self, key: &str) -> bool {
        self.keys.contains(key)
    }
}

fn split_list(s: Option<&str>) -> Vec<&str> {
    s.map(|s| s.split(',').collect()).unwrap_or_default()
}

fn items(names: &[&str]) -> Result<Vec<Item>> {
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let raw = name.trim();
        if raw.is_empty() {
            continue;
        }
        let path = match parse_attr_path(raw) {
            Ok(p) => Some(p),
            // A bare schema URN need not be an attribute path (`…:enterprise:1.0`).
            Err(_) if looks_like_urn(raw) => None,
            Err(e) => return Err(e),
        };
        out.push(Item {
            raw: raw.to_owned(),
            path,
        });
    }
    Ok(out)
}

fn looks_like_urn(s: &str) -> bool {
    s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && !b"()[]\",".contains(&b))
}

fn resolve_items<'r>(registry: &'r Registry, rt: &ResourceType, items: &[Item]) -> Resolved<'r> {
    let mut out = Resolved::default();
    let core = registry.core_schema(rt);
    for item in items {
        if let Some(ext) = registry.extension(rt, &item.raw) {
            out.whole.push(Some(ext.id.as_str()));
            continue;
        }
        if core.is_some_and(|c| registry.schema(&item.raw).is_some_and(|s| s.id == c.id)) {
            out.whole.push(None);
            continue;
        }
        let Some(path) = &item.path else { continue };
        let Ok(resolved) = registry.resolve(rt, path) else {
            continue;
        };
        out.targets.push((
            resolved.container_key(),
            resolved.attr.name.as_str(),
            resolved.sub.map(|s| s.name.as_str()),
        ));
    }
    out
}

/// The projection of one top-level attribute (RFC 7643 §7 `returned`, RFC 7644 §3.4.2.5).
fn plan<'r>(
    container: Option<&str>,
    def: &AttributeDef,
    include: Option<&Resolved<'r>>,
    exclude: &Resolved<'r>,
) -> Plan<'r> {
    let requested = include.map_or_else(Vec::new, |i| i.subs(container, &def.name));
    match def.returned {
        Returned::Never => return Plan::Drop,
        Returned::Always => {
            return Plan::Keep {
                only: None,
                requested,
                excluded: Vec::new(),
            };
        }
        Returned::Default | Returned::Request => {}
    }
    let only = match include {
        Some(inc) if inc.names_whole(container, &def.name) => None,
        Some(_) if !requested.is_empty() => Some(requested.clone()),
        Some(_) => return Plan::Drop,
        None if def.returned == Returned::Request => return Plan::Drop,
        None => None,
    };
    if exclude.names_whole(container, &def.name) {
        return Plan::Drop;
    }
    Plan::Keep {
        only,
        requested,
        excluded: exclude.subs(container, &def.name),
    }
}

fn project_attr(
    map: &mut Map<String, Value>,
    container: Option<&str>,
    def: &AttributeDef,
    include: Option<&Resolved<'_>>,
    exclude: &Resolved<'_>,
) {
    let Some(value) = map.get_mut(&def.name) else {
        return;
    };
    match plan(container, def, include, exclude) {
        Plan::Drop => {
            map.shift_remove(&def.name);
        }
        Plan::Keep {
            only,
            requested,
            excluded,
        } => {
            if !def.is_complex() {
                return;
            }
            let keep = |sub: &AttributeDef| -> bool {
                match sub.returned {
                    Returned::Never => false,
                    Returned::Always => true,
                    Returned::Default | Returned::Request => {
                        let named = requested.contains(&sub.name.as_str());
                        let selected = only
                            .as_ref()
                            .map_or(sub.returned == Returned::Default || named, |o| {
                                o.contains(&sub.name.as_str())
                            });
                        selected && !excluded.contains(&sub.name.as_str())
                    }
                }
            };
            let restricting = only.is_some();
            let filter = |element: &mut Map<String, Value>| {
                element.retain(|k, _| match def.sub_attribute(k) {
                    Some(sub) => keep(sub),
                    // Keys the schema does not define survive unless only some are asked for.
                    None => !restricting,
                });
            };
            let empty = match value {
                Value::Object(o) => {
                    filter(o);
                    o.is_empty()
                }
                Value::Array(items) => {
                    for item in items.iter_mut() {
                        if let Value::Object(o) = item {
                            filter(o);
                        }
                    }
                    items.retain(|v| !matches!(v, Value::Object(o) if o.is_empty()));
                    items.is_empty()
                }
                _ => false,
            };
            if empty {
                map.shift_remove(&def.name);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use serde_json::json;

    use super::*;
    use crate::Error;
    use crate::schema::{
        ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, Schema, SchemaExtension, USER_SCHEMA,
    };

    fn user_doc() -> Map<String, Value> {
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
            "id": "u1",
            "externalId": "ext-1",
            "meta": {"resourceType": "User", "created": "2026-01-01T00:00:00Z", "version": "W/\"1\""},
            "userName": "bjensen",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [
                {"value": "b@work", "type": "work", "primary": true},
                {"value": "b@home", "type": "home"}
            ],
            "active": true,
            "password": "leaked?",
            "groups": [{"value": "g1", "display": "Admins"}],
            ENTERPRISE_USER_SCHEMA: {"department": "Sales", "manager": {"value": "m1", "displayName": "Boss"}}
        })
        .as_object()
        .unwrap()
        .clone()
    }

    fn group_doc() -> Map<String, Value> {
        json!({
            "schemas": [GROUP_SCHEMA],
            "id": "g1",
            "displayName": "Admins",
            "members": [{"value": "u1", "display": "bjensen", "type": "User"}],
            "meta": {"resourceType": "Group"}
        })
        .as_object()
        .unwrap()
        .clone()
    }

    fn project(doc: Map<String, Value>, kind: &str, a: Option<&str>, e: Option<&str>) -> Value {
        let r = Registry::builtin();
        let rt = r.resource_type(kind).unwrap().clone();
        let mut doc = doc;
        Projection::parse(a, e).unwrap().apply(&r, &rt, &mut doc);
        Value::Object(doc)
    }

    fn keys(v: &Value) -> Vec<&str> {
        v.as_object().unwrap().keys().map(String::as_str).collect()
    }

    #[test]
    fn default_projection_drops_never_and_keeps_default() {
        let out = project(user_doc(), "User", None, None);
        let mut expected = user_doc();
        expected.shift_remove("password");
        assert_eq!(out, Value::Object(expected));
        assert!(Projection::parse(None, Some("  ")).unwrap().is_default());
    }

    #[test]
    fn attributes_user_name_keeps_always_attributes_and_schemas() {
        let out = project(user_doc(), "User", Some("userName"), None);
        assert_eq!(
            out,
            json!({"schemas": [USER_SCHEMA], "id": "u1", "userName": "bjensen"})
        );
        // Names are case-insensitive, may carry the core URN, and are trimmed.
        let out = project(
            user_doc(),
            "User",
            Some(" USERNAME , urn:ietf:params:scim:schemas:core:2.0:User:active"),
            None,
        );
        assert_eq!(
            out,
            json!({"schemas": [USER_SCHEMA], "id": "u1", "userName": "bjensen", "active": true})
        );
    }

    #[test]
    fn sub_attribute_selection_inside_multi_valued_and_complex() {
        let out = project(
            user_doc(),
            "User",
            Some("emails.value,name.familyName"),
            None,
        );
        assert_eq!(
            out,
            json!({"schemas": [USER_SCHEMA], "id": "u1",
                   "name": {"familyName": "Jensen"},
                   "emails": [{"value": "b@work"}, {"value": "b@home"}]})
        );
        let out = project(
            user_doc(),
            "User",
            None,
            Some("emails.type,name.givenName,emails.primary"),
        );
        assert_eq!(
            out["emails"],
            json!([{"value": "b@work"}, {"value": "b@home"}])
        );
        assert_eq!(out["name"], json!({"familyName": "Jensen"}));
        // Excluding every sub-attribute removes the attribute.
        let out = project(
            user_doc(),
            "User",
            None,
            Some("name.givenName,name.familyName"),
        );
        assert!(out.get("name").is_none());
    }

    #[test]
    fn excluded_attributes_but_never_always_ones() {
        let out = project(user_doc(), "User", None, Some("emails,id,meta,groups"));
        assert_eq!(
            keys(&out),
            [
                "schemas",
                "id",
                "externalId",
                "userName",
                "name",
                "active",
                ENTERPRISE_USER_SCHEMA
            ]
        );
    }

    #[test]
    fn entra_group_reads_exclude_members() {
        let p = Projection::parse(None, Some("members")).unwrap();
        let r = Registry::builtin();
        let rt = r.resource_type("Group").unwrap().clone();
        assert!(!p.wants(&r, &rt, "members"));
        assert!(p.wants(&r, &rt, "displayName"));
        assert!(p.wants(&r, &rt, "id"));
        let out = project(group_doc(), "Group", None, Some("members"));
        assert_eq!(
            out,
            json!({"schemas": [GROUP_SCHEMA], "id": "g1", "displayName": "Admins",
                   "meta": {"resourceType": "Group"}})
        );
        assert!(Projection::default().wants(&r, &rt, "members"));
        assert!(
            !Projection::parse(Some("displayName"), None)
                .unwrap()
                .wants(&r, &rt, "members")
        );
        assert!(
            Projection::parse(Some("members.value"), None)
                .unwrap()
                .wants(&r, &rt, "members")
        );
        assert!(
            Projection::parse(Some("MEMBERS"), None)
                .unwrap()
                .wants(&r, &rt, "members")
        );
        // Unknown names: wanted only when `attributes` is not given.
        assert!(Projection::default().wants(&r, &rt, "nothing"));
        assert!(
            !Projection::parse(Some("displayName"), None)
                .unwrap()
                .wants(&r, &rt, "nothing")
        );
    }

    #[test]
    fn wants_groups_and_password_on_users() {
        let r = Registry::builtin();
        let rt = r.resource_type("User").unwrap().clone();
        assert!(Projection::default().wants(&r, &rt, "groups"));
        assert!(!Projection::default().wants(&r, &rt, "password"));
        assert!(
            !Projection::parse(Some("password"), None)
                .unwrap()
                .wants(&r, &rt, "password")
        );
        assert!(
            !Projection::parse(None, Some("groups"))
                .unwrap()
                .wants(&r, &rt, "groups")
        );
        assert!(
            Projection::parse(None, Some("id"))
                .unwrap()
                .wants(&r, &rt, "id")
        );
        let manager = format!("{ENTERPRISE_USER_SCHEMA}:manager");
        assert!(
            !Projection::parse(None, Some(&manager))
                .unwrap()
                .wants(&r, &rt, &manager)
        );
    }

    #[test]
    fn extension_attributes_and_whole_extensions() {
        let out = project(
            user_doc(),
            "User",
            None,
            Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"),
        );
        assert_eq!(out[ENTERPRISE_USER_SCHEMA], json!({"department": "Sales"}));
        assert_eq!(out["schemas"], json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA]));
        // Excluding everything in the extension removes it from `schemas` too.
        let out = project(
            user_doc(),
            "User",
            None,
            Some(&format!(
                "{ENTERPRISE_USER_SCHEMA}:manager,{ENTERPRISE_USER_SCHEMA}:department"
            )),
        );
        assert!(out.get(ENTERPRISE_USER_SCHEMA).is_none());
        assert_eq!(out["schemas"], json!([USER_SCHEMA]));
        // A bare extension URN is the whole extension, in either list.
        let out = project(
            user_doc(),
            "User",
            Some(&format!("userName,{ENTERPRISE_USER_SCHEMA}")),
            None,
        );
        assert_eq!(
            out,
            json!({"schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA], "id": "u1", "userName": "bjensen",
                   ENTERPRISE_USER_SCHEMA: {"department": "Sales", "manager": {"value": "m1", "displayName": "Boss"}}})
        );
        let out = project(
            user_doc(),
            "User",
            None,
            Some("urn:ietf:params:scim:schemas:extension:ENTERPRISE:2.0:User"),
        );
        assert!(out.get(ENTERPRISE_USER_SCHEMA).is_none());
        // The SCIM 1.1 URN, which is not an attribute path, names the same extension.
        let out = project(
            user_doc(),
            "User",
            None,
            Some("urn:scim:schemas:extension:enterprise:1.0"),
        );
        assert!(out.get(ENTERPRISE_USER_SCHEMA).is_none());
        // An extension sub-attribute.
        let out = project(
            user_doc(),
            "User",
            Some(&format!("{ENTERPRISE_USER_SCHEMA}:manager.value")),
            None,
        );
        assert_eq!(
            out[ENTERPRISE_USER_SCHEMA],
            json!({"manager": {"value": "m1"}})
        );
        // The whole core schema.
        let out = project(user_doc(), "User", Some(USER_SCHEMA), None);
        assert!(out.get(ENTERPRISE_USER_SCHEMA).is_none());
        assert_eq!(out["userName"], "bjensen");
        assert!(out.get("password").is_none());
    }

    #[test]
    fn meta_follows_the_schema() {
        // `meta` is `returned: default` in the catalogue: dropped by `attributes`, kept otherwise.
        let out = project(user_doc(), "User", Some("userName"), None);
        assert!(out.get("meta").is_none());
        let out = project(user_doc(), "User", Some("meta.created"), None);
        assert_eq!(out["meta"], json!({"created": "2026-01-01T00:00:00Z"}));
    }

    #[test]
    fn returned_request_and_sub_attribute_characteristics() {
        let b = Registry::builtin();
        let ext_id = "urn:example:ext:2.0:User";
        let mut badge = AttributeDef::new("badge", crate::schema::AttributeType::Complex);
        badge.sub_attributes = vec![
            AttributeDef::new("value", crate::schema::AttributeType::String),
            AttributeDef::new("pin", crate::schema::AttributeType::String)
                .with_returned(Returned::Never),
            AttributeDef::new("issuer", crate::schema::AttributeType::String)
                .with_returned(Returned::Request),
            AttributeDef::new("kind", crate::schema::AttributeType::String)
                .with_returned(Returned::Always),
        ];
        let ext = Schema {
            id: ext_id.into(),
            name: "Ext".into(),
            description: String::new(),
            attributes: vec![
                AttributeDef::new("secret", crate::schema::AttributeType::String)
                    .with_returned(Returned::Request),
                badge,
            ],
        };
        let mut schemas = b.schemas().to_vec();
        schemas.push(ext);
        let mut rts = b.resource_types().to_vec();
        rts[0].schema_extensions.push(SchemaExtension {
            schema: ext_id.into(),
            required: false,
        });
        let r = Registry::from_parts(schemas, rts, b.common_schema().clone());
        let rt = r.resource_type("User").unwrap().clone();
        let doc = || {
            json!({"id": "u", "userName": "n", ext_id: {"secret": "s",
                   "badge": {"value": "v", "pin": "1234", "issuer": "HR", "kind": "k"}}})
            .as_object()
            .unwrap()
            .clone()
        };
        let run = |a: Option<&str>, e: Option<&str>| {
            let mut d = doc();
            Projection::parse(a, e).unwrap().apply(&r, &rt, &mut d);
            Value::Object(d)
        };
        // Default: request attributes and sub-attributes are not returned, never ones never.
        assert_eq!(
            run(None, None)[ext_id],
            json!({"badge": {"value": "v", "kind": "k"}})
        );
        // Named: returned.
        let out = run(
            Some(&format!("{ext_id}:secret,{ext_id}:badge.issuer")),
            None,
        );
        assert_eq!(
            out[ext_id],
            json!({"secret": "s", "badge": {"issuer": "HR", "kind": "k"}})
        );
        let out = run(Some(&format!("{ext_id}:badge,{ext_id}:badge.pin")), None);
        assert_eq!(out[ext_id], json!({"badge": {"value": "v", "kind": "k"}}));
        // `always` sub-attributes survive exclusion.
        let out = run(
            None,
            Some(&format!("{ext_id}:badge.kind,{ext_id}:badge.value")),
        );
        assert_eq!(out[ext_id], json!({"badge": {"kind": "k"}}));
        assert_eq!(out["schemas"], json!([USER_SCHEMA, ext_id]));
        // An extension with anything the default drops is not verbatim.
        let verbatim = VerbatimKeys::new(&r, &rt);
        assert!(!verbatim.contains(ext_id));
        assert!(verbatim.contains("userName") && verbatim.contains(ENTERPRISE_USER_SCHEMA));
    }

    #[test]
    fn verbatim_keys_are_left_alone_by_the_default_projection() {
        let r = Registry::builtin();
        for (kind, doc) in [("User", user_doc()), ("Group", group_doc())] {
            let rt = r.resource_type(kind).unwrap().clone();
            let verbatim = VerbatimKeys::new(&r, &rt);
            let mut kept = doc.clone();
            kept.retain(|k, _| verbatim.contains(k));
            assert!(kept.len() + 2 >= doc.len(), "{kind}: {kept:?}");
            let mut projected = kept.clone();
            Projection::default().apply(&r, &rt, &mut projected);
            projected.shift_remove("schemas");
            assert_eq!(projected, kept, "{kind}");
        }
        let rt = r.resource_type("User").unwrap().clone();
        let verbatim = VerbatimKeys::new(&r, &rt);
        for key in [
            "id",
            "meta",
            "externalId",
            "userName",
            "name",
            "emails",
            "groups",
        ] {
            assert!(verbatim.contains(key), "{key}");
        }
        assert!(verbatim.contains(ENTERPRISE_USER_SCHEMA));
        assert!(!verbatim.contains("password") && !verbatim.contains("username"));
        let verbatim = verbatim.without(&["id", "meta"]);
        assert!(!verbatim.contains("id") && !verbatim.contains("meta"));
    }

    #[test]
    fn unknown_keys_and_names() {
        let mut doc = user_doc();
        doc.insert("legacyThing".into(), json!(1));
        let out = project(doc.clone(), "User", None, Some("notAnAttribute"));
        assert_eq!(out["legacyThing"], json!(1));
        let out = project(doc, "User", Some("userName,notAnAttribute"), None);
        assert!(out.get("legacyThing").is_none());
        assert_eq!(keys(&out), ["schemas", "id", "userName"]);
    }

    #[test]
    fn bad_paths_are_invalid_path() {
        for bad in [
            "emails[type eq \"work\"]",
            "a.b.c",
            "1abc",
            "name..x",
            "user name",
        ] {
            let e = Projection::parse(Some(bad), None).unwrap_err();
            assert!(matches!(e, Error::InvalidPath(_)), "{bad}: {e:?}");
            let e = Projection::parse(None, Some(bad)).unwrap_err();
            assert!(matches!(e, Error::InvalidPath(_)), "{bad}: {e:?}");
        }
        assert!(Projection::parse(Some("userName,,"), None).is_ok());
    }

    #[test]
    fn from_lists_matches_parse() {
        let a =
            Projection::from_lists(&["userName".into(), "emails.value, name".into()], &[]).unwrap();
        let b = Projection::parse(Some("userName,emails.value,name"), None).unwrap();
        assert_eq!(a, b);
        let e = Projection::from_lists(&[], &["members".into()]).unwrap();
        assert_eq!(e, Projection::parse(None, Some("members")).unwrap());
        assert!(Projection::from_lists(&[], &[]).unwrap().is_default());
    }
}
