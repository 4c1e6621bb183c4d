//! The outbox, the audit log and admin tokens in PostgreSQL (`scimd_store::events`,
//! `scimd_store::audit`, `scimd_store::admin`).
//!
//! Events are numbered from the tenant's `event_counters` row inside the write transaction
//! that produced them. The upsert locks that row until commit, so a second writer of the
//! same tenant waits there for the first to commit and then takes the next numbers: numbers
//! follow commit order. The counter is bumped last in the transaction (after the resource
//! rows are locked), so the wait covers only the tail of a write and cannot form a cycle
//! with resource locks; other tenants never wait.

use scimd_core::datetime::format_rfc3339;
use scimd_core::schema::ResourceKind;
use scimd_store::audit::time_micros;
use scimd_store::events::{NewEvent, new_event_id};
use scimd_store::{
    AdminToken, AuditEntry, AuditQuery, Change, Event, EventKind, StoreError, TenantId,
};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};

use crate::{PostgresStore, backend, now_micros};

/// Numbers and stores the events of one write, and its audit entry, on the write
/// transaction's connection.
pub(crate) async fn record(
    conn: &mut PgConnection,
    tenant: TenantId,
    events: Vec<NewEvent>,
    change: &Change,
) -> Result<(), StoreError> {
    if let Some(entry) = &change.audit {
        insert_audit(conn, entry).await?;
    }
    if events.is_empty() {
        return Ok(());
    }
    let n = i64::try_from(events.len()).unwrap_or(i64::MAX);
    let last: i64 = sqlx::query_scalar(
        "INSERT INTO event_counters (tenant_id, last_seq) VALUES ($1, $2) \
         ON CONFLICT (tenant_id) DO UPDATE SET last_seq = event_counters.last_seq + $2 RETURNING last_seq",
    )
    .bind(tenant.0)
    .bind(n)
    .fetch_one(&mut *conn)
    .await
    .map_err(backend)?;
    let now = now_micros();
    let time = format_rfc3339(now);
    for (seq, e) in (last - n + 1..).zip(events) {
        sqlx::query(
            "INSERT INTO events (tenant_id, seq, id, kind, resource_type, resource_id, resource, \
             changed, members, actor, request_id, time, time_us) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(tenant.0)
        .bind(seq)
        .bind(new_event_id()?)
        .bind(e.kind.as_str())
        .bind(e.resource_type.as_str())
        .bind(&e.resource_id)
        .bind(e.resource.as_ref().map(ToString::to_string))
        .bind(json_list(&e.changed_attributes))
        .bind(json_list(&e.members))
        .bind(&change.actor)
        .bind(&change.request_id)
        .bind(&time)
        .bind(now)
        .execute(&mut *conn)
        .await
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

fn event_from_row(row: &PgRow) -> Result<Event, StoreError> {
    let kind: String = row.try_get("kind").map_err(backend)?;
    let rt: String = row.try_get("resource_type").map_err(backend)?;
    let resource: Option<String> = row.try_get("resource").map_err(backend)?;
    let changed: String = row.try_get("changed").map_err(backend)?;
    let members: String = row.try_get("members").map_err(backend)?;
    Ok(Event {
        id: row.try_get("id").map_err(backend)?,
        tenant_id: TenantId(row.try_get("tenant_id").map_err(backend)?),
        tenant: row.try_get("tenant").map_err(backend)?,
        seq: row.try_get("seq").map_err(backend)?,
        kind: EventKind::parse(&kind)
            .ok_or_else(|| StoreError::Backend(format!("unknown event kind {kind}")))?,
        resource_type: match rt.as_str() {
            "User" => ResourceKind::User,
            "Group" => ResourceKind::Group,
            other => {
                return Err(StoreError::Backend(format!(
                    "unknown resource type {other}"
                )));
            }
        },
        resource_id: row.try_get("resource_id").map_err(backend)?,
        resource: resource
            .map(|r| serde_json::from_str(&r))
            .transpose()
            .map_err(|e| StoreError::Backend(format!("stored event resource: {e}")))?,
        changed_attributes: parse_list(&changed)?,
        members: parse_list(&members)?,
        actor: row.try_get("actor").map_err(backend)?,
        request_id: row.try_get("request_id").map_err(backend)?,
        time: row.try_get("time").map_err(backend)?,
    })
}

pub(crate) async fn events_after(
    store: &PostgresStore,
    tenant: TenantId,
    after_seq: i64,
    limit: u32,
) -> Result<Vec<Event>, StoreError> {
    let rows = sqlx::query(
        "SELECT e.*, t.name AS tenant FROM events e JOIN tenants t ON t.id = e.tenant_id \
         WHERE e.tenant_id = $1 AND e.seq > $2 ORDER BY e.seq LIMIT $3",
    )
    .bind(tenant.0)
    .bind(after_seq)
    .bind(i64::from(limit))
    .fetch_all(&store.inner.pool)
    .await
    .map_err(backend)?;
    rows.iter().map(event_from_row).collect()
}

pub(crate) async fn event_heads(store: &PostgresStore) -> Result<Vec<(TenantId, i64)>, StoreError> {
    let rows = sqlx::query("SELECT tenant_id, last_seq FROM event_counters ORDER BY tenant_id")
        .fetch_all(&store.inner.pool)
        .await
        .map_err(backend)?;
    rows.iter()
        .map(|r| {
            Ok((
                TenantId(r.try_get("tenant_id").map_err(backend)?),
                r.try_get("last_seq").map_err(backend)?,
            ))
        })
        .collect()
}

pub(crate) async fn prune_events(store: &PostgresStore, before: &str) -> Result<u64, StoreError> {
    prune_before(store, PRUNE_EVENTS, time_micros(before)?).await
}

/// Rows deleted per retention statement: each batch is a short statement well inside the
/// pool's `statement_timeout`, so a large backlog is pruned in steps instead of being
/// cancelled (and retried from scratch) forever.
pub(crate) const PRUNE_BATCH: u64 = 5_000;
// The same, as the bound `LIMIT` (PostgreSQL has no unsigned integers).
const PRUNE_BATCH_ROWS: i64 = PRUNE_BATCH as i64;

/// One retention batch of each pruned table: rows before `$1`, at most `$2` of them.
const PRUNE_EVENTS: &str = "DELETE FROM events WHERE ctid = ANY(ARRAY(\
     SELECT ctid FROM events WHERE time_us < $1 LIMIT $2))";
const PRUNE_AUDIT: &str = "DELETE FROM audit_log WHERE ctid = ANY(ARRAY(\
     SELECT ctid FROM audit_log WHERE time_us < $1 LIMIT $2))";

/// Runs a retention batch (`PRUNE_EVENTS` or `PRUNE_AUDIT`) until a batch deletes fewer than
/// [`PRUNE_BATCH`] rows; the number deleted.
async fn prune_before(
    store: &PostgresStore,
    batch: &'static str,
    cutoff: i64,
) -> Result<u64, StoreError> {
    let mut deleted = 0;
    loop {
        let n = sqlx::query(batch)
            .bind(cutoff)
            .bind(PRUNE_BATCH_ROWS)
            .execute(&store.inner.pool)
            .await
            .map_err(backend)?
            .rows_affected();
        deleted += n;
        if n < PRUNE_BATCH {
            return Ok(deleted);
        }
    }
}

async fn insert_audit(conn: &mut PgConnection, e: &AuditEntry) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit_log (time, time_us, tenant_id, tenant, actor, client_ip, user_agent, \
         method, path, status, scim_type, resource_id, duration_ms, request_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(&e.time)
    .bind(time_micros(&e.time)?)
    .bind(e.tenant_id.map(|t| t.0))
    .bind(&e.tenant)
    .bind(&e.actor)
    .bind(&e.client_ip)
    .bind(&e.user_agent)
    .bind(&e.method)
    .bind(&e.path)
    .bind(i64::from(e.status))
    .bind(&e.scim_type)
    .bind(&e.resource_id)
    .bind(i64::try_from(e.duration_ms).unwrap_or(i64::MAX))
    .bind(&e.request_id)
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
    Ok(())
}

pub(crate) async fn record_audit(
    store: &PostgresStore,
    entries: Vec<AuditEntry>,
) -> Result<(), StoreError> {
    if entries.is_empty() {
        return Ok(());
    }
    let mut tx = store.begin().await?;
    for e in &entries {
        insert_audit(&mut tx, e).await?;
    }
    tx.commit().await.map_err(backend)
}

fn audit_from_row(row: &PgRow) -> Result<AuditEntry, StoreError> {
    let status: i64 = row.try_get("status").map_err(backend)?;
    let duration: i64 = row.try_get("duration_ms").map_err(backend)?;
    let tenant_id: Option<i64> = row.try_get("tenant_id").map_err(backend)?;
    Ok(AuditEntry {
        time: row.try_get("time").map_err(backend)?,
        tenant_id: tenant_id.map(TenantId),
        tenant: row.try_get("tenant").map_err(backend)?,
        actor: row.try_get("actor").map_err(backend)?,
        client_ip: row.try_get("client_ip").map_err(backend)?,
        user_agent: row.try_get("user_agent").map_err(backend)?,
        method: row.try_get("method").map_err(backend)?,
        path: row.try_get("path").map_err(backend)?,
        status: u16::try_from(status).unwrap_or(0),
        scim_type: row.try_get("scim_type").map_err(backend)?,
        resource_id: row.try_get("resource_id").map_err(backend)?,
        duration_ms: u64::try_from(duration).unwrap_or(0),
        request_id: row.try_get("request_id").map_err(backend)?,
    })
}

pub(crate) async fn query_audit(
    store: &PostgresStore,
    q: &AuditQuery,
) -> Result<Vec<AuditEntry>, StoreError> {
    let since = q.since.as_deref().map(time_micros).transpose()?;
    let (lo, hi) = q.status.map_or((0, 999), |s| s.range());
    let rows = sqlx::query(
        "SELECT * FROM audit_log WHERE tenant_id = $1 AND time_us >= $2 \
         AND status BETWEEN $3 AND $4 ORDER BY time_us DESC, id DESC LIMIT $5",
    )
    .bind(q.tenant.0)
    .bind(since.unwrap_or(i64::MIN))
    .bind(i64::from(lo))
    .bind(i64::from(hi))
    .bind(i64::from(q.limit))
    .fetch_all(&store.inner.pool)
    .await
    .map_err(backend)?;
    rows.iter().map(audit_from_row).collect()
}

pub(crate) async fn prune_audit(store: &PostgresStore, before: &str) -> Result<u64, StoreError> {
    prune_before(store, PRUNE_AUDIT, time_micros(before)?).await
}

fn admin_from_row(row: &PgRow) -> Result<AdminToken, StoreError> {
    Ok(AdminToken {
        id: row.try_get("id").map_err(backend)?,
        label: row.try_get("label").map_err(backend)?,
        token_hash: row.try_get("token_hash").map_err(backend)?,
        created: row.try_get("created").map_err(backend)?,
        revoked: row.try_get("revoked").map_err(backend)?,
    })
}

pub(crate) async fn create_admin_token(
    store: &PostgresStore,
    label: &str,
    token_hash: &str,
) -> Result<AdminToken, StoreError> {
    let created = format_rfc3339(now_micros());
    let row = sqlx::query(
        "INSERT INTO admin_tokens (label, token_hash, created) VALUES ($1, $2, $3) RETURNING *",
    )
    .bind(label)
    .bind(token_hash)
    .bind(&created)
    .fetch_one(&store.inner.pool)
    .await
    .map_err(backend)?;
    admin_from_row(&row)
}

pub(crate) async fn admin_token_by_hash(
    store: &PostgresStore,
    token_hash: &str,
) -> Result<Option<AdminToken>, StoreError> {
    sqlx::query("SELECT * FROM admin_tokens WHERE token_hash = $1 AND NOT revoked")
        .bind(token_hash)
        .fetch_optional(&store.inner.pool)
        .await
        .map_err(backend)?
        .as_ref()
        .map(admin_from_row)
        .transpose()
}

pub(crate) async fn list_admin_tokens(
    store: &PostgresStore,
) -> Result<Vec<AdminToken>, StoreError> {
    sqlx::query("SELECT * FROM admin_tokens ORDER BY id")
        .fetch_all(&store.inner.pool)
        .await
        .map_err(backend)?
        .iter()
        .map(admin_from_row)
        .collect()
}

pub(crate) async fn revoke_admin_token(store: &PostgresStore, id: i64) -> Result<(), StoreError> {
    let n = sqlx::query("UPDATE admin_tokens SET revoked = true WHERE id = $1")
        .bind(id)
        .execute(&store.inner.pool)
        .await
        .map_err(backend)?
        .rows_affected();
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}
