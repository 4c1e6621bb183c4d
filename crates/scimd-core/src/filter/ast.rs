//! The filter AST (RFC 7644 §3.4.2.2) and attribute paths.
//!
//! The AST keeps paths as the client wrote them (URN prefix, name, sub-attribute); resolving
//! them against a schema (canonical case, caseExact, type) is the caller's job through
//! [`crate::schema::Registry::resolve`]. The shape is meant to be folded into SQL by the
//! storage layer and evaluated in memory by [`crate::filter::eval`], which is the reference
//! semantics the SQL translation is tested against.

use serde_json::Number;

/// An attribute path: `[urn ":"] name ["." sub]` (RFC 7644 §3.10).
///
/// `urn` keeps the client's spelling; `name` and `sub` are matched case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttrPath {
    pub urn: Option<String>,
    pub name: String,
    pub sub: Option<String>,
}

impl AttrPath {
    /// A path without URN or sub-attribute.
    pub fn simple(name: &str) -> Self {
        Self {
            urn: None,
            name: name.to_owned(),
            sub: None,
        }
    }

    /// A path `name.sub` without URN.
    pub fn with_sub(name: &str, sub: &str) -> Self {
        Self {
            urn: None,
            name: name.to_owned(),
            sub: Some(sub.to_owned()),
        }
    }
}

/// Comparison operators of RFC 7644 Table 3 (`pr` is [`Filter::Present`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    /// The operator keyword in lower case.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "eq",
            Self::Ne => "ne",
            Self::Co => "co",
            Self::Sw => "sw",
            Self::Ew => "ew",
            Self::Gt => "gt",
            Self::Ge => "ge",
            Self::Lt => "lt",
            Self::Le => "le",
        }
    }
}

/// A comparison value (RFC 7644 `compValue`).
#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
}

/// A filter expression.
///
/// `attr[f].sub op v` (the form Entra sends: `emails[type eq "work"].value eq "x"`) is parsed
/// as `ValuePath { path: attr, filter: f and (sub op v) }`, i.e. both conditions must hold for
/// the same element, which is what the client means.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `path op value`.
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: CompValue,
    },
    /// `path pr`.
    Present(AttrPath),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// `path[filter]`: some element of the multi-valued (or complex) attribute `path` satisfies
    /// `filter`, whose paths name sub-attributes of that element (no URN, no sub).
    ValuePath {
        path: AttrPath,
        filter: Box<Filter>,
    },
}

/// A PATCH operation path (RFC 7644 §3.5.2 `PATH`):
/// `attrPath` or `valuePath ["." subAttr]`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    /// The attribute. When `filter` is `None`, `attr.sub` may name a sub-attribute (`name.givenName`).
    /// When `filter` is `Some`, `attr.sub` is `None` and `sub_attr` names the sub-attribute after `]`.
    pub attr: AttrPath,
    /// The value filter inside `[...]`, whose paths are relative to the element.
    pub filter: Option<Filter>,
    /// The sub-attribute after `]`, as in `emails[type eq "work"].value`.
    pub sub_attr: Option<String>,
}
