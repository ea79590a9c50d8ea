//! With `HTTPS_PROXY`/`HTTP_PROXY` exported, the clients that talk to loopback (a k3d API
//! server, port-forwards to OpenBao and Zitadel) still reach it directly; the proxy (which
//! records every connection and answers none) must see nothing.
//!
//! The environment is process-wide, so the test re-runs itself in a child process that has
//! the proxy variables, instead of changing its own environment while other threads run.
#![cfg(unix)]

use std::io::Read;
use std::net::TcpListener;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::routing::get;
use axum::{Json, Router};
use harmony::infra::k8s::K8sClient;
use harmony::infra::openbao_admin::FileKeyStore;
use harmony::infra::openbao_admin::OpenbaoSetup;
use harmony::infra::zitadel_api::{Pat, ZitadelClient};
use serde_json::json;

const CHILD_MARKER: &str = "HARMONY_PROXY_ENV_CHILD";
const TEST_NAME: &str = "loopback_clients_never_go_through_the_exported_proxy";
const PROXY_PASSWORD: &str = "pr0xy-s3cret";

/// Every log record of the child process, at every level.
struct CapturedLogs(std::sync::Mutex<Vec<String>>);

impl log::Log for CapturedLogs {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, record: &log::Record) {
        self.0.lock().unwrap().push(record.args().to_string());
    }
    fn flush(&self) {}
}

static LOGS: CapturedLogs = CapturedLogs(std::sync::Mutex::new(Vec::new()));

/// A "proxy" on 127.0.0.2 (loopback, but not 127.0.0.1) that counts connections and closes
/// them: any request sent through it fails.
fn dead_recording_proxy() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.2:0").expect("bind 127.0.0.2");
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            seen.fetch_add(1, Ordering::SeqCst);
            if let Ok(mut s) = stream {
                let mut buf = [0u8; 512];
                let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
                let _ = s.read(&mut buf);
            }
        }
    });
    (url, count)
}

fn run_child(proxy: &str, no_proxy: Option<&str>) {
    run_test_in_child(TEST_NAME, proxy, no_proxy);
}

/// Runs the test `name` in a child process with the proxy variables set.
fn run_test_in_child(name: &str, proxy: &str, no_proxy: Option<&str>) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_MARKER, "1")
        .env("HTTPS_PROXY", proxy)
        .env("HTTP_PROXY", proxy)
        .env("https_proxy", proxy)
        .env("http_proxy", proxy)
        .env_remove("ALL_PROXY")
        .env_remove("all_proxy")
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .env_remove("KUBECONFIG");
    if let Some(np) = no_proxy {
        cmd.env("NO_PROXY", np);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "child with NO_PROXY={no_proxy:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The child's test really ran (not filtered out).
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 passed"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn loopback_clients_never_go_through_the_exported_proxy() {
    if std::env::var_os(CHILD_MARKER).is_some() {
        return child();
    }
    let (proxy, connections) = dead_recording_proxy();
    // With a password, which must never be logged.
    let proxy = proxy.replace("http://", &format!("http://alice:{PROXY_PASSWORD}@"));
    // The usual corporate setup: NO_PROXY lists loopback.
    run_child(&proxy, Some("localhost,127.0.0.1"));
    // NO_PROXY forgot loopback: a port-forward must still be direct.
    run_child(&proxy, None);
    assert_eq!(
        connections.load(Ordering::SeqCst),
        0,
        "requests went to the proxy"
    );
}

/// In the child: a fake Kubernetes API, OpenBao and Zitadel on 127.0.0.1, each called through
/// Harmony's clients; the server counts what reached it.
#[tokio::main(flavor = "current_thread")]
async fn child() {
    log::set_logger(&LOGS).unwrap();
    log::set_max_level(log::LevelFilter::Trace);
    let hits = Arc::new(AtomicUsize::new(0));
    let h = |hits: Arc<AtomicUsize>, body: serde_json::Value| {
        move || {
            let hits = hits.clone();
            let body = body.clone();
            async move {
                hits.fetch_add(1, Ordering::SeqCst);
                Json(body)
            }
        }
    };
    let app = Router::new()
        .route(
            "/version",
            get(h(
                hits.clone(),
                json!({"major": "1", "minor": "33", "gitVersion": "v1.33.4+k3s1",
                "gitCommit": "x", "gitTreeState": "clean", "buildDate": "2025-08-19T21:09:26Z",
                "goVersion": "go1.24.5", "compiler": "gc", "platform": "linux/amd64"}),
            )),
        )
        .route(
            "/v1/sys/seal-status",
            get(h(
                hits.clone(),
                json!({"type": "shamir", "initialized": true, "sealed": false,
                "t": 1, "n": 1, "progress": 0, "version": "2.6.2"}),
            )),
        )
        .route(
            "/.well-known/openid-configuration",
            get({
                let hits = hits.clone();
                move |headers: axum::http::HeaderMap| {
                    let hits = hits.clone();
                    async move {
                        hits.fetch_add(1, Ordering::SeqCst);
                        // The issuer is the host it was asked as (as behind an ingress).
                        let host = headers["host"].to_str().unwrap().to_string();
                        let issuer = format!("http://{host}");
                        Json(json!({
                            "issuer": issuer,
                            "authorization_endpoint": format!("{issuer}/auth"),
                            "token_endpoint": format!("{issuer}/token"),
                            "device_authorization_endpoint": format!("{issuer}/device"),
                            "jwks_uri": format!("{issuer}/jwks"),
                            "response_types_supported": ["code"],
                            "subject_types_supported": ["public"],
                            "id_token_signing_alg_values_supported": ["RS256"],
                        }))
                    }
                }
            }),
        )
        .route(
            "/management/v1/orgs/me",
            get(h(
                hits.clone(),
                json!({"org": {"id": "100", "name": "ZITADEL"}}),
            )),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let base = format!("http://{addr}");

    // Kubernetes: a kubeconfig for a loopback API server, as k3d writes it.
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: k3d-test\nclusters:\n- name: k3d-test\n  cluster:\n    server: {base}\ncontexts:\n- name: k3d-test\n  context:\n    cluster: k3d-test\n    user: admin\nusers:\n- name: admin\n  user:\n    token: not-a-secret\n"
        ),
    )
    .unwrap();
    let k8s = K8sClient::from_kubeconfig(Some(&kubeconfig), None)
        .await
        .expect("client with HTTPS_PROXY set (kube/http-proxy)");
    let version = k8s
        .kube_client()
        .apiserver_version()
        .await
        .expect("API server reached directly");
    assert_eq!(version.git_version, "v1.33.4+k3s1");

    // OpenBao over a port-forward.
    let store = Arc::new(FileKeyStore::new(dir.path().join("keys.json")));
    let setup = OpenbaoSetup::new(base.clone(), store)
        .unwrap()
        .with_ready_timeout(Duration::from_secs(2));
    assert!(
        !setup
            .seal_status()
            .await
            .expect("OpenBao reached directly")
            .sealed
    );

    // Zitadel over a port-forward.
    let zitadel =
        ZitadelClient::new(base.clone(), "zitadel.harmony.local", Pat::from("pat")).unwrap();
    assert_eq!(
        zitadel.my_org().await.expect("Zitadel reached directly").id,
        "100"
    );

    // The identity provider (device codes, refresh tokens): on loopback, and on a name pinned
    // with `resolve_to` (the k3d ingress), which a proxy would resolve itself.
    for (issuer, pin) in [
        (base.clone(), None),
        (
            format!("http://zitadel.harmony.invalid:{}", addr.port()),
            Some(addr),
        ),
    ] {
        let endpoints = harmony_secret::ZitadelOidcAuth::new(&issuer, "harmony-cli")
            .with_resolve_to(pin)
            .discover()
            .await
            .unwrap_or_else(|e| panic!("{issuer} reached directly: {e}"));
        assert!(endpoints.device_authorization_endpoint.is_some());
    }

    // OpenBao on a name pinned with `resolve_to`.
    let pinned = harmony_secret::openbao_http::OpenbaoHttpOptions {
        resolve_to: Some(addr),
        ..Default::default()
    };
    let setup = OpenbaoSetup::new(
        format!("http://bao.harmony.invalid:{}", addr.port()),
        Arc::new(FileKeyStore::new(dir.path().join("keys2.json"))),
    )
    .unwrap()
    .with_http_options(&pinned)
    .unwrap()
    .with_ready_timeout(Duration::from_secs(2));
    setup
        .seal_status()
        .await
        .expect("pinned OpenBao reached directly");

    assert_eq!(
        hits.load(Ordering::SeqCst),
        6,
        "every request reached the server"
    );

    let logs = LOGS.0.lock().unwrap();
    assert!(
        logs.iter()
            .any(|l| l.contains("directly") && l.contains("127.0.0.2")),
        "the proxy that was skipped is named: {logs:?}"
    );
    assert!(
        !logs.iter().any(|l| l.contains(PROXY_PASSWORD)),
        "the proxy password was logged: {logs:?}"
    );
}

#[tokio::test]
async fn a_proxy_password_never_appears_in_a_client_error() {
    // kube names the proxy in errors about it (here: SOCKS5, a feature Harmony does not enable).
    let mut config = kube::Config::new("https://k8s.example.com:6443".parse().unwrap());
    config.proxy_url = Some(
        format!("socks5://alice:{PROXY_PASSWORD}@proxy.example.com:1080")
            .parse()
            .unwrap(),
    );
    let err = K8sClient::from_config(config).unwrap_err().to_string();
    assert!(err.contains("proxy.example.com:1080"), "{err}");
    assert!(!err.contains(PROXY_PASSWORD), "{err}");
}

const BAD_NO_PROXY_TEST: &str = "an_unreadable_no_proxy_is_named_with_the_fix";

#[test]
fn an_unreadable_no_proxy_is_named_with_the_fix() {
    if std::env::var_os(CHILD_MARKER).is_none() {
        // `export NO_PROXY=$NO_PROXY,127.0.0.1` with NO_PROXY unset: a leading empty entry.
        return run_test_in_child(
            BAD_NO_PROXY_TEST,
            "http://127.0.0.2:3128",
            Some(",127.0.0.1"),
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\ncurrent-context: k3d-test\nclusters:\n- name: k3d-test\n  cluster:\n    server: https://127.0.0.1:6550\ncontexts:\n- name: k3d-test\n  context:\n    cluster: k3d-test\n    user: admin\nusers:\n- name: admin\n  user:\n    token: not-a-secret\n",
    )
    .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let err = runtime
        .block_on(K8sClient::from_kubeconfig(Some(&kubeconfig), None))
        .unwrap_err()
        .to_string();
    assert!(err.contains("NO_PROXY"), "{err}");
    assert!(err.contains("value is empty"), "the cause is named: {err}");
    assert!(err.contains("no empty entries"), "the fix is named: {err}");
}
