//! The Helm CLI: finding or installing a pinned helm, and binding it to a cluster.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::download::{PinnedAsset, find_or_install_pinned, find_pinned_or_on_path};

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
pub async fn find_or_install_helm(dir: &Path, autoinstall: bool) -> Result<PathBuf, String> {
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
pub async fn run_helm(cmd: Command) -> Result<String, String> {
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
        .map_err(|e| format!("running helm ({shown}): {e}; is helm installed?"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(format!(
            "`{shown}` failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ))
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
