//! The schema registry: every schema and resource type a tenant serves, built once at start
//! (built-ins plus configured custom attributes) and shared read-only by every request.
//!
//! Resolution of attribute paths is case-insensitive (RFC 7643 §2.1) and accepts the
//! SCIM 1.1 URNs that OneLogin templates send. Lookups go through pre-built lower-case
//! maps so that no request pays for a linear search over the catalogue.

use std::collections::HashMap;

use super::builtin;
use super::types::{AttributeDef, ResourceType, Schema};
use crate::error::{Error, Result};
use crate::filter::AttrPath;

/// Core User schema URN.
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// Core Group schema URN.
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// Enterprise User extension URN.
pub const ENTERPRISE_USER_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// Which built-in resource a type is; storage and the server treat Group membership specially.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    User,
    Group,
}

impl ResourceKind {
    /// The resource type name (`User`, `Group`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "User",
            Self::Group => "Group",
        }
    }

    /// The core schema URN.
    pub fn core_schema(self) -> &'static str {
        match self {
            Self::User => USER_SCHEMA,
            Self::Group => GROUP_SCHEMA,
        }
    }
}

/// Where a resolved attribute lives in a resource document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrLocation {
    /// A common attribute of every resource (RFC 7643 §3.1): `id`, `externalId`, `meta`.
    Common,
    /// An attribute of the resource type's core schema, stored at the top level.
    Core,
    /// An attribute of an extension schema, stored under the extension's URN key.
    Extension,
}

/// The result of resolving an [`AttrPath`]: the definitions it names, in canonical form.
#[derive(Debug, Clone, Copy)]
pub struct ResolvedAttr<'r> {
    /// The schema that defines the attribute (for common attributes, the core schema).
    pub schema: &'r Schema,
    pub location: AttrLocation,
    /// The top-level attribute.
    pub attr: &'r AttributeDef,
    /// The sub-attribute, when the path names one.
    pub sub: Option<&'r AttributeDef>,
}

impl<'r> ResolvedAttr<'r> {
    /// The innermost definition: the sub-attribute when present, else the attribute.
    pub fn leaf(&self) -> &'r AttributeDef {
        self.sub.unwrap_or(self.attr)
    }

    /// The key under which the attribute's container lives in a resource document:
    /// `None` for core and common attributes (top level), the URN for extension attributes.
    pub fn container_key(&self) -> Option<&'r str> {
        match self.location {
            AttrLocation::Extension => Some(self.schema.id.as_str()),
            _ => None,
        }
    }

    /// The canonical dotted path, e.g. `emails.value`, `name.givenName`,
    /// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value`.
    pub fn canonical_path(&self) -> String {
        let mut out = String::new();
        if self.location == AttrLocation::Extension {
            out.push_str(&self.schema.id);
            out.push(':');
        }
        out.push_str(&self.attr.name);
        if let Some(sub) = self.sub {
            out.push('.');
            out.push_str(&sub.name);
        }
        out
    }
}

/// Index of one resource type's attributes by lower-case name.
#[derive(Debug, Clone)]
struct TypeIndex {
    /// Index into `Registry::resource_types`.
    resource_type: usize,
    kind: ResourceKind,
    /// Core schema index into `Registry::schemas`.
    core: usize,
    /// Extension schema indexes, by lower-case URN.
    extensions: HashMap<String, usize>,
}

/// Every schema and resource type served, with case-insensitive lookup tables.
#[derive(Debug, Clone)]
pub struct Registry {
    schemas: Vec<Schema>,
    resource_types: Vec<ResourceType>,
    /// The pseudo-schema holding `id`, `externalId` and `meta` (RFC 7643 §3.1).
    common: Schema,
    /// Lower-case URN (including SCIM 1.1 aliases) → index into `schemas`.
    schema_by_urn: HashMap<String, usize>,
    /// Lower-case resource type name → index into `types`.
    type_by_name: HashMap<String, usize>,
    types: Vec<TypeIndex>,
}

impl Registry {
    /// The built-in catalogue: User (with the Enterprise User extension) and Group.
    pub fn builtin() -> Self {
        Self::from_parts(
            builtin::schemas(),
            builtin::resource_types(),
            builtin::common_attributes(),
        )
    }

    /// Builds a registry from schemas and resource types. Every resource type's `schema`
    /// and extension URNs must be among `schemas`; unknown ones are skipped.
    pub fn from_parts(
        schemas: Vec<Schema>,
        resource_types: Vec<ResourceType>,
        common: Schema,
    ) -> Self {
        let mut schema_by_urn = HashMap::new();
        for (i, s) in schemas.iter().enumerate() {
            schema_by_urn.insert(s.id.to_ascii_lowercase(), i);
        }
        for (alias, target) in builtin::URN_ALIASES {
            if let Some(&i) = schema_by_urn.get(&target.to_ascii_lowercase()) {
                schema_by_urn.insert(alias.to_ascii_lowercase(), i);
            }
        }
        let mut type_by_name = HashMap::new();
        let mut types = Vec::new();
        for (rt_index, rt) in resource_types.iter().enumerate() {
            let kind = if rt.schema.eq_ignore_ascii_case(GROUP_SCHEMA) {
                ResourceKind::Group
            } else {
                ResourceKind::User
            };
            let Some(&core) = schema_by_urn.get(&rt.schema.to_ascii_lowercase()) else {
                continue;
            };
            let mut extensions = HashMap::new();
            for ext in &rt.schema_extensions {
                if let Some(&i) = schema_by_urn.get(&ext.schema.to_ascii_lowercase()) {
                    extensions.insert(ext.schema.to_ascii_lowercase(), i);
                }
            }
            // SCIM 1.1 aliases of an extension resolve to the same schema.
            for (alias, target) in builtin::URN_ALIASES {
                if let Some(&i) = extensions.get(&target.to_ascii_lowercase()) {
                    extensions.insert(alias.to_ascii_lowercase(), i);
                }
            }
            type_by_name.insert(rt.name.to_ascii_lowercase(), types.len());
            types.push(TypeIndex {
                resource_type: rt_index,
                kind,
                core,
                extensions,
            });
        }
        Self {
            schemas,
            resource_types,
            common,
            schema_by_urn,
            type_by_name,
            types,
        }
    }

    /// Every schema, in `/Schemas` order.
    pub fn schemas(&self) -> &[Schema] {
        &self.schemas
    }

    /// A schema by URN, ignoring case; SCIM 1.1 aliases resolve to their 2.0 schema.
    pub fn schema(&self, urn: &str) -> Option<&Schema> {
        self.schema_by_urn
            .get(&urn.to_ascii_lowercase())
            .and_then(|&i| self.schemas.get(i))
    }

    /// The pseudo-schema of common attributes (`id`, `externalId`, `meta`).
    pub fn common_schema(&self) -> &Schema {
        &self.common
    }

    /// Every resource type, in `/ResourceTypes` order.
    pub fn resource_types(&self) -> &[ResourceType] {
        &self.resource_types
    }

    /// A resource type by name (`User`, `Group`), ignoring case.
    pub fn resource_type(&self, name: &str) -> Option<&ResourceType> {
        self.type_index(name)
            .and_then(|t| self.resource_types.get(t.resource_type))
    }

    /// The built-in kind of a resource type.
    pub fn kind(&self, rt: &ResourceType) -> ResourceKind {
        self.type_index(&rt.name)
            .map_or(ResourceKind::User, |t| t.kind)
    }

    /// The resource type of a built-in kind.
    pub fn resource_type_of(&self, kind: ResourceKind) -> Option<&ResourceType> {
        self.types
            .iter()
            .find(|t| t.kind == kind)
            .and_then(|t| self.resource_types.get(t.resource_type))
    }

    /// The core schema of a resource type.
    pub fn core_schema(&self, rt: &ResourceType) -> Option<&Schema> {
        self.type_index(&rt.name)
            .and_then(|t| self.schemas.get(t.core))
    }

    /// The extension schemas of a resource type, in declaration order.
    pub fn extension_schemas<'a>(
        &'a self,
        rt: &'a ResourceType,
    ) -> impl Iterator<Item = &'a Schema> + 'a {
        rt.schema_extensions
            .iter()
            .filter_map(move |e| self.schema(&e.schema))
    }

    /// The extension schema of `rt` whose URN (or SCIM 1.1 alias) is `urn`, ignoring case.
    pub fn extension(&self, rt: &ResourceType, urn: &str) -> Option<&Schema> {
        self.type_index(&rt.name)
            .and_then(|t| t.extensions.get(&urn.to_ascii_lowercase()))
            .and_then(|&i| self.schemas.get(i))
    }

    /// Resolves a path against a resource type.
    ///
    /// Without a URN, the name is looked up among common attributes, then the core schema.
    /// With the core schema's URN (or its 1.1 alias) it is looked up in the core schema and
    /// common attributes; with an extension URN, in that extension. Fails with
    /// [`Error::InvalidPath`] when nothing matches or a sub-attribute is named on a
    /// non-complex attribute.
    pub fn resolve<'r>(&'r self, rt: &ResourceType, path: &AttrPath) -> Result<ResolvedAttr<'r>> {
        let t = self
            .type_index(&rt.name)
            .ok_or_else(|| Error::invalid_path(format!("unknown resource type {}", rt.name)))?;
        let core = self
            .schemas
            .get(t.core)
            .ok_or_else(|| Error::invalid_path("resource type has no core schema"))?;
        let (schema, location, attr) = match &path.urn {
            None => self.find_core_or_common(core, &path.name),
            Some(urn) => {
                let urn_lc = urn.to_ascii_lowercase();
                if self.schema_by_urn.get(&urn_lc) == Some(&t.core) {
                    self.find_core_or_common(core, &path.name)
                } else if let Some(ext) =
                    t.extensions.get(&urn_lc).and_then(|&i| self.schemas.get(i))
                {
                    ext.attribute(&path.name)
                        .map(|a| (ext, AttrLocation::Extension, a))
                } else {
                    None
                }
            }
        }
        .ok_or_else(|| Error::invalid_path(format!("unknown attribute {}", display_path(path))))?;
        let sub = match &path.sub {
            None => None,
            Some(sub_name) => Some(attr.sub_attribute(sub_name).ok_or_else(|| {
                Error::invalid_path(format!("unknown attribute {}", display_path(path)))
            })?),
        };
        Ok(ResolvedAttr {
            schema,
            location,
            attr,
            sub,
        })
    }

    fn find_core_or_common<'r>(
        &'r self,
        core: &'r Schema,
        name: &str,
    ) -> Option<(&'r Schema, AttrLocation, &'r AttributeDef)> {
        if let Some(a) = self.common.attribute(name) {
            return Some((core, AttrLocation::Common, a));
        }
        core.attribute(name).map(|a| (core, AttrLocation::Core, a))
    }

    fn type_index(&self, name: &str) -> Option<&TypeIndex> {
        // Resource type names are few and ASCII; avoid allocating for the common exact case.
        self.type_by_name
            .get(name)
            .or_else(|| self.type_by_name.get(&name.to_ascii_lowercase()))
            .and_then(|&i| self.types.get(i))
    }
}

fn display_path(path: &AttrPath) -> String {
    let mut s = String::new();
    if let Some(urn) = &path.urn {
        s.push_str(urn);
        s.push(':');
    }
    s.push_str(&path.name);
    if let Some(sub) = &path.sub {
        s.push('.');
        s.push_str(sub);
    }
    s
}
