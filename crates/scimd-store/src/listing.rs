//! The SQL of one listing page (RFC 7644 §3.4.2): filter, sort, and index or cursor
//! pagination (RFC 9865), built once for every backend through its [`Dialect`]. The backends
//! only run the statements and assemble the rows.
//!
//! Deep index pages of a plain listing (no filter, no sort: what Okta's import requests page
//! after page) do not skip rows one by one. Every backend keeps `seq_buckets`, the number of
//! a tenant's resources of a kind per range of [`SEQ_BUCKET_SIZE`] consecutive `seq`s,
//! written in the same transaction as every create and delete. Reading those counts in the
//! page's own snapshot turns "skip `offset` rows" into "start at the first `seq` of the
//! bucket holding row `offset`, then skip the rows before it in that bucket" ([`SeekPlan`]):
//! the same rows, found in a few thousand index steps at any depth.

use scimd_core::filter::{CompValue, CompareOp, Filter};
use scimd_core::schema::{AttrLocation, Registry, ResourceKind, ResourceType, Uniqueness};

use crate::cursor::{Cursor, fingerprint};
use crate::sql::{
    Dialect, Scope, SqlBuilder, SqlValue, order_by, push_filter, push_keyset, sort_key,
};
use crate::{Page, Query, StoreError, TenantId};

/// The columns of `resources r` every listing selects, before `sort_value`.
pub const COLUMNS: &str =
    "r.seq, r.kind, r.id, r.version, r.created, r.modified, r.data, r.password_hash";

/// How many columns [`COLUMNS`] names: the index of a statement's first further column.
pub const COLUMN_COUNT: usize = 8;

/// `log2` of [`SEQ_BUCKET_SIZE`]: a resource counts in bucket `seq >> SEQ_BUCKET_BITS`.
pub const SEQ_BUCKET_BITS: u32 = 12;

/// Consecutive `seq`s per row of `seq_buckets` (4,096).
pub const SEQ_BUCKET_SIZE: i64 = 1 << SEQ_BUCKET_BITS;

/// The smallest offset (`startIndex - 1`) a plain index page seeks through `seq_buckets`
/// for; below it skipping rows costs less than reading the buckets.
pub const SEEK_MIN_OFFSET: u64 = 4096;

/// The SQL of one listing page.
#[derive(Debug, Clone, PartialEq)]
pub struct ListingPlan {
    /// `SELECT COUNT(*)` for a filtered listing; `None` reads `resource_counts`.
    pub count: Option<(String, Vec<SqlValue>)>,
    /// The page query: [`COLUMNS`], then `sort_value`.
    pub page: String,
    pub binds: Vec<SqlValue>,
    /// Set for cursor pages.
    pub cursor: Option<CursorPlan>,
    /// Set for deep plain index pages: two of `binds` the backend fills in from
    /// `seq_buckets`, read in the page's snapshot, before running `page`.
    pub seek: Option<SeekPlan>,
    /// Whether `sort_value` is numeric (else text or NULL).
    pub numeric_sort: bool,
    /// Whether the best plan of `count` and `page` is the same whatever the bound values
    /// ([`value_independent`]), so a backend that plans per execution may plan them once.
    pub value_independent: bool,
    /// Whether `page` also selects the listing's total (`COUNT(*) OVER ()`) as its last
    /// column, `total`, so that `count` runs only when [`ListingPlan::total_from_page`] says
    /// so. Done for value-independent listings where the dialect asks for it
    /// ([`Dialect::total_beside_page`]): they select a few rows, so counting them beside
    /// the page costs nothing, and the IdPs' lookup before every write takes one round trip
    /// to the database fewer.
    pub total_in_page: bool,
    /// Whether an empty page means an empty listing: the page starts at the first row and
    /// asks for at least one.
    pub empty_page_means_none: bool,
}

impl ListingPlan {
    /// The listing's total when `page` carried it ([`ListingPlan::total_in_page`]): the
    /// `total` column of the page's first row, or 0 for an empty page that started at the
    /// first row and asked for rows. `None` when `count` must run: no total in the page, or
    /// an empty page past the end (`startIndex` beyond the total) or of `count=0`, which
    /// says nothing about the rows.
    pub fn total_from_page(&self, first_row_total: Option<i64>) -> Option<i64> {
        if !self.total_in_page {
            return None;
        }
        match first_row_total {
            Some(total) => Some(total),
            None if self.empty_page_means_none => Some(0),
            None => None,
        }
    }
}

/// What a cursor page needs to build the next and previous cursors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CursorPlan {
    /// Reading the page before the cursor (rows come in reverse order).
    pub before: bool,
    /// A cursor was given (this is not the first page).
    pub given: bool,
    pub count: u64,
    pub fingerprint: u64,
}

/// A deep index page of a plain listing, ordered by `seq`: `page` reads
/// `… AND r.seq >= binds[seq_bind] … OFFSET binds[offset_bind]`, both placeholders until
/// [`SeekPlan::apply`] sets them from the tenant's `seq_buckets`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeekPlan {
    /// Index in [`ListingPlan::binds`] of the lowest `seq` to read from.
    pub seq_bind: usize,
    /// Index in [`ListingPlan::binds`] of the rows to skip from there.
    pub offset_bind: usize,
    /// Rows before the page in the whole listing (`startIndex - 1`).
    pub offset: u64,
}

impl SeekPlan {
    /// Where the page starts, given the tenant's buckets of this kind as `(bucket, n)` in
    /// ascending bucket order (each bucket at most once): the first `seq` of the bucket
    /// holding row `offset`, and how many rows of that bucket come before it. An offset at
    /// or beyond the total gives a position past every `seq` (an empty page).
    pub fn position(&self, buckets: impl IntoIterator<Item = (i64, i64)>) -> (i64, i64) {
        let mut before: u64 = 0;
        for (bucket, n) in buckets {
            // A count is never negative when the table is consistent; read one as empty.
            let n = u64::try_from(n).unwrap_or(0);
            let end = before.saturating_add(n);
            if self.offset < end {
                let first_seq = bucket.checked_mul(SEQ_BUCKET_SIZE).unwrap_or(i64::MAX);
                return (first_seq, clamp(self.offset - before));
            }
            before = end;
        }
        (i64::MAX, 0)
    }

    /// Sets the plan's two seek binds from the buckets (see [`SeekPlan::position`]).
    pub fn apply(&self, binds: &mut [SqlValue], buckets: impl IntoIterator<Item = (i64, i64)>) {
        let (first_seq, skip) = self.position(buckets);
        if let Some(b) = binds.get_mut(self.seq_bind) {
            *b = SqlValue::Int(first_seq);
        }
        if let Some(b) = binds.get_mut(self.offset_bind) {
            *b = SqlValue::Int(skip);
        }
    }
}

/// A count or offset as a bound integer (values beyond `i64` are clamped).
pub fn clamp(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Plans a listing of `kind` in `tenant`: every condition runs on the indexes the dialect's
/// schema defines, and the page seeks past the cursor's `(sort key, seq)` instead of
/// skipping rows.
pub fn plan_listing<D: Dialect>(
    dialect: D,
    registry: &Registry,
    rt: &ResourceType,
    tenant: TenantId,
    kind: ResourceKind,
    query: &Query,
) -> Result<ListingPlan, StoreError> {
    let value_independent = value_independent(registry, rt, query);
    let total_in_page = value_independent && dialect.total_beside_page();
    let empty_page_means_none = match &query.page {
        Page::Index { start_index, count } => *start_index <= 1 && *count > 0,
        Page::Cursor { cursor, count } => cursor.is_none() && *count > 0,
    };
    let total_column = if total_in_page {
        ", COUNT(*) OVER () AS total"
    } else {
        ""
    };
    let float_type = dialect.float_type();
    let mut b = SqlBuilder::new(dialect);
    let scope = Scope::bind(&mut b, registry, rt, tenant, kind);
    b.push(&format!(
        "FROM resources r WHERE r.tenant_id = {} AND r.kind = {}",
        scope.tenant, scope.kind_code
    ));
    if let Some(filter) = &query.filter {
        b.push(" AND ");
        push_filter(&mut b, &scope, filter)?;
    }
    let count = query.filter.is_some().then(|| {
        (
            format!("SELECT COUNT(*) AS n {}", b.sql()),
            b.binds().to_vec(),
        )
    });
    let key = query
        .sort
        .as_ref()
        .map(|spec| sort_key(&mut b, &scope, spec))
        .transpose()?;
    let numeric_sort = key.as_ref().is_some_and(|k| k.numeric);
    let sort_value = match &key {
        Some(k) if k.numeric => format!("CAST({} AS {float_type})", k.expr),
        Some(k) => k.expr.clone(),
        None => "NULL".to_owned(),
    };
    match &query.page {
        Page::Index {
            start_index,
            count: n,
        } => {
            let skip = start_index.saturating_sub(1);
            // Only in `seq` order do the bucket counts say where row `skip` is.
            let seek =
                (query.filter.is_none() && key.is_none() && skip >= SEEK_MIN_OFFSET).then(|| {
                    b.push(" AND r.seq >= ");
                    // Until the backend applies the buckets (`SeekPlan::apply`) the binds are
                    // `seq >= 0` and the whole offset: the plain page, correct but slow.
                    b.push_bind(SqlValue::Int(0));
                    b.binds().len().saturating_sub(1)
                });
            let order = order_by(key.as_ref(), false);
            let limit = b.bind(SqlValue::Int(clamp(*n)));
            let offset = b.bind(SqlValue::Int(clamp(skip)));
            let offset_bind = b.binds().len().saturating_sub(1);
            let page = format!(
                "SELECT {COLUMNS}, {sort_value} AS sort_value{total_column} {} {order} LIMIT {limit} OFFSET {offset}",
                b.sql()
            );
            Ok(ListingPlan {
                count,
                page,
                binds: b.finish().binds,
                cursor: None,
                seek: seek.map(|seq_bind| SeekPlan {
                    seq_bind,
                    offset_bind,
                    offset: skip,
                }),
                numeric_sort,
                value_independent,
                total_in_page,
                empty_page_means_none,
            })
        }
        Page::Cursor { cursor, count: n } => {
            let fp = fingerprint(kind, query.filter.as_ref(), query.sort.as_ref());
            let decoded = cursor.as_deref().map(Cursor::decode).transpose()?;
            let before = decoded.as_ref().is_some_and(|c| c.before);
            if let Some(c) = &decoded {
                if c.fingerprint != fp {
                    return Err(StoreError::InvalidCursor);
                }
                // Cursor values are floats for numeric sorts and text otherwise.
                let fits = match (&c.position.value, &key) {
                    (None, _) => true,
                    (Some(_), None) => false,
                    (Some(SqlValue::Text(_)), Some(k)) => !k.numeric,
                    (Some(SqlValue::Num(_)), Some(k)) => k.numeric,
                    (Some(SqlValue::Int(_)), Some(_)) => false,
                };
                if !fits {
                    return Err(StoreError::InvalidCursor);
                }
                b.push(" AND ");
                push_keyset(&mut b, key.as_ref(), &c.position, !c.before);
            }
            let order = order_by(key.as_ref(), before);
            // One row more than asked tells whether another page follows.
            let limit = b.bind(SqlValue::Int(clamp(n.saturating_add(1))));
            let page = format!(
                "SELECT {COLUMNS}, {sort_value} AS sort_value{total_column} {} {order} LIMIT {limit}",
                b.sql()
            );
            Ok(ListingPlan {
                count,
                page,
                binds: b.finish().binds,
                cursor: Some(CursorPlan {
                    before,
                    given: decoded.is_some(),
                    count: *n,
                    fingerprint: fp,
                }),
                seek: None,
                numeric_sort,
                value_independent,
                total_in_page,
                empty_page_means_none,
            })
        }
    }
}

/// Whether a listing's best plan is the same for every bound value: an unsorted index
/// page, or a cursor listing's first page, whose filter only compares
/// identifiers for equality — `id`, `externalId`, or an attribute the schema declares unique
/// (`userName`) — combined with `and`/`or`. Whatever the value, such a filter selects at
/// most a few rows through one index, so the plan made without the values is the plan made
/// with them. Anything else (ranges, patterns, presence, `not`, value paths, equality on a
/// low-cardinality attribute such as `active` or `emails.type`, sorts, keyset and seek
/// positions) can have a better plan for particular values and is planned per execution.
///
/// PostgreSQL uses this to skip planning the lookups IdPs send before every write
/// (`userName eq`, `externalId eq`): its plan cache keeps re-planning them for each value
/// once the table is large (measured: planning took 0.3–0.4 ms of a 0.1 ms lookup at
/// 200,000 users).
pub fn value_independent(registry: &Registry, rt: &ResourceType, query: &Query) -> bool {
    // An index page's offset is a bound value too, but it only skips matches.
    let no_position = match &query.page {
        Page::Index { .. } => true,
        Page::Cursor { cursor, .. } => cursor.is_none(),
    };
    no_position
        && query.sort.is_none()
        && query
            .filter
            .as_ref()
            .is_some_and(|f| identifier_equality(registry, rt, f))
}

fn identifier_equality(registry: &Registry, rt: &ResourceType, filter: &Filter) -> bool {
    match filter {
        Filter::And(a, b) | Filter::Or(a, b) => {
            identifier_equality(registry, rt, a) && identifier_equality(registry, rt, b)
        }
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } if *value != CompValue::Null => registry.resolve(rt, path).is_ok_and(|ra| {
            let leaf = ra.leaf();
            let common_identifier = ra.location == AttrLocation::Common
                && ra.sub.is_none()
                && matches!(ra.attr.name.as_str(), "id" | "externalId");
            common_identifier || leaf.uniqueness != Uniqueness::None
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use scimd_core::filter::parse_filter;
    use scimd_core::sort::{SortOrder, SortSpec};

    use super::*;
    use crate::Load;
    use crate::sql::Sqlite;

    #[test]
    fn column_count_matches_the_column_list() {
        assert_eq!(COLUMNS.split(',').count(), COLUMN_COUNT);
    }

    fn plan(filter: Option<&str>, sort: bool, page: Page) -> ListingPlan {
        let registry = Registry::builtin();
        let rt = registry.resource_type_of(ResourceKind::User).unwrap();
        let query = Query {
            filter: filter.map(|f| parse_filter(f).unwrap()),
            sort: sort.then(|| SortSpec {
                path: scimd_core::filter::parse_attr_path("userName").unwrap(),
                order: SortOrder::Ascending,
            }),
            page,
            load: Load::NONE,
        };
        plan_listing(
            Sqlite,
            &registry,
            rt,
            TenantId(7),
            ResourceKind::User,
            &query,
        )
        .unwrap()
    }

    fn index(start_index: u64) -> Page {
        Page::Index {
            start_index,
            count: 100,
        }
    }

    #[test]
    fn only_deep_plain_index_pages_seek() {
        let deep = plan(None, false, index(SEEK_MIN_OFFSET + 1));
        let seek = deep.seek.unwrap();
        assert_eq!(seek.offset, SEEK_MIN_OFFSET);
        assert!(
            deep.page
                .contains(&format!("AND r.seq >= ?{}", seek.seq_bind + 1))
        );
        assert!(
            deep.page
                .ends_with(&format!("OFFSET ?{}", seek.offset_bind + 1))
        );
        assert!(deep.page.contains("ORDER BY r.seq ASC"));
        assert_eq!(deep.count, None);

        let shallow = plan(None, false, index(SEEK_MIN_OFFSET));
        assert_eq!(shallow.seek, None);
        assert!(!shallow.page.contains("r.seq >="));
        let filtered = plan(Some("title pr"), false, index(100_000));
        assert_eq!(filtered.seek, None);
        let sorted = plan(None, true, index(100_000));
        assert_eq!(sorted.seek, None);
        let cursor = plan(
            None,
            false,
            Page::Cursor {
                cursor: None,
                count: 10,
            },
        );
        assert_eq!(cursor.seek, None);
    }

    #[test]
    fn seek_binds_come_from_the_bucket_holding_the_offset() {
        let at = |offset: u64, buckets: &[(i64, i64)]| {
            SeekPlan {
                seq_bind: 0,
                offset_bind: 1,
                offset,
            }
            .position(buckets.iter().copied())
        };
        // Buckets 0, 2, 3 hold 10, 5 and 7 rows; bucket 1 holds none (no row) and bucket 4
        // is an emptied row.
        let buckets = [(0, 10), (2, 5), (3, 7), (4, 0)];
        assert_eq!(at(0, &buckets), (0, 0));
        assert_eq!(at(9, &buckets), (0, 9));
        // Exactly at a boundary: the first row of the next non-empty bucket.
        assert_eq!(at(10, &buckets), (2 * SEQ_BUCKET_SIZE, 0));
        assert_eq!(at(14, &buckets), (2 * SEQ_BUCKET_SIZE, 4));
        assert_eq!(at(15, &buckets), (3 * SEQ_BUCKET_SIZE, 0));
        assert_eq!(at(21, &buckets), (3 * SEQ_BUCKET_SIZE, 6));
        // At or beyond the total: past every seq.
        assert_eq!(at(22, &buckets), (i64::MAX, 0));
        assert_eq!(at(u64::MAX, &buckets), (i64::MAX, 0));
        assert_eq!(at(0, &[]), (i64::MAX, 0));
        // A negative count (never written) is read as empty.
        assert_eq!(at(3, &[(0, -5), (1, 4)]), (SEQ_BUCKET_SIZE, 3));

        let mut binds = vec![SqlValue::Int(0), SqlValue::Int(0), SqlValue::Int(100)];
        SeekPlan {
            seq_bind: 0,
            offset_bind: 1,
            offset: 12,
        }
        .apply(&mut binds, buckets);
        assert_eq!(
            binds,
            [
                SqlValue::Int(2 * SEQ_BUCKET_SIZE),
                SqlValue::Int(2),
                SqlValue::Int(100)
            ]
        );
    }

    #[test]
    fn only_unsorted_identifier_equalities_without_a_position_are_value_independent() {
        for filter in [
            "userName eq \"bjensen\"",
            "USERNAME eq \"bjensen\"",
            "urn:ietf:params:scim:schemas:core:2.0:User:userName eq \"bjensen\"",
            "externalId eq \"00u1\"",
            "id eq \"2819c223\"",
            "userName eq \"a\" or userName eq \"b\"",
            "externalId eq \"x\" and userName eq \"a\"",
        ] {
            assert!(
                plan(Some(filter), false, index(1)).value_independent,
                "{filter}"
            );
        }
        for filter in [
            "userName ne \"bjensen\"",
            "userName sw \"b\"",
            "userName gt \"b\"",
            "userName pr",
            "userName eq null",
            "not (userName eq \"b\")",
            "active eq true",
            "displayName eq \"Babs\"",
            "emails.value eq \"b@example.com\"",
            "emails[value eq \"b@example.com\"]",
            "meta.created eq \"2020-01-01T00:00:00Z\"",
            "userName eq \"a\" and active eq true",
            "userName eq \"a\" or title eq \"b\"",
        ] {
            assert!(
                !plan(Some(filter), false, index(1)).value_independent,
                "{filter}"
            );
        }
        let lookup = Some("userName eq \"bjensen\"");
        assert!(!plan(None, false, index(1)).value_independent);
        assert!(!plan(lookup, true, index(1)).value_independent);
        let first_cursor = || Page::Cursor {
            cursor: None,
            count: 10,
        };
        let later = plan(lookup, false, first_cursor());
        assert!(later.value_independent);
        let next = Page::Cursor {
            cursor: Some(
                Cursor {
                    position: crate::sql::Position {
                        value: None,
                        seq: 5,
                    },
                    before: false,
                    fingerprint: later.cursor.unwrap().fingerprint,
                }
                .encode(),
            ),
            count: 10,
        };
        assert!(!plan(lookup, false, next).value_independent);
    }

    #[test]
    fn lookups_carry_their_total_where_the_dialect_asks() {
        let registry = Registry::builtin();
        let rt = registry.resource_type_of(ResourceKind::User).unwrap();
        let query = |filter: &str, start_index: u64| Query {
            filter: Some(parse_filter(filter).unwrap()),
            sort: None,
            page: index(start_index),
            load: Load::NONE,
        };
        let postgres = |q: &Query| {
            plan_listing(
                crate::sql::Postgres,
                &registry,
                rt,
                TenantId(7),
                ResourceKind::User,
                q,
            )
            .unwrap()
        };
        let lookup = postgres(&query("userName eq \"b\"", 1));
        assert!(lookup.total_in_page && lookup.empty_page_means_none);
        assert!(
            lookup.page.contains("COUNT(*) OVER () AS total"),
            "{}",
            lookup.page
        );
        assert!(
            lookup.count.is_some(),
            "the count stays for pages past the end"
        );
        assert_eq!(lookup.total_from_page(Some(4)), Some(4));
        assert_eq!(lookup.total_from_page(None), Some(0));
        let later = postgres(&query("userName eq \"b\"", 3));
        assert!(later.total_in_page && !later.empty_page_means_none);
        assert_eq!(later.total_from_page(Some(4)), Some(4));
        assert_eq!(later.total_from_page(None), None);
        let only_total = postgres(&Query {
            page: Page::Index {
                start_index: 1,
                count: 0,
            },
            ..query("userName eq \"b\"", 1)
        });
        assert!(only_total.total_in_page && !only_total.empty_page_means_none);
        assert_eq!(only_total.total_from_page(None), None);
        let range = postgres(&query("userName gt \"b\"", 1));
        assert!(!range.total_in_page);
        assert!(!range.page.contains("OVER"));
        assert_eq!(range.total_from_page(Some(4)), None);
        let sqlite = plan(Some("userName eq \"b\""), false, index(1));
        assert!(sqlite.value_independent && !sqlite.total_in_page);
        assert!(!sqlite.page.contains("OVER"));
    }
}
