//! [`ExistingStackTopology`]: a team's OpenBao (or Vault) and OpenID provider that already run.
//! Nothing is deployed. The capabilities check the servers; given an admin token, the
//! [`SecretVault`] also configures OpenBao (KV mount, policy, JWT auth trusting the issuer)
//! with the same setup code the k3d topology uses.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use harmony_secret::openbao_http::{OpenbaoHttpOptions, TlsOptions, TlsProblem};
use harmony_secret::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::infra::openbao_admin::{
    KeyStoreError, OpenbaoDesiredState, OpenbaoInitRecord, OpenbaoJwtAuth, OpenbaoKeyStore,
    OpenbaoPolicy, OpenbaoSetup, harmony_dev_policy,
};
use crate::topology::{
    CapabilityError, CapabilityStep, DeviceClient, DeviceClientRequest, IdentityProvider,
    PreparationError, PreparationOutcome, SecretVault, SecretVaultAccess, SecretVaultRequest,
    Topology,
};

/// The servers of an existing stack. `Debug` never shows the admin token.
#[derive(Debug, Clone)]
pub struct ExistingStackConfig {
    /// OpenBao's address, e.g. `https://bao.example.com`.
    pub openbao_url: String,
    /// The OpenID issuer, exactly as in the tokens' `iss`.
    pub issuer: String,
    /// The public device-code client registered at the issuer.
    pub client_id: String,
    /// The JWT role people log in with (default `harmony-developer`).
    pub jwt_role: String,
    /// The JWT auth mount (default `jwt`).
    pub jwt_mount: String,
    /// The KV v2 mount (default `secret`).
    pub kv_mount: String,
    /// A token allowed to configure OpenBao (mounts, policies, auth). `None`: only check.
    pub admin_token: Option<SecretString>,
    /// TLS towards OpenBao (private CA, client certificate, server name), used by the checks
    /// and the admin-token setup; give the secret store the same (`harmony_sso` does).
    /// Default: bundled roots + the OS trust store.
    pub tls: TlsOptions,
    /// The OpenBao namespace (`X-Vault-Namespace`) holding the JWT auth and KV mounts; `None`:
    /// the root namespace.
    pub namespace: Option<String>,
    /// TLS towards the OpenID provider, separate from OpenBao's (the store's `.sso_tls`).
    /// Default: bundled roots + the OS trust store.
    pub sso_tls: TlsOptions,
}

impl ExistingStackConfig {
    /// The given servers with the default role and mounts.
    pub fn new(
        openbao_url: impl Into<String>,
        issuer: impl Into<String>,
        client_id: impl Into<String>,
    ) -> Self {
        Self {
            openbao_url: openbao_url.into().trim_end_matches('/').to_string(),
            issuer: issuer.into(),
            client_id: client_id.into(),
            jwt_role: "harmony-developer".to_string(),
            jwt_mount: "jwt".to_string(),
            kv_mount: "secret".to_string(),
            admin_token: None,
            tls: TlsOptions::default(),
            namespace: None,
            sso_tls: TlsOptions::default(),
        }
    }
}

/// A topology made of servers that already run (see the module docs).
#[derive(Debug)]
pub struct ExistingStackTopology {
    config: ExistingStackConfig,
    /// OpenBao's client (`config.tls`).
    http: reqwest::Client,
    /// The OpenID provider's client (`config.sso_tls`).
    idp_http: reqwest::Client,
}

impl ExistingStackTopology {
    /// A topology checking (and, with an admin token, configuring) the servers of `config`.
    /// Fails only when the HTTP client cannot be built (the TLS trust store).
    pub fn new(config: ExistingStackConfig) -> Result<Self, CapabilityError> {
        // The OpenBao address is shown in every check's message: a password in it would leak.
        // Judged by its text when it does not parse (the checks would still repeat it).
        if let Some(shown) = harmony_secret::openbao_http::hide_userinfo(&config.openbao_url) {
            return Err(CapabilityError::InvalidRequest(format!(
                "the OpenBao address {shown} carries a user name or password (user:pass@): \
                 remove it and pass credentials as a token, never in the address"
            )));
        }
        // The same TLS as the secret store's clients (by default bundled roots + the OS trust
        // store; `tls`/`sso_tls` add a private CA, a client certificate...): the checks accept
        // exactly the servers the store would use.
        let client = |tls: &TlsOptions, server: &str| {
            harmony_secret::openbao_http::client_builder(tls)
                .map_err(|e| CapabilityError::adapter(format!("the TLS settings for {server}"), e))?
                .connect_timeout(Duration::from_secs(3))
                .timeout(Duration::from_secs(10))
                .build()
                .map_err(|e| {
                    CapabilityError::adapter("cannot build the HTTP client", e.without_url())
                })
        };
        let http = client(&config.tls, "OpenBao")?;
        let idp_http = client(&config.sso_tls, "the OpenID provider")?;
        Ok(Self {
            config,
            http,
            idp_http,
        })
    }

    /// The servers this topology checks.
    pub fn config(&self) -> &ExistingStackConfig {
        &self.config
    }

    /// `sys/health`: unsealed and active (or a standby) is fine; anything else says what to do.
    async fn check_openbao(&self) -> Result<String, CapabilityError> {
        let url = format!("{}/v1/sys/health?standbyok=true", self.config.openbao_url);
        let response =
            self.http
                .get(&url)
                .send()
                .await
                .map_err(|e| CapabilityError::Unreachable {
                    server: format!("OpenBao at {}", self.config.openbao_url),
                    fix: openbao_fix(self.openbao_tls_problem(&e)),
                    source: e.without_url(),
                })?;
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let version = body["version"].as_str().unwrap_or("?").to_string();
        match status {
            200 | 429 | 473 => Ok(format!("version {version}, unsealed")),
            503 => Err(CapabilityError::Server(
                match self.auto_unseal_type().await {
                    // Recovery keys do not unseal: the server waits for its unsealer.
                    Some(seal) => format!(
                        "OpenBao at {} is sealed and auto-unseals with its {seal} seal: check that its \
                     unsealer is up and unsealed and that its token is valid, restart this \
                     OpenBao, then run again",
                        self.config.openbao_url
                    ),
                    None => format!(
                        "OpenBao at {} is sealed: unseal it (`bao operator unseal`), then run again",
                        self.config.openbao_url
                    ),
                },
            )),
            501 => Err(CapabilityError::Server(format!(
                "OpenBao at {} is not initialised (`bao operator init`)",
                self.config.openbao_url
            ))),
            other => Err(CapabilityError::Server(format!(
                "OpenBao at {} answered sys/health with HTTP {other}: is it OpenBao or Vault?",
                self.config.openbao_url
            ))),
        }
    }

    /// The seal type of a server that unseals itself (`recovery_seal` in `sys/seal-status`).
    async fn auto_unseal_type(&self) -> Option<String> {
        let url = format!("{}/v1/sys/seal-status", self.config.openbao_url);
        let body: Value = self.http.get(&url).send().await.ok()?.json().await.ok()?;
        if body["recovery_seal"].as_bool() != Some(true) {
            return None;
        }
        body["type"].as_str().map(str::to_string)
    }

    /// The JWT auth mount answers a login without a token: 400 ("missing jwt") when it exists;
    /// without it the path is not an unauthenticated one and OpenBao answers 403 (404/405 on
    /// some versions).
    async fn check_jwt_mount(&self) -> Result<(), CapabilityError> {
        let mount = &self.config.jwt_mount;
        let url = format!("{}/v1/auth/{mount}/login", self.config.openbao_url);
        let mut login = self.http.post(&url);
        // The JWT auth lives in the namespace (sys/health is answered for the whole server).
        if let Some(ns) = &self.config.namespace {
            login = login.header("X-Vault-Namespace", ns);
        }
        let response = login
            .json(&serde_json::json!({ "role": self.config.jwt_role }))
            .send()
            .await
            .map_err(|e| CapabilityError::Unreachable {
                server: format!("OpenBao auth/{mount}/login at {}", self.config.openbao_url),
                fix: openbao_fix(self.openbao_tls_problem(&e)),
                source: e.without_url(),
            })?;
        match response.status().as_u16() {
            400 => Ok(()),
            403..=405 => Err(CapabilityError::Server(format!(
                "OpenBao at {} has no JWT auth at {mount}/: enable it (`bao auth enable -path={mount} jwt`) \
                 or pass --admin-token so harmony_sso configures it",
                self.config.openbao_url
            ))),
            other => Err(CapabilityError::Server(format!(
                "OpenBao auth/{mount}/login answered HTTP {other} to a login without a token (expected 400)"
            ))),
        }
    }
}

#[async_trait]
impl Topology for ExistingStackTopology {
    fn name(&self) -> &str {
        "ExistingStackTopology"
    }

    async fn ensure_ready(&self) -> Result<PreparationOutcome, PreparationError> {
        self.check_openbao()
            .await
            .map(|_| PreparationOutcome::Noop)
            .map_err(PreparationError::from)
    }
}

#[async_trait]
impl IdentityProvider for ExistingStackTopology {
    async fn ensure_device_client(
        &self,
        _request: &DeviceClientRequest,
    ) -> Result<DeviceClient, CapabilityError> {
        let issuer = self.config.issuer.trim_end_matches('/');
        let url = format!("{issuer}/.well-known/openid-configuration");
        let response =
            self.idp_http
                .get(&url)
                .send()
                .await
                .map_err(|e| CapabilityError::Unreachable {
                    server: format!("the OpenID provider at {issuer}"),
                    fix: idp_fix(&e),
                    source: e.without_url(),
                })?;
        if !response.status().is_success() {
            return Err(CapabilityError::Server(format!(
                "{url} answered HTTP {}: is {issuer} an OpenID issuer?",
                response.status().as_u16()
            )));
        }
        let discovery: Value = response.json().await.map_err(|_| {
            CapabilityError::Server(format!("{url} is not a JSON discovery document"))
        })?;
        let found = discovery["issuer"].as_str().unwrap_or_default();
        if found.trim_end_matches('/') != issuer {
            return Err(CapabilityError::Server(format!(
                "{url} names the issuer {found:?}, not {issuer:?}: pass exactly the issuer of the tokens"
            )));
        }
        let device = discovery["device_authorization_endpoint"]
            .as_str()
            .ok_or_else(|| {
                CapabilityError::Server(format!(
                    "the OpenID provider {issuer} offers no device authorization endpoint: enable the \
                     device code grant (RFC 8628) for client {}",
                    self.config.client_id
                ))
            })?
            .to_string();
        Ok(DeviceClient {
            issuer: found.to_string(),
            client_id: self.config.client_id.clone(),
            audience: self.config.client_id.clone(),
            device_authorization_endpoint: Some(device.clone()),
            steps: vec![CapabilityStep::new(
                "OIDC discovery",
                false,
                format!("{issuer}: device authorization at {device}"),
            )],
        })
    }
}

impl ExistingStackTopology {
    /// The certificate problem behind a failed request to OpenBao. Over https, a connection
    /// dropped after the handshake without a TLS reason counts too
    /// ([`TlsProblem::of_https_failure`]): with TLS 1.3 that is how a server wanting a client
    /// certificate (it trusts) can look from here, whether or not one was given.
    fn openbao_tls_problem(&self, e: &reqwest::Error) -> Option<TlsProblem> {
        let https = url::Url::parse(&self.config.openbao_url).is_ok_and(|u| u.scheme() == "https");
        if https {
            TlsProblem::of_https_failure(e)
        } else {
            TlsProblem::find(e)
        }
    }
}

/// What to do when OpenBao does not answer: for a certificate problem (see
/// [`ExistingStackTopology::openbao_tls_problem`]), the flag that fixes it.
fn openbao_fix(problem: Option<TlsProblem>) -> String {
    match problem {
        Some(TlsProblem::UntrustedCa) => {
            "its TLS certificate is not signed by a CA this machine trusts: give the CA's PEM \
             file with --openbao-ca-cert (OPENBAO_CACERT), or install it in the OS trust store"
                .to_string()
        }
        Some(TlsProblem::ClientCertRequired) => {
            "it wants a TLS client certificate: give one with --openbao-client-cert and \
             --openbao-client-key (OPENBAO_CLIENT_CERT, OPENBAO_CLIENT_KEY)"
                .to_string()
        }
        Some(TlsProblem::WrongName) => "its TLS certificate does not name the host of \
                                        --openbao-url: use a host name the certificate has"
            .to_string(),
        Some(TlsProblem::ClosedWithoutReason) => "check --openbao-url / OPENBAO_URL; if the \
                                                  server requires a TLS client certificate, \
                                                  give one with --openbao-client-cert and \
                                                  --openbao-client-key (OPENBAO_CLIENT_CERT, \
                                                  OPENBAO_CLIENT_KEY)"
            .to_string(),
        None => "check --openbao-url / OPENBAO_URL".to_string(),
    }
}

/// What to do when the OpenID provider does not answer (see [`openbao_fix`]).
fn idp_fix(e: &(dyn std::error::Error + 'static)) -> String {
    match TlsProblem::find(e) {
        Some(TlsProblem::UntrustedCa) => {
            "its TLS certificate is not signed by a CA this machine trusts: give the CA's PEM \
             file with --sso-ca-cert (HARMONY_SSO_CACERT), or install it in the OS trust store"
                .to_string()
        }
        Some(TlsProblem::WrongName) => "its TLS certificate does not name the host of \
                                        --issuer: use the issuer's exact address"
            .to_string(),
        Some(TlsProblem::ClientCertRequired | TlsProblem::ClosedWithoutReason) | None => {
            "check --issuer / HARMONY_SSO_ISSUER".to_string()
        }
    }
}

/// The admin token as the "root token" of the shared setup code; no unseal keys (an existing
/// OpenBao is unsealed by its operators) and nothing is saved.
struct AdminTokenKeys(OpenbaoInitRecord);

#[async_trait]
impl OpenbaoKeyStore for AdminTokenKeys {
    async fn load(&self) -> Result<Option<OpenbaoInitRecord>, KeyStoreError> {
        Ok(Some(self.0.clone()))
    }
    async fn save(&self, _record: &OpenbaoInitRecord) -> Result<(), KeyStoreError> {
        Err(KeyStoreError::Refused {
            why: "an existing OpenBao's keys are not kept by harmony",
        })
    }
    fn describe(&self) -> String {
        "the admin token given on the command line".to_string()
    }
}

#[async_trait]
impl SecretVault for ExistingStackTopology {
    async fn ensure_secret_vault(
        &self,
        request: &SecretVaultRequest,
    ) -> Result<SecretVaultAccess, CapabilityError> {
        let c = &self.config;
        if request.userpass.is_some() {
            return Err(CapabilityError::Unsupported(
                "an existing stack is used with single sign-on only (no userpass)".into(),
            ));
        }
        let mut steps = vec![CapabilityStep::new(
            "OpenBao health",
            false,
            format!("{}: {}", c.openbao_url, self.check_openbao().await?),
        )];
        match (&c.admin_token, &request.jwt) {
            (Some(token), jwt) => {
                if jwt.is_some() && c.jwt_mount != "jwt" {
                    return Err(CapabilityError::Unsupported(format!(
                        "--admin-token configures JWT auth at jwt/ only; configure {}/ yourself or use --jwt-mount jwt",
                        c.jwt_mount
                    )));
                }
                let keys = AdminTokenKeys(OpenbaoInitRecord {
                    unseal_keys: Vec::new(),
                    recovery_keys: Vec::new(),
                    root_token: token.expose_secret().to_string(),
                    userpass_password_sha256: Default::default(),
                });
                let setup = OpenbaoSetup::new(c.openbao_url.clone(), Arc::new(keys))?
                    .with_http_options(&OpenbaoHttpOptions {
                        tls: c.tls.clone(),
                        namespace: c.namespace.clone(),
                        timeout: Duration::from_secs(30),
                        ..OpenbaoHttpOptions::default()
                    })?
                    .with_ready_timeout(Duration::from_secs(10));
                let desired = OpenbaoDesiredState {
                    kv_mount: request.kv_mount.clone(),
                    policies: vec![OpenbaoPolicy {
                        name: request.policy.clone(),
                        hcl: harmony_dev_policy(&request.kv_mount).hcl,
                    }],
                    userpass: None,
                    jwt: jwt.as_ref().map(|j| {
                        OpenbaoJwtAuth::for_issuer(
                            j.issuer.clone(),
                            j.audience.clone(),
                            j.role.clone(),
                            vec![request.policy.clone()],
                        )
                    }),
                    ..Default::default()
                };
                let report = setup.run(&desired).await?;
                steps.push(CapabilityStep::new(
                    "OpenBao setup (admin token)",
                    report.changed(),
                    if report.changed() {
                        format!("configured: {}", report.writes.join(", "))
                    } else {
                        format!(
                            "KV mount {}/, policy {}, JWT role {} already as wanted",
                            request.kv_mount,
                            request.policy,
                            jwt.as_ref().map(|j| j.role.as_str()).unwrap_or("-")
                        )
                    },
                ));
            }
            (None, Some(jwt)) => {
                self.check_jwt_mount().await?;
                steps.push(CapabilityStep::new(
                    "OpenBao JWT auth",
                    false,
                    format!(
                        "auth/{}/ answers; role {} is used as configured by the OpenBao operators",
                        c.jwt_mount, jwt.role
                    ),
                ));
            }
            (None, None) => {}
        }
        Ok(SecretVaultAccess {
            address: c.openbao_url.clone(),
            kv_mount: request.kv_mount.clone(),
            policy: request.policy.clone(),
            jwt_mount: request.jwt.as_ref().map(|_| c.jwt_mount.clone()),
            jwt_role: request.jwt.as_ref().map(|j| j.role.clone()),
            steps,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A certificate problem as reqwest hands it over: a rustls error inside an io::Error.
    fn tls_failure(e: rustls::Error) -> std::io::Error {
        std::io::Error::other(std::io::Error::other(e))
    }

    /// Each TLS failure gets the flag that fixes it, told by the rustls error kind. A server
    /// (e.g. an nginx in front of OpenBao) that does not trust the client certificate we sent
    /// answers `unknown_ca`: that is a client-certificate problem, not a wrong address.
    #[test]
    fn tls_failures_name_the_flag_that_fixes_them() {
        use rustls::{AlertDescription as A, CertificateError as C, Error as E};
        let fix = |e: E| openbao_fix(TlsProblem::find(&tls_failure(e)));
        assert!(fix(E::InvalidCertificate(C::UnknownIssuer)).contains("--openbao-ca-cert"));
        assert!(fix(E::InvalidCertificate(C::NotValidForName)).contains("does not name the host"));
        for alert in [A::CertificateRequired, A::BadCertificate, A::UnknownCA] {
            let text = fix(E::AlertReceived(alert));
            assert!(text.contains("--openbao-client-cert"), "{alert:?}: {text}");
        }
        assert!(fix(E::AlertReceived(A::HandshakeFailure)).contains("check --openbao-url"));
        let idp = |e: E| idp_fix(&tls_failure(e));
        assert!(idp(E::InvalidCertificate(C::UnknownIssuer)).contains("--sso-ca-cert"));
        assert!(idp(E::InvalidCertificate(C::NotValidForName)).contains("--issuer"));
    }

    /// With TLS 1.3 a server that requires a client certificate may drop the connection right
    /// after the handshake, its alert lost: the message still names the flags. A port that
    /// closes before any TLS (a port-forward with no backend) or nothing listening gets the
    /// plain "check --openbao-url" instead.
    #[tokio::test]
    async fn a_connection_dropped_after_the_handshake_names_the_client_certificate_flags() {
        use harmony_test_support::{PrivatePki, RecordingServer, Reply};
        let pki = PrivatePki::new();
        let check = |url: String| {
            let ca = pki.ca.clone();
            async move {
                let mut config = ExistingStackConfig::new(url, "http://idp", "client");
                config.tls.ca_cert = Some(ca);
                let topology = ExistingStackTopology::new(config).unwrap();
                topology.check_openbao().await.unwrap_err().to_string()
            }
        };
        let after_handshake = RecordingServer::start_tls(Reply::Close, &pki.cert, &pki.key).await;
        let dropped = check(after_handshake.url().to_string()).await;
        assert!(dropped.contains("--openbao-client-cert"), "{dropped}");

        let before_tls = RecordingServer::start(Reply::Close).await;
        let nothing = format!("http://127.0.0.1:{}", harmony_test_support::free_port());
        for server in [before_tls.url(), nothing.as_str()] {
            let text = check(server.replacen("http://", "https://", 1)).await;
            assert!(text.contains("check --openbao-url"), "{server}: {text}");
            assert!(!text.contains("--openbao-client-cert"), "{server}: {text}");
        }
    }

    /// Every check's message names the OpenBao address, so one with `user:pass@` is refused
    /// up front, without echoing the password.
    #[test]
    fn an_openbao_address_with_credentials_is_refused_without_showing_them() {
        let config = ExistingStackConfig::new(
            "https://admin:hunter2@bao.example.com",
            "https://idp.example.com",
            "client",
        );
        let err = ExistingStackTopology::new(config).map(|_| ()).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, CapabilityError::InvalidRequest(_)), "{err:?}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("bao.example.com"), "{text}");
    }

    /// An address that does not parse (a typo in the port) is refused too: the checks would
    /// otherwise repeat it, password and all, in their messages.
    #[test]
    fn an_unparsable_openbao_address_with_credentials_is_refused_too() {
        let config = ExistingStackConfig::new(
            "https://admin:hunter2@bao.example.com:82OO",
            "https://idp.example.com",
            "client",
        );
        let err = ExistingStackTopology::new(config).map(|_| ()).unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(matches!(err, CapabilityError::InvalidRequest(_)), "{err:?}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("bao.example.com"), "{text}");
    }
}
