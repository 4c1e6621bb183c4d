//! The `scimd` command line: `serve` and the operator commands (`tenants`, `tokens`,
//! `clients`, `migrate`, `export`, `import`). Flags fall back to `SCIMD_*` environment variables (clap `env`), then to the
//! TOML file named by `--config`, then to the defaults ([`crate::config`]).
//!
//! Secrets are printed to stdout exactly once, when created, and never logged.

use std::path::PathBuf;

use crate::state::ServerStore;
use clap::{Args, Parser, Subcommand};
use scimd_store::{CredentialKind, Store, Tenant, TenantExport, Transfer};

use crate::config::{ConfigError, FileConfig, Overrides, ServerConfig, TenantSettings};
use crate::crypto;

/// scimd: a SCIM 2.0 provisioning server.
#[derive(Debug, Parser)]
#[command(name = "scimd", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Where the data lives; accepted by every command.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Directory for the embedded database.
    #[arg(long, global = true, env = "SCIMD_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database URL: `sqlite://PATH` (default: `scimd.db` in the data directory) or
    /// `postgres://USER:PASSWORD@HOST:PORT/DATABASE` for several nodes on one database.
    #[arg(long, global = true, env = "SCIMD_DATABASE_URL", value_name = "URL")]
    pub database: Option<String>,
    /// TOML configuration file.
    #[arg(long, global = true, env = "SCIMD_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the SCIM server.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "SCIMD_LISTEN", value_name = "ADDR")]
        listen: Option<String>,
    },
    /// Manage tenants.
    #[command(subcommand)]
    Tenants(TenantsCommand),
    /// Manage bearer tokens.
    #[command(subcommand)]
    Tokens(TokensCommand),
    /// Manage HTTP Basic clients.
    #[command(subcommand)]
    Clients(ClientsCommand),
    /// Manage webhook endpoints and their deliveries.
    #[command(subcommand)]
    Webhooks(crate::webhooks::cli::WebhooksCommand),
    /// Manage admin tokens: the credentials of `/admin/v1` (events, audit log, password
    /// verification). They are never SCIM credentials, and SCIM tokens never work there.
    #[command(subcommand)]
    AdminTokens(AdminTokensCommand),
    /// Print a tenant's audit log, newest first, one line per SCIM request.
    Audit {
        #[arg(long)]
        tenant: String,
        /// Only entries since an RFC 3339 time or a duration ago (`90s`, `15m`, `1h`, `7d`).
        #[arg(long)]
        since: Option<String>,
        /// Only this status (`404`) or class (`4xx`).
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Apply pending database migrations and print the schema version (run once before
    /// rolling out a new version to several nodes).
    Migrate,
    /// Write a tenant (settings, credential hashes, users, groups, memberships) as JSON
    /// lines, to move it to another database with `scimd import`.
    Export {
        #[arg(long)]
        tenant: String,
        /// File to write (default: stdout).
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Create a tenant from the JSON lines written by `scimd export`.
    Import {
        /// File to read (default: stdin).
        #[arg(long, value_name = "FILE")]
        input: Option<PathBuf>,
        /// Import under this tenant name instead of the exported one.
        #[arg(long = "as", value_name = "NAME")]
        as_name: Option<String>,
    },
}

/// `scimd tenants …`
#[derive(Debug, Subcommand)]
pub enum TenantsCommand {
    /// Create a tenant.
    Create { name: String },
    /// List tenants.
    List,
    /// Delete a tenant with all its users, groups and credentials.
    Delete { name: String },
    /// Show a tenant's settings as JSON, after applying any `--set KEY=VALUE`.
    ///
    /// Keys: mode (strict | compatible | default), password_sync (true | false),
    /// unique_group_display_name (true | false), user_patch_response and
    /// group_patch_response (resource | no_content).
    Settings {
        name: String,
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
    },
}

/// `scimd admin-tokens …`
#[derive(Debug, Subcommand)]
pub enum AdminTokensCommand {
    /// Create an admin token; prints the token alone on stdout.
    Create {
        #[arg(long, default_value = "")]
        label: String,
    },
    /// List admin tokens (never the secrets).
    List,
    /// Revoke an admin token by id.
    Revoke { id: i64 },
}

/// `scimd tokens …`
#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Create a bearer token; prints the token alone on stdout.
    Create {
        #[arg(long)]
        tenant: String,
        #[arg(long, default_value = "")]
        label: String,
    },
    /// List a tenant's credentials, bearer tokens and Basic clients (never the secrets).
    List {
        #[arg(long)]
        tenant: String,
    },
    /// Revoke a credential (bearer token or Basic client) by id.
    Revoke {
        #[arg(long)]
        tenant: String,
        id: i64,
    },
}

/// `scimd clients …`
#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// Create an HTTP Basic client; prints its id and secret.
    Create {
        #[arg(long)]
        tenant: String,
        #[arg(long, default_value = "")]
        label: String,
    },
    /// List a tenant's Basic clients (never the secrets).
    List {
        #[arg(long)]
        tenant: String,
    },
    /// Revoke a Basic client by id.
    Revoke {
        #[arg(long)]
        tenant: String,
        id: i64,
    },
}

/// A failure of a command, shown to the operator as `error: …`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CliError(pub String);

impl From<ConfigError> for CliError {
    fn from(e: ConfigError) -> Self {
        Self(e.to_string())
    }
}

impl From<scimd_store::StoreError> for CliError {
    fn from(e: scimd_store::StoreError) -> Self {
        Self(e.to_string())
    }
}

impl From<crypto::CryptoError> for CliError {
    fn from(e: crypto::CryptoError) -> Self {
        Self(e.to_string())
    }
}

/// Resolves the configuration for a command: flags/env over the file over the defaults.
pub fn resolve_config(
    common: &CommonArgs,
    listen: Option<String>,
) -> Result<ServerConfig, ConfigError> {
    let file = match &common.config {
        Some(path) => FileConfig::load(path)?,
        None => FileConfig::default(),
    };
    Ok(ServerConfig::resolve(
        &Overrides {
            listen,
            data_dir: common.data_dir.clone(),
            database_url: common.database.clone(),
        },
        file,
    ))
}

/// Whether `name` is a valid tenant name: 1–63 characters of `a-z`, `0-9`, `-`, `_`,
/// starting with a letter or digit (it appears in URLs unescaped).
pub fn valid_tenant_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.len() <= 63
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

async fn tenant<S: Store>(store: &S, name: &str) -> Result<Tenant, CliError> {
    store
        .tenant_by_name(name)
        .await?
        .ok_or_else(|| CliError(format!("no tenant named '{name}'")))
}

/// Runs an operator command (anything but `serve` and `migrate`) against an open store,
/// writing what it prints to `out`. `export` without `--output` writes its JSON lines to
/// `out`; `import` without `--input` reads stdin.
pub async fn run_admin<S: ServerStore + Transfer>(
    store: &S,
    command: &Command,
    out: &mut impl std::io::Write,
) -> Result<(), CliError> {
    let w = |out: &mut dyn std::io::Write, line: String| {
        writeln!(out, "{line}").map_err(|e| CliError(format!("cannot write output: {e}")))
    };
    match command {
        Command::Serve { .. } => Err(CliError("serve is not an operator command".into())),
        Command::Migrate => Err(CliError(
            "migrate runs before a store is opened, not as an operator command".into(),
        )),
        // Needs the public base URL (issuer of SETs): run by `crate::webhooks::cli::run`.
        Command::AdminTokens(AdminTokensCommand::Create { label }) => {
            let token = crypto::new_bearer_token()?;
            store
                .create_admin_token(label, &crypto::sha256_hex(token.as_bytes()))
                .await?;
            w(out, token)
        }
        Command::AdminTokens(AdminTokensCommand::List) => {
            for t in store.list_admin_tokens().await? {
                let state = if t.revoked { "revoked" } else { "active" };
                w(
                    out,
                    format!("{}\t{}\t{}\t{}", t.id, state, t.created, t.label),
                )?;
            }
            Ok(())
        }
        Command::AdminTokens(AdminTokensCommand::Revoke { id }) => {
            store.revoke_admin_token(*id).await.map_err(|e| match e {
                scimd_store::StoreError::NotFound => {
                    CliError(format!("there is no admin token {id}"))
                }
                other => other.into(),
            })?;
            w(out, format!("revoked admin token {id}"))
        }
        Command::Audit {
            tenant: name,
            since,
            status,
            limit,
        } => {
            let t = tenant(store, name).await?;
            let since = match since {
                Some(s) => Some(crate::audit::parse_since(s).ok_or_else(|| {
                    CliError(format!(
                        "invalid --since '{s}': use an RFC 3339 time or a duration like 15m, 1h, 7d"
                    ))
                })?),
                None => None,
            };
            let status = match status {
                Some(s) => Some(scimd_store::audit::StatusFilter::parse(s).ok_or_else(|| {
                    CliError(format!(
                        "invalid --status '{s}': use a status like 404 or a class like 4xx"
                    ))
                })?),
                None => None,
            };
            let query = scimd_store::audit::AuditQuery {
                tenant: t.id,
                since,
                status,
                limit: *limit,
            };
            for entry in store.query_audit(&query).await? {
                w(out, crate::audit::entry_line(&entry))?;
            }
            Ok(())
        }
        Command::Webhooks(_) => Err(CliError(
            "webhooks commands run through scimd_server::webhooks::cli::run".into(),
        )),
        Command::Export { tenant, output } => {
            let summary = match output {
                Some(path) => {
                    let file = std::fs::File::create(path)
                        .map_err(|e| CliError(format!("cannot create {}: {e}", path.display())))?;
                    let summary = export(store, tenant, std::io::BufWriter::new(file)).await?;
                    w(out, format!("{summary} to {}", path.display()))?;
                    summary
                }
                None => export(store, tenant, &mut *out).await?,
            };
            // With the data on stdout, the summary goes to stderr.
            if output.is_none() {
                eprintln!("{summary}");
            }
            Ok(())
        }
        Command::Import { input, as_name } => {
            let text = match input {
                Some(path) => std::fs::read(path)
                    .map_err(|e| CliError(format!("cannot read {}: {e}", path.display())))?,
                None => tokio::task::spawn_blocking(|| {
                    let mut buf = Vec::new();
                    std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut buf).map(|_| buf)
                })
                .await
                .map_err(|e| CliError(e.to_string()))?
                .map_err(|e| CliError(format!("cannot read stdin: {e}")))?,
            };
            let summary = import(store, text.as_slice(), as_name.as_deref()).await?;
            w(out, summary)
        }
        Command::Tenants(TenantsCommand::Create { name }) => {
            if !valid_tenant_name(name) {
                return Err(CliError(format!(
                    "invalid tenant name '{name}': use 1-63 of a-z 0-9 - _, starting with a letter or digit"
                )));
            }
            let t = store
                .create_tenant(name, TenantSettings::default().to_json())
                .await
                .map_err(|e| match e {
                    scimd_store::StoreError::TenantExists => {
                        CliError(format!("tenant '{name}' already exists"))
                    }
                    other => other.into(),
                })?;
            w(out, format!("created tenant {}", t.name))
        }
        Command::Tenants(TenantsCommand::List) => {
            for t in store.list_tenants().await? {
                w(out, format!("{}\t{}", t.name, t.created))?;
            }
            Ok(())
        }
        Command::Tenants(TenantsCommand::Delete { name }) => {
            let t = tenant(store, name).await?;
            store.delete_tenant(t.id).await?;
            w(out, format!("deleted tenant {name}"))
        }
        Command::Tenants(TenantsCommand::Settings { name, set }) => {
            let t = tenant(store, name).await?;
            let mut settings = TenantSettings::from_json(&t.settings);
            if !set.is_empty() {
                for assignment in set {
                    settings = apply_setting(settings, assignment)?;
                }
                store
                    .update_tenant_settings(t.id, settings.to_json())
                    .await?;
            }
            let json = serde_json::to_string_pretty(&settings.to_json())
                .map_err(|e| CliError(e.to_string()))?;
            w(out, json)
        }
        Command::Tokens(TokensCommand::Create {
            tenant: name,
            label,
        }) => {
            let t = tenant(store, name).await?;
            let token = crypto::new_bearer_token()?;
            store
                .create_credential(
                    t.id,
                    CredentialKind::Bearer,
                    label,
                    None,
                    &crypto::sha256_hex(token.as_bytes()),
                )
                .await?;
            w(out, token)
        }
        Command::Clients(ClientsCommand::Create {
            tenant: name,
            label,
        }) => {
            let t = tenant(store, name).await?;
            let (id, secret) = crypto::new_client_credentials()?;
            let phc = tokio::task::spawn_blocking({
                let secret = secret.clone();
                move || crypto::hash_secret(&secret)
            })
            .await
            .map_err(|e| CliError(e.to_string()))??;
            store
                .create_credential(t.id, CredentialKind::Basic, label, Some(&id), &phc)
                .await?;
            w(out, format!("client_id: {id}"))?;
            w(out, format!("client_secret: {secret}"))
        }
        Command::Tokens(TokensCommand::List { tenant: name })
        | Command::Clients(ClientsCommand::List { tenant: name }) => {
            // `tokens list` shows every credential (bearer and Basic share one id space, so
            // `tokens revoke` works for both); `clients list` only Basic clients.
            let only_basic = matches!(command, Command::Clients(_));
            let t = tenant(store, name).await?;
            for c in store.list_credentials(t.id).await? {
                if only_basic && c.kind != CredentialKind::Basic {
                    continue;
                }
                let state = if c.revoked { "revoked" } else { "active" };
                let who = c.client_id.as_deref().unwrap_or("-");
                w(
                    out,
                    format!(
                        "{}\t{}\t{}\t{}\t{}\t{}",
                        c.id,
                        c.kind.as_str(),
                        state,
                        c.created,
                        who,
                        c.label
                    ),
                )?;
            }
            Ok(())
        }
        Command::Tokens(TokensCommand::Revoke { tenant: name, id })
        | Command::Clients(ClientsCommand::Revoke { tenant: name, id }) => {
            let t = tenant(store, name).await?;
            store
                .revoke_credential(t.id, *id)
                .await
                .map_err(|e| match e {
                    scimd_store::StoreError::NotFound => {
                        CliError(format!("tenant '{name}' has no credential {id}"))
                    }
                    other => other.into(),
                })?;
            w(out, format!("revoked {id}"))
        }
    }
}

/// Exports tenant `name` as JSON lines to `out` and returns a one-line summary.
pub async fn export<S: Transfer>(
    store: &S,
    name: &str,
    out: impl std::io::Write,
) -> Result<String, CliError> {
    let export = store.export_tenant(name).await.map_err(|e| match e {
        scimd_store::StoreError::TenantNotFound => CliError(format!("no tenant named '{name}'")),
        other => other.into(),
    })?;
    export
        .write_json_lines(out)
        .map_err(|e| CliError(format!("cannot write the export: {e}")))?;
    Ok(format!(
        "exported tenant {}: {}",
        export.name,
        counts(&export)
    ))
}

/// Imports the JSON lines in `input` as a new tenant (named `as_name`, else the exported
/// name) and returns a one-line summary. Nothing is written unless everything is.
pub async fn import<S: Transfer>(
    store: &S,
    input: impl std::io::BufRead,
    as_name: Option<&str>,
) -> Result<String, CliError> {
    let mut export = TenantExport::read_json_lines(input)
        .map_err(|e| CliError(format!("invalid export: {e}")))?;
    if let Some(name) = as_name {
        name.clone_into(&mut export.name);
    }
    let name = export.name.clone();
    if !valid_tenant_name(&name) {
        return Err(CliError(format!(
            "invalid tenant name '{name}': use 1-63 of a-z 0-9 - _, starting with a letter or digit"
        )));
    }
    store.import_tenant(&export).await.map_err(|e| match e {
        scimd_store::StoreError::TenantExists => {
            CliError(format!("tenant '{name}' already exists"))
        }
        other => CliError(format!("import failed, nothing was written: {other}")),
    })?;
    Ok(format!("imported tenant {name}: {}", counts(&export)))
}

fn counts(export: &TenantExport) -> String {
    let users = export
        .resources
        .iter()
        .filter(|r| r.kind == scimd_core::schema::ResourceKind::User)
        .count();
    format!(
        "{users} users, {} groups, {} memberships, {} credentials",
        export.resources.len() - users,
        export.members.len(),
        export.credentials.len()
    )
}

/// Applies one `KEY=VALUE` to tenant settings; unknown keys and bad values are errors, so a
/// typo never silently falls back to a default.
fn apply_setting(settings: TenantSettings, assignment: &str) -> Result<TenantSettings, CliError> {
    let (key, value) = assignment
        .split_once('=')
        .ok_or_else(|| CliError(format!("expected KEY=VALUE, got '{assignment}'")))?;
    let (key, value) = (key.trim(), value.trim());
    let mut json = settings.to_json();
    let object = json
        .as_object_mut()
        .ok_or_else(|| CliError("tenant settings are not an object".into()))?;
    if key == "mode" && value == "default" {
        object.remove("mode");
    } else {
        let known = key == "mode" || object.contains_key(key);
        if !known {
            return Err(CliError(format!("unknown tenant setting '{key}'")));
        }
        let parsed = match value {
            "true" => serde_json::Value::Bool(true),
            "false" => serde_json::Value::Bool(false),
            other => serde_json::Value::String(other.to_owned()),
        };
        object.insert(key.to_owned(), parsed);
    }
    serde_json::from_value(json).map_err(|e| CliError(format!("invalid value for '{key}': {e}")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn tenant_settings_assignments() {
        use crate::config::PatchResponse;
        use scimd_core::Mode;
        let s = apply_setting(TenantSettings::default(), "password_sync=true").unwrap();
        assert!(s.password_sync);
        let s = apply_setting(s, "mode=strict").unwrap();
        assert_eq!(s.mode, Some(Mode::Strict));
        let s = apply_setting(s, "mode=default").unwrap();
        assert_eq!(s.mode, None);
        let s = apply_setting(s, "group_patch_response=resource").unwrap();
        assert_eq!(s.group_patch_response, PatchResponse::Resource);
        assert!(apply_setting(s.clone(), "pasword_sync=true").is_err());
        assert!(apply_setting(s.clone(), "password_sync=yes").is_err());
        assert!(apply_setting(s.clone(), "mode=lenient").is_err());
        assert!(apply_setting(s, "password_sync").is_err());
    }

    #[test]
    fn tenant_names() {
        assert!(valid_tenant_name("default"));
        assert!(valid_tenant_name("acme-prod_2"));
        assert!(!valid_tenant_name(""));
        assert!(!valid_tenant_name("-x"));
        assert!(!valid_tenant_name("Acme"));
        assert!(!valid_tenant_name("a/b"));
        assert!(!valid_tenant_name(&"a".repeat(64)));
    }

    #[test]
    fn parses_the_operator_interface() {
        let cli = Cli::try_parse_from([
            "scimd",
            "serve",
            "--listen",
            "0.0.0.0:1",
            "--data-dir",
            "/d",
        ])
        .unwrap();
        assert!(matches!(cli.command, Command::Serve { listen: Some(ref l) } if l == "0.0.0.0:1"));
        assert_eq!(cli.common.data_dir, Some(PathBuf::from("/d")));
        let cli = Cli::try_parse_from([
            "scimd", "tokens", "create", "--tenant", "t", "--label", "okta",
        ])
        .unwrap();
        assert!(matches!(
            cli.command,
            Command::Tokens(TokensCommand::Create { ref tenant, ref label }) if tenant == "t" && label == "okta"
        ));
        let cli = Cli::try_parse_from(["scimd", "tokens", "revoke", "--tenant", "t", "7"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Tokens(TokensCommand::Revoke { id: 7, .. })
        ));
        let cli =
            Cli::try_parse_from(["scimd", "migrate", "--database", "postgres://h/db"]).unwrap();
        assert!(matches!(cli.command, Command::Migrate));
        assert_eq!(cli.common.database.as_deref(), Some("postgres://h/db"));
        let cli = Cli::try_parse_from(["scimd", "export", "--tenant", "acme"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Export { ref tenant, output: None } if tenant == "acme"
        ));
        let cli =
            Cli::try_parse_from(["scimd", "import", "--input", "/tmp/a.jsonl", "--as", "beta"])
                .unwrap();
        assert!(matches!(
            cli.command,
            Command::Import { input: Some(ref i), as_name: Some(ref n) }
                if i == &PathBuf::from("/tmp/a.jsonl") && n == "beta"
        ));
        assert!(
            Cli::try_parse_from(["scimd", "export"]).is_err(),
            "--tenant is required"
        );
    }
}
