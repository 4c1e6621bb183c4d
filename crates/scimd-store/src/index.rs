//! Flattening a resource document into index rows.
//!
//! Filters (RFC 7644 §3.4.2.2) and sorting (§3.4.2.3) must run inside the database on
//! indexes, not by loading documents. Each leaf value of a stored document becomes one
//! [`IndexRow`] holding the value's comparison [`Key`] (from [`json_key`], the single
//! definition of how SCIM values compare): text and booleans in `text`, numbers and
//! dateTimes (microseconds) in `num`. Rows are keyed by the canonical lower-case path
//! (`emails.value`, `name.givenname`, `urn:…:enterprise:2.0:user:manager.value`) and the
//! element number inside a multi-valued attribute, so a value path such as
//! `emails[type eq "work" and value eq "x"]` can require both conditions of one element.
//!
//! Besides leaf rows there are *element rows* at the path of a complex attribute (`emails`):
//! one per element of a multi-valued complex attribute, and one for a singular complex
//! attribute, with `text` null and `num` 1 when the element is present in the sense of `pr`
//! (some member is), else 0. They make `emails pr` and value paths whose filter holds for
//! an element without naming a present sub-attribute (`emails[not (type eq "x")]`)
//! answerable from the index. A leaf whose value cannot be read as its type (which
//! validation prevents) but is present gets a row with both columns null, so `pr` sees it.
//!
//! Common attributes (`id`, `externalId`, `meta`) are not indexed here: backends keep them in
//! columns of the resource row.

use scimd_core::filter::{Key, json_key};
use scimd_core::schema::{AttrLocation, AttributeDef, Registry, ResourceType, Schema, USER_SCHEMA};
use serde_json::{Map, Value};

/// One indexed value of a resource.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexRow {
    /// Canonical lower-case path: `username`, `emails.value`, `name.givenname`,
    /// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:manager.value`.
    pub path: String,
    /// Element number (1-based) inside a multi-valued attribute; 0 otherwise.
    pub elem: i64,
    /// Text and boolean keys (`"true"`/`"false"`).
    pub text: Option<String>,
    /// Number keys, and dateTime keys as microseconds since the epoch.
    pub num: Option<f64>,
}

impl IndexRow {
    fn new(path: &str, elem: i64, key: Option<Key>) -> Self {
        let (text, num) = match key {
            Some(key) => key_columns(key),
            None => (None, None),
        };
        Self {
            path: path.to_owned(),
            elem,
            text,
            num,
        }
    }
}

/// The `(text, num)` columns of a key, as stored in the index and bound in filters.
pub fn key_columns(key: Key) -> (Option<String>, Option<f64>) {
    match key {
        Key::Text(s) => (Some(s), None),
        Key::Bool(b) => (Some(if b { "true" } else { "false" }.to_owned()), None),
        Key::Number(n) => (None, Some(n)),
        // Microsecond instants are far below 2^53, so the conversion is exact.
        Key::Time(t) => (None, Some(t as f64)),
    }
}

/// Whether a JSON value is "present" in the sense of the `pr` operator: not null, `""`,
/// `[]` or `{}` (RFC 7644 §3.4.2.2).
/// Arrays and objects are present when some item (or member) is, as in the evaluator.
pub fn is_present(value: &Value) -> bool {
    is_present_at(value, 0)
}

/// Documents are a few levels deep; this bounds hostile input (deeper counts as present).
const MAX_JSON_DEPTH: usize = 16;

fn is_present_at(value: &Value, depth: usize) -> bool {
    if depth > MAX_JSON_DEPTH {
        return true;
    }
    match value {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => a.iter().any(|v| is_present_at(v, depth + 1)),
        Value::Object(o) => o.values().any(|v| is_present_at(v, depth + 1)),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

/// The lower-case index path of an attribute (and sub-attribute) of `schema`.
pub fn index_path(
    schema: &Schema,
    location: AttrLocation,
    attr: &AttributeDef,
    sub: Option<&AttributeDef>,
) -> String {
    let mut out = String::new();
    if location == AttrLocation::Extension {
        out.push_str(&schema.id.to_ascii_lowercase());
        out.push(':');
    }
    out.push_str(&attr.name.to_ascii_lowercase());
    if let Some(sub) = sub {
        out.push('.');
        out.push_str(&sub.name.to_ascii_lowercase());
    }
    out
}

/// Whether `attr` of `schema` is the User `userName` compared case-insensitively (RFC 7643
/// §4.1.1), whose key — the lower-cased value — every backend already keeps in the uniquely
/// indexed `unique_key` column of the resource row. Filters and sorts on it read that
/// column, so it gets no index row: one B-tree entry less per created user, and a
/// `userName eq` lookup is one probe of the unique index.
pub fn in_unique_key_column(schema: &Schema, location: AttrLocation, attr: &AttributeDef) -> bool {
    location == AttrLocation::Core
        && schema.id == USER_SCHEMA
        && attr.name == "userName"
        && !attr.case_exact
}

/// Flattens a stored document of resource type `rt` into index rows.
///
/// Keys the registry does not know (and common attributes) are skipped, and so is a
/// `userName` kept in a column ([`in_unique_key_column`]); attribute names are matched
/// case-insensitively, so the rows do not depend on the document's spelling.
pub fn index_rows(
    registry: &Registry,
    rt: &ResourceType,
    document: &Map<String, Value>,
) -> Vec<IndexRow> {
    let mut rows = Vec::new();
    let Some(core) = registry.core_schema(rt) else {
        return rows;
    };
    for (key, value) in document {
        if let Some(attr) = core.attribute(key) {
            if !in_unique_key_column(core, AttrLocation::Core, attr) {
                index_attr(&mut rows, core, AttrLocation::Core, attr, value);
            }
        } else if let Some(ext) = registry.extension(rt, key) {
            let Value::Object(inner) = value else {
                continue;
            };
            for (name, v) in inner {
                if let Some(attr) = ext.attribute(name) {
                    index_attr(&mut rows, ext, AttrLocation::Extension, attr, v);
                }
            }
        }
    }
    rows
}

fn index_attr(
    rows: &mut Vec<IndexRow>,
    schema: &Schema,
    location: AttrLocation,
    attr: &AttributeDef,
    value: &Value,
) {
    let path = index_path(schema, location, attr, None);
    if attr.multi_valued {
        let elements: &[Value] = match value {
            Value::Array(a) => a,
            other => std::slice::from_ref(other),
        };
        // Element numbers count every element so they match the document's positions.
        for (i, element) in (1_i64..).zip(elements) {
            index_element(rows, schema, location, attr, &path, i, element);
        }
    } else if let (false, Value::Array(items)) = (attr.is_complex(), value) {
        // A list where one value belongs: the evaluator compares each item, so index each.
        for item in items {
            index_leaf(rows, attr, &path, 0, item);
        }
    } else {
        index_element(rows, schema, location, attr, &path, 0, value);
    }
}

fn index_element(
    rows: &mut Vec<IndexRow>,
    schema: &Schema,
    location: AttrLocation,
    attr: &AttributeDef,
    path: &str,
    elem: i64,
    value: &Value,
) {
    if !attr.is_complex() {
        index_leaf(rows, attr, path, elem, value);
        return;
    }
    // Every element gets an element row (value paths iterate every element); whether the
    // element is present (`emails pr`) is recorded in `num`.
    rows.push(IndexRow {
        path: path.to_owned(),
        elem,
        text: None,
        num: Some(if is_present(value) { 1.0 } else { 0.0 }),
    });
    let Value::Object(object) = value else {
        return;
    };
    for (name, v) in object {
        let Some(sub) = attr.sub_attribute(name) else {
            continue;
        };
        let sub_path = index_path(schema, location, attr, Some(sub));
        match v {
            Value::Array(items) => {
                for item in items {
                    index_leaf(rows, sub, &sub_path, elem, item);
                }
            }
            _ => index_leaf(rows, sub, &sub_path, elem, v),
        }
    }
}

fn index_leaf(rows: &mut Vec<IndexRow>, leaf: &AttributeDef, path: &str, elem: i64, value: &Value) {
    match json_key(leaf, value) {
        Some(key) => rows.push(IndexRow::new(path, elem, Some(key))),
        None if is_present(value) && !value.is_array() && !value.is_object() => {
            rows.push(IndexRow::new(path, elem, None));
        }
        None => {}
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use scimd_core::datetime::parse_rfc3339;
    use serde_json::json;

    use super::*;

    fn rows(doc: Value) -> Vec<IndexRow> {
        let registry = Registry::builtin();
        let rt = registry.resource_type("User").unwrap();
        index_rows(&registry, rt, doc.as_object().unwrap())
    }

    fn find<'a>(rows: &'a [IndexRow], path: &str) -> Vec<&'a IndexRow> {
        rows.iter().filter(|r| r.path == path).collect()
    }

    fn text(path: &str, elem: i64, t: &str) -> IndexRow {
        IndexRow {
            path: path.into(),
            elem,
            text: Some(t.into()),
            num: None,
        }
    }

    #[test]
    fn leaves_become_keys_under_lower_case_paths() {
        let r = rows(json!({
            "userName": "BJensen",
            "externalId": "Ext",
            "active": true,
            "name": {"givenName": "Barbara", "familyName": ""},
            "unknown": "skipped",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                "employeeNumber": "701984",
                "manager": {"value": "M-1"}
            }
        }));
        // userName lives in the resource row's unique_key column instead.
        assert!(find(&r, "username").is_empty());
        assert_eq!(find(&r, "active"), [&text("active", 0, "true")]);
        assert_eq!(
            find(&r, "name.givenname"),
            [&text("name.givenname", 0, "barbara")]
        );
        // An empty string is a value (`eq ""` matches it) but not present.
        assert_eq!(
            find(&r, "name.familyname"),
            [&text("name.familyname", 0, "")]
        );
        assert_eq!(find(&r, "name")[0].num, Some(1.0));
        let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user";
        assert_eq!(
            find(&r, &format!("{ent}:employeenumber"))[0]
                .text
                .as_deref(),
            Some("701984")
        );
        assert_eq!(
            find(&r, &format!("{ent}:manager.value"))[0].text.as_deref(),
            Some("m-1")
        );
        // Common attributes live in columns; unknown attributes are not indexed.
        assert!(find(&r, "externalid").is_empty());
        assert!(find(&r, "unknown").is_empty());
    }

    #[test]
    fn elements_are_numbered_and_marked() {
        let r = rows(json!({
            "emails": [
                {"value": "A@x.com", "type": "work", "primary": true},
                {"type": ""},
                {"value": "b@y.org"}
            ]
        }));
        let elements: Vec<(i64, Option<f64>)> =
            find(&r, "emails").iter().map(|r| (r.elem, r.num)).collect();
        assert_eq!(elements, [(1, Some(1.0)), (2, Some(0.0)), (3, Some(1.0))]);
        let values: Vec<(i64, &str)> = find(&r, "emails.value")
            .iter()
            .map(|r| (r.elem, r.text.as_deref().unwrap()))
            .collect();
        assert_eq!(values, [(1, "a@x.com"), (3, "b@y.org")]);
        assert_eq!(
            find(&r, "emails.primary"),
            [&text("emails.primary", 1, "true")]
        );
    }

    #[test]
    fn numbers_and_times_go_to_num() {
        let mut registry = Registry::builtin();
        let mut schemas = registry.schemas().to_vec();
        let core = schemas
            .iter_mut()
            .find(|s| s.id == scimd_core::schema::USER_SCHEMA)
            .unwrap();
        core.attributes.push(AttributeDef::new(
            "level",
            scimd_core::schema::AttributeType::Integer,
        ));
        core.attributes.push(AttributeDef::new(
            "hired",
            scimd_core::schema::AttributeType::DateTime,
        ));
        registry = Registry::from_parts(
            schemas,
            registry.resource_types().to_vec(),
            registry.common_schema().clone(),
        );
        let rt = registry.resource_type("User").unwrap();
        let doc = json!({"level": 7, "hired": "2024-01-01T12:00:00+02:00", "title": 5});
        let r = index_rows(&registry, rt, doc.as_object().unwrap());
        assert_eq!(find(&r, "level")[0].num, Some(7.0));
        let micros = parse_rfc3339("2024-01-01T10:00:00Z").unwrap();
        assert_eq!(find(&r, "hired")[0].num, Some(micros as f64));
        // A number under a string attribute compares as its text, as in the evaluator.
        assert_eq!(find(&r, "title"), [&text("title", 0, "5")]);
    }

    #[test]
    fn presence_follows_the_evaluator() {
        assert!(!is_present(&json!(null)));
        assert!(!is_present(&json!("")));
        assert!(!is_present(&json!([])));
        assert!(!is_present(&json!({})));
        assert!(!is_present(&json!([{"type": ""}, null])));
        assert!(is_present(&json!([{"type": "x"}])));
        assert!(is_present(&json!(false)));
        assert!(is_present(&json!(0)));
    }
}
