//! Webhooks end to end with real HTTP receivers on loopback: signatures (checked in Rust and
//! with the Python snippet of docs/INTEGRATING.md), order per endpoint, event filters,
//! retries after 500s, dead deliveries, the RFC 9967 SET format, and `kill -9` of the
//! `scimd` binary mid-delivery losing no event.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use scimd_core::set::{PROV_CREATE_FULL, PROV_DEACTIVATE, PROV_PUT_FULL};
use scimd_server::webhooks::signing::{SIGNATURE_HEADER, verify};
use scimd_server::webhooks::{Backoff, Dispatcher, WebhookConfig, add_endpoint, parse_filter};
use scimd_store::webhooks::{DeliveryStatus, WebhookFormat, WebhookStore};
use scimd_store::{EventStore, TenantId};
use serde_json::{Value, json};

use crate::helpers::{PATCH_OP, TestApp, TestStore, USER_SCHEMA, spawn_app};

/// One request a receiver got.
#[derive(Debug, Clone)]
struct Captured {
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Captured {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map_or("", String::as_str)
    }
}

#[derive(Clone)]
struct ReceiverState {
    got: Arc<Mutex<Vec<Captured>>>,
    /// Statuses for the first requests, then 200.
    statuses: Arc<Vec<u16>>,
    delay: Duration,
}

/// A webhook receiver on 127.0.0.1:0 recording every request.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Captured>>>,
}

impl Receiver {
    async fn start(statuses: Vec<u16>, delay: Duration) -> Self {
        let got = Arc::new(Mutex::new(Vec::new()));
        let state = ReceiverState {
            got: Arc::clone(&got),
            statuses: Arc::new(statuses),
            delay,
        };
        async fn handle(
            State(st): State<ReceiverState>,
            headers: HeaderMap,
            body: Bytes,
        ) -> StatusCode {
            let n = {
                let mut got = st.got.lock().unwrap();
                got.push(Captured {
                    headers: headers
                        .iter()
                        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
                        .collect(),
                    body: body.to_vec(),
                });
                got.len()
            };
            tokio::time::sleep(st.delay).await;
            let code = st.statuses.get(n - 1).copied().unwrap_or(200);
            StatusCode::from_u16(code).unwrap()
        }
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(handle))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, got }
    }

    fn requests(&self) -> Vec<Captured> {
        self.got.lock().unwrap().clone()
    }

    /// Waits until `pred` holds for the requests so far.
    async fn wait_for(&self, what: &str, pred: impl Fn(&[Captured]) -> bool) -> Vec<Captured> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let got = self.requests();
            if pred(&got) {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; got {} requests",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn config(app: &TestApp, backoff: Backoff) -> WebhookConfig {
    WebhookConfig {
        backoff,
        poll_interval: Duration::from_millis(20),
        request_timeout: Duration::from_secs(5),
        public_base_url: app.address.clone(),
        ..WebhookConfig::default()
    }
}

fn fast_backoff(retry_period: Duration) -> Backoff {
    Backoff {
        base: Duration::from_millis(50),
        cap: Duration::from_millis(200),
        retry_period,
    }
}

/// Runs the same generic body on whichever backend the app uses.
macro_rules! on_store {
    ($store:expr, $s:ident => $body:expr) => {
        match $store {
            TestStore::Sqlite($s) => $body,
            TestStore::Postgres($s) => $body,
        }
    };
}

/// Starts a dispatcher on the store; the test aborts the returned task at its end.
fn start<S: EventStore + WebhookStore>(s: S, config: WebhookConfig) -> tokio::task::JoinHandle<()> {
    let d = Dispatcher::new(s, config).unwrap();
    tokio::spawn(d.run(std::future::pending::<()>()))
}

async fn add<S: EventStore + WebhookStore>(
    s: &S,
    tenant: TenantId,
    url: &str,
    events: &str,
    format: WebhookFormat,
) -> (String, String) {
    let (e, secret) = add_endpoint(s, tenant, url, parse_filter(events).unwrap(), format)
        .await
        .unwrap();
    (e.id, secret)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .try_into()
        .unwrap()
}

/// The Python verification snippet of docs/INTEGRATING.md, run with python3 on a captured
/// request; returns what it printed.
fn python_verify(secret: &str, header: &str, body: &[u8]) -> String {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/INTEGRATING.md"
    ))
    .unwrap();
    let after = doc.split("<!-- verify-python -->").nth(1).unwrap();
    let snippet = after
        .split("```python")
        .nth(1)
        .unwrap()
        .split("```")
        .next()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let body_path = dir.path().join("body");
    std::fs::write(&body_path, body).unwrap();
    let script = format!(
        "{snippet}\nimport sys\nbody = open(sys.argv[1], 'rb').read()\n\
         print('valid' if verify(sys.argv[2], sys.argv[3], body) else 'invalid')\n"
    );
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&body_path)
        .arg(secret)
        .arg(header)
        .output()
        .expect("python3 is needed for the documented snippet test");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

async fn deactivate(app: &TestApp, id: &str) {
    let r = app
        .patch(
            &format!("/Users/{id}"),
            &json!({"schemas": [PATCH_OP], "Operations": [
                {"op": "replace", "path": "active", "value": false}
            ]}),
        )
        .await;
    assert!(r.status().is_success(), "{}", r.status());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_deliveries_in_order_filtered_and_verified_by_the_documented_snippet() {
    let app = spawn_app().await;
    let tenant = app.default_tenant().await.id;
    let all = Receiver::start(vec![], Duration::ZERO).await;
    let groups = Receiver::start(vec![], Duration::ZERO).await;
    let (_, secret) =
        on_store!(app.store.clone(), s => add(&s, tenant, &all.url, "", WebhookFormat::Json).await);
    on_store!(app.store.clone(), s => add(&s, tenant, &groups.url, "group.*", WebhookFormat::Json).await);
    let d = on_store!(app.store.clone(), s => start(s, config(&app, Backoff::default())));

    let u1 = app.create_user("alice").await;
    app.create_user("bob").await;
    let u3 = app.create_user("carol").await;
    app.create_group("staff", &[u1["id"].as_str().unwrap()])
        .await;
    deactivate(&app, u3["id"].as_str().unwrap()).await;

    let got = all.wait_for("5 events", |g| g.len() >= 5).await;
    let types: Vec<String> = got
        .iter()
        .map(|c| c.header("Scimd-Event-Type").to_owned())
        .collect();
    assert_eq!(
        types,
        [
            "user.created",
            "user.created",
            "user.created",
            "group.created",
            "user.deactivated"
        ]
    );
    let seqs: Vec<i64> = got
        .iter()
        .map(|c| c.json()["seq"].as_i64().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "seq order: {seqs:?}");
    for c in &got {
        let body = c.json();
        assert_eq!(c.header("Scimd-Event-Id"), body["id"].as_str().unwrap());
        assert_eq!(c.header("Scimd-Event-Type"), body["type"].as_str().unwrap());
        assert_eq!(c.header("content-type"), "application/json");
        let sig = c.header(SIGNATURE_HEADER);
        assert_eq!(
            verify(&secret, sig, &c.body, now(), 300),
            Ok(()),
            "Rust verification"
        );
    }
    // The documented Python snippet accepts the real request and refuses a tampered one.
    let first = &got[0];
    assert_eq!(
        python_verify(&secret, first.header(SIGNATURE_HEADER), &first.body),
        "valid"
    );
    let mut tampered = first.body.clone();
    tampered.push(b' ');
    assert_eq!(
        python_verify(&secret, first.header(SIGNATURE_HEADER), &tampered),
        "invalid"
    );
    assert_eq!(
        python_verify("whsec_wrong", first.header(SIGNATURE_HEADER), &first.body),
        "invalid"
    );

    // The filtered endpoint got only the group event.
    let g = groups.wait_for("the group event", |g| !g.is_empty()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let g = if groups.requests().len() > g.len() {
        groups.requests()
    } else {
        g
    };
    assert_eq!(g.len(), 1);
    assert_eq!(g[0].header("Scimd-Event-Type"), "group.created");
    d.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_answering_500_gets_retries_then_the_delivery_succeeds() {
    let app = spawn_app().await;
    let tenant = app.default_tenant().await.id;
    let rx = Receiver::start(vec![500, 500], Duration::ZERO).await;
    let (endpoint, _) =
        on_store!(app.store.clone(), s => add(&s, tenant, &rx.url, "", WebhookFormat::Json).await);
    let d = on_store!(app.store.clone(), s => start(s, config(&app, fast_backoff(Duration::from_secs(60)))));
    app.create_user("alice").await;
    let got = rx.wait_for("3 attempts", |g| g.len() >= 3).await;
    let ids: Vec<&str> = got.iter().map(|c| c.header("Scimd-Event-Id")).collect();
    assert!(
        ids.iter().all(|i| *i == ids[0]),
        "the same event is retried: {ids:?}"
    );
    // Each attempt is signed afresh; all verify.
    let deadline = Instant::now() + Duration::from_secs(10);
    let (delivery, attempts) = loop {
        let ds = on_store!(app.store.clone(), s => s.list_deliveries(tenant, Some(&endpoint), 10).await.unwrap());
        if ds[0].status == DeliveryStatus::Delivered {
            let attempts =
                on_store!(app.store.clone(), s => s.list_attempts(tenant, ds[0].id).await.unwrap());
            break (ds[0].clone(), attempts);
        }
        assert!(Instant::now() < deadline, "not delivered: {:?}", ds[0]);
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(delivery.attempts, 3);
    assert_eq!(delivery.last_status, Some(200));
    let codes: Vec<Option<i64>> = attempts.iter().map(|a| a.record.status_code).collect();
    assert_eq!(codes, [Some(500), Some(500), Some(200)]);
    assert_eq!(attempts[0].record.error.as_deref(), Some("HTTP 500"));
    assert!(attempts.iter().all(|a| a.record.duration_ms >= 0));
    d.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_is_dead_after_the_retry_period_and_the_next_event_follows() {
    let app = spawn_app().await;
    let tenant = app.default_tenant().await.id;
    let rx = Receiver::start(vec![500; 10_000], Duration::ZERO).await;
    let (endpoint, _) =
        on_store!(app.store.clone(), s => add(&s, tenant, &rx.url, "", WebhookFormat::Json).await);
    let d = on_store!(app.store.clone(), s => start(s, config(&app, fast_backoff(Duration::from_millis(600)))));
    app.create_user("alice").await;
    app.create_user("bob").await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let ds = loop {
        let ds = on_store!(app.store.clone(), s => s.list_deliveries(tenant, Some(&endpoint), 10).await.unwrap());
        if ds.len() == 2 && ds.iter().all(|d| d.status == DeliveryStatus::Dead) {
            break ds;
        }
        assert!(Instant::now() < deadline, "not dead: {ds:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // The retry period counts from when a delivery was queued (docs/INTEGRATING.md): the
    // first event is retried until it dies; the second, queued at the same moment but held
    // behind it (per-endpoint order), may have used up its period by then and gets at least
    // one attempt before it is dead too.
    let (second, first_delivery) = (&ds[0], &ds[1]);
    assert!(first_delivery.event_seq < second.event_seq);
    assert!(first_delivery.attempts >= 2, "retried before dying: {ds:?}");
    assert!(second.attempts >= 1, "attempted before dying: {ds:?}");
    // Order: every attempt of the first event precedes every attempt of the second.
    let first = first_delivery.event_id.clone();
    let got = rx.requests();
    let last_first = got
        .iter()
        .rposition(|c| c.header("Scimd-Event-Id") == first)
        .unwrap();
    let first_second = got
        .iter()
        .position(|c| c.header("Scimd-Event-Id") != first)
        .unwrap();
    assert!(
        last_first < first_second,
        "the second event waited for the first to die"
    );
    d.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_format_follows_rfc_9967() {
    let app = spawn_app().await;
    let tenant = app.default_tenant().await.id;
    let rx = Receiver::start(vec![], Duration::ZERO).await;
    on_store!(app.store.clone(), s => add(&s, tenant, &rx.url, "user.*", WebhookFormat::Set).await);
    let d = on_store!(app.store.clone(), s => start(s, config(&app, Backoff::default())));
    let r = app
        .post(
            "/Users",
            &json!({"schemas": [USER_SCHEMA], "userName": "set-user", "externalId": "ext-9"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let user: Value = r.json().await.unwrap();
    let id = user["id"].as_str().unwrap();
    deactivate(&app, id).await;
    let got = rx.wait_for("2 SETs", |g| g.len() >= 2).await;

    let create = got[0].json();
    assert_eq!(create["jti"], got[0].header("Scimd-Event-Id"));
    assert_eq!(create["aud"], rx.url.as_str());
    assert_eq!(
        create["iss"],
        format!("{}/tenants/default/scim/v2", app.address)
    );
    assert!(create["iat"].as_i64().unwrap() > 1_700_000_000);
    assert!(create["txn"].as_str().is_some_and(|t| !t.is_empty()));
    assert_eq!(
        create["sub_id"],
        json!({"format": "scim", "uri": format!("/Users/{id}"), "externalId": "ext-9"})
    );
    let events = create["events"].as_object().unwrap();
    assert_eq!(events.len(), 1);
    let data = &events[PROV_CREATE_FULL]["data"];
    assert_eq!(data["userName"], "set-user");
    assert_eq!(data["id"], id);
    assert!(
        data["schemas"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == USER_SCHEMA)
    );

    let deact = got[1].json();
    let events = deact["events"].as_object().unwrap();
    assert_eq!(events[PROV_DEACTIVATE], json!({}));
    assert_eq!(events[PROV_PUT_FULL]["data"]["active"], false);
    d.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_resends_past_events_through_the_filter() {
    use scimd_server::webhooks::cli::{WebhooksCommand, run};

    let app = spawn_app().await;
    let tenant = app.default_tenant().await.id;
    let rx = Receiver::start(vec![], Duration::ZERO).await;
    let mut out = Vec::new();
    on_store!(app.store.clone(), s => run(&s, &WebhooksCommand::Add {
        tenant: "default".into(),
        url: rx.url.clone(),
        events: "user.created".into(),
        format: "json".into(),
    }, &app.address, &mut out).await.unwrap());
    let printed = String::from_utf8(out).unwrap();
    let endpoint = printed
        .lines()
        .find_map(|l| l.strip_prefix("id: "))
        .unwrap()
        .to_owned();
    let d = on_store!(app.store.clone(), s => start(s, config(&app, Backoff::default())));
    let u = app.create_user("alice").await;
    app.create_user("bob").await;
    deactivate(&app, u["id"].as_str().unwrap()).await;
    rx.wait_for("2 creations", |g| g.len() >= 2).await;

    // Replay from seq 2: only bob's creation matches the filter in [2, cursor].
    let mut out = Vec::new();
    on_store!(app.store.clone(), s => run(&s, &WebhooksCommand::Replay {
        tenant: "default".into(),
        since: "2".into(),
        endpoint: Some(endpoint.clone()),
    }, &app.address, &mut out).await.unwrap());
    assert_eq!(
        String::from_utf8(out).unwrap().trim(),
        "queued 1 deliveries"
    );
    let got = rx.wait_for("the replayed event", |g| g.len() >= 3).await;
    assert_eq!(
        got[2].header("Scimd-Event-Id"),
        got[1].header("Scimd-Event-Id")
    );

    // By time: everything since the epoch, through the filter (2 creations).
    let mut out = Vec::new();
    on_store!(app.store.clone(), s => run(&s, &WebhooksCommand::Replay {
        tenant: "default".into(),
        since: "1970-01-01T00:00:00Z".into(),
        endpoint: None,
    }, &app.address, &mut out).await.unwrap());
    assert_eq!(
        String::from_utf8(out).unwrap().trim(),
        "queued 2 deliveries"
    );
    rx.wait_for("both replayed", |g| g.len() >= 5).await;

    // Removing the endpoint removes its queue; another tenant cannot see it.
    let mut out = Vec::new();
    let other = on_store!(app.store.clone(), s => run(&s, &WebhooksCommand::Remove {
        tenant: "nope".into(),
        id: endpoint.clone(),
    }, &app.address, &mut out).await);
    assert!(other.is_err());
    on_store!(app.store.clone(), s => run(&s, &WebhooksCommand::Remove {
        tenant: "default".into(),
        id: endpoint.clone(),
    }, &app.address, &mut out).await.unwrap());
    let left =
        on_store!(app.store.clone(), s => s.list_deliveries(tenant, None, 10).await.unwrap());
    assert!(left.is_empty());
    d.abort();
}

// ---- the binary: kill -9 mid-delivery ----

const BIN: &str = env!("CARGO_BIN_EXE_scimd");

fn scimd(data_dir: &std::path::Path) -> std::process::Command {
    let mut c = std::process::Command::new(BIN);
    c.arg("--data-dir")
        .arg(data_dir)
        .env_remove("SCIMD_BOOTSTRAP_TOKEN")
        .env_remove("SCIMD_DATABASE_URL")
        .env_remove("SCIMD_CONFIG")
        .env_remove("SCIMD_LISTEN")
        .env_remove("SCIMD_DATA_DIR")
        .env("SCIMD_WEBHOOK_TIMEOUT_SECS", "2")
        .env("SCIMD_WEBHOOK_LEASE_SECS", "3")
        .env("SCIMD_WEBHOOK_BACKOFF_BASE_MS", "100")
        .env("SCIMD_WEBHOOK_BACKOFF_CAP_SECS", "1");
    c
}

fn run_ok(c: &mut std::process::Command) -> String {
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

// The child is returned to the caller, which kills and waits for it.
#[allow(clippy::zombie_processes)]
async fn serve(dir: &std::path::Path, port: u16, token: &str) -> std::process::Child {
    let mut child = scimd(dir)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = client
            .get(format!(
                "http://127.0.0.1:{port}/tenants/acme/scim/v2/ServiceProviderConfig"
            ))
            .bearer_auth(token)
            .send()
            .await;
        if r.is_ok_and(|r| r.status() == 200) {
            return child;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("scimd did not start");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_delivery_and_restart_lose_no_event() {
    if crate::helpers::backend() != crate::helpers::Backend::Sqlite {
        // The binary runs on its own SQLite file here; PostgreSQL nodes are in multinode.
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Each request takes 300 ms to answer: the kill lands while one is in flight.
    let rx = Receiver::start(vec![], Duration::from_millis(300)).await;
    run_ok(scimd(d).args(["tenants", "create", "acme"]));
    let token = run_ok(scimd(d).args(["tokens", "create", "--tenant", "acme"]))
        .trim()
        .to_owned();
    let added = run_ok(scimd(d).args(["webhooks", "add", "--tenant", "acme", "--url", &rx.url]));
    assert!(
        added.contains("id: wh_") && added.contains("secret: whsec_"),
        "{added}"
    );
    let listed = run_ok(scimd(d).args(["webhooks", "list", "--tenant", "acme"]));
    assert!(
        listed.contains(&rx.url) && !listed.contains("whsec_"),
        "{listed}"
    );

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = serve(d, port, &token).await;
    let client = reqwest::Client::new();
    const USERS: i64 = 10;
    for i in 0..USERS {
        let r = client
            .post(format!(
                "http://127.0.0.1:{port}/tenants/acme/scim/v2/Users"
            ))
            .bearer_auth(&token)
            .header("content-type", "application/scim+json")
            .body(json!({"schemas": [USER_SCHEMA], "userName": format!("k{i}")}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    let got = rx.wait_for("3 requests", |g| g.len() >= 3).await;
    // The third request is being answered (300 ms): kill scimd now, SIGKILL.
    let in_flight = got[2].json()["seq"].as_i64().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();

    let mut child = serve(d, port, &token).await;
    let got = rx
        .wait_for("every event", |g| {
            let seqs: std::collections::BTreeSet<i64> = g
                .iter()
                .map(|c| c.json()["seq"].as_i64().unwrap())
                .collect();
            seqs.len() as i64 == USERS
        })
        .await;
    let seqs: Vec<i64> = got
        .iter()
        .map(|c| c.json()["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(
        seqs.iter().collect::<std::collections::BTreeSet<_>>(),
        (1..=USERS).collect::<Vec<_>>().iter().collect(),
        "every event arrived at least once: {seqs:?}"
    );
    assert!(
        seqs.iter().filter(|s| **s == in_flight).count() >= 2,
        "the delivery cut by kill -9 was sent again: {seqs:?}"
    );
    // Per-endpoint order: apart from the re-sent one, seqs never go backwards.
    let firsts: Vec<i64> = seqs
        .iter()
        .enumerate()
        .filter(|(i, s)| !seqs[..*i].contains(s))
        .map(|(_, s)| *s)
        .collect();
    assert!(firsts.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    let deliveries = run_ok(scimd(d).args(["webhooks", "deliveries", "--tenant", "acme"]));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(deliveries.contains("user.created"), "{deliveries}");
}

// ---- the admin API: /admin/v1/tenants/{t}/webhooks ----

/// Creates an admin token in the app's store and returns it.
async fn admin_token(app: &TestApp) -> String {
    use scimd_store::AdminStore;
    let token = scimd_server::crypto::new_bearer_token().unwrap();
    app.store
        .create_admin_token(
            "host app",
            &scimd_server::crypto::sha256_hex(token.as_bytes()),
        )
        .await
        .unwrap();
    token
}

async fn admin(
    app: &TestApp,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut r = app
        .client
        .request(
            method,
            format!("{}/admin/v1/tenants/default{path}", app.address),
        )
        .bearer_auth(token);
    if let Some(b) = body {
        r = r
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    r.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_api_adds_lists_replays_and_removes_endpoints() {
    use reqwest::Method;

    let app = spawn_app().await;
    let tenant = app.default_tenant().await.id;
    let token = admin_token(&app).await;
    let rx = Receiver::start(vec![], Duration::ZERO).await;

    // Add: 201 with id and the secret, shown this once.
    let r = admin(
        &app,
        &token,
        Method::POST,
        "/webhooks",
        Some(json!({"url": rx.url, "events": ["user.created", "group.*"], "format": "json"})),
    )
    .await;
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{created}");
    assert_eq!(created["events"], json!(["user.created", "group.*"]));
    let stored =
        on_store!(app.store.clone(), s => s.get_endpoint(tenant, &id).await.unwrap()).unwrap();
    assert_eq!(stored.secret, secret);
    assert_eq!(stored.format, WebhookFormat::Json);

    // List: the endpoint, never its secret.
    let r = admin(&app, &token, Method::GET, "/webhooks", None).await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(!text.contains(&secret), "{text}");
    assert!(!text.contains("secret"), "{text}");
    let list: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(list["webhooks"].as_array().unwrap().len(), 1);
    assert_eq!(list["webhooks"][0]["id"], json!(id));
    assert_eq!(list["webhooks"][0]["url"], json!(rx.url));
    assert_eq!(list["webhooks"][0]["format"], json!("json"));

    // Bad input: JSON error bodies, nothing added.
    for body in [
        json!({"url": "ftp://x.example", "events": []}),
        json!({"url": rx.url, "events": ["user.exploded"]}),
        json!({"url": rx.url, "format": "xml"}),
        json!({"url": rx.url, "events": ["user.created,user.deleted"]}),
    ] {
        let r = admin(&app, &token, Method::POST, "/webhooks", Some(body.clone())).await;
        assert_eq!(r.status(), 400, "{body}");
        let e: Value = r.json().await.unwrap();
        assert!(e["detail"].is_string(), "{e}");
    }
    let r = app
        .client
        .post(format!("{}/admin/v1/tenants/default/webhooks", app.address))
        .bearer_auth(&token)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = admin(&app, &token, Method::POST, "/webhooks", None).await;
    assert_eq!(r.status(), 400);
    let r = app
        .client
        .get(format!("{}/admin/v1/tenants/nope/webhooks", app.address))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(
        on_store!(app.store.clone(), s => s.list_endpoints(tenant).await.unwrap()).len(),
        1
    );

    // Deliveries through the dispatcher, then a replay re-queues them.
    let d = on_store!(app.store.clone(), s => start(s, config(&app, Backoff::default())));
    app.create_user("alice").await;
    app.create_user("bob").await;
    let got = rx.wait_for("2 creations", |g| g.len() >= 2).await;
    let sig = got[0].header(SIGNATURE_HEADER).to_owned();
    assert!(verify(&secret, &sig, &got[0].body, now(), 300).is_ok());

    let path = format!("/webhooks/{id}/deliveries");
    let deliveries: Value = admin(&app, &token, Method::GET, &path, None)
        .await
        .json()
        .await
        .unwrap();
    let list = deliveries["deliveries"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{deliveries}");
    assert!(list.iter().all(|d| d["endpoint"] == json!(id)));
    assert!(
        list.iter()
            .all(|d| d["event_type"] == json!("user.created"))
    );

    let r = admin(
        &app,
        &token,
        Method::POST,
        "/webhooks/replay",
        Some(json!({"since": "1970-01-01T00:00:00Z", "endpoint": id})),
    )
    .await;
    assert_eq!(r.status(), 202);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"queued": 2}));
    let got = rx.wait_for("2 replayed", |g| g.len() >= 4).await;
    assert_eq!(
        got[2].header("Scimd-Event-Id"),
        got[0].header("Scimd-Event-Id")
    );
    // A sequence number as a JSON number, every endpoint: only seq >= 2 (bob).
    let r = admin(
        &app,
        &token,
        Method::POST,
        "/webhooks/replay",
        Some(json!({"since": 2})),
    )
    .await;
    assert_eq!(r.status(), 202);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"queued": 1}));
    rx.wait_for("the third replay", |g| g.len() >= 5).await;
    let r = admin(
        &app,
        &token,
        Method::POST,
        "/webhooks/replay",
        Some(json!({"since": "yesterday-ish"})),
    )
    .await;
    assert_eq!(r.status(), 400);
    let r = admin(
        &app,
        &token,
        Method::POST,
        "/webhooks/replay",
        Some(json!({"since": "1", "endpoint": "wh_missing"})),
    )
    .await;
    assert_eq!(r.status(), 404);

    // Delete: 204, then it is gone (list, deliveries, second delete).
    let r = admin(
        &app,
        &token,
        Method::DELETE,
        &format!("/webhooks/{id}"),
        None,
    )
    .await;
    assert_eq!(r.status(), 204);
    let list: Value = admin(&app, &token, Method::GET, "/webhooks", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list, json!({"webhooks": []}));
    let r = admin(&app, &token, Method::GET, &path, None).await;
    assert_eq!(r.status(), 404);
    let r = admin(
        &app,
        &token,
        Method::DELETE,
        &format!("/webhooks/{id}"),
        None,
    )
    .await;
    assert_eq!(r.status(), 404);
    assert!(r.json::<Value>().await.unwrap()["detail"].is_string());
    let left =
        on_store!(app.store.clone(), s => s.list_deliveries(tenant, None, 10).await.unwrap());
    assert!(left.is_empty());
    d.abort();
}

#[tokio::test]
async fn admin_webhook_routes_refuse_scim_tokens_and_no_token() {
    use reqwest::Method;

    let app = spawn_app().await;
    let tenant = app.default_tenant().await.id;
    let (id, _) = on_store!(app.store.clone(), s => add(
        &s, tenant, "http://127.0.0.1:9/hook", "", WebhookFormat::Json
    )
    .await);
    let routes = [
        (Method::GET, "/webhooks".to_owned(), None),
        (
            Method::POST,
            "/webhooks".to_owned(),
            Some(json!({"url": "http://127.0.0.1:9/other"})),
        ),
        (Method::DELETE, format!("/webhooks/{id}"), None),
        (
            Method::POST,
            "/webhooks/replay".to_owned(),
            Some(json!({"since": "1"})),
        ),
        (Method::GET, format!("/webhooks/{id}/deliveries"), None),
    ];
    for (method, path, body) in routes {
        let r = admin(&app, &app.token, method.clone(), &path, body.clone()).await;
        assert_eq!(r.status(), 401, "SCIM token on {method} {path}");
        let r = app
            .client
            .request(
                method.clone(),
                format!("{}/admin/v1/tenants/default{path}", app.address),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "no token on {method} {path}");
    }
    // Nothing changed.
    let endpoints = on_store!(app.store.clone(), s => s.list_endpoints(tenant).await.unwrap());
    assert_eq!(endpoints.len(), 1);
    assert_eq!(endpoints[0].id, id);
}
