//! Identifiers minted by scimd: resource ids (RFC 7643 §3.1) and outbox event ids.
//!
//! Both are UUID version 7 (RFC 9562 §5.7): 48 bits of Unix milliseconds, then 12 bits of
//! sub-millisecond time (§6.2 method 3), then 62 random bits. RFC 7643 only asks that `id`
//! be unique and never reused; time order is chosen for the database. Every store keeps a
//! unique B-tree on these ids, and a random (v4) id lands on a random leaf of it: at 200,000
//! users each create dirtied one more page of its own (one more page written to the WAL
//! and later checkpointed, ~4 KiB each). Ids that grow with time all land on the rightmost
//! leaf, which the writes of one commit share. The 62 random bits keep them unguessable
//! and unique across nodes that share a PostgreSQL database.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::StoreError;

/// A fresh UUID version 7 in the canonical lower-case hyphenated form.
pub fn new_time_ordered_id() -> Result<String, StoreError> {
    let mut random = [0_u8; 8];
    getrandom::fill(&mut random).map_err(|e| StoreError::Backend(format!("random source: {e}")))?;
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Ok(format_v7(since_epoch.as_micros(), random))
}

/// Lays out a version 7 UUID from microseconds since the epoch and 64 random bits (of which
/// 62 are used).
fn format_v7(micros: u128, random: [u8; 8]) -> String {
    let millis = (micros / 1000) as u64 & 0xffff_ffff_ffff;
    // The fraction of the millisecond scaled to 12 bits: later in the millisecond sorts later.
    let fraction = ((micros % 1000) * 4096 / 1000) as u16;
    let version_and_fraction = 0x7000 | (fraction & 0x0fff);
    let tail = (u64::from_be_bytes(random) & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        millis >> 16,
        millis & 0xffff,
        version_and_fraction,
        tail >> 48,
        tail & 0xffff_ffff_ffff,
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    #[test]
    fn carries_version_variant_and_time() {
        // 2026-11-24T00:00:00.000500Z: 1,795,478,400,000 ms = 0x01a2_0ada_2c00, half a ms in.
        let u = format_v7(1_795_478_400_000_500, [0xff; 8]);
        assert_eq!(u, "01a20ada-2c00-7800-bfff-ffffffffffff");
        let fresh = new_time_ordered_id().unwrap();
        assert_eq!(fresh.len(), 36);
        assert_eq!(&fresh[14..15], "7");
        assert!(matches!(&fresh[19..20], "8" | "9" | "a" | "b"));
    }

    #[test]
    fn later_ids_sort_after_earlier_ones() {
        let a = format_v7(1_795_478_400_000_000, [0xff; 8]);
        let b = format_v7(1_795_478_400_000_250, [0; 8]);
        let c = format_v7(1_795_478_400_001_000, [0; 8]);
        assert!(a < b && b < c, "{a} {b} {c}");
        let fresh: Vec<String> = (0..3).map(|_| new_time_ordered_id().unwrap()).collect();
        assert_ne!(fresh[0], fresh[1]);
    }
}
