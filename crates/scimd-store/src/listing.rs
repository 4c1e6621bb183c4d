//! The SQL of one listing page (RFC 7644 §3.4.2): filter, sort, and index or cursor
//! pagination (RFC 9865), built once for every backend through its [`Dialect`]. The backends
//! only run the statements and assemble the rows.

use scimd_core::schema::{Registry, ResourceKind, ResourceType};

use crate::cursor::{Cursor, fingerprint};
use crate::sql::{
    Dialect, Scope, SqlBuilder, SqlValue, order_by, push_filter, push_keyset, sort_key,
};
use crate::{Page, Query, StoreError, TenantId};

/// The columns of `resources r` every listing selects, before `sort_value`.
pub const COLUMNS: &str =
    "r.seq, r.kind, r.id, r.version, r.created, r.modified, r.data, r.password_hash";

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
    /// Whether `sort_value` is numeric (else text or NULL).
    pub numeric_sort: bool,
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
            let order = order_by(key.as_ref(), false);
            let limit = b.bind(SqlValue::Int(clamp(*n)));
            let offset = b.bind(SqlValue::Int(clamp(start_index.saturating_sub(1))));
            let page = format!(
                "SELECT {COLUMNS}, {sort_value} AS sort_value {} {order} LIMIT {limit} OFFSET {offset}",
                b.sql()
            );
            Ok(ListingPlan {
                count,
                page,
                binds: b.finish().binds,
                cursor: None,
                numeric_sort,
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
                "SELECT {COLUMNS}, {sort_value} AS sort_value {} {order} LIMIT {limit}",
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
                numeric_sort,
            })
        }
    }
}
