//! `scimd webhooks add|list|remove|replay|deliveries`: the operator commands for webhook
//! endpoints. The secret is printed once, by `add`; nothing else ever shows it.

use clap::Subcommand;
use scimd_store::webhooks::{WebhookFormat, WebhookStore};
use scimd_store::{EventStore, Store, Tenant};

use super::{ReplayFrom, WebhookError, add_endpoint, parse_filter, replay};
use crate::cli::CliError;

/// `scimd webhooks …`
#[derive(Debug, Clone, Subcommand)]
pub enum WebhooksCommand {
    /// Add an endpoint; prints its id and its signing secret (shown only this once).
    Add {
        #[arg(long)]
        tenant: String,
        /// Where to POST events (https://…; http:// for local receivers).
        #[arg(long)]
        url: String,
        /// Event types to send, comma-separated (`user.created,group.*`); default: all.
        #[arg(long, default_value = "")]
        events: String,
        /// Payload: `json` (scimd's event) or `set` (RFC 9967 Security Event Token claims).
        #[arg(long, default_value = "json")]
        format: String,
    },
    /// List a tenant's endpoints (never their secrets).
    List {
        #[arg(long)]
        tenant: String,
    },
    /// Remove an endpoint with its queued deliveries and their log.
    Remove {
        #[arg(long)]
        tenant: String,
        id: String,
    },
    /// Queue the tenant's events again from a sequence number or an RFC 3339 time.
    Replay {
        #[arg(long)]
        tenant: String,
        /// `SEQ` (events with seq >= SEQ) or an RFC 3339 time.
        #[arg(long)]
        since: String,
        /// Only this endpoint (default: every endpoint of the tenant).
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// Show recent deliveries (status, attempts, last HTTP status or error).
    Deliveries {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        endpoint: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

impl From<WebhookError> for CliError {
    fn from(e: WebhookError) -> Self {
        match e {
            WebhookError::Store(scimd_store::StoreError::NotFound) => {
                CliError("no such webhook endpoint in this tenant".into())
            }
            other => CliError(other.to_string()),
        }
    }
}

async fn tenant<S: Store>(store: &S, name: &str) -> Result<Tenant, CliError> {
    store
        .tenant_by_name(name)
        .await?
        .ok_or_else(|| CliError(format!("no tenant named '{name}'")))
}

/// Runs a `webhooks` command, writing what it prints to `out`. `public_base_url` is the
/// issuer base of Security Event Tokens rendered by `replay`.
pub async fn run<S: Store + EventStore + WebhookStore>(
    store: &S,
    command: &WebhooksCommand,
    public_base_url: &str,
    out: &mut impl std::io::Write,
) -> Result<(), CliError> {
    let mut w = |line: String| {
        writeln!(out, "{line}").map_err(|e| CliError(format!("cannot write output: {e}")))
    };
    match command {
        WebhooksCommand::Add {
            tenant: name,
            url,
            events,
            format,
        } => {
            let t = tenant(store, name).await?;
            let format = WebhookFormat::parse(format)
                .ok_or_else(|| CliError(format!("--format must be json or set, not '{format}'")))?;
            let (endpoint, secret) =
                add_endpoint(store, t.id, url, parse_filter(events)?, format).await?;
            w(format!("id: {}", endpoint.id))?;
            w(format!("secret: {secret}"))?;
            w("The secret is shown only now: receivers verify Scimd-Signature with it.".into())
        }
        WebhooksCommand::List { tenant: name } => {
            let t = tenant(store, name).await?;
            for e in store.list_endpoints(t.id).await? {
                let events = if e.events.is_empty() {
                    "*".to_owned()
                } else {
                    e.events.join(",")
                };
                w(format!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    e.id,
                    e.url,
                    events,
                    e.format.as_str(),
                    if e.enabled { "enabled" } else { "disabled" },
                    e.created
                ))?;
            }
            Ok(())
        }
        WebhooksCommand::Remove { tenant: name, id } => {
            let t = tenant(store, name).await?;
            store
                .delete_endpoint(t.id, id)
                .await
                .map_err(WebhookError::from)?;
            w(format!("removed webhook endpoint {id}"))
        }
        WebhooksCommand::Replay {
            tenant: name,
            since,
            endpoint,
        } => {
            let t = tenant(store, name).await?;
            let from = ReplayFrom::parse(since)?;
            let n = replay(store, t.id, from, endpoint.as_deref(), public_base_url).await?;
            w(format!("queued {n} deliveries"))
        }
        WebhooksCommand::Deliveries {
            tenant: name,
            endpoint,
            limit,
        } => {
            let t = tenant(store, name).await?;
            for d in store
                .list_deliveries(t.id, endpoint.as_deref(), (*limit).clamp(1, 1000))
                .await?
            {
                w(format!(
                    "{}\t{}\t{}\t{}\t{}\tattempts={}\t{}",
                    d.id,
                    d.endpoint_id,
                    d.event_seq,
                    d.event_type,
                    d.status.as_str(),
                    d.attempts,
                    d.last_error
                        .or_else(|| d.last_status.map(|s| format!("HTTP {s}")))
                        .unwrap_or_default()
                ))?;
            }
            Ok(())
        }
    }
}
