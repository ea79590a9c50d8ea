//! The Helm CLI: finding or installing a pinned helm, and binding it to a cluster.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::download::{DownloadError, PinnedAsset, find_or_install_pinned, find_pinned_or_on_path};

/// Why helm could not be found, installed or run. Callers match the kind; each message names
/// the command and what to do.
#[derive(Debug, thiserror::Error)]
pub enum HelmError {
    /// The pinned helm is not installed and could not be downloaded (see [`DownloadError`]
    /// for the kinds, e.g. [`DownloadError::NotInstalled`]).
    #[error(transparent)]
    Install(#[from] DownloadError),
    /// The helm executable could not be started (e.g. it does not exist:
    /// [`std::io::ErrorKind::NotFound`]).
    #[error("running helm ({command}): {source}; is helm installed?")]
    Spawn {
        /// The command line, e.g. `/usr/bin/helm list --namespace openbao -o json`.
        command: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// helm ran and exited with a failure.
    #[error("`{command}` failed: {stderr}")]
    Failed {
        /// The command line.
        command: String,
        /// How helm exited.
        status: std::process::ExitStatus,
        /// What helm printed on stderr (trimmed).
        stderr: String,
    },
    /// helm's JSON output is not what this version of Harmony expects.
    #[error("unexpected `helm {subcommand}` output: {source}")]
    UnexpectedOutput {
        /// The subcommand, e.g. `list`, `history`, `get values`.
        subcommand: &'static str,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
}

/// The pinned helm release installed when helm is not on `PATH`.
pub const HELM_VERSION: &str = "v3.19.2";

/// SHA-256 of the pinned helm tarballs (`helm-v3.19.2-<os>-<arch>.tar.gz`), per `(os, arch)`;
/// cross-checked against several independent published pins of the v3.19.2 release.
const HELM_SHA256: &[(&str, &str, &str, &str)] = &[
    (
        "linux",
        "x86_64",
        "linux-amd64",
        "2114c9dea2844dce6d0ee2d792a9aae846be8cf53d5b19dc2988b5a0e8fec26e",
    ),
    (
        "linux",
        "aarch64",
        "linux-arm64",
        "566e9f3a5a83a81e4b03503ae37e368edd52d699619e8a9bb1fdf21561ae0e88",
    ),
];

/// The pinned helm tarball for a platform, if Harmony knows its checksum.
pub fn helm_asset(os: &str, arch: &str) -> Option<PinnedAsset> {
    HELM_SHA256
        .iter()
        .find(|(o, a, _, _)| *o == os && *a == arch)
        .map(|(_, _, platform, sha)| PinnedAsset {
            tool: "helm",
            version: HELM_VERSION,
            url: format!("https://get.helm.sh/helm-{HELM_VERSION}-{platform}.tar.gz"),
            sha256: sha,
            archive_member: Some(format!("{platform}/helm")),
        })
}

/// Harmony's pinned copy in `dir` if present, else `helm` from `PATH`.
pub fn find_helm(dir: &Path) -> Option<PathBuf> {
    find_pinned_or_on_path("helm", dir)
}

/// Finds helm [`HELM_VERSION`] (the pinned copy in `dir`, else `PATH` when it reports the same
/// version), or downloads the pinned release into `dir` when `autoinstall`. Without
/// `autoinstall`, another version is used with a warning.
pub async fn find_or_install_helm(dir: &Path, autoinstall: bool) -> Result<PathBuf, HelmError> {
    find_or_install_pinned(
        "helm",
        HELM_VERSION,
        helm_asset(std::env::consts::OS, std::env::consts::ARCH),
        dir,
        &["version", "--short"],
        "https://helm.sh/docs/intro/install/",
        autoinstall,
    )
    .await
    .map_err(HelmError::Install)
}

/// `helm --kubeconfig <path> --kube-context <ctx>`: a helm command bound to one cluster.
pub fn bound_helm_command(
    binary: &Path,
    kubeconfig: Option<&Path>,
    context: Option<&str>,
) -> Command {
    let mut cmd = Command::new(binary);
    if let Some(k) = kubeconfig {
        cmd.arg("--kubeconfig").arg(k);
    }
    if let Some(c) = context {
        cmd.arg("--kube-context").arg(c);
    }
    cmd
}

/// Runs a helm command and returns its stdout, or an error with helm's stderr.
pub async fn run_helm(cmd: Command) -> Result<String, HelmError> {
    let shown = format!(
        "{} {}",
        cmd.get_program().to_string_lossy(),
        cmd.get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    );
    log::debug!("running {shown}");
    let output = tokio::process::Command::from(cmd)
        .output()
        .await
        .map_err(|source| HelmError::Spawn {
            command: shown.clone(),
            source,
        })?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(HelmError::Failed {
            command: shown,
            status: output.status,
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helm_is_bound_to_kubeconfig_and_context() {
        let cmd = bound_helm_command(
            Path::new("/opt/helm"),
            Some(Path::new(
                "/home/u/.local/share/harmony/k3d/kubeconfig-harmony.yaml",
            )),
            Some("k3d-harmony"),
        );
        let args: Vec<_> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(cmd.get_program(), "/opt/helm");
        assert_eq!(
            args,
            [
                "--kubeconfig",
                "/home/u/.local/share/harmony/k3d/kubeconfig-harmony.yaml",
                "--kube-context",
                "k3d-harmony"
            ]
        );
    }

    #[tokio::test]
    async fn a_missing_helm_binary_is_a_spawn_error_naming_the_command() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("helm");
        let mut cmd = Command::new(&missing);
        cmd.arg("list");
        let err = run_helm(cmd).await.unwrap_err();
        match &err {
            HelmError::Spawn { command, source } => {
                assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
                assert_eq!(*command, format!("{} list", missing.display()));
            }
            other => panic!("expected Spawn, got {other:?}"),
        }
        assert!(err.to_string().contains("is helm installed?"), "{err}");
    }

    #[tokio::test]
    async fn a_failing_helm_keeps_its_exit_status_and_stderr() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo 'Error: release: not found' >&2; exit 3"]);
        match run_helm(cmd).await.unwrap_err() {
            HelmError::Failed { status, stderr, .. } => {
                assert_eq!(status.code(), Some(3));
                assert_eq!(stderr, "Error: release: not found");
            }
            other => panic!("expected Failed, got {other:?}"),
        }
    }

    #[test]
    fn pinned_helm_tarball() {
        let asset = helm_asset("linux", "x86_64").unwrap();
        assert_eq!(
            asset.url,
            "https://get.helm.sh/helm-v3.19.2-linux-amd64.tar.gz"
        );
        assert_eq!(asset.archive_member.as_deref(), Some("linux-amd64/helm"));
    }
}
