//! OpenBao: the secret store behind Harmony's team-scale configuration.
//!
//! - [`OpenbaoScore`] deploys the pinned `openbao/openbao` chart (single node, raft storage,
//!   agent injector off, ingress on k3d or a Route on OpenShift);
//! - [`OpenbaoSetupScore`] initialises, unseals and configures it through the HTTP API
//!   ([`setup_api::OpenbaoSetup`]) over a port-forward.

pub mod setup_api;
pub mod setup_score;

use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;
use serde_json::{Value, json};

use crate::interpret::{Interpret, InterpretError, Outcome};
use crate::inventory::Inventory;
use crate::modules::helm::{HelmChartScore, HelmRepository};
use crate::score::Score;
use crate::topology::{HelmCommand, Topology};

pub use setup_api::{
    OpenbaoDesiredState, OpenbaoJwtAuth, OpenbaoKeyStore, OpenbaoPolicy, OpenbaoSetup,
    OpenbaoUserpass, SetupReport, harmony_dev_policy,
};
pub use setup_score::{OpenbaoSetupScore, OpenbaoUserpassConfig};

/// Chart repository of the `openbao` chart.
pub const OPENBAO_CHART_REPO: &str = "https://openbao.github.io/openbao-helm";
/// Pinned chart version (appVersion v2.6.2).
pub const OPENBAO_CHART_VERSION: &str = "0.29.2";
/// Pinned server image tag.
pub const OPENBAO_IMAGE_TAG: &str = "2.6.2";

/// Health path answering 2xx whether sealed, uninitialised or standby.
pub const READINESS_PATH: &str = "/v1/sys/health?standbyok=true&sealedcode=204&uninitcode=204";

/// Deploys OpenBao with Helm (`helm upgrade --install --wait`, pinned chart and image).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenbaoScore {
    pub namespace: String,
    pub release_name: String,
    /// External hostname (ingress host on k3d, Route host on OpenShift).
    pub host: String,
    /// OpenShift flavour: Route instead of Ingress, OpenShift security contexts.
    pub openshift: bool,
    pub chart_version: String,
    pub image_tag: String,
    /// Size of the raft data volume.
    pub storage_size: String,
    /// Ingress class (ignored on OpenShift).
    pub ingress_class: String,
    /// Host port mapped to the ingress (k3d `-p 8080:80@loadbalancer`), for the printed URL.
    pub http_port: u16,
}

impl Default for OpenbaoScore {
    fn default() -> Self {
        Self {
            namespace: "openbao".to_string(),
            release_name: "openbao".to_string(),
            host: "bao.harmony.local".to_string(),
            openshift: false,
            chart_version: OPENBAO_CHART_VERSION.to_string(),
            image_tag: OPENBAO_IMAGE_TAG.to_string(),
            storage_size: "1Gi".to_string(),
            ingress_class: "traefik".to_string(),
            http_port: 8080,
        }
    }
}

impl OpenbaoScore {
    /// The chart's fullname, which is also the pod/service prefix (`<fullname>-0`).
    pub fn fullname(&self) -> String {
        if self.release_name.contains("openbao") {
            self.release_name.clone()
        } else {
            format!("{}-openbao", self.release_name)
        }
    }

    /// The server's configuration: single-node raft (OpenBao 2.7 removed `file` storage),
    /// `performance_multiplier = 1` so `init` does not wait ~6 s for leader election.
    pub fn server_config_hcl(&self) -> String {
        r#"ui = true

listener "tcp" {
  tls_disable = 1
  address = "[::]:8200"
  cluster_address = "[::]:8201"
}

storage "raft" {
  path = "/openbao/data"
  performance_multiplier = 1
}

api_addr = "http://127.0.0.1:8200"
cluster_addr = "http://127.0.0.1:8201"
"#
        .to_string()
    }

    /// Helm values (JSON is valid YAML).
    pub fn helm_values(&self) -> Value {
        let ingress = if self.openshift {
            json!({ "enabled": false })
        } else {
            json!({
                "enabled": true,
                "ingressClassName": self.ingress_class,
                "pathType": "Prefix",
                "hosts": [{ "host": self.host, "paths": [] }],
                "tls": [],
            })
        };
        let route = if self.openshift {
            json!({
                "enabled": true,
                "activeService": false,
                "host": self.host,
                "tls": { "termination": "edge" },
            })
        } else {
            json!({ "enabled": false })
        };
        json!({
            "global": { "enabled": true, "tlsDisable": true, "openshift": self.openshift },
            "injector": { "enabled": false },
            "server": {
                "image": {
                    "registry": "quay.io",
                    "repository": "openbao/openbao",
                    "tag": self.image_tag,
                },
                "standalone": { "enabled": true, "config": self.server_config_hcl() },
                "ha": { "enabled": false },
                "dev": { "enabled": false },
                "dataStorage": {
                    "enabled": true,
                    "size": self.storage_size,
                    "mountPath": "/openbao/data",
                    "accessMode": "ReadWriteOnce",
                },
                "auditStorage": { "enabled": false },
                // Ready while sealed/uninitialised (the default `bao status` probe is not), so
                // `helm --wait` returns and the setup Score can init/unseal through the API.
                "readinessProbe": {
                    "enabled": true,
                    "path": READINESS_PATH,
                    "port": 8200,
                },
                "service": { "enabled": true },
                "ingress": ingress,
                "route": route,
            },
            "ui": { "enabled": true },
        })
    }

    /// The URL users reach OpenBao at.
    pub fn external_url(&self) -> String {
        let k3d_http_port = self.http_port;
        if self.openshift {
            format!("https://{}", self.host)
        } else if k3d_http_port == 80 {
            format!("http://{}", self.host)
        } else {
            format!("http://{}:{}", self.host, k3d_http_port)
        }
    }
}

impl OpenbaoScore {
    /// The Helm release this Score amounts to: pinned chart, `--wait`.
    pub fn helm_chart_score(&self) -> HelmChartScore {
        HelmChartScore::new(
            self.release_name.clone(),
            self.namespace.clone(),
            HelmRepository::new("openbao", OPENBAO_CHART_REPO),
            "openbao",
            self.chart_version.clone(),
        )
        .with_values(self.helm_values())
        .with_wait(Duration::from_secs(600))
    }
}

impl<T: Topology + HelmCommand> Score<T> for OpenbaoScore {
    fn name(&self) -> String {
        format!("OpenbaoScore({}/{})", self.namespace, self.release_name)
    }

    fn create_interpret(&self) -> Box<dyn Interpret<T>> {
        Box::new(OpenbaoInterpret {
            score: self.clone(),
        })
    }
}

#[derive(Debug)]
struct OpenbaoInterpret {
    score: OpenbaoScore,
}

#[async_trait]
impl<T: Topology + HelmCommand> Interpret<T> for OpenbaoInterpret {
    async fn plan(
        &self,
        _inventory: &Inventory,
        topology: &T,
    ) -> Result<crate::plan::Plan, InterpretError> {
        Ok(crate::plan::Plan::new(vec![
            self.score.helm_chart_score().plan_release(topology).await?,
        ]))
    }

    async fn execute(
        &self,
        inventory: &Inventory,
        topology: &T,
    ) -> Result<Outcome, InterpretError> {
        let score = &self.score;
        let helm = score.helm_chart_score();
        let outcome = Score::<T>::create_interpret(&helm)
            .execute(inventory, topology)
            .await?;
        let url = score.external_url();
        let message = format!(
            "OpenBao {} (chart {}, image {}) in {}: {} — run OpenbaoSetupScore to init/unseal",
            if outcome.status == crate::interpret::InterpretStatus::Noop {
                "unchanged"
            } else {
                "deployed"
            },
            score.chart_version,
            score.image_tag,
            score.namespace,
            url
        );
        let result = if outcome.status == crate::interpret::InterpretStatus::Noop {
            Outcome::noop(message)
        } else {
            Outcome::success(message)
        };
        Ok(result
            .with_detail("url", url)
            .with_detail("host", score.host.clone())
            .with_detail("pod", format!("{}-0", score.fullname()))
            .with_detail(
                "service",
                format!(
                    "{}.{}.svc.cluster.local:8200",
                    score.fullname(),
                    score.namespace
                ),
            ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k3d_values_pin_versions_use_raft_and_traefik_ingress() {
        let score = OpenbaoScore::default();
        let v = score.helm_values();
        assert_eq!(v["global"]["openshift"], false);
        assert_eq!(v["injector"]["enabled"], false);
        assert_eq!(v["server"]["image"]["tag"], OPENBAO_IMAGE_TAG);
        let config = v["server"]["standalone"]["config"].as_str().unwrap();
        assert!(config.contains("storage \"raft\""));
        assert!(config.contains("performance_multiplier = 1"));
        assert!(!config.contains("storage \"file\""));
        assert_eq!(v["server"]["ingress"]["enabled"], true);
        assert_eq!(v["server"]["ingress"]["ingressClassName"], "traefik");
        assert_eq!(
            v["server"]["ingress"]["hosts"][0]["host"],
            "bao.harmony.local"
        );
        assert_eq!(v["server"]["route"]["enabled"], false);
        assert_eq!(score.chart_version, "0.29.2");
        assert_eq!(v["server"]["readinessProbe"]["path"], READINESS_PATH);
        let helm = score.helm_chart_score();
        assert_eq!(helm.chart_version, "0.29.2");
        assert!(helm.wait.is_some());
        assert_eq!(helm.values, v);
    }

    #[test]
    fn openshift_values_use_a_route() {
        let score = OpenbaoScore {
            openshift: true,
            host: "bao.apps.example.com".into(),
            ..Default::default()
        };
        let v = score.helm_values();
        assert_eq!(v["global"]["openshift"], true);
        assert_eq!(v["server"]["ingress"]["enabled"], false);
        assert_eq!(v["server"]["route"]["enabled"], true);
        assert_eq!(v["server"]["route"]["host"], "bao.apps.example.com");
        assert_eq!(score.external_url(), "https://bao.apps.example.com");
    }

    #[test]
    fn names_and_urls() {
        let score = OpenbaoScore::default();
        assert_eq!(score.fullname(), "openbao");
        assert_eq!(score.external_url(), "http://bao.harmony.local:8080");
        let other = OpenbaoScore {
            release_name: "vault".into(),
            ..Default::default()
        };
        assert_eq!(other.fullname(), "vault-openbao");
    }
}
