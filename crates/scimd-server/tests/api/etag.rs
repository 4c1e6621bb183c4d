//! ETags and preconditions (RFC 7644 §3.14).

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

async fn user(app: &TestApp) -> String {
    let u = app.create_user("etag-user").await;
    format!("/Users/{}", u["id"].as_str().unwrap())
}

#[tokio::test]
async fn if_none_match_gives_304_for_the_current_version() {
    let app = spawn_app().await;
    let path = user(&app).await;
    let r = app
        .req(Method::GET, &path)
        .header("if-none-match", "W/\"1\"")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    assert_eq!(r.headers()["etag"], "W/\"1\"");
    let r = app
        .req(Method::GET, &path)
        .header("if-none-match", "W/\"7\"")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn put_with_stale_if_match_is_412() {
    let app = spawn_app().await;
    let path = user(&app).await;
    let body = json!({"schemas": [USER_SCHEMA], "userName": "etag-user", "displayName": "x"});
    let r = app
        .req(Method::PUT, &path)
        .header("if-match", "W/\"9\"")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_scim_error(r, 412, None).await;
    let r = app
        .req(Method::PUT, &path)
        .header("if-match", "W/\"1\"")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["etag"], "W/\"2\"");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["meta"]["version"], "W/\"2\"");
}

#[tokio::test]
async fn patch_with_stale_if_match_is_412() {
    let app = spawn_app().await;
    let path = user(&app).await;
    let op = patch_op(json!([{"op": "replace", "path": "displayName", "value": "p"}]));
    let r = app
        .req(Method::PATCH, &path)
        .header("if-match", "W/\"3\"")
        .json(&op)
        .send()
        .await
        .unwrap();
    assert_scim_error(r, 412, None).await;
    let r = app
        .req(Method::PATCH, &path)
        .header("if-match", "\"1\"")
        .json(&op)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn delete_with_if_match() {
    let app = spawn_app().await;
    let path = user(&app).await;
    let r = app
        .req(Method::DELETE, &path)
        .header("if-match", "W/\"2\"")
        .send()
        .await
        .unwrap();
    assert_scim_error(r, 412, None).await;
    assert_eq!(app.get(&path).await.status(), 200);
    let r = app
        .req(Method::DELETE, &path)
        .header("if-match", "*")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
}

#[tokio::test]
async fn concurrent_patches_all_apply() {
    let app = spawn_app().await;
    let g = app.create_group("race", &[]).await;
    let gpath = format!("/Groups/{}", g["id"].as_str().unwrap());
    let mut ids = Vec::new();
    for i in 0..10 {
        ids.push(app.create_user(&format!("racer{i}")).await["id"].clone());
    }
    let mut tasks = Vec::new();
    for id in &ids {
        let req = app.req(Method::PATCH, &gpath).json(&patch_op(
            json!([{"op": "add", "path": "members", "value": [{"value": id}]}]),
        ));
        tasks.push(tokio::spawn(
            async move { req.send().await.unwrap().status() },
        ));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 204);
    }
    let body: Value = app.get(&gpath).await.json().await.unwrap();
    assert_eq!(body["members"].as_array().unwrap().len(), ids.len());
}
