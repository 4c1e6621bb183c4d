//! Tenants and credentials in SQLite.
//!
//! Credential secrets never reach this module: bearer tokens arrive as their SHA-256 (looked
//! up through an index), Basic secrets as argon2id hashes that the server verifies.
//!
//! Every change that can invalidate an authenticated credential (revocation, tenant deletion,
//! tenant settings) also increments the credential generation (`auth_generation`, migration
//! 5) in the same transaction (`bump_auth_generation`): the server's credential cache polls
//! it ([`scimd_store::store::AuthGeneration`]) and is dropped when it moves.

use rusqlite::{OptionalExtension, Row};
use scimd_core::datetime::format_rfc3339;
use scimd_store::store::AuthGeneration;
use scimd_store::{Credential, CredentialKind, StoreError, Tenant, TenantId};
use serde_json::Value;

use crate::db::{is_foreign_key_violation, is_unique_violation};
use crate::{SqliteStore, backend, now_micros};

const TENANT_COLS: &str =
    "t.id AS t_id, t.name AS t_name, t.settings AS t_settings, t.created AS t_created";
const CREDENTIAL_COLS: &str = "c.id AS c_id, c.tenant_id AS c_tenant_id, c.kind AS c_kind, c.label AS c_label, \
     c.client_id AS c_client_id, c.secret_hash AS c_secret_hash, c.created AS c_created, c.revoked AS c_revoked";

/// Run inside the transaction of every change that can invalidate a credential. The write
/// fails if the row is missing: an invalidation that no cache could see must not commit.
const BUMP_AUTH_GENERATION: &str = "UPDATE auth_generation SET n = n + 1 WHERE id = 1";

/// Increments the credential generation on the write's connection (inside its transaction).
fn bump_auth_generation(conn: &rusqlite::Connection) -> Result<(), StoreError> {
    let n = conn
        .prepare_cached(BUMP_AUTH_GENERATION)
        .and_then(|mut st| st.execute([]))
        .map_err(backend)?;
    if n == 1 {
        Ok(())
    } else {
        Err(StoreError::Backend(
            "auth_generation has no row 1 (migration 5 missing?)".into(),
        ))
    }
}

impl AuthGeneration for SqliteStore {
    async fn auth_generation(&self) -> Result<i64, StoreError> {
        self.read_point(|conn| {
            conn.prepare_cached("SELECT n FROM auth_generation WHERE id = 1")
                .and_then(|mut st| st.query_row([], |row| row.get::<_, i64>(0)))
                .map_err(backend)
        })
        .await
    }
}

/// A row's values, decoded after the statement (decoding errors are not SQLite's).
struct TenantRow {
    id: i64,
    name: String,
    settings: String,
    created: String,
}

impl TenantRow {
    fn read(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get("t_id")?,
            name: row.get("t_name")?,
            settings: row.get("t_settings")?,
            created: row.get("t_created")?,
        })
    }

    fn decode(self) -> Result<Tenant, StoreError> {
        Ok(Tenant {
            id: TenantId(self.id),
            name: self.name,
            settings: serde_json::from_str(&self.settings)
                .map_err(|e| StoreError::Backend(format!("tenant settings: {e}")))?,
            created: self.created,
        })
    }
}

struct CredentialRow {
    id: i64,
    tenant_id: i64,
    kind: String,
    label: String,
    client_id: Option<String>,
    secret_hash: String,
    created: String,
    revoked: bool,
}

impl CredentialRow {
    fn read(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get("c_id")?,
            tenant_id: row.get("c_tenant_id")?,
            kind: row.get("c_kind")?,
            label: row.get("c_label")?,
            client_id: row.get("c_client_id")?,
            secret_hash: row.get("c_secret_hash")?,
            created: row.get("c_created")?,
            revoked: row.get::<_, i64>("c_revoked")? != 0,
        })
    }

    fn decode(self) -> Result<Credential, StoreError> {
        Ok(Credential {
            id: self.id,
            tenant_id: TenantId(self.tenant_id),
            kind: CredentialKind::parse(&self.kind).ok_or_else(|| {
                StoreError::Backend(format!("unknown credential kind {}", self.kind))
            })?,
            label: self.label,
            client_id: self.client_id,
            secret_hash: self.secret_hash,
            created: self.created,
            revoked: self.revoked,
        })
    }
}

pub(crate) async fn create_tenant(
    store: &SqliteStore,
    name: &str,
    settings: Value,
) -> Result<Tenant, StoreError> {
    let created = format_rfc3339(now_micros());
    let (name, text, stamp) = (name.to_owned(), settings.to_string(), created.clone());
    let (id, name) = store
        .write(move |conn| {
            conn.prepare_cached(
                "INSERT INTO tenants (name, settings, created) VALUES (?1, ?2, ?3) RETURNING id",
            )
            .and_then(|mut st| st.query_row((&name, &text, &stamp), |row| row.get::<_, i64>(0)))
            .map(|id| (id, name.clone()))
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::TenantExists
                } else {
                    backend(e)
                }
            })
        })
        .await?;
    Ok(Tenant {
        id: TenantId(id),
        name,
        settings,
        created,
    })
}

pub(crate) async fn tenant_by_name(
    store: &SqliteStore,
    name: &str,
) -> Result<Option<Tenant>, StoreError> {
    let name = name.to_owned();
    store
        .read(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {TENANT_COLS} FROM tenants t WHERE t.name = ?1"
            ))
            .and_then(|mut st| st.query_row([&name], TenantRow::read).optional())
            .map_err(backend)?
            .map(TenantRow::decode)
            .transpose()
        })
        .await
}

pub(crate) async fn list_tenants(store: &SqliteStore) -> Result<Vec<Tenant>, StoreError> {
    store
        .read(|conn| {
            let mut st = conn
                .prepare_cached(&format!(
                    "SELECT {TENANT_COLS} FROM tenants t ORDER BY t.name"
                ))
                .map_err(backend)?;
            let rows = st
                .query_map([], TenantRow::read)
                .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
                .map_err(backend)?;
            rows.into_iter().map(TenantRow::decode).collect()
        })
        .await
}

pub(crate) async fn delete_tenant(store: &SqliteStore, tenant: TenantId) -> Result<(), StoreError> {
    // Foreign keys cascade to credentials, counts (`resource_counts`, `seq_buckets`) and
    // resources, and from resources to their index rows and memberships; one transaction.
    store
        .write(move |conn| {
            let n = conn
                .execute("DELETE FROM tenants WHERE id = ?1", [tenant.0])
                .map_err(backend)?;
            if n == 0 {
                return Err(StoreError::TenantNotFound);
            }
            // Its credentials are gone: servers must stop accepting them.
            bump_auth_generation(conn)
        })
        .await
}

pub(crate) async fn update_tenant_settings(
    store: &SqliteStore,
    tenant: TenantId,
    settings: Value,
) -> Result<Tenant, StoreError> {
    let text = settings.to_string();
    store
        .write(move |conn| {
            let row = conn
                .prepare_cached(&format!(
                    "UPDATE tenants SET settings = ?1 WHERE id = ?2 RETURNING {}",
                    TENANT_COLS.replace("t.", "")
                ))
                .and_then(|mut st| st.query_row((&text, tenant.0), TenantRow::read).optional())
                .map_err(backend)?
                .ok_or(StoreError::TenantNotFound)?;
            // Cached authentications carry the parsed settings: they must be re-read.
            bump_auth_generation(conn)?;
            row.decode()
        })
        .await
}

pub(crate) async fn create_credential(
    store: &SqliteStore,
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
    let credential = Credential {
        id: 0,
        tenant_id: tenant,
        kind,
        label: label.to_owned(),
        client_id: client_id.map(str::to_owned),
        secret_hash: secret_hash.to_owned(),
        created: format_rfc3339(now_micros()),
        revoked: false,
    };
    store
        .write(move |conn| {
            let id = conn
                .prepare_cached(
                    "INSERT INTO credentials (tenant_id, kind, label, client_id, secret_hash, created) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
                )
                .and_then(|mut st| {
                    st.query_row(
                        (
                            tenant.0,
                            credential.kind.as_str(),
                            &credential.label,
                            &credential.client_id,
                            &credential.secret_hash,
                            &credential.created,
                        ),
                        |row| row.get::<_, i64>(0),
                    )
                })
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
                id,
                ..credential.clone()
            })
        })
        .await
}

/// An active credential by SHA-256 (bearer) or client id (basic), with its tenant.
pub(crate) async fn credential_lookup(
    store: &SqliteStore,
    kind: CredentialKind,
    key: &str,
) -> Result<Option<(Credential, Tenant)>, StoreError> {
    let column = match kind {
        CredentialKind::Bearer => "c.secret_hash",
        CredentialKind::Basic => "c.client_id",
    };
    let key = key.to_owned();
    store
        .read_point(move |conn| {
            let found = conn
                .prepare_cached(&format!(
                    "SELECT {CREDENTIAL_COLS}, {TENANT_COLS} FROM credentials c \
                     JOIN tenants t ON t.id = c.tenant_id \
                     WHERE {column} = ?1 AND c.kind = ?2 AND c.revoked = 0 ORDER BY c.id LIMIT 1"
                ))
                .and_then(|mut st| {
                    st.query_row((&key, kind.as_str()), |row| {
                        Ok((CredentialRow::read(row)?, TenantRow::read(row)?))
                    })
                    .optional()
                })
                .map_err(backend)?;
            found
                .map(|(c, t)| Ok((c.decode()?, t.decode()?)))
                .transpose()
        })
        .await
}

pub(crate) async fn list_credentials(
    store: &SqliteStore,
    tenant: TenantId,
) -> Result<Vec<Credential>, StoreError> {
    store
        .read(move |conn| {
            let mut st = conn
                .prepare_cached(&format!(
                    "SELECT {CREDENTIAL_COLS} FROM credentials c WHERE c.tenant_id = ?1 ORDER BY c.id"
                ))
                .map_err(backend)?;
            let rows = st
                .query_map([tenant.0], CredentialRow::read)
                .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
                .map_err(backend)?;
            rows.into_iter().map(CredentialRow::decode).collect()
        })
        .await
}

pub(crate) async fn revoke_credential(
    store: &SqliteStore,
    tenant: TenantId,
    id: i64,
) -> Result<(), StoreError> {
    store
        .write(move |conn| {
            let n = conn
                .execute(
                    "UPDATE credentials SET revoked = 1 WHERE id = ?1 AND tenant_id = ?2",
                    (id, tenant.0),
                )
                .map_err(backend)?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            bump_auth_generation(conn)
        })
        .await
}
