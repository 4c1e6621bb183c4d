//! Conformance tests of the outbox ([`ChangeStore`], [`EventStore`]), the audit log
//! ([`AuditStore`]) and admin tokens ([`AdminStore`]).

use std::sync::Arc;

use scimd_core::MemberOp;
use scimd_core::schema::ResourceKind;
use serde_json::json;

use super::{doc, doc_update, group, mref, tenant, user};
use crate::{
    AdminStore, AuditEntry, AuditQuery, AuditStore, Change, ChangeStore, Event, EventStore, Load,
    Replacement, StatusFilter, StoreError, TenantId, Update,
};

fn change(request_id: &str) -> Change {
    Change {
        actor: "Okta".into(),
        request_id: request_id.into(),
        changed_attributes: None,
        render: Some(Arc::new(
            |r: crate::StoredResource| json!({"id": r.id, "version": r.version, "doc": r.document}),
        )),
        audit: None,
    }
}

fn members_update(ops: Vec<MemberOp>) -> Update {
    Update {
        document: None,
        unique_key: None,
        external_id: None,
        display: None,
        member_ops: ops,
        password_hash: None,
        version_pinned: false,
    }
}

async fn all_events<S: EventStore>(s: &S, t: TenantId) -> Vec<Event> {
    s.events_after(t, 0, 1000).await.unwrap()
}

fn kinds(events: &[Event]) -> Vec<&'static str> {
    events.iter().map(|e| e.kind.as_str()).collect()
}

async fn version<S: ChangeStore>(s: &S, t: TenantId, kind: ResourceKind, id: &str) -> i64 {
    s.get(t, kind, id, Load::NONE)
        .await
        .unwrap()
        .unwrap()
        .version
}

/// Every change type writes exactly its events, numbered 1, 2, 3, … per tenant.
pub async fn outbox_records_every_change_in_order<S: ChangeStore + EventStore>(s: &S) {
    let t = tenant(s, "acme").await;
    let other = tenant(s, "other").await;
    let c = change("req-1");
    s.create_with(t, user("u1", "alice", json!({"active": true})), &c)
        .await
        .unwrap();
    s.create_with(t, user("u2", "bob", json!({})), &c)
        .await
        .unwrap();
    // Deactivate.
    let v = version(s, t, ResourceKind::User, "u1").await;
    s.update_with(
        t,
        ResourceKind::User,
        "u1",
        v,
        doc_update(json!({"userName": "alice", "active": false})),
        Load::NONE,
        &c,
    )
    .await
    .unwrap();
    // Reactivate and change another attribute: two events.
    let v = version(s, t, ResourceKind::User, "u1").await;
    s.update_with(
        t,
        ResourceKind::User,
        "u1",
        v,
        doc_update(json!({"userName": "alice", "active": true, "title": "CEO"})),
        Load::NONE,
        &c,
    )
    .await
    .unwrap();
    // Password.
    let v = version(s, t, ResourceKind::User, "u1").await;
    let mut up = members_update(vec![]);
    up.password_hash = Some("$argon2id$dummy".into());
    s.update_with(t, ResourceKind::User, "u1", v, up, Load::NONE, &c)
        .await
        .unwrap();
    // Group with an initial member, renamed, members added (one already there) and removed.
    s.create_with(t, group("g1", "Staff", &["u1"]), &c)
        .await
        .unwrap();
    let v = version(s, t, ResourceKind::Group, "g1").await;
    s.update_with(
        t,
        ResourceKind::Group,
        "g1",
        v,
        doc_update(json!({"displayName": "Employees"})),
        Load::NONE,
        &c,
    )
    .await
    .unwrap();
    let v = version(s, t, ResourceKind::Group, "g1").await;
    s.update_with(
        t,
        ResourceKind::Group,
        "g1",
        v,
        members_update(vec![MemberOp::Add(vec![mref("u1"), mref("u2")])]),
        Load::NONE,
        &c,
    )
    .await
    .unwrap();
    let v = version(s, t, ResourceKind::Group, "g1").await;
    s.update_with(
        t,
        ResourceKind::Group,
        "g1",
        v,
        members_update(vec![MemberOp::Remove(vec!["u1".into()])]),
        Load::NONE,
        &c,
    )
    .await
    .unwrap();
    // Clear + add back u2 (a `replace` of members): u2 stays, u1 is added.
    let v = version(s, t, ResourceKind::Group, "g1").await;
    s.update_with(
        t,
        ResourceKind::Group,
        "g1",
        v,
        members_update(vec![
            MemberOp::Clear,
            MemberOp::Add(vec![mref("u2"), mref("u1")]),
        ]),
        Load::NONE,
        &c,
    )
    .await
    .unwrap();
    // PUT of the group: members become [u2] only.
    s.replace_with(
        t,
        ResourceKind::Group,
        "g1",
        None,
        Replacement {
            document: doc(json!({"displayName": "Employees"})),
            unique_key: None,
            external_id: None,
            display: Some("Employees".into()),
            members: Some(vec![mref("u2")]),
            password_hash: None,
        },
        Load::NONE,
        &c,
    )
    .await
    .unwrap();
    s.delete_with(t, ResourceKind::User, "u1", None, &change("req-del"))
        .await
        .unwrap();
    s.delete_with(t, ResourceKind::Group, "g1", None, &c)
        .await
        .unwrap();
    // The other tenant numbers its own events from 1.
    s.create_with(other, user("x1", "alice", json!({})), &c)
        .await
        .unwrap();

    let ev = all_events(s, t).await;
    assert_eq!(
        kinds(&ev),
        [
            "user.created",
            "user.created",
            "user.deactivated",
            "user.reactivated",
            "user.updated",
            "user.password_changed",
            "group.created",
            "group.renamed",
            "group.member_added",
            "group.member_removed",
            "group.member_added",
            "group.member_removed",
            "user.deleted",
            "group.deleted",
        ]
    );
    let seqs: Vec<i64> = ev.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=14).collect::<Vec<i64>>());
    assert_eq!(ev[0].resource_id, "u1");
    assert_eq!(ev[0].resource.as_ref().unwrap()["doc"]["userName"], "alice");
    assert_eq!(ev[0].tenant, "acme");
    assert_eq!(ev[0].actor, "Okta");
    assert_eq!(ev[0].request_id, "req-1");
    assert!(ev[0].time.ends_with('Z'));
    assert_eq!(ev[2].changed_attributes, ["active"]);
    assert_eq!(ev[2].resource.as_ref().unwrap()["doc"]["active"], false);
    assert_eq!(ev[4].changed_attributes, ["active", "title"]);
    assert_eq!(ev[5].changed_attributes, ["password"]);
    assert_eq!(ev[6].members, ["u1"]);
    assert_eq!(ev[7].changed_attributes, ["displayName"]);
    assert_eq!(ev[8].members, ["u2"], "u1 was already a member");
    assert_eq!(ev[9].members, ["u1"]);
    assert_eq!(ev[10].members, ["u1"], "u2 was cleared and added back");
    assert_eq!(ev[11].members, ["u1"]);
    assert_eq!(ev[11].resource_type, ResourceKind::Group);
    assert_eq!(ev[12].resource, None);
    assert_eq!(ev[12].request_id, "req-del");
    let ids: std::collections::HashSet<&str> = ev.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids.len(), ev.len(), "event ids are unique");

    let o = all_events(s, other).await;
    assert_eq!(kinds(&o), ["user.created"]);
    assert_eq!(o[0].seq, 1);

    // Paging after a position.
    let page = s.events_after(t, 3, 2).await.unwrap();
    assert_eq!(page.iter().map(|e| e.seq).collect::<Vec<_>>(), [4, 5]);
    let heads = s.event_heads().await.unwrap();
    assert!(
        heads.contains(&(t, 14)) && heads.contains(&(other, 1)),
        "{heads:?}"
    );
}

/// Failed writes, writes that change nothing and plain [`crate::Store`] writes record no
/// event (and no audit entry).
pub async fn failed_and_empty_writes_record_nothing<S: ChangeStore + EventStore + AuditStore>(
    s: &S,
) {
    let t = tenant(s, "acme").await;
    let mut c = change("req");
    c.audit = Some(audit_entry(t, "2026-01-01T00:00:00.000Z", 201));
    s.create_with(t, user("u1", "alice", json!({})), &c)
        .await
        .unwrap();
    // 409: duplicate userName.
    let err = s
        .create_with(t, user("u2", "ALICE", json!({})), &c)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::UniqueViolation { .. }), "{err:?}");
    // 412: stale version.
    let err = s
        .update_with(
            t,
            ResourceKind::User,
            "u1",
            99,
            doc_update(json!({"userName": "alice", "title": "x"})),
            Load::NONE,
            &c,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::VersionMismatch { .. }), "{err:?}");
    // 400: a member that does not exist.
    let err = s
        .create_with(t, group("g1", "G", &["nobody"]), &c)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::MemberNotFound { .. }), "{err:?}");
    let err = s
        .delete_with(t, ResourceKind::User, "ghost", None, &c)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    // No change: same document, removing a non-member.
    let v = version(s, t, ResourceKind::User, "u1").await;
    s.update_with(
        t,
        ResourceKind::User,
        "u1",
        v,
        doc_update(json!({"userName": "alice"})),
        Load::NONE,
        &change("noop"),
    )
    .await
    .unwrap();
    // Plain Store writes (import, tests) record nothing.
    s.create(t, user("u3", "carol", json!({}))).await.unwrap();
    s.delete(t, ResourceKind::User, "u3", None).await.unwrap();

    let ev = all_events(s, t).await;
    assert_eq!(kinds(&ev), ["user.created"]);
    let audit = s
        .query_audit(&AuditQuery {
            tenant: t,
            since: None,
            status: None,
            limit: 100,
        })
        .await
        .unwrap();
    assert_eq!(
        audit.len(),
        1,
        "only the committed write's entry: {audit:?}"
    );
    assert_eq!(audit[0].resource_id.as_deref(), Some("r1"));
}

fn audit_entry(t: TenantId, time: &str, status: u16) -> AuditEntry {
    AuditEntry {
        time: time.into(),
        tenant_id: Some(t),
        tenant: "acme".into(),
        actor: "Okta".into(),
        client_ip: "127.0.0.1".into(),
        user_agent: "Okta SCIM Client 1.0.0".into(),
        method: "GET".into(),
        path: "/scim/v2/Users?filter=userName%20eq%20%22a%22".into(),
        status,
        scim_type: (status == 409).then(|| "uniqueness".to_owned()),
        resource_id: Some("r1".into()),
        duration_ms: 3,
        request_id: format!("req-{status}"),
    }
}

/// Audit entries are stored in batches, read newest first with filters, and pruned.
pub async fn audit_log_query_and_retention<S: AuditStore>(s: &S) {
    let t = tenant(s, "acme").await;
    let other = tenant(s, "other").await;
    let mut anon = audit_entry(t, "2026-03-01T00:00:00.000Z", 401);
    anon.tenant_id = None;
    anon.actor = String::new();
    s.record_audit(vec![
        audit_entry(t, "2026-01-01T00:00:00.000Z", 200),
        audit_entry(t, "2026-02-01T00:00:00.000Z", 404),
        audit_entry(t, "2026-03-01T00:00:00.000Z", 409),
        audit_entry(other, "2026-03-01T00:00:00.000Z", 500),
        anon,
    ])
    .await
    .unwrap();
    let q = |since: Option<&str>, status: Option<&str>, limit: u32| AuditQuery {
        tenant: t,
        since: since.map(str::to_owned),
        status: status.map(|s| StatusFilter::parse(s).unwrap()),
        limit,
    };
    let all = s.query_audit(&q(None, None, 100)).await.unwrap();
    let statuses: Vec<u16> = all.iter().map(|e| e.status).collect();
    assert_eq!(statuses, [409, 404, 200], "newest first, this tenant only");
    assert_eq!(all[0], audit_entry(t, "2026-03-01T00:00:00.000Z", 409));
    let four = s.query_audit(&q(None, Some("4xx"), 100)).await.unwrap();
    assert_eq!(
        four.iter().map(|e| e.status).collect::<Vec<_>>(),
        [409, 404]
    );
    let exact = s.query_audit(&q(None, Some("404"), 100)).await.unwrap();
    assert_eq!(exact.len(), 1);
    let since = s
        .query_audit(&q(Some("2026-02-01T00:00:00.000Z"), None, 100))
        .await
        .unwrap();
    assert_eq!(since.len(), 2);
    assert_eq!(s.query_audit(&q(None, None, 1)).await.unwrap().len(), 1);

    let pruned = s.prune_audit("2026-02-15T00:00:00.000Z").await.unwrap();
    assert_eq!(pruned, 2);
    let left = s.query_audit(&q(None, None, 100)).await.unwrap();
    assert_eq!(left.iter().map(|e| e.status).collect::<Vec<_>>(), [409]);
}

/// Events older than the retention cutoff are pruned; numbering continues.
pub async fn events_are_pruned_and_numbering_continues<S: ChangeStore + EventStore>(s: &S) {
    let t = tenant(s, "acme").await;
    let c = change("r");
    s.create_with(t, user("u1", "a", json!({})), &c)
        .await
        .unwrap();
    assert_eq!(s.prune_events("2000-01-01T00:00:00.000Z").await.unwrap(), 0);
    assert_eq!(s.prune_events("2999-01-01T00:00:00.000Z").await.unwrap(), 1);
    assert!(all_events(s, t).await.is_empty());
    s.create_with(t, user("u2", "b", json!({})), &c)
        .await
        .unwrap();
    let ev = all_events(s, t).await;
    assert_eq!(ev.iter().map(|e| e.seq).collect::<Vec<_>>(), [2]);
}

/// Admin tokens: created, found by hash while active, listed, revoked.
pub async fn admin_tokens_lifecycle<S: AdminStore>(s: &S) {
    let a = s.create_admin_token("billing", "hash-a").await.unwrap();
    let b = s.create_admin_token("ops", "hash-b").await.unwrap();
    assert_eq!(a.label, "billing");
    assert!(!a.revoked);
    let found = s.admin_token_by_hash("hash-a").await.unwrap().unwrap();
    assert_eq!(found.id, a.id);
    assert!(s.admin_token_by_hash("nope").await.unwrap().is_none());
    s.revoke_admin_token(a.id).await.unwrap();
    assert!(s.admin_token_by_hash("hash-a").await.unwrap().is_none());
    let list = s.list_admin_tokens().await.unwrap();
    assert_eq!(list.iter().map(|t| t.id).collect::<Vec<_>>(), [a.id, b.id]);
    assert!(list[0].revoked && !list[1].revoked);
    assert!(matches!(
        s.revoke_admin_token(9999).await,
        Err(StoreError::NotFound)
    ));
}

/// Concurrent writers of one tenant get distinct, gap-free numbers.
pub async fn concurrent_writers_get_distinct_event_numbers<S: ChangeStore + EventStore>(s: &S) {
    let t = tenant(s, "acme").await;
    let mut handles = Vec::new();
    for i in 0..20 {
        let s = s.clone();
        handles.push(tokio::spawn(async move {
            s.create_with(
                t,
                user(&format!("u{i}"), &format!("user{i}"), json!({})),
                &change("c"),
            )
            .await
            .unwrap();
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let ev = all_events(s, t).await;
    assert_eq!(
        ev.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=20).collect::<Vec<i64>>()
    );
}
