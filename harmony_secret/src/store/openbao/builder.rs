//! [`OpenbaoSecretStoreBuilder`]: every option of [`OpenbaoSecretStore`] by name.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use log::debug;

use super::auth::{AuthConfig, SsoConfig};
use super::session_cache::{SessionCache, SessionKey};
use super::{Inner, OpenbaoSecretStore, STORE};
use crate::SecretStoreError;
use crate::auth::oidc::{DeviceCodePrompt, ZitadelOidcAuth};
use crate::openbao_http::{ClientCert, OpenbaoHttp, OpenbaoHttpOptions, TlsOptions, hide_userinfo};
use crate::redacted::Secret;

/// Default timeout of one OpenBao request (reads, writes).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// Default time the device flow waits for the person to approve.
pub const DEFAULT_DEVICE_FLOW_TIMEOUT: Duration = Duration::from_secs(600);

/// Builds an [`OpenbaoSecretStore`]. `build()` does not contact OpenBao: the store logs in on
/// first use.
///
/// ```no_run
/// # async fn demo() -> Result<(), harmony_secret::SecretStoreError> {
/// use harmony_secret::OpenbaoSecretStore;
/// let store = OpenbaoSecretStore::builder()
///     .url("http://127.0.0.1:8200")
///     .kv_mount("secret")
///     .skip_tls(true)
///     .zitadel_sso("http://sso.harmony.local:8080", "client-id-123")
///     .jwt_auth("harmony-developer", "jwt")
///     .build()
///     .await?;
/// # Ok(()) }
/// ```
///
/// `Debug` never shows the token or the password.
#[derive(Clone)]
pub struct OpenbaoSecretStoreBuilder {
    pub(crate) url: Option<String>,
    pub(crate) kv_mount: String,
    pub(crate) tls: TlsOptions,
    pub(crate) namespace: Option<String>,
    pub(crate) sso_tls: TlsOptions,
    /// Said in login errors: e.g. a token of another environment family that was ignored.
    pub(crate) login_hint: Option<String>,
    /// The login variables of the environment family the address came from (`BAO_TOKEN, or
    /// BAO_USERNAME and BAO_PASSWORD`), named when there is no way to log in.
    pub(crate) login_vars: Option<String>,
    pub(crate) token: Option<Secret>,
    pub(crate) userpass: Option<(String, Secret)>,
    pub(crate) auth_mount: String,
    pub(crate) sso: Option<(String, String)>,
    pub(crate) sso_project_id: Option<String>,
    pub(crate) jwt_role: Option<String>,
    pub(crate) jwt_mount: String,
    pub(crate) resolve_to: Option<SocketAddr>,
    pub(crate) session_dir: Option<PathBuf>,
    pub(crate) session_cache: bool,
    pub(crate) request_timeout: Duration,
    pub(crate) device_flow_timeout: Duration,
    pub(crate) open_browser: Option<bool>,
    pub(crate) prompt: Option<DeviceCodePrompt>,
    pub(crate) terminal_probe: Option<fn() -> bool>,
    pub(crate) allow_no_tty: bool,
}

impl Default for OpenbaoSecretStoreBuilder {
    fn default() -> Self {
        OpenbaoSecretStoreBuilder {
            url: None,
            kv_mount: "secret".to_string(),
            tls: TlsOptions::default(),
            namespace: None,
            sso_tls: TlsOptions::default(),
            login_hint: None,
            login_vars: None,
            token: None,
            userpass: None,
            auth_mount: "userpass".to_string(),
            sso: None,
            sso_project_id: None,
            jwt_role: None,
            jwt_mount: "jwt".to_string(),
            resolve_to: None,
            session_dir: None,
            session_cache: true,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            device_flow_timeout: DEFAULT_DEVICE_FLOW_TIMEOUT,
            open_browser: None,
            prompt: None,
            terminal_probe: None,
            allow_no_tty: false,
        }
    }
}

impl std::fmt::Debug for OpenbaoSecretStoreBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenbaoSecretStoreBuilder")
            // An address with `user:pass@` (refused by `build`) is shown without it.
            .field(
                "url",
                &self
                    .url
                    .as_deref()
                    .map(|u| hide_userinfo(u).unwrap_or_else(|| u.to_string())),
            )
            .field("kv_mount", &self.kv_mount)
            .field("tls", &self.tls)
            .field("namespace", &self.namespace)
            .field("sso_tls", &self.sso_tls)
            .field("token", &self.token) // SecretString: prints [REDACTED]
            .field("userpass", &self.userpass.as_ref().map(|(u, p)| (u, p)))
            .field("auth_mount", &self.auth_mount)
            .field("sso", &self.sso)
            .field("jwt_role", &self.jwt_role)
            .field("jwt_mount", &self.jwt_mount)
            .field("resolve_to", &self.resolve_to)
            .field("session_dir", &self.session_dir)
            .field("session_cache", &self.session_cache)
            .field("request_timeout", &self.request_timeout)
            .field("device_flow_timeout", &self.device_flow_timeout)
            .finish_non_exhaustive()
    }
}

impl OpenbaoSecretStoreBuilder {
    /// A builder with the defaults (same as [`OpenbaoSecretStore::builder`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// The OpenBao address, e.g. `http://127.0.0.1:8200` (required).
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }

    /// Mount of the KV v2 engine (default `secret`).
    pub fn kv_mount(mut self, mount: impl Into<String>) -> Self {
        self.kv_mount = mount.into().trim_matches('/').to_string();
        self
    }

    /// Accept any TLS certificate from OpenBao (development only; `VAULT_SKIP_VERIFY`). The
    /// identity provider is not affected: see [`Self::sso_tls`].
    pub fn skip_tls(mut self, skip: bool) -> Self {
        self.tls.skip_verify = skip;
        self
    }

    /// Trust only the CA certificates in this PEM file for OpenBao (`VAULT_CACERT`).
    pub fn ca_cert(mut self, path: impl Into<PathBuf>) -> Self {
        self.tls.ca_cert = Some(path.into());
        self
    }

    /// Trust only the CA certificates in the PEM files of this folder for OpenBao
    /// (`VAULT_CAPATH`).
    pub fn ca_path(mut self, dir: impl Into<PathBuf>) -> Self {
        self.tls.ca_path = Some(dir.into());
        self
    }

    /// Check OpenBao's certificate against this name instead of the URL's host
    /// (`VAULT_TLS_SERVER_NAME`), e.g. when the URL is an IP or a port-forward.
    pub fn tls_server_name(mut self, name: impl Into<String>) -> Self {
        self.tls.server_name = Some(name.into());
        self
    }

    /// Present this client certificate (PEM chain and key files) to OpenBao
    /// (`VAULT_CLIENT_CERT` / `VAULT_CLIENT_KEY`).
    pub fn client_cert(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.tls.client_cert = Some(ClientCert {
            cert: cert.into(),
            key: key.into(),
        });
        self
    }

    /// All of OpenBao's TLS options at once (replaces the ones set before).
    pub fn tls(mut self, tls: TlsOptions) -> Self {
        self.tls = tls;
        self
    }

    /// TLS options of the identity provider (single sign-on), separate from OpenBao's.
    pub fn sso_tls(mut self, tls: TlsOptions) -> Self {
        self.sso_tls = tls;
        self
    }

    /// The OpenBao namespace, sent as `X-Vault-Namespace` on every request (`VAULT_NAMESPACE`).
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        let ns = namespace.into().trim_matches('/').to_string();
        self.namespace = (!ns.is_empty()).then_some(ns);
        self
    }

    /// Use this OpenBao token (first in the auth chain).
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(Secret::from(token.into()));
        self
    }

    /// Log in with userpass (last in the auth chain), at the auth mount [`Self::auth_mount`].
    pub fn userpass(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.userpass = Some((user.into(), Secret::from(password.into())));
        self
    }

    /// Mount of the userpass auth method (default `userpass`). Separate from the KV mount.
    pub fn auth_mount(mut self, mount: impl Into<String>) -> Self {
        self.auth_mount = mount.into().trim_matches('/').to_string();
        self
    }

    /// Single sign-on with the OIDC device flow at `issuer` for the public client `client_id`;
    /// the id_token logs in at the jwt auth method set with [`Self::jwt_auth`].
    pub fn zitadel_sso(mut self, issuer: impl Into<String>, client_id: impl Into<String>) -> Self {
        self.sso = Some((issuer.into(), client_id.into()));
        self
    }

    /// Zitadel project id: requests the project-audience scope
    /// `urn:zitadel:iam:org:project:id:{id}:aud`.
    pub fn zitadel_project_id(mut self, project_id: impl Into<String>) -> Self {
        self.sso_project_id = Some(project_id.into());
        self
    }

    /// The OpenBao jwt role and the mount of the jwt auth method (usually `jwt`).
    pub fn jwt_auth(mut self, role: impl Into<String>, mount: impl Into<String>) -> Self {
        self.jwt_role = Some(role.into());
        self.jwt_mount = mount.into().trim_matches('/').to_string();
        self
    }

    /// DNS override for the identity provider's host (see
    /// [`ZitadelOidcAuth::with_resolve_to`]), and for OpenBao's host only when it is under
    /// `.localhost` (a local ingress); any other OpenBao address uses normal DNS.
    pub fn resolve_to(mut self, addr: Option<SocketAddr>) -> Self {
        self.resolve_to = addr;
        self
    }

    /// Folder of the session cache (default `~/.local/share/harmony/sessions`).
    pub fn session_cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.session_dir = Some(dir.into());
        self.session_cache = true;
        self
    }

    /// Do not read or write the session cache.
    pub fn no_session_cache(mut self) -> Self {
        self.session_cache = false;
        self
    }

    /// Timeout of each OpenBao request, logins included (default 2 s); the connect timeout is
    /// at most 1 s of it. An OpenBao that does not answer costs this long, never more.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// How long the device flow waits for the person (default 10 min, capped by the code's
    /// lifetime).
    pub fn device_flow_timeout(mut self, timeout: Duration) -> Self {
        self.device_flow_timeout = timeout;
        self
    }

    /// `Some(false)`: never open a browser for the device flow; `Some(true)`: always try; `None`
    /// (default): unless headless or `HARMONY_NO_BROWSER=1`.
    pub fn open_browser(mut self, open: Option<bool>) -> Self {
        self.open_browser = open;
        self
    }

    /// How the device code is shown (default: printed on stderr).
    pub fn device_code_prompt(mut self, prompt: DeviceCodePrompt) -> Self {
        self.prompt = Some(prompt);
        self
    }

    /// Let the device flow print its sign-in code even without a terminal (an IDE run panel whose
    /// output a person sees). Same as `HARMONY_SSO_ALLOW_NO_TTY=1`; see
    /// [`ZitadelOidcAuth::allow_device_flow_without_terminal`].
    pub fn allow_device_flow_without_terminal(mut self, allow: bool) -> Self {
        self.allow_no_tty = allow;
        self
    }

    /// Replaces the "is there a terminal?" check of the device flow (see
    /// [`ZitadelOidcAuth::device_login`]). For tests.
    #[doc(hidden)]
    pub fn terminal_probe(mut self, probe: fn() -> bool) -> Self {
        self.terminal_probe = Some(probe);
        self
    }

    /// A builder filled from environment variables (see [`OpenbaoSecretStore::from_env`]); other
    /// options can still be set on it.
    pub fn from_env() -> Result<Self, SecretStoreError> {
        super::env::builder_from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`Self::from_env`], reading the variables through `get` (a map, a config file,
    /// a test) instead of the process environment.
    pub fn from_env_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, SecretStoreError> {
        super::env::builder_from_lookup(get)
    }

    /// Checks the options and builds the store. Does not contact OpenBao.
    pub async fn build(self) -> Result<OpenbaoSecretStore, SecretStoreError> {
        let config = |message: String| SecretStoreError::Config {
            store: STORE.to_string(),
            source: None,
            message,
        };
        let url = self.url.clone().ok_or_else(|| {
            config(
                "no address: set OPENBAO_URL (or BAO_ADDR, or VAULT_ADDR), or call .url(..)"
                    .to_string(),
            )
        })?;
        let parsed = url::Url::parse(&url).map_err(|e| {
            // Not parsed, so not checked for `user:pass@` below: shown without it.
            let shown = hide_userinfo(&url).unwrap_or_else(|| url.clone());
            config(format!("`{shown}` is not a URL: {e}"))
        })?;
        if !parsed.username().is_empty() || parsed.password().is_some() {
            // The address is shown in messages, logs, `Debug` and the config provenance: a
            // password in it would leak there. Without echoing it, say where credentials go.
            return Err(config(format!(
                "the address for {} carries a user name or password (user:pass@): remove it \
                 and give the credentials as a token (OPENBAO_TOKEN / .token(..)), single \
                 sign-on or userpass (.userpass(..))",
                host_of(&parsed)
            )));
        }
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(config(format!(
                "`{url}` must start with http:// or https://"
            )));
        }
        let addr = url.trim_end_matches('/').to_string();
        if self.kv_mount.is_empty() {
            return Err(config(
                "the KV mount is empty (OPENBAO_KV_MOUNT / .kv_mount)".to_string(),
            ));
        }
        let sso = match (&self.sso, &self.jwt_role) {
            (Some((issuer, client_id)), Some(role)) => {
                let oidc = ZitadelOidcAuth::new(issuer.clone(), client_id.clone())
                    .with_resolve_to(self.resolve_to)
                    .with_tls(self.sso_tls.clone())
                    .with_browser(self.open_browser)
                    .allow_device_flow_without_terminal(self.allow_no_tty)
                    .with_device_flow_timeout(Some(self.device_flow_timeout));
                let oidc = match &self.sso_project_id {
                    Some(id) => oidc.with_project_id(id.clone()),
                    None => oidc,
                };
                let oidc = match &self.prompt {
                    Some(p) => oidc.with_prompt(p.clone()),
                    None => oidc,
                };
                let oidc = match self.terminal_probe {
                    Some(probe) => oidc.with_terminal_probe(probe),
                    None => oidc,
                };
                let cache = if self.session_cache {
                    let dir = match &self.session_dir {
                        Some(d) => Some(d.clone()),
                        None => crate::data_dir::harmony_data_dir().map(|d| d.join("sessions")),
                    };
                    if dir.is_none() {
                        debug!("openbao: no home folder, the SSO session will not be cached");
                    }
                    dir.map(|d| {
                        SessionCache::new(
                            &d,
                            SessionKey {
                                bao_addr: addr.clone(),
                                auth_mount: self.jwt_mount.clone(),
                                role: role.clone(),
                                issuer: oidc.issuer().to_string(),
                                client_id: oidc.client_id().to_string(),
                                scopes: oidc.scopes(),
                                namespace: self.namespace.clone(),
                            },
                        )
                    })
                } else {
                    None
                };
                Some(SsoConfig {
                    oidc,
                    role: role.clone(),
                    mount: self.jwt_mount.clone(),
                    cache,
                })
            }
            (Some(_), None) => {
                return Err(config(
                    "single sign-on is set but no jwt role: set OPENBAO_JWT_ROLE or call .jwt_auth(role, mount)".to_string(),
                ));
            }
            (None, Some(_)) => {
                return Err(config(
                    "a jwt role is set but no identity provider: set HARMONY_SSO_ISSUER and HARMONY_SSO_CLIENT_ID, or call .zitadel_sso(issuer, client_id)".to_string(),
                ));
            }
            (None, None) => None,
        };
        if self.token.is_none() && self.userpass.is_none() && sso.is_none() {
            return Err(config(format!(
                "no way to log in: set {}, or HARMONY_SSO_ISSUER and HARMONY_SSO_CLIENT_ID (builder: .token, .userpass, .zitadel_sso + .jwt_auth){}",
                self.login_vars
                    .as_deref()
                    .unwrap_or("OPENBAO_TOKEN, or OPENBAO_USERNAME and OPENBAO_PASSWORD"),
                hint_suffix(&self.login_hint)
            )));
        }
        // Never silently: anyone on the path can read and change what goes over these. (Plain
        // http has no certificate to skip; the testbed's examples set the option anyway.)
        if self.tls.skip_verify && parsed.scheme() == "https" {
            log::warn!(
                "openbao: TLS certificate verification of OpenBao at {addr} is OFF \
                 (skip_tls / *_SKIP_VERIFY / OPENBAO_SKIP_TLS): tokens go to whoever answers"
            );
        }
        if let (true, Some((issuer, _))) = (self.sso_tls.skip_verify, &self.sso)
            && issuer.starts_with("https://")
        {
            log::warn!(
                "openbao: TLS certificate verification of the identity provider at {issuer} is \
                 OFF (sso_tls / HARMONY_SSO_SKIP_TLS): refresh tokens go to whoever answers"
            );
        }
        let http = OpenbaoHttp::new(
            &addr,
            &OpenbaoHttpOptions {
                tls: self.tls.clone(),
                namespace: self.namespace.clone(),
                timeout: self.request_timeout,
                connect_timeout: Some(self.request_timeout.min(Duration::from_secs(1))),
                // A `.localhost` OpenBao host (RFC 6761: loopback, e.g. behind a local k3d
                // ingress) goes to `resolve_to` too: not every system resolver knows `.localhost`.
                resolve_to: self.resolve_to.filter(|_| {
                    url::Url::parse(&addr)
                        .ok()
                        .and_then(|u| u.host_str().map(|h| h.ends_with(".localhost")))
                        .unwrap_or(false)
                }),
            },
        )?;
        let auth = AuthConfig {
            token: self.token.clone(),
            userpass: self.userpass.clone(),
            userpass_mount: self.auth_mount.clone(),
            sso,
            // Logins are one round trip like any other request: the same timeout, so a dead
            // OpenBao costs the configured time, not 10 s.
            login_timeout: self.request_timeout,
            hint: self.login_hint.clone(),
        };
        Ok(OpenbaoSecretStore {
            inner: Arc::new(Inner::new(
                addr,
                self.kv_mount.clone(),
                http,
                auth,
                self.request_timeout,
            )),
        })
    }
}

/// `". {hint}"`, or nothing.
pub(crate) fn hint_suffix(hint: &Option<String>) -> String {
    hint.as_ref().map(|h| format!(". {h}")).unwrap_or_default()
}

/// `scheme://host[:port]` of `url`, without user info, path or query: safe to show.
fn host_of(url: &url::Url) -> String {
    match url.port() {
        Some(port) => format!(
            "{}://{}:{port}",
            url.scheme(),
            url.host_str().unwrap_or("?")
        ),
        None => format!("{}://{}", url.scheme(), url.host_str().unwrap_or("?")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SecretStore;

    /// `OPENBAO_URL=https://alice:hunter2@bao...` would put the password in every message, log
    /// line and provenance that names the address: the build refuses it without echoing it.
    #[tokio::test]
    async fn an_address_with_credentials_is_refused_without_showing_them() {
        for url in [
            "https://alice:hunter2@bao.example.com:8200",
            "https://hunter2@bao.example.com",
        ] {
            let err = OpenbaoSecretStore::builder()
                .url(url)
                .token("t")
                .build()
                .await
                .map(|_| ())
                .unwrap_err();
            let text = err.to_string();
            assert!(!text.contains("hunter2"), "{text}");
            assert!(text.contains("bao.example.com"), "{text}");
            assert!(text.contains("user name or password"), "{text}");
            assert!(matches!(err, SecretStoreError::Config { .. }), "{err:?}");
        }
    }

    /// The credentials check cannot see an address that does not parse (a typo in the port):
    /// its error and the builder's `Debug` must not echo `user:pass@` either.
    #[tokio::test]
    async fn an_unparsable_address_with_credentials_is_not_echoed() {
        for url in [
            "https://alice:hunter2@bao.example.com:82OO",
            "https://alice:hunter2@bao example.com/v1",
            // `?` ends the authority: `hunter2@bao...` is not even seen as user info.
            "https://alice:hunt?er2@bao.example.com",
        ] {
            let builder = OpenbaoSecretStore::builder().url(url).token("t");
            let shown = format!("{builder:?}");
            assert!(
                !shown.contains("hunter2") && !shown.contains("er2"),
                "{shown}"
            );
            let err = builder.build().await.map(|_| ()).unwrap_err();
            let text = format!("{err} {err:?}");
            assert!(matches!(err, SecretStoreError::Config { .. }), "{err:?}");
            assert!(!text.contains("hunter2") && !text.contains("er2"), "{text}");
            assert!(text.contains("is not a URL"), "{text}");
            assert!(text.contains("bao"), "{text}");
        }
    }

    /// A CA file that cannot be read is a settings error whose cause a caller can inspect
    /// (which file, which OS error), not only a sentence.
    #[tokio::test]
    async fn an_unreadable_ca_file_is_a_config_error_keeping_its_cause() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-such-ca.pem");
        let err = OpenbaoSecretStore::builder()
            .url("https://bao.example.com")
            .token("t")
            .ca_cert(&missing)
            .build()
            .await
            .map(|_| ())
            .unwrap_err();
        assert!(matches!(err, SecretStoreError::Config { .. }), "{err:?}");
        assert!(err.to_string().contains("no-such-ca.pem"), "{err}");
        let cause = std::error::Error::source(&err).expect("the client error is kept");
        match cause.downcast_ref::<crate::openbao_http::HttpClientError>() {
            Some(crate::openbao_http::HttpClientError::Tls(
                crate::openbao_http::TlsConfigError::Unreadable { path, source },
            )) => {
                assert_eq!(path, &missing);
                assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
            }
            other => panic!("expected the unreadable CA file, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn debug_of_the_builder_and_the_store_never_shows_the_token_or_password() {
        let builder = OpenbaoSecretStore::builder()
            .url("http://127.0.0.1:1")
            .token("hvs.TOKEN-VALUE")
            .userpass("alice", "PASSWORD-VALUE");
        let store = builder.clone().build().await.unwrap();
        let session = super::super::session_cache::SessionEntry {
            bao_addr: "http://127.0.0.1:1".into(),
            auth_mount: "jwt".into(),
            role: "dev".into(),
            token: Secret::from("s.SESSION-TOKEN"),
            expires_at: None,
            ttl_secs: 0,
            refresh_token: Some(Secret::from("REFRESH-VALUE")),
            token_endpoint: None,
            issuer: "http://idp".into(),
            client_id: "cli".into(),
            scopes: vec![],
            namespace: None,
        };
        let shown = format!("{builder:?} {store:?} {session:?}");
        for secret in [
            "TOKEN-VALUE",
            "PASSWORD-VALUE",
            "SESSION-TOKEN",
            "REFRESH-VALUE",
        ] {
            assert!(!shown.contains(secret), "{shown}");
        }
        // The rest stays readable.
        assert!(
            shown.contains("alice") && shown.contains("REDACTED"),
            "{shown}"
        );
    }

    #[tokio::test]
    async fn a_login_that_gets_no_answer_gives_up_after_the_request_timeout() {
        // Accepts connections (kernel backlog) and never answers.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let store = OpenbaoSecretStore::builder()
            .url(format!("http://{}", silent.local_addr().unwrap()))
            .userpass("u", "p")
            .request_timeout(Duration::from_millis(300))
            .build()
            .await
            .unwrap();
        let e = store.get_json("app", "K").await.unwrap_err();
        match &e {
            SecretStoreError::Unreachable { reason, .. } => {
                assert_eq!(reason, "no answer within 300ms (timeout)", "{e}")
            }
            other => panic!("expected Unreachable, got {other}"),
        }
    }
}
