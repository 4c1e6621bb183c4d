//! Tests of the SQLite store against real database files in temporary directories: the
//! shared conformance suite (`scimd_store::testsuite`, every test and property test the
//! PostgreSQL backend runs too) and the SQLite-specific ones (query plans, reopening files,
//! schema versions).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::Arc;
use std::time::Duration;

use scimd_core::schema::{Registry, ResourceKind};
use scimd_core::sort::SortSpec;
use scimd_store::testsuite::{Fixture, list, seed_users, tenant, user};
use scimd_store::{Load, Page, Query, Store, StoreError};
use serde_json::json;

use crate::SqliteStore;

/// A store on a new file in a temporary directory (created with missing parents).
pub(crate) struct TestDb {
    pub store: SqliteStore,
    // Keeps the directory alive for the test's duration.
    _dir: tempfile::TempDir,
}

impl Fixture for TestDb {
    type Store = SqliteStore;
    fn store(&self) -> &SqliteStore {
        &self.store
    }
}

async fn open_with(registry: Arc<Registry>) -> Option<TestDb> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/dir/scimd.db");
    let store = SqliteStore::open(path.to_str().unwrap(), registry)
        .await
        .unwrap();
    Some(TestDb { store, _dir: dir })
}

pub(crate) async fn open() -> TestDb {
    open_with(Arc::new(Registry::builtin())).await.unwrap()
}

scimd_store::conformance_tests!(open_with);

#[tokio::test]
async fn reopening_keeps_data_and_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scimd.db");
    let url = format!("sqlite://{}", path.display());
    let reg = Arc::new(Registry::builtin());
    {
        let s = SqliteStore::open(&url, reg.clone()).await.unwrap();
        let t = tenant(&s, "acme").await;
        s.create(t, user("u1", "a", json!({}))).await.unwrap();
        s.close().await;
    }
    let s = SqliteStore::open(path.to_str().unwrap(), reg)
        .await
        .unwrap();
    let t = s.tenant_by_name("acme").await.unwrap().unwrap().id;
    assert!(
        s.get(t, ResourceKind::User, "u1", Load::NONE)
            .await
            .unwrap()
            .is_some()
    );
    assert!(matches!(
        SqliteStore::open(":memory:", Arc::new(Registry::builtin())).await,
        Err(StoreError::Backend(_))
    ));
}

#[tokio::test]
async fn filters_run_on_indexes() {
    let db = open().await;
    let s = &db.store;
    let t = tenant(s, "acme").await;
    seed_users(s, t, 5).await;
    for f in [
        "userName eq \"x\"",
        "externalId eq \"x\"",
        "emails[type eq \"work\"].value eq \"x\"",
        "userName sw \"us\"",
        "displayName eq \"x\"",
        "meta.lastModified gt \"2020-01-01T00:00:00Z\"",
        "members.value eq \"x\"",
        // Element rows: `v_num = 1` on the partial number index.
        "emails pr",
    ] {
        let kind = if f.starts_with("members") {
            ResourceKind::Group
        } else {
            ResourceKind::User
        };
        let plan = s.explain_query(t, kind, &list(Some(f))).await.unwrap();
        let text = plan.join("\n");
        for line in &plan {
            // `SCAN x` without an index is a full table scan.
            let full_scan = line.starts_with("SCAN ") && !line.contains("INDEX");
            assert!(!full_scan, "{f}: full scan in plan:\n{text}");
        }
        let expected = match f.split_whitespace().next() {
            Some("externalId") => {
                "resources_external_id (tenant_id=? AND kind=? AND external_id=?)"
            }
            Some("meta.lastModified") => {
                "resources_modified (tenant_id=? AND kind=? AND modified_us>?)"
            }
            Some("members.value") => "resources_id (tenant_id=? AND kind=? AND id=?)",
            Some("emails") => "attr_index_num (tenant_id=? AND kind=? AND path=? AND v_num=?)",
            // userName is read from its unique column (scimd_store::index::in_unique_key_column).
            Some("userName") if f.contains(" sw ") => {
                "resources_unique_key (tenant_id=? AND kind=? AND unique_key>? AND unique_key<?)"
            }
            Some("userName") => "resources_unique_key (tenant_id=? AND kind=? AND unique_key=?)",
            _ => "attr_index_text (tenant_id=? AND kind=? AND path=? AND v_text=?)",
        };
        assert!(text.contains(expected), "{f}: plan:\n{text}");
    }
}

#[tokio::test]
async fn cursor_pages_seek_instead_of_skipping() {
    let db = open().await;
    let s = &db.store;
    let t = tenant(s, "acme").await;
    seed_users(s, t, 12).await;
    let first = Query {
        filter: None,
        sort: None,
        page: Page::Cursor {
            cursor: None,
            count: 5,
        },
        load: Load::NONE,
    };
    let page = s.query(t, ResourceKind::User, &first).await.unwrap();
    let next = Query {
        page: Page::Cursor {
            cursor: page.next_cursor,
            count: 5,
        },
        ..first.clone()
    };
    let plan = s
        .explain_query(t, ResourceKind::User, &next)
        .await
        .unwrap()
        .join("\n");
    assert!(
        plan.contains("resources_tenant_kind (tenant_id=? AND kind=? AND rowid>?)"),
        "{plan}"
    );
    assert!(!plan.contains("TEMP B-TREE"), "{plan}");
    let by_modified = Query {
        sort: Some(SortSpec::parse("meta.lastModified", None).unwrap()),
        ..first
    };
    let plan = s
        .explain_query(t, ResourceKind::User, &by_modified)
        .await
        .unwrap()
        .join("\n");
    assert!(
        !plan.contains("SCAN r\n") && !plan.ends_with("SCAN r"),
        "{plan}"
    );
}

#[tokio::test]
async fn newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scimd.db");
    let reg = Arc::new(Registry::builtin());
    let s = SqliteStore::open(path.to_str().unwrap(), reg.clone())
        .await
        .unwrap();
    s.write(|conn| {
        crate::db::execute(conn, "INSERT INTO schema_version (version) VALUES (99)", [])
    })
    .await
    .unwrap();
    s.close().await;
    // Opening twice is idempotent; a schema from a newer build is not touched.
    let err = SqliteStore::open(path.to_str().unwrap(), reg)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Backend(m) if m.contains("newer")),
        "{err:?}"
    );
}

/// Writes queued together commit together, each in its own savepoint: a failing write
/// (a duplicate userName) undoes itself and nothing else, and leaves no index rows behind.
#[tokio::test]
async fn group_commit_isolates_failed_writes() {
    let db = open().await;
    let s = &db.store;
    let t = tenant(s, "acme").await;
    let mut writes = tokio::task::JoinSet::new();
    for i in 0..64 {
        let s = s.clone();
        // Names repeat every 16: 16 winners, 48 conflicts, all in flight at once.
        let name = format!("user{}", i % 16);
        writes.spawn(async move { s.create(t, user(&format!("id{i}"), &name, json!({}))).await });
    }
    let (mut created, mut conflicts) = (0, 0);
    while let Some(done) = writes.join_next().await {
        match done.unwrap() {
            Ok(_) => created += 1,
            Err(StoreError::UniqueViolation { attribute }) => {
                assert_eq!(attribute, "userName");
                conflicts += 1;
            }
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!((created, conflicts), (16, 48));
    let all = s.query(t, ResourceKind::User, &list(None)).await.unwrap();
    assert_eq!(all.total, 16);
    assert_eq!(all.resources.len(), 16);
    // Every winner is found through its index row, and no loser left one.
    let found = s
        .query(t, ResourceKind::User, &list(Some("userName sw \"user\"")))
        .await
        .unwrap();
    assert_eq!(found.total, 16);
    let orphans: i64 = s
        .read(|conn| {
            conn.query_row(
                "SELECT COUNT(*) FROM attr_index WHERE seq NOT IN (SELECT seq FROM resources)",
                [],
                |row| row.get(0),
            )
            .map_err(crate::backend)
        })
        .await
        .unwrap();
    assert_eq!(orphans, 0);
}

/// Listings never hold every read connection: with as many listings running as may, one
/// more waits for a slot, and a GET by id still finds a connection at once.
#[tokio::test]
async fn listings_leave_read_connections_to_point_reads() {
    let db = open().await;
    let s = &db.store;
    let t = tenant(s, "acme").await;
    let id = s
        .create(t, user("u1", "alice", json!({})))
        .await
        .unwrap()
        .id;
    let (release, released) = std::sync::mpsc::channel::<()>();
    let released = Arc::new(std::sync::Mutex::new(released));
    let (started_tx, mut started) = tokio::sync::mpsc::unbounded_channel::<()>();
    let mut listings = tokio::task::JoinSet::new();
    for _ in 0..=crate::db::LISTING_CONNECTIONS {
        let s = s.clone();
        let released = Arc::clone(&released);
        let started_tx = started_tx.clone();
        listings.spawn(async move {
            s.read_listing(move |_conn| {
                let _ = started_tx.send(());
                // Held until the test releases it.
                let _ = released.lock().unwrap().recv();
                Ok(())
            })
            .await
        });
    }
    let wait = Duration::from_secs(5);
    for _ in 0..crate::db::LISTING_CONNECTIONS {
        tokio::time::timeout(wait, started.recv()).await.unwrap();
    }
    assert!(
        tokio::time::timeout(Duration::from_millis(300), started.recv())
            .await
            .is_err(),
        "a listing ran beyond the listing slots"
    );
    let found = tokio::time::timeout(wait, s.get(t, ResourceKind::User, &id, Load::NONE))
        .await
        .expect("the point read waited behind the listings")
        .unwrap();
    assert_eq!(found.unwrap().id, id);
    // A released slot goes to the waiting listing.
    release.send(()).unwrap();
    tokio::time::timeout(wait, started.recv()).await.unwrap();
    for _ in 0..crate::db::LISTING_CONNECTIONS {
        release.send(()).unwrap();
    }
    while let Some(done) = listings.join_next().await {
        done.unwrap().unwrap();
    }
}

/// A write that fails after changing rows cannot be undone alone without a savepoint: its
/// group is rolled back and run again with one savepoint per write. Each write's effect
/// lands exactly once (a second insert of the same unique name would fail) and none of a
/// failed write's rows survive, whether it shared its group or ran alone.
#[tokio::test]
async fn writes_failing_after_changes_are_undone_alone() {
    let db = open().await;
    let s = &db.store;
    let run = |s: SqliteStore, name: String, fail: bool| async move {
        s.write(move |conn| {
            crate::db::execute(
                conn,
                "INSERT INTO tenants (name, settings, created) VALUES (?1, '{}', 'now')",
                [&name],
            )?;
            if fail {
                return Err(StoreError::Backend(format!("{name} gave up")));
            }
            Ok(())
        })
        .await
    };
    // Alone: the failed write's insert is rolled back.
    let alone = run(s.clone(), "alone".into(), true).await.unwrap_err();
    assert!(matches!(&alone, StoreError::Backend(m) if m == "alone gave up"));
    // Together: every fourth write fails after its insert.
    let mut writes = tokio::task::JoinSet::new();
    for i in 0_u32..64 {
        writes.spawn(run(s.clone(), format!("t{i}"), i.is_multiple_of(4)));
    }
    let (mut ok, mut failed) = (0, 0);
    while let Some(done) = writes.join_next().await {
        match done.unwrap() {
            Ok(()) => ok += 1,
            Err(StoreError::Backend(m)) if m.ends_with("gave up") => failed += 1,
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!((ok, failed), (48, 16));
    let names: Vec<String> = s
        .read(|conn| crate::db::query_all(conn, "SELECT name FROM tenants", [], |r| r.get(0)))
        .await
        .unwrap();
    assert_eq!(names.len(), 48, "{names:?}");
    assert!(names.iter().all(|n| {
        let i: usize = n.trim_start_matches('t').parse().unwrap();
        !i.is_multiple_of(4)
    }));
    // Later groups (run with savepoints for a while) still commit.
    run(s.clone(), "after".into(), false).await.unwrap();
}

/// Cached statements run as prepared: a statement whose plan looked at a bound value would
/// be re-prepared on every use once the cache clears its bindings (see `db::connect`).
#[tokio::test]
async fn cached_statements_are_not_reprepared() {
    let db = open().await;
    let s = &db.store;
    let t = tenant(s, "acme").await;
    seed_users(s, t, 5).await;
    let reprepared = s
        .read(move |conn| {
            for i in 0..5_i64 {
                let mut st = conn.prepare_cached(crate::resources::GROUPS_OF).unwrap();
                st.query_map([i], |_| Ok(())).unwrap().for_each(drop);
            }
            let st = conn.prepare_cached(crate::resources::GROUPS_OF).unwrap();
            Ok(st.get_status(rusqlite::StatementStatus::RePrepare))
        })
        .await
        .unwrap();
    assert_eq!(reprepared, 0);
}

/// A read by id with its groups walks `members_member` in `group_seq` order and sorts
/// nothing: no temporary B-tree (the order of the list comes from the index; the shared
/// suite's `groups_of_a_resource_read_by_id` checks the order itself).
#[tokio::test]
async fn groups_by_id_need_no_sort() {
    let db = open().await;
    let plan = db
        .store
        .read(|conn| {
            let mut st = conn
                .prepare(&format!(
                    "EXPLAIN QUERY PLAN {}",
                    *crate::resources::BY_ID_WITH_GROUPS
                ))
                .unwrap();
            let lines: Vec<String> = st
                .query_map([1_i64, 1, 1], |row| row.get::<_, String>(3))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            Ok(lines.join("\n"))
        })
        .await
        .unwrap();
    assert!(!plan.contains("TEMP B-TREE"), "{plan}");
    assert!(plan.contains("members_member (member_seq=?)"), "{plan}");
    assert!(
        plan.contains("resources_id (tenant_id=? AND kind=? AND id=?)"),
        "{plan}"
    );
}

/// Only single-row lookups are run as point reads on the caller's thread.
#[test]
fn point_lookups_are_recognised() {
    use scimd_core::filter::parse_filter;
    let bounded = |kind, f: &str| crate::resources::at_most_one(kind, &parse_filter(f).unwrap());
    assert!(bounded(ResourceKind::User, "userName eq \"a@b.c\""));
    assert!(bounded(ResourceKind::User, "USERNAME eq \"a\""));
    assert!(bounded(
        ResourceKind::User,
        "urn:ietf:params:scim:schemas:core:2.0:User:userName eq \"a\""
    ));
    assert!(bounded(ResourceKind::Group, "id eq \"x\""));
    for (kind, f) in [
        (ResourceKind::User, "userName sw \"a\""),
        (ResourceKind::User, "userName eq \"a\" or userName eq \"b\""),
        (ResourceKind::User, "userName eq \"a\" and title co \"x\""),
        (ResourceKind::User, "externalId eq \"a\""),
        (ResourceKind::Group, "displayName eq \"a\""),
        (ResourceKind::User, "emails[value eq \"a\"]"),
    ] {
        assert!(!bounded(kind, f), "{f}");
    }
}

/// The checkpointer thread copies committed WAL pages into the database file while the
/// store is open, although the writer's own automatic checkpoint is far from due.
#[tokio::test]
async fn checkpointer_copies_the_wal_into_the_database_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scimd.db");
    let s = SqliteStore::open(
        &format!("sqlite://{}", path.display()),
        Arc::new(Registry::builtin()),
    )
    .await
    .unwrap();
    let t = tenant(&s, "acme").await;
    let file_len = || std::fs::metadata(&path).unwrap().len();
    let before = file_len();
    seed_users(&s, t, 200).await;
    let wal_len = std::fs::metadata(dir.path().join("scimd.db-wal"))
        .unwrap()
        .len();
    // Far below the writer's backstop: only the checkpointer can move these pages.
    assert!(wal_len < 4096 * 4096, "WAL of {wal_len} bytes");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while file_len() <= before {
        assert!(
            std::time::Instant::now() < deadline,
            "the WAL was never checkpointed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    s.close().await;
}

/// A deep plain index page starts on the `(tenant_id, kind)` index at the bucket's first
/// seq (a range on the rowid suffix), in index order: no sort, no full scan.
#[tokio::test]
async fn deep_index_pages_seek_on_the_tenant_index() {
    let db = open().await;
    let s = &db.store;
    let t = tenant(s, "acme").await;
    seed_users(s, t, 3).await;
    let deep = Query {
        filter: None,
        sort: None,
        page: Page::Index {
            start_index: 900_001,
            count: 100,
        },
        load: Load::NONE,
    };
    let plan = s
        .explain_query(t, ResourceKind::User, &deep)
        .await
        .unwrap()
        .join("\n");
    assert!(
        plan.contains("resources_tenant_kind (tenant_id=? AND kind=? AND rowid>?)"),
        "{plan}"
    );
    assert!(!plan.contains("TEMP B-TREE"), "{plan}");
}

/// A new database file at schema `version`, migrated the way that build would have, for
/// filling with rows of that era before this build opens it.
fn database_at_version(path: &std::path::Path, version: usize) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        .unwrap();
    for (v, sql) in (1_i64..).zip(&crate::schema::MIGRATIONS[..version]) {
        conn.execute_batch(sql).unwrap();
        conn.execute("INSERT INTO schema_version (version) VALUES (?1)", [v])
            .unwrap();
    }
    conn
}

/// Migration 4 fills `seq_buckets` from the rows already there: a database written at
/// version 3 (two tenants, Users and Groups interleaved, deleted rows leaving gaps) pages
/// deep exactly once opened by this build, and the counts equal a fresh `GROUP BY`.
#[tokio::test]
async fn migration_fills_seq_buckets_from_existing_rows() {
    use scimd_store::testsuite::paging::assert_pages_exact;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scimd.db");
    {
        let conn = database_at_version(&path, 3);
        conn.execute_batch(
            "INSERT INTO tenants (id, name, settings, created) VALUES \
               (1, 'acme', '{}', '2024-01-01T00:00:00.000Z'), \
               (2, 'globex', '{}', '2024-01-01T00:00:00.000Z');
             WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < 16000)
             INSERT INTO resources (tenant_id, kind, id, unique_key, version, created, \
               created_us, modified, modified_us, data) \
             SELECT CASE WHEN n % 5 = 0 THEN 2 ELSE 1 END, CASE WHEN n % 7 = 0 THEN 2 ELSE 1 END, \
               'r' || n, 'r' || n, 1, '2024-01-01T00:00:00.000Z', 0, \
               '2024-01-01T00:00:00.000Z', 0, json_object('userName', 'r' || n) FROM i;
             DELETE FROM resources WHERE seq % 13 = 0 OR seq BETWEEN 4000 AND 4500;
             INSERT INTO resource_counts (tenant_id, kind, n) \
               SELECT tenant_id, kind, COUNT(*) FROM resources GROUP BY 1, 2;",
        )
        .unwrap();
    }
    let s = SqliteStore::open(path.to_str().unwrap(), Arc::new(Registry::builtin()))
        .await
        .unwrap();
    let (version, mismatches, rows): (i64, i64, i64) = s
        .read(|conn| {
            conn.query_row(
                "SELECT (SELECT MAX(version) FROM schema_version), \
                   (SELECT COUNT(*) FROM (SELECT tenant_id, kind, seq >> 12 AS bucket, COUNT(*) AS n \
                      FROM resources GROUP BY 1, 2, 3 \
                    EXCEPT SELECT tenant_id, kind, bucket, n FROM seq_buckets)), \
                   (SELECT COUNT(*) FROM seq_buckets)",
                [],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .map_err(crate::backend)
        })
        .await
        .unwrap();
    assert_eq!(version, crate::schema::MIGRATIONS.len() as i64);
    assert_eq!(mismatches, 0);
    // Tenant 1 and 2, Users and Groups, buckets 0 to 3 each.
    assert_eq!(rows, 16);
    let acme = scimd_store::TenantId(1);
    assert!(assert_pages_exact(&s, acme, ResourceKind::User).await >= 5);
    assert_pages_exact(&s, acme, ResourceKind::Group).await;
    assert_pages_exact(&s, scimd_store::TenantId(2), ResourceKind::User).await;
    s.close().await;
}

/// Migration 5 rebuilds `attr_index` keyed by `(seq, n)`: every row of a version-4 database
/// survives under its resource, and filters on text and numbers still find them through the
/// new indexes.
#[tokio::test]
async fn migration_rekeys_attr_index_and_keeps_every_row() {
    use scimd_core::filter::parse_filter;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scimd.db");
    {
        let conn = database_at_version(&path, 4);
        conn.execute_batch(
            "INSERT INTO tenants (id, name, settings, created) VALUES \
               (1, 'acme', '{}', '2024-01-01T00:00:00.000Z');
             WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < 300)
             INSERT INTO resources (tenant_id, kind, id, unique_key, version, created, \
               created_us, modified, modified_us, data) \
             SELECT 1, 1, 'r' || n, 'user' || n, 1, '2024-01-01T00:00:00.000Z', 0, \
               '2024-01-01T00:00:00.000Z', 0, json_object('userName', 'user' || n) FROM i;
             INSERT INTO attr_index (tenant_id, kind, seq, path, elem, v_text, v_num) \
               SELECT 1, 1, seq, 'username', 0, unique_key, NULL FROM resources;
             INSERT INTO attr_index (tenant_id, kind, seq, path, elem, v_text, v_num) \
               SELECT 1, 1, seq, 'active', 0, CASE WHEN seq % 2 = 0 THEN 'true' ELSE 'false' END, NULL \
               FROM resources;
             INSERT INTO attr_index (tenant_id, kind, seq, path, elem, v_text, v_num) \
               SELECT 1, 1, seq, 'x:score', 0, NULL, seq * 1.5 FROM resources;
             INSERT INTO resource_counts (tenant_id, kind, n) VALUES (1, 1, 300);
             INSERT INTO seq_buckets (tenant_id, kind, bucket, n) VALUES (1, 1, 0, 300);",
        )
        .unwrap();
    }
    let s = SqliteStore::open(path.to_str().unwrap(), Arc::new(Registry::builtin()))
        .await
        .unwrap();
    let (rows, keys, numbered, numeric): (i64, i64, i64, i64) = s
        .read(|conn| {
            conn.query_row(
                "SELECT COUNT(*), COUNT(DISTINCT seq || ':' || n), \
                   (SELECT COUNT(*) FROM (SELECT seq FROM attr_index GROUP BY seq \
                      HAVING COUNT(*) = 3)), \
                   (SELECT COUNT(*) FROM attr_index WHERE path = 'x:score' AND v_num > 300.0) \
                 FROM attr_index",
                [],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
            )
            .map_err(crate::backend)
        })
        .await
        .unwrap();
    assert_eq!((rows, keys, numbered), (900, 900, 300));
    // seq * 1.5 > 300 for seq 201..=300.
    assert_eq!(numeric, 100);
    let t = scimd_store::TenantId(1);
    let found = s
        .query(
            t,
            ResourceKind::User,
            &Query {
                filter: Some(parse_filter("userName eq \"USER42\"").unwrap()),
                sort: None,
                page: Page::Index {
                    start_index: 1,
                    count: 10,
                },
                load: Load::NONE,
            },
        )
        .await
        .unwrap();
    assert_eq!(found.total, 1);
    assert_eq!(found.resources[0].id, "r42");
    let active = s
        .query(
            t,
            ResourceKind::User,
            &Query {
                filter: Some(parse_filter("active eq true").unwrap()),
                sort: None,
                page: Page::Index {
                    start_index: 1,
                    count: 1,
                },
                load: Load::NONE,
            },
        )
        .await
        .unwrap();
    assert_eq!(active.total, 150);
    s.close().await;
}
