//! The PATCH engine (RFC 7644 §3.5.2): parses a `PatchOp` message and applies its operations to
//! a stored resource document, all or nothing.
//!
//! The engine follows §3.5.2.1 (add), §3.5.2.2 (remove) and §3.5.2.3 (replace) and, in
//! [`Mode::Compatible`] (the default), the deviations real identity providers depend on
//! (docs: /work/shared/idp-quirks.md §6): capitalised op names, `delete`, path-less values whose
//! keys are dotted or URN-qualified paths, filtered add/replace that creates the element when
//! nothing matches (Entra), `remove` with a value list that removes exactly those items
//! (Entra, JumpCloud), an `id` equal to the resource id in a path-less value (Okta group rename),
//! `manager` given as a bare id, and `null` meaning "unassign".
//!
//! Group membership never enters the document: operations on a Group's `members` become
//! [`MemberOp`]s that storage applies as row inserts and deletes. A User's `password` is handed
//! back in [`PatchOutcome::password`] and never stored in the document.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::filter::{self, AttrPath, CompValue, CompareOp, Evaluator, Filter, PatchPath};
use crate::resource::{MemberOp, MemberRef, Mode};
use crate::schema::{
    AttrLocation, AttributeDef, Mutability, Registry, ResolvedAttr, ResourceKind, ResourceType,
    Schema,
};
use crate::validate;

/// URN of the PATCH request message schema (RFC 7644 §3.5.2).
pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// The most operations one PATCH request may carry; more is [`Error::TooMany`].
pub const MAX_OPERATIONS: usize = 1000;

/// Depth budget for the recursive JSON comparisons the engine makes on client values.
const MAX_DEPTH: usize = 64;

/// The three PATCH operations of RFC 7644 §3.5.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PatchOpKind {
    Add,
    Replace,
    Remove,
}

impl PatchOpKind {
    /// The operation name in lower case.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Add => "add",
            Self::Replace => "replace",
            Self::Remove => "remove",
        }
    }
}

/// One parsed PATCH operation.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOperation {
    pub op: PatchOpKind,
    /// `None` for a path-less add/replace, whose value is an object of attribute paths.
    pub path: Option<PatchPath>,
    /// The operation's value as sent; `Some(Value::Null)` when the client sent `null`.
    pub value: Option<Value>,
}

/// A parsed `urn:ietf:params:scim:api:messages:2.0:PatchOp` message.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchRequest {
    pub operations: Vec<PatchOperation>,
}

/// Looks a key up exactly, then ignoring ASCII case (RFC 7643 §2.1 names are case-insensitive).
fn get_ci<'v>(map: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

impl PatchRequest {
    /// Parses a PATCH request body.
    ///
    /// Strict mode requires `schemas` to list [`PATCH_OP_SCHEMA`]; compatible mode tolerates a
    /// missing or different list. Key names and op names are matched ignoring case; compatible
    /// mode also accepts `delete` for `remove` and an empty `path` for "no path". Extra keys
    /// (a top-level `id`, `"name": "addMember"` inside operations) are ignored.
    ///
    /// Errors: [`Error::InvalidSyntax`] for a malformed message, [`Error::InvalidValue`] for
    /// an empty operation list or a missing add/replace value, [`Error::NoTarget`] for a
    /// path-less remove, [`Error::InvalidPath`] for a bad path and [`Error::TooMany`] above
    /// [`MAX_OPERATIONS`].
    pub fn parse(body: &Value, mode: Mode) -> Result<PatchRequest> {
        let Value::Object(body) = body else {
            return Err(Error::invalid_syntax("a PATCH body must be a JSON object"));
        };
        if mode == Mode::Strict {
            let listed = get_ci(body, "schemas")
                .and_then(Value::as_array)
                .is_some_and(|schemas| {
                    schemas.iter().any(|s| {
                        s.as_str()
                            .is_some_and(|s| s.eq_ignore_ascii_case(PATCH_OP_SCHEMA))
                    })
                });
            if !listed {
                return Err(Error::invalid_syntax(format!(
                    "schemas must contain {PATCH_OP_SCHEMA}"
                )));
            }
        }
        let operations = match get_ci(body, "Operations") {
            Some(Value::Array(ops)) => ops,
            Some(_) => return Err(Error::invalid_syntax("Operations must be an array")),
            None => return Err(Error::invalid_syntax("a PATCH body needs Operations")),
        };
        if operations.is_empty() {
            return Err(Error::invalid_value("Operations must not be empty"));
        }
        if operations.len() > MAX_OPERATIONS {
            return Err(Error::TooMany(format!(
                "a PATCH request may carry at most {MAX_OPERATIONS} operations"
            )));
        }
        let operations = operations
            .iter()
            .enumerate()
            .map(|(i, op)| parse_operation(i, op, mode))
            .collect::<Result<Vec<_>>>()?;
        Ok(PatchRequest { operations })
    }
}

fn parse_operation(index: usize, op: &Value, mode: Mode) -> Result<PatchOperation> {
    let Value::Object(op) = op else {
        return Err(Error::invalid_syntax(format!(
            "Operations[{index}] must be an object"
        )));
    };
    let name = get_ci(op, "op")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::invalid_syntax(format!("Operations[{index}] needs an op string")))?;
    let kind = if name.eq_ignore_ascii_case("add") {
        PatchOpKind::Add
    } else if name.eq_ignore_ascii_case("replace") {
        PatchOpKind::Replace
    } else if name.eq_ignore_ascii_case("remove")
        || (mode == Mode::Compatible && name.eq_ignore_ascii_case("delete"))
    {
        PatchOpKind::Remove
    } else {
        return Err(Error::invalid_syntax(format!(
            "Operations[{index}]: unknown op {name:?} (expected add, replace or remove)"
        )));
    };
    let path = match get_ci(op, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() && mode == Mode::Compatible => None,
        Some(Value::String(s)) => Some(filter::parse_patch_path(s)?),
        Some(_) => {
            return Err(Error::invalid_path(format!(
                "Operations[{index}]: path must be a string"
            )));
        }
    };
    let value = get_ci(op, "value").cloned();
    match kind {
        PatchOpKind::Remove if path.is_none() => {
            return Err(Error::NoTarget(format!(
                "Operations[{index}]: remove needs a path"
            )));
        }
        PatchOpKind::Add | PatchOpKind::Replace => match &value {
            None => {
                return Err(Error::invalid_value(format!(
                    "Operations[{index}]: {} needs a value",
                    kind.as_str()
                )));
            }
            Some(Value::Null) if mode == Mode::Strict => {
                return Err(Error::invalid_value(format!(
                    "Operations[{index}]: {} needs a non-null value; use remove to unassign",
                    kind.as_str()
                )));
            }
            _ => {}
        },
        PatchOpKind::Remove => {}
    }
    Ok(PatchOperation {
        op: kind,
        path,
        value,
    })
}

/// What [`apply`] needs to know about the resource being patched.
#[derive(Debug, Clone, Copy)]
pub struct PatchContext<'a> {
    pub registry: &'a Registry,
    pub resource_type: &'a ResourceType,
    /// The id of the resource, so that a path-less value carrying the same `id` is accepted.
    pub resource_id: &'a str,
    pub mode: Mode,
}

/// The result of applying a PATCH request.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOutcome {
    /// The new stored document (never holds `id`, `meta`, `schemas`, `members`, `groups` or
    /// `password`).
    pub document: Map<String, Value>,
    /// Whether anything changed: the document, the membership or the password. A no-op
    /// PATCH must not bump the resource version.
    pub changed: bool,
    /// Canonical names of the changed attributes (URN-qualified for extension attributes),
    /// sorted and deduplicated; includes `members` when `member_ops` is non-empty and
    /// `password` when a password was set.
    pub changed_attributes: Vec<String>,
    /// Group membership changes, in request order.
    pub member_ops: Vec<MemberOp>,
    /// A password set by the request (User only).
    pub password: Option<String>,
}

/// Applies `request` to the stored `document` of a resource.
///
/// All or nothing: the operations run in order on a copy, and the first error is returned
/// with nothing applied.
pub fn apply(
    ctx: &PatchContext<'_>,
    document: &Map<String, Value>,
    request: &PatchRequest,
) -> Result<PatchOutcome> {
    let mut engine = Engine {
        ctx,
        kind: ctx.registry.kind(ctx.resource_type),
        doc: document.clone(),
        member_ops: Vec::new(),
        password: None,
    };
    for op in &request.operations {
        engine.run(op)?;
    }
    let Engine {
        doc,
        member_ops,
        password,
        ..
    } = engine;
    let mut changed_attributes = diff_attributes(ctx, document, &doc);
    if !member_ops.is_empty() {
        changed_attributes.insert("members".to_owned());
    }
    if password.is_some() {
        changed_attributes.insert("password".to_owned());
    }
    Ok(PatchOutcome {
        changed: !changed_attributes.is_empty(),
        changed_attributes: changed_attributes.into_iter().collect(),
        document: doc,
        member_ops,
        password,
    })
}

/// Names of the top-level (and extension) attributes that differ between two documents.
fn diff_attributes(
    ctx: &PatchContext<'_>,
    before: &Map<String, Value>,
    after: &Map<String, Value>,
) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for key in before.keys().chain(after.keys()) {
        let (b, a) = (before.get(key), after.get(key));
        if b == a {
            continue;
        }
        let Some(schema) = ctx.registry.extension(ctx.resource_type, key) else {
            out.insert(key.clone());
            continue;
        };
        let empty = Map::new();
        let b = b.and_then(Value::as_object).unwrap_or(&empty);
        let a = a.and_then(Value::as_object).unwrap_or(&empty);
        for inner in b.keys().chain(a.keys()) {
            if b.get(inner) != a.get(inner) {
                out.insert(format!("{}:{inner}", schema.id));
            }
        }
    }
    out
}

/// Whether an operation's target came from an explicit `path` or from a key of a path-less
/// value object. Compatible mode ignores unknown and readOnly keys in value objects (as it
/// does in POST/PUT bodies) but not in explicit paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Path,
    Value,
}

struct Engine<'c, 'a> {
    ctx: &'c PatchContext<'a>,
    kind: ResourceKind,
    doc: Map<String, Value>,
    member_ops: Vec<MemberOp>,
    password: Option<String>,
}

impl<'a> Engine<'_, 'a> {
    fn compat(&self) -> bool {
        self.ctx.mode == Mode::Compatible
    }

    fn run(&mut self, op: &PatchOperation) -> Result<()> {
        match &op.path {
            Some(path) => self.apply_path(op.op, path, op.value.as_ref(), Origin::Path),
            None => self.apply_pathless(op.op, op.value.as_ref()),
        }
    }

    /// RFC 7644 §3.5.2.1/§3.5.2.3 without `path`: the value is an object of attributes.
    fn apply_pathless(&mut self, kind: PatchOpKind, value: Option<&Value>) -> Result<()> {
        if kind == PatchOpKind::Remove {
            return Err(Error::NoTarget("remove needs a path".into()));
        }
        let Some(value) = value else {
            return Err(Error::invalid_value(format!(
                "{} needs a value",
                kind.as_str()
            )));
        };
        let Value::Object(attrs) = value else {
            if value.is_null() && self.compat() {
                return Ok(());
            }
            return Err(Error::invalid_value(format!(
                "a path-less {} needs an object value",
                kind.as_str()
            )));
        };
        for (key, v) in attrs {
            self.apply_key(kind, key, v)?;
        }
        Ok(())
    }

    /// One key of a path-less value: an attribute path, or an extension URN whose value
    /// holds that extension's attributes.
    fn apply_key(&mut self, kind: PatchOpKind, key: &str, value: &Value) -> Result<()> {
        let (registry, rt) = (self.ctx.registry, self.ctx.resource_type);
        if key.eq_ignore_ascii_case("id") {
            // Okta sends the group's own id in a rename; setting id to itself changes nothing.
            if value.as_str() == Some(self.ctx.resource_id) || (value.is_null() && self.compat()) {
                return Ok(());
            }
            return Err(Error::Mutability("id is readOnly".into()));
        }
        if key.eq_ignore_ascii_case("schemas") {
            if self.compat() {
                return Ok(());
            }
            return Err(Error::Mutability(
                "schemas is maintained by the server and cannot be patched".into(),
            ));
        }
        if let Some(schema) = registry.extension(rt, key) {
            return self.apply_extension_object(kind, schema, Some(value));
        }
        if self.compat()
            && let Some(core) = registry.core_schema(rt)
            && registry.schema(key).is_some_and(|s| s.id == core.id)
        {
            // A core-schema URN used as a container key: its value holds core attributes.
            let Value::Object(attrs) = value else {
                return Ok(());
            };
            for (k, v) in attrs {
                self.apply_key(kind, k, v)?;
            }
            return Ok(());
        }
        let path = match filter::parse_patch_path(key) {
            Ok(path) => path,
            Err(_) if self.compat() => return Ok(()),
            Err(e) => return Err(e),
        };
        self.apply_path(kind, &path, Some(value), Origin::Value)
    }

    /// An operation whose target is a whole extension object (`urn:…:User` as a path or a
    /// path-less key): its value's keys are that extension's attributes.
    fn apply_extension_object(
        &mut self,
        kind: PatchOpKind,
        schema: &Schema,
        value: Option<&Value>,
    ) -> Result<()> {
        if kind == PatchOpKind::Remove {
            self.doc.remove(&schema.id);
            return Ok(());
        }
        match value {
            None => Err(Error::invalid_value(format!(
                "{} needs a value",
                kind.as_str()
            ))),
            Some(Value::Null) => {
                if kind == PatchOpKind::Replace {
                    self.doc.remove(&schema.id);
                }
                Ok(())
            }
            Some(Value::Object(attrs)) => {
                for (k, v) in attrs {
                    let path = match filter::parse_patch_path(&format!("{}:{k}", schema.id)) {
                        Ok(path) => path,
                        Err(_) if self.compat() => continue,
                        Err(e) => return Err(e),
                    };
                    self.apply_path(kind, &path, Some(v), Origin::Value)?;
                }
                Ok(())
            }
            Some(_) => Err(Error::invalid_value(format!(
                "{} must be an object of its attributes",
                schema.id
            ))),
        }
    }

    /// Resolves an attribute path. Compatible mode also accepts an extension attribute
    /// without its URN when exactly one extension defines it (Entra sends `manager` and
    /// `manager[value eq "…"]`), and the pre-2018 Entra form `urn:…:2.0:User.manager` when
    /// the parser left it split at the dot.
    fn resolve(&self, attr: &AttrPath) -> Result<ResolvedAttr<'a>> {
        let (registry, rt) = (self.ctx.registry, self.ctx.resource_type);
        let err = match registry.resolve(rt, attr) {
            Ok(r) => return Ok(r),
            Err(e) => e,
        };
        if !self.compat() {
            return Err(err);
        }
        match (&attr.urn, &attr.sub) {
            (None, _) => {
                let mut owners = registry
                    .extension_schemas(rt)
                    .filter(|s| s.attribute(&attr.name).is_some());
                if let (Some(owner), None) = (owners.next(), owners.next()) {
                    return registry.resolve(
                        rt,
                        &AttrPath {
                            urn: Some(owner.id.clone()),
                            ..attr.clone()
                        },
                    );
                }
            }
            (Some(urn), Some(sub)) => {
                let urn = format!("{urn}:{}", attr.name);
                if registry.extension(rt, &urn).is_some() {
                    return registry.resolve(
                        rt,
                        &AttrPath {
                            urn: Some(urn),
                            name: sub.clone(),
                            sub: None,
                        },
                    );
                }
            }
            (Some(_), None) => {}
        }
        Err(err)
    }

    fn apply_path(
        &mut self,
        kind: PatchOpKind,
        path: &PatchPath,
        value: Option<&Value>,
        origin: Origin,
    ) -> Result<()> {
        let (registry, rt) = (self.ctx.registry, self.ctx.resource_type);
        if path.filter.is_none()
            && path.attr.sub.is_none()
            && let Some(urn) = &path.attr.urn
            && let Some(schema) = registry.extension(rt, &format!("{urn}:{}", path.attr.name))
        {
            return self.apply_extension_object(kind, schema, value);
        }
        let resolved = match self.resolve(&path.attr) {
            Ok(r) => r,
            Err(_) if origin == Origin::Value && self.compat() => return Ok(()),
            Err(e) => return Err(e),
        };
        let sub = match (&path.filter, &path.sub_attr) {
            (Some(_), Some(name)) => Some(
                resolved
                    .attr
                    .sub_attribute(name)
                    .ok_or_else(|| Error::invalid_path(format!("unknown attribute {path}")))?,
            ),
            (Some(_), None) => None,
            (None, _) => resolved.sub,
        };
        let target = ResolvedAttr { sub, ..resolved };
        let attr = target.attr;
        let is_core = matches!(target.location, AttrLocation::Core);

        if self.kind == ResourceKind::Group && is_core && attr.name.eq_ignore_ascii_case("members")
        {
            return self.members_op(kind, path, sub, value);
        }
        if self.kind == ResourceKind::User && is_core && attr.name.eq_ignore_ascii_case("groups") {
            if self.compat() {
                return Ok(());
            }
            return Err(Error::Mutability(
                "groups is readOnly; change membership through the Group".into(),
            ));
        }
        if self.kind == ResourceKind::User && is_core && attr.name.eq_ignore_ascii_case("password")
        {
            return self.password_op(kind, value);
        }
        if attr.mutability == Mutability::ReadOnly
            || sub.is_some_and(|s| s.mutability == Mutability::ReadOnly)
        {
            if origin == Origin::Value && self.compat() {
                return Ok(());
            }
            return Err(Error::Mutability(format!(
                "{} is readOnly",
                target.canonical_path()
            )));
        }

        let before = self.slot_take(&target);
        let after = match &path.filter {
            Some(f) => self.filtered(kind, target, f, before.clone(), value)?,
            None => match kind {
                PatchOpKind::Remove => self.remove_plain(target, before.clone(), value)?,
                PatchOpKind::Add | PatchOpKind::Replace => {
                    self.set_plain(kind, target, before.clone(), value)?
                }
            },
        };
        let after = match after {
            Some(mut v) => {
                self.fix_primary(attr, before.as_ref(), &mut v)?;
                prune(v)
            }
            None => None,
        };
        check_immutable(attr, before.as_ref(), after.as_ref(), &target)?;
        self.slot_put(&target, after);
        Ok(())
    }

    // ---- document slots -------------------------------------------------------------

    /// Removes and returns the attribute's current value from the working document.
    fn slot_take(&mut self, r: &ResolvedAttr<'_>) -> Option<Value> {
        match r.container_key() {
            None => self.doc.remove(&r.attr.name),
            Some(urn) => self
                .doc
                .get_mut(urn)
                .and_then(Value::as_object_mut)
                .and_then(|ext| ext.remove(&r.attr.name)),
        }
    }

    /// Stores the attribute's new value (or leaves it absent), creating the extension
    /// object when needed and dropping it when it becomes empty.
    fn slot_put(&mut self, r: &ResolvedAttr<'_>, value: Option<Value>) {
        match r.container_key() {
            None => {
                if let Some(v) = value {
                    self.doc.insert(r.attr.name.clone(), v);
                }
            }
            Some(urn) => {
                let mut ext = match self.doc.remove(urn) {
                    Some(Value::Object(ext)) => ext,
                    _ => Map::new(),
                };
                if let Some(v) = value {
                    ext.insert(r.attr.name.clone(), v);
                }
                if !ext.is_empty() {
                    self.doc.insert(urn.to_owned(), Value::Object(ext));
                }
            }
        }
    }

    // ---- value normalisation --------------------------------------------------------

    /// Normalises a value for `r` (the attribute, or its sub-attribute when `r.sub` is set).
    /// Compatible-mode shapes (a bare id for `manager`, `"False"`, JSON-encoded roles) are
    /// [`validate::normalize_value`]'s business, so PATCH and POST/PUT accept the same.
    fn normalize(&self, r: ResolvedAttr<'_>, value: &Value) -> Result<Option<Value>> {
        validate::normalize_value(
            self.ctx.registry,
            self.ctx.resource_type,
            r,
            value,
            self.ctx.mode,
        )
    }

    /// Normalises one element of a multi-valued attribute (the value of a filtered
    /// add/replace), or the object of a single-valued complex attribute.
    fn normalize_element(&self, r: ResolvedAttr<'_>, value: &Value) -> Result<Option<Value>> {
        let whole = ResolvedAttr { sub: None, ..r };
        if !r.attr.multi_valued {
            return self.normalize(whole, value);
        }
        let wrapped = match value {
            Value::Array(items) if items.len() <= 1 && self.compat() => value.clone(),
            Value::Array(_) => {
                return Err(Error::invalid_value(format!(
                    "a filtered path on {} selects elements; give one element as the value",
                    r.attr.name
                )));
            }
            other => Value::Array(vec![other.clone()]),
        };
        match self.normalize(whole, &wrapped)? {
            Some(Value::Array(mut items)) if items.len() <= 1 => Ok(items.pop()),
            Some(Value::Array(_)) => Err(Error::invalid_value(format!(
                "a filtered path on {} selects elements; give one element as the value",
                r.attr.name
            ))),
            other => Ok(other),
        }
    }

    // ---- add / replace / remove without filter --------------------------------------

    fn set_plain(
        &self,
        kind: PatchOpKind,
        r: ResolvedAttr<'_>,
        current: Option<Value>,
        value: Option<&Value>,
    ) -> Result<Option<Value>> {
        let value = value
            .ok_or_else(|| Error::invalid_value(format!("{} needs a value", kind.as_str())))?;
        if let Some(sub) = r.sub {
            let norm = self.normalize(r, value)?;
            if r.attr.multi_valued {
                // `emails.value` without a filter addresses that sub-attribute of every element.
                let mut items = into_list(current);
                if items.is_empty() {
                    let Some(v) = norm else { return Ok(None) };
                    if !self.compat() {
                        return Err(Error::NoTarget(format!(
                            "{} has no values to set {} on",
                            r.attr.name, sub.name
                        )));
                    }
                    let mut element = Map::new();
                    element.insert(sub.name.clone(), v);
                    return Ok(Some(Value::Array(vec![Value::Object(element)])));
                }
                for item in &mut items {
                    set_sub(item, sub, norm.clone());
                }
                return Ok(Some(Value::Array(items)));
            }
            let mut object = match current {
                Some(Value::Object(o)) => Value::Object(o),
                _ => Value::Object(Map::new()),
            };
            set_sub(&mut object, sub, norm);
            return Ok(Some(object));
        }
        let norm = match self.normalize(r, value)? {
            Some(v) if r.attr.multi_valued && !v.is_array() => Some(Value::Array(vec![v])),
            other => other,
        };
        let Some(new) = norm else {
            // `null`, `""` or `[]`: replace unassigns (RFC 7643 §2.5), add has nothing to add.
            return Ok(match kind {
                PatchOpKind::Replace => None,
                _ => current,
            });
        };
        Ok(Some(
            match (kind, r.attr.multi_valued, r.attr.is_complex()) {
                (PatchOpKind::Add, true, _) => {
                    let mut items = into_list(current);
                    for element in into_list(Some(new)) {
                        merge_element(r.attr, &mut items, element);
                    }
                    Value::Array(items)
                }
                // §3.5.2.3: sub-attributes not given in the value are left unchanged.
                (_, false, true) => match (current, new) {
                    (Some(Value::Object(mut old)), Value::Object(new)) => {
                        merge_object(&mut old, new);
                        Value::Object(old)
                    }
                    (_, new) => new,
                },
                _ => new,
            },
        ))
    }

    fn remove_plain(
        &self,
        r: ResolvedAttr<'_>,
        current: Option<Value>,
        value: Option<&Value>,
    ) -> Result<Option<Value>> {
        if let Some(sub) = r.sub {
            let mut current = current;
            match &mut current {
                Some(Value::Array(items)) => {
                    for item in items.iter_mut() {
                        set_sub(item, sub, None);
                    }
                }
                Some(object) => set_sub(object, sub, None),
                None => {}
            }
            return Ok(current);
        }
        let listed = value.filter(|v| !v.is_null());
        if let (true, Some(listed)) = (r.attr.multi_valued, listed) {
            // Entra/JumpCloud: `remove` with a value list removes exactly those items.
            let listed = match self.normalize(r, listed)? {
                Some(Value::Array(items)) => items,
                Some(other) => vec![other],
                None => return Ok(current),
            };
            let mut items = into_list(current);
            items.retain(|item| !listed.iter().any(|l| selects(r.attr, l, item)));
            return Ok(Some(Value::Array(items)));
        }
        Ok(None)
    }

    // ---- filtered paths -------------------------------------------------------------

    fn filtered(
        &self,
        kind: PatchOpKind,
        r: ResolvedAttr<'_>,
        filter: &Filter,
        current: Option<Value>,
        value: Option<&Value>,
    ) -> Result<Option<Value>> {
        let attr = r.attr;
        if !attr.multi_valued && !attr.is_complex() {
            return Err(Error::invalid_path(format!(
                "{} is single-valued and cannot take a value filter",
                attr.name
            )));
        }
        let evaluator = Evaluator::new(self.ctx.registry, self.ctx.resource_type);
        let multi = attr.multi_valued;
        let mut items = if multi {
            into_list(current)
        } else {
            current.into_iter().collect()
        };
        let mut matched = Vec::new();
        for (i, item) in items.iter().enumerate() {
            if evaluator.element_matches(attr, item, filter)? {
                matched.push(i);
            }
        }
        let rebuild = |items: Vec<Value>| -> Option<Value> {
            if multi {
                Some(Value::Array(items))
            } else {
                items.into_iter().next()
            }
        };
        if kind == PatchOpKind::Remove {
            if matched.is_empty() {
                if !self.compat() {
                    return Err(Error::NoTarget(format!(
                        "the filter on {} matched no value",
                        attr.name
                    )));
                }
                return Ok(rebuild(items));
            }
            match r.sub {
                Some(sub) => {
                    for &i in &matched {
                        if let Some(item) = items.get_mut(i) {
                            set_sub(item, sub, None);
                        }
                    }
                }
                None => {
                    let mut i = 0;
                    items.retain(|_| {
                        let keep = !matched.contains(&i);
                        i += 1;
                        keep
                    });
                }
            }
            return Ok(rebuild(items));
        }

        let value = value
            .ok_or_else(|| Error::invalid_value(format!("{} needs a value", kind.as_str())))?;
        let norm = match r.sub {
            Some(_) => self.normalize(r, value)?,
            None => self.normalize_element(r, value)?,
        };
        if matched.is_empty() {
            if !self.compat() {
                return Err(Error::NoTarget(format!(
                    "the filter on {} matched no value",
                    attr.name
                )));
            }
            let Some(norm) = norm else {
                return Ok(rebuild(items));
            };
            // Entra: add/replace on `emails[type eq "work"].value` with no work email creates
            // it, carrying the filter's equality conditions.
            let mut element = Map::new();
            filter_equalities(attr, filter, &mut element);
            let mut element = Value::Object(element);
            match r.sub {
                Some(sub) => set_sub(&mut element, sub, Some(norm)),
                None => {
                    if let (Value::Object(target), Value::Object(new)) = (&mut element, norm) {
                        merge_object(target, new);
                    }
                }
            }
            let element = match self.normalize_element(r, &element)? {
                Some(e) => e,
                None => return Ok(rebuild(items)),
            };
            if multi {
                items.push(element);
            } else {
                items = vec![element];
            }
            return Ok(rebuild(items));
        }
        match (r.sub, norm) {
            (Some(sub), norm) => {
                for &i in &matched {
                    if let Some(item) = items.get_mut(i) {
                        set_sub(item, sub, norm.clone());
                    }
                }
            }
            (None, Some(Value::Object(new))) => {
                for &i in &matched {
                    if let Some(Value::Object(item)) = items.get_mut(i) {
                        merge_object(item, new.clone());
                    }
                }
            }
            (None, Some(other)) => {
                for &i in &matched {
                    if let Some(item) = items.get_mut(i) {
                        *item = other.clone();
                    }
                }
            }
            (None, None) => {
                // Replacing the selected elements with null unassigns them.
                if kind == PatchOpKind::Replace {
                    let mut i = 0;
                    items.retain(|_| {
                        let keep = !matched.contains(&i);
                        i += 1;
                        keep
                    });
                }
            }
        }
        Ok(rebuild(items))
    }

    /// RFC 7643 §2.4: at most one element may be `primary: true`. Compatible mode keeps the
    /// one this operation made primary and clears the others; strict mode rejects.
    fn fix_primary(
        &self,
        attr: &AttributeDef,
        before: Option<&Value>,
        after: &mut Value,
    ) -> Result<()> {
        if !attr.multi_valued {
            return Ok(());
        }
        let Some(primary) = attr.sub_attribute("primary") else {
            return Ok(());
        };
        let Value::Array(items) = after else {
            return Ok(());
        };
        let key = primary.name.as_str();
        let is_primary = |e: &Value| e.get(key) == Some(&Value::Bool(true));
        if items.iter().filter(|e| is_primary(e)).count() <= 1 {
            return Ok(());
        }
        if !self.compat() {
            return Err(Error::invalid_value(format!(
                "more than one {} value is marked primary",
                attr.name
            )));
        }
        let old: Vec<&Value> = match before {
            Some(Value::Array(old)) => old.iter().filter(|e| is_primary(e)).collect(),
            _ => Vec::new(),
        };
        let keep = items
            .iter()
            .rposition(|e| is_primary(e) && !old.contains(&e))
            .or_else(|| items.iter().position(is_primary));
        for (i, item) in items.iter_mut().enumerate() {
            if Some(i) != keep
                && is_primary(item)
                && let Value::Object(o) = item
            {
                o.insert(key.to_owned(), Value::Bool(false));
            }
        }
        Ok(())
    }

    // ---- Group members and User password ---------------------------------------------

    fn members_op(
        &mut self,
        kind: PatchOpKind,
        path: &PatchPath,
        sub: Option<&AttributeDef>,
        value: Option<&Value>,
    ) -> Result<()> {
        let ids = path.filter.as_ref().map(member_filter_ids).transpose()?;
        if let Some(sub) = sub {
            if sub.name.eq_ignore_ascii_case("value") {
                return Err(Error::invalid_path(
                    "a member's value cannot be changed in place; remove the member and add the new one",
                ));
            }
            // display, $ref and type are derived from the member itself.
            return Ok(());
        }
        match (kind, ids) {
            (PatchOpKind::Remove, Some(ids)) => self.member_ops.push(MemberOp::Remove(ids)),
            (PatchOpKind::Remove, None) => match value.filter(|v| !v.is_null()) {
                None => self.member_ops.push(MemberOp::Clear),
                Some(listed) => {
                    let ids: Vec<String> = self
                        .member_refs(listed)?
                        .into_iter()
                        .map(|m| m.value)
                        .collect();
                    if !ids.is_empty() {
                        self.member_ops.push(MemberOp::Remove(ids));
                    }
                }
            },
            (PatchOpKind::Add, Some(_)) | (PatchOpKind::Replace, Some(_)) => {
                return Err(Error::invalid_path(
                    "members selected by a filter can only be removed; use add with path members",
                ));
            }
            (PatchOpKind::Add, None) => {
                let refs = self.member_refs(value.unwrap_or(&Value::Null))?;
                if !refs.is_empty() {
                    self.member_ops.push(MemberOp::Add(refs));
                }
            }
            (PatchOpKind::Replace, None) => {
                let refs = self.member_refs(value.unwrap_or(&Value::Null))?;
                self.member_ops.push(MemberOp::Clear);
                if !refs.is_empty() {
                    self.member_ops.push(MemberOp::Add(refs));
                }
            }
        }
        Ok(())
    }

    /// Member references from an operation value (shared with POST/PUT bodies).
    fn member_refs(&self, value: &Value) -> Result<Vec<MemberRef>> {
        Ok(validate::members_from_value(value, self.ctx.mode)?.unwrap_or_default())
    }

    fn password_op(&mut self, kind: PatchOpKind, value: Option<&Value>) -> Result<()> {
        if kind == PatchOpKind::Remove {
            return Err(Error::Mutability(
                "password can be set but not removed".into(),
            ));
        }
        match value {
            Some(Value::String(p)) if !p.is_empty() => {
                self.password = Some(p.clone());
                Ok(())
            }
            // OneLogin templates send unresolved parameters as "" and some clients send null.
            Some(Value::String(_)) | Some(Value::Null) if self.compat() => Ok(()),
            _ => Err(Error::invalid_value("password must be a non-empty string")),
        }
    }
}

/// Ids selected by a `members[...]` filter: only `value eq "id"` joined with `or`.
fn member_filter_ids(filter: &Filter) -> Result<Vec<String>> {
    fn collect(f: &Filter, out: &mut Vec<String>, depth: usize) -> bool {
        if depth > MAX_DEPTH {
            return false;
        }
        match f {
            Filter::Compare {
                path,
                op: CompareOp::Eq,
                value: CompValue::String(id),
            } if path.urn.is_none()
                && path.sub.is_none()
                && path.name.eq_ignore_ascii_case("value") =>
            {
                out.push(id.clone());
                true
            }
            Filter::Or(a, b) => collect(a, out, depth + 1) && collect(b, out, depth + 1),
            _ => false,
        }
    }
    let mut ids = Vec::new();
    if collect(filter, &mut ids, 0) {
        Ok(ids)
    } else {
        Err(Error::invalid_filter(
            0,
            "members can only be selected by value, as in members[value eq \"id\"] \
             (several joined with or)",
        ))
    }
}

/// A multi-valued attribute's current values as a list (tolerating a stored single value).
fn into_list(current: Option<Value>) -> Vec<Value> {
    match current {
        Some(Value::Array(items)) => items,
        Some(Value::Null) | None => Vec::new(),
        Some(other) => vec![other],
    }
}

/// Sets (or with `None` removes) a sub-attribute of a complex value.
fn set_sub(item: &mut Value, sub: &AttributeDef, value: Option<Value>) {
    let Value::Object(o) = item else {
        return;
    };
    match value {
        Some(v) => {
            o.insert(sub.name.clone(), v);
        }
        None => {
            o.remove(&sub.name);
        }
    }
}

fn merge_object(target: &mut Map<String, Value>, new: Map<String, Value>) {
    for (k, v) in new {
        target.insert(k, v);
    }
}

/// RFC 7644 §3.5.2.1: adds `element` unless an equal element is present, in which case the
/// new sub-attributes (e.g. `primary`) are merged into it. Complex elements with a `value`
/// are the same element when `value` and `type` agree.
fn merge_element(attr: &AttributeDef, items: &mut Vec<Value>, element: Value) {
    match items.iter_mut().find(|e| same_element(attr, e, &element)) {
        Some(Value::Object(existing)) => {
            if let Value::Object(new) = element {
                merge_object(existing, new);
            }
        }
        Some(_) => {}
        None => items.push(element),
    }
}

fn same_element(attr: &AttributeDef, a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) if attr.is_complex() => {
            let value_def = attr.sub_attribute("value");
            match value_def {
                Some(def) if x.contains_key(&def.name) || y.contains_key(&def.name) => {
                    let type_def = attr.sub_attribute("type");
                    leaf_eq(def, x.get(&def.name), y.get(&def.name))
                        && type_def.is_none_or(|t| leaf_eq(t, x.get(&t.name), y.get(&t.name)))
                }
                _ => a == b,
            }
        }
        _ => leaf_eq(attr, Some(a), Some(b)),
    }
}

/// Whether a listed item of a `remove` value selects `item`: every sub-attribute the listed
/// item gives is equal in `item` (so `{"value": id}` selects that element whatever its type).
fn selects(attr: &AttributeDef, listed: &Value, item: &Value) -> bool {
    match (listed, item) {
        (Value::Object(l), Value::Object(i)) if attr.is_complex() => {
            !l.is_empty()
                && l.iter().all(|(k, v)| match attr.sub_attribute(k) {
                    Some(def) => leaf_eq(def, Some(v), i.get(&def.name)),
                    None => i.get(k) == Some(v),
                })
        }
        _ => leaf_eq(attr, Some(listed), Some(item)),
    }
}

/// Equality of two leaf values, ignoring case for strings unless the attribute is caseExact.
fn leaf_eq(def: &AttributeDef, a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a, b) {
        (Some(Value::String(x)), Some(Value::String(y))) if !def.case_exact => {
            x == y || x.to_lowercase() == y.to_lowercase()
        }
        (Some(Value::Null) | None, Some(Value::Null) | None) => true,
        _ => a == b,
    }
}

/// Copies the `sub eq value` conditions of an `and`-joined filter into a new element.
fn filter_equalities(attr: &AttributeDef, filter: &Filter, out: &mut Map<String, Value>) {
    let mut stack = vec![filter];
    while let Some(f) = stack.pop() {
        match f {
            Filter::And(a, b) if stack.len() < MAX_DEPTH => {
                stack.push(b);
                stack.push(a);
            }
            Filter::Compare {
                path,
                op: CompareOp::Eq,
                value,
            } if path.urn.is_none() && path.sub.is_none() => {
                let Some(def) = attr.sub_attribute(&path.name) else {
                    continue;
                };
                let v = match value {
                    CompValue::Null => continue,
                    CompValue::Bool(b) => Value::Bool(*b),
                    CompValue::Number(n) => Value::Number(n.clone()),
                    CompValue::String(s) => Value::String(s.clone()),
                };
                out.insert(def.name.clone(), v);
            }
            _ => {}
        }
    }
}

/// Drops empty containers: an attribute left as `null`, `[]` or `{}` is unassigned
/// (RFC 7643 §2.5); so are elements left as `{}`.
fn prune(value: Value) -> Option<Value> {
    match value {
        Value::Null => None,
        Value::Array(items) => {
            let items: Vec<Value> = items
                .into_iter()
                .filter(|i| {
                    !matches!(i, Value::Null) && i.as_object().is_none_or(|o| !o.is_empty())
                })
                .collect();
            (!items.is_empty()).then_some(Value::Array(items))
        }
        Value::Object(o) => (!o.is_empty()).then_some(Value::Object(o)),
        other => Some(other),
    }
}

/// RFC 7643 §7 `immutable`: may be assigned when absent, never changed once set. Adding
/// values or sub-attributes that were absent is allowed; changing or removing is not.
fn check_immutable(
    attr: &AttributeDef,
    before: Option<&Value>,
    after: Option<&Value>,
    target: &ResolvedAttr<'_>,
) -> Result<()> {
    let violation = || Error::Mutability(format!("{} is immutable", target.canonical_path()));
    if attr.mutability == Mutability::Immutable {
        if let Some(before) = before
            && !covers(before, after, 0)
        {
            return Err(violation());
        }
        return Ok(());
    }
    if attr.multi_valued || !attr.is_complex() {
        return Ok(());
    }
    for sub in &attr.sub_attributes {
        if sub.mutability != Mutability::Immutable {
            continue;
        }
        let old = before.and_then(|b| b.get(&sub.name));
        if let Some(old) = old
            && !covers(old, after.and_then(|a| a.get(&sub.name)), 0)
        {
            return Err(Error::Mutability(format!(
                "{}.{} is immutable",
                attr.name, sub.name
            )));
        }
    }
    Ok(())
}

/// Whether `new` still holds everything in `old` (values equal, elements and keys kept).
fn covers(old: &Value, new: Option<&Value>, depth: usize) -> bool {
    let Some(new) = new else {
        return old.is_null();
    };
    if depth > MAX_DEPTH {
        return old == new;
    }
    match (old, new) {
        (Value::Object(o), Value::Object(n)) => {
            o.iter().all(|(k, v)| covers(v, n.get(k), depth + 1))
        }
        (Value::Array(o), Value::Array(n)) => o.iter().all(|v| n.contains(v)),
        _ => old == new,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use super::*;
    use crate::resource::MemberKind;
    use crate::schema::ENTERPRISE_USER_SCHEMA;
    use serde_json::json;

    const ID: &str = "2819c223-7f76-453a-919d-413861904646";
    const ENT: &str = ENTERPRISE_USER_SCHEMA;

    fn patch_with(
        registry: &Registry,
        kind: ResourceKind,
        mode: Mode,
        doc: Value,
        body: Value,
    ) -> Result<PatchOutcome> {
        let rt = registry.resource_type_of(kind).unwrap().clone();
        let ctx = PatchContext {
            registry,
            resource_type: &rt,
            resource_id: ID,
            mode,
        };
        let request = PatchRequest::parse(&body, mode)?;
        apply(&ctx, doc.as_object().unwrap(), &request)
    }

    fn patch(kind: ResourceKind, mode: Mode, doc: Value, body: Value) -> Result<PatchOutcome> {
        patch_with(&Registry::builtin(), kind, mode, doc, body)
    }

    fn user(mode: Mode, doc: Value, ops: Value) -> Result<PatchOutcome> {
        patch(ResourceKind::User, mode, doc, body(ops))
    }

    fn group(mode: Mode, doc: Value, ops: Value) -> Result<PatchOutcome> {
        patch(ResourceKind::Group, mode, doc, body(ops))
    }

    fn body(ops: Value) -> Value {
        json!({"schemas": [PATCH_OP_SCHEMA], "Operations": ops})
    }

    fn both_modes() -> [Mode; 2] {
        [Mode::Strict, Mode::Compatible]
    }

    fn babs() -> Value {
        json!({
            "userName": "bjensen@example.com",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "displayName": "Babs Jensen",
            "active": true,
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "addresses": [
                {"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood"},
                {"type": "home", "streetAddress": "456 Hollywood Blvd", "locality": "Hollywood"}
            ]
        })
    }

    fn member_named(id: &str, display: &str) -> MemberRef {
        MemberRef {
            display: Some(display.into()),
            ..MemberRef::new(id)
        }
    }

    fn member(id: &str) -> MemberRef {
        MemberRef {
            value: id.into(),
            kind: None,
            display: None,
        }
    }

    fn doc(outcome: &PatchOutcome) -> Value {
        Value::Object(outcome.document.clone())
    }

    // ---- parsing ----------------------------------------------------------------------

    #[test]
    fn parse_reads_ops_in_any_case_and_ignores_extra_keys() {
        let body = json!({
            "schemas": [PATCH_OP_SCHEMA],
            "id": "ignored",
            "operations": [
                {"op": "Add", "path": "nickName", "value": "Babs", "name": "addMember"},
                {"OP": "REPLACE", "Path": "active", "Value": false},
                {"op": "remove", "path": "title"}
            ]
        });
        for mode in both_modes() {
            let req = PatchRequest::parse(&body, mode).unwrap();
            let kinds: Vec<_> = req.operations.iter().map(|o| o.op).collect();
            assert_eq!(
                kinds,
                [PatchOpKind::Add, PatchOpKind::Replace, PatchOpKind::Remove]
            );
            assert_eq!(req.operations[1].value, Some(json!(false)));
            assert_eq!(
                req.operations[0].path.as_ref().unwrap().attr.name,
                "nickName"
            );
        }
    }

    #[test]
    fn parse_schemas_required_only_in_strict_mode() {
        let body = json!({"Operations": [{"op": "add", "path": "nickName", "value": "x"}]});
        assert!(matches!(
            PatchRequest::parse(&body, Mode::Strict),
            Err(Error::InvalidSyntax(_))
        ));
        assert!(PatchRequest::parse(&body, Mode::Compatible).is_ok());
        let other = json!({"schemas": ["urn:x"], "Operations": [{"op": "add", "path": "nickName", "value": "x"}]});
        assert!(PatchRequest::parse(&other, Mode::Strict).is_err());
        assert!(PatchRequest::parse(&other, Mode::Compatible).is_ok());
    }

    #[test]
    fn parse_delete_is_remove_in_compatible_mode_only() {
        let b = body(json!([{"op": "Delete", "path": "title"}]));
        let req = PatchRequest::parse(&b, Mode::Compatible).unwrap();
        assert_eq!(req.operations[0].op, PatchOpKind::Remove);
        assert!(matches!(
            PatchRequest::parse(&b, Mode::Strict),
            Err(Error::InvalidSyntax(_))
        ));
    }

    #[test]
    fn parse_rejects_malformed_messages() {
        for mode in both_modes() {
            let parse = |b: Value| PatchRequest::parse(&b, mode);
            assert!(matches!(
                parse(body(json!([]))),
                Err(Error::InvalidValue(_))
            ));
            assert!(matches!(parse(json!([1])), Err(Error::InvalidSyntax(_))));
            assert!(matches!(
                parse(json!({"schemas": [PATCH_OP_SCHEMA]})),
                Err(Error::InvalidSyntax(_))
            ));
            assert!(matches!(
                parse(body(json!([{"op": "remove"}]))),
                Err(Error::NoTarget(_))
            ));
            assert!(matches!(
                parse(body(json!([{"op": "add", "path": "nickName"}]))),
                Err(Error::InvalidValue(_))
            ));
            assert!(matches!(
                parse(body(json!([{"op": "replace"}]))),
                Err(Error::InvalidValue(_))
            ));
            assert!(matches!(
                parse(body(json!([{"op": "move", "path": "a"}]))),
                Err(Error::InvalidSyntax(_))
            ));
            assert!(matches!(
                parse(body(
                    json!([{"op": "add", "path": "emails[type eq", "value": 1}])
                )),
                Err(Error::InvalidPath(_))
            ));
            assert!(matches!(
                parse(body(json!([{"op": "add", "path": 7, "value": 1}]))),
                Err(Error::InvalidPath(_))
            ));
        }
        let null_value = body(json!([{"op": "replace", "path": "title", "value": null}]));
        assert!(matches!(
            PatchRequest::parse(&null_value, Mode::Strict),
            Err(Error::InvalidValue(_))
        ));
        assert!(PatchRequest::parse(&null_value, Mode::Compatible).is_ok());
    }

    #[test]
    fn parse_limits_the_number_of_operations() {
        let ops: Vec<Value> = (0..=MAX_OPERATIONS)
            .map(|_| json!({"op": "add", "path": "nickName", "value": "x"}))
            .collect();
        assert!(matches!(
            PatchRequest::parse(&body(Value::Array(ops)), Mode::Compatible),
            Err(Error::TooMany(_))
        ));
    }

    // ---- RFC 7644 §3.5.2.1 add --------------------------------------------------------

    #[test]
    fn rfc_add_member() {
        for mode in both_modes() {
            let out = group(
                mode,
                json!({"displayName": "Tour Guides"}),
                json!([{"op": "add", "path": "members", "value": [{
                    "display": "Babs Jensen",
                    "$ref": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646",
                    "value": "2819c223-7f76-453a-919d-413861904646"
                }]}]),
            )
            .unwrap();
            assert_eq!(
                out.member_ops,
                [MemberOp::Add(vec![member_named(ID, "Babs Jensen")])]
            );
            assert_eq!(doc(&out), json!({"displayName": "Tour Guides"}));
            assert!(out.changed);
            assert_eq!(out.changed_attributes, ["members"]);
        }
    }

    #[test]
    fn rfc_add_without_path() {
        for mode in both_modes() {
            let out = user(
                mode,
                babs(),
                // The RFC's own example spells it `nickname`: names are case-insensitive.
                json!([{"op": "add", "value": {
                    "emails": [{"value": "babs@jensen.org", "type": "home"}, {"value": "b@other.org", "type": "other"}],
                    "nickname": "Babs"
                }}]),
            )
            .unwrap();
            let d = doc(&out);
            assert_eq!(d["nickName"], "Babs");
            // The home email was already there: not duplicated; the other one is appended.
            assert_eq!(d["emails"].as_array().unwrap().len(), 3);
            assert_eq!(d["emails"][2]["value"], "b@other.org");
            assert_eq!(out.changed_attributes, ["emails", "nickName"]);
        }
    }

    #[test]
    fn add_on_single_valued_replaces_and_on_complex_merges() {
        let out = user(
            Mode::Strict,
            babs(),
            json!([
                {"op": "add", "path": "displayName", "value": "Barbara J."},
                {"op": "add", "path": "name", "value": {"middleName": "Jane"}}
            ]),
        )
        .unwrap();
        let d = doc(&out);
        assert_eq!(d["displayName"], "Barbara J.");
        assert_eq!(
            d["name"],
            json!({"givenName": "Barbara", "familyName": "Jensen", "middleName": "Jane"})
        );
    }

    // ---- RFC 7644 §3.5.2.2 remove -----------------------------------------------------

    #[test]
    fn rfc_remove_single_member_and_all_members() {
        for mode in both_modes() {
            let out = group(
                mode,
                json!({"displayName": "g"}),
                json!([{"op": "remove", "path": "members[value eq \"2819c223-7f76-453a-919d-413861904646\"]"}]),
            )
            .unwrap();
            assert_eq!(out.member_ops, [MemberOp::Remove(vec![ID.into()])]);
            let out = group(
                mode,
                json!({"displayName": "g"}),
                json!([{"op": "remove", "path": "members"}]),
            )
            .unwrap();
            assert_eq!(out.member_ops, [MemberOp::Clear]);
        }
    }

    #[test]
    fn rfc_remove_by_complex_filter() {
        for mode in both_modes() {
            let mut d = babs();
            d["emails"][1]["value"] = json!("babs@example.com");
            d["emails"][1]["type"] = json!("work");
            d["emails"][0]["type"] = json!("home");
            let out = user(
                mode,
                d,
                json!([{"op": "remove", "path": "emails[type eq \"work\" and value ew \"example.com\"]"}]),
            )
            .unwrap();
            let emails = doc(&out)["emails"].clone();
            assert_eq!(emails.as_array().unwrap().len(), 1);
            assert_eq!(emails[0]["value"], "bjensen@example.com");
        }
    }

    #[test]
    fn rfc_remove_all_then_add_members() {
        let out = group(
            Mode::Strict,
            json!({"displayName": "g"}),
            json!([
                {"op": "remove", "path": "members"},
                {"op": "add", "path": "members", "value": [
                    {"display": "Babs Jensen", "$ref": "https://example.com/v2/Users/2819c223", "value": "2819c223"},
                    {"display": "James Smith", "$ref": "https://example.com/v2/Users/08e1d05d", "value": "08e1d05d"}
                ]}
            ]),
        )
        .unwrap();
        assert_eq!(
            out.member_ops,
            [
                MemberOp::Clear,
                MemberOp::Add(vec![
                    member_named("2819c223", "Babs Jensen"),
                    member_named("08e1d05d", "James Smith")
                ])
            ]
        );
    }

    #[test]
    fn remove_sub_attribute_and_whole_attribute() {
        for mode in both_modes() {
            let out = user(
                mode,
                babs(),
                json!([
                    {"op": "remove", "path": "name.givenName"},
                    {"op": "remove", "path": "addresses[type eq \"work\"].locality"},
                    {"op": "remove", "path": "displayName"}
                ]),
            )
            .unwrap();
            let d = doc(&out);
            assert_eq!(d["name"], json!({"familyName": "Jensen"}));
            assert!(d.get("displayName").is_none());
            assert!(d["addresses"][0].get("locality").is_none());
            assert_eq!(d["addresses"][1]["locality"], "Hollywood");
        }
    }

    #[test]
    fn removing_the_last_value_unassigns_the_attribute() {
        let out = user(
            Mode::Strict,
            babs(),
            json!([
                {"op": "remove", "path": "emails[type eq \"work\"]"},
                {"op": "remove", "path": "emails[type eq \"home\"]"},
                {"op": "remove", "path": "name.givenName"},
                {"op": "remove", "path": "name.familyName"}
            ]),
        )
        .unwrap();
        let d = doc(&out);
        assert!(d.get("emails").is_none());
        assert!(d.get("name").is_none());
    }

    #[test]
    fn remove_with_unmatched_filter_is_no_target_only_in_strict_mode() {
        let ops = json!([{"op": "remove", "path": "emails[type eq \"other\"]"}]);
        assert!(matches!(
            user(Mode::Strict, babs(), ops.clone()),
            Err(Error::NoTarget(_))
        ));
        let out = user(Mode::Compatible, babs(), ops).unwrap();
        assert!(!out.changed);
    }

    // ---- RFC 7644 §3.5.2.3 replace ----------------------------------------------------

    #[test]
    fn rfc_replace_all_members() {
        let out = group(
            Mode::Strict,
            json!({"displayName": "g"}),
            json!([{"op": "replace", "path": "members", "value": [
                {"display": "Babs Jensen", "$ref": "https://example.com/v2/Users/2819c223", "value": "2819c223"},
                {"display": "James Smith", "$ref": "https://example.com/v2/Users/08e1d05d", "value": "08e1d05d"}
            ]}]),
        )
        .unwrap();
        assert_eq!(
            out.member_ops,
            [
                MemberOp::Clear,
                MemberOp::Add(vec![
                    member_named("2819c223", "Babs Jensen"),
                    member_named("08e1d05d", "James Smith")
                ])
            ]
        );
    }

    #[test]
    fn rfc_replace_work_address() {
        for mode in both_modes() {
            let out = user(
                mode,
                babs(),
                json!([{"op": "replace", "path": "addresses[type eq \"work\"]", "value": {
                    "type": "work",
                    "streetAddress": "911 Universal City Plaza",
                    "locality": "Hollywood",
                    "region": "CA",
                    "postalCode": "91608",
                    "country": "US",
                    "formatted": "911 Universal City Plaza\nHollywood, CA 91608 US",
                    "primary": true
                }}]),
            )
            .unwrap();
            let d = doc(&out);
            assert_eq!(
                d["addresses"][0]["streetAddress"],
                "911 Universal City Plaza"
            );
            assert_eq!(d["addresses"][0]["primary"], true);
            assert_eq!(d["addresses"][1]["streetAddress"], "456 Hollywood Blvd");
        }
    }

    #[test]
    fn rfc_replace_street_address_of_work_address() {
        for mode in both_modes() {
            let out = user(
                mode,
                babs(),
                json!([{"op": "replace", "path": "addresses[type eq \"work\"].streetAddress", "value": "1010 Broadway Ave"}]),
            )
            .unwrap();
            let d = doc(&out);
            assert_eq!(d["addresses"][0]["streetAddress"], "1010 Broadway Ave");
            assert_eq!(d["addresses"][0]["locality"], "Hollywood");
            assert_eq!(d["addresses"][1]["streetAddress"], "456 Hollywood Blvd");
            assert_eq!(out.changed_attributes, ["addresses"]);
        }
    }

    #[test]
    fn rfc_replace_multiple_attributes_without_path() {
        for mode in both_modes() {
            let out = user(
                mode,
                babs(),
                json!([{"op": "replace", "value": {
                    "emails": [
                        {"value": "bjensen@example.com", "type": "work", "primary": true},
                        {"value": "babs@jensen.org", "type": "home"}
                    ],
                    "nickName": "Babs"
                }}]),
            )
            .unwrap();
            let d = doc(&out);
            assert_eq!(d["nickName"], "Babs");
            assert_eq!(d["emails"], babs()["emails"]);
            assert_eq!(out.changed_attributes, ["nickName"]);
        }
    }

    #[test]
    fn replace_multi_valued_replaces_the_list_and_complex_keeps_other_subs() {
        let out = user(
            Mode::Strict,
            babs(),
            json!([
                {"op": "replace", "path": "emails", "value": [{"value": "new@example.com", "type": "work"}]},
                {"op": "replace", "path": "name", "value": {"givenName": "Babs"}}
            ]),
        )
        .unwrap();
        let d = doc(&out);
        assert_eq!(
            d["emails"],
            json!([{"value": "new@example.com", "type": "work"}])
        );
        // §3.5.2.3: sub-attributes not given are left unchanged.
        assert_eq!(
            d["name"],
            json!({"givenName": "Babs", "familyName": "Jensen"})
        );
    }

    #[test]
    fn replace_of_an_absent_attribute_adds_it() {
        let out = user(
            Mode::Strict,
            json!({"userName": "a"}),
            json!([{"op": "replace", "path": "name.familyName", "value": "Smith"}]),
        )
        .unwrap();
        assert_eq!(doc(&out)["name"], json!({"familyName": "Smith"}));
    }

    // ---- Okta (idp-quirks §1.3, §1.4, §1.6) -------------------------------------------

    #[test]
    fn okta_deactivate_and_reactivate() {
        for mode in both_modes() {
            let out = user(
                mode,
                babs(),
                json!([{"op": "replace", "value": {"active": false}}]),
            )
            .unwrap();
            assert_eq!(doc(&out)["active"], false);
            assert_eq!(out.changed_attributes, ["active"]);
            let again = user(
                mode,
                doc(&out),
                json!([{"op": "replace", "value": {"active": true}}]),
            )
            .unwrap();
            assert_eq!(doc(&again)["active"], true);
        }
    }

    #[test]
    fn okta_password_sync_goes_to_the_outcome_not_the_document() {
        for mode in both_modes() {
            let out = user(
                mode,
                babs(),
                json!([{"op": "replace", "value": {"password": "1mz050nq"}}]),
            )
            .unwrap();
            assert_eq!(out.password.as_deref(), Some("1mz050nq"));
            assert!(out.document.get("password").is_none());
            assert_eq!(doc(&out), babs());
            assert!(out.changed);
            assert_eq!(out.changed_attributes, ["password"]);
            let out = user(
                mode,
                babs(),
                json!([{"op": "add", "path": "password", "value": "s3cret"}]),
            )
            .unwrap();
            assert_eq!(out.password.as_deref(), Some("s3cret"));
            assert!(matches!(
                user(mode, babs(), json!([{"op": "remove", "path": "password"}])),
                Err(Error::Mutability(_))
            ));
        }
    }

    #[test]
    fn okta_group_rename_with_own_id() {
        for mode in both_modes() {
            let out = group(
                mode,
                json!({"displayName": "Old"}),
                json!([{"op": "replace", "value": {"id": ID, "displayName": "Test SCIMv2"}}]),
            )
            .unwrap();
            assert_eq!(doc(&out), json!({"displayName": "Test SCIMv2"}));
            // A rename carries no members and must not touch membership.
            assert!(out.member_ops.is_empty());
            assert_eq!(out.changed_attributes, ["displayName"]);
            assert!(matches!(
                group(
                    mode,
                    json!({"displayName": "Old"}),
                    json!([{"op": "replace", "value": {"id": "other", "displayName": "x"}}])
                ),
                Err(Error::Mutability(_))
            ));
        }
    }

    #[test]
    fn okta_membership_change_remove_by_filter_then_add() {
        for mode in both_modes() {
            let out = group(
                mode,
                json!({"displayName": "Test SCIMv2"}),
                json!([
                    {"op": "remove", "path": "members[value eq \"89bb1940-b905-4575-9e7f-6f887cfb368e\"]"},
                    {"op": "add", "path": "members", "value": [{"value": "23a35c27-23d3-4c03-b4c5-6443c09e7173", "display": "test.user@okta.local"}]}
                ]),
            )
            .unwrap();
            assert_eq!(
                out.member_ops,
                [
                    MemberOp::Remove(vec!["89bb1940-b905-4575-9e7f-6f887cfb368e".into()]),
                    MemberOp::Add(vec![member_named(
                        "23a35c27-23d3-4c03-b4c5-6443c09e7173",
                        "test.user@okta.local"
                    )])
                ]
            );
            assert!(out.changed);
        }
    }

    #[test]
    fn okta_full_membership_push() {
        let out = group(
            Mode::Compatible,
            json!({"displayName": "Test SCIMv2"}),
            json!([{"op": "replace", "path": "members", "value": [
                {"value": "23a35c27", "display": "test.user@okta.local"},
                {"value": "89bb1940", "display": "test.user@okta.local"}
            ]}]),
        )
        .unwrap();
        assert_eq!(
            out.member_ops,
            [
                MemberOp::Clear,
                MemberOp::Add(vec![
                    member_named("23a35c27", "test.user@okta.local"),
                    member_named("89bb1940", "test.user@okta.local")
                ])
            ]
        );
    }

    // ---- Entra (idp-quirks §2.3, §2.5, §2.6) ------------------------------------------

    #[test]
    fn entra_disable_with_capitalised_op_and_string_false() {
        let ops = json!([{"op": "Replace", "path": "active", "value": "False"}]);
        let out = user(Mode::Compatible, babs(), ops.clone()).unwrap();
        assert_eq!(doc(&out)["active"], false);
        assert!(matches!(
            user(Mode::Strict, babs(), ops),
            Err(Error::InvalidValue(_))
        ));
    }

    #[test]
    fn entra_add_single_valued_string() {
        let out = user(
            Mode::Compatible,
            babs(),
            json!([{"op": "Add", "path": "nickName", "value": "Babs"}]),
        )
        .unwrap();
        assert_eq!(doc(&out)["nickName"], "Babs");
    }

    #[test]
    fn entra_one_op_per_path_update() {
        let out = user(
            Mode::Compatible,
            babs(),
            json!([
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@microsoft.com"},
                {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
                {"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": "Eqpj"}
            ]),
        )
        .unwrap();
        let d = doc(&out);
        assert_eq!(d["emails"][0]["value"], "updatedEmail@microsoft.com");
        assert_eq!(d["emails"][0]["primary"], true);
        assert_eq!(d["emails"][1]["value"], "babs@jensen.org");
        assert_eq!(d["name"]["familyName"], "updatedFamilyName");
        assert_eq!(d[ENT], json!({"employeeNumber": "Eqpj"}));
        assert_eq!(
            out.changed_attributes,
            [
                "emails".to_owned(),
                "name".to_owned(),
                format!("{ENT}:employeeNumber")
            ]
        );
    }

    #[test]
    fn entra_filtered_replace_creates_the_missing_work_email() {
        let doc0 = json!({"userName": "a", "emails": [{"value": "h@home.org", "type": "home"}]});
        for op in ["Replace", "Add"] {
            let ops = json!([{"op": op, "path": "emails[type eq \"work\"].value", "value": "w@work.com"}]);
            let out = user(Mode::Compatible, doc0.clone(), ops.clone()).unwrap();
            assert_eq!(
                doc(&out)["emails"],
                json!([
                    {"value": "h@home.org", "type": "home"},
                    {"type": "work", "value": "w@work.com"}
                ])
            );
            assert!(matches!(
                user(Mode::Strict, doc0.clone(), ops),
                Err(Error::NoTarget(_))
            ));
        }
        // Without any email at all, the element is created too.
        let out = user(
            Mode::Compatible,
            json!({"userName": "a"}),
            json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "w@work.com"}]),
        )
        .unwrap();
        assert_eq!(
            doc(&out)["emails"],
            json!([{"type": "work", "value": "w@work.com"}])
        );
    }

    #[test]
    fn entra_filtered_replace_with_string_true_condition() {
        let out = user(
            Mode::Compatible,
            json!({"userName": "a"}),
            json!([{"op": "Add", "path": "roles[primary eq \"True\"].value", "value": "Admin"}]),
        )
        .unwrap();
        let roles = doc(&out)["roles"].clone();
        assert_eq!(roles.as_array().unwrap().len(), 1);
        assert_eq!(roles[0]["value"], "Admin");
        assert_eq!(roles[0]["primary"], true);
    }

    #[test]
    fn entra_pathless_dotted_and_urn_keys() {
        for mode in both_modes() {
            let out = user(
                mode,
                babs(),
                json!([{"op": "replace", "value": {
                    "displayName": "Bjfe",
                    "name.givenName": "Kkom",
                    "name.familyName": "Unua",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "Aklq"
                }}]),
            )
            .unwrap();
            let d = doc(&out);
            assert_eq!(d["displayName"], "Bjfe");
            assert_eq!(
                d["name"],
                json!({"givenName": "Kkom", "familyName": "Unua"})
            );
            assert_eq!(d[ENT]["employeeNumber"], "Aklq");
        }
    }

    #[test]
    fn pathless_extension_object_merges_its_attributes() {
        let mut d0 = babs();
        d0[ENT] = json!({"department": "Eng", "costCenter": "1"});
        let out = user(
            Mode::Strict,
            d0,
            json!([{"op": "replace", "value": {ENT: {"department": "Sales", "employeeNumber": "42"}}}]),
        )
        .unwrap();
        assert_eq!(
            doc(&out)[ENT],
            json!({"department": "Sales", "costCenter": "1", "employeeNumber": "42"})
        );
    }

    #[test]
    fn entra_manager_forms() {
        // Tutorial Example 5: path `manager` (no URN) and an array with $ref and value.
        let ops = json!([{"op": "Add", "path": "manager", "value": [{"$ref": "http://example.com/Users/00aa", "value": "00aa"}]}]);
        let out = user(Mode::Compatible, babs(), ops.clone()).unwrap();
        assert_eq!(doc(&out)[ENT]["manager"]["value"], "00aa");
        assert!(matches!(
            user(Mode::Strict, babs(), ops),
            Err(Error::InvalidPath(_))
        ));
        // A bare id under the URN-qualified path.
        let out = user(
            Mode::Compatible,
            babs(),
            json!([{"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "mgr-1"}]),
        )
        .unwrap();
        assert_eq!(doc(&out)[ENT], json!({"manager": {"value": "mgr-1"}}));
        let out = user(
            Mode::Strict,
            babs(),
            json!([{"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": {"value": "mgr-2"}}]),
        )
        .unwrap();
        assert_eq!(doc(&out)[ENT], json!({"manager": {"value": "mgr-2"}}));
        let out = user(
            Mode::Strict,
            babs(),
            json!([{"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value", "value": "mgr-3"}]),
        )
        .unwrap();
        assert_eq!(doc(&out)[ENT], json!({"manager": {"value": "mgr-3"}}));
    }

    #[test]
    fn entra_remove_manager_by_value_filter() {
        let mut d0 = babs();
        d0[ENT] = json!({"manager": {"value": "manager-id"}});
        for mode in both_modes() {
            let path = if mode == Mode::Strict {
                format!("{ENT}:manager[value eq \"manager-id\"]")
            } else {
                "manager[value eq \"manager-id\"]".to_owned()
            };
            let out = user(mode, d0.clone(), json!([{"op": "remove", "path": path}])).unwrap();
            // The extension object became empty and is dropped.
            assert_eq!(doc(&out), babs());
            assert_eq!(out.changed_attributes, [format!("{ENT}:manager")]);
        }
        let out = user(
            Mode::Compatible,
            d0.clone(),
            json!([{"op": "remove", "path": "manager[value eq \"someone-else\"]"}]),
        )
        .unwrap();
        assert!(!out.changed);
    }

    #[test]
    fn entra_group_members_with_null_ref() {
        for mode in both_modes() {
            let out = group(
                mode,
                json!({"displayName": "displayName"}),
                json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": "f648f8d5ea4e4cd38e9c"}]}]),
            )
            .unwrap();
            assert_eq!(
                out.member_ops,
                [MemberOp::Add(vec![member("f648f8d5ea4e4cd38e9c")])]
            );
            // Remove with a value list removes exactly those members, never all of them.
            let out = group(
                mode,
                json!({"displayName": "displayName"}),
                json!([{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": "f648f8d5ea4e4cd38e9c"}]}]),
            )
            .unwrap();
            assert_eq!(
                out.member_ops,
                [MemberOp::Remove(vec!["f648f8d5ea4e4cd38e9c".into()])]
            );
        }
    }

    #[test]
    fn entra_combined_group_update() {
        let out = group(
            Mode::Compatible,
            json!({"displayName": "old"}),
            json!([
                {"op": "Replace", "path": "displayName", "value": "new"},
                {"op": "Add", "path": "members", "value": [{"value": "u1", "type": "User"}]},
                {"op": "Remove", "path": "members", "value": [{"value": "u2"}]}
            ]),
        )
        .unwrap();
        assert_eq!(doc(&out), json!({"displayName": "new"}));
        assert_eq!(
            out.member_ops,
            [
                MemberOp::Add(vec![MemberRef {
                    value: "u1".into(),
                    kind: Some(MemberKind::User),
                    display: None,
                }]),
                MemberOp::Remove(vec!["u2".into()])
            ]
        );
        assert_eq!(out.changed_attributes, ["displayName", "members"]);
    }

    #[test]
    fn bare_string_member_is_accepted_in_compatible_mode_only() {
        let ops = json!([{"op": "add", "path": "members", "value": "string id 1"}]);
        let out = group(Mode::Compatible, json!({"displayName": "g"}), ops.clone()).unwrap();
        assert_eq!(out.member_ops, [MemberOp::Add(vec![member("string id 1")])]);
        assert!(matches!(
            group(Mode::Strict, json!({"displayName": "g"}), ops),
            Err(Error::InvalidValue(_))
        ));
    }

    #[test]
    fn members_filters_other_than_value_are_rejected() {
        for mode in both_modes() {
            assert!(matches!(
                group(
                    mode,
                    json!({"displayName": "g"}),
                    json!([{"op": "remove", "path": "members[display eq \"Babs\"]"}])
                ),
                Err(Error::InvalidFilter { .. })
            ));
            let out = group(
                mode,
                json!({"displayName": "g"}),
                json!([{"op": "remove", "path": "members[value eq \"a\" or value eq \"b\"]"}]),
            )
            .unwrap();
            assert_eq!(
                out.member_ops,
                [MemberOp::Remove(vec!["a".into(), "b".into()])]
            );
        }
    }

    #[test]
    fn member_display_is_derived_and_ignored() {
        let out = group(
            Mode::Compatible,
            json!({"displayName": "g"}),
            json!([{"op": "replace", "path": "members[value eq \"a\"].display", "value": "x"}]),
        )
        .unwrap();
        assert!(out.member_ops.is_empty());
        assert!(!out.changed);
    }

    #[test]
    fn pathless_members_key_becomes_member_ops() {
        let out = group(
            Mode::Compatible,
            json!({"displayName": "g"}),
            json!([{"op": "replace", "value": {"displayName": "h", "members": [{"value": "u1"}]}}]),
        )
        .unwrap();
        assert_eq!(
            out.member_ops,
            [MemberOp::Clear, MemberOp::Add(vec![member("u1")])]
        );
        assert!(out.document.get("members").is_none());
    }

    #[test]
    fn entra_roles_json_encoded_string() {
        let out = user(
            Mode::Compatible,
            babs(),
            json!([{"op": "Add", "path": "roles", "value": [{"value": "{\"id\":\"06b07648-ecfe-589f-9d2f-6325724a46ee\",\"value\":\"25\",\"displayName\":\"Role1234\"}"}]}]),
        )
        .unwrap();
        let roles = doc(&out)["roles"].clone();
        assert_eq!(roles.as_array().unwrap().len(), 1);
        assert_eq!(roles[0]["value"], "25");
    }

    #[test]
    fn entra_assertive_role_assignments_replace() {
        let mut d0 = babs();
        d0["roles"] = json!([{"value": "Old"}]);
        let out = user(
            Mode::Compatible,
            d0,
            json!([{"op": "replace", "path": "roles", "value": [
                {"primary": false, "type": "WindowsAzureActiveDirectoryRole", "display": "User", "value": "User"},
                {"primary": false, "type": "WindowsAzureActiveDirectoryRole", "display": "Admin", "value": "Admin"}
            ]}]),
        )
        .unwrap();
        let roles = doc(&out)["roles"].clone();
        assert_eq!(roles.as_array().unwrap().len(), 2);
        assert_eq!(roles[0]["value"], "User");
        assert_eq!(roles[1]["display"], "Admin");
    }

    // ---- JumpCloud (idp-quirks §5) ----------------------------------------------------

    #[test]
    fn jumpcloud_member_removal_by_value_list() {
        for mode in both_modes() {
            let out = group(
                mode,
                json!({"displayName": "g"}),
                json!([{"op": "remove", "path": "members", "value": [{"value": "uid-1"}, {"value": "uid-2"}]}]),
            )
            .unwrap();
            assert_eq!(
                out.member_ops,
                [MemberOp::Remove(vec!["uid-1".into(), "uid-2".into()])]
            );
        }
    }

    #[test]
    fn remove_with_value_list_on_user_attribute_removes_only_those() {
        for mode in both_modes() {
            let out = user(
                mode,
                babs(),
                json!([{"op": "remove", "path": "emails", "value": [{"value": "BABS@jensen.org"}]}]),
            )
            .unwrap();
            let emails = doc(&out)["emails"].clone();
            assert_eq!(emails.as_array().unwrap().len(), 1);
            assert_eq!(emails[0]["value"], "bjensen@example.com");
        }
    }

    // ---- cross-cutting ----------------------------------------------------------------

    #[test]
    fn all_or_nothing() {
        for mode in both_modes() {
            let err = user(
                mode,
                babs(),
                json!([
                    {"op": "replace", "path": "displayName", "value": "changed"},
                    {"op": "replace", "path": "noSuchAttribute", "value": "x"}
                ]),
            );
            assert!(matches!(err, Err(Error::InvalidPath(_))));
            let err = group(
                mode,
                json!({"displayName": "g"}),
                json!([
                    {"op": "add", "path": "members", "value": [{"value": "u1"}]},
                    {"op": "remove", "path": "members[display eq \"x\"]"}
                ]),
            );
            assert!(err.is_err());
        }
    }

    #[test]
    fn no_op_patch_is_not_a_change() {
        for mode in both_modes() {
            let out = user(
                mode,
                babs(),
                json!([
                    {"op": "replace", "path": "displayName", "value": "Babs Jensen"},
                    {"op": "add", "path": "emails", "value": [{"value": "babs@jensen.org", "type": "home"}]},
                    {"op": "replace", "path": "name.givenName", "value": "Barbara"},
                    {"op": "remove", "path": "nickName"}
                ]),
            )
            .unwrap();
            assert!(!out.changed);
            assert!(out.changed_attributes.is_empty());
            assert_eq!(doc(&out), babs());
        }
    }

    #[test]
    fn user_groups_is_read_only() {
        let ops = json!([{"op": "add", "path": "groups", "value": [{"value": "g1"}]}]);
        assert!(matches!(
            user(Mode::Strict, babs(), ops.clone()),
            Err(Error::Mutability(_))
        ));
        let out = user(Mode::Compatible, babs(), ops).unwrap();
        assert!(!out.changed);
    }

    #[test]
    fn read_only_attributes() {
        for mode in both_modes() {
            assert!(matches!(
                user(
                    mode,
                    babs(),
                    json!([{"op": "replace", "path": "meta.version", "value": "x"}])
                ),
                Err(Error::Mutability(_))
            ));
            assert!(matches!(
                user(
                    mode,
                    babs(),
                    json!([{"op": "replace", "path": "id", "value": ID}])
                ),
                Err(Error::Mutability(_))
            ));
        }
        let ops = json!([{"op": "replace", "value": {"meta": {"resourceType": "User"}, "schemas": ["x"], "title": "Dr"}}]);
        let out = user(Mode::Compatible, babs(), ops.clone()).unwrap();
        assert_eq!(doc(&out)["title"], "Dr");
        assert!(out.document.get("meta").is_none());
        assert!(matches!(
            user(Mode::Strict, babs(), ops),
            Err(Error::Mutability(_))
        ));
    }

    #[test]
    fn unknown_attributes() {
        for mode in both_modes() {
            assert!(matches!(
                user(
                    mode,
                    babs(),
                    json!([{"op": "add", "path": "shoeSize", "value": 42}])
                ),
                Err(Error::InvalidPath(_))
            ));
            assert!(matches!(
                user(
                    mode,
                    babs(),
                    json!([{"op": "add", "path": "name.nickname", "value": 42}])
                ),
                Err(Error::InvalidPath(_))
            ));
        }
        let ops =
            json!([{"op": "add", "value": {"shoeSize": 42, "user_mobile": "1", "nickName": "B"}}]);
        let out = user(Mode::Compatible, babs(), ops.clone()).unwrap();
        assert_eq!(out.changed_attributes, ["nickName"]);
        assert!(matches!(
            user(Mode::Strict, babs(), ops),
            Err(Error::InvalidPath(_))
        ));
    }

    #[test]
    fn attribute_names_are_case_insensitive() {
        let out = user(
            Mode::Strict,
            babs(),
            json!([
                {"op": "replace", "path": "DISPLAYNAME", "value": "x"},
                {"op": "replace", "path": "Name.GivenName", "value": "y"},
                {"op": "replace", "path": "emails[TYPE eq \"work\"].Value", "value": "z@example.com"}
            ]),
        )
        .unwrap();
        let d = doc(&out);
        assert_eq!(d["displayName"], "x");
        assert_eq!(d["name"]["givenName"], "y");
        assert_eq!(d["emails"][0]["value"], "z@example.com");
    }

    #[test]
    fn null_replace_unassigns_in_compatible_mode() {
        let out = user(
            Mode::Compatible,
            babs(),
            json!([
                {"op": "replace", "path": "displayName", "value": null},
                {"op": "replace", "value": {"name": null}}
            ]),
        )
        .unwrap();
        let d = doc(&out);
        assert!(d.get("displayName").is_none());
        assert!(d.get("name").is_none());
        assert_eq!(out.changed_attributes, ["displayName", "name"]);
    }

    #[test]
    fn primary_is_unique() {
        let ops = json!([{"op": "add", "path": "emails", "value": [{"value": "new@example.com", "type": "other", "primary": true}]}]);
        let out = user(Mode::Compatible, babs(), ops.clone()).unwrap();
        let emails = doc(&out)["emails"].clone();
        assert_eq!(emails[0]["primary"], false);
        assert_eq!(emails[2]["primary"], true);
        assert!(matches!(
            user(Mode::Strict, babs(), ops),
            Err(Error::InvalidValue(_))
        ));
        // Making an existing element primary through a filtered path moves the flag too.
        let out = user(
            Mode::Compatible,
            babs(),
            json!([{"op": "replace", "path": "emails[type eq \"home\"].primary", "value": true}]),
        )
        .unwrap();
        let emails = doc(&out)["emails"].clone();
        assert_eq!(emails[0]["primary"], false);
        assert_eq!(emails[1]["primary"], true);
    }

    #[test]
    fn add_existing_element_merges_instead_of_duplicating() {
        let out = user(
            Mode::Compatible,
            babs(),
            json!([{"op": "add", "path": "emails", "value": [{"value": "BABS@JENSEN.ORG", "type": "home", "display": "Babs"}]}]),
        )
        .unwrap();
        let emails = doc(&out)["emails"].clone();
        assert_eq!(emails.as_array().unwrap().len(), 2);
        assert_eq!(emails[1]["display"], "Babs");
    }

    #[test]
    fn extension_object_is_created_and_dropped() {
        let out = user(
            Mode::Strict,
            babs(),
            json!([{"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Eng"}]),
        )
        .unwrap();
        assert_eq!(doc(&out)[ENT], json!({"department": "Eng"}));
        let out = user(
            Mode::Strict,
            doc(&out),
            json!([{"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"}]),
        )
        .unwrap();
        assert_eq!(doc(&out), babs());
    }

    #[test]
    fn legacy_entra_dotted_extension_path() {
        let path = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User.manager";
        for mode in both_modes() {
            let ops = json!([{"op": "replace", "path": path, "value": {"value": "m1"}}]);
            let out = user(mode, babs(), ops).unwrap();
            assert_eq!(doc(&out)[ENT]["manager"]["value"], "m1");
        }
    }

    #[test]
    fn immutable_attributes_may_be_added_but_not_changed() {
        let builtin = Registry::builtin();
        let mut schemas = builtin.schemas().to_vec();
        for schema in &mut schemas {
            for attr in &mut schema.attributes {
                if attr.name == "nickName" {
                    attr.mutability = Mutability::Immutable;
                }
            }
        }
        let registry = Registry::from_parts(
            schemas,
            builtin.resource_types().to_vec(),
            builtin.common_schema().clone(),
        );
        let run = |d: Value, op: Value| {
            patch_with(
                &registry,
                ResourceKind::User,
                Mode::Strict,
                d,
                body(json!([op])),
            )
        };
        let out = run(
            babs(),
            json!({"op": "add", "path": "nickName", "value": "B"}),
        )
        .unwrap();
        let set = doc(&out);
        assert_eq!(set["nickName"], "B");
        assert!(
            run(
                set.clone(),
                json!({"op": "replace", "path": "nickName", "value": "B"})
            )
            .is_ok()
        );
        assert!(matches!(
            run(
                set.clone(),
                json!({"op": "replace", "path": "nickName", "value": "C"})
            ),
            Err(Error::Mutability(_))
        ));
        assert!(matches!(
            run(set, json!({"op": "remove", "path": "nickName"})),
            Err(Error::Mutability(_))
        ));
    }

    #[test]
    fn value_type_errors_are_invalid_value() {
        for mode in both_modes() {
            assert!(matches!(
                user(
                    mode,
                    babs(),
                    json!([{"op": "replace", "path": "active", "value": {"a": 1}}])
                ),
                Err(Error::InvalidValue(_))
            ));
            assert!(matches!(
                user(
                    mode,
                    babs(),
                    json!([{"op": "replace", "value": "not an object"}])
                ),
                Err(Error::InvalidValue(_))
            ));
        }
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn json_value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(|n| json!(n)),
                prop_oneof![
                    Just("work".to_owned()),
                    Just("value".to_owned()),
                    Just("True".to_owned()),
                    "[a-zA-Z.:\\[\\]\" ]{0,12}",
                ]
                .prop_map(Value::String),
            ];
            leaf.prop_recursive(3, 24, 4, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                    prop::collection::vec(
                        (
                            prop_oneof![
                                Just("value".to_owned()),
                                Just("type".to_owned()),
                                Just("primary".to_owned()),
                                Just("emails".to_owned()),
                                Just("name.givenName".to_owned()),
                                Just("members".to_owned()),
                                Just("id".to_owned()),
                                Just(ENT.to_owned()),
                                "[a-zA-Z]{1,8}",
                            ],
                            inner
                        ),
                        0..4
                    )
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
                ]
            })
        }

        fn path() -> impl Strategy<Value = Value> {
            prop_oneof![
                Just(Value::Null),
                Just(json!("emails")),
                Just(json!("emails[type eq \"work\"].value")),
                Just(json!("emails[value co \"x\" or primary eq true]")),
                Just(json!("name")),
                Just(json!("name.familyName")),
                Just(json!("members")),
                Just(json!("members[value eq \"a\"]")),
                Just(json!("roles[primary eq \"True\"].value")),
                Just(json!(
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"
                )),
                Just(json!("manager[value eq \"m\"]")),
                Just(json!("active")),
                Just(json!(ENT)),
                "[a-zA-Z.\\[\\]\" ]{0,16}".prop_map(Value::String),
            ]
        }

        fn operation() -> impl Strategy<Value = Value> {
            (
                prop_oneof![Just("add"), Just("Replace"), Just("remove"), Just("delete")],
                path(),
                json_value(),
            )
                .prop_map(|(op, path, value)| json!({"op": op, "path": path, "value": value}))
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn apply_never_panics(ops in prop::collection::vec(operation(), 1..5), strict in any::<bool>(), group_kind in any::<bool>()) {
                let mode = if strict { Mode::Strict } else { Mode::Compatible };
                let kind = if group_kind { ResourceKind::Group } else { ResourceKind::User };
                let mut d = babs();
                d[ENT] = json!({"manager": {"value": "m"}, "employeeNumber": "1"});
                let _ = patch(kind, mode, d, body(Value::Array(ops)));
            }

            #[test]
            fn parse_never_panics(v in json_value(), strict in any::<bool>()) {
                let mode = if strict { Mode::Strict } else { Mode::Compatible };
                let _ = PatchRequest::parse(&v, mode);
                let _ = PatchRequest::parse(&body(v), mode);
            }
        }
    }
}
