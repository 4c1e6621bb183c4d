//! The `sortBy` / `sortOrder` comparator (RFC 7644 §3.4.2.3).
//!
//! Values compare through [`crate::filter::key::json_key`], the one definition of how SCIM
//! values compare, so an in-memory sort and the SQL store's `ORDER BY` agree: text ignores
//! case unless the attribute is `caseExact`, numbers and dateTimes compare as numbers and
//! instants.
//!
//! The rule, from RFC 7644 §3.4.2.3, which the SQL store implements identically:
//! - a singular attribute sorts by its value; a complex attribute named without a
//!   sub-attribute sorts by its `value` sub-attribute (as filters compare it);
//! - a multi-valued attribute sorts by "the value of the primary attribute, if any, or else
//!   the first value in the list, if any" — the element with `primary: true`, else the first
//!   element, and then that element's sub-attribute (`emails.type`) or `value`;
//! - "if there is no data for the specified sortBy value, they are sorted via the sortOrder
//!   parameter, i.e., they are ordered last if ascending and first if descending" — so
//!   descending is exactly the reverse of ascending;
//! - resources with equal keys compare `Equal`; callers break ties with a stable key (the
//!   store uses its insertion sequence) so that pages do not overlap.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::filter::key::{Key, json_key};
use crate::filter::{AttrPath, parse_attr_path};
use crate::schema::{Registry, ResourceType};

/// `sortOrder` is defined with the other list parameters in [`crate::message`]; it is
/// re-exported here so that a [`SortSpec`] is self-contained.
pub use crate::message::SortOrder;

/// A sort request: the attribute and the direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortSpec {
    pub path: AttrPath,
    pub order: SortOrder,
}

impl SortSpec {
    /// Builds a spec from the `sortBy` and `sortOrder` parameters; an absent order is
    /// ascending (RFC 7644 §3.4.2.3). Errors: [`Error::InvalidPath`] for a malformed path.
    pub fn parse(sort_by: &str, order: Option<SortOrder>) -> Result<Self> {
        Ok(Self {
            path: parse_attr_path(sort_by)?,
            order: order.unwrap_or_default(),
        })
    }
}

/// Checks that `spec.path` names something sortable on `rt`: it must resolve, and a complex
/// attribute named without a sub-attribute must have a `value` sub-attribute
/// (`sortBy=name` is meaningless; `sortBy=name.givenName` is the RFC's example).
/// Errors: [`Error::InvalidPath`].
pub fn check(registry: &Registry, rt: &ResourceType, spec: &SortSpec) -> Result<()> {
    let resolved = registry.resolve(rt, &spec.path)?;
    if resolved.sub.is_none()
        && resolved.attr.is_complex()
        && resolved.attr.sub_attribute("value").is_none()
    {
        return Err(Error::invalid_path(format!(
            "cannot sort by the complex attribute '{}'; name a sub-attribute",
            resolved.canonical_path()
        )));
    }
    Ok(())
}

/// The key a resource sorts by under `path`, or `None` when it has no data there (or the
/// path does not resolve on `rt`).
pub fn sort_key(
    registry: &Registry,
    rt: &ResourceType,
    doc: &Map<String, Value>,
    path: &AttrPath,
) -> Option<Key> {
    let resolved = registry.resolve(rt, path).ok()?;
    let container = match resolved.container_key() {
        None => doc,
        Some(urn) => doc.get(urn)?.as_object()?,
    };
    let attr = resolved.attr;
    let mut value = container.get(&attr.name)?;
    if attr.multi_valued {
        let items = value.as_array()?;
        value = items
            .iter()
            .find(|e| e.get("primary") == Some(&Value::Bool(true)))
            .or_else(|| items.first())?;
    }
    if !attr.is_complex() {
        return json_key(attr, value);
    }
    let leaf = match resolved.sub {
        Some(sub) => sub,
        None => attr.sub_attribute("value")?,
    };
    json_key(leaf, value.as_object()?.get(&leaf.name)?)
}

/// Orders two resources by `spec` (RFC 7644 §3.4.2.3; the rule is in the module docs).
///
/// Keys of different kinds (possible only for values stored against a different schema)
/// order by [`Key::total_cmp`], so the comparison is always a total order.
pub fn compare(
    registry: &Registry,
    rt: &ResourceType,
    a: &Map<String, Value>,
    b: &Map<String, Value>,
    spec: &SortSpec,
) -> Ordering {
    let ka = sort_key(registry, rt, a, &spec.path);
    let kb = sort_key(registry, rt, b, &spec.path);
    let ascending = match (&ka, &kb) {
        (Some(x), Some(y)) => x.total_cmp(y),
        // No data sorts last when ascending (and so first when descending).
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (None, None) => Ordering::Equal,
    };
    match spec.order {
        SortOrder::Ascending => ascending,
        SortOrder::Descending => ascending.reverse(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use serde_json::json;

    use super::*;
    use crate::schema::ENTERPRISE_USER_SCHEMA;

    fn docs(values: Vec<Value>) -> Vec<Map<String, Value>> {
        values
            .into_iter()
            .map(|v| v.as_object().unwrap().clone())
            .collect()
    }

    /// Sorts by `path` and returns each document's `id`.
    fn sorted(values: Vec<Value>, path: AttrPath, order: SortOrder) -> Vec<String> {
        let r = Registry::builtin();
        let rt = r.resource_type("User").unwrap().clone();
        let spec = SortSpec { path, order };
        let mut d = docs(values);
        d.sort_by(|a, b| compare(&r, &rt, a, b, &spec));
        d.iter()
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn spec_from_parameters() {
        let spec = SortSpec::parse(" name.givenName ", None).unwrap();
        assert_eq!(spec.path, AttrPath::with_sub("name", "givenName"));
        assert_eq!(spec.order, SortOrder::Ascending);
        let spec = SortSpec::parse(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            Some(SortOrder::Descending),
        )
        .unwrap();
        assert_eq!(spec.path.urn.as_deref(), Some(ENTERPRISE_USER_SCHEMA));
        assert_eq!(spec.order, SortOrder::Descending);
        assert!(matches!(
            SortSpec::parse("emails[type eq \"work\"]", None),
            Err(Error::InvalidPath(_))
        ));
    }

    #[test]
    fn strings_ignore_case_and_missing_values_go_last_then_first() {
        let values = || {
            vec![
                json!({"id": "1", "userName": "bob"}),
                json!({"id": "2"}),
                json!({"id": "3", "userName": "Alice"}),
                json!({"id": "4", "userName": "carol"}),
            ]
        };
        assert_eq!(
            sorted(values(), AttrPath::simple("USERNAME"), SortOrder::Ascending),
            ["3", "1", "4", "2"]
        );
        assert_eq!(
            sorted(
                values(),
                AttrPath::simple("userName"),
                SortOrder::Descending
            ),
            ["2", "4", "1", "3"]
        );
    }

    #[test]
    fn case_exact_attributes_sort_by_code_point() {
        // externalId is caseExact: "B" (0x42) sorts before "a" (0x61).
        let values = vec![
            json!({"id": "1", "externalId": "a"}),
            json!({"id": "2", "externalId": "B"}),
        ];
        assert_eq!(
            sorted(values, AttrPath::simple("externalId"), SortOrder::Ascending),
            ["2", "1"]
        );
    }

    #[test]
    fn booleans_and_date_times_compare_by_type() {
        let values = vec![
            json!({"id": "1", "active": true}),
            json!({"id": "2", "active": false}),
        ];
        assert_eq!(
            sorted(values, AttrPath::simple("active"), SortOrder::Ascending),
            ["2", "1"]
        );
        // Instants, not strings: 10:00+02:00 is 08:00Z, before 09:00Z.
        let values = vec![
            json!({"id": "1", "meta": {"lastModified": "2026-01-01T09:00:00Z"}}),
            json!({"id": "2", "meta": {"lastModified": "2026-01-01T10:00:00+02:00"}}),
        ];
        assert_eq!(
            sorted(
                values,
                AttrPath::with_sub("meta", "lastModified"),
                SortOrder::Ascending
            ),
            ["2", "1"]
        );
    }

    #[test]
    fn multi_valued_uses_the_primary_else_the_first_value() {
        let values = || {
            vec![
                // Primary is "z…" although "a…" comes first.
                json!({"id": "1", "emails": [{"value": "a@x", "type": "home"}, {"value": "z@x", "type": "work", "primary": true}]}),
                // No primary: the first value.
                json!({"id": "2", "emails": [{"value": "m@x", "type": "other"}, {"value": "b@x"}]}),
                json!({"id": "3", "emails": []}),
                json!({"id": "4", "emails": [{"value": "c@x", "primary": false, "type": "work"}]}),
            ]
        };
        // `emails` alone means `emails.value`.
        assert_eq!(
            sorted(values(), AttrPath::simple("emails"), SortOrder::Ascending),
            ["4", "2", "1", "3"]
        );
        assert_eq!(
            sorted(
                values(),
                AttrPath::with_sub("emails", "value"),
                SortOrder::Descending
            ),
            ["3", "1", "2", "4"]
        );
        assert_eq!(
            sorted(
                values(),
                AttrPath::with_sub("emails", "type"),
                SortOrder::Ascending
            ),
            ["2", "1", "4", "3"]
        );
    }

    #[test]
    fn complex_and_extension_attributes() {
        let values = vec![
            json!({"id": "1", "name": {"givenName": "Zoe"}, ENTERPRISE_USER_SCHEMA: {"manager": {"value": "m2"}}}),
            json!({"id": "2", "name": {"givenName": "adam"}, ENTERPRISE_USER_SCHEMA: {"employeeNumber": "7"}}),
            json!({"id": "3", ENTERPRISE_USER_SCHEMA: {"manager": {"value": "M1"}}}),
        ];
        assert_eq!(
            sorted(
                values.clone(),
                AttrPath::with_sub("name", "givenName"),
                SortOrder::Ascending
            ),
            ["2", "1", "3"]
        );
        let manager = AttrPath {
            urn: Some(ENTERPRISE_USER_SCHEMA.into()),
            name: "manager".into(),
            sub: None,
        };
        assert_eq!(
            sorted(values, manager, SortOrder::Ascending),
            ["3", "1", "2"]
        );
    }

    #[test]
    fn unknown_paths_have_no_data_and_check_rejects_them() {
        let r = Registry::builtin();
        let rt = r.resource_type("User").unwrap().clone();
        let doc = docs(vec![json!({"userName": "a"})]).remove(0);
        assert_eq!(sort_key(&r, &rt, &doc, &AttrPath::simple("nope")), None);
        let spec = |path| SortSpec {
            path,
            order: SortOrder::Ascending,
        };
        assert!(matches!(
            check(&r, &rt, &spec(AttrPath::simple("nope"))),
            Err(Error::InvalidPath(_))
        ));
        assert!(matches!(
            check(&r, &rt, &spec(AttrPath::simple("name"))),
            Err(Error::InvalidPath(_))
        ));
        assert!(check(&r, &rt, &spec(AttrPath::with_sub("name", "familyName"))).is_ok());
        assert!(check(&r, &rt, &spec(AttrPath::simple("emails"))).is_ok());
        assert!(check(&r, &rt, &spec(AttrPath::simple("meta"))).is_err());
        assert!(check(&r, &rt, &spec(AttrPath::with_sub("meta", "created"))).is_ok());
    }

    #[test]
    fn equal_keys_compare_equal_so_a_stable_sort_keeps_input_order() {
        let values = vec![
            json!({"id": "1", "userName": "Same"}),
            json!({"id": "2", "userName": "same"}),
            json!({"id": "3"}),
            json!({"id": "4"}),
        ];
        assert_eq!(
            sorted(
                values.clone(),
                AttrPath::simple("userName"),
                SortOrder::Ascending
            ),
            ["1", "2", "3", "4"]
        );
        assert_eq!(
            sorted(values, AttrPath::simple("userName"), SortOrder::Descending),
            ["3", "4", "1", "2"]
        );
    }
}
