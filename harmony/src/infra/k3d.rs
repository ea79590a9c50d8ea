//! k3d: a local k3s cluster in Docker, with a pinned k3d and k3s version.

use std::path::{Path, PathBuf};

use super::download::{DownloadError, PinnedAsset, find_or_install_pinned};

/// Why Docker or k3d failed. Each message says what to do; callers match the kind (e.g.
/// [`K3dError::DockerMissing`] to point at another topology).
#[derive(Debug, thiserror::Error)]
pub enum K3dError {
    /// No `docker` CLI.
    #[error(
        "Docker is not installed: the local k3d cluster needs Docker Engine (https://docs.docker.com/engine/install/); or set HARMONY_USE_LOCAL_K3D=false and KUBECONFIG to use an existing cluster"
    )]
    DockerMissing,
    /// The `docker` CLI runs but its engine does not answer.
    #[error(
        "Docker is installed but its engine is not reachable ({stderr}): start Docker (or install Docker Engine, https://docs.docker.com/engine/install/), or set HARMONY_USE_LOCAL_K3D=false and KUBECONFIG to use an existing cluster"
    )]
    DockerDown {
        /// What `docker version` said.
        stderr: String,
    },
    /// The pinned k3d could not be found or installed (see [`DownloadError`] for the kinds;
    /// the message names the download and the fix).
    #[error(transparent)]
    Install(DownloadError),
    /// k3d could not be started.
    #[error("running {program}: {source}")]
    Spawn {
        /// The k3d binary.
        program: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// k3d exited with a failure.
    #[error("`k3d {args}` failed: {stderr}")]
    Failed {
        /// Its arguments.
        args: String,
        /// What it printed on stderr.
        stderr: String,
    },
    /// k3d's output is not what this version of Harmony expects.
    #[error("unexpected output of `k3d cluster list -o json`: {source}")]
    UnexpectedOutput {
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
}

/// The pinned k3d release.
pub const K3D_VERSION: &str = "v5.8.3";
/// The pinned k3s image: Kubernetes 1.33, matching the `v1_33` feature of k8s-openapi.
pub const K3S_IMAGE: &str = "rancher/k3s:v1.33.4-k3s1";
/// The cluster Harmony creates by default; its kubeconfig context is `k3d-harmony`.
pub const DEFAULT_CLUSTER_NAME: &str = "harmony";

/// SHA-256 of the pinned k3d release assets, per `(os, arch)` as Rust names them.
///
/// Cross-checked against several independent published pins of the v5.8.3 release assets (a
/// distribution package and renovate-managed CI pins agree); a mismatch stops the install.
/// Platforms without a pin here need `k3d` on `PATH`.
const K3D_SHA256: &[(&str, &str, &str, &str)] = &[
    (
        "linux",
        "x86_64",
        "k3d-linux-amd64",
        "dbaa79a76ace7f4ca230a1ff41dc7d8a5036a8ad0309e9c54f9bf3836dbe853e",
    ),
    (
        "linux",
        "aarch64",
        "k3d-linux-arm64",
        "0b8110f2229631af7402fb828259330985918b08fefd38b7f1b788a1c8687216",
    ),
];

/// The pinned k3d asset for a platform, if Harmony knows its checksum.
pub(crate) fn k3d_asset(os: &str, arch: &str) -> Option<PinnedAsset> {
    K3D_SHA256
        .iter()
        .find(|(o, a, _, _)| *o == os && *a == arch)
        .map(|(_, _, file, sha)| PinnedAsset {
            tool: "k3d",
            version: K3D_VERSION,
            url: format!("https://github.com/k3d-io/k3d/releases/download/{K3D_VERSION}/{file}"),
            sha256: sha,
            archive_member: None,
        })
}

/// The host port mapped to the cluster's HTTP ingress by default. Zitadel's `ExternalPort` and
/// Service port must be the same value (see `ZitadelScore::k3d_http_port`).
pub const DEFAULT_HTTP_PORT: u16 = 8080;

/// How the local cluster is created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct K3dClusterSpec {
    /// Cluster name; the kubeconfig context is `k3d-<name>` ([`Self::context`]).
    pub name: String,
    /// k3s node image ([`K3S_IMAGE`] by default).
    pub image: String,
    /// The host port mapped to the ingress's port 80 (`-p <http_port>:80@loadbalancer`). Pass
    /// the same value to the Scores' `k3d_http_port`/`http_port` so issuer URLs match.
    pub http_port: u16,
    /// Further `host:container@node` mappings, e.g. `8443:443@loadbalancer`.
    pub ports: Vec<String>,
    /// Number of server (control-plane) nodes.
    pub servers: u32,
    /// Number of agent (worker) nodes; 0 runs workloads on the servers.
    pub agents: u32,
    /// How long `k3d` waits for the cluster (`--timeout`).
    pub timeout_secs: u64,
}

impl Default for K3dClusterSpec {
    fn default() -> Self {
        Self {
            name: DEFAULT_CLUSTER_NAME.to_string(),
            image: K3S_IMAGE.to_string(),
            // OpenBao (bao.harmony.local) and Zitadel (zitadel.harmony.local) are both reached
            // through Traefik on this one port, by Host name.
            http_port: DEFAULT_HTTP_PORT,
            ports: vec!["8443:443@loadbalancer".to_string()],
            servers: 1,
            agents: 0,
            timeout_secs: 300,
        }
    }
}

impl K3dClusterSpec {
    /// The kubeconfig context k3d gives the cluster.
    pub fn context(&self) -> String {
        format!("k3d-{}", self.name)
    }

    /// Arguments of `k3d cluster create`.
    pub fn create_args(&self) -> Vec<String> {
        let mut args = vec![
            "cluster".to_string(),
            "create".to_string(),
            self.name.clone(),
            "--image".to_string(),
            self.image.clone(),
            "--servers".to_string(),
            self.servers.to_string(),
            "--agents".to_string(),
            self.agents.to_string(),
        ];
        args.push("-p".to_string());
        args.push(format!("{}:80@loadbalancer", self.http_port));
        for port in &self.ports {
            args.push("-p".to_string());
            args.push(port.clone());
        }
        args.extend([
            "--wait".to_string(),
            "--timeout".to_string(),
            format!("{}s", self.timeout_secs),
            // Merge into the default kubeconfig (context k3d-<name>) without switching the
            // user's current context; Harmony always names the context explicitly.
            "--kubeconfig-update-default".to_string(),
            "--kubeconfig-switch-context=false".to_string(),
        ]);
        args
    }

    /// Arguments of `k3d cluster start`.
    pub(crate) fn start_args(&self) -> Vec<String> {
        vec![
            "cluster".into(),
            "start".into(),
            self.name.clone(),
            "--wait".into(),
            "--timeout".into(),
            format!("{}s", self.timeout_secs),
        ]
    }
}

/// State of a cluster as `k3d cluster list -o json` reports it.
/// A local cluster that cannot be prepared: the message says what to do, the source keeps
/// the kind (`CapabilityError::Adapter` holding this error).
impl From<K3dError> for crate::topology::PreparationError {
    fn from(e: K3dError) -> Self {
        Self {
            message: e.to_string(),
            source: Some(Box::new(crate::topology::CapabilityError::adapter(
                "local k3d cluster",
                e,
            ))),
        }
    }
}

/// Whether a k3d cluster exists and runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterState {
    /// No cluster of that name.
    Absent,
    /// It exists but not every server node runs (`k3d cluster start` brings it back).
    Stopped,
    /// Every server node runs.
    Running,
}

/// Reads the state of `name` from the JSON of `k3d cluster list -o json`.
pub(crate) fn cluster_state(list_json: &str, name: &str) -> Result<ClusterState, K3dError> {
    let clusters: serde_json::Value = serde_json::from_str(list_json.trim())
        .map_err(|source| K3dError::UnexpectedOutput { source })?;
    let Some(cluster) = clusters.as_array().and_then(|list| {
        list.iter()
            .find(|c| c.get("name").and_then(|n| n.as_str()) == Some(name))
    }) else {
        return Ok(ClusterState::Absent);
    };
    let count = |k: &str| cluster.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
    let (servers, running) = (count("serversCount"), count("serversRunning"));
    Ok(if servers > 0 && running == servers {
        ClusterState::Running
    } else {
        ClusterState::Stopped
    })
}

/// A k3d executable.
#[derive(Debug, Clone)]
pub struct K3d {
    /// Path of the `k3d` executable used.
    pub binary: PathBuf,
}

impl K3d {
    /// Finds k3d [`K3D_VERSION`] (the pinned copy in `dir`, else `PATH` when it reports the same
    /// version), or downloads the pinned release into `dir` when `autoinstall`. Without
    /// `autoinstall`, another version is used with a warning.
    pub async fn find_or_install(dir: &Path, autoinstall: bool) -> Result<Self, K3dError> {
        let binary = find_or_install_pinned(
            "k3d",
            K3D_VERSION,
            k3d_asset(std::env::consts::OS, std::env::consts::ARCH),
            dir,
            &["version"],
            "https://k3d.io",
            autoinstall,
        )
        .await
        .map_err(K3dError::Install)?;
        Ok(Self { binary })
    }

    async fn run(&self, args: &[String]) -> Result<String, K3dError> {
        log::debug!("running {} {}", self.binary.display(), args.join(" "));
        let output = tokio::process::Command::new(&self.binary)
            .args(args)
            .output()
            .await
            .map_err(|source| K3dError::Spawn {
                program: self.binary.display().to_string(),
                source,
            })?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(K3dError::Failed {
                args: args.join(" "),
                stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
            })
        }
    }

    /// Whether cluster `name` exists and runs.
    pub async fn state(&self, name: &str) -> Result<ClusterState, K3dError> {
        let out = self
            .run(&["cluster".into(), "list".into(), "-o".into(), "json".into()])
            .await?;
        cluster_state(&out, name)
    }

    /// Creates the cluster `spec` describes (waits until it runs).
    pub async fn create(&self, spec: &K3dClusterSpec) -> Result<(), K3dError> {
        self.run(&spec.create_args()).await.map(|_| ())
    }

    /// Starts the stopped cluster `spec` names.
    pub async fn start(&self, spec: &K3dClusterSpec) -> Result<(), K3dError> {
        self.run(&spec.start_args()).await.map(|_| ())
    }

    /// The cluster's kubeconfig (context `k3d-<name>`).
    pub async fn kubeconfig(&self, name: &str) -> Result<String, K3dError> {
        self.run(&["kubeconfig".into(), "get".into(), name.into()])
            .await
    }
}

/// Fails with what to install when no Docker engine answers (`docker` from `PATH`).
pub async fn check_docker() -> Result<(), K3dError> {
    check_docker_with(Path::new("docker")).await
}

/// [`check_docker`] with a given Docker CLI.
pub async fn check_docker_with(docker: &Path) -> Result<(), K3dError> {
    let output = tokio::process::Command::new(docker)
        .args(["version", "--format", "{{.Server.Version}}"])
        .output()
        .await;
    match output {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(K3dError::DockerDown {
            stderr: String::from_utf8_lossy(&o.stderr).trim().to_string(),
        }),
        Err(_) => Err(K3dError::DockerMissing),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_args_pin_the_image_and_map_the_ingress_port() {
        let args = K3dClusterSpec::default().create_args();
        let joined = args.join(" ");
        assert!(
            joined.starts_with("cluster create harmony --image rancher/k3s:v1.33."),
            "{joined}"
        );
        assert!(joined.contains("-p 8080:80@loadbalancer"));
        assert!(joined.contains("-p 8443:443@loadbalancer"));
        assert!(joined.contains("--wait --timeout 300s"));
        assert!(joined.contains("--kubeconfig-switch-context=false"));
        assert_eq!(K3dClusterSpec::default().context(), "k3d-harmony");
        let other = K3dClusterSpec {
            http_port: 8081,
            ..Default::default()
        };
        let joined = other.create_args().join(" ");
        assert!(joined.contains("-p 8081:80@loadbalancer"), "{joined}");
        assert!(!joined.contains("8080"), "{joined}");
    }

    #[test]
    fn pinned_asset_urls() {
        let asset = k3d_asset("linux", "x86_64").unwrap();
        assert_eq!(
            asset.url,
            "https://github.com/k3d-io/k3d/releases/download/v5.8.3/k3d-linux-amd64"
        );
        assert_eq!(asset.sha256.len(), 64);
        assert!(
            k3d_asset("linux", "aarch64")
                .unwrap()
                .url
                .ends_with("k3d-linux-arm64")
        );
        assert!(k3d_asset("plan9", "mips").is_none());
    }

    #[test]
    fn cluster_state_from_k3d_list_json() {
        let json = r#"[{"name":"harmony","network":"k3d-harmony","token":"x",
            "nodes":[{"name":"k3d-harmony-server-0","role":"server","State":{"Running":true,"Status":"running"}}],
            "serversCount":1,"serversRunning":1,"agentsCount":0,"agentsRunning":0,"hasLoadbalancer":true}]"#;
        assert_eq!(
            cluster_state(json, "harmony").unwrap(),
            ClusterState::Running
        );
        assert_eq!(cluster_state(json, "other").unwrap(), ClusterState::Absent);
        let stopped = json.replace("\"serversRunning\":1", "\"serversRunning\":0");
        assert_eq!(
            cluster_state(&stopped, "harmony").unwrap(),
            ClusterState::Stopped
        );
        assert_eq!(
            cluster_state("[]", "harmony").unwrap(),
            ClusterState::Absent
        );
        assert!(matches!(
            cluster_state("not json", "harmony"),
            Err(K3dError::UnexpectedOutput { .. })
        ));
    }
}
