//! Comparison keys: the single definition of how SCIM values compare (RFC 7644 §3.4.2.2,
//! RFC 7643 §2.3 and §2.1 on case sensitivity).
//!
//! A [`Key`] is the normalised form of one leaf value. The in-memory evaluator, the sorter
//! and the storage index all reduce values to keys through [`json_key`] (stored values) and
//! [`comp_key`] (filter operands), so that `userName eq "BJensen"` means the same in memory
//! and in SQL: text is lower-cased unless the attribute is `caseExact`, booleans and numbers
//! are typed, and dateTimes are instants (microseconds since the epoch, UTC).

use std::cmp::Ordering;

use serde_json::Value;

use super::ast::{CompValue, CompareOp};
use crate::datetime::parse_rfc3339;
use crate::error::{Error, Result};
use crate::schema::{AttributeDef, AttributeType};

/// The normalised comparable form of one SCIM leaf value.
#[derive(Debug, Clone, PartialEq)]
pub enum Key {
    /// A boolean.
    Bool(bool),
    /// An integer or decimal, as `f64` (finite).
    Number(f64),
    /// A string, reference or binary value; lower-cased unless the attribute is `caseExact`.
    Text(String),
    /// A dateTime as microseconds since the Unix epoch, UTC.
    Time(i64),
}

impl Key {
    /// Orders two keys of the same kind; `None` when the kinds differ.
    ///
    /// Text orders by Unicode code point (of the normalised form), numbers by
    /// [`f64::total_cmp`], booleans `false < true`, times chronologically.
    pub fn cmp_same_kind(&self, other: &Key) -> Option<Ordering> {
        match (self, other) {
            (Key::Bool(a), Key::Bool(b)) => Some(a.cmp(b)),
            (Key::Number(a), Key::Number(b)) => Some(a.total_cmp(b)),
            (Key::Text(a), Key::Text(b)) => Some(a.cmp(b)),
            (Key::Time(a), Key::Time(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }

    /// A total order over all keys: by kind first (`Bool < Number < Text < Time`), then
    /// [`Key::cmp_same_kind`]. Useful where keys of mixed kinds must be sorted deterministically.
    pub fn total_cmp(&self, other: &Key) -> Ordering {
        self.cmp_same_kind(other)
            .unwrap_or_else(|| self.rank().cmp(&other.rank()))
    }

    fn rank(&self) -> u8 {
        match self {
            Key::Bool(_) => 0,
            Key::Number(_) => 1,
            Key::Text(_) => 2,
            Key::Time(_) => 3,
        }
    }

    /// The text, for [`Key::Text`].
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Key::Text(s) => Some(s),
            _ => None,
        }
    }

    /// Whether `self` (a stored value) satisfies `op operand` (a filter operand).
    ///
    /// Keys of different kinds never match. `co`/`sw`/`ew` apply to text only.
    pub fn satisfies(&self, op: CompareOp, operand: &Key) -> bool {
        match op {
            CompareOp::Co | CompareOp::Sw | CompareOp::Ew => {
                let (Some(v), Some(o)) = (self.as_text(), operand.as_text()) else {
                    return false;
                };
                match op {
                    CompareOp::Co => v.contains(o),
                    CompareOp::Sw => v.starts_with(o),
                    _ => v.ends_with(o),
                }
            }
            _ => {
                let Some(ord) = self.cmp_same_kind(operand) else {
                    // Different kinds: never equal, so `ne` holds.
                    return op == CompareOp::Ne;
                };
                match op {
                    CompareOp::Eq => ord == Ordering::Equal,
                    CompareOp::Ne => ord != Ordering::Equal,
                    CompareOp::Gt => ord == Ordering::Greater,
                    CompareOp::Ge => ord != Ordering::Less,
                    CompareOp::Lt => ord == Ordering::Less,
                    _ => ord != Ordering::Greater,
                }
            }
        }
    }
}

impl PartialOrd for Key {
    /// Same as [`Key::cmp_same_kind`]: keys of different kinds are unordered.
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        self.cmp_same_kind(other)
    }
}

/// Whether `kind` compares as text.
fn is_textual(kind: AttributeType) -> bool {
    matches!(
        kind,
        AttributeType::String | AttributeType::Reference | AttributeType::Binary
    )
}

fn text_key(leaf: &AttributeDef, s: &str) -> Key {
    if leaf.case_exact {
        Key::Text(s.to_owned())
    } else {
        Key::Text(s.to_lowercase())
    }
}

fn bool_from_str(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

fn number_from_str(s: &str) -> Option<f64> {
    // Only JSON number syntax: `inf`, `NaN` and `0x10` are not numbers here.
    super::parser::json_number(s.trim()).and_then(|n| n.as_f64())
}

/// The comparable key of a stored JSON value of attribute `leaf`.
///
/// Returns `None` when the value is null, an array or object, or cannot be read as the
/// attribute's type (e.g. an unparseable dateTime). Complex attributes have no key; compare
/// their `value` sub-attribute instead. Numbers and booleans stored under a string attribute
/// compare as their JSON text.
pub fn json_key(leaf: &AttributeDef, value: &Value) -> Option<Key> {
    match leaf.kind {
        AttributeType::String | AttributeType::Reference | AttributeType::Binary => match value {
            Value::String(s) => Some(text_key(leaf, s)),
            Value::Number(n) => Some(Key::Text(n.to_string())),
            Value::Bool(b) => Some(Key::Text(b.to_string())),
            _ => None,
        },
        AttributeType::Boolean => match value {
            Value::Bool(b) => Some(Key::Bool(*b)),
            Value::String(s) => bool_from_str(s).map(Key::Bool),
            _ => None,
        },
        AttributeType::Integer | AttributeType::Decimal => match value {
            Value::Number(n) => n.as_f64().filter(|f| f.is_finite()).map(Key::Number),
            Value::String(s) => number_from_str(s).map(Key::Number),
            _ => None,
        },
        AttributeType::DateTime => match value {
            Value::String(s) => parse_rfc3339(s).map(Key::Time),
            _ => None,
        },
        AttributeType::Complex => None,
    }
}

/// Checks that `op` applies to attributes of `leaf`'s type (RFC 7644 Table 3):
/// `co`/`sw`/`ew` only on string, reference and binary; `gt`/`ge`/`lt`/`le` not on
/// boolean or binary; nothing on a complex attribute itself.
pub fn check_operator(leaf: &AttributeDef, op: CompareOp) -> Result<()> {
    let ok = match op {
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => is_textual(leaf.kind),
        CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le => !matches!(
            leaf.kind,
            AttributeType::Boolean | AttributeType::Binary | AttributeType::Complex
        ),
        CompareOp::Eq | CompareOp::Ne => leaf.kind != AttributeType::Complex,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_filter(
            0,
            format!(
                "operator {} does not apply to {} attribute {}",
                op.as_str(),
                type_name(leaf.kind),
                leaf.name
            ),
        ))
    }
}

fn type_name(kind: AttributeType) -> &'static str {
    match kind {
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

/// The comparable key of a filter operand `value` used with `op` on attribute `leaf`.
///
/// Fails with [`Error::InvalidFilter`] (position 0: the AST carries no positions) when the
/// operator does not apply to the type (see [`check_operator`]) or the value cannot be read
/// as the type. `null` has no key: `eq null` / `ne null` are presence tests that callers
/// handle before asking for a key. Booleans accept `"true"`/`"false"` strings in any case;
/// numbers accept numeric strings; numbers and booleans given for a string attribute are
/// compared as their text (Entra sends bare words such as `externalId eq 42`).
pub fn comp_key(leaf: &AttributeDef, op: CompareOp, value: &CompValue) -> Result<Key> {
    check_operator(leaf, op)?;
    let bad = |what: &str| {
        Error::invalid_filter(
            0,
            format!(
                "{what} cannot be compared with {} attribute {}",
                type_name(leaf.kind),
                leaf.name
            ),
        )
    };
    if let CompValue::Null = value {
        return Err(Error::invalid_filter(
            0,
            format!(
                "null can only be used with eq and ne (attribute {})",
                leaf.name
            ),
        ));
    }
    match leaf.kind {
        AttributeType::String | AttributeType::Reference | AttributeType::Binary => {
            Ok(match value {
                CompValue::String(s) => text_key(leaf, s),
                CompValue::Number(n) => Key::Text(n.to_string()),
                CompValue::Bool(b) => Key::Text(b.to_string()),
                CompValue::Null => return Err(bad("null")),
            })
        }
        AttributeType::Boolean => match value {
            CompValue::Bool(b) => Ok(Key::Bool(*b)),
            CompValue::String(s) => bool_from_str(s)
                .map(Key::Bool)
                .ok_or_else(|| bad("a string")),
            _ => Err(bad("a number")),
        },
        AttributeType::Integer | AttributeType::Decimal => match value {
            CompValue::Number(n) => n
                .as_f64()
                .filter(|f| f.is_finite())
                .map(Key::Number)
                .ok_or_else(|| bad("this number")),
            CompValue::String(s) => number_from_str(s)
                .map(Key::Number)
                .ok_or_else(|| bad("a non-numeric string")),
            _ => Err(bad("a boolean")),
        },
        AttributeType::DateTime => match value {
            CompValue::String(s) => parse_rfc3339(s)
                .map(Key::Time)
                .ok_or_else(|| bad("a string that is not an RFC 3339 dateTime")),
            _ => Err(bad("a non-string value")),
        },
        AttributeType::Complex => Err(bad("a value")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use serde_json::json;

    use super::*;

    fn attr(kind: AttributeType, case_exact: bool) -> AttributeDef {
        let mut a = AttributeDef::new("a", kind);
        a.case_exact = case_exact;
        a
    }

    fn s(v: &str) -> CompValue {
        CompValue::String(v.to_owned())
    }

    #[test]
    fn text_is_lower_cased_unless_case_exact() {
        let ci = attr(AttributeType::String, false);
        let ce = attr(AttributeType::String, true);
        assert_eq!(
            json_key(&ci, &json!("BJensen")),
            Some(Key::Text("bjensen".into()))
        );
        assert_eq!(
            json_key(&ce, &json!("BJensen")),
            Some(Key::Text("BJensen".into()))
        );
        // Unicode lower-casing, not ASCII only.
        assert_eq!(
            json_key(&ci, &json!("ÄNGSTRÖM")),
            Some(Key::Text("ängström".into()))
        );
        assert_eq!(
            comp_key(&ci, CompareOp::Eq, &s("ÄNGSTRÖM")).unwrap(),
            Key::Text("ängström".into())
        );
    }

    #[test]
    fn booleans_from_strings_any_case() {
        let b = attr(AttributeType::Boolean, false);
        assert_eq!(json_key(&b, &json!("True")), Some(Key::Bool(true)));
        assert_eq!(json_key(&b, &json!("FALSE")), Some(Key::Bool(false)));
        assert_eq!(json_key(&b, &json!(true)), Some(Key::Bool(true)));
        assert_eq!(json_key(&b, &json!("yes")), None);
        assert_eq!(json_key(&b, &json!(1)), None);
        assert_eq!(
            comp_key(&b, CompareOp::Eq, &s("tRuE")).unwrap(),
            Key::Bool(true)
        );
        assert!(comp_key(&b, CompareOp::Eq, &s("maybe")).is_err());
    }

    #[test]
    fn numbers_and_times() {
        let n = attr(AttributeType::Integer, false);
        assert_eq!(json_key(&n, &json!(42)), Some(Key::Number(42.0)));
        assert_eq!(json_key(&n, &json!("42")), Some(Key::Number(42.0)));
        assert_eq!(json_key(&n, &json!("NaN")), None);
        let d = attr(AttributeType::Decimal, false);
        assert_eq!(
            comp_key(
                &d,
                CompareOp::Gt,
                &CompValue::Number(serde_json::Number::from_f64(1.5).unwrap())
            )
            .unwrap(),
            Key::Number(1.5)
        );
        let t = attr(AttributeType::DateTime, false);
        assert_eq!(
            json_key(&t, &json!("2026-01-01T02:00:00+02:00")),
            json_key(&t, &json!("2026-01-01T00:00:00.0000000Z"))
        );
        assert!(comp_key(&t, CompareOp::Ge, &s("yesterday")).is_err());
        assert_eq!(json_key(&t, &json!("not a date")), None);
    }

    #[test]
    fn numbers_given_for_strings_compare_as_text() {
        let a = attr(AttributeType::String, false);
        assert_eq!(
            comp_key(&a, CompareOp::Eq, &CompValue::Number(42.into())).unwrap(),
            Key::Text("42".into())
        );
        assert_eq!(json_key(&a, &json!(42)), Some(Key::Text("42".into())));
    }

    #[test]
    fn operators_must_fit_the_type() {
        let err = |kind, op| comp_key(&attr(kind, false), op, &s("true")).unwrap_err();
        for op in [CompareOp::Co, CompareOp::Sw, CompareOp::Ew] {
            for kind in [
                AttributeType::Boolean,
                AttributeType::Integer,
                AttributeType::Decimal,
                AttributeType::DateTime,
                AttributeType::Complex,
            ] {
                assert!(matches!(err(kind, op), Error::InvalidFilter { .. }));
            }
            assert!(comp_key(&attr(AttributeType::Reference, false), op, &s("x")).is_ok());
            assert!(comp_key(&attr(AttributeType::Binary, false), op, &s("x")).is_ok());
        }
        for op in [CompareOp::Gt, CompareOp::Ge, CompareOp::Lt, CompareOp::Le] {
            assert!(matches!(
                err(AttributeType::Boolean, op),
                Error::InvalidFilter { .. }
            ));
            assert!(matches!(
                err(AttributeType::Binary, op),
                Error::InvalidFilter { .. }
            ));
            assert!(comp_key(&attr(AttributeType::String, false), op, &s("m")).is_ok());
        }
        assert!(
            comp_key(
                &attr(AttributeType::String, false),
                CompareOp::Eq,
                &CompValue::Null
            )
            .is_err()
        );
    }

    #[test]
    fn satisfies_and_ordering() {
        let t = |v: &str| Key::Text(v.into());
        assert!(t("bjensen@example.com").satisfies(CompareOp::Co, &t("@example")));
        assert!(t("bjensen").satisfies(CompareOp::Sw, &t("bj")));
        assert!(t("bjensen").satisfies(CompareOp::Ew, &t("sen")));
        assert!(!t("bjensen").satisfies(CompareOp::Ew, &t("bj")));
        assert!(t("b").satisfies(CompareOp::Gt, &t("a")));
        assert!(Key::Number(2.0).satisfies(CompareOp::Ge, &Key::Number(2.0)));
        assert!(Key::Time(1).satisfies(CompareOp::Lt, &Key::Time(2)));
        assert!(!Key::Bool(true).satisfies(CompareOp::Eq, &t("true")));
        assert!(Key::Bool(true).satisfies(CompareOp::Ne, &t("true")));
        assert_eq!(Key::Bool(true).partial_cmp(&Key::Number(1.0)), None);
        assert_eq!(Key::Bool(true).total_cmp(&Key::Number(0.0)), Ordering::Less);
        assert_eq!(
            Key::Number(-0.5).total_cmp(&Key::Number(3.0)),
            Ordering::Less
        );
    }
}
