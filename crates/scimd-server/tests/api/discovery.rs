//! Discovery endpoints (RFC 7644 §4).

use serde_json::Value;

use crate::helpers::*;

#[tokio::test]
async fn discovery_requires_auth_by_default() {
    let app = spawn_app().await;
    for path in ["/ServiceProviderConfig", "/Schemas", "/ResourceTypes"] {
        let r = app
            .client
            .get(format!("{}{path}", app.scim))
            .send()
            .await
            .unwrap();
        assert_scim_error(r, 401, None).await;
    }
}

#[tokio::test]
async fn discovery_can_be_opened() {
    let app = spawn_app_with(|c| c.discovery_requires_auth = false).await;
    for path in ["/ServiceProviderConfig", "/Schemas", "/ResourceTypes"] {
        let r = app
            .client
            .get(format!("{}{path}", app.scim))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    // Resources stay protected.
    let r = app
        .client
        .get(format!("{}/Users", app.scim))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn service_provider_config_advertises_features() {
    let app = spawn_app_with(|c| c.max_page_size = 250).await;
    let r = app.get("/ServiceProviderConfig").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], SCIM);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["patch"]["supported"], true);
    assert_eq!(body["etag"]["supported"], true);
    assert_eq!(body["sort"]["supported"], true);
    assert_eq!(body["filter"]["supported"], true);
    assert_eq!(body["filter"]["maxResults"], 250);
    assert_eq!(body["pagination"]["cursor"], true);
    assert_eq!(body["pagination"]["index"], true);
    assert_eq!(body["pagination"]["maxPageSize"], 250);
    let schemes = body["authenticationSchemes"].as_array().unwrap();
    assert!(schemes.iter().any(|s| s["type"] == "oauthbearertoken"));
    assert!(schemes.iter().any(|s| s["type"] == "httpbasic"));
}

#[tokio::test]
async fn schemas_and_resource_types() {
    let app = spawn_app().await;
    let body: Value = app.get("/Schemas").await.json().await.unwrap();
    assert_eq!(body["schemas"][0], LIST_RESPONSE);
    let ids: Vec<&str> = body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&USER_SCHEMA));
    assert!(ids.contains(&GROUP_SCHEMA));

    let r = app.get(&format!("/Schemas/{USER_SCHEMA}")).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["id"], USER_SCHEMA);
    assert!(
        body["meta"]["location"]
            .as_str()
            .unwrap()
            .starts_with(&app.scim)
    );
    assert_scim_error(app.get("/Schemas/urn:nope").await, 404, None).await;

    let body: Value = app.get("/ResourceTypes").await.json().await.unwrap();
    assert_eq!(body["totalResults"], 2);
    let body: Value = app.get("/ResourceTypes/User").await.json().await.unwrap();
    assert_eq!(body["endpoint"], "/Users");
    assert_scim_error(app.get("/ResourceTypes/Device").await, 404, None).await;
}

#[tokio::test]
async fn writes_to_discovery_are_405() {
    let app = spawn_app().await;
    for path in [
        "/Schemas",
        "/ResourceTypes",
        "/ServiceProviderConfig",
        "/ResourceTypes/User",
    ] {
        let r = app.post(path, &serde_json::json!({})).await;
        assert_scim_error(r, 405, None).await;
    }
}

#[tokio::test]
async fn custom_attributes_appear_in_schemas() {
    let app = spawn_app_with(|c| {
        c.schema = Some(serde_json::json!({
            "user_attributes": [{"name": "costCenter", "type": "string"}]
        }));
    })
    .await;
    let body: Value = app
        .get(&format!("/Schemas/{USER_SCHEMA}"))
        .await
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = body["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"costCenter"), "{names:?}");
    let r = app
        .post(
            "/Users",
            &serde_json::json!({"schemas": [USER_SCHEMA], "userName": "cc", "costCenter": "42"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["costCenter"], "42");
}
