//! [`Interpret`]: the code that makes a [`crate::score::Score`] true on a topology.

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;

use crate::infra::k8s::K8sError;
use crate::inventory::Inventory;
use crate::plan::Plan;
use crate::topology::{CapabilityError, Topology};

/// How a Score is planned and applied on a topology `T`. Each Score's `create_interpret` returns
/// one; the runner ([`crate::maestro`]) calls `prepare`, `plan` and `execute`.
#[async_trait]
pub trait Interpret<T: Topology>: Send + Sync {
    /// Brings the topology to the wanted state, or reports why it could not.
    async fn execute(&self, inventory: &Inventory, topology: &T)
    -> Result<Outcome, InterpretError>;

    /// Asks up front what the interpret will need from a person (credentials, choices). The
    /// runner calls it for every selected Score, in order, before preparing the topology and
    /// running any Score, so nobody is prompted after minutes of waiting. It must not use the
    /// topology (not ready yet). Default: nothing to ask.
    async fn prepare(&self, _inventory: &Inventory) -> Result<(), InterpretError> {
        Ok(())
    }

    /// Says what [`Interpret::execute`] would change, changing nothing: only reads and
    /// dry-run requests reach the topology (see [`crate::plan`]). The runner calls it for
    /// `--plan` and before its confirmation question, BEFORE preparing the topology (which may
    /// not exist yet: say so in the plan rather than fail).
    /// Default: the Score cannot tell in advance.
    async fn plan(&self, _inventory: &Inventory, _topology: &T) -> Result<Plan, InterpretError> {
        Ok(Plan::unsupported("this Score cannot plan yet"))
    }
}

/// What an interpret did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InterpretStatus {
    /// Something was created or changed.
    Success,
    /// The wanted state was already there: nothing was changed.
    Noop,
    /// The Score does not apply to this topology (e.g. a k3s-only fix on OpenShift).
    Skipped,
}

impl fmt::Display for InterpretStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InterpretStatus::Success => "changed",
            InterpretStatus::Noop => "unchanged",
            InterpretStatus::Skipped => "skipped",
        })
    }
}

/// The result of a successful interpret: a status, one line for humans, and named details
/// (endpoints, ids, login hints) for the summary and for later Scores. Never put secrets in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Whether anything changed.
    pub status: InterpretStatus,
    /// One line for humans, e.g. `release openbao/openbao already deployed`.
    pub message: String,
    /// Named values shown in the summary (see [`Self::with_detail`]).
    pub details: BTreeMap<String, String>,
}

impl Outcome {
    /// Something was created or changed.
    pub fn success(message: impl Into<String>) -> Self {
        Self::new(InterpretStatus::Success, message)
    }

    /// The wanted state was already there.
    pub fn noop(message: impl Into<String>) -> Self {
        Self::new(InterpretStatus::Noop, message)
    }

    /// The Score does not apply to this topology; `message` says why.
    pub fn skipped(message: impl Into<String>) -> Self {
        Self::new(InterpretStatus::Skipped, message)
    }

    fn new(status: InterpretStatus, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            details: BTreeMap::new(),
        }
    }

    /// Adds a named detail, e.g. `("url", "http://bao.harmony.local:8080")`.
    pub fn with_detail(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.details.insert(key.into(), value.into());
        self
    }
}

/// Why an interpret failed. The message says what failed and what to do next.
#[derive(Debug, thiserror::Error)]
pub enum InterpretError {
    /// A capability of the topology failed (cluster unreachable, helm failed, ...).
    #[error("{0}")]
    Capability(String),
    /// Waiting for something timed out.
    #[error("timed out after {seconds}s waiting for {what}")]
    Timeout {
        /// What was waited for, e.g. `Zitadel zitadel.harmony.local to answer /debug/ready`.
        what: String,
        /// How long it was waited for.
        seconds: u64,
    },
    /// The Score's own settings are wrong.
    #[error("invalid settings: {0}")]
    InvalidScore(String),
    /// Anything else, with context.
    #[error("{0}")]
    Other(String),
    /// A capability of the topology failed; the source says which kind (match on it, e.g.
    /// [`CapabilityError::Kubernetes`]).
    #[error(transparent)]
    CapabilityFailed(#[from] CapabilityError),
}

/// A Kubernetes call inside an Interpret: a timeout stays [`InterpretError::Timeout`], any
/// other kind a [`CapabilityError::Kubernetes`] (with its cause). It lives here, not in the
/// adapter, so `infra` never names the domain's error.
impl From<K8sError> for InterpretError {
    fn from(e: K8sError) -> Self {
        match e {
            K8sError::Timeout { what, seconds } => InterpretError::Timeout { what, seconds },
            other => InterpretError::CapabilityFailed(CapabilityError::Kubernetes(other)),
        }
    }
}

/// A helm command inside an Interpret: a [`CapabilityError::Helm`] (same message, kind kept).
impl From<crate::infra::helm::HelmError> for InterpretError {
    fn from(e: crate::infra::helm::HelmError) -> Self {
        InterpretError::CapabilityFailed(CapabilityError::Helm(e))
    }
}

/// An OpenBao setup step inside an Interpret: a [`CapabilityError::OpenbaoSetup`] (same
/// message, kind kept).
impl From<crate::infra::openbao_admin::OpenbaoSetupError> for InterpretError {
    fn from(e: crate::infra::openbao_admin::OpenbaoSetupError) -> Self {
        InterpretError::CapabilityFailed(CapabilityError::OpenbaoSetup(e))
    }
}

/// The OpenBao key store inside an Interpret: a [`CapabilityError::OpenbaoKeyStore`] (same
/// message, kind kept).
impl From<crate::infra::openbao_admin::KeyStoreError> for InterpretError {
    fn from(e: crate::infra::openbao_admin::KeyStoreError) -> Self {
        InterpretError::CapabilityFailed(CapabilityError::OpenbaoKeyStore(e))
    }
}

impl From<String> for InterpretError {
    fn from(message: String) -> Self {
        InterpretError::Capability(message)
    }
}

impl From<&str> for InterpretError {
    fn from(message: &str) -> Self {
        InterpretError::Capability(message.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Kubernetes timeout inside an Interpret stays a timeout, with the same message.
    #[test]
    fn a_kubernetes_timeout_stays_a_timeout() {
        let err: InterpretError = K8sError::Timeout {
            what: "Cluster postgresql.cnpg.io/v1 db/pg to be Ready".into(),
            seconds: 300,
        }
        .into();
        assert!(matches!(err, InterpretError::Timeout { seconds: 300, .. }));
        assert_eq!(
            err.to_string(),
            "timed out after 300s waiting for Cluster postgresql.cnpg.io/v1 db/pg to be Ready"
        );
    }

    /// Any other Kubernetes failure keeps its kind through `?` (the webhook classification
    /// itself is tested in `infra::cnpg`), with the same message.
    #[test]
    fn other_kubernetes_failures_keep_their_kind() {
        let err: InterpretError = K8sError::NotFound {
            what: "Service openbao/openbao".into(),
        }
        .into();
        match &err {
            InterpretError::CapabilityFailed(CapabilityError::Kubernetes(k8s)) => {
                assert!(k8s.is_not_found())
            }
            other => panic!("expected a Kubernetes failure, got {other:?}"),
        }
        assert_eq!(err.to_string(), "Service openbao/openbao not found");
    }
    /// A key-store failure in the OpenBao setup keeps its kind through `?` (callers can tell a
    /// lost Secret from a malformed record), with the same message as before.
    #[test]
    fn openbao_key_store_failures_keep_their_kind() {
        use crate::infra::openbao_admin::KeyStoreError;
        let err: InterpretError = KeyStoreError::Malformed {
            location: "Secret openbao/openbao-init key init.json".into(),
            expected: "init record",
            detail: "syntax error at line 1 column 2".into(),
        }
        .into();
        assert!(
            matches!(
                &err,
                InterpretError::CapabilityFailed(CapabilityError::OpenbaoKeyStore(
                    KeyStoreError::Malformed { .. }
                ))
            ),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "Secret openbao/openbao-init key init.json is not a valid init record: syntax error at line 1 column 2"
        );
    }
}
