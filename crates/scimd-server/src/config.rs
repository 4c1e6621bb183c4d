//! Server configuration: the TOML file, its merge with command-line flags and environment
//! variables (flag > env > file > default), and the per-tenant settings stored with each
//! tenant.
//!
//! clap resolves "flag over environment" for the four operator flags; this module layers the
//! result over the file and the defaults. Everything else is file-only: it is operational
//! tuning that belongs in a reviewed file rather than in ad-hoc environment variables. The
//! one exception is the webhook dispatcher's `webhook_*` keys, whose older
//! `SCIMD_WEBHOOK_*` environment variables still win over the file (env > file > default,
//! resolved by [`crate::webhooks::WebhookConfig::from_config`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use scimd_core::Mode;
use serde::{Deserialize, Serialize};

/// Default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Default data directory.
pub const DEFAULT_DATA_DIR: &str = "./scimd-data";
/// Default request body limit: 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// The TOML configuration file as written; every key is optional.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub public_base_url: Option<String>,
    pub log_format: Option<LogFormat>,
    pub request_timeout_secs: Option<u64>,
    pub max_body_bytes: Option<usize>,
    pub max_page_size: Option<u64>,
    pub default_page_size: Option<u64>,
    pub bulk_max_operations: Option<u64>,
    pub bulk_max_payload_bytes: Option<usize>,
    pub discovery_requires_auth: Option<bool>,
    pub mode: Option<Mode>,
    /// Days the audit log keeps entries (default 90).
    pub audit_retention_days: Option<u64>,
    /// Days the outbox keeps events (default 30); keep it longer than the webhook retry
    /// period.
    pub events_retention_days: Option<u64>,
    /// How long a webhook delivery is retried before it is dead, in decimal hours
    /// (default 24; `SCIMD_WEBHOOK_RETRY_HOURS` overrides it).
    pub webhook_retry_hours: Option<f64>,
    /// Upper bound of the first wait between webhook attempts, in milliseconds (default
    /// 1000; `SCIMD_WEBHOOK_BACKOFF_BASE_MS` overrides it).
    pub webhook_backoff_base_ms: Option<u64>,
    /// Largest wait between webhook attempts, in seconds (default 600;
    /// `SCIMD_WEBHOOK_BACKOFF_CAP_SECS` overrides it).
    pub webhook_backoff_cap_secs: Option<u64>,
    /// Timeout of one webhook request, connection included, in seconds (default 10;
    /// `SCIMD_WEBHOOK_TIMEOUT_SECS` overrides it).
    pub webhook_timeout_secs: Option<u64>,
    /// How long a node's claim on a delivery lasts if it dies mid-send, in seconds
    /// (default 60; `SCIMD_WEBHOOK_LEASE_SECS` overrides it).
    pub webhook_lease_secs: Option<u64>,
    /// Most PostgreSQL connections a node's pool opens (default
    /// `scimd_store_postgres::DEFAULT_MAX_CONNECTIONS`, 10;
    /// `SCIMD_POSTGRES_MAX_CONNECTIONS` overrides it). Ignored on SQLite.
    pub postgres_max_connections: Option<u32>,
    /// Custom schema attributes (`scimd_core::schema::config::SchemaConfig`), kept as JSON
    /// until the registry is built so that a bad section is reported with its own message.
    pub schema: Option<serde_json::Value>,
}

impl FileConfig {
    /// Reads and parses a TOML file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: path.to_owned(),
            cause: e.to_string(),
        })?;
        Self::parse(&text).map_err(|cause| ConfigError::Parse {
            path: path.to_owned(),
            cause,
        })
    }

    /// Parses TOML text.
    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }
}

/// A configuration problem, reported to the operator at start.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {}: {cause}", path.display())]
    Read { path: PathBuf, cause: String },
    #[error("invalid config file {}: {cause}", path.display())]
    Parse { path: PathBuf, cause: String },
    #[error("invalid setting: {0}")]
    Invalid(String),
}

/// Values given on the command line or in the environment (already merged by clap).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
}

/// The resolved configuration the server runs with.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// Address to listen on (`host:port`).
    pub listen: String,
    pub data_dir: PathBuf,
    /// `sqlite://…` (or, later, `postgres://…`).
    pub database_url: String,
    /// Scheme, host and optional path prefix that clients reach the server at, without a
    /// trailing slash; `Location` and `meta.location` are built from it.
    pub public_base_url: String,
    pub log_format: LogFormat,
    pub request_timeout: Duration,
    pub max_body_bytes: usize,
    /// Largest `count` served; larger requests are capped (RFC 7644 §3.4.2.4).
    pub max_page_size: u64,
    /// `count` when the client gives none.
    pub default_page_size: u64,
    pub bulk_max_operations: u64,
    pub bulk_max_payload_bytes: usize,
    /// When false, `/ServiceProviderConfig`, `/Schemas` and `/ResourceTypes` answer without
    /// credentials (RFC 7644 §4 allows either).
    pub discovery_requires_auth: bool,
    /// Default strictness for tenants that do not set their own.
    pub mode: Mode,
    /// Custom schema attributes, as JSON.
    pub schema: Option<serde_json::Value>,
    /// Days the audit log keeps entries (`audit_retention_days`, default 90).
    pub audit_retention_days: u64,
    /// Days the outbox keeps events (`events_retention_days`, default 30).
    pub events_retention_days: u64,
    /// The webhook settings of the file (`None`: not set there). They are resolved into a
    /// [`crate::webhooks::WebhookConfig`] by
    /// [`WebhookConfig::from_config`](crate::webhooks::WebhookConfig::from_config), where the
    /// `SCIMD_WEBHOOK_*` environment variables override them: env > file > default.
    pub webhook: WebhookFileSettings,
    /// `postgres_max_connections` of the file (`None`: not set there); resolved with the
    /// environment by [`ServerConfig::postgres_max_connections`].
    pub postgres_max_connections: Option<u32>,
}

/// Environment variable that overrides `postgres_max_connections` (env > file > default).
pub const POSTGRES_MAX_CONNECTIONS_ENV: &str = "SCIMD_POSTGRES_MAX_CONNECTIONS";

/// The webhook dispatcher keys of the configuration file, as written (`None`: not set).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct WebhookFileSettings {
    /// `webhook_retry_hours`.
    pub retry_hours: Option<f64>,
    /// `webhook_backoff_base_ms`.
    pub backoff_base_ms: Option<u64>,
    /// `webhook_backoff_cap_secs`.
    pub backoff_cap_secs: Option<u64>,
    /// `webhook_timeout_secs`.
    pub timeout_secs: Option<u64>,
    /// `webhook_lease_secs`.
    pub lease_secs: Option<u64>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self::resolve(&Overrides::default(), FileConfig::default())
    }
}

impl ServerConfig {
    /// Layers overrides over the file over the defaults.
    pub fn resolve(overrides: &Overrides, file: FileConfig) -> Self {
        let listen = overrides
            .listen
            .clone()
            .or(file.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
        let data_dir = overrides
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let database_url = overrides
            .database_url
            .clone()
            .or(file.database_url)
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("scimd.db").display()));
        let public_base_url = file
            .public_base_url
            .unwrap_or_else(|| format!("http://{listen}"))
            .trim_end_matches('/')
            .to_owned();
        let max_page_size = file.max_page_size.unwrap_or(1000).max(1);
        Self {
            listen,
            data_dir,
            database_url,
            public_base_url,
            log_format: file.log_format.unwrap_or_default(),
            request_timeout: Duration::from_secs(file.request_timeout_secs.unwrap_or(30).max(1)),
            max_body_bytes: file.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES),
            max_page_size,
            default_page_size: file.default_page_size.unwrap_or(100).min(max_page_size),
            bulk_max_operations: file.bulk_max_operations.unwrap_or(1000),
            bulk_max_payload_bytes: file
                .bulk_max_payload_bytes
                .unwrap_or(DEFAULT_MAX_BODY_BYTES),
            discovery_requires_auth: file.discovery_requires_auth.unwrap_or(true),
            mode: file.mode.unwrap_or_default(),
            schema: file.schema,
            audit_retention_days: file.audit_retention_days.unwrap_or(90).max(1),
            events_retention_days: file.events_retention_days.unwrap_or(30).max(1),
            webhook: WebhookFileSettings {
                retry_hours: file.webhook_retry_hours,
                backoff_base_ms: file.webhook_backoff_base_ms,
                backoff_cap_secs: file.webhook_backoff_cap_secs,
                timeout_secs: file.webhook_timeout_secs,
                lease_secs: file.webhook_lease_secs,
            },
            postgres_max_connections: file.postgres_max_connections,
        }
    }

    /// The size of the PostgreSQL connection pool: [`POSTGRES_MAX_CONNECTIONS_ENV`] if set
    /// (read through `env`), else the file's `postgres_max_connections`, else
    /// `scimd_store_postgres::DEFAULT_MAX_CONNECTIONS`. Zero or a non-number is an error.
    pub fn postgres_max_connections(
        &self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<u32, ConfigError> {
        let (n, source) = match env(POSTGRES_MAX_CONNECTIONS_ENV) {
            Some(v) => (
                v.trim().parse::<u32>().map_err(|_| {
                    ConfigError::Invalid(format!(
                        "{POSTGRES_MAX_CONNECTIONS_ENV}: not a valid number: {v:?}"
                    ))
                })?,
                POSTGRES_MAX_CONNECTIONS_ENV,
            ),
            None => match self.postgres_max_connections {
                Some(n) => (n, "postgres_max_connections"),
                None => return Ok(scimd_store_postgres::DEFAULT_MAX_CONNECTIONS),
            },
        };
        if n == 0 {
            return Err(ConfigError::Invalid(format!("{source} must be at least 1")));
        }
        Ok(n)
    }

    /// The SCIM base URL of the root routes (`…/scim/v2`).
    pub fn scim_base_url(&self) -> String {
        format!("{}/scim/v2", self.public_base_url)
    }
}

/// What a PATCH answers with (RFC 7644 §3.5.2 allows either).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PatchResponse {
    /// 200 with the resource.
    Resource,
    /// 204 without a body (unless `attributes`/`excludedAttributes` ask for one).
    NoContent,
}

/// Per-tenant behaviour, stored as the tenant's `settings` JSON. Unknown keys are ignored so
/// that settings written by a newer scimd do not break an older one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TenantSettings {
    /// Strictness; `None` uses the server's `mode`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    /// Keep (hashed) passwords sent by the IdP; otherwise they are discarded.
    pub password_sync: bool,
    /// Group `displayName` is unique per tenant, case-insensitively (Entra requires it).
    pub unique_group_display_name: bool,
    pub user_patch_response: PatchResponse,
    pub group_patch_response: PatchResponse,
}

impl Default for TenantSettings {
    fn default() -> Self {
        Self {
            mode: None,
            password_sync: false,
            unique_group_display_name: true,
            user_patch_response: PatchResponse::Resource,
            group_patch_response: PatchResponse::NoContent,
        }
    }
}

impl TenantSettings {
    /// Reads settings from a tenant's JSON; anything unreadable falls back to the defaults
    /// field by field (a `null` or non-object is all defaults).
    pub fn from_json(value: &serde_json::Value) -> Self {
        serde_json::from_value(value.clone()).unwrap_or_default()
    }

    /// The settings as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;
    use serde_json::json;

    #[test]
    fn postgres_pool_size_is_env_over_file_over_default() {
        let none = |_: &str| None;
        let c = ServerConfig::default();
        assert_eq!(
            c.postgres_max_connections(none).unwrap(),
            scimd_store_postgres::DEFAULT_MAX_CONNECTIONS
        );
        let file = FileConfig::parse("postgres_max_connections = 24").unwrap();
        let c = ServerConfig::resolve(&Overrides::default(), file);
        assert_eq!(c.postgres_max_connections(none).unwrap(), 24);
        let env = |k: &str| (k == POSTGRES_MAX_CONNECTIONS_ENV).then(|| " 40 ".to_owned());
        assert_eq!(c.postgres_max_connections(env).unwrap(), 40);
        let zero = |_: &str| Some("0".to_owned());
        assert!(c.postgres_max_connections(zero).is_err());
        let junk = |_: &str| Some("many".to_owned());
        assert!(c.postgres_max_connections(junk).is_err());
        let file = FileConfig::parse("postgres_max_connections = 0").unwrap();
        let c = ServerConfig::resolve(&Overrides::default(), file);
        assert!(c.postgres_max_connections(none).is_err());
        assert!(FileConfig::parse("postgres_max_connections = -1").is_err());
    }

    #[test]
    fn defaults_follow_the_operator_interface() {
        let c = ServerConfig::default();
        assert_eq!(c.listen, "127.0.0.1:8080");
        assert_eq!(c.data_dir, PathBuf::from("./scimd-data"));
        assert_eq!(c.database_url, "sqlite://./scimd-data/scimd.db");
        assert_eq!(c.public_base_url, "http://127.0.0.1:8080");
        assert_eq!(c.scim_base_url(), "http://127.0.0.1:8080/scim/v2");
        assert_eq!(c.max_body_bytes, 1024 * 1024);
        assert!(c.discovery_requires_auth);
    }

    #[test]
    fn overrides_beat_file_and_file_beats_defaults() {
        let file = FileConfig::parse(
            r#"
            listen = "0.0.0.0:9000"
            data_dir = "/var/lib/scimd"
            public_base_url = "https://scim.example.com/"
            max_page_size = 50
            default_page_size = 500
            mode = "strict"
            log_format = "json"
            [schema]
            foo = 1
            "#,
        )
        .unwrap();
        let c = ServerConfig::resolve(
            &Overrides {
                listen: Some("127.0.0.1:1".into()),
                ..Overrides::default()
            },
            file,
        );
        assert_eq!(c.listen, "127.0.0.1:1");
        assert_eq!(c.data_dir, PathBuf::from("/var/lib/scimd"));
        assert_eq!(c.database_url, "sqlite:///var/lib/scimd/scimd.db");
        assert_eq!(c.public_base_url, "https://scim.example.com");
        assert_eq!(c.max_page_size, 50);
        assert_eq!(c.default_page_size, 50, "default page size is capped");
        assert_eq!(c.mode, Mode::Strict);
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(c.schema, Some(json!({"foo": 1})));
    }

    #[test]
    fn webhook_keys_come_from_the_file_and_the_environment_wins() {
        use crate::webhooks::WebhookConfig;
        let file = FileConfig::parse(
            r#"
            public_base_url = "https://scim.example.com"
            webhook_retry_hours = 1.5
            webhook_backoff_base_ms = 250
            webhook_backoff_cap_secs = 30
            webhook_timeout_secs = 5
            webhook_lease_secs = 40
            "#,
        )
        .unwrap();
        let c = ServerConfig::resolve(&Overrides::default(), file);
        assert_eq!(c.webhook.retry_hours, Some(1.5));
        assert_eq!(c.webhook.lease_secs, Some(40));

        let no_env = |_: &str| None;
        let w = WebhookConfig::from_config_with_env(&c, no_env).unwrap();
        assert_eq!(w.backoff.retry_period, Duration::from_secs(5400));
        assert_eq!(w.backoff.base, Duration::from_millis(250));
        assert_eq!(w.backoff.cap, Duration::from_secs(30));
        assert_eq!(w.request_timeout, Duration::from_secs(5));
        assert_eq!(w.lease, Duration::from_secs(40));
        assert_eq!(w.public_base_url, "https://scim.example.com");

        // An environment variable beats the file key; the other keys keep the file's value.
        let env = |name: &str| match name {
            "SCIMD_WEBHOOK_RETRY_HOURS" => Some("2".to_owned()),
            "SCIMD_WEBHOOK_TIMEOUT_SECS" => Some(" 7 ".to_owned()),
            _ => None,
        };
        let w = WebhookConfig::from_config_with_env(&c, env).unwrap();
        assert_eq!(w.backoff.retry_period, Duration::from_secs(7200));
        assert_eq!(w.request_timeout, Duration::from_secs(7));
        assert_eq!(w.backoff.cap, Duration::from_secs(30));
        assert_eq!(w.lease, Duration::from_secs(40));

        // Nothing set anywhere: the defaults.
        let w = WebhookConfig::from_config_with_env(&ServerConfig::default(), no_env).unwrap();
        assert_eq!(
            (w.backoff, w.request_timeout, w.lease),
            (
                WebhookConfig::default().backoff,
                Duration::from_secs(10),
                Duration::from_secs(60)
            )
        );

        // Bad values are errors naming their source, from the file or the environment.
        let bad = ServerConfig::resolve(
            &Overrides::default(),
            FileConfig::parse("webhook_retry_hours = -1.0").unwrap(),
        );
        let e = WebhookConfig::from_config_with_env(&bad, no_env).unwrap_err();
        assert!(e.contains("webhook_retry_hours"), "{e}");
        let e = WebhookConfig::from_config_with_env(&c, |n: &str| {
            (n == "SCIMD_WEBHOOK_LEASE_SECS").then(|| "soon".to_owned())
        })
        .unwrap_err();
        assert!(e.contains("SCIMD_WEBHOOK_LEASE_SECS"), "{e}");
        assert!(FileConfig::parse("webhook_timeout_secs = \"10\"").is_err());
    }

    #[test]
    fn unknown_file_keys_are_rejected() {
        assert!(FileConfig::parse("lisen = \"x\"").is_err());
    }

    #[test]
    fn tenant_settings_default_and_partial() {
        let s = TenantSettings::from_json(&json!({"password_sync": true}));
        assert!(s.password_sync);
        assert!(s.unique_group_display_name);
        assert_eq!(s.group_patch_response, PatchResponse::NoContent);
        assert_eq!(
            TenantSettings::from_json(&json!(null)),
            TenantSettings::default()
        );
        let s = TenantSettings::from_json(&json!({"user_patch_response": "no_content"}));
        assert_eq!(s.user_patch_response, PatchResponse::NoContent);
    }
}
