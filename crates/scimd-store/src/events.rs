//! The transactional outbox: the events every committed change writes, in the same
//! transaction as the change, and the read API that the events endpoint and the webhook
//! dispatcher consume.
//!
//! An event says what happened to one resource of one tenant (`user.created`,
//! `group.member_added`, …) with the resource as the server renders it after the change.
//! Each tenant numbers its events with `seq`, a counter that only grows and follows commit
//! order: backends take the next numbers from a per-tenant counter row updated inside the
//! write transaction, so a reader that has seen `seq = n` will never later find an event
//! with a smaller number appear (no gaps are filled in behind a reader). On PostgreSQL this
//! serialises one tenant's writers on that row until commit; other tenants are unaffected.
//!
//! Writes reach the outbox through [`ChangeStore`]: the same operations as [`Store`]'s
//! `create`/`replace`/`update`/`delete`, plus a [`Change`] naming the actor, the request
//! and (optionally) the audit entry to commit with the write. The plain [`Store`] write
//! methods record no event; they serve tenant import (`crate::transfer`, which moves
//! resources, not history) and tests.
//!
//! Event types (the `type` string, [`EventKind::as_str`]):
//!
//! | type | when |
//! |---|---|
//! | `user.created` | a User was created |
//! | `user.updated` | attributes other than `active` and `password` changed |
//! | `user.deactivated` / `user.reactivated` | `active` went `true`→`false` / `false`→`true` (absent counts as `true`) |
//! | `user.password_changed` | a password was set (only when the tenant syncs passwords) |
//! | `user.deleted` | a User was deleted (its memberships go with it; no `group.member_removed` is written for them) |
//! | `group.created` | a Group was created (initial members are listed in `members`) |
//! | `group.renamed` | `displayName` changed |
//! | `group.updated` | attributes other than `displayName` and `members` changed |
//! | `group.member_added` / `group.member_removed` | membership rows were really inserted / deleted; one event per write listing the member ids |
//! | `group.deleted` | a Group was deleted |
//!
//! One write can produce several events (a PATCH that renames a group and adds a member
//! writes `group.renamed` then `group.member_added`); they get consecutive `seq`s.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use scimd_core::schema::ResourceKind;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::audit::AuditEntry;
use crate::error::StoreError;
use crate::records::{Document, Load, NewResource, Replacement, StoredResource, TenantId, Update};
use crate::store::Store;

/// What happened to a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventKind {
    UserCreated,
    UserUpdated,
    UserDeactivated,
    UserReactivated,
    UserPasswordChanged,
    UserDeleted,
    GroupCreated,
    GroupRenamed,
    GroupUpdated,
    GroupMemberAdded,
    GroupMemberRemoved,
    GroupDeleted,
}

impl EventKind {
    /// Every kind, in the order of the table in the module documentation.
    pub const ALL: [EventKind; 12] = [
        Self::UserCreated,
        Self::UserUpdated,
        Self::UserDeactivated,
        Self::UserReactivated,
        Self::UserPasswordChanged,
        Self::UserDeleted,
        Self::GroupCreated,
        Self::GroupRenamed,
        Self::GroupUpdated,
        Self::GroupMemberAdded,
        Self::GroupMemberRemoved,
        Self::GroupDeleted,
    ];

    /// The wire and stored name (`user.created`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserCreated => "user.created",
            Self::UserUpdated => "user.updated",
            Self::UserDeactivated => "user.deactivated",
            Self::UserReactivated => "user.reactivated",
            Self::UserPasswordChanged => "user.password_changed",
            Self::UserDeleted => "user.deleted",
            Self::GroupCreated => "group.created",
            Self::GroupRenamed => "group.renamed",
            Self::GroupUpdated => "group.updated",
            Self::GroupMemberAdded => "group.member_added",
            Self::GroupMemberRemoved => "group.member_removed",
            Self::GroupDeleted => "group.deleted",
        }
    }

    /// Parses [`EventKind::as_str`] output.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The kind of resource events of this kind are about.
    pub fn resource_kind(self) -> ResourceKind {
        match self {
            Self::UserCreated
            | Self::UserUpdated
            | Self::UserDeactivated
            | Self::UserReactivated
            | Self::UserPasswordChanged
            | Self::UserDeleted => ResourceKind::User,
            _ => ResourceKind::Group,
        }
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One committed change of one resource, as stored in the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// A UUID (version 7, [`crate::ids`]), unique across tenants: the idempotency key for
    /// consumers.
    pub id: String,
    pub tenant_id: TenantId,
    /// The tenant's name.
    pub tenant: String,
    /// Per tenant: starts at 1, only grows, follows commit order.
    pub seq: i64,
    pub kind: EventKind,
    pub resource_type: ResourceKind,
    pub resource_id: String,
    /// The resource after the change as the server renders it (`schemas`, `id`, attributes,
    /// `meta`), without the derived `members` (Groups) and `groups` (Users) lists, which can
    /// be large; membership changes are their own events. `None` for deletes.
    pub resource: Option<Value>,
    /// Canonical names of the changed attributes (URN-qualified for extension attributes;
    /// `members`, `password` included when they changed). Empty for creates and deletes.
    pub changed_attributes: Vec<String>,
    /// Member ids added or removed (`group.member_added` / `group.member_removed`, and the
    /// initial members of `group.created`); empty otherwise.
    pub members: Vec<String>,
    /// The label of the credential that made the change.
    pub actor: String,
    /// The request id (`X-Request-Id`) of the request that made the change.
    pub request_id: String,
    /// RFC 3339 UTC with milliseconds: when the change was written.
    pub time: String,
}

impl Event {
    /// The JSON form used by the events API (and available to webhook payloads).
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "id": self.id,
            "seq": self.seq,
            "type": self.kind.as_str(),
            "tenant": self.tenant,
            "time": self.time,
            "resourceType": self.resource_type.as_str(),
            "resourceId": self.resource_id,
            "resource": self.resource,
            "changedAttributes": self.changed_attributes,
            "members": self.members,
            "actor": self.actor,
            "requestId": self.request_id,
        })
    }
}

/// Renders a stored resource (loaded without members or groups) the way the server shows
/// it. Backends call it inside the write transaction to snapshot the resource into events;
/// it takes the resource by value so its attributes move into the output.
pub type Renderer = Arc<dyn Fn(StoredResource) -> Value + Send + Sync>;

/// Who made a write and what else commits with it.
#[derive(Clone, Default)]
pub struct Change {
    /// Credential label of the caller.
    pub actor: String,
    /// Request id of the HTTP request.
    pub request_id: String,
    /// The changed attributes as the PATCH engine computed them; `None` lets the backend
    /// compute them from the stored document before and after ([`diff_attributes`]).
    pub changed_attributes: Option<Vec<String>>,
    /// Renders the resource after the change into the events; without it `resource` is
    /// `None`.
    pub render: Option<Renderer>,
    /// An audit entry committed in the same transaction as the write (and not at all when
    /// the write fails).
    pub audit: Option<AuditEntry>,
}

impl std::fmt::Debug for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Change")
            .field("actor", &self.actor)
            .field("request_id", &self.request_id)
            .field("changed_attributes", &self.changed_attributes)
            .field("render", &self.render.is_some())
            .field("audit", &self.audit)
            .finish()
    }
}

/// An event before the backend numbers and stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub kind: EventKind,
    pub resource_type: ResourceKind,
    pub resource_id: String,
    pub resource: Option<Value>,
    pub changed_attributes: Vec<String>,
    pub members: Vec<String>,
}

/// What a backend observed while applying one write, inside its transaction.
#[derive(Debug, Clone, Default)]
pub struct WriteFacts {
    /// The stored document before the write (`None` for creates).
    pub before: Option<Document>,
    /// The resource after the write, loaded without members and groups (`None` for deletes).
    pub after: Option<StoredResource>,
    /// A password hash was written.
    pub password_set: bool,
    /// Ids of members whose rows were really inserted.
    pub members_added: Vec<String>,
    /// Ids of members whose rows were really deleted.
    pub members_removed: Vec<String>,
}

/// The events one write produces, in the order they are numbered. `kind`/`id` name the
/// resource written; `deleted` marks a delete.
pub fn derive_events(
    kind: ResourceKind,
    id: &str,
    deleted: bool,
    facts: &WriteFacts,
    change: &Change,
) -> Vec<NewEvent> {
    let resource = match (&facts.after, &change.render) {
        // One copy of the document, none of the member list (which can be long).
        (Some(after), Some(render)) => Some(render(StoredResource {
            seq: after.seq,
            kind: after.kind,
            id: after.id.clone(),
            version: after.version,
            created: after.created.clone(),
            modified: after.modified.clone(),
            document: after.document.clone(),
            document_text: None,
            members: None,
            groups: None,
            password_hash: None,
        })),
        _ => None,
    };
    let event = |k: EventKind, changed: Vec<String>, members: Vec<String>| NewEvent {
        kind: k,
        resource_type: kind,
        resource_id: id.to_owned(),
        resource: resource.clone(),
        changed_attributes: changed,
        members,
    };
    let mut out = Vec::new();
    if deleted {
        let k = match kind {
            ResourceKind::User => EventKind::UserDeleted,
            ResourceKind::Group => EventKind::GroupDeleted,
        };
        out.push(event(k, Vec::new(), Vec::new()));
        return out;
    }
    let Some(after) = &facts.after else {
        return out;
    };
    let Some(before) = &facts.before else {
        match kind {
            ResourceKind::User => out.push(event(EventKind::UserCreated, Vec::new(), Vec::new())),
            ResourceKind::Group => out.push(event(
                EventKind::GroupCreated,
                Vec::new(),
                facts.members_added.clone(),
            )),
        }
        return out;
    };
    let doc_changed = *before != after.document;
    let mut changed: Vec<String> = match &change.changed_attributes {
        Some(list) => list.clone(),
        None => diff_attributes(before, &after.document),
    };
    if !facts.members_added.is_empty() || !facts.members_removed.is_empty() {
        changed.push("members".into());
    }
    if facts.password_set {
        changed.push("password".into());
    }
    changed.sort();
    changed.dedup();
    match kind {
        ResourceKind::User => {
            if doc_changed {
                let was = is_active(before);
                let now = is_active(&after.document);
                if was && !now {
                    out.push(event(
                        EventKind::UserDeactivated,
                        changed.clone(),
                        Vec::new(),
                    ));
                } else if !was && now {
                    out.push(event(
                        EventKind::UserReactivated,
                        changed.clone(),
                        Vec::new(),
                    ));
                }
                let others = diff_attributes(before, &after.document)
                    .iter()
                    .any(|a| a != "active");
                if others {
                    out.push(event(EventKind::UserUpdated, changed.clone(), Vec::new()));
                }
            }
            if facts.password_set {
                out.push(event(EventKind::UserPasswordChanged, changed, Vec::new()));
            }
        }
        ResourceKind::Group => {
            if doc_changed {
                let diff = diff_attributes(before, &after.document);
                if before.get("displayName") != after.document.get("displayName") {
                    out.push(event(EventKind::GroupRenamed, changed.clone(), Vec::new()));
                }
                if diff.iter().any(|a| a != "displayName") {
                    out.push(event(EventKind::GroupUpdated, changed.clone(), Vec::new()));
                }
            }
            if !facts.members_added.is_empty() {
                out.push(event(
                    EventKind::GroupMemberAdded,
                    changed.clone(),
                    facts.members_added.clone(),
                ));
            }
            if !facts.members_removed.is_empty() {
                out.push(event(
                    EventKind::GroupMemberRemoved,
                    changed,
                    facts.members_removed.clone(),
                ));
            }
        }
    }
    out
}

/// For backends: the membership rows one PATCH really inserted and deleted, netted per member: a member
/// removed and added back in the same request (`replace` of `members` = clear + add) was a
/// member before and after, so it is reported neither as removed nor as added.
#[derive(Debug, Default)]
pub struct MemberDelta {
    /// Member seqs in the order first touched.
    order: Vec<i64>,
    /// Per member: (first operation inserted, last operation inserted).
    state: HashMap<i64, (bool, bool)>,
}

impl MemberDelta {
    /// Records rows inserted (`inserted`) or deleted by one operation.
    pub fn record(&mut self, seqs: Vec<i64>, inserted: bool) {
        for s in seqs {
            match self.state.get_mut(&s) {
                Some(st) => st.1 = inserted,
                None => {
                    self.order.push(s);
                    self.state.insert(s, (inserted, inserted));
                }
            }
        }
    }

    /// A row was inserted or deleted (the version changes even when the net is empty).
    pub fn touched(&self) -> bool {
        !self.order.is_empty()
    }

    /// (added, removed) member seqs, in the order first touched.
    pub fn net(self) -> (Vec<i64>, Vec<i64>) {
        let (mut added, mut removed) = (Vec::new(), Vec::new());
        for s in self.order {
            match self.state.get(&s) {
                // Absent before (first op inserted) and present after.
                Some((true, true)) => added.push(s),
                // Present before (first op deleted) and absent after.
                Some((false, false)) => removed.push(s),
                _ => {}
            }
        }
        (added, removed)
    }
}

/// `active` as SCIM reads it: absent (or not a boolean) counts as active.
fn is_active(doc: &Document) -> bool {
    doc.get("active").and_then(Value::as_bool).unwrap_or(true)
}

/// Names of the attributes that differ between two stored documents: top-level attribute
/// names, and `urn:…:attribute` for the attributes inside an extension object (keys
/// containing `:`), sorted. Used for PUT, where no PATCH engine computed the list.
pub fn diff_attributes(before: &Document, after: &Document) -> Vec<String> {
    let mut out = Vec::new();
    let keys: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    for key in keys {
        let (b, a) = (before.get(key), after.get(key));
        if b == a {
            continue;
        }
        match (key.contains(':'), b, a) {
            (true, Some(Value::Object(bo)), Some(Value::Object(ao))) => {
                let inner: std::collections::BTreeSet<&String> =
                    bo.keys().chain(ao.keys()).collect();
                for k in inner {
                    if bo.get(k) != ao.get(k) {
                        out.push(format!("{key}:{k}"));
                    }
                }
            }
            (true, Some(Value::Object(o)), None) | (true, None, Some(Value::Object(o))) => {
                out.extend(o.keys().map(|k| format!("{key}:{k}")));
            }
            _ => out.push(key.clone()),
        }
    }
    out.sort();
    out
}

/// A fresh event id (time-ordered, see [`crate::ids`]).
pub fn new_event_id() -> Result<String, StoreError> {
    crate::ids::new_time_ordered_id()
}

/// Writes that record their events (and optionally their audit entry) in the same
/// transaction as the change. Same contracts as the [`Store`] methods of the same name
/// without `_with`; a write that fails, or that changes nothing, writes no event.
pub trait ChangeStore: Store {
    /// [`Store::create`] plus `user.created` / `group.created`.
    fn create_with(
        &self,
        tenant: TenantId,
        resource: NewResource,
        change: &Change,
    ) -> impl Future<Output = Result<StoredResource, StoreError>> + Send;

    /// [`Store::replace`] plus the events of what really changed.
    #[allow(clippy::too_many_arguments)]
    fn replace_with(
        &self,
        tenant: TenantId,
        kind: ResourceKind,
        id: &str,
        expected_version: Option<i64>,
        replacement: Replacement,
        load: Load,
        change: &Change,
    ) -> impl Future<Output = Result<StoredResource, StoreError>> + Send;

    /// [`Store::update`] plus the events of what really changed.
    #[allow(clippy::too_many_arguments)]
    fn update_with(
        &self,
        tenant: TenantId,
        kind: ResourceKind,
        id: &str,
        expected_version: i64,
        update: Update,
        load: Load,
        change: &Change,
    ) -> impl Future<Output = Result<StoredResource, StoreError>> + Send;

    /// [`Store::delete`] plus `user.deleted` / `group.deleted`.
    fn delete_with(
        &self,
        tenant: TenantId,
        kind: ResourceKind,
        id: &str,
        expected_version: Option<i64>,
        change: &Change,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Reading the outbox. **Stable contract for the webhook dispatcher (issue 6 part B)**:
/// events of a tenant are read in `seq` order after a position the reader keeps; a reader
/// that has seen `seq = n` never finds a new event with `seq <= n` later.
pub trait EventStore: Store {
    /// Up to `limit` events of `tenant` with `seq > after_seq`, in `seq` order.
    fn events_after(
        &self,
        tenant: TenantId,
        after_seq: i64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Event>, StoreError>> + Send;

    /// The highest `seq` written so far for every tenant that has written an event (a cheap
    /// read of the per-tenant counters): a dispatcher compares it with its own positions to
    /// find tenants with work, and the events API long-poll uses it to notice new events.
    fn event_heads(&self) -> impl Future<Output = Result<Vec<(TenantId, i64)>, StoreError>> + Send;

    /// Deletes every event written before `before` (RFC 3339); returns how many. The
    /// retention task calls it with now − `events_retention_days`, which operators keep
    /// longer than the webhook retry period so no undelivered event is pruned.
    fn prune_events(&self, before: &str) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use super::*;
    use serde_json::json;

    fn doc(v: Value) -> Document {
        v.as_object().unwrap().clone()
    }

    fn stored(kind: ResourceKind, d: Value) -> StoredResource {
        StoredResource {
            seq: 1,
            kind,
            id: "x".into(),
            version: 2,
            created: "2026-01-01T00:00:00.000Z".into(),
            modified: "2026-01-01T00:00:00.000Z".into(),
            document: doc(d),
            document_text: None,
            members: None,
            groups: None,
            password_hash: None,
        }
    }

    fn kinds(events: &[NewEvent]) -> Vec<&'static str> {
        events.iter().map(|e| e.kind.as_str()).collect()
    }

    #[test]
    fn kind_names_round_trip() {
        for k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(EventKind::parse("user.exploded"), None);
    }

    #[test]
    fn deactivation_and_other_changes_are_separate_events() {
        let facts = WriteFacts {
            before: Some(doc(json!({"userName": "a", "active": true}))),
            after: Some(stored(
                ResourceKind::User,
                json!({"userName": "a", "active": false, "title": "x"}),
            )),
            password_set: true,
            ..WriteFacts::default()
        };
        let ev = derive_events(ResourceKind::User, "x", false, &facts, &Change::default());
        assert_eq!(
            kinds(&ev),
            ["user.deactivated", "user.updated", "user.password_changed"]
        );
        assert_eq!(ev[0].changed_attributes, ["active", "password", "title"]);
    }

    #[test]
    fn absent_active_counts_as_active() {
        let facts = WriteFacts {
            before: Some(doc(json!({"userName": "a", "active": false}))),
            after: Some(stored(ResourceKind::User, json!({"userName": "a"}))),
            ..WriteFacts::default()
        };
        let ev = derive_events(ResourceKind::User, "x", false, &facts, &Change::default());
        assert_eq!(kinds(&ev), ["user.reactivated"]);
    }

    #[test]
    fn group_rename_and_members() {
        let facts = WriteFacts {
            before: Some(doc(json!({"displayName": "a"}))),
            after: Some(stored(ResourceKind::Group, json!({"displayName": "b"}))),
            members_added: vec!["m1".into()],
            members_removed: vec!["m2".into()],
            ..WriteFacts::default()
        };
        let ev = derive_events(ResourceKind::Group, "x", false, &facts, &Change::default());
        assert_eq!(
            kinds(&ev),
            [
                "group.renamed",
                "group.member_added",
                "group.member_removed"
            ]
        );
        assert_eq!(ev[1].members, ["m1"]);
        assert_eq!(ev[2].members, ["m2"]);
    }

    #[test]
    fn nothing_changed_means_no_event() {
        let facts = WriteFacts {
            before: Some(doc(json!({"displayName": "a"}))),
            after: Some(stored(ResourceKind::Group, json!({"displayName": "a"}))),
            ..WriteFacts::default()
        };
        assert!(
            derive_events(ResourceKind::Group, "x", false, &facts, &Change::default()).is_empty()
        );
    }

    #[test]
    fn render_snapshots_without_derived_lists() {
        let render: Renderer =
            Arc::new(|r: StoredResource| json!({"id": r.id, "hasMembers": r.members.is_some()}));
        let mut after = stored(ResourceKind::Group, json!({"displayName": "a"}));
        after.members = Some(Vec::new());
        let facts = WriteFacts {
            after: Some(after),
            ..WriteFacts::default()
        };
        let change = Change {
            render: Some(render),
            ..Change::default()
        };
        let ev = derive_events(ResourceKind::Group, "x", false, &facts, &change);
        assert_eq!(kinds(&ev), ["group.created"]);
        assert_eq!(
            ev[0].resource,
            Some(json!({"id": "x", "hasMembers": false}))
        );
    }

    #[test]
    fn diff_names_extension_attributes() {
        let ext = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
        let before =
            doc(json!({"userName": "a", ext: {"department": "x", "manager": {"value": "m"}}}));
        let after =
            doc(json!({"userName": "b", ext: {"department": "y", "manager": {"value": "m"}}}));
        assert_eq!(
            diff_attributes(&before, &after),
            [format!("{ext}:department"), "userName".to_owned()]
        );
    }
}
