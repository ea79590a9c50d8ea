//! The auth chain: explicit token → cached SSO session (or its refresh token) → OIDC device flow +
//! jwt login → userpass. Each step says at `debug!` why it was used or skipped; when all fail,
//! the error lists what each one said (never a secret).

use std::time::Duration;

use log::{debug, warn};
use serde_json::{Value, json};

use super::Inner;
use super::session_cache::{SessionCache, SessionEntry, now_secs};
use crate::SecretStoreError;
use crate::redacted::Secret;
use crate::store::zitadel::{OidcTokens, ZitadelOidcAuth};

#[derive(Debug, Clone)]
pub(crate) struct SsoConfig {
    pub oidc: ZitadelOidcAuth,
    pub role: String,
    pub mount: String,
    pub cache: Option<SessionCache>,
}

#[derive(Debug, Clone)]
pub(crate) struct AuthConfig {
    pub token: Option<Secret>,
    pub userpass: Option<(String, Secret)>,
    pub userpass_mount: String,
    pub sso: Option<SsoConfig>,
    pub login_timeout: Duration,
}

/// Where the token in use came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenSource {
    Explicit,
    Cached,
    Sso,
    Userpass,
}

#[derive(Debug, Clone)]
pub(crate) struct ActiveToken {
    pub token: Secret,
    pub source: TokenSource,
}

/// What a login at OpenBao returned.
struct Login {
    token: Secret,
    lease_secs: u64,
}

impl Inner {
    /// Runs the chain. `skip_explicit`: the explicit token was found invalid earlier.
    pub(crate) async fn login(&self, skip_explicit: bool) -> Result<ActiveToken, SecretStoreError> {
        let auth = &self.auth;
        let mut notes: Vec<String> = Vec::new();
        let mut last_err: Option<SecretStoreError> = None;
        let mut tried = 0;

        // 1. explicit token
        match (&auth.token, skip_explicit) {
            (Some(token), false) => {
                debug!("openbao auth: using the explicit token (.token() / OPENBAO_TOKEN)");
                return Ok(ActiveToken {
                    token: token.clone(),
                    source: TokenSource::Explicit,
                });
            }
            (Some(_), true) => {
                debug!("openbao auth: explicit token skipped: OpenBao said it is invalid");
                notes.push("token: rejected by OpenBao (invalid or expired)".to_string());
                tried += 1;
                last_err = Some(SecretStoreError::BadCredentials {
                    store: self.describe(),
                    method: "token".to_string(),
                    reason: "the token is invalid or expired".to_string(),
                });
            }
            (None, _) => debug!("openbao auth: no explicit token, skipped"),
        }

        if let Some(sso) = &auth.sso {
            // 2. cached session
            match &sso.cache {
                None => debug!("openbao auth: session cache disabled, skipped"),
                Some(cache) => match cache.load() {
                    Err(e) => {
                        warn!(
                            "openbao auth: cannot read the session cache {}: {e}",
                            cache.path().display()
                        );
                    }
                    Ok(None) => debug!(
                        "openbao auth: no cached session in {}, skipped",
                        cache.path().display()
                    ),
                    Ok(Some(entry)) if entry.token_is_fresh(now_secs()) => {
                        debug!(
                            "openbao auth: using the cached session from {} (expires {})",
                            cache.path().display(),
                            entry
                                .expires_at
                                .map(|t| format!("in {} s", t.saturating_sub(now_secs())))
                                .unwrap_or_else(|| "never".to_string())
                        );
                        return Ok(ActiveToken {
                            token: entry.token,
                            source: TokenSource::Cached,
                        });
                    }
                    Ok(Some(entry)) => match (&entry.refresh_token, &entry.token_endpoint) {
                        (Some(rt), Some(endpoint)) => {
                            debug!(
                                "openbao auth: cached session expired; renewing it with the refresh token (no browser)"
                            );
                            tried += 1;
                            match sso.oidc.refresh(endpoint, rt).await {
                                Ok(tokens) => match self.jwt_login(sso, &tokens).await {
                                    Ok(t) => return Ok(t),
                                    Err(e) if e.is_unavailable() => return Err(e),
                                    Err(e) => {
                                        debug!(
                                            "openbao auth: jwt login with the refreshed id_token failed: {e}"
                                        );
                                        notes.push(format!("session refresh: {e}"));
                                    }
                                },
                                Err(e) => {
                                    debug!(
                                        "openbao auth: refresh failed ({e}); falling back to the device flow"
                                    );
                                    notes.push(format!("session refresh: {e}"));
                                }
                            }
                        }
                        _ => debug!(
                            "openbao auth: cached session expired and has no refresh token, skipped"
                        ),
                    },
                },
            }

            // 3. device flow + jwt login. Check OpenBao first: never make a person sign in while
            // OpenBao is down or sealed.
            self.check_health().await?;
            debug!(
                "openbao auth: starting the OIDC device flow at {} (jwt role `{}` on auth/{})",
                sso.oidc.issuer(),
                sso.role,
                sso.mount
            );
            tried += 1;
            let result = match sso.oidc.device_login().await {
                Ok(tokens) => self.jwt_login(sso, &tokens).await,
                Err(e) => Err(e),
            };
            match result {
                Ok(t) => return Ok(t),
                // OpenBao itself down or sealed: stop here. (The identity provider being down
                // falls through to userpass.)
                Err(e) if e.is_unavailable() && self.is_about_me(&e) => return Err(e),
                Err(e) => {
                    debug!("openbao auth: single sign-on failed: {e}");
                    notes.push(format!("single sign-on: {e}"));
                    last_err = Some(e);
                }
            }
        } else {
            debug!(
                "openbao auth: single sign-on not configured, cached session and device flow skipped"
            );
        }

        // 4. userpass
        if let Some((user, password)) = &auth.userpass {
            debug!(
                "openbao auth: logging in as `{user}` with userpass at auth/{}",
                auth.userpass_mount
            );
            tried += 1;
            match self.userpass_login(user, password).await {
                Ok(login) => {
                    return Ok(ActiveToken {
                        token: login.token,
                        source: TokenSource::Userpass,
                    });
                }
                Err(e) if e.is_unavailable() => return Err(e),
                Err(e) => {
                    notes.push(format!("userpass: {e}"));
                    last_err = Some(e);
                }
            }
        } else {
            debug!("openbao auth: no userpass credentials, skipped");
        }

        match (tried, last_err) {
            (1, Some(e)) => Err(e),
            (_, _) if notes.is_empty() => Err(SecretStoreError::Config {
                store: self.describe(),
                message: "no way to log in is configured".to_string(),
            }),
            _ => Err(SecretStoreError::BadCredentials {
                store: self.describe(),
                method: "every configured".to_string(),
                reason: notes.join("; "),
            }),
        }
    }

    /// `GET sys/health`: Unreachable / Sealed / not initialized become errors.
    async fn check_health(&self) -> Result<(), SecretStoreError> {
        let url = format!("{}/v1/sys/health?standbyok=true", self.addr);
        let resp = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| self.transport_error(&e))?;
        match resp.status().as_u16() {
            200 | 429 | 472 | 473 => Ok(()),
            503 => Err(SecretStoreError::Sealed {
                store: self.describe(),
            }),
            501 => Err(SecretStoreError::NotInitialized {
                store: self.describe(),
            }),
            other => {
                debug!("openbao auth: sys/health answered {other}, trying anyway");
                Ok(())
            }
        }
    }

    async fn jwt_login(
        &self,
        sso: &SsoConfig,
        tokens: &OidcTokens,
    ) -> Result<ActiveToken, SecretStoreError> {
        let login = self
            .auth_post(
                &format!("auth/{}/login", sso.mount),
                json!({"role": sso.role, "jwt": tokens.id_token.expose()}),
                &format!("jwt (role `{}` on auth/{})", sso.role, sso.mount),
            )
            .await?;
        debug!(
            "openbao auth: jwt login OK (token ttl {} s)",
            login.lease_secs
        );
        if let Some(cache) = &sso.cache {
            let now = now_secs();
            let entry = SessionEntry {
                bao_addr: self.addr.clone(),
                auth_mount: sso.mount.clone(),
                role: sso.role.clone(),
                token: login.token.clone(),
                expires_at: (login.lease_secs > 0).then(|| now + login.lease_secs),
                ttl_secs: login.lease_secs,
                refresh_token: tokens.refresh_token.clone(),
                token_endpoint: Some(tokens.token_endpoint.clone()),
                issuer: sso.oidc.issuer().to_string(),
                client_id: sso.oidc.client_id().to_string(),
            };
            match cache.save(&entry) {
                Ok(()) => debug!("openbao auth: session cached in {}", cache.path().display()),
                Err(e) => warn!(
                    "openbao auth: cannot write the session cache {}: {e}",
                    cache.path().display()
                ),
            }
        }
        Ok(ActiveToken {
            token: login.token,
            source: TokenSource::Sso,
        })
    }

    async fn userpass_login(
        &self,
        user: &str,
        password: &Secret,
    ) -> Result<Login, SecretStoreError> {
        self.auth_post(
            &format!("auth/{}/login/{user}", self.auth.userpass_mount),
            json!({"password": password.expose()}),
            &format!("userpass (auth/{})", self.auth.userpass_mount),
        )
        .await
    }

    /// POST a login; 400/401/403 → BadCredentials, 404 → Config (no such auth mount).
    async fn auth_post(
        &self,
        path: &str,
        body: Value,
        method: &str,
    ) -> Result<Login, SecretStoreError> {
        let url = format!("{}/v1/{path}", self.addr);
        let resp = self
            .http
            .post(&url)
            .timeout(self.auth.login_timeout)
            .json(&body)
            .send()
            .await
            .map_err(|e| self.transport_error_after(&e, self.auth.login_timeout))?;
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        match status {
            200 => {
                let token = v["auth"]["client_token"].as_str().ok_or_else(|| {
                    SecretStoreError::Backend {
                        store: self.describe(),
                        status,
                        path: path.to_string(),
                        message: "login answer has no auth.client_token".to_string(),
                    }
                })?;
                Ok(Login {
                    token: Secret::new(token),
                    lease_secs: v["auth"]["lease_duration"].as_u64().unwrap_or(0),
                })
            }
            400 | 401 | 403 => {
                let mut reason = errors_of(&v).unwrap_or_else(|| format!("HTTP {status}"));
                if let Some(why) = super::claim_refusal::explain(&reason) {
                    reason = format!("{why} (OpenBao: {reason})");
                }
                if status == 403 {
                    reason.push_str(&format!(
                        " (OpenBao also answers this when no auth method is mounted at `{path}`: check the auth mount)"
                    ));
                }
                Err(SecretStoreError::BadCredentials {
                    store: self.describe(),
                    method: method.to_string(),
                    reason,
                })
            }
            404 => Err(SecretStoreError::Config {
                store: self.describe(),
                message: format!(
                    "no auth method at `{path}` (HTTP 404): check the auth mount (OPENBAO_AUTH_MOUNT / OPENBAO_JWT_MOUNT)"
                ),
            }),
            _ => Err(self.status_error(status, &v, path)),
        }
    }

    /// `GET auth/token/lookup-self`: `Ok(false)` when OpenBao says the token is invalid.
    ///
    /// A 403 alone does not mean that: a valid token without the `default` policy may not look
    /// itself up either. See [`token_rejected`] for how the two answers differ.
    pub(crate) async fn token_is_valid(&self, token: &Secret) -> Result<bool, SecretStoreError> {
        let resp = self
            .http
            .get(format!("{}/v1/auth/token/lookup-self", self.addr))
            .header("X-Vault-Token", token.expose())
            .send()
            .await
            .map_err(|e| self.transport_error(&e))?;
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(!token_rejected(status, &v))
    }
}

impl Inner {
    fn is_about_me(&self, e: &SecretStoreError) -> bool {
        match e {
            SecretStoreError::Unreachable { store, .. }
            | SecretStoreError::Sealed { store }
            | SecretStoreError::NotInitialized { store } => *store == self.describe(),
            _ => false,
        }
    }

    /// An uninitialized OpenBao answers every request "Vault is sealed" (503); only
    /// `sys/health` (501) tells it apart, and the fix differs (init, not unseal).
    pub(crate) async fn refine_sealed<T>(
        &self,
        result: Result<T, SecretStoreError>,
    ) -> Result<T, SecretStoreError> {
        match result {
            Err(SecretStoreError::Sealed { store }) if store == self.describe() => {
                match self.check_health().await {
                    Err(e @ SecretStoreError::NotInitialized { .. }) => Err(e),
                    _ => Err(SecretStoreError::Sealed { store }),
                }
            }
            other => other,
        }
    }
}

/// Whether an answer says the token itself is invalid (unknown, revoked, expired).
///
/// OpenBao 2.x answers an invalid token with 403 and exactly `{"errors":["permission denied"]}`
/// (checked before any policy), while a valid token whose policies do not allow the path gets 403
/// with the ACL's multi-error text (`"1 error occurred:\n\t* permission denied\n\n"`). Vault
/// and other versions say `invalid token` or `bad token`; 401 is always a bad token.
pub(crate) fn token_rejected(status: u16, v: &Value) -> bool {
    if status == 401 {
        return true;
    }
    if status != 403 {
        return false;
    }
    let errors: Vec<String> = v["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(|e| e.trim().to_ascii_lowercase())
                .collect()
        })
        .unwrap_or_default();
    errors
        .iter()
        .any(|e| e.contains("invalid token") || e.contains("bad token"))
        || errors == ["permission denied"]
}

/// OpenBao's `{"errors": [...]}` joined, if any.
pub(crate) fn errors_of(v: &Value) -> Option<String> {
    let errs: Vec<&str> = v["errors"]
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    (!errs.is_empty()).then(|| errs.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_token_answers_are_told_apart_from_missing_policies() {
        // Answers of a real OpenBao 2.x (lookup-self and KV reads).
        assert!(token_rejected(
            403,
            &json!({"errors": ["permission denied"]})
        ));
        assert!(!token_rejected(
            403,
            &json!({"errors": ["1 error occurred:\n\t* permission denied\n\n"]})
        ));
        // Vault and older servers.
        assert!(token_rejected(
            403,
            &json!({"errors": ["permission denied", "invalid token"]})
        ));
        assert!(!token_rejected(400, &json!(null)));
        assert!(token_rejected(401, &json!(null)));
        assert!(!token_rejected(200, &json!({})));
    }
}
