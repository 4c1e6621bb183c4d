//! Listing and searching: filters, sorting, index and cursor pagination, root search.

use serde_json::{Value, json};

use crate::helpers::*;

async fn list_names(app: &TestApp, query: &str) -> (Value, Vec<String>) {
    let r = app.get(&format!("/Users?{query}")).await;
    assert_eq!(r.status(), 200, "{query}");
    assert_eq!(r.headers()["content-type"], SCIM);
    let body: Value = r.json().await.unwrap();
    let names = body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userName"].as_str().unwrap_or_default().to_owned())
        .collect();
    (body, names)
}

async fn five_users(app: &TestApp) {
    for n in ["u3", "u1", "u5", "u2", "u4"] {
        app.create_user(n).await;
    }
}

#[tokio::test]
async fn filter_matches_and_zero_matches_is_an_empty_list() {
    let app = spawn_app().await;
    five_users(&app).await;
    let (body, names) = list_names(&app, "filter=userName%20eq%20%22U2%22").await;
    assert_eq!(body["schemas"], json!([LIST_RESPONSE]));
    assert_eq!(body["totalResults"], 1);
    assert_eq!(names, ["u2"]);

    let (body, names) = list_names(&app, "filter=userName%20eq%20%22nobody%22").await;
    assert_eq!(body["totalResults"], 0);
    assert_eq!(body["itemsPerPage"], 0);
    assert_eq!(body["Resources"], json!([]));
    assert!(names.is_empty());
}

#[tokio::test]
async fn invalid_filter_is_400_invalid_filter() {
    let app = spawn_app().await;
    let r = app.get("/Users?filter=userName%20zz%20%22x%22").await;
    assert_scim_error(r, 400, Some("invalidFilter")).await;
    let r = app.get("/Users?filter=nosuchattr%20eq%20%22x%22").await;
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn index_pagination_is_stable_and_exact() {
    let app = spawn_app().await;
    five_users(&app).await;
    let (all, every) = list_names(&app, "").await;
    assert_eq!(all["totalResults"], 5);
    assert_eq!(all["startIndex"], 1);
    assert_eq!(every.len(), 5);

    let mut paged = Vec::new();
    for start in [1, 3, 5] {
        let (body, page) = list_names(&app, &format!("startIndex={start}&count=2")).await;
        assert_eq!(body["totalResults"], 5);
        assert_eq!(body["startIndex"], start);
        assert_eq!(body["itemsPerPage"], page.len());
        paged.extend(page);
    }
    assert_eq!(paged, every, "pages concatenate to the full list");
}

#[tokio::test]
async fn start_index_below_one_and_negative_count_are_clamped() {
    let app = spawn_app().await;
    five_users(&app).await;
    let (body, page) = list_names(&app, "startIndex=0&count=2").await;
    assert_eq!(body["startIndex"], 1);
    assert_eq!(page.len(), 2);
    let (body, page) = list_names(&app, "count=-3").await;
    assert_eq!(body["totalResults"], 5);
    assert_eq!(body["itemsPerPage"], 0);
    assert!(page.is_empty());
}

#[tokio::test]
async fn count_is_capped_at_max_page_size() {
    let app = spawn_app_with(|c| c.max_page_size = 3).await;
    five_users(&app).await;
    let (body, page) = list_names(&app, "count=100").await;
    assert_eq!(body["totalResults"], 5);
    assert_eq!(page.len(), 3);
    assert_eq!(body["itemsPerPage"], 3);
}

#[tokio::test]
async fn parameter_names_are_case_insensitive() {
    let app = spawn_app().await;
    five_users(&app).await;
    let (body, page) = list_names(
        &app,
        "FILTER=userName%20sw%20%22u%22&STARTINDEX=2&Count=2&sortby=userName&SortOrder=descending",
    )
    .await;
    assert_eq!(body["totalResults"], 5);
    assert_eq!(page, ["u4", "u3"]);
}

#[tokio::test]
async fn sort_by_user_name() {
    let app = spawn_app().await;
    five_users(&app).await;
    let (_, page) = list_names(&app, "sortBy=userName").await;
    assert_eq!(page, ["u1", "u2", "u3", "u4", "u5"]);
    let (_, page) = list_names(&app, "sortBy=userName&sortOrder=descending").await;
    assert_eq!(page, ["u5", "u4", "u3", "u2", "u1"]);
    let r = app.get("/Users?sortBy=userName&sortOrder=sideways").await;
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn cursor_pagination_walks_forward_and_back() {
    let app = spawn_app().await;
    five_users(&app).await;
    let (_, every) = list_names(&app, "").await;
    let (first, mut seen) = list_names(&app, "cursor=&count=2").await;
    assert_eq!(first["totalResults"], 5);
    assert!(first.get("startIndex").is_none());
    assert!(first.get("previousCursor").is_none());
    let mut next = first["nextCursor"].as_str().map(str::to_owned);
    let mut last_page = first.clone();
    while let Some(c) = next {
        let (body, page) = list_names(&app, &format!("cursor={c}&count=2")).await;
        seen.extend(page);
        next = body["nextCursor"].as_str().map(str::to_owned);
        last_page = body;
    }
    assert_eq!(seen, every);
    let prev = last_page["previousCursor"]
        .as_str()
        .expect("previousCursor");
    let (_, page) = list_names(&app, &format!("cursor={prev}&count=2")).await;
    assert_eq!(page, every[2..4].to_vec());

    let r = app.get("/Users?cursor=garbage&count=2").await;
    assert_scim_error(r, 400, Some("invalidCursor")).await;
}

#[tokio::test]
async fn post_search_per_type() {
    let app = spawn_app().await;
    five_users(&app).await;
    let r = app
        .post(
            "/Users/.search",
            &json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                "filter": "userName eq \"u3\"",
                "attributes": ["userName"],
                "startIndex": 1,
                "count": 10
            }),
        )
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["totalResults"], 1);
    assert_eq!(body["Resources"][0]["userName"], "u3");
    assert!(body["Resources"][0].get("emails").is_none());

    app.create_group("g1", &[]).await;
    let r = app
        .post(
            "/Groups/.search",
            &json!({"filter": "displayName eq \"g1\""}),
        )
        .await;
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["totalResults"], 1);
    assert_eq!(body["Resources"][0]["displayName"], "g1");
}

#[tokio::test]
async fn root_search_spans_users_then_groups() {
    let app = spawn_app().await;
    app.create_user("ua").await;
    app.create_user("ub").await;
    app.create_group("ga", &[]).await;
    let r = app.post("/.search", &json!({})).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["totalResults"], 3);
    let types: Vec<&str> = body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["meta"]["resourceType"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["User", "User", "Group"]);

    let r = app
        .post("/.search", &json!({"startIndex": 2, "count": 2}))
        .await;
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["totalResults"], 3);
    assert_eq!(body["itemsPerPage"], 2);
    assert_eq!(body["Resources"][0]["userName"], "ub");
    assert_eq!(body["Resources"][1]["displayName"], "ga");

    // A filter on a User-only attribute matches no Groups.
    let r = app
        .post("/.search", &json!({"filter": "userName eq \"ua\""}))
        .await;
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["totalResults"], 1);
}

#[tokio::test]
async fn groups_list_filters_by_display_name() {
    let app = spawn_app().await;
    app.create_group("Alpha", &[]).await;
    app.create_group("Beta", &[]).await;
    let r = app
        .get("/Groups?filter=displayName%20eq%20%22alpha%22")
        .await;
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["totalResults"], 1);
    assert_eq!(body["Resources"][0]["displayName"], "Alpha");
}
