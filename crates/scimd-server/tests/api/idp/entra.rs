//! Microsoft Entra ID replay (idp-quirks §2): test connection, matching lookups, create with
//! the tutorial's and the validator's bodies, the default (non-compliant) PATCH shapes and the
//! `aadOptscim062020` ones, manager and roles forms, custom extensions, groups with
//! `excludedAttributes=members`, member removal by value list, the inbound reader's queries.

use scimd_core::Mode;
use serde_json::{Value, json};

use super::*;
use crate::helpers::{GROUP_SCHEMA, PATCH_OP, TestApp, USER_SCHEMA, spawn_app, spawn_app_with};

/// The custom extension of idp-quirks §2.6.
const CUSTOM_EXT: &str = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User";

/// The §2.2 create body (tutorial), with a department in the enterprise extension.
fn entra_create_body(user_name: &str, external_id: &str, email: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "externalId": external_id,
        "userName": user_name,
        "active": true,
        "emails": [{"primary": true, "type": "work", "value": email}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "roles": [],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Sales"}
    })
}

async fn entra_user(entra: &Idp<'_>, user_name: &str, external_id: &str, email: &str) -> Value {
    let r = entra
        .post("/Users", &entra_create_body(user_name, external_id, email))
        .await;
    expect(r, 201).await
}

fn patch(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": ops})
}

fn user_path(user: &Value) -> String {
    format!("/Users/{}", user["id"].as_str().unwrap())
}

// §2.1 and §6 rule 9: Test Connection queries a random GUID → 200 with an empty ListResponse;
// Entra also fetches a random group.
#[tokio::test]
async fn test_connection_random_guid() {
    let app = spawn_app().await;
    let entra = Idp::entra(&app);
    for filter in [
        "userName eq \"5c4ad7f9-1b0e-4a7f-9a49-2f8f1e0c8d33\"",
        "externalId eq \"5c4ad7f9-1b0e-4a7f-9a49-2f8f1e0c8d33\"",
    ] {
        let list = entra.filter("/Users", filter, "").await;
        assert_eq!(list["totalResults"], 0);
        assert_eq!(list["startIndex"], 1);
        assert_eq!(list["Resources"], json!([]));
    }
    let list = entra
        .filter(
            "/Groups",
            "displayName eq \"5c4ad7f9-1b0e-4a7f-9a49-2f8f1e0c8d33\"",
            "&excludedAttributes=members",
        )
        .await;
    assert_eq!(list["totalResults"], 0);
}

// §2.1: matching lookups by userName, externalId (quoted and the tutorial's unquoted
// `externalId eq jyoung`) and `emails[type eq "work"].value`.
#[tokio::test]
async fn lookups_by_user_name_external_id_and_work_email() {
    for mode in BOTH {
        lookups_in_mode(mode).await;
    }
}

async fn lookups_in_mode(mode: Mode) {
    let app = spawn_app().await;
    set_mode(&app, mode).await;
    let entra = Idp::entra(&app);
    let user = entra_user(&entra, "jyoung@contoso.com", "jyoung", "jyoung@contoso.com").await;
    // A second user with only a home email at the looked-up address must not match.
    let r = entra
        .post(
            "/Users",
            &json!({"schemas": [USER_SCHEMA], "userName": "other@contoso.com",
                    "emails": [{"type": "home", "value": "home@contoso.com"}]}),
        )
        .await;
    expect(r, 201).await;
    for filter in [
        "userName eq \"jyoung@contoso.com\"",
        "externalId eq \"jyoung\"",
        "externalId eq jyoung",
        "emails[type eq \"work\"].value eq \"jyoung@contoso.com\"",
    ] {
        let list = entra.filter("/Users", filter, "").await;
        assert_eq!(list["totalResults"], 1, "{mode:?} {filter}: {list}");
        assert_eq!(list["Resources"][0]["id"], user["id"], "{filter}");
    }
    let list = entra
        .filter(
            "/Users",
            "emails[type eq \"work\"].value eq \"home@contoso.com\"",
            "",
        )
        .await;
    assert_eq!(list["totalResults"], 0, "a home email is not a work email");
}

// §2.2 and §6 rule 6: create with the enterprise extension, readOnly `meta` and `roles: []`
// in the body. Same in both modes.
#[tokio::test]
async fn create_user_with_enterprise_extension_meta_and_empty_roles() {
    for mode in BOTH {
        let app = spawn_app().await;
        set_mode(&app, mode).await;
        let entra = Idp::entra(&app);
        let user = entra_user(
            &entra,
            "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
            "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
            "Test_User_11bb@testuser.com",
        )
        .await;
        assert_eq!(user["externalId"], "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef");
        assert_eq!(user["active"], true);
        assert_eq!(user[ENTERPRISE]["department"], "Sales", "{mode:?}");
        assert_eq!(user["schemas"], json!([USER_SCHEMA, ENTERPRISE]));
        assert!(user.get("roles").is_none(), "roles: [] is absent: {user}");
        // meta is the server's, not the body's.
        assert_eq!(user["meta"]["resourceType"], "User");
        assert!(user["meta"]["created"].is_string());
        assert!(
            user["meta"]["location"]
                .as_str()
                .unwrap()
                .ends_with(user["id"].as_str().unwrap())
        );
    }
}

// §2.2 Example 2 and §6 rule 6: explicit nulls and the malformed URN
// `…:enterprise:2.0User` in `schemas`. Same in both modes.
#[tokio::test]
async fn create_with_explicit_nulls_and_malformed_extension_urn() {
    for mode in BOTH {
        let app = spawn_app().await;
        set_mode(&app, mode).await;
        let entra = Idp::entra(&app);
        let r = entra
            .post(
                "/Users",
                &json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"],
                    "externalId": "jyoung",
                    "userName": "jyoung@contoso.com",
                    "active": true,
                    "addresses": null,
                    "displayName": "Joy Young",
                    "emails": [{"type": "work", "value": "jyoung@contoso.com", "primary": true}],
                    "meta": {"resourceType": "User"},
                    "name": {"familyName": "Young", "givenName": "Joy"},
                    "phoneNumbers": null,
                    "title": null,
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": null, "manager": null}
                }),
            )
            .await;
        let user = expect(r, 201).await;
        assert_eq!(user["displayName"], "Joy Young", "{mode:?}");
        for absent in ["addresses", "phoneNumbers", "title", ENTERPRISE] {
            assert!(user.get(absent).is_none(), "{absent} is absent: {user}");
        }
        assert_eq!(user["schemas"], json!([USER_SCHEMA]));
    }
}

/// The validator body replayed in scim2-server (§2.2): capitalised names, `"True"`,
/// `"Primary": null`, two work emails and `meta.created`.
fn validator_body() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "UserName": "OMAR_B@contoso.com",
        "Active": "True",
        "DisplayName": "Omar",
        "emails": [
            {"Primary": true, "type": "work", "value": "omar_b@contoso.com"},
            {"Primary": null, "type": "work", "value": "omar.b@contoso.com"}
        ],
        "meta": {"resourceType": "User", "created": "2018-03-27T19:59:26.000Z"},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "Department": "Sales", "Manager": {"Value": "m-1"}
        }
    })
}

// §2.2 and §6 rules 2 and 8: capitalised attribute names and `"Active": "True"`.
#[tokio::test]
async fn validator_capitalised_names_and_string_booleans() {
    let app = spawn_app().await;
    let entra = Idp::entra(&app);
    let user = expect(entra.post("/Users", &validator_body()).await, 201).await;
    assert_eq!(user["userName"], "OMAR_B@contoso.com");
    assert_eq!(user["active"], true);
    assert_eq!(user["displayName"], "Omar");
    assert_eq!(user["emails"][0]["primary"], true);
    assert_eq!(user["emails"].as_array().unwrap().len(), 2);
    assert_eq!(user[ENTERPRISE]["department"], "Sales");
    assert_eq!(user[ENTERPRISE]["manager"]["value"], "m-1");
    assert_ne!(
        user["meta"]["created"], "2018-03-27T19:59:26.000Z",
        "readOnly meta ignored"
    );
    let list = entra
        .filter("/Users", "UserName eq \"omar_b@contoso.com\"", "")
        .await;
    assert_eq!(
        list["totalResults"], 1,
        "filter names and values case-insensitive"
    );
}

// §6 rule 2 strict: `"Active": "True"` is 400 invalidValue; capitalised names still work.
#[tokio::test]
async fn validator_capitalised_names_and_string_booleans_strict() {
    let app = spawn_app().await;
    set_mode(&app, Mode::Strict).await;
    let entra = Idp::entra(&app);
    let err = expect(entra.post("/Users", &validator_body()).await, 400).await;
    assert_eq!(err["scimType"], "invalidValue", "{err}");
    assert!(err["detail"].as_str().unwrap().contains("active"), "{err}");
    let mut fixed = validator_body();
    fixed["Active"] = json!(true);
    let user = expect(entra.post("/Users", &fixed).await, 201).await;
    assert_eq!(user["active"], true);
    assert_eq!(user[ENTERPRISE]["department"], "Sales");
}

// §2.3 and §6 rules 1 and 2: default (no flag) ops — capitalised `Replace`/`Add`/`Remove`,
// `"False"`/`"True"` strings.
#[tokio::test]
async fn patch_capitalised_ops_and_string_booleans() {
    let app = spawn_app().await;
    let entra = Idp::entra(&app);
    let user = entra_user(&entra, "babs@contoso.com", "babs", "babs@contoso.com").await;
    let path = user_path(&user);
    let body = expect(
        entra
            .patch(
                &path,
                &patch(json!([{"op": "Replace", "path": "active", "value": "False"}])),
            )
            .await,
        200,
    )
    .await;
    assert_eq!(body["active"], false);
    assert_eq!(expect(entra.get(&path).await, 200).await["active"], false);
    let body = expect(
        entra
            .patch(
                &path,
                &patch(json!([{"op": "Replace", "path": "active", "value": "True"}])),
            )
            .await,
        200,
    )
    .await;
    assert_eq!(body["active"], true);
    let body = expect(
        entra
            .patch(
                &path,
                &patch(json!([{"op": "Add", "path": "nickName", "value": "Babs"}])),
            )
            .await,
        200,
    )
    .await;
    assert_eq!(body["nickName"], "Babs");
    let body = expect(
        entra
            .patch(&path, &patch(json!([{"op": "Remove", "path": "nickName"}])))
            .await,
        200,
    )
    .await;
    assert!(body.get("nickName").is_none());
    // The tutorial's own mixed form: `Replace` with a boolean.
    let body = expect(
        entra
            .patch(
                &path,
                &patch(json!([{"op": "Replace", "path": "active", "value": false}])),
            )
            .await,
        200,
    )
    .await;
    assert_eq!(body["active"], false);
}

// §6 rules 1 and 2 strict: capitalised ops are still accepted (RFC 7644 doesn't fix the
// case of `op`), but `"False"` for a boolean is 400 invalidValue and nothing changes.
#[tokio::test]
async fn patch_capitalised_ops_and_string_booleans_strict() {
    let app = spawn_app().await;
    set_mode(&app, Mode::Strict).await;
    let entra = Idp::entra(&app);
    let user = entra_user(&entra, "babs@contoso.com", "babs", "babs@contoso.com").await;
    let path = user_path(&user);
    let err = expect(
        entra
            .patch(
                &path,
                &patch(json!([{"op": "Replace", "path": "active", "value": "False"}])),
            )
            .await,
        400,
    )
    .await;
    assert_eq!(err["scimType"], "invalidValue", "{err}");
    assert_eq!(expect(entra.get(&path).await, 200).await["active"], true);
    let body = expect(
        entra
            .patch(
                &path,
                &patch(json!([{"op": "Replace", "path": "active", "value": false}])),
            )
            .await,
        200,
    )
    .await;
    assert_eq!(body["active"], false);
    let body = expect(
        entra
            .patch(
                &path,
                &patch(json!([{"op": "Add", "path": "nickName", "value": "Babs"}])),
            )
            .await,
        200,
    )
    .await;
    assert_eq!(body["nickName"], "Babs");
}

// §2.3 tutorial update: one op per path, filtered replace of the existing work email, and a
// URN-qualified enterprise attribute path.
#[tokio::test]
async fn patch_one_op_per_path_update() {
    let app = spawn_app().await;
    let entra = Idp::entra(&app);
    let user = entra_user(&entra, "upd@contoso.com", "upd", "upd@contoso.com").await;
    let body = expect(
        entra
            .patch(
                &user_path(&user),
                &patch(json!([
                    {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@microsoft.com"},
                    {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
                    {"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": "Eqpj"}
                ])),
            )
            .await,
        200,
    )
    .await;
    let emails = body["emails"].as_array().unwrap();
    assert_eq!(emails.len(), 1, "replaced, not added: {body}");
    assert_eq!(emails[0]["value"], "updatedEmail@microsoft.com");
    assert_eq!(emails[0]["type"], "work");
    assert_eq!(body["name"]["familyName"], "updatedFamilyName");
    assert_eq!(body["name"]["givenName"], "givenName");
    assert_eq!(body[ENTERPRISE]["employeeNumber"], "Eqpj");
    assert_eq!(body[ENTERPRISE]["department"], "Sales");
}

// §2.3 and §6 rule 5: Replace/Add on `emails[type eq "work"].value` with no work email
// creates it (Entra); strict mode answers 400 noTarget.
#[tokio::test]
async fn filtered_replace_creates_the_missing_work_email() {
    for mode in BOTH {
        let app = spawn_app().await;
        set_mode(&app, mode).await;
        let entra = Idp::entra(&app);
        let r = entra
            .post(
                "/Users",
                &json!({"schemas": [USER_SCHEMA], "userName": "nowork@contoso.com",
                        "emails": [{"type": "home", "value": "h@home.org"}]}),
            )
            .await;
        let user = expect(r, 201).await;
        let r = entra
            .patch(
                &user_path(&user),
                &patch(json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "w@contoso.com"}])),
            )
            .await;
        match mode {
            Mode::Compatible => {
                let body = expect(r, 200).await;
                assert_eq!(
                    body["emails"],
                    json!([{"type": "home", "value": "h@home.org"}, {"type": "work", "value": "w@contoso.com"}])
                );
                let list = entra
                    .filter(
                        "/Users",
                        "emails[type eq \"work\"].value eq \"w@contoso.com\"",
                        "",
                    )
                    .await;
                assert_eq!(list["totalResults"], 1, "the created email is indexed");
            }
            Mode::Strict => {
                let err = expect(r, 400).await;
                assert_eq!(err["scimType"], "noTarget", "{err}");
                let read = read_user(&app, &user["id"]).await;
                assert_eq!(read["emails"].as_array().unwrap().len(), 1);
            }
        }
    }
}

// §2.3 `aadOptscim062020` and §6 rule 3: a filtered op plus one path-less op with dotted and
// URN-qualified keys. Same in both modes.
#[tokio::test]
async fn pathless_replace_with_dotted_and_urn_keys() {
    for mode in BOTH {
        let app = spawn_app().await;
        set_mode(&app, mode).await;
        let entra = Idp::entra(&app);
        let user = entra_user(&entra, "flag@contoso.com", "flag", "flag@contoso.com").await;
        let body = expect(
            entra
                .patch(
                    &user_path(&user),
                    &patch(json!([
                        {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "new@contoso.com"},
                        {"op": "replace", "value": {
                            "displayName": "Bjfe",
                            "name.givenName": "Kkom",
                            "name.familyName": "Unua",
                            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "Aklq"
                        }}
                    ])),
                )
                .await,
            200,
        )
        .await;
        assert_eq!(body["displayName"], "Bjfe", "{mode:?}");
        assert_eq!(body["name"]["givenName"], "Kkom");
        assert_eq!(body["name"]["familyName"], "Unua");
        assert_eq!(
            body["name"]["formatted"], "givenName familyName",
            "other subs kept"
        );
        assert_eq!(body[ENTERPRISE]["employeeNumber"], "Aklq");
        assert_eq!(body[ENTERPRISE]["department"], "Sales");
        assert_eq!(body["emails"][0]["value"], "new@contoso.com");
        assert!(body.get("name.givenName").is_none(), "{body}");
    }
}

// §2.3 manager forms: tutorial Example 5 (`manager` path, array with $ref), the bare id
// under the URN path (§6: "manager instead of manager.value"), and remove by value filter.
#[tokio::test]
async fn manager_as_bare_id() {
    let app = spawn_app().await;
    let entra = Idp::entra(&app);
    let boss = entra_user(&entra, "boss@contoso.com", "boss", "boss@contoso.com").await;
    let user = entra_user(&entra, "emp@contoso.com", "emp", "emp@contoso.com").await;
    let path = user_path(&user);
    let boss_id = boss["id"].as_str().unwrap();
    let body = expect(
        entra
            .patch(
                &path,
                &patch(json!([{"op": "Add", "path": "manager", "value": [{"$ref": format!("{}/Users/{boss_id}", app.scim), "value": boss_id}]}])),
            )
            .await,
        200,
    )
    .await;
    assert_eq!(body[ENTERPRISE]["manager"]["value"], boss_id);
    let body = expect(
        entra
            .patch(
                &path,
                &patch(json!([{"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "mgr-bare-id"}])),
            )
            .await,
        200,
    )
    .await;
    assert_eq!(body[ENTERPRISE]["manager"]["value"], "mgr-bare-id");
    let body = expect(
        entra
            .patch(
                &path,
                &patch(json!([{"op": "remove", "path": "manager[value eq \"mgr-bare-id\"]"}])),
            )
            .await,
        200,
    )
    .await;
    assert!(body[ENTERPRISE].get("manager").is_none(), "{body}");
    assert_eq!(body[ENTERPRISE]["department"], "Sales");
    // §2.9: Microsoft's dot form `…:User.manager`.
    let body = expect(
        entra
            .patch(
                &path,
                &patch(json!([{"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User.manager", "value": {"value": boss_id}}])),
            )
            .await,
        200,
    )
    .await;
    assert_eq!(body[ENTERPRISE]["manager"]["value"], boss_id);
}

// §6 strict: the bare-id manager is 400 invalidValue; `{"value": …}` and
// `…:manager.value` are the RFC forms and work.
#[tokio::test]
async fn manager_as_bare_id_strict() {
    let app = spawn_app().await;
    set_mode(&app, Mode::Strict).await;
    let entra = Idp::entra(&app);
    let user = entra_user(&entra, "emp@contoso.com", "emp", "emp@contoso.com").await;
    let path = user_path(&user);
    let err = expect(
        entra
            .patch(
                &path,
                &patch(json!([{"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "mgr-bare-id"}])),
            )
            .await,
        400,
    )
    .await;
    assert_eq!(err["scimType"], "invalidValue", "{err}");
    let body = expect(
        entra
            .patch(
                &path,
                &patch(json!([{"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value", "value": "mgr-3"}])),
            )
            .await,
        200,
    )
    .await;
    assert_eq!(body[ENTERPRISE]["manager"]["value"], "mgr-3");
}

// §2.6: SingleAppRoleAssignment — objects on POST, a JSON-encoded string on PATCH (decoded in
// compatible mode); AssertiveAppRoleAssignmentsComplex replaces the list.
#[tokio::test]
async fn roles_as_json_encoded_strings() {
    let app = spawn_app().await;
    let entra = Idp::entra(&app);
    let r = entra
        .post(
            "/Users",
            &json!({"schemas": [USER_SCHEMA], "userName": "roles@contoso.com",
                    "roles": [{"primary": true, "type": "WindowsAzureActiveDirectoryRole", "value": "Admin"}]}),
        )
        .await;
    let user = expect(r, 201).await;
    assert_eq!(user["roles"][0]["value"], "Admin");
    let path = user_path(&user);
    let body = expect(
        entra
            .patch(
                &path,
                &patch(json!([{"op": "Add", "path": "roles", "value": [{"value": "{\"id\":\"06b07648-ecfe-589f-9d2f-6325724a46ee\",\"value\":\"25\",\"displayName\":\"Role1234\"}"}]}])),
            )
            .await,
        200,
    )
    .await;
    let roles = body["roles"].as_array().unwrap();
    assert!(roles.iter().any(|r| r["value"] == "25"), "decoded: {body}");
    assert!(roles.iter().any(|r| r["value"] == "Admin"), "added: {body}");
    assert!(
        !roles
            .iter()
            .any(|r| r["value"].as_str().unwrap().starts_with('{'))
    );
    let body = expect(
        entra
            .patch(
                &path,
                &patch(json!([{"op": "replace", "path": "roles", "value": [
                    {"primary": false, "type": "WindowsAzureActiveDirectoryRole", "display": "User", "value": "User"},
                    {"primary": false, "type": "WindowsAzureActiveDirectoryRole", "display": "Admin", "value": "Admin"}
                ]}])),
            )
            .await,
        200,
    )
    .await;
    let values: Vec<&str> = body["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["value"].as_str().unwrap())
        .collect();
    assert_eq!(values, ["User", "Admin"]);
}

// §2.6 strict: the JSON-encoded string is a valid string and is kept verbatim.
#[tokio::test]
async fn roles_as_json_encoded_strings_strict() {
    let app = spawn_app().await;
    set_mode(&app, Mode::Strict).await;
    let entra = Idp::entra(&app);
    let r = entra
        .post(
            "/Users",
            &json!({"schemas": [USER_SCHEMA], "userName": "roles@contoso.com"}),
        )
        .await;
    let user = expect(r, 201).await;
    let encoded = "{\"id\":\"06b07648-ecfe-589f-9d2f-6325724a46ee\",\"value\":\"25\",\"displayName\":\"Role1234\"}";
    let body = expect(
        entra
            .patch(
                &user_path(&user),
                &patch(json!([{"op": "Add", "path": "roles", "value": [{"value": encoded}]}])),
            )
            .await,
        200,
    )
    .await;
    assert_eq!(body["roles"][0]["value"], encoded);
}

async fn custom_ext_app() -> TestApp {
    spawn_app_with(|c| {
        c.schema = Some(json!({"extensions": [{
            "id": CUSTOM_EXT,
            "name": "CustomExtensionName",
            "resourceType": "User",
            "attributes": [{"name": "CustomAttribute", "type": "string"}]
        }]}));
    })
    .await
}

// §2.6 and §6 rule 6: the custom extension object arrives without its URN in `schemas`;
// PATCH uses `urn:…:CustomExtensionName:2.0:User:CustomAttribute`. Same in both modes.
#[tokio::test]
async fn custom_extension_urn_not_listed_in_schemas() {
    for mode in BOTH {
        let app = custom_ext_app().await;
        set_mode(&app, mode).await;
        let entra = Idp::entra(&app);
        let r = entra
            .post(
                "/Users",
                &json!({
                    "schemas": [USER_SCHEMA, ENTERPRISE],
                    "userName": "custom@contoso.com",
                    "active": true,
                    CUSTOM_EXT: {"CustomAttribute": "701984"}
                }),
            )
            .await;
        let user = expect(r, 201).await;
        assert_eq!(
            user[CUSTOM_EXT]["CustomAttribute"], "701984",
            "{mode:?}: {user}"
        );
        assert!(
            user["schemas"]
                .as_array()
                .unwrap()
                .contains(&json!(CUSTOM_EXT))
        );
        let body = expect(
            entra
                .patch(
                    &user_path(&user),
                    &patch(json!([{"op": "Replace", "path": format!("{CUSTOM_EXT}:CustomAttribute"), "value": "42"}])),
                )
                .await,
            200,
        )
        .await;
        assert_eq!(body[CUSTOM_EXT]["CustomAttribute"], "42");
        let list = entra
            .filter(
                "/Users",
                &format!("{CUSTOM_EXT}:CustomAttribute eq \"42\""),
                "",
            )
            .await;
        assert_eq!(list["totalResults"], 1);
    }
}

/// The §2.5 group create body.
fn entra_group_body(display_name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group", "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
        "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
        "displayName": display_name,
        "meta": {"resourceType": "Group"}
    })
}

// §2.1, §2.5 and §6 rules 4, 6, 10: group with the Microsoft schema URI, reads with
// `excludedAttributes=members` (no members key), membership by PATCH with `"$ref": null`,
// member removal by value list (others stay), group PATCH → 204. Same in both modes.
#[tokio::test]
async fn groups_microsoft_schema_excluded_members_and_removal_by_value() {
    for mode in BOTH {
        let app = spawn_app().await;
        set_mode(&app, mode).await;
        let entra = Idp::entra(&app);
        let a = entra_user(&entra, "a@contoso.com", "a", "a@contoso.com").await;
        let b = entra_user(&entra, "b@contoso.com", "b", "b@contoso.com").await;
        let c = entra_user(&entra, "c@contoso.com", "c", "c@contoso.com").await;
        let g = expect(
            entra
                .post("/Groups", &entra_group_body("displayName"))
                .await,
            201,
        )
        .await;
        assert_eq!(g["schemas"], json!([GROUP_SCHEMA]), "{mode:?}");
        assert_eq!(g["externalId"], "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159");
        let path = format!("/Groups/{}", g["id"].as_str().unwrap());

        let r = entra
            .patch(
                &path,
                &patch(json!([{"op": "Add", "path": "members", "value": [
                    {"$ref": null, "value": a["id"]}, {"$ref": null, "value": b["id"]}, {"$ref": null, "value": c["id"]}]}])),
            )
            .await;
        assert_eq!(expect(r, 204).await, Value::Null, "204 without a body");

        let by_id = expect(
            entra
                .get(&format!("{path}?excludedAttributes=members"))
                .await,
            200,
        )
        .await;
        assert!(by_id.get("members").is_none(), "{by_id}");
        assert_eq!(by_id["displayName"], "displayName");
        let list = entra
            .filter(
                "/Groups",
                "displayName eq \"displayName\"",
                "&excludedAttributes=members",
            )
            .await;
        assert_eq!(list["totalResults"], 1);
        assert!(list["Resources"][0].get("members").is_none(), "{list}");
        assert_eq!(list["Resources"][0]["id"], g["id"]);

        // Default (no flag) removal: `Remove` on `members` with a value list.
        let r = entra
            .patch(
                &path,
                &patch(json!([{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": a["id"]}]}])),
            )
            .await;
        expect(r, 204).await;
        assert_eq!(
            members_of(&app, &g["id"]).await,
            sorted(&[&b["id"], &c["id"]]),
            "{mode:?}"
        );
        // `aadOptscim062020` removal: filter path.
        let r = entra
            .patch(
                &path,
                &patch(json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", b["id"].as_str().unwrap())}])),
            )
            .await;
        expect(r, 204).await;
        assert_eq!(members_of(&app, &g["id"]).await, sorted(&[&c["id"]]));
        assert_eq!(groups_of(&app, &a["id"]).await, Vec::<String>::new());
        assert_eq!(groups_of(&app, &c["id"]).await, sorted(&[&g["id"]]));
    }
}

// §2.5 (elimity's replay): Replace displayName + Add members + Remove members in one PATCH.
#[tokio::test]
async fn combined_group_update_in_one_patch() {
    let app = spawn_app().await;
    let entra = Idp::entra(&app);
    let a = entra_user(&entra, "a@contoso.com", "a", "a@contoso.com").await;
    let b = entra_user(&entra, "b@contoso.com", "b", "b@contoso.com").await;
    let g = app
        .create_group("Before", &[a["id"].as_str().unwrap()])
        .await;
    let path = format!("/Groups/{}", g["id"].as_str().unwrap());
    let r = entra
        .patch(
            &path,
            &patch(json!([
                {"op": "Replace", "path": "displayName", "value": "After"},
                {"op": "Add", "path": "members", "value": [{"$ref": null, "value": b["id"]}]},
                {"op": "Remove", "path": "members", "value": [{"$ref": null, "value": a["id"]}]}
            ])),
        )
        .await;
    expect(r, 204).await;
    let read = expect(entra.get(&path).await, 200).await;
    assert_eq!(read["displayName"], "After");
    assert_eq!(values_of(&read, "members"), sorted(&[&b["id"]]));
}

// §2.9 and §6 rule 8: the inbound reader's queries — mixed-case parameter names,
// `startindex=0` (→ 1), mixed-case attribute names, parentheses, 7-digit fractions.
#[tokio::test]
async fn inbound_reader_mixed_case_params_and_watermark_filter() {
    for mode in BOTH {
        let app = spawn_app().await;
        set_mode(&app, mode).await;
        let entra = Idp::entra(&app);
        for i in 0..7 {
            entra_user(
                &entra,
                &format!("reader{i}@contoso.com"),
                &format!("r{i}"),
                &format!("reader{i}@contoso.com"),
            )
            .await;
        }
        let page = expect(entra.get("/Users?startindex=0&Count=5").await, 200).await;
        assert_list(&page);
        assert_eq!(page["startIndex"], 1, "{mode:?}");
        assert_eq!(page["itemsPerPage"], 5, "Count honoured");
        assert_eq!(page["totalResults"], 7);

        let filter = "(ActiVe eq true) and meta.lastmodified ge \"0001-01-03T00:00:00.0000000Z\"";
        let list = entra
            .filter("/Users", filter, "&count=100&startindex=0")
            .await;
        assert_eq!(list["totalResults"], 7, "{mode:?}: {list}");
        let list = entra
            .filter(
                "/Users",
                "active eq true and (meta.lastModified ge \"0001-01-03T00:00:00.0000000Z\" and meta.lastModified le \"9999-01-03T00:00:00.0000000Z\")",
                "&count=5&startIndex=1",
            )
            .await;
        assert_eq!(list["totalResults"], 7);
        assert_eq!(list["itemsPerPage"], 5);
    }
}

/// A group with one member for the validator PATCH shapes.
async fn validator_group(app: &TestApp) -> (Value, Value) {
    let u = app.create_user("validator-member").await;
    let g = app.create_group("Validator Group", &[]).await;
    (u, g)
}

// §2.3 (Microsoft's validator, replayed in scim2-server): a top-level `"id"` in the PatchOp
// body, `"name": "addMember"` inside an operation, and a member given as a bare string id.
// Compatible mode applies it; strict mode rejects the bare string (400 invalidValue).
#[tokio::test]
async fn validator_patch_extra_keys_and_bare_string_member() {
    for mode in BOTH {
        let app = spawn_app().await;
        set_mode(&app, mode).await;
        let entra = Idp::entra(&app);
        let (u, g) = validator_group(&app).await;
        let path = format!("/Groups/{}", g["id"].as_str().unwrap());
        let body = json!({
            "schemas": [PATCH_OP],
            "id": g["id"],
            "Operations": [{"name": "addMember", "op": "add", "path": "members", "value": u["id"]}]
        });
        let r = entra.patch(&path, &body).await;
        match mode {
            Mode::Compatible => {
                expect(r, 204).await;
                assert_eq!(members_of(&app, &g["id"]).await, sorted(&[&u["id"]]));
            }
            Mode::Strict => {
                let err = expect(r, 400).await;
                assert_eq!(err["scimType"], "invalidValue", "{err}");
                assert_eq!(members_of(&app, &g["id"]).await, Vec::<String>::new());
            }
        }
        // The RFC form with the same extra keys works in both modes.
        let body = json!({
            "schemas": [PATCH_OP],
            "id": g["id"],
            "Operations": [{"name": "addMember", "op": "add", "path": "members", "value": [{"value": u["id"]}]}]
        });
        expect(entra.patch(&path, &body).await, 204).await;
        assert_eq!(
            members_of(&app, &g["id"]).await,
            sorted(&[&u["id"]]),
            "{mode:?}"
        );
    }
}
