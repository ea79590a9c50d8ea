//! `login`, `logout`, `whoami`, and the small file that remembers which servers the last run
//! used (so those subcommands work on the local stack without redeploying).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use harmony_secret::{OpenbaoSecretStore, WhoAmI};

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

/// Who the store's token belongs to, as OpenBao says (`None` when it cannot tell).
pub async fn identity_of(store: &OpenbaoSecretStore) -> Option<Identity> {
    match store.whoami().await {
        Ok(w) => Some(identity(&w)),
        Err(e) => {
            log::warn!("cannot tell who is signed in: {e}");
            None
        }
    }
}

fn identity(w: &WhoAmI) -> Identity {
    Identity {
        display_name: w.display_name.clone(),
        policies: w.policies.clone(),
        ttl_secs: w.ttl.map(|t| t.as_secs()).unwrap_or(u64::MAX),
        auth_method: w.auth_method.clone(),
    }
}

/// Ends the session of `conn`: revokes the OpenBao token and the refresh token, deletes the
/// cached session. Never signs in.
pub async fn logout(conn: &Connection, settings: &LoopSettings) -> Result<String, String> {
    let store = build_store(conn, settings, Arc::default(), None).await?;
    let r = store.logout().await.map_err(|e| e.to_string())?;
    let mut lines = vec![format!(
        "signed out of {}: OpenBao token {}, refresh token {}, session file {}",
        conn.openbao_url,
        if r.openbao_token_revoked {
            "revoked"
        } else {
            "not revoked"
        },
        if r.refresh_token_revoked {
            "revoked"
        } else {
            "not revoked"
        },
        match &r.session_file_removed {
            Some(p) => format!("{} removed", p.display()),
            None => "absent".to_string(),
        }
    )];
    lines.extend(r.notes.iter().map(|n| format!("  note: {n}")));
    Ok(lines.join("\n"))
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
            // whoami signs in when there is no session (that is what "who would I be" means
            // for a device flow); say so when it happened.
            let store = build_store(conn, settings, device_flow.clone(), None).await?;
            let w = store.whoami().await.map_err(|e| e.to_string())?;
            let mut text = render_identity(&identity(&w));
            if device_flow.load(Ordering::SeqCst) {
                text.push_str("\n  (no session was cached: signed in now)");
            }
            Ok(text)
        }
        Command::Logout => logout(conn, settings).await,
    }
}

/// The `whoami` answer.
pub fn render_identity(id: &Identity) -> String {
    format!(
        "{}\n  policies: {}\n  time left: {}\n  auth method: {}",
        id.display_name,
        id.policies.join(", "),
        human_secs(id.ttl_secs),
        id.auth_method
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sso_loop::ServerTls;

    fn conn(tls: ServerTls) -> Connection {
        Connection {
            openbao_url: "https://bao.team".into(),
            kv_mount: "secret".into(),
            issuer: Some("https://idp.team".into()),
            client_id: Some("cli".into()),
            jwt_role: "harmony-developer".into(),
            jwt_mount: "jwt".into(),
            resolve_to: None,
            tls,
        }
    }

    /// `login`/`logout`/`whoami` on the local stack read the servers from this file: the TLS
    /// files and namespace come back with them, and a file written before they existed still
    /// loads (as the OS trust store, root namespace).
    #[test]
    fn the_stack_file_keeps_the_tls_files_and_namespace() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stack.json");
        let tls = ServerTls {
            openbao_ca_cert: Some("/etc/team/bao-ca.pem".into()),
            openbao_client_cert: Some(("/etc/team/me.pem".into(), "/etc/team/me.key".into())),
            openbao_namespace: Some("team-a".into()),
            sso_ca_cert: Some("/etc/team/idp-ca.pem".into()),
        };
        StackFile::save(&path, &conn(tls.clone())).unwrap();
        let back = StackFile::load(&path).unwrap();
        assert_eq!(back, conn(tls.clone()));
        assert_eq!(
            back.tls.openbao().client_cert.map(|c| c.key),
            Some("/etc/team/me.key".into())
        );
        assert_eq!(back.tls.sso().ca_cert, Some("/etc/team/idp-ca.pem".into()));

        let mut old: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        old.as_object_mut().unwrap().remove("tls");
        std::fs::write(&path, serde_json::to_vec(&old).unwrap()).unwrap();
        assert_eq!(StackFile::load(&path).unwrap(), conn(ServerTls::default()));
    }
}
