//! `spawn_app()`: a running scimd with a temporary database and a bearer token.

use reqwest::{Method, RequestBuilder, Response};
use scimd_server::bootstrap::{self, Bootstrap};
use scimd_server::config::{ServerConfig, TenantSettings};
use scimd_server::{AppState, launch_with_listener};
use scimd_store::{Store, Tenant};
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

pub struct TestApp {
    /// `http://127.0.0.1:PORT`
    pub address: String,
    /// `http://127.0.0.1:PORT/scim/v2`
    pub scim: String,
    pub token: String,
    pub store: SqliteStore,
    pub client: reqwest::Client,
    _dir: TempDir,
    _shutdown: oneshot::Sender<()>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(configure: impl FnOnce(&mut ServerConfig)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("scimd.db").display());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let mut config = ServerConfig {
        data_dir: dir.path().to_owned(),
        database_url: url.clone(),
        public_base_url: address.clone(),
        ..ServerConfig::default()
    };
    configure(&mut config);
    let registry = scimd_server::schema_registry(config.schema.as_ref()).unwrap();
    let store = SqliteStore::open(&url, registry.clone()).await.unwrap();
    let token = match bootstrap::ensure_default_tenant(&store, None)
        .await
        .unwrap()
    {
        Bootstrap::Created { token } => token,
        other => panic!("unexpected bootstrap outcome {other:?}"),
    };
    let state = AppState::new(store.clone(), config, registry);
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(launch_with_listener(listener, state, async {
        let _ = rx.await;
    }));
    TestApp {
        scim: format!("{address}/scim/v2"),
        address,
        token,
        store,
        client: reqwest::Client::new(),
        _dir: dir,
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

    /// Replaces the default tenant's settings.
    pub async fn set_settings(&self, settings: TenantSettings) {
        let t = self.default_tenant().await;
        self.store
            .update_tenant_settings(t.id, settings.to_json())
            .await
            .unwrap();
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
