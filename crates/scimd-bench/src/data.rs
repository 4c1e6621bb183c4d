//! The synthetic data set: deterministic user names and bodies shaped like what Okta and
//! Entra send (RFC 7643 §4.1 core User plus the enterprise extension), a small PRNG, and the
//! seed manifest shared by `seed`, `limit` and `run`.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::BenchResult;

/// URN of the core User schema.
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// URN of the PatchOp message.
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// URN of the BulkRequest message.
pub const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";

/// The `userName` of seeded user number `i`.
pub fn seeded_user_name(i: u64) -> String {
    format!("user{i}@bench.example")
}

/// A POST /Users body: name, work email, display name, externalId, active — the attributes an
/// IdP sends on assignment.
pub fn user_body(user_name: &str, n: u64) -> Value {
    json!({
        "schemas": [USER_SCHEMA],
        "userName": user_name,
        "externalId": format!("00u{n:010}"),
        "name": {"givenName": format!("Given{n}"), "familyName": format!("Family{n}")},
        "displayName": format!("Given{n} Family{n}"),
        "emails": [{"value": user_name, "type": "work", "primary": true}],
        "active": true
    })
}

/// What the seed wrote, read back by the other subcommands.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// Seeded users; user `i` has `userName` [`seeded_user_name`]`(i)` and id `ids[i]`.
    pub users: u64,
    /// File with one user id per line, in seed order.
    pub ids_file: String,
    /// The Group whose members are users `0..big_group_members`.
    pub big_group_id: String,
    pub big_group_members: u64,
    /// The Group whose members are users `0..small_group_members`.
    pub small_group_id: String,
    pub small_group_members: u64,
    /// Seconds the seed took and users per second.
    pub seed_seconds: f64,
    pub seed_users_per_sec: f64,
}

impl Manifest {
    /// Reads a manifest written by `seed`.
    pub fn load(path: &Path) -> BenchResult<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Ok(serde_json::from_str(&text)?)
    }

    /// Reads the user ids.
    pub fn ids(&self) -> BenchResult<Vec<String>> {
        let text = std::fs::read_to_string(&self.ids_file)
            .map_err(|e| format!("cannot read {}: {e}", self.ids_file))?;
        let ids: Vec<String> = text.lines().map(str::to_owned).collect();
        if u64::try_from(ids.len()).ok() != Some(self.users) {
            return Err(format!(
                "{} holds {} ids, the manifest says {}",
                self.ids_file,
                ids.len(),
                self.users
            )
            .into());
        }
        Ok(ids)
    }
}

/// xorshift64*: enough randomness to pick ids, with no dependency and no shared state.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded from `seed` (any value; zero is remapped).
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A value in `0..n` (`n > 0`; 0 when `n == 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }
}

/// Percent-encodes a query parameter value (everything but RFC 3986 unreserved characters).
pub fn encode_query(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn rng_stays_in_range_and_varies() {
        let mut r = Rng::new(0);
        let values: Vec<u64> = (0..1000).map(|_| r.below(10)).collect();
        assert!(values.iter().all(|v| *v < 10));
        assert!((0..10).all(|d| values.contains(&d)));
        assert_eq!(Rng::new(7).below(0), 0);
    }

    #[test]
    fn encodes_filter_values() {
        assert_eq!(
            encode_query("userName eq \"a@b.c\""),
            "userName%20eq%20%22a%40b.c%22"
        );
    }

    #[test]
    fn user_body_has_the_name() {
        let b = user_body("x@y", 3);
        assert_eq!(b["userName"], "x@y");
        assert_eq!(b["emails"][0]["value"], "x@y");
    }
}
