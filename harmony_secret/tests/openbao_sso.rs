//! Single sign-on against REAL servers: panva oidc-provider (device flow) + OpenBao jwt auth.
//! A simulated person (`complete-device-flow.mjs`) approves, denies or ignores the device code.

mod common;

use std::time::Duration;

use common::Sso;
use harmony_secret::{SecretStore, SecretStoreError};
use harmony_test_support::{HumanAction, IdpOptions};
use serde_json::json;

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

#[tokio::test]
async fn device_flow_login_then_a_second_run_reuses_the_cached_session() {
    let sso = Sso::start(IdpOptions::fast(), "15m").await;
    let store = sso.store().await;
    store
        .set_json("app", "Db", &json!({"password": "pw"}))
        .await
        .unwrap();
    assert_eq!(
        store.get_json("app", "Db").await.unwrap(),
        json!({"password": "pw"})
    );
    assert_eq!(sso.human.outcomes(), vec!["approved"]);
    assert_eq!(sso.device_grants(), 1);

    // The session file: private, keyed, holds a token with an expiry and a refresh token.
    let cached = sso.cache_json();
    assert!(cached["expires_at"].as_u64().unwrap() > 0);
    assert!(
        cached["refresh_token"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(sso.cache_file())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    // A second run (new store, same cache folder): no request at all to the identity provider.
    let before = sso.idp.requests().len();
    let second = sso.store().await;
    assert_eq!(
        second.get_json("app", "Db").await.unwrap(),
        json!({"password": "pw"})
    );
    assert_eq!(
        sso.idp.requests().len(),
        before,
        "the second run talked to the IdP"
    );
    assert_eq!(sso.human.times_called(), 1);
}

#[tokio::test]
async fn concurrent_first_reads_log_in_once() {
    let sso = Sso::start(IdpOptions::fast(), "15m").await;
    let store = sso.store().await;
    let reads = (0..5).map(|i| {
        let s = store.clone();
        async move { s.get_json("app", &format!("K{i}")).await }
    });
    for r in futures_join_all(reads).await {
        assert!(r.unwrap_err().is_not_found());
    }
    assert_eq!(sso.human.times_called(), 1);
    assert_eq!(sso.device_grants(), 1);
}

async fn futures_join_all<F: std::future::Future + Send + 'static>(
    futs: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futs.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

/// The cached OpenBao token has expired but the refresh token is valid: a new run logs in again
/// with the refresh_token grant, without the person.
#[tokio::test]
async fn expired_session_is_renewed_with_the_refresh_token_without_the_browser() {
    let sso = Sso::start(IdpOptions::fast(), "15m").await;
    sso.store()
        .await
        .set_json("app", "K", &json!({"v": 1}))
        .await
        .unwrap();
    assert_eq!(sso.refresh_grants(), 0);

    let old_token = sso.cache_json()["token"].as_str().unwrap().to_string();
    sso.edit_cache(|c| c["expires_at"] = json!(1)); // long ago

    let store = sso.store().await;
    assert_eq!(store.get_json("app", "K").await.unwrap(), json!({"v": 1}));
    assert_eq!(sso.human.times_called(), 1, "the person was asked again");
    assert_eq!(sso.device_grants(), 1);
    assert_eq!(sso.refresh_grants(), 1);
    let renewed = sso.cache_json();
    assert_ne!(renewed["token"].as_str().unwrap(), old_token);
    assert!(renewed["expires_at"].as_u64().unwrap() > 1);
}

/// OpenBao revoked the token the store holds: the read gets 403, ONE lookup-self says the token
/// is invalid, the store logs in again (refresh token, no person) and the read succeeds.
#[tokio::test]
async fn revoked_sso_token_triggers_one_re_login() {
    let sso = Sso::start(IdpOptions::fast(), "15m").await;
    let store = sso.store().await;
    store.set_json("app", "K", &json!({"v": 2})).await.unwrap();
    let token = sso.cache_json()["token"].as_str().unwrap().to_string();
    sso.bao
        .api_ok(
            &sso.init.root_token,
            "POST",
            "auth/token/revoke",
            Some(json!({"token": token})),
        )
        .await;

    assert_eq!(store.get_json("app", "K").await.unwrap(), json!({"v": 2}));
    assert_eq!(sso.human.times_called(), 1);
    assert_eq!(sso.refresh_grants(), 1);
    assert_ne!(sso.cache_json()["token"].as_str().unwrap(), token);

    // A real permission problem is not mistaken for a bad token: no further login.
    let e = store.get_json("ops", "K").await.unwrap_err();
    assert!(
        matches!(e, SecretStoreError::PermissionDenied { .. }),
        "{e:?}"
    );
    assert_eq!(sso.refresh_grants(), 1);
}

#[tokio::test]
async fn denied_and_aborted_device_codes_give_clear_errors() {
    let sso = Sso::start(IdpOptions::fast(), "15m").await;
    for action in [HumanAction::Deny, HumanAction::Abort] {
        let store = sso.builder(action, Duration::ZERO).build().await.unwrap();
        let e = store.get_json("app", "K").await.unwrap_err();
        assert!(
            matches!(e, SecretStoreError::BadCredentials { .. }),
            "{e:?}"
        );
        assert!(e.to_string().contains("denied"), "{e}");
    }
    assert_eq!(sso.human.outcomes(), vec!["denied", "aborted"]);
    assert!(
        !sso.cache_dir
            .path()
            .read_dir()
            .unwrap()
            .any(|f| { f.unwrap().path().extension().is_some_and(|e| e == "json") })
    );
}

#[tokio::test]
async fn an_expired_device_code_gives_a_clear_error() {
    let opts = IdpOptions {
        device_code_ttl: Some(2),
        ..IdpOptions::fast()
    };
    let sso = Sso::start(opts, "15m").await;
    // Nobody acts on the code.
    let store = sso
        .builder(HumanAction::Approve, Duration::ZERO)
        .device_code_prompt(std::sync::Arc::new(|_| {}))
        .build()
        .await
        .unwrap();
    let e = store.get_json("app", "K").await.unwrap_err();
    assert!(
        matches!(e, SecretStoreError::BadCredentials { .. }),
        "{e:?}"
    );
    assert!(e.to_string().contains("expired"), "{e}");
}

/// RFC 8628 slow_down: the IdP answers slow_down to the first poll; the client must wait the
/// interval + 5 s before polling again, then succeed. Checked on the IdP's own request log.
#[tokio::test]
async fn slow_down_adds_five_seconds_to_the_interval() {
    let opts = IdpOptions {
        slow_down_first: true,
        ..IdpOptions::fast()
    };
    let sso = Sso::start(opts, "15m").await;
    let store = sso
        .builder(HumanAction::Approve, Duration::from_millis(500))
        .build()
        .await
        .unwrap();
    store.set_json("app", "K", &json!({"v": 3})).await.unwrap();
    let polls = sso.idp.token_requests(DEVICE_GRANT);
    assert!(polls.len() >= 2, "{polls:?}");
    assert_eq!(polls[0].error.as_deref(), Some("slow_down"), "{polls:?}");
    let gap = polls[1].at_ms - polls[0].at_ms;
    assert!(
        gap >= 5_900,
        "second poll only {gap} ms after slow_down (interval 1 s + 5 s)"
    );
    assert_eq!(polls.last().unwrap().status, 200);
}

/// With OpenBao down nobody is asked to sign in: the error is Unreachable at once.
#[tokio::test]
async fn openbao_down_does_not_prompt_the_person() {
    let mut sso = Sso::start(IdpOptions::fast(), "15m").await;
    sso.bao.stop();
    let store = sso.store().await;
    let e = store.get_json("app", "K").await.unwrap_err();
    assert!(matches!(e, SecretStoreError::Unreachable { .. }), "{e:?}");
    assert_eq!(sso.human.times_called(), 0);
    assert_eq!(sso.device_grants(), 0);
}

/// The IdP sends no `interval`: the client must use RFC 8628's 5 s default between polls.
#[tokio::test]
async fn without_an_interval_the_client_polls_every_five_seconds() {
    let sso = Sso::start(IdpOptions::default(), "15m").await;
    let store = sso
        .builder(HumanAction::Approve, Duration::from_millis(300))
        .build()
        .await
        .unwrap();
    store.set_json("app", "K", &json!({"v": 5})).await.unwrap();
    let polls = sso.idp.token_requests(DEVICE_GRANT);
    assert!(polls.len() >= 2, "{polls:?}");
    assert_eq!(polls[0].error.as_deref(), Some("authorization_pending"));
    let gap = polls[1].at_ms - polls[0].at_ms;
    assert!(
        gap >= 4_900,
        "polled again after {gap} ms, RFC 8628 says 5 s by default"
    );
}

/// The chain goes on after a failed step, and when all fail the error says what each said.
#[tokio::test]
async fn denied_sso_falls_back_to_userpass_and_all_failures_are_listed() {
    let sso = Sso::start(IdpOptions::fast(), "15m").await;
    let root = sso.init.root_token.clone();
    sso.bao
        .enable_userpass(&root, "userpass", "frank", "frank-pw", &["app-rw"])
        .await;
    let store = sso
        .builder(HumanAction::Deny, Duration::ZERO)
        .userpass("frank", "frank-pw")
        .build()
        .await
        .unwrap();
    store.set_json("app", "K", &json!({"v": 6})).await.unwrap();
    assert_eq!(store.get_json("app", "K").await.unwrap(), json!({"v": 6}));

    let store = sso
        .builder(HumanAction::Deny, Duration::ZERO)
        .userpass("frank", "not-franks-pw")
        .build()
        .await
        .unwrap();
    let e = store.get_json("app", "K").await.unwrap_err();
    let msg = e.to_string();
    assert!(
        matches!(e, SecretStoreError::BadCredentials { .. }),
        "{e:?}"
    );
    assert!(
        msg.contains("single sign-on") && msg.contains("denied"),
        "{msg}"
    );
    assert!(msg.contains("userpass") && msg.contains("invalid"), "{msg}");
    assert!(
        msg.contains("rejected the single sign-on and userpass credentials"),
        "{msg}"
    );
    assert!(!msg.contains("not-franks-pw"));
}

/// No terminal for the device flow and a wrong userpass password: not a rejection of both, so
/// the error says it could not log in and why, each in its own words.
#[tokio::test]
async fn no_terminal_and_a_wrong_password_are_told_apart() {
    let sso = Sso::start(IdpOptions::fast(), "15m").await;
    let root = sso.init.root_token.clone();
    sso.bao
        .enable_userpass(&root, "userpass", "ivy", "ivy-pw", &["app-rw"])
        .await;
    let e = harmony_secret::OpenbaoSecretStore::builder()
        .url(sso.bao.addr())
        .zitadel_sso(sso.idp.issuer(), sso.idp.client_id())
        .jwt_auth(common::ROLE, "jwt")
        .session_cache_dir(sso.cache_dir.path())
        .open_browser(Some(false))
        .terminal_probe(|| false)
        .userpass("ivy", "not-ivys-pw")
        .build()
        .await
        .unwrap()
        .get_json("app", "K")
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, SecretStoreError::LoginFailed { .. }), "{e:?}");
    assert!(msg.starts_with("cannot log in to OpenBao at"), "{msg}");
    assert!(msg.contains("needs a person to sign in"), "{msg}");
    assert!(msg.contains("userpass") && msg.contains("invalid"), "{msg}");
    assert!(!msg.contains("not configured correctly"), "{msg}");
    assert!(!msg.contains("not-ivys-pw"));
    assert_eq!(sso.device_grants(), 0);
}

/// Without a terminal (CI) and without a custom device-code prompt, the device flow is refused at
/// once (no code printed into a log nobody reads, no 10 minute wait) and the chain goes on.
#[tokio::test]
async fn without_a_terminal_sso_is_skipped_at_once_and_userpass_is_used() {
    let sso = Sso::start(IdpOptions::fast(), "15m").await;
    let root = sso.init.root_token.clone();
    sso.bao
        .enable_userpass(&root, "userpass", "gina", "gina-pw", &["app-rw"])
        .await;
    let headless = || {
        harmony_secret::OpenbaoSecretStore::builder()
            .url(sso.bao.addr())
            .zitadel_sso(sso.idp.issuer(), sso.idp.client_id())
            .jwt_auth(common::ROLE, "jwt")
            .session_cache_dir(sso.cache_dir.path())
            .open_browser(Some(false))
            // Were the flow started, give up soon rather than hang the test for 10 minutes.
            .device_flow_timeout(Duration::from_secs(3))
            .terminal_probe(|| false)
    };
    let store = headless()
        .userpass("gina", "gina-pw")
        .build()
        .await
        .unwrap();
    store.set_json("app", "K", &json!({"v": 7})).await.unwrap();
    assert_eq!(store.get_json("app", "K").await.unwrap(), json!({"v": 7}));
    assert_eq!(sso.device_grants(), 0, "no device code was requested");

    // SSO alone: the error says why and how to run non-interactively.
    let e = headless()
        .build()
        .await
        .unwrap()
        .get_json("app", "K")
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert!(
        matches!(e, SecretStoreError::InteractionRequired { .. }),
        "{e:?}"
    );
    assert!(
        msg.contains("terminal") && msg.contains("OPENBAO_TOKEN"),
        "{msg}"
    );
    assert_eq!(sso.device_grants(), 0, "no device code was requested");
}

/// `resolve_to` sends the issuer's host name to a given address (a k3d ingress, say) and only
/// that host. The provider names itself with that host name (as Zitadel behind an ingress does).
#[tokio::test]
async fn resolve_to_overrides_dns_for_the_issuer_host() {
    let idp = harmony_test_support::Idp::start(IdpOptions {
        extra_env: vec![(
            "IDP_ISSUER".into(),
            "http://sso.harmony.invalid:{port}".into(),
        )],
        ..IdpOptions::fast()
    })
    .await;
    let port = url::Url::parse(idp.issuer()).unwrap().port().unwrap();
    let auth = harmony_secret::ZitadelOidcAuth::new(idp.issuer(), idp.client_id())
        .with_resolve_to(Some(([127, 0, 0, 1], port).into()));
    let endpoints = auth.discover().await.unwrap();
    assert!(endpoints.device_authorization_endpoint.is_some());
    // oidc-provider builds endpoint URLs from the Host header it was asked with.
    assert!(
        endpoints
            .token_endpoint
            .starts_with("http://sso.harmony.invalid:"),
        "{endpoints:?}"
    );
}

/// OIDC Discovery §4.3: a document naming another issuer than the configured one is refused
/// (here: the provider is asked as `localhost`, calls itself `127.0.0.1`).
#[tokio::test]
async fn a_discovery_document_of_another_issuer_is_refused() {
    let idp = harmony_test_support::Idp::start(IdpOptions::fast()).await;
    let asked = idp.issuer().replace("127.0.0.1", "localhost");
    let e = harmony_secret::ZitadelOidcAuth::new(&asked, idp.client_id())
        .discover()
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert!(
        matches!(
            e,
            harmony_secret::IdentityProviderError::Misconfigured { .. }
        ),
        "{e:?}"
    );
    assert!(msg.contains(idp.issuer()) && msg.contains(&asked), "{msg}");
    assert!(msg.contains("HARMONY_SSO_ISSUER"), "{msg}");
}

/// The provider rotates the refresh token on renewal, then the OpenBao login fails (sealed):
/// the new refresh token is kept, so the next run renews with it. Before, the used one stayed
/// in the cache; presented again, the provider refused it (invalid_grant, grant revoked) and
/// the person had to sign in again.
#[tokio::test]
async fn a_rotated_refresh_token_is_kept_when_openbao_is_sealed_during_renewal() {
    let sso = Sso::start(IdpOptions::fast(), "15m").await;
    sso.store()
        .await
        .set_json("app", "K", &json!({"v": 1}))
        .await
        .unwrap();
    let used = sso.cache_json()["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    sso.edit_cache(|c| c["expires_at"] = json!(1));

    let root = sso.init.root_token.clone();
    sso.bao.api_ok(&root, "PUT", "sys/seal", None).await;
    let e = sso.store().await.get_json("app", "K").await.unwrap_err();
    assert!(matches!(e, SecretStoreError::Sealed { .. }), "{e:?}");
    assert_eq!(sso.refresh_grants(), 1);
    let rotated = sso.cache_json()["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        rotated != used,
        "the provider rotated it, the cache kept the used one"
    );

    sso.bao.unseal(&sso.init.unseal_key).await;
    assert_eq!(
        sso.store().await.get_json("app", "K").await.unwrap(),
        json!({"v": 1})
    );
    // What the provider saw: two renewals, none refused, no new sign-in.
    let refreshes = sso.idp.token_requests("refresh_token");
    assert_eq!(refreshes.len(), 2, "{refreshes:?}");
    assert!(refreshes.iter().all(|r| r.error.is_none()), "{refreshes:?}");
    assert_eq!(sso.device_grants(), 1);
    assert_eq!(sso.human.times_called(), 1);
}

/// The person approves the sign-in while OpenBao gets sealed: the jwt login fails, but the
/// refresh token is cached, so once OpenBao is back the next run renews without asking the
/// person again. Before, the sign-in was thrown away.
#[tokio::test]
async fn a_sign_in_approved_while_openbao_is_sealed_is_not_lost() {
    let sso = Sso::start(IdpOptions::fast(), "15m").await;
    let root = sso.init.root_token.clone();
    sso.bao
        .api_ok(
            &root,
            "POST",
            "secret/data/app/K",
            Some(json!({"data": {"v": 3}})),
        )
        .await;
    let (shown, code) = std::sync::mpsc::channel::<String>();
    let shown = std::sync::Mutex::new(shown);
    let store = harmony_secret::OpenbaoSecretStore::builder()
        .url(sso.bao.addr())
        .zitadel_sso(sso.idp.issuer(), sso.idp.client_id())
        .jwt_auth(common::ROLE, "jwt")
        .session_cache_dir(sso.cache_dir.path())
        .open_browser(Some(false))
        .device_code_prompt(std::sync::Arc::new(
            move |info: &harmony_secret::DeviceCodeInfo| {
                shown.lock().unwrap().send(info.url().to_string()).unwrap();
            },
        ))
        .build()
        .await
        .unwrap();
    let read = tokio::spawn(async move { store.get_json("app", "K").await });
    // The code is shown (OpenBao was healthy then); OpenBao is sealed before the approval.
    let url = tokio::task::spawn_blocking(move || code.recv_timeout(Duration::from_secs(30)))
        .await
        .unwrap()
        .expect("the device code was never shown");
    sso.bao.api_ok(&root, "PUT", "sys/seal", None).await;
    sso.human.start(&url, HumanAction::Approve, Duration::ZERO);
    let e = read.await.unwrap().unwrap_err();
    assert!(matches!(e, SecretStoreError::Sealed { .. }), "{e:?}");
    assert!(sso.cache_json()["refresh_token"].as_str().is_some());

    sso.bao.unseal(&sso.init.unseal_key).await;
    assert_eq!(
        sso.store().await.get_json("app", "K").await.unwrap(),
        json!({"v": 3})
    );
    // What the provider saw: one sign-in, then one renewal.
    assert_eq!(sso.device_grants(), 1);
    assert_eq!(sso.refresh_grants(), 1);
    assert_eq!(sso.human.times_called(), 1);
}
