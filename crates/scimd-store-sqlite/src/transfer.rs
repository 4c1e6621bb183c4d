//! Tenant export and import (`scimd export` / `scimd import`) for SQLite; the format is
//! [`scimd_store::transfer`]'s. An export reads one snapshot (a read transaction); an import
//! is one write transaction, so a failed import leaves nothing behind.

use std::collections::HashMap;

use rusqlite::Connection;
use scimd_core::datetime::parse_rfc3339;
use scimd_core::schema::ResourceKind;
use scimd_store::listing::SEQ_BUCKET_BITS;
use scimd_store::sql::{kind_code, kind_from_code};
use scimd_store::transfer::{
    ExportedCredential, ExportedMember, ExportedResource, TenantExport, Transfer,
};
use scimd_store::{CredentialKind, StoreError, Tenant, TenantId};

use crate::db::{execute, in_read_snapshot, is_unique_violation, query_all, query_opt};
use crate::resources::{
    Derived, derive, insert_index, insert_members, parse_document, write_error,
};
use crate::{SqliteStore, backend};

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

fn export_in(conn: &Connection, name: String) -> Result<TenantExport, StoreError> {
    let (tenant, settings, created) = query_opt(
        conn,
        "SELECT id, settings, created FROM tenants WHERE name = ?1",
        [&name],
        |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
            ))
        },
    )?
    .ok_or(StoreError::TenantNotFound)?;
    let credentials = query_all(
        conn,
        "SELECT kind, label, client_id, secret_hash, created, revoked FROM credentials \
         WHERE tenant_id = ?1 ORDER BY id",
        [tenant],
        |row| {
            Ok((
                row.get::<_, String>(0)?,
                ExportedCredential {
                    kind: CredentialKind::Bearer,
                    label: row.get(1)?,
                    client_id: row.get(2)?,
                    secret_hash: row.get(3)?,
                    created: row.get(4)?,
                    revoked: row.get::<_, i64>(5)? != 0,
                },
            ))
        },
    )?
    .into_iter()
    .map(|(kind, c)| {
        Ok(ExportedCredential {
            kind: CredentialKind::parse(&kind)
                .ok_or_else(|| StoreError::Backend(format!("unknown credential kind {kind}")))?,
            ..c
        })
    })
    .collect::<Result<Vec<_>, StoreError>>()?;
    let resources = query_all(
        conn,
        "SELECT kind, id, version, created, modified, unique_key, external_id, display, \
         password_hash, data FROM resources WHERE tenant_id = ?1 ORDER BY seq",
        [tenant],
        |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(9)?,
                ExportedResource {
                    kind: ResourceKind::User,
                    id: row.get(1)?,
                    version: row.get(2)?,
                    created: row.get(3)?,
                    modified: row.get(4)?,
                    unique_key: row.get(5)?,
                    external_id: row.get(6)?,
                    display: row.get(7)?,
                    password_hash: row.get(8)?,
                    document: Default::default(),
                },
            ))
        },
    )?
    .into_iter()
    .map(|(code, data, r)| {
        Ok(ExportedResource {
            kind: kind_of(code)?,
            document: parse_document(&data)?,
            ..r
        })
    })
    .collect::<Result<Vec<_>, StoreError>>()?;
    let members = query_all(
        conn,
        "SELECT g.id, x.id, x.kind, m.display \
         FROM members m JOIN resources g ON g.seq = m.group_seq \
         JOIN resources x ON x.seq = m.member_seq \
         WHERE g.tenant_id = ?1 ORDER BY g.seq, x.seq",
        [tenant],
        |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, i64>(2)?,
                row.get::<_, Option<String>>(3)?,
            ))
        },
    )?
    .into_iter()
    .map(|(group, member, code, display)| {
        Ok(ExportedMember {
            group,
            member,
            member_kind: kind_of(code)?,
            display,
        })
    })
    .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(TenantExport {
        name,
        settings: serde_json::from_str(&settings)
            .map_err(|e| StoreError::Backend(format!("tenant settings: {e}")))?,
        created,
        credentials,
        resources,
        members,
    })
}

fn import_in(
    conn: &Connection,
    export: &TenantExport,
    derived: &[Derived],
) -> Result<Tenant, StoreError> {
    let id: i64 = conn
        .prepare_cached(
            "INSERT INTO tenants (name, settings, created) VALUES (?1, ?2, ?3) RETURNING id",
        )
        .and_then(|mut st| {
            st.query_row(
                (&export.name, export.settings.to_string(), &export.created),
                |row| row.get(0),
            )
        })
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::TenantExists
            } else {
                backend(e)
            }
        })?;
    let tenant = TenantId(id);
    for c in &export.credentials {
        conn.prepare_cached(
            "INSERT INTO credentials (tenant_id, kind, label, client_id, secret_hash, created, revoked) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .and_then(|mut st| {
            st.execute((
                id,
                c.kind.as_str(),
                &c.label,
                &c.client_id,
                &c.secret_hash,
                &c.created,
                i64::from(c.revoked),
            ))
        })
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::UniqueViolation {
                    attribute: "clientId".into(),
                }
            } else {
                backend(e)
            }
        })?;
    }
    let mut seqs: HashMap<(i64, &str), i64> = HashMap::new();
    // Rows per (kind, bucket) of `seq_buckets`, written once all resources are in.
    let mut buckets: HashMap<(i64, i64), i64> = HashMap::new();
    for (r, d) in export.resources.iter().zip(derived) {
        let seq: i64 = conn
            .prepare_cached(
                "INSERT INTO resources (tenant_id, kind, id, unique_key, external_id, display, \
                 display_key, sort_name, version, created, created_us, modified, modified_us, data, \
                 password_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) \
                 RETURNING seq",
            )
            .and_then(|mut st| {
                st.query_row(
                    rusqlite::params![
                        id,
                        kind_code(r.kind),
                        r.id,
                        r.unique_key,
                        r.external_id,
                        r.display,
                        d.display_key,
                        d.sort_name,
                        r.version,
                        r.created,
                        micros(&r.created).unwrap_or_default(),
                        r.modified,
                        micros(&r.modified).unwrap_or_default(),
                        d.data,
                        r.password_hash,
                    ],
                    |row| row.get(0),
                )
            })
            .map_err(|e| write_error(e, r.kind))?;
        insert_index(conn, tenant, r.kind, seq, &d.rows)?;
        seqs.insert((kind_code(r.kind), r.id.as_str()), seq);
        *buckets
            .entry((kind_code(r.kind), seq >> SEQ_BUCKET_BITS))
            .or_insert(0) += 1;
    }
    for ((kind, bucket), n) in buckets {
        execute(
            conn,
            "INSERT INTO seq_buckets (tenant_id, kind, bucket, n) VALUES (?1, ?2, ?3, ?4)",
            (id, kind, bucket, n),
        )?;
    }
    for (kind, n) in [ResourceKind::User, ResourceKind::Group]
        .map(|k| (k, export.resources.iter().filter(|r| r.kind == k).count()))
    {
        execute(
            conn,
            "INSERT INTO resource_counts (tenant_id, kind, n) VALUES (?1, ?2, ?3)",
            (id, kind_code(kind), i64::try_from(n).unwrap_or(i64::MAX)),
        )?;
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
        insert_members(conn, tenant, group, &[(member, m.display.clone())])?;
    }
    Ok(Tenant {
        id: tenant,
        name: export.name.clone(),
        settings: export.settings.clone(),
        created: export.created.clone(),
    })
}

impl Transfer for SqliteStore {
    async fn export_tenant(&self, name: &str) -> Result<TenantExport, StoreError> {
        let name = name.to_owned();
        self.read(move |conn| in_read_snapshot(conn, |conn| export_in(conn, name)))
            .await
    }

    async fn import_tenant(&self, export: &TenantExport) -> Result<Tenant, StoreError> {
        // Timestamps and index rows are checked and computed before the write.
        let mut derived = Vec::with_capacity(export.resources.len());
        for r in &export.resources {
            micros(&r.created)?;
            micros(&r.modified)?;
            derived.push(derive(self, r.kind, &r.document, r.display.as_deref())?);
        }
        let export = export.clone();
        self.write(move |conn| import_in(conn, &export, &derived))
            .await
    }
}
