//! The plan of a CloudNativePG database: the operator release, the namespace and the `Cluster`
//! (dry-run server-side apply), with reads only.

use serde_json::json;

use super::cnpg::{cluster_manifest, endpoint, operator_chart};
use crate::interpret::InterpretError;
use crate::plan::PlannedChange;
use crate::topology::{HelmCommand, K8sclient, PostgreSQLConfig, PostgreSQLEndpoint};

/// What `deploy_with_cloudnative_pg` would change, and the endpoint it would return.
pub async fn plan_with_cloudnative_pg<T: K8sclient + HelmCommand>(
    topology: &T,
    config: &PostgreSQLConfig,
) -> Result<(Vec<PlannedChange>, PostgreSQLEndpoint), InterpretError> {
    let mut changes = vec![operator_chart().plan_release(topology).await?];
    let client = topology.k8s_client().await?;
    let namespace = json!({"apiVersion": "v1", "kind": "Namespace",
                           "metadata": {"name": config.namespace}});
    changes.push(client.plan_apply(&namespace, "harmony").await?);
    changes.push(
        client
            .plan_apply(&cluster_manifest(config), "harmony")
            .await?,
    );
    Ok((changes, endpoint(config, false)))
}
