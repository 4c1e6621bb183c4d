//! Identity-provider replay suites: the request sequences and bodies that Okta, Microsoft
//! Entra ID, OneLogin, Google Workspace and JumpCloud send, replayed over HTTP against a
//! running scimd, with the outcome asserted the way each IdP expects it.
//!
//! The bodies are quoted from the IdP behaviour catalogue (/work/shared/idp-quirks.md; each
//! test cites its section). Every normalisation rule of catalogue §6 is exercised in
//! `compatible` mode (the default) and, where the rule behaves differently, in `strict` mode
//! (per-tenant setting `mode`). docs/COMPATIBILITY.md maps each quirk to the tests here.
//!
//! This file holds the shared client (an IdP's headers on every request) and assertions on
//! SCIM list responses and membership that the IdP modules use.

use reqwest::{Method, Response};
use scimd_core::Mode;
use scimd_core::schema::ResourceKind;
use scimd_server::config::TenantSettings;
use scimd_store::{Load, Store, StoredResource};
use serde_json::Value;

use crate::helpers::{LIST_RESPONSE, SCIM, TestApp};

mod entra;
mod google;
mod jumpcloud;
mod okta;
mod onelogin;
mod strict;

/// The enterprise User extension URN (RFC 7643 §4.3).
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// `Content-Type` of Okta's requests (idp-quirks §1.1).
pub const SCIM_UTF8: &str = "application/scim+json; charset=utf-8";
/// `Content-Type` of clients that send plain JSON (RFC 7644 §3.1 allows it).
pub const JSON: &str = "application/json";

/// One identity provider's HTTP client: its `User-Agent` and `Content-Type` on every request,
/// the tenant's bearer token, the SCIM base URL of the app under test.
pub struct Idp<'a> {
    pub app: &'a TestApp,
    user_agent: Option<&'static str>,
    content_type: &'static str,
}

impl<'a> Idp<'a> {
    /// Okta: `User-Agent: Okta SCIM Client 1.0.0` and `application/scim+json; charset=utf-8`
    /// (idp-quirks §1.1).
    pub fn okta(app: &'a TestApp) -> Self {
        Self {
            app,
            user_agent: Some("Okta SCIM Client 1.0.0"),
            content_type: SCIM_UTF8,
        }
    }

    /// Entra ID: `application/scim+json` (idp-quirks §2.1); the catalogue records no
    /// User-Agent, so none is sent beyond the HTTP client's default.
    pub fn entra(app: &'a TestApp) -> Self {
        Self {
            app,
            user_agent: None,
            content_type: SCIM,
        }
    }

    /// OneLogin with the custom headers vendors ask admins to configure (idp-quirks §3).
    pub fn onelogin(app: &'a TestApp) -> Self {
        Self {
            app,
            user_agent: Some("OneLogin SCIM"),
            content_type: SCIM,
        }
    }

    /// Google Workspace: no first-party request headers are published (idp-quirks §4);
    /// plain `application/json` covers the other media type RFC 7644 §3.1 allows.
    pub fn google(app: &'a TestApp) -> Self {
        Self {
            app,
            user_agent: None,
            content_type: JSON,
        }
    }

    /// JumpCloud: no first-party request headers are published (idp-quirks §5).
    pub fn jumpcloud(app: &'a TestApp) -> Self {
        Self {
            app,
            user_agent: None,
            content_type: JSON,
        }
    }

    /// Sends a request to `{scim}{path}`; `path` carries its query string already encoded.
    pub async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Response {
        let mut req = self.app.req(method, path);
        if let Some(ua) = self.user_agent {
            req = req.header("user-agent", ua);
        }
        if let Some(body) = body {
            req = req
                .header("content-type", self.content_type)
                .body(body.to_string());
        }
        req.send().await.unwrap()
    }

    pub async fn get(&self, path: &str) -> Response {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.send(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Response {
        self.send(Method::PUT, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Response {
        self.send(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.send(Method::DELETE, path, None).await
    }

    /// `GET {path}?filter=…` with the filter percent-encoded as IdPs send it, plus `extra`
    /// query parameters (`&startIndex=1&count=100`, possibly empty).
    pub async fn filter(&self, path: &str, filter: &str, extra: &str) -> Value {
        let r = self
            .get(&format!("{path}?filter={}{extra}", enc(filter)))
            .await;
        let body = expect(r, 200).await;
        assert_list(&body);
        body
    }
}

/// Asserts the status (showing the body when it differs) and returns the JSON body, or
/// `Value::Null` for an empty body. A non-empty body must be `application/scim+json`.
pub async fn expect(r: Response, status: u16) -> Value {
    let actual = r.status().as_u16();
    let content_type = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = r.text().await.unwrap();
    assert_eq!(actual, status, "unexpected status; body: {text}");
    if text.is_empty() {
        return Value::Null;
    }
    assert_eq!(
        content_type.as_deref(),
        Some(SCIM),
        "content type of {text}"
    );
    serde_json::from_str(&text).unwrap()
}

/// Percent-encodes a query-parameter value the way Okta does (`%20`, `%22`, `%40`, …).
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Asserts the RFC 7644 §3.4.2 ListResponse shape: the message URN, `totalResults`,
/// `itemsPerPage` and `startIndex` as JSON integers (idp-quirks §1.5, §6 rule 8),
/// `itemsPerPage` equal to the number of resources returned, `Resources` always an array.
pub fn assert_list(body: &Value) {
    assert_eq!(
        body["schemas"],
        serde_json::json!([LIST_RESPONSE]),
        "{body}"
    );
    assert!(
        body["totalResults"].is_u64(),
        "totalResults integer: {body}"
    );
    assert!(
        body["itemsPerPage"].is_u64(),
        "itemsPerPage integer: {body}"
    );
    assert!(body["startIndex"].is_u64(), "startIndex integer: {body}");
    let resources = body["Resources"].as_array().expect("Resources array");
    assert_eq!(
        body["itemsPerPage"].as_u64().unwrap(),
        resources.len() as u64,
        "itemsPerPage is the number returned: {body}"
    );
}

/// The `id`s of a ListResponse's resources, in order.
pub fn resource_ids(list: &Value) -> Vec<String> {
    list["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The sorted `value`s of a multi-valued reference attribute (`members`, `groups`);
/// empty when absent or `null`.
pub fn values_of(resource: &Value, attr: &str) -> Vec<String> {
    let mut values: Vec<String> = resource
        .get(attr)
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .map(|m| m["value"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default();
    values.sort();
    values
}

/// A sorted list of ids.
pub fn sorted(ids: &[&Value]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(|i| i.as_str().unwrap().to_owned()).collect();
    v.sort();
    v
}

/// The member ids of a group, read back with `GET /Groups/{id}`.
pub async fn members_of(app: &TestApp, group_id: &Value) -> Vec<String> {
    let r = app
        .get(&format!("/Groups/{}", group_id.as_str().unwrap()))
        .await;
    values_of(&expect(r, 200).await, "members")
}

/// The group ids a user belongs to, read back from its `groups` with `GET /Users/{id}`.
pub async fn groups_of(app: &TestApp, user_id: &Value) -> Vec<String> {
    let r = app
        .get(&format!("/Users/{}", user_id.as_str().unwrap()))
        .await;
    values_of(&expect(r, 200).await, "groups")
}

/// Reads a user back with `GET /Users/{id}`.
pub async fn read_user(app: &TestApp, id: &Value) -> Value {
    let r = app.get(&format!("/Users/{}", id.as_str().unwrap())).await;
    expect(r, 200).await
}

/// Sets the default tenant's strictness, other settings at their defaults.
pub async fn set_mode(app: &TestApp, mode: Mode) {
    app.set_settings(TenantSettings {
        mode: Some(mode),
        ..TenantSettings::default()
    })
    .await;
}

/// Both strictness levels, for rules that behave the same in each.
pub const BOTH: [Mode; 2] = [Mode::Compatible, Mode::Strict];

/// The stored record of a user (to inspect what the HTTP API never returns).
pub async fn stored_user(app: &TestApp, id: &Value) -> StoredResource {
    let tenant = app.default_tenant().await;
    app.store
        .get(
            tenant.id,
            ResourceKind::User,
            id.as_str().unwrap(),
            Load::NONE,
        )
        .await
        .unwrap()
        .expect("stored user")
}
