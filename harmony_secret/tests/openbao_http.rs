//! The OpenBao HTTP layer against real servers: redirects (bounded like the Vault client),
//! environment families (a token only goes to its own address), `X-Vault-Request` and
//! `X-Vault-Namespace`, and TLS with a CA made in the test. Assertions are on what the servers
//! received (a recording server in front of, or instead of, a real `bao`).

mod common;

use std::collections::HashMap;
use std::path::Path;

use harmony_secret::{
    OpenbaoSecretStore, OpenbaoSecretStoreBuilder, SecretStore, SecretStoreError,
};
use harmony_test_support::{BaoTls, OpenBao, RecordingServer, Reply};
use serde_json::json;

const PASSWORD: &str = "login-body-password-7f3a";

fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| map.get(k).cloned()
}

fn saw_secret(server: &RecordingServer, secret: &str) -> bool {
    server
        .requests()
        .iter()
        .any(|r| r.header("x-vault-token") == Some(secret) || r.body_text().contains(secret))
}

// ------------------------------------------------------------------------------------------
// Redirects

/// An HA standby answers 307 with the active node's address: the request (method, body and
/// token) is sent again there, once.
#[tokio::test]
async fn one_redirect_is_followed_with_method_body_and_token() {
    let (bao, init) = common::bao().await;
    let active = RecordingServer::start(Reply::Proxy {
        base_url: bao.addr().to_string(),
    })
    .await;
    let standby = RecordingServer::start(Reply::Redirect {
        status: 307,
        to: active.url().to_string(),
    })
    .await;
    let store = common::token_store(standby.url(), &init.root_token).await;
    store
        .set_json("app", "K", &json!({"v": "through-the-standby"}))
        .await
        .unwrap();
    assert_eq!(
        store.get_json("app", "K").await.unwrap(),
        json!({"v": "through-the-standby"})
    );
    let seen = active.requests();
    let write = seen
        .iter()
        .find(|r| r.method == "POST" && r.path == "/v1/secret/data/app/K")
        .expect("the active node got the write");
    assert!(
        write.body_text().contains("through-the-standby"),
        "{write:?}"
    );
    assert_eq!(
        write.header("x-vault-token"),
        Some(init.root_token.as_str())
    );
    assert_eq!(
        standby.requests().len(),
        2,
        "each request hit the standby once"
    );
}

#[tokio::test]
async fn a_second_redirect_is_refused_and_the_last_server_sees_nothing() {
    let last = RecordingServer::start(Reply::Json {
        status: 200,
        body: r#"{"auth":{"client_token":"stolen","lease_duration":60}}"#.into(),
    })
    .await;
    let second = RecordingServer::start(Reply::Redirect {
        status: 307,
        to: last.url().to_string(),
    })
    .await;
    let first = RecordingServer::start(Reply::Redirect {
        status: 307,
        to: second.url().to_string(),
    })
    .await;

    // A token read.
    let store = common::token_store(first.url(), "s.read-token-4411").await;
    let e = store.get_json("app", "K").await.unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains(&format!("from {}/v1/secret/data/app/K", second.url()))
            && msg.contains(&format!("to {}/v1/secret/data/app/K", last.url()))
            && msg.contains("second redirect"),
        "{msg}"
    );

    // A login body.
    let store = OpenbaoSecretStore::builder()
        .url(first.url())
        .userpass("alice", PASSWORD)
        .build()
        .await
        .unwrap();
    let e = store.get_json("app", "K").await.unwrap_err();
    assert!(e.to_string().contains("second redirect"), "{e}");

    assert!(last.requests().is_empty(), "{:?}", last.requests());
    assert!(
        saw_secret(&second, PASSWORD),
        "the one allowed hop got the login"
    );
}

#[tokio::test]
async fn a_redirect_from_https_to_http_is_refused_and_the_http_server_sees_nothing() {
    let pki = Pki::new();
    let plain = RecordingServer::start(Reply::Json {
        status: 200,
        body: r#"{"data":{"data":{"v":"x"}}}"#.into(),
    })
    .await;
    let tls = RecordingServer::start_tls(
        Reply::Redirect {
            status: 307,
            to: plain.url().to_string(),
        },
        &pki.cert,
        &pki.key,
    )
    .await;
    let store = OpenbaoSecretStore::builder()
        .url(tls.url())
        .ca_cert(&pki.ca)
        .userpass("alice", PASSWORD)
        .build()
        .await
        .unwrap();
    let e = store.get_json("app", "K").await.unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains(&format!("from {}/v1/auth/userpass/login/alice", tls.url()))
            && msg.contains(&format!("to {}/v1/auth/userpass/login/alice", plain.url()))
            && msg.contains("https to http"),
        "{msg}"
    );
    assert_eq!(tls.requests().len(), 1, "the TLS server got the login");
    assert!(plain.requests().is_empty(), "{:?}", plain.requests());
}

// ------------------------------------------------------------------------------------------
// Environment families

/// A leftover `VAULT_TOKEN` never goes to `OPENBAO_URL`; the store logs in with userpass, and
/// the error without userpass says which variable to set.
#[tokio::test]
async fn a_token_of_another_family_is_never_sent() {
    let (bao, init) = common::bao().await;
    bao.enable_userpass(&init.root_token, "userpass", "alice", PASSWORD, &["app-rw"])
        .await;
    let proxy = RecordingServer::start(Reply::Proxy {
        base_url: bao.addr().to_string(),
    })
    .await;
    let corporate = "s.corporate-vault-token-9c1d";
    let store = OpenbaoSecretStoreBuilder::from_env_lookup(lookup(&[
        ("OPENBAO_URL", proxy.url()),
        ("VAULT_TOKEN", corporate),
        ("OPENBAO_USERNAME", "alice"),
        ("OPENBAO_PASSWORD", PASSWORD),
    ]))
    .unwrap()
    .build()
    .await
    .unwrap();
    store.set_json("app", "K", &json!("v")).await.unwrap();
    assert!(!proxy.requests().is_empty());
    assert!(!saw_secret(&proxy, corporate), "{:?}", proxy.requests());

    let e = OpenbaoSecretStoreBuilder::from_env_lookup(lookup(&[
        ("OPENBAO_URL", proxy.url()),
        ("VAULT_TOKEN", corporate),
    ]))
    .unwrap()
    .build()
    .await
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("VAULT_TOKEN is set but was not used") && e.contains("set OPENBAO_TOKEN"),
        "{e}"
    );
    assert!(!e.contains(corporate), "{e}");

    // Its own family: BAO_ADDR + BAO_TOKEN, with VAULT_* of another server around.
    let other = RecordingServer::start(Reply::Json {
        status: 500,
        body: "{}".into(),
    })
    .await;
    let store = OpenbaoSecretStoreBuilder::from_env_lookup(lookup(&[
        ("BAO_ADDR", proxy.url()),
        ("BAO_TOKEN", &init.root_token),
        ("VAULT_ADDR", other.url()),
        ("VAULT_TOKEN", corporate),
    ]))
    .unwrap()
    .build()
    .await
    .unwrap();
    assert_eq!(store.get_json("app", "K").await.unwrap(), json!("v"));
    assert!(other.requests().is_empty());
    assert!(!saw_secret(&proxy, corporate));
}

// ------------------------------------------------------------------------------------------
// Headers and namespaces

#[tokio::test]
async fn every_request_says_x_vault_request_and_the_namespace_reaches_openbao() {
    let (bao, init) = common::bao().await;
    let root = &init.root_token;
    bao.api_ok(root, "POST", "sys/namespaces/team-a", None)
        .await;
    bao.api_ok(
        root,
        "POST",
        "team-a/sys/mounts/secret",
        Some(json!({"type": "kv", "options": {"version": "2"}})),
    )
    .await;
    let proxy = RecordingServer::start(Reply::Proxy {
        base_url: bao.addr().to_string(),
    })
    .await;
    let store = OpenbaoSecretStoreBuilder::from_env_lookup(lookup(&[
        ("VAULT_ADDR", proxy.url()),
        ("VAULT_TOKEN", root),
        ("VAULT_NAMESPACE", "team-a"),
    ]))
    .unwrap()
    .build()
    .await
    .unwrap();
    // A fresh KV mount upgrades itself for a moment: retry the first write, bounded.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while let Err(e) = store.set_json("app", "K", &json!({"in": "team-a"})).await {
        assert!(std::time::Instant::now() < deadline, "{e}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        store.get_json("app", "K").await.unwrap(),
        json!({"in": "team-a"})
    );
    // OpenBao put it in the namespace, not at the root.
    let (status, v) = bao
        .api(Some(root), "GET", "team-a/secret/data/app/K", None)
        .await;
    assert_eq!(
        (status, &v["data"]["data"]),
        (200, &json!({"in": "team-a"}))
    );
    let (status, _) = bao.api(Some(root), "GET", "secret/data/app/K", None).await;
    assert_eq!(status, 404);

    let seen = proxy.requests();
    assert!(seen.len() >= 2);
    for r in &seen {
        assert_eq!(r.header("x-vault-request"), Some("true"), "{r:?}");
        assert_eq!(r.header("x-vault-namespace"), Some("team-a"), "{r:?}");
    }
}

// ------------------------------------------------------------------------------------------
// TLS

use harmony_test_support::PrivatePki as Pki;

async fn tls_bao(pki: &Pki) -> (OpenBao, String) {
    let bao = OpenBao::start_tls(BaoTls {
        cert_pem: pki.cert.clone(),
        key_pem: pki.key.clone(),
        ca_pem: pki.ca.clone(),
        ..BaoTls::default()
    })
    .await;
    let init = bao.init_unseal().await;
    bao.enable_kv_v2(&init.root_token, "secret").await;
    (bao, init.root_token)
}

async fn round_trip(builder: OpenbaoSecretStoreBuilder) -> Result<(), SecretStoreError> {
    let store = builder.build().await?;
    store.set_json("app", "TLS", &json!("ok")).await?;
    assert_eq!(store.get_json("app", "TLS").await?, json!("ok"));
    Ok(())
}

#[tokio::test]
async fn a_real_tls_openbao_with_a_private_ca() {
    let pki = Pki::new();
    let (bao, root) = tls_bao(&pki).await;
    assert!(bao.addr().starts_with("https://127.0.0.1:"));
    let base = || OpenbaoSecretStore::builder().url(bao.addr()).token(&root);

    // Not trusted: a clear error naming the fix.
    let e = round_trip(base()).await.unwrap_err();
    assert!(
        matches!(e, SecretStoreError::Unreachable { .. })
            && e.to_string()
                .contains("is not signed by a trusted CA: give its CA with ca_cert")
            && e.to_string().contains("OPENBAO_CACERT with OPENBAO_URL"),
        "{e}"
    );
    // Trusted through the CA file, the CA folder, or skip-verify.
    round_trip(base().ca_cert(&pki.ca)).await.unwrap();
    round_trip(base().ca_path(&pki.ca_dir)).await.unwrap();
    round_trip(base().skip_tls(true)).await.unwrap();

    // The certificate names bao.test, not localhost: the server name fixes that.
    let port = bao.port();
    let by_name = || {
        OpenbaoSecretStore::builder()
            .url(format!("https://localhost:{port}"))
            .token(&root)
            .ca_cert(&pki.ca)
    };
    let e = round_trip(by_name()).await.unwrap_err();
    assert!(
        matches!(e, SecretStoreError::Unreachable { .. })
            && e.to_string().contains("does not name the host of the URL")
            && e.to_string().contains("or set tls_server_name")
            && !e.to_string().contains("not signed by a trusted CA"),
        "{e}"
    );
    round_trip(by_name().tls_server_name("bao.test"))
        .await
        .unwrap();

    // The same through the environment, BAO_ family.
    let b = OpenbaoSecretStoreBuilder::from_env_lookup(lookup(&[
        ("BAO_ADDR", &format!("https://localhost:{port}")),
        ("BAO_TOKEN", &root),
        ("BAO_CACERT", pki.ca.to_str().unwrap()),
        ("BAO_TLS_SERVER_NAME", "bao.test"),
    ]))
    .unwrap();
    round_trip(b).await.unwrap();
    let b = OpenbaoSecretStoreBuilder::from_env_lookup(lookup(&[
        ("VAULT_ADDR", bao.addr()),
        ("VAULT_TOKEN", &root),
        ("VAULT_SKIP_VERIFY", "true"),
    ]))
    .unwrap();
    round_trip(b).await.unwrap();
}

#[tokio::test]
async fn a_missing_ca_file_is_a_config_error_naming_it() {
    let missing = Path::new("/nonexistent/harmony-ca.pem");
    let e = OpenbaoSecretStore::builder()
        .url("https://127.0.0.1:1")
        .token("t")
        .ca_cert(missing)
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(e, SecretStoreError::Config { .. })
            && e.to_string().contains("/nonexistent/harmony-ca.pem"),
        "{e}"
    );
}

#[tokio::test]
async fn a_client_certificate_is_presented_when_openbao_requires_one() {
    let pki = Pki::new();
    let bao = OpenBao::start_tls(BaoTls {
        cert_pem: pki.cert.clone(),
        key_pem: pki.key.clone(),
        ca_pem: pki.ca.clone(),
        client_ca_pem: Some(pki.ca.clone()),
        fixture_client: Some((pki.client_cert.clone(), pki.client_key.clone())),
    })
    .await;
    let init = bao.init_unseal().await;
    bao.enable_kv_v2(&init.root_token, "secret").await;
    let base = || {
        OpenbaoSecretStore::builder()
            .url(bao.addr())
            .token(&init.root_token)
            .ca_cert(&pki.ca)
    };
    let e = round_trip(base()).await.unwrap_err();
    // The `certificate_required` alert (TLS 1.3) may come after our side of the handshake is
    // done: the request then fails as a closed connection and the options are named as a
    // possibility. Either way they are named.
    assert!(
        matches!(e, SecretStoreError::Unreachable { .. })
            && (e
                .to_string()
                .contains("the server wants a client certificate it trusts")
                || e.to_string()
                    .contains("if the server requires a client certificate it trusts"))
            && e.to_string().contains("give one with client_cert")
            && e.to_string()
                .contains("OPENBAO_CLIENT_CERT + OPENBAO_CLIENT_KEY"),
        "{e}"
    );
    // A client certificate from a CA the server does not trust: the same hint.
    let stranger = Pki::new();
    let e = round_trip(base().client_cert(&stranger.client_cert, &stranger.client_key))
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("the server wants a client certificate it trusts")
            || e.to_string()
                .contains("if the server requires a client certificate it trusts"),
        "{e}"
    );
    round_trip(base().client_cert(&pki.client_cert, &pki.client_key))
        .await
        .unwrap();
    let b = OpenbaoSecretStoreBuilder::from_env_lookup(lookup(&[
        ("VAULT_ADDR", bao.addr()),
        ("VAULT_TOKEN", &init.root_token),
        ("VAULT_CACERT", pki.ca.to_str().unwrap()),
        ("VAULT_CLIENT_CERT", pki.client_cert.to_str().unwrap()),
        ("VAULT_CLIENT_KEY", pki.client_key.to_str().unwrap()),
    ]))
    .unwrap();
    round_trip(b).await.unwrap();
}

/// Skipping verification for OpenBao never skips it for the identity provider, and the other
/// way round. The provider here is a TLS server with its own CA that records what reaches it.
#[tokio::test]
async fn openbao_and_identity_provider_tls_settings_are_separate() {
    let bao_pki = Pki::new();
    let idp_pki = Pki::new();
    let (bao, _root) = tls_bao(&bao_pki).await;
    let idp = RecordingServer::start_tls(
        Reply::Json {
            status: 404,
            body: "{}".into(),
        },
        &idp_pki.cert,
        &idp_pki.key,
    )
    .await;
    let sso = || {
        OpenbaoSecretStore::builder()
            .url(bao.addr())
            .zitadel_sso(idp.url(), "cli")
            .jwt_auth("dev", "jwt")
            .no_session_cache()
            .terminal_probe(|| true)
    };

    // OpenBao skipped, the provider still checked: its TLS handshake fails, nothing reaches it.
    let e = sso()
        .skip_tls(true)
        .build()
        .await
        .unwrap()
        .login()
        .await
        .unwrap_err();
    assert!(
        matches!(&e, SecretStoreError::Unreachable { store, .. }
            if *store == format!("the identity provider at {}", idp.url())),
        "{e:?}"
    );
    assert!(
        e.to_string()
            .contains(&format!("identity provider at {}", idp.url()))
            && e.to_string().contains("UnknownIssuer")
            && e.to_string().contains("HARMONY_SSO_CACERT"),
        "{e}"
    );
    assert!(idp.requests().is_empty(), "{:?}", idp.requests());

    // The provider's own CA: discovery reaches it (and gets its 404).
    let idp_tls = harmony_secret::openbao_http::TlsOptions {
        ca_cert: Some(idp_pki.ca.clone()),
        ..Default::default()
    };
    let e = sso()
        .skip_tls(true)
        .sso_tls(idp_tls)
        .build()
        .await
        .unwrap()
        .login()
        .await
        .unwrap_err();
    assert!(e.to_string().contains("OIDC discovery failed"), "{e}");
    let seen = idp.requests();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].path, "/.well-known/openid-configuration");

    // The provider skipped, OpenBao still checked: the login stops at OpenBao's health check.
    let idp_skip = harmony_secret::openbao_http::TlsOptions {
        skip_verify: true,
        ..Default::default()
    };
    let e = sso()
        .sso_tls(idp_skip)
        .build()
        .await
        .unwrap()
        .login()
        .await
        .unwrap_err();
    assert!(
        matches!(&e, SecretStoreError::Unreachable { store, .. } if store.starts_with("OpenBao"))
            && e.to_string().contains("UnknownIssuer"),
        "{e}"
    );
    assert_eq!(
        idp.requests().len(),
        1,
        "no new request reached the provider"
    );
}

/// A company CA installed on the machine is trusted without any option: the OS trust store
/// is used (rustls-native-certs, which honours `SSL_CERT_FILE`). Run in a child process, since
/// the OS store is read once per process.
#[tokio::test]
async fn a_ca_in_the_os_trust_store_is_trusted_without_options() {
    if let Ok(addr) = std::env::var("HARMONY_TEST_OS_STORE_ADDR") {
        // The child: no ca_cert, no skip.
        let token = std::env::var("HARMONY_TEST_OS_STORE_TOKEN").unwrap();
        let builder = OpenbaoSecretStore::builder().url(addr).token(token);
        round_trip(builder).await.unwrap();
        return;
    }
    let pki = Pki::new();
    let (bao, root) = tls_bao(&pki).await;
    let child = |cert_file: &Path| {
        std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "a_ca_in_the_os_trust_store_is_trusted_without_options",
                "--nocapture",
            ])
            .env("HARMONY_TEST_OS_STORE_ADDR", bao.addr())
            .env("HARMONY_TEST_OS_STORE_TOKEN", &root)
            .env("SSL_CERT_FILE", cert_file)
            .env_remove("SSL_CERT_DIR")
            .output()
            .unwrap()
    };
    let trusted = child(&pki.ca);
    assert!(
        trusted.status.success(),
        "{}",
        String::from_utf8_lossy(&trusted.stdout)
    );
    // Control: the same child with another CA as the machine's store fails.
    let other = Pki::new();
    let untrusted = child(&other.ca);
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&untrusted.stdout),
        String::from_utf8_lossy(&untrusted.stderr)
    );
    assert!(
        !untrusted.status.success() && output.contains("invalid peer certificate"),
        "{output}"
    );
}

static LOG_LINES: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

struct CaptureLog;

impl log::Log for CaptureLog {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, record: &log::Record) {
        LOG_LINES.lock().unwrap().push(record.args().to_string());
    }
    fn flush(&self) {}
}

/// Installs [`CaptureLog`] (once per process) at debug level.
fn capture_log() {
    let _ = log::set_logger(&CaptureLog);
    log::set_max_level(log::LevelFilter::Debug);
}

/// Turning certificate checks off is never silent: a warning names the server.
#[tokio::test]
async fn skipping_tls_verification_is_warned_naming_the_server() {
    capture_log();
    OpenbaoSecretStoreBuilder::from_env_lookup(lookup(&[
        ("OPENBAO_URL", "https://skip-check.test:8200"),
        ("OPENBAO_TOKEN", "t"),
        ("OPENBAO_SKIP_TLS", "true"),
        ("HARMONY_SSO_ISSUER", "https://idp-skip-check.test"),
        ("HARMONY_SSO_CLIENT_ID", "cli"),
        ("HARMONY_SSO_SKIP_TLS", "true"),
    ]))
    .unwrap()
    .build()
    .await
    .unwrap();
    let lines = LOG_LINES.lock().unwrap().clone();
    let warned = |server: &str| {
        lines
            .iter()
            .any(|l| l.contains(server) && l.contains("verification") && l.contains("OFF"))
    };
    assert!(warned("https://skip-check.test:8200"), "{lines:#?}");
    assert!(warned("https://idp-skip-check.test"), "{lines:#?}");
}

/// The debug log says which address/token pair was used and what was ignored, never a token.
#[test]
fn the_debug_log_names_the_pair_used_and_never_the_token() {
    capture_log();
    let corporate = "s.corporate-token-in-the-log-check";
    let own = "s.own-bao-token-in-the-log-check";
    OpenbaoSecretStoreBuilder::from_env_lookup(lookup(&[
        ("OPENBAO_URL", "https://o.test:8200"),
        ("VAULT_TOKEN", corporate),
        ("BAO_CACERT", "/etc/bao/ca.pem"),
    ]))
    .unwrap();
    OpenbaoSecretStoreBuilder::from_env_lookup(lookup(&[
        ("BAO_ADDR", "https://b.test:8200"),
        ("BAO_TOKEN", own),
    ]))
    .unwrap();
    let lines = LOG_LINES.lock().unwrap().clone();
    let has = |s: &str| lines.iter().any(|l| l.contains(s));
    assert!(
        has("address from OPENBAO_URL, no OPENBAO_TOKEN"),
        "{lines:#?}"
    );
    assert!(has("VAULT_TOKEN is set but was not used"), "{lines:#?}");
    assert!(has("BAO_CACERT ignored"), "{lines:#?}");
    assert!(
        has("address from BAO_ADDR, token from BAO_TOKEN"),
        "{lines:#?}"
    );
    assert!(
        !lines
            .iter()
            .any(|l| l.contains(corporate) || l.contains(own)),
        "{lines:#?}"
    );
}
