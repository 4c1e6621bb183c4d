//! Webhook endpoints, the delivery queue and the attempt log in SQLite
//! ([`scimd_store::WebhookStore`]).
//!
//! SQLite has one writer: every claim runs in one `BEGIN IMMEDIATE` transaction, so two
//! dispatchers (even in two processes on one file) never claim the same delivery. scimd
//! runs one dispatcher per process; leases still protect a delivery whose sender died.
//! A delivery's "head of its endpoint" test is a `MIN(id)` over the partial index of
//! pending deliveries, so claiming costs one index probe per endpoint.

use scimd_core::datetime::format_rfc3339;
use scimd_store::webhooks::{
    Attempt, AttemptOutcome, AttemptRecord, ClaimedDelivery, Delivery, DeliveryStatus, Endpoint,
    NewDelivery, NewEndpoint, WebhookFormat, WebhookStore,
};
use scimd_store::{StoreError, TenantId};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use crate::{SqliteStore, backend, now_micros};

/// The schema of the webhook tables (appended to [`crate::schema::MIGRATIONS`]).
pub(crate) const MIGRATION: &str = r#"
CREATE TABLE webhook_endpoints (
    id          TEXT PRIMARY KEY,
    tenant_id   INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    url         TEXT NOT NULL,
    -- JSON array of event type patterns; [] = every event.
    events      TEXT NOT NULL,
    -- The signing secret in the form the server stores it.
    secret      TEXT NOT NULL,
    format      TEXT NOT NULL,
    created     TEXT NOT NULL,
    enabled     INTEGER NOT NULL DEFAULT 1,
    -- The last event seq already turned into deliveries.
    cursor      INTEGER NOT NULL
);
CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints(tenant_id);

CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint_id     TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    tenant_id       INTEGER NOT NULL,
    event_id        TEXT NOT NULL,
    event_seq       INTEGER NOT NULL,
    event_type      TEXT NOT NULL,
    body            TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_us      INTEGER NOT NULL,
    next_attempt_us INTEGER NOT NULL,
    lease_owner     TEXT,
    lease_until_us  INTEGER,
    last_status     INTEGER,
    last_error      TEXT
);
-- The queue heads: the oldest pending delivery of each endpoint.
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries(endpoint_id, id)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries(endpoint_id, id);
CREATE INDEX webhook_deliveries_tenant ON webhook_deliveries(tenant_id, id);

CREATE TABLE webhook_attempts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id  INTEGER NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    started_us   INTEGER NOT NULL,
    status_code  INTEGER,
    error        TEXT,
    duration_ms  INTEGER NOT NULL
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts(delivery_id, id);
"#;

macro_rules! endpoint_cols {
    () => {
        "e.id AS e_id, e.tenant_id AS e_tenant_id, t.name AS e_tenant_name, e.url AS e_url, \
         e.events AS e_events, e.secret AS e_secret, e.format AS e_format, \
         e.created AS e_created, e.enabled AS e_enabled, e.cursor AS e_cursor"
    };
}

macro_rules! delivery_cols {
    () => {
        "d.id AS d_id, d.endpoint_id AS d_endpoint_id, d.tenant_id AS d_tenant_id, \
         d.event_id AS d_event_id, d.event_seq AS d_event_seq, d.event_type AS d_event_type, \
         d.body AS d_body, d.status AS d_status, d.attempts AS d_attempts, \
         d.created_us AS d_created_us, d.next_attempt_us AS d_next_attempt_us, \
         d.last_status AS d_last_status, d.last_error AS d_last_error"
    };
}

fn endpoint_from_row(row: &SqliteRow) -> Result<Endpoint, StoreError> {
    let events: String = row.try_get("e_events").map_err(backend)?;
    let format: String = row.try_get("e_format").map_err(backend)?;
    Ok(Endpoint {
        id: row.try_get("e_id").map_err(backend)?,
        tenant_id: TenantId(row.try_get("e_tenant_id").map_err(backend)?),
        tenant_name: row.try_get("e_tenant_name").map_err(backend)?,
        url: row.try_get("e_url").map_err(backend)?,
        events: serde_json::from_str(&events)
            .map_err(|e| StoreError::Backend(format!("webhook event filter: {e}")))?,
        secret: row.try_get("e_secret").map_err(backend)?,
        format: WebhookFormat::parse(&format)
            .ok_or_else(|| StoreError::Backend(format!("unknown webhook format {format}")))?,
        created: row.try_get("e_created").map_err(backend)?,
        enabled: row.try_get::<i64, _>("e_enabled").map_err(backend)? != 0,
        cursor: row.try_get("e_cursor").map_err(backend)?,
    })
}

fn delivery_from_row(row: &SqliteRow) -> Result<Delivery, StoreError> {
    let status: String = row.try_get("d_status").map_err(backend)?;
    Ok(Delivery {
        id: row.try_get("d_id").map_err(backend)?,
        endpoint_id: row.try_get("d_endpoint_id").map_err(backend)?,
        tenant_id: TenantId(row.try_get("d_tenant_id").map_err(backend)?),
        event_id: row.try_get("d_event_id").map_err(backend)?,
        event_seq: row.try_get("d_event_seq").map_err(backend)?,
        event_type: row.try_get("d_event_type").map_err(backend)?,
        body: row.try_get("d_body").map_err(backend)?,
        status: DeliveryStatus::parse(&status)
            .ok_or_else(|| StoreError::Backend(format!("unknown delivery status {status}")))?,
        attempts: row.try_get("d_attempts").map_err(backend)?,
        created_us: row.try_get("d_created_us").map_err(backend)?,
        next_attempt_us: row.try_get("d_next_attempt_us").map_err(backend)?,
        last_status: row.try_get("d_last_status").map_err(backend)?,
        last_error: row.try_get("d_last_error").map_err(backend)?,
    })
}

fn attempt_from_row(row: &SqliteRow) -> Result<Attempt, StoreError> {
    Ok(Attempt {
        id: row.try_get("id").map_err(backend)?,
        delivery_id: row.try_get("delivery_id").map_err(backend)?,
        record: AttemptRecord {
            started_us: row.try_get("started_us").map_err(backend)?,
            status_code: row.try_get("status_code").map_err(backend)?,
            error: row.try_get("error").map_err(backend)?,
            duration_ms: row.try_get("duration_ms").map_err(backend)?,
        },
    })
}

fn is_foreign_key_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_foreign_key_violation())
}

/// Inserts deliveries for an endpoint inside a transaction.
async fn insert_deliveries(
    tx: &mut sqlx::SqliteConnection,
    endpoint_id: &str,
    tenant: i64,
    deliveries: &[NewDelivery],
) -> Result<u64, StoreError> {
    let now = now_micros();
    let mut n = 0;
    for d in deliveries {
        sqlx::query(
            "INSERT INTO webhook_deliveries (endpoint_id, tenant_id, event_id, event_seq, \
             event_type, body, status, attempts, created_us, next_attempt_us) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', 0, ?7, ?7)",
        )
        .bind(endpoint_id)
        .bind(tenant)
        .bind(&d.event_id)
        .bind(d.event_seq)
        .bind(&d.event_type)
        .bind(&d.body)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        n += 1;
    }
    Ok(n)
}

impl WebhookStore for SqliteStore {
    async fn create_endpoint(
        &self,
        tenant: TenantId,
        endpoint: NewEndpoint,
    ) -> Result<Endpoint, StoreError> {
        let events = serde_json::to_string(&endpoint.events)
            .map_err(|e| StoreError::Backend(format!("webhook event filter: {e}")))?;
        sqlx::query(
            "INSERT INTO webhook_endpoints (id, tenant_id, url, events, secret, format, created, \
             enabled, cursor) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?8)",
        )
        .bind(&endpoint.id)
        .bind(tenant.0)
        .bind(&endpoint.url)
        .bind(&events)
        .bind(&endpoint.secret)
        .bind(endpoint.format.as_str())
        .bind(format_rfc3339(now_micros()))
        .bind(endpoint.start_after_seq)
        .execute(&self.inner.write)
        .await
        .map_err(|e| {
            if is_foreign_key_violation(&e) {
                StoreError::TenantNotFound
            } else {
                backend(e)
            }
        })?;
        self.get_endpoint(tenant, &endpoint.id)
            .await?
            .ok_or_else(|| StoreError::Backend("the new webhook endpoint vanished".into()))
    }

    async fn list_endpoints(&self, tenant: TenantId) -> Result<Vec<Endpoint>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            endpoint_cols!(),
            " FROM webhook_endpoints e JOIN tenants t ON t.id = e.tenant_id \
             WHERE e.tenant_id = ?1 ORDER BY e.created, e.rowid"
        ))
        .bind(tenant.0)
        .fetch_all(&self.inner.read)
        .await
        .map_err(backend)?
        .iter()
        .map(endpoint_from_row)
        .collect()
    }

    async fn get_endpoint(
        &self,
        tenant: TenantId,
        id: &str,
    ) -> Result<Option<Endpoint>, StoreError> {
        // Read through the writer: callers read their own writes (create, then show).
        sqlx::query(concat!(
            "SELECT ",
            endpoint_cols!(),
            " FROM webhook_endpoints e JOIN tenants t ON t.id = e.tenant_id \
             WHERE e.tenant_id = ?1 AND e.id = ?2"
        ))
        .bind(tenant.0)
        .bind(id)
        .fetch_optional(&self.inner.write)
        .await
        .map_err(backend)?
        .as_ref()
        .map(endpoint_from_row)
        .transpose()
    }

    async fn delete_endpoint(&self, tenant: TenantId, id: &str) -> Result<(), StoreError> {
        // Deliveries and their attempts go with it (foreign keys cascade).
        let done = sqlx::query("DELETE FROM webhook_endpoints WHERE tenant_id = ?1 AND id = ?2")
            .bind(tenant.0)
            .bind(id)
            .execute(&self.inner.write)
            .await
            .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn enabled_endpoints(&self) -> Result<Vec<Endpoint>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            endpoint_cols!(),
            " FROM webhook_endpoints e JOIN tenants t ON t.id = e.tenant_id \
             WHERE e.enabled = 1 ORDER BY e.tenant_id, e.id"
        ))
        .fetch_all(&self.inner.read)
        .await
        .map_err(backend)?
        .iter()
        .map(endpoint_from_row)
        .collect()
    }

    async fn enqueue(
        &self,
        endpoint_id: &str,
        from_cursor: i64,
        to_cursor: i64,
        deliveries: Vec<NewDelivery>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let tenant: Option<i64> = sqlx::query_scalar(
            "UPDATE webhook_endpoints SET cursor = ?1 WHERE id = ?2 AND cursor = ?3 \
             RETURNING tenant_id",
        )
        .bind(to_cursor)
        .bind(endpoint_id)
        .bind(from_cursor)
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
        let Some(tenant) = tenant else {
            tx.rollback().await.map_err(backend)?;
            return Ok(false);
        };
        insert_deliveries(&mut tx, endpoint_id, tenant, &deliveries).await?;
        tx.commit().await.map_err(backend)?;
        Ok(true)
    }

    async fn enqueue_replay(
        &self,
        tenant: TenantId,
        endpoint_id: &str,
        deliveries: Vec<NewDelivery>,
    ) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        let exists: Option<i64> = sqlx::query_scalar(
            "SELECT tenant_id FROM webhook_endpoints WHERE id = ?1 AND tenant_id = ?2",
        )
        .bind(endpoint_id)
        .bind(tenant.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
        if exists.is_none() {
            tx.rollback().await.map_err(backend)?;
            return Err(StoreError::NotFound);
        }
        let n = insert_deliveries(&mut tx, endpoint_id, tenant.0, &deliveries).await?;
        tx.commit().await.map_err(backend)?;
        Ok(n)
    }

    async fn claim_due(
        &self,
        now_us: i64,
        lease_until_us: i64,
        owner: &str,
        limit: u32,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        // The dispatcher polls several times a second: look on a reader first so that an
        // idle queue never takes the single write lock.
        let any_due: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM webhook_deliveries WHERE status = 'pending' \
             AND next_attempt_us <= ?1 AND (lease_until_us IS NULL OR lease_until_us <= ?1) \
             LIMIT 1",
        )
        .bind(now_us)
        .fetch_optional(&self.inner.read)
        .await
        .map_err(backend)?;
        if any_due.is_none() {
            return Ok(Vec::new());
        }
        let mut tx = self.begin().await?;
        let rows = sqlx::query(concat!(
            "SELECT ",
            delivery_cols!(),
            ", e.url AS e_url, e.secret AS e_secret \
             FROM webhook_endpoints e \
             JOIN webhook_deliveries d ON d.id = (SELECT MIN(p.id) FROM webhook_deliveries p \
                 WHERE p.endpoint_id = e.id AND p.status = 'pending') \
             WHERE e.enabled = 1 AND d.next_attempt_us <= ?1 \
               AND (d.lease_until_us IS NULL OR d.lease_until_us <= ?1) \
             ORDER BY d.next_attempt_us, d.id LIMIT ?2"
        ))
        .bind(now_us)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let delivery = delivery_from_row(row)?;
            sqlx::query(
                "UPDATE webhook_deliveries SET lease_owner = ?1, lease_until_us = ?2 WHERE id = ?3",
            )
            .bind(owner)
            .bind(lease_until_us)
            .bind(delivery.id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
            out.push(ClaimedDelivery {
                delivery,
                url: row.try_get("e_url").map_err(backend)?,
                secret: row.try_get("e_secret").map_err(backend)?,
            });
        }
        tx.commit().await.map_err(backend)?;
        Ok(out)
    }

    async fn finish_attempt(
        &self,
        delivery_id: i64,
        owner: &str,
        attempt: AttemptRecord,
        outcome: AttemptOutcome,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        // Logged even when the lease was lost; nothing to log against a removed endpoint.
        sqlx::query(
            "INSERT INTO webhook_attempts (delivery_id, started_us, status_code, error, \
             duration_ms) SELECT ?1, ?2, ?3, ?4, ?5 \
             WHERE EXISTS (SELECT 1 FROM webhook_deliveries WHERE id = ?1)",
        )
        .bind(delivery_id)
        .bind(attempt.started_us)
        .bind(attempt.status_code)
        .bind(&attempt.error)
        .bind(attempt.duration_ms)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        let (status, next) = match outcome {
            AttemptOutcome::Delivered => (DeliveryStatus::Delivered, None),
            AttemptOutcome::RetryAt(t) => (DeliveryStatus::Pending, Some(t)),
            AttemptOutcome::Dead => (DeliveryStatus::Dead, None),
        };
        let done = sqlx::query(
            "UPDATE webhook_deliveries SET status = ?1, attempts = attempts + 1, \
             next_attempt_us = COALESCE(?2, next_attempt_us), last_status = ?3, last_error = ?4, \
             lease_owner = NULL, lease_until_us = NULL \
             WHERE id = ?5 AND status = 'pending' AND lease_owner = ?6",
        )
        .bind(status.as_str())
        .bind(next)
        .bind(attempt.status_code)
        .bind(&attempt.error)
        .bind(delivery_id)
        .bind(owner)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn list_deliveries(
        &self,
        tenant: TenantId,
        endpoint_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Delivery>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            delivery_cols!(),
            " FROM webhook_deliveries d WHERE d.tenant_id = ?1 \
             AND (?2 IS NULL OR d.endpoint_id = ?2) ORDER BY d.id DESC LIMIT ?3"
        ))
        .bind(tenant.0)
        .bind(endpoint_id)
        .bind(i64::from(limit))
        .fetch_all(&self.inner.write)
        .await
        .map_err(backend)?
        .iter()
        .map(delivery_from_row)
        .collect()
    }

    async fn list_attempts(
        &self,
        tenant: TenantId,
        delivery_id: i64,
    ) -> Result<Vec<Attempt>, StoreError> {
        sqlx::query(
            "SELECT a.id, a.delivery_id, a.started_us, a.status_code, a.error, a.duration_ms \
             FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id \
             WHERE a.delivery_id = ?1 AND d.tenant_id = ?2 ORDER BY a.id",
        )
        .bind(delivery_id)
        .bind(tenant.0)
        .fetch_all(&self.inner.write)
        .await
        .map_err(backend)?
        .iter()
        .map(attempt_from_row)
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use scimd_core::schema::Registry;
    use scimd_store::webhooks::testsuite;

    use crate::SqliteStore;

    async fn open() -> (SqliteStore, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let store = SqliteStore::open(
            &dir.path().join("wh.db").display().to_string(),
            Arc::new(Registry::builtin()),
        )
        .await
        .unwrap_or_else(|e| panic!("open: {e}"));
        (store, dir)
    }

    #[tokio::test]
    async fn webhook_endpoints_crud() {
        let (s, _dir) = open().await;
        testsuite::endpoints_crud(&s).await;
    }

    #[tokio::test]
    async fn webhook_queue_order_leases_and_outcomes() {
        let (s, _dir) = open().await;
        testsuite::queue_order_leases_and_outcomes(&s).await;
    }
}
