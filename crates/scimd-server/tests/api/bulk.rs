//! `/Bulk` (RFC 7644 §3.7): bulkId references (path, members, manager), dependency order,
//! cycles and unknown references, `failOnErrors`, `version` as If-Match, the advertised and
//! enforced limits, tenant isolation, and a 200-user load.

use reqwest::Method;
use scimd_server::cli::{Command, TenantsCommand, TokensCommand, run_admin};
use serde_json::{Value, json};

use crate::helpers::*;

const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn bulk_request(ops: Value) -> Value {
    json!({"schemas": [BULK_REQUEST], "Operations": ops})
}

fn user(user_name: &str) -> Value {
    json!({"schemas": [USER_SCHEMA], "userName": user_name})
}

/// Sends a Bulk request, asserts 200 and the BulkResponse shape, returns the operations.
async fn bulk(app: &TestApp, body: &Value) -> Vec<Value> {
    let r = app.post("/Bulk", body).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], SCIM);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["schemas"], json!([BULK_RESPONSE]), "{body}");
    body["Operations"].as_array().unwrap().clone()
}

fn id_of(op: &Value) -> String {
    op["location"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned()
}

fn assert_op_error(op: &Value, status: u16, scim_type: Option<&str>) {
    assert_eq!(op["status"], status.to_string(), "{op}");
    let response = &op["response"];
    assert_eq!(response["schemas"], json!([ERROR_SCHEMA]), "{op}");
    assert_eq!(response["status"], status.to_string(), "{op}");
    match scim_type {
        Some(t) => assert_eq!(response["scimType"], t, "{op}"),
        None => assert!(response.get("scimType").is_none(), "{op}"),
    }
    assert!(op.get("version").is_none(), "{op}");
}

#[tokio::test]
async fn rfc_example_user_and_group_referencing_it_by_bulk_id() {
    let app = spawn_app().await;
    let ops = bulk(
        &app,
        &bulk_request(json!([
            {"method": "POST", "path": "/Users", "bulkId": "qwerty",
             "data": {"schemas": [USER_SCHEMA], "userName": "Alice"}},
            {"method": "POST", "path": "/Groups", "bulkId": "ytrewq",
             "data": {"schemas": [GROUP_SCHEMA], "displayName": "Tour Guides",
                      "members": [{"type": "User", "value": "bulkId:qwerty"}]}}
        ])),
    )
    .await;
    assert_eq!(ops.len(), 2);
    let (u, g) = (&ops[0], &ops[1]);
    assert_eq!(u["method"], "POST");
    assert_eq!(u["bulkId"], "qwerty");
    assert_eq!(u["status"], "201");
    assert_eq!(u["version"], "W/\"1\"");
    assert!(u.get("response").is_none());
    let uid = id_of(u);
    assert_eq!(u["location"], format!("{}/Users/{uid}", app.scim));
    assert_eq!(g["bulkId"], "ytrewq");
    assert_eq!(g["status"], "201");
    let gid = id_of(g);
    assert_eq!(g["location"], format!("{}/Groups/{gid}", app.scim));

    // The same resources a single GET sees, with the reference resolved to the real id.
    let group: Value = app
        .get(&format!("/Groups/{gid}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(group["displayName"], "Tour Guides");
    assert_eq!(group["members"][0]["value"], uid);
    assert_eq!(group["members"].as_array().unwrap().len(), 1);
    let r = app.get(&format!("/Users/{uid}")).await;
    assert_eq!(r.headers()["etag"].to_str().unwrap(), u["version"]);
    let alice: Value = r.json().await.unwrap();
    assert_eq!(alice["userName"], "Alice");
    assert_eq!(alice["groups"][0]["value"], gid);
}

#[tokio::test]
async fn put_patch_delete_by_id_like_single_requests() {
    let app = spawn_app().await;
    let a = app.create_user("bulk-a").await;
    let b = app.create_user("bulk-b").await;
    let c = app.create_user("bulk-c").await;
    let g = app.create_group("Bulk Team", &[]).await;
    let (aid, bid, cid, gid) = (
        a["id"].as_str().unwrap(),
        b["id"].as_str().unwrap(),
        c["id"].as_str().unwrap(),
        g["id"].as_str().unwrap(),
    );
    let ops = bulk(
        &app,
        &bulk_request(json!([
            {"method": "PUT", "path": format!("/Users/{aid}"), "version": a["meta"]["version"],
             "data": {"schemas": [USER_SCHEMA], "userName": "bulk-a", "displayName": "Replaced"}},
            {"method": "PATCH", "path": format!("/Users/{bid}"),
             "data": patch_op(json!([{"op": "replace", "path": "active", "value": false}]))},
            {"method": "PATCH", "path": format!("/Groups/{gid}"),
             "data": patch_op(json!([{"op": "add", "path": "members", "value": [{"value": aid}]}]))},
            {"method": "DELETE", "path": format!("/Users/{cid}"), "version": c["meta"]["version"]}
        ])),
    )
    .await;
    assert_eq!(ops.len(), 4);
    assert_eq!(ops[0]["method"], "PUT");
    assert_eq!(ops[0]["status"], "200");
    assert_eq!(ops[0]["version"], "W/\"2\"");
    assert_eq!(ops[0]["location"], format!("{}/Users/{aid}", app.scim));
    assert!(ops[0].get("bulkId").is_none());
    // PATCH answers what the single request would: 200 for Users, 204 for Groups.
    assert_eq!(ops[1]["status"], "200");
    assert_eq!(ops[1]["version"], "W/\"2\"");
    assert_eq!(ops[2]["status"], "204");
    assert_eq!(ops[2]["version"], "W/\"2\"");
    assert_eq!(ops[3]["method"], "DELETE");
    assert_eq!(ops[3]["status"], "204");
    assert_eq!(ops[3]["location"], format!("{}/Users/{cid}", app.scim));
    assert!(ops[3].get("version").is_none());

    let a: Value = app
        .get(&format!("/Users/{aid}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(a["displayName"], "Replaced");
    assert!(a.get("emails").is_none(), "PUT replaced the whole resource");
    let b: Value = app
        .get(&format!("/Users/{bid}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(b["active"], false);
    let g: Value = app
        .get(&format!("/Groups/{gid}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(g["members"][0]["value"], aid);
    assert_eq!(app.get(&format!("/Users/{cid}")).await.status(), 404);
}

#[tokio::test]
async fn forward_references_are_processed_after_their_post() {
    let app = spawn_app().await;
    let ops = bulk(
        &app,
        &bulk_request(json!([
            // Refers to a group and a user whose POSTs come later.
            {"method": "PATCH", "path": "/Groups/bulkId:team",
             "data": patch_op(json!([{"op": "add", "path": "members", "value": [{"value": "bulkId:boss"}]}]))},
            {"method": "POST", "path": "/Users", "bulkId": "worker",
             "data": {"schemas": [USER_SCHEMA, ENTERPRISE], "userName": "worker",
                      ENTERPRISE: {"manager": {"value": "bulkId:boss"}}}},
            {"method": "POST", "path": "/Groups", "bulkId": "team",
             "data": {"schemas": [GROUP_SCHEMA], "displayName": "Team",
                      "members": [{"value": "bulkId:worker"}]}},
            {"method": "POST", "path": "/Users", "bulkId": "boss", "data": user("boss")}
        ])),
    )
    .await;
    assert_eq!(ops.len(), 4, "listed in request order");
    for op in &ops {
        assert!(op.get("response").is_none(), "{op}");
    }
    assert_eq!(ops[0]["method"], "PATCH");
    assert_eq!(ops[0]["status"], "204");
    assert_eq!(ops[1]["bulkId"], "worker");
    assert_eq!(ops[2]["bulkId"], "team");
    assert_eq!(ops[3]["bulkId"], "boss");
    let (worker, team, boss) = (id_of(&ops[1]), id_of(&ops[2]), id_of(&ops[3]));
    assert_eq!(ops[0]["location"], format!("{}/Groups/{team}", app.scim));
    // The group was created with worker, then the PATCH added boss: version 2.
    assert_eq!(ops[0]["version"], "W/\"2\"");

    let w: Value = app
        .get(&format!("/Users/{worker}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(w[ENTERPRISE]["manager"]["value"], boss);
    let g: Value = app
        .get(&format!("/Groups/{team}"))
        .await
        .json()
        .await
        .unwrap();
    let mut members: Vec<&str> = g["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    members.sort_unstable();
    let mut expected = vec![worker.as_str(), boss.as_str()];
    expected.sort_unstable();
    assert_eq!(members, expected);
}

#[tokio::test]
async fn unknown_failed_and_circular_references_are_409_invalid_value() {
    let app = spawn_app().await;
    let ops = bulk(
        &app,
        &bulk_request(json!([
            {"method": "POST", "path": "/Groups", "bulkId": "g1",
             "data": {"schemas": [GROUP_SCHEMA], "displayName": "G1", "members": [{"value": "bulkId:nobody"}]}},
            {"method": "DELETE", "path": "/Users/bulkId:nobody"},
            {"method": "POST", "path": "/Groups", "bulkId": "a",
             "data": {"schemas": [GROUP_SCHEMA], "displayName": "A", "members": [{"value": "bulkId:b"}]}},
            {"method": "POST", "path": "/Groups", "bulkId": "b",
             "data": {"schemas": [GROUP_SCHEMA], "displayName": "B", "members": [{"value": "bulkId:a"}]}},
            {"method": "POST", "path": "/Users", "bulkId": "bad", "data": {"schemas": [USER_SCHEMA]}},
            {"method": "POST", "path": "/Groups", "bulkId": "g2",
             "data": {"schemas": [GROUP_SCHEMA], "displayName": "G2", "members": [{"value": "bulkId:bad"}]}},
            {"method": "POST", "path": "/Users", "bulkId": "ok", "data": user("still-created")}
        ])),
    )
    .await;
    assert_eq!(ops.len(), 7);
    assert_op_error(&ops[0], 409, Some("invalidValue"));
    assert!(
        ops[0].get("location").is_none(),
        "a failed POST has no location"
    );
    assert_eq!(ops[0]["bulkId"], "g1");
    assert!(
        ops[0]["response"]["detail"]
            .as_str()
            .unwrap()
            .contains("nobody")
    );
    assert_op_error(&ops[1], 409, Some("invalidValue"));
    assert_op_error(&ops[2], 409, Some("invalidValue"));
    assert_op_error(&ops[3], 409, Some("invalidValue"));
    // A POST that fails validation is the single request's 400; what refers to it is 409.
    assert_op_error(&ops[4], 400, Some("invalidValue"));
    assert_op_error(&ops[5], 409, Some("invalidValue"));
    assert_eq!(ops[6]["status"], "201");

    let groups: Value = app.get("/Groups").await.json().await.unwrap();
    assert_eq!(groups["totalResults"], 0, "no group was created");
    let users: Value = app.get("/Users").await.json().await.unwrap();
    assert_eq!(users["totalResults"], 1);
}

#[tokio::test]
async fn fail_on_errors_stops_processing() {
    let app = spawn_app().await;
    let taken = app.create_user("taken").await;
    let ops = bulk(
        &app,
        &json!({"schemas": [BULK_REQUEST], "failOnErrors": 1, "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "one", "data": user("first")},
            {"method": "POST", "path": "/Users", "bulkId": "dup", "data": user("TAKEN")},
            {"method": "POST", "path": "/Users", "bulkId": "never", "data": user("never")},
            {"method": "DELETE", "path": format!("/Users/{}", taken["id"].as_str().unwrap())}
        ]}),
    )
    .await;
    assert_eq!(
        ops.len(),
        2,
        "operations after the first error are not listed"
    );
    assert_eq!(ops[0]["status"], "201");
    assert_op_error(&ops[1], 409, Some("uniqueness"));
    let r = app.get("/Users?filter=userName%20eq%20%22never%22").await;
    let list: Value = r.json().await.unwrap();
    assert_eq!(list["totalResults"], 0, "not performed");
    let r = app
        .get(&format!("/Users/{}", taken["id"].as_str().unwrap()))
        .await;
    assert_eq!(r.status(), 200, "the DELETE was not performed");

    // failOnErrors 2 tolerates one error and stops at the second.
    let ops = bulk(
        &app,
        &json!({"schemas": [BULK_REQUEST], "failOnErrors": 2, "Operations": [
            {"method": "DELETE", "path": "/Users/missing-1"},
            {"method": "POST", "path": "/Users", "bulkId": "x", "data": user("second")},
            {"method": "DELETE", "path": "/Users/missing-2"},
            {"method": "POST", "path": "/Users", "bulkId": "y", "data": user("third")}
        ]}),
    )
    .await;
    assert_eq!(ops.len(), 3);
    assert_op_error(&ops[0], 404, None);
    assert_eq!(ops[1]["status"], "201");
    assert_op_error(&ops[2], 404, None);
}

/// Consecutive independent POSTs may be submitted to the store together (SQLite); the
/// outcome must still be that of running them one by one, in request order.
#[tokio::test]
async fn consecutive_posts_keep_request_order_and_fail_on_errors() {
    let app = spawn_app().await;
    let mut posts: Vec<Value> = (0..40)
        .map(|i| json!({"method": "POST", "path": "/Users", "bulkId": format!("b{i}"), "data": user(&format!("wave{i}"))}))
        .collect();
    // The same userName twice (the first one wins, as one by one), then again in other case.
    posts.insert(
        10,
        json!({"method": "POST", "path": "/Users", "bulkId": "dup1", "data": user("WAVE3")}),
    );
    posts.insert(
        20,
        json!({"method": "POST", "path": "/Users", "bulkId": "dup2", "data": user("wave30")}),
    );
    let ops = bulk(&app, &bulk_request(Value::Array(posts))).await;
    assert_eq!(ops.len(), 42);
    for (i, op) in ops.iter().enumerate() {
        match i {
            10 => assert_op_error(op, 409, Some("uniqueness")),
            // "wave30" is POSTed at index 20, before its own POST (index 32): the earlier
            // one wins.
            20 => assert_eq!(op["status"], "201", "{op}"),
            32 => assert_op_error(op, 409, Some("uniqueness")),
            _ => assert_eq!(op["status"], "201", "{i}: {op}"),
        }
    }
    let r = app
        .get("/Users?filter=userName%20sw%20%22wave%22&count=0")
        .await;
    let list: Value = r.json().await.unwrap();
    assert_eq!(list["totalResults"], 40);

    // failOnErrors 2 over a run of POSTs: processing stops exactly at the second error,
    // and nothing after it is created.
    let ops = bulk(
        &app,
        &json!({"schemas": [BULK_REQUEST], "failOnErrors": 2, "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "run-a", "data": user("run-a")},
            {"method": "POST", "path": "/Users", "bulkId": "wave1", "data": user("wave1")},
            {"method": "POST", "path": "/Users", "bulkId": "run-b", "data": user("run-b")},
            {"method": "POST", "path": "/Users", "bulkId": "wave2", "data": user("wave2")},
            {"method": "POST", "path": "/Users", "bulkId": "run-c", "data": user("run-c")},
            {"method": "POST", "path": "/Users", "bulkId": "run-d", "data": user("run-d")}
        ]}),
    )
    .await;
    assert_eq!(ops.len(), 4, "{ops:?}");
    assert_op_error(&ops[1], 409, Some("uniqueness"));
    assert_op_error(&ops[3], 409, Some("uniqueness"));
    for name in ["run-c", "run-d"] {
        let r = app
            .get(&format!("/Users?filter=userName%20eq%20%22{name}%22"))
            .await;
        let list: Value = r.json().await.unwrap();
        assert_eq!(list["totalResults"], 0, "{name} was not performed");
    }
}

#[tokio::test]
async fn version_mismatch_is_412_in_that_operation() {
    let app = spawn_app().await;
    let u = app.create_user("versioned").await;
    let id = u["id"].as_str().unwrap();
    let path = format!("/Users/{id}");
    let ops = bulk(
        &app,
        &bulk_request(json!([
            {"method": "PATCH", "path": path, "version": "W/\"7\"",
             "data": patch_op(json!([{"op": "replace", "path": "displayName", "value": "nope"}]))},
            {"method": "PUT", "path": path, "version": "W/\"7\"", "data": user("versioned")},
            {"method": "DELETE", "path": path, "version": "W/\"7\""},
            {"method": "PATCH", "path": path, "version": "W/\"1\"",
             "data": patch_op(json!([{"op": "replace", "path": "displayName", "value": "yes"}]))}
        ])),
    )
    .await;
    for op in &ops[..3] {
        assert_op_error(op, 412, None);
        assert_eq!(op["location"], format!("{}{path}", app.scim));
    }
    assert_eq!(ops[3]["status"], "200");
    assert_eq!(ops[3]["version"], "W/\"2\"");
    let now: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(now["displayName"], "yes");
}

#[tokio::test]
async fn mixed_successes_and_failures() {
    let app = spawn_app().await;
    let ops = bulk(
        &app,
        &bulk_request(json!([
            {"method": "POST", "path": "/Users", "bulkId": "a", "data": user("mixed")},
            {"method": "POST", "path": "/Users", "bulkId": "b", "data": user("MIXED")},
            {"method": "PUT", "path": "/Users/does-not-exist", "data": user("ghost")},
            {"method": "POST", "path": "/Users/bulkId:a", "bulkId": "c", "data": user("c")},
            {"method": "DELETE", "path": "/Users"},
            {"method": "POST", "path": "/Schemas", "bulkId": "d", "data": {}},
            {"method": "PATCH", "path": "/Users/bulkId:a",
             "data": {"schemas": [PATCH_OP], "Operations": [{"op": "frobnicate"}]}},
            {"method": "POST", "path": "/Users", "bulkId": "a", "data": user("again")},
            {"method": "DELETE", "path": "/Users/bulkId:a"}
        ])),
    )
    .await;
    assert_eq!(ops.len(), 9);
    assert_eq!(ops[0]["status"], "201");
    assert_op_error(&ops[1], 409, Some("uniqueness"));
    assert_op_error(&ops[2], 404, None);
    assert_op_error(&ops[3], 405, None);
    assert_op_error(&ops[4], 405, None);
    assert_op_error(&ops[5], 404, None);
    assert_op_error(&ops[6], 400, Some("invalidSyntax"));
    // A bulkId may be declared once per request.
    assert_op_error(&ops[7], 400, Some("invalidValue"));
    assert_eq!(ops[8]["status"], "204");
    assert_eq!(ops[8]["location"], ops[0]["location"]);
    let users: Value = app.get("/Users").await.json().await.unwrap();
    assert_eq!(users["totalResults"], 0);
}

#[tokio::test]
async fn request_level_errors() {
    let app = spawn_app().await;
    let r = app.post("/Bulk", &json!({"schemas": [BULK_REQUEST]})).await;
    assert_scim_error(r, 400, Some("invalidSyntax")).await;
    let r = app
        .post(
            "/Bulk",
            &bulk_request(
                json!([{"method": "POST", "path": "/Users", "data": user("no-bulk-id")}]),
            ),
        )
        .await;
    assert_scim_error(r, 400, Some("invalidSyntax")).await;
    let r = app
        .req(Method::POST, "/Bulk")
        .header("content-type", SCIM)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_scim_error(r, 400, Some("invalidSyntax")).await;
    let r = app
        .req(Method::POST, "/Bulk")
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    let r = app.get("/Bulk").await;
    assert_scim_error(r, 405, None).await;
    let r = app
        .client
        .post(format!("{}/Bulk", app.scim))
        .header("content-type", SCIM)
        .body(bulk_request(json!([])).to_string())
        .send()
        .await
        .unwrap();
    assert_scim_error(r, 401, None).await;
    // An empty request is valid and answers an empty BulkResponse.
    assert!(bulk(&app, &bulk_request(json!([]))).await.is_empty());
}

#[tokio::test]
async fn limits_are_advertised_and_enforced() {
    let app = spawn_app_with(|c| {
        c.bulk_max_operations = 3;
        c.bulk_max_payload_bytes = 4096;
        // Single requests have a much smaller limit; Bulk uses its own.
        c.max_body_bytes = 512;
    })
    .await;
    let spc: Value = app
        .get("/ServiceProviderConfig")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        spc["bulk"],
        json!({"supported": true, "maxOperations": 3, "maxPayloadSize": 4096})
    );

    let four: Vec<Value> = (0..4)
        .map(|i| json!({"method": "POST", "path": "/Users", "bulkId": format!("u{i}"), "data": user(&format!("limit-{i}"))}))
        .collect();
    let r = app.post("/Bulk", &bulk_request(json!(four))).await;
    let body = assert_scim_error(r, 413, None).await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("maxOperations (3)"),
        "{body}"
    );

    let big = json!({"method": "POST", "path": "/Users", "bulkId": "big",
                     "data": {"schemas": [USER_SCHEMA], "userName": "big", "displayName": "x".repeat(5000)}});
    let r = app.post("/Bulk", &bulk_request(json!([big]))).await;
    let body = assert_scim_error(r, 413, None).await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("maxPayloadSize (4096)"),
        "{body}"
    );

    // Three operations in a body above max_body_bytes but within maxPayloadSize.
    let three: Vec<Value> = (0..3)
        .map(|i| {
            json!({"method": "POST", "path": "/Users", "bulkId": format!("u{i}"),
                   "data": {"schemas": [USER_SCHEMA], "userName": format!("limit-{i}"),
                            "displayName": "y".repeat(300)}})
        })
        .collect();
    let body = bulk_request(json!(three));
    assert!(body.to_string().len() > 512);
    let ops = bulk(&app, &body).await;
    assert_eq!(ops.len(), 3);
    assert!(ops.iter().all(|op| op["status"] == "201"));
    let users: Value = app.get("/Users").await.json().await.unwrap();
    assert_eq!(users["totalResults"], 3);
}

#[tokio::test]
async fn bulk_disabled_by_configuration() {
    let app = spawn_app_with(|c| c.bulk_max_operations = 0).await;
    let spc: Value = app
        .get("/ServiceProviderConfig")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(spc["bulk"]["supported"], false);
    let r = app.post("/Bulk", &bulk_request(json!([]))).await;
    assert_scim_error(r, 501, None).await;
}

#[tokio::test]
async fn operations_stay_in_the_callers_tenant() {
    let app = spawn_app().await;
    let mine = app.create_user("home-user").await;
    let mine_id = mine["id"].as_str().unwrap();
    let admin = |c: Command| {
        let store = app.store.clone();
        async move {
            let mut out = Vec::new();
            run_admin(&store, &c, &mut out).await.unwrap();
            String::from_utf8(out).unwrap()
        }
    };
    admin(Command::Tenants(TenantsCommand::Create {
        name: "acme".into(),
    }))
    .await;
    let token = admin(Command::Tokens(TokensCommand::Create {
        tenant: "acme".into(),
        label: String::new(),
    }))
    .await
    .trim()
    .to_owned();
    let base = format!("{}/tenants/acme/scim/v2", app.address);
    let body = bulk_request(json!([
        {"method": "DELETE", "path": format!("/Users/{mine_id}")},
        {"method": "PATCH", "path": format!("/Users/{mine_id}"),
         "data": patch_op(json!([{"op": "replace", "path": "active", "value": false}]))},
        {"method": "POST", "path": "/Users", "bulkId": "n", "data": user("home-user")},
        {"method": "POST", "path": "/Groups", "bulkId": "g",
         "data": {"schemas": [GROUP_SCHEMA], "displayName": "Acme", "members": [{"value": mine_id}]}}
    ]));
    let r = app
        .client
        .post(format!("{base}/Bulk"))
        .bearer_auth(&token)
        .header("content-type", SCIM)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let resp: Value = r.json().await.unwrap();
    let ops = resp["Operations"].as_array().unwrap();
    assert_op_error(&ops[0], 404, None);
    assert_op_error(&ops[1], 404, None);
    // The same userName is free in another tenant; locations carry the tenant prefix.
    assert_eq!(ops[2]["status"], "201");
    assert!(
        ops[2]["location"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{base}/Users/"))
    );
    // Another tenant's user is not a valid member.
    assert_op_error(&ops[3], 400, Some("invalidValue"));

    let r = app.get(&format!("/Users/{mine_id}")).await;
    assert_eq!(r.status(), 200);
    let still: Value = r.json().await.unwrap();
    assert_eq!(still["active"], true);
    // The default tenant's token cannot use acme's Bulk endpoint.
    let r = app
        .client
        .post(format!("{base}/Bulk"))
        .bearer_auth(&app.token)
        .header("content-type", SCIM)
        .body(bulk_request(json!([])).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn load_two_hundred_users_and_a_group_of_them() {
    let app = spawn_app().await;
    let mut ops: Vec<Value> = (0..200)
        .map(|i| {
            json!({"method": "POST", "path": "/Users", "bulkId": format!("user-{i}"),
                   "data": {"schemas": [USER_SCHEMA], "userName": format!("load-{i:03}"),
                            "emails": [{"value": format!("load-{i}@example.com"), "type": "work"}]}})
        })
        .collect();
    let members: Vec<Value> = (0..200)
        .map(|i| json!({"value": format!("bulkId:user-{i}")}))
        .collect();
    // The group comes first and refers forward to all 200 users.
    ops.insert(
        0,
        json!({"method": "POST", "path": "/Groups", "bulkId": "everyone",
               "data": {"schemas": [GROUP_SCHEMA], "displayName": "Everyone", "members": members}}),
    );
    let result = bulk(&app, &bulk_request(json!(ops))).await;
    assert_eq!(result.len(), 201);
    assert!(result.iter().all(|op| op["status"] == "201"), "all created");
    assert_eq!(result[0]["bulkId"], "everyone");
    assert_eq!(result[200]["bulkId"], "user-199");
    let users: Value = app.get("/Users?count=1").await.json().await.unwrap();
    assert_eq!(users["totalResults"], 200);
    let gid = id_of(&result[0]);
    let group: Value = app
        .get(&format!("/Groups/{gid}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(group["members"].as_array().unwrap().len(), 200);
    let r = app
        .get("/Users?filter=userName%20eq%20%22load-150%22")
        .await;
    let found: Value = r.json().await.unwrap();
    assert_eq!(found["Resources"][0]["id"], id_of(&result[151]));
}
