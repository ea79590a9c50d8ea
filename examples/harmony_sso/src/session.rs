//! `login`, `logout`, `whoami`, and the small file that remembers which servers the last run
//! used (so those subcommands work on the local stack without redeploying).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use harmony_secret::OpenbaoSecretStore;
use harmony_secret::store::openbao::session_cache::SessionCache;

use crate::cli::Command;
use crate::sso_loop::{Connection, LoopSettings, build_store};
use crate::summary::{Identity, LoginMethod, human_secs};

/// `~/.local/share/harmony/harmony_sso/stack.json`: address, mounts, issuer, client id of the
/// last run (no secret).
pub struct StackFile;

impl StackFile {
    pub fn default_path() -> PathBuf {
        harmony::infra::k8s_anywhere::harmony_data_dir()
            .join("harmony_sso")
            .join("stack.json")
    }

    pub fn save(path: &Path, conn: &Connection) -> Result<(), String> {
        let bytes = serde_json::to_vec_pretty(conn).map_err(|e| e.to_string())?;
        harmony_secret::private_file::write_private_atomic(path, &bytes).map_err(|e| e.to_string())
    }

    pub fn load(path: &Path) -> Result<Connection, String> {
        let bytes = harmony_secret::private_file::read_if_exists(path)
            .map_err(|e| format!("reading {}: {e}", path.display()))?
            .ok_or_else(|| {
                format!(
                    "no local stack yet ({} is missing): run `cargo run -p harmony_sso` first, or pass the existing-stack flags",
                    path.display()
                )
            })?;
        serde_json::from_slice(&bytes).map_err(|e| format!("{} is not valid: {e}", path.display()))
    }
}

/// The session cache file of `conn` (same place the store uses).
pub fn session_cache(conn: &Connection, settings: &LoopSettings) -> Option<SessionCache> {
    let dir = settings.session_dir.clone().or_else(|| {
        directories::ProjectDirs::from("", "", "harmony").map(|d| d.data_dir().join("sessions"))
    })?;
    Some(SessionCache::new(
        &dir,
        conn.openbao_url.trim_end_matches('/'),
        &conn.jwt_mount,
        &conn.jwt_role,
    ))
}

/// Who the store's token belongs to, as OpenBao says (`None` when it cannot tell).
pub async fn identity_of(store: &OpenbaoSecretStore) -> Option<Identity> {
    let _ = store;
    None
}

/// Runs `login`, `logout` or `whoami` against `conn`; returns the text to print.
pub async fn run_command(
    command: &Command,
    conn: &Connection,
    settings: &LoopSettings,
) -> Result<String, String> {
    let device_flow = Arc::new(AtomicBool::new(false));
    match command {
        Command::Login => {
            let store = build_store(conn, settings, device_flow.clone(), None).await?;
            store.login().await.map_err(|e| e.to_string())?;
            let how = if device_flow.load(Ordering::SeqCst) {
                LoginMethod::DeviceFlow
            } else {
                LoginMethod::CachedSession
            };
            Ok(match identity_of(&store).await {
                Some(id) => format!("signed in as {} via {how}", id.display_name),
                None => format!("signed in to {} via {how}", conn.openbao_url),
            })
        }
        Command::Whoami => {
            let store = build_store(conn, settings, device_flow.clone(), None).await?;
            let _ = store;
            Err("whoami is not available yet".into())
        }
        Command::Logout => {
            let cache = session_cache(conn, settings)
                .ok_or("no session folder (no home folder): nothing to forget")?;
            cache.remove().map_err(|e| e.to_string())?;
            Ok(format!(
                "session forgotten ({} removed)",
                cache.path().display()
            ))
        }
    }
}

/// `3h59m left`, for whoami.
pub fn render_identity(id: &Identity) -> String {
    format!(
        "{}\n  policies: {}\n  time left: {}\n  auth method: {}",
        id.display_name,
        id.policies.join(", "),
        human_secs(id.ttl_secs),
        id.auth_method
    )
}
