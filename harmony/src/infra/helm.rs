//! The Helm CLI: finding or installing a pinned helm, and binding it to a cluster.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::download::{PinnedAsset, ToolChoice, choose_tool, find_on_path, tool_candidates};

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
    Some(dir.join("helm"))
        .filter(|p| p.is_file())
        .or_else(|| find_on_path("helm"))
}

/// Finds helm [`HELM_VERSION`] (the pinned copy in `dir`, else `PATH` when it reports the same
/// version), or downloads the pinned release into `dir` when `autoinstall`. Without
/// `autoinstall`, another version is used with a warning.
pub async fn find_or_install_helm(dir: &Path, autoinstall: bool) -> Result<PathBuf, String> {
    let candidates = tool_candidates("helm", dir, &["version", "--short"]).await;
    let asset = helm_asset(std::env::consts::OS, std::env::consts::ARCH);
    // Without a pinned build for this platform, whatever is installed is better than nothing.
    let can_install = autoinstall && asset.is_some();
    match choose_tool(&candidates, HELM_VERSION, can_install) {
        ToolChoice::Use(helm) => return Ok(helm),
        ToolChoice::UseOtherVersion { path, found } => {
            log::warn!(
                "using {} (helm {}) instead of the pinned helm {HELM_VERSION}: set HARMONY_AUTOINSTALL=true to use the pinned one",
                path.display(),
                found.as_deref().unwrap_or("of unknown version")
            );
            return Ok(path);
        }
        ToolChoice::Missing if !autoinstall => {
            return Err(format!(
                "helm is not installed: install helm {HELM_VERSION} (https://helm.sh/docs/intro/install/) or set HARMONY_AUTOINSTALL=true"
            ));
        }
        // Missing with auto-install on: no pinned build for this platform (said below).
        ToolChoice::Missing | ToolChoice::Install => {}
    }
    let asset = asset.ok_or_else(|| {
        format!(
            "no pinned helm build for {}/{}: install helm {HELM_VERSION} on PATH",
            std::env::consts::OS,
            std::env::consts::ARCH
        )
    })?;
    let dest = dir.join("helm");
    super::download::download_and_install(&asset, &dest).await?;
    Ok(dest)
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
