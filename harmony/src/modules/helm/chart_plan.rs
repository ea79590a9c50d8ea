//! The plan of a [`HelmChartScore`]: the generated values against the release's values
//! (`helm get values -o json`) and the chart version against the deployed one. Only `helm list`
//! and `helm get values` run.

use serde_json::{Value, json};

use super::HelmChartScore;
use crate::infra::helm::run_helm;
use crate::interpret::InterpretError;
use crate::plan::{KeyChange, PlannedChange, diff_values};
use crate::topology::HelmCommand;

impl HelmChartScore {
    /// What `deploy` would do to the release, with reads only.
    pub async fn plan_release(
        &self,
        topology: &impl HelmCommand,
    ) -> Result<PlannedChange, InterpretError> {
        let object = format!(
            "helm release {}/{} ({} {})",
            self.namespace,
            self.release_name,
            self.chart_ref(),
            self.chart_version
        );
        let helm = |args: Vec<String>| {
            let mut cmd = topology.helm_command();
            cmd.args(args);
            run_helm(cmd)
        };
        let list = helm(self.list_args()).await?;
        if self.parse_deployed(&list, "null")?.is_none() {
            return Ok(PlannedChange::create(object));
        }
        let values = helm(self.get_values_args()).await?;
        let Some(deployed) = self.parse_deployed(&list, &values)? else {
            return Ok(PlannedChange::create(object));
        };
        let wanted_chart = format!("{}-{}", self.chart, self.chart_version);
        let mut keys = Vec::new();
        if deployed.chart != wanted_chart {
            keys.push(KeyChange {
                key: "chart".into(),
                from: Some(deployed.chart.clone()),
                to: Some(wanted_chart),
            });
        }
        if deployed.status != "deployed" {
            keys.push(KeyChange {
                key: "status".into(),
                from: Some(deployed.status.clone()),
                to: Some("deployed".into()),
            });
        }
        let wanted = match &self.values {
            Value::Null => json!({}),
            v => v.clone(),
        };
        let current = match deployed.values {
            Value::Null => json!({}),
            v => v,
        };
        keys.extend(
            diff_values(&current, &wanted)
                .into_iter()
                .map(|k| KeyChange {
                    key: format!("values.{}", k.key),
                    ..k
                }),
        );
        Ok(PlannedChange::change(object, keys))
    }
}
