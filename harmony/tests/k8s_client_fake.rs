//! `K8sClient` against a small fake Kubernetes API (axum on 127.0.0.1): distribution
//! detection from real payloads, SSA change detection, discovery after a CRD appears, and a
//! bounded wait that times out naming the object.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use harmony::infra::k8s::{K8sClient, K8sError};
use harmony::topology::K8sDistribution;
use serde_json::{Value, json};

#[derive(Default)]
struct Fake {
    openshift: bool,
    crd_installed: AtomicBool,
    configmap: Mutex<Option<Value>>,
    patches: AtomicU32,
    /// The next N applies of a Cluster fail as an API server does while the CNPG webhook
    /// Service has no endpoint.
    webhook_unreachable: AtomicU32,
    /// Every apply of a Cluster is denied by the (answering) CNPG webhook.
    webhook_denies: AtomicBool,
    /// Applies of a Cluster the server received.
    cluster_patches: AtomicU32,
}

fn not_found(what: &str) -> (StatusCode, Json<Value>) {
    (
        StatusCode::NOT_FOUND,
        Json(
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": format!("{what} not found"), "reason": "NotFound", "code": 404}),
        ),
    )
}

async fn version(State(f): State<Arc<Fake>>) -> Json<Value> {
    Json(if f.openshift {
        json!({"major": "1", "minor": "32", "gitVersion": "v1.32.5", "gitCommit": "0c9a2ad9", "gitTreeState": "clean",
               "buildDate": "2025-06-10T09:25:40Z", "goVersion": "go1.23.9", "compiler": "gc", "platform": "linux/amd64"})
    } else {
        json!({"major": "1", "minor": "33", "gitVersion": "v1.33.4+k3s1", "gitCommit": "148243c49519922720c1dbe6ab6bea3a4c48d3b0",
               "gitTreeState": "clean", "buildDate": "2025-08-19T21:09:26Z", "goVersion": "go1.24.5", "compiler": "gc",
               "platform": "linux/amd64"})
    })
}

fn group(name: &str, version: &str) -> Value {
    let gv = format!("{name}/{version}");
    json!({"name": name, "versions": [{"groupVersion": gv, "version": version}],
           "preferredVersion": {"groupVersion": gv, "version": version}})
}

async fn apis(State(f): State<Arc<Fake>>) -> Json<Value> {
    let mut groups = vec![group("apps", "v1")];
    if f.openshift {
        groups.push(group("config.openshift.io", "v1"));
        groups.push(group("route.openshift.io", "v1"));
    }
    if f.crd_installed.load(Ordering::SeqCst) {
        groups.push(group("postgresql.cnpg.io", "v1"));
    }
    Json(json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}))
}

async fn nodes(State(f): State<Arc<Fake>>) -> Json<Value> {
    let labels = if f.openshift {
        json!({"kubernetes.io/hostname": "worker-0", "node.openshift.io/os_id": "rhcos"})
    } else {
        json!({"kubernetes.io/hostname": "k3d-harmony-server-0", "node.kubernetes.io/instance-type": "k3s"})
    };
    Json(
        json!({"kind": "NodeList", "apiVersion": "v1", "metadata": {"resourceVersion": "5"},
                "items": [{"metadata": {"name": "n0", "labels": labels}}]}),
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
    Json(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "apps/v1",
                "resources": [resource("deployments", "Deployment")]}),
    )
}

async fn cnpg_v1(State(f): State<Arc<Fake>>) -> Result<Json<Value>, (StatusCode, Json<Value>)> {
    if !f.crd_installed.load(Ordering::SeqCst) {
        return Err(not_found("postgresql.cnpg.io/v1"));
    }
    Ok(Json(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "postgresql.cnpg.io/v1",
                   "resources": [resource("clusters", "Cluster")]}),
    ))
}

async fn cnpg_cluster_get(Path((_ns, name)): Path<(String, String)>) -> (StatusCode, Json<Value>) {
    not_found(&format!("clusters {name}"))
}

/// Server-side apply sends `application/apply-patch+yaml` (JSON is valid YAML).
fn apply_body(headers: &HeaderMap, body: &Bytes) -> Value {
    assert_eq!(headers["content-type"], "application/apply-patch+yaml");
    serde_json::from_slice(body).unwrap()
}

fn status(code: u16, reason: &str, message: &str) -> (StatusCode, Json<Value>) {
    (
        StatusCode::from_u16(code).unwrap(),
        Json(
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": message, "reason": reason, "code": code}),
        ),
    )
}

async fn cnpg_cluster_patch(
    State(f): State<Arc<Fake>>,
    Path((ns, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, (StatusCode, Json<Value>)> {
    f.cluster_patches.fetch_add(1, Ordering::SeqCst);
    if f.webhook_denies.load(Ordering::SeqCst) {
        return Err(status(
            400,
            "BadRequest",
            "admission webhook \"vcluster.cnpg.io\" denied the request: spec.instances: Invalid value: 0",
        ));
    }
    if f.webhook_unreachable
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return Err(status(
            500,
            "InternalError",
            "Internal error occurred: failed calling webhook \"mcluster.cnpg.io\": failed to call webhook: Post \"https://cnpg-webhook-service.cnpg-system.svc:443/mutate-postgresql-cnpg-io-v1-cluster?timeout=10s\": dial tcp 10.43.12.7:443: connect: connection refused",
        ));
    }
    let mut obj = apply_body(&headers, &body);
    obj["metadata"]["namespace"] = json!(ns);
    obj["metadata"]["name"] = json!(name);
    obj["metadata"]["resourceVersion"] = json!("1");
    Ok(Json(obj))
}

async fn configmap_get(
    State(f): State<Arc<Fake>>,
) -> Result<Json<Value>, (StatusCode, Json<Value>)> {
    f.configmap
        .lock()
        .unwrap()
        .clone()
        .map(Json)
        .ok_or_else(|| not_found("configmaps cm"))
}

/// A minimal server-side apply: the resourceVersion moves only when `data` changes.
async fn configmap_patch(
    State(f): State<Arc<Fake>>,
    headers: HeaderMap,
    body: Bytes,
) -> Json<Value> {
    let body = apply_body(&headers, &body);
    f.patches.fetch_add(1, Ordering::SeqCst);
    let mut current = f.configmap.lock().unwrap();
    let rv = match current.as_ref() {
        Some(old) if old["data"] == body["data"] => return Json(old.clone()),
        Some(old) => {
            old["metadata"]["resourceVersion"]
                .as_str()
                .unwrap()
                .parse::<u32>()
                .unwrap()
                + 1
        }
        None => 1,
    };
    let mut obj = body;
    obj["metadata"]["namespace"] = json!("default");
    obj["metadata"]["resourceVersion"] = json!(rv.to_string());
    *current = Some(obj.clone());
    Json(obj)
}

fn pending_deployment() -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": "cnpg-cloudnative-pg", "namespace": "cnpg-system", "resourceVersion": "10"},
           "status": {"conditions": [{"type": "Progressing", "status": "True"},
                                     {"type": "Available", "status": "False"}]}})
}

/// List returns a Deployment that never becomes Available; watches hang.
async fn deployments(RawQuery(q): RawQuery) -> Json<Value> {
    if q.unwrap_or_default().contains("watch=true") {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    Json(
        json!({"apiVersion": "apps/v1", "kind": "DeploymentList", "metadata": {"resourceVersion": "10"},
                "items": [pending_deployment()]}),
    )
}

async fn start(fake: Fake) -> (K8sClient, Arc<Fake>) {
    let fake = Arc::new(fake);
    let app = Router::new()
        .route("/version", get(version))
        .route("/apis", get(apis))
        .route("/api/v1", get(core_v1))
        .route("/api/v1/nodes", get(nodes))
        .route("/apis/apps/v1", get(apps_v1))
        .route("/apis/postgresql.cnpg.io/v1", get(cnpg_v1))
        .route(
            "/apis/postgresql.cnpg.io/v1/namespaces/{ns}/clusters/{name}",
            get(cnpg_cluster_get).patch(cnpg_cluster_patch),
        )
        .route(
            "/api/v1/namespaces/default/configmaps/cm",
            get(configmap_get).patch(configmap_patch),
        )
        .route(
            "/apis/apps/v1/namespaces/cnpg-system/deployments",
            get(deployments),
        )
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let config = kube::Config::new(format!("http://{addr}").parse().unwrap());
    (K8sClient::from_config(config).unwrap(), fake)
}

#[tokio::test]
async fn detects_k3s_from_the_api() {
    let (client, _) = start(Fake::default()).await;
    assert_eq!(
        client.distribution().await.unwrap(),
        K8sDistribution::K3sFamily
    );
}

#[tokio::test]
async fn detects_openshift_from_the_api() {
    let (client, _) = start(Fake {
        openshift: true,
        ..Fake::default()
    })
    .await;
    assert_eq!(
        client.distribution().await.unwrap(),
        K8sDistribution::OpenShift
    );
    let groups = client.api_groups().await.unwrap();
    assert!(
        groups.iter().any(|g| g == "route.openshift.io"),
        "{groups:?}"
    );
}

#[tokio::test]
async fn apply_reports_whether_anything_changed() {
    let (client, fake) = start(Fake::default()).await;
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "cm", "namespace": "default"}, "data": {"a": "1"}});
    assert!(client.apply_dynamic(&cm).await.unwrap().changed, "created");
    assert!(
        !client.apply_dynamic(&cm).await.unwrap().changed,
        "same content: unchanged"
    );
    let mut edited = cm.clone();
    edited["data"]["a"] = json!("2");
    let applied = client.apply_dynamic(&edited).await.unwrap();
    assert!(applied.changed);
    assert_eq!(
        applied.object.metadata.resource_version.as_deref(),
        Some("2")
    );
    assert_eq!(fake.patches.load(Ordering::SeqCst), 3);

    // The typed path goes through the same apply.
    let typed: k8s_openapi::api::core::v1::ConfigMap = serde_json::from_value(edited).unwrap();
    let applied = client.apply(&typed).await.unwrap();
    assert!(!applied.changed);
    assert_eq!(applied.object.data.unwrap()["a"], "2");
}

#[tokio::test]
async fn a_custom_resource_applies_once_its_crd_is_served() {
    let (client, fake) = start(Fake::default()).await;
    let cluster = json!({"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster",
                         "metadata": {"name": "pg", "namespace": "db"}, "spec": {"instances": 1}});
    let err = client.apply_dynamic(&cluster).await.unwrap_err();
    assert!(
        err.to_string().contains("is its CRD or operator installed"),
        "{err}"
    );
    fake.crd_installed.store(true, Ordering::SeqCst);
    let applied = client.apply_dynamic(&cluster).await.unwrap();
    assert!(applied.changed);
    assert_eq!(applied.object.metadata.name.as_deref(), Some("pg"));
}

#[tokio::test]
async fn waiting_for_a_condition_that_never_comes_times_out_naming_the_object() {
    let (client, _) = start(Fake::default()).await;
    let err = client
        .wait_deployment_available("cnpg-cloudnative-pg", "cnpg-system", Duration::from_secs(1))
        .await
        .unwrap_err();
    match &err {
        K8sError::Timeout { what, seconds } => {
            assert_eq!(*seconds, 1);
            assert_eq!(
                what,
                "Deployment cnpg-system/cnpg-cloudnative-pg to be Available"
            );
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    let interpret: harmony::interpret::InterpretError = err.into();
    assert_eq!(
        interpret.to_string(),
        "timed out after 1s waiting for Deployment cnpg-system/cnpg-cloudnative-pg to be Available"
    );
}

#[tokio::test]
async fn a_manifest_without_a_name_is_refused_without_quoting_its_data() {
    let (client, fake) = start(Fake::default()).await;
    // base64 of "hunter2-root-token"
    let secret = json!({"apiVersion": "v1", "kind": "Secret",
                        "metadata": {"namespace": "default"},
                        "data": {"token": "aHVudGVyMi1yb290LXRva2Vu"},
                        "stringData": {"password": "hunter2-plain"}});
    let err = client.apply_dynamic(&secret).await.unwrap_err().to_string();
    assert!(err.contains("/metadata/name"), "{err}");
    assert!(err.contains("v1 Secret"), "{err}");
    assert!(!err.contains("aHVudGVyMi1yb290LXRva2Vu"), "{err}");
    assert!(!err.contains("hunter2-plain"), "{err}");
    assert_eq!(fake.patches.load(Ordering::SeqCst), 0, "nothing sent");
}

/// The CNPG apply retries while the API server says the operator's webhook cannot be called
/// (its Service has no endpoint yet), and only then: a webhook that answered and denied the
/// Cluster is reported at once, with its kind and message.
#[tokio::test]
async fn the_cluster_apply_retries_only_while_the_webhook_is_unreachable() {
    use harmony::infra::cnpg::apply_cluster;
    use harmony::topology::PostgreSQLConfig;
    let fake = Fake {
        crd_installed: AtomicBool::new(true),
        webhook_unreachable: AtomicU32::new(2),
        ..Fake::default()
    };
    let (client, fake) = start(fake).await;
    let config = PostgreSQLConfig::new("pg", "db");
    let applied = apply_cluster(&client, &config, Duration::from_millis(10))
        .await
        .unwrap();
    assert_eq!(applied.object.metadata.name.as_deref(), Some("pg"));
    assert_eq!(
        fake.cluster_patches.load(Ordering::SeqCst),
        3,
        "two refused applies, then the one that went through"
    );

    fake.webhook_denies.store(true, Ordering::SeqCst);
    let before = fake.cluster_patches.load(Ordering::SeqCst);
    let err = apply_cluster(&client, &config, Duration::from_millis(10))
        .await
        .unwrap_err();
    assert!(matches!(err, K8sError::Api { .. }), "{err:?}");
    assert!(err.to_string().contains("denied the request"), "{err}");
    assert!(err.to_string().contains("Cluster db/pg"), "{err}");
    assert_eq!(
        fake.cluster_patches.load(Ordering::SeqCst) - before,
        1,
        "a denial is not retried"
    );
}
