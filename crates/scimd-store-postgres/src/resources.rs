//! Users and Groups in PostgreSQL: writes (with their index rows, memberships and counts, each
//! in one transaction) and listings (RFC 7644 §3.4.2: filter, sort, index and cursor pages).
//!
//! Correct with several scimd nodes on one database, under READ COMMITTED:
//! - a write locks the resource row (`SELECT … FOR UPDATE`) before checking its version, so
//!   two nodes PATCHing one Group serialise on that row and the second sees the first's
//!   version (`VersionMismatch`, and the server's PATCH loop re-reads); the version bump is
//!   additionally conditional (`UPDATE … WHERE version = $n`);
//! - uniqueness is the unique indexes' job (SQLSTATE 23505, mapped by constraint name);
//! - members being added are locked `FOR KEY SHARE`, so a concurrent delete of a member
//!   waits instead of leaving a dangling membership; a delete locks the Groups containing
//!   the resource before the resource itself, the order Group updates take them in;
//! - `resource_counts` is split into [`COUNT_SHARDS`] rows per tenant and kind (and
//!   `seq_buckets` into as many per bucket), so concurrent creates in one tenant do not all
//!   queue on one counter row.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use scimd_core::datetime::format_rfc3339;
use scimd_core::schema::{ResourceKind, ResourceType};
use scimd_core::{MemberKind, MemberOp, MemberRef};
use scimd_store::cursor::Cursor;
use scimd_store::events::{Change, MemberDelta, WriteFacts, derive_events};
use scimd_store::index::{IndexRow, index_rows};
use scimd_store::listing::{COLUMNS as COLS, ListingPlan as Plan, SEQ_BUCKET_BITS, plan_listing};
use scimd_store::sql::{Position, Postgres, SqlValue, kind_code, kind_from_code};
use scimd_store::{
    Document, GroupRef, Load, Member, NewResource, Query, QueryResult, Replacement, StoreError,
    StoredResource, TenantId, Update,
};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};

use crate::{PostgresStore, backend, bind_all, now_micros, outbox};

/// Values per multi-row statement, well below SQLite's limit on bound parameters.
const CHUNK: usize = 400;

/// Rows per tenant and kind in `resource_counts`; a resource counts on shard `seq % 16`.
pub(crate) const COUNT_SHARDS: i64 = 16;

fn resource_type(store: &PostgresStore, kind: ResourceKind) -> Result<&ResourceType, StoreError> {
    store
        .registry()
        .resource_type_of(kind)
        .ok_or_else(|| StoreError::Backend(format!("no resource type for {}", kind.as_str())))
}

/// Maps a failed resource write: unique indexes to [`StoreError::UniqueViolation`], a
/// missing tenant to [`StoreError::TenantNotFound`].
pub(crate) fn write_error(e: sqlx::Error, kind: ResourceKind) -> StoreError {
    if let sqlx::Error::Database(db) = &e {
        if db.is_unique_violation() {
            let attribute = if db.constraint() == Some("resources_unique_key") {
                match kind {
                    ResourceKind::User => "userName",
                    ResourceKind::Group => "displayName",
                }
            } else {
                "id"
            };
            return StoreError::UniqueViolation {
                attribute: attribute.into(),
            };
        }
        if db.is_foreign_key_violation() && db.constraint() == Some("resources_tenant_id_fkey") {
            return StoreError::TenantNotFound;
        }
    }
    backend(e)
}

pub(crate) fn parse_document(data: &str) -> Result<Document, StoreError> {
    serde_json::from_str(data).map_err(|e| StoreError::Backend(format!("stored document: {e}")))
}

/// A resource from its row: the document parsed, or left as text when `document_text`.
fn resource_from_row(row: &PgRow, document_text: bool) -> Result<StoredResource, StoreError> {
    let code: i64 = row.try_get("kind").map_err(backend)?;
    let data: String = row.try_get("data").map_err(backend)?;
    let (document, document_text) = if document_text {
        (Document::new(), Some(data))
    } else {
        (parse_document(&data)?, None)
    };
    Ok(StoredResource {
        seq: row.try_get("seq").map_err(backend)?,
        kind: kind_from_code(code)
            .ok_or_else(|| StoreError::Backend(format!("unknown resource kind {code}")))?,
        id: row.try_get("id").map_err(backend)?,
        version: row.try_get("version").map_err(backend)?,
        created: row.try_get("created").map_err(backend)?,
        modified: row.try_get("modified").map_err(backend)?,
        document,
        document_text,
        members: None,
        groups: None,
        password_hash: row.try_get("password_hash").map_err(backend)?,
    })
}

/// What is stored beside a document: its index rows and derived columns.
pub(crate) struct Derived {
    pub(crate) rows: Vec<IndexRow>,
    pub(crate) sort_name: Option<String>,
    pub(crate) display_key: Option<String>,
    pub(crate) data: String,
}

pub(crate) fn derive(
    store: &PostgresStore,
    kind: ResourceKind,
    document: &Document,
    display: Option<&str>,
) -> Result<Derived, StoreError> {
    let rt = resource_type(store, kind)?;
    let rows = index_rows(store.registry(), rt, document);
    // userName (Users) and displayName (Groups) sort through an indexed column holding the
    // same key as their index row. A case-insensitive userName has no row: it sorts by
    // `unique_key` (scimd_store::index::in_unique_key_column), and `sort_name` stays NULL.
    let sort_path = match kind {
        ResourceKind::User => "username",
        ResourceKind::Group => "displayname",
    };
    let sort_name = rows
        .iter()
        .find(|r| r.path == sort_path && r.elem == 0)
        .and_then(|r| r.text.clone());
    Ok(Derived {
        rows,
        sort_name,
        display_key: display.map(str::to_lowercase),
        data: serde_json::Value::Object(document.clone()).to_string(),
    })
}

pub(crate) async fn insert_index(
    conn: &mut PgConnection,
    tenant: TenantId,
    kind: ResourceKind,
    seq: i64,
    rows: &[IndexRow],
) -> Result<(), StoreError> {
    for chunk in rows.chunks(CHUNK / 4) {
        let mut sql = String::from(
            "INSERT INTO attr_index (tenant_id, kind, seq, path, elem, v_text, v_num) VALUES ",
        );
        let mut n = 3;
        for (i, _) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!(
                "($1, $2, $3, ${}, ${}, ${}, ${})",
                n + 1,
                n + 2,
                n + 3,
                n + 4
            ));
            n += 4;
        }
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.0)
            .bind(kind_code(kind))
            .bind(seq);
        for row in chunk {
            q = q
                .bind(row.path.clone())
                .bind(row.elem)
                .bind(row.text.clone())
                .bind(row.num);
        }
        q.execute(&mut *conn).await.map_err(backend)?;
    }
    Ok(())
}

fn placeholders(from: usize, count: usize) -> String {
    (from..from + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A member row to write: the member's sequence and the client's `display`, if any.
pub(crate) type MemberRow = (i64, Option<String>);

/// Resolves member ids (Users or Groups of the tenant) to row sequences, in order, without
/// duplicates. A missing member, or one of another type than the client said, is
/// [`StoreError::MemberNotFound`].
async fn resolve_members(
    conn: &mut PgConnection,
    tenant: TenantId,
    refs: &[MemberRef],
) -> Result<Vec<MemberRow>, StoreError> {
    let mut found: HashMap<String, (i64, i64)> = HashMap::new();
    let ids: Vec<&str> = refs
        .iter()
        .map(|r| r.value.as_str())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    for chunk in ids.chunks(CHUNK) {
        let sql = format!(
            "SELECT seq, id, kind FROM resources WHERE tenant_id = $1 AND kind IN (1, 2) AND id IN ({}) \
             ORDER BY seq FOR KEY SHARE",
            placeholders(2, chunk.len())
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(tenant.0);
        for id in chunk {
            q = q.bind(*id);
        }
        for row in q.fetch_all(&mut *conn).await.map_err(backend)? {
            found.insert(
                row.try_get("id").map_err(backend)?,
                (
                    row.try_get("seq").map_err(backend)?,
                    row.try_get("kind").map_err(backend)?,
                ),
            );
        }
    }
    let mut seen = HashSet::new();
    let mut seqs = Vec::new();
    for r in refs {
        let wanted = r.kind.map(|k| match k {
            MemberKind::User => kind_code(ResourceKind::User),
            MemberKind::Group => kind_code(ResourceKind::Group),
        });
        match found.get(&r.value) {
            Some(&(seq, code)) if wanted.is_none_or(|w| w == code) => {
                if seen.insert(seq) {
                    seqs.push((seq, r.display.clone()));
                }
            }
            _ => {
                return Err(StoreError::MemberNotFound {
                    value: r.value.clone(),
                });
            }
        }
    }
    Ok(seqs)
}

/// Inserts membership rows (an existing member keeps its row); returns the member seqs of
/// the rows that were new. `ON CONFLICT DO NOTHING`: a row another transaction inserted
/// concurrently counts as there.
pub(crate) async fn insert_members(
    conn: &mut PgConnection,
    tenant: TenantId,
    group_seq: i64,
    rows: &[MemberRow],
) -> Result<Vec<i64>, StoreError> {
    let mut inserted = Vec::new();
    for chunk in rows.chunks(CHUNK / 2) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| format!("($1, $2, ${}, ${})", 2 * i + 3, 2 * i + 4))
            .collect();
        let sql = format!(
            "INSERT INTO members (tenant_id, group_seq, member_seq, display) VALUES {} \
             ON CONFLICT DO NOTHING RETURNING member_seq",
            values.join(", ")
        );
        let mut q = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
            .bind(tenant.0)
            .bind(group_seq);
        for (seq, display) in chunk {
            q = q.bind(*seq).bind(display.clone());
        }
        inserted.extend(q.fetch_all(&mut *conn).await.map_err(backend)?);
    }
    Ok(inserted)
}

/// Deletes membership rows of `group_seq` whose member has one of `ids`; returns the member
/// seqs of the deleted rows.
async fn remove_members_by_id(
    conn: &mut PgConnection,
    tenant: TenantId,
    group_seq: i64,
    ids: &[String],
) -> Result<Vec<i64>, StoreError> {
    let mut deleted = Vec::new();
    for chunk in ids.chunks(CHUNK) {
        let sql = format!(
            "DELETE FROM members WHERE group_seq = $1 AND member_seq IN \
             (SELECT seq FROM resources WHERE tenant_id = $2 AND kind IN (1, 2) AND id IN ({})) \
             RETURNING member_seq",
            placeholders(3, chunk.len())
        );
        let mut q = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
            .bind(group_seq)
            .bind(tenant.0);
        for id in chunk {
            q = q.bind(id.clone());
        }
        deleted.extend(q.fetch_all(&mut *conn).await.map_err(backend)?);
    }
    Ok(deleted)
}

async fn remove_members_by_seq(
    conn: &mut PgConnection,
    group_seq: i64,
    seqs: &[i64],
) -> Result<Vec<i64>, StoreError> {
    let mut deleted = Vec::new();
    for chunk in seqs.chunks(CHUNK) {
        let sql = format!(
            "DELETE FROM members WHERE group_seq = $1 AND member_seq IN ({}) RETURNING member_seq",
            placeholders(2, chunk.len())
        );
        let mut q = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql)).bind(group_seq);
        for seq in chunk {
            q = q.bind(*seq);
        }
        deleted.extend(q.fetch_all(&mut *conn).await.map_err(backend)?);
    }
    Ok(deleted)
}

/// The ids of resources by seq, in the order given (for the member lists of events).
async fn ids_of(conn: &mut PgConnection, seqs: &[i64]) -> Result<Vec<String>, StoreError> {
    if seqs.is_empty() {
        return Ok(Vec::new());
    }
    let rows = sqlx::query("SELECT seq, id FROM resources WHERE seq = ANY($1)")
        .bind(seqs)
        .fetch_all(&mut *conn)
        .await
        .map_err(backend)?;
    let mut by_seq = HashMap::new();
    for row in rows {
        let seq: i64 = row.try_get("seq").map_err(backend)?;
        let id: String = row.try_get("id").map_err(backend)?;
        by_seq.insert(seq, id);
    }
    Ok(seqs.iter().filter_map(|s| by_seq.remove(s)).collect())
}

/// Fills `members` / `groups` of a page of resources with one query per chunk of rows (not
/// one per resource). `display` comes from the other resource's display column.
async fn load_into(
    conn: &mut PgConnection,
    resources: &mut [StoredResource],
    load: Load,
) -> Result<(), StoreError> {
    if load.members {
        let groups: Vec<i64> = resources
            .iter()
            .filter(|r| r.kind == ResourceKind::Group)
            .map(|r| r.seq)
            .collect();
        let mut by_group: HashMap<i64, Vec<Member>> = HashMap::new();
        for chunk in groups.chunks(CHUNK) {
            let sql = format!(
                "SELECT m.group_seq AS owner, x.id AS id, x.kind AS kind, \
                 COALESCE(m.display, x.display) AS display \
                 FROM members m JOIN resources x ON x.seq = m.member_seq \
                 WHERE m.group_seq IN ({}) ORDER BY m.group_seq, x.seq",
                placeholders(1, chunk.len())
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for seq in chunk {
                q = q.bind(*seq);
            }
            for row in q.fetch_all(&mut *conn).await.map_err(backend)? {
                let code: i64 = row.try_get("kind").map_err(backend)?;
                by_group
                    .entry(row.try_get("owner").map_err(backend)?)
                    .or_default()
                    .push(Member {
                        value: row.try_get("id").map_err(backend)?,
                        kind: if code == kind_code(ResourceKind::Group) {
                            MemberKind::Group
                        } else {
                            MemberKind::User
                        },
                        display: row.try_get("display").map_err(backend)?,
                    });
            }
        }
        for r in resources.iter_mut() {
            if r.kind == ResourceKind::Group {
                r.members = Some(by_group.remove(&r.seq).unwrap_or_default());
            }
        }
    }
    if load.groups {
        let seqs: Vec<i64> = resources.iter().map(|r| r.seq).collect();
        let mut by_member: HashMap<i64, Vec<GroupRef>> = HashMap::new();
        for chunk in seqs.chunks(CHUNK) {
            let sql = format!(
                "SELECT m.member_seq AS owner, g.id AS id, g.display AS display \
                 FROM members m JOIN resources g ON g.seq = m.group_seq \
                 WHERE m.member_seq IN ({}) ORDER BY m.member_seq, g.seq",
                placeholders(1, chunk.len())
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for seq in chunk {
                q = q.bind(*seq);
            }
            for row in q.fetch_all(&mut *conn).await.map_err(backend)? {
                by_member
                    .entry(row.try_get("owner").map_err(backend)?)
                    .or_default()
                    .push(GroupRef {
                        value: row.try_get("id").map_err(backend)?,
                        display: row.try_get("display").map_err(backend)?,
                    });
            }
        }
        for r in resources.iter_mut() {
            r.groups = Some(by_member.remove(&r.seq).unwrap_or_default());
        }
    }
    Ok(())
}

/// A resource by its row number (to read back what a write just stored).
static BY_SEQ: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {COLS} FROM resources r WHERE r.seq = $1"));

async fn fetch_by_seq(
    conn: &mut PgConnection,
    seq: i64,
    load: Load,
) -> Result<StoredResource, StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(BY_SEQ.as_str()))
        .bind(seq)
        .fetch_optional(&mut *conn)
        .await
        .map_err(backend)?
        .ok_or(StoreError::NotFound)?;
    // A write's read-back: its caller works on the document.
    let mut out = [resource_from_row(&row, false)?];
    load_into(conn, &mut out, load).await?;
    let [r] = out;
    Ok(r)
}

/// The current state of a resource, for a write.
struct Located {
    seq: i64,
    version: i64,
    document: Document,
    unique_key: Option<String>,
    external_id: Option<String>,
    display: Option<String>,
}

async fn locate(
    conn: &mut PgConnection,
    tenant: TenantId,
    kind: ResourceKind,
    id: &str,
) -> Result<Located, StoreError> {
    let row = sqlx::query(
        "SELECT seq, version, data, unique_key, external_id, display FROM resources \
         WHERE tenant_id = $1 AND kind = $2 AND id = $3 FOR UPDATE",
    )
    .bind(tenant.0)
    .bind(kind_code(kind))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(backend)?
    .ok_or(StoreError::NotFound)?;
    let data: String = row.try_get("data").map_err(backend)?;
    Ok(Located {
        seq: row.try_get("seq").map_err(backend)?,
        version: row.try_get("version").map_err(backend)?,
        document: parse_document(&data)?,
        unique_key: row.try_get("unique_key").map_err(backend)?,
        external_id: row.try_get("external_id").map_err(backend)?,
        display: row.try_get("display").map_err(backend)?,
    })
}

/// Rewrites the document, its derived columns and its index rows.
#[allow(clippy::too_many_arguments)]
async fn write_document(
    store: &PostgresStore,
    conn: &mut PgConnection,
    tenant: TenantId,
    kind: ResourceKind,
    seq: i64,
    document: &Document,
    unique_key: Option<&str>,
    external_id: Option<&str>,
    display: Option<&str>,
) -> Result<(), StoreError> {
    let d = derive(store, kind, document, display)?;
    sqlx::query(
        "UPDATE resources SET unique_key = $1, external_id = $2, display = $3, display_key = $4, \
         sort_name = $5, data = $6 WHERE seq = $7",
    )
    .bind(unique_key)
    .bind(external_id)
    .bind(display)
    .bind(d.display_key)
    .bind(d.sort_name)
    .bind(d.data)
    .bind(seq)
    .execute(&mut *conn)
    .await
    .map_err(|e| write_error(e, kind))?;
    sqlx::query("DELETE FROM attr_index WHERE seq = $1")
        .bind(seq)
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
    insert_index(conn, tenant, kind, seq, &d.rows).await
}

async fn bump_version(conn: &mut PgConnection, seq: i64, version: i64) -> Result<(), StoreError> {
    let now = now_micros();
    // The row is locked since `locate`; the condition guards the invariant regardless.
    let done = sqlx::query(
        "UPDATE resources SET version = version + 1, modified = $1, modified_us = $2 \
         WHERE seq = $3 AND version = $4",
    )
    .bind(format_rfc3339(now))
    .bind(now)
    .bind(seq)
    .bind(version)
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
    if done.rows_affected() == 0 {
        let current: Option<i64> =
            sqlx::query_scalar("SELECT version FROM resources WHERE seq = $1")
                .bind(seq)
                .fetch_optional(&mut *conn)
                .await
                .map_err(backend)?;
        return Err(match current {
            Some(current) => StoreError::VersionMismatch { current },
            None => StoreError::NotFound,
        });
    }
    Ok(())
}

/// Adds `delta` to the resource count of `tenant` and `kind` and to its `seq_buckets` count
/// of the bucket of `seq` (see [`scimd_store::listing::SeekPlan`]), both on the shard of
/// `seq`. Every write that inserts or deletes a resource row calls it in that transaction.
pub(crate) async fn count(
    conn: &mut PgConnection,
    tenant: TenantId,
    kind: ResourceKind,
    seq: i64,
    delta: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO resource_counts (tenant_id, kind, shard, n) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (tenant_id, kind, shard) DO UPDATE SET n = resource_counts.n + EXCLUDED.n",
    )
    .bind(tenant.0)
    .bind(kind_code(kind))
    .bind(seq.rem_euclid(COUNT_SHARDS))
    .bind(delta)
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
    // A statement of its own, after the total: every writer locks the two shard rows in the
    // same order (the statements of one `WITH` would run in no defined order).
    sqlx::query(
        "INSERT INTO seq_buckets (tenant_id, kind, bucket, shard, n) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (tenant_id, kind, bucket, shard) DO UPDATE SET n = seq_buckets.n + EXCLUDED.n",
    )
    .bind(tenant.0)
    .bind(kind_code(kind))
    .bind(seq >> SEQ_BUCKET_BITS)
    .bind(seq.rem_euclid(COUNT_SHARDS))
    .bind(delta)
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
    Ok(())
}

pub(crate) async fn create(
    store: &PostgresStore,
    tenant: TenantId,
    new: NewResource,
    change: Option<&Change>,
) -> Result<StoredResource, StoreError> {
    let kind = new.kind;
    let d = derive(store, kind, &new.document, new.display.as_deref())?;
    let now = now_micros();
    let stamp = format_rfc3339(now);
    let mut tx = store.begin().await?;
    let row = sqlx::query(
        "INSERT INTO resources (tenant_id, kind, id, unique_key, external_id, display, display_key, \
         sort_name, version, created, created_us, modified, modified_us, data, password_hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $10, $9, $10, $11, $12) RETURNING seq",
    )
    .bind(tenant.0)
    .bind(kind_code(kind))
    .bind(&new.id)
    .bind(&new.unique_key)
    .bind(&new.external_id)
    .bind(&new.display)
    .bind(d.display_key)
    .bind(d.sort_name)
    .bind(&stamp)
    .bind(now)
    .bind(d.data)
    .bind(&new.password_hash)
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| write_error(e, kind))?;
    let seq: i64 = row.try_get("seq").map_err(backend)?;
    insert_index(&mut tx, tenant, kind, seq, &d.rows).await?;
    let mut added = Vec::new();
    if kind == ResourceKind::Group && !new.members.is_empty() {
        let seqs = resolve_members(&mut tx, tenant, &new.members).await?;
        added = insert_members(&mut tx, tenant, seq, &seqs).await?;
    }
    // Last, so the counter shard is locked for as short a time as possible.
    count(&mut tx, tenant, kind, seq, 1).await?;
    let created = fetch_by_seq(&mut tx, seq, Load::ALL).await?;
    if let Some(change) = change {
        let facts = WriteFacts {
            after: Some(created.clone()),
            members_added: ids_of(&mut tx, &added).await?,
            ..WriteFacts::default()
        };
        let events = derive_events(kind, &new.id, false, &facts, change);
        outbox::record(&mut tx, tenant, events, change).await?;
    }
    tx.commit().await.map_err(backend)?;
    Ok(created)
}

/// A resource by id.
static BY_ID: LazyLock<String> = LazyLock::new(|| {
    format!("SELECT {COLS} FROM resources r WHERE r.tenant_id = $1 AND r.kind = $2 AND r.id = $3")
});

/// A resource by id with its groups as a JSON array of `[id, display]` pairs: one round
/// trip and one snapshot instead of two of each.
static BY_ID_WITH_GROUPS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {COLS}, (SELECT COALESCE(json_agg(json_build_array(g.id, g.display) \
         ORDER BY m.group_seq), '[]')::text FROM members m JOIN resources g \
         ON g.seq = m.group_seq WHERE m.member_seq = r.seq) AS groups_json \
         FROM resources r WHERE r.tenant_id = $1 AND r.kind = $2 AND r.id = $3"
    )
});

pub(crate) async fn get(
    store: &PostgresStore,
    tenant: TenantId,
    kind: ResourceKind,
    id: &str,
    load: Load,
) -> Result<Option<StoredResource>, StoreError> {
    let mut conn = store.inner.pool.acquire().await.map_err(backend)?;
    let sql = if load.groups {
        BY_ID_WITH_GROUPS.as_str()
    } else {
        BY_ID.as_str()
    };
    let Some(row) = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .bind(kind_code(kind))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(backend)?
    else {
        return Ok(None);
    };
    let mut resource = resource_from_row(&row, load.document_text)?;
    if load.groups {
        let groups: String = row.try_get("groups_json").map_err(backend)?;
        resource.groups = Some(GroupRef::list_from_json(&groups)?);
    }
    let mut out = [resource];
    load_into(
        &mut conn,
        &mut out,
        Load {
            groups: false,
            ..load
        },
    )
    .await?;
    let [r] = out;
    Ok(Some(r))
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn replace(
    store: &PostgresStore,
    tenant: TenantId,
    kind: ResourceKind,
    id: &str,
    expected_version: Option<i64>,
    rep: Replacement,
    load: Load,
    change: Option<&Change>,
) -> Result<StoredResource, StoreError> {
    let mut tx = store.begin().await?;
    let cur = locate(&mut tx, tenant, kind, id).await?;
    if let Some(expected) = expected_version
        && expected != cur.version
    {
        return Err(StoreError::VersionMismatch {
            current: cur.version,
        });
    }
    let mut changed = false;
    let (mut added, mut removed) = (Vec::new(), Vec::new());
    if cur.document != rep.document
        || cur.unique_key != rep.unique_key
        || cur.external_id != rep.external_id
        || cur.display != rep.display
    {
        write_document(
            store,
            &mut tx,
            tenant,
            kind,
            cur.seq,
            &rep.document,
            rep.unique_key.as_deref(),
            rep.external_id.as_deref(),
            rep.display.as_deref(),
        )
        .await?;
        changed = true;
    }
    if let (ResourceKind::Group, Some(members)) = (kind, &rep.members) {
        let wanted = resolve_members(&mut tx, tenant, members).await?;
        let current: HashSet<i64> =
            sqlx::query("SELECT member_seq FROM members WHERE group_seq = $1")
                .bind(cur.seq)
                .fetch_all(&mut *tx)
                .await
                .map_err(backend)?
                .iter()
                .map(|row| row.try_get::<i64, _>("member_seq"))
                .collect::<Result<_, _>>()
                .map_err(backend)?;
        let wanted_set: HashSet<i64> = wanted.iter().map(|(seq, _)| *seq).collect();
        let gone: Vec<i64> = current.difference(&wanted_set).copied().collect();
        let new: Vec<MemberRow> = wanted
            .into_iter()
            .filter(|(seq, _)| !current.contains(seq))
            .collect();
        removed = remove_members_by_seq(&mut tx, cur.seq, &gone).await?;
        added = insert_members(&mut tx, tenant, cur.seq, &new).await?;
        changed |= !removed.is_empty() || !added.is_empty();
    }
    if let Some(hash) = &rep.password_hash {
        set_password(&mut tx, cur.seq, hash).await?;
        changed = true;
    }
    if changed {
        bump_version(&mut tx, cur.seq, cur.version).await?;
    }
    let out = fetch_by_seq(&mut tx, cur.seq, load).await?;
    if let Some(change) = change {
        let facts = WriteFacts {
            before: Some(cur.document),
            after: Some(out.clone()),
            password_set: rep.password_hash.is_some(),
            members_added: ids_of(&mut tx, &added).await?,
            members_removed: ids_of(&mut tx, &removed).await?,
        };
        let events = if changed {
            derive_events(kind, id, false, &facts, change)
        } else {
            Vec::new()
        };
        outbox::record(&mut tx, tenant, events, change).await?;
    }
    tx.commit().await.map_err(backend)?;
    Ok(out)
}

async fn set_password(conn: &mut PgConnection, seq: i64, hash: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE resources SET password_hash = $1 WHERE seq = $2")
        .bind(hash)
        .bind(seq)
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn update(
    store: &PostgresStore,
    tenant: TenantId,
    kind: ResourceKind,
    id: &str,
    expected_version: i64,
    up: Update,
    load: Load,
    change: Option<&Change>,
) -> Result<StoredResource, StoreError> {
    let mut tx = store.begin().await?;
    let cur = locate(&mut tx, tenant, kind, id).await?;
    if (up.document.is_some() || up.version_pinned) && cur.version != expected_version {
        return Err(StoreError::VersionMismatch {
            current: cur.version,
        });
    }
    let mut changed = false;
    let mut delta = MemberDelta::default();
    if let Some(document) = &up.document
        && (cur.document != *document
            || cur.unique_key != up.unique_key
            || cur.external_id != up.external_id
            || cur.display != up.display)
    {
        write_document(
            store,
            &mut tx,
            tenant,
            kind,
            cur.seq,
            document,
            up.unique_key.as_deref(),
            up.external_id.as_deref(),
            up.display.as_deref(),
        )
        .await?;
        changed = true;
    }
    if kind == ResourceKind::Group {
        for op in &up.member_ops {
            match op {
                MemberOp::Add(refs) => {
                    let seqs = resolve_members(&mut tx, tenant, refs).await?;
                    let new = insert_members(&mut tx, tenant, cur.seq, &seqs).await?;
                    delta.record(new, true);
                }
                MemberOp::Remove(ids) => {
                    let gone = remove_members_by_id(&mut tx, tenant, cur.seq, ids).await?;
                    delta.record(gone, false);
                }
                MemberOp::Clear => {
                    let gone = sqlx::query_scalar::<_, i64>(
                        "DELETE FROM members WHERE group_seq = $1 RETURNING member_seq",
                    )
                    .bind(cur.seq)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(backend)?;
                    delta.record(gone, false);
                }
            }
        }
        changed |= delta.touched();
    }
    let (added, removed) = delta.net();
    if let Some(hash) = &up.password_hash {
        set_password(&mut tx, cur.seq, hash).await?;
        changed = true;
    }
    if changed {
        bump_version(&mut tx, cur.seq, cur.version).await?;
    }
    let out = fetch_by_seq(&mut tx, cur.seq, load).await?;
    if let Some(change) = change {
        let facts = WriteFacts {
            before: Some(cur.document),
            after: Some(out.clone()),
            password_set: up.password_hash.is_some(),
            members_added: ids_of(&mut tx, &added).await?,
            members_removed: ids_of(&mut tx, &removed).await?,
        };
        let events = if changed {
            derive_events(kind, id, false, &facts, change)
        } else {
            Vec::new()
        };
        outbox::record(&mut tx, tenant, events, change).await?;
    }
    tx.commit().await.map_err(backend)?;
    Ok(out)
}

pub(crate) async fn delete(
    store: &PostgresStore,
    tenant: TenantId,
    kind: ResourceKind,
    id: &str,
    expected_version: Option<i64>,
    change: Option<&Change>,
) -> Result<(), StoreError> {
    let mut tx = store.begin().await?;
    // Groups first, then the resource: the order in which Group updates lock them.
    sqlx::query(
        "SELECT g.seq FROM resources g WHERE g.seq IN (SELECT m.group_seq FROM members m \
         JOIN resources x ON x.seq = m.member_seq WHERE x.tenant_id = $1 AND x.kind = $2 AND x.id = $3) \
         ORDER BY g.seq FOR UPDATE",
    )
    .bind(tenant.0)
    .bind(kind_code(kind))
    .bind(id)
    .fetch_all(&mut *tx)
    .await
    .map_err(backend)?;
    let cur = locate(&mut tx, tenant, kind, id).await?;
    if let Some(expected) = expected_version
        && expected != cur.version
    {
        return Err(StoreError::VersionMismatch {
            current: cur.version,
        });
    }
    // Groups that lose this member change: new version, so their ETags change.
    let now = now_micros();
    sqlx::query(
        "UPDATE resources SET version = version + 1, modified = $1, modified_us = $2 \
         WHERE seq IN (SELECT group_seq FROM members WHERE member_seq = $3)",
    )
    .bind(format_rfc3339(now))
    .bind(now)
    .bind(cur.seq)
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    // Index rows and memberships in both directions go by ON DELETE CASCADE.
    sqlx::query("DELETE FROM resources WHERE seq = $1")
        .bind(cur.seq)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    count(&mut tx, tenant, kind, cur.seq, -1).await?;
    if let Some(change) = change {
        let events = derive_events(kind, id, true, &WriteFacts::default(), change);
        outbox::record(&mut tx, tenant, events, change).await?;
    }
    tx.commit().await.map_err(backend)?;
    Ok(())
}

fn plan(
    store: &PostgresStore,
    tenant: TenantId,
    kind: ResourceKind,
    query: &Query,
) -> Result<Plan, StoreError> {
    let rt = resource_type(store, kind)?;
    plan_listing(Postgres, store.registry(), rt, tenant, kind, query)
}

pub(crate) async fn query(
    store: &PostgresStore,
    tenant: TenantId,
    kind: ResourceKind,
    query: &Query,
) -> Result<QueryResult, StoreError> {
    let plan = plan(store, tenant, kind, query)?;
    // One read transaction: the total and the page come from the same snapshot. Dropped
    // (for example when the request is cancelled), it rolls back.
    //
    // A lookup by identifier (`userName eq`, `externalId eq`) is planned once per
    // connection: PostgreSQL's plan cache, comparing the generic plan's estimate with the
    // custom plans', can keep planning such a statement for every value once a tenant is
    // large, and planning then costs more than running it. Both settings travel in one
    // round trip; SET LOCAL ends with the transaction.
    let begin = if plan.value_independent {
        "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; \
         SET LOCAL plan_cache_mode = force_generic_plan"
    } else {
        "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
    };
    let mut tx = store.inner.pool.begin_with(begin).await.map_err(backend)?;
    let result = run_query(&mut tx, tenant, kind, query, &plan).await?;
    tx.commit().await.map_err(backend)?;
    Ok(result)
}

async fn run_query(
    conn: &mut PgConnection,
    tenant: TenantId,
    kind: ResourceKind,
    query: &Query,
    plan: &Plan,
) -> Result<QueryResult, StoreError> {
    let counted = if plan.total_in_page {
        None
    } else {
        Some(count_rows(&mut *conn, tenant, kind, plan).await?)
    };
    let mut binds = Cow::Borrowed(&plan.binds);
    if let Some(seek) = &plan.seek {
        // Same snapshot as the page (REPEATABLE READ): the counts describe exactly the rows
        // it skips.
        let rows = sqlx::query(
            "SELECT bucket, CAST(SUM(n) AS bigint) AS n FROM seq_buckets \
             WHERE tenant_id = $1 AND kind = $2 GROUP BY bucket ORDER BY bucket",
        )
        .bind(tenant.0)
        .bind(kind_code(kind))
        .fetch_all(&mut *conn)
        .await
        .map_err(backend)?;
        let buckets = rows
            .iter()
            .map(|row| Ok((row.try_get("bucket")?, row.try_get("n")?)))
            .collect::<Result<Vec<(i64, i64)>, sqlx::Error>>()
            .map_err(backend)?;
        seek.apply(binds.to_mut(), buckets);
    }
    let rows = bind_all(sqlx::query(sqlx::AssertSqlSafe(plan.page.clone())), &binds)
        .fetch_all(&mut *conn)
        .await
        .map_err(backend)?;
    let first_total = match rows.first() {
        Some(row) if plan.total_in_page => Some(row.try_get::<i64, _>("total").map_err(backend)?),
        _ => None,
    };
    let total = match counted.or_else(|| plan.total_from_page(first_total)) {
        Some(total) => total,
        None => count_rows(&mut *conn, tenant, kind, plan).await?,
    };
    let mut page = Vec::with_capacity(rows.len());
    for row in &rows {
        let value = if plan.numeric_sort {
            row.try_get::<Option<f64>, _>("sort_value")
                .map_err(backend)?
                .map(SqlValue::Num)
        } else {
            row.try_get::<Option<String>, _>("sort_value")
                .map_err(backend)?
                .map(SqlValue::Text)
        };
        let resource = resource_from_row(row, query.load.document_text)?;
        page.push((
            Position {
                value,
                seq: resource.seq,
            },
            resource,
        ));
    }
    let mut next_cursor = None;
    let mut previous_cursor = None;
    if let Some(c) = &plan.cursor {
        let more = page.len() as u64 > c.count;
        page.truncate(usize::try_from(c.count).unwrap_or(usize::MAX));
        if c.before {
            page.reverse();
        }
        let encode = |before: bool, position: &Position| {
            Cursor {
                before,
                position: position.clone(),
                fingerprint: c.fingerprint,
            }
            .encode()
        };
        // Reading forward, more rows mean a next page, and a given cursor means rows before;
        // reading backward, the other way round.
        let (has_next, has_previous) = if c.before {
            (true, more)
        } else {
            (more, c.given)
        };
        if has_next && let Some((pos, _)) = page.last() {
            next_cursor = Some(encode(false, pos));
        }
        if has_previous && let Some((pos, _)) = page.first() {
            previous_cursor = Some(encode(true, pos));
        }
    }
    let mut resources: Vec<StoredResource> = page.into_iter().map(|(_, r)| r).collect();
    load_into(conn, &mut resources, query.load).await?;
    Ok(QueryResult {
        total: u64::try_from(total).unwrap_or(0),
        resources,
        next_cursor,
        previous_cursor,
    })
}

/// The listing's total: its count statement, or the kind's row of `resource_counts`.
async fn count_rows(
    conn: &mut PgConnection,
    tenant: TenantId,
    kind: ResourceKind,
    plan: &Plan,
) -> Result<i64, StoreError> {
    Ok(match &plan.count {
        Some((sql, binds)) => bind_all(sqlx::query(sqlx::AssertSqlSafe(sql.clone())), binds)
            .fetch_one(&mut *conn)
            .await
            .and_then(|row| row.try_get("n"))
            .map_err(backend)?,
        None => sqlx::query(
            "SELECT CAST(COALESCE(SUM(n), 0) AS bigint) AS n FROM resource_counts \
             WHERE tenant_id = $1 AND kind = $2",
        )
        .bind(tenant.0)
        .bind(kind_code(kind))
        .fetch_optional(&mut *conn)
        .await
        .map_err(backend)?
        .map(|row| row.try_get("n"))
        .transpose()
        .map_err(backend)?
        .unwrap_or(0),
    })
}

/// `EXPLAIN` of a listing's page query and (when filtered) its count query, one line per
/// plan line, with the listing's values bound.
pub(crate) async fn explain(
    store: &PostgresStore,
    tenant: TenantId,
    kind: ResourceKind,
    query: &Query,
    settings: &[&'static str],
) -> Result<Vec<String>, StoreError> {
    let plan = plan(store, tenant, kind, query)?;
    let mut tx = store.inner.pool.begin().await.map_err(backend)?;
    for setting in settings {
        // `SET LOCAL`: ends with this transaction, so the pooled connection is unaffected.
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("SET LOCAL {setting}")))
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
    }
    let mut out = Vec::new();
    let mut statements = vec![(plan.page.clone(), plan.binds.clone())];
    statements.extend(plan.count.clone());
    for (sql, binds) in statements {
        let rows = bind_all(
            sqlx::query(sqlx::AssertSqlSafe(format!("EXPLAIN {sql}"))),
            &binds,
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
        for row in rows {
            out.push(row.try_get::<String, _>("QUERY PLAN").map_err(backend)?);
        }
    }
    tx.rollback().await.map_err(backend)?;
    Ok(out)
}
