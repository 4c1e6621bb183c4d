//! Client mistakes are 4xx SCIM errors; timeouts are 503 SCIM errors.

use std::time::Duration;

use reqwest::Method;
use scimd_server::config::TenantSettings;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn invalid_json_is_400_invalid_syntax() {
    let app = spawn_app().await;
    let r = app
        .req(Method::POST, "/Users")
        .header("content-type", SCIM)
        .body("{\"userName\": ")
        .send()
        .await
        .unwrap();
    assert_scim_error(r, 400, Some("invalidSyntax")).await;
    let r = app
        .req(Method::POST, "/Users")
        .header("content-type", SCIM)
        .body("[1,2]")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn content_types() {
    let app = spawn_app().await;
    let body = json!({"schemas": [USER_SCHEMA], "userName": "ct"}).to_string();
    let r = app
        .req(Method::POST, "/Users")
        .header("content-type", "text/plain")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_scim_error(r, 415, None).await;
    let r = app
        .req(Method::POST, "/Users")
        .header("content-type", "application/json; charset=utf-8")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["content-type"], SCIM);
    let r = app
        .req(Method::POST, "/Groups")
        .body(json!({"displayName": "no content type"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
}

#[tokio::test]
async fn body_over_the_limit_is_413() {
    let app = spawn_app_with(|c| c.max_body_bytes = 512).await;
    let big = json!({"schemas": [USER_SCHEMA], "userName": "big", "displayName": "x".repeat(2000)});
    let r = app.post("/Users", &big).await;
    assert_scim_error(r, 413, None).await;
}

#[tokio::test]
async fn unknown_route_is_404_and_wrong_method_405() {
    let app = spawn_app().await;
    let r = app.get("/Widgets").await;
    assert_scim_error(r, 404, None).await;
    let r = app
        .client
        .get(format!("{}/nothing/here", app.address))
        .send()
        .await
        .unwrap();
    assert_scim_error(r, 404, None).await;
    let r = app.delete("/Users").await;
    assert_scim_error(r, 405, None).await;
    let r = app.req(Method::PUT, "/Groups").send().await.unwrap();
    assert_scim_error(r, 405, None).await;
}

#[tokio::test]
async fn bad_query_values_are_400() {
    let app = spawn_app().await;
    assert_scim_error(
        app.get("/Users?count=many").await,
        400,
        Some("invalidValue"),
    )
    .await;
    assert_scim_error(
        app.get("/Users?attributes=a..b").await,
        400,
        Some("invalidPath"),
    )
    .await;
}

/// A path segment that does not percent-decode to UTF-8 names nothing: a SCIM error, never
/// axum's plain-text rejection.
#[tokio::test]
async fn undecodable_path_segments_are_scim_errors() {
    let app = spawn_app().await;
    for path in [
        "/Users/%FF",
        "/Groups/%C3%28",
        "/Schemas/%FF",
        "/ResourceTypes/%FF",
    ] {
        assert_scim_error(app.get(path).await, 400, Some("invalidValue")).await;
    }
    assert_scim_error(app.delete("/Users/%FF").await, 400, Some("invalidValue")).await;
    let r = app
        .req(Method::PATCH, "/Users/%FF")
        .header("content-type", SCIM)
        .body(json!({"schemas": [PATCH_OP], "Operations": []}).to_string())
        .send()
        .await
        .unwrap();
    assert_scim_error(r, 400, Some("invalidValue")).await;
}

#[tokio::test]
async fn slow_requests_time_out_with_503() {
    let app = spawn_app_with(|c| c.request_timeout = Duration::from_millis(1)).await;
    // argon2 hashing of a synced password takes far longer than 1 ms.
    app.set_settings(TenantSettings {
        password_sync: true,
        ..TenantSettings::default()
    })
    .await;
    let r = app
        .post(
            "/Users",
            &json!({"schemas": [USER_SCHEMA], "userName": "slow", "password": "pw"}),
        )
        .await;
    let body = assert_scim_error(r, 503, None).await;
    assert!(body["detail"].as_str().unwrap().contains("time"));
}
