//! [`ZitadelOidcAuth`]: single sign-on with the OAuth 2.0 Device Authorization Grant (RFC 8628).
//!
//! Named after Zitadel (Harmony's identity provider) but works with any OpenID provider that
//! offers the device flow: endpoints come from OIDC discovery. The result is an OIDC **id_token**
//! (a JWT signed by the provider), which [`crate::OpenbaoSecretStore`] presents to OpenBao's `jwt`
//! auth method. The access token is never sent to OpenBao (it may be opaque, and it is meant for
//! the provider's own APIs).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use log::{debug, warn};
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AsyncHttpClient, AuthType, Client, ClientId, DeviceAuthorizationUrl,
    DeviceCodeErrorResponseType, EndpointNotSet, EndpointSet, ExtraTokenFields, HttpClientError,
    HttpRequest, HttpResponse, RefreshToken, RequestTokenError, Scope,
    StandardDeviceAuthorizationResponse, StandardRevocableToken, StandardTokenResponse,
    TokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};

use crate::error::IdentityProviderError;
use crate::openbao_http::{
    TlsFixes, TlsOptions, TlsProblem, client_builder, describe_connect_error, is_loopback_url_host,
};
use crate::redacted::{ExposeSecret, Secret};

/// The options that fix a certificate problem with the identity provider.
const SSO_TLS_FIXES: TlsFixes<'static> = TlsFixes {
    ca: "sso_tls / HARMONY_SSO_CACERT",
    name: "sso_tls",
    client_cert: "sso_tls",
};

/// The scopes always requested: an id_token (`openid`) with the e-mail claim OpenBao maps to a
/// user, and a refresh token (`offline_access`) so an expired OpenBao session can be renewed
/// without the browser.
pub const DEFAULT_SCOPES: [&str; 4] = ["openid", "email", "profile", "offline_access"];

/// What the person has to do to sign in: shown by a [`DeviceCodePrompt`].
#[derive(Debug, Clone)]
pub struct DeviceCodeInfo {
    /// The page where the code is entered.
    pub verification_uri: String,
    /// The same page with the code filled in, when the provider gives one.
    pub verification_uri_complete: Option<String>,
    /// The code the person checks (or types) on that page. Short-lived, not a credential.
    pub user_code: String,
    /// How long the code stays valid.
    pub expires_in: Duration,
    /// How often the CLI polls the token endpoint.
    pub interval: Duration,
}

impl DeviceCodeInfo {
    /// The best address to open: `verification_uri_complete` if given, else `verification_uri`.
    pub fn url(&self) -> &str {
        self.verification_uri_complete
            .as_deref()
            .unwrap_or(&self.verification_uri)
    }
}

/// Shows the device code to the person. The default prints to stderr; tests plug in their own.
pub type DeviceCodePrompt = Arc<dyn Fn(&DeviceCodeInfo) + Send + Sync>;

/// The default [`DeviceCodePrompt`]: prints the address and the code on stderr.
pub fn print_device_code(info: &DeviceCodeInfo) {
    eprintln!(
        "\nTo sign in to Harmony, open this address in a browser:\n\n    {}\n\nand check that it shows the code {}  (valid {} min)\n",
        info.url(),
        info.user_code,
        info.expires_in.as_secs().div_ceil(60)
    );
}

/// The endpoints found by OIDC discovery.
#[derive(Debug, Clone, Deserialize)]
pub struct OidcEndpoints {
    /// The issuer, as the provider names itself (must equal the configured one).
    pub issuer: String,
    /// Where codes and refresh tokens are exchanged for tokens.
    pub token_endpoint: String,
    /// Where the device flow starts (RFC 8628); `None` when the provider has no device flow.
    pub device_authorization_endpoint: Option<String>,
    /// RFC 7009 token revocation, when the provider offers it.
    #[serde(default)]
    pub revocation_endpoint: Option<String>,
}

/// Tokens from the identity provider. `Debug` hides them.
#[derive(Debug, Clone)]
pub struct OidcTokens {
    /// The JWT presented to OpenBao's jwt auth.
    pub id_token: Secret,
    /// Present when `offline_access` was granted; lets [`ZitadelOidcAuth::refresh`] get a new
    /// id_token without the browser.
    pub refresh_token: Option<Secret>,
    /// Where the refresh grant goes.
    pub token_endpoint: String,
}

/// The extra `id_token` field of an OIDC token response (oauth2's standard response has none).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct IdTokenField {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::redacted::serialize_option"
    )]
    id_token: Option<Secret>,
}
impl ExtraTokenFields for IdTokenField {}

type OidcTokenResponse = StandardTokenResponse<IdTokenField, BasicTokenType>;
type BaseClient = Client<
    BasicErrorResponse,
    OidcTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
>;
type OidcClient<HasDeviceAuthUrl> = Client<
    BasicErrorResponse,
    OidcTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointNotSet,
    HasDeviceAuthUrl,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// OIDC device-flow sign-in (works with Zitadel and any provider with RFC 8628 support).
///
/// ```no_run
/// # async fn demo() -> Result<(), harmony_secret::SecretStoreError> {
/// use harmony_secret::ZitadelOidcAuth;
/// let auth = ZitadelOidcAuth::new("https://sso.example.com", "harmony-cli-client-id")
///     .with_project_id("123456789");
/// let tokens = auth.device_login().await?; // prints an address + code, polls until approved
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ZitadelOidcAuth {
    issuer: String,
    client_id: String,
    project_id: Option<String>,
    resolve_to: Option<SocketAddr>,
    tls: TlsOptions,
    open_browser: Option<bool>,
    prompt: Option<DeviceCodePrompt>,
    request_timeout: Duration,
    device_flow_timeout: Option<Duration>,
    terminal_probe: fn() -> bool,
    allow_without_terminal: bool,
}

/// Set to `1` (or `true`) to let the device flow print its sign-in code even when neither stdin
/// nor stderr is a terminal, e.g. in an IDE run panel whose output a person does see. Same as
/// [`ZitadelOidcAuth::allow_device_flow_without_terminal`].
pub const ALLOW_NO_TTY_ENV: &str = "HARMONY_SSO_ALLOW_NO_TTY";

fn allow_no_tty_from_env() -> bool {
    std::env::var(ALLOW_NO_TTY_ENV)
        .map(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
        .unwrap_or(false)
}

/// The default terminal check: someone can see a printed code when stdin or stderr is a terminal.
pub fn stdin_or_stderr_is_terminal() -> bool {
    use std::io::IsTerminal;
    std::io::stdin().is_terminal() || std::io::stderr().is_terminal()
}

impl std::fmt::Debug for ZitadelOidcAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZitadelOidcAuth")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("project_id", &self.project_id)
            .field("resolve_to", &self.resolve_to)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

impl ZitadelOidcAuth {
    /// `issuer` exactly as the provider names itself (the `iss` claim), without
    /// `/.well-known/openid-configuration`; `client_id` of a public native app with the device
    /// code grant (and refresh tokens) enabled.
    pub fn new(issuer: impl Into<String>, client_id: impl Into<String>) -> Self {
        ZitadelOidcAuth {
            issuer: issuer.into().trim_end_matches('/').to_string(),
            client_id: client_id.into(),
            project_id: None,
            resolve_to: None,
            tls: TlsOptions::default(),
            open_browser: None,
            prompt: None,
            request_timeout: Duration::from_secs(10),
            device_flow_timeout: None,
            terminal_probe: stdin_or_stderr_is_terminal,
            allow_without_terminal: false,
        }
    }

    /// Zitadel: also request `urn:zitadel:iam:org:project:id:{id}:aud`, so the id_token's
    /// audience includes the project (bind OpenBao's role to it).
    pub fn with_project_id(mut self, project_id: impl Into<String>) -> Self {
        self.project_id = Some(project_id.into());
        self
    }

    /// DNS override for the issuer's host name ONLY: when `Some(addr)`, every connection to the
    /// issuer host goes to `addr` (reqwest `ClientBuilder::resolve`), e.g. a k3d ingress at
    /// `127.0.0.1:8080` for `http://sso.harmony.local:8080`. When `None` (the default), normal DNS
    /// is used. The override is applied only when set (no "does it resolve?" probing), so what
    /// happens is predictable. TLS still checks the certificate against the host name.
    pub fn with_resolve_to(mut self, addr: Option<SocketAddr>) -> Self {
        self.resolve_to = addr;
        self
    }

    /// Accept any TLS certificate from the provider (development only).
    pub fn with_skip_tls(mut self, skip: bool) -> Self {
        self.tls.skip_verify = skip;
        self
    }

    /// The provider's TLS options (CA, client certificate, …), separate from OpenBao's.
    pub fn with_tls(mut self, tls: TlsOptions) -> Self {
        self.tls = tls;
        self
    }

    /// `Some(false)`: never open a browser; `Some(true)`: always try; `None` (default): open one
    /// unless `HARMONY_NO_BROWSER=1` or the session looks headless (no `DISPLAY`/`WAYLAND_DISPLAY`
    /// on Linux, `SSH_CONNECTION` set, or `CI` set).
    pub fn with_browser(mut self, open: Option<bool>) -> Self {
        self.open_browser = open;
        self
    }

    /// Replaces the default prompt (stderr) that shows the address and the code.
    pub fn with_prompt(mut self, prompt: DeviceCodePrompt) -> Self {
        self.prompt = Some(prompt);
        self
    }

    /// Replaces the check "can a person see the printed code?" (default:
    /// [`stdin_or_stderr_is_terminal`]). Without a custom [`DeviceCodePrompt`], the device flow
    /// refuses to start when it returns false. For tests.
    #[doc(hidden)]
    pub fn with_terminal_probe(mut self, probe: fn() -> bool) -> Self {
        self.terminal_probe = probe;
        self
    }

    /// Start the device flow (print the code on stderr) even when neither stdin nor stderr is a
    /// terminal: for a person who watches the output elsewhere (an IDE run panel). The
    /// environment variable [`ALLOW_NO_TTY_ENV`] (`HARMONY_SSO_ALLOW_NO_TTY=1`) does the same.
    pub fn allow_device_flow_without_terminal(mut self, allow: bool) -> Self {
        self.allow_without_terminal = allow;
        self
    }

    /// Timeout of each HTTP request to the provider (default 10 s).
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// How long to wait for the person to approve (default: the device code's lifetime).
    pub fn with_device_flow_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.device_flow_timeout = timeout;
        self
    }

    /// The issuer URL, without a trailing `/`.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The OIDC client id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// All requested scopes.
    pub fn scopes(&self) -> Vec<String> {
        let mut scopes: Vec<String> = DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect();
        if let Some(id) = &self.project_id {
            scopes.push(format!("urn:zitadel:iam:org:project:id:{id}:aud"));
        }
        scopes
    }

    fn http_client(&self) -> Result<reqwest::Client, IdentityProviderError> {
        let mut builder = client_builder(&self.tls)
            .map_err(|e| IdentityProviderError::Misconfigured {
                issuer: self.issuer.clone(),
                message: e.to_string(),
                source: Some(Box::new(e)),
            })?
            // Token endpoints must not redirect (oauth2 crate's advice against SSRF).
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(self.request_timeout.min(Duration::from_secs(5)))
            .timeout(self.request_timeout);
        // Like OpenBao's client: a loopback provider (`*.localhost`, a port-forward) or one
        // pinned with `resolve_to` is reached directly, never through an exported
        // HTTP(S)_PROXY, which would see device codes and refresh tokens (often in plain HTTP)
        // and would resolve the name itself, ignoring the pin.
        let loopback = url::Url::parse(&self.issuer)
            .ok()
            .and_then(|u| u.host().map(|h| is_loopback_url_host(&h)))
            .unwrap_or(false);
        if loopback || self.resolve_to.is_some() {
            builder = builder.no_proxy();
        }
        if let Some(addr) = self.resolve_to {
            let host = url::Url::parse(&self.issuer)
                .ok()
                .and_then(|u| u.host_str().map(str::to_string))
                .ok_or_else(|| {
                    self.config_error(format!("`{}` is not a valid issuer URL", self.issuer))
                })?;
            debug!("sso: resolving {host} to {addr} (resolve_to override)");
            builder = builder.resolve(&host, addr);
        }
        builder
            .build()
            .map_err(|e| self.config_error(format!("cannot build the HTTP client: {e}")))
    }

    fn config_error(&self, message: String) -> IdentityProviderError {
        IdentityProviderError::Misconfigured {
            issuer: self.issuer.clone(),
            message,
            source: None,
        }
    }

    fn unreachable(
        &self,
        reason: String,
        source: Option<crate::error::BoxError>,
    ) -> IdentityProviderError {
        IdentityProviderError::Unreachable {
            issuer: self.issuer.clone(),
            reason,
            source,
        }
    }

    /// GET `{issuer}/.well-known/openid-configuration`.
    pub async fn discover(&self) -> Result<OidcEndpoints, IdentityProviderError> {
        let http = self.http_client()?;
        self.discover_with(&http).await
    }

    async fn discover_with(
        &self,
        http: &reqwest::Client,
    ) -> Result<OidcEndpoints, IdentityProviderError> {
        let url = format!("{}/.well-known/openid-configuration", self.issuer);
        debug!("sso: OIDC discovery at {url}");
        let resp = http.get(&url).send().await.map_err(|e| {
            self.unreachable(
                format!(
                    "discovery: {}",
                    describe_connect_error(&e, &SSO_TLS_FIXES, TlsProblem::find(&e))
                ),
                Some(Box::new(e.without_url())),
            )
        })?;
        let status = resp.status();
        if not_serving(status.as_u16()) {
            return Err(self.unreachable(format!("discovery: {url} answered HTTP {status}"), None));
        }
        if !status.is_success() {
            return Err(IdentityProviderError::BadResponse {
                issuer: self.issuer.clone(),
                status: status.as_u16(),
                url,
                message: "OIDC discovery failed: is the issuer URL right?".to_string(),
            });
        }
        let endpoints: OidcEndpoints = resp
            .json()
            .await
            .map_err(|e| self.config_error(format!("{url} is not an OpenID configuration: {e}")))?;
        // OIDC Discovery 1.0 §4.3: the issuer in the document MUST be identical to the one used
        // to fetch it, or the document must not be used.
        if endpoints.issuer.trim_end_matches('/') != self.issuer {
            return Err(self.config_error(format!(
                "the discovery document at {url} names the issuer `{}`, not the configured `{}`. \
                 Configure the issuer exactly as the provider names itself (HARMONY_SSO_ISSUER / \
                 .zitadel_sso), and bind OpenBao's jwt auth (bound_issuer) to the same string",
                endpoints.issuer, self.issuer
            )));
        }
        if let Some((name, endpoint)) = plain_http_endpoint(&self.issuer, &endpoints) {
            return Err(self.config_error(format!(
                "the discovery document at {url} lists the {name} `{endpoint}` over plain http \
                 although the issuer is https: device codes and refresh tokens would travel \
                 unencrypted. Make the provider advertise https URLs (Zitadel: ExternalSecure)"
            )));
        }
        Ok(endpoints)
    }

    fn token_client(
        &self,
        token_endpoint: &str,
    ) -> Result<OidcClient<EndpointNotSet>, IdentityProviderError> {
        let token_url = TokenUrl::new(token_endpoint.to_string()).map_err(|e| {
            self.config_error(format!("bad token_endpoint `{token_endpoint}`: {e}"))
        })?;
        Ok(BaseClient::new(ClientId::new(self.client_id.clone()))
            // Public client: send client_id in the form body, no HTTP Basic auth.
            .set_auth_type(AuthType::RequestBody)
            .set_token_uri(token_url))
    }

    fn headless() -> bool {
        let set = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
        let no_display = cfg!(target_os = "linux") && !set("DISPLAY") && !set("WAYLAND_DISPLAY");
        no_display || set("SSH_CONNECTION") || set("CI")
    }

    fn should_open_browser(&self) -> bool {
        match self.open_browser {
            Some(open) => open,
            None => {
                let disabled = std::env::var("HARMONY_NO_BROWSER")
                    .is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
                !disabled && !Self::headless()
            }
        }
    }

    /// The whole device flow: discovery, device authorization, prompt (and browser), polling
    /// (the given interval, RFC 8628's 5 s when none is given, +5 s on `slow_down`) until the
    /// person approves. `access_denied` and `expired_token` end it with
    /// [`IdentityProviderError::Denied`] and [`IdentityProviderError::Expired`].
    ///
    /// With the default prompt (the code printed on stderr) and neither stdin nor stderr a
    /// terminal (CI, a cron job), no one can see the code: it fails at once with
    /// [`IdentityProviderError::InteractionRequired`] instead of waiting for the code to expire.
    pub async fn device_login(&self) -> Result<OidcTokens, IdentityProviderError> {
        if self.prompt.is_none()
            && !self.allow_without_terminal
            && !allow_no_tty_from_env()
            && !(self.terminal_probe)()
        {
            return Err(IdentityProviderError::InteractionRequired {
                issuer: self.issuer.clone(),
                reason: format!(
                    "a browser login (OIDC device flow) is needed, but neither stdin nor stderr is \
                     a terminal, so no one would see the sign-in code. If you do see this output \
                     (an IDE run panel), allow the sign-in anyway with {ALLOW_NO_TTY_ENV}=1 or the \
                     builder option .allow_device_flow_without_terminal(true). To run \
                     non-interactively set OPENBAO_TOKEN (or OPENBAO_USERNAME and \
                     OPENBAO_PASSWORD); or run once in a terminal to sign in and cache a session \
                     that later runs reuse"
                ),
            });
        }
        let http = self.http_client()?;
        let endpoints = self.discover_with(&http).await?;
        let device_url = endpoints.device_authorization_endpoint.clone().ok_or_else(|| {
            self.config_error(
                "the provider offers no device_authorization_endpoint: enable the device code grant".to_string(),
            )
        })?;
        let client = self
            .token_client(&endpoints.token_endpoint)?
            .set_device_authorization_url(
                DeviceAuthorizationUrl::new(device_url.clone()).map_err(|e| {
                    self.config_error(format!("bad device_authorization_endpoint: {e}"))
                })?,
            );
        debug!(
            "sso: device authorization at {device_url} with scopes {:?}",
            self.scopes()
        );
        let details: StandardDeviceAuthorizationResponse = client
            .exchange_device_code()
            .add_scopes(self.scopes().into_iter().map(Scope::new))
            .request_async(&outage_aware(&http))
            .await
            .map_err(|e| self.request_error("device authorization", e))?;
        let info = DeviceCodeInfo {
            verification_uri: details.verification_uri().to_string(),
            verification_uri_complete: details
                .verification_uri_complete()
                .map(|u| u.secret().to_string()),
            user_code: details.user_code().secret().to_string(),
            expires_in: details.expires_in(),
            interval: details.interval(),
        };
        debug!(
            "sso: device code issued (valid {:?}, poll interval {:?})",
            info.expires_in, info.interval
        );
        match &self.prompt {
            Some(prompt) => prompt(&info),
            None => print_device_code(&info),
        }
        if self.should_open_browser() {
            match web_url(info.url()) {
                Some(url) => {
                    if let Err(e) = webbrowser::open(url) {
                        debug!("sso: could not open a browser ({e}); open the address by hand");
                    }
                }
                None => warn!(
                    "sso: the provider's sign-in address `{}` is not an http(s) URL: not opening it",
                    info.url()
                ),
            }
        } else {
            debug!("sso: not opening a browser (headless, HARMONY_NO_BROWSER or builder option)");
        }
        // Never poll longer than the code lives; the device_flow_timeout can only shorten it.
        let wait = match self.device_flow_timeout {
            Some(t) => t.min(details.expires_in()),
            None => details.expires_in(),
        };
        let token: OidcTokenResponse = client
            .exchange_device_access_token(&details)
            .request_async(&outage_aware(&http), tokio::time::sleep, Some(wait))
            .await
            .map_err(|e| self.request_error("device flow", e))?;
        debug!("sso: device flow approved");
        self.tokens_from(token, endpoints.token_endpoint)
    }

    /// `refresh_token` grant at `token_endpoint`: a new id_token without the browser.
    pub async fn refresh(
        &self,
        token_endpoint: &str,
        refresh_token: &Secret,
    ) -> Result<OidcTokens, IdentityProviderError> {
        let http = self.http_client()?;
        let client = self.token_client(token_endpoint)?;
        debug!("sso: refresh_token grant at {token_endpoint}");
        let rt = RefreshToken::new(refresh_token.expose_secret().to_string());
        let token: OidcTokenResponse = client
            .exchange_refresh_token(&rt)
            .request_async(&outage_aware(&http))
            .await
            .map_err(|e| self.request_error("refresh", e))?;
        let mut tokens = self.tokens_from(token, token_endpoint.to_string())?;
        // Providers that do not rotate refresh tokens omit it: keep the old one.
        if tokens.refresh_token.is_none() {
            tokens.refresh_token = Some(refresh_token.clone());
        }
        Ok(tokens)
    }

    /// RFC 7009: revokes `refresh_token` at the provider's `revocation_endpoint` (found by
    /// discovery). `Ok(false)` when the provider offers no revocation endpoint. Per RFC 7009 a
    /// token the provider no longer knows is answered 200 too, so `Ok(true)` means "the provider
    /// will not accept it any more".
    pub async fn revoke_refresh_token(
        &self,
        refresh_token: &Secret,
    ) -> Result<bool, IdentityProviderError> {
        let http = self.http_client()?;
        let endpoints = self.discover_with(&http).await?;
        let Some(url) = endpoints.revocation_endpoint else {
            debug!("sso: the provider has no revocation_endpoint; refresh token not revoked");
            return Ok(false);
        };
        // A plain form POST (RFC 7009 §2.1; public client: client_id in the body). The oauth2
        // crate refuses http:// revocation URLs, which local and test providers use.
        debug!("sso: revoking the refresh token at {url}");
        let resp = http
            .post(&url)
            .form(&[
                ("token", refresh_token.expose_secret()),
                ("token_type_hint", "refresh_token"),
                ("client_id", self.client_id.as_str()),
            ])
            .send()
            .await
            .map_err(|e| {
                self.unreachable(
                    format!(
                        "revocation: {}",
                        describe_connect_error(&e, &SSO_TLS_FIXES, TlsProblem::find(&e))
                    ),
                    Some(Box::new(e.without_url())),
                )
            })?;
        let status = resp.status().as_u16();
        if not_serving(status) {
            return Err(self.unreachable(format!("revocation: {url} answered HTTP {status}"), None));
        }
        if status != 200 {
            let body: serde_json::Value = resp.json().await.unwrap_or_default();
            let code = body["error"]
                .as_str()
                .unwrap_or("no error code")
                .to_string();
            return Err(IdentityProviderError::BadResponse {
                issuer: self.issuer.clone(),
                status,
                url,
                message: format!("the revocation was refused ({code})"),
            });
        }
        Ok(true)
    }

    fn tokens_from(
        &self,
        token: OidcTokenResponse,
        token_endpoint: String,
    ) -> Result<OidcTokens, IdentityProviderError> {
        let id_token = token.extra_fields().id_token.clone().ok_or_else(|| {
            self.config_error("the token response has no id_token: is the `openid` scope allowed for this client?".to_string())
        })?;
        Ok(OidcTokens {
            id_token,
            refresh_token: token
                .refresh_token()
                .map(|r| Secret::from(r.secret().clone())),
            token_endpoint,
        })
    }

    fn request_error<RE, TE>(
        &self,
        what: &str,
        e: RequestTokenError<RE, TE>,
    ) -> IdentityProviderError
    where
        RE: std::error::Error + Send + Sync + 'static,
        TE: oauth2::ErrorResponse + ErrorCode + 'static,
    {
        let issuer = self.issuer.clone();
        let step = what.to_string();
        match e {
            RequestTokenError::ServerResponse(resp) => {
                let code = resp.code();
                match code.as_str() {
                    "access_denied" => IdentityProviderError::Denied { issuer, step },
                    "expired_token" => IdentityProviderError::Expired { issuer, step },
                    "invalid_grant" if what == "refresh" => {
                        IdentityProviderError::RefreshTokenInvalid { issuer }
                    }
                    "invalid_client" | "unauthorized_client" => {
                        IdentityProviderError::ClientRefused {
                            issuer,
                            step,
                            client_id: self.client_id.clone(),
                            code,
                        }
                    }
                    _ => IdentityProviderError::Refused { issuer, step, code },
                }
            }
            RequestTokenError::Request(e) => {
                let reason = format!("{what}: {}", error_chain(&e));
                self.unreachable(reason, Some(Box::new(e)))
            }
            RequestTokenError::Parse(e, _body) => {
                self.config_error(format!("{what}: unexpected answer from the provider: {e}"))
            }
            RequestTokenError::Other(msg) => self.config_error(format!("{what}: {msg}")),
        }
    }
}

/// The first endpoint that is not https while the issuer is (a downgrade), with its name.
fn plain_http_endpoint<'a>(
    issuer: &str,
    endpoints: &'a OidcEndpoints,
) -> Option<(&'static str, &'a str)> {
    if !issuer.starts_with("https://") {
        return None;
    }
    [
        ("token_endpoint", Some(&endpoints.token_endpoint)),
        (
            "device_authorization_endpoint",
            endpoints.device_authorization_endpoint.as_ref(),
        ),
        (
            "revocation_endpoint",
            endpoints.revocation_endpoint.as_ref(),
        ),
    ]
    .into_iter()
    .find_map(|(name, url)| {
        url.filter(|u| !u.starts_with("https://"))
            .map(|u| (name, u.as_str()))
    })
}

/// A gateway or proxy status: the provider (or what is in front of it, e.g. an ingress whose
/// backend is down) is not serving. An outage, not an answer about the request.
fn not_serving(status: u16) -> bool {
    matches!(status, 502..=504)
}

/// Why a request to the provider got no usable answer.
#[derive(Debug, thiserror::Error)]
enum ProviderHttpError {
    #[error(transparent)]
    Http(#[from] HttpClientError<reqwest::Error>),
    #[error("{0} answered HTTP {1}")]
    NotServing(String, u16),
}

type ProviderFuture = Pin<Box<dyn Future<Output = Result<HttpResponse, ProviderHttpError>> + Send>>;

/// The oauth2 crate's HTTP client, except that a 502/503/504 is a transport error (so it
/// becomes [`IdentityProviderError::Unreachable`]): oauth2 itself drops the status of an error answer
/// and would report an ingress's HTML error page as an unparsable token response.
fn outage_aware(http: &reqwest::Client) -> impl Fn(HttpRequest) -> ProviderFuture + use<> {
    let http = http.clone();
    move |request: HttpRequest| {
        let http = http.clone();
        Box::pin(async move {
            let uri = request.uri().to_string();
            let response = http.call(request).await?;
            let status = response.status().as_u16();
            if not_serving(status) {
                return Err(ProviderHttpError::NotServing(uri, status));
            }
            Ok(response)
        })
    }
}

/// `url` when it is an absolute http(s) URL: the only kind handed to the browser (the address
/// comes from the provider; a `file:` or custom-scheme URL could start a local program).
fn web_url(url: &str) -> Option<&str> {
    let parsed = url::Url::parse(url).ok()?;
    matches!(parsed.scheme(), "http" | "https").then_some(url)
}

/// An error and its causes, `: `-separated (reqwest's own message omits the cause).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        msg = format!("{msg}: {s}");
        source = s.source();
    }
    msg
}

/// The OAuth error code of an error response (for both basic and device-code responses).
trait ErrorCode {
    fn code(&self) -> String;
}

impl ErrorCode for BasicErrorResponse {
    fn code(&self) -> String {
        self.error().as_ref().to_string()
    }
}

impl ErrorCode for oauth2::DeviceCodeErrorResponse {
    fn code(&self) -> String {
        match self.error() {
            DeviceCodeErrorResponseType::AccessDenied => "access_denied".to_string(),
            DeviceCodeErrorResponseType::ExpiredToken => "expired_token".to_string(),
            other => other.as_ref().to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    /// A provider CA file that cannot be read is a settings error whose cause (which file,
    /// which OS error) the caller can inspect; the provider is never contacted.
    #[tokio::test]
    async fn an_unreadable_provider_ca_file_is_misconfigured_keeping_its_cause() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-such-idp-ca.pem");
        let auth = ZitadelOidcAuth::new("https://idp.example.com", "cli").with_tls(TlsOptions {
            ca_cert: Some(missing.clone()),
            ..Default::default()
        });
        let e = auth.discover().await.unwrap_err();
        assert!(
            matches!(e, IdentityProviderError::Misconfigured { .. }),
            "{e:?}"
        );
        assert!(e.to_string().contains("no-such-idp-ca.pem"), "{e}");
        let cause = std::error::Error::source(&e).expect("the TLS error is kept");
        match cause.downcast_ref::<crate::openbao_http::TlsConfigError>() {
            Some(crate::openbao_http::TlsConfigError::Unreadable { path, source }) => {
                assert_eq!(path, &missing);
                assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
            }
            other => panic!("expected the unreadable CA file, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn without_a_terminal_the_default_prompt_refuses_at_once() {
        // The issuer is never contacted: the refusal comes before discovery.
        let auth = ZitadelOidcAuth::new("http://127.0.0.1:9", "cli").with_terminal_probe(|| false);
        let e = auth.device_login().await.unwrap_err();
        let text = e.to_string();
        assert!(
            matches!(e, IdentityProviderError::InteractionRequired { .. }),
            "{text}"
        );
        assert!(text.contains("browser login"), "{text}");
        assert!(text.contains("terminal"), "{text}");
        assert!(text.contains("OPENBAO_TOKEN"), "{text}");
        assert!(text.contains("cache a session"), "{text}");
        assert!(text.contains("HARMONY_SSO_ALLOW_NO_TTY=1"), "{text}");
        assert!(
            text.contains(".allow_device_flow_without_terminal(true)"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn the_option_allows_the_device_flow_without_a_terminal() {
        let auth = ZitadelOidcAuth::new("http://127.0.0.1:9", "cli")
            .with_terminal_probe(|| false)
            .allow_device_flow_without_terminal(true);
        let e = auth.device_login().await.unwrap_err();
        // Not refused: it went on to discovery, which finds nothing listening.
        assert!(
            matches!(e, IdentityProviderError::Unreachable { .. }),
            "{e}"
        );
    }

    /// The identity provider's own error kind keeps its cause, and the store error it becomes
    /// is the same outage with the same message (so a config chain falls through as before).
    #[tokio::test]
    async fn an_unreachable_provider_keeps_the_cause_and_stays_an_outage_for_the_store() {
        use std::error::Error as _;
        let auth = ZitadelOidcAuth::new("http://127.0.0.1:9", "cli");
        let e = auth.discover().await.unwrap_err();
        assert!(e.is_unavailable() && !e.is_rejection(), "{e:?}");
        assert_eq!(e.issuer(), "http://127.0.0.1:9");
        let source = e
            .source()
            .expect("the transport error is kept as the source");
        assert!(!source.to_string().is_empty());
        let text = e.to_string();
        assert!(
            text.starts_with(
                "the identity provider at http://127.0.0.1:9 is unreachable: discovery"
            ) && text.contains("Check that it is running"),
            "{text}"
        );
        let store_error = crate::SecretStoreError::from(e);
        assert!(store_error.is_unavailable(), "{store_error:?}");
        assert_eq!(store_error.to_string(), text);
    }

    #[test]
    fn refusals_keep_their_message_as_store_errors() {
        let e = IdentityProviderError::Denied {
            issuer: "https://sso.example".into(),
            step: "device flow".into(),
        };
        let text = e.to_string();
        assert_eq!(
            text,
            "the identity provider at https://sso.example rejected the OIDC device flow \
             credentials: the sign-in was denied or cancelled in the browser (access_denied)"
        );
        let store_error = crate::SecretStoreError::from(e);
        assert!(
            matches!(&store_error, crate::SecretStoreError::BadCredentials { method, .. } if method == "OIDC device flow"),
            "{store_error:?}"
        );
        assert_eq!(store_error.to_string(), text);
    }

    #[tokio::test]
    async fn a_custom_prompt_is_used_even_without_a_terminal() {
        let auth = ZitadelOidcAuth::new("http://127.0.0.1:9", "cli")
            .with_terminal_probe(|| false)
            .with_prompt(std::sync::Arc::new(|_: &DeviceCodeInfo| {}));
        let e = auth.device_login().await.unwrap_err();
        // It went on to discovery, which finds nothing listening.
        assert!(
            matches!(e, IdentityProviderError::Unreachable { .. }),
            "{e}"
        );
    }

    use super::*;

    #[test]
    fn only_http_and_https_addresses_go_to_the_browser() {
        assert!(web_url("https://sso.example.com/device?user_code=AB").is_some());
        assert!(web_url("http://127.0.0.1:9000/device").is_some());
        for bad in [
            "file:///etc/passwd",
            "javascript:alert(1)",
            "smb://host/share",
            "/device",
            "",
        ] {
            assert!(web_url(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn an_https_issuer_with_a_plain_http_endpoint_is_a_downgrade() {
        let endpoints = |token: &str, device: &str, revoke: Option<&str>| OidcEndpoints {
            issuer: "https://sso.example.com".into(),
            token_endpoint: token.into(),
            device_authorization_endpoint: Some(device.into()),
            revocation_endpoint: revoke.map(str::to_string),
        };
        let https = "https://sso.example.com";
        let good = endpoints(
            "https://sso.example.com/oauth/v2/token",
            "https://sso.example.com/oauth/v2/device_authorization",
            Some("https://sso.example.com/oauth/v2/revoke"),
        );
        assert_eq!(plain_http_endpoint(https, &good), None);
        let bad = endpoints(
            "https://sso.example.com/oauth/v2/token",
            "http://sso.example.com/oauth/v2/device_authorization",
            None,
        );
        assert_eq!(
            plain_http_endpoint(https, &bad),
            Some((
                "device_authorization_endpoint",
                "http://sso.example.com/oauth/v2/device_authorization"
            ))
        );
        let bad = endpoints(
            "http://sso.example.com/t",
            "https://sso.example.com/d",
            None,
        );
        assert_eq!(
            plain_http_endpoint(https, &bad).unwrap().0,
            "token_endpoint"
        );
        let bad = endpoints(
            "https://sso.example.com/t",
            "https://sso.example.com/d",
            Some("http://sso.example.com/r"),
        );
        assert_eq!(
            plain_http_endpoint(https, &bad).unwrap().0,
            "revocation_endpoint"
        );
        // A plain http issuer (a local test provider) has nothing to downgrade.
        assert_eq!(plain_http_endpoint("http://127.0.0.1:9", &bad), None);
    }

    #[test]
    fn scopes_include_offline_access_and_project_audience() {
        let auth = ZitadelOidcAuth::new("https://sso.example.com/", "cli").with_project_id("42");
        assert_eq!(auth.issuer(), "https://sso.example.com");
        let scopes = auth.scopes();
        assert!(scopes.contains(&"offline_access".to_string()));
        assert!(scopes.contains(&"urn:zitadel:iam:org:project:id:42:aud".to_string()));
    }
}
