//! Several stateless nodes on one PostgreSQL database (issue 5): two real `scimd serve`
//! processes (the built binary) on one database of a throwaway cluster, with the traffic split
//! between them, checking what a load balancer in front of them must not break:
//! uniqueness (RFC 7643 §2.1 `uniqueness`), no lost member additions, If-Match
//! preconditions (RFC 7644 §3.14) and credential revocation across nodes.
//!
//! These tests need PostgreSQL (`initdb`, `pg_ctl`). Without it they print a skip message and
//! pass, unless `SCIMD_REQUIRE_POSTGRES=1` (CI), which makes a missing installation a
//! failure. They do not depend on `SCIMD_TEST_BACKEND`.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use scimd_store_postgres::test_cluster::Cluster;
use serde_json::{Value, json};

use crate::helpers::{GROUP_SCHEMA, SCIM, USER_SCHEMA, patch_op, until_status};

const BIN: &str = env!("CARGO_BIN_EXE_scimd");
const TOKEN: &str = "multinode-bootstrap-token";
/// How long a revocation may take to reach every node: the poll interval of the credential
/// generation (1 s) plus slack for a loaded machine; far below the cache's 60 s backstop.
const REVOCATION_DEADLINE: Duration = Duration::from_secs(3);

/// One `scimd serve` process, killed (by its pid) when dropped so a failing test leaves
/// nothing running.
struct Node {
    child: Child,
    /// `http://127.0.0.1:PORT/scim/v2`
    scim: String,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Two nodes on one database.
struct TwoNodes {
    nodes: [Node; 2],
    url: String,
    client: reqwest::Client,
    _data: tempfile::TempDir,
    _cluster: Arc<Cluster>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs an operator command of the binary against `url` and returns its stdout.
fn scimd(url: &str, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(args)
        .env("SCIMD_DATABASE_URL", url)
        .env_remove("SCIMD_CONFIG")
        .env_remove("SCIMD_DATA_DIR")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "scimd {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn start_node(url: &str, data: &std::path::Path) -> Node {
    let port = free_port();
    let child = Command::new(BIN)
        .arg("serve")
        .env("SCIMD_DATABASE_URL", url)
        .env("SCIMD_LISTEN", format!("127.0.0.1:{port}"))
        .env("SCIMD_DATA_DIR", data)
        .env("SCIMD_BOOTSTRAP_TOKEN", TOKEN)
        .env_remove("SCIMD_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Node {
        child,
        scim: format!("http://127.0.0.1:{port}/scim/v2"),
    }
}

async fn wait_ready(client: &reqwest::Client, node: &mut Node) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = client
            .get(format!("{}/ServiceProviderConfig", node.scim))
            .bearer_auth(TOKEN)
            .send()
            .await;
        match r {
            Ok(r) if r.status() == 200 => return,
            Ok(r) => panic!("{}: unexpected status {}", node.scim, r.status()),
            Err(e) => {
                if let Some(status) = node.child.try_wait().unwrap() {
                    panic!("scimd on {} exited with {status}", node.scim);
                }
                assert!(
                    Instant::now() < deadline,
                    "{} did not start: {e}",
                    node.scim
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Two nodes started at the same time on a new database (after `scimd migrate`, as
/// docs/DEPLOYMENT.md asks), or `None` after printing why the test is skipped.
async fn two_nodes(test: &str) -> Option<TwoNodes> {
    let Some(cluster) = Cluster::shared() else {
        eprintln!("SKIPPED multinode::{test}: PostgreSQL is not installed");
        return None;
    };
    let url = cluster.create_database().await;
    assert!(scimd(&url, &["migrate"]).contains("schema version"));
    let data = tempfile::tempdir().unwrap();
    // Started together on an empty database: both race to create the `default` tenant.
    let mut nodes = [start_node(&url, data.path()), start_node(&url, data.path())];
    let client = reqwest::Client::new();
    for node in &mut nodes {
        wait_ready(&client, node).await;
    }
    Some(TwoNodes {
        nodes,
        url,
        client,
        _data: data,
        _cluster: cluster,
    })
}

impl TwoNodes {
    /// Node `i % 2`, so that callers split traffic by alternating.
    fn node(&self, i: usize) -> &str {
        &self.nodes[i % 2].scim
    }

    fn req(&self, i: usize, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.node(i)))
            .bearer_auth(TOKEN)
    }

    async fn send(&self, i: usize, method: Method, path: &str, body: &Value) -> reqwest::Response {
        self.req(i, method, path)
            .header("content-type", SCIM)
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }
}

async fn json_of(r: reqwest::Response, status: u16) -> Value {
    assert_eq!(r.status().as_u16(), status);
    r.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_of_one_user_name_through_two_nodes_yield_one_201() {
    let Some(nodes) = two_nodes("concurrent_creates_of_one_user_name").await else {
        return;
    };
    let nodes = Arc::new(nodes);
    for round in 0..5 {
        // userName is case-insensitive (RFC 7643 §4.1.1): the variants collide too.
        let tasks: Vec<_> = (0..12)
            .map(|i| {
                let nodes = Arc::clone(&nodes);
                let name = match i % 3 {
                    0 => format!("race{round}@example.com"),
                    1 => format!("RACE{round}@example.com"),
                    _ => format!("Race{round}@Example.com"),
                };
                tokio::spawn(async move {
                    let body = json!({"schemas": [USER_SCHEMA], "userName": name});
                    let r = nodes.send(i, Method::POST, "/Users", &body).await;
                    let status = r.status();
                    let body: Value = r.json().await.unwrap();
                    (status, body)
                })
            })
            .collect();
        let mut created = 0;
        for task in tasks {
            let (status, body) = task.await.unwrap();
            match status {
                StatusCode::CREATED => created += 1,
                StatusCode::CONFLICT => assert_eq!(body["scimType"], "uniqueness", "{body}"),
                other => panic!("round {round}: unexpected {other}: {body}"),
            }
        }
        assert_eq!(created, 1, "round {round}: exactly one create wins");
        // Both nodes see the one winner.
        for i in 0..2 {
            let filter = format!("userName eq \"race{round}@example.com\"");
            let r = nodes
                .req(i, Method::GET, "/Users")
                .query(&[("filter", filter.as_str())])
                .send()
                .await
                .unwrap();
            assert_eq!(json_of(r, 200).await["totalResults"], 1);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_member_additions_through_two_nodes_lose_nothing() {
    let Some(nodes) = two_nodes("concurrent_member_additions").await else {
        return;
    };
    let mut users = Vec::new();
    for i in 0..24 {
        let body = json!({"schemas": [USER_SCHEMA], "userName": format!("member{i}")});
        let created = json_of(nodes.send(i, Method::POST, "/Users", &body).await, 201).await;
        users.push(created["id"].as_str().unwrap().to_owned());
    }
    let group = json!({"schemas": [GROUP_SCHEMA], "displayName": "Everyone"});
    let group = json_of(nodes.send(0, Method::POST, "/Groups", &group).await, 201).await;
    let path = format!("/Groups/{}", group["id"].as_str().unwrap());
    let nodes = Arc::new(nodes);
    // One PATCH per user, all at once, alternating nodes: each node reads the group, applies
    // the operation and writes it back, so a lost update would drop members.
    let tasks: Vec<_> = users
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let nodes = Arc::clone(&nodes);
            let path = path.clone();
            let body =
                patch_op(json!([{"op": "add", "path": "members", "value": [{"value": id}]}]));
            tokio::spawn(async move { nodes.send(i, Method::PATCH, &path, &body).await.status() })
        })
        .collect();
    for task in tasks {
        let status = task.await.unwrap();
        assert!(status == 204 || status == 200, "PATCH add member: {status}");
    }
    let mut versions = Vec::new();
    for i in 0..2 {
        let r = nodes.req(i, Method::GET, &path).send().await.unwrap();
        let g = json_of(r, 200).await;
        let mut members: Vec<String> = g["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["value"].as_str().unwrap().to_owned())
            .collect();
        members.sort();
        let mut expected = users.clone();
        expected.sort();
        assert_eq!(members, expected, "node {i} sees every member");
        versions.push(g["meta"]["version"].clone());
    }
    assert_eq!(
        versions[0], versions[1],
        "both nodes serve the same version"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn if_match_conflicts_are_detected_across_nodes() {
    let Some(nodes) = two_nodes("if_match_conflicts").await else {
        return;
    };
    let body = json!({"schemas": [USER_SCHEMA], "userName": "etag@example.com"});
    let user = json_of(nodes.send(0, Method::POST, "/Users", &body).await, 201).await;
    let path = format!("/Users/{}", user["id"].as_str().unwrap());

    // Node B reads the ETag…
    let r = nodes.req(1, Method::GET, &path).send().await.unwrap();
    let stale = r.headers()["etag"].to_str().unwrap().to_owned();
    // …node A changes the user…
    let changed =
        json!({"schemas": [USER_SCHEMA], "userName": "etag@example.com", "displayName": "A"});
    let r = nodes
        .req(0, Method::PUT, &path)
        .header("if-match", &stale)
        .header("content-type", SCIM)
        .body(changed.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let fresh = r.headers()["etag"].to_str().unwrap().to_owned();
    assert_ne!(fresh, stale);

    // …and node B's writes with the old ETag are refused, not applied over A's change.
    let mine =
        json!({"schemas": [USER_SCHEMA], "userName": "etag@example.com", "displayName": "B"});
    let r = nodes
        .req(1, Method::PUT, &path)
        .header("if-match", &stale)
        .header("content-type", SCIM)
        .body(mine.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 412);
    let r = nodes
        .req(1, Method::PATCH, &path)
        .header("if-match", &stale)
        .header("content-type", SCIM)
        .body(patch_op(json!([{"op": "replace", "path": "displayName", "value": "B"}])).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 412);
    let r = nodes
        .req(1, Method::DELETE, &path)
        .header("if-match", &stale)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 412);
    // Node B reads A's write at once (nothing is cached per node).
    let r = nodes.req(1, Method::GET, &path).send().await.unwrap();
    assert_eq!(r.headers()["etag"].to_str().unwrap(), fresh);
    assert_eq!(json_of(r, 200).await["displayName"], "A");
    // With the current ETag node B succeeds.
    let r = nodes
        .req(1, Method::PUT, &path)
        .header("if-match", &fresh)
        .header("content-type", SCIM)
        .body(mine.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_credential_stops_working_on_every_node_within_a_second_or_so() {
    let Some(nodes) = two_nodes("revoked_token").await else {
        return;
    };
    let url = nodes.url.clone();
    let token = scimd(
        &url,
        &[
            "tokens",
            "create",
            "--tenant",
            "default",
            "--label",
            "to-revoke",
        ],
    )
    .trim()
    .to_owned();
    let status = |i: usize, token: String| {
        let r = nodes
            .client
            .get(format!("{}/Users", nodes.node(i)))
            .bearer_auth(token)
            .send();
        async move { r.await.unwrap().status() }
    };
    for i in 0..2 {
        assert_eq!(
            status(i, token.clone()).await,
            200,
            "node {i} accepts the new token"
        );
    }
    let list = scimd(&url, &["tokens", "list", "--tenant", "default"]);
    let id = list
        .lines()
        .find(|l| l.ends_with("\tto-revoke"))
        .and_then(|l| l.split('\t').next())
        .unwrap()
        .to_owned();
    // Both nodes have the token in their credential caches now.
    for i in 0..2 {
        assert_eq!(status(i, token.clone()).await, 200);
    }
    scimd(&url, &["tokens", "revoke", "--tenant", "default", &id]);
    // Each node polls the credential generation every second and drops its cache when it
    // moved: the token is refused on both within a few seconds (not the 60 s backstop).
    for i in 0..2 {
        until_status(REVOCATION_DEADLINE, 401, || {
            nodes
                .client
                .get(format!("{}/Users", nodes.node(i)))
                .bearer_auth(&token)
        })
        .await;
    }
    // The other credentials are untouched.
    for i in 0..2 {
        assert_eq!(status(i, TOKEN.to_owned()).await, 200);
    }

    // Basic clients: node A caches the verification, node B never saw the client.
    let created = scimd(
        &url,
        &[
            "clients", "create", "--tenant", "default", "--label", "basic",
        ],
    );
    let field = |name: &str| {
        created
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap()
            .trim()
            .to_owned()
    };
    let (client_id, secret) = (field("client_id:"), field("client_secret:"));
    let basic = |i: usize| {
        let r = nodes
            .client
            .get(format!("{}/Users", nodes.node(i)))
            .basic_auth(&client_id, Some(&secret))
            .send();
        async move { r.await.unwrap().status() }
    };
    assert_eq!(basic(0).await, 200);
    let list = scimd(&url, &["clients", "list", "--tenant", "default"]);
    let id = list
        .lines()
        .find(|l| l.contains(&client_id))
        .and_then(|l| l.split('\t').next())
        .unwrap()
        .to_owned();
    assert_eq!(basic(0).await, 200);
    scimd(&url, &["clients", "revoke", "--tenant", "default", &id]);
    assert_eq!(basic(1).await, 401, "node B never cached the client");
    until_status(REVOCATION_DEADLINE, 401, || {
        nodes
            .client
            .get(format!("{}/Users", nodes.node(0)))
            .basic_auth(&client_id, Some(&secret))
    })
    .await;
}
