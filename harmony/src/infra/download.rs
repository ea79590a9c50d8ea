//! Downloading pinned tool binaries, verified by SHA-256 before they are made executable.
//!
//! Hand-written on purpose: the installer crates (e.g. `self_update`, `cargo-binstall`) follow
//! GitHub releases and their own metadata, while Harmony pins one URL and checksum per tool.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// A tool release pinned by URL and SHA-256 of the downloaded file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinnedAsset {
    /// The tool's name, as its executable is called (e.g. `helm`, `k3d`).
    pub tool: &'static str,
    /// The pinned version, as the tool reports it (e.g. `v3.18.4`).
    pub version: &'static str,
    /// Where the release file is downloaded from.
    pub url: String,
    /// Lower-case hex SHA-256 of the file at `url`.
    pub sha256: &'static str,
    /// For archives: the member to extract (e.g. `linux-amd64/helm`); `None` for a bare binary.
    pub archive_member: Option<String>,
}

/// Hex SHA-256 of a file.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
}

/// Fails unless the file's SHA-256 equals `expected` (hex, any case).
pub fn verify_sha256(path: &Path, expected: &str) -> Result<(), String> {
    let actual = sha256_file(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    if actual.eq_ignore_ascii_case(expected.trim()) {
        Ok(())
    } else {
        Err(format!(
            "checksum mismatch for {}: expected sha256 {expected}, got {actual}; the file was not installed",
            path.display()
        ))
    }
}

/// The version an executable reports, e.g. `v5.8.3` from `k3d version` (line
/// `k3d version v5.8.3`) or `v3.19.2` from `helm version --short` (`v3.19.2+g8766e71`).
/// Build metadata after `+` is dropped. `None` when no version can be read.
pub fn parse_tool_version(tool: &str, output: &str) -> Option<String> {
    let prefix = format!("{tool} version ");
    let line = output
        .lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix(&prefix))
        .or_else(|| output.lines().map(str::trim).find(|l| !l.is_empty()))?;
    line.split_whitespace()
        .map(|t| t.trim_matches(|c| c == '"' || c == ','))
        .find(|t| {
            t.strip_prefix('v')
                .and_then(|rest| rest.chars().next())
                .is_some_and(|c| c.is_ascii_digit())
        })
        .map(|t| t.split('+').next().unwrap_or(t).to_string())
}

/// Runs `binary args` and reads its version (see [`parse_tool_version`]).
pub async fn probe_tool_version(tool: &str, binary: &Path, args: &[&str]) -> Option<String> {
    let output = tokio::process::Command::new(binary)
        .args(args)
        .output()
        .await
        .ok()?;
    if !output.status.success() {
        return None;
    }
    parse_tool_version(tool, &String::from_utf8_lossy(&output.stdout))
}

/// Which executable of a pinned tool to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolChoice {
    /// An executable reporting the pinned version.
    Use(PathBuf),
    /// No executable reports the pinned version and auto-install is off: use this one and
    /// warn (`found`: the version it reports).
    UseOtherVersion {
        /// The executable found.
        path: PathBuf,
        /// The version it reports, if it reports one.
        found: Option<String>,
    },
    /// Download the pinned release (none matches; auto-install on).
    Install,
    /// Nothing installed and auto-install off.
    Missing,
}

/// Decides which executable to use. `candidates` are (path, reported version), Harmony's own
/// pinned copy first, then the one on `PATH`: the first reporting `pinned_version` wins, so a
/// checksum-verified pinned copy beats any other build on `PATH`, and a `PATH` copy is used
/// only when it is the pinned version (or nothing else is allowed).
pub fn choose_tool(
    candidates: &[(PathBuf, Option<String>)],
    pinned_version: &str,
    autoinstall: bool,
) -> ToolChoice {
    let normalize = |v: &str| v.trim_start_matches('v').to_string();
    if let Some((path, _)) = candidates
        .iter()
        .find(|(_, v)| v.as_deref().map(normalize) == Some(normalize(pinned_version)))
    {
        return ToolChoice::Use(path.clone());
    }
    if autoinstall {
        return ToolChoice::Install;
    }
    match candidates.first() {
        Some((path, found)) => ToolChoice::UseOtherVersion {
            path: path.clone(),
            found: found.clone(),
        },
        None => ToolChoice::Missing,
    }
}

/// Harmony's pinned copy in `dir` (if present) and the one on `PATH` (if any), each with the
/// version it reports.
pub async fn tool_candidates(
    tool: &str,
    dir: &Path,
    version_args: &[&str],
) -> Vec<(PathBuf, Option<String>)> {
    let mut candidates = Vec::new();
    for path in [
        Some(dir.join(tool)).filter(|p| p.is_file()),
        find_on_path(tool),
    ]
    .into_iter()
    .flatten()
    {
        let version = probe_tool_version(tool, &path, version_args).await;
        candidates.push((path, version));
    }
    candidates
}

/// Harmony's own copy of `tool` in `dir` if present, else `tool` from `PATH`.
pub fn find_pinned_or_on_path(tool: &str, dir: &Path) -> Option<PathBuf> {
    Some(dir.join(tool))
        .filter(|p| p.is_file())
        .or_else(|| find_on_path(tool))
}

/// Finds `asset.tool` at its pinned version (Harmony's copy in `dir`, else `PATH` when it reports
/// the same version), or downloads the pinned release into `dir` when `autoinstall`. Without
/// `autoinstall`, another version is used with a warning. `asset` is `None` on a platform with
/// no pinned build: then whatever is installed is better than nothing.
/// `version_args` make the tool print its version; `install_hint` says where to get it by hand.
pub async fn find_or_install_pinned(
    tool: &str,
    pinned_version: &str,
    asset: Option<PinnedAsset>,
    dir: &Path,
    version_args: &[&str],
    install_hint: &str,
    autoinstall: bool,
) -> Result<PathBuf, String> {
    let candidates = tool_candidates(tool, dir, version_args).await;
    let can_install = autoinstall && asset.is_some();
    match choose_tool(&candidates, pinned_version, can_install) {
        ToolChoice::Use(path) => return Ok(path),
        ToolChoice::UseOtherVersion { path, found } => {
            log::warn!(
                "using {} ({tool} {}) instead of the pinned {tool} {pinned_version}: set HARMONY_AUTOINSTALL=true to use the pinned one",
                path.display(),
                found.as_deref().unwrap_or("of unknown version")
            );
            return Ok(path);
        }
        ToolChoice::Missing if !autoinstall => {
            return Err(format!(
                "{tool} is not installed: install {tool} {pinned_version} ({install_hint}) or set HARMONY_AUTOINSTALL=true"
            ));
        }
        // Missing with auto-install on: no pinned build for this platform (said below).
        ToolChoice::Missing | ToolChoice::Install => {}
    }
    let asset = asset.ok_or_else(|| {
        format!(
            "no pinned {tool} build for {}/{}: install {tool} {pinned_version} on PATH",
            std::env::consts::OS,
            std::env::consts::ARCH
        )
    })?;
    let dest = dir.join(tool);
    download_and_install(&asset, &dest).await?;
    Ok(dest)
}

/// Finds an executable on `PATH`.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

#[cfg(unix)]
fn make_executable(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
}

#[cfg(not(unix))]
fn make_executable(_path: &Path) -> std::io::Result<()> {
    Ok(())
}

/// Installs an already downloaded file at `downloaded` as the executable `dest`, after
/// verifying its checksum (and extracting `archive_member` from a `.tar.gz` with `tar`).
pub fn install_verified(downloaded: &Path, asset: &PinnedAsset, dest: &Path) -> Result<(), String> {
    verify_sha256(downloaded, asset.sha256)?;
    let dir = dest
        .parent()
        .ok_or_else(|| format!("{} has no parent directory", dest.display()))?;
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    // Staged next to `dest` under a fresh name (removed on any failure), then renamed over it.
    let staged = tempfile::Builder::new()
        .prefix(&format!(".{}.", asset.tool))
        .tempfile_in(dir)
        .map_err(|e| format!("creating a file in {}: {e}", dir.display()))?
        .into_temp_path();
    match &asset.archive_member {
        None => {
            std::fs::copy(downloaded, &staged)
                .map_err(|e| format!("copying to {}: {e}", staged.display()))?;
        }
        Some(member) => {
            let unpack = tempfile::Builder::new()
                .prefix(".unpack")
                .tempdir_in(dir)
                .map_err(|e| format!("creating a folder in {}: {e}", dir.display()))?;
            let status = std::process::Command::new("tar")
                .arg("-xzf")
                .arg(downloaded)
                .arg("-C")
                .arg(unpack.path())
                .arg(member)
                .status()
                .map_err(|e| format!("running tar: {e}"))?;
            if !status.success() {
                return Err(format!(
                    "tar could not extract {member} from {}",
                    downloaded.display()
                ));
            }
            std::fs::rename(unpack.path().join(member), &staged)
                .map_err(|e| format!("moving {member}: {e}"))?;
        }
    }
    make_executable(&staged).map_err(|e| format!("chmod {}: {e}", staged.display()))?;
    staged
        .persist(dest)
        .map_err(|e| format!("installing {}: {}", dest.display(), e.error))?;
    Ok(())
}

/// Downloads `asset` and installs it as `dest` (verified; nothing is installed on mismatch).
pub async fn download_and_install(asset: &PinnedAsset, dest: &Path) -> Result<(), String> {
    let spinner = crate::progress::spinner(format!(
        "downloading {} {} from {}",
        asset.tool, asset.version, asset.url
    ));
    let bytes = reqwest::get(&asset.url)
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| format!("downloading {}: {e}", asset.url))?
        .bytes()
        .await
        .map_err(|e| format!("downloading {}: {e}", asset.url))?;
    let dir = dest
        .parent()
        .ok_or_else(|| format!("{} has no parent directory", dest.display()))?;
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    // A fresh file next to `dest`, removed when dropped (also on failure).
    let download = tempfile::Builder::new()
        .prefix(&format!(".{}-{}.", asset.tool, asset.version))
        .suffix(".download")
        .tempfile_in(dir)
        .map_err(|e| format!("creating a file in {}: {e}", dir.display()))?;
    std::fs::write(download.path(), &bytes)
        .map_err(|e| format!("writing {}: {e}", download.path().display()))?;
    let result = install_verified(download.path(), asset, dest);
    drop(download);
    spinner.finish_and_clear();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    // Captured outputs of the real tools.
    const K3D_VERSION_OUT: &str = "k3d version v5.8.3\nk3s version v1.31.5-k3s1 (default)\n";
    const K3D_OLD_OUT: &str = "k3d version v5.6.0\nk3s version v1.27.4-k3s1 (default)\n";
    const HELM_SHORT_OUT: &str = "v3.19.2+g8766e71\n";
    const HELM_OLD_OUT: &str = "v3.12.3+g3a31588\n";

    #[test]
    fn reads_the_version_of_k3d_and_helm() {
        assert_eq!(
            parse_tool_version("k3d", K3D_VERSION_OUT).as_deref(),
            Some("v5.8.3")
        );
        assert_eq!(
            parse_tool_version("helm", HELM_SHORT_OUT).as_deref(),
            Some("v3.19.2")
        );
        assert_eq!(parse_tool_version("helm", "").as_deref(), None);
        assert_eq!(
            parse_tool_version("k3d", "command not found").as_deref(),
            None
        );
    }

    fn path(p: &str) -> PathBuf {
        PathBuf::from(p)
    }

    #[test]
    fn the_pinned_copy_beats_any_build_on_path() {
        let pinned = (
            path("/home/u/.local/share/harmony/k3d/k3d"),
            parse_tool_version("k3d", K3D_VERSION_OUT),
        );
        let on_path = (path("/usr/bin/k3d"), parse_tool_version("k3d", K3D_OLD_OUT));
        assert_eq!(
            choose_tool(&[pinned.clone(), on_path.clone()], "v5.8.3", true),
            ToolChoice::Use(pinned.0.clone())
        );
        // Same version on PATH: used when there is no pinned copy.
        let same_on_path = (
            path("/usr/bin/k3d"),
            parse_tool_version("k3d", K3D_VERSION_OUT),
        );
        assert_eq!(
            choose_tool(&[same_on_path], "v5.8.3", false),
            ToolChoice::Use(path("/usr/bin/k3d"))
        );
    }

    #[test]
    fn another_version_on_path_is_replaced_by_the_pinned_one_or_used_with_a_warning() {
        let on_path = (
            path("/usr/local/bin/helm"),
            parse_tool_version("helm", HELM_OLD_OUT),
        );
        assert_eq!(
            choose_tool(std::slice::from_ref(&on_path), "v3.19.2", true),
            ToolChoice::Install
        );
        assert_eq!(
            choose_tool(std::slice::from_ref(&on_path), "v3.19.2", false),
            ToolChoice::UseOtherVersion {
                path: path("/usr/local/bin/helm"),
                found: Some("v3.12.3".into())
            }
        );
        // A pinned copy left by an older Harmony (pin bumped since) is reinstalled.
        let stale = (
            path("/home/u/.local/share/harmony/helm/helm"),
            Some("v3.18.0".to_string()),
        );
        assert_eq!(choose_tool(&[stale], "v3.19.2", true), ToolChoice::Install);
        assert_eq!(choose_tool(&[], "v3.19.2", true), ToolChoice::Install);
        assert_eq!(choose_tool(&[], "v3.19.2", false), ToolChoice::Missing);
    }

    #[test]
    fn verifies_a_local_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tool");
        std::fs::write(&file, b"hello\n").unwrap();
        // sha256sum of "hello\n"
        let good = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
        assert_eq!(sha256_file(&file).unwrap(), good);
        verify_sha256(&file, good).unwrap();
        verify_sha256(&file, &good.to_uppercase()).unwrap();
        let err = verify_sha256(&file, &"0".repeat(64)).unwrap_err();
        assert!(err.contains("checksum mismatch"), "{err}");
    }

    #[test]
    fn install_refuses_a_tampered_binary_and_installs_a_good_one() {
        let dir = tempfile::tempdir().unwrap();
        let downloaded = dir.path().join("k3d-download");
        std::fs::write(&downloaded, b"hello\n").unwrap();
        let dest = dir.path().join("bin").join("k3d");
        let mut asset = PinnedAsset {
            tool: "k3d",
            version: "v0",
            url: "file:///nowhere".into(),
            sha256: "0000000000000000000000000000000000000000000000000000000000000000",
            archive_member: None,
        };
        assert!(install_verified(&downloaded, &asset, &dest).is_err());
        assert!(!dest.exists());
        asset.sha256 = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
        install_verified(&downloaded, &asset, &dest).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"hello\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&dest).unwrap().permissions().mode() & 0o777,
                0o755
            );
        }
        assert_eq!(
            entries(dest.parent().unwrap()),
            ["k3d"],
            "no staging file left"
        );
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn install_extracts_the_member_of_an_archive_and_leaves_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir_all(src.join("linux-amd64")).unwrap();
        std::fs::write(src.join("linux-amd64/helm"), b"helm binary\n").unwrap();
        std::fs::write(src.join("linux-amd64/README.md"), b"docs\n").unwrap();
        let archive = dir.path().join("helm.tar.gz");
        let status = std::process::Command::new("tar")
            .arg("-czf")
            .arg(&archive)
            .arg("-C")
            .arg(&src)
            .arg("linux-amd64")
            .status()
            .unwrap();
        assert!(status.success());
        let sha256 = sha256_file(&archive).unwrap();
        let asset = PinnedAsset {
            tool: "helm",
            version: "v0",
            url: "file:///nowhere".into(),
            sha256: Box::leak(sha256.into_boxed_str()),
            archive_member: Some("linux-amd64/helm".into()),
        };
        let dest = dir.path().join("bin").join("helm");
        install_verified(&archive, &asset, &dest).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"helm binary\n");
        assert_eq!(entries(dest.parent().unwrap()), ["helm"]);
    }
}
