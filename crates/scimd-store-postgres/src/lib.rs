//! scimd-store-postgres: the PostgreSQL backend of scimd, for one or many stateless scimd
//! nodes on one database.
//!
//! [`PostgresStore`] implements [`scimd_store::Store`] with exactly the semantics of the
//! SQLite backend (the shared `scimd_store::testsuite` checks both):
//! - a connection pool; every write is one transaction (READ COMMITTED) that locks the
//!   rows it changes, so concurrent writers on any number of nodes are correct (see
//!   module notes of `resources.rs`); listings read one REPEATABLE READ
//!   snapshot so the total and the page agree;
//! - the schema of docs/ARCHITECTURE.md "Storage", applied by versioned migrations at
//!   connect or explicitly with [`PostgresStore::migrate`] ([`schema`]);
//! - filters and sorts translated by [`scimd_store::sql`] (the `Postgres` dialect) into
//!   conditions on the attribute index; cursor pages are keyset queries;
//! - nothing cached in the process: every read goes to the database, so a write or a
//!   credential revocation on one node is seen by every node at its next request;
//! - tenant export and import as JSON lines ([`scimd_store::Transfer`]).
//!
//! No TLS: scimd reaches PostgreSQL over loopback or a private network (TLS to the
//! database would be a sqlx `tls-rustls-ring-webpki` feature away).
//!
//! SQL text is built from constants and placeholders only; every value is bound.

mod outbox;
mod resources;
pub mod schema;
mod tenants;
#[cfg(any(test, feature = "test-cluster"))]
pub mod test_cluster;
mod transfer;
mod webhooks;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use scimd_core::schema::{Registry, ResourceKind};
use scimd_store::sql::SqlValue;
use scimd_store::{
    AdminStore, AdminToken, AuditEntry, AuditQuery, AuditStore, Change, ChangeStore, Credential,
    CredentialKind, Event, EventStore, Load, NewResource, Query, QueryResult, Replacement, Store,
    StoreError, StoredResource, Tenant, TenantId, Update,
};
use serde_json::Value;
use sqlx::postgres::{PgArguments, PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Connection, Transaction};

/// Default maximum connections per node (see docs/DEPLOYMENT.md on pool sizing).
pub const DEFAULT_MAX_CONNECTIONS: u32 = 10;

/// Default `statement_timeout` (and `idle_in_transaction_session_timeout`) of pooled
/// connections: two thirds of the server's default request timeout (30 s), so that a
/// statement outliving its request is cancelled by PostgreSQL and its connection returns to
/// the pool instead of staying busy after the request has been answered.
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(20);

/// How long a request waits for a free pooled connection before failing.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// The tables whose planner statistics the request path depends on: without them PostgreSQL
/// assumes every `tenant_id = … AND kind = …` matches one row and plans filtered listings as
/// nested loops that rescan the attribute index once per resource.
const PLANNED_TABLES: &[&str] = &[
    "resources",
    "attr_index",
    "members",
    "resource_counts",
    "seq_buckets",
];

/// How the connection pool of a [`PostgresStore`] is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSettings {
    /// Most connections the pool opens (at least 1).
    pub max_connections: u32,
    /// `statement_timeout` of every pooled connection: PostgreSQL cancels a statement that
    /// runs longer (SQLSTATE 57014, reported as [`StoreError::Timeout`]) and the connection
    /// is free again. `None` lets statements run forever.
    /// Keep it below the server's request timeout: dropping a request's future does not
    /// stop its statement on the server.
    pub statement_timeout: Option<Duration>,
    /// `idle_in_transaction_session_timeout`: PostgreSQL ends a session whose transaction
    /// sits idle longer (for example one abandoned by a cancelled request while holding row
    /// locks); the pool replaces the connection. `None` disables it.
    pub idle_in_transaction_timeout: Option<Duration>,
}

impl Default for PoolSettings {
    /// [`DEFAULT_MAX_CONNECTIONS`] and both timeouts at [`DEFAULT_STATEMENT_TIMEOUT`].
    fn default() -> Self {
        Self {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            statement_timeout: Some(DEFAULT_STATEMENT_TIMEOUT),
            idle_in_transaction_timeout: Some(DEFAULT_STATEMENT_TIMEOUT),
        }
    }
}

impl PoolSettings {
    /// The defaults with both timeouts at two thirds of `request_timeout` (at least one
    /// second), for a server whose requests give up after `request_timeout`.
    pub fn for_request_timeout(request_timeout: Duration) -> Self {
        let timeout = (request_timeout * 2 / 3).max(Duration::from_secs(1));
        Self {
            statement_timeout: Some(timeout),
            idle_in_transaction_timeout: Some(timeout),
            ..Self::default()
        }
    }
}

/// A timeout as a PostgreSQL setting in milliseconds; `0` (PostgreSQL's "disabled") for
/// `None`, and at least 1 ms otherwise so that a tiny timeout does not disable it.
fn timeout_setting(timeout: Option<Duration>) -> String {
    match timeout {
        None => "0".to_owned(),
        Some(d) => d.as_millis().clamp(1, i32::MAX as u128).to_string(),
    }
}

/// Lifts the pool's request-sized timeouts for the rest of the transaction on `conn`: for
/// operator work (export, import, `ANALYZE`), not requests.
pub(crate) async fn without_timeouts(conn: &mut sqlx::PgConnection) -> Result<(), StoreError> {
    sqlx::raw_sql(
        "SET LOCAL statement_timeout = 0; SET LOCAL idle_in_transaction_session_timeout = 0",
    )
    .execute(&mut *conn)
    .await
    .map(|_| ())
    .map_err(backend)
}

/// The PostgreSQL backend. Cheap to clone (a shared pool).
#[derive(Debug, Clone)]
pub struct PostgresStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    pool: PgPool,
    registry: Arc<Registry>,
}

/// Whether `url` names a PostgreSQL database (`postgres://` or `postgresql://`), for
/// choosing the backend from `--database` / `SCIMD_DATABASE_URL`.
pub fn is_postgres_url(url: &str) -> bool {
    let lower = url.get(..13).unwrap_or(url).to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user:password@host:port/database`) with the default
    /// [`PoolSettings`] and applies pending migrations. `registry` is the schema catalogue
    /// resources are indexed with.
    pub async fn connect(url: &str, registry: Arc<Registry>) -> Result<Self, StoreError> {
        Self::connect_with_settings(url, registry, PoolSettings::default()).await
    }

    /// [`PostgresStore::connect`] with a pool of at most `max_connections`.
    pub async fn connect_with(
        url: &str,
        registry: Arc<Registry>,
        max_connections: u32,
    ) -> Result<Self, StoreError> {
        let settings = PoolSettings {
            max_connections,
            ..PoolSettings::default()
        };
        Self::connect_with_settings(url, registry, settings).await
    }

    /// [`PostgresStore::connect`] with explicit pool settings. After migrating, tables that
    /// hold rows but have no planner statistics (a database bulk-loaded and not analyzed
    /// yet) are analyzed before the store is returned; see [`PostgresStore::analyze`].
    pub async fn connect_with_settings(
        url: &str,
        registry: Arc<Registry>,
        settings: PoolSettings,
    ) -> Result<Self, StoreError> {
        Self::migrate(url).await?;
        let options = PgConnectOptions::from_str(url).map_err(backend)?.options([
            (
                "statement_timeout",
                timeout_setting(settings.statement_timeout),
            ),
            (
                "idle_in_transaction_session_timeout",
                timeout_setting(settings.idle_in_transaction_timeout),
            ),
        ]);
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections.max(1))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(backend)?;
        let store = Self {
            inner: Arc::new(Inner { pool, registry }),
        };
        store.analyze_if_unanalyzed().await?;
        Ok(store)
    }

    /// Runs `ANALYZE` on the resource, attribute index, membership and count tables, so the
    /// planner knows their sizes and value distributions. PostgreSQL's autovacuum does this
    /// on its own after enough changes, but not at once after a bulk load; until then every
    /// filtered listing can take time quadratic in the tenant's size. Not bound by the
    /// pool's `statement_timeout` (it samples at most a few tens of thousands of rows per
    /// table).
    pub async fn analyze(&self) -> Result<(), StoreError> {
        self.analyze_tables(PLANNED_TABLES).await
    }

    async fn analyze_tables(&self, tables: &[&str]) -> Result<(), StoreError> {
        if tables.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin().await?;
        without_timeouts(&mut tx).await?;
        // Table names come from `PLANNED_TABLES` only.
        let sql = format!("ANALYZE {}", tables.join(", "));
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }

    /// Analyzes the tables of [`PLANNED_TABLES`] that hold rows but have no statistics
    /// (never analyzed): what a database loaded outside scimd, or by `scimd import` before
    /// it analyzed, looks like. Cheap when statistics exist (a catalogue lookup per table).
    async fn analyze_if_unanalyzed(&self) -> Result<(), StoreError> {
        let mut missing = Vec::new();
        for table in PLANNED_TABLES {
            let sql = format!(
                "SELECT EXISTS (SELECT 1 FROM {table}) \
                 AND NOT EXISTS (SELECT 1 FROM pg_stats \
                 WHERE schemaname = current_schema() AND tablename = $1) AS unanalyzed"
            );
            let unanalyzed: bool = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .bind(*table)
                .fetch_one(&self.inner.pool)
                .await
                .map_err(backend)?;
            if unanalyzed {
                missing.push(*table);
            }
        }
        self.analyze_tables(&missing).await
    }

    /// Applies pending migrations to the database at `url` on one connection and returns
    /// the schema version (`scimd migrate`). Safe to run from several nodes at once.
    pub async fn migrate(url: &str) -> Result<i64, StoreError> {
        let options = PgConnectOptions::from_str(url).map_err(backend)?;
        let mut conn = sqlx::PgConnection::connect_with(&options)
            .await
            .map_err(backend)?;
        let version = schema::migrate(&mut conn).await;
        // Closing politely is best effort; the migration outcome is what matters.
        let _ = conn.close().await;
        version
    }

    /// The schema catalogue resources are indexed with.
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// Closes the pool, waiting for connections to be returned.
    pub async fn close(&self) {
        self.inner.pool.close().await;
    }

    /// The plan PostgreSQL chooses for a listing (`EXPLAIN`), one line per plan line: for
    /// operators checking that filters run on indexes. `settings` are applied with
    /// `SET LOCAL` first (for example `enable_seqscan = off`).
    pub async fn explain_query(
        &self,
        tenant: TenantId,
        kind: ResourceKind,
        query: &Query,
        settings: &[&'static str],
    ) -> Result<Vec<String>, StoreError> {
        resources::explain(self, tenant, kind, query, settings).await
    }

    async fn begin(&self) -> Result<Transaction<'static, sqlx::Postgres>, StoreError> {
        self.inner.pool.begin().await.map_err(backend)
    }
}

/// A database failure, for the log; except text PostgreSQL cannot store at all (U+0000,
/// SQLSTATE 22021), which is the client's error, not the server's. A statement cancelled
/// by the pool's `statement_timeout` (57014) and a session ended by
/// `idle_in_transaction_session_timeout` (25P03) say so, since both usually mean a runaway
/// query plan (missing statistics: see [`PostgresStore::analyze`]) rather than a broken
/// database.
pub(crate) fn backend(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e {
        match db.code().as_deref() {
            Some("22021") => {
                return StoreError::Scim(scimd_core::Error::invalid_value(
                    "text values must not contain the NUL character (U+0000)",
                ));
            }
            Some(code @ "57014") => {
                return StoreError::Timeout(format!(
                    "statement timeout: PostgreSQL cancelled a statement that ran longer than \
                     the pool's statement_timeout (SQLSTATE {code}: {}); if this repeats, check \
                     that the tables have planner statistics (ANALYZE)",
                    db.message()
                ));
            }
            Some(code @ "25P03") => {
                return StoreError::Backend(format!(
                    "idle-in-transaction timeout: PostgreSQL ended a session whose transaction \
                     was idle too long (SQLSTATE {code}: {})",
                    db.message()
                ));
            }
            _ => {}
        }
    }
    StoreError::Backend(e.to_string())
}

/// Binds `binds` in order to a query built with numbered placeholders.
pub(crate) fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Postgres, PgArguments>,
    binds: &[SqlValue],
) -> sqlx::query::Query<'q, sqlx::Postgres, PgArguments> {
    for v in binds {
        q = match v {
            SqlValue::Text(s) => q.bind(s.clone()),
            SqlValue::Num(n) => q.bind(*n),
            SqlValue::Int(i) => q.bind(*i),
        };
    }
    q
}

/// The current time in microseconds since the epoch, truncated to milliseconds so that the
/// stored instant equals the one printed in `meta` (RFC 3339 with milliseconds). Taken from
/// the node's clock, like SQLite's: nodes are expected to run NTP.
pub(crate) fn now_micros() -> i64 {
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    micros - micros.rem_euclid(1000)
}

impl Store for PostgresStore {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.inner.pool)
            .await
            .map(|_| ())
            .map_err(backend)
    }

    async fn create_tenant(&self, name: &str, settings: Value) -> Result<Tenant, StoreError> {
        tenants::create_tenant(self, name, settings).await
    }

    async fn tenant_by_name(&self, name: &str) -> Result<Option<Tenant>, StoreError> {
        tenants::tenant_by_name(self, name).await
    }

    async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        tenants::list_tenants(self).await
    }

    async fn delete_tenant(&self, tenant: TenantId) -> Result<(), StoreError> {
        tenants::delete_tenant(self, tenant).await
    }

    async fn update_tenant_settings(
        &self,
        tenant: TenantId,
        settings: Value,
    ) -> Result<Tenant, StoreError> {
        tenants::update_tenant_settings(self, tenant, settings).await
    }

    async fn create_credential(
        &self,
        tenant: TenantId,
        kind: CredentialKind,
        label: &str,
        client_id: Option<&str>,
        secret_hash: &str,
    ) -> Result<Credential, StoreError> {
        tenants::create_credential(self, tenant, kind, label, client_id, secret_hash).await
    }

    async fn bearer_by_hash(
        &self,
        sha256_hex: &str,
    ) -> Result<Option<(Credential, Tenant)>, StoreError> {
        tenants::credential_lookup(self, CredentialKind::Bearer, sha256_hex).await
    }

    async fn basic_by_client_id(
        &self,
        client_id: &str,
    ) -> Result<Option<(Credential, Tenant)>, StoreError> {
        tenants::credential_lookup(self, CredentialKind::Basic, client_id).await
    }

    async fn list_credentials(&self, tenant: TenantId) -> Result<Vec<Credential>, StoreError> {
        tenants::list_credentials(self, tenant).await
    }

    async fn revoke_credential(&self, tenant: TenantId, id: i64) -> Result<(), StoreError> {
        tenants::revoke_credential(self, tenant, id).await
    }

    async fn create(
        &self,
        tenant: TenantId,
        resource: NewResource,
    ) -> Result<StoredResource, StoreError> {
        resources::create(self, tenant, resource, None).await
    }

    async fn get(
        &self,
        tenant: TenantId,
        kind: ResourceKind,
        id: &str,
        load: Load,
    ) -> Result<Option<StoredResource>, StoreError> {
        resources::get(self, tenant, kind, id, load).await
    }

    async fn replace(
        &self,
        tenant: TenantId,
        kind: ResourceKind,
        id: &str,
        expected_version: Option<i64>,
        replacement: Replacement,
        load: Load,
    ) -> Result<StoredResource, StoreError> {
        resources::replace(
            self,
            tenant,
            kind,
            id,
            expected_version,
            replacement,
            load,
            None,
        )
        .await
    }

    async fn update(
        &self,
        tenant: TenantId,
        kind: ResourceKind,
        id: &str,
        expected_version: i64,
        update: Update,
        load: Load,
    ) -> Result<StoredResource, StoreError> {
        resources::update(self, tenant, kind, id, expected_version, update, load, None).await
    }

    async fn delete(
        &self,
        tenant: TenantId,
        kind: ResourceKind,
        id: &str,
        expected_version: Option<i64>,
    ) -> Result<(), StoreError> {
        resources::delete(self, tenant, kind, id, expected_version, None).await
    }

    async fn query(
        &self,
        tenant: TenantId,
        kind: ResourceKind,
        query: &Query,
    ) -> Result<QueryResult, StoreError> {
        resources::query(self, tenant, kind, query).await
    }
}

impl ChangeStore for PostgresStore {
    async fn create_with(
        &self,
        tenant: TenantId,
        resource: NewResource,
        change: &Change,
    ) -> Result<StoredResource, StoreError> {
        resources::create(self, tenant, resource, Some(change)).await
    }

    async fn replace_with(
        &self,
        tenant: TenantId,
        kind: ResourceKind,
        id: &str,
        expected_version: Option<i64>,
        replacement: Replacement,
        load: Load,
        change: &Change,
    ) -> Result<StoredResource, StoreError> {
        resources::replace(
            self,
            tenant,
            kind,
            id,
            expected_version,
            replacement,
            load,
            Some(change),
        )
        .await
    }

    async fn update_with(
        &self,
        tenant: TenantId,
        kind: ResourceKind,
        id: &str,
        expected_version: i64,
        update: Update,
        load: Load,
        change: &Change,
    ) -> Result<StoredResource, StoreError> {
        resources::update(
            self,
            tenant,
            kind,
            id,
            expected_version,
            update,
            load,
            Some(change),
        )
        .await
    }

    async fn delete_with(
        &self,
        tenant: TenantId,
        kind: ResourceKind,
        id: &str,
        expected_version: Option<i64>,
        change: &Change,
    ) -> Result<(), StoreError> {
        resources::delete(self, tenant, kind, id, expected_version, Some(change)).await
    }
}

impl EventStore for PostgresStore {
    async fn events_after(
        &self,
        tenant: TenantId,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<Event>, StoreError> {
        outbox::events_after(self, tenant, after_seq, limit).await
    }

    async fn event_heads(&self) -> Result<Vec<(TenantId, i64)>, StoreError> {
        outbox::event_heads(self).await
    }

    async fn prune_events(&self, before: &str) -> Result<u64, StoreError> {
        outbox::prune_events(self, before).await
    }
}

impl AuditStore for PostgresStore {
    async fn record_audit(&self, entries: Vec<AuditEntry>) -> Result<(), StoreError> {
        outbox::record_audit(self, entries).await
    }

    async fn query_audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        outbox::query_audit(self, query).await
    }

    async fn prune_audit(&self, before: &str) -> Result<u64, StoreError> {
        outbox::prune_audit(self, before).await
    }
}

impl AdminStore for PostgresStore {
    async fn create_admin_token(
        &self,
        label: &str,
        token_hash: &str,
    ) -> Result<AdminToken, StoreError> {
        outbox::create_admin_token(self, label, token_hash).await
    }

    async fn admin_token_by_hash(
        &self,
        token_hash: &str,
    ) -> Result<Option<AdminToken>, StoreError> {
        outbox::admin_token_by_hash(self, token_hash).await
    }

    async fn list_admin_tokens(&self) -> Result<Vec<AdminToken>, StoreError> {
        outbox::list_admin_tokens(self).await
    }

    async fn revoke_admin_token(&self, id: i64) -> Result<(), StoreError> {
        outbox::revoke_admin_token(self, id).await
    }
}

#[cfg(test)]
mod tests;
