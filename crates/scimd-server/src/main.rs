//! The `scimd` binary: parses the command line, opens the storage backend named by the
//! database URL (`sqlite://…` embedded, `postgres://…` for several stateless nodes on one
//! database), and runs `serve`, `migrate` or an operator command.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use scimd_core::schema::Registry;
use scimd_server::bootstrap::{self, Bootstrap, BootstrapError};
use scimd_server::cli::{self, Cli, CliError, Command};
use scimd_server::config::ServerConfig;
use scimd_server::state::ServerStore;
use scimd_server::{AppState, telemetry};
use scimd_store::{StoreError, Transfer, WebhookStore};
use scimd_store_postgres::{PoolSettings, PostgresStore, is_postgres_url};
use scimd_store_sqlite::SqliteStore;

/// mimalloc's thread-local free lists: request handling allocates and frees many small
/// buffers across tokio worker threads, where glibc's arenas spent a tenth of the CPU.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Threads of the runtime's blocking pool. Its work is SQLite reads (at most one per read
/// connection, six at a time) and password hashing (CPU-bound, so more threads than cores gain
/// nothing). Tokio's default of 512 lets the pool grow whenever a read is handed over before
/// the previous one's thread is back waiting: measured, 34 threads during list pages at 4,000
/// pages/s, each with its own allocator heap, and 35 MiB more peak RSS than with this cap,
/// at the same throughput.
const BLOCKING_THREADS: usize = 8;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .max_blocking_threads(BLOCKING_THREADS)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(run(cli));
    // Log lines still buffered go out before the process ends (and before its last words).
    telemetry::flush();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), CliError> {
    let listen = match &cli.command {
        Command::Serve { listen } => listen.clone(),
        _ => None,
    };
    let config = cli::resolve_config(&cli.common, listen)?;
    let url = config.database_url.clone();
    if url.starts_with("sqlite:") {
        // The database file's directory (normally the data directory) must exist.
        let path = url
            .trim_start_matches("sqlite:")
            .trim_start_matches("//")
            .split('?')
            .next()
            .unwrap_or_default();
        if let Some(parent) = std::path::Path::new(path).parent()
            && !parent.as_os_str().is_empty()
            && path != ":memory:"
        {
            std::fs::create_dir_all(parent).map_err(|e| {
                CliError(format!("cannot create directory {}: {e}", parent.display()))
            })?;
        }
        if matches!(cli.command, Command::Migrate) {
            // Opening migrates; closing checkpoints the WAL.
            let registry = scimd_server::schema_registry(config.schema.as_ref())?;
            let store = SqliteStore::open(&url, registry)
                .await
                .map_err(|e| CliError(format!("cannot migrate the database: {e}")))?;
            store.close().await;
            println!("database {url} is up to date");
            return Ok(());
        }
        let registry = scimd_server::schema_registry(config.schema.as_ref())?;
        let store = SqliteStore::open(&url, Arc::clone(&registry))
            .await
            .map_err(|e| CliError(format!("cannot open database: {e}")))?;
        let outcome = dispatch(store.clone(), config, registry, &cli.command).await;
        store.close().await;
        outcome
    } else if is_postgres_url(&url) {
        if matches!(cli.command, Command::Migrate) {
            let version = PostgresStore::migrate(&url)
                .await
                .map_err(|e| CliError(format!("cannot migrate the database: {e}")))?;
            println!("database is at schema version {version}");
            return Ok(());
        }
        let registry = scimd_server::schema_registry(config.schema.as_ref())?;
        let settings = PoolSettings {
            max_connections: config
                .postgres_max_connections(|k| std::env::var(k).ok())
                .map_err(|e| CliError(e.to_string()))?,
            // Statements end before the request that runs them gives up (the server's
            // timeout drops the request, not the statement running on PostgreSQL).
            ..PoolSettings::for_request_timeout(config.request_timeout)
        };
        let store = PostgresStore::connect_with_settings(&url, Arc::clone(&registry), settings)
            .await
            .map_err(|e| CliError(format!("cannot open database: {e}")))?;
        let outcome = dispatch(store.clone(), config, registry, &cli.command).await;
        store.close().await;
        outcome
    } else {
        Err(CliError(format!(
            "unsupported database URL '{}': expected sqlite://PATH or postgres://HOST/DATABASE",
            url.split(':').next().unwrap_or_default()
        )))
    }
}

async fn dispatch<S: ServerStore + Transfer + WebhookStore>(
    store: S,
    config: ServerConfig,
    registry: Arc<Registry>,
    command: &Command,
) -> Result<(), CliError> {
    match command {
        Command::Serve { .. } => serve(store, config, registry).await,
        Command::Webhooks(cmd) => {
            let mut out = std::io::stdout().lock();
            scimd_server::webhooks::cli::run(&store, cmd, &config.public_base_url, &mut out).await
        }
        other => {
            let mut out = std::io::stdout().lock();
            cli::run_admin(&store, other, &mut out).await
        }
    }
}

async fn serve<S: ServerStore + WebhookStore>(
    store: S,
    config: ServerConfig,
    registry: Arc<Registry>,
) -> Result<(), CliError> {
    telemetry::init(config.log_format);
    let bootstrap_token = std::env::var("SCIMD_BOOTSTRAP_TOKEN").ok();
    let outcome = match bootstrap::ensure_default_tenant(&store, bootstrap_token.as_deref()).await {
        // Several nodes started together on an empty shared database: another node created
        // `default` between our check and our insert. A second pass sees it and only
        // registers the bootstrap token if it is missing.
        Err(BootstrapError::Store(StoreError::TenantExists)) => {
            bootstrap::ensure_default_tenant(&store, bootstrap_token.as_deref()).await
        }
        other => other,
    };
    match outcome.map_err(|e| CliError(e.to_string()))? {
        Bootstrap::Created { token } => {
            print!(
                "{}",
                bootstrap::first_start_message(&config.scim_base_url(), &token)
            );
        }
        Bootstrap::CreatedWithGivenToken => {
            println!(
                "scimd: created tenant '{}' with the token from SCIMD_BOOTSTRAP_TOKEN.\nSCIM base URL: {}",
                bootstrap::DEFAULT_TENANT,
                config.scim_base_url()
            );
        }
        Bootstrap::Existing => {}
    }
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .map_err(|e| CliError(format!("cannot listen on {}: {e}", config.listen)))?;
    let local = listener
        .local_addr()
        .map_or_else(|_| config.listen.clone(), |a| a.to_string());
    // The webhook dispatcher: delivers outbox events to the tenants' endpoints. Stopping
    // it mid-send is safe (at-least-once: unfinished deliveries are sent again).
    let webhook_config =
        scimd_server::webhooks::WebhookConfig::from_config(&config).map_err(CliError)?;
    let dispatcher =
        scimd_server::webhooks::Dispatcher::new(store.clone(), webhook_config).map_err(CliError)?;
    let dispatcher = tokio::spawn(dispatcher.run(std::future::pending::<()>()));
    let state = AppState::new(store, config, registry);
    tracing::info!(listen = %local, "scimd listening");
    scimd_server::launch_with_listener(listener, state.clone(), scimd_server::shutdown_signal())
        .await
        .map_err(|e| CliError(format!("server error: {e}")))?;
    dispatcher.abort();
    // In-flight requests have finished: store the audit entries still queued.
    state.audit().flush().await;
    tracing::info!("scimd stopped");
    Ok(())
}
