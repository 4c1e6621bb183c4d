//! `/Groups`: membership as rows, member validation, PATCH responses, uniqueness.

use scimd_server::config::{PatchResponse, TenantSettings};
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn create_group_with_members_renders_refs() {
    let app = spawn_app().await;
    let u = app.create_user("amy").await;
    let uid = u["id"].as_str().unwrap();
    let g = app.create_group("Admins", &[uid]).await;
    assert_eq!(g["schemas"], json!([GROUP_SCHEMA]));
    assert_eq!(g["displayName"], "Admins");
    assert_eq!(g["meta"]["resourceType"], "Group");
    let m = &g["members"][0];
    assert_eq!(m["value"], uid);
    assert_eq!(m["type"], "User");
    assert_eq!(m["$ref"], format!("{}/Users/{uid}", app.scim));
    assert_eq!(g["members"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn unknown_member_is_400_invalid_value() {
    let app = spawn_app().await;
    let r = app
        .post(
            "/Groups",
            &json!({"schemas": [GROUP_SCHEMA], "displayName": "G", "members": [{"value": "nope"}]}),
        )
        .await;
    assert_scim_error(r, 400, Some("invalidValue")).await;
    let g = app.create_group("G2", &[]).await;
    let r = app
        .patch(
            &format!("/Groups/{}", g["id"].as_str().unwrap()),
            &patch_op(json!([{"op": "add", "path": "members", "value": [{"value": "missing"}]}])),
        )
        .await;
    assert_scim_error(r, 400, Some("invalidValue")).await;
}

#[tokio::test]
async fn patch_group_is_204_unless_attributes_requested() {
    let app = spawn_app().await;
    let a = app.create_user("bo").await;
    let b = app.create_user("cy").await;
    let g = app.create_group("Team", &[]).await;
    let path = format!("/Groups/{}", g["id"].as_str().unwrap());
    let r = app
        .patch(
            &path,
            &patch_op(json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": a["id"]}, {"value": b["id"]}]}])),
        )
        .await;
    assert_eq!(r.status(), 204);
    assert_eq!(r.headers()["etag"], "W/\"2\"");
    assert!(r.bytes().await.unwrap().is_empty());

    // Entra's remove-with-value removes only the listed member.
    let r = app
        .patch(
            &format!("{path}?attributes=members"),
            &patch_op(json!([{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": a["id"]}]}])),
        )
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let members = body["members"].as_array().unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0]["value"], b["id"]);
    assert!(body.get("displayName").is_none());
}

#[tokio::test]
async fn group_patch_response_setting_returns_the_resource() {
    let app = spawn_app().await;
    app.set_settings(TenantSettings {
        group_patch_response: PatchResponse::Resource,
        ..TenantSettings::default()
    })
    .await;
    let g = app.create_group("Ops", &[]).await;
    let r = app
        .patch(
            &format!("/Groups/{}", g["id"].as_str().unwrap()),
            &patch_op(json!([{"op": "replace", "path": "displayName", "value": "Ops2"}])),
        )
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["displayName"], "Ops2");
}

#[tokio::test]
async fn display_name_uniqueness_follows_the_setting() {
    let app = spawn_app().await;
    app.create_group("Sales", &[]).await;
    let r = app
        .post(
            "/Groups",
            &json!({"schemas": [GROUP_SCHEMA], "displayName": "SALES"}),
        )
        .await;
    assert_scim_error(r, 409, Some("uniqueness")).await;

    app.set_settings(TenantSettings {
        unique_group_display_name: false,
        ..TenantSettings::default()
    })
    .await;
    let r = app
        .post(
            "/Groups",
            &json!({"schemas": [GROUP_SCHEMA], "displayName": "Marketing"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let r = app
        .post(
            "/Groups",
            &json!({"schemas": [GROUP_SCHEMA], "displayName": "marketing"}),
        )
        .await;
    assert_eq!(r.status(), 201);
}

#[tokio::test]
async fn excluded_members_are_not_returned() {
    let app = spawn_app().await;
    let u = app.create_user("dee").await;
    let g = app.create_group("Big", &[u["id"].as_str().unwrap()]).await;
    let id = g["id"].as_str().unwrap();
    let body: Value = app
        .get(&format!("/Groups/{id}?excludedAttributes=members"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["displayName"], "Big");
    assert!(body.get("members").is_none());
    let body: Value = app
        .get("/Groups?excludedAttributes=members")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["totalResults"], 1);
    assert!(body["Resources"][0].get("members").is_none());
}

#[tokio::test]
async fn deleting_a_user_removes_its_memberships() {
    let app = spawn_app().await;
    let u = app.create_user("eve").await;
    let v = app.create_user("fay").await;
    let g = app
        .create_group(
            "Both",
            &[u["id"].as_str().unwrap(), v["id"].as_str().unwrap()],
        )
        .await;
    let r = app
        .delete(&format!("/Users/{}", u["id"].as_str().unwrap()))
        .await;
    assert_eq!(r.status(), 204);
    let body: Value = app
        .get(&format!("/Groups/{}", g["id"].as_str().unwrap()))
        .await
        .json()
        .await
        .unwrap();
    let members = body["members"].as_array().unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0]["value"], v["id"]);
}

#[tokio::test]
async fn put_group_replaces_members() {
    let app = spawn_app().await;
    let u = app.create_user("gus").await;
    let g = app.create_group("Swap", &[u["id"].as_str().unwrap()]).await;
    let r = app
        .put(
            &format!("/Groups/{}", g["id"].as_str().unwrap()),
            &json!({"schemas": [GROUP_SCHEMA], "displayName": "Swap", "members": []}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["members"].as_array().map_or(0, Vec::len), 0, "{body}");
}

#[tokio::test]
async fn delete_group() {
    let app = spawn_app().await;
    let g = app.create_group("Gone", &[]).await;
    let path = format!("/Groups/{}", g["id"].as_str().unwrap());
    assert_eq!(app.delete(&path).await.status(), 204);
    assert_scim_error(app.get(&path).await, 404, None).await;
}

/// Membership PATCHes without `If-Match` never conflict with each other: each one adds its
/// row whatever version is current (no 412 the client never asked for, however many IdP
/// workers push members to one group at once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_member_patches_all_succeed() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for i in 0..24 {
        ids.push(
            app.create_user(&format!("m{i}")).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let group = app.create_group("Busy", &[]).await;
    let gid = group["id"].as_str().unwrap().to_owned();
    let app = std::sync::Arc::new(app);
    let tasks: Vec<_> = ids
        .iter()
        .map(|id| {
            let app = app.clone();
            let path = format!("/Groups/{gid}");
            let body = patch_op(serde_json::json!([
                {"op": "add", "path": "members", "value": [{"value": id}]}
            ]));
            tokio::spawn(async move { app.patch(&path, &body).await.status().as_u16() })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), 204);
    }
    let g: serde_json::Value = app
        .get(&format!("/Groups/{gid}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(g["members"].as_array().unwrap().len(), 24);
}
