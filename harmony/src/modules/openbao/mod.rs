//! OpenBao: the secret store behind Harmony's team-scale configuration.
//!
//! - [`OpenbaoScore`] deploys the pinned `openbao/openbao` chart (single node or HA raft,
//!   optional transit seal, agent injector off, ingress on k3d or a Route on OpenShift);
//! - [`OpenbaoSetupScore`] initialises, unseals and configures it through the HTTP API
//!   ([`crate::infra::openbao_admin::OpenbaoSetup`], [`crate::infra::openbao_cluster::OpenbaoCluster`]
//!   for HA) over a port-forward per pod; [`crate::infra::openbao_transit`] prepares the transit
//!   key and seal token on the unsealer.

pub mod setup_score;
pub mod transit_score;

use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;
use serde_json::{Value, json};

use crate::interpret::{Interpret, InterpretError, Outcome};
use crate::inventory::Inventory;
use crate::modules::helm::{HelmChartScore, HelmRepository};
use crate::score::Score;
use crate::topology::{HelmCommand, Topology};

/// The types in [`OpenbaoSetupScore`]'s fields and methods; the rest of the HTTP admin
/// client is in [`crate::infra::openbao_admin`].
pub use crate::infra::openbao_admin::{OpenbaoDesiredState, OpenbaoJwtAuth, OpenbaoUserpass};
/// The HA raft cluster client [`OpenbaoSetupScore`] drives (an adapter in [`crate::infra`]).
pub use crate::infra::openbao_cluster::{ClusterReport, OpenbaoCluster};
/// The transit seal settings and the unsealer client (adapters in [`crate::infra`]).
pub use crate::infra::openbao_transit::{OpenbaoTransitSeal, TransitUnsealerSetup};
pub use setup_score::{
    OpenbaoSetupScore, OpenbaoTransitUnseal, OpenbaoUnsealMode, OpenbaoUserpassConfig,
};
pub use transit_score::OpenbaoTransitSealScore;

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
    /// Namespace of the release.
    pub namespace: String,
    /// Helm release name (also the base of the object names).
    pub release_name: String,
    /// External hostname (ingress host on k3d, Route host on OpenShift).
    pub host: String,
    /// OpenShift flavour: Route instead of Ingress, OpenShift security contexts.
    pub openshift: bool,
    /// Chart version (default the pinned [`OPENBAO_CHART_VERSION`]).
    pub chart_version: String,
    /// OpenBao image tag (default the pinned [`OPENBAO_IMAGE_TAG`]).
    pub image_tag: String,
    /// Size of the raft data volume.
    pub storage_size: String,
    /// Ingress class (ignored on OpenShift).
    pub ingress_class: String,
    /// Host port mapped to the ingress (k3d `-p 8080:80@loadbalancer`), for the printed URL.
    pub http_port: u16,
    /// HA raft with this many pods (`None`: one pod, the default). Use an odd number (3, 5).
    pub ha: Option<u8>,
    /// Transit auto-unseal; the token is read from the Secret
    /// [`OpenbaoScore::transit_token_secret_name`] (key `token`), never from chart values.
    pub transit_seal: Option<OpenbaoTransitSeal>,
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
            ha: None,
            transit_seal: None,
        }
    }
}

impl OpenbaoScore {
    /// The chart's fullname, which is also the pod/service prefix (`<fullname>-0`).
    pub fn fullname(&self) -> String {
        crate::modules::helm::chart_fullname(&self.release_name, "openbao")
    }

    /// The pods' names: `<fullname>-0` .. `<fullname>-(n-1)`.
    pub fn pod_names(&self) -> Vec<String> {
        pod_names(&self.fullname(), self.ha)
    }

    /// Settings the chart would take but that make a broken server: an HA size without quorum
    /// to spare (the chart's PodDisruptionBudget then allows no eviction, so a node drain
    /// hangs) and a transit seal that does not render as HCL.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(n) = self.ha
            && (n < 3 || n % 2 == 0)
        {
            return Err(format!(
                "OpenbaoScore.ha = Some({n}): an HA raft cluster needs an odd number of pods, at \
                 least 3 (it then survives losing one, and its PodDisruptionBudget lets a node \
                 drain evict one). Use Some(3) or Some(5), or None for one pod"
            ));
        }
        if let Some(seal) = &self.transit_seal {
            seal.validate()
                .map_err(|e| format!("OpenbaoScore.transit_seal: {e}"))?;
        }
        Ok(())
    }

    /// The Secret holding the transit seal token (key `token`).
    pub fn transit_token_secret_name(&self) -> String {
        transit_token_secret_name(&self.fullname())
    }

    /// The server's configuration: single-node raft (OpenBao 2.7 removed `file` storage),
    /// `performance_multiplier = 1` so `init` does not wait ~6 s for leader election. In HA mode
    /// see [`OpenbaoScore::ha_config_hcl`].
    pub fn server_config_hcl(&self) -> String {
        let mut hcl = r#"ui = true

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
        .to_string();
        if let Some(seal) = &self.transit_seal {
            hcl.push_str(&seal.seal_stanza_hcl());
        }
        hcl
    }

    /// HA raft: one `retry_join` per pod through the headless service (`api_addr` and
    /// `cluster_addr` come from the chart's env: pod IP and `<pod>.<fullname>-internal:8201`).
    pub fn ha_config_hcl(&self) -> String {
        let fullname = self.fullname();
        let mut retry_join = String::new();
        for pod in self.pod_names() {
            retry_join.push_str(&format!(
                "  retry_join {{\n    leader_api_addr = \"http://{pod}.{fullname}-internal:8200\"\n  }}\n"
            ));
        }
        let mut hcl = format!(
            r#"ui = true

listener "tcp" {{
  tls_disable = 1
  address = "[::]:8200"
  cluster_address = "[::]:8201"
}}

storage "raft" {{
  path = "/openbao/data"
  performance_multiplier = 1
{retry_join}}}

service_registration "kubernetes" {{}}
"#
        );
        if let Some(seal) = &self.transit_seal {
            hcl.push_str(&seal.seal_stanza_hcl());
        }
        hcl
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
        let mut values = json!({
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
                // The chart's default `OnDelete` keeps the old pod running after a changed
                // config, image or chart ("deployed", but nothing restarted), and helm's
                // `--wait` skips StatefulSets that do not use RollingUpdate. With RollingUpdate
                // a changed pod template recreates the pod and `--wait` waits for it.
                "updateStrategyType": "RollingUpdate",
                // A config-only change edits the ConfigMap, not the pod template: this checksum
                // annotation puts it in the template so it restarts the pod too.
                "configAnnotation": true,
                // Ready while sealed/uninitialised (the default `bao status` probe is not), so
                // the rolled pod becomes ready, `--wait` returns, and OpenbaoSetupScore can
                // init/unseal it through the API.
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
        });
        let server = &mut values["server"];
        if let Some(replicas) = self.ha {
            server["standalone"] = json!({ "enabled": false });
            server["ha"] = json!({
                "enabled": true,
                "replicas": replicas,
                "raft": { "enabled": true, "setNodeId": true, "config": self.ha_config_hcl() },
                // maxUnavailable defaults to (n/2)-1: quorum survives a voluntary eviction.
                "disruptionBudget": { "enabled": true },
            });
            // Preferred, not required: a one-node k3d still schedules every pod.
            server["affinity"] = json!({
                "podAntiAffinity": {
                    "preferredDuringSchedulingIgnoredDuringExecution": [{
                        "weight": 100,
                        "podAffinityTerm": {
                            "labelSelector": { "matchLabels": {
                                "app.kubernetes.io/name": "openbao",
                                "app.kubernetes.io/instance": self.release_name,
                                "component": "server",
                            }},
                            "topologyKey": "kubernetes.io/hostname",
                        },
                    }],
                },
            });
        }
        if self.transit_seal.is_some() {
            server["extraSecretEnvironmentVars"] = json!([{
                "envName": crate::infra::openbao_transit::TRANSIT_TOKEN_ENV,
                "secretName": self.transit_token_secret_name(),
                "secretKey": setup_score::TRANSIT_TOKEN_SECRET_KEY,
            }]);
        }
        values
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

/// `<fullname>-0` .. `<fullname>-(n-1)` (one pod when `ha` is `None`).
pub(crate) fn pod_names(fullname: &str, ha: Option<u8>) -> Vec<String> {
    (0..ha.unwrap_or(1).max(1))
        .map(|i| format!("{fullname}-{i}"))
        .collect()
}

pub(crate) fn transit_token_secret_name(fullname: &str) -> String {
    format!("{fullname}-transit-seal")
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
        score.validate().map_err(InterpretError::Other)?;
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
                "deployed (a changed pod template restarts the pod, sealed)"
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
            .with_detail("pods", score.pod_names().join(","))
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
        // Not the chart's OnDelete: upgrades must restart the pod, and `--wait` wait for it.
        assert_eq!(v["server"]["updateStrategyType"], "RollingUpdate");
        assert_eq!(v["server"]["configAnnotation"], true);
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
    fn ha_values_enable_raft_retry_join_pdb_and_preferred_anti_affinity() {
        let score = OpenbaoScore {
            ha: Some(3),
            ..Default::default()
        };
        let v = score.helm_values();
        let server = &v["server"];
        assert_eq!(server["standalone"]["enabled"], false);
        assert_eq!(server["ha"]["enabled"], true);
        assert_eq!(server["ha"]["replicas"], 3);
        assert_eq!(server["ha"]["raft"]["enabled"], true);
        assert_eq!(server["ha"]["raft"]["setNodeId"], true);
        assert_eq!(server["ha"]["disruptionBudget"]["enabled"], true);
        let config = server["ha"]["raft"]["config"].as_str().unwrap();
        for pod in ["openbao-0", "openbao-1", "openbao-2"] {
            let join = format!("leader_api_addr = \"http://{pod}.openbao-internal:8200\"");
            assert_eq!(config.matches(&join).count(), 1, "{config}");
        }
        assert_eq!(config.matches("retry_join").count(), 3);
        assert!(
            !config.contains("127.0.0.1"),
            "api/cluster addr come from the chart"
        );
        let anti = &server["affinity"]["podAntiAffinity"];
        assert!(anti["requiredDuringSchedulingIgnoredDuringExecution"].is_null());
        let term = &anti["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"];
        assert_eq!(term["topologyKey"], "kubernetes.io/hostname");
        assert_eq!(
            term["labelSelector"]["matchLabels"]["app.kubernetes.io/instance"],
            "openbao"
        );
        assert_eq!(score.pod_names(), ["openbao-0", "openbao-1", "openbao-2"]);
        // Single pod stays the default and unchanged.
        let single = OpenbaoScore::default().helm_values();
        assert_eq!(single["server"]["ha"]["enabled"], false);
        assert_eq!(single["server"]["standalone"]["enabled"], true);
        assert!(single["server"]["affinity"].is_null());
        assert_eq!(OpenbaoScore::default().pod_names(), ["openbao-0"]);
    }

    #[test]
    fn transit_seal_goes_in_the_config_and_its_token_comes_from_a_secret() {
        let seal = OpenbaoTransitSeal::new("http://unsealer.unsealer.svc:8200");
        for ha in [None, Some(3)] {
            let score = OpenbaoScore {
                ha,
                transit_seal: Some(seal.clone()),
                ..Default::default()
            };
            let v = score.helm_values();
            let config = if ha.is_some() {
                v["server"]["ha"]["raft"]["config"].as_str().unwrap()
            } else {
                v["server"]["standalone"]["config"].as_str().unwrap()
            };
            assert!(config.contains("seal \"transit\""), "{config}");
            assert!(config.contains("http://unsealer.unsealer.svc:8200"));
            let env = &v["server"]["extraSecretEnvironmentVars"][0];
            assert_eq!(env["envName"], "BAO_TOKEN");
            assert_eq!(env["secretName"], "openbao-transit-seal");
            assert_eq!(env["secretKey"], "token");
            assert!(!v.to_string().contains("client_token"));
        }
        assert!(
            OpenbaoScore::default().helm_values()["server"]["extraSecretEnvironmentVars"].is_null()
        );
    }

    #[test]
    fn ha_sizes_without_spare_quorum_and_unrenderable_seals_are_refused() {
        for n in [0, 1, 2, 4] {
            let err = OpenbaoScore {
                ha: Some(n),
                ..Default::default()
            }
            .validate()
            .unwrap_err();
            assert!(err.contains(&format!("ha = Some({n})")), "{err}");
        }
        for ha in [None, Some(3), Some(5)] {
            let score = OpenbaoScore {
                ha,
                transit_seal: Some(OpenbaoTransitSeal::new("http://unsealer:8200")),
                ..Default::default()
            };
            assert_eq!(score.validate(), Ok(()));
        }
        let err = OpenbaoScore {
            transit_seal: Some(OpenbaoTransitSeal::new("http://unsealer:8200/\"\n}\nx")),
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(err.contains("transit_seal"), "{err}");
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
