//! `scimd-bench limit`: the hardware limit of issue 7 — a bare axum handler that answers
//! W2 (`GET /Users/{id}`) with a pre-serialized stored user of the same shape and size as
//! scimd's, and W3 (`GET /Users?filter=userName eq "…"`) with a pre-serialized ListResponse
//! found in an in-memory `HashMap`. No auth, no storage, no serialization per request: what
//! remains is HTTP on loopback, which is what scimd's W2/W3 figures are divided by.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use serde_json::{Value, json};

use crate::BenchResult;
use crate::data::{Manifest, USER_SCHEMA, seeded_user_name, user_body};

const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// Pre-serialized answers.
pub struct Tables {
    by_id: HashMap<String, Bytes>,
    by_name: HashMap<String, Bytes>,
}

/// The JSON scimd returns for seeded user `i` with id `id`: the stored body plus `id`,
/// `meta` and `schemas`, in the same order.
pub fn rendered_user(i: u64, id: &str) -> Value {
    let mut doc = user_body(&seeded_user_name(i), i);
    if let Some(map) = doc.as_object_mut() {
        map.remove("schemas");
        let mut out = serde_json::Map::new();
        out.insert("schemas".into(), json!([USER_SCHEMA]));
        out.insert("id".into(), json!(id));
        out.extend(std::mem::take(map));
        out.insert(
            "meta".into(),
            json!({
                "resourceType": "User",
                "created": "2026-11-23T08:00:00.000Z",
                "lastModified": "2026-11-23T08:00:00.000Z",
                "location": format!("http://127.0.0.1:8080/scim/v2/Users/{id}"),
                "version": "W/\"1\""
            }),
        );
        return Value::Object(out);
    }
    doc
}

impl Tables {
    /// Builds both maps for the seeded users.
    pub fn build(manifest: &Manifest) -> BenchResult<Self> {
        let ids = manifest.ids()?;
        let mut by_id = HashMap::with_capacity(ids.len());
        let mut by_name = HashMap::with_capacity(ids.len());
        for (i, id) in (0u64..).zip(ids) {
            let user = rendered_user(i, &id);
            let list = json!({
                "schemas": [LIST_RESPONSE],
                "totalResults": 1,
                "startIndex": 1,
                "itemsPerPage": 1,
                "Resources": [&user]
            });
            by_name.insert(seeded_user_name(i), Bytes::from(list.to_string()));
            by_id.insert(id, Bytes::from(user.to_string()));
        }
        Ok(Self { by_id, by_name })
    }
}

fn scim(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/scim+json")], body).into_response()
}

async fn get_user(State(t): State<Arc<Tables>>, Path(id): Path<String>) -> Response {
    match t.by_id.get(&id) {
        Some(b) => scim(b.clone()),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The value of `userName eq "VALUE"`, lower-cased (userName is case-insensitive).
pub fn eq_value(filter: &str) -> Option<String> {
    let (attr, rest) = filter.trim().split_once(char::is_whitespace)?;
    let (op, value) = rest.trim_start().split_once(char::is_whitespace)?;
    if !attr.eq_ignore_ascii_case("userName") || !op.eq_ignore_ascii_case("eq") {
        return None;
    }
    let value = value.trim().strip_prefix('"')?.strip_suffix('"')?;
    Some(value.to_lowercase())
}

async fn list_users(
    State(t): State<Arc<Tables>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let hit = q
        .get("filter")
        .and_then(|f| eq_value(f))
        .and_then(|name| t.by_name.get(&name));
    match hit {
        Some(b) => scim(b.clone()),
        None => StatusCode::BAD_REQUEST.into_response(),
    }
}

/// Serves the limit on `listener` until the process is stopped.
pub async fn serve(listener: tokio::net::TcpListener, tables: Tables) -> BenchResult<()> {
    let app = Router::new()
        .route("/scim/v2/Users/{id}", get(get_user))
        .route("/scim/v2/Users", get(list_users))
        .with_state(Arc::new(tables));
    axum::serve(listener, app).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn parses_username_eq() {
        assert_eq!(eq_value("userName eq \"A@b.c\""), Some("a@b.c".into()));
        assert_eq!(eq_value("USERNAME EQ \"x\""), Some("x".into()));
        assert_eq!(eq_value("displayName eq \"x\""), None);
        assert_eq!(eq_value("userName eq x"), None);
        assert_eq!(eq_value(""), None);
    }

    #[test]
    fn rendered_user_leads_with_schemas_and_id() {
        let u = rendered_user(5, "abc");
        let keys: Vec<&String> = u.as_object().unwrap().keys().collect();
        assert_eq!(keys[0], "schemas");
        assert_eq!(keys[1], "id");
        assert_eq!(u["userName"], "user5@bench.example");
        assert_eq!(u["meta"]["resourceType"], "User");
    }
}
