//! Listing and searching (RFC 7644 §3.4.2 and §3.4.3; cursors per RFC 9865).
//!
//! The same `scimd_core::message::ListQuery` comes from GET query parameters (names case-insensitive) or a
//! POST `.search` body. Filtering, sorting, counting and paging all run in the store; this
//! module parses, clamps (`startIndex < 1` → 1, negative `count` → 0, `count` capped at
//! `max_page_size`) and assembles the ListResponse.
//!
//! Root-level search (`POST /.search`) covers Users and Groups: results are all matching
//! Users, then all matching Groups, each part in its own stable order (the `sortBy` order
//! when given, else creation order). `totalResults` is the sum; index pagination runs
//! over the concatenation. A filter that cannot apply to one type (e.g. `userName` for
//! Groups) matches nothing of that type; only if it applies to neither is it an error.
//! Cursor pagination is offered per resource type, not at the root.

use crate::state::ServerStore;
use scimd_core::filter::{self, Filter};
use scimd_core::message::{ListQuery, ListResponse};
use scimd_core::projection::Projection;
use scimd_core::schema::ResourceKind;
use scimd_core::sort::{self, SortSpec};
use scimd_store::{Page, Query};
use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::service::Service;

/// `count` clamped: absent → the default page size, capped at the maximum (`ListQuery`
/// has already turned a negative count into 0 and a `startIndex` below 1 into 1).
pub fn page_size(q: &ListQuery, default: u64, max: u64) -> u64 {
    q.count.unwrap_or(default).min(max)
}

/// `startIndex`, at least 1.
pub fn start(q: &ListQuery) -> u64 {
    q.start_index.unwrap_or(1).max(1)
}

fn projection(q: &ListQuery) -> ApiResult<Projection> {
    Ok(Projection::parse(
        q.attributes.as_deref(),
        q.excluded_attributes.as_deref(),
    )?)
}

fn parsed_filter(q: &ListQuery) -> ApiResult<Option<Filter>> {
    Ok(q.filter.as_deref().map(filter::parse_filter).transpose()?)
}

fn parsed_sort(q: &ListQuery) -> ApiResult<Option<SortSpec>> {
    Ok(q.sort_by
        .as_deref()
        .map(|by| SortSpec::parse(by, q.sort_order))
        .transpose()?)
}

/// Lists one resource type.
pub async fn list<S: ServerStore>(
    svc: &Service<'_, S>,
    kind: ResourceKind,
    req: &ListQuery,
    default_count: u64,
    max_count: u64,
) -> ApiResult<String> {
    let projection = projection(req)?;
    let load = svc.read_load_for(kind, &projection)?;
    let rt = svc.resource_type(kind)?;
    let filter = parsed_filter(req)?;
    if let Some(f) = &filter {
        filter::validate(svc.registry(), rt, f)?;
    }
    let sort = parsed_sort(req)?;
    if let Some(s) = &sort {
        sort::check(svc.registry(), rt, s)?;
    }
    let count = page_size(req, default_count, max_count);
    let page = match &req.cursor {
        Some(c) => Page::Cursor {
            cursor: Some(c.clone()).filter(|c| !c.is_empty()),
            count,
        },
        None => Page::Index {
            start_index: start(req),
            count,
        },
    };
    let cursor_mode = matches!(page, Page::Cursor { .. });
    let result = svc
        .query(
            kind,
            &Query {
                filter,
                sort,
                page,
                load,
            },
        )
        .await?;
    let resources = result
        .resources
        .into_iter()
        .map(|r| svc.render_text(r, &projection))
        .collect::<ApiResult<Vec<_>>>()?;
    let envelope = ListResponse {
        total_results: result.total,
        start_index: (!cursor_mode).then(|| start(req)),
        items_per_page: resources.len(),
        resources: Vec::new(),
        next_cursor: result.next_cursor,
        previous_cursor: result.previous_cursor,
    };
    with_resources(&envelope, &resources)
}

/// The text of a ListResponse whose `Resources` are `resources`, each already serialized;
/// `envelope` holds none (its serialization ends with `"Resources":[]}`).
fn with_resources(envelope: &ListResponse, resources: &[String]) -> ApiResult<String> {
    let text = serde_json::to_string(envelope).map_err(ApiError::internal)?;
    let head = text
        .strip_suffix("[]}")
        .ok_or_else(|| ApiError::internal("a ListResponse must end with its Resources"))?;
    let mut out = String::with_capacity(
        head.len() + resources.iter().map(|r| r.len() + 1).sum::<usize>() + 2,
    );
    out.push_str(head);
    out.push('[');
    for (i, resource) in resources.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(resource);
    }
    out.push_str("]}");
    Ok(out)
}

/// `POST /.search` at the root: Users then Groups (see the module documentation).
pub async fn search_all<S: ServerStore>(
    svc: &Service<'_, S>,
    req: &ListQuery,
    default_count: u64,
    max_count: u64,
) -> ApiResult<Value> {
    if req.cursor.is_some() {
        return Err(scimd_core::Error::invalid_value(
            "cursor pagination is available on /Users and /Groups, not at the root",
        )
        .into());
    }
    let projection = projection(req)?;
    let parsed = parsed_filter(req)?;
    let sort = parsed_sort(req)?;
    let start = start(req);
    let count = page_size(req, default_count, max_count);

    // Per kind: the filter (if it applies to this type) or None when the type is skipped.
    let mut plans: Vec<(ResourceKind, Option<Filter>, Option<SortSpec>)> = Vec::new();
    let mut first_error = None;
    for kind in [ResourceKind::User, ResourceKind::Group] {
        let rt = svc.resource_type(kind)?;
        if let Some(f) = &parsed
            && let Err(e) = filter::validate(svc.registry(), rt, f)
        {
            first_error.get_or_insert(e);
            continue;
        }
        // A sort attribute that does not exist for a type leaves that type in insertion order.
        let kind_sort = sort
            .clone()
            .filter(|s| sort::check(svc.registry(), rt, s).is_ok());
        plans.push((kind, parsed.clone(), kind_sort));
    }
    if plans.is_empty()
        && let Some(e) = first_error
    {
        return Err(e.into());
    }

    let mut total: u64 = 0;
    let mut resources = Vec::new();
    for (kind, filter, sort) in plans {
        let load = svc.load_for(kind, &projection)?;
        // Results of earlier kinds occupy positions 1..=total of the concatenation, so this
        // kind's part of the page starts at `start - total` (at least 1) and holds what the
        // page still has room for. A zero count still returns this kind's total.
        let room = count.saturating_sub(u64::try_from(resources.len()).unwrap_or(u64::MAX));
        let result = svc
            .query(
                kind,
                &Query {
                    filter,
                    sort,
                    page: Page::Index {
                        start_index: start.saturating_sub(total).max(1),
                        count: room,
                    },
                    load,
                },
            )
            .await?;
        total = total.saturating_add(result.total);
        for r in result.resources {
            resources.push(svc.render(r, &projection)?);
        }
    }
    Ok(ListResponse {
        total_results: total,
        start_index: Some(start),
        items_per_page: resources.len(),
        resources,
        next_cursor: None,
        previous_cursor: None,
    }
    .into_json())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;
    use scimd_core::message::SortOrder;

    #[test]
    fn clamps_start_and_count() {
        let q = ListQuery::from_pairs([("startIndex", "0"), ("count", "-5")]).unwrap();
        assert_eq!(start(&q), 1);
        assert_eq!(page_size(&q, 100, 1000), 0);
        let q = ListQuery::from_pairs([("COUNT", "5000")]).unwrap();
        assert_eq!(page_size(&q, 100, 1000), 1000);
        assert_eq!(page_size(&ListQuery::default(), 100, 1000), 100);
    }

    #[test]
    fn resources_are_spliced_into_the_envelope() {
        let envelope = ListResponse {
            total_results: 2,
            start_index: Some(1),
            items_per_page: 2,
            ..ListResponse::default()
        };
        let resources = [r#"{"id":"a"}"#.to_owned(), r#"{"id":"b"}"#.to_owned()];
        let text = with_resources(&envelope, &resources).unwrap();
        let expected = ListResponse {
            resources: vec![
                serde_json::json!({"id": "a"}),
                serde_json::json!({"id": "b"}),
            ],
            ..envelope.clone()
        };
        assert_eq!(text, serde_json::to_string(&expected).unwrap());
        assert_eq!(
            with_resources(&envelope, &[]).unwrap(),
            serde_json::to_string(&envelope).unwrap()
        );
    }

    #[test]
    fn sort_parses_order() {
        let q =
            ListQuery::from_pairs([("sortBy", "userName"), ("sortOrder", "descending")]).unwrap();
        let s = parsed_sort(&q).unwrap().unwrap();
        assert_eq!(s.order, SortOrder::Descending);
        assert_eq!(s.path.name, "userName");
    }
}
