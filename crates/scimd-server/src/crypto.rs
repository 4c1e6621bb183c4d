//! Secrets: random bearer tokens and client secrets, and their stored forms. (Resource ids
//! are minted by `scimd_store::ids`.)
//!
//! Bearer tokens carry 256 bits from the OS random source, so a fast SHA-256 is a sufficient
//! stored form (there is nothing to brute-force) and lets the server find a token by its hash
//! with one indexed lookup. HTTP Basic client secrets and synced passwords are stored as
//! argon2id PHC strings instead, because clients may choose them (passwords) or because the
//! stored form must resist offline guessing on its own (RFC 7644 §7.7 leaves the method to us).

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The prefix of every bearer token scimd issues; it makes leaked tokens easy to recognise
/// in secret scanners and logs.
pub const TOKEN_PREFIX: &str = "scimd_";
/// The prefix of every HTTP Basic client id scimd issues.
pub const CLIENT_ID_PREFIX: &str = "scimdc_";

/// Failure of the operating system's random source or of the password hasher. Both are
/// server faults: callers log them and answer 500.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("random source failed: {0}")]
    Random(String),
    #[error("password hashing failed: {0}")]
    Hash(String),
}

/// Fills `N` bytes from the operating system's random source.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|e| CryptoError::Random(e.to_string()))?;
    Ok(buf)
}

/// A new bearer token: `scimd_` followed by 256 random bits in URL-safe base64 (43 chars).
pub fn new_bearer_token() -> Result<String, CryptoError> {
    let bytes = random_bytes::<32>()?;
    Ok(format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// A new HTTP Basic client id (128 random bits, not secret) and secret (256 random bits).
pub fn new_client_credentials() -> Result<(String, String), CryptoError> {
    let id = random_bytes::<16>()?;
    let secret = random_bytes::<32>()?;
    Ok((
        format!("{CLIENT_ID_PREFIX}{}", hex(&id)),
        URL_SAFE_NO_PAD.encode(secret),
    ))
}

/// SHA-256 of `data` as lower-case hex: the stored form of a bearer token.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// Raw SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// Compares two byte strings in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// Hashes a secret or password with argon2id (default parameters: 19 MiB, 2 passes) into a
/// PHC string that carries its own salt and parameters.
pub fn hash_secret(secret: &str) -> Result<String, CryptoError> {
    let salt_bytes = random_bytes::<16>()?;
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| CryptoError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| CryptoError::Hash(e.to_string()))
}

/// Verifies `secret` against an argon2 PHC string. A malformed stored hash verifies nothing.
pub fn verify_secret(secret: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    Argon2::default()
        .verify_password(secret.as_bytes(), &parsed)
        .is_ok()
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(out, "{b:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn tokens_are_prefixed_random_and_256_bit() {
        let a = new_bearer_token().unwrap();
        let b = new_bearer_token().unwrap();
        assert!(a.starts_with(TOKEN_PREFIX));
        assert_ne!(a, b);
        let raw = URL_SAFE_NO_PAD.decode(&a[TOKEN_PREFIX.len()..]).unwrap();
        assert_eq!(raw.len(), 32);
    }

    #[test]
    fn sha256_hex_matches_known_vector() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn argon2_round_trip_and_rejects_wrong_secret() {
        let h = hash_secret("s3cret").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_secret("s3cret", &h));
        assert!(!verify_secret("s3creT", &h));
        assert!(!verify_secret("s3cret", "not a phc string"));
    }

    #[test]
    fn constant_time_eq_compares_content() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }

    #[test]
    fn client_credentials_are_distinct() {
        let (id, secret) = new_client_credentials().unwrap();
        assert!(id.starts_with(CLIENT_ID_PREFIX));
        assert_eq!(secret.len(), 43);
    }
}
