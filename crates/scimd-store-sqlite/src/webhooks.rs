//! Webhook endpoints, the delivery queue and the attempt log in SQLite
//! ([`scimd_store::WebhookStore`]).
//!
//! SQLite has one writer: every claim runs in one `BEGIN IMMEDIATE` transaction, so two
//! dispatchers (even in two processes on one file) never claim the same delivery. scimd
//! runs one dispatcher per process; leases still protect a delivery whose sender died.
//! A delivery's "head of its endpoint" test is a `MIN(id)` over the partial index of
//! pending deliveries, so claiming costs one index probe per endpoint.

use rusqlite::{Connection, Row};
use scimd_core::datetime::format_rfc3339;
use scimd_store::webhooks::{
    Attempt, AttemptOutcome, AttemptRecord, ClaimedDelivery, Delivery, DeliveryStatus, Endpoint,
    NewDelivery, NewEndpoint, WebhookFormat, WebhookStore,
};
use scimd_store::{StoreError, TenantId};

use crate::db::{execute, is_foreign_key_violation, query_all, query_opt};
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

fn endpoint_from_row(row: &Row<'_>) -> rusqlite::Result<(Endpoint, String, String)> {
    let endpoint = Endpoint {
        id: row.get("e_id")?,
        tenant_id: TenantId(row.get("e_tenant_id")?),
        tenant_name: row.get("e_tenant_name")?,
        url: row.get("e_url")?,
        events: Vec::new(),
        secret: row.get("e_secret")?,
        format: WebhookFormat::Json,
        created: row.get("e_created")?,
        enabled: row.get::<_, i64>("e_enabled")? != 0,
        cursor: row.get("e_cursor")?,
    };
    Ok((endpoint, row.get("e_events")?, row.get("e_format")?))
}

/// Decodes the JSON and enum columns of an endpoint row.
fn decode_endpoint(
    (endpoint, events, format): (Endpoint, String, String),
) -> Result<Endpoint, StoreError> {
    Ok(Endpoint {
        events: serde_json::from_str(&events)
            .map_err(|e| StoreError::Backend(format!("webhook event filter: {e}")))?,
        format: WebhookFormat::parse(&format)
            .ok_or_else(|| StoreError::Backend(format!("unknown webhook format {format}")))?,
        ..endpoint
    })
}

fn delivery_from_row(row: &Row<'_>) -> rusqlite::Result<(Delivery, String)> {
    let delivery = Delivery {
        id: row.get("d_id")?,
        endpoint_id: row.get("d_endpoint_id")?,
        tenant_id: TenantId(row.get("d_tenant_id")?),
        event_id: row.get("d_event_id")?,
        event_seq: row.get("d_event_seq")?,
        event_type: row.get("d_event_type")?,
        body: row.get("d_body")?,
        status: DeliveryStatus::Pending,
        attempts: row.get("d_attempts")?,
        created_us: row.get("d_created_us")?,
        next_attempt_us: row.get("d_next_attempt_us")?,
        last_status: row.get("d_last_status")?,
        last_error: row.get("d_last_error")?,
    };
    Ok((delivery, row.get("d_status")?))
}

fn decode_delivery((delivery, status): (Delivery, String)) -> Result<Delivery, StoreError> {
    Ok(Delivery {
        status: DeliveryStatus::parse(&status)
            .ok_or_else(|| StoreError::Backend(format!("unknown delivery status {status}")))?,
        ..delivery
    })
}

fn attempt_from_row(row: &Row<'_>) -> rusqlite::Result<Attempt> {
    Ok(Attempt {
        id: row.get("id")?,
        delivery_id: row.get("delivery_id")?,
        record: AttemptRecord {
            started_us: row.get("started_us")?,
            status_code: row.get("status_code")?,
            error: row.get("error")?,
            duration_ms: row.get("duration_ms")?,
        },
    })
}

/// Inserts deliveries for an endpoint inside a transaction.
fn insert_deliveries(
    conn: &Connection,
    endpoint_id: &str,
    tenant: i64,
    deliveries: &[NewDelivery],
) -> Result<u64, StoreError> {
    let now = now_micros();
    let mut st = conn
        .prepare_cached(
            "INSERT INTO webhook_deliveries (endpoint_id, tenant_id, event_id, event_seq, \
             event_type, body, status, attempts, created_us, next_attempt_us) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', 0, ?7, ?7)",
        )
        .map_err(backend)?;
    let mut n = 0;
    for d in deliveries {
        st.execute((
            endpoint_id,
            tenant,
            &d.event_id,
            d.event_seq,
            &d.event_type,
            &d.body,
            now,
        ))
        .map_err(backend)?;
        n += 1;
    }
    Ok(n)
}

const ENDPOINTS: &str = concat!(
    "SELECT ",
    endpoint_cols!(),
    " FROM webhook_endpoints e JOIN tenants t ON t.id = e.tenant_id "
);

impl WebhookStore for SqliteStore {
    async fn create_endpoint(
        &self,
        tenant: TenantId,
        endpoint: NewEndpoint,
    ) -> Result<Endpoint, StoreError> {
        let events = serde_json::to_string(&endpoint.events)
            .map_err(|e| StoreError::Backend(format!("webhook event filter: {e}")))?;
        let created = format_rfc3339(now_micros());
        self.write(move |conn| {
            conn.prepare_cached(
                "INSERT INTO webhook_endpoints (id, tenant_id, url, events, secret, format, created, \
                 enabled, cursor) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?8)",
            )
            .and_then(|mut st| {
                st.execute((
                    &endpoint.id,
                    tenant.0,
                    &endpoint.url,
                    &events,
                    &endpoint.secret,
                    endpoint.format.as_str(),
                    &created,
                    endpoint.start_after_seq,
                ))
            })
            .map_err(|e| {
                if is_foreign_key_violation(&e) {
                    StoreError::TenantNotFound
                } else {
                    backend(e)
                }
            })?;
            let row = query_opt(
                conn,
                &format!("{ENDPOINTS} WHERE e.tenant_id = ?1 AND e.id = ?2"),
                (tenant.0, &endpoint.id),
                endpoint_from_row,
            )?
            .ok_or_else(|| StoreError::Backend("the new webhook endpoint vanished".into()))?;
            decode_endpoint(row)
        })
        .await
    }

    async fn list_endpoints(&self, tenant: TenantId) -> Result<Vec<Endpoint>, StoreError> {
        self.read(move |conn| {
            query_all(
                conn,
                &format!("{ENDPOINTS} WHERE e.tenant_id = ?1 ORDER BY e.created, e.rowid"),
                [tenant.0],
                endpoint_from_row,
            )?
            .into_iter()
            .map(decode_endpoint)
            .collect()
        })
        .await
    }

    async fn get_endpoint(
        &self,
        tenant: TenantId,
        id: &str,
    ) -> Result<Option<Endpoint>, StoreError> {
        let id = id.to_owned();
        self.read(move |conn| {
            query_opt(
                conn,
                &format!("{ENDPOINTS} WHERE e.tenant_id = ?1 AND e.id = ?2"),
                (tenant.0, &id),
                endpoint_from_row,
            )?
            .map(decode_endpoint)
            .transpose()
        })
        .await
    }

    async fn delete_endpoint(&self, tenant: TenantId, id: &str) -> Result<(), StoreError> {
        // Deliveries and their attempts go with it (foreign keys cascade).
        let id = id.to_owned();
        self.write(move |conn| {
            let n = execute(
                conn,
                "DELETE FROM webhook_endpoints WHERE tenant_id = ?1 AND id = ?2",
                (tenant.0, &id),
            )?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
        .await
    }

    async fn enabled_endpoints(&self) -> Result<Vec<Endpoint>, StoreError> {
        self.read(|conn| {
            query_all(
                conn,
                &format!("{ENDPOINTS} WHERE e.enabled = 1 ORDER BY e.tenant_id, e.id"),
                [],
                endpoint_from_row,
            )?
            .into_iter()
            .map(decode_endpoint)
            .collect()
        })
        .await
    }

    async fn enqueue(
        &self,
        endpoint_id: &str,
        from_cursor: i64,
        to_cursor: i64,
        deliveries: Vec<NewDelivery>,
    ) -> Result<bool, StoreError> {
        let endpoint_id = endpoint_id.to_owned();
        self.write(move |conn| {
            let tenant: Option<i64> = query_opt(
                conn,
                "UPDATE webhook_endpoints SET cursor = ?1 WHERE id = ?2 AND cursor = ?3 \
                 RETURNING tenant_id",
                (to_cursor, &endpoint_id, from_cursor),
                |row| row.get(0),
            )?;
            let Some(tenant) = tenant else {
                return Ok(false);
            };
            insert_deliveries(conn, &endpoint_id, tenant, &deliveries)?;
            Ok(true)
        })
        .await
    }

    async fn enqueue_replay(
        &self,
        tenant: TenantId,
        endpoint_id: &str,
        deliveries: Vec<NewDelivery>,
    ) -> Result<u64, StoreError> {
        let endpoint_id = endpoint_id.to_owned();
        self.write(move |conn| {
            let exists: Option<i64> = query_opt(
                conn,
                "SELECT tenant_id FROM webhook_endpoints WHERE id = ?1 AND tenant_id = ?2",
                (&endpoint_id, tenant.0),
                |row| row.get(0),
            )?;
            if exists.is_none() {
                return Err(StoreError::NotFound);
            }
            insert_deliveries(conn, &endpoint_id, tenant.0, &deliveries)
        })
        .await
    }

    async fn claim_due(
        &self,
        now_us: i64,
        lease_until_us: i64,
        owner: &str,
        limit: u32,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        // The dispatcher polls several times a second: look on a reader first so that an
        // idle queue never takes the write lock.
        let any_due = self
            .read(move |conn| {
                query_opt(
                    conn,
                    "SELECT 1 FROM webhook_deliveries WHERE status = 'pending' \
                     AND next_attempt_us <= ?1 AND (lease_until_us IS NULL OR lease_until_us <= ?1) \
                     LIMIT 1",
                    [now_us],
                    |row| row.get::<_, i64>(0),
                )
            })
            .await?;
        if any_due.is_none() {
            return Ok(Vec::new());
        }
        let owner = owner.to_owned();
        self.write(move |conn| {
            let rows = query_all(
                conn,
                concat!(
                    "SELECT ",
                    delivery_cols!(),
                    ", e.url AS e_url, e.secret AS e_secret \
                     FROM webhook_endpoints e \
                     JOIN webhook_deliveries d ON d.id = (SELECT MIN(p.id) FROM webhook_deliveries p \
                         WHERE p.endpoint_id = e.id AND p.status = 'pending') \
                     WHERE e.enabled = 1 AND d.next_attempt_us <= ?1 \
                       AND (d.lease_until_us IS NULL OR d.lease_until_us <= ?1) \
                     ORDER BY d.next_attempt_us, d.id LIMIT ?2"
                ),
                (now_us, i64::from(limit)),
                |row| {
                    Ok((
                        delivery_from_row(row)?,
                        row.get::<_, String>("e_url")?,
                        row.get::<_, String>("e_secret")?,
                    ))
                },
            )?;
            let mut out = Vec::with_capacity(rows.len());
            for (delivery, url, secret) in rows {
                let delivery = decode_delivery(delivery)?;
                execute(
                    conn,
                    "UPDATE webhook_deliveries SET lease_owner = ?1, lease_until_us = ?2 \
                     WHERE id = ?3",
                    (&owner, lease_until_us, delivery.id),
                )?;
                out.push(ClaimedDelivery {
                    delivery,
                    url,
                    secret,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn finish_attempt(
        &self,
        delivery_id: i64,
        owner: &str,
        attempt: AttemptRecord,
        outcome: AttemptOutcome,
    ) -> Result<bool, StoreError> {
        let owner = owner.to_owned();
        self.write(move |conn| {
            // Logged even when the lease was lost; nothing to log against a removed endpoint.
            execute(
                conn,
                "INSERT INTO webhook_attempts (delivery_id, started_us, status_code, error, \
                 duration_ms) SELECT ?1, ?2, ?3, ?4, ?5 \
                 WHERE EXISTS (SELECT 1 FROM webhook_deliveries WHERE id = ?1)",
                (
                    delivery_id,
                    attempt.started_us,
                    attempt.status_code,
                    &attempt.error,
                    attempt.duration_ms,
                ),
            )?;
            let (status, next) = match outcome {
                AttemptOutcome::Delivered => (DeliveryStatus::Delivered, None),
                AttemptOutcome::RetryAt(t) => (DeliveryStatus::Pending, Some(t)),
                AttemptOutcome::Dead => (DeliveryStatus::Dead, None),
            };
            let n = execute(
                conn,
                "UPDATE webhook_deliveries SET status = ?1, attempts = attempts + 1, \
                 next_attempt_us = COALESCE(?2, next_attempt_us), last_status = ?3, \
                 last_error = ?4, lease_owner = NULL, lease_until_us = NULL \
                 WHERE id = ?5 AND status = 'pending' AND lease_owner = ?6",
                (
                    status.as_str(),
                    next,
                    attempt.status_code,
                    &attempt.error,
                    delivery_id,
                    &owner,
                ),
            )?;
            Ok(n == 1)
        })
        .await
    }

    async fn list_deliveries(
        &self,
        tenant: TenantId,
        endpoint_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Delivery>, StoreError> {
        let endpoint_id = endpoint_id.map(str::to_owned);
        self.read(move |conn| {
            query_all(
                conn,
                concat!(
                    "SELECT ",
                    delivery_cols!(),
                    " FROM webhook_deliveries d WHERE d.tenant_id = ?1 \
                     AND (?2 IS NULL OR d.endpoint_id = ?2) ORDER BY d.id DESC LIMIT ?3"
                ),
                (tenant.0, &endpoint_id, i64::from(limit)),
                delivery_from_row,
            )?
            .into_iter()
            .map(decode_delivery)
            .collect()
        })
        .await
    }

    async fn list_attempts(
        &self,
        tenant: TenantId,
        delivery_id: i64,
    ) -> Result<Vec<Attempt>, StoreError> {
        self.read(move |conn| {
            query_all(
                conn,
                "SELECT a.id, a.delivery_id, a.started_us, a.status_code, a.error, a.duration_ms \
                 FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id \
                 WHERE a.delivery_id = ?1 AND d.tenant_id = ?2 ORDER BY a.id",
                (delivery_id, tenant.0),
                attempt_from_row,
            )
        })
        .await
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
