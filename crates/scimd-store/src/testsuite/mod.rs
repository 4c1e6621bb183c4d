//! The backend conformance suite: every [`Store`] implementation must pass these.
//!
//! Enabled by the `testsuite` feature, for backends' tests only. Each test is an async
//! function generic over `S: Store` that takes a fresh, empty store opened with
//! [`Registry::builtin`]; the [`crate::conformance_tests!`] macro expands into one
//! `#[tokio::test]` per function (and the [`props`] property tests) in a backend crate, so
//! SQLite and PostgreSQL run exactly the same tests, none copied. Backend-specific tests
//! (query plans, file handling, migrations) stay in the backend crates.
//!
//! The helpers panic on failure: they are test code.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

pub mod outbox;
pub mod paging;
pub mod props;

pub use outbox::{
    admin_tokens_lifecycle, audit_log_query_and_retention,
    concurrent_writers_get_distinct_event_numbers, events_are_pruned_and_numbering_continues,
    failed_and_empty_writes_record_nothing, outbox_records_every_change_in_order,
};
pub use paging::{deep_index_pages_match_plain_offsets, imported_tenants_page_deep_exactly};

use scimd_core::filter::parse_filter;
use scimd_core::schema::ResourceKind;
use scimd_core::sort::{SortOrder, SortSpec};
use scimd_core::{MemberKind, MemberOp, MemberRef};
use serde_json::{Value, json};

use crate::transfer::Transfer;
use crate::{
    CredentialKind, Document, Load, NewResource, Page, Query, Replacement, Store, StoreError,
    TenantId, Update,
};

/// A JSON object literal as a [`Document`].
pub fn doc(v: Value) -> Document {
    v.as_object().unwrap().clone()
}

/// A User to create, with `extra` attributes merged into its document.
pub fn user(id: &str, user_name: &str, extra: Value) -> NewResource {
    let mut d = doc(json!({ "userName": user_name }));
    if let Value::Object(extra) = extra {
        d.extend(extra);
    }
    let external_id = d
        .get("externalId")
        .and_then(Value::as_str)
        .map(str::to_owned);
    NewResource {
        kind: ResourceKind::User,
        id: id.into(),
        document: d,
        unique_key: Some(user_name.to_lowercase()),
        external_id,
        display: Some(user_name.into()),
        members: vec![],
        password_hash: None,
    }
}

/// A Group to create with these member ids.
pub fn group(id: &str, name: &str, members: &[&str]) -> NewResource {
    NewResource {
        kind: ResourceKind::Group,
        id: id.into(),
        document: doc(json!({ "displayName": name })),
        unique_key: None,
        external_id: None,
        display: Some(name.into()),
        members: members
            .iter()
            .map(|m| MemberRef {
                value: (*m).into(),
                kind: None,
                display: None,
            })
            .collect(),
        password_hash: None,
    }
}

/// An update replacing the document with `d`, its unique key and display derived as the
/// server would (the lower-cased `userName`; `displayName`, else `userName`).
pub fn doc_update(d: Value) -> Update {
    let document = doc(d);
    let display = document
        .get("displayName")
        .or_else(|| document.get("userName"))
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    let unique_key = document
        .get("userName")
        .and_then(|v| v.as_str())
        .map(str::to_lowercase);
    Update {
        document: Some(document),
        unique_key,
        external_id: None,
        display,
        member_ops: vec![],
        password_hash: None,
        version_pinned: false,
    }
}

/// A member reference without a type.
pub fn mref(id: &str) -> MemberRef {
    MemberRef {
        value: id.into(),
        kind: None,
        display: None,
    }
}

/// An index-paged listing of up to 1000 rows, optionally filtered.
pub fn list(filter: Option<&str>) -> Query {
    Query {
        filter: filter.map(|f| parse_filter(f).unwrap()),
        sort: None,
        page: Page::Index {
            start_index: 1,
            count: 1000,
        },
        load: Load::NONE,
    }
}

/// The ids a filtered listing returns, in order.
pub async fn ids<S: Store>(
    store: &S,
    t: TenantId,
    kind: ResourceKind,
    filter: &str,
) -> Vec<String> {
    store
        .query(t, kind, &list(Some(filter)))
        .await
        .unwrap()
        .resources
        .into_iter()
        .map(|r| r.id)
        .collect()
}

/// Creates a tenant with empty settings.
pub async fn tenant<S: Store>(store: &S, name: &str) -> TenantId {
    store.create_tenant(name, json!({})).await.unwrap().id
}

/// Creates `n` Users with names out of insertion order, some shared, some without title.
pub async fn seed_users<S: Store>(s: &S, t: TenantId, n: usize) {
    for i in 0..n {
        // Names out of insertion order, some shared, some missing titles.
        let name = format!("user{:02}", (i * 7) % n);
        let extra = if i % 3 == 0 {
            json!({})
        } else {
            json!({"title": format!("t{}", i % 4)})
        };
        s.create(t, user(&format!("id{i:02}"), &name, extra))
            .await
            .unwrap();
    }
}

/// Create, read, PUT (version bumps only on change), PATCH, If-Match conflicts, delete.
pub async fn crud_round_trip<S: Store>(s: &S) {
    let t = tenant(s, "acme").await;
    s.ping().await.unwrap();

    let created = s
        .create(
            t,
            user("u1", "BJensen", json!({"name": {"givenName": "Barbara"}})),
        )
        .await
        .unwrap();
    assert_eq!(created.version, 1);
    assert_eq!(created.id, "u1");
    assert_eq!(created.created, created.modified);
    assert!(created.created.ends_with('Z') && created.created.len() == 24);
    assert_eq!(created.groups, Some(vec![]));
    // What a create answers is exactly what a read of everything finds afterwards.
    let stored = s.get(t, ResourceKind::User, "u1", Load::ALL).await.unwrap();
    assert_eq!(stored.as_ref(), Some(&created));
    let g = s.create(t, group("g1", "Empty", &[])).await.unwrap();
    assert_eq!(g.members, Some(vec![]));
    let stored = s
        .get(t, ResourceKind::Group, "g1", Load::ALL)
        .await
        .unwrap();
    assert_eq!(stored.as_ref(), Some(&g));
    let numbers = s
        .create(
            t,
            user("u2", "Numbers", json!({"x-ratio": 0.1, "x-big": 1.7976931348623157e308, "x-tiny": 5e-324, "x-odd": 0.30000000000000004})),
        )
        .await
        .unwrap();
    let stored = s.get(t, ResourceKind::User, "u2", Load::ALL).await.unwrap();
    assert_eq!(stored.as_ref(), Some(&numbers));
    s.delete(t, ResourceKind::User, "u2", None).await.unwrap();
    s.delete(t, ResourceKind::Group, "g1", None).await.unwrap();

    let got = s
        .get(t, ResourceKind::User, "u1", Load::NONE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.document["name"]["givenName"], "Barbara");
    assert_eq!(got.groups, None);
    assert!(
        s.get(t, ResourceKind::Group, "u1", Load::NONE)
            .await
            .unwrap()
            .is_none()
    );

    // PUT with a new document bumps the version; the same document again does not.
    let rep = Replacement {
        document: doc(json!({"userName": "BJensen", "title": "Boss"})),
        unique_key: Some("bjensen".into()),
        external_id: None,
        display: Some("BJensen".into()),
        members: None,
        password_hash: None,
    };
    let r = s
        .replace(
            t,
            ResourceKind::User,
            "u1",
            Some(1),
            rep.clone(),
            Load::NONE,
        )
        .await
        .unwrap();
    assert_eq!(r.version, 2);
    assert_eq!(r.document["title"], "Boss");
    assert_eq!(r.created, created.created);
    let r = s
        .replace(t, ResourceKind::User, "u1", None, rep.clone(), Load::NONE)
        .await
        .unwrap();
    assert_eq!(r.version, 2);
    assert_eq!(
        s.replace(t, ResourceKind::User, "u1", Some(1), rep, Load::NONE)
            .await,
        Err(StoreError::VersionMismatch { current: 2 })
    );
    // The index follows the document.
    assert_eq!(
        ids(s, t, ResourceKind::User, "title eq \"boss\"").await,
        ["u1"]
    );
    assert!(
        ids(s, t, ResourceKind::User, "name.givenName pr")
            .await
            .is_empty()
    );

    // PATCH: unchanged document and no ops keeps the version; a change bumps it.
    let same = Update {
        document: None,
        unique_key: None,
        external_id: None,
        display: None,
        member_ops: vec![],
        password_hash: None,
        version_pinned: false,
    };
    let r = s
        .update(t, ResourceKind::User, "u1", 2, same.clone(), Load::NONE)
        .await
        .unwrap();
    assert_eq!(r.version, 2);
    let pw = Update {
        password_hash: Some("$argon2id$x".into()),
        ..same.clone()
    };
    let r = s
        .update(t, ResourceKind::User, "u1", 2, pw, Load::NONE)
        .await
        .unwrap();
    assert_eq!(r.version, 3);
    assert_eq!(r.password_hash.as_deref(), Some("$argon2id$x"));
    // With the version pinned (If-Match), a stale version is a conflict.
    let pinned = Update {
        version_pinned: true,
        ..same
    };
    assert_eq!(
        s.update(t, ResourceKind::User, "u1", 2, pinned, Load::NONE)
            .await,
        Err(StoreError::VersionMismatch { current: 3 })
    );

    assert_eq!(
        s.delete(t, ResourceKind::User, "u1", Some(1)).await,
        Err(StoreError::VersionMismatch { current: 3 })
    );
    s.delete(t, ResourceKind::User, "u1", Some(3))
        .await
        .unwrap();
    assert!(
        s.get(t, ResourceKind::User, "u1", Load::NONE)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        s.delete(t, ResourceKind::User, "u1", None).await,
        Err(StoreError::NotFound)
    );
    let all = s.query(t, ResourceKind::User, &list(None)).await.unwrap();
    assert_eq!(all.total, 0);
}

/// userName is unique per tenant ignoring case; failed writes leave no trace; unique Group names; unknown tenant.
/// Reads asked for the stored text ([`Load::document_text`]) give the text of exactly the
/// document a parsing read gives, and an empty `document`; everything else is the same.
/// Writes answer with the parsed document whatever they are asked.
pub async fn document_text_reads_match_parsed_reads<S: Store>(s: &S) {
    let t = tenant(s, "acme").await;
    let text_load = |load: Load| Load {
        document_text: true,
        ..load
    };
    s.create(
        t,
        user(
            "u1",
            "BJensen",
            json!({"name": {"givenName": "Bär\"bara", "familyName": "J\u{1}ensen"},
                   "emails": [{"value": "b@x", "primary": true}], "x-ratio": 0.30000000000000004}),
        ),
    )
    .await
    .unwrap();
    s.create(t, group("g1", "Admins", &["u1"])).await.unwrap();
    for (kind, id, load) in [
        (ResourceKind::User, "u1", Load::ALL),
        (ResourceKind::User, "u1", Load::NONE),
        (ResourceKind::Group, "g1", Load::ALL),
    ] {
        let parsed = s.get(t, kind, id, load).await.unwrap().unwrap();
        assert_eq!(parsed.document_text, None);
        let mut text = s.get(t, kind, id, text_load(load)).await.unwrap().unwrap();
        assert!(text.document.is_empty());
        let stored: Document =
            serde_json::from_str(text.document_text.as_deref().unwrap()).unwrap();
        assert_eq!(stored, parsed.document);
        text.document = stored;
        text.document_text = None;
        assert_eq!(text, parsed);
    }
    let mut query = list(Some("userName eq \"bjensen\""));
    let parsed = s.query(t, ResourceKind::User, &query).await.unwrap();
    query.load = text_load(Load::ALL);
    let text = s.query(t, ResourceKind::User, &query).await.unwrap();
    assert_eq!(text.total, 1);
    assert_eq!(
        text.resources[0]
            .document_text
            .as_deref()
            .map(|d| serde_json::from_str::<Document>(d).unwrap()),
        Some(parsed.resources[0].document.clone())
    );
    // A write asked for text still answers the document parsed.
    let updated = s
        .update(
            t,
            ResourceKind::User,
            "u1",
            1,
            doc_update(json!({"userName": "BJensen", "title": "Boss"})),
            text_load(Load::ALL),
        )
        .await
        .unwrap();
    assert_eq!(updated.document["title"], "Boss");
    assert_eq!(updated.document_text, None);
}

pub async fn user_name_is_unique_per_tenant_ignoring_case<S: Store>(s: &S) {
    let a = tenant(s, "a").await;
    let b = tenant(s, "b").await;
    s.create(a, user("u1", "BJensen", json!({}))).await.unwrap();
    assert_eq!(
        s.create(a, user("u2", "bjensen", json!({}))).await,
        Err(StoreError::UniqueViolation {
            attribute: "userName".into()
        })
    );
    // Same id again in the same tenant.
    assert!(matches!(
        s.create(a, user("u1", "other", json!({}))).await,
        Err(StoreError::UniqueViolation { .. })
    ));
    // Another tenant may use the same userName (and id).
    s.create(b, user("u1", "BJENSEN", json!({}))).await.unwrap();
    // A failed create leaves no trace: counts and index are unchanged.
    let all = s.query(a, ResourceKind::User, &list(None)).await.unwrap();
    assert_eq!(all.total, 1);
    assert_eq!(
        ids(s, a, ResourceKind::User, "userName eq \"bjensen\"").await,
        ["u1"]
    );

    // Renaming onto a taken name fails too, and changes nothing.
    s.create(a, user("u3", "carol", json!({}))).await.unwrap();
    let up = Update {
        document: Some(doc(json!({"userName": "BJENSEN"}))),
        unique_key: Some("bjensen".into()),
        external_id: None,
        display: None,
        member_ops: vec![],
        password_hash: None,
        version_pinned: false,
    };
    assert_eq!(
        s.update(a, ResourceKind::User, "u3", 1, up, Load::NONE)
            .await,
        Err(StoreError::UniqueViolation {
            attribute: "userName".into()
        })
    );
    assert_eq!(
        ids(s, a, ResourceKind::User, "userName eq \"carol\"").await,
        ["u3"]
    );

    // Groups with a unique display name key.
    let mut g = group("g1", "Admins", &[]);
    g.unique_key = Some("admins".into());
    s.create(a, g.clone()).await.unwrap();
    g.id = "g2".into();
    assert_eq!(
        s.create(a, g).await,
        Err(StoreError::UniqueViolation {
            attribute: "displayName".into()
        })
    );
    // Unknown tenant.
    assert_eq!(
        s.create(TenantId(999), user("x", "x", json!({}))).await,
        Err(StoreError::TenantNotFound)
    );
}

/// No read, filter, write or membership crosses tenants; deleting a tenant removes only its data.
pub async fn tenants_are_isolated<S: Store>(s: &S) {
    let a = tenant(s, "a").await;
    let b = tenant(s, "b").await;
    s.create(a, user("ua", "alice", json!({"title": "x"})))
        .await
        .unwrap();
    s.create(b, user("ub", "bob", json!({"title": "x"})))
        .await
        .unwrap();

    assert!(
        s.get(b, ResourceKind::User, "ua", Load::NONE)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        ids(s, b, ResourceKind::User, "title eq \"x\"").await,
        ["ub"]
    );
    assert_eq!(
        ids(s, a, ResourceKind::User, "title eq \"x\"").await,
        ["ua"]
    );
    assert_eq!(
        ids(s, b, ResourceKind::User, "id eq \"ua\"").await,
        Vec::<String>::new()
    );
    let all = s.query(b, ResourceKind::User, &list(None)).await.unwrap();
    assert_eq!(all.total, 1);
    let up = Update {
        document: Some(doc(json!({"userName": "mallory"}))),
        unique_key: Some("mallory".into()),
        external_id: None,
        display: None,
        member_ops: vec![],
        password_hash: None,
        version_pinned: false,
    };
    assert_eq!(
        s.update(b, ResourceKind::User, "ua", 1, up, Load::NONE)
            .await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        s.delete(b, ResourceKind::User, "ua", None).await,
        Err(StoreError::NotFound)
    );
    // B cannot add A's user to its group.
    assert_eq!(
        s.create(b, group("gb", "g", &["ua"])).await,
        Err(StoreError::MemberNotFound { value: "ua".into() })
    );
    assert!(
        s.get(a, ResourceKind::User, "ua", Load::NONE)
            .await
            .unwrap()
            .is_some()
    );

    // Deleting a tenant removes everything of it, and only of it.
    s.create(a, group("ga", "g", &["ua"])).await.unwrap();
    s.delete_tenant(a).await.unwrap();
    assert_eq!(s.delete_tenant(a).await, Err(StoreError::TenantNotFound));
    assert!(s.tenant_by_name("a").await.unwrap().is_none());
    assert_eq!(s.list_tenants().await.unwrap().len(), 1);
    assert!(
        s.get(b, ResourceKind::User, "ub", Load::NONE)
            .await
            .unwrap()
            .is_some()
    );
    let a2 = tenant(s, "a").await;
    assert_eq!(
        s.query(a2, ResourceKind::User, &list(None))
            .await
            .unwrap()
            .total,
        0
    );
    assert_eq!(
        s.create_tenant("b", json!({})).await,
        Err(StoreError::TenantExists)
    );
}

/// Tenant settings, bearer and Basic credentials, client id uniqueness, revocation.
pub async fn tenant_settings_and_credentials<S: Store>(s: &S) {
    let t = tenant(s, "acme").await;
    let updated = s
        .update_tenant_settings(t, json!({"uniqueGroupNames": true}))
        .await
        .unwrap();
    assert_eq!(updated.settings["uniqueGroupNames"], true);
    assert_eq!(
        s.update_tenant_settings(TenantId(77), json!({})).await,
        Err(StoreError::TenantNotFound)
    );

    let bearer = s
        .create_credential(t, CredentialKind::Bearer, "entra", None, "ab12")
        .await
        .unwrap();
    let basic = s
        .create_credential(
            t,
            CredentialKind::Basic,
            "okta",
            Some("okta-client"),
            "$argon2id$h",
        )
        .await
        .unwrap();
    let (c, tn) = s.bearer_by_hash("ab12").await.unwrap().unwrap();
    assert_eq!((c.id, tn.name.as_str()), (bearer.id, "acme"));
    assert!(s.bearer_by_hash("$argon2id$h").await.unwrap().is_none());
    let (c, _) = s.basic_by_client_id("okta-client").await.unwrap().unwrap();
    assert_eq!(c.secret_hash, "$argon2id$h");
    assert_eq!(
        s.create_credential(t, CredentialKind::Basic, "dup", Some("okta-client"), "x")
            .await,
        Err(StoreError::UniqueViolation {
            attribute: "clientId".into()
        })
    );
    let other = tenant(s, "other").await;
    assert_eq!(
        s.revoke_credential(other, basic.id).await,
        Err(StoreError::NotFound)
    );
    s.revoke_credential(t, basic.id).await.unwrap();
    assert!(s.basic_by_client_id("okta-client").await.unwrap().is_none());
    let all = s.list_credentials(t).await.unwrap();
    assert_eq!(all.len(), 2);
    assert!(all[1].revoked && !all[0].revoked);
    s.delete_tenant(t).await.unwrap();
    assert!(s.bearer_by_hash("ab12").await.unwrap().is_none());
}

/// The credential generation moves on every change that can invalidate an authenticated
/// credential (revocation, settings update, tenant deletion), including revoking a credential
/// of another tenant, and not on reads, credential creation, tenant creation, resource
/// writes or failed changes.
pub async fn auth_generation_moves_on_invalidating_changes<S: Store>(s: &S) {
    let g0 = s.auth_generation().await.unwrap();
    let t = tenant(s, "acme").await;
    let other = tenant(s, "other").await;
    let bearer = s
        .create_credential(t, CredentialKind::Bearer, "entra", None, "feed")
        .await
        .unwrap();
    let basic = s
        .create_credential(
            t,
            CredentialKind::Basic,
            "okta",
            Some("okta-id"),
            "$argon2id$h",
        )
        .await
        .unwrap();
    let kept = s
        .create_credential(other, CredentialKind::Bearer, "kept", None, "beef")
        .await
        .unwrap();
    s.bearer_by_hash("feed").await.unwrap().unwrap();
    s.basic_by_client_id("okta-id").await.unwrap().unwrap();
    s.list_credentials(t).await.unwrap();
    s.list_tenants().await.unwrap();
    s.tenant_by_name("acme").await.unwrap().unwrap();
    s.create(t, user("u1", "ann", json!({}))).await.unwrap();
    // Changes that fail commit nothing, the generation included.
    assert_eq!(
        s.revoke_credential(other, bearer.id).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        s.update_tenant_settings(TenantId(9_999), json!({})).await,
        Err(StoreError::TenantNotFound)
    );
    assert_eq!(
        s.delete_tenant(TenantId(9_999)).await,
        Err(StoreError::TenantNotFound)
    );
    assert_eq!(
        s.auth_generation().await.unwrap(),
        g0,
        "reads, creations and failed changes leave the generation alone"
    );

    s.revoke_credential(t, bearer.id).await.unwrap();
    let g1 = s.auth_generation().await.unwrap();
    assert!(g1 > g0, "revoking a bearer token: {g0} -> {g1}");
    s.revoke_credential(t, basic.id).await.unwrap();
    let g2 = s.auth_generation().await.unwrap();
    assert!(g2 > g1, "revoking a Basic client: {g1} -> {g2}");
    s.update_tenant_settings(t, json!({"passwordSync": true}))
        .await
        .unwrap();
    let g3 = s.auth_generation().await.unwrap();
    assert!(g3 > g2, "updating settings: {g2} -> {g3}");
    s.delete_tenant(t).await.unwrap();
    let g4 = s.auth_generation().await.unwrap();
    assert!(g4 > g3, "deleting a tenant: {g3} -> {g4}");
    // The other tenant's credential is untouched by all of it.
    let (c, _) = s.bearer_by_hash("beef").await.unwrap().unwrap();
    assert_eq!(c.id, kept.id);
    assert_eq!(s.auth_generation().await.unwrap(), g4);
}

/// Group membership rows: add, remove, clear, PUT, filters over members and groups, deletes.
pub async fn group_members_add_remove_clear_replace<S: Store>(s: &S) {
    let t = tenant(s, "acme").await;
    for (id, name) in [("u1", "ann"), ("u2", "bob"), ("u3", "cid")] {
        s.create(t, user(id, name, json!({}))).await.unwrap();
    }
    let g = s
        .create(t, group("g1", "Staff", &["u1", "u2", "u1"]))
        .await
        .unwrap();
    let m = g.members.unwrap();
    assert_eq!(m.len(), 2);
    assert_eq!(
        (m[0].value.as_str(), m[0].display.as_deref()),
        ("u1", Some("ann"))
    );
    assert_eq!(m[0].kind, MemberKind::User);
    assert_eq!(
        s.create(t, group("g2", "Bad", &["u1", "nope"])).await,
        Err(StoreError::MemberNotFound {
            value: "nope".into()
        })
    );
    assert!(
        s.get(t, ResourceKind::Group, "g2", Load::NONE)
            .await
            .unwrap()
            .is_none()
    );
    // A member whose type is given must have that type.
    let mut typed = group("g3", "Typed", &[]);
    typed.members = vec![MemberRef {
        value: "u1".into(),
        kind: Some(MemberKind::Group),
        display: None,
    }];
    assert!(matches!(
        s.create(t, typed).await,
        Err(StoreError::MemberNotFound { .. })
    ));
    // Nested group.
    s.create(t, group("g4", "Outer", &["g1"])).await.unwrap();

    let ops = |ops: Vec<MemberOp>| Update {
        document: None,
        unique_key: None,
        external_id: None,
        display: None,
        member_ops: ops,
        password_hash: None,
        version_pinned: false,
    };
    // Adding a present member and removing an absent one change nothing.
    let g = s
        .update(
            t,
            ResourceKind::Group,
            "g1",
            1,
            ops(vec![
                MemberOp::Add(vec![mref("u1")]),
                MemberOp::Remove(vec!["u3".into()]),
            ]),
            Load::ALL,
        )
        .await
        .unwrap();
    assert_eq!(g.version, 1);
    assert_eq!(g.groups.unwrap()[0].value, "g4");
    let g = s
        .update(
            t,
            ResourceKind::Group,
            "g1",
            1,
            ops(vec![
                MemberOp::Add(vec![mref("u3")]),
                MemberOp::Remove(vec!["u1".into()]),
            ]),
            Load::ALL,
        )
        .await
        .unwrap();
    assert_eq!(g.version, 2);
    let names: Vec<_> = g.members.unwrap().into_iter().map(|m| m.value).collect();
    assert_eq!(names, ["u2", "u3"]);
    assert_eq!(
        s.update(
            t,
            ResourceKind::Group,
            "g1",
            2,
            ops(vec![MemberOp::Add(vec![mref("ghost")])]),
            Load::NONE
        )
        .await,
        Err(StoreError::MemberNotFound {
            value: "ghost".into()
        })
    );
    let u2 = s
        .get(t, ResourceKind::User, "u2", Load::ALL)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(u2.groups.unwrap()[0].display.as_deref(), Some("Staff"));
    assert_eq!(u2.members, None);

    let g = s
        .update(
            t,
            ResourceKind::Group,
            "g1",
            2,
            ops(vec![MemberOp::Clear]),
            Load::ALL,
        )
        .await
        .unwrap();
    assert_eq!((g.version, g.members.unwrap().len()), (3, 0));

    // PUT replaces the list; PUT without members leaves it.
    let rep = |members: Option<Vec<MemberRef>>| Replacement {
        document: doc(json!({"displayName": "Staff"})),
        unique_key: None,
        external_id: None,
        display: Some("Staff".into()),
        members,
        password_hash: None,
    };
    let g = s
        .replace(
            t,
            ResourceKind::Group,
            "g1",
            Some(3),
            rep(Some(vec![mref("u1"), mref("u2")])),
            Load::ALL,
        )
        .await
        .unwrap();
    assert_eq!((g.version, g.members.unwrap().len()), (4, 2));
    let g = s
        .replace(t, ResourceKind::Group, "g1", None, rep(None), Load::ALL)
        .await
        .unwrap();
    assert_eq!((g.version, g.members.unwrap().len()), (4, 2));
    let g = s
        .replace(
            t,
            ResourceKind::Group,
            "g1",
            None,
            rep(Some(vec![mref("u2")])),
            Load::ALL,
        )
        .await
        .unwrap();
    assert_eq!((g.version, g.members.unwrap().len()), (5, 1));

    // Filters over memberships.
    assert_eq!(
        ids(s, t, ResourceKind::Group, "members.value eq \"u2\"").await,
        ["g1"]
    );
    assert_eq!(
        ids(s, t, ResourceKind::Group, "members[value eq \"g1\"]").await,
        ["g4"]
    );
    assert_eq!(
        ids(s, t, ResourceKind::Group, "members[type eq \"Group\"]").await,
        ["g4"]
    );
    assert_eq!(
        ids(s, t, ResourceKind::Group, "members.display eq \"BOB\"").await,
        ["g1"]
    );
    assert_eq!(
        ids(s, t, ResourceKind::Group, "members ne \"u2\"").await,
        ["g4"]
    );
    assert_eq!(
        ids(s, t, ResourceKind::Group, "members pr").await,
        ["g1", "g4"]
    );
    assert_eq!(
        ids(s, t, ResourceKind::User, "groups.value eq \"g1\"").await,
        ["u2"]
    );
    assert_eq!(
        ids(s, t, ResourceKind::User, "not (groups pr)").await,
        ["u1", "u3"]
    );

    // Deleting a member removes its memberships (and bumps the group's version).
    s.delete(t, ResourceKind::User, "u2", None).await.unwrap();
    let g = s
        .get(t, ResourceKind::Group, "g1", Load::ALL)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((g.version, g.members.unwrap().len()), (6, 0));
    // Deleting a group removes it from its parents and its members' groups.
    s.delete(t, ResourceKind::Group, "g1", None).await.unwrap();
    let outer = s
        .get(t, ResourceKind::Group, "g4", Load::ALL)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(outer.members, Some(vec![]));
}

/// Filters on columns (id, externalId, meta) and index rows (value paths, extensions, booleans).
/// A client-given `members[].display` is kept as sent (RFC 7643 §2.4: immutable) on create,
/// add and replace; without one, the member's own display shows.
pub async fn member_display_is_kept_as_sent<S: Store>(s: &S) {
    let t = tenant(s, "acme").await;
    for (id, name) in [("u1", "ann"), ("u2", "bob")] {
        s.create(t, user(id, name, json!({}))).await.unwrap();
    }
    let named = |id: &str, display: &str| MemberRef {
        display: Some(display.into()),
        ..MemberRef::new(id)
    };
    let mut g = group("g1", "Staff", &[]);
    g.members = vec![named("u1", "Ann A."), MemberRef::new("u2")];
    let created = s.create(t, g).await.unwrap();
    let shown = |r: &crate::StoredResource| -> Vec<(String, Option<String>)> {
        r.members
            .as_ref()
            .unwrap()
            .iter()
            .map(|m| (m.value.clone(), m.display.clone()))
            .collect()
    };
    assert_eq!(
        shown(&created),
        [
            ("u1".to_owned(), Some("Ann A.".to_owned())),
            ("u2".to_owned(), Some("bob".to_owned()))
        ]
    );
    // Clear, then add with a display: the new display is what reads back.
    let updated = s
        .update(
            t,
            ResourceKind::Group,
            "g1",
            created.version,
            Update {
                document: None,
                unique_key: None,
                external_id: None,
                display: None,
                member_ops: vec![MemberOp::Clear, MemberOp::Add(vec![named("u2", "Bobby")])],
                password_hash: None,
                version_pinned: false,
            },
            Load::ALL,
        )
        .await
        .unwrap();
    assert_eq!(
        shown(&updated),
        [("u2".to_owned(), Some("Bobby".to_owned()))]
    );
}

/// A read by id lists every group a resource belongs to, directly (nested groups are not
/// expanded), in the order the groups were created, each with its displayName; a
/// resource in no group has an empty list, and the groups of another tenant never show.
pub async fn groups_of_a_resource_read_by_id<S: Store>(s: &S) {
    let t = tenant(s, "acme").await;
    let other = tenant(s, "globex").await;
    for (id, name) in [("u1", "ann"), ("u2", "bob")] {
        s.create(t, user(id, name, json!({}))).await.unwrap();
        s.create(other, user(id, name, json!({}))).await.unwrap();
    }
    s.create(t, group("g1", "Staff \"north\" ✓", &["u1"]))
        .await
        .unwrap();
    s.create(t, group("g2", "Admins", &["u1", "u2"]))
        .await
        .unwrap();
    s.create(t, group("g3", "Everyone", &["g1", "u1"]))
        .await
        .unwrap();
    s.create(other, group("g9", "Foreign", &["u1"]))
        .await
        .unwrap();
    let groups_of = |kind, id: &'static str| async move {
        s.get(t, kind, id, Load::ALL)
            .await
            .unwrap()
            .unwrap()
            .groups
            .unwrap()
            .into_iter()
            .map(|g| (g.value, g.display.unwrap_or_default()))
            .collect::<Vec<_>>()
    };
    let pair = |id: &str, name: &str| (id.to_owned(), name.to_owned());
    assert_eq!(
        groups_of(ResourceKind::User, "u1").await,
        [
            pair("g1", "Staff \"north\" ✓"),
            pair("g2", "Admins"),
            pair("g3", "Everyone")
        ]
    );
    assert_eq!(
        groups_of(ResourceKind::User, "u2").await,
        [pair("g2", "Admins")]
    );
    assert_eq!(
        groups_of(ResourceKind::Group, "g1").await,
        [pair("g3", "Everyone")]
    );
    assert_eq!(groups_of(ResourceKind::Group, "g3").await, []);
    let without = s
        .get(t, ResourceKind::User, "u1", Load::NONE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(without.groups, None);
}

/// A member-only update applies to the current version whatever version the caller read
/// (member rows don't depend on the document), unless the client pinned the version; a
/// document update from a stale read is always a conflict.
pub async fn member_only_updates_need_no_version_unless_pinned<S: Store>(s: &S) {
    let t = tenant(s, "acme").await;
    for (id, name) in [("u1", "ann"), ("u2", "bob"), ("u3", "cid")] {
        s.create(t, user(id, name, json!({}))).await.unwrap();
    }
    let g = s.create(t, group("g1", "Staff", &[])).await.unwrap();
    let members = |id: &str, pinned: bool| Update {
        document: None,
        unique_key: None,
        external_id: None,
        display: None,
        member_ops: vec![MemberOp::Add(vec![mref(id)])],
        password_hash: None,
        version_pinned: pinned,
    };
    let v1 = g.version;
    let after_u1 = s
        .update(
            t,
            ResourceKind::Group,
            "g1",
            v1,
            members("u1", false),
            Load::ALL,
        )
        .await
        .unwrap();
    assert!(after_u1.version > v1);
    // Stale read, unpinned: still applies.
    let after_u2 = s
        .update(
            t,
            ResourceKind::Group,
            "g1",
            v1,
            members("u2", false),
            Load::ALL,
        )
        .await
        .unwrap();
    assert_eq!(after_u2.members.as_ref().unwrap().len(), 2);
    // Stale read, pinned (If-Match): a conflict.
    assert!(matches!(
        s.update(
            t,
            ResourceKind::Group,
            "g1",
            v1,
            members("u3", true),
            Load::ALL
        )
        .await,
        Err(StoreError::VersionMismatch { .. })
    ));
    // Stale read with a new document: always a conflict.
    let renamed = Update {
        document: Some(doc(json!({"displayName": "Renamed"}))),
        display: Some("Renamed".into()),
        ..members("u3", false)
    };
    assert!(matches!(
        s.update(t, ResourceKind::Group, "g1", v1, renamed, Load::ALL)
            .await,
        Err(StoreError::VersionMismatch { .. })
    ));
}

pub async fn filters_on_columns_and_values<S: Store>(s: &S) {
    let t = tenant(s, "acme").await;
    s.create(
        t,
        user(
            "u1",
            "BJensen",
            json!({
                "externalId": "Ext-1",
                "active": true,
                "emails": [
                    {"value": "bjensen@example.com", "type": "work", "primary": true},
                    {"value": "babs@home.example", "type": "home"}
                ],
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                    "employeeNumber": "701984",
                    "manager": {"value": "m1"}
                }
            }),
        ),
    )
    .await
    .unwrap();
    s.create(
        t,
        user(
            "u2",
            "jsmith",
            json!({"active": false, "emails": [{"value": "js@example.com", "type": "home"}]}),
        ),
    )
    .await
    .unwrap();
    let q = |f: &'static str| ids(s, t, ResourceKind::User, f);
    assert_eq!(q("userName eq \"bjensen\"").await, ["u1"]);
    assert_eq!(q("USERNAME Eq \"BJENSEN\"").await, ["u1"]);
    assert_eq!(q("externalId eq \"Ext-1\"").await, ["u1"]);
    assert!(
        q("externalId eq \"ext-1\"").await.is_empty(),
        "externalId is caseExact"
    );
    assert_eq!(q("externalId ne \"Ext-1\"").await, ["u2"]);
    assert_eq!(q("id eq \"u2\"").await, ["u2"]);
    assert_eq!(q("meta.resourceType eq \"User\"").await, ["u1", "u2"]);
    assert_eq!(
        q("meta.lastModified gt \"2000-01-01T00:00:00Z\"").await,
        ["u1", "u2"]
    );
    assert!(
        q("meta.created lt \"2000-01-01T00:00:00Z\"")
            .await
            .is_empty()
    );
    assert_eq!(
        q("emails[type eq \"work\" and value co \"JENSEN\"]").await,
        ["u1"]
    );
    assert_eq!(
        q("emails[type eq \"work\"].value eq \"bjensen@example.com\"").await,
        ["u1"]
    );
    // Conditions on different elements do not match inside one value path…
    assert!(
        q("emails[type eq \"home\" and value sw \"bjensen\"]")
            .await
            .is_empty()
    );
    // …but do as separate comparisons.
    assert_eq!(
        q("emails.type eq \"home\" and emails.value sw \"bjensen\"").await,
        ["u1"]
    );
    assert_eq!(q("emails co \"example.com\"").await, ["u1", "u2"]);
    assert_eq!(q("emails ew \".EXAMPLE\"").await, ["u1"]);
    assert_eq!(q("active eq true").await, ["u1"]);
    assert_eq!(q("active eq \"False\"").await, ["u2"]);
    assert_eq!(q("not (active eq true)").await, ["u2"]);
    assert_eq!(q("name pr").await, Vec::<String>::new());
    assert_eq!(q("externalId pr").await, ["u1"]);
    assert_eq!(q("externalId eq null").await, ["u2"]);
    assert_eq!(
        q("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq \"701984\"").await,
        ["u1"]
    );
    assert_eq!(
        q("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq \"m1\"")
            .await,
        ["u1"]
    );
    assert_eq!(
        q("userName gt \"c\" or emails[primary eq true]").await,
        ["u1", "u2"]
    );
    // Errors are SCIM errors.
    assert!(matches!(
        s.query(t, ResourceKind::User, &list(Some("nope eq 1")))
            .await,
        Err(StoreError::Scim(scimd_core::Error::InvalidFilter { .. }))
    ));
    assert!(matches!(
        s.query(t, ResourceKind::User, &list(Some("active gt true")))
            .await,
        Err(StoreError::Scim(scimd_core::Error::InvalidFilter { .. }))
    ));
}

/// startIndex pages concatenate to the full listing under every sort; totals count matches.
pub async fn index_pages_are_stable_with_totals<S: Store>(s: &S) {
    let t = tenant(s, "acme").await;
    seed_users(s, t, 23).await;
    for sort in [
        None,
        Some(SortSpec::parse("title", None).unwrap()),
        Some(SortSpec::parse("userName", Some(SortOrder::Descending)).unwrap()),
    ] {
        let full = Query {
            filter: None,
            sort: sort.clone(),
            page: Page::Index {
                start_index: 1,
                count: 100,
            },
            load: Load::NONE,
        };
        let all: Vec<String> = s
            .query(t, ResourceKind::User, &full)
            .await
            .unwrap()
            .resources
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(all.len(), 23);
        let mut paged = Vec::new();
        let mut start = 1;
        loop {
            let q = Query {
                page: Page::Index {
                    start_index: start,
                    count: 5,
                },
                ..full.clone()
            };
            let page = s.query(t, ResourceKind::User, &q).await.unwrap();
            assert_eq!(page.total, 23);
            assert!(page.next_cursor.is_none());
            if page.resources.is_empty() {
                break;
            }
            paged.extend(page.resources.into_iter().map(|r| r.id));
            start += 5;
        }
        assert_eq!(paged, all, "sort {sort:?}");
    }
    // Filtered totals count matches, not the page.
    let q = Query {
        filter: Some(parse_filter("title pr").unwrap()),
        sort: None,
        page: Page::Index {
            start_index: 3,
            count: 2,
        },
        load: Load::NONE,
    };
    let page = s.query(t, ResourceKind::User, &q).await.unwrap();
    assert_eq!((page.total, page.resources.len()), (15, 2));
    // startIndex 0 is read as 1; count 0 returns only the total.
    let q = Query {
        filter: None,
        sort: None,
        page: Page::Index {
            start_index: 0,
            count: 0,
        },
        load: Load::NONE,
    };
    let page = s.query(t, ResourceKind::User, &q).await.unwrap();
    assert_eq!((page.total, page.resources.len()), (23, 0));
}

/// Lookups by identifier (`userName eq`, `externalId eq`, `or` of them) — whose page also
/// carries the total — report the same totals and pages as any listing: at and past the
/// first row, past the end, with no match, and on a first cursor page.
pub async fn identifier_lookups_count_their_matches<S: Store>(s: &S) {
    let t = tenant(s, "acme").await;
    seed_users(s, t, 23).await;
    let other = tenant(s, "other").await;
    seed_users(s, other, 5).await;
    let three = "userName eq \"user03\" or userName eq \"USER07\" or userName eq \"user21\"";
    let page = |filter: &str, start_index: u64, count: u64| Query {
        filter: Some(parse_filter(filter).unwrap()),
        sort: None,
        page: Page::Index { start_index, count },
        load: Load::NONE,
    };
    let run = |q: Query| async move {
        let r = s.query(t, ResourceKind::User, &q).await.unwrap();
        let ids: Vec<String> = r.resources.into_iter().map(|r| r.id).collect();
        (r.total, ids)
    };
    // user03, user07, user21 were created as id07, id01, id03 (name (i * 7) % 23).
    assert_eq!(
        run(page(three, 1, 10)).await,
        (3, vec!["id01".into(), "id03".into(), "id07".into()])
    );
    assert_eq!(run(page(three, 1, 1)).await, (3, vec!["id01".into()]));
    assert_eq!(run(page(three, 2, 1)).await, (3, vec!["id03".into()]));
    assert_eq!(run(page(three, 3, 5)).await, (3, vec!["id07".into()]));
    // Past the end: no rows to carry the total, which is still reported.
    assert_eq!(run(page(three, 4, 5)).await, (3, vec![]));
    assert_eq!(run(page(three, 100, 5)).await, (3, vec![]));
    // count 0: the total alone.
    assert_eq!(run(page(three, 1, 0)).await, (3, vec![]));
    assert_eq!(
        run(page("userName eq \"nobody\"", 1, 10)).await,
        (0, vec![])
    );
    assert_eq!(
        run(page("userName eq \"user00\"", 1, 10)).await,
        (1, vec!["id00".into()])
    );
    // One match found by its unique key: the total holds on every page shape.
    let one = "USERNAME eq \"USER00\"";
    assert_eq!(run(page(one, 1, 1)).await, (1, vec!["id00".into()]));
    assert_eq!(run(page(one, 2, 10)).await, (1, vec![]));
    assert_eq!(run(page(one, 1, 0)).await, (1, vec![]));
    assert_eq!(
        run(page("id eq \"id05\"", 1, 10)).await,
        (1, vec!["id05".into()])
    );
    assert_eq!(run(page("id eq \"nope\"", 1, 10)).await, (0, vec![]));
    for count in [0, 1, 2] {
        let lookup = Query {
            filter: Some(parse_filter(one).unwrap()),
            sort: None,
            page: Page::Cursor {
                cursor: None,
                count,
            },
            load: Load::NONE,
        };
        let found = s.query(t, ResourceKind::User, &lookup).await.unwrap();
        assert_eq!(found.total, 1, "cursor page of {count}");
        assert_eq!(found.resources.len(), count.min(1) as usize);
        if count > 0 {
            assert!(found.next_cursor.is_none(), "cursor page of {count}");
        }
    }
    assert_eq!(
        run(page("id eq \"id05\" or id eq \"nope\"", 1, 10)).await,
        (1, vec!["id05".into()])
    );
    let cursor = Query {
        filter: Some(parse_filter(three).unwrap()),
        sort: None,
        page: Page::Cursor {
            cursor: None,
            count: 2,
        },
        load: Load::NONE,
    };
    let first = s.query(t, ResourceKind::User, &cursor).await.unwrap();
    assert_eq!(first.total, 3);
    assert_eq!(first.resources.len(), 2);
    assert!(first.next_cursor.is_some());
}

/// Cursor pages (RFC 9865) walk forward and back under every sort; foreign cursors are refused.
pub async fn cursor_pages_walk_forward_and_back<S: Store>(s: &S) {
    let t = tenant(s, "acme").await;
    seed_users(s, t, 17).await;
    for sort in [
        None,
        Some(SortSpec::parse("title", None).unwrap()),
        Some(SortSpec::parse("title", Some(SortOrder::Descending)).unwrap()),
        Some(SortSpec::parse("meta.created", Some(SortOrder::Descending)).unwrap()),
        Some(SortSpec::parse("userName", None).unwrap()),
    ] {
        let index = Query {
            filter: Some(parse_filter("not (userName eq \"user03\")").unwrap()),
            sort: sort.clone(),
            page: Page::Index {
                start_index: 1,
                count: 100,
            },
            load: Load::NONE,
        };
        let all: Vec<String> = s
            .query(t, ResourceKind::User, &index)
            .await
            .unwrap()
            .resources
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(all.len(), 16);
        let mut cursor = None;
        let mut pages: Vec<Vec<String>> = Vec::new();
        let mut prevs = Vec::new();
        loop {
            let q = Query {
                page: Page::Cursor {
                    cursor: cursor.clone(),
                    count: 5,
                },
                ..index.clone()
            };
            let page = s.query(t, ResourceKind::User, &q).await.unwrap();
            assert_eq!(page.total, 16);
            assert_eq!(page.previous_cursor.is_some(), !pages.is_empty());
            prevs.push(page.previous_cursor.clone());
            pages.push(page.resources.into_iter().map(|r| r.id).collect());
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(pages.concat(), all, "sort {sort:?}");
        assert_eq!(pages.len(), 4);
        // Walking back from the last page yields the earlier pages.
        for i in (1..pages.len()).rev() {
            let q = Query {
                page: Page::Cursor {
                    cursor: prevs[i].clone(),
                    count: 5,
                },
                ..index.clone()
            };
            let page = s.query(t, ResourceKind::User, &q).await.unwrap();
            let got: Vec<String> = page.resources.into_iter().map(|r| r.id).collect();
            assert_eq!(got, pages[i - 1], "sort {sort:?} page {i}");
            assert!(page.next_cursor.is_some());
            assert_eq!(page.previous_cursor.is_some(), i > 1);
        }
        // A cursor from this query is refused by another.
        let other = Query {
            filter: None,
            page: Page::Cursor {
                cursor: prevs[1].clone(),
                count: 5,
            },
            ..index.clone()
        };
        assert_eq!(
            s.query(t, ResourceKind::User, &other).await,
            Err(StoreError::InvalidCursor)
        );
    }
    let bad = Query {
        filter: None,
        sort: None,
        page: Page::Cursor {
            cursor: Some("not-a-cursor".into()),
            count: 5,
        },
        load: Load::NONE,
    };
    assert_eq!(
        s.query(t, ResourceKind::User, &bad).await,
        Err(StoreError::InvalidCursor)
    );
}

/// Concurrent creates and a PATCH-style retry loop on one Group lose no member and count exactly (needs a multi-thread runtime).
pub async fn concurrent_writers_queue_and_readers_see_committed_state<S: Store>(s: &S) {
    let s = s.clone();
    let t = tenant(&s, "acme").await;
    s.create(t, group("g", "All", &[])).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..30 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let id = format!("u{i}");
            s.create(t, user(&id, &id, json!({}))).await.unwrap();
            // Every task adds itself to the same group, re-reading on a version conflict
            // as the server's PATCH loop does.
            loop {
                let g = s
                    .get(t, ResourceKind::Group, "g", Load::NONE)
                    .await
                    .unwrap()
                    .unwrap();
                let up = Update {
                    document: None,
                    unique_key: None,
                    external_id: None,
                    display: None,
                    member_ops: vec![MemberOp::Add(vec![mref(&id)])],
                    password_hash: None,
                    version_pinned: false,
                };
                match s
                    .update(t, ResourceKind::Group, "g", g.version, up, Load::NONE)
                    .await
                {
                    Ok(_) => break,
                    Err(StoreError::VersionMismatch { .. }) => continue,
                    Err(e) => panic!("{e:?}"),
                }
            }
            s.query(t, ResourceKind::User, &list(None))
                .await
                .unwrap()
                .total
        }));
    }
    for task in tasks {
        assert!(task.await.unwrap() >= 1);
    }
    let g = s
        .get(t, ResourceKind::Group, "g", Load::ALL)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(g.members.unwrap().len(), 30);
    assert_eq!(g.version, 31);
    assert_eq!(
        s.query(t, ResourceKind::User, &list(None))
            .await
            .unwrap()
            .total,
        30
    );
}

/// A tenant exported, deleted and imported again comes back identical: ids, versions,
/// timestamps, listing order, documents, memberships (with client displays), credentials
/// (revoked ones too), counts and index rows (filters work).
pub async fn transfer_round_trip<S: Store + Transfer>(s: &S) {
    let t = tenant(s, "acme").await;
    s.update_tenant_settings(t, json!({"uniqueGroupNames": true}))
        .await
        .unwrap();
    s.create_credential(t, CredentialKind::Bearer, "entra", None, "beef")
        .await
        .unwrap();
    let basic = s
        .create_credential(
            t,
            CredentialKind::Basic,
            "okta",
            Some("okta-1"),
            "$argon2id$h",
        )
        .await
        .unwrap();
    s.revoke_credential(t, basic.id).await.unwrap();
    for (id, name) in [("u2", "zed"), ("u1", "ann"), ("u3", "bob")] {
        let mut u = user(
            id,
            name,
            json!({"emails": [{"value": format!("{name}@x.example"), "type": "work"}]}),
        );
        u.password_hash = Some(format!("$argon2id${name}"));
        s.create(t, u).await.unwrap();
    }
    let mut staff = group("g1", "Staff", &["u1"]);
    staff.members.push(MemberRef {
        display: Some("Zed Z.".into()),
        ..MemberRef::new("u2")
    });
    s.create(t, staff).await.unwrap();
    s.create(t, group("g2", "Outer", &["g1", "u3"]))
        .await
        .unwrap();
    // A few versions beyond 1.
    let up = doc_update(json!({"userName": "ann", "title": "Boss"}));
    s.update(t, ResourceKind::User, "u1", 1, up, Load::NONE)
        .await
        .unwrap();

    let before = s.export_tenant("acme").await.unwrap();
    assert_eq!(before.resources.len(), 5);
    assert_eq!(before.members.len(), 4);
    assert_eq!(before.credentials.len(), 2);
    let listing = |s: &S, t: TenantId| {
        let s = s.clone();
        async move {
            let mut all = Vec::new();
            for kind in [ResourceKind::User, ResourceKind::Group] {
                let q = Query {
                    load: Load::ALL,
                    ..list(None)
                };
                let page = s.query(t, kind, &q).await.unwrap();
                all.push((page.total, page.resources));
            }
            all
        }
    };
    let shown_before = listing(s, t).await;
    s.delete_tenant(t).await.unwrap();
    assert_eq!(
        s.export_tenant("acme").await,
        Err(StoreError::TenantNotFound)
    );

    // Through the text form, as `scimd export | scimd import` does.
    let mut text = Vec::new();
    before.write_json_lines(&mut text).unwrap();
    let parsed = crate::TenantExport::read_json_lines(&text[..]).unwrap();
    let imported = s.import_tenant(&parsed).await.unwrap();
    assert_eq!(imported.settings["uniqueGroupNames"], true);
    assert_eq!(
        s.import_tenant(&parsed).await,
        Err(StoreError::TenantExists)
    );
    assert_eq!(s.export_tenant("acme").await.unwrap(), before);
    let t2 = imported.id;
    let shown_after = listing(s, t2).await;
    let strip =
        |v: Vec<(u64, Vec<crate::StoredResource>)>| -> Vec<(u64, Vec<crate::StoredResource>)> {
            v.into_iter()
                .map(|(n, rs)| {
                    (
                        n,
                        rs.into_iter()
                            .map(|r| crate::StoredResource { seq: 0, ..r })
                            .collect(),
                    )
                })
                .collect()
        };
    assert_eq!(strip(shown_after), strip(shown_before));
    // Index rows were rebuilt; credentials work (and the revoked one does not).
    assert_eq!(
        ids(
            s,
            t2,
            ResourceKind::User,
            "emails[type eq \"work\"].value sw \"ZED\""
        )
        .await,
        ["u2"]
    );
    assert_eq!(
        ids(s, t2, ResourceKind::User, "title eq \"boss\"").await,
        ["u1"]
    );
    assert!(s.bearer_by_hash("beef").await.unwrap().is_some());
    assert!(s.basic_by_client_id("okta-1").await.unwrap().is_none());
    // Writes continue from the imported versions.
    let g = s
        .get(t2, ResourceKind::Group, "g1", Load::NONE)
        .await
        .unwrap()
        .unwrap();
    let cleared = Update {
        document: None,
        unique_key: None,
        external_id: None,
        display: None,
        member_ops: vec![MemberOp::Clear],
        password_hash: None,
        version_pinned: false,
    };
    let g2 = s
        .update(
            t2,
            ResourceKind::Group,
            "g1",
            g.version,
            cleared,
            Load::NONE,
        )
        .await
        .unwrap();
    assert_eq!(g2.version, g.version + 1);

    // A membership naming a resource the export lacks is refused, leaving nothing.
    let mut broken = before.clone();
    broken.name = "broken".into();
    broken.credentials.clear();
    broken.members.push(crate::transfer::ExportedMember {
        group: "g1".into(),
        member: "ghost".into(),
        member_kind: ResourceKind::User,
        display: None,
    });
    assert!(matches!(
        s.import_tenant(&broken).await,
        Err(StoreError::MemberNotFound { .. })
    ));
    assert!(s.tenant_by_name("broken").await.unwrap().is_none());
}

/// What a backend's test `open` function returns: a fresh, empty store, plus whatever
/// must live as long as it (a temporary directory, a database).
pub trait Fixture: Send + Sync {
    /// The backend.
    type Store: Store;
    /// The store under test.
    fn store(&self) -> &Self::Store;
}

/// Expands into the whole conformance suite for one backend: a `#[tokio::test]` per suite
/// function and a `#[test]` per property test. `$open` is an async function
/// `fn(Arc<Registry>) -> Option<impl Fixture>` returning a fresh, empty store using that
/// registry, or `None` when the backend is unavailable and the test is skipped (the
/// function says so on stderr).
#[macro_export]
macro_rules! conformance_tests {
    ($open:path) => {
        $crate::conformance_tests!(@async $open;
            crud_round_trip,
            document_text_reads_match_parsed_reads,
            user_name_is_unique_per_tenant_ignoring_case,
            tenants_are_isolated,
            tenant_settings_and_credentials,
            auth_generation_moves_on_invalidating_changes,
            group_members_add_remove_clear_replace,
            member_display_is_kept_as_sent,
            groups_of_a_resource_read_by_id,
            member_only_updates_need_no_version_unless_pinned,
            filters_on_columns_and_values,
            index_pages_are_stable_with_totals,
            identifier_lookups_count_their_matches,
            cursor_pages_walk_forward_and_back,
            concurrent_writers_queue_and_readers_see_committed_state,
            transfer_round_trip,
            outbox_records_every_change_in_order,
            failed_and_empty_writes_record_nothing,
            audit_log_query_and_retention,
            events_are_pruned_and_numbering_continues,
            admin_tokens_lifecycle,
            concurrent_writers_get_distinct_event_numbers,
            deep_index_pages_match_plain_offsets,
            imported_tenants_page_deep_exactly
        );
        $crate::conformance_tests!(@props $open;
            sql_filters_match_the_evaluator,
            sql_sort_matches_the_comparator
        );
    };
    (@async $open:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                use $crate::testsuite::Fixture as _;
                let registry = ::std::sync::Arc::new(::scimd_core::schema::Registry::builtin());
                let Some(fixture) = $open(registry).await else { return };
                $crate::testsuite::$name(fixture.store()).await;
            }
        )*
    };
    (@props $open:path; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                use $crate::testsuite::Fixture as _;
                let rt = ::tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .unwrap();
                let registry = ::std::sync::Arc::new($crate::testsuite::props::registry());
                let Some(fixture) = rt.block_on($open(registry.clone())) else { return };
                $crate::testsuite::props::$name(&rt, fixture.store(), &registry);
            }
        )*
    };
}
