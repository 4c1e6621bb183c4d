//! OneLogin replay (idp-quirks §3): the "Core User Schema" and "Enterprise User Schema"
//! templates with SCIM 1.1 URNs and an object-valued `emails`, admin-authored templates with
//! string booleans, `"id": null`, `meta` and unresolved (empty) parameters, the response
//! OneLogin needs (`name` with given and family name) and the "Refresh Entitlements" read of
//! `GET /Groups`.

use scimd_core::Mode;
use serde_json::{Value, json};

use super::*;
use crate::helpers::{USER_SCHEMA, spawn_app};

/// The "Enterprise User Schema" template (§3), its parameters resolved.
fn enterprise_template(user_name: &str, manager_id: &str) -> Value {
    json!({
        "schemas": ["urn:scim:schemas:core:1.0", "urn:scim:schemas:extension:enterprise:1.0"],
        "userName": user_name,
        "name": {"familyName": "Doe", "givenName": "John", "formatted": "John Doe"},
        "emails": {"value": user_name, "type": "work", "primary": true},
        "title": "Engineer",
        "urn:scim:schemas:extension:enterprise:1.0": {
            "department": "Engineering",
            "manager": {"managerId": manager_id, "displayName": "Jane Boss"}
        }
    })
}

// §3 and §6 rule 7: the "Core User Schema" template with the SCIM 1.1 core URN is accepted
// in both modes, and the response carries `name.givenName`/`familyName` as OneLogin needs.
#[tokio::test]
async fn core_template_with_scim_1_1_urn() {
    for mode in BOTH {
        let app = spawn_app().await;
        set_mode(&app, mode).await;
        let onelogin = Idp::onelogin(&app);
        let r = onelogin
            .post(
                "/Users",
                &json!({
                    "schemas": ["urn:scim:schemas:core:1.0"],
                    "userName": "jdoe",
                    "name": {"givenName": "John", "familyName": "Doe", "formatted": "John Doe"}
                }),
            )
            .await;
        let user = expect(r, 201).await;
        assert_eq!(
            user["schemas"],
            json!([USER_SCHEMA]),
            "{mode:?}: answered in 2.0"
        );
        assert_eq!(user["name"]["givenName"], "John");
        assert_eq!(user["name"]["familyName"], "Doe");
        assert_eq!(user["userName"], "jdoe");
    }
}

// §3 and §6 rule 7: the "Enterprise User Schema" template — 1.1 extension URN, `emails` as
// one object, manager as `managerId` — becomes a 2.0 user.
#[tokio::test]
async fn enterprise_template_with_object_emails_and_manager_id() {
    let app = spawn_app().await;
    let onelogin = Idp::onelogin(&app);
    let r = onelogin
        .post("/Users", &enterprise_template("jdoe@example.com", "m-77"))
        .await;
    let user = expect(r, 201).await;
    assert_eq!(
        user["emails"],
        json!([{"value": "jdoe@example.com", "type": "work", "primary": true}])
    );
    assert_eq!(user["title"], "Engineer");
    assert_eq!(user[ENTERPRISE]["department"], "Engineering");
    assert_eq!(user[ENTERPRISE]["manager"]["value"], "m-77");
    assert_eq!(user["schemas"], json!([USER_SCHEMA, ENTERPRISE]));
    // Updates use the same template as a PUT body.
    let path = format!("/Users/{}", user["id"].as_str().unwrap());
    let mut body = enterprise_template("jdoe@example.com", "m-78");
    body["title"] = json!("Lead");
    let after = expect(onelogin.put(&path, &body).await, 200).await;
    assert_eq!(after["title"], "Lead");
    assert_eq!(after[ENTERPRISE]["manager"]["value"], "m-78");
    assert_eq!(after["emails"][0]["value"], "jdoe@example.com");
}

// §6 rule 7 strict: the object-valued `emails` is 400 invalidValue.
#[tokio::test]
async fn enterprise_template_with_object_emails_strict() {
    let app = spawn_app().await;
    set_mode(&app, Mode::Strict).await;
    let onelogin = Idp::onelogin(&app);
    let r = onelogin
        .post("/Users", &enterprise_template("jdoe@example.com", "m-77"))
        .await;
    let err = expect(r, 400).await;
    assert_eq!(err["scimType"], "invalidValue", "{err}");
    assert!(err["detail"].as_str().unwrap().contains("emails"), "{err}");
}

// §3 and §6 rules 2 and 6: a vendor template with `"active": "{$user.active}"` resolved to a
// string boolean, `"id": null` and `meta` in the body; deactivation by the same template.
#[tokio::test]
async fn string_booleans_id_null_and_meta_in_template() {
    let app = spawn_app().await;
    let onelogin = Idp::onelogin(&app);
    let template = |active: &str| {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": null,
            "userName": "sb@example.com",
            "name": {"givenName": "S", "familyName": "B"},
            "emails": [{"value": "sb@example.com", "type": "work", "primary": "true"}],
            "active": active,
            "meta": {"resourceType": "User"}
        })
    };
    let user = expect(onelogin.post("/Users", &template("true")).await, 201).await;
    assert_eq!(user["active"], true);
    assert_eq!(user["emails"][0]["primary"], true);
    let path = format!("/Users/{}", user["id"].as_str().unwrap());
    let after = expect(onelogin.put(&path, &template("false")).await, 200).await;
    assert_eq!(after["active"], false);
    assert_eq!(after["id"], user["id"], "id: null is ignored");
    let read = expect(onelogin.get(&path).await, 200).await;
    assert_eq!(read["active"], false, "readable while inactive");
}

// §6 rule 2 strict: `"active": "true"` is 400 invalidValue.
#[tokio::test]
async fn string_booleans_strict() {
    let app = spawn_app().await;
    set_mode(&app, Mode::Strict).await;
    let onelogin = Idp::onelogin(&app);
    let r = onelogin
        .post(
            "/Users",
            &json!({"schemas": [USER_SCHEMA], "userName": "sb@example.com", "active": "true"}),
        )
        .await;
    let err = expect(r, 400).await;
    assert_eq!(err["scimType"], "invalidValue", "{err}");
}

// §3: unresolved template parameters arrive as empty strings (and an arbitrary top-level
// key such as Zabbix's `user_mobile`); compatible mode treats them as absent.
#[tokio::test]
async fn unresolved_empty_parameters() {
    let app = spawn_app().await;
    let onelogin = Idp::onelogin(&app);
    let r = onelogin
        .post(
            "/Users",
            &json!({
                "schemas": ["urn:scim:schemas:core:1.0", "urn:scim:schemas:extension:enterprise:1.0"],
                "id": null,
                "userName": "jdoe",
                "name": {"givenName": "John", "familyName": "Doe", "formatted": ""},
                "active": "",
                "title": "",
                "emails": {"value": "", "type": "work", "primary": true},
                "user_mobile": "",
                "urn:scim:schemas:extension:enterprise:1.0": {
                    "department": "",
                    "manager": {"managerId": "", "displayName": " "}
                }
            }),
        )
        .await;
    let user = expect(r, 201).await;
    assert_eq!(user["userName"], "jdoe");
    for absent in ["title", "emails", "user_mobile", ENTERPRISE] {
        assert!(user.get(absent).is_none(), "{absent}: {user}");
    }
    assert!(user["name"].get("formatted").is_none(), "{user}");
    assert_eq!(user["name"]["givenName"], "John");
}

// §6 strict: an empty string for a boolean and an unknown top-level key are 400.
#[tokio::test]
async fn unresolved_empty_parameters_strict() {
    let app = spawn_app().await;
    set_mode(&app, Mode::Strict).await;
    let onelogin = Idp::onelogin(&app);
    for body in [
        json!({"schemas": [USER_SCHEMA], "userName": "jdoe", "active": ""}),
        json!({"schemas": [USER_SCHEMA], "userName": "jdoe", "user_mobile": ""}),
    ] {
        let err = expect(onelogin.post("/Users", &body).await, 400).await;
        assert_eq!(err["scimType"], "invalidValue", "{body}: {err}");
    }
}

// §3: "Refresh Entitlements" reads `GET /Groups`; every group is listed with id and
// displayName.
#[tokio::test]
async fn refresh_entitlements_lists_groups() {
    let app = spawn_app().await;
    let onelogin = Idp::onelogin(&app);
    let u = app.create_user("member").await;
    let mut expected = Vec::new();
    for name in ["Admins", "Engineering", "Sales"] {
        let g = app.create_group(name, &[u["id"].as_str().unwrap()]).await;
        expected.push((g["id"].as_str().unwrap().to_owned(), name));
    }
    let list = expect(onelogin.get("/Groups").await, 200).await;
    assert_list(&list);
    assert_eq!(list["totalResults"], 3);
    let mut got: Vec<(String, &str)> = list["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["id"].as_str().unwrap().to_owned(),
                g["displayName"].as_str().unwrap(),
            )
        })
        .collect();
    got.sort();
    expected.sort();
    assert_eq!(got, expected);
}
