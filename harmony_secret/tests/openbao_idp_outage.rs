//! The identity provider is down: an outage, reported as one (so a config chain falls through to
//! its next source), never as "bad credentials". REAL OpenBao and a REAL OpenID provider that is
//! stopped mid-test.

mod common;

use common::Sso;
use harmony_secret::{SecretStore, SecretStoreError};
use harmony_test_support::{HumanAction, IdpOptions, RecordingServer, Reply};
use serde_json::json;

/// A cached session whose OpenBao token expired: renewing needs the provider.
async fn expired_session_then_idp_down() -> Sso {
    let mut sso = Sso::start(IdpOptions::fast(), "15m").await;
    sso.store()
        .await
        .set_json("app", "K", &json!({"v": 1}))
        .await
        .unwrap();
    let mut cached = sso.cache_json();
    cached["expires_at"] = json!(1);
    std::fs::write(sso.cache_file(), serde_json::to_vec(&cached).unwrap()).unwrap();
    sso.idp.stop();
    sso
}

#[tokio::test]
async fn with_the_provider_down_an_expired_session_is_an_outage_naming_the_provider() {
    let sso = expired_session_then_idp_down().await;
    let e = sso.store().await.get_json("app", "K").await.unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, SecretStoreError::Unreachable { .. }), "{e:?}");
    assert!(e.is_unavailable());
    assert!(
        msg.contains(&format!(
            "identity provider at {} is unreachable",
            sso.idp.issuer()
        )),
        "{msg}"
    );
    assert!(!msg.contains("rejected"), "{msg}");
    // Nobody was asked to sign in, and the session (with its refresh token) is kept for later.
    assert_eq!(sso.human.times_called(), 1);
    assert!(sso.cache_json()["refresh_token"].as_str().is_some());
}

#[tokio::test]
async fn with_the_provider_down_userpass_still_logs_in() {
    let sso = expired_session_then_idp_down().await;
    let root = sso.init.root_token.clone();
    sso.bao
        .enable_userpass(&root, "userpass", "hal", "hal-pw", &["app-rw"])
        .await;
    let store = sso
        .builder(HumanAction::Approve, Default::default())
        .userpass("hal", "hal-pw")
        .build()
        .await
        .unwrap();
    assert_eq!(store.get_json("app", "K").await.unwrap(), json!({"v": 1}));
    assert_eq!(store.whoami().await.unwrap().auth_method, "userpass");
}

/// No cached session and the provider down: the device flow cannot start; still an outage.
#[tokio::test]
async fn with_the_provider_down_a_first_sign_in_is_an_outage_too() {
    let mut sso = Sso::start(IdpOptions::fast(), "15m").await;
    sso.idp.stop();
    let e = sso.store().await.get_json("app", "K").await.unwrap_err();
    assert!(matches!(e, SecretStoreError::Unreachable { .. }), "{e:?}");
    assert!(e.to_string().contains("identity provider at"), "{e}");
    assert_eq!(sso.human.times_called(), 0);
}

/// An ingress (or proxy) in front of the provider answers 502/503/504 with an HTML page while
/// the provider's backend is down.
async fn gateway_down(status: u16) -> RecordingServer {
    RecordingServer::start(Reply::Json {
        status,
        body: format!("<html><body>{status} gateway error</body></html>"),
    })
    .await
}

/// The renewal reaches only the ingress, which answers 503: an outage, and nobody is asked to
/// sign in again (before, the unparsable HTML answer was a failed renewal and a device flow
/// started).
#[tokio::test]
async fn an_ingress_answering_503_for_the_provider_is_an_outage_not_a_new_sign_in() {
    let sso = Sso::start(IdpOptions::fast(), "15m").await;
    sso.store()
        .await
        .set_json("app", "K", &json!({"v": 1}))
        .await
        .unwrap();
    let ingress = gateway_down(503).await;
    let mut cached = sso.cache_json();
    cached["expires_at"] = json!(1);
    cached["token_endpoint"] = json!(format!("{}/oidc/token", ingress.url()));
    std::fs::write(sso.cache_file(), serde_json::to_vec(&cached).unwrap()).unwrap();

    let e = sso.store().await.get_json("app", "K").await.unwrap_err();
    assert!(matches!(e, SecretStoreError::Unreachable { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("identity provider at"), "{msg}");
    assert!(msg.contains("HTTP 503"), "{msg}");
    // The ingress got the renewal; the provider saw no new device authorization.
    let seen = ingress.requests();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(seen[0].body_text().contains("grant_type=refresh_token"));
    assert_eq!(sso.device_grants(), 1);
    assert_eq!(sso.human.times_called(), 1);
}

/// A first sign-in whose discovery gets a 502 from the ingress: an outage, not "is the issuer
/// URL right?".
#[tokio::test]
async fn a_first_sign_in_behind_an_ingress_answering_502_is_an_outage() {
    let sso = Sso::start(IdpOptions::fast(), "15m").await;
    let ingress = gateway_down(502).await;
    let store = sso
        .builder(HumanAction::Approve, Default::default())
        .zitadel_sso(ingress.url(), sso.idp.client_id())
        .build()
        .await
        .unwrap();
    let e = store.get_json("app", "K").await.unwrap_err();
    assert!(matches!(e, SecretStoreError::Unreachable { .. }), "{e:?}");
    assert!(e.to_string().contains("HTTP 502"), "{e}");
    let seen = ingress.requests();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].path, "/.well-known/openid-configuration");
    assert_eq!(sso.human.times_called(), 0);
}
