//! Downloading pinned tool binaries, verified by SHA-256 before they are made executable.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// A tool release pinned by URL and SHA-256 of the downloaded file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinnedAsset {
    pub tool: &'static str,
    pub version: &'static str,
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
    let mut buf = [0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
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

/// Finds the line for `file_name` in a `sha256sum`-style listing (`<hex>  <name>`), as
/// published next to many releases.
pub fn checksum_from_listing(listing: &str, file_name: &str) -> Option<String> {
    listing.lines().find_map(|line| {
        let mut parts = line.split_whitespace();
        let sum = parts.next()?;
        let name = parts.next()?.trim_start_matches('*');
        (name == file_name || name.ends_with(&format!("/{file_name}"))).then(|| sum.to_lowercase())
    })
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
    let staged = dest.with_extension("new");
    match &asset.archive_member {
        None => {
            std::fs::copy(downloaded, &staged)
                .map_err(|e| format!("copying to {}: {e}", staged.display()))?;
        }
        Some(member) => {
            let unpack = dir.join(".unpack");
            let _ = std::fs::remove_dir_all(&unpack);
            std::fs::create_dir_all(&unpack)
                .map_err(|e| format!("creating {}: {e}", unpack.display()))?;
            let status = std::process::Command::new("tar")
                .arg("-xzf")
                .arg(downloaded)
                .arg("-C")
                .arg(&unpack)
                .arg(member)
                .status()
                .map_err(|e| format!("running tar: {e}"))?;
            if !status.success() {
                return Err(format!(
                    "tar could not extract {member} from {}",
                    downloaded.display()
                ));
            }
            std::fs::rename(unpack.join(member), &staged)
                .map_err(|e| format!("moving {member}: {e}"))?;
            let _ = std::fs::remove_dir_all(&unpack);
        }
    }
    make_executable(&staged).map_err(|e| format!("chmod {}: {e}", staged.display()))?;
    std::fs::rename(&staged, dest).map_err(|e| format!("installing {}: {e}", dest.display()))?;
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
    let download = dir.join(format!(".{}-{}.download", asset.tool, asset.version));
    std::fs::write(&download, &bytes)
        .map_err(|e| format!("writing {}: {e}", download.display()))?;
    let result = install_verified(&download, asset, dest);
    let _ = std::fs::remove_file(&download);
    spinner.finish_and_clear();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }

    #[test]
    fn reads_checksums_listings() {
        let listing = "\
0b8110f2229631af7402fb828259330985918b08fefd38b7f1b788a1c8687216  k3d-linux-arm64
DBAA79A76ACE7F4CA230A1FF41DC7D8A5036A8AD0309E9C54F9BF3836DBE853E *_dist/k3d-linux-amd64
";
        assert_eq!(
            checksum_from_listing(listing, "k3d-linux-amd64").as_deref(),
            Some("dbaa79a76ace7f4ca230a1ff41dc7d8a5036a8ad0309e9c54f9bf3836dbe853e")
        );
        assert_eq!(checksum_from_listing(listing, "k3d-darwin-arm64"), None);
    }
}
