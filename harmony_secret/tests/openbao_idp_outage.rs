//! The identity provider is down: an outage, reported as one (so a config chain falls through to
//! its next source), never as "bad credentials". REAL OpenBao and a REAL OpenID provider that is
//! stopped mid-test.

mod common;

use common::Sso;
use harmony_secret::{SecretStore, SecretStoreError};
use harmony_test_support::IdpOptions;
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
        .builder(
            harmony_test_support::HumanAction::Approve,
            Default::default(),
        )
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
