//! [`OpenbaoSecretStore`]: values in an OpenBao (or Vault) KV v2 engine, with single sign-on.
//!
//! Layout: `namespace/key` lives at `{kv_mount}/data/{namespace}/{key}`. KV v2 data must be a JSON
//! object, so objects are stored as they are and any other value (string, number, array, …) is
//! wrapped in the envelope `{"__harmony_value__": <value>}`, which reads unwrap transparently.
//! (Do not store objects whose only key is `__harmony_value__`.)
//!
//! HTTP: [`crate::openbao_http::OpenbaoHttp`] (shared with harmony's `OpenbaoSetup`) rather than
//! `vaultrs`, because the store needs the raw status and error body of every answer (to tell
//! sealed, invalid-token, permission-denied and not-found apart), per-request timeouts, and
//! exactly one round trip per read. That layer owns TLS, the token / `X-Vault-Request` /
//! `X-Vault-Namespace` headers and the redirect rule (one hop, never https → http). Connect
//! timeout ≤ 1 s, request timeout default 2 s; errors are classified like this:
//!
//! | what happened | error |
//! | --- | --- |
//! | connection refused, timeout, TLS failure, refused redirect | [`SecretStoreError::Unreachable`] |
//! | HTTP 503 "sealed" | [`SecretStoreError::Sealed`] |
//! | HTTP 503 "sealed" and `sys/health` 501 | [`SecretStoreError::NotInitialized`] |
//! | HTTP 403 (token valid) | [`SecretStoreError::PermissionDenied`] naming the path |
//! | HTTP 400/401/403 on login | [`SecretStoreError::BadCredentials`] |
//! | HTTP 404 on a read | [`SecretStoreError::NotFound`] |
//!
//! Login is lazy: `build()` does not contact OpenBao; the first operation runs the auth chain
//! (see [`OpenbaoSecretStoreBuilder`]) once, under a tokio mutex, so concurrent first reads log in
//! once. The token is not checked on every read; only when a request gets 403 does the store ask
//! `auth/token/lookup-self` whether the token itself is invalid (revoked, expired). If so it drops
//! the token (and the cached session, keeping its refresh token) and logs in again, once.

mod auth;
pub(crate) mod builder;
mod claim_refusal;
pub(crate) mod env;
mod listing;
mod logout_whoami;
pub(crate) mod session_cache;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use log::debug;
use reqwest::Method;
use serde_json::{Value, json};

use crate::openbao_http::{HttpError, OpenbaoHttp, errors_of};
use crate::redacted::{ExposeSecret, Secret};
use crate::{SecretStore, SecretStoreError};
use auth::{ActiveToken, AuthConfig, TokenSource};
pub use builder::{
    DEFAULT_DEVICE_FLOW_TIMEOUT, DEFAULT_REQUEST_TIMEOUT, OpenbaoSecretStoreBuilder,
};
pub use listing::StoredKey;
pub use logout_whoami::{LogoutReport, WhoAmI};

/// The key of the envelope that wraps non-object values (KV v2 only stores objects).
pub(crate) const ENVELOPE_KEY: &str = "__harmony_value__";

pub(crate) const STORE: &str = "OpenBao";

/// A [`SecretStore`] backed by OpenBao KV v2. Cheap to clone (shared session and HTTP client).
/// Build it with [`OpenbaoSecretStore::builder`] or [`OpenbaoSecretStore::from_env`].
#[derive(Clone)]
pub struct OpenbaoSecretStore {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    addr: String,
    kv_mount: String,
    http: OpenbaoHttp,
    auth: AuthConfig,
    request_timeout: Duration,
    session: tokio::sync::Mutex<Option<ActiveToken>>,
    explicit_rejected: AtomicBool,
}

impl std::fmt::Debug for OpenbaoSecretStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let a = &self.inner.auth;
        f.debug_struct("OpenbaoSecretStore")
            .field("addr", &self.inner.addr)
            .field("kv_mount", &self.inner.kv_mount)
            .field("token", &a.token)
            .field("userpass", &a.userpass.as_ref().map(|(u, p)| (u, p)))
            .field("auth_mount", &a.userpass_mount)
            .field("sso", &a.sso)
            .field("request_timeout", &self.inner.request_timeout)
            .finish_non_exhaustive()
    }
}

impl OpenbaoSecretStore {
    /// A builder with the defaults: KV mount `secret`, userpass mount `userpass`, jwt mount `jwt`,
    /// 2 s request timeout, session cache in `~/.local/share/harmony/sessions`.
    pub fn builder() -> OpenbaoSecretStoreBuilder {
        OpenbaoSecretStoreBuilder::new()
    }

    /// A store configured by environment variables. The first address set of `OPENBAO_URL`,
    /// `BAO_ADDR`, `VAULT_ADDR` picks a family, and the token (`OPENBAO_TOKEN` / `BAO_TOKEN` /
    /// `VAULT_TOKEN`), userpass credentials (`*_USERNAME` + `*_PASSWORD`), TLS options
    /// (`*_CACERT`, `*_CAPATH`, `*_SKIP_VERIFY` (`OPENBAO_SKIP_TLS`), `*_TLS_SERVER_NAME`,
    /// `*_CLIENT_CERT` + `*_CLIENT_KEY`) and namespace (`*_NAMESPACE`) come only from that
    /// family. Also `OPENBAO_KV_MOUNT`
    /// (`secret`), `OPENBAO_AUTH_MOUNT` (`userpass`), `HARMONY_SSO_ISSUER` +
    /// `HARMONY_SSO_CLIENT_ID`, `HARMONY_SSO_PROJECT_ID`, `HARMONY_SSO_RESOLVE_TO`,
    /// `HARMONY_SSO_CACERT`, `HARMONY_SSO_SKIP_TLS`, `OPENBAO_JWT_ROLE` (`harmony-developer`),
    /// `OPENBAO_JWT_MOUNT` (`jwt`), `HARMONY_SESSION_DIR`, `OPENBAO_REQUEST_TIMEOUT_MS`. See
    /// `docs/openbao-connection.md`. A missing or malformed variable is a
    /// [`SecretStoreError::Config`] naming it. Does not contact OpenBao.
    pub async fn from_env() -> Result<Self, SecretStoreError> {
        OpenbaoSecretStoreBuilder::from_env()?.build().await
    }

    /// The OpenBao address, without a trailing `/`.
    pub fn addr(&self) -> &str {
        &self.inner.addr
    }

    /// The KV v2 mount the secrets live in (default `secret`).
    pub fn kv_mount(&self) -> &str {
        &self.inner.kv_mount
    }

    /// Runs the auth chain now if no token is held yet (e.g. for a `login` command).
    pub async fn login(&self) -> Result<(), SecretStoreError> {
        let result = self.inner.current_token().await.map(|_| ());
        self.inner.refine_sealed(result).await
    }
}

impl Inner {
    pub(crate) fn new(
        addr: String,
        kv_mount: String,
        http: OpenbaoHttp,
        auth: AuthConfig,
        request_timeout: Duration,
    ) -> Self {
        Inner {
            addr,
            kv_mount,
            http,
            auth,
            request_timeout,
            session: tokio::sync::Mutex::new(None),
            explicit_rejected: AtomicBool::new(false),
        }
    }

    pub(crate) fn describe(&self) -> String {
        format!("OpenBao at {} (kv mount \"{}\")", self.addr, self.kv_mount)
    }

    /// The token in use, logging in (once, under the mutex) when there is none.
    async fn current_token(&self) -> Result<ActiveToken, SecretStoreError> {
        let mut session = self.session.lock().await;
        if let Some(t) = session.as_ref() {
            return Ok(t.clone());
        }
        let t = self
            .login(self.explicit_rejected.load(Ordering::SeqCst))
            .await?;
        *session = Some(t.clone());
        Ok(t)
    }

    /// Forgets `stale` after OpenBao said it is invalid, unless another task already replaced
    /// it: then the fresh token (in memory and in the session cache) is kept.
    async fn invalidate(&self, stale: &ActiveToken) {
        let mut session = self.session.lock().await;
        match session.as_ref() {
            Some(t) if crate::redacted::same(&t.token, &stale.token) => *session = None,
            Some(_) => {
                debug!("openbao: the invalid token was already replaced by another request");
                return;
            }
            None => {}
        }
        match stale.source {
            TokenSource::Explicit => self.explicit_rejected.store(true, Ordering::SeqCst),
            TokenSource::Cached | TokenSource::Sso | TokenSource::Refreshed => {
                if let Some(cache) = self.auth.sso.as_ref().and_then(|s| s.cache.as_ref())
                    && let Err(e) = drop_cached_token_if(cache, &stale.token).await
                {
                    log::warn!(
                        "openbao: cannot update the session cache {}: {e}",
                        cache.path().display()
                    );
                }
            }
            TokenSource::Userpass => {}
        }
    }

    fn transport_error(&self, e: &HttpError) -> SecretStoreError {
        SecretStoreError::Unreachable {
            store: self.describe(),
            reason: e.to_string(),
        }
    }

    fn status_error(&self, status: u16, v: &Value, path: &str) -> SecretStoreError {
        let message = errors_of(v).unwrap_or_default();
        match status {
            403 => SecretStoreError::PermissionDenied {
                store: self.describe(),
                path: path.to_string(),
            },
            503 if message.to_lowercase().contains("sealed") => SecretStoreError::Sealed {
                store: self.describe(),
                auto_unseal: None,
            },
            429 | 502 | 503 | 504 => SecretStoreError::Unreachable {
                store: self.describe(),
                reason: format!(
                    "HTTP {status} (not active){}",
                    if message.is_empty() {
                        String::new()
                    } else {
                        format!(": {message}")
                    }
                ),
            },
            _ => SecretStoreError::Backend {
                store: self.describe(),
                status,
                path: path.to_string(),
                message,
            },
        }
    }

    async fn send(
        &self,
        token: &Secret,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), SecretStoreError> {
        let r = self
            .http
            .send(method, path, Some(token.expose_secret()), body, None)
            .await
            .map_err(|e| self.transport_error(&e))?;
        Ok((r.status, r.body))
    }

    /// One authenticated request; on 403 checks once whether the token itself went bad and, if
    /// so, logs in again and retries once.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), SecretStoreError> {
        let token = self.current_token().await?;
        let (status, v) = self.send(&token.token, method.clone(), path, body).await?;
        if status != 403 || self.token_is_valid(&token.token).await? {
            return Ok((status, v));
        }
        debug!(
            "openbao: OpenBao says the {:?} token is invalid (revoked or expired); logging in again",
            token.source
        );
        self.invalidate(&token).await;
        let token = self.current_token().await?;
        self.send(&token.token, method, path, body).await
    }

    fn check_part(&self, namespace: &str, key: &str) -> Result<(), SecretStoreError> {
        for part in [namespace, key] {
            let bad = part.is_empty()
                || part
                    .split('/')
                    .any(|s| s.is_empty() || s == "." || s == "..")
                || part
                    .chars()
                    .any(|c| c.is_control() || c.is_whitespace() || "?#%\\".contains(c));
            if bad {
                return Err(SecretStoreError::InvalidData {
                    store: self.describe(),
                    namespace: namespace.to_string(),
                    key: key.to_string(),
                    reason: format!(
                        "`{part}` cannot be used in an OpenBao path: use letters, digits, `-`, `_`, `.` or `/`"
                    ),
                });
            }
        }
        Ok(())
    }
}

/// [`SessionCache::drop_token_if`] under the session lock, so it cannot undo a session another
/// process is saving.
async fn drop_cached_token_if(
    cache: &session_cache::SessionCache,
    stale: &Secret,
) -> std::io::Result<()> {
    let _lock = cache.lock_async().await?;
    cache.drop_token_if(stale)
}

#[async_trait]
impl SecretStore for OpenbaoSecretStore {
    fn describe(&self) -> String {
        self.inner.describe()
    }

    async fn get_json(&self, namespace: &str, key: &str) -> Result<Value, SecretStoreError> {
        let result = self.get_json_raw(namespace, key).await;
        self.inner.refine_sealed(result).await
    }

    async fn set_json(
        &self,
        namespace: &str,
        key: &str,
        value: &Value,
    ) -> Result<(), SecretStoreError> {
        let result = self.set_json_raw(namespace, key, value).await;
        self.inner.refine_sealed(result).await
    }

    async fn delete(&self, namespace: &str, key: &str) -> Result<(), SecretStoreError> {
        let result = self.delete_raw(namespace, key).await;
        self.inner.refine_sealed(result).await
    }
}

impl OpenbaoSecretStore {
    async fn get_json_raw(&self, namespace: &str, key: &str) -> Result<Value, SecretStoreError> {
        let inner = &self.inner;
        inner.check_part(namespace, key)?;
        let path = format!("{}/data/{namespace}/{key}", inner.kv_mount);
        let not_found = || SecretStoreError::NotFound {
            store: inner.describe(),
            namespace: namespace.to_string(),
            key: key.to_string(),
        };
        let (status, mut v) = inner.call(Method::GET, &path, None).await?;
        match status {
            200 => {
                let data = v["data"]["data"].take();
                match data {
                    Value::Null => Err(not_found()),
                    Value::Object(mut map) if map.len() == 1 && map.contains_key(ENVELOPE_KEY) => {
                        Ok(map.remove(ENVELOPE_KEY).unwrap_or(Value::Null))
                    }
                    other => Ok(other),
                }
            }
            404 => match errors_of(&v) {
                Some(m) if m.contains("no handler for route") => Err(SecretStoreError::Config {
                    store: inner.describe(),
                    source: None,
                    message: format!(
                        "no KV v2 engine is mounted at `{}` (OPENBAO_KV_MOUNT / .kv_mount)",
                        inner.kv_mount
                    ),
                }),
                _ => Err(not_found()),
            },
            other => Err(inner.status_error(other, &v, &path)),
        }
    }

    async fn set_json_raw(
        &self,
        namespace: &str,
        key: &str,
        value: &Value,
    ) -> Result<(), SecretStoreError> {
        let inner = &self.inner;
        inner.check_part(namespace, key)?;
        let path = format!("{}/data/{namespace}/{key}", inner.kv_mount);
        let data = match value {
            Value::Object(_) => value.clone(),
            other => json!({ ENVELOPE_KEY: other }),
        };
        let (status, v) = inner
            .call(Method::POST, &path, Some(&json!({ "data": data })))
            .await?;
        match status {
            200 | 204 => Ok(()),
            other => Err(inner.status_error(other, &v, &path)),
        }
    }

    async fn delete_raw(&self, namespace: &str, key: &str) -> Result<(), SecretStoreError> {
        let inner = &self.inner;
        inner.check_part(namespace, key)?;
        // metadata/ removes every version, so the key is really gone.
        let path = format!("{}/metadata/{namespace}/{key}", inner.kv_mount);
        let (status, v) = inner.call(Method::DELETE, &path, None).await?;
        match status {
            200 | 204 | 404 => Ok(()),
            other => Err(inner.status_error(other, &v, &path)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::auth::SsoConfig;
    use super::session_cache::{SessionCache, SessionEntry, SessionKey};
    use super::*;
    use crate::ZitadelOidcAuth;

    fn inner_with_cache(dir: &std::path::Path) -> (Inner, SessionCache) {
        let oidc = ZitadelOidcAuth::new("http://127.0.0.1:9", "cli");
        let cache = SessionCache::new(
            dir,
            SessionKey {
                bao_addr: "http://127.0.0.1:9".into(),
                auth_mount: "jwt".into(),
                role: "dev".into(),
                issuer: oidc.issuer().into(),
                client_id: oidc.client_id().into(),
                scopes: oidc.scopes(),
                namespace: None,
            },
        );
        let auth = AuthConfig {
            token: None,
            userpass: None,
            userpass_mount: "userpass".into(),
            sso: Some(SsoConfig {
                oidc,
                role: "dev".into(),
                mount: "jwt".into(),
                cache: Some(cache.clone()),
            }),
            login_timeout: Duration::from_secs(1),
            hint: None,
        };
        let inner = Inner::new(
            "http://127.0.0.1:9".into(),
            "secret".into(),
            OpenbaoHttp::new("http://127.0.0.1:9", &Default::default()).unwrap(),
            auth,
            Duration::from_secs(1),
        );
        (inner, cache)
    }

    fn cached(cache: &SessionCache, token: &str) {
        cache
            .save(&SessionEntry {
                bao_addr: "http://127.0.0.1:9".into(),
                auth_mount: "jwt".into(),
                role: "dev".into(),
                token: Secret::from(token),
                expires_at: None,
                ttl_secs: 0,
                refresh_token: Some(Secret::from("rt")),
                token_endpoint: None,
                issuer: "http://127.0.0.1:9".into(),
                client_id: "cli".into(),
                scopes: cache.key().scopes.clone(),
                namespace: None,
            })
            .unwrap();
    }

    fn sso(token: &str) -> ActiveToken {
        ActiveToken {
            token: Secret::from(token),
            source: TokenSource::Sso,
        }
    }

    #[tokio::test]
    async fn invalidating_a_token_already_replaced_keeps_the_fresh_session() {
        let tmp = tempfile::tempdir().unwrap();
        let (inner, cache) = inner_with_cache(tmp.path());
        // Another task logged in again and saved its fresh token.
        cached(&cache, "fresh");
        *inner.session.lock().await = Some(sso("fresh"));
        inner.invalidate(&sso("stale")).await;
        assert_eq!(
            inner
                .session
                .lock()
                .await
                .as_ref()
                .unwrap()
                .token
                .expose_secret(),
            "fresh"
        );
        assert_eq!(
            cache.load().unwrap().unwrap().token.expose_secret(),
            "fresh"
        );
    }

    #[tokio::test]
    async fn invalidating_the_current_token_drops_it_in_memory_and_in_the_cache() {
        let tmp = tempfile::tempdir().unwrap();
        let (inner, cache) = inner_with_cache(tmp.path());
        cached(&cache, "stale");
        *inner.session.lock().await = Some(sso("stale"));
        inner.invalidate(&sso("stale")).await;
        assert!(inner.session.lock().await.is_none());
        let entry = cache.load().unwrap().unwrap();
        assert!(entry.token.expose_secret().is_empty() && entry.refresh_token.is_some());
    }

    #[tokio::test]
    async fn a_fresh_session_saved_by_another_process_survives_invalidation() {
        let tmp = tempfile::tempdir().unwrap();
        let (inner, cache) = inner_with_cache(tmp.path());
        cached(&cache, "from-another-process");
        *inner.session.lock().await = Some(sso("stale"));
        inner.invalidate(&sso("stale")).await;
        assert!(inner.session.lock().await.is_none());
        assert_eq!(
            cache.load().unwrap().unwrap().token.expose_secret(),
            "from-another-process"
        );
    }
}
