//! Brings an OpenBao server to Harmony's wanted state through its HTTP API only (no CLI, no
//! Kubernetes): init when needed, unseal on every run, KV v2 mount, ACL policies, userpass user,
//! JWT auth pointed at an OIDC issuer.
//!
//! Every step reads first (`GET sys/seal-status`, `sys/mounts`, `sys/auth`,
//! `sys/policies/acl/<name>`, `auth/userpass/users/<u>`, `auth/jwt/config`, `auth/jwt/role/<r>`)
//! and writes only on a difference, so a second run on a configured, unsealed server sends no
//! write request at all; [`SetupReport::writes`] lists the ones that were sent.
//!
//! The unseal keys and the root token live in an [`OpenbaoKeyStore`]: the Score plugs in
//! "Kubernetes Secret + local 0600 cache", tests plug in a [`FileKeyStore`] in a temp dir. A
//! userpass password cannot be read back from OpenBao, so the store also keeps a SHA-256 of
//! `user:password` to know when it changed. None of these values reach logs, errors or `Debug`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use harmony_secret::openbao_http::{OpenbaoHttp, OpenbaoHttpOptions, errors_of};
use harmony_secret::{ExposeSecret, SecretString};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

// ------------------------------------------------------------------------------------------
// Secrets kept by the key store

/// What `sys/init` returned, plus the password fingerprints. Never printed.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenbaoInitRecord {
    /// Unseal keys, base64 (OpenBao accepts base64 or hex). Empty for an auto-unsealed
    /// (transit) server.
    pub unseal_keys: Vec<String>,
    /// Recovery keys, base64, of an auto-unsealed (transit) server: they cannot unseal it, they
    /// authorise operations such as generating a new root token.
    #[serde(default)]
    pub recovery_keys: Vec<String>,
    /// The root token (never logged; `Debug` hides it).
    pub root_token: String,
    /// username -> sha256("user:password"), to detect a changed userpass password.
    #[serde(default)]
    pub userpass_password_sha256: BTreeMap<String, String>,
}

// Hand-written, not `SecretString` fields: the record must be `Serialize` (it is stored as JSON).
impl fmt::Debug for OpenbaoInitRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenbaoInitRecord")
            .field(
                "unseal_keys",
                &format_args!("<{} redacted>", self.unseal_keys.len()),
            )
            .field(
                "recovery_keys",
                &format_args!("<{} redacted>", self.recovery_keys.len()),
            )
            .field("root_token", &"<redacted>")
            .field(
                "userpass_password_sha256",
                &self.userpass_password_sha256.keys().collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Why a key store could not load or save the init record. Messages name the file or Secret
/// and never quote the record (unseal keys, root token): a malformed record is described by
/// position only (see [`KeyStoreError::Malformed`]).
#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    /// Reading or writing the Secret that holds the record failed.
    #[error(transparent)]
    Kubernetes(#[from] crate::infra::k8s::K8sError),
    /// Reading or writing a local key file failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// `reading` or `writing`.
        action: &'static str,
        /// The key file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The stored record is not valid JSON of the expected shape.
    #[error("{location} is not a valid {expected}: {detail}")]
    Malformed {
        /// Where it is, e.g. a file path or `Secret openbao/openbao-init key init.json`.
        location: String,
        /// What it should be, e.g. `key file`, `init record`.
        expected: &'static str,
        /// The parse error's category and position only (never the value).
        detail: String,
    },
    /// The record could not be encoded as JSON.
    #[error("{0}")]
    Encode(#[source] serde_json::Error),
    /// Saved in one place only (the local copy) because the other write failed.
    #[error("keys saved only in {saved_in} (Secret write failed: {source})")]
    SavedOnlyLocally {
        /// Where the keys were saved, e.g. `file /home/u/.local/share/harmony/...`.
        saved_in: String,
        /// Why the Secret write failed.
        #[source]
        source: Box<KeyStoreError>,
    },
    /// Neither the local copy nor the Secret could be written.
    #[error("local: {local}; Secret: {source}")]
    NotSaved {
        /// Why the local write failed.
        local: Box<KeyStoreError>,
        /// Why the Secret write failed.
        #[source]
        source: Box<KeyStoreError>,
    },
    /// This store does not keep keys (a plan, an existing OpenBao, the transit unsealer).
    #[error("{why}")]
    Refused {
        /// Why not, e.g. `a plan never saves keys`.
        why: &'static str,
    },
}

/// Where the unseal keys and root token are kept.
#[async_trait]
pub trait OpenbaoKeyStore: Send + Sync {
    /// The kept record, `None` when there is none yet. Errors name the store.
    async fn load(&self) -> Result<Option<OpenbaoInitRecord>, KeyStoreError>;
    /// Keeps `record` (replacing any previous one).
    async fn save(&self, record: &OpenbaoInitRecord) -> Result<(), KeyStoreError>;
    /// Where the keys are, for humans (e.g. "Secret openbao/openbao-init-keys").
    fn describe(&self) -> String;
}

/// A JSON file written 0600 in a 0700 folder, atomically.
#[derive(Debug, Clone)]
pub struct FileKeyStore {
    path: PathBuf,
}

/// Describes a JSON parse error by its category and position only: serde_json's message can
/// quote the offending value (`invalid type: string "<root token>"`), which may be a secret.
pub(crate) fn redacted_json_error(e: &serde_json::Error) -> String {
    let category = match e.classify() {
        serde_json::error::Category::Io => "read error",
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Data => "unexpected field type or value",
        serde_json::error::Category::Eof => "unexpected end of input",
    };
    format!("{category} at line {} column {}", e.line(), e.column())
}

impl FileKeyStore {
    /// A key file at `path` (created on the first save).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// Where the key file is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[async_trait]
impl OpenbaoKeyStore for FileKeyStore {
    async fn load(&self) -> Result<Option<OpenbaoInitRecord>, KeyStoreError> {
        let bytes = harmony_secret::private_file::read_if_exists(&self.path).map_err(|source| {
            KeyStoreError::Io {
                action: "reading",
                path: self.path.clone(),
                source,
            }
        })?;
        match bytes {
            None => Ok(None),
            Some(bytes) => {
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|e| KeyStoreError::Malformed {
                        location: self.path.display().to_string(),
                        expected: "key file",
                        detail: redacted_json_error(&e),
                    })
            }
        }
    }

    async fn save(&self, record: &OpenbaoInitRecord) -> Result<(), KeyStoreError> {
        let bytes = serde_json::to_vec_pretty(record).map_err(KeyStoreError::Encode)?;
        harmony_secret::private_file::write_private_atomic(&self.path, &bytes).map_err(|source| {
            KeyStoreError::Io {
                action: "writing",
                path: self.path.clone(),
                source,
            }
        })
    }

    fn describe(&self) -> String {
        format!("file {}", self.path.display())
    }
}

// ------------------------------------------------------------------------------------------
// Wanted state

/// An ACL policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenbaoPolicy {
    /// Policy name, e.g. `harmony-dev`.
    pub name: String,
    /// Its HCL rules.
    pub hcl: String,
}

/// The `harmony-dev` policy: CRUD on `secret/data/harmony/*`, list/read/delete on the metadata.
pub fn harmony_dev_policy(kv_mount: &str) -> OpenbaoPolicy {
    OpenbaoPolicy {
        name: "harmony-dev".to_string(),
        hcl: format!(
            "path \"{kv_mount}/data/harmony/*\" {{\n  capabilities = [\"create\", \"read\", \"update\", \"delete\", \"list\"]\n}}\n\npath \"{kv_mount}/metadata/harmony/*\" {{\n  capabilities = [\"list\", \"read\", \"delete\"]\n}}\n"
        ),
    }
}

/// A userpass user. `Debug` hides the password.
#[derive(Debug, Clone)]
pub struct OpenbaoUserpass {
    /// The user name.
    pub username: String,
    /// Its password (`Debug` hides it).
    pub password: SecretString,
    /// Policies granted at login.
    pub policies: Vec<String>,
}

/// JWT auth trusting an OIDC issuer (e.g. Zitadel), with one `role_type=jwt` role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenbaoJwtAuth {
    /// Exactly the issuer string (no trailing `/`, no `.well-known`): OpenBao fetches the
    /// discovery document when the config is written, so the issuer must be up and reachable
    /// from OpenBao.
    pub oidc_discovery_url: String,
    /// Checked against the token's `iss`; not implied by the discovery URL.
    pub bound_issuer: String,
    /// The role people log in with, e.g. `harmony-developer`.
    pub role: String,
    /// Mandatory when tokens carry `aud`: the OIDC client id (id_token audience).
    pub bound_audiences: Vec<String>,
    /// The token claim that names the person (default `email`).
    pub user_claim: String,
    /// Policies granted at login.
    pub policies: Vec<String>,
    /// e.g. "4h", "15m", "3600".
    pub token_ttl: String,
    /// Longest lifetime of a token, renewals included (same formats as `token_ttl`).
    pub token_max_ttl: String,
    /// Claims the id_token must carry, exactly (OpenBao `bound_claims`, `bound_claims_type =
    /// string`). A key starting with `/` is a JSON pointer into the claims, which is how a
    /// value inside a map claim is reached (see [`OpenbaoJwtAuth::require_zitadel_project_role`]).
    #[serde(default)]
    pub bound_claims: BTreeMap<String, Value>,
}

/// The id_token claim in which Zitadel lists the user's project roles (with
/// `projectRoleAssertion`): `{"<role key>": {"<org id>": "<org primary domain>"}}`.
pub const ZITADEL_PROJECT_ROLES_CLAIM: &str = "urn:zitadel:iam:org:project:roles";

/// Escapes one JSON-pointer segment (RFC 6901).
fn pointer_segment(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

/// The `bound_claims` key that requires Zitadel project role `role_key` granted by org
/// `org_id`. OpenBao matches bound claims only on strings, booleans, numbers or lists, never
/// on a map, so the pointer goes down to the org entry, whose value is the org's domain.
pub fn zitadel_role_claim_pointer(role_key: &str, org_id: &str) -> String {
    format!(
        "/{}/{}/{}",
        ZITADEL_PROJECT_ROLES_CLAIM,
        pointer_segment(role_key),
        pointer_segment(org_id)
    )
}

impl OpenbaoJwtAuth {
    /// Issuer and discovery URL are the same string; `user_claim = email`, 4h/24h TTLs, and
    /// the email must be verified (`email_verified = true`): the token is named after it.
    pub fn for_issuer(
        issuer: impl Into<String>,
        client_id: impl Into<String>,
        role: impl Into<String>,
        policies: Vec<String>,
    ) -> Self {
        let issuer = issuer.into();
        Self {
            oidc_discovery_url: issuer.clone(),
            bound_issuer: issuer,
            role: role.into(),
            bound_audiences: vec![client_id.into()],
            user_claim: "email".to_string(),
            policies,
            token_ttl: "4h".to_string(),
            token_max_ttl: "24h".to_string(),
            bound_claims: BTreeMap::from([("email_verified".to_string(), Value::Bool(true))]),
        }
    }

    /// Only users granted Zitadel project role `role_key` (by org `org_id`, whose primary
    /// domain is `org_domain`) may log in. The project needs `projectRoleAssertion` so the role
    /// is in the id_token (`ZitadelSetupScore` sets it, with `projectRoleCheck`).
    pub fn require_zitadel_project_role(
        mut self,
        role_key: &str,
        org_id: &str,
        org_domain: &str,
    ) -> Self {
        self.bound_claims.insert(
            zitadel_role_claim_pointer(role_key, org_id),
            Value::String(org_domain.to_string()),
        );
        self
    }
}

/// Everything the setup makes true.
#[derive(Debug, Clone)]
pub struct OpenbaoDesiredState {
    /// Shamir shares and threshold used when the server is initialised (default 1/1: on a
    /// dev cluster all keys sit in the same Secret anyway).
    pub secret_shares: u8,
    /// Keys needed to unseal (at most `secret_shares`).
    pub secret_threshold: u8,
    /// KV v2 mount path (default "secret").
    pub kv_mount: String,
    /// ACL policies to write.
    pub policies: Vec<OpenbaoPolicy>,
    /// A userpass user to create (`None`: no userpass auth).
    pub userpass: Option<OpenbaoUserpass>,
    /// JWT auth trusting an OpenID issuer (`None`: no single sign-on).
    pub jwt: Option<OpenbaoJwtAuth>,
}

impl Default for OpenbaoDesiredState {
    fn default() -> Self {
        Self {
            secret_shares: 1,
            secret_threshold: 1,
            kv_mount: "secret".to_string(),
            policies: vec![harmony_dev_policy("secret")],
            userpass: None,
            jwt: None,
        }
    }
}

impl OpenbaoDesiredState {
    /// Refuses settings OpenBao would reject (threshold above the shares, names that are not
    /// plain path segments, ...) before any request is sent.
    pub fn validate(&self) -> Result<(), OpenbaoSetupError> {
        let bad = |m: String| Err(OpenbaoSetupError::Settings(m));
        if self.secret_shares == 0
            || self.secret_threshold == 0
            || self.secret_threshold > self.secret_shares
        {
            return bad(format!(
                "secret_threshold ({}) must be between 1 and secret_shares ({})",
                self.secret_threshold, self.secret_shares
            ));
        }
        if !valid_path_segment(&self.kv_mount) {
            return bad(format!(
                "kv_mount {:?} is not a plain mount name",
                self.kv_mount
            ));
        }
        for p in &self.policies {
            if !valid_path_segment(&p.name) {
                return bad(format!("policy name {:?} is not a plain name", p.name));
            }
        }
        if let Some(u) = &self.userpass {
            if !valid_path_segment(&u.username) {
                return bad(format!(
                    "userpass username {:?} is not a plain name",
                    u.username
                ));
            }
            if u.password.expose_secret().is_empty() {
                return bad(format!(
                    "the password of userpass user {:?} is empty",
                    u.username
                ));
            }
        }
        if let Some(j) = &self.jwt {
            if !valid_path_segment(&j.role) {
                return bad(format!("jwt role {:?} is not a plain name", j.role));
            }
            if j.oidc_discovery_url.ends_with('/') || j.oidc_discovery_url.contains(".well-known") {
                return bad(format!(
                    "oidc_discovery_url {:?} must be exactly the issuer (no trailing '/', no .well-known)",
                    j.oidc_discovery_url
                ));
            }
            if url::Url::parse(&j.oidc_discovery_url).is_err() {
                return bad(format!(
                    "oidc_discovery_url {:?} is not a URL",
                    j.oidc_discovery_url
                ));
            }
            if j.bound_issuer.is_empty() {
                return bad(
                    "bound_issuer must be set (OpenBao does not check iss otherwise)".into(),
                );
            }
            if j.bound_audiences.is_empty() {
                return bad("bound_audiences must name the OIDC client id".into());
            }
            if j.user_claim.is_empty() {
                return bad("user_claim must be set (e.g. \"email\" or \"sub\")".into());
            }
            for (field, value) in [
                ("token_ttl", &j.token_ttl),
                ("token_max_ttl", &j.token_max_ttl),
            ] {
                if parse_duration_secs(value).is_none() {
                    return bad(format!(
                        "{field} {value:?} is not a duration such as 4h or 15m"
                    ));
                }
            }
        }
        Ok(())
    }
}

pub(crate) fn valid_path_segment(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' || c == '@')
        && s != "."
        && s != ".."
}

/// "4h", "15m", "1h30m", "90s", "3600" -> seconds.
pub fn parse_duration_secs(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(n) = s.parse::<u64>() {
        return Some(n);
    }
    let mut total = 0u64;
    let mut number = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: u64 = number.parse().ok()?;
        number.clear();
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86400,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(unit)?)?;
    }
    if number.is_empty() { Some(total) } else { None }
}

fn password_fingerprint(username: &str, password: &str) -> String {
    let mut h = Sha256::new();
    h.update(username.as_bytes());
    h.update(b":");
    h.update(password.as_bytes());
    hex::encode(h.finalize())
}

// ------------------------------------------------------------------------------------------
// Results and errors

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SetupReport {
    /// Every write request sent, as "METHOD path" (no values). Empty = nothing changed.
    pub writes: Vec<String>,
    /// `sys/init` was called in this run.
    pub initialized: bool,
    /// The server was sealed and this run unsealed it.
    pub unsealed: bool,
}

impl SetupReport {
    /// Whether the run wrote anything.
    pub fn changed(&self) -> bool {
        !self.writes.is_empty()
    }
}

/// Why configuring OpenBao through its HTTP API failed, by kind. Messages name the request
/// (`PUT sys/init`), never a token or key.
#[derive(Debug, thiserror::Error)]
pub enum OpenbaoSetupError {
    /// OpenBao answered with an error status.
    #[error("OpenBao {request}: HTTP {status}: {message}")]
    Api {
        /// Method and path, e.g. `POST sys/policies/acl/harmony-dev`.
        request: String,
        /// The HTTP status.
        status: u16,
        /// OpenBao's `errors` (or a description of the status).
        message: String,
    },
    /// The request got no HTTP answer (connection refused, timeout, TLS, a refused redirect).
    #[error("OpenBao {request}: request failed: {source}")]
    Transport {
        /// Method and path.
        request: String,
        /// The client's error (no URL query, no token).
        #[source]
        source: harmony_secret::openbao_http::HttpError,
    },
    /// A bounded wait expired.
    #[error("timed out after {seconds}s waiting for {what}")]
    Timeout {
        /// What was waited for.
        what: String,
        /// The bound.
        seconds: u64,
    },
    /// The key store (unseal keys, root token) failed.
    #[error("OpenBao key store ({store}): {source}")]
    Store {
        /// Where the keys are kept ([`OpenbaoKeyStore::describe`]).
        store: String,
        /// Why (see its kinds; boxed so the error stays small).
        #[source]
        source: Box<KeyStoreError>,
    },
    /// OpenBao was initialised now but its keys could not be saved: its data must be reset.
    #[error(
        "OpenBao key store ({store}): OpenBao was initialised but its keys could not be saved ({source}); reset OpenBao's data and run again"
    )]
    KeysLost {
        /// Where the keys were to be kept ([`OpenbaoKeyStore::describe`]).
        store: String,
        /// Why the save failed (boxed so the error stays small).
        #[source]
        source: Box<KeyStoreError>,
    },
    /// The server is in a state the setup cannot continue from; the message says what to do.
    #[error("{0}")]
    State(String),
    /// The wanted state is invalid.
    #[error("invalid OpenBao setup settings: {0}")]
    Settings(String),
    /// The HTTP client cannot be built from the settings (address, namespace, TLS files; see
    /// `HttpClientError` for the kinds).
    #[error("invalid OpenBao setup settings: {0}")]
    Client(#[source] Box<harmony_secret::openbao_http::HttpClientError>),
}

/// `GET sys/seal-status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct SealStatus {
    /// `shamir`, or the auto-unseal type (e.g. `transit`).
    #[serde(rename = "type")]
    pub seal_type: String,
    /// True for an auto-unsealed server: `sys/init` then hands out recovery keys.
    pub recovery_seal: bool,
    /// `sys/init` was done.
    pub initialized: bool,
    /// The server is sealed.
    pub sealed: bool,
    /// True when the storage was sealed by another seal than the configured one (e.g. a Shamir
    /// OpenBao restarted with a `seal "transit"` stanza): it then waits for `-migrate`.
    pub migration: bool,
    /// Threshold.
    pub t: u32,
    /// Shares.
    pub n: u32,
    /// Unseal keys given so far.
    pub progress: u32,
    /// Server version.
    pub version: String,
}

// ------------------------------------------------------------------------------------------
// The component

/// Talks to one OpenBao server at `base_url` (e.g. a port-forward `http://127.0.0.1:40123`).
pub struct OpenbaoSetup {
    http: OpenbaoHttp,
    /// `http` without the namespace: OpenBao answers `sys/health` only in the root namespace
    /// (400 "operation unavailable in namespaces" otherwise).
    health_http: OpenbaoHttp,
    base_url: String,
    store: Arc<dyn OpenbaoKeyStore>,
    ready_timeout: Duration,
    writes: Mutex<Vec<String>>,
    /// Planning: write requests are recorded in `writes` but never sent.
    dry_run: std::sync::atomic::AtomicBool,
}

impl fmt::Debug for OpenbaoSetup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenbaoSetup")
            .field("base_url", &self.base_url)
            .field("store", &self.store.describe())
            .field("ready_timeout", &self.ready_timeout)
            .finish()
    }
}

impl OpenbaoSetup {
    /// A client for the OpenBao at `base_url` (e.g. a port-forward's URL), keeping its keys in `store`.
    pub fn new(
        base_url: impl Into<String>,
        store: Arc<dyn OpenbaoKeyStore>,
    ) -> Result<Self, OpenbaoSetupError> {
        let base_url = base_url.into().trim_end_matches('/').to_string();
        url::Url::parse(&base_url)
            .map_err(|e| OpenbaoSetupError::Settings(format!("base URL {base_url:?}: {e}")))?;
        let http = OpenbaoHttp::new(
            &base_url,
            &OpenbaoHttpOptions {
                timeout: Duration::from_secs(30),
                ..OpenbaoHttpOptions::default()
            },
        )
        .map_err(|e| OpenbaoSetupError::Client(Box::new(e)))?;
        Ok(Self {
            health_http: http.clone(),
            http,
            base_url,
            store,
            ready_timeout: Duration::from_secs(120),
            writes: Mutex::new(Vec::new()),
            dry_run: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// TLS (CA, client certificate, server name, …), namespace and timeout of the HTTP client
    /// (default: OS trust store, 30 s). Same options as the secret store's.
    pub fn with_http_options(
        mut self,
        options: &OpenbaoHttpOptions,
    ) -> Result<Self, OpenbaoSetupError> {
        self.http = OpenbaoHttp::new(&self.base_url, options)
            .map_err(|e| OpenbaoSetupError::Client(Box::new(e)))?;
        self.health_http = OpenbaoHttp::new(
            &self.base_url,
            &OpenbaoHttpOptions {
                namespace: None,
                ..options.clone()
            },
        )
        .map_err(|e| OpenbaoSetupError::Client(Box::new(e)))?;
        Ok(self)
    }

    /// How long to wait for the server to answer and to become active (default 120 s).
    pub fn with_ready_timeout(mut self, timeout: Duration) -> Self {
        self.ready_timeout = timeout;
        self
    }

    /// The server's address.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Result<(u16, Value), OpenbaoSetupError> {
        let request = format!("{method} {path}");
        if method != Method::GET {
            self.writes
                .lock()
                .expect("writes lock")
                .push(request.clone());
            if self.dry_run.load(std::sync::atomic::Ordering::SeqCst) {
                return Ok((200, Value::Null));
            }
        }
        let response = self
            .http
            .send(method, path, token, body, None)
            .await
            .map_err(|source| OpenbaoSetupError::Transport {
                request: request.clone(),
                source,
            })?;
        Ok((response.status, response.body))
    }

    /// Like `send`, but only 2xx (and, for reads, 404 as `None`) are accepted.
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> Result<Option<Value>, OpenbaoSetupError> {
        let is_read = method == Method::GET;
        let request = format!("{method} {path}");
        let (status, value) = self.send(method, path, Some(token), body).await?;
        match status {
            200..=299 => Ok(Some(value)),
            404 if is_read => Ok(None),
            _ => Err(api_error(request, status, &value)),
        }
    }

    /// `GET sys/seal-status`, retried while the server does not answer yet.
    pub async fn seal_status(&self) -> Result<SealStatus, OpenbaoSetupError> {
        use backon::{ConstantBuilder, Retryable};
        let deadline = Instant::now() + self.ready_timeout;
        let body = (|| async {
            match self
                .send(Method::GET, "sys/seal-status", None, None)
                .await?
            {
                (200, value) => Ok(value),
                (status, value) => Err(api_error("GET sys/seal-status".into(), status, &value)),
            }
        })
        .retry(
            ConstantBuilder::new()
                .with_delay(Duration::from_millis(250))
                .without_max_times(),
        )
        // Any answer but 200 (or none) is retried until the deadline, then returned.
        .when(|_| Instant::now() < deadline)
        .await?;
        serde_json::from_value(body)
            .map_err(|e| OpenbaoSetupError::State(format!("sys/seal-status: unexpected body: {e}")))
    }

    /// Waits until `sys/health` answers 200 (right after unseal it is briefly 429/503).
    pub(crate) async fn wait_active(&self) -> Result<(), OpenbaoSetupError> {
        use backon::{ConstantBuilder, Retryable};
        let deadline = Instant::now() + self.ready_timeout;
        (|| async {
            match self
                .health_http
                .send(Method::GET, "sys/health", None, None, None)
                .await
            {
                Ok(r) if r.status == 200 => Ok(()),
                _ => Err(()),
            }
        })
        .retry(
            ConstantBuilder::new()
                .with_delay(Duration::from_millis(100))
                .without_max_times(),
        )
        .when(|_| Instant::now() < deadline)
        .await
        .map_err(|()| OpenbaoSetupError::Timeout {
            what: format!(
                "OpenBao at {} to become active (sys/health 200)",
                self.base_url
            ),
            seconds: self.ready_timeout.as_secs(),
        })
    }

    fn store_error(&self, source: KeyStoreError) -> OpenbaoSetupError {
        OpenbaoSetupError::Store {
            store: self.store.describe(),
            source: Box::new(source),
        }
    }

    /// Makes `desired` true and reports the write requests it needed.
    pub async fn run(
        &self,
        desired: &OpenbaoDesiredState,
    ) -> Result<SetupReport, OpenbaoSetupError> {
        desired.validate()?;
        self.writes.lock().expect("writes lock").clear();
        let mut report = SetupReport::default();
        let mut record = self.init_and_unseal(desired, &mut report).await?;
        self.configure(desired, &mut record).await?;
        report.writes = self.writes.lock().expect("writes lock").clone();
        Ok(report)
    }

    /// The write requests sent since the last `run` (or the last call of this), cleared.
    pub(crate) fn take_writes(&self) -> Vec<String> {
        std::mem::take(&mut *self.writes.lock().expect("writes lock"))
    }

    /// Initialises the server when it is not, unseals it (Shamir) or waits for it to unseal
    /// itself (auto-unseal), then waits until it is active.
    pub(crate) async fn init_and_unseal(
        &self,
        desired: &OpenbaoDesiredState,
        report: &mut SetupReport,
    ) -> Result<OpenbaoInitRecord, OpenbaoSetupError> {
        let status = self.seal_status().await?;
        let mut record = self.store.load().await.map_err(|m| self.store_error(m))?;

        if !status.initialized {
            if record.is_some() {
                log::warn!(
                    "OpenBao at {} is not initialised but {} holds keys from an earlier server; they are replaced",
                    self.base_url,
                    self.store.describe()
                );
            }
            record = Some(self.init(desired, status.recovery_seal).await?);
            report.initialized = true;
        }
        let Some(record) = record else {
            return Err(OpenbaoSetupError::State(format!(
                "OpenBao at {} is initialised, but its unseal keys and root token are not in {}. \
                 Restore them there, or reset OpenBao's data (delete the PVC) to initialise it again.",
                self.base_url,
                self.store.describe()
            )));
        };

        let status = if report.initialized {
            self.seal_status().await?
        } else {
            status
        };
        if status.migration {
            return Err(seal_migration_refused(&self.base_url, &status.seal_type));
        }
        if status.sealed && status.recovery_seal {
            self.wait_auto_unsealed(&status.seal_type).await?;
        } else if status.sealed {
            self.unseal(&record).await?;
            report.unsealed = true;
        }
        self.wait_active().await?;
        Ok(record)
    }

    /// An auto-unsealed server unseals itself; only wait for it.
    async fn wait_auto_unsealed(&self, seal_type: &str) -> Result<(), OpenbaoSetupError> {
        use backon::{ConstantBuilder, Retryable};
        let deadline = Instant::now() + self.ready_timeout;
        // `Err(None)`: still sealed (retried until the deadline); `Err(Some)`: failed.
        (|| async {
            match self.seal_status().await {
                Ok(status) if status.sealed => Err(None),
                Ok(_) => Ok(()),
                Err(e) => Err(Some(e)),
            }
        })
        .retry(
            ConstantBuilder::new()
                .with_delay(Duration::from_millis(200))
                .without_max_times(),
        )
        .when(|e| e.is_none() && Instant::now() < deadline)
        .await
        .map_err(|e| {
            e.unwrap_or_else(|| {
                OpenbaoSetupError::State(format!(
                    "OpenBao at {} uses a {seal_type} seal and is still sealed after {}s: it unseals \
                     itself only when its unsealer answers. Check that the unsealer is up and \
                     unsealed and that its token is valid (the server log names the failing \
                     request), then restart OpenBao",
                    self.base_url,
                    self.ready_timeout.as_secs()
                ))
            })
        })
    }

    /// KV mount, policies, userpass user and JWT auth, read first and written on a difference.
    pub(crate) async fn configure(
        &self,
        desired: &OpenbaoDesiredState,
        record: &mut OpenbaoInitRecord,
    ) -> Result<(), OpenbaoSetupError> {
        let token = record.root_token.clone();
        self.ensure_kv(&token, &desired.kv_mount).await?;
        for policy in &desired.policies {
            self.ensure_policy(&token, policy).await?;
        }
        if let Some(user) = &desired.userpass {
            self.ensure_auth_mount(&token, "userpass", "userpass")
                .await?;
            let planning = self.dry_run.load(std::sync::atomic::Ordering::SeqCst);
            if self.ensure_userpass_user(&token, user, record).await? && !planning {
                record.userpass_password_sha256.insert(
                    user.username.clone(),
                    password_fingerprint(&user.username, user.password.expose_secret()),
                );
                self.store
                    .save(record)
                    .await
                    .map_err(|m| self.store_error(m))?;
            }
        }
        if let Some(jwt) = &desired.jwt {
            self.ensure_auth_mount(&token, "jwt", "jwt").await?;
            self.ensure_jwt(&token, jwt).await?;
        }
        Ok(())
    }

    /// The write requests [`OpenbaoSetup::run`] would send, sending only reads (`GET`): the
    /// server and the key store are left as they are. On an uninitialised server every step
    /// would write; on a sealed one only the unseal is known (its configuration cannot be read).
    pub async fn plan(
        &self,
        desired: &OpenbaoDesiredState,
    ) -> Result<OpenbaoPlan, OpenbaoSetupError> {
        desired.validate()?;
        let status = self.seal_status().await?;
        let mut plan = OpenbaoPlan {
            initialized: status.initialized,
            sealed: status.sealed,
            ..Default::default()
        };
        if !status.initialized {
            plan.writes = all_writes(desired);
            plan.configuration_known = true;
            return Ok(plan);
        }
        let record = self.store.load().await.map_err(|m| self.store_error(m))?;
        let Some(record) = record else {
            return Err(OpenbaoSetupError::State(format!(
                "OpenBao at {} is initialised, but its unseal keys and root token are not in {}",
                self.base_url,
                self.store.describe()
            )));
        };
        if status.sealed {
            plan.writes = vec!["PUT sys/unseal".to_string()];
            return Ok(plan);
        }
        self.writes.lock().expect("writes lock").clear();
        self.dry_run
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let result = self.configure(desired, &mut record.clone()).await;
        self.dry_run
            .store(false, std::sync::atomic::Ordering::SeqCst);
        result?;
        plan.writes = std::mem::take(&mut *self.writes.lock().expect("writes lock"));
        plan.configuration_known = true;
        Ok(plan)
    }

    /// `sys/init`: Shamir unseal keys, or recovery keys when the server auto-unseals.
    pub(crate) async fn init(
        &self,
        desired: &OpenbaoDesiredState,
        recovery_seal: bool,
    ) -> Result<OpenbaoInitRecord, OpenbaoSetupError> {
        #[derive(Deserialize)]
        struct InitResponse {
            #[serde(default)]
            keys_base64: Vec<String>,
            #[serde(default)]
            keys: Vec<String>,
            #[serde(default)]
            recovery_keys_base64: Vec<String>,
            root_token: String,
        }
        let body = if recovery_seal {
            json!({
                "recovery_shares": desired.secret_shares,
                "recovery_threshold": desired.secret_threshold,
            })
        } else {
            json!({
                "secret_shares": desired.secret_shares,
                "secret_threshold": desired.secret_threshold,
            })
        };
        let (status, value) = self
            .send(Method::PUT, "sys/init", None, Some(&body))
            .await?;
        if status != 200 {
            return Err(api_error("PUT sys/init".into(), status, &value));
        }
        let init: InitResponse = serde_json::from_value(value).map_err(|_| {
            OpenbaoSetupError::State("PUT sys/init: the answer has no keys/root_token".into())
        })?;
        let keys = if init.keys_base64.is_empty() {
            init.keys
        } else {
            init.keys_base64
        };
        let record = OpenbaoInitRecord {
            unseal_keys: keys,
            recovery_keys: init.recovery_keys_base64,
            root_token: init.root_token,
            userpass_password_sha256: BTreeMap::new(),
        };
        // Saved before anything else: losing these means losing the server.
        self.store
            .save(&record)
            .await
            .map_err(|source| OpenbaoSetupError::KeysLost {
                store: self.store.describe(),
                source: Box::new(source),
            })?;
        log::info!(
            "OpenBao at {} initialised; keys kept in {}",
            self.base_url,
            self.store.describe()
        );
        Ok(record)
    }

    pub(crate) async fn unseal(&self, record: &OpenbaoInitRecord) -> Result<(), OpenbaoSetupError> {
        for key in &record.unseal_keys {
            let (status, value) = self
                .send(
                    Method::PUT,
                    "sys/unseal",
                    None,
                    Some(&json!({ "key": key })),
                )
                .await?;
            if status != 200 {
                return Err(api_error("PUT sys/unseal".into(), status, &value));
            }
            if value.get("sealed").and_then(Value::as_bool) == Some(false) {
                log::info!("OpenBao at {} unsealed", self.base_url);
                return Ok(());
            }
        }
        Err(OpenbaoSetupError::State(format!(
            "OpenBao at {} is still sealed after all {} keys from {}: they belong to another server",
            self.base_url,
            record.unseal_keys.len(),
            self.store.describe()
        )))
    }

    async fn ensure_kv(&self, token: &str, mount: &str) -> Result<(), OpenbaoSetupError> {
        let mounts = self
            .call(Method::GET, "sys/mounts", token, None)
            .await?
            .unwrap_or(Value::Null);
        let key = format!("{mount}/");
        let entry = unwrap_data(&mounts).get(&key).cloned();
        match entry {
            None => {
                self.call(
                    Method::POST,
                    &format!("sys/mounts/{mount}"),
                    token,
                    Some(&json!({"type": "kv", "options": {"version": "2"}})),
                )
                .await?;
            }
            Some(entry) => {
                let kind = entry["type"].as_str().unwrap_or_default();
                let version = entry["options"]["version"].as_str().unwrap_or("1");
                if kind != "kv" {
                    return Err(OpenbaoSetupError::State(format!(
                        "mount {key} exists with type {kind:?}, not a KV v2 engine; choose another kv_mount"
                    )));
                }
                if version != "2" {
                    self.call(
                        Method::POST,
                        &format!("sys/mounts/{mount}/tune"),
                        token,
                        Some(&json!({"options": {"version": "2"}})),
                    )
                    .await?;
                }
            }
        }
        Ok(())
    }

    pub(crate) async fn ensure_policy(
        &self,
        token: &str,
        policy: &OpenbaoPolicy,
    ) -> Result<(), OpenbaoSetupError> {
        let path = format!("sys/policies/acl/{}", policy.name);
        let current = self.call(Method::GET, &path, token, None).await?;
        let text = current.as_ref().and_then(|v| {
            unwrap_data(v)
                .get("policy")
                .and_then(Value::as_str)
                .map(str::to_string)
        });
        if text.as_deref().map(str::trim) != Some(policy.hcl.trim()) {
            self.call(
                Method::PUT,
                &path,
                token,
                Some(&json!({ "policy": policy.hcl })),
            )
            .await?;
        }
        Ok(())
    }

    async fn ensure_auth_mount(
        &self,
        token: &str,
        path: &str,
        kind: &str,
    ) -> Result<(), OpenbaoSetupError> {
        let auths = self
            .call(Method::GET, "sys/auth", token, None)
            .await?
            .unwrap_or(Value::Null);
        match unwrap_data(&auths).get(format!("{path}/")) {
            None => {
                self.call(
                    Method::POST,
                    &format!("sys/auth/{path}"),
                    token,
                    Some(&json!({ "type": kind })),
                )
                .await?;
            }
            Some(entry) if entry["type"].as_str() == Some(kind) => {}
            Some(entry) => {
                return Err(OpenbaoSetupError::State(format!(
                    "auth path {path}/ is already used by a {:?} method, not {kind}",
                    entry["type"].as_str().unwrap_or_default()
                )));
            }
        }
        Ok(())
    }

    /// Returns true when the user was written.
    async fn ensure_userpass_user(
        &self,
        token: &str,
        user: &OpenbaoUserpass,
        record: &OpenbaoInitRecord,
    ) -> Result<bool, OpenbaoSetupError> {
        let path = format!("auth/userpass/users/{}", user.username);
        let current = self.call(Method::GET, &path, token, None).await?;
        let same_policies = current.as_ref().is_some_and(|v| {
            let data = unwrap_data(v);
            let listed =
                string_list(&data["token_policies"]).or_else(|| string_list(&data["policies"]));
            listed.map(sorted) == Some(sorted(user.policies.clone()))
        });
        let same_password = record.userpass_password_sha256.get(&user.username)
            == Some(&password_fingerprint(
                &user.username,
                user.password.expose_secret(),
            ));
        if current.is_some() && same_policies && same_password {
            return Ok(false);
        }
        self.call(
            Method::POST,
            &path,
            token,
            Some(&json!({ "password": user.password.expose_secret(), "token_policies": user.policies })),
        )
        .await?;
        Ok(true)
    }

    async fn ensure_jwt(&self, token: &str, jwt: &OpenbaoJwtAuth) -> Result<(), OpenbaoSetupError> {
        let config = self
            .call(Method::GET, "auth/jwt/config", token, None)
            .await?;
        let config_ok = config.as_ref().is_some_and(|v| {
            let d = unwrap_data(v);
            d["oidc_discovery_url"].as_str() == Some(jwt.oidc_discovery_url.as_str())
                && d["bound_issuer"].as_str() == Some(jwt.bound_issuer.as_str())
        });
        if !config_ok {
            self.call(
                Method::POST,
                "auth/jwt/config",
                token,
                Some(&json!({
                    "oidc_discovery_url": jwt.oidc_discovery_url,
                    "bound_issuer": jwt.bound_issuer,
                })),
            )
            .await?;
        }

        let path = format!("auth/jwt/role/{}", jwt.role);
        let role = self.call(Method::GET, &path, token, None).await?;
        let ttl = parse_duration_secs(&jwt.token_ttl).unwrap_or_default();
        let max_ttl = parse_duration_secs(&jwt.token_max_ttl).unwrap_or_default();
        let role_ok = role.as_ref().is_some_and(|v| {
            let d = unwrap_data(v);
            d["role_type"].as_str() == Some("jwt")
                && string_list(&d["bound_audiences"]).map(sorted)
                    == Some(sorted(jwt.bound_audiences.clone()))
                && d["user_claim"].as_str() == Some(jwt.user_claim.as_str())
                && string_list(&d["token_policies"]).map(sorted)
                    == Some(sorted(jwt.policies.clone()))
                && d["token_ttl"].as_u64() == Some(ttl)
                && d["token_max_ttl"].as_u64() == Some(max_ttl)
                && same_bound_claims(&d["bound_claims"], &jwt.bound_claims)
                && d["bound_claims_type"].as_str().unwrap_or("string") == "string"
        });
        if !role_ok {
            self.call(
                Method::POST,
                &path,
                token,
                Some(&json!({
                    "role_type": "jwt",
                    "bound_audiences": jwt.bound_audiences,
                    "user_claim": jwt.user_claim,
                    "token_policies": jwt.policies,
                    "token_ttl": ttl,
                    "token_max_ttl": max_ttl,
                    "bound_claims_type": "string",
                    "bound_claims": jwt.bound_claims,
                })),
            )
            .await?;
        }
        Ok(())
    }
}

/// What [`OpenbaoSetup::plan`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenbaoPlan {
    /// The write requests a run would send, as "METHOD path" (no values).
    pub writes: Vec<String>,
    /// Whether the server is initialised.
    pub initialized: bool,
    /// Whether it is sealed.
    pub sealed: bool,
    /// False on a sealed server: only the unseal is known, the configuration cannot be read.
    pub configuration_known: bool,
}

/// Every write a run on an uninitialised server sends.
fn all_writes(desired: &OpenbaoDesiredState) -> Vec<String> {
    let mut w = vec![
        "PUT sys/init".to_string(),
        "PUT sys/unseal".to_string(),
        format!("POST sys/mounts/{}", desired.kv_mount),
    ];
    for p in &desired.policies {
        w.push(format!("PUT sys/policies/acl/{}", p.name));
    }
    if let Some(u) = &desired.userpass {
        w.push("POST sys/auth/userpass".into());
        w.push(format!("POST auth/userpass/users/{}", u.username));
    }
    if let Some(j) = &desired.jwt {
        w.push("POST sys/auth/jwt".into());
        w.push("POST auth/jwt/config".into());
        w.push(format!("POST auth/jwt/role/{}", j.role));
    }
    w
}

/// OpenBao wraps answers in `{"data": {...}}` (sys/mounts also repeats them at the top level).
fn unwrap_data(v: &Value) -> &Value {
    match v.get("data") {
        Some(d) if d.is_object() => d,
        _ => v,
    }
}

/// OpenBao answers `null` for a role without bound claims.
fn same_bound_claims(current: &Value, wanted: &BTreeMap<String, Value>) -> bool {
    match current {
        Value::Null => wanted.is_empty(),
        Value::Object(map) => {
            map.len() == wanted.len() && wanted.iter().all(|(k, v)| map.get(k) == Some(v))
        }
        _ => false,
    }
}

fn string_list(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_string))
                .collect(),
        ),
        Value::String(s) if s.is_empty() => Some(Vec::new()),
        Value::String(s) => Some(s.split(',').map(|p| p.trim().to_string()).collect()),
        Value::Null => Some(Vec::new()),
        _ => None,
    }
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

/// The error for a server that waits for a seal migration (its storage was sealed by another
/// seal than its configuration names): Harmony does not migrate seals.
pub(crate) fn seal_migration_refused(node: &str, configured_seal: &str) -> OpenbaoSetupError {
    OpenbaoSetupError::State(format!(
        "OpenBao at {node} is already initialised with another seal than the {configured_seal} seal \
         it is now configured with; Harmony does not migrate it (seal migration restarts every \
         node with -migrate and the unseal keys, and a mistake loses the data). Deploy it again \
         with its former seal, or migrate by hand following OpenBao's seal-migration guide, or \
         start from empty storage with the new seal"
    ))
}

fn api_error(request: String, status: u16, body: &Value) -> OpenbaoSetupError {
    let message = errors_of(body).unwrap_or_else(|| match status {
        501 => "not initialised".to_string(),
        503 => "sealed".to_string(),
        _ => "no error message".to_string(),
    });
    OpenbaoSetupError::Api {
        request,
        status,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_malformed_key_file_error_does_not_quote_the_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("openbao.json");
        // Wrong types make serde_json quote the value in its message.
        std::fs::write(
            &path,
            r#"{"unseal_keys": "UNSEAL-SECRET-1", "root_token": ["s.ROOTSECRET"]}"#,
        )
        .unwrap();
        let err = FileKeyStore::new(&path).load().await.unwrap_err();
        assert!(
            matches!(
                &err,
                KeyStoreError::Malformed {
                    expected: "key file",
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(!format!("{err:?}").contains("UNSEAL-SECRET-1"), "{err:?}");
        let err = err.to_string();
        assert!(!err.contains("UNSEAL-SECRET-1"), "{err}");
        assert!(!err.contains("ROOTSECRET"), "{err}");
        assert!(err.contains("line 1 column"), "{err}");
        assert!(err.contains("openbao.json"), "{err}");

        std::fs::write(
            &path,
            r#"{"unseal_keys": ["UNSEAL-SECRET-1"], "root_token": "s.RO"#,
        )
        .unwrap();
        let err = FileKeyStore::new(&path)
            .load()
            .await
            .unwrap_err()
            .to_string();
        assert!(
            !err.contains("UNSEAL-SECRET-1") && !err.contains("s.RO"),
            "{err}"
        );
        assert!(err.contains("unexpected end of input"), "{err}");
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration_secs("4h"), Some(14400));
        assert_eq!(parse_duration_secs("15m"), Some(900));
        assert_eq!(parse_duration_secs("1h30m"), Some(5400));
        assert_eq!(parse_duration_secs("3600"), Some(3600));
        assert_eq!(parse_duration_secs("90s"), Some(90));
        assert_eq!(parse_duration_secs("1d"), Some(86400));
        assert_eq!(parse_duration_secs("4x"), None);
        assert_eq!(parse_duration_secs("h"), None);
        assert_eq!(parse_duration_secs("4h3"), None);
        assert_eq!(parse_duration_secs(""), None);
    }

    #[test]
    fn harmony_dev_policy_grants_the_documented_paths() {
        let p = harmony_dev_policy("secret");
        assert_eq!(p.name, "harmony-dev");
        assert!(p.hcl.contains(r#"path "secret/data/harmony/*""#));
        assert!(
            p.hcl
                .contains(r#""create", "read", "update", "delete", "list""#)
        );
        assert!(p.hcl.contains(r#"path "secret/metadata/harmony/*""#));
        assert!(p.hcl.contains(r#"["list", "read", "delete"]"#));
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let record = OpenbaoInitRecord {
            unseal_keys: vec!["KEY-SECRET".into()],
            recovery_keys: vec!["RECOVERY-SECRET".into()],
            root_token: "s.ROOTSECRET".into(),
            userpass_password_sha256: BTreeMap::from([("u".into(), "HASHVALUE".into())]),
        };
        let user = OpenbaoUserpass {
            username: "harmony".into(),
            password: "PASSWORD-SECRET".into(),
            policies: vec![],
        };
        let shown = format!("{record:?} {user:?}");
        for secret in [
            "KEY-SECRET",
            "RECOVERY-SECRET",
            "ROOTSECRET",
            "HASHVALUE",
            "PASSWORD-SECRET",
        ] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }

    #[test]
    fn validation_catches_the_documented_pitfalls() {
        let mut d = OpenbaoDesiredState::default();
        assert!(d.validate().is_ok());
        d.secret_threshold = 2;
        assert!(d.validate().is_err());
        d.secret_threshold = 1;
        let mut jwt = OpenbaoJwtAuth::for_issuer("http://idp.local:8080", "cli", "dev", vec![]);
        d.jwt = Some(jwt.clone());
        assert!(d.validate().is_ok());
        jwt.oidc_discovery_url = "http://idp.local:8080/".into();
        d.jwt = Some(jwt.clone());
        assert!(d.validate().is_err());
        jwt.oidc_discovery_url = "http://idp.local:8080".into();
        jwt.bound_audiences.clear();
        d.jwt = Some(jwt.clone());
        assert!(d.validate().is_err());
        jwt.bound_audiences = vec!["cli".into()];
        jwt.token_ttl = "soon".into();
        d.jwt = Some(jwt);
        assert!(d.validate().is_err());
        d.jwt = None;
        d.kv_mount = "../sys".into();
        assert!(d.validate().is_err());
    }

    #[tokio::test]
    async fn a_failed_key_save_is_an_io_kind_naming_the_file_and_never_the_keys() {
        let dir = tempfile::tempdir().unwrap();
        // The key file's folder is a regular file: the write must fail.
        let blocker = dir.path().join("not-a-folder");
        std::fs::write(&blocker, b"").unwrap();
        let path = blocker.join("openbao.json");
        let record = OpenbaoInitRecord {
            unseal_keys: vec!["UNSEAL-SECRET-1".into()],
            recovery_keys: vec!["RECOVERY-SECRET-1".into()],
            root_token: "s.ROOTSECRET".into(),
            userpass_password_sha256: BTreeMap::new(),
        };
        let err = FileKeyStore::new(&path).save(&record).await.unwrap_err();
        match &err {
            KeyStoreError::Io {
                action: "writing",
                path: p,
                ..
            } => assert_eq!(p, &path),
            other => panic!("expected Io, got {other:?}"),
        }
        let shown = format!("{err} {err:?}");
        assert!(shown.contains("openbao.json"), "{shown}");
        for secret in ["UNSEAL-SECRET-1", "RECOVERY-SECRET-1", "ROOTSECRET"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }

    #[tokio::test]
    async fn file_key_store_round_trips_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = FileKeyStore::new(dir.path().join("c/openbao.json"));
        assert_eq!(store.load().await.unwrap(), None);
        let record = OpenbaoInitRecord {
            unseal_keys: vec!["a".into()],
            recovery_keys: vec![],
            root_token: "t".into(),
            userpass_password_sha256: BTreeMap::new(),
        };
        store.save(&record).await.unwrap();
        assert_eq!(store.load().await.unwrap(), Some(record));
        let mode = std::fs::metadata(store.path())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn string_lists_accept_arrays_and_commas() {
        assert_eq!(
            string_list(&json!(["a", "b"])),
            Some(vec!["a".into(), "b".into()])
        );
        assert_eq!(
            string_list(&json!("a, b")),
            Some(vec!["a".into(), "b".into()])
        );
        assert_eq!(string_list(&json!(null)), Some(vec![]));
    }
}
