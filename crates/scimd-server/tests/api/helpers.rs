//! `spawn_app()`: a running scimd with a fresh database and a bearer token.
//!
//! The backend comes from `SCIMD_TEST_BACKEND`: `sqlite` (the default; a temporary file) or
//! `postgres` (a new database on a throwaway cluster started by
//! `scimd_store_postgres::test_cluster`, shared by the tests running at the same time). Every
//! test goes through [`TestStore`], so the whole suite runs unchanged against either.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Method, RequestBuilder, Response};
use scimd_core::schema::{Registry, ResourceKind};
use scimd_server::bootstrap::{self, Bootstrap};
use scimd_server::config::{ServerConfig, TenantSettings};
use scimd_server::{AppState, launch_with_listener};
use scimd_store::store::AuthGeneration;
use scimd_store::webhooks::{
    Attempt, AttemptOutcome, AttemptRecord, ClaimedDelivery, Delivery, Endpoint, NewDelivery,
    NewEndpoint, WebhookStore,
};
use scimd_store::{
    AdminStore, AdminToken, AuditEntry, AuditQuery, AuditStore, Change, ChangeStore, Credential,
    CredentialKind, Event, EventStore, Load, NewResource, Query, QueryResult, Replacement, Store,
    StoreError, StoredResource, Tenant, TenantExport, TenantId, Transfer, Update,
};
use scimd_store_postgres::PostgresStore;
use scimd_store_postgres::test_cluster::Cluster;
use scimd_store_sqlite::SqliteStore;
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::sync::oneshot;

pub const SCIM: &str = "application/scim+json";
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// The storage backend the suite runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The backend named by `SCIMD_TEST_BACKEND` (`sqlite` when unset).
pub fn backend() -> Backend {
    match std::env::var("SCIMD_TEST_BACKEND").as_deref() {
        Err(_) | Ok("" | "sqlite") => Backend::Sqlite,
        Ok("postgres") => Backend::Postgres,
        Ok(other) => panic!("SCIMD_TEST_BACKEND={other}: expected sqlite or postgres"),
    }
}

/// The shared throwaway PostgreSQL cluster, or a clear failure when the suite was asked to
/// run on PostgreSQL and it is not installed.
pub fn postgres_cluster() -> Arc<Cluster> {
    Cluster::shared().unwrap_or_else(|| {
        panic!(
            "SCIMD_TEST_BACKEND=postgres but PostgreSQL (initdb, pg_ctl) is not installed; \
             install Debian's `postgresql` package or run with SCIMD_TEST_BACKEND=sqlite"
        )
    })
}

/// Either backend, so that tests are written once. Cheap to clone.
#[derive(Clone)]
pub enum TestStore {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

/// What keeps a test database alive: its temporary directory and, on PostgreSQL, the
/// cluster (stopped when the last test holding it ends).
pub struct TestDb {
    pub dir: TempDir,
    pub url: String,
    _cluster: Option<Arc<Cluster>>,
}

/// A fresh, migrated store on the configured backend.
pub async fn test_store(registry: Arc<Registry>) -> (TestDb, TestStore) {
    let dir = tempfile::tempdir().unwrap();
    match backend() {
        Backend::Sqlite => {
            let url = format!("sqlite://{}", dir.path().join("scimd.db").display());
            let store = SqliteStore::open(&url, registry).await.unwrap();
            let db = TestDb {
                dir,
                url,
                _cluster: None,
            };
            (db, TestStore::Sqlite(store))
        }
        Backend::Postgres => {
            let cluster = postgres_cluster();
            let url = cluster.create_database().await;
            // Small pools: many tests run at once against one cluster.
            let store = PostgresStore::connect_with(&url, registry, 4)
                .await
                .unwrap();
            let db = TestDb {
                dir,
                url,
                _cluster: Some(cluster),
            };
            (db, TestStore::Postgres(store))
        }
    }
}

/// Runs the same expression on whichever store is inside.
macro_rules! delegate {
    ($self:ident, $s:ident => $call:expr) => {
        match $self {
            TestStore::Sqlite($s) => $call.await,
            TestStore::Postgres($s) => $call.await,
        }
    };
}

impl AuthGeneration for TestStore {
    async fn auth_generation(&self) -> Result<i64, StoreError> {
        delegate!(self, s => s.auth_generation())
    }
}

impl Store for TestStore {
    async fn ping(&self) -> Result<(), StoreError> {
        delegate!(self, s => s.ping())
    }
    async fn create_tenant(&self, name: &str, settings: Value) -> Result<Tenant, StoreError> {
        delegate!(self, s => s.create_tenant(name, settings))
    }
    async fn tenant_by_name(&self, name: &str) -> Result<Option<Tenant>, StoreError> {
        delegate!(self, s => s.tenant_by_name(name))
    }
    async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        delegate!(self, s => s.list_tenants())
    }
    async fn delete_tenant(&self, tenant: TenantId) -> Result<(), StoreError> {
        delegate!(self, s => s.delete_tenant(tenant))
    }
    async fn update_tenant_settings(
        &self,
        tenant: TenantId,
        settings: Value,
    ) -> Result<Tenant, StoreError> {
        delegate!(self, s => s.update_tenant_settings(tenant, settings))
    }
    async fn create_credential(
        &self,
        tenant: TenantId,
        kind: CredentialKind,
        label: &str,
        client_id: Option<&str>,
        secret_hash: &str,
    ) -> Result<Credential, StoreError> {
        delegate!(self, s => s.create_credential(tenant, kind, label, client_id, secret_hash))
    }
    async fn bearer_by_hash(
        &self,
        sha256_hex: &str,
    ) -> Result<Option<(Credential, Tenant)>, StoreError> {
        delegate!(self, s => s.bearer_by_hash(sha256_hex))
    }
    async fn basic_by_client_id(
        &self,
        client_id: &str,
    ) -> Result<Option<(Credential, Tenant)>, StoreError> {
        delegate!(self, s => s.basic_by_client_id(client_id))
    }
    async fn list_credentials(&self, tenant: TenantId) -> Result<Vec<Credential>, StoreError> {
        delegate!(self, s => s.list_credentials(tenant))
    }
    async fn revoke_credential(&self, tenant: TenantId, id: i64) -> Result<(), StoreError> {
        delegate!(self, s => s.revoke_credential(tenant, id))
    }
    async fn create(
        &self,
        tenant: TenantId,
        resource: NewResource,
    ) -> Result<StoredResource, StoreError> {
        delegate!(self, s => s.create(tenant, resource))
    }
    async fn get(
        &self,
        tenant: TenantId,
        kind: ResourceKind,
        id: &str,
        load: Load,
    ) -> Result<Option<StoredResource>, StoreError> {
        delegate!(self, s => s.get(tenant, kind, id, load))
    }
    async fn replace(
        &self,
        tenant: TenantId,
        kind: ResourceKind,
        id: &str,
        expected_version: Option<i64>,
        replacement: Replacement,
        load: Load,
    ) -> Result<StoredResource, StoreError> {
        delegate!(self, s => s.replace(tenant, kind, id, expected_version, replacement, load))
    }
    async fn update(
        &self,
        tenant: TenantId,
        kind: ResourceKind,
        id: &str,
        expected_version: i64,
        update: Update,
        load: Load,
    ) -> Result<StoredResource, StoreError> {
        delegate!(self, s => s.update(tenant, kind, id, expected_version, update, load))
    }
    async fn delete(
        &self,
        tenant: TenantId,
        kind: ResourceKind,
        id: &str,
        expected_version: Option<i64>,
    ) -> Result<(), StoreError> {
        delegate!(self, s => s.delete(tenant, kind, id, expected_version))
    }
    async fn query(
        &self,
        tenant: TenantId,
        kind: ResourceKind,
        query: &Query,
    ) -> Result<QueryResult, StoreError> {
        delegate!(self, s => s.query(tenant, kind, query))
    }
}

impl ChangeStore for TestStore {
    async fn create_with(
        &self,
        tenant: TenantId,
        resource: NewResource,
        change: &Change,
    ) -> Result<StoredResource, StoreError> {
        delegate!(self, s => s.create_with(tenant, resource, change))
    }
    async fn replace_with(
        &self,
        tenant: TenantId,
        kind: ResourceKind,
        id: &str,
        expected_version: Option<i64>,
        replacement: Replacement,
        load: Load,
        change: &Change,
    ) -> Result<StoredResource, StoreError> {
        delegate!(self, s => s.replace_with(tenant, kind, id, expected_version, replacement, load, change))
    }
    async fn update_with(
        &self,
        tenant: TenantId,
        kind: ResourceKind,
        id: &str,
        expected_version: i64,
        update: Update,
        load: Load,
        change: &Change,
    ) -> Result<StoredResource, StoreError> {
        delegate!(self, s => s.update_with(tenant, kind, id, expected_version, update, load, change))
    }
    async fn delete_with(
        &self,
        tenant: TenantId,
        kind: ResourceKind,
        id: &str,
        expected_version: Option<i64>,
        change: &Change,
    ) -> Result<(), StoreError> {
        delegate!(self, s => s.delete_with(tenant, kind, id, expected_version, change))
    }
}

impl EventStore for TestStore {
    async fn events_after(
        &self,
        tenant: TenantId,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<Event>, StoreError> {
        delegate!(self, s => s.events_after(tenant, after_seq, limit))
    }
    async fn event_heads(&self) -> Result<Vec<(TenantId, i64)>, StoreError> {
        delegate!(self, s => s.event_heads())
    }
    async fn prune_events(&self, before: &str) -> Result<u64, StoreError> {
        delegate!(self, s => s.prune_events(before))
    }
}

impl AuditStore for TestStore {
    async fn record_audit(&self, entries: Vec<AuditEntry>) -> Result<(), StoreError> {
        delegate!(self, s => s.record_audit(entries))
    }
    async fn query_audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        delegate!(self, s => s.query_audit(query))
    }
    async fn prune_audit(&self, before: &str) -> Result<u64, StoreError> {
        delegate!(self, s => s.prune_audit(before))
    }
}

impl AdminStore for TestStore {
    async fn create_admin_token(
        &self,
        label: &str,
        token_hash: &str,
    ) -> Result<AdminToken, StoreError> {
        delegate!(self, s => s.create_admin_token(label, token_hash))
    }
    async fn admin_token_by_hash(
        &self,
        token_hash: &str,
    ) -> Result<Option<AdminToken>, StoreError> {
        delegate!(self, s => s.admin_token_by_hash(token_hash))
    }
    async fn list_admin_tokens(&self) -> Result<Vec<AdminToken>, StoreError> {
        delegate!(self, s => s.list_admin_tokens())
    }
    async fn revoke_admin_token(&self, id: i64) -> Result<(), StoreError> {
        delegate!(self, s => s.revoke_admin_token(id))
    }
}

impl WebhookStore for TestStore {
    async fn create_endpoint(
        &self,
        tenant: TenantId,
        endpoint: NewEndpoint,
    ) -> Result<Endpoint, StoreError> {
        delegate!(self, s => s.create_endpoint(tenant, endpoint))
    }
    async fn list_endpoints(&self, tenant: TenantId) -> Result<Vec<Endpoint>, StoreError> {
        delegate!(self, s => s.list_endpoints(tenant))
    }
    async fn get_endpoint(
        &self,
        tenant: TenantId,
        id: &str,
    ) -> Result<Option<Endpoint>, StoreError> {
        delegate!(self, s => s.get_endpoint(tenant, id))
    }
    async fn delete_endpoint(&self, tenant: TenantId, id: &str) -> Result<(), StoreError> {
        delegate!(self, s => s.delete_endpoint(tenant, id))
    }
    async fn enabled_endpoints(&self) -> Result<Vec<Endpoint>, StoreError> {
        delegate!(self, s => s.enabled_endpoints())
    }
    async fn enqueue(
        &self,
        endpoint_id: &str,
        from_cursor: i64,
        to_cursor: i64,
        deliveries: Vec<NewDelivery>,
    ) -> Result<bool, StoreError> {
        delegate!(self, s => s.enqueue(endpoint_id, from_cursor, to_cursor, deliveries))
    }
    async fn enqueue_replay(
        &self,
        tenant: TenantId,
        endpoint_id: &str,
        deliveries: Vec<NewDelivery>,
    ) -> Result<u64, StoreError> {
        delegate!(self, s => s.enqueue_replay(tenant, endpoint_id, deliveries))
    }
    async fn claim_due(
        &self,
        now_us: i64,
        lease_until_us: i64,
        owner: &str,
        limit: u32,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        delegate!(self, s => s.claim_due(now_us, lease_until_us, owner, limit))
    }
    async fn finish_attempt(
        &self,
        delivery_id: i64,
        owner: &str,
        attempt: AttemptRecord,
        outcome: AttemptOutcome,
    ) -> Result<bool, StoreError> {
        delegate!(self, s => s.finish_attempt(delivery_id, owner, attempt, outcome))
    }
    async fn list_deliveries(
        &self,
        tenant: TenantId,
        endpoint_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Delivery>, StoreError> {
        delegate!(self, s => s.list_deliveries(tenant, endpoint_id, limit))
    }
    async fn list_attempts(
        &self,
        tenant: TenantId,
        delivery_id: i64,
    ) -> Result<Vec<Attempt>, StoreError> {
        delegate!(self, s => s.list_attempts(tenant, delivery_id))
    }
}

impl Transfer for TestStore {
    async fn export_tenant(&self, name: &str) -> Result<TenantExport, StoreError> {
        delegate!(self, s => s.export_tenant(name))
    }
    async fn import_tenant(&self, export: &TenantExport) -> Result<Tenant, StoreError> {
        delegate!(self, s => s.import_tenant(export))
    }
}

pub struct TestApp {
    /// `http://127.0.0.1:PORT`
    pub address: String,
    /// `http://127.0.0.1:PORT/scim/v2`
    pub scim: String,
    pub token: String,
    pub store: TestStore,
    /// The running server's state (its credential cache, for instance).
    pub state: AppState<TestStore>,
    pub client: reqwest::Client,
    _db: TestDb,
    _shutdown: oneshot::Sender<()>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(configure: impl FnOnce(&mut ServerConfig)) -> TestApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let mut config = ServerConfig {
        public_base_url: address.clone(),
        ..ServerConfig::default()
    };
    configure(&mut config);
    let registry = scimd_server::schema_registry(config.schema.as_ref()).unwrap();
    let (db, store) = test_store(registry.clone()).await;
    db.dir.path().clone_into(&mut config.data_dir);
    db.url.clone_into(&mut config.database_url);
    let token = match bootstrap::ensure_default_tenant(&store, None)
        .await
        .unwrap()
    {
        Bootstrap::Created { token } => token,
        other => panic!("unexpected bootstrap outcome {other:?}"),
    };
    let state = AppState::new(store.clone(), config, registry);
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(launch_with_listener(listener, state.clone(), async {
        let _ = rx.await;
    }));
    TestApp {
        scim: format!("{address}/scim/v2"),
        address,
        token,
        store,
        state,
        client: reqwest::Client::new(),
        _db: db,
        _shutdown: tx,
    }
}

impl TestApp {
    /// A request to `{scim}{path}` with the bearer token.
    pub fn req(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.scim))
            .bearer_auth(&self.token)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.req(Method::GET, path).send().await.unwrap()
    }

    pub async fn send_json(&self, method: Method, path: &str, body: &Value) -> Response {
        self.req(method, path)
            .header("content-type", SCIM)
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.send_json(Method::POST, path, body).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Response {
        self.send_json(Method::PUT, path, body).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Response {
        self.send_json(Method::PATCH, path, body).await
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.req(Method::DELETE, path).send().await.unwrap()
    }

    /// Creates a user and returns its JSON.
    pub async fn create_user(&self, user_name: &str) -> Value {
        let r = self
            .post(
                "/Users",
                &json!({
                    "schemas": [USER_SCHEMA],
                    "userName": user_name,
                    "name": {"givenName": "Given", "familyName": user_name},
                    "emails": [{"value": format!("{user_name}@example.com"), "type": "work", "primary": true}],
                    "active": true
                }),
            )
            .await;
        assert_eq!(r.status(), 201, "creating {user_name}");
        r.json().await.unwrap()
    }

    /// Creates a group with members and returns its JSON.
    pub async fn create_group(&self, name: &str, members: &[&str]) -> Value {
        let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
        let r = self
            .post(
                "/Groups",
                &json!({"schemas": [GROUP_SCHEMA], "displayName": name, "members": members}),
            )
            .await;
        assert_eq!(r.status(), 201, "creating group {name}");
        r.json().await.unwrap()
    }

    pub async fn default_tenant(&self) -> Tenant {
        self.store.tenant_by_name("default").await.unwrap().unwrap()
    }

    /// Replaces the default tenant's settings, and returns once requests see them.
    pub async fn set_settings(&self, settings: TenantSettings) {
        let t = self.default_tenant().await;
        self.store
            .update_tenant_settings(t.id, settings.to_json())
            .await
            .unwrap();
        self.auth_caught_up().await;
    }

    /// Waits until the server's credential cache has polled the credential generation the
    /// store has now, so that requests see every credential and settings change made
    /// before (the poll runs every second; fails after 10 s).
    pub async fn auth_caught_up(&self) {
        let target = self.store.auth_generation().await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while self
            .state
            .credential_cache()
            .observed_generation()
            .is_none_or(|seen| seen < target)
        {
            assert!(
                Instant::now() < deadline,
                "the server did not poll generation {target} within 10 s"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

pub fn patch_op(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": ops})
}

/// Asserts a SCIM error response and returns its body.
pub async fn assert_scim_error(r: Response, status: u16, scim_type: Option<&str>) -> Value {
    assert_eq!(r.status().as_u16(), status);
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        SCIM,
        "error content type"
    );
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["schemas"][0], ERROR_SCHEMA);
    assert_eq!(body["status"], status.to_string());
    match scim_type {
        Some(t) => assert_eq!(body["scimType"], t, "{body}"),
        None => assert!(body.get("scimType").is_none(), "{body}"),
    }
    body
}

/// Sends `request` every 20 ms until it answers `status`, and returns how long that took;
/// fails when it has not after `deadline`.
pub async fn until_status(
    deadline: Duration,
    status: u16,
    request: impl Fn() -> RequestBuilder,
) -> Duration {
    let started = Instant::now();
    loop {
        let got = request().send().await.unwrap().status().as_u16();
        if got == status {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < deadline,
            "still {got}, not {status}, after {deadline:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
