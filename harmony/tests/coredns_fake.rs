//! `CoreDNSRewriteScore` against a small fake Kubernetes API (axum on 127.0.0.1) that serves
//! `kube-system/coredns-custom` and `kube-system/coredns`: the restart is decided by the
//! content hash recorded on the Deployment's pod template, so a restart that failed after the
//! key was written is retried, and a run with both in place changes nothing.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use harmony::infra::k8s::K8sClient;
use harmony::interpret::InterpretStatus;
use harmony::inventory::Inventory;
use harmony::modules::k8s::coredns::{CoreDNSRewriteScore, RESTART_PENDING_ANNOTATION};
use harmony::score::Score;
use harmony::topology::{
    CapabilityError, K8sDistribution, K8sDistributionProbe, K8sclient, PreparationError,
    PreparationOutcome, Topology,
};
use serde_json::{Value, json};

#[derive(Default)]
struct Cluster {
    configmap: Option<Value>,
    deployment: Value,
    configmap_patches: Vec<String>,
    deployment_patches: Vec<String>,
    /// Keys removed by merge patches.
    removed_keys: Vec<String>,
    /// Refuse the next Deployment patch (a failed restart).
    fail_next_restart: bool,
}

type Shared = Arc<Mutex<Cluster>>;

fn not_found() -> (StatusCode, Json<Value>) {
    (
        StatusCode::NOT_FOUND,
        Json(
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": "not found", "reason": "NotFound", "code": 404}),
        ),
    )
}

fn resource(name: &str, kind: &str) -> Value {
    json!({"name": name, "singularName": kind.to_lowercase(), "namespaced": true, "kind": kind,
           "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]})
}

async fn core_v1() -> Json<Value> {
    Json(json!({"kind": "APIResourceList", "groupVersion": "v1",
                "resources": [resource("configmaps", "ConfigMap")]}))
}

async fn apps_v1() -> Json<Value> {
    Json(json!({"kind": "APIResourceList", "groupVersion": "apps/v1",
                "resources": [resource("deployments", "Deployment")]}))
}

async fn configmap_get(State(s): State<Shared>) -> Result<Json<Value>, (StatusCode, Json<Value>)> {
    s.lock()
        .unwrap()
        .configmap
        .clone()
        .map(Json)
        .ok_or_else(not_found)
}

/// Server-side apply of one key; the query names the field manager.
async fn configmap_patch(
    State(s): State<Shared>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Json<Value> {
    let merge = headers["content-type"] == "application/merge-patch+json";
    if !merge {
        assert_eq!(headers["content-type"], "application/apply-patch+yaml");
    }
    let body: Value = serde_json::from_slice(&body).unwrap();
    let mut c = s.lock().unwrap();
    if merge {
        // Merge patches only remove data keys, and set or remove annotations.
        let cm = c
            .configmap
            .as_mut()
            .expect("merge patch of a missing ConfigMap");
        let mut removed = Vec::new();
        if let Some(data) = body["data"].as_object() {
            for (k, v) in data {
                assert!(v.is_null(), "merge patch sets {k}");
                cm["data"].as_object_mut().unwrap().remove(k);
                removed.push(k.clone());
            }
        }
        if let Some(annotations) = body["metadata"]["annotations"].as_object() {
            for (k, v) in annotations {
                if v.is_null() {
                    if let Some(a) = cm["metadata"]["annotations"].as_object_mut() {
                        a.remove(k);
                    }
                } else {
                    cm["metadata"]["annotations"][k] = v.clone();
                }
            }
        }
        let rv: u64 = cm["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        cm["metadata"]["resourceVersion"] = json!((rv + 1).to_string());
        let cm = cm.clone();
        c.removed_keys.extend(removed);
        return Json(cm);
    }
    c.configmap_patches.push(q.unwrap_or_default());
    let mut cm = c.configmap.clone().unwrap_or_else(|| {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "coredns-custom", "namespace": "kube-system",
                            "resourceVersion": "0"}, "data": {}})
    });
    for (k, v) in body["data"].as_object().unwrap() {
        cm["data"][k] = v.clone();
    }
    let rv: u64 = cm["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    cm["metadata"]["resourceVersion"] = json!((rv + 1).to_string());
    c.configmap = Some(cm.clone());
    Json(cm)
}

fn deployment() -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": "coredns", "namespace": "kube-system", "generation": 1,
                        "resourceVersion": "1"},
           "spec": {"replicas": 1, "selector": {"matchLabels": {"k8s-app": "kube-dns"}},
                    "template": {"metadata": {"labels": {"k8s-app": "kube-dns"}},
                                 "spec": {"containers": [{"name": "coredns", "image": "coredns"}]}}},
           "status": {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1,
                      "availableReplicas": 1}})
}

async fn deployment_get(State(s): State<Shared>) -> Json<Value> {
    Json(s.lock().unwrap().deployment.clone())
}

/// Lists for the rollout wait (the fake rolls out at once); watches hang until dropped.
async fn deployment_list(State(s): State<Shared>, RawQuery(q): RawQuery) -> Json<Value> {
    if q.unwrap_or_default().contains("watch=true") {
        std::future::pending::<()>().await;
    }
    let d = s.lock().unwrap().deployment.clone();
    Json(json!({"apiVersion": "apps/v1", "kind": "DeploymentList",
                "metadata": {"resourceVersion": d["metadata"]["resourceVersion"]},
                "items": [d]}))
}

/// A JSON merge patch of template annotations: like a real API server, a new generation (a
/// rollout, done at once) only when the pod template changed.
async fn deployment_patch(
    State(s): State<Shared>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, (StatusCode, Json<Value>)> {
    assert_eq!(headers["content-type"], "application/merge-patch+json");
    let body: Value = serde_json::from_slice(&body).unwrap();
    let mut c = s.lock().unwrap();
    if std::mem::take(&mut c.fail_next_restart) {
        return Err((
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"kind": "Status", "apiVersion": "v1", "metadata": {},
                        "status": "Failure", "message": "etcdserver: request timed out",
                        "reason": "InternalError", "code": 500})),
        ));
    }
    c.deployment_patches.push(q.unwrap_or_default());
    let d = &mut c.deployment;
    let before = d["spec"]["template"].clone();
    let annotations = &body["spec"]["template"]["metadata"]["annotations"];
    for (k, v) in annotations.as_object().unwrap() {
        d["spec"]["template"]["metadata"]["annotations"][k] = v.clone();
    }
    if d["spec"]["template"] == before {
        return Ok(Json(d.clone()));
    }
    let generation = d["metadata"]["generation"].as_u64().unwrap() + 1;
    d["metadata"]["generation"] = json!(generation);
    d["metadata"]["resourceVersion"] = json!(generation.to_string());
    d["status"]["observedGeneration"] = json!(generation);
    Ok(Json(d.clone()))
}

struct FakeK3s {
    client: Arc<K8sClient>,
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

#[async_trait]
impl K8sDistributionProbe for FakeK3s {
    async fn k8s_distribution(&self) -> Result<K8sDistribution, CapabilityError> {
        Ok(K8sDistribution::K3sFamily)
    }
}

async fn start() -> (FakeK3s, Shared) {
    let state: Shared = Arc::new(Mutex::new(Cluster {
        deployment: deployment(),
        ..Cluster::default()
    }));
    let app = Router::new()
        .route("/api/v1", get(core_v1))
        .route("/apis/apps/v1", get(apps_v1))
        .route(
            "/api/v1/namespaces/kube-system/configmaps/coredns-custom",
            get(configmap_get).patch(configmap_patch),
        )
        .route(
            "/apis/apps/v1/namespaces/kube-system/deployments",
            get(deployment_list),
        )
        .route(
            "/apis/apps/v1/namespaces/kube-system/deployments/coredns",
            get(deployment_get).patch(deployment_patch),
        )
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = K8sClient::from_url(&format!("http://{addr}")).unwrap();
    (
        FakeK3s {
            client: Arc::new(client),
        },
        state,
    )
}

fn score() -> CoreDNSRewriteScore {
    CoreDNSRewriteScore::new(vec![(
        "zitadel.harmony.local".into(),
        "zitadel.zitadel.svc.cluster.local".into(),
    )])
}

async fn run(topology: &FakeK3s) -> Result<harmony::interpret::Outcome, String> {
    Score::<FakeK3s>::create_interpret(&score())
        .execute(&Inventory::empty(), topology)
        .await
        .map_err(|e| e.to_string())
}

fn annotation(state: &Shared) -> Option<String> {
    state.lock().unwrap().deployment["spec"]["template"]["metadata"]["annotations"]
        [score().restart_annotation()]
    .as_str()
    .map(str::to_string)
}

#[tokio::test]
async fn first_run_writes_the_key_and_restarts_with_the_hash_second_run_is_a_noop() {
    let (topology, state) = start().await;
    let first = run(&topology).await.unwrap();
    assert_eq!(first.status, InterpretStatus::Success, "{first:?}");
    {
        let c = state.lock().unwrap();
        assert_eq!(
            c.configmap.as_ref().unwrap()["data"][score().override_key()],
            score().override_content()
        );
        assert_eq!(c.configmap_patches.len(), 1);
        assert!(
            c.configmap_patches[0].contains(&format!("fieldManager={}", score().field_manager())),
            "{:?}",
            c.configmap_patches
        );
        assert_eq!(c.deployment_patches.len(), 1, "one restart");
    }
    assert_eq!(annotation(&state), Some(score().content_hash()));

    let second = run(&topology).await.unwrap();
    assert_eq!(second.status, InterpretStatus::Noop, "{second:?}");
    let c = state.lock().unwrap();
    assert_eq!(
        c.configmap_patches.len(),
        1,
        "second run wrote the key again"
    );
    assert_eq!(
        c.deployment_patches.len(),
        1,
        "second run restarted CoreDNS"
    );
}

#[tokio::test]
async fn a_restart_that_failed_after_the_key_was_written_is_retried_on_the_next_run() {
    let (topology, state) = start().await;
    state.lock().unwrap().fail_next_restart = true;
    let err = run(&topology).await.unwrap_err();
    assert!(err.contains("Deployment kube-system/coredns"), "{err}");
    assert_eq!(
        state.lock().unwrap().configmap_patches.len(),
        1,
        "key written"
    );
    assert_eq!(annotation(&state), None);

    // The key already has the content, but CoreDNS never loaded it.
    let retry = run(&topology).await.unwrap();
    assert_eq!(retry.status, InterpretStatus::Success, "{retry:?}");
    {
        let c = state.lock().unwrap();
        assert_eq!(c.deployment_patches.len(), 1, "restarted");
        assert_eq!(c.configmap_patches.len(), 1, "key not rewritten");
    }
    assert_eq!(annotation(&state), Some(score().content_hash()));

    let again = run(&topology).await.unwrap();
    assert_eq!(again.status, InterpretStatus::Noop, "{again:?}");
    assert_eq!(state.lock().unwrap().deployment_patches.len(), 1);
}

#[tokio::test]
async fn a_key_written_for_an_older_host_list_is_removed_and_coredns_restarted_once() {
    let (topology, state) = start().await;
    // Done earlier: the Score listed zitadel AND an old host (another key name), another Score
    // rewrites bao, and somebody wrote their own key by hand.
    let old = CoreDNSRewriteScore::new(vec![
        (
            "zitadel.harmony.local".into(),
            "zitadel.zitadel.svc.cluster.local".into(),
        ),
        (
            "gone.harmony.local".into(),
            "gone.gone.svc.cluster.local".into(),
        ),
    ]);
    let other = CoreDNSRewriteScore::new(vec![(
        "bao.harmony.local".into(),
        "openbao.openbao.svc.cluster.local".into(),
    )]);
    state.lock().unwrap().configmap = Some(json!({
    "apiVersion": "v1", "kind": "ConfigMap",
    "metadata": {"name": "coredns-custom", "namespace": "kube-system", "resourceVersion": "7"},
    "data": {
        old.override_key(): old.override_content(),
        other.override_key(): other.override_content(),
        "mine.override": "rewrite name exact zitadel.harmony.local elsewhere.svc.cluster.local\n",
    }}));
    let first = run(&topology).await.unwrap();
    assert!(first.message.contains(&old.override_key()), "{first:?}");
    {
        let c = state.lock().unwrap();
        assert_eq!(c.removed_keys, vec![old.override_key()]);
        let data = c.configmap.as_ref().unwrap()["data"]
            .as_object()
            .unwrap()
            .clone();
        assert!(
            data.contains_key(&other.override_key()),
            "another Score's key was removed"
        );
        assert!(
            data.contains_key("mine.override"),
            "a key Harmony did not write was removed"
        );
        assert!(data.contains_key(&score().override_key()));
        assert_eq!(c.deployment_patches.len(), 1, "one restart");
    }
    let second = run(&topology).await.unwrap();
    assert_eq!(second.status, InterpretStatus::Noop, "{second:?}");
    let c = state.lock().unwrap();
    assert_eq!(c.removed_keys.len(), 1);
    assert_eq!(c.deployment_patches.len(), 1);
}

#[tokio::test]
async fn removing_only_a_stale_key_still_restarts_coredns() {
    let (topology, state) = start().await;
    run(&topology).await.unwrap();
    let old = CoreDNSRewriteScore::new(vec![
        (
            "zitadel.harmony.local".into(),
            "zitadel.zitadel.svc.cluster.local".into(),
        ),
        (
            "gone.harmony.local".into(),
            "gone.gone.svc.cluster.local".into(),
        ),
    ]);
    // Another process wrote the old key back after our first run.
    state.lock().unwrap().configmap.as_mut().unwrap()["data"][old.override_key()] =
        json!(old.override_content());
    let outcome = run(&topology).await.unwrap();
    assert_eq!(outcome.status, InterpretStatus::Success, "{outcome:?}");
    let c = state.lock().unwrap();
    assert_eq!(c.removed_keys, vec![old.override_key()]);
    assert_eq!(
        c.deployment_patches.len(),
        2,
        "CoreDNS restarted to drop the old rewrite"
    );
}

fn generation(state: &Shared) -> u64 {
    state.lock().unwrap().deployment["metadata"]["generation"]
        .as_u64()
        .unwrap()
}

#[tokio::test]
async fn the_same_stale_key_written_back_again_restarts_coredns_again() {
    let (topology, state) = start().await;
    run(&topology).await.unwrap();
    let old = CoreDNSRewriteScore::new(vec![
        (
            "zitadel.harmony.local".into(),
            "zitadel.zitadel.svc.cluster.local".into(),
        ),
        (
            "gone.harmony.local".into(),
            "gone.gone.svc.cluster.local".into(),
        ),
    ]);
    // An older copy of the Score (another pipeline) keeps writing its key back.
    for round in 1..=2 {
        state.lock().unwrap().configmap.as_mut().unwrap()["data"][old.override_key()] =
            json!(old.override_content());
        let before = generation(&state);
        let outcome = run(&topology).await.unwrap();
        assert_eq!(outcome.status, InterpretStatus::Success, "{outcome:?}");
        assert_eq!(state.lock().unwrap().removed_keys.len(), round);
        assert_eq!(
            generation(&state),
            before + 1,
            "round {round}: the pod template must change, or CoreDNS keeps the removed rewrite"
        );
    }
    assert_eq!(run(&topology).await.unwrap().status, InterpretStatus::Noop);
}

#[tokio::test]
async fn a_restart_that_failed_after_a_stale_key_was_removed_is_retried_on_the_next_run() {
    let (topology, state) = start().await;
    run(&topology).await.unwrap();
    let old = CoreDNSRewriteScore::new(vec![
        (
            "zitadel.harmony.local".into(),
            "zitadel.zitadel.svc.cluster.local".into(),
        ),
        (
            "gone.harmony.local".into(),
            "gone.gone.svc.cluster.local".into(),
        ),
    ]);
    state.lock().unwrap().configmap.as_mut().unwrap()["data"][old.override_key()] =
        json!(old.override_content());
    let before = generation(&state);
    state.lock().unwrap().fail_next_restart = true;
    let err = run(&topology).await.unwrap_err();
    assert!(err.contains("request timed out"), "{err}");
    assert_eq!(
        state.lock().unwrap().removed_keys,
        vec![old.override_key()],
        "the key is gone, but CoreDNS still serves it until it restarts"
    );
    assert_eq!(generation(&state), before);

    let retried = run(&topology).await.unwrap();
    assert_eq!(retried.status, InterpretStatus::Success, "{retried:?}");
    assert!(retried.message.contains(&old.override_key()), "{retried:?}");
    assert_eq!(generation(&state), before + 1, "CoreDNS restarted");
    assert!(
        state.lock().unwrap().configmap.as_ref().unwrap()["metadata"]["annotations"]
            [RESTART_PENDING_ANNOTATION]
            .is_null(),
        "the pending mark is cleared once the restart is in"
    );
    assert_eq!(run(&topology).await.unwrap().status, InterpretStatus::Noop);
    assert_eq!(generation(&state), before + 1);
}
