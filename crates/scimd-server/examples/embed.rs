//! Mounting scimd inside your own axum application.
//!
//! Run with `cargo run -p scimd-server --example embed`, then:
//! `curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:3000/scim/v2/Users`
//! (the token is printed at start). Your own routes (`/healthz` here) live next to SCIM.

use axum::Router;
use axum::routing::get;
use scimd_server::bootstrap::{Bootstrap, ensure_default_tenant};
use scimd_server::{AppState, ServerConfig, router, shutdown_signal};
use scimd_store_sqlite::SqliteStore;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join("scimd-embed-example");
    std::fs::create_dir_all(&dir)?;
    let registry = scimd_server::schema_registry(None)?;
    let url = format!("sqlite://{}", dir.join("scimd.db").display());
    let store = SqliteStore::open(&url, registry.clone()).await?;
    if let Bootstrap::Created { token } = ensure_default_tenant(&store, None).await? {
        println!("bearer token for tenant 'default': {token}");
    }

    let config = ServerConfig {
        listen: "127.0.0.1:3000".into(),
        public_base_url: "http://127.0.0.1:3000".into(),
        ..ServerConfig::default()
    };
    let state = AppState::new(store, config, registry);

    // scimd's router carries its own state; merge it into the host application.
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(router(state));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("SCIM at http://127.0.0.1:3000/scim/v2");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    Ok(())
}
