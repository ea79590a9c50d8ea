//! CloudNativePG adapter: the `Cluster` manifest, applying it (retrying while the operator's
//! admission webhook starts), readiness and the endpoint. The operator chart is installed by
//! the PostgreSQL module (`crate::modules::postgresql::cnpg`), which composes both.

use std::time::Duration;

use backon::{ConstantBuilder, Retryable};
use serde_json::json;

use kube::api::DynamicObject;

use crate::infra::k8s::{Applied, K8sClient, K8sError};
use crate::plan::PlannedChange;
use crate::topology::{CapabilityError, PostgreSQLConfig, PostgreSQLEndpoint};

/// Namespace of the operator release.
pub const CNPG_NAMESPACE: &str = "cnpg-system";
/// The operator Deployment of release `cnpg`.
pub const CNPG_DEPLOYMENT: &str = "cnpg-cloudnative-pg";
/// apiVersion of the CloudNativePG `Cluster` kind.
pub const CNPG_API_VERSION: &str = "postgresql.cnpg.io/v1";
/// PostgreSQL's port on the `-rw` Service.
pub const POSTGRES_PORT: u16 = 5432;
/// How long the operator may take to install and become Available.
pub const OPERATOR_TIMEOUT: Duration = Duration::from_secs(300);

/// Pause between applies while the operator's webhook is not ready.
const WEBHOOK_RETRY_DELAY: Duration = Duration::from_secs(5);
/// At most this many retries (about a minute).
const WEBHOOK_RETRIES: usize = 12;

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

/// Refuses settings no `Cluster` can have.
pub fn check(config: &PostgreSQLConfig) -> Result<(), CapabilityError> {
    if config.instances == 0 {
        return Err(CapabilityError::InvalidRequest(format!(
            "PostgreSQL {} needs at least one instance",
            config.name
        )));
    }
    if config.name.is_empty() || config.namespace.is_empty() || config.database.is_empty() {
        return Err(CapabilityError::InvalidRequest(
            "PostgreSQL needs a name, a namespace and a database".into(),
        ));
    }
    Ok(())
}

/// Whether an apply failure is worth another try: only the operator's admission webhook not
/// answering yet (it refuses connections for a few seconds after its Deployment turns
/// Available). A webhook that answered and denied, or any other error, is final.
pub fn webhook_not_ready(e: &K8sError) -> bool {
    matches!(e, K8sError::WebhookNotReady { .. })
}

/// With the operator installed (`operator_changed`: its chart just installed or upgraded the
/// CRDs): waits for the operator, applies the namespace and the `Cluster`, waits for
/// `Ready=True`. Returns whether the namespace or the `Cluster` changed. Idempotent.
pub async fn ensure_cluster(
    client: &K8sClient,
    config: &PostgreSQLConfig,
    operator_changed: bool,
) -> Result<bool, K8sError> {
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
    if operator_changed {
        client.refresh_discovery().await;
    }
    let ns_changed = client.ensure_namespace(&config.namespace).await?;

    let applied = apply_cluster(client, config, WEBHOOK_RETRY_DELAY).await?;

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
    Ok(ns_changed || applied.changed)
}

/// Applies the `Cluster` of `config`, retrying (every `retry_delay`, at most 12 times) only
/// while the operator's admission webhook does not answer ([`webhook_not_ready`]).
pub async fn apply_cluster(
    client: &K8sClient,
    config: &PostgreSQLConfig,
    retry_delay: Duration,
) -> Result<Applied<DynamicObject>, K8sError> {
    let manifest = cluster_manifest(config);
    (|| client.apply_dynamic(&manifest))
        .retry(
            ConstantBuilder::default()
                .with_delay(retry_delay)
                .with_max_times(WEBHOOK_RETRIES),
        )
        .when(webhook_not_ready)
        .notify(|e, _| log::info!("CloudNativePG webhook not ready yet, retrying: {e}"))
        .await
}

/// What [`ensure_cluster`] would change: the namespace and the `Cluster`, dry-run applied.
pub async fn plan_cluster(
    client: &K8sClient,
    config: &PostgreSQLConfig,
) -> Result<Vec<PlannedChange>, K8sError> {
    let namespace = json!({"apiVersion": "v1", "kind": "Namespace",
                           "metadata": {"name": config.namespace}});
    Ok(vec![
        client.plan_apply(&namespace, "harmony").await?,
        client
            .plan_apply(&cluster_manifest(config), "harmony")
            .await?,
    ])
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
    fn zero_instances_is_invalid() {
        let mut c = PostgreSQLConfig::new("pg", "db");
        c.instances = 0;
        assert!(matches!(check(&c), Err(CapabilityError::InvalidRequest(_))));
    }

    fn api_error(code: u16, reason: &str, message: &str) -> kube::Error {
        kube::Error::Api(
            kube::core::Status::failure(message, reason)
                .with_code(code)
                .boxed(),
        )
    }

    /// The API server's answer while the operator's webhook Service has no endpoint yet is
    /// classified once, in the adapter, and is the only failure the apply retries.
    #[test]
    fn only_an_unreachable_webhook_is_retried() {
        let unreachable = K8sError::from_kube(
            "applying Cluster zitadel/zitadel-pg",
            api_error(
                500,
                "InternalError",
                "Internal error occurred: failed calling webhook \"mcluster.cnpg.io\": failed to call webhook: Post \"https://cnpg-webhook-service.cnpg-system.svc:443/mutate-postgresql-cnpg-io-v1-cluster?timeout=10s\": dial tcp 10.43.1.2:443: connect: connection refused",
            ),
        );
        assert!(
            matches!(unreachable, K8sError::WebhookNotReady { .. }),
            "{unreachable:?}"
        );
        assert!(webhook_not_ready(&unreachable));
        // The message still names the object and the cause.
        let message = unreachable.to_string();
        assert!(
            message.starts_with("applying Cluster zitadel/zitadel-pg: "),
            "{message}"
        );
        assert!(message.contains("connection refused"), "{message}");
        // The kube error is kept as the source, with its status code.
        let source = std::error::Error::source(&unreachable).expect("a source");
        assert!(source.to_string().contains("failed calling webhook"));

        // A webhook that answered and refused the object: retrying would not help.
        let denied = K8sError::from_kube(
            "applying Cluster zitadel/zitadel-pg",
            api_error(
                400,
                "BadRequest",
                "admission webhook \"vcluster.cnpg.io\" denied the request: spec.instances: Invalid value: 0",
            ),
        );
        assert!(matches!(denied, K8sError::Api { .. }), "{denied:?}");
        assert!(!webhook_not_ready(&denied));

        let conflict = K8sError::from_kube(
            "applying Cluster zitadel/zitadel-pg",
            api_error(409, "Conflict", "the object has been modified"),
        );
        assert!(!webhook_not_ready(&conflict));
        assert!(!webhook_not_ready(&K8sError::Timeout {
            what: "x".into(),
            seconds: 1
        }));
    }
}
