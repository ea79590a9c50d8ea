//! `--cleanup`: removes what harmony_sso deployed on the local stack (the OpenBao and Zitadel
//! Helm releases and their namespaces, with the Zitadel database) and its local caches (the
//! session, OpenBao's key cache, the last-stack file). `--cluster` also deletes the k3d cluster.

use harmony::infra::k3d::K3d;
use harmony::infra::k8s_anywhere::K8sAnywhereTopology;
use harmony::topology::{HelmCommand, K8sclient};
use k8s_openapi::api::core::v1::Namespace;

use crate::session::{StackFile, logout};
use crate::sso_loop::LoopSettings;

/// Runs the cleanup; returns one line per thing removed (or already absent).
pub async fn run(
    topology: &K8sAnywhereTopology,
    settings: &LoopSettings,
    delete_cluster: bool,
) -> Result<Vec<String>, String> {
    let mut done = Vec::new();
    let stack = topology.sso_stack();
    let cluster = topology
        .config()
        .effective_context()
        .unwrap_or_else(|| "default".to_string());

    // Local caches first: they are worthless without the servers.
    if let Some(path) = &settings.stack_file
        && let Ok(conn) = StackFile::load(path)
    {
        // Userpass (`--skip-zitadel`) keeps no session: nothing to revoke.
        if conn.issuer.is_some() {
            done.push(logout(&conn, settings).await?);
        }
        std::fs::remove_file(path).map_err(|e| format!("{}: {e}", path.display()))?;
        done.push(format!("{} removed", path.display()));
    }
    let key_cache = stack.openbao_setup(cluster).local_cache_path();
    match std::fs::remove_file(&key_cache) {
        Ok(()) => done.push(format!("OpenBao key cache {} removed", key_cache.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("{}: {e}", key_cache.display())),
    }

    if delete_cluster {
        let spec = &topology.config().k3d;
        let k3d = K3d::find_or_install(&topology.config().k3d_dir(), false)
            .await
            .map_err(|e| e.to_string())?;
        let out = tokio::process::Command::new(&k3d.binary)
            .args(["cluster", "delete", &spec.name])
            .output()
            .await
            .map_err(|e| format!("running k3d: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "`k3d cluster delete {}` failed: {}",
                spec.name,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        done.push(format!("k3d cluster {} deleted", spec.name));
        return Ok(done);
    }

    let client = topology.k8s_client().await.map_err(|e| e.to_string())?;
    for (release, ns) in [
        (&stack.zitadel.release_name, &stack.zitadel.namespace),
        (&stack.openbao.release_name, &stack.openbao.namespace),
    ] {
        let out = topology
            .helm_command()
            .args([
                "uninstall",
                release,
                "--namespace",
                ns,
                "--ignore-not-found",
                "--wait",
            ])
            .output()
            .map_err(|e| format!("running helm: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "`helm uninstall {release} -n {ns}` failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        done.push(format!("helm release {ns}/{release} uninstalled"));
        if client
            .delete::<Namespace>(ns, None)
            .await
            .map_err(|e| e.to_string())?
        {
            done.push(format!(
                "namespace {ns} deleted (with its volumes and database)"
            ));
        }
    }
    Ok(done)
}
