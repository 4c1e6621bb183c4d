//! Tenant export and import (`scimd export` / `scimd import`) for PostgreSQL; the format is
//! [`scimd_store::transfer`]'s. An export reads one REPEATABLE READ snapshot; an import is
//! one transaction, so a failed import leaves nothing behind, and is followed by `ANALYZE`
//! so the planner does not meet the freshly loaded rows without statistics. Both are
//! operator commands, not requests: the pool's statement and idle-in-transaction timeouts
//! are lifted for their transactions (one export statement reads a whole tenant).

use std::collections::HashMap;

use scimd_core::datetime::parse_rfc3339;
use scimd_core::schema::ResourceKind;
use scimd_store::sql::{kind_code, kind_from_code};
use scimd_store::transfer::{
    ExportedCredential, ExportedMember, ExportedResource, TenantExport, Transfer,
};
use scimd_store::{CredentialKind, StoreError, Tenant, TenantId};
use sqlx::Row;

use crate::resources::{count, derive, insert_index, insert_members, parse_document, write_error};
use crate::{PostgresStore, backend, without_timeouts};

fn micros(stamp: &str) -> Result<i64, StoreError> {
    parse_rfc3339(stamp).ok_or_else(|| {
        StoreError::Scim(scimd_core::Error::invalid_value(format!(
            "not an RFC 3339 timestamp: {stamp}"
        )))
    })
}

fn kind_of(code: i64) -> Result<ResourceKind, StoreError> {
    kind_from_code(code).ok_or_else(|| StoreError::Backend(format!("unknown resource kind {code}")))
}

impl Transfer for PostgresStore {
    async fn export_tenant(&self, name: &str) -> Result<TenantExport, StoreError> {
        let mut tx = self
            .inner
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await
            .map_err(backend)?;
        without_timeouts(&mut tx).await?;
        let row = sqlx::query("SELECT id, settings, created FROM tenants WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?
            .ok_or(StoreError::TenantNotFound)?;
        let tenant: i64 = row.try_get("id").map_err(backend)?;
        let settings: String = row.try_get("settings").map_err(backend)?;
        let mut export = TenantExport {
            name: name.to_owned(),
            settings: serde_json::from_str(&settings)
                .map_err(|e| StoreError::Backend(format!("tenant settings: {e}")))?,
            created: row.try_get("created").map_err(backend)?,
            credentials: Vec::new(),
            resources: Vec::new(),
            members: Vec::new(),
        };
        for row in sqlx::query(
            "SELECT kind, label, client_id, secret_hash, created, revoked FROM credentials \
             WHERE tenant_id = $1 ORDER BY id",
        )
        .bind(tenant)
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?
        {
            let kind: String = row.try_get("kind").map_err(backend)?;
            export.credentials.push(ExportedCredential {
                kind: CredentialKind::parse(&kind).ok_or_else(|| {
                    StoreError::Backend(format!("unknown credential kind {kind}"))
                })?,
                label: row.try_get("label").map_err(backend)?,
                client_id: row.try_get("client_id").map_err(backend)?,
                secret_hash: row.try_get("secret_hash").map_err(backend)?,
                created: row.try_get("created").map_err(backend)?,
                revoked: row.try_get("revoked").map_err(backend)?,
            });
        }
        for row in sqlx::query(
            "SELECT kind, id, version, created, modified, unique_key, external_id, display, \
             password_hash, data FROM resources WHERE tenant_id = $1 ORDER BY seq",
        )
        .bind(tenant)
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?
        {
            let data: String = row.try_get("data").map_err(backend)?;
            export.resources.push(ExportedResource {
                kind: kind_of(row.try_get("kind").map_err(backend)?)?,
                id: row.try_get("id").map_err(backend)?,
                version: row.try_get("version").map_err(backend)?,
                created: row.try_get("created").map_err(backend)?,
                modified: row.try_get("modified").map_err(backend)?,
                unique_key: row.try_get("unique_key").map_err(backend)?,
                external_id: row.try_get("external_id").map_err(backend)?,
                display: row.try_get("display").map_err(backend)?,
                password_hash: row.try_get("password_hash").map_err(backend)?,
                document: parse_document(&data)?,
            });
        }
        for row in sqlx::query(
            "SELECT g.id AS group_id, x.id AS member_id, x.kind AS member_kind, m.display \
             FROM members m JOIN resources g ON g.seq = m.group_seq \
             JOIN resources x ON x.seq = m.member_seq \
             WHERE g.tenant_id = $1 ORDER BY g.seq, x.seq",
        )
        .bind(tenant)
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?
        {
            export.members.push(ExportedMember {
                group: row.try_get("group_id").map_err(backend)?,
                member: row.try_get("member_id").map_err(backend)?,
                member_kind: kind_of(row.try_get("member_kind").map_err(backend)?)?,
                display: row.try_get("display").map_err(backend)?,
            });
        }
        tx.commit().await.map_err(backend)?;
        Ok(export)
    }

    async fn import_tenant(&self, export: &TenantExport) -> Result<Tenant, StoreError> {
        let mut tx = self.begin().await?;
        without_timeouts(&mut tx).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO tenants (name, settings, created) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(&export.name)
        .bind(export.settings.to_string())
        .bind(&export.created)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::TenantExists,
            _ => backend(e),
        })?;
        let tenant = TenantId(id);
        for c in &export.credentials {
            sqlx::query(
                "INSERT INTO credentials (tenant_id, kind, label, client_id, secret_hash, created, revoked) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(id)
            .bind(c.kind.as_str())
            .bind(&c.label)
            .bind(&c.client_id)
            .bind(&c.secret_hash)
            .bind(&c.created)
            .bind(c.revoked)
            .execute(&mut *tx)
            .await
            .map_err(|e| match &e {
                sqlx::Error::Database(db) if db.is_unique_violation() => {
                    StoreError::UniqueViolation {
                        attribute: "clientId".into(),
                    }
                }
                _ => backend(e),
            })?;
        }
        let mut seqs: HashMap<(i64, &str), i64> = HashMap::new();
        for r in &export.resources {
            let d = derive(self, r.kind, &r.document, r.display.as_deref())?;
            let seq: i64 = sqlx::query_scalar(
                "INSERT INTO resources (tenant_id, kind, id, unique_key, external_id, display, \
                 display_key, sort_name, version, created, created_us, modified, modified_us, data, \
                 password_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
                 RETURNING seq",
            )
            .bind(id)
            .bind(kind_code(r.kind))
            .bind(&r.id)
            .bind(&r.unique_key)
            .bind(&r.external_id)
            .bind(&r.display)
            .bind(d.display_key)
            .bind(d.sort_name)
            .bind(r.version)
            .bind(&r.created)
            .bind(micros(&r.created)?)
            .bind(&r.modified)
            .bind(micros(&r.modified)?)
            .bind(d.data)
            .bind(&r.password_hash)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| write_error(e, r.kind))?;
            insert_index(&mut tx, tenant, r.kind, seq, &d.rows).await?;
            count(&mut tx, tenant, r.kind, seq, 1).await?;
            seqs.insert((kind_code(r.kind), r.id.as_str()), seq);
        }
        let group_code = kind_code(ResourceKind::Group);
        for m in &export.members {
            let (Some(&group), Some(&member)) = (
                seqs.get(&(group_code, m.group.as_str())),
                seqs.get(&(kind_code(m.member_kind), m.member.as_str())),
            ) else {
                return Err(StoreError::MemberNotFound {
                    value: format!("{} (in {})", m.member, m.group),
                });
            };
            insert_members(&mut tx, tenant, group, &[(member, m.display.clone())]).await?;
        }
        tx.commit().await.map_err(backend)?;
        // The import is committed whatever happens here; without this, autovacuum analyzes
        // the new rows only after its next round, and until then listings can run for
        // minutes. A failure leaves that to autovacuum (and to the next connect).
        let _ = self.analyze().await;
        Ok(Tenant {
            id: tenant,
            name: export.name.clone(),
            settings: export.settings.clone(),
            created: export.created.clone(),
        })
    }
}
