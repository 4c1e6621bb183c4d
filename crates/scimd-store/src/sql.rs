//! Translation of SCIM filters (RFC 7644 §3.4.2.2) into dialect-neutral SQL conditions.
//!
//! A filter becomes a boolean SQL expression over the `resources r` row, with every value
//! bound, never interpolated. Each comparison is answered by the index: either a column of
//! `resources` (`id`, `externalId`, `meta.created`, `meta.lastModified`) or
//!
//! ```sql
//! r.seq IN (SELECT ai.seq FROM attr_index ai
//!           WHERE ai.tenant_id = ?1 AND ai.kind = ?2 AND ai.path = ? AND ai.v_text = ?)
//! ```
//!
//! which runs on the `(tenant_id, kind, path, v_text)` / `(…, v_num)` indexes. Operand keys
//! come from [`comp_key`] and stored keys from [`crate::index`], both built on
//! `scimd_core::filter::key`, so SQL and the in-memory evaluator compare the same values.
//!
//! Semantics (docs/ARCHITECTURE.md "Filters"): a comparison on a multi-valued attribute
//! matches if any value matches; `ne` is `not eq`; `eq null` is `not pr`; a comparison on a
//! complex attribute compares its `value`. Every generated expression is two-valued (never
//! SQL NULL), so `NOT` means exactly "not". Value paths (`emails[type eq "work" and value
//! eq "x"]`) correlate on the element number, so both conditions hold for one element.
//! Group `members` and User `groups` are answered from the `members` table joined with
//! the member's (or group's) resource row.

use scimd_core::Error;
use scimd_core::filter::{AttrPath, CompValue, CompareOp, Filter, Key, comp_key};
use scimd_core::schema::{
    AttrLocation, AttributeDef, AttributeType, Registry, ResolvedAttr, ResourceKind, ResourceType,
};

use crate::error::StoreError;
use crate::index::{index_path, key_columns};
use crate::records::TenantId;

/// Maximum nesting of `not`, value paths and alternating `and`/`or` the translator follows.
/// The parser's own budget is lower; this guards filters built in code.
pub const MAX_FILTER_DEPTH: usize = 100;

/// Maximum number of comparisons in one filter (SQLite allows 32 766 bound values).
pub const MAX_FILTER_TERMS: usize = 1000;

/// The integer stored in the `kind` columns.
pub fn kind_code(kind: ResourceKind) -> i64 {
    match kind {
        ResourceKind::User => 1,
        ResourceKind::Group => 2,
    }
}

/// The kind of a `kind` column value.
pub fn kind_from_code(code: i64) -> Option<ResourceKind> {
    match code {
        1 => Some(ResourceKind::User),
        2 => Some(ResourceKind::Group),
        _ => None,
    }
}

/// A value bound to a placeholder.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Text(String),
    Num(f64),
    Int(i64),
}

/// A SQL condition and its bound values; placeholder `n` (1-based) is `binds[n - 1]`.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlCondition {
    pub sql: String,
    pub binds: Vec<SqlValue>,
}

/// What differs between SQL databases in the generated text.
///
/// Text comparisons assume binary (code point) collation, which is SQLite's default and
/// PostgreSQL's `COLLATE "C"`: that is the order `scimd_core::filter::Key` uses.
pub trait Dialect {
    /// The placeholder of bound value `n` (1-based): `?1` (SQLite), `$1` (PostgreSQL).
    fn placeholder(&self, n: usize) -> String;
    /// A condition that `needle` occurs in `haystack` (both SQL expressions), case-sensitively.
    fn contains(&self, haystack: &str, needle: &str) -> String;
    /// A condition that `haystack` ends with `needle`, case-sensitively.
    fn ends_with(&self, haystack: &str, needle: &str) -> String;
    /// The SQL type numeric sort keys are cast to (`REAL`, `double precision`).
    fn float_type(&self) -> &'static str;
    /// Whether a lookup's page should carry its total (`COUNT(*) OVER ()`) instead of a
    /// separate count statement ([`crate::listing::ListingPlan::total_in_page`]): worth it
    /// where each statement is a network round trip, not where it is a function call.
    fn total_beside_page(&self) -> bool;
}

/// SQLite.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sqlite;

impl Dialect for Sqlite {
    fn placeholder(&self, n: usize) -> String {
        format!("?{n}")
    }
    fn float_type(&self) -> &'static str {
        "REAL"
    }
    fn total_beside_page(&self) -> bool {
        // In process a second statement is a function call, not a round trip, and the window
        // form's plan adds a co-routine and a sort.
        false
    }
    fn contains(&self, haystack: &str, needle: &str) -> String {
        // instr() is case-sensitive, unlike LIKE (which folds ASCII case in SQLite).
        format!("instr({haystack}, {needle}) > 0")
    }
    fn ends_with(&self, haystack: &str, needle: &str) -> String {
        // substr() with a start <= 0 counts from the right in SQLite, hence the length guard.
        format!(
            "(length({haystack}) >= length({needle}) AND substr({haystack}, length({haystack}) - length({needle}) + 1) = {needle})"
        )
    }
}

/// PostgreSQL.
#[derive(Debug, Clone, Copy, Default)]
pub struct Postgres;

impl Dialect for Postgres {
    fn placeholder(&self, n: usize) -> String {
        format!("${n}")
    }
    fn float_type(&self) -> &'static str {
        "double precision"
    }
    fn total_beside_page(&self) -> bool {
        true
    }
    fn contains(&self, haystack: &str, needle: &str) -> String {
        format!("strpos({haystack}, {needle}) > 0")
    }
    fn ends_with(&self, haystack: &str, needle: &str) -> String {
        format!("right({haystack}, length({needle})) = {needle}")
    }
}

/// Accumulates SQL text and bound values.
#[derive(Debug)]
pub struct SqlBuilder<D: Dialect> {
    dialect: D,
    sql: String,
    binds: Vec<SqlValue>,
    aliases: usize,
}

impl<D: Dialect> SqlBuilder<D> {
    /// An empty builder.
    pub fn new(dialect: D) -> Self {
        Self {
            dialect,
            sql: String::new(),
            binds: Vec::new(),
            aliases: 0,
        }
    }

    /// The dialect.
    pub fn dialect(&self) -> &D {
        &self.dialect
    }

    /// Appends SQL text (never a value).
    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    /// Binds a value and returns its placeholder, which may be used several times.
    pub fn bind(&mut self, value: SqlValue) -> String {
        self.binds.push(value);
        self.dialect.placeholder(self.binds.len())
    }

    /// Binds a value and appends its placeholder.
    pub fn push_bind(&mut self, value: SqlValue) -> &mut Self {
        let p = self.bind(value);
        self.sql.push_str(&p);
        self
    }

    /// The SQL so far.
    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// The bound values so far.
    pub fn binds(&self) -> &[SqlValue] {
        &self.binds
    }

    /// A fresh table alias (`a1`, `a2`, …) for a nested subquery.
    pub fn alias(&mut self, prefix: &str) -> String {
        self.aliases += 1;
        format!("{prefix}{}", self.aliases)
    }

    /// The finished SQL and values.
    pub fn finish(self) -> SqlCondition {
        SqlCondition {
            sql: self.sql,
            binds: self.binds,
        }
    }
}

/// What a filter is translated against: the resource type, and the placeholders already
/// bound to the tenant id and kind code (reused by every subquery).
#[derive(Debug, Clone)]
pub struct Scope<'a> {
    pub registry: &'a Registry,
    pub rt: &'a ResourceType,
    pub kind: ResourceKind,
    /// Placeholder bound to the tenant id.
    pub tenant: String,
    /// Placeholder bound to [`kind_code`] of `kind`.
    pub kind_code: String,
}

impl<'a> Scope<'a> {
    /// Binds the tenant id and kind code in `b` and returns the scope using them.
    pub fn bind<D: Dialect>(
        b: &mut SqlBuilder<D>,
        registry: &'a Registry,
        rt: &'a ResourceType,
        tenant: TenantId,
        kind: ResourceKind,
    ) -> Self {
        let tenant = b.bind(SqlValue::Int(tenant.0));
        let kind_code = b.bind(SqlValue::Int(kind_code(kind)));
        Self {
            registry,
            rt,
            kind,
            tenant,
            kind_code,
        }
    }
}

/// Translates `filter` into a condition on `resources r` of `tenant`'s resources of `rt`.
/// Placeholders 1 and 2 are the tenant id and kind code; the caller's query may use them.
pub fn filter_condition<D: Dialect>(
    dialect: D,
    registry: &Registry,
    rt: &ResourceType,
    tenant: TenantId,
    filter: &Filter,
) -> Result<SqlCondition, StoreError> {
    let mut b = SqlBuilder::new(dialect);
    let scope = Scope::bind(&mut b, registry, rt, tenant, registry.kind(rt));
    push_filter(&mut b, &scope, filter)?;
    Ok(b.finish())
}

/// Appends the condition for `filter` to `b`.
pub fn push_filter<D: Dialect>(
    b: &mut SqlBuilder<D>,
    scope: &Scope<'_>,
    filter: &Filter,
) -> Result<(), StoreError> {
    let mut t = Translator { scope, terms: 0 };
    t.filter(b, filter, 0)
}

fn invalid(message: impl Into<String>) -> StoreError {
    StoreError::Scim(Error::invalid_filter(0, message))
}

/// Resolution errors are `invalidPath` in the registry; in a filter they are `invalidFilter`.
fn as_filter_error(e: Error) -> StoreError {
    match e {
        Error::InvalidPath(m) => invalid(m),
        other => StoreError::Scim(other),
    }
}

/// The smallest string greater than every string that starts with `prefix`, if any.
/// With code point order, `s` starts with `prefix` iff `prefix <= s < bound`.
pub fn prefix_upper_bound(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        if last == char::MAX {
            continue;
        }
        let next = match last as u32 + 1 {
            0xD800 => '\u{E000}',
            n => char::from_u32(n)?,
        };
        chars.push(next);
        return Some(chars.into_iter().collect());
    }
    None
}

/// How a comparison operand is bound.
enum Operand {
    Text(String),
    Num(SqlValue),
}

fn operand(key: Key, as_int: bool) -> Operand {
    match key {
        Key::Time(t) if as_int => Operand::Num(SqlValue::Int(t)),
        other => match key_columns(other) {
            (Some(text), _) => Operand::Text(text),
            (None, Some(n)) => Operand::Num(SqlValue::Num(n)),
            // key_columns always fills one column.
            (None, None) => Operand::Num(SqlValue::Num(0.0)),
        },
    }
}

fn sql_op(op: CompareOp) -> &'static str {
    match op {
        CompareOp::Gt => ">",
        CompareOp::Ge => ">=",
        CompareOp::Lt => "<",
        CompareOp::Le => "<=",
        _ => "=",
    }
}

/// Appends `col op value` for a non-null column expression (`op` is never `ne`).
fn push_value_cond<D: Dialect>(
    b: &mut SqlBuilder<D>,
    text_col: &str,
    num_col: &str,
    op: CompareOp,
    value: Operand,
) {
    match value {
        Operand::Num(v) => {
            let p = b.bind(v);
            b.push(&format!("{num_col} {} {p}", sql_op(op)));
        }
        Operand::Text(s) => match op {
            CompareOp::Co if s.is_empty() => {
                b.push(&format!("{text_col} IS NOT NULL"));
            }
            CompareOp::Co => {
                let p = b.bind(SqlValue::Text(s));
                let c = b.dialect().contains(text_col, &p);
                b.push(&c);
            }
            CompareOp::Ew => {
                let p = b.bind(SqlValue::Text(s));
                let c = b.dialect().ends_with(text_col, &p);
                b.push(&c);
            }
            CompareOp::Sw => {
                // A range, so the (…, path, v_text) index answers it.
                let upper = prefix_upper_bound(&s);
                let lo = b.bind(SqlValue::Text(s));
                b.push(&format!("{text_col} >= {lo}"));
                if let Some(upper) = upper {
                    let hi = b.bind(SqlValue::Text(upper));
                    b.push(&format!(" AND {text_col} < {hi}"));
                }
            }
            _ => {
                let p = b.bind(SqlValue::Text(s));
                b.push(&format!("{text_col} {} {p}", sql_op(op)));
            }
        },
    }
}

/// A comparison after `ne`/`null` have been rewritten: `Some(op, key)` or presence.
enum Test {
    Compare(CompareOp, Key),
    Present,
}

/// Normalises `path op value` into (negated?, test).
fn test_of(
    leaf: &AttributeDef,
    op: CompareOp,
    value: &CompValue,
) -> Result<(bool, Test), StoreError> {
    match (op, value) {
        (CompareOp::Eq, CompValue::Null) => Ok((true, Test::Present)),
        (CompareOp::Ne, CompValue::Null) => Ok((false, Test::Present)),
        (CompareOp::Ne, v) => Ok((
            true,
            Test::Compare(CompareOp::Eq, comp_key(leaf, CompareOp::Ne, v)?),
        )),
        (op, v) => Ok((false, Test::Compare(op, comp_key(leaf, op, v)?))),
    }
}

/// Which special source answers a path.
enum Target<'r> {
    /// `resources.id`.
    Id,
    /// `resources.external_id`.
    ExternalId,
    /// `resources.unique_key`: the User `userName` ([`crate::index::in_unique_key_column`]).
    UniqueKey(&'r AttributeDef),
    /// `resources.created_us` / `modified_us`.
    Time(&'static str),
    /// `meta.resourceType`: a constant per kind.
    ResourceType(&'r AttributeDef),
    /// `meta` itself, `meta.location`, `meta.version`: always present on output.
    MetaOther(Option<&'r AttributeDef>),
    /// Group `members` / User `groups` (through the `members` table), and the sub-attribute.
    Membership(Membership, &'r AttributeDef, Option<&'r AttributeDef>),
    /// Anything else: `attr_index` rows.
    Index(ResolvedAttr<'r>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Membership {
    /// `members` of the Group being filtered.
    Members,
    /// `groups` of the resource being filtered.
    Groups,
}

struct Translator<'s, 'a> {
    scope: &'s Scope<'a>,
    terms: usize,
}

impl<'a> Translator<'_, 'a> {
    fn count_term(&mut self) -> Result<(), StoreError> {
        self.terms += 1;
        if self.terms > MAX_FILTER_TERMS {
            return Err(StoreError::Scim(Error::TooMany(format!(
                "the filter has more than {MAX_FILTER_TERMS} comparisons"
            ))));
        }
        Ok(())
    }

    fn resolve(&self, path: &AttrPath) -> Result<Target<'a>, StoreError> {
        let ra = self
            .scope
            .registry
            .resolve(self.scope.rt, path)
            .map_err(as_filter_error)?;
        let name = ra.attr.name.as_str();
        let sub = ra.sub.map(|s| s.name.as_str());
        Ok(match ra.location {
            AttrLocation::Common => match (name, sub) {
                ("id", _) => Target::Id,
                ("externalId", _) => Target::ExternalId,
                (_, Some("created")) => Target::Time("r.created_us"),
                (_, Some("lastModified")) => Target::Time("r.modified_us"),
                (_, Some("resourceType")) => Target::ResourceType(ra.leaf()),
                _ => Target::MetaOther(ra.sub),
            },
            AttrLocation::Core if self.scope.kind == ResourceKind::Group && name == "members" => {
                Target::Membership(Membership::Members, ra.attr, ra.sub)
            }
            AttrLocation::Core if name == "groups" => {
                Target::Membership(Membership::Groups, ra.attr, ra.sub)
            }
            location if crate::index::in_unique_key_column(ra.schema, location, ra.attr) => {
                Target::UniqueKey(ra.attr)
            }
            _ => Target::Index(ra),
        })
    }

    fn filter<D: Dialect>(
        &mut self,
        b: &mut SqlBuilder<D>,
        filter: &Filter,
        depth: usize,
    ) -> Result<(), StoreError> {
        if depth > MAX_FILTER_DEPTH {
            return Err(invalid("the filter is nested too deeply"));
        }
        match filter {
            Filter::And(..) | Filter::Or(..) => {
                // Chains (`a and b and c …`) are flattened so that their length costs neither
                // recursion nor SQL expression depth.
                let and = matches!(filter, Filter::And(..));
                let mut parts = Vec::new();
                flatten(filter, and, &mut parts);
                b.push("(");
                for (i, part) in parts.into_iter().enumerate() {
                    if i > 0 {
                        b.push(if and { " AND " } else { " OR " });
                    }
                    self.filter(b, part, depth + 1)?;
                }
                b.push(")");
                Ok(())
            }
            Filter::Not(inner) => {
                b.push("NOT (");
                self.filter(b, inner, depth + 1)?;
                b.push(")");
                Ok(())
            }
            Filter::Present(path) => {
                self.count_term()?;
                let target = self.resolve(path)?;
                self.present(b, target)
            }
            Filter::Compare { path, op, value } => {
                self.count_term()?;
                let target = self.resolve(path)?;
                self.compare(b, target, *op, value)
            }
            Filter::ValuePath { path, filter } => {
                self.count_term()?;
                if path.sub.is_some() {
                    return Err(invalid(
                        "a value filter applies to an attribute, not a sub-attribute",
                    ));
                }
                match self.resolve(path)? {
                    Target::Membership(m, attr, _) => self.membership(b, m, attr, filter, depth),
                    Target::Index(ra) => self.value_path(b, ra, filter, depth),
                    _ => Err(invalid(format!(
                        "a value filter cannot be applied to {}",
                        path.name
                    ))),
                }
            }
        }
    }

    fn present<D: Dialect>(
        &mut self,
        b: &mut SqlBuilder<D>,
        target: Target<'a>,
    ) -> Result<(), StoreError> {
        match target {
            Target::Id | Target::Time(_) | Target::ResourceType(_) | Target::MetaOther(_) => {
                b.push("1 = 1");
            }
            Target::ExternalId => {
                b.push("(r.external_id IS NOT NULL AND r.external_id <> '')");
            }
            Target::UniqueKey(_) => {
                b.push("(r.unique_key IS NOT NULL AND r.unique_key <> '')");
            }
            Target::Membership(m, attr, sub) => {
                // `members pr`, `members.display pr`, …: some membership (whose sub-attribute
                // is present) exists.
                let pr =
                    Filter::Present(AttrPath::simple(sub.map_or("value", |s| s.name.as_str())));
                self.membership(b, m, attr, &pr, 0)?;
            }
            Target::Index(ra) => {
                let leaf = ra.leaf();
                let path = index_path(ra.schema, ra.location, ra.attr, ra.sub);
                let a = b.alias("a");
                b.push(&format!(
                    "r.seq IN (SELECT {a}.seq FROM attr_index {a} WHERE {a}.tenant_id = {t} AND {a}.kind = {k} AND {a}.path = ",
                    t = self.scope.tenant,
                    k = self.scope.kind_code
                ));
                b.push_bind(SqlValue::Text(path));
                if leaf.is_complex() {
                    // Element rows record in `v_num` whether the element is present.
                    b.push(&format!(" AND {a}.v_num = 1)"));
                } else {
                    b.push(&format!(" AND ({a}.v_text IS NULL OR {a}.v_text <> ''))"));
                }
            }
        }
        Ok(())
    }

    fn compare<D: Dialect>(
        &mut self,
        b: &mut SqlBuilder<D>,
        target: Target<'a>,
        op: CompareOp,
        value: &CompValue,
    ) -> Result<(), StoreError> {
        // `eq null` is `not pr` and `ne null` is `pr`, on the attribute as written.
        if *value == CompValue::Null && matches!(op, CompareOp::Eq | CompareOp::Ne) {
            if op == CompareOp::Eq {
                b.push("NOT (");
                self.present(b, target)?;
                b.push(")");
                return Ok(());
            }
            return self.present(b, target);
        }
        match target {
            Target::Membership(m, attr, sub) => {
                let f = Filter::Compare {
                    path: AttrPath::simple(sub.map_or("value", |s| s.name.as_str())),
                    op: if op == CompareOp::Ne {
                        CompareOp::Eq
                    } else {
                        op
                    },
                    value: value.clone(),
                };
                // `members ne "x"` means "not (some member eq x)".
                if op == CompareOp::Ne {
                    b.push("NOT (");
                    self.membership(b, m, attr, &f, 0)?;
                    b.push(")");
                    return Ok(());
                }
                self.membership(b, m, attr, &f, 0)
            }
            Target::MetaOther(sub) => Err(invalid(format!(
                "filtering on meta{} is not supported",
                sub.map(|s| format!(".{}", s.name)).unwrap_or_default()
            ))),
            Target::ResourceType(leaf) => {
                let (negate, test) = test_of(leaf, op, value)?;
                let holds = match test {
                    Test::Present => true,
                    Test::Compare(op, key) => {
                        let own = scimd_core::filter::json_key(
                            leaf,
                            &serde_json::Value::String(self.scope.kind.as_str().to_owned()),
                        );
                        own.is_some_and(|k| k.satisfies(op, &key))
                    }
                };
                b.push(if holds != negate { "1 = 1" } else { "1 = 0" });
                Ok(())
            }
            Target::Id | Target::ExternalId | Target::UniqueKey(_) | Target::Time(_) => {
                let (col, leaf) = match &target {
                    Target::Id => ("r.id", self.common_leaf("id")?),
                    Target::ExternalId => ("r.external_id", self.common_leaf("externalId")?),
                    Target::UniqueKey(leaf) => ("r.unique_key", *leaf),
                    Target::Time(col) => (*col, &*DATETIME_LEAF),
                    _ => return Err(invalid("unsupported attribute")),
                };
                let (negate, test) = test_of(leaf, op, value)?;
                if negate {
                    b.push("NOT ");
                }
                match test {
                    Test::Present => {
                        b.push("(");
                        self.present(b, target)?;
                        b.push(")");
                    }
                    Test::Compare(op, key) => {
                        b.push(&format!("({col} IS NOT NULL AND "));
                        push_value_cond(b, col, col, op, operand(key, true));
                        b.push(")");
                    }
                }
                Ok(())
            }
            Target::Index(ra) => {
                let (ra, leaf) = value_leaf(ra)?;
                let (negate, test) = test_of(leaf, op, value)?;
                if negate {
                    b.push("NOT ");
                }
                match test {
                    Test::Present => {
                        b.push("(");
                        self.present(b, Target::Index(ra))?;
                        b.push(")");
                        Ok(())
                    }
                    Test::Compare(op, key) => {
                        let path = index_path(ra.schema, ra.location, ra.attr, ra.sub);
                        let a = b.alias("a");
                        b.push(&format!(
                            "r.seq IN (SELECT {a}.seq FROM attr_index {a} WHERE {a}.tenant_id = {t} AND {a}.kind = {k} AND {a}.path = ",
                            t = self.scope.tenant,
                            k = self.scope.kind_code
                        ));
                        b.push_bind(SqlValue::Text(path));
                        b.push(" AND ");
                        push_value_cond(
                            b,
                            &format!("{a}.v_text"),
                            &format!("{a}.v_num"),
                            op,
                            operand(key, false),
                        );
                        b.push(")");
                        Ok(())
                    }
                }
            }
        }
    }

    fn common_leaf(&self, name: &str) -> Result<&'a AttributeDef, StoreError> {
        self.scope
            .registry
            .common_schema()
            .attribute(name)
            .ok_or_else(|| invalid(format!("unknown attribute {name}")))
    }

    /// `attr[filter]` on a complex attribute indexed in `attr_index`.
    fn value_path<D: Dialect>(
        &mut self,
        b: &mut SqlBuilder<D>,
        ra: ResolvedAttr<'a>,
        filter: &Filter,
        depth: usize,
    ) -> Result<(), StoreError> {
        let mut conjuncts = Vec::new();
        flatten(filter, true, &mut conjuncts);
        // Drive the subquery from the most selective positive comparison of the top-level
        // conjunction (an `eq`, preferably on `value`), so the index narrows it to matching
        // elements; the other conditions are checked on the same element.
        let driver = conjuncts
            .iter()
            .enumerate()
            .filter_map(|(i, f)| match f {
                Filter::Compare { path, op, value }
                    if *op != CompareOp::Ne && *value != CompValue::Null =>
                {
                    let rank = match op {
                        CompareOp::Eq if path.name.eq_ignore_ascii_case("value") => 0,
                        CompareOp::Eq => 1,
                        CompareOp::Sw => 2,
                        CompareOp::Co | CompareOp::Ew => 4,
                        _ => 3,
                    };
                    Some((rank, i))
                }
                _ => None,
            })
            .min()
            .map(|(_, i)| i);
        let e = b.alias("e");
        b.push(&format!(
            "r.seq IN (SELECT {e}.seq FROM attr_index {e} WHERE {e}.tenant_id = {t} AND {e}.kind = {k} AND ",
            t = self.scope.tenant,
            k = self.scope.kind_code
        ));
        match driver.and_then(|i| conjuncts.get(i).map(|f| (i, *f))) {
            Some((i, Filter::Compare { path, op, value })) => {
                let (sub, sub_path) = element_sub(ra, path)?;
                let key = comp_key(sub, *op, value)?;
                b.push(&format!("{e}.path = "));
                b.push_bind(SqlValue::Text(sub_path));
                b.push(" AND ");
                push_value_cond(
                    b,
                    &format!("{e}.v_text"),
                    &format!("{e}.v_num"),
                    *op,
                    operand(key, false),
                );
                conjuncts.remove(i);
            }
            _ => {
                // One row per element at the attribute's own path: element rows of a complex
                // attribute, value rows of a simple one.
                b.push(&format!("{e}.path = "));
                b.push_bind(SqlValue::Text(index_path(
                    ra.schema,
                    ra.location,
                    ra.attr,
                    None,
                )));
            }
        }
        for part in conjuncts {
            b.push(" AND ");
            self.element(b, ra, &e, part, depth + 1)?;
        }
        b.push(")");
        Ok(())
    }

    /// A condition on the element `(e.seq, e.elem)` of the complex attribute `ra`.
    fn element<D: Dialect>(
        &mut self,
        b: &mut SqlBuilder<D>,
        ra: ResolvedAttr<'a>,
        e: &str,
        filter: &Filter,
        depth: usize,
    ) -> Result<(), StoreError> {
        if depth > MAX_FILTER_DEPTH {
            return Err(invalid("the filter is nested too deeply"));
        }
        match filter {
            Filter::And(..) | Filter::Or(..) => {
                let and = matches!(filter, Filter::And(..));
                let mut parts = Vec::new();
                flatten(filter, and, &mut parts);
                b.push("(");
                for (i, part) in parts.into_iter().enumerate() {
                    if i > 0 {
                        b.push(if and { " AND " } else { " OR " });
                    }
                    self.element(b, ra, e, part, depth + 1)?;
                }
                b.push(")");
                Ok(())
            }
            Filter::Not(inner) => {
                b.push("NOT (");
                self.element(b, ra, e, inner, depth + 1)?;
                b.push(")");
                Ok(())
            }
            Filter::ValuePath { .. } => Err(invalid("value filters cannot be nested")),
            Filter::Present(path) => {
                self.count_term()?;
                let (_, sub_path) = element_sub(ra, path)?;
                self.element_row(b, sub_path, e, None)
            }
            Filter::Compare { path, op, value } => {
                self.count_term()?;
                let (sub, sub_path) = element_sub(ra, path)?;
                let (negate, test) = test_of(sub, *op, value)?;
                if negate {
                    b.push("NOT ");
                }
                match test {
                    Test::Present => self.element_row(b, sub_path, e, None),
                    Test::Compare(op, key) => self.element_row(b, sub_path, e, Some((op, key))),
                }
            }
        }
    }

    /// `EXISTS` a row at `sub_path` in element `e` (present, or satisfying `test`).
    fn element_row<D: Dialect>(
        &mut self,
        b: &mut SqlBuilder<D>,
        sub_path: String,
        e: &str,
        test: Option<(CompareOp, Key)>,
    ) -> Result<(), StoreError> {
        let a = b.alias("a");
        b.push(&format!(
            "EXISTS (SELECT 1 FROM attr_index {a} WHERE {a}.seq = {e}.seq AND {a}.path = "
        ));
        b.push_bind(SqlValue::Text(sub_path));
        b.push(&format!(" AND {a}.elem = {e}.elem AND "));
        match test {
            None => {
                b.push(&format!("({a}.v_text IS NULL OR {a}.v_text <> ''))"));
            }
            Some((op, key)) => {
                push_value_cond(
                    b,
                    &format!("{a}.v_text"),
                    &format!("{a}.v_num"),
                    op,
                    operand(key, false),
                );
                b.push(")");
            }
        }
        Ok(())
    }

    /// A condition on Group `members` (or User `groups`) rows: some membership whose other
    /// end satisfies `filter` (paths `value`, `display`, `type`).
    fn membership<D: Dialect>(
        &mut self,
        b: &mut SqlBuilder<D>,
        m: Membership,
        attr: &'a AttributeDef,
        filter: &Filter,
        depth: usize,
    ) -> Result<(), StoreError> {
        let (own, other) = match m {
            Membership::Members => ("group_seq", "member_seq"),
            Membership::Groups => ("member_seq", "group_seq"),
        };
        let ms = b.alias("m");
        let x = b.alias("x");
        b.push(&format!(
            "r.seq IN (SELECT {ms}.{own} FROM members {ms} JOIN resources {x} ON {x}.seq = {ms}.{other} WHERE {x}.tenant_id = {t} AND {x}.kind IN (1, 2) AND ",
            t = self.scope.tenant
        ));
        self.member_cond(b, m, attr, &x, filter, depth + 1)?;
        b.push(")");
        Ok(())
    }

    fn member_cond<D: Dialect>(
        &mut self,
        b: &mut SqlBuilder<D>,
        m: Membership,
        attr: &'a AttributeDef,
        x: &str,
        filter: &Filter,
        depth: usize,
    ) -> Result<(), StoreError> {
        if depth > MAX_FILTER_DEPTH {
            return Err(invalid("the filter is nested too deeply"));
        }
        match filter {
            Filter::And(..) | Filter::Or(..) => {
                let and = matches!(filter, Filter::And(..));
                let mut parts = Vec::new();
                flatten(filter, and, &mut parts);
                b.push("(");
                for (i, part) in parts.into_iter().enumerate() {
                    if i > 0 {
                        b.push(if and { " AND " } else { " OR " });
                    }
                    self.member_cond(b, m, attr, x, part, depth + 1)?;
                }
                b.push(")");
                Ok(())
            }
            Filter::Not(inner) => {
                b.push("NOT (");
                self.member_cond(b, m, attr, x, inner, depth + 1)?;
                b.push(")");
                Ok(())
            }
            Filter::ValuePath { .. } => Err(invalid("value filters cannot be nested")),
            Filter::Present(path) => {
                self.count_term()?;
                let sub = element_sub_of(attr, path)?;
                match sub.name.to_ascii_lowercase().as_str() {
                    "display" => {
                        b.push(&format!("({x}.display IS NOT NULL AND {x}.display <> '')"))
                    }
                    "value" | "type" => b.push("1 = 1"),
                    _ => {
                        return Err(invalid(format!(
                            "filtering on {}.{} is not supported",
                            attr.name, sub.name
                        )));
                    }
                };
                Ok(())
            }
            Filter::Compare { path, op, value } => {
                self.count_term()?;
                let sub = element_sub_of(attr, path)?;
                let (negate, test) = test_of(sub, *op, value)?;
                if negate {
                    b.push("NOT ");
                }
                let sub_name = sub.name.to_ascii_lowercase();
                let test = match test {
                    Test::Present => {
                        return self.member_cond(
                            b,
                            m,
                            attr,
                            x,
                            &Filter::Present(path.clone()),
                            depth + 1,
                        );
                    }
                    Test::Compare(op, key) => (op, key),
                };
                match sub_name.as_str() {
                    "value" => {
                        // Ids are generated by the server as lower-case UUIDs, so the
                        // lower-cased operand of the non-caseExact `value` compares with them.
                        b.push("(");
                        push_value_cond(
                            b,
                            &format!("{x}.id"),
                            &format!("{x}.id"),
                            test.0,
                            operand(test.1, false),
                        );
                        b.push(")");
                    }
                    "display" => {
                        let col = if sub.case_exact {
                            "display"
                        } else {
                            "display_key"
                        };
                        b.push(&format!("({x}.{col} IS NOT NULL AND "));
                        push_value_cond(
                            b,
                            &format!("{x}.{col}"),
                            &format!("{x}.{col}"),
                            test.0,
                            operand(test.1, false),
                        );
                        b.push(")");
                    }
                    "type" => {
                        // Members are Users or Groups; memberships listed under `groups` are
                        // all direct. The condition folds to a set of kinds.
                        let candidates: &[(&str, Option<i64>)] = match m {
                            Membership::Members => &[
                                ("User", Some(kind_code(ResourceKind::User))),
                                ("Group", Some(kind_code(ResourceKind::Group))),
                            ],
                            Membership::Groups => &[("direct", None)],
                        };
                        let mut kinds = Vec::new();
                        let mut all = true;
                        for (name, code) in candidates {
                            let k = scimd_core::filter::json_key(
                                sub,
                                &serde_json::Value::String((*name).to_owned()),
                            );
                            if k.is_some_and(|k| k.satisfies(test.0, &test.1)) {
                                kinds.extend(*code);
                            } else {
                                all = false;
                            }
                        }
                        if all {
                            b.push("1 = 1");
                        } else if kinds.is_empty() {
                            b.push("1 = 0");
                        } else {
                            let list: Vec<String> = kinds.iter().map(i64::to_string).collect();
                            b.push(&format!("{x}.kind IN ({})", list.join(", ")));
                        }
                    }
                    _ => {
                        return Err(invalid(format!(
                            "filtering on {}.{} is not supported",
                            attr.name, sub.name
                        )));
                    }
                }
                Ok(())
            }
        }
    }
}

/// Leaf definition used for `meta.created` / `meta.lastModified` columns.
static DATETIME_LEAF: std::sync::LazyLock<AttributeDef> =
    std::sync::LazyLock::new(|| AttributeDef::new("dateTime", AttributeType::DateTime));

/// For a complex attribute named without a sub-attribute, its `value` sub-attribute
/// (`emails co "x"` compares `emails.value`).
fn value_leaf(ra: ResolvedAttr<'_>) -> Result<(ResolvedAttr<'_>, &AttributeDef), StoreError> {
    if ra.sub.is_none() && ra.attr.is_complex() {
        let value = ra.attr.sub_attribute("value").ok_or_else(|| {
            invalid(format!(
                "{} has no value sub-attribute to compare",
                ra.attr.name
            ))
        })?;
        let ra = ResolvedAttr {
            sub: Some(value),
            ..ra
        };
        return Ok((ra, value));
    }
    Ok((ra, ra.leaf()))
}

/// The leaf named by a path inside `ra.attr[…]` and its index path: a sub-attribute of a
/// complex attribute, or, for `value` on a simple attribute, the attribute itself (as in
/// the evaluator).
fn element_sub<'r>(
    ra: ResolvedAttr<'r>,
    path: &AttrPath,
) -> Result<(&'r AttributeDef, String), StoreError> {
    if !ra.attr.is_complex()
        && path.urn.is_none()
        && path.sub.is_none()
        && path.name.eq_ignore_ascii_case("value")
    {
        return Ok((ra.attr, index_path(ra.schema, ra.location, ra.attr, None)));
    }
    let sub = element_sub_of(ra.attr, path)?;
    Ok((sub, index_path(ra.schema, ra.location, ra.attr, Some(sub))))
}

fn element_sub_of<'r>(
    attr: &'r AttributeDef,
    path: &AttrPath,
) -> Result<&'r AttributeDef, StoreError> {
    if path.urn.is_some() || path.sub.is_some() {
        return Err(invalid(format!(
            "inside {}[…] name sub-attributes only",
            attr.name
        )));
    }
    attr.sub_attribute(&path.name)
        .ok_or_else(|| invalid(format!("unknown attribute {}.{}", attr.name, path.name)))
}

/// Collects the operands of a chain of `and` (or `or`) without recursion.
fn flatten<'f>(filter: &'f Filter, and: bool, out: &mut Vec<&'f Filter>) {
    let mut stack = vec![filter];
    while let Some(f) = stack.pop() {
        match (f, and) {
            (Filter::And(l, r), true) | (Filter::Or(l, r), false) => {
                stack.push(r);
                stack.push(l);
            }
            _ => out.push(f),
        }
    }
}

/// The expression a listing is ordered by (RFC 7644 §3.4.2.3), as `scimd_core::sort` defines
/// the key: singular attributes by their value, complex ones by `value`, multi-valued ones by
/// the primary element's value, else the first element's; no data sorts last ascending and
/// first descending. Ties are broken by `r.seq`.
#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    /// A scalar SQL expression over `r` (may contain placeholders already bound).
    pub expr: String,
    /// Whether the expression is numeric (`v_num`, times, versions) rather than text.
    pub numeric: bool,
    pub descending: bool,
}

/// Builds the sort expression for `spec`. Errors: [`Error::InvalidPath`] for paths that do
/// not resolve or cannot be sorted by (a complex attribute without `value`, `members`).
pub fn sort_key<D: Dialect>(
    b: &mut SqlBuilder<D>,
    scope: &Scope<'_>,
    spec: &scimd_core::sort::SortSpec,
) -> Result<SortKey, StoreError> {
    let descending = spec.order == scimd_core::sort::SortOrder::Descending;
    let col = |expr: &str, numeric: bool| SortKey {
        expr: expr.to_owned(),
        numeric,
        descending,
    };
    let ra = scope.registry.resolve(scope.rt, &spec.path)?;
    let name = ra.attr.name.as_str();
    let sub = ra.sub.map(|s| s.name.as_str());
    match (ra.location, name, sub) {
        (AttrLocation::Common, "id", _) => return Ok(col("r.id", false)),
        (AttrLocation::Common, "externalId", _) => return Ok(col("r.external_id", false)),
        (AttrLocation::Common, _, Some("created")) => return Ok(col("r.created_us", true)),
        (AttrLocation::Common, _, Some("lastModified")) => return Ok(col("r.modified_us", true)),
        (AttrLocation::Common, _, Some("version")) => return Ok(col("r.version", true)),
        // The location is the base URL plus the id.
        (AttrLocation::Common, _, Some("location")) => return Ok(col("r.id", false)),
        // Constant within one listing.
        (AttrLocation::Common, _, _) => return Ok(col("r.kind", true)),
        (location, "userName", None)
            if crate::index::in_unique_key_column(ra.schema, location, ra.attr) =>
        {
            return Ok(col("r.unique_key", false));
        }
        (AttrLocation::Core, "userName", None) if scope.kind == ResourceKind::User => {
            return Ok(col("r.sort_name", false));
        }
        (AttrLocation::Core, "displayName", None) if scope.kind == ResourceKind::Group => {
            return Ok(col("r.sort_name", false));
        }
        (AttrLocation::Core, "members", _) if scope.kind == ResourceKind::Group => {
            return Err(Error::invalid_path("cannot sort by members").into());
        }
        (AttrLocation::Core, "groups", _) => {
            return Err(Error::invalid_path("cannot sort by groups").into());
        }
        _ => {}
    }
    let leaf = match ra.sub {
        Some(sub) => Some(sub),
        None if ra.attr.is_complex() => Some(ra.attr.sub_attribute("value").ok_or_else(|| {
            Error::invalid_path(format!(
                "cannot sort by the complex attribute '{}'; name a sub-attribute",
                ra.canonical_path()
            ))
        })?),
        None => None,
    };
    let leaf_def = leaf.unwrap_or(ra.attr);
    let numeric = matches!(
        leaf_def.kind,
        AttributeType::Integer | AttributeType::Decimal | AttributeType::DateTime
    );
    let value_col = if numeric { "v_num" } else { "v_text" };
    let path = b.bind(SqlValue::Text(index_path(
        ra.schema,
        ra.location,
        ra.attr,
        leaf,
    )));
    let s = b.alias("s");
    let elem = if !ra.attr.multi_valued {
        "0".to_owned()
    } else if let (true, Some(primary)) = (ra.attr.is_complex(), ra.attr.sub_attribute("primary")) {
        let p = b.alias("p");
        let primary_path = b.bind(SqlValue::Text(index_path(
            ra.schema,
            ra.location,
            ra.attr,
            Some(primary),
        )));
        format!(
            "COALESCE((SELECT {p}.elem FROM attr_index {p} WHERE {p}.seq = r.seq AND {p}.path = {primary_path} AND {p}.v_text = 'true' ORDER BY {p}.elem LIMIT 1), 1)"
        )
    } else {
        "1".to_owned()
    };
    Ok(SortKey {
        expr: format!(
            "(SELECT {s}.{value_col} FROM attr_index {s} WHERE {s}.seq = r.seq AND {s}.path = {path} AND {s}.elem = {elem} LIMIT 1)"
        ),
        numeric,
        descending,
    })
}

/// The `ORDER BY` clause for `key` (insertion order without one). `reverse` flips every
/// component (used to read the page before a cursor).
pub fn order_by(key: Option<&SortKey>, reverse: bool) -> String {
    let (asc, desc) = if reverse {
        ("DESC", "ASC")
    } else {
        ("ASC", "DESC")
    };
    match key {
        None => format!("ORDER BY r.seq {asc}"),
        Some(k) => {
            let dir = if k.descending { desc } else { asc };
            // No data sorts last ascending, first descending: `(expr IS NULL)` follows the
            // direction. Ties by insertion order in both directions.
            format!(
                "ORDER BY ({e} IS NULL) {dir}, {e} {dir}, r.seq {asc}",
                e = k.expr
            )
        }
    }
}

/// A position in a listing: the sort value of a row (`None` = no data) and its `seq`.
#[derive(Debug, Clone, PartialEq)]
pub struct Position {
    pub value: Option<SqlValue>,
    pub seq: i64,
}

/// Appends a condition selecting the rows strictly after (`after == true`) or strictly
/// before `pos` in the order of [`order_by`]`(key, false)`. This is keyset pagination: the
/// condition and the order run on the same expression, so any page costs what the first
/// costs.
pub fn push_keyset<D: Dialect>(
    b: &mut SqlBuilder<D>,
    key: Option<&SortKey>,
    pos: &Position,
    after: bool,
) {
    let seq = b.bind(SqlValue::Int(pos.seq));
    let seq_cmp = if after { ">" } else { "<" };
    let Some(k) = key else {
        b.push(&format!("r.seq {seq_cmp} {seq}"));
        return;
    };
    let e = &k.expr;
    // In the listing order, are rows without data after the rows with data?
    let nulls_after = !k.descending;
    match &pos.value {
        None => {
            // pos has no data: the other null rows on the `seq` side, plus all rows with data
            // when they lie on the requested side.
            if nulls_after == after {
                b.push(&format!("({e} IS NULL AND r.seq {seq_cmp} {seq})"));
            } else {
                b.push(&format!("({e} IS NOT NULL OR r.seq {seq_cmp} {seq})"));
            }
        }
        Some(v) => {
            let v = b.bind(v.clone());
            // Value order on the requested side.
            let forward_greater = !k.descending;
            let cmp = if forward_greater == after { ">" } else { "<" };
            let nulls = if nulls_after == after {
                format!("{e} IS NULL OR ")
            } else {
                String::new()
            };
            b.push(&format!(
                "({nulls}({e} IS NOT NULL AND ({e} {cmp} {v} OR ({e} = {v} AND r.seq {seq_cmp} {seq}))))"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use scimd_core::filter::parse_filter;
    use scimd_core::sort::SortSpec;

    use super::*;

    fn user_condition<D: Dialect>(dialect: D, filter: &str) -> Result<SqlCondition, StoreError> {
        let registry = Registry::builtin();
        let rt = registry.resource_type("User").unwrap();
        filter_condition(
            dialect,
            &registry,
            rt,
            TenantId(7),
            &parse_filter(filter).unwrap(),
        )
    }

    #[test]
    fn prefix_bounds() {
        assert_eq!(prefix_upper_bound("abc").as_deref(), Some("abd"));
        assert_eq!(prefix_upper_bound(""), None);
        assert_eq!(prefix_upper_bound("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_upper_bound("\u{10FFFF}"), None);
        assert_eq!(
            prefix_upper_bound("x\u{D7FF}").as_deref(),
            Some("x\u{E000}")
        );
    }

    #[test]
    fn comparisons_bind_keys_and_never_interpolate() {
        let c = user_condition(Sqlite, "displayName eq \"O'Brien\"").unwrap();
        assert_eq!(
            c.binds,
            [
                SqlValue::Int(7),
                SqlValue::Int(1),
                SqlValue::Text("displayname".into()),
                SqlValue::Text("o'brien".into())
            ]
        );
        assert!(c.sql.contains("a1.v_text = ?4"), "{}", c.sql);
        assert!(!c.sql.contains("brien"));
        let c = user_condition(Postgres, "displayName sw \"Bj\"").unwrap();
        assert!(
            c.sql.contains("a1.v_text >= $4 AND a1.v_text < $5"),
            "{}",
            c.sql
        );
        assert_eq!(c.binds[4], SqlValue::Text("bk".into()));
    }

    #[test]
    fn columns_and_constants() {
        let c = user_condition(Sqlite, "externalId eq \"X\"").unwrap();
        assert!(c.sql.contains("r.external_id = ?3"), "{}", c.sql);
        let c = user_condition(Sqlite, "meta.lastModified ge \"2024-01-01T00:00:00Z\"").unwrap();
        assert!(c.sql.contains("r.modified_us >= ?3"), "{}", c.sql);
        assert!(matches!(c.binds[2], SqlValue::Int(_)));
        let c = user_condition(Sqlite, "meta.resourceType eq \"Group\"").unwrap();
        assert_eq!(c.sql, "1 = 0");
        let c = user_condition(Sqlite, "id pr").unwrap();
        assert_eq!(c.sql, "1 = 1");
        // userName is compared through its lower-cased unique column, not an index row.
        let c = user_condition(Sqlite, "USERNAME eq \"BJensen\"").unwrap();
        assert_eq!(c.sql, "(r.unique_key IS NOT NULL AND r.unique_key = ?3)");
        assert_eq!(c.binds[2], SqlValue::Text("bjensen".into()));
        let c = user_condition(Sqlite, "userName sw \"B\"").unwrap();
        assert!(c.sql.contains("r.unique_key"), "{}", c.sql);
        // `ne` is `not eq`, so an absent value is "not equal".
        let c = user_condition(Sqlite, "title ne \"x\"").unwrap();
        assert!(c.sql.starts_with("NOT r.seq IN"), "{}", c.sql);
    }

    #[test]
    fn value_paths_correlate_on_the_element() {
        let c = user_condition(Sqlite, "emails[type eq \"work\" and value eq \"X\"]").unwrap();
        // Driven by the value comparison, the type checked on the same element.
        assert!(
            c.sql.contains("e1.path = ?3 AND e1.v_text = ?4"),
            "{}",
            c.sql
        );
        assert!(c.sql.contains("a2.elem = e1.elem"), "{}", c.sql);
        assert_eq!(c.binds[2], SqlValue::Text("emails.value".into()));
        let c = user_condition(Sqlite, "emails[not (type eq \"work\")]").unwrap();
        assert!(c.sql.contains("e1.path = ?3 AND NOT ("), "{}", c.sql);
        assert_eq!(c.binds[2], SqlValue::Text("emails".into()));
    }

    #[test]
    fn bad_filters_are_scim_errors() {
        for f in [
            "nope eq \"x\"",
            "active co \"t\"",
            "emails[nope eq \"x\"]",
            "meta.location eq \"x\"",
            "userName gt null",
        ] {
            assert!(
                matches!(
                    user_condition(Sqlite, f),
                    Err(StoreError::Scim(Error::InvalidFilter { .. }))
                ),
                "{f}"
            );
        }
        let nested = Filter::ValuePath {
            path: AttrPath::simple("emails"),
            filter: Box::new(Filter::ValuePath {
                path: AttrPath::simple("type"),
                filter: Box::new(Filter::Present(AttrPath::simple("value"))),
            }),
        };
        let registry = Registry::builtin();
        let rt = registry.resource_type("User").unwrap();
        assert!(filter_condition(Sqlite, &registry, rt, TenantId(1), &nested).is_err());
    }

    #[test]
    fn long_chains_are_flat_and_budgeted() {
        let registry = Registry::builtin();
        let rt = registry.resource_type("User").unwrap();
        let term = || Filter::Present(AttrPath::simple("title"));
        let mut chain = term();
        for _ in 0..999 {
            chain = Filter::And(Box::new(chain), Box::new(term()));
        }
        let c = filter_condition(Sqlite, &registry, rt, TenantId(1), &chain).unwrap();
        assert_eq!(c.sql.matches(" AND r.seq").count(), 999);
        let chain = Filter::Or(Box::new(chain), Box::new(term()));
        assert!(matches!(
            filter_condition(Sqlite, &registry, rt, TenantId(1), &chain),
            Err(StoreError::Scim(Error::TooMany(_)))
        ));
        let mut deep = term();
        for _ in 0..(MAX_FILTER_DEPTH + 5) {
            deep = Filter::Not(Box::new(deep));
        }
        assert!(filter_condition(Sqlite, &registry, rt, TenantId(1), &deep).is_err());
    }

    #[test]
    fn sort_keys() {
        let registry = Registry::builtin();
        let rt = registry.resource_type("User").unwrap();
        let mut b = SqlBuilder::new(Sqlite);
        let scope = Scope::bind(&mut b, &registry, rt, TenantId(1), ResourceKind::User);
        let key = |b: &mut SqlBuilder<Sqlite>, p: &str| {
            sort_key(b, &scope, &SortSpec::parse(p, None).unwrap())
        };
        assert_eq!(key(&mut b, "userName").unwrap().expr, "r.unique_key");
        assert!(key(&mut b, "meta.created").unwrap().numeric);
        let emails = key(&mut b, "emails").unwrap();
        assert!(emails.expr.contains("COALESCE"), "{}", emails.expr);
        assert!(!emails.numeric);
        assert!(matches!(
            key(&mut b, "groups"),
            Err(StoreError::Scim(Error::InvalidPath(_)))
        ));
        assert!(matches!(
            key(&mut b, "nope"),
            Err(StoreError::Scim(Error::InvalidPath(_)))
        ));
        assert_eq!(order_by(None, false), "ORDER BY r.seq ASC");
    }
}
