//! [`SecretVault`] and [`IdentityProvider`]: the two capabilities behind team-scale single
//! sign-on for configuration (see `docs/adr/025-secret-vault-and-identity-provider.md`).
//!
//! They name industry concepts, not tools: "a secret vault with a key-value store that trusts
//! an OpenID issuer" (OpenBao, HashiCorp Vault, ...) and "an OpenID provider with a public
//! device-code client" (Zitadel, Keycloak, Dex, an existing corporate IdP, ...). A topology
//! provides them by deploying something (the k3d topology runs the OpenBao and Zitadel Scores)
//! or by checking what a team already runs (the existing-stack topology).

use async_trait::async_trait;
use harmony_secret::SecretString;
use serde::{Deserialize, Serialize};

use super::CapabilityError;

/// One thing a capability did or checked, for progress and the run summary (never a secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapabilityStep {
    /// What was done or checked, e.g. `OpenbaoScore(openbao/openbao)` or `OIDC discovery`.
    pub name: String,
    /// Whether it created or changed something (false: it was already as wanted, or a check).
    pub changed: bool,
    /// One line for humans.
    pub message: String,
}

impl CapabilityStep {
    /// A step named `name`.
    pub fn new(name: impl Into<String>, changed: bool, message: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            changed,
            message: message.into(),
        }
    }
}

/// The public OpenID client a command-line tool signs in with (device authorization grant,
/// RFC 8628; no client secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceClientRequest {
    /// Groups the client with its roles (a Zitadel project, a Keycloak realm's client scope).
    pub project: String,
    /// The client's display name, e.g. `harmony-cli`.
    pub client_name: String,
}

/// Where people sign in, and the values a relying party needs to trust the tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceClient {
    /// The issuer (`iss` of the tokens, base of `/.well-known/openid-configuration`).
    pub issuer: String,
    /// The OAuth client id the CLI signs in with.
    pub client_id: String,
    /// The `aud` of the id_tokens (what the vault's JWT role must be bound to).
    pub audience: String,
    /// The device authorization endpoint found by discovery, when it was checked.
    pub device_authorization_endpoint: Option<String>,
    /// What was done or checked.
    pub steps: Vec<CapabilityStep>,
}

/// An OpenID provider offering a public client with the device-code grant.
#[async_trait]
pub trait IdentityProvider: Send + Sync {
    /// Makes sure the client exists (creating it when the topology manages the provider, else
    /// checking it) and says how to reach it. Idempotent.
    async fn ensure_device_client(
        &self,
        request: &DeviceClientRequest,
    ) -> Result<DeviceClient, CapabilityError>;
}

/// How the vault should trust an OpenID issuer: a JWT auth method plus one role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwtTrust {
    /// Exactly the issuer string of the tokens.
    pub issuer: String,
    /// The audience the role is bound to (the client id).
    pub audience: String,
    /// The role name people log in with, e.g. `harmony-developer`.
    pub role: String,
}

/// What a secret vault should provide.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SecretVaultRequest {
    /// The key-value (v2) mount the configuration lives in, e.g. `secret`.
    pub kv_mount: String,
    /// The policy granted to signed-in people (read/write under the kv mount).
    pub policy: String,
    /// Trust this issuer through JWT auth. `None`: no single sign-on (userpass only).
    pub jwt: Option<JwtTrust>,
    /// Also provide this userpass user, as the fallback login when there is no identity
    /// provider (`None`: no userpass). The caller chooses the credentials (e.g. from
    /// `harmony_config::get_or_prompt`), so the capability never prompts.
    pub userpass: Option<VaultUserpass>,
}

/// A userpass user of the vault. `Debug` and serialization never show the password.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VaultUserpass {
    /// The user name people log in with.
    pub username: String,
    /// Its password (`Debug` shows `[REDACTED]`; never serialized: a request written out does
    /// not carry it).
    #[serde(skip_serializing, default)]
    pub password: SecretString,
}

/// Where the vault is and how to log in to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretVaultAccess {
    /// The address clients use, e.g. `http://bao.harmony.localhost:8080`.
    pub address: String,
    /// The KV v2 mount.
    pub kv_mount: String,
    /// The policy signed-in people get.
    pub policy: String,
    /// JWT auth mount and role, when single sign-on was requested.
    pub jwt_mount: Option<String>,
    /// JWT role people log in with, when single sign-on was requested.
    pub jwt_role: Option<String>,
    /// What was done or checked.
    pub steps: Vec<CapabilityStep>,
}

/// A secret vault: a key-value store, a policy on it, and a JWT role trusting an issuer.
#[async_trait]
pub trait SecretVault: Send + Sync {
    /// Makes sure the vault is up (unsealed) and configured as `request` says, or checks it
    /// when the topology does not manage it. Idempotent.
    async fn ensure_secret_vault(
        &self,
        request: &SecretVaultRequest,
    ) -> Result<SecretVaultAccess, CapabilityError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request may be logged or written out (plans, summaries): the password is in neither.
    #[test]
    fn a_userpass_request_never_shows_or_serializes_the_password() {
        let request = SecretVaultRequest {
            kv_mount: "secret".into(),
            policy: "harmony-dev".into(),
            jwt: None,
            userpass: Some(VaultUserpass {
                username: "alice".into(),
                password: "TOPSECRET".into(),
            }),
        };
        let debug = format!("{request:?}");
        assert!(
            debug.contains("alice") && !debug.contains("TOPSECRET"),
            "{debug}"
        );
        let json = serde_json::to_string(&request).unwrap();
        assert!(
            json.contains("alice") && !json.contains("TOPSECRET"),
            "{json}"
        );
    }
}
