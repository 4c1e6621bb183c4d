//! A complete webhook receiver for scimd events (docs/INTEGRATING.md).
//!
//! ```sh
//! WEBHOOK_SECRET=whsec_… cargo run -p scimd-server --example webhook_receiver -- 127.0.0.1:9000
//! scimd webhooks add --tenant acme --url http://127.0.0.1:9000/hooks/scim
//! ```
//!
//! For each request it verifies `Scimd-Signature` over the raw body (HMAC-SHA256 of
//! `"<t>.<body>"`, five-minute tolerance, constant-time comparison) and answers 401 when it
//! does not match; drops a repeated `Scimd-Event-Id` (deliveries are at least once) while
//! still answering 2xx so scimd stops retrying; prints the event; answers 204. A real
//! application would keep the processed ids in its database, in the same transaction as
//! the work it does for the event.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use scimd_server::webhooks::signing::{SIGNATURE_HEADER, verify};

#[derive(Clone)]
struct Receiver {
    secret: Arc<String>,
    seen: Arc<Mutex<HashSet<String>>>,
}

async fn hook(State(rx): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let Some(signature) = header(SIGNATURE_HEADER) else {
        return StatusCode::UNAUTHORIZED;
    };
    if let Err(e) = verify(&rx.secret, signature, &body, now, 300) {
        eprintln!("rejected a request: {e}");
        return StatusCode::UNAUTHORIZED;
    }
    let Some(event_id) = header("Scimd-Event-Id").map(str::to_owned) else {
        return StatusCode::BAD_REQUEST;
    };
    let first_time = rx
        .seen
        .lock()
        .map(|mut seen| seen.insert(event_id.clone()))
        .unwrap_or(false);
    if !first_time {
        println!("duplicate {event_id}: already processed");
        return StatusCode::NO_CONTENT;
    }
    let event: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) => return StatusCode::BAD_REQUEST,
    };
    let event_type = header("Scimd-Event-Type").unwrap_or("?");
    // Here the application acts: send the invitation, revoke sessions, free a licence…
    let field = |name: &str| event.get(name).cloned().unwrap_or_default();
    println!(
        "{event_type} seq={} resource={} actor={}",
        field("seq"),
        field("resourceId"),
        field("actor")
    );
    StatusCode::NO_CONTENT
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = std::env::var("WEBHOOK_SECRET")
        .map_err(|_| "set WEBHOOK_SECRET to the secret printed by `scimd webhooks add`")?;
    let listen = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9000".into());
    let state = Receiver {
        secret: Arc::new(secret),
        seen: Arc::new(Mutex::new(HashSet::new())),
    };
    let app = Router::new()
        .route("/hooks/scim", post(hook))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("receiving scimd webhooks on http://{listen}/hooks/scim");
    axum::serve(listener, app).await?;
    Ok(())
}
