//! Tenants and credentials in PostgreSQL. Nothing is cached here; the server caches
//! successful authentications per node and polls the credential generation to drop them.
//!
//! Credential secrets never reach this module: bearer tokens arrive as their SHA-256 (looked
//! up through an index), Basic secrets as argon2id hashes that the server verifies.
//!
//! Every change that can invalidate an authenticated credential (revocation, tenant deletion,
//! tenant settings) also increments the credential generation (`auth_generation`, migration
//! 5) in the same transaction (`bump_auth_generation`), so a node that reads the new value
//! ([`scimd_store::store::AuthGeneration`]) knows the change has committed.

use scimd_core::datetime::format_rfc3339;
use scimd_store::store::AuthGeneration;
use scimd_store::{Credential, CredentialKind, StoreError, Tenant, TenantId};
use serde_json::Value;
use sqlx::Row;
use sqlx::postgres::{PgConnection, PgRow};

use crate::{PostgresStore, backend, now_micros};

const TENANT_COLS: &str =
    "t.id AS t_id, t.name AS t_name, t.settings AS t_settings, t.created AS t_created";
const CREDENTIAL_COLS: &str = "c.id AS c_id, c.tenant_id AS c_tenant_id, c.kind AS c_kind, c.label AS c_label, \
     c.client_id AS c_client_id, c.secret_hash AS c_secret_hash, c.created AS c_created, c.revoked AS c_revoked";

/// Increments the credential generation inside the caller's transaction. Fails if the row
/// is missing: an invalidation that no node could see must not commit.
async fn bump_auth_generation(conn: &mut PgConnection) -> Result<(), StoreError> {
    let done = sqlx::query("UPDATE auth_generation SET n = n + 1 WHERE id = 1")
        .execute(conn)
        .await
        .map_err(backend)?;
    if done.rows_affected() == 1 {
        Ok(())
    } else {
        Err(StoreError::Backend(
            "auth_generation has no row 1 (migration 5 missing?)".into(),
        ))
    }
}

impl AuthGeneration for PostgresStore {
    async fn auth_generation(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar::<_, i64>("SELECT n FROM auth_generation WHERE id = 1")
            .fetch_one(&self.inner.pool)
            .await
            .map_err(backend)
    }
}

fn tenant_from_row(row: &PgRow) -> Result<Tenant, StoreError> {
    let settings: String = row.try_get("t_settings").map_err(backend)?;
    Ok(Tenant {
        id: TenantId(row.try_get("t_id").map_err(backend)?),
        name: row.try_get("t_name").map_err(backend)?,
        settings: serde_json::from_str(&settings)
            .map_err(|e| StoreError::Backend(format!("tenant settings: {e}")))?,
        created: row.try_get("t_created").map_err(backend)?,
    })
}

fn credential_from_row(row: &PgRow) -> Result<Credential, StoreError> {
    let kind: String = row.try_get("c_kind").map_err(backend)?;
    Ok(Credential {
        id: row.try_get("c_id").map_err(backend)?,
        tenant_id: TenantId(row.try_get("c_tenant_id").map_err(backend)?),
        kind: CredentialKind::parse(&kind)
            .ok_or_else(|| StoreError::Backend(format!("unknown credential kind {kind}")))?,
        label: row.try_get("c_label").map_err(backend)?,
        client_id: row.try_get("c_client_id").map_err(backend)?,
        secret_hash: row.try_get("c_secret_hash").map_err(backend)?,
        created: row.try_get("c_created").map_err(backend)?,
        revoked: row.try_get::<bool, _>("c_revoked").map_err(backend)?,
    })
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

fn is_foreign_key_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_foreign_key_violation())
}

pub(crate) async fn create_tenant(
    store: &PostgresStore,
    name: &str,
    settings: Value,
) -> Result<Tenant, StoreError> {
    let created = format_rfc3339(now_micros());
    let row = sqlx::query(
        "INSERT INTO tenants (name, settings, created) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(name)
    .bind(settings.to_string())
    .bind(&created)
    .fetch_one(&store.inner.pool)
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            StoreError::TenantExists
        } else {
            backend(e)
        }
    })?;
    Ok(Tenant {
        id: TenantId(row.try_get("id").map_err(backend)?),
        name: name.to_owned(),
        settings,
        created,
    })
}

pub(crate) async fn tenant_by_name(
    store: &PostgresStore,
    name: &str,
) -> Result<Option<Tenant>, StoreError> {
    let sql = format!("SELECT {TENANT_COLS} FROM tenants t WHERE t.name = $1");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(name)
        .fetch_optional(&store.inner.pool)
        .await
        .map_err(backend)?
        .as_ref()
        .map(tenant_from_row)
        .transpose()
}

pub(crate) async fn list_tenants(store: &PostgresStore) -> Result<Vec<Tenant>, StoreError> {
    let sql = format!("SELECT {TENANT_COLS} FROM tenants t ORDER BY t.name");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(&store.inner.pool)
        .await
        .map_err(backend)?
        .iter()
        .map(tenant_from_row)
        .collect()
}

pub(crate) async fn delete_tenant(
    store: &PostgresStore,
    tenant: TenantId,
) -> Result<(), StoreError> {
    // Foreign keys cascade to credentials, counts (`resource_counts`, `seq_buckets`) and
    // resources, and from resources to their index rows and memberships; one transaction.
    let mut tx = store.begin().await?;
    let done = sqlx::query("DELETE FROM tenants WHERE id = $1")
        .bind(tenant.0)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::TenantNotFound);
    }
    // Its credentials are gone: nodes must stop accepting them.
    bump_auth_generation(&mut tx).await?;
    tx.commit().await.map_err(backend)
}

pub(crate) async fn update_tenant_settings(
    store: &PostgresStore,
    tenant: TenantId,
    settings: Value,
) -> Result<Tenant, StoreError> {
    let sql = format!(
        "UPDATE tenants SET settings = $1 WHERE id = $2 RETURNING {}",
        TENANT_COLS.replace("t.", "")
    );
    let mut tx = store.begin().await?;
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(settings.to_string())
        .bind(tenant.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?
        .ok_or(StoreError::TenantNotFound)?;
    let updated = tenant_from_row(&row)?;
    // Cached authentications carry the parsed settings: they must be re-read.
    bump_auth_generation(&mut tx).await?;
    tx.commit().await.map_err(backend)?;
    Ok(updated)
}

pub(crate) async fn create_credential(
    store: &PostgresStore,
    tenant: TenantId,
    kind: CredentialKind,
    label: &str,
    client_id: Option<&str>,
    secret_hash: &str,
) -> Result<Credential, StoreError> {
    if kind == CredentialKind::Basic && client_id.is_none() {
        return Err(StoreError::Scim(scimd_core::Error::invalid_value(
            "a Basic credential needs a client id",
        )));
    }
    let created = format_rfc3339(now_micros());
    let row = sqlx::query(
        "INSERT INTO credentials (tenant_id, kind, label, client_id, secret_hash, created) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(tenant.0)
    .bind(kind.as_str())
    .bind(label)
    .bind(client_id)
    .bind(secret_hash)
    .bind(&created)
    .fetch_one(&store.inner.pool)
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            StoreError::UniqueViolation {
                attribute: "clientId".into(),
            }
        } else if is_foreign_key_violation(&e) {
            StoreError::TenantNotFound
        } else {
            backend(e)
        }
    })?;
    Ok(Credential {
        id: row.try_get("id").map_err(backend)?,
        tenant_id: tenant,
        kind,
        label: label.to_owned(),
        client_id: client_id.map(str::to_owned),
        secret_hash: secret_hash.to_owned(),
        created,
        revoked: false,
    })
}

/// An active credential by SHA-256 (bearer) or client id (basic), with its tenant.
pub(crate) async fn credential_lookup(
    store: &PostgresStore,
    kind: CredentialKind,
    key: &str,
) -> Result<Option<(Credential, Tenant)>, StoreError> {
    let column = match kind {
        CredentialKind::Bearer => "c.secret_hash",
        CredentialKind::Basic => "c.client_id",
    };
    let sql = format!(
        "SELECT {CREDENTIAL_COLS}, {TENANT_COLS} FROM credentials c JOIN tenants t ON t.id = c.tenant_id \
         WHERE {column} = $1 AND c.kind = $2 AND NOT c.revoked ORDER BY c.id LIMIT 1"
    );
    let Some(row) = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(key)
        .bind(kind.as_str())
        .fetch_optional(&store.inner.pool)
        .await
        .map_err(backend)?
    else {
        return Ok(None);
    };
    Ok(Some((credential_from_row(&row)?, tenant_from_row(&row)?)))
}

pub(crate) async fn list_credentials(
    store: &PostgresStore,
    tenant: TenantId,
) -> Result<Vec<Credential>, StoreError> {
    let sql =
        format!("SELECT {CREDENTIAL_COLS} FROM credentials c WHERE c.tenant_id = $1 ORDER BY c.id");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .fetch_all(&store.inner.pool)
        .await
        .map_err(backend)?
        .iter()
        .map(credential_from_row)
        .collect()
}

pub(crate) async fn revoke_credential(
    store: &PostgresStore,
    tenant: TenantId,
    id: i64,
) -> Result<(), StoreError> {
    let mut tx = store.begin().await?;
    let done =
        sqlx::query("UPDATE credentials SET revoked = true WHERE id = $1 AND tenant_id = $2")
            .bind(id)
            .bind(tenant.0)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    bump_auth_generation(&mut tx).await?;
    tx.commit().await.map_err(backend)
}
