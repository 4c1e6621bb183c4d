//! Users and Groups in SQLite: writes (with their index rows, memberships and counts, each
//! in one transaction) and listings (RFC 7644 §3.4.2: filter, sort, index and cursor pages).
//!
//! Everything a call needs from the database runs in one closure on one connection
//! ([`crate::db`]); what can be computed without the database (index rows, serialised
//! documents, the listing SQL) is computed before, off the single writer thread.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use rusqlite::{Connection, Row};
use scimd_core::datetime::format_rfc3339;
use scimd_core::filter::{CompValue, CompareOp, Filter};
use scimd_core::schema::{GROUP_SCHEMA, ResourceKind, ResourceType, USER_SCHEMA};
use scimd_core::{MemberKind, MemberOp, MemberRef};
use scimd_store::cursor::Cursor;
use scimd_store::events::{Change, MemberDelta, WriteFacts, derive_events};
use scimd_store::index::{IndexRow, index_rows};
use scimd_store::listing::{
    COLUMN_COUNT, COLUMNS as COLS, ListingPlan as Plan, SEQ_BUCKET_BITS, plan_listing,
};
use scimd_store::sql::{Position, SqlValue, Sqlite, kind_code, kind_from_code};
use scimd_store::{
    Document, GroupRef, Load, Member, NewResource, Query, QueryResult, Replacement, StoreError,
    StoredResource, TenantId, Update,
};

use crate::db::{
    execute, in_read_snapshot, is_foreign_key_violation, is_unique_violation, query_all, query_opt,
};
use crate::{SqliteStore, backend, now_micros, outbox, params_of};

fn resource_type(store: &SqliteStore, kind: ResourceKind) -> Result<&ResourceType, StoreError> {
    store
        .registry()
        .resource_type_of(kind)
        .ok_or_else(|| StoreError::Backend(format!("no resource type for {}", kind.as_str())))
}

/// Maps a failed resource write: unique indexes to [`StoreError::UniqueViolation`], a
/// missing tenant to [`StoreError::TenantNotFound`].
pub(crate) fn write_error(e: rusqlite::Error, kind: ResourceKind) -> StoreError {
    if is_unique_violation(&e) {
        let attribute = if e.to_string().contains("unique_key") {
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
    if is_foreign_key_violation(&e) {
        return StoreError::TenantNotFound;
    }
    backend(e)
}

pub(crate) fn parse_document(data: &str) -> Result<Document, StoreError> {
    serde_json::from_str(data).map_err(|e| StoreError::Backend(format!("stored document: {e}")))
}

/// A `resources` row as read by [`COLS`] (in that column order), before its document is
/// parsed.
struct ResourceRow {
    seq: i64,
    kind: i64,
    id: String,
    version: i64,
    created: String,
    modified: String,
    data: String,
    password_hash: Option<String>,
}

impl ResourceRow {
    fn read(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            seq: row.get(0)?,
            kind: row.get(1)?,
            id: row.get(2)?,
            version: row.get(3)?,
            created: row.get(4)?,
            modified: row.get(5)?,
            data: row.get(6)?,
            password_hash: row.get(7)?,
        })
    }

    /// The resource, its document parsed, or left as text when `document_text`.
    fn decode(self, document_text: bool) -> Result<StoredResource, StoreError> {
        let (document, document_text) = if document_text {
            (Document::new(), Some(self.data))
        } else {
            (parse_document(&self.data)?, None)
        };
        Ok(StoredResource {
            seq: self.seq,
            kind: kind_from_code(self.kind).ok_or_else(|| {
                StoreError::Backend(format!("unknown resource kind {}", self.kind))
            })?,
            id: self.id,
            version: self.version,
            created: self.created,
            modified: self.modified,
            document,
            document_text,
            members: None,
            groups: None,
            password_hash: self.password_hash,
        })
    }
}

/// What is stored beside a document: its index rows and derived columns.
pub(crate) struct Derived {
    pub(crate) rows: Vec<IndexRow>,
    pub(crate) sort_name: Option<String>,
    pub(crate) display_key: Option<String>,
    pub(crate) data: String,
}

pub(crate) fn derive(
    store: &SqliteStore,
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

pub(crate) fn insert_index(
    conn: &Connection,
    tenant: TenantId,
    kind: ResourceKind,
    seq: i64,
    rows: &[IndexRow],
) -> Result<(), StoreError> {
    // One cached single-row statement: re-executing a prepared insert costs less than
    // preparing a multi-row one per distinct row count.
    let mut st = conn
        .prepare_cached(
            "INSERT INTO attr_index (seq, n, tenant_id, kind, path, elem, v_text, v_num) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .map_err(backend)?;
    let code = kind_code(kind);
    // `n` numbers the resource's rows: with `seq` it is the table's key (schema version 5).
    for (n, row) in (0_i64..).zip(rows) {
        st.execute((
            seq, n, tenant.0, code, &row.path, row.elem, &row.text, row.num,
        ))
        .map_err(backend)?;
    }
    Ok(())
}

/// A member row to write: the member's sequence and the client's `display`, if any.
pub(crate) type MemberRow = (i64, Option<String>);

/// Resolves member ids (Users or Groups of the tenant) to row sequences, in order, without
/// duplicates. A missing member, or one of another type than the client said, is
/// [`StoreError::MemberNotFound`].
fn resolve_members(
    conn: &Connection,
    tenant: TenantId,
    refs: &[MemberRef],
) -> Result<Vec<MemberRow>, StoreError> {
    let mut found: HashMap<String, (i64, i64)> = HashMap::new();
    let mut st = conn
        .prepare_cached(
            "SELECT seq, kind FROM resources WHERE tenant_id = ?1 AND kind IN (1, 2) AND id = ?2",
        )
        .map_err(backend)?;
    for id in refs
        .iter()
        .map(|r| r.value.as_str())
        .collect::<HashSet<_>>()
    {
        let mut rows = st.query((tenant.0, id)).map_err(backend)?;
        while let Some(row) = rows.next().map_err(backend)? {
            found.insert(
                id.to_owned(),
                (row.get(0).map_err(backend)?, row.get(1).map_err(backend)?),
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
/// the rows that were new.
pub(crate) fn insert_members(
    conn: &Connection,
    tenant: TenantId,
    group_seq: i64,
    rows: &[MemberRow],
) -> Result<Vec<i64>, StoreError> {
    let mut st = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO members (tenant_id, group_seq, member_seq, display) \
             VALUES (?1, ?2, ?3, ?4)",
        )
        .map_err(backend)?;
    let mut inserted = Vec::new();
    for (seq, display) in rows {
        if st
            .execute((tenant.0, group_seq, seq, display))
            .map_err(backend)?
            == 1
        {
            inserted.push(*seq);
        }
    }
    Ok(inserted)
}

/// Deletes membership rows of `group_seq` whose member has one of `ids`; returns the member
/// seqs of the deleted rows.
fn remove_members_by_id(
    conn: &Connection,
    tenant: TenantId,
    group_seq: i64,
    ids: &[String],
) -> Result<Vec<i64>, StoreError> {
    let mut st = conn
        .prepare_cached(
            "DELETE FROM members WHERE group_seq = ?1 AND member_seq IN \
             (SELECT seq FROM resources WHERE tenant_id = ?2 AND kind IN (1, 2) AND id = ?3) \
             RETURNING member_seq",
        )
        .map_err(backend)?;
    let mut deleted = Vec::new();
    for id in ids {
        let mut rows = st.query((group_seq, tenant.0, id)).map_err(backend)?;
        while let Some(row) = rows.next().map_err(backend)? {
            deleted.push(row.get(0).map_err(backend)?);
        }
    }
    Ok(deleted)
}

fn remove_members_by_seq(
    conn: &Connection,
    group_seq: i64,
    seqs: &[i64],
) -> Result<Vec<i64>, StoreError> {
    let mut st = conn
        .prepare_cached("DELETE FROM members WHERE group_seq = ?1 AND member_seq = ?2")
        .map_err(backend)?;
    let mut deleted = Vec::new();
    for &seq in seqs {
        if st.execute((group_seq, seq)).map_err(backend)? == 1 {
            deleted.push(seq);
        }
    }
    Ok(deleted)
}

/// The ids of resources by seq, in the order given (for the member lists of events).
fn ids_of(conn: &Connection, seqs: &[i64]) -> Result<Vec<String>, StoreError> {
    let mut st = conn
        .prepare_cached("SELECT id FROM resources WHERE seq = ?1")
        .map_err(backend)?;
    let mut out = Vec::with_capacity(seqs.len());
    for &seq in seqs {
        let mut rows = st.query([seq]).map_err(backend)?;
        if let Some(row) = rows.next().map_err(backend)? {
            out.push(row.get(0).map_err(backend)?);
        }
    }
    Ok(out)
}

/// The groups a resource is a direct member of (`User.groups`), in group order.
pub(crate) const GROUPS_OF: &str = "SELECT g.id, g.display FROM members m \
     JOIN resources g ON g.seq = m.group_seq WHERE m.member_seq = ?1 ORDER BY m.group_seq";

/// Fills `members` / `groups` of resources, one cached statement per resource.
/// `display` comes from the other resource's display column unless the client gave one.
fn load_into(
    conn: &Connection,
    resources: &mut [StoredResource],
    load: Load,
) -> Result<(), StoreError> {
    if load.members {
        let mut st = conn
            .prepare_cached(
                "SELECT x.id, x.kind, COALESCE(m.display, x.display) \
                 FROM members m JOIN resources x ON x.seq = m.member_seq \
                 WHERE m.group_seq = ?1 ORDER BY m.member_seq",
            )
            .map_err(backend)?;
        for r in resources
            .iter_mut()
            .filter(|r| r.kind == ResourceKind::Group)
        {
            let members = st
                .query_map([r.seq], |row| {
                    let code: i64 = row.get(1)?;
                    Ok(Member {
                        value: row.get(0)?,
                        kind: if code == kind_code(ResourceKind::Group) {
                            MemberKind::Group
                        } else {
                            MemberKind::User
                        },
                        display: row.get(2)?,
                    })
                })
                .and_then(Iterator::collect)
                .map_err(backend)?;
            r.members = Some(members);
        }
    }
    if load.groups {
        let mut st = conn.prepare_cached(GROUPS_OF).map_err(backend)?;
        for r in resources.iter_mut() {
            let groups = st
                .query_map([r.seq], |row| {
                    Ok(GroupRef {
                        value: row.get(0)?,
                        display: row.get(1)?,
                    })
                })
                .and_then(Iterator::collect)
                .map_err(backend)?;
            r.groups = Some(groups);
        }
    }
    Ok(())
}

/// A resource by its row number (to read back what a write just stored).
static BY_SEQ: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {COLS} FROM resources r WHERE r.seq = ?1"));

fn fetch_by_seq(conn: &Connection, seq: i64, load: Load) -> Result<StoredResource, StoreError> {
    let row = query_opt(conn, &BY_SEQ, [seq], ResourceRow::read)?.ok_or(StoreError::NotFound)?;
    // A write's read-back: its caller works on the document.
    let mut out = [row.decode(false)?];
    load_into(conn, &mut out, load)?;
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

fn locate(
    conn: &Connection,
    tenant: TenantId,
    kind: ResourceKind,
    id: &str,
) -> Result<Located, StoreError> {
    let (seq, version, data, unique_key, external_id, display) = query_opt(
        conn,
        "SELECT seq, version, data, unique_key, external_id, display FROM resources \
         WHERE tenant_id = ?1 AND kind = ?2 AND id = ?3",
        (tenant.0, kind_code(kind), id),
        |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, String>(2)?,
                row.get(3)?,
                row.get(4)?,
                row.get(5)?,
            ))
        },
    )?
    .ok_or(StoreError::NotFound)?;
    Ok(Located {
        seq,
        version,
        document: parse_document(&data)?,
        unique_key,
        external_id,
        display,
    })
}

/// A new document with everything stored beside it, computed before the write.
pub(crate) struct NewDocument {
    document: Document,
    unique_key: Option<String>,
    external_id: Option<String>,
    display: Option<String>,
    derived: Derived,
}

impl NewDocument {
    /// Whether storing this would change the resource.
    fn differs(&self, cur: &Located) -> bool {
        cur.document != self.document
            || cur.unique_key != self.unique_key
            || cur.external_id != self.external_id
            || cur.display != self.display
    }
}

/// Rewrites the document, its derived columns and its index rows.
fn write_document(
    conn: &Connection,
    tenant: TenantId,
    kind: ResourceKind,
    seq: i64,
    new: &NewDocument,
) -> Result<(), StoreError> {
    let d = &new.derived;
    conn.prepare_cached(
        "UPDATE resources SET unique_key = ?1, external_id = ?2, display = ?3, display_key = ?4, \
         sort_name = ?5, data = ?6 WHERE seq = ?7",
    )
    .and_then(|mut st| {
        st.execute((
            &new.unique_key,
            &new.external_id,
            &new.display,
            &d.display_key,
            &d.sort_name,
            &d.data,
            seq,
        ))
    })
    .map_err(|e| write_error(e, kind))?;
    execute(conn, "DELETE FROM attr_index WHERE seq = ?1", [seq])?;
    insert_index(conn, tenant, kind, seq, &d.rows)
}

fn bump_version(conn: &Connection, seq: i64) -> Result<(), StoreError> {
    let now = now_micros();
    execute(
        conn,
        "UPDATE resources SET version = version + 1, modified = ?1, modified_us = ?2 WHERE seq = ?3",
        (format_rfc3339(now), now, seq),
    )?;
    Ok(())
}

fn set_password(conn: &Connection, seq: i64, hash: &str) -> Result<(), StoreError> {
    execute(
        conn,
        "UPDATE resources SET password_hash = ?1 WHERE seq = ?2",
        (hash, seq),
    )?;
    Ok(())
}

fn version_mismatch(expected: Option<i64>, current: i64) -> Result<(), StoreError> {
    match expected {
        Some(expected) if expected != current => Err(StoreError::VersionMismatch { current }),
        _ => Ok(()),
    }
}

/// Adds `delta` to `seq_buckets` for the bucket of `seq` (see
/// [`scimd_store::listing::SeekPlan`]); every write that inserts or deletes a resource row
/// calls it in the same transaction.
pub(crate) fn count_in_bucket(
    conn: &Connection,
    tenant: TenantId,
    kind: ResourceKind,
    seq: i64,
    delta: i64,
) -> Result<(), StoreError> {
    execute(
        conn,
        "INSERT INTO seq_buckets (tenant_id, kind, bucket, n) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (tenant_id, kind, bucket) DO UPDATE SET n = n + excluded.n",
        (tenant.0, kind_code(kind), seq >> SEQ_BUCKET_BITS, delta),
    )?;
    Ok(())
}

pub(crate) async fn create(
    store: &SqliteStore,
    tenant: TenantId,
    new: NewResource,
    change: Option<&Change>,
) -> Result<StoredResource, StoreError> {
    let derived = derive(store, new.kind, &new.document, new.display.as_deref())?;
    let change = change.cloned();
    store
        .write(move |conn| create_in(conn, tenant, &new, &derived, change.as_ref()))
        .await
}

fn create_in(
    conn: &Connection,
    tenant: TenantId,
    new: &NewResource,
    d: &Derived,
    change: Option<&Change>,
) -> Result<StoredResource, StoreError> {
    let kind = new.kind;
    let now = now_micros();
    let stamp = format_rfc3339(now);
    let seq: i64 = conn
        .prepare_cached(
            "INSERT INTO resources (tenant_id, kind, id, unique_key, external_id, display, \
             display_key, sort_name, version, created, created_us, modified, modified_us, data, \
             password_hash) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 1, ?9, ?10, ?9, ?10, ?11, ?12) RETURNING seq",
        )
        .and_then(|mut st| {
            st.query_row(
                rusqlite::params![
                    tenant.0,
                    kind_code(kind),
                    new.id,
                    new.unique_key,
                    new.external_id,
                    new.display,
                    d.display_key,
                    d.sort_name,
                    stamp,
                    now,
                    d.data,
                    new.password_hash,
                ],
                |row| row.get(0),
            )
        })
        .map_err(|e| write_error(e, kind))?;
    insert_index(conn, tenant, kind, seq, &d.rows)?;
    let mut added = Vec::new();
    if kind == ResourceKind::Group && !new.members.is_empty() {
        let seqs = resolve_members(conn, tenant, &new.members)?;
        added = insert_members(conn, tenant, seq, &seqs)?;
    }
    execute(
        conn,
        "INSERT INTO resource_counts (tenant_id, kind, n) VALUES (?1, ?2, 1) \
         ON CONFLICT (tenant_id, kind) DO UPDATE SET n = n + 1",
        (tenant.0, kind_code(kind)),
    )?;
    count_in_bucket(conn, tenant, kind, seq, 1)?;
    let created = if new.members.is_empty() {
        just_created(seq, new, stamp)
    } else {
        // The member list shows each member's own name: read it back.
        fetch_by_seq(conn, seq, Load::ALL)?
    };
    let Some(change) = change else {
        return Ok(created);
    };
    let facts = WriteFacts {
        after: Some(created),
        members_added: ids_of(conn, &added)?,
        ..WriteFacts::default()
    };
    let events = derive_events(kind, &new.id, false, &facts, change);
    outbox::record(conn, tenant, events, change)?;
    facts
        .after
        .ok_or_else(|| StoreError::Backend("the created resource was lost".into()))
}

/// A resource without members as [`fetch_by_seq`] with [`Load::ALL`] would read it right
/// after its insert, built from what was inserted instead of read back (5% of the writer's
/// time per created user, measured): nothing can be a member of it yet, so its group list is
/// empty. The document is the one whose serialization was stored; parsing that text gives
/// it back unchanged (serde_json's `float_roundtrip` keeps even numbers exact).
fn just_created(seq: i64, new: &NewResource, stamp: String) -> StoredResource {
    StoredResource {
        seq,
        kind: new.kind,
        id: new.id.clone(),
        version: 1,
        created: stamp.clone(),
        modified: stamp,
        document: new.document.clone(),
        document_text: None,
        members: (new.kind == ResourceKind::Group).then(Vec::new),
        groups: Some(Vec::new()),
        password_hash: new.password_hash.clone(),
    }
}

/// A resource by id.
static BY_ID: LazyLock<String> = LazyLock::new(|| {
    format!("SELECT {COLS} FROM resources r WHERE r.tenant_id = ?1 AND r.kind = ?2 AND r.id = ?3")
});

/// A resource by id with its groups as a JSON array of `[id, display]` pairs, from the same
/// statement, so both come from one snapshot (two autocommit statements could straddle a
/// membership change) and a GET by id opens one read transaction instead of two.
///
/// The groups are ordered by a subquery rather than `ORDER BY` inside the aggregate: SQLite
/// sorts an ordered aggregate's input in a temporary B-tree even when the index already
/// yields that order, and opening one cost a few percent of every GET. An aggregate over a
/// subquery with `ORDER BY` is never flattened, so it sees the rows in `members_member`'s
/// order, which is `group_seq` (the test `groups_by_id_need_no_sort` holds the plan). The
/// subquery is [`GROUPS_OF`] correlated with the outer row.
pub(crate) static BY_ID_WITH_GROUPS: LazyLock<String> = LazyLock::new(|| {
    let groups = GROUPS_OF.replace("?1", "r.seq");
    format!(
        "SELECT {COLS}, (SELECT json_group_array(json_array(x.id, x.display)) FROM \
         ({groups}) x) FROM resources r WHERE r.tenant_id = ?1 AND r.kind = ?2 AND r.id = ?3"
    )
});

pub(crate) async fn get(
    store: &SqliteStore,
    tenant: TenantId,
    kind: ResourceKind,
    id: &str,
    load: Load,
) -> Result<Option<StoredResource>, StoreError> {
    let id = id.to_owned();
    let read = move |conn: &Connection| {
        let params = (tenant.0, kind_code(kind), &id);
        let found = if load.groups {
            query_opt(conn, &BY_ID_WITH_GROUPS, params, |row| {
                Ok((
                    ResourceRow::read(row)?,
                    Some(row.get::<_, String>(COLUMN_COUNT)?),
                ))
            })?
        } else {
            query_opt(conn, &BY_ID, params, |row| {
                Ok((ResourceRow::read(row)?, None))
            })?
        };
        let Some((row, groups)) = found else {
            return Ok(None);
        };
        let mut resource = row.decode(load.document_text)?;
        if let Some(groups) = groups {
            resource.groups = Some(GroupRef::list_from_json(&groups)?);
        }
        let mut out = [resource];
        load_into(
            conn,
            &mut out,
            Load {
                groups: false,
                ..load
            },
        )?;
        let [r] = out;
        Ok(Some(r))
    };
    // A Group's member list can be any size: only reads without it are point reads.
    if load.members && kind == ResourceKind::Group {
        store.read(read).await
    } else {
        store.read_point(read).await
    }
}

/// What a replace or update did: whether anything changed, and the member rows really
/// added and removed (for its events).
struct Outcome {
    changed: bool,
    added: Vec<i64>,
    removed: Vec<i64>,
}

/// Finishes a replace or update: bumps the version when something changed, reads the
/// result and records its events.
#[allow(clippy::too_many_arguments)]
fn finish_write(
    conn: &Connection,
    tenant: TenantId,
    kind: ResourceKind,
    id: &str,
    cur: Located,
    outcome: Outcome,
    password_set: bool,
    load: Load,
    change: Option<&Change>,
) -> Result<StoredResource, StoreError> {
    if outcome.changed {
        bump_version(conn, cur.seq)?;
    }
    let out = fetch_by_seq(conn, cur.seq, load)?;
    if let Some(change) = change {
        let facts = WriteFacts {
            before: Some(cur.document),
            after: Some(out.clone()),
            password_set,
            members_added: ids_of(conn, &outcome.added)?,
            members_removed: ids_of(conn, &outcome.removed)?,
        };
        let events = if outcome.changed {
            derive_events(kind, id, false, &facts, change)
        } else {
            Vec::new()
        };
        outbox::record(conn, tenant, events, change)?;
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn replace(
    store: &SqliteStore,
    tenant: TenantId,
    kind: ResourceKind,
    id: &str,
    expected_version: Option<i64>,
    rep: Replacement,
    load: Load,
    change: Option<&Change>,
) -> Result<StoredResource, StoreError> {
    let derived = derive(store, kind, &rep.document, rep.display.as_deref())?;
    let new = NewDocument {
        document: rep.document,
        unique_key: rep.unique_key,
        external_id: rep.external_id,
        display: rep.display,
        derived,
    };
    let (members, password_hash) = (rep.members, rep.password_hash);
    let (id, change) = (id.to_owned(), change.cloned());
    store
        .write(move |conn| {
            let cur = locate(conn, tenant, kind, &id)?;
            version_mismatch(expected_version, cur.version)?;
            let mut outcome = Outcome {
                changed: false,
                added: Vec::new(),
                removed: Vec::new(),
            };
            if new.differs(&cur) {
                write_document(conn, tenant, kind, cur.seq, &new)?;
                outcome.changed = true;
            }
            if let (ResourceKind::Group, Some(members)) = (kind, &members) {
                let wanted = resolve_members(conn, tenant, members)?;
                let current: HashSet<i64> = query_all(
                    conn,
                    "SELECT member_seq FROM members WHERE group_seq = ?1",
                    [cur.seq],
                    |row| row.get(0),
                )?
                .into_iter()
                .collect();
                let wanted_set: HashSet<i64> = wanted.iter().map(|(seq, _)| *seq).collect();
                let gone: Vec<i64> = current.difference(&wanted_set).copied().collect();
                let fresh: Vec<MemberRow> = wanted
                    .into_iter()
                    .filter(|(seq, _)| !current.contains(seq))
                    .collect();
                outcome.removed = remove_members_by_seq(conn, cur.seq, &gone)?;
                outcome.added = insert_members(conn, tenant, cur.seq, &fresh)?;
                outcome.changed |= !outcome.removed.is_empty() || !outcome.added.is_empty();
            }
            if let Some(hash) = &password_hash {
                set_password(conn, cur.seq, hash)?;
                outcome.changed = true;
            }
            let password_set = password_hash.is_some();
            finish_write(
                conn,
                tenant,
                kind,
                &id,
                cur,
                outcome,
                password_set,
                load,
                change.as_ref(),
            )
        })
        .await
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn update(
    store: &SqliteStore,
    tenant: TenantId,
    kind: ResourceKind,
    id: &str,
    expected_version: i64,
    up: Update,
    load: Load,
    change: Option<&Change>,
) -> Result<StoredResource, StoreError> {
    let new = match up.document {
        Some(document) => Some(NewDocument {
            derived: derive(store, kind, &document, up.display.as_deref())?,
            document,
            unique_key: up.unique_key,
            external_id: up.external_id,
            display: up.display,
        }),
        None => None,
    };
    let (member_ops, password_hash, pinned) = (up.member_ops, up.password_hash, up.version_pinned);
    let (id, change) = (id.to_owned(), change.cloned());
    store
        .write(move |conn| {
            let cur = locate(conn, tenant, kind, &id)?;
            if new.is_some() || pinned {
                version_mismatch(Some(expected_version), cur.version)?;
            }
            let mut changed = false;
            if let Some(new) = new.as_ref().filter(|n| n.differs(&cur)) {
                write_document(conn, tenant, kind, cur.seq, new)?;
                changed = true;
            }
            let mut delta = MemberDelta::default();
            if kind == ResourceKind::Group {
                for op in &member_ops {
                    match op {
                        MemberOp::Add(refs) => {
                            let seqs = resolve_members(conn, tenant, refs)?;
                            delta.record(insert_members(conn, tenant, cur.seq, &seqs)?, true);
                        }
                        MemberOp::Remove(ids) => {
                            delta.record(remove_members_by_id(conn, tenant, cur.seq, ids)?, false);
                        }
                        MemberOp::Clear => {
                            let gone = query_all(
                                conn,
                                "DELETE FROM members WHERE group_seq = ?1 RETURNING member_seq",
                                [cur.seq],
                                |row| row.get(0),
                            )?;
                            delta.record(gone, false);
                        }
                    }
                }
                changed |= delta.touched();
            }
            let (added, removed) = delta.net();
            if let Some(hash) = &password_hash {
                set_password(conn, cur.seq, hash)?;
                changed = true;
            }
            let outcome = Outcome {
                changed,
                added,
                removed,
            };
            let password_set = password_hash.is_some();
            finish_write(
                conn,
                tenant,
                kind,
                &id,
                cur,
                outcome,
                password_set,
                load,
                change.as_ref(),
            )
        })
        .await
}

pub(crate) async fn delete(
    store: &SqliteStore,
    tenant: TenantId,
    kind: ResourceKind,
    id: &str,
    expected_version: Option<i64>,
    change: Option<&Change>,
) -> Result<(), StoreError> {
    let (id, change) = (id.to_owned(), change.cloned());
    store
        .write(move |conn| {
            let cur = locate(conn, tenant, kind, &id)?;
            version_mismatch(expected_version, cur.version)?;
            // Groups that lose this member change: new version, so their ETags change.
            let now = now_micros();
            execute(
                conn,
                "UPDATE resources SET version = version + 1, modified = ?1, modified_us = ?2 \
                 WHERE seq IN (SELECT group_seq FROM members WHERE member_seq = ?3)",
                (format_rfc3339(now), now, cur.seq),
            )?;
            // Index rows and memberships in both directions go by ON DELETE CASCADE.
            execute(conn, "DELETE FROM resources WHERE seq = ?1", [cur.seq])?;
            execute(
                conn,
                "UPDATE resource_counts SET n = n - 1 WHERE tenant_id = ?1 AND kind = ?2",
                (tenant.0, kind_code(kind)),
            )?;
            count_in_bucket(conn, tenant, kind, cur.seq, -1)?;
            if let Some(change) = &change {
                let events = derive_events(kind, &id, true, &WriteFacts::default(), change);
                outbox::record(conn, tenant, events, change)?;
            }
            Ok(())
        })
        .await
}

fn plan(
    store: &SqliteStore,
    tenant: TenantId,
    kind: ResourceKind,
    query: &Query,
) -> Result<Plan, StoreError> {
    let rt = resource_type(store, kind)?;
    plan_listing(Sqlite, store.registry(), rt, tenant, kind, query)
}

pub(crate) async fn query(
    store: &SqliteStore,
    tenant: TenantId,
    kind: ResourceKind,
    query: &Query,
) -> Result<QueryResult, StoreError> {
    let plan = plan(store, tenant, kind, query)?;
    let load = query.load;
    let single = query.filter.as_ref().is_some_and(|f| at_most_one(kind, f));
    // At most one row, and a page that starts at the first row and asks for one or more:
    // the page holds the whole result, so its length is the total and no COUNT runs.
    let total = if single && plan.empty_page_means_none {
        Total::PageLength
    } else {
        Total::Counted
    };
    let read = move |conn: &Connection| {
        // One read transaction: the total, the page and its members come from the same
        // snapshot.
        in_read_snapshot(conn, |conn| {
            run_query(conn, tenant, kind, load, &plan, total)
        })
    };
    let bounded = single && !(load.members && kind == ResourceKind::Group);
    if bounded {
        // The IdPs' lookup before every create (`userName eq "…"`) is a point read.
        store.read_point(read).await
    } else {
        store.read_listing(read).await
    }
}

/// Whether a filter is a single `id eq "…"` (any kind) or `userName eq "…"` (Users; unique
/// ignoring case): at most one row, found through one index probe. (A conjunction is not
/// taken: its other side may still scan before the rows are intersected.)
pub(crate) fn at_most_one(kind: ResourceKind, filter: &Filter) -> bool {
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: CompValue::String(_),
        } => {
            let core = path.urn.as_deref().is_none_or(|urn| {
                urn.eq_ignore_ascii_case(USER_SCHEMA) || urn.eq_ignore_ascii_case(GROUP_SCHEMA)
            });
            core && path.sub.is_none()
                && (path.name.eq_ignore_ascii_case("id")
                    || (kind == ResourceKind::User && path.name.eq_ignore_ascii_case("userName")))
        }
        _ => false,
    }
}

/// Where a listing's `totalResults` comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Total {
    /// The count query (or the tenant's counter when unfiltered).
    Counted,
    /// The number of rows the page read: it holds every match (see [`query`]).
    PageLength,
}

fn run_query(
    conn: &Connection,
    tenant: TenantId,
    kind: ResourceKind,
    load: Load,
    plan: &Plan,
    total_from: Total,
) -> Result<QueryResult, StoreError> {
    // The SQLite dialect never puts the total in the page (`total_in_page`): counted apart,
    // unless the page holds every match.
    let counted: Option<i64> = match (total_from, &plan.count) {
        (Total::PageLength, _) => None,
        (Total::Counted, Some((sql, binds))) => {
            Some(query_opt(conn, sql, params_of(binds), |row| row.get(0))?.unwrap_or(0))
        }
        (Total::Counted, None) => Some(
            query_opt(
                conn,
                "SELECT n FROM resource_counts WHERE tenant_id = ?1 AND kind = ?2",
                (tenant.0, kind_code(kind)),
                |row| row.get(0),
            )?
            .unwrap_or(0),
        ),
    };
    let mut binds = Cow::Borrowed(&plan.binds);
    if let Some(seek) = &plan.seek {
        // Same transaction as the page: the counts describe exactly the rows it skips.
        let buckets = query_all(
            conn,
            "SELECT bucket, n FROM seq_buckets WHERE tenant_id = ?1 AND kind = ?2 \
             ORDER BY bucket",
            (tenant.0, kind_code(kind)),
            |row| Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?)),
        )?;
        seek.apply(binds.to_mut(), buckets);
    }
    let numeric = plan.numeric_sort;
    let rows = query_all(conn, &plan.page, params_of(&binds), |row| {
        let value = if numeric {
            row.get::<_, Option<f64>>("sort_value")?.map(SqlValue::Num)
        } else {
            row.get::<_, Option<String>>("sort_value")?
                .map(SqlValue::Text)
        };
        Ok((value, ResourceRow::read(row)?))
    })?;
    let total = counted.unwrap_or_else(|| i64::try_from(rows.len()).unwrap_or(i64::MAX));
    let mut page = Vec::with_capacity(rows.len());
    for (value, row) in rows {
        let resource = row.decode(load.document_text)?;
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
    load_into(conn, &mut resources, load)?;
    Ok(QueryResult {
        total: u64::try_from(total).unwrap_or(0),
        resources,
        next_cursor,
        previous_cursor,
    })
}

/// `EXPLAIN QUERY PLAN` of a listing's page query and (when filtered) its count query.
pub(crate) async fn explain(
    store: &SqliteStore,
    tenant: TenantId,
    kind: ResourceKind,
    query: &Query,
) -> Result<Vec<String>, StoreError> {
    let plan = plan(store, tenant, kind, query)?;
    store
        .read(move |conn| {
            let mut out = Vec::new();
            let mut statements = vec![(plan.page.clone(), plan.binds.clone())];
            statements.extend(plan.count.clone());
            for (sql, binds) in statements {
                let mut st = conn
                    .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                    .map_err(backend)?;
                let details = st
                    .query_map(params_of(&binds), |row| row.get::<_, String>("detail"))
                    .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
                    .map_err(backend)?;
                out.extend(details);
            }
            Ok(out)
        })
        .await
}
