//! `ExistingStackTopology`'s capabilities against a real `bao` and a real OpenID provider: what
//! it checks, what it says when something is missing, and its admin-token setup (idempotent).

use harmony::infra::existing_stack::{ExistingStackConfig, ExistingStackTopology};
use harmony::topology::{
    CapabilityError, DeviceClientRequest, IdentityProvider, JwtTrust, SecretVault,
    SecretVaultRequest, Topology,
};
use harmony_test_support::{Idp, IdpOptions, OpenBao, RecordingServer, Reply};

fn request(idp: &Idp) -> SecretVaultRequest {
    SecretVaultRequest {
        kv_mount: "secret".into(),
        policy: "harmony-dev".into(),
        jwt: Some(JwtTrust {
            issuer: idp.issuer().into(),
            audience: idp.client_id().into(),
            role: "harmony-developer".into(),
        }),
        userpass: None,
    }
}

fn client() -> DeviceClientRequest {
    DeviceClientRequest {
        project: "harmony".into(),
        client_name: "harmony-cli".into(),
    }
}

#[tokio::test]
async fn uninitialised_then_sealed_openbao_is_reported_with_what_to_do() {
    let mut bao = OpenBao::start().await;
    let topology = ExistingStackTopology::new(ExistingStackConfig::new(
        bao.addr(),
        "http://127.0.0.1:1",
        "cli",
    ))
    .unwrap();
    let err = topology.ensure_ready().await.unwrap_err().to_string();
    assert!(err.contains("not initialised"), "{err}");

    bao.init_unseal().await;
    bao.restart().await; // comes back sealed
    let err = topology.ensure_ready().await.unwrap_err().to_string();
    assert!(err.contains("is sealed: unseal it"), "{err}");

    let sealed = topology.ensure_ready().await.unwrap_err();
    assert!(
        matches!(sealed.source.as_deref(), Some(CapabilityError::Server(_))),
        "{sealed:?}"
    );

    bao.stop();
    let down = topology.ensure_ready().await.unwrap_err();
    // "Down" is its own kind (a caller may retry it), "sealed" is not.
    assert!(
        matches!(
            down.source.as_deref(),
            Some(CapabilityError::Unreachable { .. })
        ),
        "{down:?}"
    );
    let err = down.to_string();
    assert!(err.contains("does not answer"), "{err}");
    assert!(err.contains("--openbao-url"), "{err}");
}

#[tokio::test]
async fn discovery_is_checked_and_a_wrong_issuer_is_named() {
    let idp = Idp::start(IdpOptions::fast()).await;
    let (bao, _init) = OpenBao::start_ready().await;
    let ok = ExistingStackTopology::new(ExistingStackConfig::new(
        bao.addr(),
        idp.issuer(),
        idp.client_id(),
    ))
    .unwrap();
    let c = ok.ensure_device_client(&client()).await.unwrap();
    assert_eq!(c.issuer, idp.issuer());
    assert_eq!(c.audience, idp.client_id());
    assert!(
        c.device_authorization_endpoint
            .unwrap()
            .ends_with("/device/auth")
    );
    assert!(c.steps.iter().all(|s| !s.changed));
    let before = idp.requests().len();

    let wrong = ExistingStackTopology::new(ExistingStackConfig::new(
        bao.addr(),
        "http://127.0.0.1:1",
        idp.client_id(),
    ))
    .unwrap();
    let err = wrong.ensure_device_client(&client()).await.unwrap_err();
    // A kind to match, keeping the connection error (without the URL) as its source.
    match &err {
        CapabilityError::Unreachable { server, source, .. } => {
            assert!(server.contains("127.0.0.1:1"), "{server}");
            assert!(source.is_connect(), "{source:?}");
            assert!(source.url().is_none(), "the cause must not carry the URL");
        }
        other => panic!("expected Unreachable, got {other:?}"),
    }
    let err = err.to_string();
    assert!(err.contains("--issuer"), "{err}");
    // Checking never starts a device authorization.
    assert!(
        idp.requests()[before..]
            .iter()
            .all(|r| r.path != "/device/auth")
    );
}

#[tokio::test]
async fn without_jwt_auth_and_no_admin_token_it_says_how_to_enable_it() {
    let idp = Idp::start(IdpOptions::fast()).await;
    let (bao, _init) = OpenBao::start_ready().await;
    let topology = ExistingStackTopology::new(ExistingStackConfig::new(
        bao.addr(),
        idp.issuer(),
        idp.client_id(),
    ))
    .unwrap();
    let err = topology
        .ensure_secret_vault(&request(&idp))
        .await
        .unwrap_err();
    assert!(matches!(err, CapabilityError::Server(_)), "{err:?}");
    let err = err.to_string();
    assert!(err.contains("no JWT auth at jwt/"), "{err}");
    assert!(err.contains("bao auth enable -path=jwt jwt"), "{err}");
    assert!(err.contains("--admin-token"), "{err}");
}

#[tokio::test]
async fn with_an_admin_token_the_vault_is_configured_once_then_unchanged() {
    let idp = Idp::start(IdpOptions::fast()).await;
    let bao = OpenBao::start().await;
    let init = bao.init_unseal().await; // no KV mount, no policy, no auth yet
    // Every request to OpenBao goes through a recording proxy: what the server saw.
    let proxy = RecordingServer::start(Reply::Proxy {
        base_url: bao.addr().to_string(),
    })
    .await;
    let mut config = ExistingStackConfig::new(proxy.url(), idp.issuer(), idp.client_id());
    config.admin_token = Some(init.root_token.clone().into());
    let topology = ExistingStackTopology::new(config).unwrap();
    assert!(!format!("{topology:?}").contains(&init.root_token));

    let first = topology.ensure_secret_vault(&request(&idp)).await.unwrap();
    assert!(first.steps.iter().any(|s| s.changed), "{first:?}");
    assert_eq!(first.jwt_role.as_deref(), Some("harmony-developer"));
    let mounts = bao
        .api_ok(&init.root_token, "GET", "sys/mounts", None)
        .await;
    assert_eq!(mounts["data"]["secret/"]["options"]["version"], "2");
    let policy = bao
        .api_ok(
            &init.root_token,
            "GET",
            "sys/policies/acl/harmony-dev",
            None,
        )
        .await;
    assert!(
        policy["data"]["policy"]
            .as_str()
            .unwrap()
            .contains("secret/data/harmony/*")
    );
    let role = bao
        .api_ok(
            &init.root_token,
            "GET",
            "auth/jwt/role/harmony-developer",
            None,
        )
        .await;
    assert_eq!(
        role["data"]["bound_audiences"],
        serde_json::json!([idp.client_id()])
    );

    let writes = |from: usize| -> Vec<String> {
        proxy.requests()[from..]
            .iter()
            .filter(|r| r.method != "GET" && r.method != "LIST")
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    };
    assert!(
        !writes(0).is_empty(),
        "the first run wrote nothing to OpenBao"
    );
    let before_second = proxy.requests().len();

    let second = topology.ensure_secret_vault(&request(&idp)).await.unwrap();
    assert!(second.steps.iter().all(|s| !s.changed), "{second:?}");
    // OpenBao saw reads only: the second run changed nothing on the server.
    assert!(proxy.requests().len() > before_second);
    assert_eq!(writes(before_second), Vec::<String>::new());
    for step in first.steps.iter().chain(&second.steps) {
        assert!(!step.message.contains(&init.root_token));
    }
}

/// A CA and a server certificate for 127.0.0.1, as PEM files: (the PKI, whose drop removes
/// them; ca; cert; key).
fn company_pki() -> (
    harmony_test_support::PrivatePki,
    std::path::PathBuf,
    std::path::PathBuf,
    std::path::PathBuf,
) {
    let pki = harmony_test_support::PrivatePki::new();
    let (ca, cert, key) = (pki.ca.clone(), pki.cert.clone(), pki.key.clone());
    (pki, ca, cert, key)
}

/// A company CA installed on the machine (the OS trust store; rustls-native-certs honours
/// `SSL_CERT_FILE`) is trusted by the existing-stack checks as it is by the secret store, so
/// they do not refuse an OpenBao the store would use. Runs in a child process (the OS store is
/// read once per process).
#[tokio::test]
async fn existing_stack_checks_trust_the_os_trust_store_like_the_store() {
    if let Ok(addr) = std::env::var("HARMONY_TEST_EXISTING_OS_STORE_ADDR") {
        let topology =
            ExistingStackTopology::new(ExistingStackConfig::new(addr, "http://127.0.0.1:1", "cli"))
                .unwrap();
        let access = topology
            .ensure_secret_vault(&request_without_jwt())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(access.steps[0].message.contains("unsealed"), "{access:?}");
        return;
    }
    let (_dir, ca, cert, key) = company_pki();
    let bao = OpenBao::start_tls(harmony_test_support::BaoTls {
        cert_pem: cert,
        key_pem: key,
        ca_pem: ca.clone(),
        ..Default::default()
    })
    .await;
    bao.init_unseal().await;
    let child = |cert_file: &std::path::Path| {
        std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "existing_stack_checks_trust_the_os_trust_store_like_the_store",
                "--nocapture",
            ])
            .env("HARMONY_TEST_EXISTING_OS_STORE_ADDR", bao.addr())
            .env("SSL_CERT_FILE", cert_file)
            .env_remove("SSL_CERT_DIR")
            .output()
            .unwrap()
    };
    let trusted = child(&ca);
    assert!(
        trusted.status.success() && String::from_utf8_lossy(&trusted.stdout).contains("1 passed"),
        "{}{}",
        String::from_utf8_lossy(&trusted.stdout),
        String::from_utf8_lossy(&trusted.stderr)
    );
    // Control: another CA as the machine's store, and the check refuses the server.
    let (_other_dir, other_ca, _, _) = company_pki();
    let untrusted = child(&other_ca);
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&untrusted.stdout),
        String::from_utf8_lossy(&untrusted.stderr)
    );
    assert!(
        !untrusted.status.success() && output.contains("does not answer"),
        "{output}"
    );
}

fn request_without_jwt() -> SecretVaultRequest {
    SecretVaultRequest {
        kv_mount: "secret".into(),
        policy: "harmony-dev".into(),
        jwt: None,
        userpass: None,
    }
}

/// An OpenBao whose certificate is signed by a private CA not installed on the machine: without
/// the CA the check fails naming the certificate problem and `--openbao-ca-cert`, and writes
/// nothing; with `tls.ca_cert` the checks AND the admin-token setup reach it (the role is on the
/// server). The IdP stays http: its TLS is separate.
#[tokio::test]
async fn a_private_ca_is_refused_with_the_flag_to_set_then_trusted_with_ca_cert() {
    let idp = Idp::start(IdpOptions::fast()).await;
    let (_dir, ca, cert, key) = company_pki();
    let bao = OpenBao::start_tls(harmony_test_support::BaoTls {
        cert_pem: cert,
        key_pem: key,
        ca_pem: ca.clone(),
        ..Default::default()
    })
    .await;
    let init = bao.init_unseal().await;
    let mut config = ExistingStackConfig::new(bao.addr(), idp.issuer(), idp.client_id());
    config.admin_token = Some(init.root_token.clone().into());

    let untrusted = ExistingStackTopology::new(config.clone()).unwrap();
    let err = untrusted
        .ensure_secret_vault(&request(&idp))
        .await
        .unwrap_err();
    assert!(
        matches!(err, CapabilityError::Unreachable { .. }),
        "{err:?}"
    );
    let text = harmony::maestro::error_report(&err);
    assert!(
        text.contains("not signed by a CA this machine trusts"),
        "{text}"
    );
    assert!(
        text.contains("--openbao-ca-cert (OPENBAO_CACERT)"),
        "{text}"
    );
    assert!(text.contains("UnknownIssuer"), "{text}");
    assert!(!text.contains(&init.root_token), "{text}");
    let auths = bao.api_ok(&init.root_token, "GET", "sys/auth", None).await;
    assert!(auths["data"]["jwt/"].is_null(), "{auths}");

    config.tls.ca_cert = Some(ca);
    let trusted = ExistingStackTopology::new(config).unwrap();
    let access = trusted.ensure_secret_vault(&request(&idp)).await.unwrap();
    assert!(access.steps[0].message.contains("unsealed"), "{access:?}");
    assert!(access.steps.iter().any(|s| s.changed), "{access:?}");
    let role = bao
        .api_ok(
            &init.root_token,
            "GET",
            "auth/jwt/role/harmony-developer",
            None,
        )
        .await;
    assert_eq!(
        role["data"]["bound_audiences"],
        serde_json::json!([idp.client_id()])
    );
    // The OpenID provider's client is not OpenBao's: its own (default) trust still works.
    let client = trusted.ensure_device_client(&client()).await.unwrap();
    assert_eq!(client.issuer, idp.issuer());
}

/// The OpenID provider has its own trust: OpenBao's CA is not used for it. Behind a private CA
/// the discovery check names `--sso-ca-cert`; with `sso_tls.ca_cert` the request reaches the
/// server (it recorded the discovery GET), which then answers with another issuer.
#[tokio::test]
async fn the_identity_provider_is_trusted_through_its_own_ca() {
    let (_dir, ca, cert, key) = company_pki();
    let idp = RecordingServer::start_tls(
        Reply::Json {
            status: 200,
            body: r#"{"issuer":"https://other.example.com"}"#.into(),
        },
        &cert,
        &key,
    )
    .await;
    let mut config = ExistingStackConfig::new("http://127.0.0.1:1", idp.url(), "cli");
    config.tls.ca_cert = Some(ca.clone());
    let err = ExistingStackTopology::new(config.clone())
        .unwrap()
        .ensure_device_client(&client())
        .await
        .unwrap_err();
    assert!(
        matches!(err, CapabilityError::Unreachable { .. }),
        "{err:?}"
    );
    let text = harmony::maestro::error_report(&err);
    assert!(
        text.contains("--sso-ca-cert (HARMONY_SSO_CACERT)"),
        "{text}"
    );
    assert!(idp.requests().is_empty(), "{:?}", idp.requests());

    config.sso_tls.ca_cert = Some(ca);
    let err = ExistingStackTopology::new(config)
        .unwrap()
        .ensure_device_client(&client())
        .await
        .unwrap_err();
    assert!(matches!(err, CapabilityError::Server(_)), "{err:?}");
    assert!(err.to_string().contains("names the issuer"), "{err}");
    let seen: Vec<String> = idp.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(seen, ["/.well-known/openid-configuration"]);
}

/// Without an admin token the JWT auth is looked for in the namespace: a JWT auth enabled only
/// in `team-a` is missing for the root namespace and found with `namespace`.
#[tokio::test]
async fn the_jwt_auth_check_looks_in_the_namespace() {
    let idp = Idp::start(IdpOptions::fast()).await;
    let bao = OpenBao::start().await;
    let init = bao.init_unseal().await;
    let root = init.root_token.as_str();
    bao.api_ok(root, "POST", "sys/namespaces/team-a", None)
        .await;
    bao.api_ok(
        root,
        "POST",
        "team-a/sys/auth/jwt",
        Some(serde_json::json!({ "type": "jwt" })),
    )
    .await;
    let mut config = ExistingStackConfig::new(bao.addr(), idp.issuer(), idp.client_id());
    let err = ExistingStackTopology::new(config.clone())
        .unwrap()
        .ensure_secret_vault(&request(&idp))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no JWT auth at jwt/"), "{err}");

    config.namespace = Some("team-a".into());
    let access = ExistingStackTopology::new(config)
        .unwrap()
        .ensure_secret_vault(&request(&idp))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        access
            .steps
            .iter()
            .any(|s| s.message.contains("auth/jwt/ answers")),
        "{access:?}"
    );
}
