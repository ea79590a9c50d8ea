//! `test_config_round_trip` (ROADMAP 9.4): store and read back config through the ONE loop
//! Score, on both implementations of `SecretVault + IdentityProvider`:
//!
//! - `test_config_round_trip_existing_stack` (normal suite): `ExistingStackTopology` against a
//!   real `bao` and a real OpenID provider, the scripted person approving the device flow;
//! - `test_config_round_trip` (`#[ignore]`, needs Docker): `K8sAnywhereTopology` deploying
//!   OpenBao on k3d, userpass login (`--skip-zitadel`: a Zitadel browser login cannot be
//!   scripted here). Run with `cargo test -p harmony_sso --test config_round_trip -- --ignored`.

use std::sync::Arc;
use std::time::Duration;

use harmony::infra::existing_stack::{ExistingStackConfig, ExistingStackTopology};
use harmony::infra::k8s_anywhere::K8sAnywhereTopology;
use harmony::interpret::Interpret;
use harmony::inventory::Inventory;
use harmony::score::Score;
use harmony::topology::{IdentityProvider, SecretVault, Topology};
use harmony_secret::DeviceCodeInfo;
use harmony_sso::app_config::{DemoDatabase, DemoService};
use harmony_sso::sso_loop::{LoopSettings, SsoConfigLoopScore};
use harmony_sso::summary::{LoginMethod, RunReport};
use harmony_test_support::{Human, HumanAction, Idp, IdpOptions, OpenBao};

fn settings(dir: &std::path::Path, sso: bool) -> LoopSettings {
    LoopSettings {
        mode_name: "test".into(),
        sso,
        yes: true,
        open_browser: Some(false),
        resolve_to: None,
        kv_mount: "secret".into(),
        jwt_role: "harmony-developer".into(),
        project: "harmony".into(),
        client_name: "harmony-cli".into(),
        session_dir: Some(dir.join("sessions")),
        sqlite_path: Some(dir.join("config.db")),
        stack_file: None,
        tls: Default::default(),
    }
}

async fn run_loop<T: Topology + SecretVault + IdentityProvider + 'static>(
    score: &SsoConfigLoopScore,
    topology: &T,
) -> RunReport {
    let interpret: Box<dyn Interpret<T>> = Score::<T>::create_interpret(score);
    interpret
        .execute(&Inventory::empty(), topology)
        .await
        .unwrap_or_else(|e| panic!("the loop failed: {e}"));
    score.take_report().expect("a report")
}

fn assert_read_back_from_openbao(report: &RunReport) {
    let keys: Vec<&str> = report.values.iter().map(|v| v.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            <DemoService as harmony_config::Config>::KEY,
            <DemoDatabase as harmony_config::Config>::KEY
        ]
    );
    for v in &report.values {
        assert!(
            v.source.starts_with("OpenBao at"),
            "{}: {}",
            v.key,
            v.source
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn test_config_round_trip_existing_stack() {
    let idp = Idp::start(IdpOptions::fast()).await;
    let (bao, init) = OpenBao::start_ready().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = ExistingStackConfig::new(bao.addr(), idp.issuer(), idp.client_id());
    config.admin_token = Some(init.root_token.clone().into());
    let topology = ExistingStackTopology::new(config).unwrap();
    topology.ensure_ready().await.unwrap();

    let human = Human::new("alice");
    let h = human.clone();
    let mut score = SsoConfigLoopScore::new(settings(dir.path(), true));
    score.device_prompt = Some(Arc::new(move |i: &DeviceCodeInfo| {
        h.start(i.url(), HumanAction::Approve, Duration::ZERO)
    }));

    let first = run_loop(&score, &topology).await;
    assert_eq!(first.login, Some(LoginMethod::DeviceFlow));
    assert_read_back_from_openbao(&first);
    assert!(first.values.iter().all(|v| v.stored_from.is_some()));
    assert_eq!(human.outcomes(), vec!["approved"]);
    let raw = bao
        .api_ok(
            &init.root_token,
            "GET",
            "secret/data/harmony/HarmonySsoDemoDatabase",
            None,
        )
        .await;
    assert_eq!(raw["data"]["data"]["user"], "demo");

    // The same Score again: nothing configured, no sign-in, nothing stored.
    let second = run_loop(&score, &topology).await;
    assert_eq!(second.changed_steps(), 0, "{}", second.render());
    assert_eq!(second.login, Some(LoginMethod::CachedSession));
    assert_read_back_from_openbao(&second);
    assert!(second.values.iter().all(|v| v.stored_from.is_none()));
    assert_eq!(human.times_called(), 1);
}

#[tokio::test]
#[ignore = "needs Docker + k3d (deploys OpenBao)"]
#[allow(
    unsafe_code,
    reason = "the Score reads its userpass config from the real environment (harmony_config)"
)]
async fn test_config_round_trip() {
    // SAFETY: set before any other thread of this test reads the environment.
    unsafe {
        std::env::set_var(
            "HARMONY_CONFIG_OpenbaoUserpassConfig",
            r#"{"username":"harmony-it","password":"harmony-it-password-1"}"#,
        );
    }
    let topology = K8sAnywhereTopology::from_env();
    topology.ensure_ready().await.expect("k3d cluster");
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(dir.path(), false);
    s.resolve_to = Some(topology.sso_stack().ingress_addr());
    let score = SsoConfigLoopScore::new(s);

    let first = run_loop(&score, &topology).await;
    assert_eq!(first.login, Some(LoginMethod::Userpass));
    assert_read_back_from_openbao(&first);

    let second = run_loop(&score, &topology).await;
    assert_eq!(second.changed_steps(), 0, "{}", second.render());
    assert_read_back_from_openbao(&second);
    assert!(second.values.iter().all(|v| v.stored_from.is_none()));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_value_only_in_the_local_sqlite_copy_is_shared_to_openbao() {
    use harmony_config::{Config, ConfigSource, SqliteSource};
    let idp = Idp::start(IdpOptions::fast()).await;
    let (bao, init) = OpenBao::start_ready().await;
    let dir = tempfile::tempdir().unwrap();
    // Saved locally while OpenBao was unreachable, say.
    let sqlite = SqliteSource::open(dir.path().join("config.db"))
        .await
        .unwrap();
    sqlite
        .set(
            DemoService::KEY,
            &serde_json::json!({"url": "https://from.sqlite", "replicas": 7}),
        )
        .await
        .unwrap();
    drop(sqlite);

    let mut config = ExistingStackConfig::new(bao.addr(), idp.issuer(), idp.client_id());
    config.admin_token = Some(init.root_token.clone().into());
    let topology = ExistingStackTopology::new(config).unwrap();
    let human = Human::new("alice");
    let h = human.clone();
    let mut score = SsoConfigLoopScore::new(settings(dir.path(), true));
    score.device_prompt = Some(Arc::new(move |i: &DeviceCodeInfo| {
        h.start(i.url(), HumanAction::Approve, Duration::ZERO)
    }));
    let report = run_loop(&score, &topology).await;
    assert_read_back_from_openbao(&report);
    let service = &report.values[0];
    assert!(
        service
            .stored_from
            .as_deref()
            .unwrap()
            .contains("config.db"),
        "{service:?}"
    );
    let raw = bao
        .api_ok(
            &init.root_token,
            "GET",
            "secret/data/harmony/HarmonySsoDemoService",
            None,
        )
        .await;
    assert_eq!(raw["data"]["data"]["replicas"], 7);
}

/// The local stack's OpenBao address is `http://bao.harmony.localhost:8080`, which not every
/// system resolver knows: `resolve_to` must carry it (the port stays the URL's).
#[tokio::test]
async fn a_localhost_openbao_host_is_reached_through_resolve_to() {
    use harmony_secret::{OpenbaoSecretStore, SecretStore};
    let (bao, init) = OpenBao::start_ready().await;
    let url = format!("http://bao.harmony-test.localhost:{}", bao.port());
    let store = OpenbaoSecretStore::builder()
        .url(url)
        .token(&init.root_token)
        .resolve_to(Some(std::net::SocketAddr::from((
            [127, 0, 0, 1],
            bao.port(),
        ))))
        .build()
        .await
        .unwrap();
    store
        .set_json("harmony", "ResolveTo", &serde_json::json!({"ok": true}))
        .await
        .unwrap();
    let raw = bao
        .api_ok(
            &init.root_token,
            "GET",
            "secret/data/harmony/ResolveTo",
            None,
        )
        .await;
    assert_eq!(raw["data"]["data"]["ok"], true);
}

/// `resolve_to` is for `.localhost` hosts only: an OpenBao under any other name keeps its own
/// DNS. A listener on 127.0.0.2 (same port) stands where `resolve_to` points; it must see no
/// connection while the real `bao` gets the write.
#[tokio::test]
async fn resolve_to_leaves_a_non_localhost_openbao_host_alone() {
    use harmony_secret::{OpenbaoSecretStore, SecretStore};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let (bao, init) = OpenBao::start_ready().await;
    let decoy = tokio::net::TcpListener::bind(("127.0.0.2", bao.port()))
        .await
        .expect("bind 127.0.0.2 (Linux loopback)");
    let connections = Arc::new(AtomicUsize::new(0));
    let seen = connections.clone();
    let accept = tokio::spawn(async move {
        while decoy.accept().await.is_ok() {
            seen.fetch_add(1, Ordering::SeqCst);
        }
    });
    let store = OpenbaoSecretStore::builder()
        .url(format!("http://localhost:{}", bao.port()))
        .token(&init.root_token)
        .resolve_to(Some(std::net::SocketAddr::from((
            [127, 0, 0, 2],
            bao.port(),
        ))))
        .build()
        .await
        .unwrap();
    store
        .set_json("harmony", "NoResolveTo", &serde_json::json!({"ok": true}))
        .await
        .unwrap();
    let raw = bao
        .api_ok(
            &init.root_token,
            "GET",
            "secret/data/harmony/NoResolveTo",
            None,
        )
        .await;
    assert_eq!(raw["data"]["data"]["ok"], true);
    assert_eq!(connections.load(Ordering::SeqCst), 0);
    accept.abort();
}
