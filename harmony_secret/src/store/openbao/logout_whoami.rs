//! [`OpenbaoSecretStore::logout`] and [`OpenbaoSecretStore::whoami`]: end a session everywhere,
//! and say who the store is logged in as.

use std::path::PathBuf;
use std::time::Duration;

use log::debug;
use reqwest::Method;
use serde_json::Value;

use super::auth::{ActiveToken, TokenSource, token_rejected};
use super::{Inner, OpenbaoSecretStore};
use crate::SecretStoreError;
use crate::redacted::{ExposeSecret, Secret};

/// Who the store is logged in as, from OpenBao's `auth/token/lookup-self`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhoAmI {
    /// OpenBao's display name of the token: for a login it is the auth mount and the alias name,
    /// e.g. `jwt-alice@example.test` or `userpass-frank`; `root` or `token` for tokens.
    pub display_name: String,
    /// The identity entity the login is tied to (`None` for tokens without one, e.g. root).
    pub entity_id: Option<String>,
    /// The login path OpenBao recorded, e.g. `auth/jwt/login` (`None` for created tokens).
    pub login_path: Option<String>,
    /// Sorted as OpenBao returns them.
    pub policies: Vec<String>,
    /// Time left before the token expires; `None` when it never expires.
    pub ttl: Option<Duration>,
    /// How this store got the token: `token`, `userpass`, `oidc device flow`,
    /// `oidc device flow (cached session)` or `oidc device flow (session renewed with the
    /// refresh token)`.
    pub auth_method: String,
}

/// What [`OpenbaoSecretStore::logout`] did. A token it could not revoke stays valid until it
/// expires: `notes` says why (never a secret).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogoutReport {
    /// OpenBao revoked the token (`auth/token/revoke-self`).
    pub openbao_token_revoked: bool,
    /// The identity provider revoked the refresh token (RFC 7009).
    pub refresh_token_revoked: bool,
    /// The session file that was deleted (with its lock file).
    pub session_file_removed: Option<PathBuf>,
    /// What was not done, and why.
    pub notes: Vec<String>,
}

impl OpenbaoSecretStore {
    /// Who the store is logged in as. Logs in first when it holds no token yet (which, for
    /// single sign-on without a cached session, starts the device flow).
    pub async fn whoami(&self) -> Result<WhoAmI, SecretStoreError> {
        let result = self.inner.whoami().await;
        self.inner.refine_sealed(result).await
    }

    /// Ends the session: revokes the OpenBao token this store logged in for
    /// (`auth/token/revoke-self`), revokes the refresh token at the identity provider's
    /// `revocation_endpoint` when discovery lists one (RFC 7009), and deletes the cached session
    /// and its lock file. The next operation logs in again (a new device flow for SSO).
    ///
    /// A token given to the store (`.token()` / `OPENBAO_TOKEN`) is not revoked: it belongs to
    /// whoever gave it; the report says so. Each step is tried even when an earlier one failed
    /// (OpenBao down, say); the report says what was done. Errors only when the session file
    /// cannot be deleted.
    pub async fn logout(&self) -> Result<LogoutReport, SecretStoreError> {
        self.inner.logout().await
    }
}

impl Inner {
    async fn whoami(&self) -> Result<WhoAmI, SecretStoreError> {
        let path = "auth/token/lookup-self";
        let mut token = self.current_token().await?;
        let (mut status, mut v) = self.send(&token.token, Method::GET, path, None).await?;
        if token_rejected(status, &v) {
            debug!("openbao: lookup-self says the token is invalid; logging in again");
            self.invalidate(&token).await;
            token = self.current_token().await?;
            (status, v) = self.send(&token.token, Method::GET, path, None).await?;
        }
        if status != 200 {
            return Err(self.status_error(status, &v, path));
        }
        Ok(who_am_i(&v["data"], &token))
    }

    async fn logout(&self) -> Result<LogoutReport, SecretStoreError> {
        let mut report = LogoutReport::default();
        // No login of this process in between.
        let mut session = self.session.lock().await;
        let sso = self.auth.sso.as_ref();
        let cache = sso.and_then(|s| s.cache.as_ref());
        // No renewal by another process in between.
        let _lock = match cache {
            Some(c) => Some(c.lock_async().await.map_err(|e| SecretStoreError::Io {
                store: self.describe(),
                path: c.lock_path(),
                source: e,
            })?),
            None => None,
        };
        let entry = match cache.map(|c| c.load()) {
            Some(Ok(entry)) => entry,
            Some(Err(e)) => {
                report
                    .notes
                    .push(format!("the session cache could not be read: {e}"));
                None
            }
            None => None,
        };

        let mut tokens: Vec<Secret> = Vec::new();
        match session.take() {
            Some(ActiveToken {
                source: TokenSource::Explicit,
                ..
            }) => report.notes.push(
                "the token given to this program (OPENBAO_TOKEN / .token) was not revoked: it \
                 belongs to whoever gave it"
                    .to_string(),
            ),
            Some(t) => tokens.push(t.token),
            None => {}
        }
        if let Some(e) = &entry
            && !e.token.expose_secret().is_empty()
            && !tokens.iter().any(|t| crate::redacted::same(t, &e.token))
        {
            tokens.push(e.token.clone());
        }
        for token in &tokens {
            match self.revoke_self(token).await {
                Ok(true) => report.openbao_token_revoked = true,
                Ok(false) => report
                    .notes
                    .push("OpenBao already considered the token invalid".to_string()),
                Err(e) => report.notes.push(format!(
                    "the OpenBao token was not revoked ({e}); it stays valid until it expires"
                )),
            }
        }
        if tokens.is_empty() {
            report
                .notes
                .push("no OpenBao token was held or cached".to_string());
        }

        let refresh_token = entry.as_ref().and_then(|e| e.refresh_token.as_ref());
        if sso.is_some() && refresh_token.is_none() {
            report
                .notes
                .push("no refresh token was cached, so none was revoked".to_string());
        }
        if let (Some(sso), Some(rt)) = (sso, refresh_token) {
            match sso.oidc.revoke_refresh_token(rt).await {
                Ok(true) => report.refresh_token_revoked = true,
                Ok(false) => report.notes.push(format!(
                    "the identity provider at {} offers no revocation endpoint: the refresh \
                     token was only deleted here",
                    sso.oidc.issuer()
                )),
                Err(e) => report.notes.push(format!(
                    "the refresh token was not revoked ({e}); it was only deleted here"
                )),
            }
        }

        if let Some(c) = cache {
            let io = |e| SecretStoreError::Io {
                store: self.describe(),
                path: c.path().to_path_buf(),
                source: e,
            };
            if c.remove().map_err(io)? {
                report.session_file_removed = Some(c.path().to_path_buf());
            }
            c.remove_lock_file().map_err(|e| SecretStoreError::Io {
                store: self.describe(),
                path: c.lock_path(),
                source: e,
            })?;
        }
        debug!(
            "openbao: logged out (OpenBao token revoked: {}, refresh token revoked: {})",
            report.openbao_token_revoked, report.refresh_token_revoked
        );
        Ok(report)
    }

    /// `POST auth/token/revoke-self`: `Ok(false)` when OpenBao says the token is already invalid.
    async fn revoke_self(&self, token: &Secret) -> Result<bool, SecretStoreError> {
        let path = "auth/token/revoke-self";
        let (status, v) = self.send(token, Method::POST, path, None).await?;
        match status {
            200 | 204 => Ok(true),
            _ if token_rejected(status, &v) => Ok(false),
            _ => Err(self.status_error(status, &v, path)),
        }
    }
}

fn who_am_i(data: &Value, token: &ActiveToken) -> WhoAmI {
    let text = |k: &str| {
        data[k]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    WhoAmI {
        display_name: text("display_name").unwrap_or_default(),
        entity_id: text("entity_id"),
        login_path: text("path").filter(|p| p.starts_with("auth/") && p.contains("/login")),
        policies: data["policies"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        ttl: data["ttl"]
            .as_u64()
            .filter(|t| *t > 0)
            .map(Duration::from_secs),
        auth_method: token.source.describe().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lookup_self_of_a_root_token_has_no_entity_and_no_expiry() {
        let root = ActiveToken {
            token: Secret::from("t"),
            source: TokenSource::Explicit,
        };
        let w = who_am_i(
            &json!({"display_name": "root", "entity_id": "", "path": "auth/token/root",
                    "policies": ["root"], "ttl": 0}),
            &root,
        );
        assert_eq!(w.display_name, "root");
        assert_eq!(w.entity_id, None);
        assert_eq!(w.login_path, None);
        assert_eq!(w.ttl, None);
        assert_eq!(w.auth_method, "token");
    }
}
