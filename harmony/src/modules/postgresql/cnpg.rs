//! CloudNativePG on a [`K8sAnywhereTopology`]: the pinned operator chart (a
//! [`HelmChartScore`]) plus the `Cluster` adapter in [`crate::infra::cnpg`]. It lives in
//! `modules/`, not `infra/`, because it runs a Score: adapters never call Scores.

use crate::infra::cnpg::{OPERATOR_TIMEOUT, check, endpoint, ensure_cluster};
use crate::infra::k8s_anywhere::K8sAnywhereTopology;
use crate::interpret::{InterpretError, InterpretStatus};
use crate::modules::helm::{HelmChartScore, HelmRepository};
use crate::plan::PlannedChange;
use crate::topology::{
    CapabilityError, HelmCommand, K8sclient, PostgreSQL, PostgreSQLConfig, PostgreSQLEndpoint,
};

pub use crate::infra::cnpg::{
    CNPG_API_VERSION, CNPG_DEPLOYMENT, CNPG_NAMESPACE, POSTGRES_PORT, cluster_manifest,
};

/// The pinned operator chart (`cnpg/cloudnative-pg` 0.27.1 ships operator 1.28.x).
pub const CNPG_CHART_VERSION: &str = "0.27.1";
/// Name of the chart repository as added to helm.
pub const CNPG_REPO_NAME: &str = "cnpg";
/// URL of the chart repository.
pub const CNPG_REPO_URL: &str = "https://cloudnative-pg.github.io/charts";
/// The operator's helm release.
pub const CNPG_RELEASE: &str = "cnpg";

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

/// A failed operator chart install, as the capability's error: a Kubernetes failure keeps its
/// kind, anything else names the chart.
pub(super) fn chart_plan_failed(e: InterpretError) -> CapabilityError {
    chart_failed(e)
}

fn chart_failed(e: InterpretError) -> CapabilityError {
    match e {
        InterpretError::CapabilityFailed(inner) => inner,
        other => CapabilityError::Score {
            score: format!("CloudNativePG operator chart {CNPG_RELEASE}"),
            source: Box::new(other),
        },
    }
}

/// Installs the operator (pinned chart, waited for), applies the `Cluster`, waits for
/// `Ready=True` and returns the `-rw` endpoint. Idempotent.
pub async fn deploy_with_cloudnative_pg<T: K8sclient + HelmCommand>(
    topology: &T,
    config: &PostgreSQLConfig,
) -> Result<PostgreSQLEndpoint, CapabilityError> {
    check(config)?;
    let operator = operator_chart()
        .deploy(topology)
        .await
        .map_err(chart_failed)?;
    let operator_changed = operator.status == InterpretStatus::Success;
    let client = topology.k8s_client().await?;
    let cluster_changed = ensure_cluster(&client, config, operator_changed).await?;
    Ok(endpoint(config, operator_changed || cluster_changed))
}

#[async_trait::async_trait]
impl PostgreSQL for K8sAnywhereTopology {
    async fn deploy_postgres(
        &self,
        config: &PostgreSQLConfig,
    ) -> Result<PostgreSQLEndpoint, CapabilityError> {
        deploy_with_cloudnative_pg(self, config).await
    }

    async fn plan_postgres(
        &self,
        config: &PostgreSQLConfig,
    ) -> Result<(Vec<PlannedChange>, PostgreSQLEndpoint), CapabilityError> {
        super::cnpg_plan::plan_with_cloudnative_pg(self, config).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_chart_is_pinned_and_waited_for() {
        let chart = operator_chart();
        assert_eq!(chart.chart_ref(), "cnpg/cloudnative-pg");
        assert_eq!(chart.chart_version, CNPG_CHART_VERSION);
        assert_eq!(chart.namespace, "cnpg-system");
        assert!(chart.wait.is_some());
    }
}
