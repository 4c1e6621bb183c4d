//! The outbox, the audit log and admin tokens in SQLite (`scimd_store::events`,
//! `scimd_store::audit`, `scimd_store::admin`).
//!
//! Events are numbered from the tenant's `event_counters` row inside the write transaction
//! that produced them. SQLite has a single writer, so numbers follow commit order without
//! any further locking.

use rusqlite::{Connection, Row};
use scimd_core::datetime::format_rfc3339;
use scimd_core::schema::ResourceKind;
use scimd_store::audit::time_micros;
use scimd_store::events::{NewEvent, new_event_id};
use scimd_store::{
    AdminToken, AuditEntry, AuditQuery, Change, Event, EventKind, StoreError, TenantId,
};

use crate::db::{execute, query_all, query_opt};
use crate::{SqliteStore, backend, now_micros};

/// Numbers and stores the events of one write, and its audit entry, inside the write's
/// transaction.
pub(crate) fn record(
    conn: &Connection,
    tenant: TenantId,
    events: Vec<NewEvent>,
    change: &Change,
) -> Result<(), StoreError> {
    if let Some(entry) = &change.audit {
        insert_audit(conn, entry)?;
    }
    if events.is_empty() {
        return Ok(());
    }
    let n = i64::try_from(events.len()).unwrap_or(i64::MAX);
    let last: i64 = query_opt(
        conn,
        "INSERT INTO event_counters (tenant_id, last_seq) VALUES (?1, ?2) \
         ON CONFLICT (tenant_id) DO UPDATE SET last_seq = last_seq + ?2 RETURNING last_seq",
        (tenant.0, n),
        |row| row.get(0),
    )?
    .ok_or_else(|| StoreError::Backend("the event counter returned no row".into()))?;
    let now = now_micros();
    let time = format_rfc3339(now);
    let mut insert = conn
        .prepare_cached(
            "INSERT INTO events (tenant_id, seq, id, kind, resource_type, resource_id, resource, \
             changed, members, actor, request_id, time, time_us) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        )
        .map_err(backend)?;
    for (seq, e) in (last - n + 1..).zip(events) {
        insert
            .execute(rusqlite::params![
                tenant.0,
                seq,
                new_event_id()?,
                e.kind.as_str(),
                e.resource_type.as_str(),
                e.resource_id,
                e.resource.as_ref().map(ToString::to_string),
                json_list(&e.changed_attributes),
                json_list(&e.members),
                change.actor,
                change.request_id,
                time,
                now,
            ])
            .map_err(backend)?;
    }
    Ok(())
}

fn json_list(v: &[String]) -> String {
    serde_json::Value::from(v.to_vec()).to_string()
}

fn parse_list(s: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Backend(format!("stored event list: {e}")))
}

/// An `events` row as stored, decoded after the statement.
struct EventRow {
    id: String,
    tenant_id: i64,
    tenant: String,
    seq: i64,
    kind: String,
    resource_type: String,
    resource_id: String,
    resource: Option<String>,
    changed: String,
    members: String,
    actor: String,
    request_id: String,
    time: String,
}

impl EventRow {
    fn read(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get("id")?,
            tenant_id: row.get("tenant_id")?,
            tenant: row.get("tenant")?,
            seq: row.get("seq")?,
            kind: row.get("kind")?,
            resource_type: row.get("resource_type")?,
            resource_id: row.get("resource_id")?,
            resource: row.get("resource")?,
            changed: row.get("changed")?,
            members: row.get("members")?,
            actor: row.get("actor")?,
            request_id: row.get("request_id")?,
            time: row.get("time")?,
        })
    }

    fn decode(self) -> Result<Event, StoreError> {
        Ok(Event {
            id: self.id,
            tenant_id: TenantId(self.tenant_id),
            tenant: self.tenant,
            seq: self.seq,
            kind: EventKind::parse(&self.kind)
                .ok_or_else(|| StoreError::Backend(format!("unknown event kind {}", self.kind)))?,
            resource_type: match self.resource_type.as_str() {
                "User" => ResourceKind::User,
                "Group" => ResourceKind::Group,
                other => {
                    return Err(StoreError::Backend(format!(
                        "unknown resource type {other}"
                    )));
                }
            },
            resource_id: self.resource_id,
            resource: self
                .resource
                .map(|r| serde_json::from_str(&r))
                .transpose()
                .map_err(|e| StoreError::Backend(format!("stored event resource: {e}")))?,
            changed_attributes: parse_list(&self.changed)?,
            members: parse_list(&self.members)?,
            actor: self.actor,
            request_id: self.request_id,
            time: self.time,
        })
    }
}

pub(crate) async fn events_after(
    store: &SqliteStore,
    tenant: TenantId,
    after_seq: i64,
    limit: u32,
) -> Result<Vec<Event>, StoreError> {
    store
        .read(move |conn| {
            query_all(
                conn,
                "SELECT e.*, t.name AS tenant FROM events e JOIN tenants t ON t.id = e.tenant_id \
                 WHERE e.tenant_id = ?1 AND e.seq > ?2 ORDER BY e.seq LIMIT ?3",
                (tenant.0, after_seq, i64::from(limit)),
                EventRow::read,
            )?
            .into_iter()
            .map(EventRow::decode)
            .collect()
        })
        .await
}

pub(crate) async fn event_heads(store: &SqliteStore) -> Result<Vec<(TenantId, i64)>, StoreError> {
    store
        .read(|conn| {
            query_all(
                conn,
                "SELECT tenant_id, last_seq FROM event_counters ORDER BY tenant_id",
                [],
                |row| Ok((TenantId(row.get(0)?), row.get(1)?)),
            )
        })
        .await
}

pub(crate) async fn prune_events(store: &SqliteStore, before: &str) -> Result<u64, StoreError> {
    let cutoff = time_micros(before)?;
    store
        .write(move |conn| execute(conn, "DELETE FROM events WHERE time_us < ?1", [cutoff]))
        .await
        .map(|n| n as u64)
}

fn insert_audit(conn: &Connection, e: &AuditEntry) -> Result<(), StoreError> {
    execute(
        conn,
        "INSERT INTO audit_log (time, time_us, tenant_id, tenant, actor, client_ip, user_agent, \
         method, path, status, scim_type, resource_id, duration_ms, request_id) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        rusqlite::params![
            e.time,
            time_micros(&e.time)?,
            e.tenant_id.map(|t| t.0),
            e.tenant,
            e.actor,
            e.client_ip,
            e.user_agent,
            e.method,
            e.path,
            i64::from(e.status),
            e.scim_type,
            e.resource_id,
            i64::try_from(e.duration_ms).unwrap_or(i64::MAX),
            e.request_id,
        ],
    )?;
    Ok(())
}

pub(crate) async fn record_audit(
    store: &SqliteStore,
    entries: Vec<AuditEntry>,
) -> Result<(), StoreError> {
    if entries.is_empty() {
        return Ok(());
    }
    store
        .write(move |conn| entries.iter().try_for_each(|e| insert_audit(conn, e)))
        .await
}

fn audit_from_row(row: &Row<'_>) -> rusqlite::Result<AuditEntry> {
    let status: i64 = row.get("status")?;
    let duration: i64 = row.get("duration_ms")?;
    let tenant_id: Option<i64> = row.get("tenant_id")?;
    Ok(AuditEntry {
        time: row.get("time")?,
        tenant_id: tenant_id.map(TenantId),
        tenant: row.get("tenant")?,
        actor: row.get("actor")?,
        client_ip: row.get("client_ip")?,
        user_agent: row.get("user_agent")?,
        method: row.get("method")?,
        path: row.get("path")?,
        status: u16::try_from(status).unwrap_or(0),
        scim_type: row.get("scim_type")?,
        resource_id: row.get("resource_id")?,
        duration_ms: u64::try_from(duration).unwrap_or(0),
        request_id: row.get("request_id")?,
    })
}

pub(crate) async fn query_audit(
    store: &SqliteStore,
    q: &AuditQuery,
) -> Result<Vec<AuditEntry>, StoreError> {
    let since = q.since.as_deref().map(time_micros).transpose()?;
    let (lo, hi) = q.status.map_or((0, 999), |s| s.range());
    let (tenant, limit) = (q.tenant.0, i64::from(q.limit));
    store
        .read(move |conn| {
            query_all(
                conn,
                "SELECT * FROM audit_log WHERE tenant_id = ?1 AND time_us >= ?2 \
                 AND status BETWEEN ?3 AND ?4 ORDER BY time_us DESC, id DESC LIMIT ?5",
                (
                    tenant,
                    since.unwrap_or(i64::MIN),
                    i64::from(lo),
                    i64::from(hi),
                    limit,
                ),
                audit_from_row,
            )
        })
        .await
}

pub(crate) async fn prune_audit(store: &SqliteStore, before: &str) -> Result<u64, StoreError> {
    let cutoff = time_micros(before)?;
    store
        .write(move |conn| execute(conn, "DELETE FROM audit_log WHERE time_us < ?1", [cutoff]))
        .await
        .map(|n| n as u64)
}

fn admin_from_row(row: &Row<'_>) -> rusqlite::Result<AdminToken> {
    Ok(AdminToken {
        id: row.get("id")?,
        label: row.get("label")?,
        token_hash: row.get("token_hash")?,
        created: row.get("created")?,
        revoked: row.get::<_, i64>("revoked")? != 0,
    })
}

pub(crate) async fn create_admin_token(
    store: &SqliteStore,
    label: &str,
    token_hash: &str,
) -> Result<AdminToken, StoreError> {
    let created = format_rfc3339(now_micros());
    let (label, token_hash) = (label.to_owned(), token_hash.to_owned());
    store
        .write(move |conn| {
            query_opt(
                conn,
                "INSERT INTO admin_tokens (label, token_hash, created) VALUES (?1, ?2, ?3) \
                 RETURNING *",
                (&label, &token_hash, &created),
                admin_from_row,
            )?
            .ok_or_else(|| StoreError::Backend("the new admin token vanished".into()))
        })
        .await
}

pub(crate) async fn admin_token_by_hash(
    store: &SqliteStore,
    token_hash: &str,
) -> Result<Option<AdminToken>, StoreError> {
    let token_hash = token_hash.to_owned();
    store
        .read(move |conn| {
            query_opt(
                conn,
                "SELECT * FROM admin_tokens WHERE token_hash = ?1 AND revoked = 0",
                [&token_hash],
                admin_from_row,
            )
        })
        .await
}

pub(crate) async fn list_admin_tokens(store: &SqliteStore) -> Result<Vec<AdminToken>, StoreError> {
    store
        .read(|conn| {
            query_all(
                conn,
                "SELECT * FROM admin_tokens ORDER BY id",
                [],
                admin_from_row,
            )
        })
        .await
}

pub(crate) async fn revoke_admin_token(store: &SqliteStore, id: i64) -> Result<(), StoreError> {
    store
        .write(move |conn| {
            let n = execute(
                conn,
                "UPDATE admin_tokens SET revoked = 1 WHERE id = ?1",
                [id],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
        .await
}
