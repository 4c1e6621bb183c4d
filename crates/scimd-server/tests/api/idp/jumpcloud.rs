//! JumpCloud replay (idp-quirks §5): the setup test that creates a test user and a test group
//! and deletes them, and the Entra-style group-member removal `value: [{value: uid}]`
//! without an RFC filter.

use serde_json::json;

use super::*;
use crate::helpers::{GROUP_SCHEMA, PATCH_OP, USER_SCHEMA, spawn_app};

// §5 and §6 rule 12: connection test — create a test user and a test group, delete both
// (DELETE → 204), then GET → 404.
#[tokio::test]
async fn connection_test_creates_then_deletes_user_and_group() {
    for mode in BOTH {
        let app = spawn_app().await;
        set_mode(&app, mode).await;
        let jc = Idp::jumpcloud(&app);
        let user = expect(
            jc.post(
                "/Users",
                &json!({"schemas": [USER_SCHEMA], "userName": "jumpcloud.test.user@example.com",
                        "name": {"givenName": "JumpCloud", "familyName": "Test"},
                        "emails": [{"value": "jumpcloud.test.user@example.com", "type": "work", "primary": true}],
                        "active": true}),
            )
            .await,
            201,
        )
        .await;
        let group = expect(
            jc.post(
                "/Groups",
                &json!({"schemas": [GROUP_SCHEMA], "displayName": "JumpCloud Test Group",
                        "members": [{"value": user["id"]}]}),
            )
            .await,
            201,
        )
        .await;
        let user_path = format!("/Users/{}", user["id"].as_str().unwrap());
        let group_path = format!("/Groups/{}", group["id"].as_str().unwrap());
        expect(jc.delete(&user_path).await, 204).await;
        expect(jc.delete(&group_path).await, 204).await;
        let err = expect(jc.get(&user_path).await, 404).await;
        assert_eq!(err["status"], "404", "{mode:?}");
        let err = expect(jc.get(&group_path).await, 404).await;
        assert_eq!(err["status"], "404");
        // The names are free again: the next connection test can run.
        let lists = jc
            .filter(
                "/Users",
                "userName eq \"jumpcloud.test.user@example.com\"",
                "",
            )
            .await;
        assert_eq!(lists["totalResults"], 0);
        let lists = jc
            .filter("/Groups", "displayName eq \"JumpCloud Test Group\"", "")
            .await;
        assert_eq!(lists["totalResults"], 0);
    }
}

// §5 and §6 rule 4: `{"op":"remove","path":"members","value":[{"value":uid}]}` removes exactly
// the listed members, never all of them. Same in both modes.
#[tokio::test]
async fn member_removal_by_value_list() {
    for mode in BOTH {
        let app = spawn_app().await;
        set_mode(&app, mode).await;
        let jc = Idp::jumpcloud(&app);
        let a = app.create_user("jc-a").await;
        let b = app.create_user("jc-b").await;
        let c = app.create_user("jc-c").await;
        let ids = [&a["id"], &b["id"], &c["id"]].map(|v| v.as_str().unwrap().to_owned());
        let g = app
            .create_group(
                "JC Group",
                &[ids[0].as_str(), ids[1].as_str(), ids[2].as_str()],
            )
            .await;
        let path = format!("/Groups/{}", g["id"].as_str().unwrap());
        let r = jc
            .patch(
                &path,
                &json!({"schemas": [PATCH_OP], "Operations": [{"op": "remove", "path": "members", "value": [{"value": a["id"]}]}]}),
            )
            .await;
        expect(r, 204).await;
        assert_eq!(
            members_of(&app, &g["id"]).await,
            sorted(&[&b["id"], &c["id"]]),
            "{mode:?}: only the listed member is removed"
        );
        let r = jc
            .patch(
                &path,
                &json!({"schemas": [PATCH_OP], "Operations": [{"op": "remove", "path": "members",
                        "value": [{"value": b["id"]}, {"value": c["id"]}]}]}),
            )
            .await;
        expect(r, 204).await;
        assert_eq!(members_of(&app, &g["id"]).await, Vec::<String>::new());
        assert_eq!(groups_of(&app, &c["id"]).await, Vec::<String>::new());
        // Adding back uses the same shape with `add`.
        let r = jc
            .patch(
                &path,
                &json!({"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "members", "value": [{"value": c["id"]}]}]}),
            )
            .await;
        expect(r, 204).await;
        assert_eq!(members_of(&app, &g["id"]).await, sorted(&[&c["id"]]));
    }
}
