//! Scores against a real local k3d cluster (9.4). They need a Docker engine, create/reuse the
//! k3d cluster `harmony` (K8sAnywhereTopology::from_env) and download charts and images, so
//! they are `#[ignore]`: run them with
//! `cargo test -p harmony --test integration -- --ignored --test-threads=1`.
//!
//! Each deploys, runs its setup Score twice and checks that the second run changed nothing.

use std::sync::Arc;

use harmony::infra::k8s::PortForwardTarget;
use harmony::infra::k8s_anywhere::K8sAnywhereTopology;
use harmony::interpret::{InterpretStatus, Outcome};
use harmony::inventory::Inventory;
use harmony::modules::k8s::coredns::{COREDNS_DEPLOYMENT, COREDNS_NAMESPACE, CoreDNSRewriteScore};
use harmony::modules::openbao::{OpenbaoScore, OpenbaoSetupScore};
use harmony::modules::zitadel::{ZitadelScore, ZitadelSetupScore};
use harmony::score::Score;
use harmony::topology::{K8sclient, Topology};
use harmony_config::{ConfigManager, StoreSource};
use harmony_secret::OpenbaoSecretStore;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Pod, Service};
use serde::{Deserialize, Serialize};
use serde_json::json;

const USERPASS_ENV: &str = "HARMONY_CONFIG_OpenbaoUserpassConfig";
const TEST_USER: &str = "harmony-it";
const TEST_PASSWORD: &str = "harmony-it-password-1";

async fn run<S: Score<K8sAnywhereTopology>>(score: &S, topology: &K8sAnywhereTopology) -> Outcome {
    score
        .create_interpret()
        .execute(&Inventory::empty(), topology)
        .await
        .unwrap_or_else(|e| panic!("{} failed: {e}", score.name()))
}

async fn ready_topology() -> K8sAnywhereTopology {
    let topology = K8sAnywhereTopology::from_env();
    topology.ensure_ready().await.expect("k3d cluster");
    topology
}

fn userpass_from_env() {
    // SAFETY: set before any other thread of this test reads the environment.
    unsafe {
        std::env::set_var(
            USERPASS_ENV,
            format!(r#"{{"username":"{TEST_USER}","password":"{TEST_PASSWORD}"}}"#),
        );
    }
}

async fn deploy_openbao(topology: &K8sAnywhereTopology) -> OpenbaoSetupScore {
    userpass_from_env();
    let openbao = OpenbaoScore::default();
    run(&openbao, topology).await;
    OpenbaoSetupScore {
        cluster_name: topology
            .config()
            .effective_context()
            .unwrap_or_else(|| "k3d-harmony".into()),
        ..Default::default()
    }
}

#[tokio::test]
#[ignore = "needs Docker + k3d (deploys OpenBao)"]
async fn test_openbao_setup_score() {
    let topology = ready_topology().await;
    let setup = deploy_openbao(&topology).await;
    let first = run(&setup, &topology).await;
    // Changed on a fresh cluster, unchanged when an earlier test already set it up.
    assert!(
        matches!(
            first.status,
            InterpretStatus::Success | InterpretStatus::Noop
        ),
        "{first:?}"
    );
    let second = run(&setup, &topology).await;
    assert_eq!(second.status, InterpretStatus::Noop, "{second:?}");
    assert_eq!(second.details.get("writes").map(String::as_str), Some(""));
    // Deploying again changes nothing either.
    let redeploy = run(&OpenbaoScore::default(), &topology).await;
    assert_eq!(redeploy.status, InterpretStatus::Noop, "{redeploy:?}");
}

#[tokio::test]
#[ignore = "needs Docker + k3d (deploys a 3-pod OpenBao raft cluster)"]
async fn test_openbao_ha_setup_score() {
    let topology = ready_topology().await;
    userpass_from_env();
    let openbao = OpenbaoScore {
        namespace: "openbao-ha".into(),
        release_name: "openbao-ha".into(),
        host: "bao-ha.harmony.local".into(),
        ha: Some(3),
        ..Default::default()
    };
    run(&openbao, &topology).await;
    let context = topology
        .config()
        .effective_context()
        .unwrap_or_else(|| "k3d-harmony".into());
    let setup = OpenbaoSetupScore::for_deployment(&openbao, context);
    let first = run(&setup, &topology).await;
    assert!(
        matches!(
            first.status,
            InterpretStatus::Success | InterpretStatus::Noop
        ),
        "{first:?}"
    );
    let second = run(&setup, &topology).await;
    assert_eq!(second.status, InterpretStatus::Noop, "{second:?}");
    assert_eq!(second.details.get("writes").map(String::as_str), Some(""));
    // A restarted pod comes back sealed; the next run unseals only it.
    let client = topology.k8s_client().await.unwrap();
    let old_uid = client
        .get_opt::<Pod>("openbao-ha-1", Some("openbao-ha"))
        .await
        .unwrap()
        .and_then(|p| p.metadata.uid);
    client
        .delete::<Pod>("openbao-ha-1", Some("openbao-ha"))
        .await
        .unwrap();
    // Until the StatefulSet made the new pod, the old one is still listed (Terminating) and a
    // port-forward would reach it: wait for the replacement to run.
    client
        .wait_for::<Pod, _>(
            "openbao-ha-1",
            Some("openbao-ha"),
            move |p: Option<&Pod>| {
                p.is_some_and(|p| {
                    p.metadata.uid != old_uid
                        && p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
                })
            },
            std::time::Duration::from_secs(300),
        )
        .await
        .unwrap();
    let third = run(&setup, &topology).await;
    assert_eq!(
        third.details.get("writes").map(String::as_str),
        Some("PUT sys/unseal"),
        "{third:?}"
    );
}

#[tokio::test]
#[ignore = "needs Docker + k3d (deploys CloudNativePG + Zitadel)"]
async fn test_zitadel_setup_score() {
    let topology = ready_topology().await;
    let zitadel = ZitadelScore::default();
    run(&zitadel, &topology).await;
    run(
        &CoreDNSRewriteScore::new(vec![(zitadel.host.clone(), zitadel.service_fqdn())]),
        &topology,
    )
    .await;
    let setup = ZitadelSetupScore::default();
    let first = run(&setup, &topology).await;
    let second = run(&setup, &topology).await;
    assert_eq!(second.status, InterpretStatus::Noop, "{second:?}");
    assert_eq!(
        first.details.get("client_id"),
        second.details.get("client_id")
    );
    assert_eq!(
        first.details.get("project_id"),
        second.details.get("project_id")
    );
    let redeploy = run(&zitadel, &topology).await;
    assert_eq!(redeploy.status, InterpretStatus::Noop, "{redeploy:?}");
}

/// The pod-template annotation CoreDNS was last restarted with, for `score`'s key.
async fn coredns_restart_hash(
    topology: &K8sAnywhereTopology,
    score: &CoreDNSRewriteScore,
) -> Option<String> {
    let client = topology.k8s_client().await.unwrap();
    let deployment: Deployment = client
        .get(COREDNS_DEPLOYMENT, Some(COREDNS_NAMESPACE))
        .await
        .unwrap();
    deployment
        .spec?
        .template
        .metadata?
        .annotations?
        .remove(&score.restart_annotation())
}

#[tokio::test]
#[ignore = "needs Docker + k3d (restarts CoreDNS, runs a busybox pod)"]
async fn test_coredns_rewrite_resolves_in_pods_and_reruns_change_nothing() {
    const NS: &str = "harmony-it-dns";
    const HOST: &str = "api.harmony-it.local";
    let topology = ready_topology().await;
    let client = topology.k8s_client().await.unwrap();
    // A target that exists on every cluster: the API server's Service.
    let score = CoreDNSRewriteScore::new(vec![(
        HOST.into(),
        "kubernetes.default.svc.cluster.local".into(),
    )]);
    let first = run(&score, &topology).await;
    assert!(
        matches!(
            first.status,
            InterpretStatus::Success | InterpretStatus::Noop
        ),
        "{first:?}"
    );
    let hash = coredns_restart_hash(&topology, &score).await;
    assert_eq!(
        hash,
        Some(score.content_hash()),
        "CoreDNS restarted with it"
    );
    let second = run(&score, &topology).await;
    assert_eq!(second.status, InterpretStatus::Noop, "{second:?}");
    assert_eq!(
        coredns_restart_hash(&topology, &score).await,
        hash,
        "a second run must not restart CoreDNS"
    );

    // A pod resolves the rewritten name to the Service's ClusterIP.
    let kubernetes: Service = client.get("kubernetes", Some("default")).await.unwrap();
    let cluster_ip = kubernetes.spec.unwrap().cluster_ip.unwrap();
    client
        .apply_dynamic(&json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}))
        .await
        .unwrap();
    client
        .apply_dynamic(&json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "dns-probe", "namespace": NS},
            "spec": {"containers": [{"name": "busybox", "image": "busybox:1.36",
                                     "command": ["sleep", "3600"]}],
                     "terminationGracePeriodSeconds": 0}
        }))
        .await
        .unwrap();
    client
        .wait_for::<Pod, _>(
            "dns-probe",
            Some(NS),
            |p: Option<&Pod>| {
                p.and_then(|p| p.status.as_ref())
                    .and_then(|s| s.phase.as_deref())
                    == Some("Running")
            },
            std::time::Duration::from_secs(180),
        )
        .await
        .unwrap();
    let answer = client
        .exec(NS, "dns-probe", None, &["nslookup", HOST])
        .await
        .unwrap_or_else(|e| panic!("{HOST} does not resolve in a pod: {e}"));
    assert!(
        answer.contains(&cluster_ip),
        "{HOST} should resolve to {cluster_ip}: {answer}"
    );
    client.delete::<Pod>("dns-probe", Some(NS)).await.unwrap();
}

#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema, harmony_config::Config,
)]
#[config(key = "IntegrationRoundTrip")]
struct RoundTrip {
    host: String,
    port: u16,
}

#[tokio::test]
#[ignore = "needs Docker + k3d (deploys OpenBao)"]
async fn test_config_round_trip() {
    let topology = ready_topology().await;
    let setup = deploy_openbao(&topology).await;
    run(&setup, &topology).await;

    let client = topology.k8s_client().await.unwrap();
    let forward = client
        .port_forward(
            &setup.namespace,
            PortForwardTarget::Pod(format!("{}-0", setup.fullname())),
            8200,
        )
        .await
        .unwrap();
    let store = OpenbaoSecretStore::builder()
        .url(forward.local_url.clone())
        .userpass(TEST_USER, TEST_PASSWORD)
        .no_session_cache()
        .build()
        .await
        .unwrap();
    let manager = ConfigManager::new(vec![Arc::new(StoreSource::new("harmony", store))]);
    let value = RoundTrip {
        host: "db.example".into(),
        port: 5432,
    };
    manager.set(&value).await.unwrap();
    assert_eq!(manager.get::<RoundTrip>().await.unwrap(), value);
}
