//! Authentication: bearer tokens, HTTP Basic clients, tenant-prefixed routes, revocation,
//! and the credential cache: revocations, tenant deletions and settings changes made while
//! the server runs reach requests within about a second (the poll of the credential
//! generation), not at the 60 s backstop.

use std::time::Duration;

use reqwest::Method;
use scimd_server::cli::{ClientsCommand, Command, TenantsCommand, TokensCommand, run_admin};
use scimd_store::Store;
use serde_json::Value;

use crate::helpers::*;

/// How long a change may take to reach requests: the poll interval (1 s) plus slack for a
/// loaded machine. Far below the cache's 60 s backstop, so a missed invalidation fails.
const INVALIDATION_DEADLINE: Duration = Duration::from_secs(3);

async fn admin(app: &TestApp, command: Command) -> String {
    let mut out = Vec::new();
    run_admin(&app.store, &command, &mut out).await.unwrap();
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn missing_and_wrong_credentials_are_401_with_challenge() {
    let app = spawn_app().await;
    for auth in [
        None,
        Some("Bearer scimd_wrong"),
        Some("Basic Zm9vOmJhcg=="),
        Some("Token x"),
    ] {
        let mut req = app.client.get(format!("{}/Users", app.scim));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let r = req.send().await.unwrap();
        let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
        assert!(challenge.contains("Bearer realm=\"scimd\""), "{challenge}");
        assert!(challenge.contains("Basic"), "{challenge}");
        assert_scim_error(r, 401, None).await;
    }
}

#[tokio::test]
async fn bearer_token_created_by_the_cli_works_and_revocation_stops_it() {
    let app = spawn_app().await;
    let token = admin(
        &app,
        Command::Tokens(TokensCommand::Create {
            tenant: "default".into(),
            label: "okta".into(),
        }),
    )
    .await
    .trim()
    .to_owned();
    assert!(token.starts_with("scimd_"));
    let ok = |t: String| {
        let c = app.client.clone();
        let url = format!("{}/Users", app.scim);
        async move { c.get(url).bearer_auth(t).send().await.unwrap().status() }
    };
    assert_eq!(ok(token.clone()).await, 200);

    let t = app.default_tenant().await;
    let creds = app.store.list_credentials(t.id).await.unwrap();
    let stored = creds.iter().find(|c| c.label == "okta").unwrap();
    assert_eq!(
        stored.secret_hash,
        scimd_server::crypto::sha256_hex(token.as_bytes())
    );
    assert_ne!(stored.secret_hash, token, "tokens are stored hashed");
    // Served from the credential cache from now on. A poll clears the cache when it is the
    // first one or fails or takes over a second (a loaded CI machine on PostgreSQL), so ask
    // until the token is seen cached rather than once.
    let deadline = std::time::Instant::now() + INVALIDATION_DEADLINE;
    loop {
        assert_eq!(ok(token.clone()).await, 200);
        if !app.state.credential_cache().is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the token was never cached"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    admin(
        &app,
        Command::Tokens(TokensCommand::Revoke {
            tenant: "default".into(),
            id: stored.id,
        }),
    )
    .await;
    let url = format!("{}/Users", app.scim);
    until_status(INVALIDATION_DEADLINE, 401, || {
        app.client.get(&url).bearer_auth(&token)
    })
    .await;
    // Other credentials keep working (and are cached again).
    assert_eq!(ok(app.token.clone()).await, 200);
    assert_eq!(ok(token).await, 401, "the revoked token stays refused");
}

#[tokio::test]
async fn http_basic_client_credentials() {
    let app = spawn_app().await;
    let out = admin(
        &app,
        Command::Clients(ClientsCommand::Create {
            tenant: "default".into(),
            label: "medplum".into(),
        }),
    )
    .await;
    let field = |name: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .unwrap()
            .to_owned()
    };
    let (id, secret) = (field("client_id"), field("client_secret"));
    let get = |user: String, pass: String| {
        let c = app.client.clone();
        let url = format!("{}/Users", app.scim);
        async move {
            c.get(url)
                .basic_auth(user, Some(pass))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(get(id.clone(), secret.clone()).await, 200);
    // Second request is served from the verification cache.
    assert_eq!(get(id.clone(), secret.clone()).await, 200);
    assert_eq!(get(id.clone(), format!("{secret}x")).await, 401);
    assert_eq!(get("scimdc_nobody".into(), secret.clone()).await, 401);

    let t = app.default_tenant().await;
    let creds = app.store.list_credentials(t.id).await.unwrap();
    let c = creds.iter().find(|c| c.label == "medplum").unwrap();
    assert!(c.secret_hash.starts_with("$argon2id$"));

    // A revoked client is refused within about a second, although its verification was
    // cached (it is refused by the database, not by a 60 s expiry).
    admin(
        &app,
        Command::Tokens(TokensCommand::Revoke {
            tenant: "default".into(),
            id: c.id,
        }),
    )
    .await;
    let url = format!("{}/Users", app.scim);
    until_status(INVALIDATION_DEADLINE, 401, || {
        app.client.get(&url).basic_auth(&id, Some(&secret))
    })
    .await;
    assert_eq!(get(id, format!("{secret}y")).await, 401);
    assert_eq!(
        app.get("/Users").await.status(),
        200,
        "the bearer token works"
    );
}

#[tokio::test]
async fn settings_changed_in_the_store_reach_requests_after_the_poll() {
    let app = spawn_app().await;
    let u = app.create_user("settings").await;
    let path = format!("/Users/{}", u["id"].as_str().unwrap());
    let body = patch_op(serde_json::json!([
        {"op": "replace", "path": "title", "value": "x"}
    ]));
    // The default answers a User PATCH with the resource; the token is now cached with
    // the settings parsed at that time.
    assert_eq!(app.patch(&path, &body).await.status(), 200);
    assert_eq!(app.patch(&path, &body).await.status(), 200);
    // Written straight to the store, as `scimd tenants settings` does from another process.
    let t = app.default_tenant().await;
    app.store
        .update_tenant_settings(
            t.id,
            scimd_server::TenantSettings {
                user_patch_response: scimd_server::config::PatchResponse::NoContent,
                ..scimd_server::TenantSettings::default()
            }
            .to_json(),
        )
        .await
        .unwrap();
    until_status(INVALIDATION_DEADLINE, 204, || {
        app.req(Method::PATCH, &path)
            .header("content-type", SCIM)
            .body(body.to_string())
    })
    .await;
}

#[tokio::test]
async fn a_deleted_tenants_cached_token_is_refused_after_the_poll() {
    let app = spawn_app().await;
    admin(
        &app,
        Command::Tenants(TenantsCommand::Create {
            name: "gone".into(),
        }),
    )
    .await;
    let token = admin(
        &app,
        Command::Tokens(TokensCommand::Create {
            tenant: "gone".into(),
            label: String::new(),
        }),
    )
    .await
    .trim()
    .to_owned();
    let url = format!("{}/Users", app.scim);
    let r = app
        .client
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let gone = app.store.tenant_by_name("gone").await.unwrap().unwrap();
    app.store.delete_tenant(gone.id).await.unwrap();
    until_status(INVALIDATION_DEADLINE, 401, || {
        app.client.get(&url).bearer_auth(&token)
    })
    .await;
    assert_eq!(
        app.get("/Users").await.status(),
        200,
        "other tenants unaffected"
    );
}

#[tokio::test]
async fn tenant_prefixed_routes_must_match_the_credential() {
    let app = spawn_app().await;
    admin(
        &app,
        Command::Tenants(TenantsCommand::Create {
            name: "other".into(),
        }),
    )
    .await;
    let u = app.create_user("tp").await;
    let id = u["id"].as_str().unwrap();

    let r = app
        .client
        .get(format!(
            "{}/tenants/default/scim/v2/Users/{id}",
            app.address
        ))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        location,
        format!("{}/tenants/default/scim/v2/Users/{id}", app.address)
    );
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["meta"]["location"], location);

    for tenant in ["other", "nosuch"] {
        let r = app
            .client
            .get(format!("{}/tenants/{tenant}/scim/v2/Users", app.address))
            .bearer_auth(&app.token)
            .send()
            .await
            .unwrap();
        let body = assert_scim_error(r, 401, None).await;
        assert!(!body["detail"].as_str().unwrap().contains(tenant));
    }
}

#[tokio::test]
async fn tenants_are_isolated() {
    let app = spawn_app().await;
    let u = app.create_user("isolated").await;
    admin(
        &app,
        Command::Tenants(TenantsCommand::Create {
            name: "acme".into(),
        }),
    )
    .await;
    let token = admin(
        &app,
        Command::Tokens(TokensCommand::Create {
            tenant: "acme".into(),
            label: String::new(),
        }),
    )
    .await
    .trim()
    .to_owned();
    let r = app
        .client
        .get(format!("{}/Users/{}", app.scim, u["id"].as_str().unwrap()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let body: Value = app
        .client
        .get(format!("{}/tenants/acme/scim/v2/Users", app.address))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["totalResults"], 0);
    // The same userName is free in another tenant.
    let r = app
        .client
        .request(Method::POST, format!("{}/Users", app.scim))
        .bearer_auth(&token)
        .header("content-type", SCIM)
        .body(serde_json::json!({"schemas": [USER_SCHEMA], "userName": "isolated"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
}
