//! POST and PUT body validation and normalisation (RFC 7643 §2–§4, RFC 7644 §3.3 and §3.5.1).
//!
//! Every resource body a client sends passes through [`normalize_resource`] before it is
//! stored, and every PATCH value through [`normalize_value`]. The output is the *stored
//! document* of docs/ARCHITECTURE.md: attribute names in canonical case (RFC 7643 §2.1 makes
//! them case-insensitive), core attributes at the top level, extension attributes under the
//! canonical URN of their extension, and nothing the server derives (`id`, `meta`,
//! `schemas`, Group `members`, User `groups`) or must never store in clear (`password`).
//!
//! Two strictness levels ([`Mode`]):
//! - `Strict` follows the RFCs: wrong types, unknown attributes and unknown extensions are
//!   `400 invalidValue`, and a body without the core URN in `schemas` is `invalidSyntax`.
//! - `Compatible` (the default) also accepts what identity providers are known to send
//!   (/work/shared/idp-quirks.md §1–§3, §6): booleans and numbers inside strings, a single
//!   object where an array belongs (OneLogin `emails`), a bare id for `manager`, SCIM 1.1
//!   enterprise URNs and `managerId`, role values JSON-encoded inside a string (Entra),
//!   empty strings from unresolved template parameters, unknown attributes and extensions.
//!
//! In both modes `null`, `[]` and `{}` mean "absent" (RFC 7643 §2.5), readOnly attributes in
//! the input are ignored (RFC 7644 §3.5.1: "Any values provided SHALL be ignored"), unknown
//! URNs in `schemas` are tolerated, and `canonicalValues` are not enforced (RFC 7643 §7 says
//! SHOULD, and IdPs send other `type`s).
//!
//! Recursion follows the schema (attribute → sub-attribute), never the shape of the input,
//! so its depth is bounded by the catalogue; JSON-encoded strings are decoded one level only.

use std::borrow::Cow;

use serde_json::{Map, Number, Value};

use crate::datetime::parse_rfc3339;
use crate::error::{Error, Result};
use crate::filter::AttrPath;
use crate::resource::{MemberKind, MemberRef, Mode};
use crate::schema::{
    AttrLocation, AttributeDef, AttributeType, Mutability, Registry, ResolvedAttr, ResourceKind,
    ResourceType, Schema,
};

/// A normalised POST/PUT body.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Normalized {
    /// The stored document: canonical names, extension attributes under their canonical URN,
    /// without `id`, `meta`, `schemas`, `groups`, `members` or `password`.
    pub document: Map<String, Value>,
    /// Group members named in the body. `None` when the body has no `members` (or `null`);
    /// `Some(vec![])` for an explicit `"members": []`, so that a PUT can clear the list.
    /// Always `None` for resource types other than Group.
    pub members: Option<Vec<MemberRef>>,
    /// The cleartext password, for the caller to hash or discard. Never in `document`.
    pub password: Option<String>,
}

/// Normalises a POST or PUT body for resource type `rt`.
///
/// Errors: [`Error::InvalidSyntax`] when the body is not a JSON object (or, in strict mode,
/// lacks the core schema URN in `schemas`); [`Error::InvalidValue`] naming the attribute for
/// type errors, missing required attributes, more than one `primary` value (strict) and
/// unknown attributes or extensions (strict).
pub fn normalize_resource(
    registry: &Registry,
    rt: &ResourceType,
    body: &Value,
    mode: Mode,
) -> Result<Normalized> {
    let Some(obj) = body.as_object() else {
        return Err(Error::invalid_syntax(
            "the request body must be a JSON object",
        ));
    };
    let core = registry.core_schema(rt).ok_or(Error::Internal)?;
    let kind = registry.kind(rt);
    let strict = mode == Mode::Strict;
    let mut out = Normalized::default();
    let mut saw_schemas = false;

    for (key, value) in obj {
        if key.eq_ignore_ascii_case("schemas") {
            saw_schemas = true;
            if strict {
                check_schemas(registry, core, value)?;
            }
            continue;
        }
        if kind == ResourceKind::User && key.eq_ignore_ascii_case("password") {
            out.password = normalize_password(value, mode)?;
            continue;
        }
        // Derived by the server from membership rows; never trusted from a body.
        if kind == ResourceKind::User && key.eq_ignore_ascii_case("groups") {
            continue;
        }
        if kind == ResourceKind::Group && key.eq_ignore_ascii_case("members") {
            out.members = members_from_value(value, mode)?;
            continue;
        }
        if key.contains(':') {
            normalize_urn_key(registry, rt, core, key, value, mode, &mut out.document)?;
            continue;
        }
        let Ok(resolved) = registry.resolve(rt, &AttrPath::simple(key)) else {
            if strict {
                return Err(Error::invalid_value(format!("unknown attribute '{key}'")));
            }
            continue;
        };
        if resolved.attr.mutability == Mutability::ReadOnly {
            continue;
        }
        let path = resolved.attr.name.clone();
        if let Some(v) = norm_attr(resolved.attr, value, &path, mode)? {
            insert_once(&mut out.document, &resolved.attr.name, v, mode, &path)?;
        }
    }

    if strict && !saw_schemas {
        return Err(Error::invalid_syntax(
            "the request body must list its schemas in 'schemas'",
        ));
    }
    check_required(registry, rt, core, &out.document)?;
    Ok(out)
}

/// Normalises one attribute's value, as [`normalize_resource`] does inside a body: used by
/// the PATCH engine for operation values.
///
/// When `attr` names a sub-attribute (`name.givenName`, `emails.value`) the value is that
/// leaf's. `Ok(None)` means "absent" (`null`, `[]`, `{}`, or in compatible mode an empty
/// string of a non-required attribute). Mutability is not checked here; the PATCH engine
/// decides what a readOnly target means. Group `members` elements are normalised like any
/// multi-valued complex value (`value` and `type` kept; `display`/`$ref` as the schema says);
/// use [`members_from_value`] to turn them into [`MemberRef`]s.
pub fn normalize_value(
    _registry: &Registry,
    _rt: &ResourceType,
    attr: ResolvedAttr<'_>,
    value: &Value,
    mode: Mode,
) -> Result<Option<Value>> {
    let path = attr.canonical_path();
    norm_attr(attr.leaf(), value, &path, mode)
}

/// Reads a Group `members` value into member references.
///
/// Each element needs a non-empty string `value`; `type` (`User`/`Group`, any case) sets the
/// kind, `display` and `$ref` are ignored (the server derives them). In compatible mode a
/// bare string is a member id (Entra's validator sends `"value": "id"`), a single object is
/// one member, and an unknown `type` is treated as unknown kind. Duplicate ids are collapsed.
/// `Ok(None)` for `null`; `Ok(Some(vec![]))` for `[]`.
pub fn members_from_value(value: &Value, mode: Mode) -> Result<Option<Vec<MemberRef>>> {
    let strict = mode == Mode::Strict;
    let items: &[Value] = match value {
        Value::Null => return Ok(None),
        Value::Array(a) => a,
        Value::Object(_) | Value::String(_) if !strict => std::slice::from_ref(value),
        _ => return Err(Error::invalid_value("attribute 'members' must be an array")),
    };
    let mut refs: Vec<MemberRef> = Vec::with_capacity(items.len());
    for item in items {
        let member = match item {
            Value::Null => continue,
            Value::String(_) if !strict => MemberRef::new(member_id(Some(item))?),
            Value::Object(o) => {
                let mut id = None;
                let mut kind = None;
                let mut display = None;
                for (k, v) in o {
                    if k.eq_ignore_ascii_case("value") {
                        id = Some(v);
                    } else if k.eq_ignore_ascii_case("type") {
                        kind = member_kind(v, mode)?;
                    } else if k.eq_ignore_ascii_case("display") {
                        display = member_display(v, mode)?;
                    }
                }
                MemberRef {
                    value: member_id(id)?,
                    kind,
                    display,
                }
            }
            _ => {
                return Err(Error::invalid_value(
                    "each element of 'members' must be an object with a 'value'",
                ));
            }
        };
        if !refs.iter().any(|r| r.value == member.value) {
            refs.push(member);
        }
    }
    Ok(Some(refs))
}

fn member_id(value: Option<&Value>) -> Result<String> {
    match value {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        _ => Err(Error::invalid_value(
            "attribute 'members.value' is required and must be a non-empty string",
        )),
    }
}

fn member_display(value: &Value, mode: Mode) -> Result<Option<String>> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        _ if mode == Mode::Compatible => Ok(None),
        _ => Err(Error::invalid_value(
            "attribute 'members.display' must be a string",
        )),
    }
}

fn member_kind(value: &Value, mode: Mode) -> Result<Option<MemberKind>> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) if s.eq_ignore_ascii_case("user") => Ok(Some(MemberKind::User)),
        Value::String(s) if s.eq_ignore_ascii_case("group") => Ok(Some(MemberKind::Group)),
        _ if mode == Mode::Compatible => Ok(None),
        _ => Err(Error::invalid_value(
            "attribute 'members.type' must be 'User' or 'Group'",
        )),
    }
}

/// Checks that a PUT does not change an immutable attribute that already has a value
/// (RFC 7644 §3.5.1: "If one or more values are already set for the attribute, the input
/// value(s) MUST match").
///
/// Both documents are stored (normalised) documents. An immutable attribute that has a value
/// in `existing` must be present with an equal value in `replacement`; leaving it out is a
/// change too. Immutable sub-attributes of single-valued complex attributes are checked the
/// same way; elements of multi-valued attributes have no identity to compare by, so only a
/// whole multi-valued attribute marked immutable is checked. Errors: [`Error::Mutability`].
pub fn check_immutable(
    registry: &Registry,
    rt: &ResourceType,
    existing: &Map<String, Value>,
    replacement: &Map<String, Value>,
) -> Result<()> {
    let core = registry.core_schema(rt).ok_or(Error::Internal)?;
    let top = registry
        .common_schema()
        .attributes
        .iter()
        .chain(core.attributes.iter());
    for attr in top {
        check_attr_immutable(attr, existing, replacement, &attr.name)?;
    }
    let empty = Map::new();
    for ext in registry.extension_schemas(rt) {
        let old = existing
            .get(&ext.id)
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let new = replacement
            .get(&ext.id)
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        for attr in &ext.attributes {
            let path = format!("{}:{}", ext.id, attr.name);
            check_attr_immutable(attr, old, new, &path)?;
        }
    }
    Ok(())
}

fn check_attr_immutable(
    attr: &AttributeDef,
    existing: &Map<String, Value>,
    replacement: &Map<String, Value>,
    path: &str,
) -> Result<()> {
    let old = existing.get(&attr.name).filter(|v| !is_empty_value(v));
    let new = replacement.get(&attr.name).filter(|v| !is_empty_value(v));
    if attr.mutability == Mutability::Immutable {
        if let Some(old) = old
            && new != Some(old)
        {
            return Err(Error::Mutability(format!(
                "attribute '{path}' is immutable and cannot be changed"
            )));
        }
        return Ok(());
    }
    if attr.is_complex()
        && !attr.multi_valued
        && let (Some(Value::Object(old)), new) = (old, new)
    {
        let empty = Map::new();
        let new = new.and_then(Value::as_object).unwrap_or(&empty);
        for sub in &attr.sub_attributes {
            let sub_path = format!("{path}.{}", sub.name);
            check_attr_immutable(sub, old, new, &sub_path)?;
        }
    }
    Ok(())
}

/// The `schemas` of an output resource: the core schema URN, then the URN of each extension
/// of `rt` that has a value in `document` (RFC 7643 §3: "schemas" lists the schemas the
/// resource's attributes are defined in), in the resource type's declaration order.
pub fn output_schemas(
    registry: &Registry,
    rt: &ResourceType,
    document: &Map<String, Value>,
) -> Vec<String> {
    output_schemas_where(registry, rt, |id| {
        document.get(id).is_some_and(|v| !is_empty_value(v))
    })
}

/// [`output_schemas`] for a document known only by which extension keys it holds with a
/// value that is not empty (`has_extension(urn)`), e.g. one that was never parsed.
pub fn output_schemas_where(
    registry: &Registry,
    rt: &ResourceType,
    has_extension: impl Fn(&str) -> bool,
) -> Vec<String> {
    let mut out = Vec::with_capacity(1 + rt.schema_extensions.len());
    out.push(
        registry
            .core_schema(rt)
            .map_or_else(|| rt.schema.clone(), |s| s.id.clone()),
    );
    for ext in registry.extension_schemas(rt) {
        if has_extension(&ext.id) {
            out.push(ext.id.clone());
        }
    }
    out
}

/// Whether a value counts as absent: `null`, `[]`, `{}` (RFC 7643 §2.5).
fn is_empty_value(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// Strict mode: `schemas` must be an array of strings that names the core schema (or its
/// SCIM 1.1 alias). Other URNs, known or not, are tolerated.
fn check_schemas(registry: &Registry, core: &Schema, value: &Value) -> Result<()> {
    let Some(list) = value.as_array() else {
        return Err(Error::invalid_syntax("'schemas' must be an array of URNs"));
    };
    let mut has_core = false;
    for item in list {
        let Some(urn) = item.as_str() else {
            return Err(Error::invalid_syntax("'schemas' must be an array of URNs"));
        };
        if registry.schema(urn).is_some_and(|s| s.id == core.id) {
            has_core = true;
        }
    }
    if has_core {
        Ok(())
    } else {
        Err(Error::invalid_syntax(format!(
            "'schemas' must include '{}'",
            core.id
        )))
    }
}

fn normalize_password(value: &Value, mode: Mode) -> Result<Option<String>> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) if s.is_empty() && mode == Mode::Compatible => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        _ => Err(Error::invalid_value(
            "attribute 'password' must be a string",
        )),
    }
}

/// A top-level key containing `:`: an extension object under its URN (2.0 or SCIM 1.1
/// alias), the core schema's attributes wrapped in an object under the core URN, or a
/// single URN-qualified attribute (`urn:…:User:employeeNumber`).
fn normalize_urn_key(
    registry: &Registry,
    rt: &ResourceType,
    core: &Schema,
    key: &str,
    value: &Value,
    mode: Mode,
    doc: &mut Map<String, Value>,
) -> Result<()> {
    let strict = mode == Mode::Strict;
    if let Some(ext) = registry.extension(rt, key) {
        let Some(map) = norm_extension(ext, value, mode)? else {
            return Ok(());
        };
        let target = doc
            .entry(ext.id.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(target) = target {
            for (k, v) in map {
                let path = format!("{}:{k}", ext.id);
                insert_once(target, &k, v, mode, &path)?;
            }
        }
        return Ok(());
    }
    if registry.schema(key).is_some_and(|s| s.id == core.id) {
        // `"urn:…:core:2.0:User": {"userName": …}`: the core attributes, wrapped.
        return match value {
            Value::Null => Ok(()),
            Value::Object(o) => {
                for (k, v) in o {
                    if k.contains(':') {
                        continue;
                    }
                    let Ok(resolved) = registry.resolve(rt, &AttrPath::simple(k)) else {
                        if strict {
                            return Err(Error::invalid_value(format!("unknown attribute '{k}'")));
                        }
                        continue;
                    };
                    if resolved.attr.mutability == Mutability::ReadOnly
                        || resolved.location == AttrLocation::Extension
                        || is_derived(registry.kind(rt), &resolved.attr.name)
                    {
                        continue;
                    }
                    let path = resolved.attr.name.clone();
                    if let Some(v) = norm_attr(resolved.attr, v, &path, mode)? {
                        insert_once(doc, &resolved.attr.name, v, mode, &path)?;
                    }
                }
                Ok(())
            }
            _ => Err(Error::invalid_value(format!("'{key}' must be an object"))),
        };
    }
    if let Some((urn, name)) = key.rsplit_once(':')
        && !name.is_empty()
        && !name.contains('.')
    {
        let path = AttrPath {
            urn: Some(urn.to_owned()),
            name: name.to_owned(),
            sub: None,
        };
        if let Ok(resolved) = registry.resolve(rt, &path) {
            if resolved.attr.mutability == Mutability::ReadOnly
                || is_derived(registry.kind(rt), &resolved.attr.name)
            {
                return Ok(());
            }
            let display = resolved.canonical_path();
            let Some(v) = norm_attr(resolved.attr, value, &display, mode)? else {
                return Ok(());
            };
            match resolved.container_key() {
                None => insert_once(doc, &resolved.attr.name, v, mode, &display)?,
                Some(urn) => {
                    let target = doc
                        .entry(urn.to_owned())
                        .or_insert_with(|| Value::Object(Map::new()));
                    if let Value::Object(target) = target {
                        insert_once(target, &resolved.attr.name, v, mode, &display)?;
                    }
                }
            }
            return Ok(());
        }
    }
    if strict {
        return Err(Error::invalid_value(format!(
            "'{key}' is not a schema extension of {}",
            rt.name
        )));
    }
    Ok(())
}

/// Attributes that a body never sets even when addressed with a URN prefix: they are
/// extracted (`password`, `members`) or derived (`groups`) by [`normalize_resource`] itself.
fn is_derived(kind: ResourceKind, name: &str) -> bool {
    match kind {
        ResourceKind::User => name == "password" || name == "groups",
        ResourceKind::Group => name == "members",
    }
}

/// Normalises one extension object; `None` when it is absent or ends up empty.
fn norm_extension(ext: &Schema, value: &Value, mode: Mode) -> Result<Option<Map<String, Value>>> {
    let obj = match value {
        Value::Null => return Ok(None),
        Value::Object(o) => o,
        _ => {
            return Err(Error::invalid_value(format!(
                "extension '{}' must be an object",
                ext.id
            )));
        }
    };
    let mut out = Map::new();
    for (k, v) in obj {
        let Some(attr) = ext.attribute(k) else {
            if mode == Mode::Strict {
                return Err(Error::invalid_value(format!(
                    "unknown attribute '{}:{k}'",
                    ext.id
                )));
            }
            continue;
        };
        if attr.mutability == Mutability::ReadOnly {
            continue;
        }
        let path = format!("{}:{}", ext.id, attr.name);
        if let Some(v) = norm_attr(attr, v, &path, mode)? {
            insert_once(&mut out, &attr.name, v, mode, &path)?;
        }
    }
    Ok((!out.is_empty()).then_some(out))
}

/// Inserts under the canonical name; the same attribute twice (in different case) is an
/// error in strict mode, and the later value wins in compatible mode.
fn insert_once(
    map: &mut Map<String, Value>,
    name: &str,
    value: Value,
    mode: Mode,
    path: &str,
) -> Result<()> {
    if mode == Mode::Strict && map.contains_key(name) {
        return Err(Error::invalid_value(format!(
            "attribute '{path}' is given more than once"
        )));
    }
    map.insert(name.to_owned(), value);
    Ok(())
}

/// Required attributes (RFC 7643 §2.2 `required`) of the core schema, and of each extension
/// that is present or required by the resource type. Server-assigned (readOnly) ones such as
/// `id` are not the client's to send.
fn check_required(
    registry: &Registry,
    rt: &ResourceType,
    core: &Schema,
    doc: &Map<String, Value>,
) -> Result<()> {
    let kind = registry.kind(rt);
    for attr in &core.attributes {
        if attr.required
            && attr.mutability != Mutability::ReadOnly
            && !is_derived(kind, &attr.name)
            && !has_value(doc.get(&attr.name))
        {
            return Err(Error::invalid_value(format!(
                "attribute '{}' is required",
                attr.name
            )));
        }
    }
    let empty = Map::new();
    for ext in &rt.schema_extensions {
        let Some(schema) = registry.schema(&ext.schema) else {
            continue;
        };
        let present = doc.get(&schema.id).and_then(Value::as_object);
        if present.is_none() && ext.required {
            return Err(Error::invalid_value(format!(
                "extension '{}' is required",
                schema.id
            )));
        }
        let Some(map) = present.or(if ext.required { Some(&empty) } else { None }) else {
            continue;
        };
        for attr in &schema.attributes {
            if attr.required
                && attr.mutability != Mutability::ReadOnly
                && !has_value(map.get(&attr.name))
            {
                return Err(Error::invalid_value(format!(
                    "attribute '{}:{}' is required",
                    schema.id, attr.name
                )));
            }
        }
    }
    Ok(())
}

/// A required attribute's value must be present and, for strings, not blank.
fn has_value(v: Option<&Value>) -> bool {
    match v {
        None => false,
        Some(Value::String(s)) => !s.trim().is_empty(),
        Some(v) => !is_empty_value(v),
    }
}

/// Normalises the value of attribute (or sub-attribute) `def`; `path` is the canonical
/// name used in error messages.
fn norm_attr(def: &AttributeDef, value: &Value, path: &str, mode: Mode) -> Result<Option<Value>> {
    if value.is_null() {
        return Ok(None);
    }
    if def.multi_valued {
        norm_multi(def, value, path, mode)
    } else if def.is_complex() {
        norm_complex_value(def, value, path, mode, false)
    } else {
        norm_scalar(def, value, path, mode)
    }
}

fn norm_multi(def: &AttributeDef, value: &Value, path: &str, mode: Mode) -> Result<Option<Value>> {
    let items: &[Value] = match value {
        Value::Array(a) => a,
        // OneLogin sends `"emails": {"value": …}`; a lone value of a simple multi-valued
        // attribute, or a bare string for a complex one with `value`, is one element too.
        _ if mode == Mode::Compatible => std::slice::from_ref(value),
        _ => {
            return Err(Error::invalid_value(format!(
                "attribute '{path}' must be an array"
            )));
        }
    };
    let items = expand_json_elements(def, items, mode);
    let mut out: Vec<Value> = Vec::with_capacity(items.len());
    for item in &items {
        let item: &Value = item;
        let normalized = if def.is_complex() {
            norm_complex_value(def, item, path, mode, true)?
        } else {
            match item {
                Value::Null => None,
                Value::Array(_) | Value::Object(_) => {
                    return Err(type_error(def, path));
                }
                _ => norm_scalar(def, item, path, mode)?,
            }
        };
        let Some(v) = normalized else { continue };
        merge_duplicate(def, &mut out, v);
    }
    fix_primary(&mut out, path, mode)?;
    Ok((!out.is_empty()).then_some(Value::Array(out)))
}

/// Entra may JSON-encode a whole list of role objects into one `value` string
/// (`[{"value": "[{\"value\":…},{…}]"}]`). In compatible mode such an element becomes one
/// element per encoded object, each carrying the outer element's other fields; single
/// encoded objects are handled per element by [`norm_complex`].
fn expand_json_elements<'a>(
    def: &AttributeDef,
    items: &'a [Value],
    mode: Mode,
) -> Vec<Cow<'a, Value>> {
    let accepts = mode == Mode::Compatible
        && def
            .sub_attribute("value")
            .is_some_and(|s| s.accepts_json_string);
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        if accepts
            && let Value::Object(o) = item
            && let Some((value_key, Value::String(s))) =
                o.iter().find(|(k, _)| k.eq_ignore_ascii_case("value"))
            && s.trim_start().starts_with('[')
            && let Ok(Value::Array(decoded)) = serde_json::from_str::<Value>(s)
            && !decoded.is_empty()
            && decoded.iter().all(Value::is_object)
        {
            for d in decoded {
                let mut element = o.clone();
                element.shift_remove(value_key);
                if let Value::Object(fields) = d {
                    merge_decoded(def, &mut element, fields);
                }
                out.push(Cow::Owned(Value::Object(element)));
            }
            continue;
        }
        out.push(Cow::Borrowed(item));
    }
    out
}

/// Merges the fields of a JSON-decoded role object into an element: names are matched to
/// sub-attributes (case-insensitively), `displayName` becomes `display`, other keys (`id`)
/// are dropped. The decoded fields win over the element's own.
fn merge_decoded(def: &AttributeDef, element: &mut Map<String, Value>, fields: Map<String, Value>) {
    for (k, v) in fields {
        let sub = def.sub_attribute(&k).or_else(|| {
            k.eq_ignore_ascii_case("displayName")
                .then(|| def.sub_attribute("display"))
                .flatten()
        });
        if let Some(sub) = sub {
            element.retain(|existing, _| !existing.eq_ignore_ascii_case(&sub.name));
            element.insert(sub.name.clone(), v);
        }
    }
}

/// Adds an element unless an identical one is already there: same `value` (ignoring case
/// unless `caseExact`) and same `type` (ignoring case) for complex elements, same JSON for
/// simple ones. A dropped duplicate that was `primary` makes the kept one primary.
fn merge_duplicate(def: &AttributeDef, out: &mut Vec<Value>, v: Value) {
    let dup = out
        .iter_mut()
        .find(|existing| same_element(def, existing, &v));
    match dup {
        Some(existing) => {
            if v.get("primary") == Some(&Value::Bool(true))
                && let Value::Object(o) = existing
            {
                o.insert("primary".into(), Value::Bool(true));
            }
        }
        None => out.push(v),
    }
}

fn same_element(def: &AttributeDef, a: &Value, b: &Value) -> bool {
    let (Value::Object(a), Value::Object(b)) = (a, b) else {
        return a == b;
    };
    let Some(value_def) = def.sub_attribute("value") else {
        return a == b;
    };
    let same_value = match (a.get("value"), b.get("value")) {
        (Some(Value::String(x)), Some(Value::String(y))) if !value_def.case_exact => {
            x.to_lowercase() == y.to_lowercase()
        }
        (x, y) => x == y,
    };
    let same_type = match (a.get("type"), b.get("type")) {
        (Some(Value::String(x)), Some(Value::String(y))) => x.to_lowercase() == y.to_lowercase(),
        (x, y) => x == y,
    };
    same_value && same_type
}

/// At most one element may be `primary: true` (RFC 7643 §2.4). Compatible mode keeps the
/// first and sets the others to `false`.
fn fix_primary(out: &mut [Value], path: &str, mode: Mode) -> Result<()> {
    let mut seen = false;
    for element in out.iter_mut() {
        let Value::Object(o) = element else { continue };
        if o.get("primary") != Some(&Value::Bool(true)) {
            continue;
        }
        if !seen {
            seen = true;
        } else if mode == Mode::Strict {
            return Err(Error::invalid_value(format!(
                "at most one value of '{path}' may be primary"
            )));
        } else {
            o.insert("primary".into(), Value::Bool(false));
        }
    }
    Ok(())
}

/// A complex value: an object, or in compatible mode a bare string for an attribute with a
/// `value` sub-attribute (`"manager": "id"`, `"emails": "a@b"`) or a one-element array for a
/// single-valued one (Entra sends `"manager": [{"value": …}]`).
fn norm_complex_value(
    def: &AttributeDef,
    value: &Value,
    path: &str,
    mode: Mode,
    element: bool,
) -> Result<Option<Value>> {
    let compatible = mode == Mode::Compatible;
    match value {
        Value::Null => Ok(None),
        Value::Object(o) => norm_complex(def, o, path, mode),
        Value::String(_) if compatible && def.sub_attribute("value").is_some() => {
            let mut o = Map::new();
            o.insert("value".into(), value.clone());
            norm_complex(def, &o, path, mode)
        }
        Value::Array(a) if compatible && !element && a.len() <= 1 => match a.first() {
            None => Ok(None),
            Some(Value::Array(_)) => Err(complex_error(path)),
            Some(inner) => norm_complex_value(def, inner, path, mode, true),
        },
        _ => Err(complex_error(path)),
    }
}

fn complex_error(path: &str) -> Error {
    Error::invalid_value(format!("attribute '{path}' must be a complex object"))
}

fn norm_complex(
    def: &AttributeDef,
    obj: &Map<String, Value>,
    path: &str,
    mode: Mode,
) -> Result<Option<Value>> {
    let compatible = mode == Mode::Compatible;
    let mut out = Map::new();
    let mut decoded: Option<Map<String, Value>> = None;
    for (k, v) in obj {
        let sub = match def.sub_attribute(k) {
            Some(sub) => sub,
            // OneLogin's SCIM 1.1 enterprise template: `manager: {managerId, displayName}`.
            None if compatible
                && def.name.eq_ignore_ascii_case("manager")
                && k.eq_ignore_ascii_case("managerId") =>
            {
                match def.sub_attribute("value") {
                    Some(sub) => sub,
                    None => continue,
                }
            }
            None if compatible => continue,
            None => {
                return Err(Error::invalid_value(format!(
                    "unknown attribute '{path}.{k}'"
                )));
            }
        };
        if sub.mutability == Mutability::ReadOnly {
            continue;
        }
        if compatible
            && sub.accepts_json_string
            && let Value::String(s) = v
            && s.trim_start().starts_with('{')
            && let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(s)
        {
            // Entra role: `{"value": "{\"id\":…,\"value\":\"25\",\"displayName\":\"Role1234\"}"}`.
            decoded = Some(fields);
            continue;
        }
        let sub_path = format!("{path}.{}", sub.name);
        if let Some(v) = norm_attr(sub, v, &sub_path, mode)? {
            insert_once(&mut out, &sub.name, v, mode, &sub_path)?;
        }
    }
    if let Some(fields) = decoded {
        let mut merged = Map::new();
        merge_decoded(def, &mut merged, fields);
        for (name, v) in merged {
            let Some(sub) = def.sub_attribute(&name) else {
                continue;
            };
            if sub.mutability == Mutability::ReadOnly {
                continue;
            }
            let sub_path = format!("{path}.{}", sub.name);
            if let Some(v) = norm_attr(sub, &v, &sub_path, mode)? {
                out.insert(sub.name.clone(), v);
            }
        }
    }
    // An element of a multi-valued attribute without its `value` carries nothing (typically
    // an unresolved template parameter); compatible mode drops it.
    if compatible
        && def.multi_valued
        && def.sub_attribute("value").is_some()
        && !out.contains_key("value")
    {
        return Ok(None);
    }
    if out.is_empty() {
        return Ok(None);
    }
    for sub in &def.sub_attributes {
        if sub.required && sub.mutability != Mutability::ReadOnly && !has_value(out.get(&sub.name))
        {
            return Err(Error::invalid_value(format!(
                "attribute '{path}.{}' is required",
                sub.name
            )));
        }
    }
    Ok(Some(Value::Object(out)))
}

fn type_error(def: &AttributeDef, path: &str) -> Error {
    let what = match def.kind {
        AttributeType::String => "a string",
        AttributeType::Boolean => "a boolean",
        AttributeType::Decimal => "a number",
        AttributeType::Integer => "an integer",
        AttributeType::DateTime => "an RFC 3339 dateTime string",
        AttributeType::Binary => "a base64 string",
        AttributeType::Reference => "a URI string",
        AttributeType::Complex => "a complex object",
    };
    Error::invalid_value(format!("attribute '{path}' must be {what}"))
}

/// A simple (non-complex) value of type `def.kind` (RFC 7643 §2.3).
fn norm_scalar(def: &AttributeDef, value: &Value, path: &str, mode: Mode) -> Result<Option<Value>> {
    let compatible = mode == Mode::Compatible;
    // Unresolved template parameters (OneLogin) arrive as empty strings.
    if compatible
        && !def.required
        && let Value::String(s) = value
        && s.trim().is_empty()
    {
        return Ok(None);
    }
    let out = match (def.kind, value) {
        (
            AttributeType::String | AttributeType::Reference | AttributeType::Binary,
            Value::String(_),
        ) => value.clone(),
        (AttributeType::String, Value::Number(n)) if compatible => Value::String(n.to_string()),
        (AttributeType::Boolean, Value::Bool(_)) => value.clone(),
        (AttributeType::Boolean, Value::String(s)) if compatible => {
            let s = s.trim();
            if s.eq_ignore_ascii_case("true") {
                Value::Bool(true)
            } else if s.eq_ignore_ascii_case("false") {
                Value::Bool(false)
            } else {
                return Err(type_error(def, path));
            }
        }
        (AttributeType::Integer, Value::Number(n)) => {
            Value::Number(integer(n).ok_or_else(|| type_error(def, path))?)
        }
        (AttributeType::Integer, Value::String(s)) if compatible => {
            let n = parse_number(s).ok_or_else(|| type_error(def, path))?;
            Value::Number(integer(&n).ok_or_else(|| type_error(def, path))?)
        }
        (AttributeType::Decimal, Value::Number(_)) => value.clone(),
        (AttributeType::Decimal, Value::String(s)) if compatible => {
            Value::Number(parse_number(s).ok_or_else(|| type_error(def, path))?)
        }
        (AttributeType::DateTime, Value::String(s)) => {
            if parse_rfc3339(s.trim()).is_none() {
                return Err(type_error(def, path));
            }
            value.clone()
        }
        _ => return Err(type_error(def, path)),
    };
    Ok(Some(out))
}

/// A JSON number as an integer: integral values only (`5` and `5.0`), within `i64`.
fn integer(n: &Number) -> Option<Number> {
    if let Some(i) = n.as_i64() {
        return Some(Number::from(i));
    }
    let f = n.as_f64()?;
    // The bounds are exactly representable powers of two; `as` is exact for integral `f`.
    if f.fract() == 0.0 && (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&f)
    {
        #[allow(clippy::cast_possible_truncation)]
        return Some(Number::from(f as i64));
    }
    None
}

/// A number written in a string, in JSON number syntax only (no `NaN`, `inf`, `0x10`).
fn parse_number(s: &str) -> Option<Number> {
    match serde_json::from_str::<Value>(s.trim()) {
        Ok(Value::Number(n)) if n.as_f64().is_some_and(f64::is_finite) => Some(n),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use serde_json::json;

    use super::*;
    use crate::schema::{ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, SchemaExtension, USER_SCHEMA};

    const CUSTOM: &str = "urn:example:params:scim:schemas:extension:test:2.0:User";

    fn reg() -> Registry {
        Registry::builtin()
    }

    fn user(r: &Registry) -> ResourceType {
        r.resource_type("User").unwrap().clone()
    }

    fn group(r: &Registry) -> ResourceType {
        r.resource_type("Group").unwrap().clone()
    }

    /// The built-in catalogue plus a User extension with one attribute of each simple type
    /// and immutable attributes, which the RFC catalogue does not have.
    fn custom_registry() -> Registry {
        let b = Registry::builtin();
        let mut badge = AttributeDef::new("badge", AttributeType::Complex);
        badge.sub_attributes = vec![
            AttributeDef::new("value", AttributeType::String),
            AttributeDef::new("serial", AttributeType::String)
                .with_mutability(Mutability::Immutable),
        ];
        let ext = Schema {
            id: CUSTOM.into(),
            name: "Test".into(),
            description: String::new(),
            attributes: vec![
                AttributeDef::new("level", AttributeType::Integer),
                AttributeDef::new("score", AttributeType::Decimal),
                AttributeDef::new("hired", AttributeType::DateTime),
                AttributeDef::new("photo", AttributeType::Binary),
                AttributeDef::new("home", AttributeType::Reference),
                AttributeDef::new("tags", AttributeType::String).with_multi_valued(),
                AttributeDef::new("employeeId", AttributeType::String)
                    .with_mutability(Mutability::Immutable),
                AttributeDef::new("clearance", AttributeType::String)
                    .with_mutability(Mutability::ReadOnly),
                badge,
            ],
        };
        let mut schemas = b.schemas().to_vec();
        schemas.push(ext);
        let mut rts = b.resource_types().to_vec();
        rts[0].schema_extensions.push(SchemaExtension {
            schema: CUSTOM.into(),
            required: false,
        });
        Registry::from_parts(schemas, rts, b.common_schema().clone())
    }

    fn norm_user(body: Value, mode: Mode) -> Result<Normalized> {
        let r = reg();
        normalize_resource(&r, &user(&r), &body, mode)
    }

    fn norm_group(body: Value, mode: Mode) -> Result<Normalized> {
        let r = reg();
        normalize_resource(&r, &group(&r), &body, mode)
    }

    fn norm_custom(ext: Value, mode: Mode) -> Result<Normalized> {
        let r = custom_registry();
        let body = json!({"schemas": [USER_SCHEMA], "userName": "u", CUSTOM: ext});
        normalize_resource(&r, &user(&r), &body, mode)
    }

    fn doc(n: &Normalized) -> Value {
        Value::Object(n.document.clone())
    }

    fn invalid_value_naming(e: &Error, what: &str) {
        assert!(
            matches!(e, Error::InvalidValue(m) if m.contains(what)),
            "expected invalidValue naming {what}, got {e:?}"
        );
        assert_eq!(e.status(), 400);
    }

    const BOTH: [Mode; 2] = [Mode::Strict, Mode::Compatible];

    #[test]
    fn body_must_be_an_object() {
        for body in [json!([]), json!("x"), json!(null), json!(1)] {
            for mode in BOTH {
                let e = norm_user(body.clone(), mode).unwrap_err();
                assert!(matches!(e, Error::InvalidSyntax(_)), "{e:?}");
            }
        }
    }

    #[test]
    fn names_are_canonicalised_at_every_level() {
        for mode in BOTH {
            let n = norm_user(
                json!({
                    "SCHEMAS": [USER_SCHEMA],
                    "UserName": "bjensen",
                    "NAME": {"GivenName": "Barbara", "familyname": "Jensen"},
                    "Emails": [{"Value": "b@example.com", "TYPE": "work", "Primary": true}],
                    "Active": true,
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user": {
                        "Department": "Sales",
                        "Manager": {"Value": "m-1"}
                    }
                }),
                mode,
            )
            .unwrap();
            assert_eq!(
                doc(&n),
                json!({
                    "userName": "bjensen",
                    "name": {"givenName": "Barbara", "familyName": "Jensen"},
                    "emails": [{"value": "b@example.com", "type": "work", "primary": true}],
                    "active": true,
                    ENTERPRISE_USER_SCHEMA: {"department": "Sales", "manager": {"value": "m-1"}}
                })
            );
        }
    }

    #[test]
    fn null_empty_array_and_empty_object_are_absent() {
        for mode in BOTH {
            let n = norm_user(
                json!({
                    "schemas": [USER_SCHEMA], "userName": "u",
                    "title": null, "emails": [], "name": {}, "phoneNumbers": [null],
                    "addresses": [{}], "name2": null,
                    ENTERPRISE_USER_SCHEMA: {"department": null, "manager": null}
                }),
                mode,
            );
            // `name2` is unknown: strict mode rejects it even though it is null.
            if mode == Mode::Strict {
                invalid_value_naming(&n.unwrap_err(), "name2");
                continue;
            }
            assert_eq!(doc(&n.unwrap()), json!({"userName": "u"}));
        }
        let n = norm_user(
            json!({"schemas": [USER_SCHEMA], "userName": "u", "title": null, "emails": [],
                   "name": {"givenName": null}, ENTERPRISE_USER_SCHEMA: {}}),
            Mode::Strict,
        )
        .unwrap();
        assert_eq!(doc(&n), json!({"userName": "u"}));
    }

    #[test]
    fn empty_strings_of_optional_attributes_are_dropped_in_compatible_mode_only() {
        let body = json!({"schemas": [USER_SCHEMA], "userName": "u", "title": "",
                          "name": {"givenName": "", "familyName": "F"}});
        let n = norm_user(body.clone(), Mode::Compatible).unwrap();
        assert_eq!(
            doc(&n),
            json!({"userName": "u", "name": {"familyName": "F"}})
        );
        let n = norm_user(body, Mode::Strict).unwrap();
        assert_eq!(
            doc(&n),
            json!({"userName": "u", "title": "", "name": {"givenName": "", "familyName": "F"}})
        );
    }

    #[test]
    fn required_attributes_must_be_present_and_non_empty() {
        for mode in BOTH {
            for body in [
                json!({"schemas": [USER_SCHEMA]}),
                json!({"schemas": [USER_SCHEMA], "userName": ""}),
                json!({"schemas": [USER_SCHEMA], "userName": "  "}),
                json!({"schemas": [USER_SCHEMA], "userName": null}),
            ] {
                let e = norm_user(body, mode).unwrap_err();
                invalid_value_naming(&e, "'userName' is required");
            }
            let e =
                norm_group(json!({"schemas": [GROUP_SCHEMA], "members": []}), mode).unwrap_err();
            invalid_value_naming(&e, "'displayName' is required");
        }
    }

    #[test]
    fn read_only_attributes_are_ignored() {
        for mode in BOTH {
            let n = norm_user(
                json!({
                    "schemas": [USER_SCHEMA], "id": "abc", "userName": "u",
                    "meta": {"resourceType": "User", "created": "2020-01-01T00:00:00Z"},
                    "groups": [{"value": "g1"}],
                    ENTERPRISE_USER_SCHEMA: {"manager": {"value": "m", "displayName": "Boss"}}
                }),
                mode,
            )
            .unwrap();
            // manager.displayName is readOnly in RFC 7643 §4.3: derived, not stored.
            assert_eq!(
                doc(&n),
                json!({"userName": "u", ENTERPRISE_USER_SCHEMA: {"manager": {"value": "m"}}})
            );
        }
        let r = custom_registry();
        let n = normalize_resource(
            &r,
            &user(&r),
            &json!({"schemas": [USER_SCHEMA], "userName": "u", CUSTOM: {"clearance": "top"}}),
            Mode::Strict,
        )
        .unwrap();
        assert_eq!(doc(&n), json!({"userName": "u"}));
    }

    #[test]
    fn schemas_unknown_urns_are_tolerated_and_strict_mode_needs_the_core_urn() {
        for mode in BOTH {
            let n = norm_user(
                json!({"schemas": [USER_SCHEMA, "urn:ietf:params:scim:schemas:extension:enterprise:2.0User",
                                   "urn:example:nothing"], "userName": "u"}),
                mode,
            )
            .unwrap();
            assert_eq!(doc(&n), json!({"userName": "u"}));
        }
        for body in [
            json!({"userName": "u"}),
            json!({"schemas": USER_SCHEMA, "userName": "u"}),
            json!({"schemas": [GROUP_SCHEMA], "userName": "u"}),
            json!({"schemas": [1], "userName": "u"}),
        ] {
            let e = norm_user(body.clone(), Mode::Strict).unwrap_err();
            assert!(matches!(e, Error::InvalidSyntax(_)), "{body} → {e:?}");
            assert!(norm_user(body, Mode::Compatible).is_ok());
        }
        // The SCIM 1.1 core URN names the core schema too.
        assert!(
            norm_user(
                json!({"schemas": ["urn:scim:schemas:core:1.0"], "userName": "u"}),
                Mode::Strict
            )
            .is_ok()
        );
    }

    #[test]
    fn extensions_are_read_under_their_urn_whether_listed_or_not() {
        for mode in BOTH {
            let n = norm_user(
                json!({"schemas": [USER_SCHEMA], "userName": "u",
                       ENTERPRISE_USER_SCHEMA: {"employeeNumber": "42"}}),
                mode,
            )
            .unwrap();
            assert_eq!(
                doc(&n)[ENTERPRISE_USER_SCHEMA],
                json!({"employeeNumber": "42"})
            );
            // SCIM 1.1 key → the 2.0 URN.
            let n = norm_user(
                json!({"schemas": [USER_SCHEMA], "userName": "u",
                       "urn:scim:schemas:extension:enterprise:1.0": {"costCenter": "7"}}),
                mode,
            )
            .unwrap();
            assert_eq!(
                doc(&n),
                json!({"userName": "u", ENTERPRISE_USER_SCHEMA: {"costCenter": "7"}})
            );
            // A URN-qualified attribute at the top level.
            let n = norm_user(
                json!({"schemas": [USER_SCHEMA], "userName": "u",
                       "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:division": "D",
                       "urn:ietf:params:scim:schemas:core:2.0:User:title": "T"}),
                mode,
            )
            .unwrap();
            assert_eq!(
                doc(&n),
                json!({"userName": "u", ENTERPRISE_USER_SCHEMA: {"division": "D"}, "title": "T"})
            );
        }
        // The core URN as an object key wraps core attributes.
        let n = norm_user(
            json!({"schemas": [USER_SCHEMA], USER_SCHEMA: {"userName": "u", "Title": "T"}}),
            Mode::Strict,
        )
        .unwrap();
        assert_eq!(doc(&n), json!({"userName": "u", "title": "T"}));
    }

    #[test]
    fn unknown_extensions_and_attributes_depend_on_mode() {
        let unknown_ext = json!({"schemas": [USER_SCHEMA], "userName": "u",
            "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User": {"CustomAttribute": "701984"}});
        let n = norm_user(unknown_ext.clone(), Mode::Compatible).unwrap();
        assert_eq!(doc(&n), json!({"userName": "u"}));
        let e = norm_user(unknown_ext, Mode::Strict).unwrap_err();
        invalid_value_naming(&e, "CustomExtensionName");

        let unknown_attr = json!({"schemas": [USER_SCHEMA], "userName": "u", "user_mobile": "123"});
        assert_eq!(
            doc(&norm_user(unknown_attr.clone(), Mode::Compatible).unwrap()),
            json!({"userName": "u"})
        );
        invalid_value_naming(
            &norm_user(unknown_attr, Mode::Strict).unwrap_err(),
            "user_mobile",
        );

        let unknown_sub = json!({"schemas": [USER_SCHEMA], "userName": "u", "name": {"nick": "x", "givenName": "G"}});
        assert_eq!(
            doc(&norm_user(unknown_sub.clone(), Mode::Compatible).unwrap()),
            json!({"userName": "u", "name": {"givenName": "G"}})
        );
        invalid_value_naming(
            &norm_user(unknown_sub, Mode::Strict).unwrap_err(),
            "name.nick",
        );

        let unknown_ext_attr = json!({"schemas": [USER_SCHEMA], "userName": "u",
            ENTERPRISE_USER_SCHEMA: {"shoeSize": 9, "department": "D"}});
        assert_eq!(
            doc(&norm_user(unknown_ext_attr.clone(), Mode::Compatible).unwrap()),
            json!({"userName": "u", ENTERPRISE_USER_SCHEMA: {"department": "D"}})
        );
        invalid_value_naming(
            &norm_user(unknown_ext_attr, Mode::Strict).unwrap_err(),
            "shoeSize",
        );

        for mode in BOTH {
            let e = norm_user(
                json!({"schemas": [USER_SCHEMA], "userName": "u", ENTERPRISE_USER_SCHEMA: "x"}),
                mode,
            )
            .unwrap_err();
            invalid_value_naming(&e, ENTERPRISE_USER_SCHEMA);
        }
    }

    #[test]
    fn duplicate_names_in_different_case() {
        let body = json!({"schemas": [USER_SCHEMA], "userName": "a", "UserName": "b"});
        assert_eq!(
            doc(&norm_user(body.clone(), Mode::Compatible).unwrap()),
            json!({"userName": "b"})
        );
        invalid_value_naming(
            &norm_user(body, Mode::Strict).unwrap_err(),
            "more than once",
        );
    }

    #[test]
    fn type_errors_name_the_attribute() {
        for mode in BOTH {
            for (body, name) in [
                (
                    json!({"active": "yes"}),
                    "attribute 'active' must be a boolean",
                ),
                (json!({"active": 1}), "attribute 'active' must be a boolean"),
                (
                    json!({"title": {"a": 1}}),
                    "attribute 'title' must be a string",
                ),
                (json!({"title": true}), "attribute 'title' must be a string"),
                (
                    json!({"name": 5}),
                    "attribute 'name' must be a complex object",
                ),
                (
                    json!({"emails": [{"value": "a", "primary": "maybe"}]}),
                    "'emails.primary' must be a boolean",
                ),
                (
                    json!({"emails": [["a"]]}),
                    "attribute 'emails' must be a complex object",
                ),
                (
                    json!({ENTERPRISE_USER_SCHEMA: {"manager": 7}}),
                    "manager' must be a complex object",
                ),
            ] {
                let mut body = body;
                body["userName"] = json!("u");
                body["schemas"] = json!([USER_SCHEMA]);
                invalid_value_naming(&norm_user(body, mode).unwrap_err(), name);
            }
        }
        // Numbers for strings: text in compatible mode, an error in strict mode.
        let body = json!({"schemas": [GROUP_SCHEMA], "displayName": 3});
        let e = norm_group(body.clone(), Mode::Strict).unwrap_err();
        invalid_value_naming(&e, "'displayName' must be a string");
        let n = norm_group(body, Mode::Compatible).unwrap();
        assert_eq!(doc(&n), json!({"displayName": "3"}));
    }

    #[test]
    fn boolean_strings_are_coerced_in_compatible_mode() {
        for (s, b) in [
            ("True", true),
            ("False", false),
            ("true", true),
            ("false", false),
            ("TRUE", true),
        ] {
            let body = json!({"schemas": [USER_SCHEMA], "userName": "u", "active": s,
                              "emails": [{"value": "a@b", "primary": s}]});
            let n = norm_user(body.clone(), Mode::Compatible).unwrap();
            assert_eq!(doc(&n)["active"], json!(b));
            assert_eq!(doc(&n)["emails"][0]["primary"], json!(b));
            invalid_value_naming(
                &norm_user(body, Mode::Strict).unwrap_err(),
                "'active' must be a boolean",
            );
        }
    }

    #[test]
    fn numbers_dates_binary_and_references() {
        let n = norm_custom(
            json!({"level": 3, "score": 2.5, "hired": "2026-01-01T00:00:00.0000000Z",
                   "photo": "AAEC", "home": "https://example.com/", "tags": ["a", "b", "a"]}),
            Mode::Strict,
        )
        .unwrap();
        assert_eq!(
            doc(&n)[CUSTOM],
            json!({"level": 3, "score": 2.5, "hired": "2026-01-01T00:00:00.0000000Z",
                   "photo": "AAEC", "home": "https://example.com/", "tags": ["a", "b"]})
        );
        // Integral decimals are integers; strings hold numbers only in compatible mode.
        let n = norm_custom(json!({"level": 4.0}), Mode::Strict).unwrap();
        assert_eq!(doc(&n)[CUSTOM]["level"], json!(4));
        let n = norm_custom(
            json!({"level": " 12 ", "score": "0.25", "tags": "solo"}),
            Mode::Compatible,
        )
        .unwrap();
        assert_eq!(
            doc(&n)[CUSTOM],
            json!({"level": 12, "score": 0.25, "tags": ["solo"]})
        );
        for (ext, msg) in [
            (json!({"level": "12"}), ":level' must be an integer"),
            (json!({"level": 1.5}), ":level' must be an integer"),
            (json!({"score": "0.25"}), ":score' must be a number"),
            (
                json!({"hired": "yesterday"}),
                ":hired' must be an RFC 3339 dateTime",
            ),
            (
                json!({"hired": "2025-02-29T00:00:00Z"}),
                ":hired' must be an RFC 3339 dateTime",
            ),
            (json!({"hired": 5}), ":hired' must be an RFC 3339 dateTime"),
            (json!({"photo": 5}), ":photo' must be a base64 string"),
            (json!({"home": false}), ":home' must be a URI string"),
            (json!({"tags": "solo"}), ":tags' must be an array"),
        ] {
            let e = norm_custom(ext, Mode::Strict).unwrap_err();
            invalid_value_naming(&e, msg);
            assert!(e.to_string().contains(CUSTOM), "{e}");
        }
        for ext in [
            json!({"level": "twelve"}),
            json!({"score": "NaN"}),
            json!({"level": 1e300}),
            json!({"hired": "x"}),
        ] {
            assert!(norm_custom(ext, Mode::Compatible).is_err());
        }
    }

    #[test]
    fn json_encoded_role_values_are_decoded_in_compatible_mode() {
        let body = json!({"schemas": [USER_SCHEMA], "userName": "u",
            "roles": [{"value": "{\"id\":\"06b07648-ecfe-589f-9d2f-6325724a46ee\",\"value\":\"25\",\"displayName\":\"Role1234\"}",
                       "type": "WindowsAzureActiveDirectoryRole", "primary": true}]});
        let n = norm_user(body.clone(), Mode::Compatible).unwrap();
        assert_eq!(
            doc(&n)["roles"],
            json!([{"type": "WindowsAzureActiveDirectoryRole", "primary": true, "value": "25", "display": "Role1234"}])
        );
        // Strict mode keeps the string: it is a valid string value.
        let n = norm_user(body, Mode::Strict).unwrap();
        assert!(
            doc(&n)["roles"][0]["value"]
                .as_str()
                .unwrap()
                .starts_with("{\"id\"")
        );
        // A JSON array of role objects in one string becomes one element each.
        let n = norm_user(
            json!({"schemas": [USER_SCHEMA], "userName": "u",
                   "roles": [{"value": "[{\"value\":\"1\",\"displayName\":\"A\"},{\"value\":\"2\"}]", "type": "t"}]}),
            Mode::Compatible,
        )
        .unwrap();
        assert_eq!(
            doc(&n)["roles"],
            json!([{"type": "t", "value": "1", "display": "A"}, {"type": "t", "value": "2"}])
        );
        // Not JSON after all: an ordinary string.
        let n = norm_user(
            json!({"schemas": [USER_SCHEMA], "userName": "u", "roles": [{"value": "{admin"}]}),
            Mode::Compatible,
        )
        .unwrap();
        assert_eq!(doc(&n)["roles"], json!([{"value": "{admin"}]));
        // emails.value does not accept JSON strings.
        let n = norm_user(
            json!({"schemas": [USER_SCHEMA], "userName": "u", "emails": [{"value": "{\"value\":\"x\"}"}]}),
            Mode::Compatible,
        )
        .unwrap();
        assert_eq!(doc(&n)["emails"], json!([{"value": "{\"value\":\"x\"}"}]));
    }

    #[test]
    fn single_objects_and_strings_for_multi_valued_attributes() {
        let body = json!({"schemas": [USER_SCHEMA], "userName": "u",
                          "emails": {"value": "a@b", "type": "work", "primary": true}});
        let n = norm_user(body.clone(), Mode::Compatible).unwrap();
        assert_eq!(
            doc(&n)["emails"],
            json!([{"value": "a@b", "type": "work", "primary": true}])
        );
        invalid_value_naming(
            &norm_user(body, Mode::Strict).unwrap_err(),
            "'emails' must be an array",
        );

        let body = json!({"schemas": [USER_SCHEMA], "userName": "u", "emails": "a@b", "phoneNumbers": ["555"]});
        let n = norm_user(body.clone(), Mode::Compatible).unwrap();
        assert_eq!(doc(&n)["emails"], json!([{"value": "a@b"}]));
        assert_eq!(doc(&n)["phoneNumbers"], json!([{"value": "555"}]));
        invalid_value_naming(
            &norm_user(body, Mode::Strict).unwrap_err(),
            "'emails' must be an array",
        );
    }

    #[test]
    fn manager_shapes() {
        let ent = |m: Value| json!({"schemas": [USER_SCHEMA], "userName": "u", ENTERPRISE_USER_SCHEMA: {"manager": m}});
        let n = norm_user(ent(json!("m-1")), Mode::Compatible).unwrap();
        assert_eq!(
            doc(&n)[ENTERPRISE_USER_SCHEMA],
            json!({"manager": {"value": "m-1"}})
        );
        invalid_value_naming(
            &norm_user(ent(json!("m-1")), Mode::Strict).unwrap_err(),
            "must be a complex object",
        );
        // Entra PATCH-style one-element array.
        let n = norm_user(
            ent(json!([{"value": "m-2", "$ref": "../Users/m-2"}])),
            Mode::Compatible,
        )
        .unwrap();
        assert_eq!(
            doc(&n)[ENTERPRISE_USER_SCHEMA],
            json!({"manager": {"value": "m-2", "$ref": "../Users/m-2"}})
        );
        assert!(
            norm_user(
                ent(json!([{"value": "a"}, {"value": "b"}])),
                Mode::Compatible
            )
            .is_err()
        );
        // OneLogin 1.1: managerId is the value; displayName is readOnly and dropped.
        let n = norm_user(
            ent(json!({"managerId": "m-3", "displayName": "Jane Boss"})),
            Mode::Compatible,
        )
        .unwrap();
        assert_eq!(
            doc(&n)[ENTERPRISE_USER_SCHEMA],
            json!({"manager": {"value": "m-3"}})
        );
        invalid_value_naming(
            &norm_user(ent(json!({"managerId": "m-3"})), Mode::Strict).unwrap_err(),
            "manager.managerId",
        );
    }

    #[test]
    fn canonical_values_are_not_enforced() {
        for mode in BOTH {
            let n = norm_user(
                json!({"schemas": [USER_SCHEMA], "userName": "u",
                       "emails": [{"value": "a@b", "type": "corporate"}]}),
                mode,
            )
            .unwrap();
            assert_eq!(doc(&n)["emails"][0]["type"], "corporate");
        }
    }

    #[test]
    fn at_most_one_primary() {
        let body = json!({"schemas": [USER_SCHEMA], "userName": "u", "emails": [
            {"value": "a@b", "type": "work", "primary": true},
            {"value": "c@d", "type": "home", "primary": true},
            {"value": "e@f", "type": "home", "primary": false}]});
        let n = norm_user(body.clone(), Mode::Compatible).unwrap();
        let primaries: Vec<_> = doc(&n)["emails"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["primary"].clone())
            .collect();
        assert_eq!(primaries, [json!(true), json!(false), json!(false)]);
        invalid_value_naming(
            &norm_user(body, Mode::Strict).unwrap_err(),
            "'emails' may be primary",
        );
    }

    #[test]
    fn duplicate_elements_are_collapsed() {
        for mode in BOTH {
            let n = norm_user(
                json!({"schemas": [USER_SCHEMA], "userName": "u", "emails": [
                    {"value": "A@b", "type": "work"},
                    {"value": "a@b", "type": "WORK", "primary": true},
                    {"value": "a@b", "type": "home"}]}),
                mode,
            )
            .unwrap();
            assert_eq!(
                doc(&n)["emails"],
                json!([{"value": "A@b", "type": "work", "primary": true}, {"value": "a@b", "type": "home"}])
            );
        }
    }

    #[test]
    fn password_is_extracted_and_never_stored() {
        let n = norm_user(
            json!({"schemas": [USER_SCHEMA], "userName": "u", "Password": "s3cret"}),
            Mode::Strict,
        )
        .unwrap();
        assert_eq!(n.password.as_deref(), Some("s3cret"));
        assert!(!n.document.contains_key("password"));
        let n = norm_user(
            json!({"schemas": [USER_SCHEMA], "userName": "u", "password": ""}),
            Mode::Compatible,
        )
        .unwrap();
        assert_eq!(n.password, None);
        for mode in BOTH {
            let e = norm_user(
                json!({"schemas": [USER_SCHEMA], "userName": "u", "password": 5}),
                mode,
            )
            .unwrap_err();
            invalid_value_naming(&e, "password");
        }
        // Even addressed with the core URN.
        let n = norm_user(
            json!({"schemas": [USER_SCHEMA], "userName": "u", "urn:ietf:params:scim:schemas:core:2.0:User:password": "x"}),
            Mode::Compatible,
        )
        .unwrap();
        assert!(!n.document.contains_key("password"));
    }

    #[test]
    fn group_members_are_extracted() {
        let n = norm_group(
            json!({"schemas": [GROUP_SCHEMA], "displayName": "G", "members": [
                {"value": "u1", "display": "x", "$ref": "https://h/Users/u1"},
                {"Value": "g2", "TYPE": "group"},
                {"value": "u3", "type": "User"},
                {"value": "u1"}]}),
            Mode::Strict,
        )
        .unwrap();
        assert_eq!(doc(&n), json!({"displayName": "G"}));
        assert_eq!(
            n.members.unwrap(),
            vec![
                MemberRef {
                    value: "u1".into(),
                    kind: None,
                    display: Some("x".into()),
                },
                MemberRef {
                    value: "g2".into(),
                    kind: Some(MemberKind::Group),
                    display: None,
                },
                MemberRef {
                    value: "u3".into(),
                    kind: Some(MemberKind::User),
                    display: None,
                },
            ]
        );
        // Absent vs explicitly empty.
        let n = norm_group(
            json!({"schemas": [GROUP_SCHEMA], "displayName": "G"}),
            Mode::Strict,
        )
        .unwrap();
        assert_eq!(n.members, None);
        let n = norm_group(
            json!({"schemas": [GROUP_SCHEMA], "displayName": "G", "members": null}),
            Mode::Strict,
        )
        .unwrap();
        assert_eq!(n.members, None);
        let n = norm_group(
            json!({"schemas": [GROUP_SCHEMA], "displayName": "G", "members": []}),
            Mode::Strict,
        )
        .unwrap();
        assert_eq!(n.members, Some(vec![]));
        // Bare strings: compatible only.
        let body = json!({"schemas": [GROUP_SCHEMA], "displayName": "G", "members": ["u9", {"value": "u8", "type": "Robot"}]});
        let n = norm_group(body.clone(), Mode::Compatible).unwrap();
        assert_eq!(
            n.members.unwrap(),
            vec![
                MemberRef {
                    value: "u9".into(),
                    kind: None,
                    display: None,
                },
                MemberRef {
                    value: "u8".into(),
                    kind: None,
                    display: None,
                }
            ]
        );
        assert!(matches!(
            norm_group(body, Mode::Strict).unwrap_err(),
            Error::InvalidValue(_)
        ));
        let n = norm_group(
            json!({"schemas": [GROUP_SCHEMA], "displayName": "G", "members": "u7"}),
            Mode::Compatible,
        )
        .unwrap();
        assert_eq!(
            n.members.unwrap(),
            vec![MemberRef {
                value: "u7".into(),
                kind: None,
                display: None,
            }]
        );
        for mode in BOTH {
            for members in [
                json!([{"value": ""}]),
                json!([{"display": "x"}]),
                json!([{"value": 5}]),
                json!([1]),
            ] {
                let e = norm_group(
                    json!({"schemas": [GROUP_SCHEMA], "displayName": "G", "members": members}),
                    mode,
                )
                .unwrap_err();
                invalid_value_naming(&e, "members");
            }
        }
        // Users never get members extracted; `members` is simply unknown there.
        let n = norm_user(
            json!({"schemas": [USER_SCHEMA], "userName": "u", "members": [{"value": "x"}]}),
            Mode::Compatible,
        )
        .unwrap();
        assert_eq!(n.members, None);
    }

    #[test]
    fn output_document_never_holds_derived_attributes() {
        for mode in BOTH {
            let n = norm_user(
                json!({"schemas": [USER_SCHEMA], "id": "1", "meta": {}, "userName": "u", "groups": [{"value": "g"}],
                       "password": "p", "members": null}),
                Mode::Compatible,
            )
            .unwrap();
            let g = norm_group(
                json!({"schemas": [GROUP_SCHEMA], "id": "1", "meta": {"version": "W/\"1\""}, "displayName": "g",
                       "members": [{"value": "x"}]}),
                mode,
            )
            .unwrap();
            for d in [&n.document, &g.document] {
                for k in ["id", "meta", "schemas", "groups", "members", "password"] {
                    assert!(!d.contains_key(k), "{k} in {d:?}");
                }
            }
        }
    }

    #[test]
    fn normalize_value_for_attributes_and_leaves() {
        let r = reg();
        let rt = user(&r);
        let resolve = |p: AttrPath| r.resolve(&rt, &p).unwrap();
        let v = normalize_value(
            &r,
            &rt,
            resolve(AttrPath::simple("ACTIVE")),
            &json!("False"),
            Mode::Compatible,
        )
        .unwrap();
        assert_eq!(v, Some(json!(false)));
        let e = normalize_value(
            &r,
            &rt,
            resolve(AttrPath::simple("active")),
            &json!("False"),
            Mode::Strict,
        )
        .unwrap_err();
        invalid_value_naming(&e, "'active' must be a boolean");
        let v = normalize_value(
            &r,
            &rt,
            resolve(AttrPath::with_sub("name", "GIVENNAME")),
            &json!("Kkom"),
            Mode::Strict,
        )
        .unwrap();
        assert_eq!(v, Some(json!("Kkom")));
        let v = normalize_value(
            &r,
            &rt,
            resolve(AttrPath::with_sub("emails", "value")),
            &json!("x@y"),
            Mode::Strict,
        )
        .unwrap();
        assert_eq!(v, Some(json!("x@y")));
        let v = normalize_value(
            &r,
            &rt,
            resolve(AttrPath::with_sub("emails", "primary")),
            &json!("True"),
            Mode::Compatible,
        )
        .unwrap();
        assert_eq!(v, Some(json!(true)));
        for absent in [json!(null), json!([])] {
            let v = normalize_value(
                &r,
                &rt,
                resolve(AttrPath::simple("emails")),
                &absent,
                Mode::Strict,
            )
            .unwrap();
            assert_eq!(v, None);
        }
        let v = normalize_value(
            &r,
            &rt,
            resolve(AttrPath::simple("roles")),
            &json!([{"value": "{\"value\":\"25\",\"displayName\":\"R\"}"}]),
            Mode::Compatible,
        )
        .unwrap();
        assert_eq!(v, Some(json!([{"value": "25", "display": "R"}])));
        let manager = AttrPath {
            urn: Some(ENTERPRISE_USER_SCHEMA.into()),
            name: "manager".into(),
            sub: None,
        };
        let v = normalize_value(
            &r,
            &rt,
            resolve(manager),
            &json!([{"$ref": null, "value": "00aa"}]),
            Mode::Compatible,
        )
        .unwrap();
        assert_eq!(v, Some(json!({"value": "00aa"})));
        let e = normalize_value(
            &r,
            &rt,
            resolve(AttrPath {
                urn: Some(ENTERPRISE_USER_SCHEMA.into()),
                name: "manager".into(),
                sub: Some("value".into()),
            }),
            &json!(true),
            Mode::Compatible,
        )
        .unwrap_err();
        invalid_value_naming(
            &e,
            "'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value' must be a string",
        );
        let g = group(&r);
        let members = r.resolve(&g, &AttrPath::simple("members")).unwrap();
        let v = normalize_value(&r, &g, members, &json!("string id 1"), Mode::Compatible).unwrap();
        assert_eq!(v, Some(json!([{"value": "string id 1"}])));
    }

    #[test]
    fn immutable_attributes_cannot_change_on_put() {
        let r = custom_registry();
        let rt = user(&r);
        let map = |v: Value| v.as_object().unwrap().clone();
        let old = map(
            json!({"userName": "u", CUSTOM: {"employeeId": "E1", "badge": {"value": "b", "serial": "S1"}}}),
        );
        // Same values (other attributes may change).
        let same = map(
            json!({"userName": "v", CUSTOM: {"employeeId": "E1", "badge": {"value": "c", "serial": "S1"}}}),
        );
        assert!(check_immutable(&r, &rt, &old, &same).is_ok());
        for new in [
            json!({"userName": "u", CUSTOM: {"employeeId": "E2", "badge": {"serial": "S1"}}}),
            json!({"userName": "u", CUSTOM: {"badge": {"serial": "S1"}}}),
            json!({"userName": "u"}),
            json!({"userName": "u", CUSTOM: {"employeeId": "E1", "badge": {"serial": "S2"}}}),
            json!({"userName": "u", CUSTOM: {"employeeId": "E1"}}),
        ] {
            let e = check_immutable(&r, &rt, &old, &map(new.clone())).unwrap_err();
            assert!(matches!(e, Error::Mutability(_)), "{new}: {e:?}");
            assert_eq!(e.scim_type(), Some("mutability"));
        }
        // No existing value: the first one may be set.
        let empty = map(json!({"userName": "u"}));
        assert!(check_immutable(&r, &rt, &empty, &old).is_ok());
        // The built-in catalogue has no immutable attributes in stored documents.
        let b = reg();
        let before = map(json!({"userName": "a", "name": {"givenName": "A"}}));
        let after = map(json!({"userName": "b"}));
        assert!(check_immutable(&b, &user(&b), &before, &after).is_ok());
    }

    #[test]
    fn output_schemas_lists_present_extensions_only() {
        let r = custom_registry();
        let rt = user(&r);
        let map = |v: Value| v.as_object().unwrap().clone();
        assert_eq!(
            output_schemas(&r, &rt, &map(json!({"userName": "u"}))),
            [USER_SCHEMA]
        );
        assert_eq!(
            output_schemas(
                &r,
                &rt,
                &map(
                    json!({CUSTOM: {"level": 1}, "userName": "u", ENTERPRISE_USER_SCHEMA: {"department": "d"}})
                )
            ),
            [USER_SCHEMA, ENTERPRISE_USER_SCHEMA, CUSTOM]
        );
        assert_eq!(
            output_schemas(&r, &rt, &map(json!({ENTERPRISE_USER_SCHEMA: {}}))),
            [USER_SCHEMA]
        );
        let b = reg();
        assert_eq!(
            output_schemas(&b, &group(&b), &map(json!({"displayName": "g"}))),
            [GROUP_SCHEMA]
        );
    }

    // --- Bodies from /work/shared/idp-quirks.md §1–§3 ---

    #[test]
    fn okta_create_user_with_password_and_groups() {
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "test.user@okta.local",
            "name": {"givenName": "Test", "familyName": "User"},
            "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
            "displayName": "Test User",
            "locale": "en-US",
            "externalId": "00ujl29u0le5T6Aj10h7",
            "groups": [],
            "password": "1mz050nq",
            "active": true
        });
        for mode in BOTH {
            let n = norm_user(body.clone(), mode).unwrap();
            assert_eq!(n.password.as_deref(), Some("1mz050nq"));
            assert_eq!(
                doc(&n),
                json!({
                    "userName": "test.user@okta.local",
                    "name": {"givenName": "Test", "familyName": "User"},
                    "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
                    "displayName": "Test User",
                    "locale": "en-US",
                    "externalId": "00ujl29u0le5T6Aj10h7",
                    "active": true
                })
            );
        }
    }

    #[test]
    fn okta_put_echoing_read_only_attributes() {
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": "23a35c27-23d3-4c03-b4c5-6443c09e7173",
            "userName": "test.user@okta.local",
            "name": {"givenName": "Another", "middleName": "Excited", "familyName": "User"},
            "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work", "display": "test.user@okta.local"}],
            "active": true,
            "groups": [],
            "meta": {"resourceType": "User"}
        });
        for mode in BOTH {
            let n = norm_user(body.clone(), mode).unwrap();
            assert_eq!(
                doc(&n),
                json!({
                    "userName": "test.user@okta.local",
                    "name": {"givenName": "Another", "middleName": "Excited", "familyName": "User"},
                    "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work", "display": "test.user@okta.local"}],
                    "active": true
                })
            );
            assert_eq!(n.password, None);
        }
    }

    #[test]
    fn okta_groups_create_and_aiw_put() {
        for mode in BOTH {
            let n = norm_group(
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Test SCIMv2", "members": []}),
                mode,
            )
            .unwrap();
            assert_eq!(doc(&n), json!({"displayName": "Test SCIMv2"}));
            assert_eq!(n.members, Some(vec![]));
            let n = norm_group(
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Test SCIMv2",
                       "members": [{"value": "23a35c27-23d3-4c03-b4c5-6443c09e7173", "display": "test.user@okta.local"}]}),
                mode,
            )
            .unwrap();
            assert_eq!(
                n.members,
                Some(vec![MemberRef {
                    value: "23a35c27-23d3-4c03-b4c5-6443c09e7173".into(),
                    kind: None,
                    display: Some("test.user@okta.local".into()),
                }])
            );
        }
    }

    #[test]
    fn entra_create_user() {
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
            "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
            "userName": "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
            "active": true,
            "emails": [{"primary": true, "type": "work", "value": "Test_User_11bb@testuser.com"}],
            "meta": {"resourceType": "User"},
            "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
            "roles": []
        });
        for mode in BOTH {
            let n = norm_user(body.clone(), mode).unwrap();
            assert_eq!(
                doc(&n),
                json!({
                    "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
                    "userName": "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
                    "active": true,
                    "emails": [{"primary": true, "type": "work", "value": "Test_User_11bb@testuser.com"}],
                    "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"}
                })
            );
        }
    }

    #[test]
    fn entra_create_with_nulls_and_malformed_urn() {
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"],
            "externalId": "jyoung",
            "userName": "jyoung@contoso.com",
            "active": true,
            "addresses": null,
            "displayName": "Joy Young",
            "emails": [{"type": "work", "value": "jyoung@contoso.com", "primary": true}],
            "meta": {"resourceType": "User"},
            "name": {"familyName": "Young", "givenName": "Joy"},
            "phoneNumbers": null,
            "title": null,
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": null, "manager": null}
        });
        for mode in BOTH {
            let n = norm_user(body.clone(), mode).unwrap();
            assert_eq!(
                doc(&n),
                json!({
                    "externalId": "jyoung",
                    "userName": "jyoung@contoso.com",
                    "active": true,
                    "displayName": "Joy Young",
                    "emails": [{"type": "work", "value": "jyoung@contoso.com", "primary": true}],
                    "name": {"familyName": "Young", "givenName": "Joy"}
                })
            );
            let r = reg();
            assert_eq!(output_schemas(&r, &user(&r), &n.document), [USER_SCHEMA]);
        }
    }

    #[test]
    fn entra_validator_capitalised_names_and_string_booleans() {
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
            "UserName": "OMAR_B@contoso.com",
            "Active": "True",
            "DisplayName": "Omar",
            "emails": [
                {"Primary": true, "type": "work", "value": "omar_b@contoso.com"},
                {"Primary": null, "type": "work", "value": "omar.b@contoso.com"}
            ],
            "meta": {"resourceType": "User", "created": "2018-03-27T19:59:26.000Z"},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                "Department": "Sales", "Manager": {"Value": "m-1"}
            }
        });
        let n = norm_user(body.clone(), Mode::Compatible).unwrap();
        assert_eq!(
            doc(&n),
            json!({
                "userName": "OMAR_B@contoso.com",
                "active": true,
                "displayName": "Omar",
                "emails": [
                    {"primary": true, "type": "work", "value": "omar_b@contoso.com"},
                    {"type": "work", "value": "omar.b@contoso.com"}
                ],
                ENTERPRISE_USER_SCHEMA: {"department": "Sales", "manager": {"value": "m-1"}}
            })
        );
        invalid_value_naming(
            &norm_user(body.clone(), Mode::Strict).unwrap_err(),
            "'active' must be a boolean",
        );
        let mut fixed = body;
        fixed["Active"] = json!(true);
        assert_eq!(doc(&norm_user(fixed, Mode::Strict).unwrap()), doc(&n));
    }

    #[test]
    fn entra_group_with_microsoft_schema_uri() {
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group", "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
            "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
            "displayName": "displayName",
            "meta": {"resourceType": "Group"}
        });
        for mode in BOTH {
            let n = norm_group(body.clone(), mode).unwrap();
            assert_eq!(
                doc(&n),
                json!({"externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159", "displayName": "displayName"})
            );
            assert_eq!(n.members, None);
        }
    }

    #[test]
    fn entra_single_app_role_assignment_on_create() {
        let n = norm_user(
            json!({"schemas": [USER_SCHEMA], "userName": "u",
                   "roles": [{"primary": true, "type": "WindowsAzureActiveDirectoryRole", "value": "Admin"}]}),
            Mode::Strict,
        )
        .unwrap();
        assert_eq!(
            doc(&n)["roles"],
            json!([{"primary": true, "type": "WindowsAzureActiveDirectoryRole", "value": "Admin"}])
        );
    }

    #[test]
    fn onelogin_core_template() {
        let body = json!({
            "schemas": ["urn:scim:schemas:core:1.0"],
            "userName": "jdoe",
            "name": {"givenName": "John", "familyName": "Doe", "formatted": "John Doe"}
        });
        for mode in BOTH {
            let n = norm_user(body.clone(), mode).unwrap();
            assert_eq!(
                doc(&n),
                json!({"userName": "jdoe", "name": {"givenName": "John", "familyName": "Doe", "formatted": "John Doe"}})
            );
        }
    }

    #[test]
    fn onelogin_enterprise_template() {
        let body = json!({
            "schemas": ["urn:scim:schemas:core:1.0", "urn:scim:schemas:extension:enterprise:1.0"],
            "userName": "jdoe",
            "name": {"familyName": "Doe", "givenName": "John", "formatted": "John Doe"},
            "emails": {"value": "jdoe@example.com", "type": "work", "primary": true},
            "title": "",
            "urn:scim:schemas:extension:enterprise:1.0": {
                "department": "Engineering",
                "manager": {"managerId": "m-77", "displayName": "Jane Boss"}
            }
        });
        let n = norm_user(body.clone(), Mode::Compatible).unwrap();
        assert_eq!(
            doc(&n),
            json!({
                "userName": "jdoe",
                "name": {"familyName": "Doe", "givenName": "John", "formatted": "John Doe"},
                "emails": [{"value": "jdoe@example.com", "type": "work", "primary": true}],
                ENTERPRISE_USER_SCHEMA: {"department": "Engineering", "manager": {"value": "m-77"}}
            })
        );
        let r = reg();
        assert_eq!(
            output_schemas(&r, &user(&r), &n.document),
            [USER_SCHEMA, ENTERPRISE_USER_SCHEMA]
        );
        invalid_value_naming(
            &norm_user(body, Mode::Strict).unwrap_err(),
            "'emails' must be an array",
        );
    }

    #[test]
    fn onelogin_unresolved_template_parameters() {
        let body = json!({
            "schemas": ["urn:scim:schemas:core:1.0", "urn:scim:schemas:extension:enterprise:1.0"],
            "id": null,
            "userName": "jdoe",
            "active": "",
            "emails": {"value": "", "type": "work", "primary": true},
            "user_mobile": "",
            "urn:scim:schemas:extension:enterprise:1.0": {
                "department": "",
                "manager": {"managerId": "", "displayName": " "}
            }
        });
        let n = norm_user(body, Mode::Compatible).unwrap();
        assert_eq!(doc(&n), json!({"userName": "jdoe"}));
        let n = norm_user(
            json!({"schemas": ["urn:scim:schemas:core:1.0"], "userName": "jdoe", "active": "{$user.active}"}),
            Mode::Compatible,
        );
        invalid_value_naming(&n.unwrap_err(), "'active' must be a boolean");
    }
}
