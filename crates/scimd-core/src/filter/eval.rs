//! In-memory filter evaluation (RFC 7644 §3.4.2.2) and schema validation of filters.
//!
//! This is the reference semantics: the storage layer's SQL translation is tested against
//! it. The rules (docs/ARCHITECTURE.md, "Filters"):
//! - a comparison on a multi-valued attribute matches if any value matches;
//! - a complex attribute compared without a sub-attribute compares its `value`;
//! - `ne` is `not eq` (an absent attribute is not equal to anything);
//! - `eq null` is `not pr`, `ne null` is `pr`;
//! - `pr` is false for absent, `null`, `""`, `[]`, `{}` (and objects or arrays holding only
//!   such values);
//! - values are compared as [`Key`]s, so `caseExact` and dateTime instants are honoured.
//!
//! Evaluation does not short-circuit: both sides of `and`/`or` are always evaluated, so a
//! filter that is wrong for the schema fails on every document, not only on some.

use serde_json::{Map, Value};

use super::ast::{AttrPath, CompValue, CompareOp, Filter};
use super::key::{Key, comp_key, json_key};
use crate::error::{Error, Result};
use crate::schema::{AttributeDef, Registry, ResolvedAttr, ResourceType};

/// How deep [`is_present`] looks into nested JSON before calling a value present.
/// Resource documents are at most three levels deep; this only bounds hostile input.
const MAX_JSON_DEPTH: usize = 16;

/// Evaluates filters against resource documents of one resource type.
#[derive(Debug, Clone, Copy)]
pub struct Evaluator<'r> {
    registry: &'r Registry,
    rt: &'r ResourceType,
}

/// What a comparison tests once its operand has been checked against the schema.
enum Test {
    /// `pr`, `ne null` (`true`) or `eq null` (`false`).
    Present(bool),
    /// `op key`.
    Compare(CompareOp, Key),
}

impl Test {
    /// Whether the values found at the path satisfy the test.
    fn holds(&self, leaf: &AttributeDef, values: &[&Value]) -> bool {
        match self {
            Test::Present(want) => values.iter().any(|v| is_present(v, 0)) == *want,
            // `ne` is `not eq`: an absent attribute, or one with no equal value, is "not equal".
            Test::Compare(CompareOp::Ne, key) => !values
                .iter()
                .filter_map(|v| json_key(leaf, v))
                .any(|k| k.satisfies(CompareOp::Eq, key)),
            Test::Compare(op, key) => values
                .iter()
                .filter_map(|v| json_key(leaf, v))
                .any(|k| k.satisfies(*op, key)),
        }
    }
}

/// The comparison leaf for `attr` (with optional `sub`): the sub-attribute, the `value`
/// sub-attribute of a complex attribute named alone, or the attribute itself.
fn compare_leaf<'a>(
    attr: &'a AttributeDef,
    sub: Option<&'a AttributeDef>,
    shown: &AttrPath,
) -> Result<(&'a AttributeDef, bool)> {
    match sub {
        Some(s) => Ok((s, false)),
        None if attr.is_complex() => {
            attr.sub_attribute("value")
                .map(|v| (v, true))
                .ok_or_else(|| {
                    Error::invalid_filter(
                        0,
                        format!("complex attribute {shown} has no value; name a sub-attribute"),
                    )
                })
        }
        None => Ok((attr, false)),
    }
}

/// `eq null` (`Some(false)`: must be absent) and `ne null` (`Some(true)`: must be present)
/// are presence tests on the attribute itself, whatever its type.
fn presence_test(op: CompareOp, value: &CompValue) -> Option<bool> {
    match (op, value) {
        (CompareOp::Eq, CompValue::Null) => Some(false),
        (CompareOp::Ne, CompValue::Null) => Some(true),
        _ => None,
    }
}

/// Whether a JSON value counts as present for `pr`.
fn is_present(v: &Value, depth: usize) -> bool {
    if depth > MAX_JSON_DEPTH {
        return true;
    }
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => a.iter().any(|x| is_present(x, depth + 1)),
        Value::Object(o) => o.values().any(|x| is_present(x, depth + 1)),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

/// A member of `map` by canonical name, falling back to a case-insensitive match
/// (documents are stored in canonical case, but may come from elsewhere).
fn member<'v>(map: &'v Map<String, Value>, name: &str) -> Option<&'v Value> {
    map.get(name).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// Pushes `v`, or each element of `v` if it is an array.
fn push_flat<'v>(out: &mut Vec<&'v Value>, v: &'v Value) {
    match v {
        Value::Array(items) => out.extend(items.iter()),
        other => out.push(other),
    }
}

/// The elements of an attribute value: each array item, or the value itself.
fn elements(v: &Value) -> impl Iterator<Item = &Value> {
    let (items, single) = match v {
        Value::Array(a) => (a.as_slice(), None),
        other => (&[][..], Some(other)),
    };
    items.iter().chain(single)
}

/// The values of sub-attribute `sub` across all elements of `value`.
fn sub_values<'v>(value: &'v Value, sub: &str) -> Vec<&'v Value> {
    let mut out = Vec::new();
    for el in elements(value) {
        if let Some(v) = el.as_object().and_then(|o| member(o, sub)) {
            push_flat(&mut out, v);
        }
    }
    out
}

impl<'r> Evaluator<'r> {
    /// An evaluator for documents of `rt`.
    pub fn new(registry: &'r Registry, rt: &'r ResourceType) -> Self {
        Self { registry, rt }
    }

    /// Whether `doc` (a resource document: core attributes at the top level, extension
    /// attributes under their schema URN) matches `filter`.
    ///
    /// Fails with [`Error::InvalidFilter`] when the filter names an unknown attribute or
    /// uses an operator or value that does not fit an attribute's type.
    pub fn matches(&self, doc: &Map<String, Value>, filter: &Filter) -> Result<bool> {
        match filter {
            Filter::And(a, b) => {
                let (a, b) = (self.matches(doc, a)?, self.matches(doc, b)?);
                Ok(a && b)
            }
            Filter::Or(a, b) => {
                let (a, b) = (self.matches(doc, a)?, self.matches(doc, b)?);
                Ok(a || b)
            }
            Filter::Not(inner) => Ok(!self.matches(doc, inner)?),
            Filter::Present(path) => {
                let resolved = self.resolve(path)?;
                let values = self.values(doc, &resolved);
                Ok(Test::Present(true).holds(resolved.leaf(), &values))
            }
            Filter::Compare { path, op, value } => {
                let resolved = self.resolve(path)?;
                let mut values = self.values(doc, &resolved);
                if let Some(want) = presence_test(*op, value) {
                    return Ok(Test::Present(want).holds(resolved.leaf(), &values));
                }
                let (leaf, via_value) = compare_leaf(resolved.attr, resolved.sub, path)?;
                let test = Test::Compare(*op, comp_key(leaf, *op, value)?);
                if via_value {
                    // `emails co "x"` compares each element's `value`.
                    values = values
                        .into_iter()
                        .filter_map(|el| el.as_object().and_then(|o| member(o, &leaf.name)))
                        .collect();
                }
                Ok(test.holds(leaf, &values))
            }
            Filter::ValuePath { path, filter } => {
                let resolved = self.resolve(path)?;
                if resolved.sub.is_some() {
                    return Err(Error::invalid_filter(
                        0,
                        format!("a value filter cannot follow the sub-attribute in {path}"),
                    ));
                }
                let attr = resolved.attr;
                // Check the inner filter even when the attribute is absent.
                validate_element_filter(attr, filter)?;
                let Some(value) = self.attribute(doc, &resolved) else {
                    return Ok(false);
                };
                let mut any = false;
                for el in elements(value) {
                    any |= self.element_matches(attr, el, filter)?;
                }
                Ok(any)
            }
        }
    }

    /// Whether one element of attribute `attr` (an item of a multi-valued attribute, or
    /// the object of a single-valued complex one) satisfies `filter`, whose paths name
    /// sub-attributes of the element (`type eq "work"`). For a multi-valued attribute of
    /// simple values, `value` names the element itself. Used by PATCH value paths.
    pub fn element_matches(
        &self,
        attr: &AttributeDef,
        element: &Value,
        filter: &Filter,
    ) -> Result<bool> {
        match filter {
            Filter::And(a, b) => {
                let (a, b) = (
                    self.element_matches(attr, element, a)?,
                    self.element_matches(attr, element, b)?,
                );
                Ok(a && b)
            }
            Filter::Or(a, b) => {
                let (a, b) = (
                    self.element_matches(attr, element, a)?,
                    self.element_matches(attr, element, b)?,
                );
                Ok(a || b)
            }
            Filter::Not(inner) => Ok(!self.element_matches(attr, element, inner)?),
            Filter::Present(path) => {
                let (leaf, values) = element_values(attr, element, path)?;
                Ok(Test::Present(true).holds(leaf, &values))
            }
            Filter::Compare { path, op, value } => {
                let (leaf, values) = element_values(attr, element, path)?;
                let test = match presence_test(*op, value) {
                    Some(want) => Test::Present(want),
                    None => Test::Compare(*op, comp_key(leaf, *op, value)?),
                };
                Ok(test.holds(leaf, &values))
            }
            Filter::ValuePath { path, .. } => Err(Error::invalid_filter(
                0,
                format!(
                    "value filters cannot be nested ({path} inside {})",
                    attr.name
                ),
            )),
        }
    }

    fn resolve(&self, path: &AttrPath) -> Result<ResolvedAttr<'r>> {
        resolve(self.registry, self.rt, path)
    }

    /// The attribute's value in `doc`, from the top level or the extension's object.
    fn attribute<'v>(
        &self,
        doc: &'v Map<String, Value>,
        resolved: &ResolvedAttr<'_>,
    ) -> Option<&'v Value> {
        let container = match resolved.container_key() {
            None => doc,
            Some(urn) => member(doc, urn)?.as_object()?,
        };
        member(container, &resolved.attr.name)
    }

    /// Every value at the resolved path: the attribute's values (array items flattened),
    /// or, with a sub-attribute, that sub-attribute's values in every element.
    fn values<'v>(
        &self,
        doc: &'v Map<String, Value>,
        resolved: &ResolvedAttr<'_>,
    ) -> Vec<&'v Value> {
        let Some(value) = self.attribute(doc, resolved) else {
            return Vec::new();
        };
        match resolved.sub {
            Some(sub) => sub_values(value, &sub.name),
            None => {
                let mut out = Vec::new();
                push_flat(&mut out, value);
                out
            }
        }
    }
}

/// The leaf definition and values of a path relative to one element of `attr`.
fn element_values<'a, 'v>(
    attr: &'a AttributeDef,
    element: &'v Value,
    path: &AttrPath,
) -> Result<(&'a AttributeDef, Vec<&'v Value>)> {
    let leaf = element_leaf(attr, path)?;
    let mut values = Vec::new();
    if std::ptr::eq(leaf, attr) {
        // A simple multi-valued attribute: `value` is the element itself.
        push_flat(&mut values, element);
    } else if let Some(v) = element.as_object().and_then(|o| member(o, &leaf.name)) {
        push_flat(&mut values, v);
    }
    Ok((leaf, values))
}

/// The definition a path inside `attr[...]` names: a sub-attribute of `attr`, or `attr`
/// itself for `value` on a multi-valued attribute of simple values.
fn element_leaf<'a>(attr: &'a AttributeDef, path: &AttrPath) -> Result<&'a AttributeDef> {
    let unknown = || {
        Error::invalid_filter(
            0,
            format!("unknown attribute {}.{path} in value filter", attr.name),
        )
    };
    if path.urn.is_some() || path.sub.is_some() {
        return Err(unknown());
    }
    if attr.is_complex() {
        attr.sub_attribute(&path.name).ok_or_else(unknown)
    } else if path.name.eq_ignore_ascii_case("value") {
        Ok(attr)
    } else {
        Err(unknown())
    }
}

/// Checks a value filter's paths and operators against `attr`'s sub-attributes.
fn validate_element_filter(attr: &AttributeDef, filter: &Filter) -> Result<()> {
    match filter {
        Filter::And(a, b) | Filter::Or(a, b) => {
            validate_element_filter(attr, a)?;
            validate_element_filter(attr, b)
        }
        Filter::Not(inner) => validate_element_filter(attr, inner),
        Filter::Present(path) => element_leaf(attr, path).map(|_| ()),
        Filter::Compare { path, op, value } => {
            let leaf = element_leaf(attr, path)?;
            if presence_test(*op, value).is_some() {
                return Ok(());
            }
            comp_key(leaf, *op, value).map(|_| ())
        }
        Filter::ValuePath { path, .. } => Err(Error::invalid_filter(
            0,
            format!(
                "value filters cannot be nested ({path} inside {})",
                attr.name
            ),
        )),
    }
}

/// Resolves a filter path, reporting unknown attributes as `invalidFilter`.
fn resolve<'r>(
    registry: &'r Registry,
    rt: &ResourceType,
    path: &AttrPath,
) -> Result<ResolvedAttr<'r>> {
    registry
        .resolve(rt, path)
        .map_err(|_| Error::invalid_filter(0, format!("unknown attribute {path}")))
}

/// Checks that every path in `filter` resolves against `rt` and every operator and value
/// fits its attribute's type. Unknown attributes and misfits are [`Error::InvalidFilter`]
/// naming the attribute (position 0: the AST does not keep positions).
pub fn validate(registry: &Registry, rt: &ResourceType, filter: &Filter) -> Result<()> {
    match filter {
        Filter::And(a, b) | Filter::Or(a, b) => {
            validate(registry, rt, a)?;
            validate(registry, rt, b)
        }
        Filter::Not(inner) => validate(registry, rt, inner),
        Filter::Present(path) => resolve(registry, rt, path).map(|_| ()),
        Filter::Compare { path, op, value } => {
            let resolved = resolve(registry, rt, path)?;
            if presence_test(*op, value).is_some() {
                return Ok(());
            }
            let (leaf, _) = compare_leaf(resolved.attr, resolved.sub, path)?;
            comp_key(leaf, *op, value).map(|_| ())
        }
        Filter::ValuePath { path, filter } => {
            let resolved = resolve(registry, rt, path)?;
            if resolved.sub.is_some() {
                return Err(Error::invalid_filter(
                    0,
                    format!("a value filter cannot follow the sub-attribute in {path}"),
                ));
            }
            validate_element_filter(resolved.attr, filter)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use serde_json::json;

    use super::*;
    use crate::filter::parse_filter;
    use crate::schema::AttributeType;

    fn registry() -> Registry {
        Registry::builtin()
    }

    fn doc() -> Map<String, Value> {
        json!({
            "userName": "BJensen@Example.com",
            "externalId": "Ext-001",
            "name": {"givenName": "Barbara", "familyName": "O'Malley"},
            "title": "Tour Guide",
            "userType": "Employee",
            "active": true,
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "phoneNumbers": [{"value": "555-555-8377", "type": "work"}],
            "meta": {
                "created": "2010-01-23T04:56:22Z",
                "lastModified": "2026-03-01T12:30:00.1234567+02:00"
            },
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                "employeeNumber": "701984",
                "costCenter": "4130",
                "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}
            },
            "groups": [{"value": "g-1", "display": "Tour Guides"}]
        })
        .as_object()
        .cloned()
        .unwrap()
    }

    fn check(filter: &str) -> bool {
        let reg = registry();
        let rt = reg.resource_type("User").unwrap();
        let f = parse_filter(filter).unwrap_or_else(|e| panic!("{filter}: {e}"));
        validate(&reg, rt, &f).unwrap_or_else(|e| panic!("{filter}: {e}"));
        Evaluator::new(&reg, rt)
            .matches(&doc(), &f)
            .unwrap_or_else(|e| panic!("{filter}: {e}"))
    }

    fn fails(filter: &str) -> Error {
        let reg = registry();
        let rt = reg.resource_type("User").unwrap();
        let f = parse_filter(filter).unwrap();
        let v = validate(&reg, rt, &f).unwrap_err();
        let e = Evaluator::new(&reg, rt).matches(&doc(), &f).unwrap_err();
        assert_eq!(v, e, "validate and evaluate disagree on {filter}");
        assert!(matches!(e, Error::InvalidFilter { .. }), "{filter}: {e:?}");
        e
    }

    #[test]
    fn rfc_examples_against_a_document() {
        assert!(check(r#"userName eq "bjensen@example.com""#));
        assert!(check(r#"name.familyName co "O'Malley""#));
        assert!(check(r#"name.familyName co "o'mal""#));
        assert!(check(r#"userName sw "B""#));
        assert!(check(
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "bj""#
        ));
        assert!(check("title pr"));
        assert!(!check("nickName pr"));
        assert!(check(r#"meta.lastModified gt "2011-05-13T04:42:34Z""#));
        assert!(!check(r#"meta.lastModified lt "2011-05-13T04:42:34Z""#));
        assert!(check(r#"title pr and userType eq "Employee""#));
        assert!(check(r#"title pr or userType eq "Intern""#));
        assert!(check(
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#
        ));
        assert!(!check(
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#
        ));
        assert!(check(
            r#"userType eq "Employee" and (emails.type eq "work")"#
        ));
        assert!(check(
            r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#
        ));
        assert!(check(
            r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#
        ));
    }

    #[test]
    fn case_exact_is_honoured() {
        // userName is caseExact=false (Okta probes with upper case); externalId is caseExact.
        assert!(check(r#"userName eq "BJENSEN@EXAMPLE.COM""#));
        assert!(check(r#"externalId eq "Ext-001""#));
        assert!(!check(r#"externalId eq "ext-001""#));
        assert!(!check("externalId eq ext-001"));
        assert!(check("externalId eq Ext-001"));
        assert!(check(r#"id pr or externalId sw "Ext""#));
        assert!(!check(r#"externalId sw "ext""#));
    }

    #[test]
    fn multi_valued_any_match_and_value_paths() {
        assert!(check(r#"emails.value eq "babs@jensen.org""#));
        assert!(check(r#"emails eq "babs@jensen.org""#));
        assert!(check(r#"emails.type eq "home""#));
        // Uncorrelated: some email is work, some email ends with .org.
        assert!(check(r#"emails.type eq "work" and emails.value ew ".org""#));
        // Correlated within one element.
        assert!(!check(r#"emails[type eq "work" and value ew ".org"]"#));
        assert!(check(r#"emails[type eq "home" and value ew ".org"]"#));
        // Entra's form.
        assert!(check(
            r#"emails[type eq "work"].value eq "BJensen@example.com""#
        ));
        assert!(!check(
            r#"emails[type eq "home"].value eq "bjensen@example.com""#
        ));
        assert!(check(r#"emails[primary eq true].value sw "bjensen""#));
        assert!(check(
            r#"emails[not (primary pr)].value eq "babs@jensen.org""#
        ));
        // `ne` is `not eq` over all values.
        assert!(!check(r#"emails.type ne "home""#));
        assert!(check(r#"emails.type ne "other""#));
        assert!(check(r#"phoneNumbers[type eq "work" and value co "8377"]"#));
        // Derived attributes are still evaluated when present in the map.
        assert!(check(r#"groups.value eq "g-1""#));
        assert!(check(r#"groups[display sw "tour"]"#));
    }

    #[test]
    fn extension_and_common_attributes() {
        assert!(check(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#
        ));
        assert!(check(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d""#
        ));
        // A complex attribute named alone compares its `value`.
        assert!(check(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager sw "26118915""#
        ));
        assert!(check(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager pr"#
        ));
        // Without the URN, an extension attribute is not a core attribute.
        assert!(matches!(
            fails(r#"employeeNumber eq "701984""#),
            Error::InvalidFilter { message, .. } if message.contains("employeeNumber")
        ));
        // SCIM 1.1 alias (OneLogin).
        assert!(check(
            r#"urn:scim:schemas:extension:enterprise:1.0:costCenter eq "4130""#
        ));
    }

    #[test]
    fn dates_compare_as_instants() {
        // Stored as 10:30 UTC with a +02:00 offset and 7 fractional digits.
        assert!(check(
            r#"meta.lastModified eq "2026-03-01T10:30:00.123456Z""#
        ));
        assert!(check(r#"meta.lastModified gt "2026-03-01T10:30:00Z""#));
        assert!(check(r#"meta.lastModified lt "2026-03-01T11:30:00+00:30""#));
        assert!(!check(
            r#"meta.lastModified lt "2026-03-01T11:00:00+01:00""#
        ));
        assert!(check(
            r#"meta.lastModified le "2026-03-01T11:30:00.123456+01:00""#
        ));
        // Entra's reader filter.
        assert!(check(
            r#"active eq true and (meta.lastModified ge "0001-01-03T00:00:00.0000000Z" and meta.lastModified le "2026-12-31T00:00:00.0000000Z")"#
        ));
        assert!(check(
            r#"(ActiVe eq true) and meta.lastmodified ge "2026-01-01T00:00:00Z""#
        ));
        assert!(matches!(
            fails(r#"meta.lastModified gt "yesterday""#),
            Error::InvalidFilter { .. }
        ));
    }

    #[test]
    fn booleans_numbers_and_null() {
        assert!(check("active eq true"));
        assert!(check(r#"active eq "True""#));
        assert!(!check("active eq false"));
        assert!(check("active ne false"));
        assert!(!check(r#"title eq null"#));
        assert!(check(r#"nickName eq null"#));
        assert!(check(r#"title ne null"#));
        assert!(!check(r#"nickName ne null"#));
        // Numbers given for string attributes compare as text.
        assert!(check(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq 701984"
        ));
        fails("active gt true");
        fails("active co \"t\"");
        fails("active eq \"yes\"");
        fails("meta.lastModified sw \"2026\"");
        fails("title gt null");
        fails("name eq \"x\"");
        assert!(check("name ne null"));
        assert!(!check("name eq null"));
    }

    #[test]
    fn unknown_attributes_are_invalid_filters() {
        let e = fails(r#"favouriteColour eq "blue""#);
        assert!(e.to_string().contains("favouriteColour"), "{e}");
        fails(r#"name.middle eq "x""#);
        fails(r#"emails[kind eq "work"]"#);
        fails(r#"urn:example:unknown:thing eq "x""#);
        // An invalid branch fails even when the other side already decides the result.
        fails(r#"userName pr or bogus pr"#);
    }

    #[test]
    fn presence_of_empty_values() {
        let reg = registry();
        let rt = reg.resource_type("User").unwrap();
        let ev = Evaluator::new(&reg, rt);
        let d = json!({
            "title": "",
            "emails": [],
            "name": {"givenName": null},
            "phoneNumbers": [{"value": ""}],
            "nickName": null,
            "displayName": "x"
        });
        let d = d.as_object().unwrap();
        for absent in [
            "title",
            "emails",
            "name",
            "phoneNumbers",
            "nickName",
            "userType",
            "name.givenName",
        ] {
            let f = parse_filter(&format!("{absent} pr")).unwrap();
            assert!(!ev.matches(d, &f).unwrap(), "{absent}");
            let f = parse_filter(&format!("{absent} eq null")).unwrap();
            assert!(ev.matches(d, &f).unwrap(), "{absent}");
        }
        assert!(
            ev.matches(d, &parse_filter("displayName pr").unwrap())
                .unwrap()
        );
        assert!(
            ev.matches(d, &parse_filter(r#"title ne "x""#).unwrap())
                .unwrap()
        );
    }

    #[test]
    fn element_matches_for_patch() {
        let reg = registry();
        let rt = reg.resource_type("User").unwrap();
        let ev = Evaluator::new(&reg, rt);
        let emails = reg.resolve(rt, &AttrPath::simple("emails")).unwrap().attr;
        let work = json!({"value": "A@x.com", "type": "Work", "primary": "true"});
        let f = |s: &str| parse_filter(s).unwrap();
        assert!(
            ev.element_matches(emails, &work, &f(r#"type eq "work""#))
                .unwrap()
        );
        assert!(
            ev.element_matches(emails, &work, &f("primary eq true"))
                .unwrap()
        );
        assert!(
            ev.element_matches(
                emails,
                &work,
                &f(r#"value eq "a@x.com" and not (type eq "home")"#)
            )
            .unwrap()
        );
        assert!(
            !ev.element_matches(emails, &work, &f(r#"type eq "home""#))
                .unwrap()
        );
        assert!(
            ev.element_matches(emails, &work, &f(r#"display eq null"#))
                .unwrap()
        );
        assert!(
            ev.element_matches(emails, &work, &f(r#"kind eq "x""#))
                .is_err()
        );
        assert!(
            ev.element_matches(emails, &work, &f(r#"x[y eq 1]"#))
                .is_err()
        );
        // A multi-valued attribute of simple values: `value` is the element.
        let mut tags = AttributeDef::new("tags", AttributeType::String);
        tags.multi_valued = true;
        assert!(
            ev.element_matches(&tags, &json!("Blue"), &f(r#"value eq "blue""#))
                .unwrap()
        );
        assert!(
            ev.element_matches(&tags, &json!("Blue"), &f(r#"other eq "blue""#))
                .is_err()
        );
    }
}
