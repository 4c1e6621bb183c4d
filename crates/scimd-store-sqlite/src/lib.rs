//! scimd-store-sqlite: the embedded default backend of scimd (SQLite in WAL mode through
//! `rusqlite`).
//!
//! [`SqliteStore`] implements [`scimd_store::Store`] on one database file:
//! - WAL journal with `synchronous = NORMAL` (durable across process crashes, and a crash
//!   of the machine loses at most the last transactions, never consistency), `busy_timeout`
//!   5 s, foreign keys on, temporary data in memory;
//! - a few read connections lent to blocking threads, and one writer thread that commits
//!   queued writes in groups, each write in its own savepoint ([`db`]): one thread hop per
//!   store call, never one per statement;
//! - the schema of docs/ARCHITECTURE.md "Storage", applied by versioned migrations at open
//!   ([`schema`]);
//! - filters and sorts translated by [`scimd_store::sql`] into conditions on the attribute
//!   index, so listings never load documents to filter them; totals of unfiltered listings
//!   come from `resource_counts`; cursor pages are keyset queries, and deep plain index
//!   pages start at the bucket of `seq_buckets` holding their offset;
//! - every statement prepared once per connection and cached.
//!
//! SQL text is built from constants and placeholders only; every value is bound.

mod db;
mod outbox;
mod resources;
pub mod schema;
mod tenants;
mod transfer;
mod webhooks;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::Connection;
use rusqlite::types::{ToSql, ToSqlOutput, ValueRef};
use scimd_core::schema::{Registry, ResourceKind};
use scimd_store::sql::SqlValue;
use scimd_store::{
    AdminStore, AdminToken, AuditEntry, AuditQuery, AuditStore, Change, ChangeStore, Credential,
    CredentialKind, Event, EventStore, Load, NewResource, Query, QueryResult, Replacement, Store,
    StoreError, StoredResource, Tenant, TenantId, Update,
};
use serde_json::Value;

pub(crate) use db::backend;

/// The SQLite backend. Cheap to clone (shared connections).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    readers: db::Readers,
    writer: db::Writer,
    registry: Arc<Registry>,
}

impl SqliteStore {
    /// Opens (creating if missing, with parent directories) the database at `url_or_path`
    /// (`sqlite:///var/lib/scimd/scimd.db`, `sqlite:data.db` or a plain path) and applies
    /// pending migrations. `registry` is the schema catalogue resources are indexed with.
    pub async fn open(url_or_path: &str, registry: Arc<Registry>) -> Result<Self, StoreError> {
        let file = database_file(url_or_path)?;
        if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Backend(format!("creating {}: {e}", dir.display())))?;
        }
        let opened = file.clone();
        let conn = tokio::task::spawn_blocking(move || {
            let mut conn = db::connect(&opened, false)?;
            schema::migrate(&mut conn)?;
            Ok::<_, StoreError>(conn)
        })
        .await
        .map_err(|e| StoreError::Backend(format!("opening the database: {e}")))??;
        Ok(Self {
            inner: Arc::new(Inner {
                readers: db::Readers::new(&file),
                writer: db::Writer::start(conn, &file)?,
                registry,
            }),
        })
    }

    /// The schema catalogue resources are indexed with.
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// Finishes queued writes and closes every connection (SQLite checkpoints the WAL when
    /// the last one closes).
    pub async fn close(&self) {
        let inner = Arc::clone(&self.inner);
        let _ = tokio::task::spawn_blocking(move || {
            inner.writer.close();
            inner.readers.close();
        })
        .await;
    }

    /// The query plan SQLite chooses for a listing (`EXPLAIN QUERY PLAN`), one line per
    /// step: for operators checking that filters run on indexes.
    pub async fn explain_query(
        &self,
        tenant: TenantId,
        kind: ResourceKind,
        query: &Query,
    ) -> Result<Vec<String>, StoreError> {
        resources::explain(self, tenant, kind, query).await
    }

    /// Runs `f` on a read connection (see [`db`]).
    pub(crate) async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.inner.readers.run(f).await
    }

    /// Runs a listing's read (see [`db::Readers::run_listing`]).
    pub(crate) async fn read_listing<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.inner.readers.run_listing(f).await
    }

    /// Runs a point read (a lookup by a unique key; see [`db::Readers::run_point`]).
    pub(crate) async fn read_point<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.inner.readers.run_point(f).await
    }

    /// Runs `f` as one write transaction (group-committed; see [`db`]). `f` may run twice,
    /// the first run undone, so it acts only on the database.
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.inner.writer.run(f).await
    }
}

/// The file named by a `sqlite:` URL (query parameters ignored) or a plain path.
fn database_file(url_or_path: &str) -> Result<PathBuf, StoreError> {
    let path = match url_or_path.strip_prefix("sqlite:") {
        Some(rest) => {
            let rest = rest.strip_prefix("//").unwrap_or(rest);
            rest.split('?').next().unwrap_or_default()
        }
        None => url_or_path,
    };
    if path.is_empty() || path == ":memory:" || path.starts_with("file::memory:") {
        return Err(StoreError::Backend(
            "an in-memory SQLite database cannot be shared by the reader and writer \
             connections; give a file path"
                .into(),
        ));
    }
    Ok(Path::new(path).to_path_buf())
}

/// A bound value of generated SQL ([`scimd_store::sql`]).
pub(crate) struct Bind<'a>(pub(crate) &'a SqlValue);

impl ToSql for Bind<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self.0 {
            SqlValue::Text(s) => ValueRef::Text(s.as_bytes()),
            SqlValue::Num(n) => ValueRef::Real(*n),
            SqlValue::Int(i) => ValueRef::Integer(*i),
        }))
    }
}

/// `binds` as positional parameters (placeholder `n` is `binds[n - 1]`).
pub(crate) fn params_of(binds: &[SqlValue]) -> impl rusqlite::Params + '_ {
    rusqlite::params_from_iter(binds.iter().map(Bind))
}

/// The current time in microseconds since the epoch, truncated to milliseconds so that the
/// stored instant equals the one printed in `meta` (RFC 3339 with milliseconds).
pub(crate) fn now_micros() -> i64 {
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    micros - micros.rem_euclid(1000)
}

impl Store for SqliteStore {
    /// One writer thread takes writes from one FIFO queue ([`db`]), and a write is queued
    /// when its future is first polled.
    fn commits_in_submission_order(&self) -> bool {
        true
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.read(|conn| conn.query_row("SELECT 1", [], |_| Ok(())).map_err(backend))
            .await
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

impl ChangeStore for SqliteStore {
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

impl EventStore for SqliteStore {
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

impl AuditStore for SqliteStore {
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

impl AdminStore for SqliteStore {
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
