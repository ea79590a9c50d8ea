//! Telling k3s, OpenShift and other clusters apart from what the API server reports.

use std::collections::BTreeMap;

use crate::topology::K8sDistribution;

/// What the probe read from the cluster.
#[derive(Debug, Clone, Default)]
pub struct DistributionFacts {
    /// `gitVersion` of `GET /version`, e.g. `v1.33.4+k3s1`.
    pub git_version: String,
    /// Names from `GET /apis` (`groups[].name`).
    pub api_groups: Vec<String>,
    /// Labels of (some of) the nodes.
    pub node_labels: Vec<BTreeMap<String, String>>,
}

const OPENSHIFT_GROUPS: [&str; 2] = ["config.openshift.io", "route.openshift.io"];

/// k3s marks its version (`v1.33.4+k3s1`) and its nodes (`node.kubernetes.io/instance-type:
/// k3s`, `k3s.io/*` labels); OpenShift serves its own API groups.
pub fn detect_distribution(facts: &DistributionFacts) -> K8sDistribution {
    if facts
        .api_groups
        .iter()
        .any(|g| OPENSHIFT_GROUPS.contains(&g.as_str()))
    {
        return K8sDistribution::OpenShift;
    }
    let k3s_version = facts.git_version.contains("+k3s");
    let k3s_node = facts.node_labels.iter().any(|labels| {
        labels
            .get("node.kubernetes.io/instance-type")
            .map(String::as_str)
            == Some("k3s")
            || labels.keys().any(|k| k.starts_with("k3s.io/"))
    });
    if k3s_version || k3s_node {
        K8sDistribution::K3sFamily
    } else {
        K8sDistribution::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // The client builds the facts from kube-rs types; the tests feed recorded JSON payloads.
    impl DistributionFacts {
        /// Builds the facts from raw JSON payloads of `/version`, `/apis` and `/api/v1/nodes`.
        fn from_payloads(
            version: &serde_json::Value,
            apis: &serde_json::Value,
            nodes: &serde_json::Value,
        ) -> Self {
            let git_version = version
                .get("gitVersion")
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string();
            let api_groups = apis
                .get("groups")
                .and_then(|g| g.as_array())
                .map(|groups| {
                    groups
                        .iter()
                        .filter_map(|g| g.get("name").and_then(|n| n.as_str()).map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            let node_labels = nodes
                .get("items")
                .and_then(|i| i.as_array())
                .map(|items| {
                    items
                        .iter()
                        .map(|n| {
                            n.pointer("/metadata/labels")
                                .cloned()
                                .and_then(|l| serde_json::from_value(l).ok())
                                .unwrap_or_default()
                        })
                        .collect()
                })
                .unwrap_or_default();
            Self {
                git_version,
                api_groups,
                node_labels,
            }
        }
    }

    /// `GET /version` of a k3d v5.8.3 cluster running rancher/k3s:v1.33.4-k3s1.
    fn k3s_version() -> serde_json::Value {
        json!({
            "major": "1", "minor": "33", "emulationMajor": "1", "emulationMinor": "33",
            "minCompatibilityMajor": "1", "minCompatibilityMinor": "32",
            "gitVersion": "v1.33.4+k3s1",
            "gitCommit": "148243c49519922720c1dbe6ab6bea3a4c48d3b0",
            "gitTreeState": "clean", "buildDate": "2025-08-19T21:09:26Z",
            "goVersion": "go1.24.5", "compiler": "gc", "platform": "linux/amd64"
        })
    }

    /// `GET /api/v1/nodes` of the same cluster (one server node, trimmed).
    fn k3s_nodes() -> serde_json::Value {
        json!({
            "kind": "NodeList", "apiVersion": "v1", "metadata": {"resourceVersion": "731"},
            "items": [{
                "metadata": {
                    "name": "k3d-harmony-server-0",
                    "labels": {
                        "beta.kubernetes.io/arch": "amd64",
                        "beta.kubernetes.io/instance-type": "k3s",
                        "beta.kubernetes.io/os": "linux",
                        "kubernetes.io/arch": "amd64",
                        "kubernetes.io/hostname": "k3d-harmony-server-0",
                        "kubernetes.io/os": "linux",
                        "node-role.kubernetes.io/control-plane": "true",
                        "node-role.kubernetes.io/master": "true",
                        "node.kubernetes.io/instance-type": "k3s"
                    },
                    "annotations": {"k3s.io/node-args": "[\"server\"]", "k3s.io/internal-ip": "172.18.0.3"}
                },
                "spec": {"podCIDR": "10.42.0.0/24", "providerID": "k3s://k3d-harmony-server-0"},
                "status": {"nodeInfo": {"kubeletVersion": "v1.33.4+k3s1", "containerRuntimeVersion": "containerd://2.0.5-k3s2"}}
            }]
        })
    }

    fn core_apis() -> serde_json::Value {
        json!({
            "kind": "APIGroupList", "apiVersion": "v1",
            "groups": [
                {"name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
                 "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}},
                {"name": "traefik.io", "versions": [{"groupVersion": "traefik.io/v1alpha1", "version": "v1alpha1"}],
                 "preferredVersion": {"groupVersion": "traefik.io/v1alpha1", "version": "v1alpha1"}},
                {"name": "helm.cattle.io", "versions": [{"groupVersion": "helm.cattle.io/v1", "version": "v1"}],
                 "preferredVersion": {"groupVersion": "helm.cattle.io/v1", "version": "v1"}}
            ]
        })
    }

    #[test]
    fn k3d_cluster_is_k3s_family() {
        let facts = DistributionFacts::from_payloads(&k3s_version(), &core_apis(), &k3s_nodes());
        assert_eq!(facts.git_version, "v1.33.4+k3s1");
        assert_eq!(detect_distribution(&facts), K8sDistribution::K3sFamily);
    }

    #[test]
    fn k3s_nodes_alone_are_enough() {
        let mut version = k3s_version();
        version["gitVersion"] = json!("v1.33.4");
        let facts = DistributionFacts::from_payloads(&version, &core_apis(), &k3s_nodes());
        assert_eq!(detect_distribution(&facts), K8sDistribution::K3sFamily);
    }

    #[test]
    fn openshift_is_detected_from_its_api_groups() {
        // `GET /version` of OpenShift 4.19 (OKD reports the same shape).
        let version = json!({
            "major": "1", "minor": "32", "gitVersion": "v1.32.5",
            "gitCommit": "0c9a2ad9f1d4a4d9d3cb1c2d9d7e2c0c8d7c6e21", "gitTreeState": "clean",
            "buildDate": "2025-06-10T09:25:40Z", "goVersion": "go1.23.9 (Red Hat 1.23.9-1.el9_6) X:strictfipsruntime",
            "compiler": "gc", "platform": "linux/amd64"
        });
        let apis = json!({
            "kind": "APIGroupList", "apiVersion": "v1",
            "groups": [
                {"name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}]},
                {"name": "config.openshift.io", "versions": [{"groupVersion": "config.openshift.io/v1", "version": "v1"}]},
                {"name": "route.openshift.io", "versions": [{"groupVersion": "route.openshift.io/v1", "version": "v1"}]}
            ]
        });
        let nodes = json!({"kind": "NodeList", "items": [{"metadata": {"labels": {
            "node.openshift.io/os_id": "rhcos", "node-role.kubernetes.io/worker": "",
            "kubernetes.io/hostname": "worker-0"
        }}}]});
        let facts = DistributionFacts::from_payloads(&version, &apis, &nodes);
        assert_eq!(detect_distribution(&facts), K8sDistribution::OpenShift);
    }

    #[test]
    fn kind_cluster_is_other() {
        let version = json!({"major": "1", "minor": "33", "gitVersion": "v1.33.1", "platform": "linux/amd64"});
        let nodes = json!({"items": [{"metadata": {"labels": {
            "kubernetes.io/hostname": "kind-control-plane", "node-role.kubernetes.io/control-plane": ""
        }}}]});
        let facts = DistributionFacts::from_payloads(&version, &core_apis(), &nodes);
        assert_eq!(detect_distribution(&facts), K8sDistribution::Other);
    }
}
