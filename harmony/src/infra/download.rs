//! Downloading pinned tool binaries, verified by SHA-256 before they are made executable.
//!
//! Hand-written on purpose: the installer crates (e.g. `self_update`, `cargo-binstall`) follow
//! GitHub releases and their own metadata, while Harmony pins one URL and checksum per tool.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Why a pinned tool could not be found, downloaded or installed. Each message names the file
/// or URL and, where there is one, the fix; callers match the kind (e.g.
/// [`DownloadError::ChecksumMismatch`]).
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// The tool is not installed and auto-install is off.
    #[error(
        "{tool} is not installed: install {tool} {version} ({install_hint}) or set HARMONY_AUTOINSTALL=true"
    )]
    NotInstalled {
        /// The tool, e.g. `helm`.
        tool: String,
        /// The pinned version to install.
        version: String,
        /// Where to get it by hand.
        install_hint: String,
    },
    /// Harmony pins no build of the tool for this platform.
    #[error("no pinned {tool} build for {os}/{arch}: install {tool} {version} on PATH")]
    NoPinnedBuild {
        /// The tool, e.g. `k3d`.
        tool: String,
        /// The pinned version to install by hand.
        version: String,
        /// This machine's OS (`std::env::consts::OS`).
        os: String,
        /// This machine's architecture (`std::env::consts::ARCH`).
        arch: String,
    },
    /// The download failed (network, or an HTTP error status).
    #[error("downloading {url}: {source}")]
    Http {
        /// The URL downloaded.
        url: String,
        /// The HTTP client's error, without its URL (named in `url`).
        #[source]
        source: reqwest::Error,
    },
    /// The file's SHA-256 is not the pinned one; nothing was installed.
    #[error(
        "checksum mismatch for {}: expected sha256 {expected}, got {actual}; the file was not installed",
        path.display()
    )]
    ChecksumMismatch {
        /// The file checked.
        path: PathBuf,
        /// The pinned SHA-256 (hex).
        expected: String,
        /// The file's SHA-256 (hex).
        actual: String,
    },
    /// A local file operation failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was done, e.g. `reading`, `creating a file in`.
        action: &'static str,
        /// The file or folder it was done to.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// `tar` could not extract the tool from the downloaded archive.
    #[error("tar could not extract {member} from {}", archive.display())]
    Archive {
        /// The downloaded archive.
        archive: PathBuf,
        /// The member that was to be extracted.
        member: String,
    },
    /// The destination has no parent folder to install into.
    #[error("{} has no parent directory", path.display())]
    NoParent {
        /// The destination.
        path: PathBuf,
    },
}

impl DownloadError {
    fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.to_path_buf();
        move |source| DownloadError::Io {
            action,
            path,
            source,
        }
    }
}

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
pub fn verify_sha256(path: &Path, expected: &str) -> Result<(), DownloadError> {
    let actual = sha256_file(path).map_err(DownloadError::io("reading", path))?;
    if actual.eq_ignore_ascii_case(expected.trim()) {
        Ok(())
    } else {
        Err(DownloadError::ChecksumMismatch {
            path: path.to_path_buf(),
            expected: expected.to_string(),
            actual,
        })
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
) -> Result<PathBuf, DownloadError> {
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
            return Err(DownloadError::NotInstalled {
                tool: tool.to_string(),
                version: pinned_version.to_string(),
                install_hint: install_hint.to_string(),
            });
        }
        // Missing with auto-install on: no pinned build for this platform (said below).
        ToolChoice::Missing | ToolChoice::Install => {}
    }
    let asset = asset.ok_or_else(|| DownloadError::NoPinnedBuild {
        tool: tool.to_string(),
        version: pinned_version.to_string(),
        os: std::env::consts::OS.to_string(),
        arch: std::env::consts::ARCH.to_string(),
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
pub fn install_verified(
    downloaded: &Path,
    asset: &PinnedAsset,
    dest: &Path,
) -> Result<(), DownloadError> {
    verify_sha256(downloaded, asset.sha256)?;
    let dir = parent_created(dest)?;
    // Staged next to `dest` under a fresh name (removed on any failure), then renamed over it.
    let staged = tempfile::Builder::new()
        .prefix(&format!(".{}.", asset.tool))
        .tempfile_in(dir)
        .map_err(DownloadError::io("creating a file in", dir))?
        .into_temp_path();
    match &asset.archive_member {
        None => {
            std::fs::copy(downloaded, &staged).map_err(DownloadError::io("copying to", &staged))?;
        }
        Some(member) => {
            let unpack = tempfile::Builder::new()
                .prefix(".unpack")
                .tempdir_in(dir)
                .map_err(DownloadError::io("creating a folder in", dir))?;
            let status = std::process::Command::new("tar")
                .arg("-xzf")
                .arg(downloaded)
                .arg("-C")
                .arg(unpack.path())
                .arg(member)
                .status()
                .map_err(DownloadError::io("running", Path::new("tar")))?;
            if !status.success() {
                return Err(DownloadError::Archive {
                    archive: downloaded.to_path_buf(),
                    member: member.clone(),
                });
            }
            std::fs::rename(unpack.path().join(member), &staged)
                .map_err(DownloadError::io("moving", Path::new(member)))?;
        }
    }
    make_executable(&staged).map_err(DownloadError::io("chmod", &staged))?;
    staged
        .persist(dest)
        .map_err(|e| DownloadError::io("installing", dest)(e.error))?;
    Ok(())
}

/// The folder `dest` goes into, created if missing.
fn parent_created(dest: &Path) -> Result<&Path, DownloadError> {
    let dir = dest.parent().ok_or_else(|| DownloadError::NoParent {
        path: dest.to_path_buf(),
    })?;
    std::fs::create_dir_all(dir).map_err(DownloadError::io("creating", dir))?;
    Ok(dir)
}

/// Downloads `asset` and installs it as `dest` (verified; nothing is installed on mismatch).
pub async fn download_and_install(asset: &PinnedAsset, dest: &Path) -> Result<(), DownloadError> {
    let spinner = crate::progress::spinner(format!(
        "downloading {} {} from {}",
        asset.tool, asset.version, asset.url
    ));
    let http = |e: reqwest::Error| DownloadError::Http {
        url: asset.url.clone(),
        source: e.without_url(),
    };
    let bytes = reqwest::get(&asset.url)
        .await
        .and_then(|r| r.error_for_status())
        .map_err(http)?
        .bytes()
        .await
        .map_err(http)?;
    let dir = parent_created(dest)?;
    // A fresh file next to `dest`, removed when dropped (also on failure).
    let download = tempfile::Builder::new()
        .prefix(&format!(".{}-{}.", asset.tool, asset.version))
        .suffix(".download")
        .tempfile_in(dir)
        .map_err(DownloadError::io("creating a file in", dir))?;
    std::fs::write(download.path(), &bytes)
        .map_err(DownloadError::io("writing", download.path()))?;
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
        let err = verify_sha256(&file, &"0".repeat(64))
            .unwrap_err()
            .to_string();
        assert!(err.contains("checksum mismatch"), "{err}");
    }

    #[test]
    fn a_checksum_mismatch_is_its_own_kind_with_both_sums() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tool");
        std::fs::write(&file, b"hello\n").unwrap();
        match verify_sha256(&file, &"0".repeat(64)).unwrap_err() {
            DownloadError::ChecksumMismatch {
                path,
                expected,
                actual,
            } => {
                assert_eq!(path, file);
                assert_eq!(expected, "0".repeat(64));
                assert_eq!(
                    actual,
                    "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
                );
            }
            other => panic!("expected ChecksumMismatch, got {other:?}"),
        }
        // A file that is not there: an I/O error naming it, its cause kept.
        let missing = dir.path().join("missing");
        let err = verify_sha256(&missing, &"0".repeat(64)).unwrap_err();
        assert!(
            err.to_string().contains(&*missing.to_string_lossy()),
            "{err}"
        );
        match err {
            DownloadError::Io { path, source, .. } => {
                assert_eq!(path, missing);
                assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
            }
            other => panic!("expected Io, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_tool_missing_without_autoinstall_is_not_installed_and_says_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let err = find_or_install_pinned(
            "harmony-test-no-such-tool",
            "v1.2.3",
            None,
            dir.path(),
            &["version"],
            "https://example.org/install",
            false,
        )
        .await
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("install harmony-test-no-such-tool v1.2.3 (https://example.org/install) or set HARMONY_AUTOINSTALL=true"),
            "{err}"
        );
        assert!(
            matches!(&err, DownloadError::NotInstalled { tool, .. } if tool == "harmony-test-no-such-tool"),
            "{err:?}"
        );
        // Auto-install on but nothing pinned for this platform: said, nothing downloaded.
        let err = find_or_install_pinned(
            "harmony-test-no-such-tool",
            "v1.2.3",
            None,
            dir.path(),
            &["version"],
            "https://example.org/install",
            true,
        )
        .await
        .unwrap_err();
        assert!(
            matches!(err, DownloadError::NoPinnedBuild { .. }),
            "{err:?}"
        );
        assert_eq!(entries(dir.path()), Vec::<String>::new());
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
        assert!(matches!(
            install_verified(&downloaded, &asset, &dest),
            Err(DownloadError::ChecksumMismatch { .. })
        ));
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
        // A member the archive does not hold: an archive error naming both.
        let wrong = PinnedAsset {
            archive_member: Some("linux-arm64/helm".into()),
            ..asset
        };
        let err =
            install_verified(&archive, &wrong, &dir.path().join("other").join("helm")).unwrap_err();
        match &err {
            DownloadError::Archive { archive: a, member } => {
                assert_eq!(a, &archive);
                assert_eq!(member, "linux-arm64/helm");
            }
            other => panic!("expected Archive, got {other:?}"),
        }
        assert_eq!(entries(&dir.path().join("other")), Vec::<String>::new());
    }
}
