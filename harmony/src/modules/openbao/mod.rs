//! OpenBao: the secret store behind Harmony's team-scale configuration.
//!
//! - [`OpenbaoScore`] deploys the pinned `openbao/openbao` chart (single node, raft storage,
//!   agent injector off, ingress on k3d or a Route on OpenShift);
//! - [`OpenbaoSetupScore`] initialises, unseals and configures it through the HTTP API
//!   ([`setup_api::OpenbaoSetup`]) over a port-forward.

pub mod setup_api;

use serde::Serialize;
use serde_json::{Value, json};

pub use setup_api::{
    OpenbaoDesiredState, OpenbaoJwtAuth, OpenbaoKeyStore, OpenbaoPolicy, OpenbaoSetup,
    OpenbaoUserpass, SetupReport, harmony_dev_policy,
};

/// Chart repository of the `openbao` chart.
pub const OPENBAO_CHART_REPO: &str = "https://openbao.github.io/openbao-helm";
/// Pinned chart version (appVersion v2.6.2).
pub const OPENBAO_CHART_VERSION: &str = "0.29.2";
/// Pinned server image tag.
pub const OPENBAO_IMAGE_TAG: &str = "2.6.2";

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
                "service": { "enabled": true },
                "ingress": ingress,
                "route": route,
            },
            "ui": { "enabled": true },
        })
    }

    /// The URL users reach OpenBao at.
    pub fn external_url(&self, k3d_http_port: u16) -> String {
        if self.openshift {
            format!("https://{}", self.host)
        } else if k3d_http_port == 80 {
            format!("http://{}", self.host)
        } else {
            format!("http://{}:{}", self.host, k3d_http_port)
        }
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
        assert_eq!(score.external_url(8080), "https://bao.apps.example.com");
    }

    #[test]
    fn names_and_urls() {
        let score = OpenbaoScore::default();
        assert_eq!(score.fullname(), "openbao");
        assert_eq!(score.external_url(8080), "http://bao.harmony.local:8080");
        let other = OpenbaoScore {
            release_name: "vault".into(),
            ..Default::default()
        };
        assert_eq!(other.fullname(), "vault-openbao");
    }
}
