//! The audit log: one entry per SCIM request — who (tenant, credential label, client IP,
//! user agent) did what (method, path, resource id) with which outcome (status, `scimType`,
//! duration) — so operators can see exactly what each identity provider sent.
//!
//! Entries never hold a token, secret or password: the server builds them from the request
//! line and the outcome only (no headers other than `User-Agent`, no bodies). Entries for
//! reads arrive in batches through [`AuditStore::record_audit`]; entries for changes commit
//! in the write transaction through [`crate::events::Change::audit`].

use std::future::Future;

use crate::error::StoreError;
use crate::records::TenantId;
use crate::store::Store;

/// One audited request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditEntry {
    /// RFC 3339 UTC with milliseconds: when the request arrived.
    pub time: String,
    /// The tenant, when known (an unknown tenant's 401 has none).
    pub tenant_id: Option<TenantId>,
    /// The tenant's name as known or as named in the path (may be empty).
    pub tenant: String,
    /// The credential's label; empty when the request was not authenticated.
    pub actor: String,
    pub client_ip: String,
    pub user_agent: String,
    pub method: String,
    /// Path and query string as requested (paths and SCIM queries carry no secrets).
    pub path: String,
    pub status: u16,
    pub scim_type: Option<String>,
    /// The resource the request addressed or created, when there is one.
    pub resource_id: Option<String>,
    pub duration_ms: u64,
    pub request_id: String,
}

/// Which statuses to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    /// One status (`404`).
    Exact(u16),
    /// A class (`4xx` is `Class(4)`).
    Class(u16),
}

impl StatusFilter {
    /// Parses `404` or `4xx` (also `4XX`).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        if let Some(d) = s.strip_suffix("xx").or_else(|| s.strip_suffix("XX")) {
            return match d.parse::<u16>() {
                Ok(c) if (1..=5).contains(&c) && d.len() == 1 => Some(Self::Class(c)),
                _ => None,
            };
        }
        match s.parse::<u16>() {
            Ok(c) if (100..=599).contains(&c) && s.len() == 3 => Some(Self::Exact(c)),
            _ => None,
        }
    }

    /// The inclusive status range it matches.
    pub fn range(self) -> (u16, u16) {
        match self {
            Self::Exact(c) => (c, c),
            Self::Class(c) => (c * 100, c * 100 + 99),
        }
    }
}

/// An audit query: newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditQuery {
    pub tenant: TenantId,
    /// Only entries at or after this RFC 3339 time.
    pub since: Option<String>,
    pub status: Option<StatusFilter>,
    pub limit: u32,
}

/// Storing and reading the audit log.
pub trait AuditStore: Store {
    /// Inserts entries (a batch from the background writer) in one transaction.
    fn record_audit(
        &self,
        entries: Vec<AuditEntry>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Entries of a tenant matching the query, newest first.
    fn query_audit(
        &self,
        query: &AuditQuery,
    ) -> impl Future<Output = Result<Vec<AuditEntry>, StoreError>> + Send;

    /// Deletes entries older than `before` (RFC 3339); returns how many.
    fn prune_audit(&self, before: &str) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

/// Microseconds since the Unix epoch of an RFC 3339 time, for the indexed time column.
pub fn time_micros(rfc3339: &str) -> Result<i64, StoreError> {
    scimd_core::datetime::parse_rfc3339(rfc3339)
        .ok_or_else(|| StoreError::Backend(format!("not an RFC 3339 time: {rfc3339}")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn status_filters() {
        assert_eq!(StatusFilter::parse("4xx"), Some(StatusFilter::Class(4)));
        assert_eq!(StatusFilter::parse("404"), Some(StatusFilter::Exact(404)));
        assert_eq!(StatusFilter::parse("4xx").unwrap().range(), (400, 499));
        for bad in ["", "x", "44xx", "0xx", "40", "4044", "9999"] {
            assert_eq!(StatusFilter::parse(bad), None, "{bad}");
        }
    }
}
