//! [`CapabilityError`]: why a capability of a topology failed, by kind, with its cause.

use crate::infra::k8s::K8sError;

/// A boxed cause from an adapter (an OpenBao setup error, a helm or k3d failure...).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a capability method failed. The message says what failed and what to do next; the
/// `source` keeps the cause, so callers match kinds (e.g. a Kubernetes timeout) instead of
/// searching text. `?` in an [`crate::interpret::Interpret`] turns it into an
/// [`crate::interpret::InterpretError`].
#[derive(Debug, thiserror::Error)]
pub enum CapabilityError {
    /// A Kubernetes call failed (see [`K8sError`] for its kinds).
    #[error(transparent)]
    Kubernetes(#[from] K8sError),
    /// Configuring OpenBao through its HTTP API failed (see `OpenbaoSetupError` for kinds).
    #[error(transparent)]
    OpenbaoSetup(#[from] crate::infra::openbao_admin::OpenbaoSetupError),
    /// The OpenBao key store (unseal keys, root token) failed (see `KeyStoreError` for kinds).
    #[error(transparent)]
    OpenbaoKeyStore(#[from] crate::infra::openbao_admin::KeyStoreError),
    /// helm could not be installed or run, or failed (see `HelmError` for its kinds).
    #[error(transparent)]
    Helm(#[from] crate::infra::helm::HelmError),
    /// A server (OpenBao, the OpenID provider) did not answer. The cause carries no URL (its
    /// query could hold a secret): `server` names it instead.
    #[error("{server} does not answer ({source}): {fix}")]
    Unreachable {
        /// The server, e.g. `OpenBao at https://bao.example.com`.
        server: String,
        /// What to check, e.g. `check --openbao-url / OPENBAO_URL`.
        fix: String,
        /// The HTTP client's error, without its URL.
        #[source]
        source: crate::infra::http_error::HttpClientError,
    },
    /// A server answered, but not as the capability needs (sealed, not initialised, no device
    /// grant, another issuer...). The message says what to do.
    #[error("{0}")]
    Server(String),
    /// The request's own settings are wrong (e.g. a PostgreSQL with zero instances).
    #[error("invalid settings: {0}")]
    InvalidRequest(String),
    /// The request asks for something this topology does not offer.
    #[error("{0}")]
    Unsupported(String),
    /// A Score the capability runs (e.g. `OpenbaoScore` behind the k3d secret vault) failed.
    #[error("{score}: {source}")]
    Score {
        /// The Score's name.
        score: String,
        /// Why it failed.
        #[source]
        source: Box<crate::interpret::InterpretError>,
    },
    /// An adapter step failed (the OpenBao setup, helm, k3d, a local file...).
    #[error("{what}: {source}")]
    Adapter {
        /// What was being done.
        what: String,
        /// The adapter's error.
        #[source]
        source: BoxError,
    },
}

impl CapabilityError {
    /// An adapter failure with its cause.
    pub fn adapter(what: impl Into<String>, source: impl Into<BoxError>) -> Self {
        CapabilityError::Adapter {
            what: what.into(),
            source: source.into(),
        }
    }

    /// The Kubernetes error behind this failure, if that is what it is.
    pub fn as_k8s(&self) -> Option<&K8sError> {
        match self {
            CapabilityError::Kubernetes(e) => Some(e),
            _ => None,
        }
    }
}
