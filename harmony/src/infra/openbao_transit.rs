//! Transit auto-unseal: an OpenBao whose `seal "transit"` stanza points at another
//! OpenBao/Vault (the "unsealer") unseals itself at every start, with no call from Harmony.
//!
//! - [`OpenbaoTransitSeal`] names the unsealer's address, transit mount and key, and renders
//!   the stanza (without the token: the server reads it from [`TRANSIT_TOKEN_ENV`], filled from
//!   a Kubernetes Secret, never from chart values);
//! - [`TransitUnsealerSetup`] makes the mount, the key, a policy limited to encrypt/decrypt on
//!   that key (and its own token lookup/renewal) and a periodic orphan token with only that
//!   policy, on the unsealer, given admin access there. Read first, write on a difference: a
//!   rerun with a valid token writes nothing.
//!
//! Seal migration (Shamir → Transit) is refused, not performed: see [`refuse_seal_migration`].

use std::sync::Arc;

use async_trait::async_trait;
use harmony_secret::SecretString;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::infra::openbao_admin::{
    KeyStoreError, OpenbaoInitRecord, OpenbaoKeyStore, OpenbaoPolicy, OpenbaoSetup,
    OpenbaoSetupError, SealStatus, seal_migration_refused, valid_path_segment,
};

/// The environment variable the sealed server reads the unsealer token from.
pub const TRANSIT_TOKEN_ENV: &str = "BAO_TOKEN";

/// Where a transit-sealed OpenBao gets its key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenbaoTransitSeal {
    /// The unsealer's API address as the sealed OpenBao reaches it, e.g.
    /// `http://unsealer.openbao-unsealer.svc:8200`.
    pub address: String,
    /// Transit mount on the unsealer (default `transit`).
    pub mount_path: String,
    /// Transit key (default `harmony-autounseal`).
    pub key_name: String,
}

impl OpenbaoTransitSeal {
    /// The unsealer at `address` with the default mount (`transit`) and key.
    pub fn new(address: impl Into<String>) -> Self {
        Self {
            address: address.into().trim_end_matches('/').to_string(),
            mount_path: "transit".to_string(),
            key_name: "harmony-autounseal".to_string(),
        }
    }

    /// Refuses values that cannot go into the server's HCL.
    pub fn validate(&self) -> Result<(), OpenbaoSetupError> {
        // It goes between quotes in the server's HCL.
        if url::Url::parse(&self.address).is_err()
            || self
                .address
                .chars()
                .any(|c| c == '"' || c == '\\' || c.is_control())
        {
            return Err(OpenbaoSetupError::Settings(format!(
                "transit unsealer address {:?} is not a plain URL (e.g. http://unsealer.ns.svc:8200)",
                self.address
            )));
        }
        for (what, v) in [
            ("mount_path", &self.mount_path),
            ("key_name", &self.key_name),
        ] {
            if !valid_path_segment(v) {
                return Err(OpenbaoSetupError::Settings(format!(
                    "transit {what} {v:?} is not a plain name"
                )));
            }
        }
        Ok(())
    }

    /// The policy the seal token carries: encrypt and decrypt with this key, plus looking up
    /// and renewing itself (the seal renews its periodic token; the setup checks it with a
    /// read). The token is created without the `default` policy, so nothing else.
    pub fn policy(&self) -> OpenbaoPolicy {
        let (m, k) = (&self.mount_path, &self.key_name);
        OpenbaoPolicy {
            name: format!("{m}-{k}-unseal"),
            hcl: format!(
                "path \"{m}/encrypt/{k}\" {{\n  capabilities = [\"update\"]\n}}\n\npath \"{m}/decrypt/{k}\" {{\n  capabilities = [\"update\"]\n}}\n\npath \"auth/token/lookup-self\" {{\n  capabilities = [\"read\"]\n}}\n\npath \"auth/token/renew-self\" {{\n  capabilities = [\"update\"]\n}}\n"
            ),
        }
    }

    /// The `seal "transit"` stanza. No token: OpenBao reads it from [`TRANSIT_TOKEN_ENV`].
    pub fn seal_stanza_hcl(&self) -> String {
        format!(
            "seal \"transit\" {{\n  address = \"{}\"\n  mount_path = \"{}/\"\n  key_name = \"{}\"\n}}\n",
            self.address, self.mount_path, self.key_name
        )
    }
}

/// What [`TransitUnsealerSetup::ensure`] did. `Debug` hides the token.
#[derive(Debug, Clone, Default)]
pub struct TransitSetupReport {
    /// A token created in this run (the one given was missing or no longer valid): store it
    /// where the sealed server reads it.
    pub new_token: Option<SecretString>,
    /// Write requests sent to the unsealer, as "METHOD path".
    pub writes: Vec<String>,
}

/// A key store with nothing in it: the unsealer's own keys are not Harmony's business here.
struct NoKeys;

#[async_trait]
impl OpenbaoKeyStore for NoKeys {
    async fn load(&self) -> Result<Option<OpenbaoInitRecord>, KeyStoreError> {
        Ok(None)
    }
    async fn save(&self, _record: &OpenbaoInitRecord) -> Result<(), KeyStoreError> {
        Err(KeyStoreError::Refused {
            why: "the transit unsealer setup keeps no keys",
        })
    }
    fn describe(&self) -> String {
        "no key store (transit unsealer)".into()
    }
}

/// Sets up the transit key and the seal token on the unsealer.
#[derive(Debug)]
pub struct TransitUnsealerSetup {
    api: OpenbaoSetup,
    seal: OpenbaoTransitSeal,
}

impl TransitUnsealerSetup {
    /// `admin_url`: where Harmony reaches the unsealer (may differ from `seal.address`, e.g.
    /// through a port-forward).
    pub fn new(
        admin_url: impl Into<String>,
        seal: OpenbaoTransitSeal,
    ) -> Result<Self, OpenbaoSetupError> {
        seal.validate()?;
        Ok(Self {
            api: OpenbaoSetup::new(admin_url, Arc::new(NoKeys))?,
            seal,
        })
    }

    /// Mount, key, policy, and a token when `current_token` is missing or no longer valid for
    /// that policy. `admin_token` needs sys/mounts, sys/policies and auth/token/create-orphan.
    pub async fn ensure(
        &self,
        admin_token: &str,
        current_token: Option<&str>,
    ) -> Result<TransitSetupReport, OpenbaoSetupError> {
        self.api.take_writes();
        let seal = &self.seal;
        let mounts = self
            .api
            .call(Method::GET, "sys/mounts", admin_token, None)
            .await?
            .unwrap_or(Value::Null);
        let data = match mounts.get("data") {
            Some(d) if d.is_object() => d,
            _ => &mounts,
        };
        match data.get(format!("{}/", seal.mount_path)) {
            None => {
                self.api
                    .call(
                        Method::POST,
                        &format!("sys/mounts/{}", seal.mount_path),
                        admin_token,
                        Some(&json!({ "type": "transit" })),
                    )
                    .await?;
            }
            Some(m) if m["type"].as_str() == Some("transit") => {}
            Some(m) => {
                return Err(OpenbaoSetupError::State(format!(
                    "mount {}/ on the unsealer {} is a {:?} engine, not transit; choose another mount_path",
                    seal.mount_path,
                    self.api.base_url(),
                    m["type"].as_str().unwrap_or_default()
                )));
            }
        }
        let key_path = format!("{}/keys/{}", seal.mount_path, seal.key_name);
        if self
            .api
            .call(Method::GET, &key_path, admin_token, None)
            .await?
            .is_none()
        {
            self.api
                .call(Method::POST, &key_path, admin_token, Some(&json!({})))
                .await?;
        }
        let policy = seal.policy();
        self.api.ensure_policy(admin_token, &policy).await?;

        let mut new_token = None;
        if !self.token_is_valid(current_token, &policy.name).await? {
            let created = self
                .api
                .call(
                    Method::POST,
                    "auth/token/create-orphan",
                    admin_token,
                    Some(&json!({
                        "policies": [policy.name],
                        "no_default_policy": true,
                        // Periodic: the seal renews it, so it never expires while in use.
                        "period": "768h",
                        "renewable": true,
                        "display_name": format!("transit-seal-{}", seal.key_name),
                    })),
                )
                .await?
                .unwrap_or(Value::Null);
            let token = created["auth"]["client_token"]
                .as_str()
                .filter(|t| !t.is_empty())
                .ok_or_else(|| {
                    OpenbaoSetupError::State(
                        "POST auth/token/create-orphan on the unsealer: the answer has no token"
                            .into(),
                    )
                })?;
            new_token = Some(SecretString::from(token));
        }
        Ok(TransitSetupReport {
            new_token,
            writes: self.api.take_writes(),
        })
    }

    /// `GET auth/token/lookup-self` with the token: valid, carrying `policy` and nothing else,
    /// orphan (it survives the revocation of the admin token that made it) and periodic (it
    /// never expires while the seal renews it). Any other token is replaced by one that is.
    async fn token_is_valid(
        &self,
        token: Option<&str>,
        policy: &str,
    ) -> Result<bool, OpenbaoSetupError> {
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return Ok(false);
        };
        let (status, value) = self
            .api
            .send(Method::GET, "auth/token/lookup-self", Some(token), None)
            .await?;
        let data = &value["data"];
        Ok(status == 200
            && data["policies"]
                .as_array()
                .is_some_and(|p| p.len() == 1 && p[0].as_str() == Some(policy))
            && data["orphan"].as_bool() == Some(true)
            && data["period"].as_u64().is_some_and(|p| p > 0))
    }
}

/// Refuses to turn an initialised Shamir-sealed OpenBao into a transit-sealed one: a seal
/// migration needs every node restarted with `-migrate` plus the unseal keys, and a mistake
/// loses the data. Harmony does not do it; the error says what to do instead. Such a server
/// reports `migration: true` once restarted with the transit stanza, and type `shamir` before.
pub fn refuse_seal_migration(
    node: &str,
    status: &SealStatus,
    wanted: &OpenbaoTransitSeal,
) -> Result<(), OpenbaoSetupError> {
    if status.migration {
        return Err(seal_migration_refused(node, &status.seal_type));
    }
    if status.initialized && status.seal_type == "shamir" {
        return Err(OpenbaoSetupError::State(format!(
            "OpenBao at {node} is already initialised with a Shamir seal; Harmony does not migrate \
             it to the transit seal at {} (seal migration restarts every node with -migrate and \
             the unseal keys, and a mistake loses the data). Keep the Shamir unseal mode, or \
             migrate by hand following OpenBao's seal-migration guide, or start from empty \
             storage with the transit seal",
            wanted.address
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_only_encrypt_and_decrypt_on_the_key() {
        let seal = OpenbaoTransitSeal::new("http://unsealer:8200/");
        assert_eq!(seal.address, "http://unsealer:8200");
        let p = seal.policy();
        assert_eq!(p.name, "transit-harmony-autounseal-unseal");
        assert!(
            p.hcl
                .contains(r#"path "transit/encrypt/harmony-autounseal""#)
        );
        assert!(
            p.hcl
                .contains(r#"path "transit/decrypt/harmony-autounseal""#)
        );
        assert!(p.hcl.contains(r#"path "auth/token/renew-self""#));
        assert_eq!(p.hcl.matches("path ").count(), 4);
        assert!(!p.hcl.contains('*'));
    }

    #[test]
    fn the_stanza_has_no_token() {
        let stanza = OpenbaoTransitSeal::new("http://unsealer:8200").seal_stanza_hcl();
        assert!(stanza.starts_with("seal \"transit\""));
        assert!(stanza.contains("address = \"http://unsealer:8200\""));
        assert!(stanza.contains("mount_path = \"transit/\""));
        assert!(!stanza.contains("token"));
    }

    #[test]
    fn a_shamir_server_is_not_migrated() {
        let seal = OpenbaoTransitSeal::new("http://unsealer:8200");
        let shamir = SealStatus {
            seal_type: "shamir".into(),
            initialized: true,
            ..Default::default()
        };
        let err = refuse_seal_migration("http://bao:8200", &shamir, &seal).unwrap_err();
        assert!(err.to_string().contains("does not migrate"), "{err}");
        let fresh = SealStatus {
            seal_type: "shamir".into(),
            ..Default::default()
        };
        assert!(refuse_seal_migration("http://bao:8200", &fresh, &seal).is_ok());
        let migrating = SealStatus {
            seal_type: "transit".into(),
            recovery_seal: true,
            initialized: true,
            sealed: true,
            migration: true,
            ..Default::default()
        };
        let err = refuse_seal_migration("http://bao:8200", &migrating, &seal).unwrap_err();
        assert!(err.to_string().contains("does not migrate"), "{err}");
    }

    #[test]
    fn the_report_hides_the_token() {
        let r = TransitSetupReport {
            new_token: Some("s.SEALTOKEN".into()),
            writes: vec![],
        };
        let shown = format!("{r:?}");
        assert!(
            !shown.contains("SEALTOKEN") && shown.contains("REDACTED"),
            "{shown}"
        );
    }
}
