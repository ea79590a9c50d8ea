//! The plan of a CloudNativePG database: the operator release, the namespace and the `Cluster`
//! (dry-run server-side apply), with reads only.

use super::cnpg::{chart_plan_failed, operator_chart};
use crate::infra::cnpg::{endpoint, plan_cluster};
use crate::plan::PlannedChange;
use crate::topology::{
    CapabilityError, HelmCommand, K8sclient, PostgreSQLConfig, PostgreSQLEndpoint,
};

/// What `deploy_with_cloudnative_pg` would change, and the endpoint it would return.
pub async fn plan_with_cloudnative_pg<T: K8sclient + HelmCommand>(
    topology: &T,
    config: &PostgreSQLConfig,
) -> Result<(Vec<PlannedChange>, PostgreSQLEndpoint), CapabilityError> {
    let mut changes = vec![
        operator_chart()
            .plan_release(topology)
            .await
            .map_err(chart_plan_failed)?,
    ];
    let client = topology.k8s_client().await?;
    changes.extend(plan_cluster(&client, config).await?);
    Ok((changes, endpoint(config, false)))
}
