//! End-to-end on a real local k3d cluster. Needs Docker (and network access for the pinned
//! k3d/helm downloads and the CloudNativePG chart/images):
//!
//! ```text
//! cargo test -p harmony --test k3d_postgres -- --ignored --test-threads=1
//! ```
//!
//! Uses the default `K8sAnywhereTopology` (cluster `harmony`, context `k3d-harmony`).

use harmony::infra::k8s::PortForwardTarget;
use harmony::infra::k8s_anywhere::K8sAnywhereTopology;
use harmony::inventory::Inventory;
use harmony::maestro::{Args, Maestro, ScoreResult};
use harmony::modules::k8s::resource::K8sResourceScore;
use harmony::modules::postgresql::PostgreSQLScore;
use harmony::score::Score;
use harmony::topology::{
    K8sDistribution, K8sDistributionProbe, K8sclient, PostgreSQLConfig, PreparationOutcome,
    Topology,
};
use serde_json::json;

const NS: &str = "harmony-it";

fn scores() -> Vec<Box<dyn Score<K8sAnywhereTopology>>> {
    let mut pg = PostgreSQLConfig::new("it-pg", NS);
    pg.database = "app".into();
    pg.owner = "app".into();
    vec![
        Box::new(K8sResourceScore::new(
            "it-namespace",
            vec![
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}),
                json!({"apiVersion": "v1", "kind": "ConfigMap",
                       "metadata": {"name": "it-settings", "namespace": NS},
                       "data": {"LOG_LEVEL": "info"}}),
            ],
        )),
        Box::new(PostgreSQLScore::new(pg)),
    ]
}

#[tokio::test]
#[ignore = "needs Docker: creates the local k3d cluster"]
async fn ensure_ready_twice_the_second_time_is_a_noop_that_rewrites_nothing() {
    let topology = K8sAnywhereTopology::from_env();
    topology.ensure_ready().await.expect("first ensure_ready");
    let kubeconfig = topology.config().effective_kubeconfig().unwrap();
    let written = std::fs::metadata(&kubeconfig).unwrap().modified().unwrap();
    let second = topology.ensure_ready().await.expect("second ensure_ready");
    // Noop: the cluster was running, so nothing was created or started.
    assert_eq!(second, PreparationOutcome::Noop);
    assert_eq!(
        std::fs::metadata(&kubeconfig).unwrap().modified().unwrap(),
        written,
        "the second ensure_ready rewrote the kubeconfig"
    );
    assert_eq!(
        topology.k8s_distribution().await.unwrap(),
        K8sDistribution::K3sFamily
    );
}

#[tokio::test]
#[ignore = "needs Docker: k3d + CloudNativePG"]
async fn postgres_on_k3d_then_rerun_is_noop() {
    let maestro = Maestro::new(Inventory::empty(), K8sAnywhereTopology::from_env());
    let yes = Args {
        yes: true,
        ..Args::default()
    };
    let scores = scores();

    let first = maestro
        .run(&scores, &yes, &mut std::io::stdout())
        .await
        .expect("first run");
    assert!(
        first
            .reports
            .iter()
            .all(|r| matches!(r.result, ScoreResult::Changed | ScoreResult::Unchanged))
    );
    let pg = &first.reports[1];
    assert_eq!(
        pg.details["host"],
        format!("it-pg-rw.{NS}.svc.cluster.local")
    );
    assert_eq!(pg.details["app secret"], "it-pg-app");
    assert_eq!(pg.details["superuser secret"], "it-pg-superuser");

    let second = maestro
        .run(&scores, &yes, &mut std::io::stdout())
        .await
        .expect("second run");
    for report in &second.reports {
        assert_eq!(report.result, ScoreResult::Unchanged, "{report:?}");
    }

    // The database answers: exec in the primary, and a port-forward through the -rw Service.
    let client = maestro.topology().k8s_client().await.unwrap();
    let out = client
        .exec(
            NS,
            "it-pg-1",
            Some("postgres"),
            &["psql", "-tAc", "select 1"],
        )
        .await
        .expect("psql in the primary");
    assert_eq!(out.trim(), "1");
    let secret: k8s_openapi::api::core::v1::Secret =
        client.get("it-pg-app", Some(NS)).await.unwrap();
    assert!(secret.data.unwrap().contains_key("uri"));
    let forward = client
        .port_forward(NS, PortForwardTarget::parse("svc/it-pg-rw"), 5432)
        .await
        .expect("port-forward");
    let socket = tokio::net::TcpStream::connect(("127.0.0.1", forward.local_port)).await;
    assert!(socket.is_ok(), "connect to {}", forward.local_url);
}
