//! Plans against a fake Kubernetes API that records every request: a plan sends only reads
//! and `dryRun=All` applies, stores nothing, and says what an apply would change.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{Method, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use harmony::infra::k8s::K8sClient;
use harmony::inventory::Inventory;
use harmony::modules::k8s::coredns::CoreDNSRewriteScore;
use harmony::modules::k8s::resource::K8sResourceScore;
use harmony::modules::postgresql::PostgreSQLScore;
use harmony::plan::ChangeKind;
use harmony::score::Score;
use harmony::topology::{
    CapabilityError, HelmCommand, K8sDistribution, K8sDistributionProbe, K8sclient, PostgreSQL,
    PostgreSQLConfig, PostgreSQLEndpoint, PreparationError, PreparationOutcome, Topology,
};
use serde_json::{Value, json};

#[derive(Default)]
struct Cluster {
    /// (namespace, name) -> ConfigMap
    configmaps: BTreeMap<(String, String), Value>,
    /// (namespace, name) -> Secret
    secrets: BTreeMap<(String, String), Value>,
    /// "METHOD path?query" of every request.
    requests: Vec<String>,
    version: u64,
}

type Shared = Arc<Mutex<Cluster>>;

fn not_found() -> (StatusCode, Json<Value>) {
    (
        StatusCode::NOT_FOUND,
        Json(
            json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                    "reason": "NotFound", "code": 404, "message": "not found"}),
        ),
    )
}

async fn core_v1(State(s): State<Shared>) -> Json<Value> {
    s.lock().unwrap().requests.push("GET /api/v1".into());
    Json(
        json!({"kind": "APIResourceList", "groupVersion": "v1", "resources": [
        {"name": "configmaps", "singularName": "configmap", "namespaced": true, "kind": "ConfigMap",
         "verbs": ["get", "list", "patch", "create"]},
        {"name": "secrets", "singularName": "secret", "namespaced": true, "kind": "Secret",
         "verbs": ["get", "list", "patch", "create"]}]}),
    )
}

async fn apps_v1(State(s): State<Shared>) -> Json<Value> {
    s.lock().unwrap().requests.push("GET /apis/apps/v1".into());
    Json(
        json!({"kind": "APIResourceList", "groupVersion": "apps/v1", "resources": [
        {"name": "deployments", "singularName": "deployment", "namespaced": true, "kind": "Deployment",
         "verbs": ["get", "list", "patch"]}]}),
    )
}

async fn configmap(
    State(s): State<Shared>,
    method: Method,
    Path((ns, name)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Json<Value>, (StatusCode, Json<Value>)> {
    data_object(&s, "ConfigMap", method, ns, name, query, body)
}

async fn secret(
    State(s): State<Shared>,
    method: Method,
    Path((ns, name)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Json<Value>, (StatusCode, Json<Value>)> {
    data_object(&s, "Secret", method, ns, name, query, body)
}

/// GET and server-side apply of an object whose content is its `data` map.
fn data_object(
    s: &Shared,
    kind: &str,
    method: Method,
    ns: String,
    name: String,
    query: Option<String>,
    body: Bytes,
) -> Result<Json<Value>, (StatusCode, Json<Value>)> {
    let mut guard = s.lock().unwrap();
    let c = &mut *guard;
    let query = query.unwrap_or_default();
    let plural = if kind == "Secret" {
        "secrets"
    } else {
        "configmaps"
    };
    c.requests.push(format!(
        "{method} /api/v1/namespaces/{ns}/{plural}/{name}?{query}"
    ));
    let store = if kind == "Secret" {
        &mut c.secrets
    } else {
        &mut c.configmaps
    };
    let key = (ns.clone(), name.clone());
    if method == Method::GET {
        return store.get(&key).cloned().map(Json).ok_or_else(not_found);
    }
    // Server-side apply: the applied fields replace ours (enough for data maps).
    let applied: Value = serde_json::from_slice(&body).unwrap();
    let mut object = store.get(&key).cloned().unwrap_or_else(|| {
        json!({"apiVersion": "v1", "kind": kind,
               "metadata": {"name": name, "namespace": ns, "uid": "u-1",
                            "creationTimestamp": "2026-01-01T00:00:00Z"}})
    });
    if let Some(data) = applied.get("data") {
        let merged = object["data"].as_object().cloned().unwrap_or_default();
        let mut merged = merged;
        for (k, v) in data.as_object().unwrap() {
            merged.insert(k.clone(), v.clone());
        }
        object["data"] = Value::Object(merged);
    }
    let dry_run = query.split('&').any(|p| p == "dryRun=All");
    if !dry_run {
        c.version += 1;
        object["metadata"]["resourceVersion"] = json!(c.version.to_string());
        store.insert(key, object.clone());
    }
    Ok(Json(object))
}

async fn namespace(
    State(s): State<Shared>,
    method: Method,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, (StatusCode, Json<Value>)> {
    let query = query.unwrap_or_default();
    s.lock()
        .unwrap()
        .requests
        .push(format!("{method} /api/v1/namespaces/{name}?{query}"));
    if method == Method::GET {
        return Err(not_found());
    }
    Ok(Json(
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
    ))
}

async fn apis(State(s): State<Shared>) -> Json<Value> {
    s.lock().unwrap().requests.push("GET /apis".into());
    Json(
        json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": [
        {"name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
         "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}}]}),
    )
}

async fn coredns_deployment(State(s): State<Shared>) -> Json<Value> {
    s.lock()
        .unwrap()
        .requests
        .push("GET /apis/apps/v1/namespaces/kube-system/deployments/coredns".into());
    Json(json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "coredns", "namespace": "kube-system", "generation": 1, "resourceVersion": "1"},
        "spec": {"selector": {"matchLabels": {"k8s-app": "kube-dns"}},
                 "template": {"metadata": {"labels": {"k8s-app": "kube-dns"}}, "spec": {"containers": []}}},
        "status": {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "availableReplicas": 1}}))
}

struct FakeK3s {
    client: Arc<K8sClient>,
    helm_calls: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

#[async_trait]
impl Topology for FakeK3s {
    fn name(&self) -> &str {
        "FakeK3s"
    }
    async fn ensure_ready(&self) -> Result<PreparationOutcome, PreparationError> {
        Ok(PreparationOutcome::Noop)
    }
}

#[async_trait]
impl K8sclient for FakeK3s {
    async fn k8s_client(&self) -> Result<Arc<K8sClient>, CapabilityError> {
        Ok(self.client.clone())
    }
}

impl HelmCommand for FakeK3s {
    /// A `helm` that lists no release (and records nothing else: a plan runs only `list`).
    fn helm_command(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new("sh");
        cmd.args(["-c", "echo \"$*\" >> \"$HELM_CALLS\"; echo '[]'", "helm"]);
        cmd.env("HELM_CALLS", &self.helm_calls);
        cmd
    }
}

#[async_trait]
impl PostgreSQL for FakeK3s {
    async fn deploy_postgres(
        &self,
        _config: &PostgreSQLConfig,
    ) -> Result<PostgreSQLEndpoint, CapabilityError> {
        Err(CapabilityError::Unsupported(
            "a plan must not deploy".into(),
        ))
    }

    async fn plan_postgres(
        &self,
        config: &PostgreSQLConfig,
    ) -> Result<(Vec<harmony::plan::PlannedChange>, PostgreSQLEndpoint), CapabilityError> {
        harmony::modules::postgresql::cnpg_plan::plan_with_cloudnative_pg(self, config).await
    }
}

#[async_trait]
impl K8sDistributionProbe for FakeK3s {
    async fn k8s_distribution(&self) -> Result<K8sDistribution, CapabilityError> {
        Ok(K8sDistribution::K3sFamily)
    }
}

async fn start() -> (FakeK3s, Shared) {
    let state: Shared = Arc::default();
    let app = Router::new()
        .route("/api/v1", get(core_v1))
        .route("/apis/apps/v1", get(apps_v1))
        .route("/apis", get(apis))
        .route("/api/v1/namespaces/{name}", get(namespace).patch(namespace))
        .route(
            "/api/v1/namespaces/{ns}/configmaps/{name}",
            get(configmap).patch(configmap),
        )
        .route(
            "/api/v1/namespaces/{ns}/secrets/{name}",
            get(secret).patch(secret),
        )
        .route(
            "/apis/apps/v1/namespaces/kube-system/deployments/coredns",
            get(coredns_deployment),
        )
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = K8sClient::from_url(&format!("http://{addr}")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    (
        FakeK3s {
            client: Arc::new(client),
            helm_calls: dir.path().join("helm-calls"),
            _dir: dir,
        },
        state,
    )
}

fn greeting(text: &str) -> K8sResourceScore {
    K8sResourceScore::new(
        "greeting",
        vec![json!({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "greeting", "namespace": "app"},
                    "data": {"greeting": text, "db_password": format!("{text}-SECRET")}})],
    )
}

/// Requests recorded since `from` that are neither reads nor dry runs.
fn non_plan_requests(state: &Shared, from: usize) -> Vec<String> {
    state.lock().unwrap().requests[from..]
        .iter()
        .filter(|r| !r.starts_with("GET ") && !r.contains("dryRun=All"))
        .cloned()
        .collect()
}

#[tokio::test]
async fn a_kubernetes_object_plan_sends_only_reads_and_dry_runs_and_names_the_changed_keys() {
    let (topology, state) = start().await;
    let score = greeting("hello");
    let interpret = Score::<FakeK3s>::create_interpret(&score);

    let plan = interpret
        .plan(&Inventory::empty(), &topology)
        .await
        .unwrap();
    assert_eq!(
        plan.changes[0].kind,
        ChangeKind::Create,
        "{}",
        plan.render("")
    );
    assert_eq!(plan.changes[0].object, "ConfigMap app/greeting");
    assert!(
        state.lock().unwrap().configmaps.is_empty(),
        "the plan stored the object"
    );
    assert!(
        state
            .lock()
            .unwrap()
            .requests
            .iter()
            .any(|r| r.contains("dryRun=All")),
        "no dry run was sent: {:?}",
        state.lock().unwrap().requests
    );
    assert!(non_plan_requests(&state, 0).is_empty());

    interpret
        .execute(&Inventory::empty(), &topology)
        .await
        .unwrap();
    let plan = interpret
        .plan(&Inventory::empty(), &topology)
        .await
        .unwrap();
    assert!(!plan.has_changes(), "{}", plan.render(""));

    let from = state.lock().unwrap().requests.len();
    let changed = Score::<FakeK3s>::create_interpret(&greeting("bonjour"));
    let plan = changed.plan(&Inventory::empty(), &topology).await.unwrap();
    let text = plan.render("");
    assert!(
        text.contains("~ change    ConfigMap app/greeting"),
        "{text}"
    );
    assert!(
        text.contains("~ data.greeting: \"hello\" -> \"bonjour\""),
        "{text}"
    );
    assert!(
        text.contains("~ data.db_password: (sensitive) -> (sensitive)"),
        "{text}"
    );
    assert!(!text.contains("SECRET"), "{text}");
    assert!(non_plan_requests(&state, from).is_empty());
    let stored = state.lock().unwrap().configmaps[&("app".into(), "greeting".into())].clone();
    assert_eq!(
        stored["data"]["greeting"], "hello",
        "the plan changed the object"
    );
}

/// A Secret's values are secret whatever their key is called: the plan names the changed key,
/// never its value (neither the stored one nor the one to apply).
#[tokio::test]
async fn a_secret_plan_names_the_changed_key_and_shows_no_value() {
    let (topology, state) = start().await;
    let secret = |config: &str| {
        K8sResourceScore::new(
            "app-config",
            vec![json!({"apiVersion": "v1", "kind": "Secret",
                        "metadata": {"name": "app-config", "namespace": "app"},
                        "data": {"config.yaml": config}})],
        )
    };
    let first = Score::<FakeK3s>::create_interpret(&secret("T0xELVZBTFVF"));
    first.execute(&Inventory::empty(), &topology).await.unwrap();
    assert_eq!(
        state.lock().unwrap().secrets[&("app".into(), "app-config".into())]["data"]["config.yaml"],
        "T0xELVZBTFVF"
    );

    let plan = Score::<FakeK3s>::create_interpret(&secret("TkVXLVZBTFVF"))
        .plan(&Inventory::empty(), &topology)
        .await
        .unwrap();
    let text = plan.render("");
    assert!(text.contains("~ change    Secret app/app-config"), "{text}");
    assert!(
        text.contains("~ data.config.yaml: (sensitive) -> (sensitive)"),
        "{text}"
    );
    assert!(!text.contains("T0xELVZBTFVF"), "{text}");
    assert!(!text.contains("TkVXLVZBTFVF"), "{text}");
}

#[tokio::test]
async fn a_coredns_plan_shows_the_key_diff_and_the_restart_with_reads_only() {
    let (topology, state) = start().await;
    state.lock().unwrap().configmaps.insert(
        ("kube-system".into(), "coredns-custom".into()),
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "coredns-custom", "namespace": "kube-system"},
               "data": {"other.override": "rewrite name exact a.local b.svc.cluster.local\n"}}),
    );
    let score = CoreDNSRewriteScore::new(vec![(
        "zitadel.harmony.local".into(),
        "zitadel.zitadel.svc.cluster.local".into(),
    )]);
    let plan = Score::<FakeK3s>::create_interpret(&score)
        .plan(&Inventory::empty(), &topology)
        .await
        .unwrap();
    let text = plan.render("");
    assert!(
        text.contains(&format!(
            "+ create    ConfigMap kube-system/coredns-custom key {}",
            score.override_key()
        )),
        "{text}"
    );
    assert!(
        text.contains(
            "~ change    Deployment kube-system/coredns (restarted to load the rewrites)"
        ),
        "{text}"
    );
    assert!(
        non_plan_requests(&state, 0).is_empty(),
        "{:?}",
        state.lock().unwrap().requests
    );
}

#[tokio::test]
async fn a_database_plan_lists_operator_namespace_and_cluster_with_reads_and_dry_runs_only() {
    let (topology, state) = start().await;
    let score = PostgreSQLScore::new(PostgreSQLConfig::new("app-pg", "app"));
    let plan = Score::<FakeK3s>::create_interpret(&score)
        .plan(&Inventory::empty(), &topology)
        .await
        .unwrap();
    let text = plan.render("");
    assert!(
        text.contains("+ create    helm release cnpg-system/cnpg (cnpg/cloudnative-pg"),
        "{text}"
    );
    assert!(text.contains("+ create    Namespace app"), "{text}");
    // The CRD is not served before the operator is installed: planned without a dry run.
    assert!(
        text.contains("+ create    Cluster app/app-pg (kind not served yet"),
        "{text}"
    );
    assert!(
        non_plan_requests(&state, 0).is_empty(),
        "{:?}",
        state.lock().unwrap().requests
    );
    let helm = std::fs::read_to_string(&topology.helm_calls).unwrap();
    assert!(
        helm.lines().all(|l| l.starts_with("list ")),
        "helm ran more than list: {helm}"
    );
}
