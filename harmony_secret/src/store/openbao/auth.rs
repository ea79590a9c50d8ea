//! The auth chain: explicit token → cached SSO session (or its refresh token) → OIDC device flow +
//! jwt login → userpass. Each step says at `debug!` why it was used or skipped; when all fail,
//! the error lists what each one said (never a secret).

use std::time::Duration;

use log::{debug, warn};
use reqwest::Method;
use serde_json::{Value, json};

use super::Inner;
use super::session_cache::{SessionCache, SessionEntry, now_secs};
use crate::SecretStoreError;
use crate::auth::oidc::{OidcTokens, ZitadelOidcAuth};
use crate::openbao_http::errors_of;
use crate::redacted::{ExposeSecret, Secret};

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
    /// Added to login errors (e.g. "VAULT_TOKEN was ignored: set OPENBAO_TOKEN").
    pub hint: Option<String>,
}

/// Where the token in use came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenSource {
    Explicit,
    Cached,
    Sso,
    /// The cached session was renewed with its refresh token.
    Refreshed,
    Userpass,
}

impl TokenSource {
    /// How the token was obtained, for people (`whoami`).
    pub(crate) fn describe(self) -> &'static str {
        match self {
            TokenSource::Explicit => "token",
            TokenSource::Cached => "oidc device flow (cached session)",
            TokenSource::Sso => "oidc device flow",
            TokenSource::Refreshed => "oidc device flow (session renewed with the refresh token)",
            TokenSource::Userpass => "userpass",
        }
    }
}

/// "a", "a and b", "a, b and c".
fn join_plain(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
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

/// What the steps of the chain that failed said (never a secret).
#[derive(Default)]
struct Attempts {
    /// Plain names of the methods tried ("single sign-on", "userpass", ...).
    methods: Vec<&'static str>,
    /// One "method: error" line each.
    notes: Vec<String>,
    errors: Vec<SecretStoreError>,
    /// The identity provider could not be reached: an outage, not a rejection.
    idp_down: Option<SecretStoreError>,
}

impl Attempts {
    fn failed(&mut self, method: &'static str, e: SecretStoreError) {
        if !self.methods.contains(&method) {
            self.methods.push(method);
        }
        self.notes.push(format!("{method}: {e}"));
        self.errors.push(e);
    }
}

/// How the single sign-on part of the chain ended.
enum SsoEnd {
    LoggedIn(ActiveToken),
    /// OpenBao itself is down or sealed: the chain stops.
    Stop(SecretStoreError),
    /// Go on with the next method.
    Failed,
}

impl Inner {
    /// Runs the chain. `skip_explicit`: the explicit token was found invalid earlier.
    pub(crate) async fn login(&self, skip_explicit: bool) -> Result<ActiveToken, SecretStoreError> {
        let auth = &self.auth;
        let mut attempts = Attempts::default();

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
                attempts.failed(
                    "token",
                    SecretStoreError::BadCredentials {
                        store: self.describe(),
                        method: "token".to_string(),
                        reason: "the token is invalid or expired".to_string(),
                    },
                );
            }
            (None, _) => debug!("openbao auth: no explicit token, skipped"),
        }

        // 2. and 3. cached session (renewed with its refresh token) or device flow
        if let Some(sso) = &auth.sso {
            match self.sso_login(sso, &mut attempts).await {
                SsoEnd::LoggedIn(t) => return Ok(t),
                SsoEnd::Stop(e) => return Err(e),
                SsoEnd::Failed => {}
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
            match self.userpass_login(user, password).await {
                Ok(login) => {
                    return Ok(ActiveToken {
                        token: login.token,
                        source: TokenSource::Userpass,
                    });
                }
                Err(e) if e.is_unavailable() => return Err(e),
                Err(e) => attempts.failed("userpass", e),
            }
        } else {
            debug!("openbao auth: no userpass credentials, skipped");
        }

        Err(self.combined_error(attempts))
    }

    /// One error for a chain where every step failed.
    fn combined_error(&self, mut attempts: Attempts) -> SecretStoreError {
        if let Some(down) = attempts.idp_down.take() {
            // An outage: the store is unavailable (a config chain goes on to its next source).
            let others: Vec<&String> = attempts
                .notes
                .iter()
                .filter(|n| !n.starts_with("single sign-on"))
                .collect();
            return match down {
                SecretStoreError::Unreachable { store, reason } if !others.is_empty() => {
                    SecretStoreError::Unreachable {
                        store,
                        reason: format!(
                            "{reason} (also tried: {})",
                            others
                                .iter()
                                .map(|s| s.as_str())
                                .collect::<Vec<_>>()
                                .join("; ")
                        ),
                    }
                }
                other => other,
            };
        }
        // Which variable to set instead, when a token of another env family was ignored.
        let hint = super::builder::hint_suffix(&self.auth.hint);
        if attempts.errors.len() == 1 {
            return match attempts.errors.pop().expect("one error") {
                SecretStoreError::BadCredentials {
                    store,
                    method,
                    reason,
                } => SecretStoreError::BadCredentials {
                    store,
                    method,
                    reason: format!("{reason}{hint}"),
                },
                other => other,
            };
        }
        if attempts.errors.is_empty() {
            return SecretStoreError::Config {
                store: self.describe(),
                source: None,
                message: format!("no way to log in is configured{hint}"),
            };
        }
        let all_rejected = attempts
            .errors
            .iter()
            .all(|e| matches!(e, SecretStoreError::BadCredentials { .. }));
        if all_rejected {
            SecretStoreError::BadCredentials {
                store: self.describe(),
                method: join_plain(&attempts.methods),
                reason: format!("{}{hint}", attempts.notes.join("; ")),
            }
        } else {
            if let Some(last) = attempts.notes.last_mut() {
                last.push_str(&hint);
            }
            SecretStoreError::LoginFailed {
                store: self.describe(),
                attempts: attempts.notes,
            }
        }
    }

    /// A still valid cached token, read without the lock (the fast path of every run).
    fn fresh_cached(&self, cache: &SessionCache) -> Option<ActiveToken> {
        match cache.load() {
            Err(e) => {
                warn!(
                    "openbao auth: cannot read the session cache {}: {e}",
                    cache.path().display()
                );
                None
            }
            Ok(None) => {
                debug!(
                    "openbao auth: no cached session in {}",
                    cache.path().display()
                );
                None
            }
            Ok(Some(entry)) if entry.token_is_fresh(now_secs()) => {
                debug!(
                    "openbao auth: using the cached session from {} (expires {})",
                    cache.path().display(),
                    entry
                        .expires_at
                        .map(|t| format!("in {} s", t.saturating_sub(now_secs())))
                        .unwrap_or_else(|| "never".to_string())
                );
                Some(ActiveToken {
                    token: entry.token,
                    source: TokenSource::Cached,
                })
            }
            Ok(Some(_)) => None,
        }
    }

    /// Cached session → refresh → device flow. Renewing and logging in happen under the
    /// session's file lock, after reading the cache again: of many processes that start with an
    /// expired session, one renews it and the others use what it saved (a rotated refresh token
    /// presented twice could make the provider revoke the whole grant).
    async fn sso_login(&self, sso: &SsoConfig, attempts: &mut Attempts) -> SsoEnd {
        let mut _lock = None;
        match &sso.cache {
            None => debug!("openbao auth: session cache disabled, skipped"),
            Some(cache) => {
                if let Some(t) = self.fresh_cached(cache) {
                    return SsoEnd::LoggedIn(t);
                }
                debug!(
                    "openbao auth: waiting for the session lock {}",
                    cache.lock_path().display()
                );
                match cache.lock_async().await {
                    Ok(guard) => _lock = Some(guard),
                    Err(e) => warn!(
                        "openbao auth: cannot lock {} ({e}); going on without the lock",
                        cache.lock_path().display()
                    ),
                }
                // Another process may have renewed the session while this one waited.
                if let Some(t) = self.fresh_cached(cache) {
                    return SsoEnd::LoggedIn(t);
                }
                if let Ok(Some(entry)) = cache.load() {
                    match (&entry.refresh_token, &entry.token_endpoint) {
                        (Some(rt), Some(endpoint)) => {
                            debug!(
                                "openbao auth: cached session expired; renewing it with the refresh token (no browser)"
                            );
                            match sso
                                .oidc
                                .refresh(endpoint, rt)
                                .await
                                .map_err(SecretStoreError::from)
                            {
                                Ok(tokens) => match self.jwt_login(sso, &tokens).await {
                                    Ok(mut t) => {
                                        t.source = TokenSource::Refreshed;
                                        return SsoEnd::LoggedIn(t);
                                    }
                                    Err(e) if e.is_unavailable() => return SsoEnd::Stop(e),
                                    Err(e) => {
                                        debug!(
                                            "openbao auth: jwt login with the refreshed id_token failed: {e}"
                                        );
                                        attempts.failed("session renewal", e);
                                    }
                                },
                                Err(e) if e.is_unavailable() => {
                                    // The provider is down: so is the device flow. Not a
                                    // rejection: report an outage (unless userpass works).
                                    debug!("openbao auth: cannot renew the session: {e}");
                                    attempts.notes.push(format!("single sign-on: {e}"));
                                    attempts.idp_down = Some(e);
                                    return SsoEnd::Failed;
                                }
                                Err(e) => {
                                    debug!(
                                        "openbao auth: refresh failed ({e}); falling back to the device flow"
                                    );
                                    attempts.failed("session renewal", e);
                                }
                            }
                        }
                        _ => debug!(
                            "openbao auth: cached session expired and has no refresh token, skipped"
                        ),
                    }
                }
            }
        }

        // Device flow + jwt login. Check OpenBao first: never make a person sign in while
        // OpenBao is down or sealed.
        if let Err(e) = self.check_health().await {
            return SsoEnd::Stop(e);
        }
        debug!(
            "openbao auth: starting the OIDC device flow at {} (jwt role `{}` on auth/{})",
            sso.oidc.issuer(),
            sso.role,
            sso.mount
        );
        let result = match sso.oidc.device_login().await {
            Ok(tokens) => self.jwt_login(sso, &tokens).await,
            Err(e) => Err(SecretStoreError::from(e)),
        };
        match result {
            Ok(t) => SsoEnd::LoggedIn(t),
            // OpenBao itself down or sealed: stop here.
            Err(e) if e.is_unavailable() && self.is_about_me(&e) => SsoEnd::Stop(e),
            // The identity provider is down: an outage (userpass may still work).
            Err(e) if e.is_unavailable() => {
                debug!("openbao auth: single sign-on failed: {e}");
                attempts.notes.push(format!("single sign-on: {e}"));
                attempts.idp_down = Some(e);
                SsoEnd::Failed
            }
            Err(e) => {
                debug!("openbao auth: single sign-on failed: {e}");
                attempts.failed("single sign-on", e);
                SsoEnd::Failed
            }
        }
    }

    /// The seal type of a server that unseals itself (`sys/seal-status` says `recovery_seal`),
    /// e.g. `transit`; `None` for Shamir or when it cannot be read.
    async fn auto_unseal_type(&self) -> Option<String> {
        let resp = self
            .http
            .send(Method::GET, "sys/seal-status", None, None, None)
            .await
            .ok()?;
        let body = &resp.body;
        if body["recovery_seal"].as_bool() != Some(true) {
            return None;
        }
        body["type"].as_str().map(str::to_string)
    }

    /// `GET sys/health`: Unreachable / Sealed / not initialized become errors.
    async fn check_health(&self) -> Result<(), SecretStoreError> {
        let resp = self
            .http
            .send(Method::GET, "sys/health?standbyok=true", None, None, None)
            .await
            .map_err(|e| self.transport_error(&e))?;
        match resp.status {
            200 | 429 | 472 | 473 => Ok(()),
            503 => Err(SecretStoreError::Sealed {
                store: self.describe(),
                auto_unseal: self.auto_unseal_type().await,
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

    /// Logs in at OpenBao with the id_token and caches the session. When OpenBao refuses or
    /// is down, the refresh token is cached anyway (with no OpenBao token): the person signed
    /// in, or the provider just rotated it, and the used one may not be accepted again, so the
    /// next run renews without a new sign-in.
    async fn jwt_login(
        &self,
        sso: &SsoConfig,
        tokens: &OidcTokens,
    ) -> Result<ActiveToken, SecretStoreError> {
        let result = self
            .auth_post(
                &format!("auth/{}/login", sso.mount),
                json!({"role": sso.role, "jwt": tokens.id_token.expose_secret()}),
                &format!("jwt (role `{}` on auth/{})", sso.role, sso.mount),
            )
            .await;
        let login = match result {
            Ok(login) => login,
            Err(e) => {
                if tokens.refresh_token.is_some() {
                    self.save_session(sso, Secret::default(), Some(0), 0, tokens);
                }
                return Err(e);
            }
        };
        debug!(
            "openbao auth: jwt login OK (token ttl {} s)",
            login.lease_secs
        );
        let expires_at = (login.lease_secs > 0).then(|| now_secs() + login.lease_secs);
        self.save_session(
            sso,
            login.token.clone(),
            expires_at,
            login.lease_secs,
            tokens,
        );
        Ok(ActiveToken {
            token: login.token,
            source: TokenSource::Sso,
        })
    }

    fn save_session(
        &self,
        sso: &SsoConfig,
        token: Secret,
        expires_at: Option<u64>,
        ttl_secs: u64,
        tokens: &OidcTokens,
    ) {
        let Some(cache) = &sso.cache else {
            return;
        };
        let entry = SessionEntry {
            bao_addr: self.addr.clone(),
            auth_mount: sso.mount.clone(),
            role: sso.role.clone(),
            token,
            expires_at,
            ttl_secs,
            refresh_token: tokens.refresh_token.clone(),
            token_endpoint: Some(tokens.token_endpoint.clone()),
            issuer: sso.oidc.issuer().to_string(),
            client_id: sso.oidc.client_id().to_string(),
            scopes: sso.oidc.scopes(),
            namespace: cache.key().namespace.clone(),
        };
        match cache.save(&entry) {
            Ok(()) => debug!("openbao auth: session cached in {}", cache.path().display()),
            Err(e) => warn!(
                "openbao auth: cannot write the session cache {}: {e}",
                cache.path().display()
            ),
        }
    }

    async fn userpass_login(
        &self,
        user: &str,
        password: &Secret,
    ) -> Result<Login, SecretStoreError> {
        self.auth_post(
            &format!("auth/{}/login/{user}", self.auth.userpass_mount),
            json!({"password": password.expose_secret()}),
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
        let resp = self
            .http
            .send(
                Method::POST,
                path,
                None,
                Some(&body),
                Some(self.auth.login_timeout),
            )
            .await
            .map_err(|e| self.transport_error(&e))?;
        let (status, v) = (resp.status, resp.body);
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
                    token: Secret::from(token),
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
                source: None,
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
            .send(
                Method::GET,
                "auth/token/lookup-self",
                Some(token.expose_secret()),
                None,
                None,
            )
            .await
            .map_err(|e| self.transport_error(&e))?;
        Ok(!token_rejected(resp.status, &resp.body))
    }
}

impl Inner {
    fn is_about_me(&self, e: &SecretStoreError) -> bool {
        match e {
            SecretStoreError::Unreachable { store, .. }
            | SecretStoreError::Sealed { store, .. }
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
            Err(SecretStoreError::Sealed { store, auto_unseal }) if store == self.describe() => {
                match self.check_health().await {
                    Err(e @ SecretStoreError::NotInitialized { .. }) => Err(e),
                    Err(e @ SecretStoreError::Sealed { .. }) => Err(e),
                    _ => Err(SecretStoreError::Sealed { store, auto_unseal }),
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
