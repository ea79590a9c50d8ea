//! `OpenbaoSetup` (the API-level part of `OpenbaoSetupScore`) against a REAL non-dev OpenBao
//! server and a REAL OpenID provider (harmony_test_support). These run everywhere (no cluster).

use std::sync::Arc;
use std::time::Duration;

use harmony::infra::openbao_admin::{
    FileKeyStore, OpenbaoDesiredState, OpenbaoJwtAuth, OpenbaoKeyStore, OpenbaoSetup,
    OpenbaoSetupError, OpenbaoUserpass,
};
use harmony_secret::{DeviceCodeInfo, OpenbaoSecretStore, SecretStore};
use harmony_test_support::{Human, HumanAction, Idp, IdpOptions, OpenBao};
use serde_json::json;

const USER: &str = "harmony";
const ROLE: &str = "harmony-developer";

struct Env {
    bao: OpenBao,
    idp: Idp,
    dir: tempfile::TempDir,
}

impl Env {
    async fn start() -> Env {
        let idp = Idp::start(IdpOptions::fast()).await;
        let bao = OpenBao::start().await;
        Env {
            bao,
            idp,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn store(&self) -> Arc<FileKeyStore> {
        Arc::new(FileKeyStore::new(
            self.dir.path().join("k3d-test/openbao-openbao.json"),
        ))
    }

    fn setup(&self) -> OpenbaoSetup {
        OpenbaoSetup::new(self.bao.addr(), self.store())
            .unwrap()
            .with_ready_timeout(Duration::from_secs(30))
    }

    fn desired(&self, password: &str) -> OpenbaoDesiredState {
        OpenbaoDesiredState {
            userpass: Some(OpenbaoUserpass {
                username: USER.into(),
                password: password.into(),
                policies: vec!["harmony-dev".into()],
            }),
            jwt: Some(OpenbaoJwtAuth::for_issuer(
                self.idp.issuer(),
                self.idp.client_id(),
                ROLE,
                vec!["harmony-dev".into()],
            )),
            ..Default::default()
        }
    }

    async fn root_token(&self) -> String {
        self.store().load().await.unwrap().unwrap().root_token
    }

    async fn userpass_login(&self, password: &str) -> Option<String> {
        let (status, body) = self
            .bao
            .api(
                None,
                "POST",
                &format!("auth/userpass/login/{USER}"),
                Some(json!({ "password": password })),
            )
            .await;
        (status == 200).then(|| body["auth"]["client_token"].as_str().unwrap().to_string())
    }
}

#[tokio::test]
async fn fresh_server_is_initialised_unsealed_configured_and_second_run_writes_nothing() {
    let env = Env::start().await;
    assert_eq!(
        env.bao.health().await,
        Some(501),
        "fixture should be uninitialised"
    );

    let first = env.setup().run(&env.desired("pw-one")).await.unwrap();
    assert!(first.initialized && first.unsealed, "{first:?}");
    for expected in [
        "PUT sys/init",
        "PUT sys/unseal",
        "POST sys/mounts/secret",
        "PUT sys/policies/acl/harmony-dev",
        "POST sys/auth/userpass",
        "POST auth/userpass/users/harmony",
        "POST sys/auth/jwt",
        "POST auth/jwt/config",
        "POST auth/jwt/role/harmony-developer",
    ] {
        assert!(
            first.writes.iter().any(|w| w == expected),
            "{expected} missing in {:?}",
            first.writes
        );
    }
    assert_eq!(env.bao.health().await, Some(200));

    // The key file is private.
    use std::os::unix::fs::PermissionsExt;
    let key_file = env.dir.path().join("k3d-test/openbao-openbao.json");
    assert_eq!(
        std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // The userpass user can use secret/data/harmony/* and nothing else.
    let token = env.userpass_login("pw-one").await.expect("userpass login");
    let (status, _) = env
        .bao
        .api(
            Some(&token),
            "POST",
            "secret/data/harmony/probe",
            Some(json!({"data": {"v": "1"}})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = env.bao.api(Some(&token), "GET", "sys/mounts", None).await;
    assert_eq!(status, 403);
    let (status, body) = env
        .bao
        .api(
            Some(&env.root_token().await),
            "GET",
            "auth/jwt/config",
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["bound_issuer"], env.idp.issuer());

    let second = env.setup().run(&env.desired("pw-one")).await.unwrap();
    assert!(
        second.writes.is_empty(),
        "second run wrote: {:?}",
        second.writes
    );
    assert!(!second.initialized && !second.unsealed);
}

#[tokio::test]
async fn restarted_server_comes_back_sealed_and_only_unseal_is_sent() {
    let mut env = Env::start().await;
    env.setup().run(&env.desired("pw")).await.unwrap();
    env.bao.restart().await;
    assert_eq!(
        env.bao.health().await,
        Some(503),
        "a restarted server is sealed"
    );

    let report = env.setup().run(&env.desired("pw")).await.unwrap();
    assert!(report.unsealed && !report.initialized);
    assert_eq!(report.writes, vec!["PUT sys/unseal".to_string()]);
    assert_eq!(env.bao.health().await, Some(200));
    assert!(env.userpass_login("pw").await.is_some());

    let again = env.setup().run(&env.desired("pw")).await.unwrap();
    assert!(again.writes.is_empty(), "{:?}", again.writes);
}

#[tokio::test]
async fn changed_password_rewrites_only_the_user() {
    let env = Env::start().await;
    env.setup().run(&env.desired("old-pw")).await.unwrap();
    let report = env.setup().run(&env.desired("new-pw")).await.unwrap();
    assert_eq!(
        report.writes,
        vec!["POST auth/userpass/users/harmony".to_string()]
    );
    assert!(env.userpass_login("old-pw").await.is_none());
    assert!(env.userpass_login("new-pw").await.is_some());
    let again = env.setup().run(&env.desired("new-pw")).await.unwrap();
    assert!(again.writes.is_empty(), "{:?}", again.writes);
}

#[tokio::test]
async fn drifted_policy_and_role_are_put_back() {
    let env = Env::start().await;
    env.setup().run(&env.desired("pw")).await.unwrap();
    let root = env.root_token().await;
    env.bao
        .api_ok(
            &root,
            "PUT",
            "sys/policies/acl/harmony-dev",
            Some(json!({"policy": "path \"x/*\" { capabilities = [\"read\"] }"})),
        )
        .await;
    env.bao
        .api_ok(
            &root,
            "POST",
            &format!("auth/jwt/role/{ROLE}"),
            Some(json!({"role_type": "jwt", "bound_audiences": ["someone-else"], "user_claim": "email", "token_policies": ["harmony-dev"], "token_ttl": "4h", "token_max_ttl": "24h"})),
        )
        .await;
    let report = env.setup().run(&env.desired("pw")).await.unwrap();
    assert_eq!(
        report.writes,
        vec![
            "PUT sys/policies/acl/harmony-dev".to_string(),
            format!("POST auth/jwt/role/{ROLE}")
        ]
    );
}

#[tokio::test]
async fn initialised_server_without_keys_is_a_clear_error_not_a_reinit() {
    let env = Env::start().await;
    env.setup().run(&env.desired("pw")).await.unwrap();
    let other_store = Arc::new(FileKeyStore::new(
        env.dir.path().join("elsewhere/keys.json"),
    ));
    let err = OpenbaoSetup::new(env.bao.addr(), other_store)
        .unwrap()
        .run(&env.desired("pw"))
        .await
        .unwrap_err();
    assert!(matches!(err, OpenbaoSetupError::State(_)), "{err:?}");
    assert!(err.to_string().contains("unseal keys"), "{err}");
    let root = env.root_token().await;
    assert!(!err.to_string().contains(&root));
}

#[tokio::test]
async fn device_flow_login_works_after_jwt_setup() {
    let env = Env::start().await;
    env.setup().run(&env.desired("pw")).await.unwrap();

    let human = Human::new("alice");
    let person = human.clone();
    let cache = tempfile::tempdir().unwrap();
    let store = OpenbaoSecretStore::builder()
        .url(env.bao.addr())
        .zitadel_sso(env.idp.issuer(), env.idp.client_id())
        .jwt_auth(ROLE, "jwt")
        .session_cache_dir(cache.path())
        .open_browser(Some(false))
        .device_code_prompt(Arc::new(move |info: &DeviceCodeInfo| {
            person.start(info.url(), HumanAction::Approve, Duration::ZERO)
        }))
        .build()
        .await
        .unwrap();
    store
        .set_json("harmony", "SsoProbe", &json!({"ok": true}))
        .await
        .unwrap();
    assert_eq!(
        store.get_json("harmony", "SsoProbe").await.unwrap(),
        json!({"ok": true})
    );
    assert_eq!(human.outcomes(), vec!["approved"]);
}

#[tokio::test]
async fn unreachable_issuer_is_reported_on_the_jwt_config_write() {
    let env = Env::start().await;
    let mut desired = env.desired("pw");
    let dead = format!("http://127.0.0.1:{}", harmony_test_support::free_port());
    let jwt = desired.jwt.as_mut().unwrap();
    jwt.oidc_discovery_url = dead.clone();
    jwt.bound_issuer = dead;
    let err = env.setup().run(&desired).await.unwrap_err();
    match &err {
        OpenbaoSetupError::Api {
            request, status, ..
        } => {
            assert_eq!(request, "POST auth/jwt/config");
            assert_eq!(*status, 400);
        }
        other => panic!("unexpected {other:?}"),
    }
    // Everything before the JWT step is in place, and a fixed run finishes the job.
    let report = env.setup().run(&env.desired("pw")).await.unwrap();
    assert!(!report.initialized);
    assert!(
        report.writes.iter().all(|w| w.contains("jwt")),
        "{:?}",
        report.writes
    );
}

/// `OpenbaoSetup` goes through harmony_secret's OpenBao HTTP layer: every request it sends
/// says `X-Vault-Request: true` (a Bao Agent/Proxy with `require_request_header` needs it), as
/// seen by a recording server in front of the real OpenBao.
#[tokio::test]
async fn every_setup_request_carries_x_vault_request() {
    let bao = OpenBao::start().await;
    let proxy = harmony_test_support::RecordingServer::start(harmony_test_support::Reply::Proxy {
        base_url: bao.addr().to_string(),
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FileKeyStore::new(dir.path().join("keys.json")));
    let report = OpenbaoSetup::new(proxy.url(), store)
        .unwrap()
        .with_ready_timeout(Duration::from_secs(30))
        .run(&OpenbaoDesiredState::default())
        .await
        .unwrap();
    assert!(report.initialized && report.changed());
    let seen = proxy.requests();
    assert!(seen.iter().any(|r| r.path == "/v1/sys/init"), "{seen:?}");
    for r in &seen {
        assert_eq!(
            r.header("x-vault-request"),
            Some("true"),
            "{} {}",
            r.method,
            r.path
        );
    }
}

/// An OpenBao with a TLS listener and a private CA: the setup trusts it through the shared
/// HTTP layer's options, and refuses it (naming the CA option) without them.
#[tokio::test]
async fn a_tls_openbao_with_a_private_ca_is_set_up_with_its_ca() {
    use harmony_secret::openbao_http::{OpenbaoHttpOptions, TlsOptions};
    let dir = tempfile::tempdir().unwrap();
    let pki = harmony_test_support::PrivatePki::new();
    let tls = harmony_test_support::BaoTls {
        ca_pem: pki.ca.clone(),
        cert_pem: pki.cert.clone(),
        key_pem: pki.key.clone(),
        ..Default::default()
    };
    let bao = OpenBao::start_tls(tls.clone()).await;
    let store = Arc::new(FileKeyStore::new(dir.path().join("keys.json")));
    let setup = || {
        OpenbaoSetup::new(bao.addr(), store.clone())
            .unwrap()
            .with_ready_timeout(Duration::from_secs(2))
    };

    let e = setup()
        .run(&OpenbaoDesiredState::default())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("BAO_CACERT"), "{e}");
    assert_eq!(bao.health().await, Some(501), "nothing was initialised");

    let options = OpenbaoHttpOptions {
        tls: TlsOptions {
            ca_cert: Some(tls.ca_pem.clone()),
            ..Default::default()
        },
        ..Default::default()
    };
    let report = setup()
        .with_http_options(&options)
        .unwrap()
        .run(&OpenbaoDesiredState::default())
        .await
        .unwrap();
    assert!(report.initialized && report.unsealed);
    assert_eq!(bao.health().await, Some(200));
}
