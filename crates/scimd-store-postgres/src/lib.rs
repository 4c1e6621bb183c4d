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

/// How long a request waits for a free pooled connection before failing.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

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
    /// Connects to `url` (`postgres://user:password@host:port/database`) with a pool of
    /// [`DEFAULT_MAX_CONNECTIONS`] and applies pending migrations. `registry` is the schema
    /// catalogue resources are indexed with.
    pub async fn connect(url: &str, registry: Arc<Registry>) -> Result<Self, StoreError> {
        Self::connect_with(url, registry, DEFAULT_MAX_CONNECTIONS).await
    }

    /// [`PostgresStore::connect`] with a pool of at most `max_connections`.
    pub async fn connect_with(
        url: &str,
        registry: Arc<Registry>,
        max_connections: u32,
    ) -> Result<Self, StoreError> {
        Self::migrate(url).await?;
        let options = PgConnectOptions::from_str(url).map_err(backend)?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(backend)?;
        Ok(Self {
            inner: Arc::new(Inner { pool, registry }),
        })
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
/// SQLSTATE 22021), which is the client's error, not the server's.
pub(crate) fn backend(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e
        && db.code().as_deref() == Some("22021")
    {
        return StoreError::Scim(scimd_core::Error::invalid_value(
            "text values must not contain the NUL character (U+0000)",
        ));
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
