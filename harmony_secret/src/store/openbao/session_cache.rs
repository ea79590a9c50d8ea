//! The single-sign-on session cache: one private JSON file per [`SessionKey`] (OpenBao address,
//! namespace, auth mount, role, issuer, client id, scopes).
//!
//! Default folder: `~/.local/share/harmony/sessions/` (0700), files `<sha256>.json` (0600), where
//! the name is the SHA-256 of the key. A file holds the OpenBao token, its expiry (login time +
//! `lease_duration`), and the OIDC refresh token with the token endpoint, so that:
//! - a second run while the token is valid makes no request to the identity provider;
//! - an expired token is renewed with the refresh token, without a browser.
//!
//! Many processes share one file. Identity providers rotate refresh tokens (Zitadel does) and
//! may revoke the whole grant when a used one is presented again, so renewing is done under an
//! exclusive lock on `<file>.lock` ([`SessionCache::lock`]): take it, re-read the file, renew or
//! log in, save, release. A process that waited finds the session the first one saved.

use std::fs::File;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::private_file::{ensure_private_dir, write_private_atomic};
use crate::redacted::{ExposeSecret, Secret};

/// A cached token is treated as expired this long before its real expiry (at most; a tenth of the
/// TTL for short tokens), so it does not run out between the check and the request.
pub const MAX_SAFETY_MARGIN_SECS: u64 = 30;

/// How often [`SessionCache::lock_async`] tries a lock someone else holds.
const LOCK_POLL: std::time::Duration = std::time::Duration::from_millis(50);

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
    #[serde(serialize_with = "crate::redacted::serialize")]
    pub token: Secret,
    /// Unix seconds; `None` = the token does not expire.
    pub expires_at: Option<u64>,
    /// `lease_duration` OpenBao gave at login (seconds).
    pub ttl_secs: u64,
    #[serde(serialize_with = "crate::redacted::serialize_option")]
    pub refresh_token: Option<Secret>,
    pub token_endpoint: Option<String>,
    pub issuer: String,
    pub client_id: String,
    /// The scopes the refresh token was granted for (empty in files of older versions, which
    /// then do not match any key and are ignored).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The OpenBao namespace the token was issued in (`None`: the root namespace; files of
    /// older versions have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

impl SessionEntry {
    /// Whether this entry was made for `key` (a file of another key is never used).
    pub fn matches(&self, key: &SessionKey) -> bool {
        self.bao_addr.trim_end_matches('/') == key.bao_addr.trim_end_matches('/')
            && self.auth_mount == key.auth_mount
            && self.role == key.role
            && self.issuer.trim_end_matches('/') == key.issuer.trim_end_matches('/')
            && self.client_id == key.client_id
            && self.scopes == key.scopes
            && self.namespace == key.namespace
    }

    /// True while the OpenBao token can be used (with the safety margin).
    pub fn token_is_fresh(&self, now: u64) -> bool {
        if self.token.expose_secret().is_empty() {
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

/// What a session is for: a session is only used for exactly the same key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionKey {
    pub bao_addr: String,
    pub auth_mount: String,
    pub role: String,
    pub issuer: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    /// The OpenBao namespace (`X-Vault-Namespace`); a token is only valid in its own.
    pub namespace: Option<String>,
}

impl SessionKey {
    /// The file name stem: hex SHA-256 of the fields, one a line (scopes space-separated; the
    /// namespace only when set, so sessions of the root namespace keep their file).
    pub fn digest(&self) -> String {
        let mut h = Sha256::new();
        h.update(format!(
            "{}\n{}\n{}\n{}\n{}\n{}",
            self.bao_addr.trim_end_matches('/'),
            self.auth_mount,
            self.role,
            self.issuer.trim_end_matches('/'),
            self.client_id,
            self.scopes.join(" ")
        ));
        if let Some(ns) = &self.namespace {
            h.update(format!("\nnamespace {ns}"));
        }
        hex::encode(h.finalize())
    }
}

/// Where one session lives.
#[derive(Debug, Clone)]
pub struct SessionCache {
    file: PathBuf,
    key: SessionKey,
}

/// Holds the exclusive lock on a session (`<file>.lock`) until dropped.
#[derive(Debug)]
pub struct SessionLock {
    _file: File,
}

impl SessionCache {
    pub fn new(dir: &Path, key: SessionKey) -> Self {
        SessionCache {
            file: dir.join(format!("{}.json", key.digest())),
            key,
        }
    }

    pub fn key(&self) -> &SessionKey {
        &self.key
    }

    pub fn path(&self) -> &Path {
        &self.file
    }

    /// `<file>.lock`, the file [`SessionCache::lock_async`] locks.
    pub fn lock_path(&self) -> PathBuf {
        let mut name = self.file.as_os_str().to_owned();
        name.push(".lock");
        PathBuf::from(name)
    }

    /// Waits for the exclusive lock on this session (blocking; the store uses
    /// [`SessionCache::lock_async`]). Other processes calling it wait until the returned guard
    /// is dropped. Tests hold a session's lock with it.
    #[cfg(test)]
    pub fn lock(&self) -> std::io::Result<SessionLock> {
        loop {
            let file = self.open_lock_file()?;
            file.lock()?;
            if self.is_current_lock_file(&file) {
                return Ok(SessionLock { _file: file });
            }
        }
    }

    /// The lock if no one holds it; `Ok(None)` when someone does.
    pub fn try_lock(&self) -> std::io::Result<Option<SessionLock>> {
        loop {
            let file = self.open_lock_file()?;
            match file.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
                Err(std::fs::TryLockError::Error(e)) => return Err(e),
            }
            if self.is_current_lock_file(&file) {
                return Ok(Some(SessionLock { _file: file }));
            }
        }
    }

    fn open_lock_file(&self) -> std::io::Result<File> {
        if let Some(dir) = self.file.parent() {
            ensure_private_dir(dir)?;
        }
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(self.lock_path())
    }

    /// A logout deletes the lock file while holding the lock: whoever waited on the deleted
    /// file must lock the current one instead.
    fn is_current_lock_file(&self, file: &File) -> bool {
        use std::os::unix::fs::MetadataExt;
        match (file.metadata(), std::fs::metadata(self.lock_path())) {
            (Ok(held), Ok(on_disk)) => held.dev() == on_disk.dev() && held.ino() == on_disk.ino(),
            _ => false,
        }
    }

    /// Waits for the lock without blocking a thread: tries it every [`LOCK_POLL`]. Another
    /// process may hold it for a whole device flow (minutes); a caller that gives up (a timeout,
    /// Ctrl-C) just drops this future. A blocked thread instead would keep the runtime, and so
    /// the process, from exiting until the other process is done.
    pub async fn lock_async(&self) -> std::io::Result<SessionLock> {
        // Hand-written, not backon: an unbounded wait for another process, with no error to
        // retry on and no budget; dropping this future is the only way out, as intended.
        let mut said = false;
        loop {
            if let Some(lock) = self.try_lock()? {
                return Ok(lock);
            }
            if !said {
                log::info!(
                    "waiting for another process using the same session (signing in or \
                     renewing it): {} is locked",
                    self.lock_path().display()
                );
                said = true;
            }
            tokio::time::sleep(LOCK_POLL).await;
        }
    }

    /// `Ok(None)` when there is no file, or it is corrupt, or it was made for another key
    /// (logged at debug).
    ///
    /// A file that group or others may read or write is not used either (warned): this
    /// program only writes 0600 files, so it was planted or copied by someone else, e.g. into
    /// a shared `HARMONY_SESSION_DIR`, and its token could be anyone's.
    pub fn load(&self) -> std::io::Result<Option<SessionEntry>> {
        use std::io::Read;
        use std::os::unix::fs::PermissionsExt;
        let mut file = match File::open(&self.file) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let mode = file.metadata()?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            log::warn!(
                "session cache {} is not private (mode {mode:o}), so it was not written by \
                 this program and is not used; delete it (a new sign-in writes a 0600 file)",
                self.file.display()
            );
            return Ok(None);
        }
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        match serde_json::from_slice::<SessionEntry>(&bytes) {
            Ok(entry) if entry.matches(&self.key) => Ok(Some(entry)),
            Ok(_) => {
                log::debug!(
                    "session cache {} was made for another OpenBao address, mount, role, issuer, \
                     client id or scopes; ignoring it",
                    self.file.display()
                );
                Ok(None)
            }
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
            Some(entry) if crate::redacted::same(&entry.token, stale) => self.drop_token(),
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

    /// Deletes the session file; `Ok(true)` when there was one.
    pub fn remove(&self) -> std::io::Result<bool> {
        match std::fs::remove_file(&self.file) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Deletes the lock file (after logout; a later lock creates it again).
    pub fn remove_lock_file(&self) -> std::io::Result<()> {
        match std::fs::remove_file(self.lock_path()) {
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
            token: Secret::from("s.token"),
            expires_at,
            ttl_secs: ttl,
            refresh_token: Some(Secret::from("rt")),
            token_endpoint: Some("http://idp/token".into()),
            issuer: "http://idp".into(),
            client_id: "cli".into(),
            scopes: vec!["openid".into()],
            namespace: None,
        }
    }

    fn key(addr: &str, role: &str) -> SessionKey {
        SessionKey {
            bao_addr: addr.into(),
            auth_mount: "jwt".into(),
            role: role.into(),
            issuer: "http://idp".into(),
            client_id: "cli".into(),
            scopes: vec!["openid".into()],
            namespace: None,
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
        let cache = SessionCache::new(&dir, key("http://127.0.0.1:8200/", "dev"));
        assert_eq!(
            cache.path(),
            SessionCache::new(&dir, key("http://127.0.0.1:8200", "dev")).path()
        );
        assert_ne!(
            cache.path(),
            SessionCache::new(&dir, key("http://127.0.0.1:8200", "ops")).path()
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
        assert!(e.token.expose_secret().is_empty() && e.refresh_token.is_some());
        assert!(cache.remove().unwrap());
        assert!(cache.load().unwrap().is_none());
    }

    /// A file whose content was made for another issuer, client or scopes (copied, or a hash
    /// collision of an older key layout) is not used.
    #[test]
    fn an_entry_of_another_key_is_not_loaded() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = SessionCache::new(tmp.path(), key("http://127.0.0.1:8200", "dev"));
        cache.save(&entry(None, 0)).unwrap();
        assert!(cache.load().unwrap().is_some());
        for change in [
            |e: &mut SessionEntry| e.issuer = "http://other-idp".into(),
            |e: &mut SessionEntry| e.client_id = "other".into(),
            |e: &mut SessionEntry| e.scopes.push("offline_access".into()),
            |e: &mut SessionEntry| e.role = "ops".into(),
        ] {
            let mut other = entry(None, 0);
            change(&mut other);
            cache.save(&other).unwrap();
            assert!(cache.load().unwrap().is_none(), "{other:?}");
        }
    }

    /// Two namespaces of one OpenBao (same address, mount, role and sign-in) have separate
    /// sessions: a token is only valid in the namespace it was issued in.
    #[test]
    fn each_namespace_has_its_own_session() {
        let tmp = tempfile::tempdir().unwrap();
        let root = SessionCache::new(tmp.path(), key("http://127.0.0.1:8200", "dev"));
        let team = |ns: &str| {
            let mut k = key("http://127.0.0.1:8200", "dev");
            k.namespace = Some(ns.into());
            SessionCache::new(tmp.path(), k)
        };
        assert_ne!(root.path(), team("team-a").path());
        assert_ne!(team("team-a").path(), team("team-b").path());
        // A file of the root namespace keeps its name (sessions of older versions still load).
        let mut old_layout = Sha256::new();
        old_layout.update("http://127.0.0.1:8200\njwt\ndev\nhttp://idp\ncli\nopenid");
        assert_eq!(
            root.path().file_stem().unwrap().to_str().unwrap(),
            hex::encode(old_layout.finalize())
        );
        // An entry of another namespace is not used, whatever its file name.
        let mut other = entry(None, 0);
        other.namespace = Some("team-b".into());
        let a = team("team-a");
        a.save(&other).unwrap();
        assert!(a.load().unwrap().is_none());
        other.namespace = Some("team-a".into());
        a.save(&other).unwrap();
        assert!(a.load().unwrap().is_some());
    }

    /// A session file others can read or write (planted in a shared folder, say) is not used:
    /// its token could be someone else's.
    #[test]
    fn a_session_file_others_can_access_is_not_used() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = SessionCache::new(tmp.path(), key("http://127.0.0.1:8200", "dev"));
        cache.save(&entry(None, 0)).unwrap();
        for mode in [0o644, 0o620, 0o604] {
            std::fs::set_permissions(cache.path(), std::fs::Permissions::from_mode(mode)).unwrap();
            assert!(cache.load().unwrap().is_none(), "mode {mode:o}");
        }
        std::fs::set_permissions(cache.path(), std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(cache.load().unwrap().is_some());
    }

    /// Giving up on a lock another process holds (here: another open file) leaves nothing
    /// behind: the runtime, and so the process, can exit at once. A thread blocked in `flock`
    /// kept it from exiting until the holder (maybe in a device flow) let go.
    #[test]
    fn giving_up_on_a_held_lock_does_not_keep_the_process_from_exiting() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = SessionCache::new(&tmp.path().join("s"), key("http://a", "dev"));
        let holder = cache.lock().unwrap();
        let (done, finished) = std::sync::mpsc::channel();
        let waiter = cache.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            let gave_up = rt.block_on(async {
                tokio::time::timeout(std::time::Duration::from_millis(100), waiter.lock_async())
                    .await
                    .is_err()
            });
            drop(rt); // what the end of `main` does
            done.send(gave_up).unwrap();
        });
        let gave_up = finished
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("the runtime did not shut down while another process held the lock");
        assert!(gave_up);
        assert!(
            cache.try_lock().unwrap().is_none(),
            "the holder still has it"
        );
        drop(holder);
        assert!(cache.try_lock().unwrap().is_some());
    }

    /// The lock is exclusive between two holders (two opens behave like two processes).
    #[cfg(target_os = "linux")] // reads /proc/locks
    #[test]
    fn the_session_lock_is_exclusive_until_dropped() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = SessionCache::new(&tmp.path().join("s"), key("http://a", "dev"));
        let guard = cache.lock().unwrap();
        let other = std::fs::File::open(cache.lock_path()).unwrap();
        assert!(matches!(
            other.try_lock(),
            Err(std::fs::TryLockError::WouldBlock)
        ));
        drop(guard);
        other.try_lock().unwrap();
        drop(other);

        // Waiting on a lock file that is deleted meanwhile (logout) ends on the new file.
        let holder = cache.lock().unwrap();
        let waiter = {
            let cache = cache.clone();
            std::thread::spawn(move || cache.lock())
        };
        // Wait until the waiter is blocked on the old file (Linux lists it in /proc/locks).
        use std::os::unix::fs::MetadataExt;
        let ino = std::fs::metadata(cache.lock_path()).unwrap().ino();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !std::fs::read_to_string("/proc/locks")
            .unwrap()
            .lines()
            .any(|l| l.contains("->") && l.contains(&format!(":{ino} ")))
        {
            assert!(
                std::time::Instant::now() < deadline,
                "the waiter never blocked"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        cache.remove_lock_file().unwrap();
        drop(holder);
        let _held = waiter.join().unwrap().unwrap();
        // The waiter holds the lock on the file that is there now, not on the deleted one.
        let now = std::fs::File::open(cache.lock_path()).unwrap();
        assert!(matches!(
            now.try_lock(),
            Err(std::fs::TryLockError::WouldBlock)
        ));
        let mode = std::fs::metadata(cache.lock_path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
