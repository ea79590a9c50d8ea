//! [`K8sAnywhereTopology`]: any Kubernetes cluster, or a local k3d one created on demand.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::OnceCell;

use super::helm::{bound_helm_command, find_helm, find_or_install_helm};
use super::k3d::{ClusterState, K3d, K3dClusterSpec, check_docker_with};
use super::k8s::K8sClient;
use crate::topology::{
    CapabilityError, HelmCommand, K8sDistribution, K8sDistributionProbe, K8sclient,
    PreparationError, PreparationOutcome, Topology,
};

/// Settings of a [`K8sAnywhereTopology`], usually read from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct K8sAnywhereConfig {
    /// `HARMONY_USE_LOCAL_K3D` (default true): create/start a local k3d cluster.
    pub use_local_k3d: bool,
    /// `HARMONY_AUTOINSTALL` (default true): download pinned k3d/helm when missing.
    pub autoinstall: bool,
    /// `KUBECONFIG` when not using local k3d (`None`: the default kubeconfig).
    pub kubeconfig: Option<PathBuf>,
    /// `HARMONY_K8S_CONTEXT`: the context to use when not using local k3d (`None`: current).
    pub context: Option<String>,
    /// The local cluster, when `use_local_k3d`.
    pub k3d: K3dClusterSpec,
    /// Where Harmony keeps its tools and the k3d kubeconfig (`~/.local/share/harmony`).
    pub data_dir: PathBuf,
    /// The Docker CLI probed before using k3d (`docker`, from `PATH`).
    pub docker: PathBuf,
}

fn parse_bool(value: Option<String>, default: bool) -> bool {
    value
        .as_deref()
        .and_then(harmony_secret::text::parse_bool)
        .unwrap_or(default)
}

/// `~/.local/share/harmony` (the platform's data directory + `harmony`).
pub fn harmony_data_dir() -> PathBuf {
    harmony_secret::data_dir::harmony_data_dir().unwrap_or_else(|| PathBuf::from(".harmony"))
}

impl K8sAnywhereConfig {
    /// Reads `HARMONY_USE_LOCAL_K3D`, `HARMONY_AUTOINSTALL`, `KUBECONFIG`, `HARMONY_K8S_CONTEXT`,
    /// `HARMONY_HTTP_PORT` (the k3d ingress host port, default 8080).
    pub fn from_env() -> Self {
        Self::from_vars(|k| std::env::var(k).ok())
    }

    /// Same as [`Self::from_env`], from any variable source (for tests).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        Self {
            use_local_k3d: parse_bool(var("HARMONY_USE_LOCAL_K3D"), true),
            autoinstall: parse_bool(var("HARMONY_AUTOINSTALL"), true),
            kubeconfig: var("KUBECONFIG")
                .filter(|s| !s.is_empty())
                // KUBECONFIG may list several files; the first is the one written to.
                .and_then(|s| std::env::split_paths(&s).next()),
            context: var("HARMONY_K8S_CONTEXT").filter(|s| !s.is_empty()),
            k3d: K3dClusterSpec {
                http_port: var("HARMONY_HTTP_PORT")
                    .filter(|p| !p.trim().is_empty())
                    .and_then(|p| match p.trim().parse::<u16>() {
                        Ok(port) if port > 0 => Some(port),
                        _ => {
                            log::warn!(
                                "HARMONY_HTTP_PORT={p:?} is not a port (1-65535): using {}",
                                super::k3d::DEFAULT_HTTP_PORT
                            );
                            None
                        }
                    })
                    .unwrap_or(super::k3d::DEFAULT_HTTP_PORT),
                ..K3dClusterSpec::default()
            },
            data_dir: harmony_data_dir(),
            docker: PathBuf::from("docker"),
        }
    }

    /// Directory of the pinned k3d and the local cluster's kubeconfig.
    pub fn k3d_dir(&self) -> PathBuf {
        self.data_dir.join("k3d")
    }

    /// Directory of the pinned helm.
    pub fn helm_dir(&self) -> PathBuf {
        self.data_dir.join("helm")
    }

    /// The kubeconfig file the topology uses.
    pub fn effective_kubeconfig(&self) -> Option<PathBuf> {
        if self.use_local_k3d {
            Some(
                self.k3d_dir()
                    .join(format!("kubeconfig-{}.yaml", self.k3d.name)),
            )
        } else {
            self.kubeconfig.clone()
        }
    }

    /// The kubeconfig context the topology uses.
    pub fn effective_context(&self) -> Option<String> {
        if self.use_local_k3d {
            Some(self.k3d.context())
        } else {
            self.context.clone()
        }
    }
}

/// A Kubernetes cluster: a local k3d cluster (`harmony`, context `k3d-harmony`, ingress on
/// host port 8080) by default, or the cluster of `KUBECONFIG` with
/// `HARMONY_USE_LOCAL_K3D=false`.
///
/// Capabilities: [`K8sclient`], [`HelmCommand`], [`K8sDistributionProbe`]; `PostgreSQL`
/// (CloudNativePG, `crate::modules::postgresql::cnpg`) and the secret vault / identity
/// provider (`crate::modules::sso_stack`) are implemented next to the Scores they run.
pub struct K8sAnywhereTopology {
    config: K8sAnywhereConfig,
    client: OnceCell<Arc<K8sClient>>,
}

impl std::fmt::Debug for K8sAnywhereTopology {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("K8sAnywhereTopology")
            .field("config", &self.config)
            .finish()
    }
}

impl K8sAnywhereTopology {
    /// A topology configured from the environment ([`K8sAnywhereConfig::from_env`]).
    pub fn from_env() -> Self {
        Self::new(K8sAnywhereConfig::from_env())
    }

    /// A topology with explicit settings; nothing is contacted until it is used.
    pub fn new(config: K8sAnywhereConfig) -> Self {
        Self {
            config,
            client: OnceCell::new(),
        }
    }

    /// Its settings.
    pub fn config(&self) -> &K8sAnywhereConfig {
        &self.config
    }

    async fn ensure_local_k3d(&self) -> Result<PreparationOutcome, PreparationError> {
        let k3d_dir = self.config.k3d_dir();
        let spec = &self.config.k3d;
        check_docker_with(&self.config.docker).await?;
        let k3d = K3d::find_or_install(&k3d_dir, self.config.autoinstall).await?;
        let outcome = match k3d.state(&spec.name).await? {
            ClusterState::Running => PreparationOutcome::Noop,
            ClusterState::Stopped => {
                let s = crate::progress::spinner(format!("starting k3d cluster {}", spec.name));
                k3d.start(spec).await?;
                s.finish_and_clear();
                PreparationOutcome::Success {
                    details: format!(
                        "started k3d cluster {} (context {})",
                        spec.name,
                        spec.context()
                    ),
                }
            }
            ClusterState::Absent => {
                let s = crate::progress::spinner(format!(
                    "creating k3d cluster {} ({})",
                    spec.name, spec.image
                ));
                k3d.create(spec).await?;
                s.finish_and_clear();
                PreparationOutcome::Success {
                    details: created_cluster_details(spec),
                }
            }
        };
        // Harmony's own copy of the cluster's kubeconfig, so helm and the client never depend
        // on the user's current context.
        if let Some(path) = self.config.effective_kubeconfig() {
            let kubeconfig = k3d.kubeconfig(&spec.name).await?;
            write_kubeconfig(&path, &kubeconfig).map_err(PreparationError::new)?;
        }
        Ok(outcome)
    }
}

/// Writes Harmony's copy of a kubeconfig (it holds the cluster-admin client key): 0600 in a
/// 0700 folder, atomically. Rewrites it when the content differs or its permissions are
/// looser (a copy written by an older Harmony). Returns whether the file was written.
pub(crate) fn write_kubeconfig(path: &std::path::Path, kubeconfig: &str) -> Result<bool, String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| {
        std::fs::metadata(p)
            .map(|m| m.permissions().mode() & 0o777)
            .ok()
    };
    let current = std::fs::read_to_string(path).ok();
    let dir = path.parent().unwrap_or_else(|| std::path::Path::new("."));
    if current.as_deref() == Some(kubeconfig)
        && mode(path) == Some(0o600)
        && mode(dir) == Some(0o700)
    {
        return Ok(false);
    }
    // Harmony's own folder (it also holds the pinned k3d, whose download may have created it
    // 0755): tighten it, as ensure_private_dir leaves existing folders alone.
    harmony_secret::private_file::ensure_private_dir(dir)
        .and_then(|()| std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)))
        .map_err(|e| format!("making {} private: {e}", dir.display()))?;
    harmony_secret::private_file::write_private_atomic(path, kubeconfig.as_bytes())
        .map_err(|e| format!("writing {}: {e}", path.display()))?;
    Ok(true)
}

#[async_trait]
impl Topology for K8sAnywhereTopology {
    fn name(&self) -> &str {
        "K8sAnywhereTopology"
    }

    async fn ensure_ready(&self) -> Result<PreparationOutcome, PreparationError> {
        let outcome = if self.config.use_local_k3d {
            self.ensure_local_k3d().await?
        } else {
            PreparationOutcome::Noop
        };
        find_or_install_helm(&self.config.helm_dir(), self.config.autoinstall)
            .await
            .map_err(|e| PreparationError::from(CapabilityError::from(e)))?;
        let client = self.k8s_client().await?;
        client
            .kube_client()
            .apiserver_version()
            .await
            .map_err(|e| {
                PreparationError::new(format!(
                    "the Kubernetes API of context {} is not reachable: {e}",
                    self.config
                        .effective_context()
                        .unwrap_or_else(|| "(current)".into())
                ))
            })?;
        Ok(outcome)
    }
}

#[async_trait]
impl K8sclient for K8sAnywhereTopology {
    async fn k8s_client(&self) -> Result<Arc<K8sClient>, CapabilityError> {
        self.client
            .get_or_try_init(|| async {
                let kubeconfig = self.config.effective_kubeconfig();
                let context = self.config.effective_context();
                K8sClient::from_kubeconfig(kubeconfig.as_deref(), context.as_deref())
                    .await
                    .map(Arc::new)
                    .map_err(CapabilityError::from)
            })
            .await
            .cloned()
    }
}

impl HelmCommand for K8sAnywhereTopology {
    fn helm_command(&self) -> std::process::Command {
        let binary = find_helm(&self.config.helm_dir()).unwrap_or_else(|| PathBuf::from("helm"));
        bound_helm_command(
            &binary,
            self.config.effective_kubeconfig().as_deref(),
            self.config.effective_context().as_deref(),
        )
    }
}

#[async_trait]
impl K8sDistributionProbe for K8sAnywhereTopology {
    async fn k8s_distribution(&self) -> Result<K8sDistribution, CapabilityError> {
        Ok(self.k8s_client().await?.distribution().await?)
    }
}

/// What the run summary says after creating a cluster: its context and where its ingress answers
/// (the spec's host port, `HARMONY_HTTP_PORT`, not a fixed 8080).
fn created_cluster_details(spec: &K3dClusterSpec) -> String {
    format!(
        "created k3d cluster {} (context {}, ingress on http://localhost:{})",
        spec.name,
        spec.context(),
        spec.http_port
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The summary after creating a cluster points at the ingress port the cluster really
    /// got (HARMONY_HTTP_PORT=18080 is common when 8080 is taken), not a fixed 8080.
    #[test]
    fn created_cluster_details_name_the_configured_ingress_port() {
        let spec = K3dClusterSpec {
            http_port: 18080,
            ..Default::default()
        };
        let details = created_cluster_details(&spec);
        assert!(
            details.contains("ingress on http://localhost:18080"),
            "{details}"
        );
        assert!(details.contains(&spec.context()), "{details}");
    }

    fn vars<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn defaults_to_a_local_k3d_cluster_named_harmony() {
        let c = K8sAnywhereConfig::from_vars(vars(&[]));
        assert!(c.use_local_k3d && c.autoinstall);
        assert_eq!(c.effective_context().as_deref(), Some("k3d-harmony"));
        let kubeconfig = c.effective_kubeconfig().unwrap();
        assert!(
            kubeconfig.ends_with("harmony/k3d/kubeconfig-harmony.yaml"),
            "{kubeconfig:?}"
        );
    }

    #[test]
    fn harmony_http_port_sets_the_ingress_host_port() {
        // 8080 is often taken. (That Zitadel's ports follow: zitadel::values tests.)
        let c = K8sAnywhereConfig::from_vars(vars(&[("HARMONY_HTTP_PORT", "8081")]));
        assert_eq!(c.k3d.http_port, 8081);
        let create = c.k3d.create_args().join(" ");
        assert!(create.contains("-p 8081:80@loadbalancer"), "{create}");
        // Unset or garbage: the default.
        let d = K8sAnywhereConfig::from_vars(vars(&[("HARMONY_HTTP_PORT", "http")]));
        assert_eq!(d.k3d.http_port, 8080);
        // Port 0 would make k3d pick a random host port the issuer URL cannot name.
        let zero = K8sAnywhereConfig::from_vars(vars(&[("HARMONY_HTTP_PORT", "0")]));
        assert_eq!(zero.k3d.http_port, 8080);
    }

    #[test]
    fn an_existing_cluster_via_kubeconfig() {
        let c = K8sAnywhereConfig::from_vars(vars(&[
            ("HARMONY_USE_LOCAL_K3D", "false"),
            ("HARMONY_AUTOINSTALL", "0"),
            ("KUBECONFIG", "/tmp/kc.yaml"),
            ("HARMONY_K8S_CONTEXT", "prod"),
        ]));
        assert!(!c.use_local_k3d && !c.autoinstall);
        assert_eq!(
            c.effective_kubeconfig(),
            Some(PathBuf::from("/tmp/kc.yaml"))
        );
        assert_eq!(c.effective_context().as_deref(), Some("prod"));
    }

    #[test]
    fn helm_command_is_bound_to_the_local_cluster() {
        let t = K8sAnywhereTopology::new(K8sAnywhereConfig::from_vars(vars(&[])));
        let cmd = t.helm_command();
        let args: Vec<_> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(args[0], "--kubeconfig");
        assert!(args[1].ends_with("kubeconfig-harmony.yaml"));
        assert_eq!(&args[2..], ["--kube-context", "k3d-harmony"]);
    }

    fn mode(p: &std::path::Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn the_k3d_kubeconfig_is_private_and_rewritten_only_when_needed() {
        let dir = tempfile::tempdir().unwrap();
        let k3d_dir = dir.path().join("harmony").join("k3d");
        let path = k3d_dir.join("kubeconfig-harmony.yaml");
        let kubeconfig = "users:\n- name: admin\n  user:\n    client-key-data: S0VZ\n";
        assert!(write_kubeconfig(&path, kubeconfig).unwrap());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), kubeconfig);
        assert_eq!(mode(&path), 0o600, "the client key is readable by others");
        assert_eq!(mode(&k3d_dir), 0o700);
        assert!(
            !write_kubeconfig(&path, kubeconfig).unwrap(),
            "same: not rewritten"
        );

        // A copy left world-readable by an older version is tightened.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(&k3d_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(write_kubeconfig(&path, kubeconfig).unwrap());
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&k3d_dir), 0o700);
    }

    async fn ensure_ready_with_docker(
        docker: PathBuf,
        data_dir: &std::path::Path,
    ) -> PreparationError {
        let mut config = K8sAnywhereConfig::from_vars(vars(&[]));
        config.data_dir = data_dir.to_path_buf();
        config.docker = docker;
        K8sAnywhereTopology::new(config)
            .ensure_ready()
            .await
            .unwrap_err()
    }

    /// The Docker failure behind a preparation error, by kind.
    fn k3d_kind(e: &PreparationError) -> &crate::infra::k3d::K3dError {
        match e.source.as_deref() {
            Some(CapabilityError::Adapter { source, .. }) => source
                .downcast_ref()
                .expect("a K3dError behind the adapter failure"),
            other => panic!("expected an adapter failure, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn without_docker_ensure_ready_says_what_to_install_and_downloads_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let err = ensure_ready_with_docker(dir.path().join("no-docker-here"), dir.path()).await;
        assert!(matches!(
            k3d_kind(&err),
            crate::infra::k3d::K3dError::DockerMissing
        ));
        let err = err.to_string();
        assert!(err.contains("Docker is not installed"), "{err}");
        assert!(err.contains("docs.docker.com"), "{err}");
        assert!(err.contains("HARMONY_USE_LOCAL_K3D=false"), "{err}");
        assert!(!dir.path().join("k3d").exists(), "nothing downloaded");
    }

    #[tokio::test]
    async fn with_a_stopped_docker_engine_ensure_ready_says_to_start_it_and_downloads_nothing() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let docker = dir.path().join("docker");
        std::fs::write(
            &docker,
            "#!/bin/sh\necho 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock' >&2\nexit 1\n",
        )
        .unwrap();
        std::fs::set_permissions(&docker, std::fs::Permissions::from_mode(0o755)).unwrap();
        let err = ensure_ready_with_docker(docker, dir.path()).await;
        assert!(matches!(
            k3d_kind(&err),
            crate::infra::k3d::K3dError::DockerDown { .. }
        ));
        let err = err.to_string();
        assert!(err.contains("engine is not reachable"), "{err}");
        assert!(err.contains("Cannot connect to the Docker daemon"), "{err}");
        assert!(!dir.path().join("k3d").exists(), "nothing downloaded");
    }
}
