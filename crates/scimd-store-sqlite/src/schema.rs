//! The SQLite schema and its versioned migrations (docs/ARCHITECTURE.md "Storage").
//!
//! Migrations are embedded SQL batches applied in order at start, each in the same
//! transaction as the bump of `schema_version`, so a crash mid-migration leaves the previous
//! version intact. A database written by a newer build (a higher version than this build
//! knows) is refused rather than guessed at.

use rusqlite::{Connection, TransactionBehavior};

use scimd_store::StoreError;

use crate::backend;

/// The migrations, in order; migration `n` (1-based) brings the schema to version `n`.
/// Never edit a released migration: append a new one.
pub const MIGRATIONS: &[&str] = &[
    // 1: tenants, credentials, resources, the attribute index, memberships, counts.
    r#"
CREATE TABLE tenants (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    settings    TEXT NOT NULL,
    created     TEXT NOT NULL
);

CREATE TABLE credentials (
    id          INTEGER PRIMARY KEY,
    tenant_id   INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    label       TEXT NOT NULL,
    client_id   TEXT UNIQUE,
    secret_hash TEXT NOT NULL,
    created     TEXT NOT NULL,
    revoked     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX credentials_secret_hash ON credentials(secret_hash);
CREATE INDEX credentials_tenant ON credentials(tenant_id);

-- One row per User or Group. `seq` is the insertion order (AUTOINCREMENT: never reused, so
-- cursors stay meaningful across deletes). `unique_key` is the lower-cased userName (or
-- Group displayName when unique); `sort_name` the comparison key of userName (Users) or
-- displayName (Groups); `display_key` the lower-cased `display`; `*_us` are microseconds.
CREATE TABLE resources (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id     INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    kind          INTEGER NOT NULL,
    id            TEXT NOT NULL,
    unique_key    TEXT,
    external_id   TEXT,
    display       TEXT,
    display_key   TEXT,
    sort_name     TEXT,
    version       INTEGER NOT NULL,
    created       TEXT NOT NULL,
    created_us    INTEGER NOT NULL,
    modified      TEXT NOT NULL,
    modified_us   INTEGER NOT NULL,
    data          TEXT NOT NULL,
    password_hash TEXT
);
-- Also orders each tenant's resources of a kind by seq (the implicit rowid suffix).
CREATE INDEX resources_tenant_kind ON resources(tenant_id, kind);
CREATE UNIQUE INDEX resources_id ON resources(tenant_id, kind, id);
CREATE UNIQUE INDEX resources_unique_key ON resources(tenant_id, kind, unique_key);
CREATE INDEX resources_external_id ON resources(tenant_id, kind, external_id);
CREATE INDEX resources_created ON resources(tenant_id, kind, created_us);
CREATE INDEX resources_modified ON resources(tenant_id, kind, modified_us);
CREATE INDEX resources_sort_name ON resources(tenant_id, kind, sort_name);

-- One row per indexed leaf value (scimd_store::index).
CREATE TABLE attr_index (
    tenant_id   INTEGER NOT NULL,
    kind        INTEGER NOT NULL,
    seq         INTEGER NOT NULL REFERENCES resources(seq) ON DELETE CASCADE,
    path        TEXT NOT NULL,
    elem        INTEGER NOT NULL,
    v_text      TEXT,
    v_num       REAL
);
CREATE INDEX attr_index_text ON attr_index(tenant_id, kind, path, v_text);
CREATE INDEX attr_index_num ON attr_index(tenant_id, kind, path, v_num);
CREATE INDEX attr_index_seq ON attr_index(seq, path, elem);

-- Group membership; User.groups is the reverse join.
CREATE TABLE members (
    tenant_id   INTEGER NOT NULL,
    group_seq   INTEGER NOT NULL REFERENCES resources(seq) ON DELETE CASCADE,
    member_seq  INTEGER NOT NULL REFERENCES resources(seq) ON DELETE CASCADE,
    -- The client's members[].display, kept as sent; NULL shows the member's own name.
    display     TEXT,
    PRIMARY KEY (group_seq, member_seq)
) WITHOUT ROWID;
CREATE INDEX members_member ON members(member_seq);

-- Exact totals for unfiltered listings, maintained by every create and delete.
CREATE TABLE resource_counts (
    tenant_id   INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    kind        INTEGER NOT NULL,
    n           INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, kind)
) WITHOUT ROWID;
"#,
    // 2: the outbox (events and their per-tenant counters), the audit log, admin tokens.
    r#"
-- The last event number of each tenant, bumped inside every write transaction that writes
-- events: numbers follow commit order and never repeat.
CREATE TABLE event_counters (
    tenant_id   INTEGER PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
    last_seq    INTEGER NOT NULL
);

-- The outbox (scimd_store::events). `resource`, `changed`, `members` are JSON text.
CREATE TABLE events (
    tenant_id   INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    id          TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    resource    TEXT,
    changed     TEXT NOT NULL,
    members     TEXT NOT NULL,
    actor       TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    time        TEXT NOT NULL,
    time_us     INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, seq)
) WITHOUT ROWID;
CREATE INDEX events_time ON events(time_us);

-- One row per SCIM request (scimd_store::audit). `tenant_id` is NULL when the tenant was
-- unknown; no foreign key, so the log outlives a deleted tenant until retention.
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY,
    time        TEXT NOT NULL,
    time_us     INTEGER NOT NULL,
    tenant_id   INTEGER,
    tenant      TEXT NOT NULL,
    actor       TEXT NOT NULL,
    client_ip   TEXT NOT NULL,
    user_agent  TEXT NOT NULL,
    method      TEXT NOT NULL,
    path        TEXT NOT NULL,
    status      INTEGER NOT NULL,
    scim_type   TEXT,
    resource_id TEXT,
    duration_ms INTEGER NOT NULL,
    request_id  TEXT NOT NULL
);
CREATE INDEX audit_log_tenant_time ON audit_log(tenant_id, time_us);
CREATE INDEX audit_log_time ON audit_log(time_us);

-- Tokens of the /admin/v1 API: never SCIM credentials (scimd_store::admin).
CREATE TABLE admin_tokens (
    id          INTEGER PRIMARY KEY,
    label       TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    created     TEXT NOT NULL,
    revoked     INTEGER NOT NULL DEFAULT 0
);
"#,
    // 3: webhook endpoints, the delivery queue and the attempt log (`webhooks.rs`).
    crate::webhooks::MIGRATION,
    // 4: resources per range of seqs, for deep index pages (scimd_store::listing::SeekPlan).
    r#"
-- The number of a tenant's resources of a kind whose seq is in `bucket` = seq >> 12
-- (scimd_store::listing::SEQ_BUCKET_BITS), maintained by every create and delete in their
-- transaction, like resource_counts. A plain index page at offset N starts at the first seq
-- of the bucket holding row N instead of skipping N rows. Rows that reach 0 are kept.
CREATE TABLE seq_buckets (
    tenant_id   INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    kind        INTEGER NOT NULL,
    bucket      INTEGER NOT NULL,
    n           INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, kind, bucket)
) WITHOUT ROWID;
INSERT INTO seq_buckets (tenant_id, kind, bucket, n)
    SELECT tenant_id, kind, seq >> 12, COUNT(*) FROM resources GROUP BY 1, 2, 3;
"#,
    // 5: a leaner attribute index for the write path, and the credential generation.
    r#"
-- attr_index keyed by (seq, n), n numbering a resource's rows: the table is its own seq
-- index (one B-tree instead of a rowid table plus attr_index_seq), and v_num is indexed only
-- where set (about one row in five; every numeric condition implies v_num IS NOT NULL).
CREATE TABLE attr_index_v5 (
    seq         INTEGER NOT NULL REFERENCES resources(seq) ON DELETE CASCADE,
    n           INTEGER NOT NULL,
    tenant_id   INTEGER NOT NULL,
    kind        INTEGER NOT NULL,
    path        TEXT NOT NULL,
    elem        INTEGER NOT NULL,
    v_text      TEXT,
    v_num       REAL,
    PRIMARY KEY (seq, n)
) WITHOUT ROWID;
-- A resource's rows are always replaced together, so the old rowid is a valid n for the
-- rows copied here (new rows are numbered 0..); numbering them afresh would sort every row
-- of the index in memory.
INSERT INTO attr_index_v5 (seq, n, tenant_id, kind, path, elem, v_text, v_num)
    SELECT seq, rowid, tenant_id, kind, path, elem, v_text, v_num FROM attr_index;
DROP TABLE attr_index;
ALTER TABLE attr_index_v5 RENAME TO attr_index;
CREATE INDEX attr_index_text ON attr_index(tenant_id, kind, path, v_text);
CREATE INDEX attr_index_num ON attr_index(tenant_id, kind, path, v_num) WHERE v_num IS NOT NULL;

-- Bumped by every change that can invalidate an authenticated credential (revocation,
-- tenant deletion, tenant settings): servers poll it to drop their credential caches.
CREATE TABLE auth_generation (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    n   INTEGER NOT NULL
);
INSERT INTO auth_generation (id, n) VALUES (1, 0);
"#,
];

/// Brings the database to the latest schema version.
pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    conn.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        .map_err(backend)?;
    let known = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
    // A migration that builds an index over existing rows sorts them all; with the
    // connection's in-memory temporary storage that sort would hold the whole index in RAM
    // (measured: 270 MiB for 200k users), so migrations spill to temporary files instead.
    conn.execute_batch("PRAGMA temp_store = FILE")
        .map_err(backend)?;
    let applied = apply(conn);
    conn.execute_batch("PRAGMA temp_store = MEMORY")
        .map_err(backend)?;
    applied?;
    let current = current_version(conn)?;
    if current > known {
        return Err(StoreError::Backend(format!(
            "the database schema is version {current}, newer than this build's {known}"
        )));
    }
    Ok(())
}

/// Applies each migration the database does not have yet, one transaction each.
fn apply(conn: &mut Connection) -> Result<(), StoreError> {
    for (version, sql) in (1_i64..).zip(MIGRATIONS.iter()) {
        // The version is read inside the write transaction, so two processes opening the
        // same new file apply each migration once.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend)?;
        if current_version(&tx)? >= version {
            tx.commit().map_err(backend)?;
            continue;
        }
        tx.execute_batch(sql).map_err(backend)?;
        tx.execute(
            "INSERT INTO schema_version (version) VALUES (?1)",
            [version],
        )
        .map_err(backend)?;
        tx.commit().map_err(backend)?;
    }
    Ok(())
}

fn current_version(conn: &Connection) -> Result<i64, StoreError> {
    conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_version",
        [],
        |row| row.get(0),
    )
    .map_err(backend)
}
