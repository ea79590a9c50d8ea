//! CloudNativePG: operator chart (pinned), `Cluster` manifest, readiness, endpoint.

use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use serde_json::json;

use crate::interpret::{InterpretError, InterpretStatus};
use crate::modules::helm::{HelmChartScore, HelmRepository};
use crate::topology::{HelmCommand, K8sclient, PostgreSQLConfig, PostgreSQLEndpoint};

/// The pinned operator chart (`cnpg/cloudnative-pg` 0.27.1 ships operator 1.28.x).
pub const CNPG_CHART_VERSION: &str = "0.27.1";
pub const CNPG_REPO_NAME: &str = "cnpg";
pub const CNPG_REPO_URL: &str = "https://cloudnative-pg.github.io/charts";
pub const CNPG_RELEASE: &str = "cnpg";
pub const CNPG_NAMESPACE: &str = "cnpg-system";
/// The operator Deployment of release `cnpg`.
pub const CNPG_DEPLOYMENT: &str = "cnpg-cloudnative-pg";
pub const CNPG_API_VERSION: &str = "postgresql.cnpg.io/v1";
/// PostgreSQL's port on the `-rw` Service.
pub const POSTGRES_PORT: u16 = 5432;

const OPERATOR_TIMEOUT: Duration = Duration::from_secs(300);

/// The operator release.
pub fn operator_chart() -> HelmChartScore {
    HelmChartScore::new(
        CNPG_RELEASE,
        CNPG_NAMESPACE,
        HelmRepository::new(CNPG_REPO_NAME, CNPG_REPO_URL),
        "cloudnative-pg",
        CNPG_CHART_VERSION,
    )
    .with_wait(OPERATOR_TIMEOUT)
}

/// The CloudNativePG `Cluster` for `config`.
pub fn cluster_manifest(config: &PostgreSQLConfig) -> serde_json::Value {
    let mut storage = json!({ "size": config.storage_size });
    if let Some(class) = &config.storage_class {
        storage["storageClass"] = json!(class);
    }
    json!({
        "apiVersion": CNPG_API_VERSION,
        "kind": "Cluster",
        "metadata": {
            "name": config.name,
            "namespace": config.namespace,
            "labels": { "app.kubernetes.io/managed-by": "harmony" }
        },
        "spec": {
            "instances": config.instances,
            "storage": storage,
            // Since CNPG 1.21 the superuser secret only exists when asked for.
            "enableSuperuserAccess": true,
            "bootstrap": {
                "initdb": { "database": config.database, "owner": config.owner }
            }
        }
    })
}

/// Where the cluster is reached and which secrets hold its credentials.
pub fn endpoint(config: &PostgreSQLConfig, changed: bool) -> PostgreSQLEndpoint {
    PostgreSQLEndpoint {
        host: format!("{}-rw.{}.svc.cluster.local", config.name, config.namespace),
        port: POSTGRES_PORT,
        namespace: config.namespace.clone(),
        database: config.database.clone(),
        app_secret: format!("{}-app", config.name),
        superuser_secret: format!("{}-superuser", config.name),
        changed,
    }
}

fn check(config: &PostgreSQLConfig) -> Result<(), InterpretError> {
    if config.instances == 0 {
        return Err(InterpretError::InvalidScore(format!(
            "PostgreSQL {} needs at least one instance",
            config.name
        )));
    }
    if config.name.is_empty() || config.namespace.is_empty() || config.database.is_empty() {
        return Err(InterpretError::InvalidScore(
            "PostgreSQL needs a name, a namespace and a database".into(),
        ));
    }
    Ok(())
}

/// Installs the operator (pinned chart, waited for), applies the `Cluster`, waits for
/// `Ready=True` and returns the `-rw` endpoint. Idempotent.
pub async fn deploy_with_cloudnative_pg<T: K8sclient + HelmCommand>(
    topology: &T,
    config: &PostgreSQLConfig,
) -> Result<PostgreSQLEndpoint, InterpretError> {
    check(config)?;
    let operator = operator_chart().deploy(topology).await?;
    let client = topology.k8s_client().await?;
    {
        let s = crate::progress::spinner(format!(
            "waiting for the CloudNativePG operator ({CNPG_NAMESPACE}/{CNPG_DEPLOYMENT})"
        ));
        let ready = client
            .wait_deployment_available(CNPG_DEPLOYMENT, CNPG_NAMESPACE, OPERATOR_TIMEOUT)
            .await;
        s.finish_and_clear();
        ready?;
    }
    if operator.status == InterpretStatus::Success {
        // The chart just installed or upgraded the CRDs.
        client.refresh_discovery().await;
    }

    let namespace = Namespace {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            name: Some(config.namespace.clone()),
            ..Default::default()
        },
        ..Default::default()
    };
    let ns_changed = client.apply(&namespace).await?.changed;

    // The operator's admission webhook may refuse connections for a few seconds after its
    // Deployment turns Available.
    let manifest = cluster_manifest(config);
    let mut attempt = 0;
    let applied = loop {
        match client.apply_dynamic(&manifest).await {
            Ok(applied) => break applied,
            Err(e) if attempt < 12 && e.to_string().contains("webhook") => {
                attempt += 1;
                log::info!("CloudNativePG webhook not ready yet, retrying: {e}");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
            Err(e) => return Err(e.into()),
        }
    };

    let s = crate::progress::spinner(format!(
        "waiting for PostgreSQL {}/{} to be Ready",
        config.namespace, config.name
    ));
    let ready = client
        .wait_for_condition(
            CNPG_API_VERSION,
            "Cluster",
            &config.name,
            Some(&config.namespace),
            "Ready",
            Duration::from_secs(config.ready_timeout_secs),
        )
        .await;
    s.finish_and_clear();
    ready?;

    let changed = operator.status == InterpretStatus::Success || ns_changed || applied.changed;
    Ok(endpoint(config, changed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_manifest_matches_cnpg() {
        let mut config = PostgreSQLConfig::new("zitadel-pg", "zitadel");
        config.database = "zitadel".into();
        config.owner = "zitadel".into();
        config.instances = 2;
        config.storage_size = "10Gi".into();
        assert_eq!(
            cluster_manifest(&config),
            json!({
                "apiVersion": "postgresql.cnpg.io/v1",
                "kind": "Cluster",
                "metadata": {"name": "zitadel-pg", "namespace": "zitadel",
                             "labels": {"app.kubernetes.io/managed-by": "harmony"}},
                "spec": {
                    "instances": 2,
                    "storage": {"size": "10Gi"},
                    "enableSuperuserAccess": true,
                    "bootstrap": {"initdb": {"database": "zitadel", "owner": "zitadel"}}
                }
            })
        );
        config.storage_class = Some("local-path".into());
        assert_eq!(
            cluster_manifest(&config)["spec"]["storage"]["storageClass"],
            "local-path"
        );
    }

    #[test]
    fn endpoint_is_the_rw_service_and_secret_names() {
        let e = endpoint(&PostgreSQLConfig::new("pg", "db"), false);
        assert_eq!(e.host, "pg-rw.db.svc.cluster.local");
        assert_eq!(e.port, 5432);
        assert_eq!(e.app_secret, "pg-app");
        assert_eq!(e.superuser_secret, "pg-superuser");
        assert_eq!(e.database, "pg");
    }

    #[test]
    fn operator_chart_is_pinned_and_waited_for() {
        let chart = operator_chart();
        assert_eq!(chart.chart_ref(), "cnpg/cloudnative-pg");
        assert_eq!(chart.chart_version, CNPG_CHART_VERSION);
        assert_eq!(chart.namespace, "cnpg-system");
        assert!(chart.wait.is_some());
    }

    #[test]
    fn zero_instances_is_invalid() {
        let mut c = PostgreSQLConfig::new("pg", "db");
        c.instances = 0;
        assert!(matches!(check(&c), Err(InterpretError::InvalidScore(_))));
    }
}
