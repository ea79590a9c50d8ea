//! The one HTTP layer every OpenBao (or Vault) call goes through: the secret store and
//! `harmony`'s `OpenbaoSetup` both use [`OpenbaoHttp`].
//!
//! It owns what the Vault Go client (`api/client.go`) owns:
//! - the client: connect and request timeouts, TLS from [`TlsOptions`] (bundled Mozilla roots
//!   plus the OS trust store, or only the CAs named by `ca_cert`/`ca_path`; client certificate;
//!   server name; skip-verify);
//! - redirects: at most one is followed (an HA standby answers 307 with the active node's
//!   address, method and body are sent again there), never from `https` to `http`. A second
//!   redirect or a downgrade is [`HttpError::RedirectRefused`] naming both URLs, and nothing
//!   (token, body) is sent to the refused location;
//! - headers: `X-Vault-Token` (marked sensitive), `X-Vault-Request: true` on every request (a Bao
//!   Agent/Proxy with `require_request_header` refuses requests without it), and
//!   `X-Vault-Namespace` when a namespace is set;
//! - answers: status plus JSON body, and OpenBao's `{"errors": [...]}` via [`errors_of`].
//!
//! [`TlsOptions`] and [`client_builder`] are also used for the identity provider's client, with
//! its own options: skipping verification for one never skips it for the other.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderValue};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use serde_json::Value;

/// A client certificate (mutual TLS): PEM files of the certificate chain and its private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCert {
    /// PEM file of the certificate (chain).
    pub cert: PathBuf,
    /// PEM file of its private key.
    pub key: PathBuf,
}

/// Why [`TlsOptions`] cannot be turned into a TLS configuration. Each message names the file,
/// folder or option and what is wrong with it; a key file's content is never quoted.
#[derive(Debug, thiserror::Error)]
pub enum TlsConfigError {
    /// rustls refused the protocol versions or the certificate verifier.
    #[error("TLS setup: {0}")]
    Setup(#[source] rustls::Error),
    /// The certificate verifier could not be built from the trusted CAs.
    #[error("TLS setup: {0}")]
    Verifier(#[source] rustls::client::VerifierBuilderError),
    /// `server_name` is neither a DNS name nor an IP address.
    #[error("TLS server name `{name}` is not a DNS name or IP")]
    ServerName {
        /// The name given.
        name: String,
    },
    /// A certificate file (CA or client certificate) cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The OS error (e.g. [`std::io::ErrorKind::NotFound`]).
        #[source]
        source: std::io::Error,
    },
    /// A certificate file is not PEM.
    #[error("{} is not a PEM certificate file: {detail}", path.display())]
    BadPem {
        /// The file.
        path: PathBuf,
        /// What is wrong, without the file's content.
        detail: String,
    },
    /// `ca_cert` holds no certificate rustls can use.
    #[error("the CA file {} holds no usable PEM certificate", path.display())]
    NoCaInFile {
        /// The CA file.
        path: PathBuf,
    },
    /// `ca_path` cannot be listed.
    #[error("cannot read the CA folder {}: {source}", path.display())]
    CaFolder {
        /// The folder.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// No file in `ca_path` holds a certificate rustls can use.
    #[error("the CA folder {} holds no usable PEM certificate", path.display())]
    NoCaInFolder {
        /// The folder.
        path: PathBuf,
    },
    /// The client certificate file holds no certificate.
    #[error("the client certificate file {} holds no PEM certificate", path.display())]
    NoClientCert {
        /// The certificate file.
        path: PathBuf,
    },
    /// The client key cannot be read (missing, not PEM, no private key in it).
    #[error("cannot read the client key {}: {detail}", path.display())]
    ClientKey {
        /// The key file.
        path: PathBuf,
        /// What is wrong, without the file's content.
        detail: String,
    },
    /// The client certificate and key do not belong together (or rustls refuses them).
    #[error(
        "the client certificate {} and key {} do not fit together: {source}",
        cert.display(),
        key.display()
    )]
    ClientCertMismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// rustls' reason.
        #[source]
        source: rustls::Error,
    },
}

/// Why [`OpenbaoHttp::new`] cannot build a client. Messages name the address, namespace or
/// TLS file to fix.
#[derive(Debug, thiserror::Error)]
pub enum HttpClientError {
    /// The address is not a URL.
    #[error("`{addr}` is not a URL: {source}")]
    InvalidAddress {
        /// The address given.
        addr: String,
        /// The parse error.
        #[source]
        source: url::ParseError,
    },
    /// The address is a URL but not `http://` or `https://`.
    #[error("`{addr}` must start with http:// or https://")]
    UnsupportedScheme {
        /// The address given.
        addr: String,
    },
    /// The namespace holds characters an HTTP header cannot carry.
    #[error("the namespace `{namespace}` cannot be sent in an HTTP header")]
    BadNamespace {
        /// The namespace given.
        namespace: String,
    },
    /// The TLS settings cannot be used (see [`TlsConfigError`] for the kinds).
    #[error(transparent)]
    Tls(#[from] TlsConfigError),
    /// reqwest could not build the client.
    #[error("cannot build the HTTP client: {0}")]
    Build(#[source] reqwest::Error),
}

/// A client that cannot be built is a settings problem of the store
/// ([`crate::SecretStoreError::Config`]), with the same message.
impl From<HttpClientError> for crate::SecretStoreError {
    fn from(e: HttpClientError) -> Self {
        crate::SecretStoreError::Config {
            store: crate::store::openbao::STORE.to_string(),
            message: e.to_string(),
            source: Some(Box::new(e)),
        }
    }
}

/// TLS settings of one server (OpenBao, or the identity provider), like the Vault CLI's
/// `VAULT_CACERT`, `VAULT_CAPATH`, `VAULT_SKIP_VERIFY`, `VAULT_TLS_SERVER_NAME`,
/// `VAULT_CLIENT_CERT`/`VAULT_CLIENT_KEY`.
///
/// Trusted CAs: when `ca_cert` or `ca_path` is set, only the CAs found there (as the Vault CLI
/// does); otherwise the OS trust store (so a company CA installed on the machine works; it also
/// honours `SSL_CERT_FILE`/`SSL_CERT_DIR`) plus the bundled Mozilla roots.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// A PEM file with one or more CA certificates.
    pub ca_cert: Option<PathBuf>,
    /// A folder of PEM files with CA certificates.
    pub ca_path: Option<PathBuf>,
    /// Accept any server certificate (handshake signatures are still checked). Insecure.
    pub skip_verify: bool,
    /// Check the server certificate against this name instead of the URL's host (e.g. the
    /// address is an IP or a port-forward).
    pub server_name: Option<String>,
    /// A client certificate to present (mutual TLS).
    pub client_cert: Option<ClientCert>,
}

impl TlsOptions {
    /// The rustls configuration these options describe. Errors name the file or folder and
    /// what is wrong with it.
    pub fn rustls_config(&self) -> Result<rustls::ClientConfig, TlsConfigError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(TlsConfigError::Setup)?;
        let verifier: Arc<dyn ServerCertVerifier> = if self.skip_verify {
            Arc::new(AcceptAnyCertificate(provider))
        } else {
            let roots = self.root_store()?;
            let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(TlsConfigError::Verifier)?;
            match &self.server_name {
                Some(name) => Arc::new(FixedServerName {
                    name: ServerName::try_from(name.clone())
                        .map_err(|_| TlsConfigError::ServerName { name: name.clone() })?,
                    inner: webpki,
                }),
                None => webpki,
            }
        };
        let builder = builder
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        match &self.client_cert {
            None => Ok(builder.with_no_client_auth()),
            Some(cc) => {
                let chain = read_certs(&cc.cert)?;
                if chain.is_empty() {
                    return Err(TlsConfigError::NoClientCert {
                        path: cc.cert.clone(),
                    });
                }
                let key = PrivateKeyDer::from_pem_file(&cc.key).map_err(|e| {
                    TlsConfigError::ClientKey {
                        path: cc.key.clone(),
                        detail: pem_error(&e),
                    }
                })?;
                builder.with_client_auth_cert(chain, key).map_err(|source| {
                    TlsConfigError::ClientCertMismatch {
                        cert: cc.cert.clone(),
                        key: cc.key.clone(),
                        source,
                    }
                })
            }
        }
    }

    fn root_store(&self) -> Result<RootCertStore, TlsConfigError> {
        let mut roots = RootCertStore::empty();
        if self.ca_cert.is_none() && self.ca_path.is_none() {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            let (added, ignored) =
                roots.add_parsable_certificates(os_trust_store().iter().cloned());
            log::debug!(
                "tls: {added} CA certificates from the OS trust store ({ignored} unusable)"
            );
            return Ok(roots);
        }
        if let Some(file) = &self.ca_cert {
            let certs = read_certs(file)?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(TlsConfigError::NoCaInFile { path: file.clone() });
            }
        }
        if let Some(dir) = &self.ca_path {
            let entries = std::fs::read_dir(dir).map_err(|source| TlsConfigError::CaFolder {
                path: dir.clone(),
                source,
            })?;
            let mut added = 0;
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_file()
                    && let Ok(certs) = read_certs(&path)
                {
                    added += roots.add_parsable_certificates(certs).0;
                }
            }
            if added == 0 {
                return Err(TlsConfigError::NoCaInFolder { path: dir.clone() });
            }
        }
        Ok(roots)
    }
}

/// The OS trust store, read once per process.
fn os_trust_store() -> &'static [CertificateDer<'static>] {
    static STORE: std::sync::OnceLock<Vec<CertificateDer<'static>>> = std::sync::OnceLock::new();
    STORE.get_or_init(|| {
        let native = rustls_native_certs::load_native_certs();
        for e in &native.errors {
            log::debug!("tls: skipping part of the OS trust store: {e}");
        }
        native.certs
    })
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsConfigError> {
    let bytes = std::fs::read(path).map_err(|source| TlsConfigError::Unreadable {
        path: path.to_path_buf(),
        source,
    })?;
    CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsConfigError::BadPem {
            path: path.to_path_buf(),
            detail: pem_error(&e),
        })
}

/// A PEM error without the file's content (a key file must never be quoted).
fn pem_error(e: &rustls_pki_types::pem::Error) -> String {
    use rustls_pki_types::pem::Error;
    match e {
        Error::Io(io) => io.to_string(),
        Error::NoItemsFound => "no PEM item of the expected kind".to_string(),
        _ => "malformed PEM".to_string(),
    }
}

/// `skip_verify`: any certificate, but the handshake signature must still match it.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `server_name`: the certificate is checked against a fixed name, not the URL's host.
#[derive(Debug)]
struct FixedServerName {
    name: ServerName<'static>,
    inner: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for FixedServerName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner
            .verify_server_cert(end_entity, intermediates, &self.name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// `addr` with its `user:pass@` replaced by `***@`, or `None` when it carries none: what may be
/// shown of an address in a message, a log line or `Debug`.
///
/// An address that does not parse (a typo in the port, a space in the host) is judged by its
/// text: everything between `://` and the last `@` is hidden, so a password never leaks through
/// the "is not a URL" message that repeats the address.
pub fn hide_userinfo(addr: &str) -> Option<String> {
    match url::Url::parse(addr) {
        Ok(u) if u.username().is_empty() && u.password().is_none() => None,
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            Some(u.to_string().replacen("://", "://***@", 1))
        }
        Err(_) => {
            let start = addr.find("://").map_or(0, |i| i + 3);
            let at = addr.rfind('@').filter(|&at| at >= start)?;
            Some(format!("{}***@{}", &addr[..start], &addr[at + 1..]))
        }
    }
}

/// A reqwest client builder whose TLS follows `tls` (nothing else set). The identity
/// provider's client starts from this with its own options.
pub fn client_builder(tls: &TlsOptions) -> Result<reqwest::ClientBuilder, TlsConfigError> {
    Ok(reqwest::Client::builder().use_preconfigured_tls(tls.rustls_config()?))
}

/// Why a redirect was not followed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectRefused {
    /// The URL that answered with the redirect.
    pub from: String,
    /// Where it pointed.
    pub to: String,
    /// Why it was not followed.
    pub reason: &'static str,
}

impl std::fmt::Display for RedirectRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "refused to follow the redirect from {} to {}: {}",
            self.from, self.to, self.reason
        )
    }
}

impl std::error::Error for RedirectRefused {}

/// The Vault client's rule: one redirect at most, never from https to http.
fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let previous = attempt.previous();
        let from = previous.last().map(|u| u.to_string()).unwrap_or_default();
        let to = attempt.url().to_string();
        let https_to_http = previous.last().is_some_and(|u| u.scheme() == "https")
            && attempt.url().scheme() != "https";
        if https_to_http {
            attempt.error(RedirectRefused {
                from,
                to,
                reason: "it goes from https to http (a protocol downgrade)",
            })
        } else if previous.len() > 1 {
            attempt.error(RedirectRefused {
                from,
                to,
                reason: "a second redirect (at most one is followed, like the Vault client)",
            })
        } else {
            attempt.follow()
        }
    })
}

/// A request that got no HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// No answer within the request's timeout.
    #[error("no answer within {0:?} (timeout)")]
    Timeout(Duration),
    /// The server redirected, and following would be unsafe.
    #[error("{0}")]
    RedirectRefused(RedirectRefused),
    /// Connection refused, DNS, TLS handshake, … with the chain of causes.
    #[error("cannot connect: {0}")]
    Connect(String),
}

impl HttpError {
    /// `https`: the request went over https, where a connection closed without a TLS reason
    /// may be a server that wants a client certificate ([`TlsProblem::of_https_failure`]).
    fn from_reqwest(e: &reqwest::Error, timeout: Duration, https: bool) -> Self {
        let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
        while let Some(s) = source {
            if let Some(r) = s.downcast_ref::<RedirectRefused>() {
                return HttpError::RedirectRefused(r.clone());
            }
            source = s.source();
        }
        if e.is_timeout() {
            return HttpError::Timeout(timeout);
        }
        // The variables are read only from the family of the address variable: name each.
        let fixes = TlsFixes {
            ca: "ca_cert / ca_path, or the CACERT / CAPATH variable of the address's family \
                     (OPENBAO_CACERT with OPENBAO_URL, BAO_CACERT with BAO_ADDR, VAULT_CACERT \
                     with VAULT_ADDR)",
            name: "tls_server_name, or OPENBAO_TLS_SERVER_NAME with OPENBAO_URL \
                       (BAO_TLS_SERVER_NAME with BAO_ADDR, VAULT_TLS_SERVER_NAME with VAULT_ADDR)",
            client_cert: "client_cert, or the CLIENT_CERT + CLIENT_KEY variables of the \
                              address's family (OPENBAO_CLIENT_CERT + OPENBAO_CLIENT_KEY with \
                              OPENBAO_URL, BAO_ with BAO_ADDR, VAULT_ with VAULT_ADDR)",
        };
        let problem = if https {
            TlsProblem::of_https_failure(e)
        } else {
            TlsProblem::find(e)
        };
        HttpError::Connect(describe_connect_error(e, &fixes, problem))
    }
}

/// The options that fix each [`TlsProblem`], as the person sets them (builder method and
/// environment variables).
pub(crate) struct TlsFixes<'a> {
    /// Fixes an unknown CA.
    pub(crate) ca: &'a str,
    /// Fixes a certificate that does not name the host of the URL.
    pub(crate) name: &'a str,
    /// Gives a client certificate.
    pub(crate) client_cert: &'a str,
}

/// A certificate problem that one of our TLS options fixes, told by the kind of the rustls
/// error (never by its text, which changes between rustls versions).
///
/// Other clients (the existing-stack checks in `harmony`) use it to name their own flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsProblem {
    /// The server's certificate is not signed by a CA we trust.
    UntrustedCa,
    /// The server's certificate does not name the host we asked for.
    WrongName,
    /// The server refused the handshake for want of a client certificate it trusts.
    ClientCertRequired,
    /// An https connection, handshake done, that the server dropped without a TLS reason. With
    /// TLS 1.3 a server that wants a client certificate (it trusts) sends its
    /// `certificate_required` / `unknown_ca` alert after our side of the handshake is done, so
    /// the request may fail this way: a client certificate is then the likely fix, but not a
    /// certain one. Only [`TlsProblem::of_https_failure`] reports it.
    ClosedWithoutReason,
}

impl TlsProblem {
    fn of(e: &rustls::Error) -> Option<Self> {
        use rustls::CertificateError as C;
        match e {
            rustls::Error::InvalidCertificate(C::UnknownIssuer | C::BadSignature) => {
                Some(TlsProblem::UntrustedCa)
            }
            rustls::Error::InvalidCertificate(
                C::NotValidForName | C::NotValidForNameContext { .. },
            ) => Some(TlsProblem::WrongName),
            // TLS 1.3 servers say `certificate_required`; TLS 1.2 ones `bad_certificate`, and
            // `unknown_ca` when they do not trust the one we sent.
            rustls::Error::AlertReceived(
                rustls::AlertDescription::CertificateRequired
                | rustls::AlertDescription::BadCertificate
                | rustls::AlertDescription::UnknownCA,
            ) => Some(TlsProblem::ClientCertRequired),
            _ => None,
        }
    }

    /// The first certificate problem in `e`'s chain of causes (e.g. a [`reqwest::Error`]).
    pub fn find(e: &(dyn std::error::Error + 'static)) -> Option<Self> {
        causes(e).find_map(|c| c.downcast_ref::<rustls::Error>().and_then(TlsProblem::of))
    }

    /// [`TlsProblem::find`] for a failed https request; or [`TlsProblem::ClosedWithoutReason`]
    /// when the connection (TCP and TLS handshake) was made and then lost without any rustls
    /// error: the TLS 1.3 client-certificate race. A failure while connecting (DNS, refused, a
    /// port-forward with no backend, a plain-HTTP server on an https URL), a timeout or any
    /// other rustls error is never counted as that.
    pub fn of_https_failure(e: &reqwest::Error) -> Option<Self> {
        let rustls_error = causes(e).any(|c| c.is::<rustls::Error>());
        Self::find(e).or((!e.is_connect() && !e.is_timeout() && !rustls_error)
            .then_some(TlsProblem::ClosedWithoutReason))
    }

    /// What to do, naming the options that fix it.
    fn hint(self, fixes: &TlsFixes) -> String {
        let TlsFixes {
            ca: ca_fix,
            name: name_fix,
            client_cert: cert_fix,
        } = fixes;
        match self {
            TlsProblem::UntrustedCa => format!(
                " (the server's certificate is not signed by a trusted CA: give its CA with \
                 {ca_fix}, or install it in the OS trust store)"
            ),
            TlsProblem::WrongName => format!(
                " (the server's certificate does not name the host of the URL: use a name it has \
                 in the URL, or set {name_fix})"
            ),
            TlsProblem::ClientCertRequired => format!(
                " (the server wants a client certificate it trusts: give one with {cert_fix})"
            ),
            TlsProblem::ClosedWithoutReason => format!(
                " (if the server requires a client certificate it trusts, give one with {cert_fix})"
            ),
        }
    }
}

/// Why a request got no answer, with its chain of causes (`error sending request` alone says
/// nothing) and, for a certificate problem, which options fix it. Used by [`OpenbaoHttp`] and
/// the identity provider's client.
pub(crate) fn describe_connect_error(
    e: &reqwest::Error,
    fixes: &TlsFixes,
    problem: Option<TlsProblem>,
) -> String {
    let mut chain: Vec<String> = Vec::new();
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if chain.last() != Some(&text) {
            chain.push(text);
        }
        source = s.source();
    }
    let message = if chain.is_empty() {
        e.to_string()
    } else {
        chain.join(": ")
    };
    match problem {
        Some(problem) => message + &problem.hint(fixes),
        None => message,
    }
}

/// `e` and its causes, including the errors wrapped inside [`std::io::Error`]s: rustls and OS
/// errors reach us that way, and `io::Error::source()` skips the error it wraps.
fn causes<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(e), |e| e.source()).flat_map(|e| {
        std::iter::successors(Some(e), |i| {
            i.downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .map(|i| i as &(dyn std::error::Error + 'static))
        })
    })
}

/// Options of an [`OpenbaoHttp`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenbaoHttpOptions {
    /// TLS settings of the server.
    pub tls: TlsOptions,
    /// Sent as `X-Vault-Namespace` on every request.
    pub namespace: Option<String>,
    /// Timeout of one request (connect + answer), unless a request says otherwise.
    pub timeout: Duration,
    /// Timeout of the TCP/TLS connect alone.
    pub connect_timeout: Option<Duration>,
    /// Sends the address's host to this socket address instead of asking DNS (e.g. a
    /// `*.localhost` host behind a local k3d ingress).
    pub resolve_to: Option<std::net::SocketAddr>,
}

impl Default for OpenbaoHttpOptions {
    fn default() -> Self {
        Self {
            tls: TlsOptions::default(),
            namespace: None,
            timeout: Duration::from_secs(30),
            connect_timeout: None,
            resolve_to: None,
        }
    }
}

/// One answer: the status and the JSON body (`Null` when empty or not JSON).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiResponse {
    /// The HTTP status.
    pub status: u16,
    /// The JSON body (`Null` when empty or not JSON).
    pub body: Value,
}

impl ApiResponse {
    /// OpenBao's `errors` joined with `; `, if any.
    pub fn errors(&self) -> Option<String> {
        errors_of(&self.body)
    }
}

/// A client for one OpenBao address. Cheap to clone.
#[derive(Clone)]
pub struct OpenbaoHttp {
    client: reqwest::Client,
    addr: String,
    timeout: Duration,
    /// The address's scheme is https (as parsed): see [`TlsProblem::of_https_failure`].
    https: bool,
}

impl std::fmt::Debug for OpenbaoHttp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenbaoHttp")
            .field("addr", &self.addr)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl OpenbaoHttp {
    /// `addr` is the server's base URL (`https://bao.example.com:8200`); a trailing `/` is
    /// dropped. Errors name what is wrong (URL, CA file, namespace).
    pub fn new(addr: &str, options: &OpenbaoHttpOptions) -> Result<Self, HttpClientError> {
        let parsed = url::Url::parse(addr).map_err(|source| HttpClientError::InvalidAddress {
            addr: addr.to_string(),
            source,
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(HttpClientError::UnsupportedScheme {
                addr: addr.to_string(),
            });
        }
        let mut headers = HeaderMap::new();
        headers.insert("X-Vault-Request", HeaderValue::from_static("true"));
        if let Some(ns) = options.namespace.as_deref().filter(|n| !n.is_empty()) {
            let value = HeaderValue::from_str(ns).map_err(|_| HttpClientError::BadNamespace {
                namespace: ns.to_string(),
            })?;
            headers.insert("X-Vault-Namespace", value);
        }
        let mut builder = client_builder(&options.tls)?
            .default_headers(headers)
            .redirect(redirect_policy())
            .referer(false)
            .timeout(options.timeout);
        if let Some(t) = options.connect_timeout {
            builder = builder.connect_timeout(t);
        }
        // A loopback OpenBao (a port-forward, a local dev server) is never reached through an
        // exported HTTP(S)_PROXY: the token would leave the machine for nothing. Nor is a host
        // pinned with `resolve_to`: a proxy would resolve the name itself, ignoring the pin.
        if parsed.host().is_some_and(|h| is_loopback_url_host(&h)) || options.resolve_to.is_some() {
            builder = builder.no_proxy();
        }
        if let (Some(to), Some(host)) = (options.resolve_to, parsed.host_str()) {
            builder = builder.resolve(host, to);
        }
        let client = builder
            .build()
            .map_err(|e| HttpClientError::Build(e.without_url()))?;
        Ok(Self {
            client,
            addr: addr.trim_end_matches('/').to_string(),
            timeout: options.timeout,
            https: parsed.scheme() == "https",
        })
    }

    /// The base URL, without a trailing `/`.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// `METHOD {addr}/v1/{path}` (`path` may carry a query string), with the token and a JSON
    /// body if given. `timeout` overrides the client's for this request.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        timeout: Option<Duration>,
    ) -> Result<ApiResponse, HttpError> {
        let timeout = timeout.unwrap_or(self.timeout);
        let mut req = self
            .client
            .request(method, format!("{}/v1/{path}", self.addr))
            .timeout(timeout);
        if let Some(token) = token {
            let mut value = HeaderValue::from_str(token)
                .map_err(|_| HttpError::Connect("the token is not a valid header value".into()))?;
            value.set_sensitive(true);
            req = req.header("X-Vault-Token", value);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| HttpError::from_reqwest(&e, timeout, self.https))?;
        let status = resp.status().as_u16();
        let bytes = resp
            .bytes()
            .await
            // The server has answered: a lost body is no certificate question.
            .map_err(|e| HttpError::from_reqwest(&e, timeout, false))?;
        let body = if bytes.iter().all(u8::is_ascii_whitespace) {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        };
        Ok(ApiResponse { status, body })
    }
}

/// OpenBao's `{"errors": [...]}` joined with `; `, if any.
pub fn errors_of(v: &Value) -> Option<String> {
    let errs: Vec<&str> = v["errors"]
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .filter(|e| !e.is_empty())
        .collect();
    (!errs.is_empty()).then(|| errs.join("; "))
}

/// `localhost`, `*.localhost` (RFC 6761), 127.0.0.0/8 or ::1 (a host name or a bare address).
/// One rule for every client that must not send a loopback request through a proxy.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost"
        || host.ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// [`is_loopback_host`] for the host of a parsed URL.
pub(crate) fn is_loopback_url_host(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(d) => is_loopback_host(d),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With TLS 1.3 a server that requires a client certificate (it trusts) may drop the
    /// connection right after the handshake, its alert lost: the request then fails with no
    /// rustls error, and the message names the client-certificate options as a possibility. A
    /// failure while connecting never gets that hint: a port that closes before any TLS (a
    /// port-forward with no backend), a plain-HTTP server on an https URL, nothing listening.
    #[tokio::test]
    async fn only_a_connection_dropped_after_the_handshake_suggests_a_client_certificate() {
        use harmony_test_support::{PrivatePki, RecordingServer, Reply};
        let pki = PrivatePki::new();
        let get = |url: String| {
            let ca = pki.ca.clone();
            async move {
                let options = OpenbaoHttpOptions {
                    tls: TlsOptions {
                        ca_cert: Some(ca),
                        ..Default::default()
                    },
                    ..Default::default()
                };
                let http = OpenbaoHttp::new(&url, &options).unwrap();
                http.send(Method::GET, "sys/health", None, None, None)
                    .await
                    .map(|_| ())
                    .unwrap_err()
                    .to_string()
            }
        };
        let after_handshake = RecordingServer::start_tls(Reply::Close, &pki.cert, &pki.key).await;
        let dropped = get(after_handshake.url().to_string()).await;
        assert!(
            dropped.contains("if the server requires a client certificate it trusts")
                && dropped.contains("OPENBAO_CLIENT_CERT"),
            "{dropped}"
        );

        let before_tls = RecordingServer::start(Reply::Close).await;
        // A plain-HTTP server (OpenBao with `tls_disable`, like Go's net/http) answers a TLS
        // hello with an HTTP 400.
        let plain_http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let plain_http_url = format!("http://{}", plain_http.local_addr().unwrap());
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            while let Ok((mut socket, _)) = plain_http.accept().await {
                let _ = socket
                    .write_all(b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
                    .await;
            }
        });
        let nothing = format!("http://127.0.0.1:{}", harmony_test_support::free_port());
        for server in [before_tls.url(), plain_http_url.as_str(), nothing.as_str()] {
            let url = server.replacen("http://", "https://", 1);
            let text = get(url).await;
            assert!(!text.contains("client certificate"), "{server}: {text}");
        }
    }

    #[test]
    fn tls_file_errors_name_the_file_and_never_quote_a_key() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("client-key.pem");
        std::fs::write(
            &key,
            "-----BEGIN PRIVATE KEY-----\nTOP-SECRET-KEY-MATERIAL\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        let cert = dir.path().join("client.pem");
        std::fs::write(&cert, "not a certificate").unwrap();
        let missing = dir.path().join("missing-ca.pem");

        let e = TlsOptions {
            ca_cert: Some(missing.clone()),
            ..Default::default()
        }
        .rustls_config()
        .unwrap_err();
        match &e {
            TlsConfigError::Unreadable { path, source } => {
                assert_eq!(path, &missing);
                assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
            }
            other => panic!("expected Unreadable, got {other:?}"),
        }
        let e = e.to_string();
        assert!(e.contains(&missing.display().to_string()), "{e}");

        let e = TlsOptions {
            client_cert: Some(ClientCert {
                cert: cert.clone(),
                key: key.clone(),
            }),
            ..Default::default()
        }
        .rustls_config()
        .unwrap_err();
        assert!(
            matches!(&e, TlsConfigError::BadPem { path, .. } | TlsConfigError::NoClientCert { path } if path == &cert),
            "{e:?}"
        );
        let e = e.to_string();
        assert!(e.contains(&cert.display().to_string()), "{e}");

        // A good certificate and a broken key: the key file is named, its content is not.
        let good = rcgen::generate_simple_self_signed(vec!["x.test".to_string()]).unwrap();
        std::fs::write(&cert, good.cert.pem()).unwrap();
        let e = TlsOptions {
            client_cert: Some(ClientCert {
                cert: cert.clone(),
                key: key.clone(),
            }),
            ..Default::default()
        }
        .rustls_config()
        .unwrap_err();
        assert!(
            matches!(&e, TlsConfigError::ClientKey { path, .. } if path == &key),
            "{e:?}"
        );
        assert!(!format!("{e:?}").contains("TOP-SECRET"), "{e:?}");
        let e = e.to_string();
        assert!(e.contains(&key.display().to_string()), "{e}");
        assert!(!e.contains("TOP-SECRET"), "{e}");

        let only_key = dir.path().join("only-a-key");
        std::fs::create_dir(&only_key).unwrap();
        std::fs::copy(&key, only_key.join("key.pem")).unwrap();
        let e = TlsOptions {
            ca_path: Some(only_key),
            ..Default::default()
        }
        .rustls_config()
        .unwrap_err();
        assert!(matches!(&e, TlsConfigError::NoCaInFolder { .. }), "{e:?}");
        let e = e.to_string();
        assert!(e.contains("holds no usable PEM certificate"), "{e}");
        assert!(!e.contains("TOP-SECRET"), "{e}");
    }

    #[test]
    fn a_namespace_that_cannot_be_a_header_is_refused() {
        let e = OpenbaoHttp::new(
            "http://127.0.0.1:1",
            &OpenbaoHttpOptions {
                namespace: Some("team\na".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(
            matches!(&e, HttpClientError::BadNamespace { namespace } if namespace == "team\na"),
            "{e:?}"
        );
        let e = e.to_string();
        assert!(e.contains("namespace"), "{e}");
    }

    #[test]
    fn an_address_that_is_not_a_url_is_its_own_kind_and_a_store_config_error() {
        let e = OpenbaoHttp::new("bao.example.com:8200", &Default::default()).unwrap_err();
        // Parsed as a URL of scheme `bao.example.com`: refused for its scheme.
        assert!(
            matches!(&e, HttpClientError::UnsupportedScheme { addr } if addr == "bao.example.com:8200"),
            "{e:?}"
        );
        let e = OpenbaoHttp::new("not a url", &Default::default()).unwrap_err();
        assert!(
            matches!(&e, HttpClientError::InvalidAddress { .. }),
            "{e:?}"
        );
        let text = e.to_string();
        match crate::SecretStoreError::from(e) {
            crate::SecretStoreError::Config { message, .. } => assert_eq!(message, text),
            other => panic!("expected Config, got {other:?}"),
        }
    }
}
