//! What the server asks the store for, seen through a recording wrapper around the SQLite
//! store: `excludedAttributes=members` never loads member rows (the `Load` of every read),
//! and a cached credential costs no credential lookup (the number of `bearer_by_hash` and
//! `basic_by_client_id` calls).

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use scimd_core::schema::{Registry, ResourceKind};
use scimd_server::bootstrap::{self, Bootstrap};
use scimd_server::config::ServerConfig;
use scimd_server::{AppState, launch_with_listener};
use scimd_store::store::AuthGeneration;
use scimd_store::webhooks::{
    Attempt, AttemptOutcome, AttemptRecord, ClaimedDelivery, Delivery, Endpoint, NewDelivery,
    NewEndpoint, WebhookStore,
};
use scimd_store::{
    Credential, CredentialKind, Load, NewResource, Query, QueryResult, Replacement, Store,
    StoreError, StoredResource, Tenant, TenantId, Update,
};
use scimd_store_sqlite::SqliteStore;
use serde_json::{Value, json};

use crate::helpers::*;

#[derive(Clone)]
struct Recording {
    inner: SqliteStore,
    loads: Arc<Mutex<Vec<Load>>>,
    /// Credential lookups (`bearer_by_hash`, `basic_by_client_id`) made so far.
    lookups: Arc<AtomicUsize>,
}

impl Recording {
    fn record(&self, load: Load) {
        self.loads.lock().unwrap().push(load);
    }
}

impl AuthGeneration for Recording {
    fn auth_generation(&self) -> impl Future<Output = Result<i64, StoreError>> + Send {
        self.inner.auth_generation()
    }
}

impl Store for Recording {
    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.inner.ping()
    }
    fn create_tenant(
        &self,
        name: &str,
        settings: Value,
    ) -> impl Future<Output = Result<Tenant, StoreError>> + Send {
        self.inner.create_tenant(name, settings)
    }
    fn tenant_by_name(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<Tenant>, StoreError>> + Send {
        self.inner.tenant_by_name(name)
    }
    fn list_tenants(&self) -> impl Future<Output = Result<Vec<Tenant>, StoreError>> + Send {
        self.inner.list_tenants()
    }
    fn delete_tenant(
        &self,
        tenant: TenantId,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.inner.delete_tenant(tenant)
    }
    fn update_tenant_settings(
        &self,
        tenant: TenantId,
        settings: Value,
    ) -> impl Future<Output = Result<Tenant, StoreError>> + Send {
        self.inner.update_tenant_settings(tenant, settings)
    }
    fn create_credential(
        &self,
        tenant: TenantId,
        kind: CredentialKind,
        label: &str,
        client_id: Option<&str>,
        secret_hash: &str,
    ) -> impl Future<Output = Result<Credential, StoreError>> + Send {
        self.inner
            .create_credential(tenant, kind, label, client_id, secret_hash)
    }
    fn bearer_by_hash(
        &self,
        sha256_hex: &str,
    ) -> impl Future<Output = Result<Option<(Credential, Tenant)>, StoreError>> + Send {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        self.inner.bearer_by_hash(sha256_hex)
    }
    fn basic_by_client_id(
        &self,
        client_id: &str,
    ) -> impl Future<Output = Result<Option<(Credential, Tenant)>, StoreError>> + Send {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        self.inner.basic_by_client_id(client_id)
    }
    fn list_credentials(
        &self,
        tenant: TenantId,
    ) -> impl Future<Output = Result<Vec<Credential>, StoreError>> + Send {
        self.inner.list_credentials(tenant)
    }
    fn revoke_credential(
        &self,
        tenant: TenantId,
        id: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.inner.revoke_credential(tenant, id)
    }
    fn create(
        &self,
        tenant: TenantId,
        resource: NewResource,
    ) -> impl Future<Output = Result<StoredResource, StoreError>> + Send {
        self.inner.create(tenant, resource)
    }
    fn get(
        &self,
        tenant: TenantId,
        kind: ResourceKind,
        id: &str,
        load: Load,
    ) -> impl Future<Output = Result<Option<StoredResource>, StoreError>> + Send {
        self.record(load);
        self.inner.get(tenant, kind, id, load)
    }
    fn replace(
        &self,
        tenant: TenantId,
        kind: ResourceKind,
        id: &str,
        expected_version: Option<i64>,
        replacement: Replacement,
        load: Load,
    ) -> impl Future<Output = Result<StoredResource, StoreError>> + Send {
        self.record(load);
        self.inner
            .replace(tenant, kind, id, expected_version, replacement, load)
    }
    fn update(
        &self,
        tenant: TenantId,
        kind: ResourceKind,
        id: &str,
        expected_version: i64,
        update: Update,
        load: Load,
    ) -> impl Future<Output = Result<StoredResource, StoreError>> + Send {
        self.record(load);
        self.inner
            .update(tenant, kind, id, expected_version, update, load)
    }
    fn delete(
        &self,
        tenant: TenantId,
        kind: ResourceKind,
        id: &str,
        expected_version: Option<i64>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.inner.delete(tenant, kind, id, expected_version)
    }
    fn query(
        &self,
        tenant: TenantId,
        kind: ResourceKind,
        query: &Query,
    ) -> impl Future<Output = Result<QueryResult, StoreError>> + Send {
        self.record(query.load);
        self.inner.query(tenant, kind, query)
    }
}

// The server writes through `ChangeStore`; reads of the written resource are recorded too.
impl scimd_store::ChangeStore for Recording {
    fn create_with(
        &self,
        tenant: TenantId,
        resource: NewResource,
        change: &scimd_store::Change,
    ) -> impl Future<Output = Result<StoredResource, StoreError>> + Send {
        self.inner.create_with(tenant, resource, change)
    }
    fn replace_with(
        &self,
        tenant: TenantId,
        kind: ResourceKind,
        id: &str,
        expected_version: Option<i64>,
        replacement: Replacement,
        load: Load,
        change: &scimd_store::Change,
    ) -> impl Future<Output = Result<StoredResource, StoreError>> + Send {
        self.record(load);
        self.inner.replace_with(
            tenant,
            kind,
            id,
            expected_version,
            replacement,
            load,
            change,
        )
    }
    fn update_with(
        &self,
        tenant: TenantId,
        kind: ResourceKind,
        id: &str,
        expected_version: i64,
        update: Update,
        load: Load,
        change: &scimd_store::Change,
    ) -> impl Future<Output = Result<StoredResource, StoreError>> + Send {
        self.record(load);
        self.inner
            .update_with(tenant, kind, id, expected_version, update, load, change)
    }
    fn delete_with(
        &self,
        tenant: TenantId,
        kind: ResourceKind,
        id: &str,
        expected_version: Option<i64>,
        change: &scimd_store::Change,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.inner
            .delete_with(tenant, kind, id, expected_version, change)
    }
}

impl scimd_store::EventStore for Recording {
    fn events_after(
        &self,
        tenant: TenantId,
        after_seq: i64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<scimd_store::Event>, StoreError>> + Send {
        self.inner.events_after(tenant, after_seq, limit)
    }
    fn event_heads(&self) -> impl Future<Output = Result<Vec<(TenantId, i64)>, StoreError>> + Send {
        self.inner.event_heads()
    }
    fn prune_events(&self, before: &str) -> impl Future<Output = Result<u64, StoreError>> + Send {
        self.inner.prune_events(before)
    }
}

impl scimd_store::AuditStore for Recording {
    fn record_audit(
        &self,
        entries: Vec<scimd_store::AuditEntry>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.inner.record_audit(entries)
    }
    fn query_audit(
        &self,
        query: &scimd_store::AuditQuery,
    ) -> impl Future<Output = Result<Vec<scimd_store::AuditEntry>, StoreError>> + Send {
        self.inner.query_audit(query)
    }
    fn prune_audit(&self, before: &str) -> impl Future<Output = Result<u64, StoreError>> + Send {
        self.inner.prune_audit(before)
    }
}

impl scimd_store::AdminStore for Recording {
    fn create_admin_token(
        &self,
        label: &str,
        token_hash: &str,
    ) -> impl Future<Output = Result<scimd_store::AdminToken, StoreError>> + Send {
        self.inner.create_admin_token(label, token_hash)
    }
    fn admin_token_by_hash(
        &self,
        token_hash: &str,
    ) -> impl Future<Output = Result<Option<scimd_store::AdminToken>, StoreError>> + Send {
        self.inner.admin_token_by_hash(token_hash)
    }
    fn list_admin_tokens(
        &self,
    ) -> impl Future<Output = Result<Vec<scimd_store::AdminToken>, StoreError>> + Send {
        self.inner.list_admin_tokens()
    }
    fn revoke_admin_token(&self, id: i64) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.inner.revoke_admin_token(id)
    }
}

/// Webhooks are not what this test records: plain pass-through.
impl WebhookStore for Recording {
    fn create_endpoint(
        &self,
        tenant: TenantId,
        endpoint: NewEndpoint,
    ) -> impl Future<Output = Result<Endpoint, StoreError>> + Send {
        self.inner.create_endpoint(tenant, endpoint)
    }
    fn list_endpoints(
        &self,
        tenant: TenantId,
    ) -> impl Future<Output = Result<Vec<Endpoint>, StoreError>> + Send {
        self.inner.list_endpoints(tenant)
    }
    fn get_endpoint(
        &self,
        tenant: TenantId,
        id: &str,
    ) -> impl Future<Output = Result<Option<Endpoint>, StoreError>> + Send {
        self.inner.get_endpoint(tenant, id)
    }
    fn delete_endpoint(
        &self,
        tenant: TenantId,
        id: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.inner.delete_endpoint(tenant, id)
    }
    fn enabled_endpoints(&self) -> impl Future<Output = Result<Vec<Endpoint>, StoreError>> + Send {
        self.inner.enabled_endpoints()
    }
    fn enqueue(
        &self,
        endpoint_id: &str,
        from_cursor: i64,
        to_cursor: i64,
        deliveries: Vec<NewDelivery>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        self.inner
            .enqueue(endpoint_id, from_cursor, to_cursor, deliveries)
    }
    fn enqueue_replay(
        &self,
        tenant: TenantId,
        endpoint_id: &str,
        deliveries: Vec<NewDelivery>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send {
        self.inner.enqueue_replay(tenant, endpoint_id, deliveries)
    }
    fn claim_due(
        &self,
        now_us: i64,
        lease_until_us: i64,
        owner: &str,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<ClaimedDelivery>, StoreError>> + Send {
        self.inner.claim_due(now_us, lease_until_us, owner, limit)
    }
    fn finish_attempt(
        &self,
        delivery_id: i64,
        owner: &str,
        attempt: AttemptRecord,
        outcome: AttemptOutcome,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        self.inner
            .finish_attempt(delivery_id, owner, attempt, outcome)
    }
    fn list_deliveries(
        &self,
        tenant: TenantId,
        endpoint_id: Option<&str>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Delivery>, StoreError>> + Send {
        self.inner.list_deliveries(tenant, endpoint_id, limit)
    }
    fn list_attempts(
        &self,
        tenant: TenantId,
        delivery_id: i64,
    ) -> impl Future<Output = Result<Vec<Attempt>, StoreError>> + Send {
        self.inner.list_attempts(tenant, delivery_id)
    }
}

/// A recording store on a new SQLite database in `dir`, with the default tenant and its
/// bearer token (bootstrap, as on a first start).
async fn recording_store(dir: &std::path::Path) -> (Recording, Arc<Registry>, String) {
    let url = format!("sqlite://{}", dir.join("scimd.db").display());
    let registry = scimd_server::schema_registry(None).unwrap();
    let store = Recording {
        inner: SqliteStore::open(&url, registry.clone()).await.unwrap(),
        loads: Arc::default(),
        lookups: Arc::default(),
    };
    let Bootstrap::Created { token } = bootstrap::ensure_default_tenant(&store, None)
        .await
        .unwrap()
    else {
        panic!("expected a token")
    };
    (store, registry, token)
}

#[tokio::test]
async fn excluded_members_are_never_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let (store, registry, token) = recording_store(dir.path()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/scim/v2", listener.local_addr().unwrap());
    let state = AppState::new(store.clone(), ServerConfig::default(), registry);
    tokio::spawn(launch_with_listener(
        listener,
        state,
        std::future::pending(),
    ));
    let client = reqwest::Client::new();
    let send = |method: reqwest::Method, path: &str, body: Option<Value>| {
        let mut r = client
            .request(method, format!("{base}{path}"))
            .bearer_auth(&token);
        if let Some(b) = body {
            r = r.header("content-type", SCIM).body(b.to_string());
        }
        async move { r.send().await.unwrap() }
    };
    let r = send(
        reqwest::Method::POST,
        "/Groups",
        Some(json!({"schemas": [GROUP_SCHEMA], "displayName": "Huge"})),
    )
    .await;
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    store.loads.lock().unwrap().clear();
    for path in [
        format!("/Groups/{id}?excludedAttributes=members"),
        "/Groups?excludedAttributes=members".to_owned(),
        format!("/Groups/{id}?attributes=displayName"),
    ] {
        assert_eq!(send(reqwest::Method::GET, &path, None).await.status(), 200);
    }
    // PATCH without a body (Group default 204) loads nothing either.
    let r = send(
        reqwest::Method::PATCH,
        &format!("/Groups/{id}"),
        Some(patch_op(
            json!([{"op": "replace", "path": "displayName", "value": "Huge2"}]),
        )),
    )
    .await;
    assert_eq!(r.status(), 204);
    let loads = store.loads.lock().unwrap().clone();
    assert!(!loads.is_empty());
    assert!(loads.iter().all(|l| !l.members), "{loads:?}");

    // …while a plain GET does load them.
    store.loads.lock().unwrap().clear();
    send(reqwest::Method::GET, &format!("/Groups/{id}"), None).await;
    assert!(store.loads.lock().unwrap().iter().any(|l| l.members));
}

#[tokio::test]
async fn cached_credentials_do_not_reach_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let (store, registry, token) = recording_store(dir.path()).await;
    let tenant = store.tenant_by_name("default").await.unwrap().unwrap();
    let (client_id, secret) = ("scimdc_loads", "s3cret");
    let phc = scimd_server::crypto::hash_secret(secret).unwrap();
    store
        .create_credential(
            tenant.id,
            CredentialKind::Basic,
            "basic",
            Some(client_id),
            &phc,
        )
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/scim/v2/Users", listener.local_addr().unwrap());
    let state = AppState::new(store.clone(), ServerConfig::default(), registry);
    tokio::spawn(launch_with_listener(
        listener,
        state.clone(),
        std::future::pending(),
    ));
    // The first poll clears the cache (entries may predate it): wait for it so that it
    // cannot be mistaken for a lookup the cache failed to save.
    let cache = state.credential_cache();
    let deadline = Instant::now() + Duration::from_secs(10);
    while cache.observed_generation().is_none() {
        assert!(
            Instant::now() < deadline,
            "no poll of the credential generation"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let client = reqwest::Client::new();
    let lookups = || store.lookups.load(Ordering::SeqCst);

    for _ in 0..20 {
        let r = client.get(&base).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
    assert_eq!(lookups(), 1, "20 bearer requests, one credential lookup");
    for _ in 0..5 {
        let r = client
            .get(&base)
            .basic_auth(client_id, Some(secret))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    assert_eq!(lookups(), 2, "5 Basic requests, one credential lookup");
    // Failures are never cached: each wrong secret is looked up again.
    for _ in 0..2 {
        let r = client
            .get(&base)
            .basic_auth(client_id, Some("wrong"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    assert_eq!(lookups(), 4);

    // A change of the generation (a settings update) empties the cache once the poll sees
    // it; the next request looks the token up again, the ones after do not.
    let before = store.auth_generation().await.unwrap();
    store
        .update_tenant_settings(tenant.id, json!({}))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while cache.observed_generation().is_none_or(|g| g <= before) {
        assert!(
            Instant::now() < deadline,
            "the settings update was not polled"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for _ in 0..10 {
        let r = client.get(&base).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
    assert_eq!(lookups(), 5, "one lookup after the invalidation");
}
