//! The single-sign-on session cache: one private JSON file per (OpenBao address, auth mount, role).
//!
//! Default folder: `~/.local/share/harmony/sessions/` (0700), files `<sha256>.json` (0600), where
//! the name is the SHA-256 of `address \n auth mount \n role`. A file holds the OpenBao token, its
//! expiry (login time + `lease_duration`), and the OIDC refresh token with the token endpoint, so
//! that:
//! - a second run while the token is valid makes no request to the identity provider;
//! - an expired token is renewed with the refresh token, without a browser.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::private_file::{read_if_exists, write_private_atomic};
use crate::redacted::Secret;

/// A cached token is treated as expired this long before its real expiry (at most; a tenth of the
/// TTL for short tokens), so it does not run out between the check and the request.
pub const MAX_SAFETY_MARGIN_SECS: u64 = 30;

pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// One cached session. `Debug` hides the tokens ([`Secret`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionEntry {
    pub bao_addr: String,
    pub auth_mount: String,
    pub role: String,
    /// The OpenBao client token (empty once it was found revoked).
    pub token: Secret,
    /// Unix seconds; `None` = the token does not expire.
    pub expires_at: Option<u64>,
    /// `lease_duration` OpenBao gave at login (seconds).
    pub ttl_secs: u64,
    pub refresh_token: Option<Secret>,
    pub token_endpoint: Option<String>,
    pub issuer: String,
    pub client_id: String,
}

impl SessionEntry {
    /// True while the OpenBao token can be used (with the safety margin).
    pub fn token_is_fresh(&self, now: u64) -> bool {
        if self.token.is_empty() {
            return false;
        }
        match self.expires_at {
            None => true,
            Some(at) => {
                let margin = (self.ttl_secs / 10).min(MAX_SAFETY_MARGIN_SECS);
                now + margin < at
            }
        }
    }
}

/// Where one session lives.
#[derive(Debug, Clone)]
pub struct SessionCache {
    file: PathBuf,
}

impl SessionCache {
    pub fn new(dir: &Path, bao_addr: &str, auth_mount: &str, role: &str) -> Self {
        SessionCache {
            file: dir.join(format!("{}.json", Self::key(bao_addr, auth_mount, role))),
        }
    }

    /// The file name stem: hex SHA-256 of `address \n mount \n role`.
    pub fn key(bao_addr: &str, auth_mount: &str, role: &str) -> String {
        let mut h = Sha256::new();
        h.update(format!(
            "{}\n{auth_mount}\n{role}",
            bao_addr.trim_end_matches('/')
        ));
        hex::encode(h.finalize())
    }

    pub fn path(&self) -> &Path {
        &self.file
    }

    /// `Ok(None)` when there is no file; a corrupt file counts as absent (logged).
    pub fn load(&self) -> std::io::Result<Option<SessionEntry>> {
        let Some(bytes) = read_if_exists(&self.file)? else {
            return Ok(None);
        };
        match serde_json::from_slice(&bytes) {
            Ok(entry) => Ok(Some(entry)),
            Err(e) => {
                log::debug!(
                    "session cache {} is unreadable ({e}), ignoring it",
                    self.file.display()
                );
                Ok(None)
            }
        }
    }

    pub fn save(&self, entry: &SessionEntry) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(entry).expect("a session entry always serializes");
        write_private_atomic(&self.file, &bytes)
    }

    /// Like [`SessionCache::drop_token`], only when the cached token is still `stale`: a
    /// session another process or task saved since then is kept.
    pub fn drop_token_if(&self, stale: &Secret) -> std::io::Result<()> {
        match self.load()? {
            Some(entry) if entry.token == *stale => self.drop_token(),
            _ => Ok(()),
        }
    }

    /// Forgets the OpenBao token but keeps the refresh token (for a revoked token).
    pub fn drop_token(&self) -> std::io::Result<()> {
        if let Some(mut entry) = self.load()? {
            entry.token = Secret::default();
            entry.expires_at = Some(0);
            self.save(&entry)?;
        }
        Ok(())
    }

    pub fn remove(&self) -> std::io::Result<()> {
        match std::fs::remove_file(&self.file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn entry(expires_at: Option<u64>, ttl: u64) -> SessionEntry {
        SessionEntry {
            bao_addr: "http://127.0.0.1:8200".into(),
            auth_mount: "jwt".into(),
            role: "dev".into(),
            token: Secret::new("s.token"),
            expires_at,
            ttl_secs: ttl,
            refresh_token: Some(Secret::new("rt")),
            token_endpoint: Some("http://idp/token".into()),
            issuer: "http://idp".into(),
            client_id: "cli".into(),
        }
    }

    #[test]
    fn freshness_honours_ttl_and_margin() {
        assert!(entry(None, 0).token_is_fresh(1_000));
        assert!(entry(Some(2_000), 3600).token_is_fresh(1_000));
        assert!(!entry(Some(1_020), 3600).token_is_fresh(1_000)); // inside the 30 s margin
        assert!(!entry(Some(900), 3600).token_is_fresh(1_000));
    }

    #[test]
    fn save_load_private_and_keyed() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("sessions");
        let cache = SessionCache::new(&dir, "http://127.0.0.1:8200/", "jwt", "dev");
        assert_eq!(
            cache.path(),
            SessionCache::new(&dir, "http://127.0.0.1:8200", "jwt", "dev").path()
        );
        assert_ne!(
            cache.path(),
            SessionCache::new(&dir, "http://127.0.0.1:8200", "jwt", "ops").path()
        );
        assert!(cache.load().unwrap().is_none());
        cache.save(&entry(Some(5), 10)).unwrap();
        let mode = std::fs::metadata(cache.path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let dmode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(dmode & 0o777, 0o700);
        cache.drop_token().unwrap();
        let e = cache.load().unwrap().unwrap();
        assert!(e.token.is_empty() && e.refresh_token.is_some());
        cache.remove().unwrap();
        assert!(cache.load().unwrap().is_none());
    }
}
