//! `POST /Bulk` (RFC 7644 §3.7): many resource operations in one request.
//!
//! Each operation is run through the same [`Service`] functions as the equivalent single
//! request (so validation, uniqueness, membership and ETags behave identically) and is its
//! own transaction; the RFC does not ask for atomicity across operations.
//!
//! - §3.7.1, §3.7.2: `bulkId:<id>` references in an operation's `path` and anywhere inside
//!   its `data` (Group `members[].value`, `manager.value`, PATCH values, …) are replaced by
//!   the id that the POST declaring that bulkId created. An operation whose referenced POST
//!   comes later in the request is deferred until that POST has run. References that cannot
//!   be resolved — an unknown bulkId, a POST that failed, or a circular chain of references —
//!   fail the referring operation with 409 Conflict and `scimType` `invalidValue`. For
//!   circular references this is the "MAY stop after a failed attempt" branch of §3.7.1:
//!   scimd does not create resources with their references stripped and patch them in later,
//!   since that would make a Bulk operation behave differently from the single request.
//! - §3.7.3: `failOnErrors` N stops processing once N operations have failed; operations
//!   not performed are not listed. Each performed operation is listed (in request order)
//!   with `method`, `bulkId`, `location`, `version` and `status`, and `response` (the §3.12
//!   error body) when it failed. `version` in a request acts as `If-Match`.
//! - §3.7.4: more operations than `maxOperations`, or a body larger than `maxPayloadSize`,
//!   is 413 Payload Too Large naming the limit. The Bulk body is read with its own limit
//!   (`bulk_max_payload_bytes`), independent of `max_body_bytes` for single requests.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::state::ServerStore;
use axum::Extension;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use scimd_core::message::{BulkMethod, BulkOperation, BulkRequest, BulkResponseOp, bulk_response};
use scimd_core::schema::ResourceKind;
use scimd_store::Load;
use serde_json::Value;

use crate::auth::TenantContext;
use crate::config::PatchResponse;
use crate::error::{ApiError, ApiResult};
use crate::http::{self, Precondition, ScimResponse, etag};
use crate::service::Service;
use crate::state::AppState;

/// The prefix that marks a reference to another operation's bulkId (RFC 7644 §3.7.2).
pub const BULK_ID_PREFIX: &str = "bulkId:";

/// `POST /Bulk`: 200 with a BulkResponse, or 413 when the request exceeds the advertised
/// `maxOperations` / `maxPayloadSize`.
pub async fn bulk<S: ServerStore>(
    State(state): State<AppState<S>>,
    Extension(ctx): Extension<Arc<TenantContext>>,
    req: Request,
) -> ApiResult<ScimResponse> {
    let config = state.config();
    if config.bulk_max_operations == 0 {
        // Advertised as unsupported in /ServiceProviderConfig (maxOperations 0).
        return Err(scimd_core::Error::NotImplemented(
            "Bulk operations are disabled on this server".into(),
        )
        .into());
    }
    http::check_content_type(req.headers())?;
    let max_payload = config.bulk_max_payload_bytes;
    let body = http::read_json(req.into_body(), max_payload)
        .await
        .map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large(format!(
                    "The size of the bulk operation exceeds the maxPayloadSize ({max_payload})."
                ))
            } else {
                e
            }
        })?;
    // Counted before the operations are checked one by one, so an oversized request is
    // refused without validating any of it.
    let max_operations = config.bulk_max_operations;
    if let Some(n) = operation_count(&body)
        && u64::try_from(n).unwrap_or(u64::MAX) > max_operations
    {
        return Err(too_large(format!(
            "The number of operations ({n}) exceeds the maxOperations ({max_operations})."
        )));
    }
    let request = BulkRequest::parse(&body)?;
    let svc = Service::new(&state, &ctx);
    let ops = run(&svc, &request).await;
    Ok(ScimResponse::ok(bulk_response(&ops)))
}

fn too_large(detail: String) -> ApiError {
    scimd_core::Error::PayloadTooLarge(detail).into()
}

/// The length of the request's `Operations` array (member name in any case), if any.
fn operation_count(body: &Value) -> Option<usize> {
    body.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("Operations"))
        .and_then(|(_, v)| v.as_array())
        .map(Vec::len)
}

/// The most operations submitted to the store at once (see [`run`]).
const MAX_WAVE: usize = 128;

/// Runs the operations of a parsed Bulk request in dependency order and returns the
/// outcome of each performed operation, in request order.
///
/// When the store commits writes in the order they are submitted (SQLite's single writer
/// queue), a run of consecutive independent POSTs — no bulkId references, no password to
/// hash first — is submitted as one wave without waiting for each commit: the store runs
/// them in request order, in shared commit groups, so every outcome (including which of
/// two POSTs of one userName wins) is the one the one-by-one run gives. A wave is never
/// larger than the errors `failOnErrors` still allows, so processing still stops exactly
/// at the N-th error.
pub async fn run<S: ServerStore>(
    svc: &Service<'_, S>,
    request: &BulkRequest,
) -> Vec<BulkResponseOp> {
    let plan = Plan::new(&request.operations);
    let pipelined = svc.writes_commit_in_order();
    let mut outcomes: Vec<(usize, BulkResponseOp)> = Vec::new();
    let mut resolved: HashMap<&str, Resolution> = HashMap::new();
    let mut performed = vec![false; request.operations.len()];
    let mut errors: u64 = 0;
    'steps: while let Some(step) = plan.next(&performed) {
        let done = match step {
            Step::Ready(i) => {
                let budget = request.fail_on_errors.map_or(usize::MAX, |limit| {
                    usize::try_from(limit.saturating_sub(errors)).unwrap_or(usize::MAX)
                });
                let wave = if pipelined {
                    plan.wave(i, &request.operations, svc, budget.min(MAX_WAVE))
                } else {
                    vec![i]
                };
                let ops = wave
                    .iter()
                    .filter_map(|&j| Some((j, request.operations.get(j)?)));
                let runs = ops.map(|(j, op)| perform(svc, &plan, j, op, &resolved));
                wave.iter()
                    .copied()
                    .zip(join_in_order(runs).await)
                    .collect()
            }
            Step::Stuck(i) => {
                let Some(op) = request.operations.get(i) else {
                    break;
                };
                let failure = Failure::conflict(
                    "this operation waits on a circular chain of bulkId references that \
                     cannot be resolved (RFC 7644 §3.7.1)",
                );
                vec![(i, (failed(op, None, failure), None))]
            }
        };
        for (index, (outcome, created)) in done {
            if let Some(slot) = performed.get_mut(index) {
                *slot = true;
            }
            if let Some(bulk_id) = plan.declared_by(index) {
                let resolution = match (created, &outcome.location) {
                    (Some(id), Some(location)) => Resolution::Created {
                        id,
                        location: location.clone(),
                    },
                    _ => Resolution::Failed,
                };
                resolved.insert(bulk_id, resolution);
            }
            let is_error = outcome.response.is_some();
            outcomes.push((index, outcome));
            if is_error {
                errors += 1;
                if request.fail_on_errors.is_some_and(|limit| errors >= limit) {
                    break 'steps;
                }
            }
        }
    }
    outcomes.sort_by_key(|(i, _)| *i);
    outcomes.into_iter().map(|(_, op)| op).collect()
}

/// Awaits futures together, polling them in the order given, and returns their outputs in
/// that order. Each future's first poll happens before the next one's, so work a future
/// submits on its first poll (a write queued to the store) is submitted in order.
async fn join_in_order<F: Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut pending: Vec<_> = futures.map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut all_done = true;
        for (future, output) in pending.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *output = Some(v),
                    std::task::Poll::Pending => all_done = false,
                }
            }
        }
        if all_done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

/// What a bulkId turned into once its POST ran.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Resolution {
    Created { id: String, location: String },
    Failed,
}

/// The dependency structure of a request: which POST declares each bulkId, and which
/// bulkIds each operation refers to.
#[derive(Debug)]
struct Plan<'r> {
    /// bulkId → index of the first POST declaring it.
    declarers: HashMap<&'r str, usize>,
    /// Per operation, the bulkIds it refers to (deduplicated, in order of appearance).
    refs: Vec<Vec<&'r str>>,
    /// Per operation, the bulkId it declares (POSTs only, first declaration only).
    declares: Vec<Option<&'r str>>,
    /// POSTs that reuse a bulkId declared by an earlier POST.
    duplicates: HashSet<usize>,
}

/// The next operation to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Every bulkId it refers to is unknown or already resolved.
    Ready(usize),
    /// Nothing is ready: this (first remaining) operation waits on a circular chain.
    Stuck(usize),
}

impl<'r> Plan<'r> {
    fn new(ops: &'r [BulkOperation]) -> Self {
        let mut declarers = HashMap::new();
        let mut declares = Vec::with_capacity(ops.len());
        let mut duplicates = HashSet::new();
        for (i, op) in ops.iter().enumerate() {
            let declared = match (&op.method, op.bulk_id.as_deref()) {
                (BulkMethod::Post, Some(id)) if !id.is_empty() => {
                    if declarers.contains_key(id) {
                        duplicates.insert(i);
                        None
                    } else {
                        declarers.insert(id, i);
                        Some(id)
                    }
                }
                _ => None,
            };
            declares.push(declared);
        }
        let refs = ops.iter().map(references).collect();
        Self {
            declarers,
            refs,
            declares,
            duplicates,
        }
    }

    /// The bulkId that operation `index` declares, if it is the POST that owns it.
    fn declared_by(&self, index: usize) -> Option<&'r str> {
        self.declares.get(index).copied().flatten()
    }

    /// Operation `first` and the consecutive operations after it that can be submitted
    /// with it (see [`run`]): POSTs that have not run, declare no duplicate bulkId, refer to
    /// no bulkId and carry no password to hash; at most `limit`. Just `[first]` when
    /// `first` itself is not such a POST.
    fn wave<S: ServerStore>(
        &self,
        first: usize,
        ops: &[BulkOperation],
        svc: &Service<'_, S>,
        limit: usize,
    ) -> Vec<usize> {
        let hashes_passwords = svc.context().settings.password_sync;
        let independent = |i: usize| {
            ops.get(i).is_some_and(|op| {
                op.method == BulkMethod::Post
                    && !self.duplicates.contains(&i)
                    && self.refs.get(i).is_some_and(Vec::is_empty)
                    && !(hashes_passwords && carries_password(op))
            })
        };
        let mut wave = vec![first];
        if !independent(first) {
            return wave;
        }
        let mut next = first + 1;
        while wave.len() < limit && independent(next) {
            wave.push(next);
            next += 1;
        }
        wave
    }

    /// The first operation (in request order) that has not run and whose references are
    /// all unknown or resolved; if none is ready but some remain, the first remaining one
    /// as [`Step::Stuck`]; `None` when everything ran.
    fn next(&self, performed: &[bool]) -> Option<Step> {
        let waiting = |bulk_id: &&str| {
            self.declarers
                .get(bulk_id)
                .is_some_and(|&d| !performed.get(d).copied().unwrap_or(true))
        };
        let mut first_remaining = None;
        for (i, done) in performed.iter().enumerate() {
            if *done {
                continue;
            }
            first_remaining.get_or_insert(i);
            let refs = self.refs.get(i).map(Vec::as_slice).unwrap_or_default();
            if !refs.iter().any(waiting) {
                return Some(Step::Ready(i));
            }
        }
        first_remaining.map(Step::Stuck)
    }
}

/// Whether a POST's data has a `password` (any case): hashing it is a blocking task, after
/// which the write could reach the store out of request order.
fn carries_password(op: &BulkOperation) -> bool {
    op.data
        .as_ref()
        .and_then(Value::as_object)
        .is_some_and(|d| d.keys().any(|k| k.eq_ignore_ascii_case("password")))
}

/// The bulkIds an operation refers to in its `path` and its `data`.
fn references(op: &BulkOperation) -> Vec<&str> {
    let mut out = Vec::new();
    for segment in op.path.split('/') {
        if let Some(id) = segment.strip_prefix(BULK_ID_PREFIX) {
            push_unique(&mut out, id);
        }
    }
    if let Some(data) = &op.data {
        collect_references(data, &mut out);
    }
    out
}

fn push_unique<'a>(out: &mut Vec<&'a str>, id: &'a str) {
    if !out.contains(&id) {
        out.push(id);
    }
}

/// Every string value of the form `bulkId:<id>` inside `value`. The depth is bounded by
/// the JSON parser's nesting limit (128), which every request body went through.
fn collect_references<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::String(s) => {
            if let Some(id) = s.strip_prefix(BULK_ID_PREFIX) {
                push_unique(out, id);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_references(v, out)),
        Value::Object(map) => map.values().for_each(|v| collect_references(v, out)),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Replaces every `bulkId:<id>` string in `value` by the created resource's id (or by its
/// location for a `$ref` member, which is a URI). Fails on the first reference that did
/// not resolve to a created resource.
fn substitute(
    value: &mut Value,
    key: Option<&str>,
    resolved: &HashMap<&str, Resolution>,
) -> Result<(), Failure> {
    match value {
        Value::String(s) => {
            if let Some(bulk_id) = s.strip_prefix(BULK_ID_PREFIX) {
                let (id, location) = resolve(bulk_id, resolved)?;
                *s = if key == Some("$ref") { location } else { id };
            }
            Ok(())
        }
        Value::Array(items) => items
            .iter_mut()
            .try_for_each(|v| substitute(v, key, resolved)),
        Value::Object(map) => map
            .iter_mut()
            .try_for_each(|(k, v)| substitute(v, Some(k.as_str()), resolved)),
        Value::Null | Value::Bool(_) | Value::Number(_) => Ok(()),
    }
}

/// The id and location a bulkId resolved to.
fn resolve(
    bulk_id: &str,
    resolved: &HashMap<&str, Resolution>,
) -> Result<(String, String), Failure> {
    match resolved.get(bulk_id) {
        Some(Resolution::Created { id, location }) => Ok((id.clone(), location.clone())),
        Some(Resolution::Failed) => Err(Failure::conflict(format!(
            "bulkId {bulk_id} refers to a POST of this request that failed"
        ))),
        None => Err(Failure::conflict(format!(
            "bulkId {bulk_id} is not declared by any POST of this request"
        ))),
    }
}

/// The failure of one operation: its status and §3.12 error body.
#[derive(Debug, Clone, PartialEq)]
struct Failure {
    status: u16,
    body: Value,
}

impl Failure {
    /// 409 `invalidValue` for a bulkId reference that cannot be resolved (RFC 7644 §3.7.1
    /// answers unresolvable references with 409 Conflict). `scimd_core::Error` maps
    /// `invalidValue` to 400 for single requests, so the Bulk-specific status is set here
    /// on the body the core renders.
    fn conflict(detail: impl Into<String>) -> Self {
        let mut body = scimd_core::Error::InvalidValue(detail.into()).to_body();
        if let Some(map) = body.as_object_mut() {
            map.insert("status".into(), Value::String("409".into()));
        }
        Self { status: 409, body }
    }
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        // The operation's status and body are those of the same request sent alone: a
        // storage timeout is a 503 the IdP retries, a fault a 500 (logged by `body`).
        Self {
            status: e.status().as_u16(),
            body: e.body(),
        }
    }
}

impl From<scimd_core::Error> for Failure {
    fn from(e: scimd_core::Error) -> Self {
        ApiError::from(e).into()
    }
}

fn failed(op: &BulkOperation, location: Option<String>, failure: Failure) -> BulkResponseOp {
    BulkResponseOp {
        method: op.method,
        bulk_id: op.bulk_id.clone(),
        version: None,
        location,
        status: failure.status,
        response: Some(failure.body),
    }
}

/// The target of an operation's `path`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    kind: ResourceKind,
    /// The resource id (after bulkId substitution); `None` for the collection.
    id: Option<String>,
}

/// Parses `/Users`, `/Groups`, `/Users/{id}`, `/Groups/{id}` (the endpoint name in any
/// case), resolving a `bulkId:<id>` resource id. Anything else is 404, as the same path
/// would be for a single request.
fn target(path: &str, resolved: &HashMap<&str, Resolution>) -> Result<Target, Failure> {
    let no_endpoint = || Failure::from(ApiError::not_found(format!("no such endpoint: {path}")));
    let rest = path.strip_prefix('/').ok_or_else(no_endpoint)?;
    let mut segments = rest.split('/');
    let endpoint = segments.next().unwrap_or_default();
    let kind = if endpoint.eq_ignore_ascii_case("Users") {
        ResourceKind::User
    } else if endpoint.eq_ignore_ascii_case("Groups") {
        ResourceKind::Group
    } else {
        return Err(no_endpoint());
    };
    let id = match (segments.next(), segments.next()) {
        (None, _) | (Some(""), None) => None,
        (Some(id), None) if !id.is_empty() => Some(match id.strip_prefix(BULK_ID_PREFIX) {
            Some(bulk_id) => resolve(bulk_id, resolved)?.0,
            None => id.to_owned(),
        }),
        _ => return Err(no_endpoint()),
    };
    Ok(Target { kind, id })
}

/// `version` of a Bulk operation read as an `If-Match` header value.
fn if_match(version: Option<&str>) -> Option<Precondition> {
    let version = version?;
    let mut headers = HeaderMap::new();
    match HeaderValue::from_str(version) {
        Ok(v) => {
            headers.insert(header::IF_MATCH, v);
            http::precondition(&headers, header::IF_MATCH)
        }
        // Not even a valid header value: a tag scimd never issued, so it never matches.
        Err(_) => Some(Precondition::Versions(Vec::new())),
    }
}

fn method_not_allowed(op: &BulkOperation) -> Failure {
    scimd_core::Error::MethodNotAllowed(format!(
        "{} is not allowed on {}",
        op.method.as_str(),
        op.path
    ))
    .into()
}

/// Performs one operation through the [`Service`], exactly as the single request would.
/// Returns its outcome and, for a successful POST, the id of the created resource.
async fn perform<S: ServerStore>(
    svc: &Service<'_, S>,
    plan: &Plan<'_>,
    index: usize,
    op: &BulkOperation,
    resolved: &HashMap<&str, Resolution>,
) -> (BulkResponseOp, Option<String>) {
    if plan.duplicates.contains(&index) {
        let failure: Failure = scimd_core::Error::InvalidValue(format!(
            "bulkId {} is already declared by an earlier POST of this request",
            op.bulk_id.as_deref().unwrap_or_default()
        ))
        .into();
        return (failed(op, None, failure), None);
    }
    let target = match target(&op.path, resolved) {
        Ok(t) => t,
        Err(f) => return (failed(op, None, f), None),
    };
    let location = target.id.as_deref().map(|id| svc.location(target.kind, id));
    let mut data = op.data.clone();
    if let Some(d) = data.as_mut()
        && let Err(f) = substitute(d, None, resolved)
    {
        return (failed(op, location, f), None);
    }
    match execute(svc, op, &target, data.as_ref()).await {
        Ok(done) => (
            BulkResponseOp {
                method: op.method,
                bulk_id: op.bulk_id.clone(),
                version: done.version.map(etag),
                location: Some(done.location),
                status: done.status,
                response: None,
            },
            done.id,
        ),
        Err(f) => (failed(op, location, f), None),
    }
}

/// A successful operation.
struct Done {
    status: u16,
    location: String,
    version: Option<i64>,
    /// The id of the resource a POST created.
    id: Option<String>,
}

async fn execute<S: ServerStore>(
    svc: &Service<'_, S>,
    op: &BulkOperation,
    target: &Target,
    data: Option<&Value>,
) -> Result<Done, Failure> {
    let kind = target.kind;
    // BulkRequest::parse guarantees data on POST, PUT and PATCH; this keeps it total.
    let body = || {
        data.ok_or_else(|| {
            Failure::from(scimd_core::Error::invalid_syntax(format!(
                "a {} operation needs data",
                op.method.as_str()
            )))
        })
    };
    let pre = if_match(op.version.as_deref());
    match (op.method, target.id.as_deref()) {
        (BulkMethod::Post, None) => {
            let res = svc.create(kind, body()?, Load::NONE).await?;
            Ok(Done {
                status: StatusCode::CREATED.as_u16(),
                location: svc.location(kind, &res.id),
                version: Some(res.version),
                id: Some(res.id),
            })
        }
        (BulkMethod::Put, Some(id)) => {
            let res = svc
                .replace(kind, id, body()?, pre.as_ref(), Load::NONE)
                .await?;
            Ok(Done {
                status: StatusCode::OK.as_u16(),
                location: svc.location(kind, &res.id),
                version: Some(res.version),
                id: None,
            })
        }
        (BulkMethod::Patch, Some(id)) => {
            // The status the single PATCH would answer with (there are no projection
            // parameters in a Bulk operation).
            let settings = &svc.context().settings;
            let setting = match kind {
                ResourceKind::User => settings.user_patch_response,
                ResourceKind::Group => settings.group_patch_response,
            };
            let status = match setting {
                PatchResponse::Resource => StatusCode::OK,
                PatchResponse::NoContent => StatusCode::NO_CONTENT,
            };
            let res = svc
                .patch(kind, id, body()?, pre.as_ref(), Load::NONE, status.as_u16())
                .await?;
            Ok(Done {
                status: status.as_u16(),
                location: svc.location(kind, &res.id),
                version: Some(res.version),
                id: None,
            })
        }
        (BulkMethod::Delete, Some(id)) => {
            svc.delete(kind, id, pre.as_ref()).await?;
            Ok(Done {
                status: StatusCode::NO_CONTENT.as_u16(),
                location: svc.location(kind, id),
                version: None,
                id: None,
            })
        }
        _ => Err(method_not_allowed(op)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;
    use serde_json::json;

    fn ops(body: Value) -> Vec<BulkOperation> {
        BulkRequest::parse(&json!({ "Operations": body }))
            .unwrap()
            .operations
    }

    fn created(id: &str) -> Resolution {
        Resolution::Created {
            id: id.into(),
            location: format!("https://h/scim/v2/Users/{id}"),
        }
    }

    #[test]
    fn failed_operations_carry_the_status_and_body_of_the_lone_request() {
        let timeout = Failure::from(crate::store_error(scimd_store::StoreError::Timeout(
            "statement timeout".into(),
        )));
        assert_eq!(timeout.status, 503);
        assert_eq!(timeout.body["status"], "503");
        let fault = Failure::from(ApiError::internal("disk on fire"));
        assert_eq!(fault.status, 500);
        assert_eq!(fault.body["status"], "500");
        assert!(!fault.body.to_string().contains("fire"));
        let conflict = Failure::from(scimd_core::Error::Uniqueness("taken".into()));
        assert_eq!(conflict.status, 409);
        assert_eq!(conflict.body["scimType"], "uniqueness");
    }

    #[test]
    fn references_in_path_and_nested_data() {
        let ops = ops(json!([
            {"method": "PATCH", "path": "/Groups/bulkId:g", "data": {"Operations": [
                {"op": "add", "path": "members", "value": [{"value": "bulkId:u1"}, {"value": "bulkId:u2"}]}
            ]}},
            {"method": "POST", "path": "/Users", "bulkId": "m", "data": {
                "userName": "x", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":
                    {"manager": {"value": "bulkId:boss"}}, "nickName": "bulkId:boss"
            }},
            {"method": "DELETE", "path": "/Users/plain"}
        ]));
        assert_eq!(references(&ops[0]), vec!["g", "u1", "u2"]);
        assert_eq!(references(&ops[1]), vec!["boss"]);
        assert!(references(&ops[2]).is_empty());
    }

    #[test]
    fn substitution_uses_ids_and_locations_for_refs() {
        let mut resolved = HashMap::new();
        resolved.insert("u", created("123"));
        resolved.insert("bad", Resolution::Failed);
        let mut data = json!({"members": [{"value": "bulkId:u", "$ref": "bulkId:u"}], "n": 1});
        substitute(&mut data, None, &resolved).unwrap();
        assert_eq!(data["members"][0]["value"], "123");
        assert_eq!(data["members"][0]["$ref"], "https://h/scim/v2/Users/123");
        let mut data = json!({"a": ["bulkId:nope"]});
        let f = substitute(&mut data, None, &resolved).unwrap_err();
        assert_eq!(f.status, 409);
        assert_eq!(f.body["status"], "409");
        assert_eq!(f.body["scimType"], "invalidValue");
        let mut data = json!({"a": "bulkId:bad"});
        assert_eq!(
            substitute(&mut data, None, &resolved).unwrap_err().status,
            409
        );
    }

    #[test]
    fn targets() {
        let mut resolved = HashMap::new();
        resolved.insert("q", created("42"));
        let t = target("/Users", &resolved).unwrap();
        assert_eq!((t.kind, t.id), (ResourceKind::User, None));
        let t = target("/groups/abc", &resolved).unwrap();
        assert_eq!(
            (t.kind, t.id.as_deref()),
            (ResourceKind::Group, Some("abc"))
        );
        let t = target("/Users/bulkId:q", &resolved).unwrap();
        assert_eq!(t.id.as_deref(), Some("42"));
        assert_eq!(
            target("/Users/bulkId:zz", &resolved).unwrap_err().status,
            409
        );
        for bad in ["/Schemas", "/Users/a/b", "Users", "/", "/Users//"] {
            assert_eq!(target(bad, &resolved).unwrap_err().status, 404, "{bad}");
        }
    }

    #[test]
    fn version_is_if_match() {
        assert_eq!(if_match(None), None);
        assert!(if_match(Some("W/\"3\"")).unwrap().matches(3));
        assert!(!if_match(Some("W/\"3\"")).unwrap().matches(4));
        assert!(if_match(Some("*")).unwrap().matches(9));
        assert!(!if_match(Some("bad\nvalue")).unwrap().matches(1));
    }

    #[test]
    fn plan_defers_forward_references_and_reports_cycles() {
        let ops = ops(json!([
            {"method": "POST", "path": "/Groups", "bulkId": "g", "data": {"members": [{"value": "bulkId:u"}]}},
            {"method": "POST", "path": "/Users", "bulkId": "u", "data": {"userName": "a"}},
            {"method": "POST", "path": "/Groups", "bulkId": "a", "data": {"members": [{"value": "bulkId:b"}]}},
            {"method": "POST", "path": "/Groups", "bulkId": "b", "data": {"members": [{"value": "bulkId:a"}]}},
            {"method": "PATCH", "path": "/Users/bulkId:unknown", "data": {"Operations": []}},
            {"method": "POST", "path": "/Users", "bulkId": "u", "data": {"userName": "dup"}}
        ]));
        let plan = Plan::new(&ops);
        assert!(plan.duplicates.contains(&5));
        assert_eq!(plan.declared_by(1), Some("u"));
        assert_eq!(plan.declared_by(5), None);
        let mut performed = vec![false; ops.len()];
        let mut order = Vec::new();
        while let Some(step) = plan.next(&performed) {
            let i = match step {
                Step::Ready(i) | Step::Stuck(i) => i,
            };
            order.push(step);
            performed[i] = true;
        }
        assert_eq!(
            order,
            vec![
                Step::Ready(1),
                Step::Ready(0),
                Step::Ready(4),
                Step::Ready(5),
                Step::Stuck(2),
                Step::Ready(3),
            ]
        );
    }

    #[test]
    fn operation_count_is_case_insensitive() {
        assert_eq!(operation_count(&json!({"operations": [1, 2]})), Some(2));
        assert_eq!(operation_count(&json!({"Operations": {}})), None);
        assert_eq!(operation_count(&json!([])), None);
    }
}
