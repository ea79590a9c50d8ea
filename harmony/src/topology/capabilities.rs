//! Capabilities: traits a topology implements, which Scores name as bounds.
//!
//! They model industry concepts ("a Kubernetes API", "a Helm client", "a PostgreSQL service"),
//! not particular tools. A Score bounded on `T: Topology + PostgreSQL` works on any topology
//! that can provide PostgreSQL, whichever operator or service is behind it.
//!
//! Every capability method returns `Result<_, CapabilityError>`, so `?` inside an
//! [`crate::interpret::Interpret`] turns a failure into an [`crate::interpret::InterpretError`].

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::CapabilityError;

/// Access to a Kubernetes API.
#[async_trait]
pub trait K8sclient: Send + Sync {
    /// A client bound to the topology's cluster (kubeconfig and context). Cheap to call
    /// repeatedly: implementations cache the client.
    async fn k8s_client(&self) -> Result<Arc<crate::infra::k8s::K8sClient>, CapabilityError>;
}

/// Access to the Helm CLI.
pub trait HelmCommand: Send + Sync {
    /// A `helm` command already bound to the topology's cluster (`--kubeconfig`,
    /// `--kube-context` when the topology has them). Callers append the subcommand and its
    /// arguments: `topology.helm_command().args(["list", "-A", "-o", "json"])`.
    fn helm_command(&self) -> std::process::Command;
}

/// Which Kubernetes distribution a cluster runs. Some Scores only apply to one family (e.g.
/// patching the k3s CoreDNS `coredns-custom` ConfigMap) and report `Skipped` elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum K8sDistribution {
    /// k3s, k3d (k3s in Docker), RKE2-style k3s builds.
    K3sFamily,
    /// OpenShift / OKD.
    OpenShift,
    /// Anything else (kind, EKS, GKE, vanilla kubeadm, ...).
    Other,
}

impl fmt::Display for K8sDistribution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            K8sDistribution::K3sFamily => "k3s",
            K8sDistribution::OpenShift => "openshift",
            K8sDistribution::Other => "other",
        })
    }
}

/// Tells which Kubernetes distribution the topology's cluster runs.
#[async_trait]
pub trait K8sDistributionProbe: Send + Sync {
    /// The distribution of the topology's cluster (server version, API groups, node labels).
    async fn k8s_distribution(&self) -> Result<K8sDistribution, CapabilityError>;
}

/// What a PostgreSQL database should look like.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostgreSQLConfig {
    /// Cluster name; the read-write endpoint and secrets are derived from it.
    pub name: String,
    /// Namespace of the cluster and its Services and Secrets.
    pub namespace: String,
    /// Number of instances (1 primary + N-1 replicas).
    pub instances: u32,
    /// Storage per instance, Kubernetes quantity (e.g. `1Gi`).
    pub storage_size: String,
    /// Storage class; `None` uses the cluster default (`local-path` on k3s).
    pub storage_class: Option<String>,
    /// The application database created at bootstrap.
    pub database: String,
    /// The owner (application user) of that database.
    pub owner: String,
    /// How long to wait for the database to become ready.
    pub ready_timeout_secs: u64,
}

impl PostgreSQLConfig {
    /// A one-instance 1Gi database `name` owned by `name`, in `namespace`.
    pub fn new(name: impl Into<String>, namespace: impl Into<String>) -> Self {
        let name = name.into();
        Self {
            database: name.clone(),
            owner: name.clone(),
            name,
            namespace: namespace.into(),
            instances: 1,
            storage_size: "1Gi".to_string(),
            storage_class: None,
            ready_timeout_secs: 600,
        }
    }
}

/// Where a deployed PostgreSQL is reached, and the names of the secrets holding credentials
/// (never the credentials themselves).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostgreSQLEndpoint {
    /// In-cluster host of the read-write (primary) service, e.g. `zitadel-pg-rw.zitadel.svc.cluster.local`.
    pub host: String,
    /// PostgreSQL's port (5432).
    pub port: u16,
    /// Namespace of the database.
    pub namespace: String,
    /// The application database.
    pub database: String,
    /// Secret (keys `username`, `password`, `uri`, ...) of the database owner, e.g. `<name>-app`.
    pub app_secret: String,
    /// Secret of the `postgres` superuser, e.g. `<name>-superuser`.
    pub superuser_secret: String,
    /// Whether this call created or changed anything (false: it was already as wanted).
    pub changed: bool,
}

/// A PostgreSQL service the topology can provide.
#[async_trait]
pub trait PostgreSQL: Send + Sync {
    /// Makes sure the database described by `config` exists and is ready, installing whatever
    /// operator is needed. Idempotent.
    async fn deploy_postgres(
        &self,
        config: &PostgreSQLConfig,
    ) -> Result<PostgreSQLEndpoint, CapabilityError>;

    /// What `deploy_postgres` would change (reads and dry runs only), and the endpoint it would
    /// return. Default: this topology cannot tell.
    async fn plan_postgres(
        &self,
        config: &PostgreSQLConfig,
    ) -> Result<(Vec<crate::plan::PlannedChange>, PostgreSQLEndpoint), CapabilityError> {
        Err(CapabilityError::Unsupported(format!(
            "this topology cannot plan PostgreSQL {}/{}",
            config.namespace, config.name
        )))
    }
}
