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
fn postgres_urls_are_not_yet_supported() {
    let dir = tempfile::tempdir().unwrap();
    let o = scimd(
        dir.path(),
        &[
            "tenants",
            "list",
            "--database",
            "postgres://localhost/scimd",
        ],
    );
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("not yet supported"));
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
