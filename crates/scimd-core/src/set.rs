//! Security Event Tokens for SCIM provisioning changes: RFC 9967 (the SCIM profile of SETs)
//! on top of RFC 8417 (SET claims).
//!
//! A pure mapping from "this resource changed like this" to the SET claims set, with no
//! I/O and no clock: the caller supplies ids and times. scimd sends the claims set as a
//! JSON body signed by its webhook signature header (not as a JWS), so the payload is the
//! JWT claims of RFC 8417 §2 and a receiver that knows RFC 9967 reads it as such.
//!
//! Mapping (RFC 9967 §2.4 provisioning events):
//! - create → `prov:create:full` with `data` (the resource), or `prov:create:notice` when
//!   no representation is available;
//! - any other change → `prov:put:full` with `data` (the whole resource after the change:
//!   what a PUT would have sent), or `prov:patch:notice` with `attributes` without one;
//! - deactivation / reactivation add `prov:deactivate` / `prov:activate` (empty payloads)
//!   in the same SET, next to the `put` event carrying the new state;
//! - delete → `prov:delete` (empty payload).
//!
//! The subject is an RFC 9493 subject identifier of format `scim` (RFC 9967 §2.2): `uri`
//! is the resource path relative to the SCIM base (`/Users/{id}`), with `externalId` when
//! the resource has one. `txn` (RFC 8417 §2.2) carries the request id of the change.

use serde_json::{Map, Value, json};

/// `urn:ietf:params:scim:event:prov:create:full`
pub const PROV_CREATE_FULL: &str = "urn:ietf:params:scim:event:prov:create:full";
/// `urn:ietf:params:scim:event:prov:create:notice`
pub const PROV_CREATE_NOTICE: &str = "urn:ietf:params:scim:event:prov:create:notice";
/// `urn:ietf:params:scim:event:prov:put:full`
pub const PROV_PUT_FULL: &str = "urn:ietf:params:scim:event:prov:put:full";
/// `urn:ietf:params:scim:event:prov:patch:notice`
pub const PROV_PATCH_NOTICE: &str = "urn:ietf:params:scim:event:prov:patch:notice";
/// `urn:ietf:params:scim:event:prov:delete`
pub const PROV_DELETE: &str = "urn:ietf:params:scim:event:prov:delete";
/// `urn:ietf:params:scim:event:prov:activate`
pub const PROV_ACTIVATE: &str = "urn:ietf:params:scim:event:prov:activate";
/// `urn:ietf:params:scim:event:prov:deactivate`
pub const PROV_DEACTIVATE: &str = "urn:ietf:params:scim:event:prov:deactivate";

/// What happened to the resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Create,
    /// Attributes (or members, or the password) changed.
    Update,
    /// `active` went to `false`.
    Deactivate,
    /// `active` went to `true`.
    Activate,
    Delete,
}

/// One change of one resource, as the SET describes it.
#[derive(Debug, Clone, Copy)]
pub struct SetInput<'a> {
    /// `jti`: unique per event (scimd uses the event id, the receivers' idempotency key).
    pub jti: &'a str,
    /// `iat`: seconds since the epoch.
    pub iat: i64,
    /// `iss`: the SCIM service provider (its base URL).
    pub issuer: &'a str,
    /// `aud`: the receiver (the webhook URL).
    pub audience: &'a str,
    /// `txn`: the transaction (request id) that made the change, if known.
    pub txn: Option<&'a str>,
    /// The resource type's endpoint name: `Users` or `Groups`.
    pub endpoint: &'a str,
    pub resource_id: &'a str,
    pub change: ChangeKind,
    /// The resource after the change (`schemas`, `id`, attributes, `meta`), if available.
    pub data: Option<&'a Value>,
    /// Names of the changed attributes (for notices).
    pub attributes: &'a [String],
}

/// The SET claims set (RFC 8417 §2) for one change.
pub fn claims(input: &SetInput<'_>) -> Value {
    let mut sub_id = Map::new();
    sub_id.insert("format".into(), json!("scim"));
    sub_id.insert(
        "uri".into(),
        json!(format!("/{}/{}", input.endpoint, input.resource_id)),
    );
    if let Some(external) = input
        .data
        .and_then(|d| d.get("externalId"))
        .and_then(Value::as_str)
    {
        sub_id.insert("externalId".into(), json!(external));
    }

    let mut events = Map::new();
    let full_or_notice =
        |events: &mut Map<String, Value>, full: &str, notice: &str| match input.data {
            Some(data) => {
                events.insert(full.into(), json!({ "data": data }));
            }
            None => {
                events.insert(notice.into(), json!({ "attributes": input.attributes }));
            }
        };
    match input.change {
        ChangeKind::Create => full_or_notice(&mut events, PROV_CREATE_FULL, PROV_CREATE_NOTICE),
        ChangeKind::Update => full_or_notice(&mut events, PROV_PUT_FULL, PROV_PATCH_NOTICE),
        ChangeKind::Deactivate => {
            full_or_notice(&mut events, PROV_PUT_FULL, PROV_PATCH_NOTICE);
            events.insert(PROV_DEACTIVATE.into(), json!({}));
        }
        ChangeKind::Activate => {
            full_or_notice(&mut events, PROV_PUT_FULL, PROV_PATCH_NOTICE);
            events.insert(PROV_ACTIVATE.into(), json!({}));
        }
        ChangeKind::Delete => {
            events.insert(PROV_DELETE.into(), json!({}));
        }
    }

    let mut set = Map::new();
    set.insert("jti".into(), json!(input.jti));
    set.insert("iat".into(), json!(input.iat));
    set.insert("iss".into(), json!(input.issuer));
    set.insert("aud".into(), json!(input.audience));
    if let Some(txn) = input.txn.filter(|t| !t.is_empty()) {
        set.insert("txn".into(), json!(txn));
    }
    set.insert("sub_id".into(), Value::Object(sub_id));
    set.insert("events".into(), Value::Object(events));
    Value::Object(set)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;

    fn input<'a>(change: ChangeKind, data: Option<&'a Value>, attrs: &'a [String]) -> SetInput<'a> {
        SetInput {
            jti: "e1",
            iat: 1_700_000_000,
            issuer: "https://scim.example.com/scim/v2",
            audience: "https://app.example.com/hook",
            txn: Some("req-1"),
            endpoint: "Users",
            resource_id: "u1",
            change,
            data,
            attributes: attrs,
        }
    }

    #[test]
    fn create_full_carries_data_and_subject() {
        let data = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": "u1", "userName": "bjensen", "externalId": "ext-1"
        });
        let set = claims(&input(ChangeKind::Create, Some(&data), &[]));
        assert_eq!(set["jti"], "e1");
        assert_eq!(set["iat"], 1_700_000_000);
        assert_eq!(set["iss"], "https://scim.example.com/scim/v2");
        assert_eq!(set["aud"], "https://app.example.com/hook");
        assert_eq!(set["txn"], "req-1");
        assert_eq!(
            set["sub_id"],
            json!({"format": "scim", "uri": "/Users/u1", "externalId": "ext-1"})
        );
        assert_eq!(set["events"], json!({ PROV_CREATE_FULL: { "data": data } }));
    }

    #[test]
    fn deactivation_is_put_plus_deactivate() {
        let data = json!({"id": "u1", "active": false});
        let set = claims(&input(ChangeKind::Deactivate, Some(&data), &[]));
        let events = set["events"].as_object().unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[PROV_PUT_FULL]["data"], data);
        assert_eq!(events[PROV_DEACTIVATE], json!({}));
        assert!(set["sub_id"].get("externalId").is_none());
        let set = claims(&input(ChangeKind::Activate, Some(&data), &[]));
        assert_eq!(set["events"][PROV_ACTIVATE], json!({}));
    }

    #[test]
    fn without_data_changes_are_notices() {
        let attrs = vec!["displayName".to_string(), "members".to_string()];
        let mut i = input(ChangeKind::Update, None, &attrs);
        i.endpoint = "Groups";
        i.txn = None;
        let set = claims(&i);
        assert_eq!(
            set["events"],
            json!({ PROV_PATCH_NOTICE: { "attributes": ["displayName", "members"] } })
        );
        assert_eq!(set["sub_id"]["uri"], "/Groups/u1");
        assert!(set.get("txn").is_none());
        let set = claims(&input(ChangeKind::Create, None, &[]));
        assert!(set["events"].get(PROV_CREATE_NOTICE).is_some());
    }

    #[test]
    fn delete_has_an_empty_payload() {
        let set = claims(&input(ChangeKind::Delete, None, &[]));
        assert_eq!(set["events"], json!({ PROV_DELETE: {} }));
    }
}
