//! The webhook signature: `Scimd-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`.
//!
//! The MAC is HMAC-SHA256 (RFC 2104, FIPS 180-4) keyed with the endpoint's secret (its UTF-8
//! bytes, exactly as printed by `scimd webhooks add`) over the ASCII decimal timestamp, a
//! `.`, and the raw request body bytes. The timestamp lets receivers refuse replays of old
//! requests (docs/INTEGRATING.md recommends a five-minute tolerance); a new signature is
//! computed for every attempt. Further `v1=` entries may appear while a secret is being
//! rotated, so receivers accept the request when any of them matches.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The signature header's name.
pub const SIGNATURE_HEADER: &str = "Scimd-Signature";

type HmacSha256 = Hmac<Sha256>;

/// The lower-case hex HMAC-SHA256 of `"{timestamp}.{body}"` keyed with `secret`.
pub fn mac_hex(secret: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail here.
    let mut mac = match HmacSha256::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    crate::crypto::hex(&mac.finalize().into_bytes())
}

/// The `Scimd-Signature` header value for one attempt.
pub fn header_value(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!("t={timestamp},v1={}", mac_hex(secret, timestamp, body))
}

/// Why a signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("malformed signature header")]
    Malformed,
    #[error("timestamp outside the tolerance")]
    Stale,
    #[error("no signature matches")]
    Mismatch,
}

/// Verifies a `Scimd-Signature` header against the body (receiver side; used by tests and
/// the example receiver). `now` is the receiver's clock in Unix seconds; timestamps more than
/// `tolerance_secs` away from it are refused. MACs are compared in constant time.
pub fn verify(
    secret: &str,
    header: &str,
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<(), VerifyError> {
    let mut timestamp = None;
    let mut macs = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => timestamp = v.parse::<i64>().ok(),
            Some(("v1", v)) => macs.push(v),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(VerifyError::Malformed)?;
    if macs.is_empty() {
        return Err(VerifyError::Malformed);
    }
    if (now - timestamp).abs() > tolerance_secs {
        return Err(VerifyError::Stale);
    }
    let expected = mac_hex(secret, timestamp, body);
    if macs
        .iter()
        .any(|m| crate::crypto::constant_time_eq(m.as_bytes(), expected.as_bytes()))
    {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn hmac_primitive_matches_rfc_4231_test_case_2() {
        // RFC 4231 §4.3: key "Jefe", data "what do ya want for nothing?".
        let mut mac = HmacSha256::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            crate::crypto::hex(&mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn sign_then_verify() {
        let body = br#"{"id":"e1"}"#;
        let h = header_value("whsec_abc", 1_700_000_000, body);
        assert!(h.starts_with("t=1700000000,v1="));
        assert_eq!(h.len(), "t=1700000000,v1=".len() + 64);
        assert_eq!(verify("whsec_abc", &h, body, 1_700_000_100, 300), Ok(()));
        assert_eq!(
            verify("whsec_abd", &h, body, 1_700_000_100, 300),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify("whsec_abc", &h, b"{\"id\":\"e2\"}", 1_700_000_100, 300),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify("whsec_abc", &h, body, 1_700_001_000, 300),
            Err(VerifyError::Stale)
        );
        assert_eq!(
            verify("whsec_abc", "v1=00", body, 0, 300),
            Err(VerifyError::Malformed)
        );
        // Rotation: any matching v1 is accepted.
        let both = format!("{h},v1={}", "0".repeat(64));
        assert_eq!(verify("whsec_abc", &both, body, 1_700_000_000, 300), Ok(()));
    }

    #[test]
    fn the_timestamp_is_part_of_the_mac() {
        let body = b"{}";
        assert_ne!(mac_hex("k", 1, body), mac_hex("k", 2, body));
        // "<t>.<body>" exactly: t=1, body "{}" is the message "1.{}".
        let mut mac = HmacSha256::new_from_slice(b"k").unwrap();
        mac.update(b"1.{}");
        assert_eq!(
            mac_hex("k", 1, body),
            crate::crypto::hex(&mac.finalize().into_bytes())
        );
    }
}
