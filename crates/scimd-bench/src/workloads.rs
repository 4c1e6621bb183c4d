//! The workloads of issue 7, each as a [`Worker`] issuing real SCIM requests (RFC 7644):
//!
//! - W1 `POST /Users` with unique userNames (§3.3);
//! - W2 `GET /Users/{id}` of random seeded users (§3.4.1);
//! - W3 `GET /Users?filter=userName eq "…"` of random seeded names (§3.4.2.2);
//! - W4 `GET /Users?count=100`: the first page, the page at `startIndex` near the end, and the
//!   same depth by cursor (RFC 9865);
//! - W5 `PATCH /Groups/{id}` adding one member (§3.5.2.1), to the large and the small group;
//! - W6 Okta's deactivate PATCH `{"op":"replace","value":{"active":false}}`, alternating
//!   false/true per user so every request is a real change;
//! - W7 an Entra sync cycle per user: filter lookup (no match), create, PATCH;
//! - W8 `POST /Bulk` (§3.7) of `bulk_size` user creations.
//!
//! Every worker owns one connection; expected statuses are checked and anything else counts
//! as an error.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use hyper::{Method, StatusCode};
use serde_json::{Value, json};

use crate::BenchResult;
use crate::client::{Conn, Reply};
use crate::data::{BULK_REQUEST, PATCH_OP, Rng, encode_query, seeded_user_name, user_body};
use crate::load::{Unit, Worker};

/// The SCIM base path of the default tenant.
pub const BASE: &str = "/scim/v2";

/// What every worker of a run shares.
pub struct Shared {
    pub ids: Vec<String>,
    /// Distinguishes userNames created by this run from those of earlier runs on the same
    /// data directory.
    pub run_id: String,
    pub big_group_id: String,
    pub small_group_id: String,
    /// Users `member_pool_start..` are members of neither group; W5 adds them in order.
    pub member_pool_start: u64,
    pub next_member: AtomicU64,
    /// A cursor positioned at the depth of the deep index page (W4c).
    pub deep_cursor: Option<String>,
    /// `startIndex` of the deep index page (W4b).
    pub deep_start: u64,
    pub bulk_size: u64,
}

impl Shared {
    fn users(&self) -> u64 {
        u64::try_from(self.ids.len()).unwrap_or(0)
    }

    fn id(&self, i: u64) -> &str {
        usize::try_from(i)
            .ok()
            .and_then(|i| self.ids.get(i))
            .map_or("", String::as_str)
    }
}

/// Which workload a worker runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    W1Create,
    W2Get,
    W3Filter,
    W4First,
    W4Index,
    W4Cursor,
    W5Big,
    W5Small,
    W6Deactivate,
    W7Entra,
    W8Bulk,
}

/// One load-generator worker.
pub struct ScimWorker {
    kind: Kind,
    conn: Conn,
    shared: Arc<Shared>,
    rng: Rng,
    worker: usize,
    workers: usize,
    seq: u64,
}

impl ScimWorker {
    /// Worker number `worker` of `workers`.
    pub fn new(kind: Kind, conn: Conn, shared: Arc<Shared>, worker: usize, workers: usize) -> Self {
        Self {
            kind,
            conn,
            shared,
            rng: Rng::new(0x5C1D ^ u64::try_from(worker).unwrap_or(0).wrapping_mul(7919)),
            worker,
            workers,
            seq: 0,
        }
    }

    fn unique_name(&self, prefix: &str) -> String {
        format!(
            "{prefix}-{}-{}-{}@bench.example",
            self.shared.run_id, self.worker, self.seq
        )
    }

    async fn expect(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
        want: StatusCode,
    ) -> BenchResult<Result<Reply, String>> {
        let reply = self.conn.send(method.clone(), path, body).await?;
        if reply.status == want {
            Ok(Ok(reply))
        } else {
            Ok(Err(format!(
                "{method} {} → {} (expected {want}): {}",
                path.split('?').next().unwrap_or_default(),
                reply.status,
                String::from_utf8_lossy(
                    reply
                        .body
                        .get(..200.min(reply.body.len()))
                        .unwrap_or_default()
                )
            )))
        }
    }
}

fn body(v: &Value) -> Bytes {
    Bytes::from(v.to_string())
}

fn done(r: Result<Reply, String>) -> Unit {
    match r {
        Ok(_) => Unit::Ok,
        Err(e) => Unit::Error(e),
    }
}

impl Worker for ScimWorker {
    async fn unit(&mut self) -> BenchResult<Unit> {
        self.seq += 1;
        let users = self.shared.users();
        match self.kind {
            Kind::W1Create => {
                let name = self.unique_name("w1");
                let b = body(&user_body(&name, self.seq));
                let path = format!("{BASE}/Users");
                Ok(done(
                    self.expect(Method::POST, &path, Some(b), StatusCode::CREATED)
                        .await?,
                ))
            }
            Kind::W2Get => {
                let i = self.rng.below(users);
                let path = format!("{BASE}/Users/{}", self.shared.id(i));
                Ok(done(
                    self.expect(Method::GET, &path, None, StatusCode::OK)
                        .await?,
                ))
            }
            Kind::W3Filter => {
                let i = self.rng.below(users);
                let filter = format!("userName eq \"{}\"", seeded_user_name(i));
                let path = format!("{BASE}/Users?filter={}", encode_query(&filter));
                let r = self
                    .expect(Method::GET, &path, None, StatusCode::OK)
                    .await?;
                Ok(match r {
                    Ok(reply) if total_results(&reply.body) != Some(1) => {
                        Unit::Error(format!("{path}: expected exactly one result"))
                    }
                    other => done(other),
                })
            }
            Kind::W4First => {
                let path = format!("{BASE}/Users?count=100");
                Ok(done(
                    self.expect(Method::GET, &path, None, StatusCode::OK)
                        .await?,
                ))
            }
            Kind::W4Index => {
                let path = format!(
                    "{BASE}/Users?startIndex={}&count=100",
                    self.shared.deep_start
                );
                Ok(done(
                    self.expect(Method::GET, &path, None, StatusCode::OK)
                        .await?,
                ))
            }
            Kind::W4Cursor => {
                let Some(cursor) = self.shared.deep_cursor.clone() else {
                    return Ok(Unit::Exhausted);
                };
                let path = format!("{BASE}/Users?count=100&cursor={}", encode_query(&cursor));
                Ok(done(
                    self.expect(Method::GET, &path, None, StatusCode::OK)
                        .await?,
                ))
            }
            Kind::W5Big | Kind::W5Small => {
                let n = self.shared.next_member.fetch_add(1, Ordering::Relaxed);
                let i = self.shared.member_pool_start + n;
                if i >= users {
                    return Ok(Unit::Exhausted);
                }
                let group = if self.kind == Kind::W5Big {
                    &self.shared.big_group_id
                } else {
                    &self.shared.small_group_id
                };
                let path = format!("{BASE}/Groups/{group}");
                let b = body(&json!({
                    "schemas": [PATCH_OP],
                    "Operations": [{"op": "add", "path": "members",
                                    "value": [{"value": self.shared.id(i)}]}]
                }));
                let r = self
                    .expect(Method::PATCH, &path, Some(b), StatusCode::NO_CONTENT)
                    .await?;
                Ok(match r {
                    Ok(reply) if !reply.body.is_empty() => {
                        Unit::Error("Group PATCH answered with a body".into())
                    }
                    other => done(other),
                })
            }
            Kind::W6Deactivate => {
                // Worker w owns users w, w + workers, …; pass p sets active = (p is odd), and
                // seeded users start active, so every PATCH changes the value.
                let per_worker = users / u64::try_from(self.workers.max(1))?;
                if per_worker == 0 {
                    return Ok(Unit::Exhausted);
                }
                let k = self.seq - 1;
                let (pass, slot) = (k / per_worker, k % per_worker);
                let i = slot * u64::try_from(self.workers)? + u64::try_from(self.worker)?;
                let path = format!("{BASE}/Users/{}", self.shared.id(i));
                let b = body(&json!({
                    "schemas": [PATCH_OP],
                    "Operations": [{"op": "replace", "value": {"active": pass % 2 == 1}}]
                }));
                Ok(done(
                    self.expect(Method::PATCH, &path, Some(b), StatusCode::OK)
                        .await?,
                ))
            }
            Kind::W7Entra => self.entra_cycle().await,
            Kind::W8Bulk => {
                let ops: Vec<Value> = (0..self.shared.bulk_size)
                    .map(|k| {
                        let name = format!(
                            "w8-{}-{}-{}-{k}@bench.example",
                            self.shared.run_id, self.worker, self.seq
                        );
                        json!({"method": "POST", "path": "/Users", "bulkId": format!("b{k}"),
                               "data": user_body(&name, k)})
                    })
                    .collect();
                let b = body(&json!({"schemas": [BULK_REQUEST], "Operations": ops}));
                let path = format!("{BASE}/Bulk");
                let r = self
                    .expect(Method::POST, &path, Some(b), StatusCode::OK)
                    .await?;
                Ok(match r {
                    Ok(reply) => bulk_check(&reply.body, self.shared.bulk_size),
                    Err(e) => Unit::Error(e),
                })
            }
        }
    }
}

impl ScimWorker {
    /// Entra's provisioning of one new user: look the user up by userName (no match), create
    /// it, then send Entra's multi-operation PATCH (Entra's attribute paths, capitalised op
    /// names and the string "False").
    async fn entra_cycle(&mut self) -> BenchResult<Unit> {
        let name = self.unique_name("w7");
        let filter = format!("userName eq \"{name}\"");
        let path = format!("{BASE}/Users?filter={}", encode_query(&filter));
        match self
            .expect(Method::GET, &path, None, StatusCode::OK)
            .await?
        {
            Ok(r) if total_results(&r.body) == Some(0) => {}
            Ok(_) => {
                return Ok(Unit::Error(
                    "W7 lookup found a user that should not exist".into(),
                ));
            }
            Err(e) => return Ok(Unit::Error(e)),
        }
        let b = body(&user_body(&name, self.seq));
        let created = match self
            .expect(
                Method::POST,
                &format!("{BASE}/Users"),
                Some(b),
                StatusCode::CREATED,
            )
            .await?
        {
            Ok(r) => r,
            Err(e) => return Ok(Unit::Error(e)),
        };
        let v: Value = serde_json::from_slice(&created.body)?;
        let Some(id) = v.get("id").and_then(Value::as_str) else {
            return Ok(Unit::Error("W7 create answered without an id".into()));
        };
        let patch = body(&json!({
            "schemas": [PATCH_OP],
            "Operations": [
                {"op": "Replace", "path": "emails[type eq \"work\"].value",
                 "value": format!("changed-{name}")},
                {"op": "Replace", "path": "name.familyName", "value": "Changed"},
                {"op": "Add",
                 "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
                 "value": format!("{}", self.seq)},
                {"op": "Replace", "path": "active", "value": "False"}
            ]
        }));
        let path = format!("{BASE}/Users/{id}");
        Ok(done(
            self.expect(Method::PATCH, &path, Some(patch), StatusCode::OK)
                .await?,
        ))
    }
}

/// `totalResults` of a ListResponse body.
fn total_results(body: &[u8]) -> Option<u64> {
    serde_json::from_slice::<Value>(body)
        .ok()?
        .get("totalResults")?
        .as_u64()
}

/// A Bulk response is an error unless all `n` operations answered 201.
fn bulk_check(body: &[u8], n: u64) -> Unit {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return Unit::Error("Bulk response is not JSON".into());
    };
    let ops = v.get("Operations").and_then(Value::as_array);
    let created = ops.map_or(0, |ops| {
        ops.iter()
            .filter(|o| o.get("status").and_then(Value::as_str) == Some("201"))
            .count()
    });
    if u64::try_from(created).ok() == Some(n) {
        Unit::Ok
    } else {
        Unit::Error(format!("Bulk: {created} of {n} operations answered 201"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn bulk_check_counts_created() {
        let ok = br#"{"Operations":[{"status":"201"},{"status":"201"}]}"#;
        assert!(matches!(bulk_check(ok, 2), Unit::Ok));
        let bad = br#"{"Operations":[{"status":"201"},{"status":"409"}]}"#;
        assert!(matches!(bulk_check(bad, 2), Unit::Error(_)));
        assert!(matches!(bulk_check(b"nope", 1), Unit::Error(_)));
    }

    #[test]
    fn reads_total_results() {
        assert_eq!(total_results(br#"{"totalResults":1,"x":2}"#), Some(1));
        assert_eq!(total_results(br#"{"totalResults":10}"#), Some(10));
        assert_eq!(total_results(b"{}"), None);
    }
}
