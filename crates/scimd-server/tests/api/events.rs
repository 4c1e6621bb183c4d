//! The outbox over HTTP: events written by SCIM changes (none for failures and no-op
//! PATCHes), the events API (paging, long-poll), admin vs SCIM credential separation, the
//! audit log, and password verification.

use std::time::{Duration, Instant};

use reqwest::Method;
use scimd_server::config::TenantSettings;
use scimd_store::{AdminStore, AuditQuery, AuditStore};
use serde_json::{Value, json};

use crate::helpers::*;

/// Creates an admin token in the app's store and returns it.
async fn admin_token(app: &TestApp) -> String {
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

async fn admin_get(app: &TestApp, token: &str, path: &str) -> reqwest::Response {
    app.client
        .get(format!("{}/admin/v1{path}", app.address))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn events(app: &TestApp, token: &str, query: &str) -> Value {
    let r = admin_get(app, token, &format!("/tenants/default/events?{query}")).await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

fn types(page: &Value) -> Vec<String> {
    page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn changes_write_events_and_failures_do_not() {
    let app = spawn_app().await;
    let admin = admin_token(&app).await;
    let u = app.create_user("alice").await;
    let id = u["id"].as_str().unwrap();
    // 409, 412, 400 and a no-op PATCH: no events.
    let r = app
        .post(
            "/Users",
            &json!({"schemas": [USER_SCHEMA], "userName": "ALICE"}),
        )
        .await;
    assert_eq!(r.status(), 409);
    let r = app
        .req(Method::PATCH, &format!("/Users/{id}"))
        .header("content-type", SCIM)
        .header("if-match", "W/\"999\"")
        .body(patch_op(json!([{"op": "replace", "path": "title", "value": "x"}])).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 412);
    let r = app
        .post("/Groups", &json!({"schemas": [GROUP_SCHEMA], "displayName": "G", "members": [{"value": "nobody"}]}))
        .await;
    assert_eq!(r.status(), 400);
    let r = app
        .patch(
            &format!("/Users/{id}"),
            &patch_op(json!([{"op": "replace", "path": "active", "value": true}])),
        )
        .await;
    assert_eq!(r.status(), 200);
    // Real changes.
    let r = app
        .patch(
            &format!("/Users/{id}"),
            &patch_op(json!([{"op": "replace", "path": "active", "value": false}])),
        )
        .await;
    assert_eq!(r.status(), 200);
    let g = app.create_group("Staff", &[id]).await;
    let gid = g["id"].as_str().unwrap();
    assert_eq!(app.delete(&format!("/Groups/{gid}")).await.status(), 204);

    let page = events(&app, &admin, "after=0").await;
    assert_eq!(
        types(&page),
        [
            "user.created",
            "user.deactivated",
            "group.created",
            "group.deleted"
        ]
    );
    let ev = &page["events"];
    assert_eq!(ev[0]["seq"], 1);
    assert_eq!(ev[3]["seq"], 4);
    assert_eq!(page["next_after"], 4);
    assert_eq!(ev[0]["resource"]["userName"], "alice");
    assert_eq!(ev[0]["resource"]["meta"]["version"], "W/\"1\"");
    assert_eq!(ev[1]["changedAttributes"], json!(["active"]));
    assert_eq!(ev[1]["resource"]["active"], false);
    assert_eq!(ev[2]["members"], json!([id]));
    assert!(ev[0]["requestId"].as_str().is_some_and(|r| !r.is_empty()));
    assert!(ev[0]["actor"].is_string());

    // Paging.
    let p1 = events(&app, &admin, "after=0&limit=3").await;
    assert_eq!(p1["events"].as_array().unwrap().len(), 3);
    let p2 = events(&app, &admin, &format!("after={}", p1["next_after"])).await;
    assert_eq!(types(&p2), ["group.deleted"]);
    let empty = events(&app, &admin, "after=4").await;
    assert_eq!(empty["events"], json!([]));
    assert_eq!(empty["next_after"], 4);
}

#[tokio::test]
async fn long_poll_wakes_on_a_new_event() {
    let app = spawn_app().await;
    let admin = admin_token(&app).await;
    let started = Instant::now();
    let poll = {
        let client = app.client.clone();
        let url = format!(
            "{}/admin/v1/tenants/default/events?after=0&wait=20",
            app.address
        );
        let admin = admin.clone();
        tokio::spawn(async move {
            client
                .get(url)
                .bearer_auth(admin)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.create_user("late").await;
    let page = poll.await.unwrap();
    assert_eq!(types(&page), ["user.created"]);
    assert!(started.elapsed() < Duration::from_secs(10), "woke early");
    // Without new events, wait=1 returns empty after about a second.
    let t = Instant::now();
    let page = events(&app, &admin, "after=1&wait=1").await;
    assert_eq!(page["events"], json!([]));
    assert!(t.elapsed() >= Duration::from_millis(900));
}

#[tokio::test]
async fn admin_and_scim_credentials_are_separate() {
    let app = spawn_app().await;
    let admin = admin_token(&app).await;
    // SCIM token on /admin → 401.
    let r = admin_get(&app, &app.token, "/tenants/default/events").await;
    assert_eq!(r.status(), 401);
    let r = admin_get(&app, "", "/tenants/default/events").await;
    assert_eq!(r.status(), 401);
    // Admin token on /scim → 401.
    let r = app
        .client
        .get(format!("{}/Users", app.scim))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        admin_get(&app, &admin, "/tenants/default/events")
            .await
            .status(),
        200
    );
    assert_eq!(
        admin_get(&app, &admin, "/tenants/nope/events")
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn audit_records_reads_writes_and_failures_without_secrets() {
    let app = spawn_app().await;
    let admin = admin_token(&app).await;
    let ua = "Okta SCIM Client 1.0.0";
    let r = app
        .req(Method::POST, "/Users")
        .header("content-type", SCIM)
        .header("user-agent", ua)
        .body(
            json!({"schemas": [USER_SCHEMA], "userName": "bob", "password": "hunter2-secret"})
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .req(Method::GET, "/Users?filter=userName%20eq%20%22bob%22")
        .header("user-agent", ua)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = app
        .req(Method::POST, "/Users")
        .header("content-type", SCIM)
        .header("user-agent", ua)
        .body(json!({"schemas": [USER_SCHEMA], "userName": "BOB"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let r = app
        .client
        .get(format!("{}/Users", app.scim))
        .bearer_auth("wrong-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // Reads are flushed by the background writer within ~100 ms.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let t = app.default_tenant().await;
    let rows = app
        .store
        .query_audit(&AuditQuery {
            tenant: t.id,
            since: None,
            status: None,
            limit: 100,
        })
        .await
        .unwrap();
    let find = |m: &str, status: u16| {
        rows.iter()
            .find(|e| e.method == m && e.status == status)
            .unwrap_or_else(|| panic!("no {m} {status} in {rows:?}"))
    };
    let created = find("POST", 201);
    assert_eq!(created.user_agent, ua);
    assert_eq!(created.resource_id.as_deref(), Some(id.as_str()));
    assert_eq!(created.client_ip, "127.0.0.1");
    assert!(!created.actor.is_empty());
    let read = find("GET", 200);
    assert_eq!(read.path, "/scim/v2/Users?filter=userName%20eq%20%22bob%22");
    let conflict = find("POST", 409);
    assert_eq!(conflict.scim_type.as_deref(), Some("uniqueness"));
    let text = format!("{rows:?}");
    assert!(!text.contains("hunter2"), "no password in the audit log");
    assert!(!text.contains(&app.token), "no token in the audit log");
    assert!(!text.contains("wrong-token"));

    // The admin API filters by status class.
    let r = admin_get(&app, &admin, "/tenants/default/audit?status=4xx&since=1h").await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let statuses: Vec<u64> = body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_u64().unwrap())
        .collect();
    assert!(
        statuses.contains(&409) && statuses.iter().all(|s| (400..500).contains(s)),
        "{statuses:?}"
    );
    assert_eq!(
        admin_get(&app, &admin, "/tenants/default/audit?status=abc")
            .await
            .status(),
        400
    );

    // Retention deletes entries older than the cutoff (0 days back = everything before now).
    tokio::time::sleep(Duration::from_millis(5)).await;
    scimd_server::audit::run_retention(&app.store, 0, 30).await;
    let left = app
        .store
        .query_audit(&AuditQuery {
            tenant: t.id,
            since: None,
            status: None,
            limit: 100,
        })
        .await
        .unwrap();
    assert!(left.len() < rows.len(), "retention pruned old entries");
}

#[tokio::test]
async fn password_verification_matches_and_is_rate_limited() {
    let app = spawn_app().await;
    app.set_settings(TenantSettings {
        password_sync: true,
        ..TenantSettings::default()
    })
    .await;
    let admin = admin_token(&app).await;
    let r = app
        .post(
            "/Users",
            &json!({"schemas": [USER_SCHEMA], "userName": "carol", "password": "correct horse"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let verify = |user: String, password: &'static str| {
        let req = app
            .client
            .post(format!(
                "{}/admin/v1/tenants/default/users/{user}/password:verify",
                app.address
            ))
            .bearer_auth(&admin)
            .json(&json!({"password": password}));
        async move { req.send().await.unwrap() }
    };
    let r = verify(id.clone(), "correct horse").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"match": true}));
    let r = verify(id.clone(), "wrong").await;
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"match": false}));
    let r = verify("no-such-user".into(), "correct horse").await;
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"match": false}));
    for _ in 0..3 {
        assert_eq!(verify(id.clone(), "wrong").await.status(), 200);
    }
    let r = verify(id.clone(), "correct horse").await;
    assert_eq!(r.status(), 429, "sixth attempt within a minute");
    assert!(r.headers().contains_key("retry-after"));
}

/// A write's audit entry commits with the write and records the status the client really
/// got — also when a tenant setting makes a User PATCH answer 204 — exactly once.
#[tokio::test]
async fn patch_audit_entry_has_the_answered_status_once() {
    let app = spawn_app().await;
    app.set_settings(TenantSettings {
        user_patch_response: scimd_server::config::PatchResponse::NoContent,
        ..TenantSettings::default()
    })
    .await;
    let user = app.create_user("quiet").await;
    let id = user["id"].as_str().unwrap();
    let r = app
        .patch(
            &format!("/Users/{id}"),
            &patch_op(json!([{"op": "replace", "path": "title", "value": "CTO"}])),
        )
        .await;
    assert_eq!(r.status(), 204);
    // Let the background writer flush anything it queued.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let t = app.default_tenant().await;
    let rows = app
        .store
        .query_audit(&AuditQuery {
            tenant: t.id,
            since: None,
            status: None,
            limit: 100,
        })
        .await
        .unwrap();
    let patches: Vec<u16> = rows
        .iter()
        .filter(|e| e.method == "PATCH")
        .map(|e| e.status)
        .collect();
    assert_eq!(patches, [204], "{rows:?}");
}

/// The admin API answers malformed path segments and query values with its usual error
/// body, not axum's plain-text rejections.
#[tokio::test]
async fn admin_rejects_malformed_paths_and_queries_with_error_bodies() {
    let app = spawn_app().await;
    let admin = admin_token(&app).await;
    for path in [
        "/tenants/%FF/events",
        "/tenants/default/events?after=soon",
        "/tenants/default/audit?limit=-1",
        "/tenants/default/webhooks/%FF/deliveries",
    ] {
        let r = admin_get(&app, &admin, path).await;
        let body = assert_scim_error(r, 400, Some("invalidValue")).await;
        assert!(
            body["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{body}"
        );
    }
    // Well-formed values still work.
    let r = admin_get(&app, &admin, "/tenants/default/audit?limit=5").await;
    assert_eq!(r.status(), 200);
}
