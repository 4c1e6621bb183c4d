//! The resource service: create, read, replace, patch, delete and list Users and Groups
//! (RFC 7644 §3.3–§3.6) on top of a [`Store`], independent of HTTP.
//!
//! Handlers and `/Bulk` call the same functions, so a Bulk operation behaves exactly like
//! the equivalent single request. The service owns everything between the protocol core
//! and storage: body normalisation, id generation (time-ordered UUIDs, `scimd_store::ids`), the per-tenant unique key,
//! password hashing, optimistic concurrency (PATCH re-reads and retries on a concurrent
//! change unless the client pinned a version with `If-Match`), and output resources
//! (assembled by [`crate::render`], then projected).

use scimd_core::Mode;
use scimd_core::patch::{self, PatchContext, PatchRequest};
use scimd_core::projection::Projection;
use scimd_core::schema::{ResourceKind, ResourceType};
use scimd_core::validate::{self, Normalized};
use scimd_store::{
    Change, Document, Load, NewResource, Query, QueryResult, Replacement, StoreError,
    StoredResource, Update,
};
use serde_json::Value;

use crate::auth::TenantContext;
use crate::crypto;
use crate::error::{ApiError, ApiResult};
use crate::http::Precondition;
use crate::state::{AppState, ServerStore};

/// How many times a PATCH is applied when other writers change the resource between read
/// and write (only without `If-Match`). Writes are serialised by the store, so each round
/// lets at least one of the competing PATCHes through: this many concurrent PATCHes to one
/// resource (Entra and Okta send membership changes in parallel) always succeed.
pub const PATCH_RETRIES: usize = 32;

/// Request-scoped access to the resources of one tenant.
pub struct Service<'a, S: ServerStore> {
    state: &'a AppState<S>,
    ctx: &'a TenantContext,
}

impl<'a, S: ServerStore> Service<'a, S> {
    /// A service for the tenant in `ctx`.
    pub fn new(state: &'a AppState<S>, ctx: &'a TenantContext) -> Self {
        Self { state, ctx }
    }

    /// The tenant context.
    pub fn context(&self) -> &TenantContext {
        self.ctx
    }

    /// Whether the store commits writes in the order they are submitted (see
    /// [`scimd_store::Store::commits_in_submission_order`]).
    pub fn writes_commit_in_order(&self) -> bool {
        self.state.store().commits_in_submission_order()
    }

    /// The schema registry.
    pub fn registry(&self) -> &'a scimd_core::schema::Registry {
        self.state.registry()
    }

    /// Runs a listing query in this tenant.
    pub async fn query(&self, kind: ResourceKind, query: &Query) -> ApiResult<QueryResult> {
        self.state
            .store()
            .query(self.ctx.tenant.id, kind, query)
            .await
            .map_err(crate::store_error)
    }

    /// The strictness in force for this tenant.
    pub fn mode(&self) -> Mode {
        self.ctx.settings.mode.unwrap_or(self.state.config().mode)
    }

    /// The resource type of a built-in kind.
    pub fn resource_type(&self, kind: ResourceKind) -> ApiResult<&'a ResourceType> {
        self.state
            .registry()
            .resource_type_of(kind)
            .ok_or_else(|| ApiError::internal(format!("no resource type for {}", kind.as_str())))
    }

    /// `…/Users/{id}` or `…/Groups/{id}` under the request's base URL.
    pub fn location(&self, kind: ResourceKind, id: &str) -> String {
        format!(
            "{}/{}/{id}",
            self.ctx.base_url,
            crate::render::endpoint(kind)
        )
    }

    /// Creates a resource from a POST body (RFC 7644 §3.3).
    pub async fn create(
        &self,
        kind: ResourceKind,
        body: &Value,
        load: Load,
    ) -> ApiResult<StoredResource> {
        let rt = self.resource_type(kind)?;
        let normalized =
            validate::normalize_resource(self.state.registry(), rt, body, self.mode())?;
        let Normalized {
            document,
            members,
            password,
        } = normalized;
        let keys = self.keys(kind, &document);
        let new = NewResource {
            kind,
            id: scimd_store::ids::new_time_ordered_id().map_err(crate::store_error)?,
            document,
            unique_key: keys.unique_key,
            external_id: keys.external_id,
            display: keys.display,
            members: members.unwrap_or_default(),
            password_hash: self.password_hash(password).await?,
        };
        let id = new.id.clone();
        let change = self.change(201, &id, None);
        let created = self
            .state
            .store()
            .create_with(self.ctx.tenant.id, new, &change)
            .await
            .map_err(crate::store_error)?;
        self.written(201);
        match kind {
            // A new User belongs to no group yet.
            ResourceKind::User => {
                let mut created = created;
                if load.groups {
                    created.groups = Some(Vec::new());
                }
                Ok(created)
            }
            ResourceKind::Group if load.members => {
                // Re-read for the members' display names; create does not return them.
                self.get(kind, &id, load).await
            }
            ResourceKind::Group => Ok(created),
        }
    }

    /// Reads one resource (RFC 7644 §3.4.1); 404 when it does not exist.
    pub async fn get(&self, kind: ResourceKind, id: &str, load: Load) -> ApiResult<StoredResource> {
        self.state
            .store()
            .get(self.ctx.tenant.id, kind, id, load)
            .await
            .map_err(crate::store_error)?
            .ok_or_else(|| not_found(kind, id))
    }

    /// Replaces a resource with a PUT body (RFC 7644 §3.5.1).
    pub async fn replace(
        &self,
        kind: ResourceKind,
        id: &str,
        body: &Value,
        if_match: Option<&Precondition>,
        load: Load,
    ) -> ApiResult<StoredResource> {
        let rt = self.resource_type(kind)?;
        let normalized =
            validate::normalize_resource(self.state.registry(), rt, body, self.mode())?;
        let current = self.get(kind, id, Load::NONE).await?;
        check_precondition(if_match, current.version)?;
        validate::check_immutable(
            self.state.registry(),
            rt,
            &current.document,
            &normalized.document,
        )?;
        let Normalized {
            document,
            members,
            password,
        } = normalized;
        let keys = self.keys(kind, &document);
        let replacement = Replacement {
            document,
            unique_key: keys.unique_key,
            external_id: keys.external_id,
            display: keys.display,
            members,
            password_hash: self.password_hash(password).await?,
        };
        // The version read above is the one the client's If-Match was checked against;
        // without If-Match the replacement applies to whatever is current.
        let expected = if_match.map(|_| current.version);
        let change = self.change(200, id, None);
        let out = self
            .state
            .store()
            .replace_with(
                self.ctx.tenant.id,
                kind,
                id,
                expected,
                replacement,
                load,
                &change,
            )
            .await
            .map_err(|e| self.write_error(kind, id, e))?;
        self.written(200);
        Ok(out)
    }

    /// Applies a PATCH body (RFC 7644 §3.5.2). A PATCH that changes nothing does not write
    /// and keeps the version.
    pub async fn patch(
        &self,
        kind: ResourceKind,
        id: &str,
        body: &Value,
        if_match: Option<&Precondition>,
        load: Load,
        answer: u16,
    ) -> ApiResult<StoredResource> {
        let rt = self.resource_type(kind)?;
        let request = PatchRequest::parse(body, self.mode())?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let current = self.get(kind, id, Load::NONE).await?;
            check_precondition(if_match, current.version)?;
            let ctx = PatchContext {
                registry: self.state.registry(),
                resource_type: rt,
                resource_id: id,
                mode: self.mode(),
            };
            let outcome = patch::apply(&ctx, &current.document, &request)?;
            if !outcome.changed {
                if load == Load::NONE {
                    return Ok(current);
                }
                return self.get(kind, id, load).await;
            }
            let document_changed = outcome.document != current.document;
            let (document, keys) = if document_changed {
                let keys = self.keys(kind, &outcome.document);
                (Some(outcome.document), keys)
            } else {
                (None, Keys::default())
            };
            let changed_attributes = outcome.changed_attributes;
            let update = Update {
                document,
                unique_key: keys.unique_key,
                external_id: keys.external_id,
                display: keys.display,
                member_ops: outcome.member_ops,
                password_hash: self.password_hash(outcome.password).await?,
                version_pinned: if_match.is_some(),
            };
            // The audit entry committed with the write records the status the caller answers.
            let status = answer;
            let change = self.change(status, id, Some(changed_attributes));
            match self
                .state
                .store()
                .update_with(
                    self.ctx.tenant.id,
                    kind,
                    id,
                    current.version,
                    update,
                    load,
                    &change,
                )
                .await
            {
                Ok(updated) => {
                    self.written(status);
                    return Ok(updated);
                }
                Err(StoreError::VersionMismatch { .. })
                    if if_match.is_none() && attempt < PATCH_RETRIES =>
                {
                    tracing::debug!(attempt, "concurrent change; re-applying PATCH");
                    // A short random pause de-synchronises writers that collided.
                    let jitter = crypto::random_bytes::<1>().map_or(0, |b| u64::from(b[0] % 4));
                    tokio::time::sleep(std::time::Duration::from_millis(jitter)).await;
                }
                Err(e) => return Err(self.write_error(kind, id, e)),
            }
        }
    }

    /// Deletes a resource (RFC 7644 §3.6).
    pub async fn delete(
        &self,
        kind: ResourceKind,
        id: &str,
        if_match: Option<&Precondition>,
    ) -> ApiResult<()> {
        let expected = match if_match {
            None => None,
            Some(pre) => {
                let current = self.get(kind, id, Load::NONE).await?;
                check_precondition(Some(pre), current.version)?;
                Some(current.version)
            }
        };
        let change = self.change(204, id, None);
        self.state
            .store()
            .delete_with(self.ctx.tenant.id, kind, id, expected, &change)
            .await
            .map_err(|e| self.write_error(kind, id, e))?;
        self.written(204);
        Ok(())
    }

    /// The outbox and audit context of a write by this request: the actor and request id,
    /// a renderer for the resource snapshot in events, and the audit entry to commit with
    /// the write when it answers `status`.
    fn change(&self, status: u16, resource_id: &str, changed: Option<Vec<String>>) -> Change {
        let registry = self.state.registry_arc();
        let base_url = self.ctx.base_url.clone();
        Change {
            actor: self.ctx.label.clone(),
            request_id: crate::audit::current_request_id(),
            changed_attributes: changed,
            render: Some(std::sync::Arc::new(move |res: StoredResource| {
                crate::render::resource(&registry, &base_url, res)
            })),
            audit: crate::audit::entry_for_write(status, resource_id),
        }
    }

    /// After a committed write: wake event long-polls and mark the audit entry committed.
    fn written(&self, status: u16) {
        self.state.events_written();
        crate::audit::committed(status);
    }

    /// Which derived lists to load for an output projected by `projection`: members only
    /// when the projection returns them (so `excludedAttributes=members` never reads a
    /// member row), groups likewise.
    pub fn load_for(&self, kind: ResourceKind, projection: &Projection) -> ApiResult<Load> {
        let rt = self.resource_type(kind)?;
        let registry = self.state.registry();
        Ok(match kind {
            ResourceKind::Group => Load {
                members: projection.wants(registry, rt, "members"),
                ..Load::NONE
            },
            ResourceKind::User => Load {
                groups: projection.wants(registry, rt, "groups"),
                ..Load::NONE
            },
        })
    }

    /// [`Self::load_for`] for a read whose result is only rendered ([`Self::render_text`]):
    /// under the default projection the document comes as its stored text, to be copied
    /// rather than parsed.
    pub fn read_load_for(&self, kind: ResourceKind, projection: &Projection) -> ApiResult<Load> {
        Ok(Load {
            document_text: projection.is_default(),
            ..self.load_for(kind, projection)?
        })
    }

    /// The output form of a stored resource (RFC 7643 §3): `schemas`, `id`, the document,
    /// `members`/`groups` when loaded, and `meta`, then projected.
    pub fn render(&self, mut res: StoredResource, projection: &Projection) -> ApiResult<Value> {
        if let Some(text) = res.document_text.take() {
            res.document = parse_stored(&text)?;
        }
        let rt = self.resource_type(res.kind)?;
        let registry = self.state.registry();
        let mut out = match crate::render::resource(registry, &self.ctx.base_url, res) {
            Value::Object(o) => o,
            _ => return Err(ApiError::internal("rendered resource is not an object")),
        };
        projection.apply(registry, rt, &mut out);
        Ok(Value::Object(out))
    }

    /// [`Self::render`] as JSON text. A document read as text ([`Self::read_load_for`]) is
    /// copied into it unparsed when the default projection would leave it as it is
    /// ([`crate::render::verbatim`]).
    pub fn render_text(&self, res: StoredResource, projection: &Projection) -> ApiResult<String> {
        if let Some(text) = &res.document_text
            && projection.is_default()
        {
            let rt = self.resource_type(res.kind)?;
            let registry = self.state.registry();
            let keys = self.state.verbatim_keys(res.kind);
            if let Some(out) =
                crate::render::verbatim(registry, rt, keys, &self.ctx.base_url, &res, text)
            {
                return Ok(out);
            }
        }
        let value = self.render(res, projection)?;
        Ok(value.to_string())
    }

    /// The derived storage columns of a document.
    fn keys(&self, kind: ResourceKind, document: &Document) -> Keys {
        let text = |name: &str| {
            document
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let external_id = text("externalId");
        match kind {
            ResourceKind::User => {
                let user_name = text("userName");
                Keys {
                    unique_key: user_name.as_deref().map(str::to_lowercase),
                    external_id,
                    display: text("displayName").or(user_name),
                }
            }
            ResourceKind::Group => {
                let display = text("displayName");
                Keys {
                    unique_key: display
                        .as_deref()
                        .filter(|_| self.ctx.settings.unique_group_display_name)
                        .map(str::to_lowercase),
                    external_id,
                    display,
                }
            }
        }
    }

    /// The stored form of a password sent by the IdP: an argon2id hash when the tenant syncs
    /// passwords, otherwise nothing (Okta sends a placeholder with every create).
    async fn password_hash(&self, password: Option<String>) -> ApiResult<Option<String>> {
        match password {
            Some(p) if self.ctx.settings.password_sync => {
                let hash = tokio::task::spawn_blocking(move || crypto::hash_secret(&p))
                    .await
                    .map_err(ApiError::internal)??;
                Ok(Some(hash))
            }
            _ => Ok(None),
        }
    }

    /// Maps a write failure, naming the resource on 404.
    fn write_error(&self, kind: ResourceKind, id: &str, e: StoreError) -> ApiError {
        match e {
            StoreError::NotFound => not_found(kind, id),
            other => crate::store_error(other),
        }
    }
}

#[derive(Debug, Default)]
struct Keys {
    unique_key: Option<String>,
    external_id: Option<String>,
    display: Option<String>,
}

/// A stored document's text, parsed.
fn parse_stored(text: &str) -> ApiResult<Document> {
    serde_json::from_str(text)
        .map_err(|e| ApiError::internal(format!("stored document is not a JSON object: {e}")))
}

fn not_found(kind: ResourceKind, id: &str) -> ApiError {
    ApiError::not_found(format!("{} {id} not found", kind.as_str()))
}

/// 412 when `If-Match` does not match the current version (RFC 7644 §3.14).
fn check_precondition(pre: Option<&Precondition>, version: i64) -> ApiResult<()> {
    match pre {
        Some(p) if !p.matches(version) => Err(scimd_core::Error::PreconditionFailed(
            "the resource has changed (If-Match does not match its current version)".into(),
        )
        .into()),
        _ => Ok(()),
    }
}
