//! Opaque pagination cursors (RFC 9865, cursor-based pagination for SCIM).
//!
//! A cursor names a position in a listing: the sort value and insertion sequence of the row
//! it follows (or precedes), so the next page is a keyset query ([`crate::sql::push_keyset`])
//! that costs the same at any depth. It also carries a fingerprint of the query (resource
//! kind, filter, sort), so a cursor used with a different query is rejected instead of
//! silently returning a wrong page. The text is hex, safe in URLs and JSON; it is opaque to
//! clients and not a secret (it holds only the sort value of a row the client has seen).

use scimd_core::filter::Filter;
use scimd_core::schema::ResourceKind;
use scimd_core::sort::{SortOrder, SortSpec};

use crate::error::StoreError;
use crate::sql::{Position, SqlValue};

/// Longest cursor accepted, in characters.
pub const MAX_CURSOR_LEN: usize = 8192;

const VERSION: &str = "c1";
const SEP: char = '\u{1f}';

/// A decoded cursor.
#[derive(Debug, Clone, PartialEq)]
pub struct Cursor {
    /// `true`: the page before `position`; `false`: the page after it.
    pub before: bool,
    pub position: Position,
    /// [`fingerprint`] of the query the cursor was issued for.
    pub fingerprint: u64,
}

impl Cursor {
    /// The opaque text form.
    pub fn encode(&self) -> String {
        let value = match &self.position.value {
            None => "n".to_owned(),
            Some(SqlValue::Text(s)) => format!("t{s}"),
            Some(SqlValue::Num(f)) => format!("f{:016x}", f.to_bits()),
            Some(SqlValue::Int(i)) => format!("i{i}"),
        };
        let plain = format!(
            "{VERSION}{SEP}{}{SEP}{:016x}{SEP}{}{SEP}{value}",
            if self.before { "b" } else { "a" },
            self.fingerprint,
            self.position.seq
        );
        let mut out = String::with_capacity(plain.len() * 2);
        for byte in plain.bytes() {
            out.push(hex_digit(byte >> 4));
            out.push(hex_digit(byte & 0x0f));
        }
        out
    }

    /// Parses [`Cursor::encode`] output; anything else is [`StoreError::InvalidCursor`].
    pub fn decode(text: &str) -> Result<Self, StoreError> {
        if text.len() > MAX_CURSOR_LEN || !text.len().is_multiple_of(2) {
            return Err(StoreError::InvalidCursor);
        }
        let mut bytes = Vec::with_capacity(text.len() / 2);
        for pair in text.as_bytes().chunks_exact(2) {
            let (Some(&hi), Some(&lo)) = (pair.first(), pair.get(1)) else {
                return Err(StoreError::InvalidCursor);
            };
            bytes.push((hex_value(hi)? << 4) | hex_value(lo)?);
        }
        let plain = String::from_utf8(bytes).map_err(|_| StoreError::InvalidCursor)?;
        let mut parts = plain.splitn(5, SEP);
        let (Some(VERSION), Some(dir), Some(fp), Some(seq), Some(value)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(StoreError::InvalidCursor);
        };
        let before = match dir {
            "b" => true,
            "a" => false,
            _ => return Err(StoreError::InvalidCursor),
        };
        let fingerprint = u64::from_str_radix(fp, 16).map_err(|_| StoreError::InvalidCursor)?;
        let seq = seq.parse::<i64>().map_err(|_| StoreError::InvalidCursor)?;
        let value = if value == "n" {
            None
        } else if let Some(t) = value.strip_prefix('t') {
            Some(SqlValue::Text(t.to_owned()))
        } else if let Some(f) = value.strip_prefix('f') {
            let bits = u64::from_str_radix(f, 16).map_err(|_| StoreError::InvalidCursor)?;
            let f = f64::from_bits(bits);
            if !f.is_finite() {
                return Err(StoreError::InvalidCursor);
            }
            Some(SqlValue::Num(f))
        } else if let Some(i) = value.strip_prefix('i') {
            Some(SqlValue::Int(
                i.parse().map_err(|_| StoreError::InvalidCursor)?,
            ))
        } else {
            return Err(StoreError::InvalidCursor);
        };
        Ok(Self {
            before,
            position: Position { value, seq },
            fingerprint,
        })
    }
}

fn hex_digit(n: u8) -> char {
    char::from(
        b"0123456789abcdef"
            .get(usize::from(n & 0x0f))
            .copied()
            .unwrap_or(b'0'),
    )
}

fn hex_value(c: u8) -> Result<u8, StoreError> {
    match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err(StoreError::InvalidCursor),
    }
}

/// A stable 64-bit fingerprint (FNV-1a) of a listing query: kind, filter and sort, in their
/// canonical printed forms.
pub fn fingerprint(kind: ResourceKind, filter: Option<&Filter>, sort: Option<&SortSpec>) -> u64 {
    let text = format!(
        "{}\u{1f}{}\u{1f}{}\u{1f}{}",
        kind.as_str(),
        filter.map(ToString::to_string).unwrap_or_default(),
        sort.map(|s| s.path.to_string().to_ascii_lowercase())
            .unwrap_or_default(),
        match sort.map(|s| s.order) {
            Some(SortOrder::Descending) => "d",
            _ => "a",
        }
    );
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use scimd_core::filter::parse_filter;

    use super::*;

    fn round_trip(value: Option<SqlValue>) {
        let c = Cursor {
            before: true,
            position: Position { value, seq: 42 },
            fingerprint: 0xdead_beef,
        };
        let text = c.encode();
        assert!(text.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(Cursor::decode(&text).unwrap(), c);
    }

    #[test]
    fn cursors_round_trip() {
        round_trip(None);
        round_trip(Some(SqlValue::Text("bjensen|\u{1f}ü".into())));
        round_trip(Some(SqlValue::Num(-1.5e300)));
        round_trip(Some(SqlValue::Int(i64::MIN)));
    }

    #[test]
    fn garbage_is_rejected() {
        for bad in ["", "abc", "zz", "6331", &"00".repeat(5000), "c1"] {
            assert_eq!(Cursor::decode(bad), Err(StoreError::InvalidCursor), "{bad}");
        }
        let good = Cursor {
            before: false,
            position: Position {
                value: Some(SqlValue::Int(1)),
                seq: 1,
            },
            fingerprint: 1,
        }
        .encode();
        // Truncated.
        assert!(Cursor::decode(&good[..good.len() - 2]).is_err());
    }

    #[test]
    fn fingerprint_tells_queries_apart() {
        let f1 = parse_filter("userName eq \"a\"").unwrap();
        let f2 = parse_filter("userName eq \"b\"").unwrap();
        let a = fingerprint(ResourceKind::User, Some(&f1), None);
        assert_eq!(a, fingerprint(ResourceKind::User, Some(&f1), None));
        assert_ne!(a, fingerprint(ResourceKind::User, Some(&f2), None));
        assert_ne!(a, fingerprint(ResourceKind::Group, Some(&f1), None));
        let asc = SortSpec::parse("userName", None).unwrap();
        let desc = SortSpec::parse("userName", Some(SortOrder::Descending)).unwrap();
        assert_ne!(
            fingerprint(ResourceKind::User, None, Some(&asc)),
            fingerprint(ResourceKind::User, None, Some(&desc))
        );
    }
}
