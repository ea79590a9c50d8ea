//! `logout()` and `whoami()` against a REAL OpenBao and a REAL OpenID provider: what OpenBao
//! and the provider accept afterwards is checked on the servers themselves.

mod common;

use std::time::Duration;

use common::Sso;
use harmony_secret::{OpenbaoSecretStore, SecretStore, SecretStoreError, ZitadelOidcAuth};
use harmony_test_support::IdpOptions;
use serde_json::json;

#[tokio::test]
async fn whoami_names_the_person_their_policies_and_how_the_store_logged_in() {
    let sso = Sso::start(IdpOptions::fast(), "15m").await;
    let store = sso.store().await;
    let me = store.whoami().await.unwrap();
    assert!(me.display_name.contains("alice@example.test"), "{me:?}");
    assert!(me.policies.contains(&"app-rw".to_string()), "{me:?}");
    assert!(me.entity_id.is_some(), "{me:?}");
    assert_eq!(me.login_path.as_deref(), Some("auth/jwt/login"));
    let ttl = me.ttl.expect("a jwt login token expires");
    assert!(
        ttl <= Duration::from_secs(15 * 60) && ttl > Duration::ZERO,
        "{me:?}"
    );
    assert_eq!(me.auth_method, "oidc device flow");

    // A second run uses the cached session, and says so.
    let again = sso.store().await.whoami().await.unwrap();
    assert_eq!(again.auth_method, "oidc device flow (cached session)");
    assert_eq!(again.entity_id, me.entity_id);
    assert_eq!(sso.device_grants(), 1);
}

#[tokio::test]
async fn whoami_with_a_root_token_has_no_expiry() {
    let (bao, init) = common::bao().await;
    let me = common::token_store(bao.addr(), &init.root_token)
        .await
        .whoami()
        .await
        .unwrap();
    assert_eq!(me.display_name, "root");
    assert_eq!(me.policies, vec!["root".to_string()]);
    assert_eq!(me.ttl, None);
    assert_eq!(me.auth_method, "token");
}

/// After logout: OpenBao refuses the old token, the provider refuses the old refresh token
/// (and logged the revocation), the session file is gone, and the next read needs a new
/// device flow.
#[tokio::test]
async fn logout_revokes_both_tokens_and_the_next_read_signs_in_again() {
    let sso = Sso::start(IdpOptions::fast(), "15m").await;
    let store = sso.store().await;
    store.set_json("app", "K", &json!({"v": 1})).await.unwrap();
    let cached = sso.cache_json();
    let token = cached["token"].as_str().unwrap().to_string();
    let refresh_token = cached["refresh_token"].as_str().unwrap().to_string();
    let token_endpoint = cached["token_endpoint"].as_str().unwrap().to_string();
    let cache_file = sso.cache_file();

    let report = store.logout().await.unwrap();
    assert!(report.openbao_token_revoked, "{report:?}");
    assert!(report.refresh_token_revoked, "{report:?}");
    assert_eq!(report.session_file_removed.as_deref(), Some(&*cache_file));
    assert!(!cache_file.exists());
    let mut lock_file = cache_file.clone().into_os_string();
    lock_file.push(".lock");
    assert!(!std::path::Path::new(&lock_file).exists());

    // OpenBao no longer knows the token.
    let (status, _) = sso
        .bao
        .api(Some(&token), "GET", "auth/token/lookup-self", None)
        .await;
    assert_eq!(status, 403, "OpenBao still accepts the logged-out token");

    // The provider saw the revocation and refuses the refresh token.
    let revocations: Vec<_> = sso
        .idp
        .requests()
        .into_iter()
        .filter(|r| r.path == "/token/revocation")
        .collect();
    assert_eq!(revocations.len(), 1, "{revocations:?}");
    assert_eq!(revocations[0].status, 200, "{revocations:?}");
    let e = ZitadelOidcAuth::new(sso.idp.issuer(), sso.idp.client_id())
        .refresh(
            &token_endpoint,
            &harmony_secret::Secret::from(refresh_token),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            harmony_secret::IdentityProviderError::RefreshTokenInvalid { .. }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("sign in again"), "{e}");
    // As a store error, the refusal is a rejection (so the store falls back to signing in).
    assert!(
        matches!(
            SecretStoreError::from(e),
            SecretStoreError::BadCredentials { .. }
        ),
        "a refused refresh token is a rejection"
    );
    assert_eq!(
        sso.idp.token_requests("refresh_token")[0].error.as_deref(),
        Some("invalid_grant")
    );

    // The same store signs in again on its next read: a new device authorization.
    assert_eq!(sso.device_grants(), 1);
    assert_eq!(store.get_json("app", "K").await.unwrap(), json!({"v": 1}));
    assert_eq!(sso.device_grants(), 2);
    assert_eq!(sso.human.times_called(), 2);
}

/// A token given to the store belongs to whoever gave it: logout leaves it valid and says so.
#[tokio::test]
async fn logout_does_not_revoke_a_token_it_was_given() {
    let (bao, init) = common::bao().await;
    let token = common::create_token(&bao, &init.root_token, json!({"policies": ["app-rw"]})).await;
    let store: OpenbaoSecretStore = common::token_store(bao.addr(), &token).await;
    store.get_json("app", "K").await.unwrap_err();
    let report = store.logout().await.unwrap();
    assert!(!report.openbao_token_revoked, "{report:?}");
    assert!(
        report.notes.iter().any(|n| n.contains("OPENBAO_TOKEN")),
        "{report:?}"
    );
    let (status, _) = bao
        .api(Some(&token), "GET", "auth/token/lookup-self", None)
        .await;
    assert_eq!(status, 200);
}

/// OpenBao down: logout still revokes the refresh token and deletes the local session, and
/// says the OpenBao token stays valid until it expires.
#[tokio::test]
async fn logout_with_openbao_down_still_ends_the_local_session() {
    let mut sso = Sso::start(IdpOptions::fast(), "15m").await;
    let store = sso.store().await;
    store.set_json("app", "K", &json!({"v": 1})).await.unwrap();
    let cache_file = sso.cache_file();
    sso.bao.stop();

    let report = store.logout().await.unwrap();
    assert!(!report.openbao_token_revoked, "{report:?}");
    assert!(report.refresh_token_revoked, "{report:?}");
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("not revoked") && n.contains("until it expires")),
        "{report:?}"
    );
    assert!(!cache_file.exists());
    assert!(
        sso.idp
            .requests()
            .iter()
            .any(|r| r.path == "/token/revocation" && r.status == 200)
    );
}
