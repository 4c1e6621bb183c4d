//! Google Workspace replay (idp-quirks §4): the `GET /Users?count=1` probe and the standard
//! create / update / suspend / delete flows. No first-party request bodies are published, so
//! the bodies are plain RFC 7643 users ("standard SCIM, low volume"), sent as
//! `application/json`.

use serde_json::{Value, json};

use super::*;
use crate::helpers::{PATCH_OP, USER_SCHEMA, spawn_app};

fn google_user(user_name: &str, given: &str, family: &str) -> Value {
    json!({
        "schemas": [USER_SCHEMA],
        "userName": user_name,
        "name": {"givenName": given, "familyName": family},
        "displayName": format!("{given} {family}"),
        "emails": [{"value": user_name, "type": "work", "primary": true}],
        "active": true
    })
}

// §4 [2nd]: "Google fires a probe against `/scim/v2/Users?count=1`" — a ListResponse on an
// empty and on a populated tenant, at most one resource.
#[tokio::test]
async fn probe_users_count_1() {
    let app = spawn_app().await;
    let google = Idp::google(&app);
    let r = google.get("/Users?count=1").await;
    let list = expect(r, 200).await;
    assert_list(&list);
    assert_eq!(list["totalResults"], 0);
    for i in 0..3 {
        app.create_user(&format!("probe{i}")).await;
    }
    let list = expect(google.get("/Users?count=1").await, 200).await;
    assert_list(&list);
    assert_eq!(list["totalResults"], 3);
    assert_eq!(list["itemsPerPage"], 1);
    assert_eq!(list["startIndex"], 1);
}

// §4: create, look up, update by PUT and PATCH, suspend (active=false, still readable),
// restore, delete (the "delete" deprovisioning choice) → 204 then 404.
#[tokio::test]
async fn create_update_suspend_and_delete() {
    let app = spawn_app().await;
    let google = Idp::google(&app);
    let created = expect(
        google
            .post("/Users", &google_user("ana@example.org", "Ana", "Lima"))
            .await,
        201,
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let path = format!("/Users/{id}");
    let found = google
        .filter("/Users", "userName eq \"ana@example.org\"", "")
        .await;
    assert_eq!(found["Resources"][0]["id"], id.as_str());

    // Profile update as a full PUT.
    let mut body = google_user("ana@example.org", "Ana", "Souza");
    body["title"] = json!("Engineer");
    let after = expect(google.put(&path, &body).await, 200).await;
    assert_eq!(after["name"]["familyName"], "Souza");
    assert_eq!(after["title"], "Engineer");
    assert_eq!(after["active"], true);

    // Suspend and restore with standard PATCH operations.
    for active in [false, true] {
        let r = google
            .patch(
                &path,
                &json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "active", "value": active}]}),
            )
            .await;
        assert_eq!(expect(r, 200).await["active"], active);
        let read = expect(google.get(&path).await, 200).await;
        assert_eq!(read["active"], active, "readable while suspended");
        assert_eq!(read["title"], "Engineer");
    }

    expect(google.delete(&path).await, 204).await;
    let err = expect(google.get(&path).await, 404).await;
    assert_eq!(err["status"], "404");
    let found = google
        .filter("/Users", "userName eq \"ana@example.org\"", "")
        .await;
    assert_eq!(found["totalResults"], 0);
}

// §4: the same flows in strict mode — the bodies are RFC-conformant, so nothing changes.
#[tokio::test]
async fn standard_flows_strict() {
    let app = spawn_app().await;
    set_mode(&app, scimd_core::Mode::Strict).await;
    let google = Idp::google(&app);
    let created = expect(
        google
            .post("/Users", &google_user("bo@example.org", "Bo", "Ng"))
            .await,
        201,
    )
    .await;
    let path = format!("/Users/{}", created["id"].as_str().unwrap());
    let r = google
        .patch(
            &path,
            &json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "active", "value": false}]}),
        )
        .await;
    assert_eq!(expect(r, 200).await["active"], false);
    expect(google.delete(&path).await, 204).await;
    expect(google.get(&path).await, 404).await;
}
