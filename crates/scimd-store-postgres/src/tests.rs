//! Tests of the PostgreSQL store on a throwaway cluster: the shared conformance suite
//! (`scimd_store::testsuite`, exactly what SQLite runs), multi-node behaviour with two
//! stores (two pools, as two scimd nodes) on one database, query plans, migrations.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use scimd_core::schema::Registry;
use scimd_store::testsuite::Fixture;

use crate::test_cluster::Cluster;
use crate::{PoolSettings, PostgresStore};

/// A store on a fresh database of the shared test cluster.
#[allow(dead_code)]
pub(crate) struct PgDb {
    pub store: PostgresStore,
    pub url: String,
    // Keeps the cluster running for the test's duration.
    pub cluster: Arc<Cluster>,
}

impl Fixture for PgDb {
    type Store = PostgresStore;
    fn store(&self) -> &PostgresStore {
        &self.store
    }
}

async fn open_with(registry: Arc<Registry>) -> Option<PgDb> {
    let cluster = Cluster::shared()?;
    let url = cluster.create_database().await;
    let store = PostgresStore::connect(&url, registry).await.unwrap();
    Some(PgDb {
        store,
        url,
        cluster,
    })
}

pub(crate) async fn open() -> Option<PgDb> {
    open_with(Arc::new(Registry::builtin())).await
}

scimd_store::conformance_tests!(open_with);

use scimd_core::MemberOp;
use scimd_core::schema::ResourceKind;
use scimd_store::testsuite::{list, mref, tenant, user};
use scimd_store::{CredentialKind, Load, Page, Query, Store, StoreError, Update};
use serde_json::json;

/// A second "node": another store (its own pool) on the same database.
async fn second_node(db: &PgDb) -> PostgresStore {
    PostgresStore::connect(&db.url, Arc::new(Registry::builtin()))
        .await
        .unwrap()
}

fn add_member(id: &str) -> Update {
    Update {
        document: None,
        unique_key: None,
        external_id: None,
        display: None,
        member_ops: vec![MemberOp::Add(vec![mref(id)])],
        password_hash: None,
        version_pinned: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_one_user_name_exactly_one_wins() {
    let Some(db) = open().await else { return };
    let nodes = [db.store.clone(), second_node(&db).await];
    let t = tenant(&nodes[0], "acme").await;
    let mut tasks = Vec::new();
    for i in 0..24 {
        let s = nodes[i % 2].clone();
        tasks.push(tokio::spawn(async move {
            s.create(t, user(&format!("u{i}"), "BJensen", json!({})))
                .await
        }));
    }
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => ok += 1,
            Err(e) => assert_eq!(
                e,
                StoreError::UniqueViolation {
                    attribute: "userName".into()
                }
            ),
        }
    }
    assert_eq!(ok, 1);
    for s in &nodes {
        let all = s.query(t, ResourceKind::User, &list(None)).await.unwrap();
        assert_eq!((all.total, all.resources.len()), (1, 1));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_concurrent_member_additions_lose_nothing() {
    let Some(db) = open().await else { return };
    let nodes = [db.store.clone(), second_node(&db).await];
    let t = tenant(&nodes[0], "acme").await;
    nodes[1]
        .create(t, scimd_store::testsuite::group("g", "All", &[]))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..40 {
        let s = nodes[i % 2].clone();
        tasks.push(tokio::spawn(async move {
            let id = format!("u{i}");
            s.create(t, user(&id, &id, json!({}))).await.unwrap();
            // The server's PATCH loop: read, apply, retry on a version conflict.
            let mut conflicts = 0;
            loop {
                let g = s
                    .get(t, ResourceKind::Group, "g", Load::NONE)
                    .await
                    .unwrap()
                    .unwrap();
                match s
                    .update(
                        t,
                        ResourceKind::Group,
                        "g",
                        g.version,
                        add_member(&id),
                        Load::NONE,
                    )
                    .await
                {
                    Ok(_) => return conflicts,
                    Err(StoreError::VersionMismatch { .. }) => conflicts += 1,
                    Err(e) => panic!("{e:?}"),
                }
            }
        }));
    }
    let mut conflicts = 0;
    for task in tasks {
        conflicts += task.await.unwrap();
    }
    for s in &nodes {
        let g = s
            .get(t, ResourceKind::Group, "g", Load::ALL)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(g.members.unwrap().len(), 40);
        assert_eq!(g.version, 41);
        let users = s.query(t, ResourceKind::User, &list(None)).await.unwrap();
        assert_eq!(users.total, 40);
    }
    eprintln!("member additions from two nodes: 40 added, {conflicts} version conflicts retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_conflicts_and_revocations_are_seen_across_nodes() {
    let Some(db) = open().await else { return };
    let (a, b) = (db.store.clone(), second_node(&db).await);
    let t = tenant(&a, "acme").await;
    let created = a.create(t, user("u1", "ann", json!({}))).await.unwrap();
    // B changes the user; A's If-Match on the version it read fails, on every write.
    let changed = Update {
        password_hash: Some("$argon2id$x".into()),
        version_pinned: true,
        ..add_member("nobody")
    };
    let v2 = b
        .update(
            t,
            ResourceKind::User,
            "u1",
            created.version,
            changed.clone(),
            Load::NONE,
        )
        .await
        .unwrap();
    assert_eq!(v2.version, 2);
    assert_eq!(
        a.update(
            t,
            ResourceKind::User,
            "u1",
            created.version,
            changed,
            Load::NONE
        )
        .await,
        Err(StoreError::VersionMismatch { current: 2 })
    );
    let rep = scimd_store::Replacement {
        document: scimd_store::testsuite::doc(json!({"userName": "ann", "title": "x"})),
        unique_key: Some("ann".into()),
        external_id: None,
        display: Some("ann".into()),
        members: None,
        password_hash: None,
    };
    assert_eq!(
        a.replace(t, ResourceKind::User, "u1", Some(1), rep, Load::NONE)
            .await,
        Err(StoreError::VersionMismatch { current: 2 })
    );
    assert_eq!(
        a.delete(t, ResourceKind::User, "u1", Some(1)).await,
        Err(StoreError::VersionMismatch { current: 2 })
    );
    // A credential revoked through one node no longer authenticates on the other.
    let c = a
        .create_credential(t, CredentialKind::Bearer, "idp", None, "feed")
        .await
        .unwrap();
    assert!(b.bearer_by_hash("feed").await.unwrap().is_some());
    a.revoke_credential(t, c.id).await.unwrap();
    assert!(b.bearer_by_hash("feed").await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_starting_together_migrate_once_and_newer_schemas_are_refused() {
    let Some(cluster) = Cluster::shared() else {
        return;
    };
    let url = cluster.create_database().await;
    let reg = Arc::new(Registry::builtin());
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let (url, reg) = (url.clone(), reg.clone());
            tokio::spawn(async move { PostgresStore::connect(&url, reg).await })
        })
        .collect();
    let mut stores = Vec::new();
    for s in starts {
        stores.push(s.await.unwrap().unwrap());
    }
    assert_eq!(
        PostgresStore::migrate(&url).await.unwrap(),
        i64::try_from(crate::schema::MIGRATIONS.len()).unwrap()
    );
    let s = &stores[0];
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM schema_version")
        .fetch_one(&s.inner.pool)
        .await
        .unwrap();
    assert_eq!(
        rows,
        i64::try_from(crate::schema::MIGRATIONS.len()).unwrap()
    );
    sqlx::query("INSERT INTO schema_version (version) VALUES (99)")
        .execute(&s.inner.pool)
        .await
        .unwrap();
    let err = PostgresStore::connect(&url, reg).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Backend(m) if m.contains("newer")),
        "{err:?}"
    );
}

/// Seeds Users with userName, externalId and work/home emails, then `ANALYZE`s.
async fn seed_for_plans(s: &PostgresStore, t: scimd_store::TenantId, n: usize) {
    let mut tasks = Vec::new();
    for chunk in 0..4 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            for i in (chunk..n).step_by(4) {
                let extra = json!({
                    "externalId": format!("ext-{i}"),
                    "emails": [
                        {"value": format!("u{i}@work.example"), "type": "work"},
                        {"value": format!("u{i}@home.example"), "type": "home"}
                    ]
                });
                s.create(t, user(&format!("id{i}"), &format!("user{i}"), extra))
                    .await
                    .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    sqlx::raw_sql("ANALYZE")
        .execute(&s.inner.pool)
        .await
        .unwrap();
}

/// Filters run on indexes. With a few hundred rows PostgreSQL may rightly prefer a
/// sequential scan (cheaper than an index on a table of a few pages), so the plans are
/// taken with `enable_seqscan = off`: what is checked is that the SQL is *answerable* by
/// the intended index (the plan a large table gets), not the planner's cost model.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_run_on_indexes() {
    let Some(db) = open().await else { return };
    let s = &db.store;
    let t = tenant(s, "acme").await;
    seed_for_plans(s, t, 400).await;
    for (f, index, total) in [
        // userName is read from its unique column (scimd_store::index::in_unique_key_column).
        ("userName eq \"user7\"", "resources_unique_key", 1),
        ("externalId eq \"ext-7\"", "resources_external_id", 1),
        (
            "emails[type eq \"work\"].value eq \"u7@work.example\"",
            "attr_index_text",
            1,
        ),
        // user1, user10…user19, user100…user199.
        ("userName sw \"user1\"", "resources_unique_key", 111),
        (
            "meta.lastModified gt \"2999-01-01T00:00:00Z\"",
            "resources_modified",
            0,
        ),
    ] {
        let plan = s
            .explain_query(
                t,
                ResourceKind::User,
                &list(Some(f)),
                &["enable_seqscan = off"],
            )
            .await
            .unwrap()
            .join("\n");
        assert!(plan.contains(index), "{f}: plan:\n{plan}");
        assert!(
            !plan.contains("Seq Scan on attr_index") && !plan.contains("Seq Scan on resources"),
            "{f}: plan:\n{plan}"
        );
        // The same filter gives the right answer.
        let got = s
            .query(t, ResourceKind::User, &list(Some(f)))
            .await
            .unwrap();
        assert_eq!(got.total, total, "{f}");
    }
    // `sw` is a range on the C-collated index, not a LIKE.
    let plan = s
        .explain_query(
            t,
            ResourceKind::User,
            &list(Some("userName sw \"user1\"")),
            &["enable_seqscan = off"],
        )
        .await
        .unwrap()
        .join("\n");
    assert!(plan.contains("unique_key >= "), "{plan}");
    // A cursor page seeks on seq (through the primary key with one tenant, or
    // (tenant_id, kind, seq) with many) and needs no sort.
    let next = Query {
        filter: None,
        sort: None,
        page: Page::Cursor {
            cursor: None,
            count: 5,
        },
        load: Load::NONE,
    };
    let first = s.query(t, ResourceKind::User, &next).await.unwrap();
    let next = Query {
        page: Page::Cursor {
            cursor: first.next_cursor,
            count: 5,
        },
        ..next
    };
    let plan = s
        .explain_query(t, ResourceKind::User, &next, &[])
        .await
        .unwrap()
        .join("\n");
    assert!(
        plan.contains("Index Scan") && plan.contains("seq > "),
        "{plan}"
    );
    assert!(!plan.contains("Sort"), "{plan}");
}

/// `scimd export` from SQLite, `scimd import` into PostgreSQL and back loses nothing: each
/// export equals the first, and PostgreSQL answers filters on the imported tenant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_move_between_sqlite_and_postgres_without_loss() {
    use scimd_store::Transfer;
    use scimd_store_sqlite::SqliteStore;
    let Some(db) = open().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let reg = Arc::new(Registry::builtin());
    let lite = SqliteStore::open(dir.path().join("a.db").to_str().unwrap(), reg.clone())
        .await
        .unwrap();
    let t = tenant(&lite, "acme").await;
    lite.create_credential(t, CredentialKind::Bearer, "entra", None, "cafe")
        .await
        .unwrap();
    scimd_store::testsuite::seed_users(&lite, t, 30).await;
    let mut g = scimd_store::testsuite::group("g1", "Staff", &["id01", "id02"]);
    g.members.push(scimd_core::MemberRef {
        display: Some("Three".into()),
        ..scimd_core::MemberRef::new("id03")
    });
    lite.create(t, g).await.unwrap();
    lite.update(
        t,
        ResourceKind::Group,
        "g1",
        1,
        add_member("id04"),
        Load::NONE,
    )
    .await
    .unwrap();
    let original = lite.export_tenant("acme").await.unwrap();
    let mut text = Vec::new();
    original.write_json_lines(&mut text).unwrap();

    let pg = &db.store;
    let imported = pg
        .import_tenant(&scimd_store::TenantExport::read_json_lines(&text[..]).unwrap())
        .await
        .unwrap();
    let from_pg = pg.export_tenant("acme").await.unwrap();
    assert_eq!(from_pg, original);
    let staff = pg
        .query(
            imported.id,
            ResourceKind::Group,
            &list(Some("members.value eq \"id04\"")),
        )
        .await
        .unwrap();
    assert_eq!(staff.resources.len(), 1);
    assert_eq!(
        pg.query(imported.id, ResourceKind::User, &list(None))
            .await
            .unwrap()
            .total,
        30
    );

    let back = SqliteStore::open(dir.path().join("b.db").to_str().unwrap(), reg)
        .await
        .unwrap();
    back.import_tenant(&from_pg).await.unwrap();
    assert_eq!(back.export_tenant("acme").await.unwrap(), original);
}

/// PostgreSQL text cannot hold U+0000 (SQLite's can): such values are a client error
/// (400 invalidValue), never a 500, in documents and in filters alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nul_characters_are_client_errors() {
    let Some(db) = open().await else { return };
    let s = &db.store;
    let t = tenant(s, "acme").await;
    let err = s
        .create(t, user("u1", "a\u{0}b", json!({})))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Scim(e) if e.status() == 400),
        "{err:?}"
    );
    let err = s
        .query(
            t,
            ResourceKind::User,
            &list(Some("userName eq \"a\\u0000b\"")),
        )
        .await;
    assert!(matches!(&err, Ok(_) | Err(StoreError::Scim(_))), "{err:?}");
    assert_eq!(
        s.query(t, ResourceKind::User, &list(None))
            .await
            .unwrap()
            .total,
        0
    );
}

#[test]
fn database_urls_select_the_backend() {
    use crate::is_postgres_url;
    assert!(is_postgres_url("postgres://scimd@db/scimd"));
    assert!(is_postgres_url(
        "PostgreSQL://scimd@db:5432/scimd?sslmode=disable"
    ));
    assert!(!is_postgres_url("sqlite:///var/lib/scimd/scimd.db"));
    assert!(!is_postgres_url("/var/lib/scimd/postgres://x"));
    assert!(!is_postgres_url("pg"));
}

/// A store on `db`'s database with a pool of `max` connections and a short
/// `statement_timeout`.
async fn short_timeout_node(db: &PgDb, max: u32, timeout: Duration) -> PostgresStore {
    let settings = PoolSettings {
        max_connections: max,
        statement_timeout: Some(timeout),
        idle_in_transaction_timeout: Some(Duration::from_secs(5)),
    };
    PostgresStore::connect_with_settings(&db.url, Arc::new(Registry::builtin()), settings)
        .await
        .unwrap()
}

/// Whether a backend of the cluster is still running a statement containing `marker`.
async fn still_running(s: &PostgresStore, marker: &str) -> bool {
    sqlx::query_scalar::<_, bool>(
        "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE state = 'active' \
         AND query LIKE '%' || $1 || '%' AND pid <> pg_backend_pid())",
    )
    .bind(marker)
    .fetch_one(&s.inner.pool)
    .await
    .unwrap()
}

/// The server's request timeout drops a request's future, which does not stop its statement
/// on the server: the pool's `statement_timeout` must, so the connection is free again and a
/// runaway statement reports a timeout instead of occupying the pool.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statement_timeout_cancels_runaway_statements_and_frees_the_connection() {
    let Some(db) = open().await else { return };
    let s = short_timeout_node(&db, 1, Duration::from_millis(300)).await;

    let started = Instant::now();
    let err = sqlx::query("SELECT pg_sleep(5) AS awaited_one")
        .execute(&s.inner.pool)
        .await
        .map_err(crate::backend)
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3), "{err:?}");
    assert!(
        matches!(&err, StoreError::Timeout(m) if m.starts_with("statement timeout")),
        "{err:?}"
    );
    // The one pooled connection serves the next statement at once.
    let started = Instant::now();
    s.ping().await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(1));

    // A request that gives up (its future dropped, as the server's timeout does).
    let gave_up = tokio::time::timeout(
        Duration::from_millis(100),
        sqlx::query("SELECT pg_sleep(5) AS abandoned_one").execute(&s.inner.pool),
    )
    .await;
    assert!(gave_up.is_err());
    let started = Instant::now();
    s.ping().await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(3));
    // And PostgreSQL is not still running the abandoned statement.
    let deadline = Instant::now() + Duration::from_secs(2);
    while still_running(&db.store, "abandoned_one").await {
        assert!(
            Instant::now() < deadline,
            "the abandoned statement is still running"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `n` Users of tenant `t` written with plain SQL (as a bulk load outside scimd would),
/// each with ten index rows (user `i` has displayName `name<i>`); no `ANALYZE`.
async fn bulk_load(s: &PostgresStore, t: scimd_store::TenantId, n: i64) {
    sqlx::query(
        "INSERT INTO resources (tenant_id, kind, id, unique_key, sort_name, version, created, \
         created_us, modified, modified_us, data) \
         SELECT $1, 1, 'id' || i, 'user' || i, 'user' || i, 1, '2024-01-01T00:00:00.000Z', 0, \
         '2024-01-01T00:00:00.000Z', 0, '{\"userName\":\"user' || i || '\"}' \
         FROM generate_series(1, $2) AS i",
    )
    .bind(t.0)
    .bind(n)
    .execute(&s.inner.pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO attr_index (tenant_id, kind, seq, path, elem, v_text) \
         SELECT r.tenant_id, 1, r.seq, p.path, 0, \
         CASE WHEN p.path = 'displayname' THEN 'name' || substr(r.id, 3) \
         ELSE p.path || r.seq END \
         FROM resources r CROSS JOIN (VALUES ('nickname'), ('name.givenname'), \
         ('name.familyname'), ('displayname'), ('emails.value'), ('emails.type'), \
         ('emails.primary'), ('active'), ('title'), ('locale')) AS p(path) \
         WHERE r.tenant_id = $1",
    )
    .bind(t.0)
    .execute(&s.inner.pool)
    .await
    .unwrap();
}

/// Whether PostgreSQL has planner statistics for `table`.
async fn has_statistics(s: &PostgresStore, table: &str) -> bool {
    sqlx::query_scalar::<_, bool>(
        "SELECT EXISTS (SELECT 1 FROM pg_stats WHERE schemaname = current_schema() \
         AND tablename = $1)",
    )
    .bind(table)
    .fetch_one(&s.inner.pool)
    .await
    .unwrap()
}

/// The production failure: a database loaded without `ANALYZE`, where PostgreSQL plans an
/// `attr_index` lookup (then `userName eq`, now `displayName eq`) listing as a nested loop rescanning the index once per user (quadratic).
/// With the pool's `statement_timeout` such a listing ends within the timeout (as an error
/// naming it, or done); connecting to such a database analyzes it, after which the same
/// listing is quick and right.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unanalyzed_databases_cannot_hold_connections_and_get_analyzed_at_connect() {
    let Some(db) = open().await else { return };
    let t = tenant(&db.store, "acme").await;
    // Connected while the tables are empty: nothing to analyze yet.
    let node = short_timeout_node(&db, 2, Duration::from_millis(500)).await;
    bulk_load(&db.store, t, 4000).await;
    assert!(!has_statistics(&db.store, "attr_index").await);

    let filter = list(Some("displayName eq \"name3999\""));
    let started = Instant::now();
    let outcome = node.query(t, ResourceKind::User, &filter).await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "{took:?} {outcome:?}");
    match &outcome {
        Ok(r) => assert_eq!(r.total, 1),
        Err(StoreError::Timeout(m)) => assert!(m.starts_with("statement timeout"), "{m}"),
        Err(e) => panic!("{e:?}"),
    }

    // A node starting on the loaded database analyzes it.
    let _starting = second_node(&db).await;
    for table in ["resources", "attr_index"] {
        assert!(has_statistics(&db.store, table).await, "{table}");
    }
    let started = Instant::now();
    let r = node.query(t, ResourceKind::User, &filter).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(r.total, 1);
    assert_eq!(r.resources[0].id, "id3999");
    let got = node
        .get(t, ResourceKind::User, "id3999", Load::NONE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.document["userName"], "user3999");
}

/// `scimd import` leaves a database the planner has statistics for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_analyzes_the_tables() {
    use scimd_store::Transfer;
    let Some(db) = open().await else { return };
    let s = &db.store;
    let t = tenant(s, "acme").await;
    for i in 0..20 {
        let extra = json!({"displayName": format!("User {i}")});
        s.create(t, user(&format!("u{i}"), &format!("user{i}"), extra))
            .await
            .unwrap();
    }
    assert!(!has_statistics(s, "attr_index").await);
    let mut export = s.export_tenant("acme").await.unwrap();
    export.name = "copy".into();
    s.import_tenant(&export).await.unwrap();
    for table in ["resources", "attr_index"] {
        assert!(has_statistics(s, table).await, "{table}");
    }
}

#[test]
fn pool_timeouts_follow_the_request_timeout() {
    use crate::{DEFAULT_MAX_CONNECTIONS, DEFAULT_STATEMENT_TIMEOUT, timeout_setting};
    let d = PoolSettings::default();
    assert_eq!(d.max_connections, DEFAULT_MAX_CONNECTIONS);
    assert_eq!(d.statement_timeout, Some(DEFAULT_STATEMENT_TIMEOUT));
    assert_eq!(
        PoolSettings::for_request_timeout(Duration::from_secs(30)),
        d
    );
    let short = PoolSettings::for_request_timeout(Duration::from_secs(1));
    assert_eq!(short.statement_timeout, Some(Duration::from_secs(1)));
    assert_eq!(timeout_setting(None), "0");
    assert_eq!(timeout_setting(Some(Duration::from_micros(10))), "1");
    assert_eq!(timeout_setting(Some(Duration::from_secs(20))), "20000");
}

/// Retention deletes in batches: a backlog larger than one batch is removed whole, each
/// statement short enough for the pool's `statement_timeout`.
#[tokio::test]
async fn audit_retention_prunes_a_backlog_in_batches() {
    use scimd_store::AuditStore;
    let Some(db) = open().await else { return };
    let s = &db.store;
    let backlog = crate::outbox::PRUNE_BATCH * 2 + 7;
    sqlx::query(
        "INSERT INTO audit_log (time, time_us, tenant, actor, client_ip, user_agent, method, \
         path, status, duration_ms, request_id) \
         SELECT '2020-01-01T00:00:00Z', 1577836800000000 + g, 'acme', 'token', '127.0.0.1', \
         'test', 'GET', '/Users', 200, 1, 'r' || g FROM generate_series(1, $1) g",
    )
    .bind(i64::try_from(backlog).unwrap())
    .execute(&s.inner.pool)
    .await
    .unwrap();
    let pruned = s.prune_audit("2021-01-01T00:00:00Z").await.unwrap();
    assert_eq!(pruned, backlog);
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log")
        .fetch_one(&s.inner.pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
}

/// Migration 4 fills `seq_buckets` from the rows already there: a database written at
/// version 3 (two tenants, Users and Groups interleaved, deleted rows leaving gaps) pages
/// deep exactly once a node of this build connects, and the shard sums equal a fresh
/// `GROUP BY`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_fills_seq_buckets_from_existing_rows() {
    use scimd_store::testsuite::paging::assert_pages_exact;
    use sqlx::Connection as _;

    let Some(cluster) = Cluster::shared() else {
        return;
    };
    let url = cluster.create_database().await;
    {
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::raw_sql("CREATE TABLE schema_version (version bigint NOT NULL)")
            .execute(&mut conn)
            .await
            .unwrap();
        for (version, sql) in (1_i64..).zip(&crate::schema::MIGRATIONS[..3]) {
            sqlx::raw_sql(*sql).execute(&mut conn).await.unwrap();
            sqlx::query("INSERT INTO schema_version (version) VALUES ($1)")
                .bind(version)
                .execute(&mut conn)
                .await
                .unwrap();
        }
        sqlx::raw_sql(
            "INSERT INTO tenants (id, name, settings, created) VALUES \
               (1, 'acme', '{}', '2024-01-01T00:00:00.000Z'), \
               (2, 'globex', '{}', '2024-01-01T00:00:00.000Z');
             INSERT INTO resources (seq, tenant_id, kind, id, unique_key, version, created, \
               created_us, modified, modified_us, data) \
             SELECT n, CASE WHEN n % 5 = 0 THEN 2 ELSE 1 END, \
               CASE WHEN n % 7 = 0 THEN 2 ELSE 1 END, 'r' || n, 'r' || n, 1, \
               '2024-01-01T00:00:00.000Z', 0, '2024-01-01T00:00:00.000Z', 0, \
               json_build_object('userName', 'r' || n)::text \
             FROM generate_series(1, 16000) AS n;
             DELETE FROM resources WHERE seq % 13 = 0 OR seq BETWEEN 4000 AND 4500;
             INSERT INTO resource_counts (tenant_id, kind, shard, n) \
               SELECT tenant_id, kind, 0, COUNT(*) FROM resources GROUP BY 1, 2;",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        conn.close().await.unwrap();
    }
    let s = PostgresStore::connect(&url, Arc::new(Registry::builtin()))
        .await
        .unwrap();
    let (version, mismatches, shards): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT MAX(version) FROM schema_version), \
           (SELECT COUNT(*) FROM (SELECT tenant_id, kind, seq >> 12 AS bucket, COUNT(*) AS n \
              FROM resources GROUP BY 1, 2, 3 \
            EXCEPT SELECT tenant_id, kind, bucket, SUM(n) FROM seq_buckets GROUP BY 1, 2, 3) x), \
           (SELECT COUNT(DISTINCT shard) FROM seq_buckets)",
    )
    .fetch_one(&s.inner.pool)
    .await
    .unwrap();
    assert_eq!(version, crate::schema::MIGRATIONS.len() as i64);
    assert_eq!(mismatches, 0);
    assert_eq!(shards, 16);
    let acme = scimd_store::TenantId(1);
    assert!(assert_pages_exact(&s, acme, ResourceKind::User).await >= 5);
    assert_pages_exact(&s, acme, ResourceKind::Group).await;
    assert_pages_exact(&s, scimd_store::TenantId(2), ResourceKind::User).await;
}
