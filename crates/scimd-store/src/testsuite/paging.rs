//! Deep index pages (RFC 7644 §3.4.2.4 `startIndex`) of plain listings, which backends
//! answer through their `seq_buckets` counts ([`crate::listing::SeekPlan`]): every page
//! must hold exactly the rows a plain `OFFSET` would, whatever creates, deletes, other
//! tenants, other kinds and imports did to those counts.
//!
//! The expected answer is computed independently: every row read through cursor pages
//! (keyset seeks on `seq`, which never read the counts), then sliced.

use std::collections::BTreeSet;

use scimd_core::schema::ResourceKind;
use serde_json::json;

use super::{doc, group, tenant, user};
use crate::listing::{SEEK_MIN_OFFSET, SEQ_BUCKET_BITS};
use crate::transfer::{ExportedResource, Transfer};
use crate::{Load, Page, Query, Store, StoreError, TenantExport, TenantId};

/// Writes in flight at once while seeding (so the SQLite writer commits them in groups and
/// PostgreSQL uses several connections).
const IN_FLIGHT: usize = 64;

/// Every `(seq, id)` of `kind` in `t`, in listing order, read through cursor pages.
pub async fn all_by_cursor<S: Store>(s: &S, t: TenantId, kind: ResourceKind) -> Vec<(i64, String)> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let q = Query {
            filter: None,
            sort: None,
            page: Page::Cursor {
                cursor: cursor.take(),
                count: 1000,
            },
            load: Load::NONE,
        };
        let page = s.query(t, kind, &q).await.unwrap();
        out.extend(page.resources.into_iter().map(|r| (r.seq, r.id)));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return out,
        }
    }
}

/// One plain index page: `totalResults` and the ids, in order.
async fn index_page<S: Store>(
    s: &S,
    t: TenantId,
    kind: ResourceKind,
    start_index: u64,
    count: u64,
) -> (u64, Vec<String>) {
    let q = Query {
        filter: None,
        sort: None,
        page: Page::Index { start_index, count },
        load: Load::NONE,
    };
    let page = s.query(t, kind, &q).await.unwrap();
    (
        page.total,
        page.resources.into_iter().map(|r| r.id).collect(),
    )
}

/// The offsets (`startIndex - 1`) worth checking in a listing of these rows: around the
/// seek threshold, around every bucket boundary, the last page, the end and beyond.
fn interesting_offsets(all: &[(i64, String)]) -> BTreeSet<u64> {
    let len = all.len() as u64;
    let mut offsets = BTreeSet::new();
    for o in [SEEK_MIN_OFFSET - 1, SEEK_MIN_OFFSET, SEEK_MIN_OFFSET + 1] {
        offsets.insert(o);
    }
    for (i, pair) in all.windows(2).enumerate() {
        if pair[0].0 >> SEQ_BUCKET_BITS != pair[1].0 >> SEQ_BUCKET_BITS {
            // Row i + 1 is the first of a new bucket.
            let first = i as u64 + 1;
            for o in [first.saturating_sub(50), first - 1, first, first + 1] {
                offsets.insert(o);
            }
        }
    }
    for o in [
        len.saturating_sub(100),
        len.saturating_sub(1),
        len,
        len + 1,
        len + 5000,
        1 << 40,
    ] {
        offsets.insert(o);
    }
    offsets
}

/// Asserts that every interesting index page of `kind` in `t` equals the slice of the
/// cursor walk; returns how many deep (seeking) pages were checked.
pub async fn assert_pages_exact<S: Store>(s: &S, t: TenantId, kind: ResourceKind) -> usize {
    let all = all_by_cursor(s, t, kind).await;
    let ids: Vec<&str> = all.iter().map(|(_, id)| id.as_str()).collect();
    let mut deep = 0;
    for offset in interesting_offsets(&all) {
        for count in [100_u64, 1] {
            let (total, got) = index_page(s, t, kind, offset + 1, count).await;
            assert_eq!(total, all.len() as u64, "totalResults at offset {offset}");
            let start = usize::try_from(offset).unwrap_or(usize::MAX).min(ids.len());
            let end = start.saturating_add(count as usize).min(ids.len());
            assert_eq!(
                got,
                ids[start..end],
                "{kind:?} page at startIndex {} count {count} (of {})",
                offset + 1,
                ids.len()
            );
        }
        if offset >= SEEK_MIN_OFFSET {
            deep += 1;
        }
    }
    deep
}

/// Seeds resources through the store API, `IN_FLIGHT` at a time.
async fn create_all<S: Store>(s: &S, writes: Vec<(TenantId, crate::NewResource)>) {
    let mut writes = writes.into_iter().peekable();
    while writes.peek().is_some() {
        let mut batch = tokio::task::JoinSet::new();
        for (t, r) in writes.by_ref().take(IN_FLIGHT) {
            let s = s.clone();
            batch.spawn(async move { s.create(t, r).await });
        }
        while let Some(done) = batch.join_next().await {
            done.unwrap().unwrap();
        }
    }
}

/// Deletes resources through the store API, `IN_FLIGHT` at a time.
async fn delete_all<S: Store>(s: &S, t: TenantId, kind: ResourceKind, ids: Vec<String>) {
    let mut ids = ids.into_iter().peekable();
    while ids.peek().is_some() {
        let mut batch = tokio::task::JoinSet::new();
        for id in ids.by_ref().take(IN_FLIGHT) {
            let s = s.clone();
            batch.spawn(async move { s.delete(t, kind, &id, None).await });
        }
        while let Some(done) = batch.join_next().await {
            done.unwrap().unwrap();
        }
    }
}

/// Deep index pages of a plain listing hold exactly the rows of a plain `OFFSET`: over
/// 10,000 Users in one tenant, interleaved with another tenant's Users and the tenant's own
/// Groups (so its rows are spread over several seq buckets, none full), after scattered
/// deletes; at the seek threshold, on, before and after every bucket boundary, on the last
/// page and beyond the end. Then a whole tenant is deleted and the other's pages still
/// hold.
pub async fn deep_index_pages_match_plain_offsets<S: Store>(s: &S) {
    let a = tenant(s, "acme").await;
    let b = tenant(s, "globex").await;
    let mut writes = Vec::new();
    for i in 0..14_800 {
        let w = if i % 4 == 3 {
            (b, user(&format!("b{i}"), &format!("b{i}"), json!({})))
        } else if i % 10 == 5 {
            (a, group(&format!("g{i}"), &format!("group {i}"), &[]))
        } else {
            (a, user(&format!("a{i}"), &format!("a{i}"), json!({})))
        };
        writes.push(w);
    }
    create_all(s, writes).await;
    let users = all_by_cursor(s, a, ResourceKind::User).await;
    assert!(users.len() > 10_000, "{} users", users.len());
    let buckets: BTreeSet<i64> = users
        .iter()
        .map(|(seq, _)| seq >> SEQ_BUCKET_BITS)
        .collect();
    assert!(buckets.len() >= 3, "users in buckets {buckets:?}");

    // A few hundred deletes, scattered over every bucket (most of them in the first, so
    // every later page depends on them being counted).
    let gone: Vec<String> = users
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 23 == 0 || (*i < 3000 && i % 17 == 0))
        .map(|(_, (_, id))| id.clone())
        .collect();
    assert!(gone.len() > 300, "{} deletes", gone.len());
    delete_all(s, a, ResourceKind::User, gone.clone()).await;
    let users_after = all_by_cursor(s, a, ResourceKind::User).await;
    assert_eq!(users_after.len(), users.len() - gone.len());

    let deep = assert_pages_exact(s, a, ResourceKind::User).await;
    assert!(deep >= 10, "only {deep} deep pages checked");
    assert_pages_exact(s, a, ResourceKind::Group).await;
    assert_pages_exact(s, b, ResourceKind::User).await;

    // Deleting a tenant takes its counts along; the other's pages are untouched, and a
    // tenant created afterwards starts from nothing.
    s.delete_tenant(b).await.unwrap();
    assert!(assert_pages_exact(s, a, ResourceKind::User).await >= 10);
    let c = tenant(s, "initech").await;
    let (total, page) = index_page(s, c, ResourceKind::User, SEEK_MIN_OFFSET + 1, 10).await;
    assert_eq!((total, page.len()), (0, 0));
}

/// A User to import: one row of a [`TenantExport`].
fn exported_user(i: usize) -> ExportedResource {
    let name = format!("imported{i}");
    ExportedResource {
        kind: ResourceKind::User,
        id: format!("i{i}"),
        version: 1,
        created: "2024-01-02T03:04:05.000Z".into(),
        modified: "2024-01-02T03:04:05.000Z".into(),
        unique_key: Some(name.clone()),
        external_id: None,
        display: Some(name.clone()),
        password_hash: None,
        document: doc(json!({ "userName": name })),
    }
}

/// An imported tenant (`scimd import`, a restore) pages deep exactly, also after creates
/// and deletes on top of the import; a failed import leaves no counts behind.
pub async fn imported_tenants_page_deep_exactly<S: Store + Transfer>(s: &S) {
    // Another tenant's rows first, so the import does not start at a bucket boundary.
    let other = tenant(s, "other").await;
    create_all(
        s,
        (0..300)
            .map(|i| (other, user(&format!("o{i}"), &format!("o{i}"), json!({}))))
            .collect(),
    )
    .await;
    let mut export = TenantExport {
        name: "restored".into(),
        settings: json!({}),
        created: "2024-01-01T00:00:00.000Z".into(),
        credentials: vec![],
        resources: (0..9_000).map(exported_user).collect(),
        members: vec![],
    };
    // Groups among the Users: another kind in the same seq ranges.
    for i in (0..9_000).step_by(40) {
        export.resources.insert(
            i,
            ExportedResource {
                kind: ResourceKind::Group,
                id: format!("g{i}"),
                unique_key: None,
                document: doc(json!({ "displayName": format!("group {i}") })),
                ..exported_user(i)
            },
        );
    }
    // A failed import (a duplicate userName at the very end) commits nothing.
    let mut broken = export.clone();
    broken.name = "broken".into();
    broken.resources.push(exported_user(0));
    assert!(matches!(
        s.import_tenant(&broken).await,
        Err(StoreError::UniqueViolation { .. })
    ));
    let t = s.import_tenant(&export).await.unwrap().id;
    assert!(assert_pages_exact(s, t, ResourceKind::User).await >= 5);
    assert_pages_exact(s, t, ResourceKind::Group).await;

    // Writes after the import adjust the imported counts.
    let users = all_by_cursor(s, t, ResourceKind::User).await;
    let gone: Vec<String> = users.iter().step_by(31).map(|(_, id)| id.clone()).collect();
    delete_all(s, t, ResourceKind::User, gone).await;
    create_all(
        s,
        (0..200)
            .map(|i| (t, user(&format!("n{i}"), &format!("n{i}"), json!({}))))
            .collect(),
    )
    .await;
    assert!(assert_pages_exact(s, t, ResourceKind::User).await >= 5);
    assert_pages_exact(s, other, ResourceKind::User).await;
}
