//! Tenants and bootstrap through the library API (the binary is covered in `cli`).

use scimd_server::bootstrap::{self, Bootstrap};
use scimd_server::cli::{Command, TenantsCommand, run_admin};
use scimd_store::Store;

use crate::helpers::*;

/// A fresh store on the backend under test (`SCIMD_TEST_BACKEND`).
async fn fresh_store() -> (TestDb, TestStore) {
    let registry = scimd_server::schema_registry(None).unwrap();
    test_store(registry).await
}

#[tokio::test]
async fn bootstrap_creates_default_tenant_once() {
    let (_dir, store) = fresh_store().await;
    let first = bootstrap::ensure_default_tenant(&store, None)
        .await
        .unwrap();
    let Bootstrap::Created { token } = first else {
        panic!("expected a new token")
    };
    assert!(token.starts_with("scimd_"));
    let again = bootstrap::ensure_default_tenant(&store, None)
        .await
        .unwrap();
    assert_eq!(again, Bootstrap::Existing);
    let tenants = store.list_tenants().await.unwrap();
    assert_eq!(tenants.len(), 1);
    assert_eq!(tenants[0].name, "default");
    let hash = scimd_server::crypto::sha256_hex(token.as_bytes());
    assert!(store.bearer_by_hash(&hash).await.unwrap().is_some());
}

#[tokio::test]
async fn bootstrap_token_from_the_environment_is_used_exactly() {
    let (_dir, store) = fresh_store().await;
    let outcome = bootstrap::ensure_default_tenant(&store, Some("my-fixed-token"))
        .await
        .unwrap();
    assert_eq!(outcome, Bootstrap::CreatedWithGivenToken);
    let t = store.tenant_by_name("default").await.unwrap().unwrap();
    let creds = store.list_credentials(t.id).await.unwrap();
    assert_eq!(creds.len(), 1, "no random token besides the given one");
    assert_eq!(
        creds[0].secret_hash,
        scimd_server::crypto::sha256_hex(b"my-fixed-token")
    );
    // A restart with the same variable adds nothing.
    bootstrap::ensure_default_tenant(&store, Some("my-fixed-token"))
        .await
        .unwrap();
    assert_eq!(store.list_credentials(t.id).await.unwrap().len(), 1);
}

#[tokio::test]
async fn tenant_admin_commands() {
    let app = spawn_app().await;
    let run = |c: Command| {
        let store = app.store.clone();
        async move {
            let mut out = Vec::new();
            let r = run_admin(&store, &c, &mut out).await;
            r.map(|()| String::from_utf8(out).unwrap())
        }
    };
    run(Command::Tenants(TenantsCommand::Create {
        name: "beta".into(),
    }))
    .await
    .unwrap();
    let dup = run(Command::Tenants(TenantsCommand::Create {
        name: "beta".into(),
    }))
    .await;
    assert!(dup.unwrap_err().to_string().contains("already exists"));
    let bad = run(Command::Tenants(TenantsCommand::Create {
        name: "Bad/Name".into(),
    }))
    .await;
    assert!(bad.is_err());
    let list = run(Command::Tenants(TenantsCommand::List)).await.unwrap();
    let names: Vec<&str> = list
        .lines()
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    assert_eq!(names, ["beta", "default"]);
    run(Command::Tenants(TenantsCommand::Delete {
        name: "beta".into(),
    }))
    .await
    .unwrap();
    assert!(app.store.tenant_by_name("beta").await.unwrap().is_none());
    let missing = run(Command::Tenants(TenantsCommand::Delete {
        name: "beta".into(),
    }))
    .await;
    assert!(missing.is_err());
}
