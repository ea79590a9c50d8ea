//! The fixtures themselves: real processes, real state transitions.

use std::time::Duration;

use harmony_test_support::{Human, HumanAction, Idp, IdpOptions, OpenBao};
use serde_json::json;

#[tokio::test]
async fn openbao_lifecycle_uninitialized_active_sealed_and_persistent() {
    let mut bao = OpenBao::start().await;
    assert_eq!(
        bao.health().await,
        Some(501),
        "a fresh server is uninitialized"
    );
    let init = bao.init_unseal().await;
    assert_eq!(bao.health().await, Some(200));
    bao.enable_kv_v2(&init.root_token, "secret").await;
    bao.api_ok(
        &init.root_token,
        "POST",
        "secret/data/x",
        Some(json!({"data": {"v": 1}})),
    )
    .await;

    let pid = bao.pid().unwrap();
    bao.restart().await;
    assert_ne!(bao.pid().unwrap(), pid);
    assert_eq!(
        bao.health().await,
        Some(503),
        "a restarted server is sealed"
    );
    bao.unseal(&init.unseal_key).await;
    let v = bao
        .api_ok(&init.root_token, "GET", "secret/data/x", None)
        .await;
    assert_eq!(v["data"]["data"], json!({"v": 1}));

    bao.stop();
    assert_eq!(bao.health().await, None);
}

#[tokio::test]
async fn idp_device_flow_with_the_human_and_request_log() {
    let idp = Idp::start(IdpOptions::fast()).await;
    let http = reqwest::Client::new();
    let d: serde_json::Value = http
        .post(format!("{}/device/auth", idp.issuer()))
        .form(&[
            ("client_id", idp.client_id()),
            ("scope", "openid email offline_access"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["interval"], 1);
    let human = Human::new("bob");
    human.start(
        d["verification_uri_complete"].as_str().unwrap(),
        HumanAction::Approve,
        Duration::ZERO,
    );
    assert_eq!(human.outcomes(), vec!["approved"]);
    let token: serde_json::Value = http
        .post(format!("{}/token", idp.issuer()))
        .form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("device_code", d["device_code"].as_str().unwrap()),
            ("client_id", idp.client_id()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        token["id_token"].is_string() && token["refresh_token"].is_string(),
        "{token}"
    );
    let polls = idp.token_requests("urn:ietf:params:oauth:grant-type:device_code");
    assert_eq!(polls.len(), 1);
    assert_eq!(polls[0].status, 200);
    assert!(idp.requests().iter().any(|r| r.path == "/device/auth"));
}

/// The port picked for bao was taken by someone else before bao bound it: start() tries new ports.
#[tokio::test]
async fn openbao_start_retries_on_new_ports_when_its_port_was_taken() {
    let squatter = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = squatter.local_addr().unwrap().port();
    let bao = OpenBao::start_trying_port_first(Some(taken)).await;
    assert_ne!(bao.port(), taken);
    assert_eq!(bao.health().await, Some(501));
}

/// Same for a raft cluster: every node names every other in `retry_join`, so all start again on
/// new ports.
#[tokio::test]
async fn openbao_raft_cluster_starts_on_new_ports_when_a_port_was_taken() {
    let squatter = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = squatter.local_addr().unwrap().port();
    let nodes = OpenBao::start_raft_cluster_trying_port_first(2, Some(taken)).await;
    assert!(nodes.iter().all(|n| n.port() != taken));
    for node in &nodes {
        assert_eq!(node.health().await, Some(501));
    }
}

/// Another server ANSWERS on the port picked for bao (e.g. another test's bao): its answers must
/// not be taken for this bao's, which exits with "address already in use" and is retried.
#[tokio::test]
async fn openbao_start_is_not_fooled_by_another_server_answering_on_its_port() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let squatter = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let taken = squatter.local_addr().unwrap().port();
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = answered.clone();
    let server = tokio::spawn(async move {
        loop {
            let Ok((mut conn, _)) = squatter.accept().await else {
                return;
            };
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf).await;
            let _ = conn
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}")
                .await;
        }
    });
    let bao = OpenBao::start_trying_port_first(Some(taken)).await;
    assert_ne!(bao.port(), taken);
    // The server it talks to is an uninitialised bao, not the squatter (which answers 200).
    assert_eq!(bao.health().await, Some(501));
    server.abort();
}

/// A run that never finishes is killed and reported, instead of hanging the test forever.
#[tokio::test]
async fn human_outcomes_reports_a_run_that_never_ends() {
    let idp = Idp::start(IdpOptions::fast()).await;
    let human = Human::new("alice");
    // Waits an hour before doing anything.
    human.start(
        &format!("{}/device", idp.issuer()),
        HumanAction::Approve,
        Duration::from_secs(3600),
    );
    let outcomes = human.outcomes_within(Duration::from_millis(500));
    assert_eq!(outcomes.len(), 1);
    assert!(outcomes[0].starts_with("timed out after"), "{outcomes:?}");
}
