//! The `scimd` binary: operator commands, first start, bootstrap token, signals.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_scimd");

fn scimd(data_dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("SCIMD_BOOTSTRAP_TOKEN")
        .env_remove("SCIMD_DATABASE_URL")
        .env_remove("SCIMD_CONFIG")
        .env_remove("SCIMD_LISTEN")
        .env_remove("SCIMD_DATA_DIR")
        .output()
        .unwrap()
}

fn stdout(o: &std::process::Output) -> String {
    assert!(
        o.status.success(),
        "status {:?}, stderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn operator_commands_manage_tenants_tokens_and_clients() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    stdout(&scimd(d, &["tenants", "create", "acme"]));
    let list = stdout(&scimd(d, &["tenants", "list"]));
    assert!(list.lines().any(|l| l.starts_with("acme\t")), "{list}");

    let token = stdout(&scimd(
        d,
        &["tokens", "create", "--tenant", "acme", "--label", "okta"],
    ));
    assert_eq!(token.lines().count(), 1, "token alone on stdout: {token}");
    assert!(token.trim().starts_with("scimd_"));

    let tokens = stdout(&scimd(d, &["tokens", "list", "--tenant", "acme"]));
    assert!(!tokens.contains(token.trim()), "list never shows tokens");
    let line = tokens.lines().find(|l| l.ends_with("okta")).unwrap();
    assert!(line.contains("active"));
    let id = line.split('\t').next().unwrap();
    stdout(&scimd(d, &["tokens", "revoke", "--tenant", "acme", id]));
    let tokens = stdout(&scimd(d, &["tokens", "list", "--tenant", "acme"]));
    assert!(
        tokens
            .lines()
            .any(|l| l.starts_with(&format!("{id}\tbearer\trevoked"))),
        "{tokens}"
    );

    let client = stdout(&scimd(d, &["clients", "create", "--tenant", "acme"]));
    assert!(client.contains("client_id: scimdc_"), "{client}");
    assert!(client.contains("client_secret: "), "{client}");

    let missing = scimd(d, &["tokens", "create", "--tenant", "nope"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no tenant"));

    let shown = stdout(&scimd(d, &["tenants", "settings", "acme"]));
    let settings: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(settings["password_sync"], false);
    let shown = stdout(&scimd(
        d,
        &[
            "tenants",
            "settings",
            "acme",
            "--set",
            "password_sync=true",
            "--set",
            "mode=strict",
        ],
    ));
    let settings: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(settings["password_sync"], true);
    assert_eq!(settings["mode"], "strict");
    // Persisted: a fresh process reads the same.
    let again: serde_json::Value =
        serde_json::from_str(&stdout(&scimd(d, &["tenants", "settings", "acme"]))).unwrap();
    assert_eq!(again, settings);
    let typo = scimd(
        d,
        &["tenants", "settings", "acme", "--set", "pasword_sync=true"],
    );
    assert!(!typo.status.success());
    assert!(String::from_utf8_lossy(&typo.stderr).contains("unknown tenant setting"));

    stdout(&scimd(d, &["tenants", "delete", "acme"]));
    let list = stdout(&scimd(d, &["tenants", "list"]));
    assert!(!list.contains("acme"));
}

#[test]
fn unsupported_database_urls_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let o = scimd(
        dir.path(),
        &["tenants", "list", "--database", "mysql://localhost/scimd"],
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("unsupported database URL 'mysql'"), "{err}");
    assert!(err.contains("postgres://"), "{err}");
}

/// The shared throwaway PostgreSQL cluster and a new database on it, or `None` (after a skip
/// message) when PostgreSQL is not installed and `SCIMD_REQUIRE_POSTGRES` is not `1`.
fn postgres_database(
    test: &str,
) -> Option<(
    std::sync::Arc<scimd_store_postgres::test_cluster::Cluster>,
    String,
)> {
    let Some(cluster) = scimd_store_postgres::test_cluster::Cluster::shared() else {
        eprintln!("SKIPPED the PostgreSQL part of cli::{test}: PostgreSQL is not installed");
        return None;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = rt.block_on(cluster.create_database());
    Some((cluster, url))
}

/// Runs the binary with exactly `args` (no implicit data directory), feeding `stdin`.
fn scimd_raw(args: &[&str], stdin: Option<&[u8]>) -> std::process::Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env_remove("SCIMD_BOOTSTRAP_TOKEN")
        .env_remove("SCIMD_DATABASE_URL")
        .env_remove("SCIMD_CONFIG")
        .env_remove("SCIMD_LISTEN")
        .env_remove("SCIMD_DATA_DIR")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), input).unwrap();
    }
    child.wait_with_output().unwrap()
}

#[test]
fn migrate_applies_migrations_on_both_backends() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("data");
    let first = stdout(&scimd(&d, &["migrate"]));
    assert!(first.contains("up to date"), "{first}");
    assert!(d.join("scimd.db").is_file(), "the database was created");
    // Idempotent, and the schema is usable by the next command.
    assert_eq!(stdout(&scimd(&d, &["migrate"])), first);
    assert_eq!(stdout(&scimd(&d, &["tenants", "list"])), "");

    let Some((_cluster, url)) = postgres_database("migrate_applies_migrations_on_both_backends")
    else {
        return;
    };
    let first = stdout(&scimd_raw(&["migrate", "--database", &url], None));
    let version: i64 = first
        .trim()
        .strip_prefix("database is at schema version ")
        .unwrap_or_else(|| panic!("{first}"))
        .parse()
        .unwrap();
    assert!(version >= 1);
    let again = stdout(&scimd_raw(&["migrate", "--database", &url], None));
    assert_eq!(again, first, "a second migrate changes nothing");
    // The migrated database serves operator commands (the real PostgreSQL backend).
    stdout(&scimd_raw(
        &["tenants", "create", "acme", "--database", &url],
        None,
    ));
    let list = stdout(&scimd_raw(&["tenants", "list", "--database", &url], None));
    assert!(list.starts_with("acme\t"), "{list}");
    // The URL may also come from the environment.
    let o = Command::new(BIN)
        .args(["tenants", "list"])
        .env("SCIMD_DATABASE_URL", &url)
        .env_remove("SCIMD_CONFIG")
        .output()
        .unwrap();
    assert_eq!(stdout(&o), list);
}

/// A running `scimd serve`, stopped (SIGTERM) by [`Served::stop`] or
/// killed on drop.
struct Served {
    child: Option<Child>,
    base: String,
}

impl Served {
    /// Starts on `database` and waits until `tenant` answers `token`.
    fn start(database: &str, tenant: &str, token: &str) -> Served {
        let port = free_port();
        let child = Command::new(BIN)
            .arg("serve")
            .env("SCIMD_DATABASE_URL", database)
            .env("SCIMD_LISTEN", format!("127.0.0.1:{port}"))
            .env_remove("SCIMD_BOOTSTRAP_TOKEN")
            .env_remove("SCIMD_CONFIG")
            .env_remove("SCIMD_DATA_DIR")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let served = Served {
            child: Some(child),
            base: format!("http://127.0.0.1:{port}"),
        };
        wait_ready(&format!("{}/tenants/{tenant}/scim/v2", served.base), token);
        served
    }

    fn stop(mut self) {
        let mut child = self.child.take().unwrap();
        assert!(terminate(&mut child).success());
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// What a tenant looks like over HTTP: its Users and Groups lists (with ids, versions,
/// timestamps and members), with the server's own address taken out.
fn snapshot(rt: &tokio::runtime::Runtime, served: &Served, tenant: &str, token: &str) -> String {
    rt.block_on(async {
        let c = reqwest::Client::new();
        let mut all = String::new();
        for path in ["Users", "Groups"] {
            let r = c
                .get(format!(
                    "{}/tenants/{tenant}/scim/v2/{path}?sortBy=meta.created",
                    served.base
                ))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            all.push_str(&r.text().await.unwrap());
        }
        all.replace(&served.base, "BASE")
    })
}

fn http_status(
    rt: &tokio::runtime::Runtime,
    url: &str,
    auth: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
) -> u16 {
    rt.block_on(async {
        auth(reqwest::Client::new().get(url))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    })
}

/// `scimd export` / `scimd import` move a tenant SQLite → PostgreSQL → SQLite through the
/// binary without loss: users, groups, memberships (nested too), versions, timestamps,
/// settings and credential hashes, so the identity provider's tokens and Basic client keep
/// working after each move and revoked credentials stay revoked.
#[test]
fn export_import_round_trip_sqlite_postgres_sqlite() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let first = format!("sqlite://{}", dir.path().join("first.db").display());
    let db = |url: &str, args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--database", url]);
        stdout(&scimd_raw(&all, None))
    };

    // A tenant with settings, a token, a Basic client and a revoked token.
    db(&first, &["tenants", "create", "acme"]);
    db(
        &first,
        &["tenants", "settings", "acme", "--set", "password_sync=true"],
    );
    let token = db(&first, &["tokens", "create", "--tenant", "acme"])
        .trim()
        .to_owned();
    let revoked = db(
        &first,
        &["tokens", "create", "--tenant", "acme", "--label", "old"],
    )
    .trim()
    .to_owned();
    let list = db(&first, &["tokens", "list", "--tenant", "acme"]);
    let old_id = list
        .lines()
        .find(|l| l.ends_with("\told"))
        .and_then(|l| l.split('\t').next())
        .unwrap()
        .to_owned();
    db(&first, &["tokens", "revoke", "--tenant", "acme", &old_id]);
    let client = db(&first, &["clients", "create", "--tenant", "acme"]);
    let field = |name: &str| {
        client
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap()
            .trim()
            .to_owned()
    };
    let (client_id, secret) = (field("client_id: "), field("client_secret: "));

    // Users and groups (nested membership, a password, a PATCHed version) over HTTP.
    let served = Served::start(&first, "acme", &token);
    let scim = format!("{}/tenants/acme/scim/v2", served.base);
    rt.block_on(async {
        let c = reqwest::Client::new();
        let post = |path: &str, body: serde_json::Value| {
            let r = c
                .post(format!("{scim}/{path}"))
                .bearer_auth(&token)
                .header("content-type", "application/scim+json")
                .body(body.to_string())
                .send();
            async move {
                let r = r.await.unwrap();
                assert_eq!(r.status(), 201);
                r.json::<serde_json::Value>().await.unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            }
        };
        let user = "urn:ietf:params:scim:schemas:core:2.0:User";
        let group = "urn:ietf:params:scim:schemas:core:2.0:Group";
        let ana = post(
            "Users",
            serde_json::json!({"schemas": [user], "userName": "ana@example.com",
                "externalId": "00u1", "password": "Secret-1",
                "name": {"givenName": "Ana", "familyName": "Ng"},
                "emails": [{"value": "ana@example.com", "primary": true}]}),
        )
        .await;
        let bo = post(
            "Users",
            serde_json::json!({"schemas": [user], "userName": "bo@example.com", "active": false}),
        )
        .await;
        let inner = post(
            "Groups",
            serde_json::json!({"schemas": [group], "displayName": "Inner",
                "members": [{"value": ana, "display": "Ana as sent"}]}),
        )
        .await;
        post(
            "Groups",
            serde_json::json!({"schemas": [group], "displayName": "Outer",
                "members": [{"value": inner}, {"value": bo}]}),
        )
        .await;
        let r = c
            .patch(format!("{scim}/Users/{bo}"))
            .bearer_auth(&token)
            .header("content-type", "application/scim+json")
            .body(
                serde_json::json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "path": "displayName", "value": "Bo"}]})
                .to_string(),
            )
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    });
    let before = snapshot(&rt, &served, "acme", &token);
    served.stop();

    // SQLite → file.
    let export1 = dir.path().join("acme-1.jsonl");
    let export1_arg = export1.display().to_string();
    let said = db(
        &first,
        &["export", "--tenant", "acme", "--output", &export1_arg],
    );
    assert!(
        said.contains("exported tenant acme: 2 users, 2 groups, 3 memberships, 3 credentials"),
        "{said}"
    );
    let text1 = std::fs::read_to_string(&export1).unwrap();
    assert!(
        !text1.contains(&token) && !text1.contains(&secret),
        "secrets are never exported"
    );

    // File → the second database: PostgreSQL when installed (else another SQLite file).
    let pg = postgres_database("export_import_round_trip_sqlite_postgres_sqlite");
    let second = match &pg {
        Some((_, url)) => url.clone(),
        None => format!("sqlite://{}", dir.path().join("second.db").display()),
    };
    let said = db(&second, &["import", "--input", &export1_arg]);
    assert_eq!(
        said.trim(),
        "imported tenant acme: 2 users, 2 groups, 3 memberships, 3 credentials"
    );
    // Importing the same tenant again is refused and writes nothing.
    let again = scimd_raw(
        &["import", "--input", &export1_arg, "--database", &second],
        None,
    );
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("tenant 'acme' already exists"));
    // Under another name it still clashes on the Basic client id (unique across tenants):
    // refused as a whole, no half-imported tenant.
    let renamed = scimd_raw(
        &[
            "import",
            "--input",
            &export1_arg,
            "--as",
            "acme2",
            "--database",
            &second,
        ],
        None,
    );
    assert!(!renamed.status.success());
    assert!(String::from_utf8_lossy(&renamed.stderr).contains("nothing was written"));
    assert!(!db(&second, &["tenants", "list"]).contains("acme2"));

    // The moved tenant serves the same data to the same credentials.
    let served = Served::start(&second, "acme", &token);
    assert_eq!(snapshot(&rt, &served, "acme", &token), before);
    let users = format!("{}/tenants/acme/scim/v2/Users", served.base);
    assert_eq!(http_status(&rt, &users, |r| r.bearer_auth(&token)), 200);
    assert_eq!(
        http_status(&rt, &users, |r| r.basic_auth(&client_id, Some(&secret))),
        200
    );
    assert_eq!(http_status(&rt, &users, |r| r.bearer_auth(&revoked)), 401);
    served.stop();

    // Second database → stdout → stdin → a third (SQLite) database.
    let exported = scimd_raw(&["export", "--tenant", "acme", "--database", &second], None);
    let text2 = stdout(&exported);
    assert!(String::from_utf8_lossy(&exported.stderr).contains("exported tenant acme"));
    assert_eq!(
        text2, text1,
        "the second database exports exactly what was imported"
    );
    let third = format!("sqlite://{}", dir.path().join("third.db").display());
    let imported = scimd_raw(&["import", "--database", &third], Some(text2.as_bytes()));
    assert!(stdout(&imported).contains("imported tenant acme"));
    let text3 = stdout(&scimd_raw(
        &["export", "--tenant", "acme", "--database", &third],
        None,
    ));
    assert_eq!(text3, text1, "SQLite -> PostgreSQL -> SQLite loses nothing");
    let served = Served::start(&third, "acme", &token);
    assert_eq!(snapshot(&rt, &served, "acme", &token), before);
    assert_eq!(
        http_status(
            &rt,
            &format!("{}/tenants/acme/scim/v2/Users", served.base),
            |r| r.basic_auth(&client_id, Some(&secret))
        ),
        200
    );
    served.stop();

    // `--as` renames: a fresh database gets the tenant under the new name.
    let fourth = format!("sqlite://{}", dir.path().join("fourth.db").display());
    let said = stdout(&scimd_raw(
        &["import", "--as", "beta", "--database", &fourth],
        Some(text1.as_bytes()),
    ));
    assert!(said.contains("imported tenant beta"), "{said}");
    let creds = db(&fourth, &["tokens", "list", "--tenant", "beta"]);
    assert_eq!(creds.lines().count(), 3, "{creds}");
    // A malformed export is refused with its line number.
    let bad = scimd_raw(
        &["import", "--database", &fourth],
        Some(b"{\"type\":\"member\"}\n"),
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("line 1"));
}

fn wait_ready(url: &str, token: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    loop {
        let ok = rt.block_on(async {
            reqwest::Client::new()
                .get(format!("{url}/ServiceProviderConfig"))
                .bearer_auth(token)
                .send()
                .await
                .map(|r| r.status().as_u16())
        });
        match ok {
            Ok(200) => return,
            Ok(s) => panic!("unexpected status {s}"),
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => panic!("server did not start: {e}"),
        }
    }
}

fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        assert!(Instant::now() < deadline, "scimd did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn first_start_prints_url_token_and_curl_then_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = Command::new(BIN)
        .args(["serve", "--data-dir"])
        .arg(dir.path())
        .env("SCIMD_LISTEN", &listen)
        .env_remove("SCIMD_BOOTSTRAP_TOKEN")
        .env_remove("SCIMD_DATABASE_URL")
        .env_remove("SCIMD_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut text = String::new();
    while !text.contains("curl") {
        let mut line = String::new();
        if out.read_line(&mut line).unwrap() == 0 {
            break;
        }
        text.push_str(&line);
    }
    let base = format!("http://{listen}/scim/v2");
    assert!(text.contains(&format!("SCIM base URL: {base}")), "{text}");
    let token = text
        .lines()
        .find_map(|l| l.split("Bearer token (shown once): ").nth(1))
        .unwrap()
        .trim()
        .to_owned();
    assert!(token.starts_with("scimd_"));
    assert!(text.contains(&format!(
        "curl -H 'Authorization: Bearer {token}' {base}/Users"
    )));
    wait_ready(&base, &token);
    let status = terminate(&mut child);
    assert!(status.success(), "exit status {status:?}");
}

/// Logs redirected to a file (as under systemd or in a container) are plain text: no
/// terminal colour codes, whatever the formatter does on a terminal.
#[test]
fn logs_written_to_a_file_carry_no_terminal_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("scimd.log");
    let port = free_port();
    let token = "scimd_log_test_token_0123456789abcdefghijkl";
    let mut child = Command::new(BIN)
        .args(["serve", "--data-dir"])
        .arg(dir.path().join("data"))
        .env("SCIMD_LISTEN", format!("127.0.0.1:{port}"))
        .env("SCIMD_BOOTSTRAP_TOKEN", token)
        .env_remove("SCIMD_DATABASE_URL")
        .env_remove("SCIMD_CONFIG")
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    wait_ready(&format!("http://127.0.0.1:{port}/scim/v2"), token);
    assert!(terminate(&mut child).success());
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.contains("scimd listening"), "{log}");
    let line = log
        .lines()
        .find(|l| l.contains("uri=/scim/v2/ServiceProviderConfig"))
        .unwrap_or_else(|| panic!("the request line is logged: {log}"));
    for field in ["method=GET", "status=200", "latency_us=", "request_id="] {
        assert!(line.contains(field), "{field} in {line}");
    }
    assert!(
        !line.contains(token),
        "no credential in the request line: {line}"
    );
    assert!(
        !log.contains('\u{1b}'),
        "colour codes in the log file: {log:?}"
    );
}

#[test]
fn bootstrap_token_env_prints_no_secret_and_config_file_applies() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = dir.path().join("scimd.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:{port}\"\ndata_dir = \"{}\"\ndiscovery_requires_auth = false\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&config)
        .env("SCIMD_BOOTSTRAP_TOKEN", "fixed-secret-token")
        .env_remove("SCIMD_DATABASE_URL")
        .env_remove("SCIMD_LISTEN")
        .env_remove("SCIMD_DATA_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}/scim/v2");
    wait_ready(&base, "fixed-secret-token");
    assert!(dir.path().join("data").join("scimd.db").exists());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let c = reqwest::Client::new();
        let r = c
            .get(format!("{base}/Users"))
            .bearer_auth("fixed-secret-token")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        // discovery_requires_auth = false from the file.
        let r = c.get(format!("{base}/Schemas")).send().await.unwrap();
        assert_eq!(r.status(), 200);
    });
    let status = terminate(&mut child);
    assert!(status.success());
    let mut all = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut all).unwrap();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut all).unwrap();
    assert!(
        !all.contains("fixed-secret-token"),
        "secret printed or logged: {all}"
    );
    assert!(!all.contains("Bearer token"), "no generated token: {all}");
}

fn start_with_token(data_dir: &std::path::Path, port: u16, token: &str) -> Child {
    Command::new(BIN)
        .args(["serve", "--data-dir"])
        .arg(data_dir)
        .env("SCIMD_LISTEN", format!("127.0.0.1:{port}"))
        .env("SCIMD_BOOTSTRAP_TOKEN", token)
        .env_remove("SCIMD_DATABASE_URL")
        .env_remove("SCIMD_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// A write the server acknowledged (201) survives `kill -9` in the middle of a stream of
/// concurrent writes: SQLite's WAL with `synchronous=NORMAL` is durable against a process
/// crash, and every acknowledgement comes after its transaction committed.
#[test]
fn kill_9_mid_write_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let token = "kill9-token";
    let base = format!("http://127.0.0.1:{port}/scim/v2");
    let mut child = start_with_token(dir.path(), port, token);
    wait_ready(&base, token);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let base = base.clone();
            let acknowledged = acknowledged.clone();
            rt.spawn(async move {
                let c = reqwest::Client::new();
                // Bounded: the server is killed long before a writer finishes.
                for i in 0..2_000 {
                    let body = serde_json::json!({
                        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                        "userName": format!("w{w}-u{i}@example.com"),
                    });
                    let Ok(r) = c
                        .post(format!("{base}/Users"))
                        .bearer_auth(token)
                        .header("content-type", "application/scim+json")
                        .body(body.to_string())
                        .send()
                        .await
                    else {
                        return;
                    };
                    if r.status() != 201 {
                        return;
                    }
                    let Ok(v) = r.json::<serde_json::Value>().await else {
                        return;
                    };
                    let id = v["id"].as_str().unwrap().to_owned();
                    acknowledged.lock().unwrap().push(id);
                }
            })
        })
        .collect();
    // Let writes flow, then kill without warning while they are in flight.
    let deadline = Instant::now() + Duration::from_secs(30);
    while acknowledged.lock().unwrap().len() < 200 {
        assert!(Instant::now() < deadline, "writes did not get acknowledged");
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    for w in writers {
        rt.block_on(w).unwrap();
    }
    let acked = acknowledged.lock().unwrap().clone();
    assert!(acked.len() >= 200);

    let mut child = start_with_token(dir.path(), port, token);
    wait_ready(&base, token);
    rt.block_on(async {
        let c = reqwest::Client::new();
        let list: serde_json::Value = c
            .get(format!("{base}/Users?count=1"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let total = list["totalResults"].as_u64().unwrap() as usize;
        assert!(
            total >= acked.len(),
            "{total} < {} acknowledged",
            acked.len()
        );
        for id in &acked {
            let r = c
                .get(format!("{base}/Users/{id}"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "acknowledged user {id} lost");
        }
    });
    assert!(terminate(&mut child).success());
}

/// `scimd admin-tokens` makes credentials for `/admin/v1` only, and `scimd audit` reads back
/// what a SCIM client did, filtered, with no secret in the output.
#[test]
fn admin_tokens_and_audit_log_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let admin = stdout(&scimd(d, &["admin-tokens", "create", "--label", "ops"]));
    let admin = admin.trim().to_owned();
    assert_eq!(admin.lines().count(), 1);
    let listed = stdout(&scimd(d, &["admin-tokens", "list"]));
    let line = listed.lines().find(|l| l.ends_with("ops")).unwrap();
    assert!(
        line.contains("active") && !listed.contains(&admin),
        "{listed}"
    );

    let port = free_port();
    let token = "audit-cli-token";
    let base = format!("http://127.0.0.1:{port}/scim/v2");
    let mut child = start_with_token(d, port, token);
    wait_ready(&base, token);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let c = reqwest::Client::new();
        let r = c
            .get(format!("{base}/Users/does-not-exist"))
            .bearer_auth(token)
            .header("user-agent", "Okta SCIM Client 1.0.0")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
        // The admin token is not a SCIM credential, and the SCIM token is not an admin one.
        let r = c
            .get(format!("{base}/Users"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        let r = c
            .get(format!(
                "http://127.0.0.1:{port}/admin/v1/tenants/default/audit"
            ))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    });
    // Reads are batched off the request path; a graceful stop flushes them.
    assert!(terminate(&mut child).success());

    let all = stdout(&scimd(
        d,
        &["audit", "--tenant", "default", "--since", "1h"],
    ));
    let not_found = stdout(&scimd(
        d,
        &["audit", "--tenant", "default", "--status", "404"],
    ));
    assert!(
        not_found.contains("/Users/does-not-exist") && not_found.contains("Okta SCIM Client"),
        "{not_found}"
    );
    assert!(
        not_found.lines().all(|l| l.contains("status=404")),
        "{not_found}"
    );
    assert!(all.lines().count() >= not_found.lines().count());
    assert!(
        !all.contains(token) && !all.contains(&admin),
        "no secret in the audit log"
    );
    let bad = scimd(d, &["audit", "--tenant", "default", "--status", "4x"]);
    assert!(!bad.status.success());

    let id = line.split('\t').next().unwrap();
    stdout(&scimd(d, &["admin-tokens", "revoke", id]));
    assert!(stdout(&scimd(d, &["admin-tokens", "list"])).contains("revoked"));
}

/// Nothing secret reaches a log line, even at `RUST_LOG=trace` with JSON logs: not the
/// bearer token, not a Basic secret, not a password from a request body, not a wrong token.
#[test]
fn no_secret_in_any_log_line_at_trace_level() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = free_port();
    let token = "log-secret-token-1234567890";
    let config = d.join("scimd.toml");
    std::fs::write(&config, "log_format = \"json\"\n").unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--data-dir"])
        .arg(d)
        .arg("--config")
        .arg(&config)
        .env("SCIMD_LISTEN", format!("127.0.0.1:{port}"))
        .env("SCIMD_BOOTSTRAP_TOKEN", token)
        .env("RUST_LOG", "trace")
        .env_remove("SCIMD_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}/scim/v2");
    wait_ready(&base, token);
    let basic = stdout(&scimd(d, &["clients", "create", "--tenant", "default"]));
    let id = basic
        .lines()
        .find_map(|l| l.strip_prefix("client_id: "))
        .unwrap()
        .to_owned();
    let secret = basic
        .lines()
        .find_map(|l| l.strip_prefix("client_secret: "))
        .unwrap()
        .to_owned();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let c = reqwest::Client::new();
        let body = serde_json::json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "logged@example.com",
            "password": "pw-never-logged-42",
        });
        let r = c
            .post(format!("{base}/Users"))
            .bearer_auth(token)
            .header("content-type", "application/scim+json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let r = c
            .get(format!("{base}/Users"))
            .basic_auth(&id, Some(&secret))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let r = c
            .get(format!("{base}/Users"))
            .bearer_auth("wrong-token-abcdef")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    });
    assert!(terminate(&mut child).success());
    let mut all = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut all).unwrap();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut all).unwrap();
    assert!(
        all.contains("logged") || all.contains("POST"),
        "logs were captured: {all}"
    );
    for secret in [
        token,
        secret.as_str(),
        "pw-never-logged-42",
        "wrong-token-abcdef",
    ] {
        assert!(!all.contains(secret), "a secret reached the log");
    }
}
