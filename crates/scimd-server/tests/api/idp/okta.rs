//! Okta replay (idp-quirks §1): assignment (lookup then create), Runscope spec checks, profile
//! push by GET + full PUT, path-less PATCH deactivate/reactivate, password sync, import by
//! paging, Group Push, custom extension namespaces.

use scimd_core::Mode;
use scimd_server::config::TenantSettings;
use serde_json::{Value, json};

use super::*;
use crate::helpers::{
    ERROR_SCHEMA, GROUP_SCHEMA, PATCH_OP, USER_SCHEMA, spawn_app, spawn_app_with,
};

/// The create body of idp-quirks §1.1, for `user_name`.
fn okta_create_body(user_name: &str, external_id: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": true, "value": user_name, "type": "work"}],
        "displayName": "Test User",
        "locale": "en-US",
        "externalId": external_id,
        "groups": [],
        "password": "1mz050nq",
        "active": true
    })
}

/// Assignment: the lookup Okta makes before creating, then the create itself (§1.1).
async fn okta_provision(okta: &Idp<'_>, user_name: &str, external_id: &str) -> Value {
    let found = okta
        .filter(
            "/Users",
            &format!("userName eq \"{user_name}\""),
            "&startIndex=1&count=100",
        )
        .await;
    assert_eq!(found["totalResults"], 0, "{found}");
    let r = okta
        .post("/Users", &okta_create_body(user_name, external_id))
        .await;
    expect(r, 201).await
}

// §1.1: lookup by filter, then create with the placeholder password and `groups: []`.
#[tokio::test]
async fn assign_user_lookup_then_create() {
    let app = spawn_app().await;
    let okta = Idp::okta(&app);
    // The "not found" answer Okta accepts: 200 with an empty ListResponse.
    let r = okta
        .get("/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100")
        .await;
    let list = expect(r, 200).await;
    assert_list(&list);
    assert_eq!(list["totalResults"], 0);
    assert_eq!(list["startIndex"], 1);
    assert_eq!(list["Resources"], json!([]));

    let r = okta
        .post(
            "/Users",
            &okta_create_body("test.user@okta.local", "00ujl29u0le5T6Aj10h7"),
        )
        .await;
    // "Create new user returned empty user" if the body is empty.
    let user = expect(r, 201).await;
    assert!(user.is_object(), "non-empty body");
    let id = user["id"].as_str().unwrap();
    assert!(!id.is_empty());
    assert!(!id.contains("bulkId"), "§1.1 prepare guide");
    assert_eq!(user["userName"], "test.user@okta.local");
    assert_eq!(user["externalId"], "00ujl29u0le5T6Aj10h7");
    assert_eq!(user["active"], true);
    assert_eq!(user["name"]["givenName"], "Test");
    assert_eq!(user["emails"][0]["value"], "test.user@okta.local");
    assert!(user.get("password").is_none(), "password is never returned");
    assert!(
        user.get("groups").is_none() || user["groups"] == json!([]),
        "readOnly groups ignored: {user}"
    );
    // Password sync is off by default: the placeholder is not kept.
    assert_eq!(stored_user(&app, &user["id"]).await.password_hash, None);

    // The next lookup links to the created user.
    let found = okta
        .filter(
            "/Users",
            "userName eq \"test.user@okta.local\"",
            "&startIndex=1&count=100",
        )
        .await;
    assert_eq!(found["totalResults"], 1);
    assert_eq!(found["Resources"][0]["id"], id);
}

// §1.1: re-POST of the same user → 409 with the Error schema and a detail for the admin.
#[tokio::test]
async fn duplicate_create_is_409_with_detail() {
    let app = spawn_app().await;
    let okta = Idp::okta(&app);
    okta_provision(&okta, "dup.user@okta.local", "00u1").await;
    let r = okta
        .post("/Users", &okta_create_body("dup.user@okta.local", "00u2"))
        .await;
    let body = expect(r, 409).await;
    assert_eq!(body["schemas"], json!([ERROR_SCHEMA]));
    assert_eq!(body["status"], "409");
    assert_eq!(body["scimType"], "uniqueness");
    assert!(
        !body["detail"].as_str().unwrap_or_default().is_empty(),
        "detail shown to the admin: {body}"
    );
}

// §1.1 Runscope: the upper-cased userName filter matches (case-insensitive userName).
#[tokio::test]
async fn user_name_lookup_is_case_insensitive() {
    let app = spawn_app().await;
    let okta = Idp::okta(&app);
    let user = okta_provision(&okta, "runscope300hfluaklab151@example.com", "00u3").await;
    let found = okta
        .filter(
            "/Users",
            "userName eq \"RUNSCOPE300HFLUAKLAB151@example.com\"",
            "&startIndex=1&count=100",
        )
        .await;
    assert_eq!(found["totalResults"], 1, "{found}");
    assert_eq!(found["Resources"][0]["id"], user["id"]);
}

// §1.1 Runscope: unknown id → 404 with detail and `"status": "404"` (a string, §6 rule 9);
// a random email → empty list; `count=1` returns a user with the attributes Okta requires.
#[tokio::test]
async fn runscope_spec_checks() {
    let app = spawn_app().await;
    let okta = Idp::okta(&app);
    okta_provision(&okta, "spec.user@okta.local", "00u4").await;

    let r = okta.get("/Users/010101001010101011001010101011").await;
    let body = expect(r, 404).await;
    assert_eq!(body["schemas"], json!([ERROR_SCHEMA]));
    assert_eq!(body["status"], "404");
    assert!(!body["detail"].as_str().unwrap_or_default().is_empty());

    let none = okta
        .filter(
            "/Users",
            "userName eq \"a1b2c3d4-random@example.com\"",
            "&startIndex=1&count=100",
        )
        .await;
    assert_eq!(none["totalResults"], 0);

    let r = okta.get("/Users?count=1&startIndex=1").await;
    let page = expect(r, 200).await;
    assert_list(&page);
    let u = &page["Resources"][0];
    for v in [
        &u["name"]["familyName"],
        &u["name"]["givenName"],
        &u["userName"],
        &u["active"],
        &u["emails"][0]["value"],
    ] {
        assert!(!v.is_null(), "Runscope needs it: {u}");
    }
}

// §1.1 [2nd]: "Test API Credentials" reads `GET /Users?startIndex=1&count=2`.
#[tokio::test]
async fn test_api_credentials_listing() {
    let app = spawn_app().await;
    let okta = Idp::okta(&app);
    let r = okta.get("/Users?startIndex=1&count=2").await;
    let body = expect(r, 200).await;
    assert_list(&body);
    assert_eq!(body["totalResults"], 0);
}

// §1.2: profile push = GET then a full PUT echoing id, meta, groups and emails.display;
// nothing Okta echoes back is lost and `active` is preserved.
#[tokio::test]
async fn profile_push_get_then_full_put() {
    let app = spawn_app().await;
    let okta = Idp::okta(&app);
    let user = okta_provision(&okta, "test.user@okta.local", "00ujl29u0le5T6Aj10h7").await;
    let id = user["id"].as_str().unwrap().to_owned();
    let group = app.create_group("Pushed", &[&id]).await;

    let mut echoed = expect(okta.get(&format!("/Users/{id}")).await, 200).await;
    assert_eq!(values_of(&echoed, "groups"), sorted(&[&group["id"]]));
    echoed["name"] = json!({"givenName": "Another", "middleName": "Excited", "familyName": "User"});
    echoed["emails"][0]["display"] = json!("test.user@okta.local");
    echoed["groups"] = json!([]);
    echoed["meta"] = json!({"resourceType": "User"});
    let r = okta.put(&format!("/Users/{id}"), &echoed).await;
    let after = expect(r, 200).await;
    assert_eq!(after["id"], id.as_str());
    assert_eq!(after["name"]["middleName"], "Excited");
    assert_eq!(after["name"]["givenName"], "Another");
    assert_eq!(after["active"], true, "active preserved");
    for key in ["displayName", "locale", "externalId", "emails", "userName"] {
        assert_eq!(after[key], echoed[key], "{key} kept through the PUT");
    }
    // `groups: []` in the PUT is readOnly: membership is untouched.
    assert_eq!(groups_of(&app, &user["id"]).await, sorted(&[&group["id"]]));

    // The literal §1.2 body (Okta maps only these attributes).
    let r = okta
        .put(
            &format!("/Users/{id}"),
            &json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "id": id,
                "userName": "test.user@okta.local",
                "name": {"givenName": "Another", "middleName": "Excited", "familyName": "User"},
                "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work", "display": "test.user@okta.local"}],
                "active": true,
                "groups": [],
                "meta": {"resourceType": "User"}
            }),
        )
        .await;
    let after = expect(r, 200).await;
    assert_eq!(after["active"], true);
    assert_eq!(after["emails"][0]["display"], "test.user@okta.local");
    assert_eq!(after["meta"]["resourceType"], "User");
    assert!(after["meta"]["location"].as_str().unwrap().ends_with(&id));
}

// §1.2 AIW apps: deactivation is `"active": false` in a full PUT; the user stays readable.
#[tokio::test]
async fn aiw_put_deactivate_and_reactivate() {
    let app = spawn_app().await;
    let okta = Idp::okta(&app);
    let user = okta_provision(&okta, "aiw.user@okta.local", "00u5").await;
    let path = format!("/Users/{}", user["id"].as_str().unwrap());
    for active in [false, true] {
        let mut body = okta_create_body("aiw.user@okta.local", "00u5");
        body["id"] = user["id"].clone();
        body["active"] = json!(active);
        let after = expect(okta.put(&path, &body).await, 200).await;
        assert_eq!(after["active"], active);
        let read = expect(okta.get(&path).await, 200).await;
        assert_eq!(read["active"], active);
        assert_eq!(read["userName"], "aiw.user@okta.local");
    }
}

// §1.3 and §6 rules 3 and 12: path-less PATCH deactivate/reactivate; the user stays readable
// and findable while inactive. Same in both modes.
#[tokio::test]
async fn pathless_patch_deactivate_and_reactivate() {
    for mode in BOTH {
        let app = spawn_app().await;
        set_mode(&app, mode).await;
        let okta = Idp::okta(&app);
        let user = okta_provision(&okta, "deact.user@okta.local", "00u6").await;
        let path = format!("/Users/{}", user["id"].as_str().unwrap());
        for active in [false, true] {
            let r = okta
                .patch(
                    &path,
                    &json!({
                        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                        "Operations": [{"op": "replace", "value": {"active": active}}]
                    }),
                )
                .await;
            let body = expect(r, 200).await;
            assert_eq!(body["active"], active, "{mode:?}");
            let read = expect(okta.get(&path).await, 200).await;
            assert_eq!(read["active"], active, "{mode:?}: readable while inactive");
            assert_eq!(
                read["displayName"], "Test User",
                "other attributes untouched"
            );
            assert_eq!(read["emails"], user["emails"]);
            let found = okta
                .filter(
                    "/Users",
                    "userName eq \"deact.user@okta.local\"",
                    "&startIndex=1&count=100",
                )
                .await;
            assert_eq!(found["totalResults"], 1, "{mode:?}");
            assert_eq!(found["Resources"][0]["active"], active);
        }
    }
}

// §1.4 and §6 rule 11: with password sync on, the create password and a path-less PATCH
// replace {password} are hashed and kept, and never returned.
#[tokio::test]
async fn password_sync_patch_is_hashed_and_never_returned() {
    let app = spawn_app().await;
    app.set_settings(TenantSettings {
        password_sync: true,
        ..TenantSettings::default()
    })
    .await;
    let okta = Idp::okta(&app);
    let user = okta_provision(&okta, "sync.user@okta.local", "00u7").await;
    let hash = stored_user(&app, &user["id"]).await.password_hash.unwrap();
    assert!(scimd_server::crypto::verify_secret("1mz050nq", &hash));

    let path = format!("/Users/{}", user["id"].as_str().unwrap());
    let r = okta
        .patch(
            &path,
            &json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"password": "N3w-Secret!"}}]}),
        )
        .await;
    let body = expect(r, 200).await;
    assert!(body.get("password").is_none(), "{body}");
    let stored = stored_user(&app, &user["id"]).await;
    let hash = stored.password_hash.unwrap();
    assert_ne!(hash, "N3w-Secret!");
    assert!(scimd_server::crypto::verify_secret("N3w-Secret!", &hash));
    assert!(!stored.document.contains_key("password"));
    let read = expect(okta.get(&format!("{path}?attributes=password")).await, 200).await;
    assert!(read.get("password").is_none(), "{read}");
}

// §1.1 and §6 rule 11: without password sync, Okta's placeholder on create and a password
// PATCH are accepted and discarded.
#[tokio::test]
async fn password_without_sync_is_accepted_and_discarded() {
    let app = spawn_app().await;
    let okta = Idp::okta(&app);
    let user = okta_provision(&okta, "nosync.user@okta.local", "00u8").await;
    let path = format!("/Users/{}", user["id"].as_str().unwrap());
    let r = okta
        .patch(
            &path,
            &json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"password": "N3w-Secret!"}}]}),
        )
        .await;
    let body = expect(r, 200).await;
    assert!(body.get("password").is_none());
    assert_eq!(stored_user(&app, &user["id"]).await.password_hash, None);
}

/// Reads a collection the way Okta imports: `startIndex=1,101,…&count=100` until
/// `totalResults` are read. Returns every id in order.
async fn import_all(okta: &Idp<'_>, endpoint: &str) -> (u64, Vec<String>) {
    let mut ids = Vec::new();
    let mut start = 1u64;
    let mut total = None;
    for _ in 0..50 {
        let r = okta
            .get(&format!("{endpoint}?startIndex={start}&count=100"))
            .await;
        let page = expect(r, 200).await;
        assert_list(&page);
        assert_eq!(page["startIndex"], start);
        let t = page["totalResults"].as_u64().unwrap();
        assert_eq!(
            *total.get_or_insert(t),
            t,
            "totalResults stable across pages"
        );
        let got = resource_ids(&page);
        assert!(got.len() <= 100);
        ids.extend(got);
        if ids.len() as u64 >= t {
            return (t, ids);
        }
        assert_eq!(page["itemsPerPage"], 100, "only the last page may be short");
        start += 100;
    }
    panic!("import did not reach totalResults");
}

// §1.5 and §6 rule 8: import by paging users and groups to the end; integers, itemsPerPage =
// number returned, stable order, right totals.
#[tokio::test]
async fn import_pages_users_and_groups_to_the_end() {
    let app = spawn_app().await;
    let okta = Idp::okta(&app);
    let mut created = Vec::new();
    for i in 0..130 {
        let u = app.create_user(&format!("import{i:03}")).await;
        created.push(u["id"].as_str().unwrap().to_owned());
    }
    let mut groups = Vec::new();
    for (i, member) in created.iter().take(3).enumerate() {
        let g = app
            .create_group(&format!("Import Group {i}"), &[member.as_str()])
            .await;
        groups.push(g["id"].as_str().unwrap().to_owned());
    }

    let (total, ids) = import_all(&okta, "/Users").await;
    assert_eq!(total, 130);
    assert_eq!(ids.len(), 130);
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 130, "no user twice");
    let mut expected = created.clone();
    expected.sort();
    assert_eq!(unique, expected, "every user read");

    // The second page has exactly the 30 remaining users (ory/polis PR #4054).
    let page = expect(okta.get("/Users?startIndex=101&count=100").await, 200).await;
    assert_eq!(page["itemsPerPage"], 30);
    assert_eq!(page["totalResults"], 130);
    // Past the end: empty page, same totals.
    let page = expect(okta.get("/Users?startIndex=201&count=100").await, 200).await;
    assert_list(&page);
    assert_eq!(page["itemsPerPage"], 0);
    assert_eq!(page["totalResults"], 130);

    // Stable order regardless of count/startIndex: pages of 7 give the same sequence.
    let mut small = Vec::new();
    let mut start = 1;
    while small.len() < 130 {
        let page = expect(
            okta.get(&format!("/Users?startIndex={start}&count=7"))
                .await,
            200,
        )
        .await;
        assert_list(&page);
        let got = resource_ids(&page);
        assert!(!got.is_empty());
        start += got.len();
        small.extend(got);
    }
    assert_eq!(small, ids, "stable order across page sizes");
    let (_, again) = import_all(&okta, "/Users").await;
    assert_eq!(again, ids, "stable order across imports");

    let (total, gids) = import_all(&okta, "/Groups").await;
    assert_eq!(total, 3);
    let mut gids_sorted = gids.clone();
    gids_sorted.sort();
    groups.sort();
    assert_eq!(gids_sorted, groups);
    let page = expect(okta.get("/Groups?startIndex=1&count=100").await, 200).await;
    for g in page["Resources"].as_array().unwrap() {
        assert_eq!(g["members"].as_array().map(Vec::len), Some(1), "{g}");
    }
}

/// Three users provisioned by Okta; their ids.
async fn three_users(okta: &Idp<'_>) -> [Value; 3] {
    let mut out = Vec::new();
    for (i, name) in [
        "push.a@okta.local",
        "push.b@okta.local",
        "push.c@okta.local",
    ]
    .iter()
    .enumerate()
    {
        let u = okta_provision(okta, name, &format!("00up{i}")).await;
        out.push(u["id"].clone());
    }
    out.try_into().unwrap()
}

/// Group Push create (§1.6): `members: []`.
async fn push_group(okta: &Idp<'_>, name: &str) -> Value {
    let r = okta
        .post(
            "/Groups",
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name, "members": []}),
        )
        .await;
    let g = expect(r, 201).await;
    assert_eq!(g["displayName"], name);
    assert_eq!(values_of(&g, "members"), Vec::<String>::new());
    g
}

// §1.6 and §6 rule 3: create with `members: []`, rename with the group's own `id` in a
// path-less value; a rename carries no members and changes no membership. Same in both modes.
#[tokio::test]
async fn group_push_create_and_rename_with_id() {
    for mode in BOTH {
        let app = spawn_app().await;
        set_mode(&app, mode).await;
        let okta = Idp::okta(&app);
        let [a, _, _] = three_users(&okta).await;
        let g = push_group(&okta, "Test SCIMv2").await;
        let path = format!("/Groups/{}", g["id"].as_str().unwrap());
        let r = okta
            .patch(
                &path,
                &json!({"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "members", "value": [{"value": a, "display": "push.a@okta.local"}]}]}),
            )
            .await;
        expect(r, 204).await;
        let r = okta
            .patch(
                &path,
                &json!({
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "value": {"id": g["id"], "displayName": "Test SCIMv2 renamed"}}]
                }),
            )
            .await;
        expect(r, 204).await;
        let read = expect(okta.get(&path).await, 200).await;
        assert_eq!(read["displayName"], "Test SCIMv2 renamed", "{mode:?}");
        assert_eq!(read["id"], g["id"]);
        assert_eq!(values_of(&read, "members"), sorted(&[&a]), "{mode:?}");
        assert_eq!(groups_of(&app, &a).await, sorted(&[&g["id"]]));

        // Another resource's id in the value is not a rename of this one.
        let r = okta
            .patch(
                &path,
                &json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"id": a, "displayName": "x"}}]}),
            )
            .await;
        expect(r, 400).await;
    }
}

// §1.6 and §6 rule 4: remove by `members[value eq …]` plus add, in one PATCH.
#[tokio::test]
async fn group_push_remove_by_filter_and_add_in_one_patch() {
    let app = spawn_app().await;
    let okta = Idp::okta(&app);
    let [a, b, c] = three_users(&okta).await;
    let g = push_group(&okta, "Test SCIMv2").await;
    let path = format!("/Groups/{}", g["id"].as_str().unwrap());
    let r = okta
        .patch(
            &path,
            &json!({"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "members", "value": [
                {"value": a, "display": "push.a@okta.local"}, {"value": c, "display": "push.c@okta.local"}]}]}),
        )
        .await;
    expect(r, 204).await;
    let r = okta
        .patch(
            &path,
            &json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [
                    {"op": "remove", "path": format!("members[value eq \"{}\"]", a.as_str().unwrap())},
                    {"op": "add", "path": "members", "value": [{"value": b, "display": "push.b@okta.local"}]}
                ]
            }),
        )
        .await;
    expect(r, 204).await;
    assert_eq!(members_of(&app, &g["id"]).await, sorted(&[&b, &c]));
    assert_eq!(
        groups_of(&app, &a).await,
        Vec::<String>::new(),
        "really removed"
    );
    assert_eq!(groups_of(&app, &b).await, sorted(&[&g["id"]]));
    assert_eq!(groups_of(&app, &c).await, sorted(&[&g["id"]]));
}

// §1.6: full membership push with `replace` on `members`.
#[tokio::test]
async fn group_push_full_member_replace() {
    let app = spawn_app().await;
    let okta = Idp::okta(&app);
    let [a, b, c] = three_users(&okta).await;
    let g = push_group(&okta, "Test SCIMv2").await;
    let path = format!("/Groups/{}", g["id"].as_str().unwrap());
    for set in [vec![&a, &b], vec![&b, &c]] {
        let value: Vec<Value> = set
            .iter()
            .map(|id| json!({"value": id, "display": "test.user@okta.local"}))
            .collect();
        let r = okta
            .patch(
                &path,
                &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                        "Operations": [{"op": "replace", "path": "members", "value": value}]}),
            )
            .await;
        expect(r, 204).await;
        assert_eq!(members_of(&app, &g["id"]).await, sorted(&set));
    }
    assert_eq!(groups_of(&app, &a).await, Vec::<String>::new());
    assert_eq!(groups_of(&app, &c).await, sorted(&[&g["id"]]));
}

// §1.6 AIW: membership change as a full PUT with `members` (value + display, no type).
#[tokio::test]
async fn group_push_aiw_put_with_members() {
    let app = spawn_app().await;
    let okta = Idp::okta(&app);
    let [a, b, _] = three_users(&okta).await;
    let g = app
        .create_group("Test SCIMv2", &[b.as_str().unwrap()])
        .await;
    let path = format!("/Groups/{}", g["id"].as_str().unwrap());
    let r = okta
        .put(
            &path,
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Test SCIMv2",
                    "members": [{"value": a, "display": "test.user@okta.local"}]}),
        )
        .await;
    let body = expect(r, 200).await;
    assert_eq!(body["displayName"], "Test SCIMv2");
    assert_eq!(members_of(&app, &g["id"]).await, sorted(&[&a]));
    assert_eq!(groups_of(&app, &a).await, sorted(&[&g["id"]]));
    assert_eq!(groups_of(&app, &b).await, Vec::<String>::new());
}

// §1.6: "Delete the group in the target app" → `DELETE /Groups/{id}` → 204; members remain.
#[tokio::test]
async fn group_push_delete() {
    let app = spawn_app().await;
    let okta = Idp::okta(&app);
    let [a, _, _] = three_users(&okta).await;
    let g = app
        .create_group("Test SCIMv2", &[a.as_str().unwrap()])
        .await;
    let path = format!("/Groups/{}", g["id"].as_str().unwrap());
    let r = okta.delete(&path).await;
    expect(r, 204).await;
    expect(okta.get(&path).await, 404).await;
    assert_eq!(groups_of(&app, &a).await, Vec::<String>::new());
    expect(
        okta.get(&format!("/Users/{}", a.as_str().unwrap())).await,
        200,
    )
    .await;
}

/// A server with the custom extension vendors ask Okta admins to use (§1.7).
async fn acme_app() -> crate::helpers::TestApp {
    spawn_app_with(|c| {
        c.schema = Some(json!({"extensions": [{
            "id": "urn:ietf:params:scim:schemas:extension:acme:2.0:User",
            "name": "Acme",
            "resourceType": "User",
            "attributes": [{"name": "costCenterCode", "type": "string"}]
        }]}));
    })
    .await
}

// §1.7 and §6 rule 6: enterprise and custom extension objects, the custom URN not listed
// in `schemas`. Same in both modes (the extension is configured).
#[tokio::test]
async fn custom_extension_namespace_not_listed_in_schemas() {
    for mode in BOTH {
        let app = acme_app().await;
        set_mode(&app, mode).await;
        let okta = Idp::okta(&app);
        let r = okta
            .post(
                "/Users",
                &json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
                    "userName": "jdoe@example.com",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Eng", "employeeNumber": "42"},
                    "urn:ietf:params:scim:schemas:extension:acme:2.0:User": {"costCenterCode": "CC-7"}
                }),
            )
            .await;
        let body = expect(r, 201).await;
        let acme = "urn:ietf:params:scim:schemas:extension:acme:2.0:User";
        assert_eq!(body[ENTERPRISE]["department"], "Eng", "{mode:?}");
        assert_eq!(body[acme]["costCenterCode"], "CC-7", "{mode:?}");
        let schemas = body["schemas"].as_array().unwrap();
        assert!(schemas.contains(&json!(acme)), "output lists it: {body}");
        assert!(schemas.contains(&json!(USER_SCHEMA)));
    }
}

// §1.7 in strict mode: an extension the server does not know is rejected (400), while
// compatible mode drops it and creates the user.
#[tokio::test]
async fn unknown_custom_extension_depends_on_mode() {
    let body = json!({
        "schemas": [USER_SCHEMA],
        "userName": "jdoe@example.com",
        "urn:ietf:params:scim:schemas:extension:acme:2.0:User": {"costCenterCode": "CC-7"}
    });
    let app = spawn_app().await;
    let okta = Idp::okta(&app);
    let created = expect(okta.post("/Users", &body).await, 201).await;
    assert!(
        created
            .get("urn:ietf:params:scim:schemas:extension:acme:2.0:User")
            .is_none()
    );
    let app = spawn_app().await;
    set_mode(&app, Mode::Strict).await;
    let r = Idp::okta(&app).post("/Users", &body).await;
    let err = expect(r, 400).await;
    assert_eq!(err["scimType"], "invalidValue", "{err}");
}

// §1.6: a group create in strict mode is the same exchange (the body is RFC-conformant).
#[tokio::test]
async fn group_push_create_strict() {
    let app = spawn_app().await;
    set_mode(&app, Mode::Strict).await;
    let okta = Idp::okta(&app);
    let g = push_group(&okta, "Strict Group").await;
    assert_eq!(g["schemas"], json!([GROUP_SCHEMA]));
}
