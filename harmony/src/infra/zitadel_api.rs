//! A small typed client for the Zitadel Management API v1 (REST through grpc-gateway).
//!
//! Only the endpoints Harmony uses are here: the caller's org, project search/create, OIDC app
//! search/create (a native public client with the device-code grant) and project roles.
//!
//! Wire conventions handled here (see the facts file, section A):
//! - int64 values arrive as strings (`"totalResult": "1"`) and sometimes as numbers: both accepted;
//! - empty or default fields are omitted (`result` missing when nothing matches): every response
//!   field has `#[serde(default)]`, unknown fields are ignored;
//! - errors are a `google.rpc.Status` body whose `code` is an int (v1) or a string (Connect);
//!   `409` or code 6 means "already exists";
//! - Zitadel routes by the `Host` header, so the client sends the external domain as `Host`
//!   and can therefore call a port-forward URL such as `http://127.0.0.1:43121`.
//!
//! The personal access token is sent as a bearer token and is never logged nor shown by `Debug`.

use std::fmt;
use std::time::Duration;

use harmony_secret::{ExposeSecret, SecretString};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

/// A personal access token: a [`SecretString`], so `Debug` never shows it and it is zeroed on
/// drop. Build one with `Pat::from(token)`; [`ZitadelClient::new`] trims surrounding whitespace.
pub type Pat = SecretString;

/// gRPC status codes that matter to callers, decoded from the int or string form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RpcCode {
    /// Code 3: the request is malformed (a field Zitadel refuses).
    InvalidArgument,
    /// Code 5: the object (project, app, user) does not exist.
    NotFound,
    /// Code 6: an object with that name already exists.
    AlreadyExists,
    /// Code 7: the PAT's user lacks the permission (e.g. not an org or IAM owner).
    PermissionDenied,
    /// Code 9: the object is not in a state that allows the call.
    FailedPrecondition,
    /// Code 13: a server-side failure; usually worth a retry.
    Internal,
    /// Code 16: the PAT is missing, wrong or expired.
    Unauthenticated,
    /// Any other code, as sent.
    Other(String),
    /// The body had no code (e.g. a proxy error page).
    Missing,
}

impl RpcCode {
    fn from_int(code: i64) -> Self {
        match code {
            3 => Self::InvalidArgument,
            5 => Self::NotFound,
            6 => Self::AlreadyExists,
            7 => Self::PermissionDenied,
            9 => Self::FailedPrecondition,
            13 => Self::Internal,
            16 => Self::Unauthenticated,
            other => Self::Other(other.to_string()),
        }
    }

    fn from_text(code: &str) -> Self {
        match code.to_ascii_lowercase().as_str() {
            "invalid_argument" => Self::InvalidArgument,
            "not_found" => Self::NotFound,
            "already_exists" => Self::AlreadyExists,
            "permission_denied" => Self::PermissionDenied,
            "failed_precondition" => Self::FailedPrecondition,
            "internal" => Self::Internal,
            "unauthenticated" => Self::Unauthenticated,
            other => match other.parse::<i64>() {
                Ok(n) => Self::from_int(n),
                Err(_) => Self::Other(other.to_string()),
            },
        }
    }
}

impl fmt::Display for RpcCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RpcCode::InvalidArgument => f.write_str("invalid_argument"),
            RpcCode::NotFound => f.write_str("not_found"),
            RpcCode::AlreadyExists => f.write_str("already_exists"),
            RpcCode::PermissionDenied => f.write_str("permission_denied"),
            RpcCode::FailedPrecondition => f.write_str("failed_precondition"),
            RpcCode::Internal => f.write_str("internal"),
            RpcCode::Unauthenticated => f.write_str("unauthenticated"),
            RpcCode::Other(code) => write!(f, "code {code}"),
            RpcCode::Missing => f.write_str("no code"),
        }
    }
}

/// An error from the Zitadel client. Each variant names the endpoint it came from.
#[derive(Debug, thiserror::Error)]
pub enum ZitadelApiError {
    /// Zitadel answered with an error status.
    #[error("Zitadel {endpoint}: HTTP {status}, {code}: {message}")]
    Api {
        /// Method and path, e.g. `POST /management/v1/projects`.
        endpoint: String,
        /// The HTTP status code.
        status: u16,
        /// The gRPC code of the error body ([`RpcCode::Missing`] when there was none).
        code: RpcCode,
        /// Zitadel's message, or the start of a non-JSON body.
        message: String,
    },
    /// The request did not get an answer (connection refused, timeout, TLS).
    #[error("Zitadel {endpoint}: request failed: {message}")]
    Transport {
        /// Method and path of the request.
        endpoint: String,
        /// What failed, without the URL's secrets.
        message: String,
    },
    /// The answer was a success but its body was not what the endpoint documents.
    #[error("Zitadel {endpoint}: unexpected response body: {message}")]
    Decode {
        /// Method and path of the request.
        endpoint: String,
        /// What did not match.
        message: String,
    },
    /// [`ZitadelClient::new`] refused its arguments (bad URL, host or empty PAT).
    #[error("invalid Zitadel client settings: {0}")]
    Settings(String),
    /// A create answered 409 but the search still did not find the object after the window.
    #[error(
        "Zitadel says {what} already exists ({conflict}), but its search did not return it within {seconds}s (search projections lag behind writes); re-run, and check that the token's user can see it"
    )]
    Lagging {
        /// The object, e.g. `project "harmony"`.
        what: String,
        /// The search-lag window that ran out, in seconds.
        seconds: u64,
        /// The 409 answer of the create.
        conflict: Box<ZitadelApiError>,
    },
}

impl ZitadelApiError {
    /// `409` or code 6 (AlreadyExists).
    pub fn is_already_exists(&self) -> bool {
        matches!(self, ZitadelApiError::Api { status, code, .. }
            if *status == 409 || *code == RpcCode::AlreadyExists)
    }

    /// `401` or code 16 (the PAT is wrong or expired).
    pub fn is_unauthenticated(&self) -> bool {
        matches!(self, ZitadelApiError::Api { status, code, .. }
            if *status == 401 || *code == RpcCode::Unauthenticated)
    }

    /// `404` or code 5.
    pub fn is_not_found(&self) -> bool {
        matches!(self, ZitadelApiError::Api { status, code, .. }
            if *status == 404 || *code == RpcCode::NotFound)
    }
}

// ------------------------------------------------------------------------------------------
// serde helpers

fn de_u64_lenient<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum StrOrNum {
        Num(u64),
        Str(String),
        Null,
    }
    match StrOrNum::deserialize(deserializer)? {
        StrOrNum::Num(n) => Ok(n),
        StrOrNum::Str(s) if s.is_empty() => Ok(0),
        StrOrNum::Str(s) => s.parse().map_err(serde::de::Error::custom),
        StrOrNum::Null => Ok(0),
    }
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum CodeWire {
    Int(i64),
    Text(String),
}

/// The google.rpc.Status error body (v1 numeric code, or Connect string code).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct StatusBody {
    code: Option<CodeWire>,
    message: String,
}

// ------------------------------------------------------------------------------------------
// Shared types

/// Bookkeeping Zitadel attaches to every object it returns.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ObjectDetails {
    /// The event sequence number of the object's last change.
    #[serde(deserialize_with = "de_u64_lenient")]
    pub sequence: u64,
    /// RFC 3339 timestamp of the creation (empty when Zitadel omits it).
    pub creation_date: String,
    /// RFC 3339 timestamp of the last change.
    pub change_date: String,
    /// Id of the org that owns the object.
    pub resource_owner: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct ListDetails {
    #[serde(deserialize_with = "de_u64_lenient")]
    pub total_result: u64,
    #[serde(deserialize_with = "de_u64_lenient")]
    pub processed_sequence: u64,
    pub view_timestamp: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct ListQuery {
    offset: String,
    limit: u32,
    asc: bool,
}

impl Default for ListQuery {
    fn default() -> Self {
        Self {
            offset: "0".to_string(),
            limit: 100,
            asc: true,
        }
    }
}

const TEXT_EQUALS: &str = "TEXT_QUERY_METHOD_EQUALS";

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct ListResponse<T> {
    details: ListDetails,
    result: Vec<T>,
}

// ------------------------------------------------------------------------------------------
// Orgs

/// A Zitadel organization, as [`ZitadelClient::my_org`] returns it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Org {
    /// The org id (digits, as a string).
    pub id: String,
    /// Sequence, dates and owner.
    pub details: ObjectDetails,
    /// E.g. `ORG_STATE_ACTIVE`.
    pub state: String,
    /// Display name, e.g. `ZITADEL`.
    pub name: String,
    /// The org's primary domain (Zitadel derives it from the org name and `ExternalDomain`).
    pub primary_domain: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct MyOrgResponse {
    org: Org,
}

// ------------------------------------------------------------------------------------------
// Projects

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct Project {
    pub id: String,
    pub details: ObjectDetails,
    pub name: String,
    pub state: String,
    pub project_role_assertion: bool,
    pub project_role_check: bool,
    pub has_project_check: bool,
}

/// Body of `POST /management/v1/projects`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AddProjectRequest {
    pub name: String,
    /// Puts the user's roles in the tokens (needed for role-based OpenBao policies).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub project_role_assertion: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub project_role_check: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub has_project_check: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct AddProjectResponse {
    pub id: String,
    pub details: ObjectDetails,
}

// ------------------------------------------------------------------------------------------
// Apps

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum OidcResponseType {
    #[serde(rename = "OIDC_RESPONSE_TYPE_CODE")]
    Code,
    #[serde(rename = "OIDC_RESPONSE_TYPE_ID_TOKEN")]
    IdToken,
    #[serde(rename = "OIDC_RESPONSE_TYPE_ID_TOKEN_TOKEN")]
    IdTokenToken,
    #[serde(other, skip_serializing)]
    Unknown,
}

/// Grant types, always sent with the full `OIDC_GRANT_TYPE_` prefix (a bare `DEVICE_CODE` is
/// silently dropped by Zitadel, and the device flow then fails at the token endpoint).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum OidcGrantType {
    #[serde(rename = "OIDC_GRANT_TYPE_AUTHORIZATION_CODE")]
    AuthorizationCode,
    #[serde(rename = "OIDC_GRANT_TYPE_IMPLICIT")]
    Implicit,
    #[serde(rename = "OIDC_GRANT_TYPE_REFRESH_TOKEN")]
    RefreshToken,
    #[serde(rename = "OIDC_GRANT_TYPE_DEVICE_CODE")]
    DeviceCode,
    #[serde(rename = "OIDC_GRANT_TYPE_TOKEN_EXCHANGE")]
    TokenExchange,
    #[serde(other, skip_serializing)]
    Unknown,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum OidcAppType {
    #[serde(rename = "OIDC_APP_TYPE_WEB")]
    #[default]
    Web,
    #[serde(rename = "OIDC_APP_TYPE_USER_AGENT")]
    UserAgent,
    #[serde(rename = "OIDC_APP_TYPE_NATIVE")]
    Native,
    #[serde(other, skip_serializing)]
    Unknown,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum OidcAuthMethodType {
    #[serde(rename = "OIDC_AUTH_METHOD_TYPE_BASIC")]
    #[default]
    Basic,
    #[serde(rename = "OIDC_AUTH_METHOD_TYPE_POST")]
    Post,
    #[serde(rename = "OIDC_AUTH_METHOD_TYPE_NONE")]
    None,
    #[serde(rename = "OIDC_AUTH_METHOD_TYPE_PRIVATE_KEY_JWT")]
    PrivateKeyJwt,
    #[serde(other, skip_serializing)]
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum OidcTokenType {
    #[serde(rename = "OIDC_TOKEN_TYPE_BEARER")]
    Bearer,
    #[serde(rename = "OIDC_TOKEN_TYPE_JWT")]
    Jwt,
    #[serde(other, skip_serializing)]
    Unknown,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct OidcConfig {
    pub client_id: String,
    pub redirect_uris: Vec<String>,
    pub response_types: Vec<OidcResponseType>,
    pub grant_types: Vec<OidcGrantType>,
    pub app_type: OidcAppType,
    pub auth_method_type: OidcAuthMethodType,
    pub dev_mode: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct ApiConfig {
    pub client_id: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct App {
    pub id: String,
    pub details: ObjectDetails,
    pub state: String,
    pub name: String,
    pub oidc_config: Option<OidcConfig>,
    pub api_config: Option<ApiConfig>,
}

impl App {
    /// The OAuth client id, whatever the app type.
    pub(crate) fn client_id(&self) -> Option<&str> {
        self.oidc_config
            .as_ref()
            .map(|c| c.client_id.as_str())
            .or(self.api_config.as_ref().map(|c| c.client_id.as_str()))
            .filter(|id| !id.is_empty())
    }
}

/// Body of `POST /management/v1/projects/{projectId}/apps/oidc`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AddOidcAppRequest {
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub response_types: Vec<OidcResponseType>,
    pub grant_types: Vec<OidcGrantType>,
    pub app_type: OidcAppType,
    pub auth_method_type: OidcAuthMethodType,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub post_logout_redirect_uris: Vec<String>,
    pub dev_mode: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token_type: Option<OidcTokenType>,
    pub access_token_role_assertion: bool,
    pub id_token_role_assertion: bool,
    pub id_token_userinfo_assertion: bool,
}

impl AddOidcAppRequest {
    /// A native public client (no secret) for CLIs: device-code grant plus authorization code
    /// (with a localhost redirect) and refresh tokens; roles and user info in the id_token, so
    /// OpenBao's JWT auth can use `email` as `user_claim`.
    pub(crate) fn native_device_code(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            redirect_uris: vec!["http://localhost:8250/oidc/callback".to_string()],
            response_types: vec![OidcResponseType::Code],
            grant_types: vec![
                OidcGrantType::AuthorizationCode,
                OidcGrantType::DeviceCode,
                OidcGrantType::RefreshToken,
            ],
            app_type: OidcAppType::Native,
            auth_method_type: OidcAuthMethodType::None,
            post_logout_redirect_uris: Vec::new(),
            dev_mode: true,
            access_token_type: Some(OidcTokenType::Jwt),
            access_token_role_assertion: true,
            id_token_role_assertion: true,
            id_token_userinfo_assertion: true,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct AddOidcAppResponse {
    pub app_id: String,
    pub details: ObjectDetails,
    pub client_id: String,
    /// Only for confidential clients; `Debug` shows `[REDACTED]`.
    pub client_secret: SecretString,
    pub none_compliant: bool,
    pub compliance_problems: Vec<serde_json::Value>,
}

// ------------------------------------------------------------------------------------------
// Roles

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AddProjectRoleRequest {
    pub role_key: String,
    pub display_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub group: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct Role {
    pub key: String,
    pub display_name: String,
    pub group: String,
    pub details: ObjectDetails,
}

// ------------------------------------------------------------------------------------------
// Results of find-or-create

/// An id, and whether this call created the object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ensured<T> {
    pub value: T,
    pub created: bool,
}

/// The OIDC app Harmony's CLI uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EnsuredApp {
    pub app_id: String,
    pub client_id: String,
}

// ------------------------------------------------------------------------------------------
// Client

/// The typed Management API client.
#[derive(Clone)]
pub struct ZitadelClient {
    http: reqwest::Client,
    base_url: String,
    host: String,
    pat: Pat,
    /// How long to keep searching for an object whose creation answered 409.
    search_lag_window: Duration,
}

/// Zitadel's readiness endpoint (`GET /debug/ready`, no token), called with its `Host` header
/// so that a port-forward URL works before DNS is set up.
#[derive(Debug, Clone)]
pub struct ZitadelReadiness {
    http: reqwest::Client,
    url: String,
    host: String,
}

impl ZitadelReadiness {
    /// `base_url`: where to connect (e.g. a port-forward); `host`: Zitadel's `ExternalDomain`.
    pub fn new(base_url: &str, host: impl Into<String>) -> Result<Self, ZitadelApiError> {
        let base_url = base_url.trim_end_matches('/');
        let http = crate::infra::proxy::client_builder_for(base_url)
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| ZitadelApiError::Settings(e.to_string()))?;
        Ok(Self {
            http,
            url: format!("{base_url}/debug/ready"),
            host: host.into(),
        })
    }

    /// True when Zitadel answers `/debug/ready` with a success status.
    pub async fn answers(&self) -> bool {
        self.http
            .get(&self.url)
            .header(reqwest::header::HOST, &self.host)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    }
}

/// Default of [`ZitadelClient::with_search_lag_window`].
pub const DEFAULT_SEARCH_LAG_WINDOW: Duration = Duration::from_secs(15);

impl fmt::Debug for ZitadelClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZitadelClient")
            .field("base_url", &self.base_url)
            .field("host", &self.host)
            .field("pat", &self.pat)
            .finish()
    }
}

impl ZitadelClient {
    /// `base_url`: where to connect (the issuer URL, or a port-forward such as
    /// `http://127.0.0.1:43121`). `host`: the value of the `Host` header, i.e. Zitadel's
    /// `ExternalDomain` (optionally `:port`). `pat`: a personal access token (e.g. from the
    /// `iam-admin-pat` Secret).
    pub fn new(
        base_url: impl Into<String>,
        host: impl Into<String>,
        pat: Pat,
    ) -> Result<Self, ZitadelApiError> {
        let base_url = base_url.into().trim_end_matches('/').to_string();
        url::Url::parse(&base_url)
            .map_err(|e| ZitadelApiError::Settings(format!("base URL {base_url:?}: {e}")))?;
        let host = host.into();
        if host.is_empty() || host.contains('/') {
            return Err(ZitadelApiError::Settings(format!(
                "host {host:?} must be a bare domain such as zitadel.harmony.local"
            )));
        }
        // A token pasted with a newline (from a file, a Secret) still works.
        let pat = Pat::from(pat.expose_secret().trim());
        if pat.expose_secret().is_empty() {
            return Err(ZitadelApiError::Settings(
                "the personal access token is empty".to_string(),
            ));
        }
        // Usually a port-forward on 127.0.0.1: never through a proxy.
        let http = crate::infra::proxy::client_builder_for(&base_url)
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| ZitadelApiError::Settings(e.to_string()))?;
        Ok(Self {
            http,
            base_url,
            host,
            pat,
            search_lag_window: DEFAULT_SEARCH_LAG_WINDOW,
        })
    }

    /// After a create answers 409 (name taken), Zitadel's search reads a projection that can
    /// lag the write: the search is retried with backoff for at most `window` before failing.
    pub fn with_search_lag_window(mut self, window: Duration) -> Self {
        self.search_lag_window = window;
        self
    }

    /// Runs `search` until it finds something, with exponential backoff bounded by the
    /// search-lag window. `Ok(None)`: still not found when the window closed.
    async fn search_after_conflict<T, F, Fut>(
        &self,
        mut search: F,
    ) -> Result<Option<T>, ZitadelApiError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<Option<T>, ZitadelApiError>>,
    {
        use backon::{ExponentialBuilder, Retryable};
        enum Miss {
            NotYet,
            Failed(ZitadelApiError),
        }
        let backoff = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(100))
            .with_max_delay(Duration::from_secs(2))
            .without_max_times()
            .with_total_delay(Some(self.search_lag_window));
        let found = (|| {
            let attempt = search();
            async move {
                match attempt.await {
                    Ok(Some(found)) => Ok(found),
                    Ok(None) => Err(Miss::NotYet),
                    Err(e) => Err(Miss::Failed(e)),
                }
            }
        })
        .retry(backoff)
        .when(|miss| matches!(miss, Miss::NotYet))
        .await;
        match found {
            Ok(found) => Ok(Some(found)),
            Err(Miss::NotYet) => Ok(None),
            Err(Miss::Failed(e)) => Err(e),
        }
    }

    fn lagging_search_error(&self, what: String, conflict: ZitadelApiError) -> ZitadelApiError {
        ZitadelApiError::Lagging {
            what,
            seconds: self.search_lag_window.as_secs(),
            conflict: Box::new(conflict),
        }
    }

    /// Where the client connects, without a trailing `/`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The `Host` header it sends (Zitadel's `ExternalDomain`).
    pub fn host(&self) -> &str {
        &self.host
    }

    async fn call<B: Serialize, R: DeserializeOwned + Default>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<R, ZitadelApiError> {
        let endpoint = format!("{method} {path}");
        let mut request = self
            .http
            .request(method, format!("{}{}", self.base_url, path))
            .header(reqwest::header::HOST, &self.host)
            .header(reqwest::header::ACCEPT, "application/json")
            .bearer_auth(self.pat.expose_secret());
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| ZitadelApiError::Transport {
                endpoint: endpoint.clone(),
                message: crate::infra::http_error::transport_message(e),
            })?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| ZitadelApiError::Transport {
                endpoint: endpoint.clone(),
                message: crate::infra::http_error::transport_message(e),
            })?;
        if !status.is_success() {
            return Err(decode_error(endpoint, status, &bytes));
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(R::default());
        }
        serde_json::from_slice(&bytes).map_err(|e| ZitadelApiError::Decode {
            endpoint,
            message: e.to_string(),
        })
    }

    /// `GET /management/v1/orgs/me`: the org of the PAT's user. Also a cheap "does the PAT work"
    /// check.
    pub async fn my_org(&self) -> Result<Org, ZitadelApiError> {
        let response: MyOrgResponse = self
            .call::<(), _>(Method::GET, "/management/v1/orgs/me", None)
            .await?;
        Ok(response.org)
    }

    /// `POST /management/v1/projects/_search` with an exact name query.
    pub(crate) async fn search_projects_by_name(
        &self,
        name: &str,
    ) -> Result<Vec<Project>, ZitadelApiError> {
        let body = serde_json::json!({
            "query": ListQuery::default(),
            "queries": [{"nameQuery": {"name": name, "method": TEXT_EQUALS}}],
        });
        let response: ListResponse<Project> = self
            .call(Method::POST, "/management/v1/projects/_search", Some(&body))
            .await?;
        // The server filters; filter again so a lenient server cannot hand us a neighbour.
        Ok(response
            .result
            .into_iter()
            .filter(|p| p.name == name)
            .collect())
    }

    /// `POST /management/v1/projects`.
    pub(crate) async fn create_project(
        &self,
        request: &AddProjectRequest,
    ) -> Result<AddProjectResponse, ZitadelApiError> {
        self.call(Method::POST, "/management/v1/projects", Some(request))
            .await
    }

    /// Finds the project by exact name, creates it when absent. A concurrent creation (409)
    /// is resolved by searching again, with backoff while the search lags (see
    /// [`Self::with_search_lag_window`]).
    pub(crate) async fn ensure_project(
        &self,
        request: &AddProjectRequest,
    ) -> Result<Ensured<String>, ZitadelApiError> {
        if let Some(project) = self
            .search_projects_by_name(&request.name)
            .await?
            .into_iter()
            .next()
        {
            return Ok(Ensured {
                value: project.id,
                created: false,
            });
        }
        match self.create_project(request).await {
            Ok(created) => Ok(Ensured {
                value: created.id,
                created: true,
            }),
            Err(e) if e.is_already_exists() => {
                let found = self
                    .search_after_conflict(|| async {
                        Ok(self
                            .search_projects_by_name(&request.name)
                            .await?
                            .into_iter()
                            .next())
                    })
                    .await?;
                found
                    .map(|p| Ensured {
                        value: p.id,
                        created: false,
                    })
                    .ok_or_else(|| {
                        self.lagging_search_error(format!("project {:?}", request.name), e)
                    })
            }
            Err(e) => Err(e),
        }
    }

    /// `POST /management/v1/projects/{projectId}/apps/_search` with an exact name query.
    pub(crate) async fn search_apps_by_name(
        &self,
        project_id: &str,
        name: &str,
    ) -> Result<Vec<App>, ZitadelApiError> {
        let body = serde_json::json!({
            "query": ListQuery::default(),
            "queries": [{"nameQuery": {"name": name, "method": TEXT_EQUALS}}],
        });
        let path = format!("/management/v1/projects/{}/apps/_search", seg(project_id));
        let response: ListResponse<App> = self.call(Method::POST, &path, Some(&body)).await?;
        Ok(response
            .result
            .into_iter()
            .filter(|a| a.name == name)
            .collect())
    }

    /// `POST /management/v1/projects/{projectId}/apps/oidc`.
    pub(crate) async fn create_oidc_app(
        &self,
        project_id: &str,
        request: &AddOidcAppRequest,
    ) -> Result<AddOidcAppResponse, ZitadelApiError> {
        let path = format!("/management/v1/projects/{}/apps/oidc", seg(project_id));
        self.call(Method::POST, &path, Some(request)).await
    }

    /// Finds the app by exact name in the project, creates it when absent (a 409 is resolved
    /// like in [`Self::ensure_project`]).
    pub(crate) async fn ensure_oidc_app(
        &self,
        project_id: &str,
        request: &AddOidcAppRequest,
    ) -> Result<Ensured<EnsuredApp>, ZitadelApiError> {
        let endpoint = format!("POST /management/v1/projects/{project_id}/apps/_search");
        let existing = |apps: Vec<App>| -> Result<Option<EnsuredApp>, ZitadelApiError> {
            match apps.into_iter().next() {
                None => Ok(None),
                Some(app) => match app.client_id() {
                    Some(client_id) => Ok(Some(EnsuredApp {
                        client_id: client_id.to_string(),
                        app_id: app.id,
                    })),
                    None => Err(ZitadelApiError::Decode {
                        endpoint: endpoint.clone(),
                        message: format!("app {:?} has no client id", app.name),
                    }),
                },
            }
        };
        if let Some(app) = existing(self.search_apps_by_name(project_id, &request.name).await?)? {
            return Ok(Ensured {
                value: app,
                created: false,
            });
        }
        match self.create_oidc_app(project_id, request).await {
            Ok(created) => Ok(Ensured {
                value: EnsuredApp {
                    app_id: created.app_id,
                    client_id: created.client_id,
                },
                created: true,
            }),
            Err(e) if e.is_already_exists() => {
                let found = self
                    .search_after_conflict(|| async {
                        existing(self.search_apps_by_name(project_id, &request.name).await?)
                    })
                    .await?;
                match found {
                    Some(app) => Ok(Ensured {
                        value: app,
                        created: false,
                    }),
                    None => Err(self.lagging_search_error(
                        format!("app {:?} of project {project_id}", request.name),
                        e,
                    )),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// `POST /management/v1/projects/{projectId}/roles/_search`, all roles of the project.
    pub(crate) async fn search_project_roles(
        &self,
        project_id: &str,
    ) -> Result<Vec<Role>, ZitadelApiError> {
        let body = serde_json::json!({ "query": ListQuery::default() });
        let path = format!("/management/v1/projects/{}/roles/_search", seg(project_id));
        let response: ListResponse<Role> = self.call(Method::POST, &path, Some(&body)).await?;
        Ok(response.result)
    }

    /// `POST /management/v1/projects/{projectId}/roles`.
    pub(crate) async fn add_project_role(
        &self,
        project_id: &str,
        request: &AddProjectRoleRequest,
    ) -> Result<(), ZitadelApiError> {
        let path = format!("/management/v1/projects/{}/roles", seg(project_id));
        let _: serde_json::Value = self.call(Method::POST, &path, Some(request)).await?;
        Ok(())
    }

    /// Adds the role unless a role with that key exists. Returns whether it was created.
    pub(crate) async fn ensure_project_role(
        &self,
        project_id: &str,
        request: &AddProjectRoleRequest,
    ) -> Result<bool, ZitadelApiError> {
        let roles = self.search_project_roles(project_id).await?;
        if roles.iter().any(|r| r.key == request.role_key) {
            return Ok(false);
        }
        match self.add_project_role(project_id, request).await {
            Ok(()) => Ok(true),
            Err(e) if e.is_already_exists() => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// Project and app ids are digits; refuse anything that would change the path.
fn seg(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_' || *c == '@')
        .collect()
}

fn decode_error(endpoint: String, status: StatusCode, body: &[u8]) -> ZitadelApiError {
    let parsed: Option<StatusBody> = serde_json::from_slice(body).ok();
    let (code, message) = match parsed {
        Some(status_body) => {
            let code = match status_body.code {
                Some(CodeWire::Int(n)) => RpcCode::from_int(n),
                Some(CodeWire::Text(s)) => RpcCode::from_text(&s),
                None => RpcCode::Missing,
            };
            (code, status_body.message)
        }
        None => (
            RpcCode::Missing,
            String::from_utf8_lossy(body).chars().take(200).collect(),
        ),
    };
    let message = if message.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("no message")
            .to_string()
    } else {
        message
    };
    ZitadelApiError::Api {
        endpoint,
        status: status.as_u16(),
        code,
        message,
    }
}

mod access;
pub(crate) use access::{GrantChange, UpdateProjectRequest, User};

#[cfg(test)]
pub(crate) mod tests;
