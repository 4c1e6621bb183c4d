//! `/Users`: create, read, replace, patch, delete, uniqueness, passwords, projection.

use reqwest::Method;
use scimd_server::config::{PatchResponse, TenantSettings};
use scimd_store::{Load, Store};
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn create_returns_201_with_location_etag_and_meta() {
    let app = spawn_app().await;
    let r = app
        .post(
            "/Users",
            &json!({
                "schemas": [USER_SCHEMA],
                "userName": "bjensen",
                "externalId": "ext-1",
                "password": "okta-placeholder",
                "name": {"givenName": "Barbara", "familyName": "Jensen"}
            }),
        )
        .await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["content-type"], SCIM);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    let body: Value = r.json().await.unwrap();
    let id = body["id"].as_str().unwrap();
    assert_eq!(id.len(), 36, "UUID id: {id}");
    assert_eq!(&id[14..15], "7", "UUID version 7 (time-ordered)");
    assert_eq!(location, format!("{}/Users/{id}", app.scim));
    assert_eq!(body["meta"]["location"], location);
    assert_eq!(body["meta"]["resourceType"], "User");
    assert_eq!(body["meta"]["version"], "W/\"1\"");
    assert_eq!(etag, "W/\"1\"");
    assert!(body["meta"]["created"].as_str().unwrap().ends_with('Z'));
    assert_eq!(body["schemas"], json!([USER_SCHEMA]));
    assert_eq!(body["userName"], "bjensen");
    assert_eq!(body["externalId"], "ext-1");
    assert!(body.get("password").is_none(), "password is never returned");
}

#[tokio::test]
async fn get_by_id_and_unknown_id_is_404() {
    let app = spawn_app().await;
    let created = app.create_user("alice").await;
    let id = created["id"].as_str().unwrap();
    let r = app.get(&format!("/Users/{id}")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["etag"], "W/\"1\"");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["userName"], "alice");
    assert_eq!(body["emails"][0]["value"], "alice@example.com");

    let r = app.get("/Users/00000000-0000-4000-8000-000000000000").await;
    let body = assert_scim_error(r, 404, None).await;
    assert!(body["detail"].as_str().unwrap().contains("not found"));
}

#[tokio::test]
async fn user_name_is_unique_case_insensitively() {
    let app = spawn_app().await;
    app.create_user("Carol").await;
    let r = app
        .post(
            "/Users",
            &json!({"schemas": [USER_SCHEMA], "userName": "carol"}),
        )
        .await;
    assert_scim_error(r, 409, Some("uniqueness")).await;
}

#[tokio::test]
async fn put_replaces_the_resource_and_bumps_the_version() {
    let app = spawn_app().await;
    let created = app.create_user("dave").await;
    let id = created["id"].as_str().unwrap();
    let r = app
        .put(
            &format!("/Users/{id}"),
            &json!({"schemas": [USER_SCHEMA], "userName": "dave", "displayName": "Dave D"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["etag"], "W/\"2\"");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["displayName"], "Dave D");
    assert!(body.get("emails").is_none(), "PUT replaces: emails removed");
    assert_eq!(body["id"], id);

    let r = app
        .put(
            "/Users/00000000-0000-4000-8000-000000000000",
            &json!({"schemas": [USER_SCHEMA], "userName": "x"}),
        )
        .await;
    assert_scim_error(r, 404, None).await;
}

#[tokio::test]
async fn put_cannot_take_another_users_name() {
    let app = spawn_app().await;
    app.create_user("erin").await;
    let frank = app.create_user("frank").await;
    let r = app
        .put(
            &format!("/Users/{}", frank["id"].as_str().unwrap()),
            &json!({"schemas": [USER_SCHEMA], "userName": "ERIN"}),
        )
        .await;
    assert_scim_error(r, 409, Some("uniqueness")).await;
}

#[tokio::test]
async fn patch_user_returns_200_with_projected_resource() {
    let app = spawn_app().await;
    let created = app.create_user("gina").await;
    let id = created["id"].as_str().unwrap();
    let r = app
        .patch(
            &format!("/Users/{id}"),
            &patch_op(json!([{"op": "Replace", "path": "active", "value": "False"}])),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["etag"], "W/\"2\"");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["active"], false);
    assert_eq!(body["userName"], "gina");

    let r = app
        .patch(
            &format!("/Users/{id}?attributes=active"),
            &patch_op(json!([{"op": "replace", "path": "displayName", "value": "G"}])),
        )
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["id"], id);
    assert_eq!(body["active"], false);
    assert!(body.get("displayName").is_none(), "projected away: {body}");
    assert!(body.get("userName").is_none(), "projected away: {body}");

    // Deactivated users stay readable.
    let r = app.get(&format!("/Users/{id}")).await;
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["displayName"], "G");
}

#[tokio::test]
async fn noop_patch_keeps_the_version() {
    let app = spawn_app().await;
    let created = app.create_user("hank").await;
    let id = created["id"].as_str().unwrap();
    let r = app
        .patch(
            &format!("/Users/{id}"),
            &patch_op(json!([{"op": "replace", "path": "active", "value": true}])),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["etag"], "W/\"1\"");
}

#[tokio::test]
async fn patch_errors_are_scim_errors() {
    let app = spawn_app().await;
    let created = app.create_user("ivy").await;
    let id = created["id"].as_str().unwrap();
    let r = app
        .patch(&format!("/Users/{id}"), &json!({"Operations": "nope"}))
        .await;
    assert_eq!(r.status(), 400);
    let r = app
        .patch(
            "/Users/00000000-0000-4000-8000-000000000000",
            &patch_op(json!([{"op": "replace", "path": "active", "value": false}])),
        )
        .await;
    assert_scim_error(r, 404, None).await;
}

#[tokio::test]
async fn user_patch_response_setting_gives_204() {
    let app = spawn_app().await;
    app.set_settings(TenantSettings {
        user_patch_response: PatchResponse::NoContent,
        ..TenantSettings::default()
    })
    .await;
    let created = app.create_user("jack").await;
    let id = created["id"].as_str().unwrap();
    let r = app
        .patch(
            &format!("/Users/{id}"),
            &patch_op(json!([{"op": "replace", "path": "active", "value": false}])),
        )
        .await;
    assert_eq!(r.status(), 204);
    assert_eq!(r.headers()["etag"], "W/\"2\"");
    assert!(r.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn delete_returns_204_then_404() {
    let app = spawn_app().await;
    let created = app.create_user("kim").await;
    let path = format!("/Users/{}", created["id"].as_str().unwrap());
    let r = app.delete(&path).await;
    assert_eq!(r.status(), 204);
    assert_scim_error(app.get(&path).await, 404, None).await;
    assert_scim_error(app.delete(&path).await, 404, None).await;
}

#[tokio::test]
async fn password_is_discarded_without_password_sync() {
    let app = spawn_app().await;
    let r = app
        .post(
            "/Users",
            &json!({"schemas": [USER_SCHEMA], "userName": "lee", "password": "Secret-1"}),
        )
        .await;
    let body: Value = r.json().await.unwrap();
    let t = app.default_tenant().await;
    let stored = app
        .store
        .get(
            t.id,
            scimd_core::schema::ResourceKind::User,
            body["id"].as_str().unwrap(),
            Load::NONE,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.password_hash, None);
}

#[tokio::test]
async fn password_is_hashed_with_password_sync_and_never_returned() {
    let app = spawn_app().await;
    app.set_settings(TenantSettings {
        password_sync: true,
        ..TenantSettings::default()
    })
    .await;
    let r = app
        .post(
            "/Users",
            &json!({"schemas": [USER_SCHEMA], "userName": "max", "password": "Secret-1"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.unwrap();
    assert!(body.get("password").is_none());
    let id = body["id"].as_str().unwrap();
    let t = app.default_tenant().await;
    let stored = app
        .store
        .get(t.id, scimd_core::schema::ResourceKind::User, id, Load::NONE)
        .await
        .unwrap()
        .unwrap();
    let hash = stored.password_hash.unwrap();
    assert!(hash.starts_with("$argon2id$"));
    assert!(scimd_server::crypto::verify_secret("Secret-1", &hash));
    assert!(!stored.document.contains_key("password"));

    let body: Value = app
        .get(&format!("/Users/{id}?attributes=password"))
        .await
        .json()
        .await
        .unwrap();
    assert!(body.get("password").is_none(), "{body}");
}

#[tokio::test]
async fn attributes_and_excluded_attributes_on_get() {
    let app = spawn_app().await;
    let created = app.create_user("nina").await;
    let id = created["id"].as_str().unwrap();
    let body: Value = app
        .get(&format!("/Users/{id}?attributes=userName"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["userName"], "nina");
    assert_eq!(body["id"], id, "id is always returned");
    assert!(body.get("emails").is_none());
    let body: Value = app
        .get(&format!("/Users/{id}?excludedAttributes=emails,name"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["userName"], "nina");
    assert!(body.get("emails").is_none());
    assert!(body.get("name").is_none());
}

#[tokio::test]
async fn users_show_their_groups_read_only() {
    let app = spawn_app().await;
    let u = app.create_user("olga").await;
    let uid = u["id"].as_str().unwrap();
    let g = app.create_group("Engineering", &[uid]).await;
    let body: Value = app
        .get(&format!("/Users/{uid}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["groups"][0]["value"], g["id"]);
    assert_eq!(body["groups"][0]["display"], "Engineering");
    assert_eq!(
        body["groups"][0]["$ref"],
        format!("{}/Groups/{}", app.scim, g["id"].as_str().unwrap())
    );
    // groups in a PUT body are ignored (readOnly).
    let r = app
        .put(
            &format!("/Users/{uid}"),
            &json!({"schemas": [USER_SCHEMA], "userName": "olga", "groups": []}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["groups"][0]["value"], g["id"]);
}

#[tokio::test]
async fn create_with_extension_and_schemas_listed() {
    let app = spawn_app().await;
    let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    let r = app
        .post(
            "/Users",
            &json!({"schemas": [USER_SCHEMA, ent], "userName": "pat", ent: {"department": "R&D"}}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["schemas"], json!([USER_SCHEMA, ent]));
    assert_eq!(body[ent]["department"], "R&D");
}

#[tokio::test]
async fn missing_user_name_is_400() {
    let app = spawn_app().await;
    let r = app
        .req(Method::POST, "/Users")
        .header("content-type", "application/json")
        .body(json!({"schemas": [USER_SCHEMA], "displayName": "x"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn put_cannot_change_an_immutable_attribute() {
    let app = spawn_app_with(|c| {
        c.schema = Some(json!({
            "user_attributes": [{"name": "employeeCode", "type": "string", "mutability": "immutable"}]
        }));
    })
    .await;
    let r = app
        .post(
            "/Users",
            &json!({"schemas": [USER_SCHEMA], "userName": "imm", "employeeCode": "E1"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .put(
            &format!("/Users/{id}"),
            &json!({"schemas": [USER_SCHEMA], "userName": "imm", "employeeCode": "E2"}),
        )
        .await;
    assert_scim_error(r, 400, Some("mutability")).await;
    let r = app
        .put(
            &format!("/Users/{id}"),
            &json!({"schemas": [USER_SCHEMA], "userName": "imm2", "employeeCode": "E1"}),
        )
        .await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn location_uses_the_public_base_url() {
    let app = spawn_app_with(|c| c.public_base_url = "https://scim.example.com/idp".into()).await;
    let r = app
        .post(
            "/Users",
            &json!({"schemas": [USER_SCHEMA], "userName": "proxied"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = r.json().await.unwrap();
    let id = body["id"].as_str().unwrap();
    assert_eq!(
        location,
        format!("https://scim.example.com/idp/scim/v2/Users/{id}")
    );
    assert_eq!(body["meta"]["location"], location);
}

#[tokio::test]
async fn strict_mode_requires_schemas() {
    let app = spawn_app_with(|c| c.mode = scimd_core::Mode::Strict).await;
    let r = app.post("/Users", &json!({"userName": "nos"})).await;
    assert_scim_error(r, 400, Some("invalidSyntax")).await;
    // A tenant may override the server's mode.
    app.set_settings(TenantSettings {
        mode: Some(scimd_core::Mode::Compatible),
        ..TenantSettings::default()
    })
    .await;
    let r = app.post("/Users", &json!({"userName": "nos"})).await;
    assert_eq!(r.status(), 201);
}

/// Reads copy a stored document unparsed under the default projection
/// (`scimd_server::render::verbatim`): the bytes are those of the parsing path, which a
/// projection that changes nothing (an unknown excluded attribute) takes.
#[tokio::test]
async fn whole_resource_reads_are_byte_identical_to_projected_reads() {
    const ENTERPRISE_USER: &str = scimd_core::schema::ENTERPRISE_USER_SCHEMA;
    let ext = "urn:example:params:scim:schemas:extension:acme:2.0:User";
    let app = spawn_app_with(|c| {
        c.schema = Some(json!({
            "user_attributes": [
                {"name": "role", "type": "string"},
                {"name": "pin", "type": "string", "returned": "request"}
            ],
            "extensions": [{"id": ext, "name": "AcmeUser", "resource_type": "User",
                "attributes": [{"name": "badge", "type": "string", "returned": "request"},
                               {"name": "floor", "type": "integer"}]}]
        }));
    })
    .await;
    let plain = app
        .post(
            "/Users",
            &json!({"schemas": [USER_SCHEMA, ENTERPRISE_USER], "userName": "Bär\"bel",
                    "name": {"givenName": "B\u{e4}r", "familyName": "\u{1}x"}, "role": "admin",
                    "emails": [{"value": "b@x", "primary": true, "type": "work"}],
                    ENTERPRISE_USER: {"employeeNumber": "7", "manager": {"value": "m"}}}),
        )
        .await;
    assert_eq!(plain.status(), 201);
    let plain = plain.json::<Value>().await.unwrap()["id"].clone();
    let hidden = app
        .post(
            "/Users",
            &json!({"schemas": [USER_SCHEMA, ext], "userName": "hidden", "pin": "1234",
                    ext: {"badge": "B-1", "floor": 3}}),
        )
        .await;
    assert_eq!(hidden.status(), 201);
    let hidden = hidden.json::<Value>().await.unwrap()["id"].clone();
    let group = app.create_group("Admins", &[plain.as_str().unwrap()]).await;

    let text = |path: String| {
        let app = &app;
        async move {
            let r = app.get(&path).await;
            assert_eq!(r.status(), 200, "{path}");
            assert_eq!(r.headers()["content-type"], SCIM);
            r.text().await.unwrap()
        }
    };
    for path in [
        format!("/Users/{}", plain.as_str().unwrap()),
        format!("/Users/{}", hidden.as_str().unwrap()),
        format!("/Groups/{}", group["id"].as_str().unwrap()),
        "/Users?filter=userName%20eq%20%22hidden%22".to_owned(),
        "/Users?count=10".to_owned(),
        "/Groups?count=10&cursor=".to_owned(),
    ] {
        let sep = if path.contains('?') { '&' } else { '?' };
        let whole = text(path.clone()).await;
        let projected = text(format!("{path}{sep}excludedAttributes=notAnAttribute")).await;
        assert_eq!(whole, projected, "{path}");
    }
    // `returned: request` attributes stay out, at the top level and in an extension.
    let body: Value =
        serde_json::from_str(&text(format!("/Users/{}", hidden.as_str().unwrap())).await).unwrap();
    assert!(body.get("pin").is_none(), "{body}");
    assert_eq!(body[ext], json!({"floor": 3}));
    let body: Value =
        serde_json::from_str(&text(format!("/Users/{}", plain.as_str().unwrap())).await).unwrap();
    assert_eq!(body["schemas"], json!([USER_SCHEMA, ENTERPRISE_USER]));
    assert_eq!(body["groups"][0]["value"], group["id"]);
    assert_eq!(body["role"], "admin");
}
