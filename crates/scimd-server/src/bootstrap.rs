//! First start: make a fresh installation usable without reading a manual.
//!
//! When the store has no tenant, the tenant `default` is created with a new bearer token,
//! and the caller prints the SCIM base URL, the token and a curl example once (to stdout,
//! never to the log). With `SCIMD_BOOTSTRAP_TOKEN` set, that token is registered instead and
//! nothing secret is printed; on later starts the token is registered for `default` again if
//! it is missing, so changing the variable takes effect at the next start.

use scimd_store::{CredentialKind, Store};

use crate::config::TenantSettings;
use crate::crypto;

/// Name of the tenant created on first start.
pub const DEFAULT_TENANT: &str = "default";

/// What happened at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bootstrap {
    /// Tenants existed; nothing was created.
    Existing,
    /// The `default` tenant was created with the given bootstrap token (nothing to print).
    CreatedWithGivenToken,
    /// The `default` tenant was created with this new token, to be printed once.
    Created { token: String },
}

/// Errors while bootstrapping.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error(transparent)]
    Store(#[from] scimd_store::StoreError),
    #[error(transparent)]
    Crypto(#[from] crypto::CryptoError),
}

/// Creates the `default` tenant and its first token when the store has no tenants.
pub async fn ensure_default_tenant<S: Store>(
    store: &S,
    bootstrap_token: Option<&str>,
) -> Result<Bootstrap, BootstrapError> {
    let bootstrap_token = bootstrap_token.filter(|t| !t.trim().is_empty());
    if !store.list_tenants().await?.is_empty() {
        if let Some(token) = bootstrap_token
            && let Some(tenant) = store.tenant_by_name(DEFAULT_TENANT).await?
        {
            let hash = crypto::sha256_hex(token.as_bytes());
            let known = store
                .bearer_by_hash(&hash)
                .await?
                .is_some_and(|(_, t)| t.id == tenant.id);
            if !known {
                store
                    .create_credential(tenant.id, CredentialKind::Bearer, "bootstrap", None, &hash)
                    .await?;
            }
        }
        return Ok(Bootstrap::Existing);
    }
    let tenant = store
        .create_tenant(DEFAULT_TENANT, TenantSettings::default().to_json())
        .await?;
    let (token, given) = match bootstrap_token {
        Some(t) => (t.to_owned(), true),
        None => (crypto::new_bearer_token()?, false),
    };
    store
        .create_credential(
            tenant.id,
            CredentialKind::Bearer,
            "bootstrap",
            None,
            &crypto::sha256_hex(token.as_bytes()),
        )
        .await?;
    Ok(if given {
        Bootstrap::CreatedWithGivenToken
    } else {
        Bootstrap::Created { token }
    })
}

/// The text printed once after creating the default tenant with a new token.
pub fn first_start_message(scim_base_url: &str, token: &str) -> String {
    format!(
        "scimd: created tenant '{DEFAULT_TENANT}'.\n\
         SCIM base URL: {scim_base_url}\n\
         Bearer token (shown once): {token}\n\
         Try: curl -H 'Authorization: Bearer {token}' {scim_base_url}/Users\n"
    )
}
