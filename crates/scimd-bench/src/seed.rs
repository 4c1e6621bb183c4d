//! `scimd-bench seed`: fills a fresh scimd database before the server starts.
//!
//! Users are written through scimd's own [`Service::create`] on the real store the server
//! will open — [`SqliteStore`] for `sqlite://…`, [`PostgresStore`] for `postgres://…` or
//! `postgresql://…` (the scheme test `scimd serve` uses): the same normalisation, index
//! rows, counts and membership rows as a `POST /Users`, but without HTTP, so a million
//! users take minutes instead of being bounded by the request path being measured. The `default` tenant and its bearer token are created exactly as
//! `scimd serve` creates them on first start (`bootstrap::ensure_default_tenant`), so the
//! server then starts on this database as on any existing one.
//!
//! Two Groups are created for W5: one whose members are the first `big` users and one with
//! the first 10.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use scimd_core::schema::ResourceKind;
use scimd_server::auth::TenantContext;
use scimd_server::config::ServerConfig;
use scimd_server::service::Service;
use scimd_server::state::ServerStore;
use scimd_server::{AppState, TenantSettings, bootstrap};
use scimd_store::Load;
use scimd_store_postgres::{PostgresStore, is_postgres_url};
use scimd_store_sqlite::SqliteStore;
use serde_json::{Value, json};

use crate::BenchResult;
use crate::data::{Manifest, seeded_user_name, user_body};

/// What to seed.
#[derive(Debug, Clone)]
pub struct SeedOptions {
    /// `sqlite://…` or `postgres://…` URL of the database scimd will serve.
    pub database: String,
    pub users: u64,
    /// Members of the large W5 group (capped at `users`).
    pub big_group: u64,
    /// Bearer token of the `default` tenant.
    pub token: String,
    /// Where the manifest (and, beside it, the id list) is written.
    pub manifest: PathBuf,
    /// Concurrent writers. SQLite commits the writes queued at one moment together, so many
    /// writers in flight fill its commit groups while others normalise; on PostgreSQL each
    /// writer holds one pooled connection per transaction (the pool is sized to match, up
    /// to [`PG_MAX_POOL`]).
    pub writers: u64,
}

/// Default writers on SQLite: enough in flight to fill the single writer's commit groups.
pub const SQLITE_WRITERS: u64 = 64;
/// Default writers on PostgreSQL. At 10,000 users on 2 cores shared with the cluster
/// (default, durable settings), 8 and 16 writers seeded ~460 users/s, 32 ~380, 64 and 128
/// ~350: past 16, more backends only compete for the same CPUs.
pub const PG_WRITERS: u64 = 16;

/// The largest PostgreSQL pool the seed opens: well inside the default `max_connections`
/// (100) that the benchmark cluster keeps; more writers than this wait for a connection.
pub const PG_MAX_POOL: u64 = 64;

/// Seeds the database named by `opts.database` and writes the manifest.
pub async fn seed(opts: &SeedOptions) -> BenchResult<Manifest> {
    let registry = scimd_server::schema_registry(None)?;
    if is_postgres_url(&opts.database) {
        let pool = u32::try_from(opts.writers.clamp(1, PG_MAX_POOL))?;
        let store =
            PostgresStore::connect_with(&opts.database, Arc::clone(&registry), pool).await?;
        let outcome = seed_into(&store, registry, opts).await;
        store.close().await;
        outcome
    } else {
        let store = SqliteStore::open(&opts.database, Arc::clone(&registry)).await?;
        let outcome = seed_into(&store, registry, opts).await;
        store.close().await;
        outcome
    }
}

/// The seed itself, on any store the server can serve: the default tenant, the users with
/// `opts.writers` concurrent writers, the two W5 groups, then the id list and the manifest.
async fn seed_into<S: ServerStore>(
    store: &S,
    registry: Arc<scimd_core::schema::Registry>,
    opts: &SeedOptions,
) -> BenchResult<Manifest> {
    bootstrap::ensure_default_tenant(store, Some(&opts.token))
        .await
        .map_err(|e| e.to_string())?;
    let tenant = store
        .tenant_by_name(bootstrap::DEFAULT_TENANT)
        .await?
        .ok_or("the default tenant was not created")?;
    let ctx = Arc::new(TenantContext {
        settings: TenantSettings::from_json(&tenant.settings),
        tenant,
        label: "scimd-bench seed".to_owned(),
        base_url: "http://127.0.0.1/scim/v2".to_owned(),
    });
    let state = AppState::new(store.clone(), ServerConfig::default(), registry);

    let started = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..opts.writers.max(1) {
        let (state, ctx, next) = (state.clone(), Arc::clone(&ctx), Arc::clone(&next));
        let users = opts.users;
        tasks.push(tokio::spawn(async move {
            let svc = Service::new(&state, &ctx);
            let mut made: Vec<(u64, String)> = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= users {
                    break;
                }
                let body = user_body(&seeded_user_name(i), i);
                let created = svc
                    .create(ResourceKind::User, &body, Load::NONE)
                    .await
                    .map_err(|e| format!("seeding user {i}: {e:?}"))?;
                made.push((i, created.id));
                if i > 0 && i.is_multiple_of(100_000) {
                    eprintln!(
                        "seed: {i} users in {:.1} s",
                        started.elapsed().as_secs_f64()
                    );
                }
            }
            Ok::<_, String>(made)
        }));
    }
    let mut ids = vec![String::new(); usize::try_from(opts.users)?];
    for task in tasks {
        for (i, id) in task.await.map_err(|e| e.to_string())?? {
            if let Some(slot) = ids.get_mut(usize::try_from(i)?) {
                *slot = id;
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();

    let svc = Service::new(&state, &ctx);
    let big = opts.big_group.min(opts.users);
    let small = 10.min(opts.users);
    let big_group_id = create_group(&svc, "bench-big", ids.get(..usize::try_from(big)?)).await?;
    let small_group_id =
        create_group(&svc, "bench-small", ids.get(..usize::try_from(small)?)).await?;

    let ids_file = sibling(&opts.manifest, "ids.txt");
    let mut text = ids.join("\n");
    text.push('\n');
    std::fs::write(&ids_file, text)
        .map_err(|e| format!("cannot write {}: {e}", ids_file.display()))?;
    let manifest = Manifest {
        users: opts.users,
        ids_file: ids_file.display().to_string(),
        big_group_id,
        big_group_members: big,
        small_group_id,
        small_group_members: small,
        seed_seconds: seconds,
        seed_users_per_sec: rate(opts.users, seconds),
    };
    std::fs::write(&opts.manifest, serde_json::to_string_pretty(&manifest)?)
        .map_err(|e| format!("cannot write {}: {e}", opts.manifest.display()))?;
    Ok(manifest)
}

async fn create_group<S: ServerStore>(
    svc: &Service<'_, S>,
    name: &str,
    members: Option<&[String]>,
) -> BenchResult<String> {
    let members: Vec<Value> = members
        .unwrap_or_default()
        .iter()
        .map(|id| json!({"value": id}))
        .collect();
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": name,
        "members": members,
    });
    let group = svc
        .create(ResourceKind::Group, &body, Load::NONE)
        .await
        .map_err(|e| format!("creating group {name}: {e:?}"))?;
    Ok(group.id)
}

fn sibling(path: &Path, name: &str) -> PathBuf {
    path.parent()
        .map_or_else(|| PathBuf::from(name), |dir| dir.join(name))
}

/// `n / seconds`, 0 for an empty interval.
pub fn rate(n: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        // Counts here stay far below 2^52, where the conversion is exact.
        #[allow(clippy::cast_precision_loss)]
        let n = n as f64;
        n / seconds
    } else {
        0.0
    }
}
