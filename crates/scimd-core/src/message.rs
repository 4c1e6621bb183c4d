//! SCIM protocol messages that are not resources: the ListResponse (RFC 7644 §3.4.2),
//! list query parameters (§3.4.2 and RFC 9865 `cursor`), the SearchRequest of
//! `POST /.search` (§3.4.3), and Bulk requests and responses (§3.7).
//!
//! Parsing is lenient where identity providers differ and the RFC allows it (parameter
//! names in any case, `startIndex` below 1, negative `count`, missing `schemas`), and
//! strict where a wrong guess would change what the client gets (non-numeric numbers,
//! unknown sort orders, malformed Bulk operations).

use serde::{Serialize, Serializer, ser::SerializeMap};
use serde_json::{Map, Value, json};

use crate::error::{Error, Result};

/// URN of the ListResponse message (RFC 7644 §3.4.2).
pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// URN of the PatchOp message (RFC 7644 §3.5.2).
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// URN of the SearchRequest message (RFC 7644 §3.4.3).
pub const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
/// URN of the BulkRequest message (RFC 7644 §3.7).
pub const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
/// URN of the BulkResponse message (RFC 7644 §3.7).
pub const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
/// URN of the Error message (RFC 7644 §3.12); defined with the error type.
pub use crate::error::ERROR_SCHEMA as ERROR;

/// One page of query results (RFC 7644 §3.4.2, RFC 9865 §2). `R` is the form of each
/// resource: a [`Value`], or anything else that serializes as one (e.g. text already
/// serialized).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListResponse<R = Value> {
    /// Total number of matching resources.
    pub total_results: u64,
    /// 1-based index of the first resource, for index pagination; `None` with cursors.
    pub start_index: Option<u64>,
    /// Number of resources in this page.
    pub items_per_page: usize,
    /// The resources of this page, already projected.
    pub resources: Vec<R>,
    /// Cursor of the next page (RFC 9865); absent on the last page.
    pub next_cursor: Option<String>,
    /// Cursor of the previous page (RFC 9865), when the server offers one.
    pub previous_cursor: Option<String>,
}

/// The wire form: integers for the counts, `Resources` always present (an empty array when
/// nothing matched, which Entra's connection test expects), optional members omitted rather
/// than `null`.
impl<R: Serialize> Serialize for ListResponse<R> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut m = serializer.serialize_map(None)?;
        m.serialize_entry("schemas", &[LIST_RESPONSE])?;
        m.serialize_entry("totalResults", &self.total_results)?;
        m.serialize_entry("itemsPerPage", &self.items_per_page)?;
        if let Some(start) = self.start_index {
            m.serialize_entry("startIndex", &start)?;
        }
        if let Some(next) = &self.next_cursor {
            m.serialize_entry("nextCursor", next)?;
        }
        if let Some(previous) = &self.previous_cursor {
            m.serialize_entry("previousCursor", previous)?;
        }
        m.serialize_entry("Resources", &self.resources)?;
        m.end()
    }
}

impl ListResponse {
    /// The wire form as a [`Value`] (the [`Serialize`] impl's), the resources moved in
    /// rather than copied.
    pub fn into_json(mut self) -> Value {
        let resources = std::mem::take(&mut self.resources);
        // Serializing a map with string keys cannot fail.
        let mut out = serde_json::to_value(&self).unwrap_or_default();
        if let Some(slot) = out.get_mut("Resources") {
            *slot = Value::Array(resources);
        }
        out
    }
}

/// `sortOrder` (RFC 7644 §3.4.2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortOrder {
    #[default]
    Ascending,
    Descending,
}

impl SortOrder {
    /// Parses `ascending` / `descending` in any case.
    pub fn parse(s: &str) -> Result<Self> {
        if s.eq_ignore_ascii_case("ascending") {
            Ok(Self::Ascending)
        } else if s.eq_ignore_ascii_case("descending") {
            Ok(Self::Descending)
        } else {
            Err(Error::invalid_value(format!(
                "sortOrder must be 'ascending' or 'descending', not '{s}'"
            )))
        }
    }
}

/// The parameters of a list or search request (RFC 7644 §3.4.2, §3.4.3, §3.9; RFC 9865).
///
/// Values are kept as strings where another module parses them (`filter`, `sortBy`,
/// `attributes`); numbers are normalised: `start_index` is at least 1 and `count` at
/// least 0 when present.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    pub filter: Option<String>,
    pub sort_by: Option<String>,
    pub sort_order: Option<SortOrder>,
    pub start_index: Option<u64>,
    pub count: Option<u64>,
    /// RFC 9865 cursor; `Some("")` asks for the first page with cursor pagination.
    pub cursor: Option<String>,
    /// Comma-separated attribute paths.
    pub attributes: Option<String>,
    /// Comma-separated attribute paths.
    pub excluded_attributes: Option<String>,
}

/// The parameters a ListQuery knows; names match in any case (idp-quirks §6.8).
enum Param {
    Filter,
    SortBy,
    SortOrder,
    StartIndex,
    Count,
    Cursor,
    Attributes,
    ExcludedAttributes,
}

impl Param {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "filter" => Self::Filter,
            "sortby" => Self::SortBy,
            "sortorder" => Self::SortOrder,
            "startindex" => Self::StartIndex,
            "count" => Self::Count,
            "cursor" => Self::Cursor,
            "attributes" => Self::Attributes,
            "excludedattributes" => Self::ExcludedAttributes,
            _ => return None,
        })
    }
}

/// An integer parameter: optional sign and decimal digits. Negative values come back as
/// `None` (the caller clamps), values beyond `u64` saturate.
fn parse_integer(name: &str, raw: &str) -> Result<Option<u64>> {
    let s = raw.trim();
    let (negative, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid_value(format!(
            "{name} must be an integer, not '{raw}'"
        )));
    }
    if negative {
        return Ok(None);
    }
    // All digits: the only possible parse failure is overflow.
    Ok(Some(digits.parse::<u64>().unwrap_or(u64::MAX)))
}

fn non_empty(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

impl ListQuery {
    /// From URL query parameters (already percent-decoded), names in any case.
    /// Unknown parameters are ignored; a repeated parameter keeps its last value.
    /// `startIndex` below 1 becomes 1, a negative `count` becomes 0; empty values count
    /// as absent, except `cursor` (an empty cursor starts cursor pagination, RFC 9865).
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<ListQuery> {
        let mut q = ListQuery::default();
        for (name, value) in pairs {
            let Some(param) = Param::from_name(name.trim()) else {
                continue;
            };
            match param {
                Param::Filter => q.filter = non_empty(value),
                Param::SortBy => q.sort_by = non_empty(value),
                Param::SortOrder => {
                    q.sort_order = non_empty(value).map(|v| SortOrder::parse(&v)).transpose()?;
                }
                Param::StartIndex => {
                    q.start_index = match non_empty(value) {
                        None => None,
                        Some(v) => Some(parse_integer("startIndex", &v)?.unwrap_or(1).max(1)),
                    };
                }
                Param::Count => {
                    q.count = match non_empty(value) {
                        None => None,
                        Some(v) => Some(parse_integer("count", &v)?.unwrap_or(0)),
                    };
                }
                Param::Cursor => q.cursor = Some(value.trim().to_owned()),
                Param::Attributes => q.attributes = non_empty(value),
                Param::ExcludedAttributes => q.excluded_attributes = non_empty(value),
            }
        }
        Ok(q)
    }

    /// From the body of `POST /.search` (RFC 7644 §3.4.3). Member names in any case;
    /// `attributes`/`excludedAttributes` as arrays of strings (a comma-separated string
    /// is accepted too); numbers as JSON integers or numeric strings. `schemas` is not
    /// checked: clients omit or misspell it and nothing depends on it.
    pub fn from_search_request(body: &Value) -> Result<ListQuery> {
        let obj = body
            .as_object()
            .ok_or_else(|| Error::invalid_syntax("a SearchRequest must be a JSON object"))?;
        let mut q = ListQuery::default();
        for (name, value) in obj {
            let Some(param) = Param::from_name(name) else {
                continue;
            };
            if value.is_null() {
                continue;
            }
            match param {
                Param::Filter => q.filter = non_empty(string_member(name, value)?),
                Param::SortBy => q.sort_by = non_empty(string_member(name, value)?),
                Param::SortOrder => {
                    q.sort_order = non_empty(string_member(name, value)?)
                        .map(|v| SortOrder::parse(&v))
                        .transpose()?;
                }
                Param::StartIndex => {
                    q.start_index = integer_member(name, value)?.map(|n| n.unwrap_or(1).max(1));
                }
                Param::Count => q.count = integer_member(name, value)?.map(|n| n.unwrap_or(0)),
                Param::Cursor => q.cursor = Some(string_member(name, value)?.trim().to_owned()),
                Param::Attributes => q.attributes = path_list_member(name, value)?,
                Param::ExcludedAttributes => {
                    q.excluded_attributes = path_list_member(name, value)?;
                }
            }
        }
        Ok(q)
    }
}

fn string_member<'v>(name: &str, value: &'v Value) -> Result<&'v str> {
    value
        .as_str()
        .ok_or_else(|| Error::invalid_syntax(format!("{name} must be a string")))
}

/// `Ok(None)`: absent (empty string); `Ok(Some(None))`: negative; `Ok(Some(Some(n)))`.
fn integer_member(name: &str, value: &Value) -> Result<Option<Option<u64>>> {
    match value {
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                Ok(Some(Some(u)))
            } else if n.as_i64().is_some() {
                Ok(Some(None))
            } else {
                Err(Error::invalid_value(format!(
                    "{name} must be an integer, not {n}"
                )))
            }
        }
        Value::String(s) => match non_empty(s) {
            None => Ok(None),
            Some(v) => parse_integer(name, &v).map(Some),
        },
        _ => Err(Error::invalid_syntax(format!("{name} must be an integer"))),
    }
}

fn path_list_member(name: &str, value: &Value) -> Result<Option<String>> {
    let joined = match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let mut parts = Vec::with_capacity(items.len());
            for item in items {
                let s = item.as_str().ok_or_else(|| {
                    Error::invalid_syntax(format!("{name} must be an array of strings"))
                })?;
                if !s.trim().is_empty() {
                    parts.push(s.trim());
                }
            }
            parts.join(",")
        }
        _ => {
            return Err(Error::invalid_syntax(format!(
                "{name} must be an array of strings"
            )));
        }
    };
    Ok(non_empty(&joined))
}

/// The HTTP method of a Bulk operation (RFC 7644 §3.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BulkMethod {
    Post,
    Put,
    Patch,
    Delete,
}

impl BulkMethod {
    /// Parses a method name in any case.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Post, Self::Put, Self::Patch, Self::Delete]
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s))
    }

    /// The upper-case method name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
        }
    }
}

/// One operation of a Bulk request.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkOperation {
    pub method: BulkMethod,
    /// Client-chosen id other operations refer to as `bulkId:<id>`; required for POST.
    pub bulk_id: Option<String>,
    /// ETag for `If-Match` semantics.
    pub version: Option<String>,
    /// Endpoint-relative path, e.g. `/Users` or `/Groups/{id}`.
    pub path: String,
    /// The body of the equivalent single request; present for POST, PUT and PATCH.
    pub data: Option<Value>,
}

/// A Bulk request (RFC 7644 §3.7.1).
#[derive(Debug, Clone, PartialEq)]
pub struct BulkRequest {
    /// Stop after this many errors; `None` means process everything.
    pub fail_on_errors: Option<u64>,
    pub operations: Vec<BulkOperation>,
}

fn member<'v>(obj: &'v Map<String, Value>, name: &str) -> Option<&'v Value> {
    obj.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
        .filter(|v| !v.is_null())
}

fn optional_string(obj: &Map<String, Value>, name: &str, index: usize) -> Result<Option<String>> {
    match member(obj, name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Error::invalid_syntax(format!(
            "Operations[{index}].{name} must be a string"
        ))),
    }
}

impl BulkRequest {
    /// Parses and checks the shape of a Bulk request body. Member names are matched in
    /// any case; `schemas` is not checked. Fails with [`Error::InvalidSyntax`] when
    /// `Operations` is missing or not an array, an operation is not an object, has an
    /// unknown `method`, lacks `path`, lacks `bulkId` on POST, or lacks `data` on
    /// POST, PUT or PATCH.
    pub fn parse(body: &Value) -> Result<BulkRequest> {
        let obj = body
            .as_object()
            .ok_or_else(|| Error::invalid_syntax("a BulkRequest must be a JSON object"))?;
        let fail_on_errors = match member(obj, "failOnErrors") {
            None => None,
            Some(v) => Some(v.as_u64().ok_or_else(|| {
                Error::invalid_syntax("failOnErrors must be a non-negative integer")
            })?),
        };
        let ops = member(obj, "Operations")
            .and_then(Value::as_array)
            .ok_or_else(|| Error::invalid_syntax("a BulkRequest needs an Operations array"))?;
        let mut operations = Vec::with_capacity(ops.len());
        for (i, op) in ops.iter().enumerate() {
            let op = op.as_object().ok_or_else(|| {
                Error::invalid_syntax(format!("Operations[{i}] must be an object"))
            })?;
            let method = member(op, "method")
                .and_then(Value::as_str)
                .and_then(BulkMethod::parse)
                .ok_or_else(|| {
                    Error::invalid_syntax(format!(
                        "Operations[{i}].method must be POST, PUT, PATCH or DELETE"
                    ))
                })?;
            let path = member(op, "path")
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|p| p.starts_with('/') && p.len() > 1)
                .ok_or_else(|| {
                    Error::invalid_syntax(format!(
                        "Operations[{i}].path must be an endpoint path such as /Users"
                    ))
                })?
                .to_owned();
            let bulk_id = optional_string(op, "bulkId", i)?;
            if method == BulkMethod::Post && bulk_id.as_deref().is_none_or(str::is_empty) {
                return Err(Error::invalid_syntax(format!(
                    "Operations[{i}] is a POST and needs a bulkId"
                )));
            }
            let version = optional_string(op, "version", i)?;
            let data = member(op, "data").cloned();
            if method != BulkMethod::Delete && !data.as_ref().is_some_and(Value::is_object) {
                return Err(Error::invalid_syntax(format!(
                    "Operations[{i}] is a {} and needs a data object",
                    method.as_str()
                )));
            }
            operations.push(BulkOperation {
                method,
                bulk_id,
                version,
                path,
                data,
            });
        }
        Ok(BulkRequest {
            fail_on_errors,
            operations,
        })
    }
}

/// The outcome of one Bulk operation (RFC 7644 §3.7.3).
#[derive(Debug, Clone, PartialEq)]
pub struct BulkResponseOp {
    pub method: BulkMethod,
    pub bulk_id: Option<String>,
    /// The new `meta.version` of the resource.
    pub version: Option<String>,
    /// The resource URI; absent when the operation failed before a resource existed.
    pub location: Option<String>,
    /// The HTTP status of the operation.
    pub status: u16,
    /// The error body for a failed operation (or a resource, when the server returns one).
    pub response: Option<Value>,
}

/// The BulkResponse body. `status` is a string in each operation, as in the RFC 7644
/// §3.7.3 examples; absent members are omitted, never `null`.
pub fn bulk_response(ops: &[BulkResponseOp]) -> Value {
    let operations: Vec<Value> = ops
        .iter()
        .map(|op| {
            let mut m = Map::new();
            m.insert("method".into(), json!(op.method.as_str()));
            if let Some(id) = &op.bulk_id {
                m.insert("bulkId".into(), json!(id));
            }
            if let Some(version) = &op.version {
                m.insert("version".into(), json!(version));
            }
            if let Some(location) = &op.location {
                m.insert("location".into(), json!(location));
            }
            m.insert("status".into(), json!(op.status.to_string()));
            if let Some(response) = &op.response {
                m.insert("response".into(), response.clone());
            }
            Value::Object(m)
        })
        .collect();
    json!({
        "schemas": [BULK_RESPONSE],
        "Operations": operations,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use super::*;

    fn query(pairs: &[(&str, &str)]) -> Result<ListQuery> {
        ListQuery::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn list_response_shape() {
        let empty = ListResponse {
            total_results: 0,
            start_index: Some(1),
            ..ListResponse::default()
        }
        .into_json();
        assert_eq!(
            empty,
            json!({"schemas": [LIST_RESPONSE], "totalResults": 0, "itemsPerPage": 0,
                   "startIndex": 1, "Resources": []})
        );
        let page = ListResponse {
            total_results: 7,
            start_index: None,
            items_per_page: 1,
            resources: vec![json!({"id": "a"})],
            next_cursor: Some("abc".into()),
            previous_cursor: None,
        };
        // Serialized directly, the same as through a Value.
        assert_eq!(
            serde_json::to_string(&page).unwrap(),
            page.clone().into_json().to_string()
        );
        let page = page.into_json();
        assert_eq!(page["totalResults"], 7);
        assert!(page["totalResults"].is_u64());
        assert!(page.get("startIndex").is_none());
        assert_eq!(page["nextCursor"], "abc");
        assert!(page.get("previousCursor").is_none());
        assert_eq!(page["Resources"][0]["id"], "a");
    }

    #[test]
    fn query_names_any_case() {
        let q = query(&[
            ("FILTER", "userName eq \"a\""),
            ("sortby", "userName"),
            ("SortOrder", "DESCENDING"),
            ("startindex", "3"),
            ("Count", "10"),
            ("attributes", "userName,emails"),
            ("EXCLUDEDATTRIBUTES", "groups"),
            ("unknown", "whatever"),
        ])
        .unwrap();
        assert_eq!(q.filter.as_deref(), Some("userName eq \"a\""));
        assert_eq!(q.sort_by.as_deref(), Some("userName"));
        assert_eq!(q.sort_order, Some(SortOrder::Descending));
        assert_eq!(q.start_index, Some(3));
        assert_eq!(q.count, Some(10));
        assert_eq!(q.cursor, None);
        assert_eq!(q.attributes.as_deref(), Some("userName,emails"));
        assert_eq!(q.excluded_attributes.as_deref(), Some("groups"));
    }

    #[test]
    fn query_clamps_numbers() {
        let q = query(&[("startIndex", "0"), ("count", "-5")]).unwrap();
        assert_eq!(q.start_index, Some(1));
        assert_eq!(q.count, Some(0));
        let q = query(&[("startIndex", "-3"), ("count", "+2")]).unwrap();
        assert_eq!(q.start_index, Some(1));
        assert_eq!(q.count, Some(2));
        let q = query(&[("count", "99999999999999999999999")]).unwrap();
        assert_eq!(q.count, Some(u64::MAX));
        let q = query(&[("startIndex", ""), ("count", " ")]).unwrap();
        assert_eq!((q.start_index, q.count), (None, None));
        assert_eq!(query(&[]).unwrap(), ListQuery::default());
    }

    #[test]
    fn query_rejects_bad_values() {
        for (name, value) in [
            ("count", "ten"),
            ("count", "1.5"),
            ("startIndex", "0x10"),
            ("startIndex", "-"),
            ("sortOrder", "up"),
        ] {
            match query(&[(name, value)]) {
                Err(Error::InvalidValue(msg)) => assert!(msg.contains(name), "{msg}"),
                other => panic!("{name}={value}: {other:?}"),
            }
        }
        assert_eq!(
            query(&[("sortOrder", "Ascending")]).unwrap().sort_order,
            Some(SortOrder::Ascending)
        );
    }

    #[test]
    fn query_cursor_and_empty_values() {
        let q = query(&[("cursor", ""), ("filter", "  "), ("attributes", "")]).unwrap();
        assert_eq!(q.cursor.as_deref(), Some(""));
        assert_eq!(q.filter, None);
        assert_eq!(q.attributes, None);
        let q = query(&[("Cursor", "VZUTiy"), ("count", "2"), ("count", "3")]).unwrap();
        assert_eq!(q.cursor.as_deref(), Some("VZUTiy"));
        assert_eq!(q.count, Some(3));
    }

    #[test]
    fn search_request_body() {
        let body = json!({
            "schemas": [SEARCH_REQUEST],
            "attributes": ["displayName", "userName"],
            "excludedAttributes": [],
            "filter": "displayName sw \"smith\"",
            "startIndex": 0,
            "count": 10,
            "SortOrder": "descending",
            "sortBy": "userName"
        });
        let q = ListQuery::from_search_request(&body).unwrap();
        assert_eq!(q.attributes.as_deref(), Some("displayName,userName"));
        assert_eq!(q.excluded_attributes, None);
        assert_eq!(q.filter.as_deref(), Some("displayName sw \"smith\""));
        assert_eq!(q.start_index, Some(1));
        assert_eq!(q.count, Some(10));
        assert_eq!(q.sort_order, Some(SortOrder::Descending));
        assert_eq!(q.sort_by.as_deref(), Some("userName"));
    }

    #[test]
    fn search_request_lenient_forms() {
        let q = ListQuery::from_search_request(&json!({
            "attributes": "userName, emails",
            "count": "-1",
            "startIndex": "5",
            "cursor": "",
            "filter": null
        }))
        .unwrap();
        assert_eq!(q.attributes.as_deref(), Some("userName, emails"));
        assert_eq!(q.count, Some(0));
        assert_eq!(q.start_index, Some(5));
        assert_eq!(q.cursor.as_deref(), Some(""));
        assert_eq!(q.filter, None);
        let q = ListQuery::from_search_request(&json!({"count": -4})).unwrap();
        assert_eq!(q.count, Some(0));
    }

    #[test]
    fn search_request_errors() {
        assert!(matches!(
            ListQuery::from_search_request(&json!([])),
            Err(Error::InvalidSyntax(_))
        ));
        assert!(matches!(
            ListQuery::from_search_request(&json!({"attributes": [1]})),
            Err(Error::InvalidSyntax(_))
        ));
        assert!(matches!(
            ListQuery::from_search_request(&json!({"filter": 3})),
            Err(Error::InvalidSyntax(_))
        ));
        assert!(matches!(
            ListQuery::from_search_request(&json!({"count": 1.5})),
            Err(Error::InvalidValue(_))
        ));
        assert!(matches!(
            ListQuery::from_search_request(&json!({"count": true})),
            Err(Error::InvalidSyntax(_))
        ));
        assert!(matches!(
            ListQuery::from_search_request(&json!({"sortOrder": "sideways"})),
            Err(Error::InvalidValue(_))
        ));
    }

    #[test]
    fn bulk_request_parses() {
        let body = json!({
            "schemas": [BULK_REQUEST],
            "failOnErrors": 1,
            "Operations": [
                {"method": "post", "path": "/Users", "bulkId": "qwerty",
                 "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "Alice"}},
                {"method": "PUT", "path": "/Users/b7c14771", "version": "W/\"3694e05e9dff591\"",
                 "data": {"userName": "Bob"}},
                {"Method": "Patch", "Path": "/Groups/e9e30dba", "Data": {"Operations": []}},
                {"method": "DELETE", "path": "/Users/e9025315", "version": "W/\"0ee8add0a938e1a\""}
            ]
        });
        let req = BulkRequest::parse(&body).unwrap();
        assert_eq!(req.fail_on_errors, Some(1));
        assert_eq!(req.operations.len(), 4);
        let post = &req.operations[0];
        assert_eq!(post.method, BulkMethod::Post);
        assert_eq!(post.bulk_id.as_deref(), Some("qwerty"));
        assert_eq!(post.path, "/Users");
        assert_eq!(post.data.as_ref().unwrap()["userName"], "Alice");
        assert_eq!(
            req.operations[1].version.as_deref(),
            Some("W/\"3694e05e9dff591\"")
        );
        assert_eq!(req.operations[2].method, BulkMethod::Patch);
        assert_eq!(req.operations[2].path, "/Groups/e9e30dba");
        assert_eq!(req.operations[3].method, BulkMethod::Delete);
        assert!(req.operations[3].data.is_none());
        let no_limit = BulkRequest::parse(&json!({"Operations": []})).unwrap();
        assert_eq!(no_limit.fail_on_errors, None);
        assert!(no_limit.operations.is_empty());
    }

    #[test]
    fn bulk_request_shape_errors() {
        let bad = [
            json!([]),
            json!({}),
            json!({"Operations": {}}),
            json!({"failOnErrors": -1, "Operations": []}),
            json!({"failOnErrors": "1", "Operations": []}),
            json!({"Operations": ["x"]}),
            json!({"Operations": [{"method": "GET", "path": "/Users"}]}),
            json!({"Operations": [{"path": "/Users/1"}]}),
            json!({"Operations": [{"method": "DELETE"}]}),
            json!({"Operations": [{"method": "DELETE", "path": "Users/1"}]}),
            json!({"Operations": [{"method": "POST", "path": "/Users", "data": {}}]}),
            json!({"Operations": [{"method": "POST", "path": "/Users", "bulkId": "", "data": {}}]}),
            json!({"Operations": [{"method": "POST", "path": "/Users", "bulkId": "a"}]}),
            json!({"Operations": [{"method": "PUT", "path": "/Users/1", "data": "x"}]}),
            json!({"Operations": [{"method": "DELETE", "path": "/Users/1", "bulkId": 5}]}),
        ];
        for body in bad {
            assert!(
                matches!(BulkRequest::parse(&body), Err(Error::InvalidSyntax(_))),
                "{body}"
            );
        }
    }

    #[test]
    fn bulk_response_shape() {
        let ops = [
            BulkResponseOp {
                method: BulkMethod::Post,
                bulk_id: Some("qwerty".into()),
                version: Some("W/\"oY4m4wn58tkVjJxK\"".into()),
                location: Some("https://example.com/v2/Users/92b725cd".into()),
                status: 201,
                response: None,
            },
            BulkResponseOp {
                method: BulkMethod::Delete,
                bulk_id: None,
                version: None,
                location: None,
                status: 404,
                response: Some(Error::NotFound("no such user".into()).to_body()),
            },
        ];
        let body = bulk_response(&ops);
        assert_eq!(body["schemas"], json!([BULK_RESPONSE]));
        assert_eq!(
            body["Operations"][0],
            json!({"method": "POST", "bulkId": "qwerty", "version": "W/\"oY4m4wn58tkVjJxK\"",
                   "location": "https://example.com/v2/Users/92b725cd", "status": "201"})
        );
        let failed = &body["Operations"][1];
        assert_eq!(failed["status"], "404");
        assert_eq!(failed["response"]["status"], "404");
        assert!(failed.get("location").is_none());
        assert!(failed.get("bulkId").is_none());
        assert_eq!(bulk_response(&[])["Operations"], json!([]));
    }

    #[test]
    fn message_urns() {
        assert_eq!(ERROR, "urn:ietf:params:scim:api:messages:2.0:Error");
        assert!(PATCH_OP.ends_with(":PatchOp"));
        assert_eq!(BulkMethod::parse("delete"), Some(BulkMethod::Delete));
        assert_eq!(BulkMethod::parse("GET"), None);
    }
}
