//! The normalisation rules of idp-quirks §6 that no single IdP replay covers in both modes:
//! each test sends the same request to a `compatible` and a `strict` tenant and asserts
//! what each mode does. IdP-specific strict checks live beside their replay (`*_strict`).

use scimd_core::Mode;
use scimd_server::config::{PatchResponse, TenantSettings};
use serde_json::json;

use super::*;
use crate::helpers::{GROUP_SCHEMA, PATCH_OP, USER_SCHEMA, spawn_app};

// §6 rule 1: `delete` is read as `remove` in compatible mode (scimgateway does); strict mode
// knows only the three RFC 7644 operations (400 invalidSyntax).
#[tokio::test]
async fn rule1_delete_op_is_remove_in_compatible_mode_only() {
    for mode in BOTH {
        let app = spawn_app().await;
        set_mode(&app, mode).await;
        let idp = Idp::entra(&app);
        let u = app.create_user("rule1").await;
        let path = format!("/Users/{}", u["id"].as_str().unwrap());
        let r = idp
            .patch(
                &path,
                &json!({"schemas": [PATCH_OP], "Operations": [{"op": "Delete", "path": "emails"}]}),
            )
            .await;
        match mode {
            Mode::Compatible => {
                let body = expect(r, 200).await;
                assert!(body.get("emails").is_none(), "{body}");
            }
            Mode::Strict => {
                let err = expect(r, 400).await;
                assert_eq!(err["scimType"], "invalidSyntax", "{err}");
                assert!(read_user(&app, &u["id"]).await.get("emails").is_some());
            }
        }
    }
}

// §6 rule 2 on PATCH values: `"primary": "True"` inside an added element.
#[tokio::test]
async fn rule2_string_booleans_in_patch_elements() {
    for mode in BOTH {
        let app = spawn_app().await;
        set_mode(&app, mode).await;
        let idp = Idp::entra(&app);
        let u = app.create_user("rule2").await;
        let path = format!("/Users/{}", u["id"].as_str().unwrap());
        let r = idp
            .patch(
                &path,
                &json!({"schemas": [PATCH_OP], "Operations": [{"op": "Add", "path": "phoneNumbers",
                        "value": [{"value": "+1 555 0100", "type": "work", "primary": "True"}]}]}),
            )
            .await;
        match mode {
            Mode::Compatible => {
                let body = expect(r, 200).await;
                assert_eq!(body["phoneNumbers"][0]["primary"], true);
                assert_eq!(
                    body["phoneNumbers"][0]["value"], "+1 555 0100",
                    "stored as sent"
                );
            }
            Mode::Strict => {
                let err = expect(r, 400).await;
                assert_eq!(err["scimType"], "invalidValue", "{err}");
            }
        }
    }
}

// §6 rule 3: a path-less value with a key that is not an attribute path (compatible: the key
// is skipped, the rest applies; strict: 400 and nothing changes); an `id` other than the
// resource's is 400 mutability in both modes.
#[tokio::test]
async fn rule3_pathless_unknown_keys_and_foreign_id() {
    for mode in BOTH {
        let app = spawn_app().await;
        set_mode(&app, mode).await;
        let idp = Idp::okta(&app);
        let u = app.create_user("rule3").await;
        let path = format!("/Users/{}", u["id"].as_str().unwrap());
        let r = idp
            .patch(
                &path,
                &json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace",
                        "value": {"displayName": "Three", "meta": {"resourceType": "User"}, "user_mobile": "1"}}]}),
            )
            .await;
        match mode {
            Mode::Compatible => {
                let body = expect(r, 200).await;
                assert_eq!(body["displayName"], "Three");
                assert!(body.get("user_mobile").is_none());
            }
            Mode::Strict => {
                expect(r, 400).await;
                assert!(read_user(&app, &u["id"]).await.get("displayName").is_none());
            }
        }
        let r = idp
            .patch(
                &path,
                &json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace",
                        "value": {"id": "00000000-0000-4000-8000-000000000000", "displayName": "x"}}]}),
            )
            .await;
        let err = expect(r, 400).await;
        assert_eq!(err["scimType"], "mutability", "{mode:?}: {err}");
        // Its own id is ignored (Okta group rename shape, on a user).
        let r = idp
            .patch(
                &path,
                &json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace",
                        "value": {"id": u["id"], "nickName": "own-id"}}]}),
            )
            .await;
        assert_eq!(expect(r, 200).await["nickName"], "own-id", "{mode:?}");
    }
}

// §6 rule 5 (remove side): a filtered `remove` that matches nothing is a no-op in compatible
// mode and 400 noTarget in strict mode.
#[tokio::test]
async fn rule5_unmatched_filtered_remove() {
    for mode in BOTH {
        let app = spawn_app().await;
        set_mode(&app, mode).await;
        let idp = Idp::entra(&app);
        let u = app.create_user("rule5").await;
        let path = format!("/Users/{}", u["id"].as_str().unwrap());
        let r = idp
            .patch(
                &path,
                &json!({"schemas": [PATCH_OP], "Operations": [{"op": "Remove", "path": "emails[type eq \"home\"]"}]}),
            )
            .await;
        match mode {
            Mode::Compatible => {
                let body = expect(r, 200).await;
                assert_eq!(body["emails"], u["emails"]);
            }
            Mode::Strict => {
                let err = expect(r, 400).await;
                assert_eq!(err["scimType"], "noTarget", "{err}");
            }
        }
    }
}

// §6 rule 6: readOnly `id`/`meta`/`groups` in POST and PUT are ignored, `null` is absent and
// unknown `schemas` entries are tolerated — in both modes; an unknown attribute is dropped
// in compatible mode and 400 invalidValue in strict mode.
#[tokio::test]
async fn rule6_read_only_nulls_unknown_schemas_and_unknown_attributes() {
    for mode in BOTH {
        let app = spawn_app().await;
        set_mode(&app, mode).await;
        let idp = Idp::okta(&app);
        let body = json!({
            "schemas": [USER_SCHEMA, "urn:example:unknown:2.0:Thing"],
            "id": "client-chosen-id",
            "meta": {"resourceType": "User", "created": "2001-01-01T00:00:00Z"},
            "groups": [{"value": "g-1"}],
            "userName": "rule6",
            "nickName": null,
            "addresses": null
        });
        let user = expect(idp.post("/Users", &body).await, 201).await;
        assert_ne!(user["id"], "client-chosen-id", "{mode:?}");
        assert_ne!(user["meta"]["created"], "2001-01-01T00:00:00Z");
        assert!(user.get("nickName").is_none());
        assert!(user.get("groups").is_none() || user["groups"] == json!([]));
        let path = format!("/Users/{}", user["id"].as_str().unwrap());
        let after = expect(idp.put(&path, &body).await, 200).await;
        assert_eq!(after["id"], user["id"]);

        let unknown = json!({"schemas": [USER_SCHEMA], "userName": "rule6b", "costCenter": "7"});
        let r = idp.post("/Users", &unknown).await;
        match mode {
            Mode::Compatible => {
                let created = expect(r, 201).await;
                assert!(created.get("costCenter").is_none());
            }
            Mode::Strict => {
                let err = expect(r, 400).await;
                assert_eq!(err["scimType"], "invalidValue", "{err}");
            }
        }
    }
}

// §6 rule 6 strict: a body without the core schema URN in `schemas` (RFC 7643 §3) is
// 400 invalidSyntax in strict mode and accepted in compatible mode.
#[tokio::test]
async fn rule6_missing_core_schema_urn() {
    for mode in BOTH {
        let app = spawn_app().await;
        set_mode(&app, mode).await;
        let r = Idp::google(&app)
            .post("/Users", &json!({"userName": "noschemas"}))
            .await;
        match mode {
            Mode::Compatible => {
                expect(r, 201).await;
            }
            Mode::Strict => {
                let err = expect(r, 400).await;
                assert_eq!(err["scimType"], "invalidSyntax", "{err}");
            }
        }
    }
}

// §6 rule 8: attribute names in bodies and filters, operators and query parameter names are
// case-insensitive; `startIndex<1` → 1; integers in the ListResponse. Same in both modes.
#[tokio::test]
async fn rule8_case_insensitive_names_operators_and_parameters() {
    for mode in BOTH {
        let app = spawn_app().await;
        set_mode(&app, mode).await;
        let idp = Idp::entra(&app);
        let r = idp
            .post(
                "/Users",
                &json!({"SCHEMAS": [USER_SCHEMA], "USERNAME": "Rule8", "Name": {"GivenName": "R"}}),
            )
            .await;
        let user = expect(r, 201).await;
        assert_eq!(user["userName"], "Rule8", "{mode:?}");
        assert_eq!(user["name"]["givenName"], "R");
        let list = idp
            .filter(
                "/Users",
                "USERNAME EQ \"rule8\" AND name.GIVENNAME Pr",
                "&COUNT=10&STARTINDEX=-5",
            )
            .await;
        assert_eq!(list["totalResults"], 1, "{mode:?}: {list}");
        assert_eq!(list["startIndex"], 1);
        let r = idp
            .get(&format!(
                "/Users?Filter={}&StartIndex=0",
                enc("userName eq \"RULE8\"")
            ))
            .await;
        let list = expect(r, 200).await;
        assert_list(&list);
        assert_eq!(list["totalResults"], 1);
    }
}

// §6 rule 9: zero-result filter → 200 empty ListResponse; missing id → 404 with the Error
// schema and `status` as a string, for Users and Groups, in both modes.
#[tokio::test]
async fn rule9_empty_list_and_404_error_shape() {
    for mode in BOTH {
        let app = spawn_app().await;
        set_mode(&app, mode).await;
        let idp = Idp::entra(&app);
        for endpoint in ["/Users", "/Groups"] {
            let attr = if endpoint == "/Users" {
                "userName"
            } else {
                "displayName"
            };
            let list = idp
                .filter(endpoint, &format!("{attr} eq \"nobody\""), "")
                .await;
            assert_eq!(list["totalResults"], 0);
            assert_eq!(list["Resources"], json!([]));
            let err = expect(
                idp.get(&format!("{endpoint}/00000000-0000-4000-8000-000000000000"))
                    .await,
                404,
            )
            .await;
            assert_eq!(err["status"], "404", "{mode:?}");
            assert_eq!(
                err["schemas"],
                json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
            );
        }
    }
}

// §6 rule 10: group PATCH → 204 by default; `attributes=` forces a body; the tenant setting
// `group_patch_response = resource` answers 200 with the group. Same in both modes.
#[tokio::test]
async fn rule10_group_patch_204_and_attributes_forces_a_body() {
    for mode in BOTH {
        let app = spawn_app().await;
        set_mode(&app, mode).await;
        let idp = Idp::entra(&app);
        let u = app.create_user("rule10").await;
        let g = app.create_group("Rule10", &[]).await;
        let path = format!("/Groups/{}", g["id"].as_str().unwrap());
        let add = json!({"schemas": [PATCH_OP], "Operations": [{"op": "Add", "path": "members", "value": [{"value": u["id"]}]}]});
        assert_eq!(
            expect(idp.patch(&path, &add).await, 204).await,
            serde_json::Value::Null
        );
        let rename = json!({"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "displayName", "value": "Rule10b"}]});
        let body = expect(
            idp.patch(&format!("{path}?attributes=displayName"), &rename)
                .await,
            200,
        )
        .await;
        assert_eq!(body["displayName"], "Rule10b", "{mode:?}");
        assert_eq!(body["id"], g["id"]);

        app.set_settings(TenantSettings {
            mode: Some(mode),
            group_patch_response: PatchResponse::Resource,
            ..TenantSettings::default()
        })
        .await;
        let rename = json!({"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "displayName", "value": "Rule10c"}]});
        let body = expect(idp.patch(&path, &rename).await, 200).await;
        assert_eq!(body["displayName"], "Rule10c");
        assert_eq!(body["schemas"], json!([GROUP_SCHEMA]));
    }
}

// §6 rule 11: password on create is a placeholder unless password sync is on; in both
// modes it is accepted and never returned.
#[tokio::test]
async fn rule11_password_placeholder_in_both_modes() {
    for mode in BOTH {
        for sync in [false, true] {
            let app = spawn_app().await;
            app.set_settings(TenantSettings {
                mode: Some(mode),
                password_sync: sync,
                ..TenantSettings::default()
            })
            .await;
            let r = Idp::okta(&app)
                .post(
                    "/Users",
                    &json!({"schemas": [USER_SCHEMA], "userName": "rule11", "password": "1mz050nq", "groups": []}),
                )
                .await;
            let user = expect(r, 201).await;
            assert!(user.get("password").is_none());
            let hash = stored_user(&app, &user["id"]).await.password_hash;
            assert_eq!(hash.is_some(), sync, "{mode:?} sync={sync}");
            if let Some(hash) = hash {
                assert!(scimd_server::crypto::verify_secret("1mz050nq", &hash));
            }
        }
    }
}

// §6 rule 12: an inactive user stays readable by id and by filter; DELETE is supported
// (204, then 404). Same in both modes.
#[tokio::test]
async fn rule12_inactive_users_readable_and_delete_supported() {
    for mode in BOTH {
        let app = spawn_app().await;
        set_mode(&app, mode).await;
        let idp = Idp::entra(&app);
        let u = app.create_user("rule12").await;
        let path = format!("/Users/{}", u["id"].as_str().unwrap());
        let r = idp
            .patch(
                &path,
                &json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "active", "value": false}]}),
            )
            .await;
        expect(r, 200).await;
        assert_eq!(expect(idp.get(&path).await, 200).await["active"], false);
        let list = idp.filter("/Users", "active eq false", "").await;
        assert_eq!(list["totalResults"], 1, "{mode:?}");
        expect(idp.delete(&path).await, 204).await;
        expect(idp.get(&path).await, 404).await;
    }
}
